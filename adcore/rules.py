"""Both modes of every op, derived from its one registry entry.

:func:`jvp` is what forward mode (``dualnum``) runs per op and :func:`vjp` what reverse
mode (``tapes``) runs per recorded op in its backward sweep. For an elementwise op they
are built from its partials:

    JVP      = sum_i  partial_i * tangent_i                    (broadcast to out)
    VJP_i    = unbroadcast(partial_i * cotangent, input_i.shape)

For a structural op they are its registered ``jvp`` and ``vjp`` (its transpose).

Zeros (the convention, stated once; see :mod:`adcore.linear`): every (co)tangent comes
with ``sz``, its *structural* zeros (None: none). A product meets a structural zero of
either factor -- a seed's zero, the partial of a factor that is a plain constant 0, the
loser of a maximum (``Op.szero``) -- and gives exactly 0, even against inf or NaN.
Every other product is IEEE arithmetic: a *computed* zero times inf is NaN. For a
structural op the structural zeros of the result are found by running the same linear
rule on an indicator of the inputs' non-structural entries (``Op.coefficients``), and
entries found structurally zero are set to exactly 0 if a 0 * inf made them NaN.

Kinks: where an elementwise partial is a convention (abs'(0) = 0, a tie of maximum), a
nested derivative of that partial is not defined; :data:`KINK` makes it inf there, so a
second derivative that needs it is NaN instead of a wrong finite number.
"""
from __future__ import annotations

import numpy as np

from . import fused
from .linear import (indicator, masked_mul, pad_batch, sz_and, sz_apply, sz_clean, sz_or,
                     unbroadcast, unbroadcast_sz)
from .registry import ELEMENTWISE, ConstZero
from .tracing import Traced, apply, value_of

KINK = None  # the registered op "kink" (adcore.ops_elementwise), set there


def _szero(op, i, const, plain):
    """Structural zeros of partial_i (None: none), from the op's ``szero`` entry."""
    entry = None if op.szero is None else op.szero[i]
    if entry is None:
        return None
    return sz_clean(entry(*plain, const=const) if isinstance(entry, ConstZero) else entry(*plain))


def _partial(op, i, out, primals, params, plain):
    """partial_i; at a kink under a nested derivative it is routed through :data:`KINK`, so
    its own derivative is inf there."""
    p = op.partials[i](out, *primals, **params)
    if op.kinks is not None and op.kinks[i] is not None and isinstance(out, Traced):
        at = op.kinks[i](*plain)
        if np.any(at):
            m = np.asarray(at, dtype=float)
            for x in primals:
                if isinstance(x, Traced):
                    p = apply(KINK, p, x, m)
    return p


def _scaled(partial, t, sz):
    # add/subtract/negative have constant partials 1 and -1: skip the multiplication
    if type(partial) is float and sz is None:
        if partial == 1.0:
            return t
        if partial == -1.0:
            return -t
    return masked_mul(partial, t, sz)


def _context(out, primals, present):
    """Plain values of ``(out, *primals)`` and which inputs are plain constants at every
    trace level (``present[i]`` false and not traced)."""
    plain = (value_of(out),) + tuple(value_of(x) for x in primals)
    const = tuple(not p and not isinstance(x, Traced) for x, p in zip(primals, present))
    return plain, const


def jvp(op, out, primals, tangents, params, k, szs=None):
    """``(tangent, sz)`` of ``out``: the tangent has shape ``(k,) + out.shape``, ``sz`` its
    structural zeros (None or a broadcastable bool mask).

    ``tangents[i]`` is ``None`` (zero) or ``(k,) + primals[i].shape``; ``szs[i]`` its
    structural zeros (default: none).
    """
    szs = (None,) * len(tangents) if szs is None else tuple(szs)
    with np.errstate(all="ignore"):  # partials may be inf at singular points, by design
        if op.kind != ELEMENTWISE:
            return _structural_jvp(op, out, primals, tangents, szs, params)
        present = tuple(t is not None for t in tangents)
        plain, const = _context(out, primals, present)
        active = [i for i in range(len(tangents)) if present[i]]
        pszs = {i: _szero(op, i, const, plain) for i in active}
        if k == 1 and not params and all(szs[i] is None for i in active):
            done = fused.jvp(op, out, primals, tangents)  # one pass on large arrays
            if done is not None:
                sz = None
                for n, i in enumerate(active):
                    sz = pszs[i] if n == 0 else sz_and(sz, pszs[i])
                return done, _full(sz, (k,) + np.shape(out))
        nd = np.ndim(out)
        total = sz = None
        for n, i in enumerate(active):
            tsz = None if szs[i] is None else pad_batch(szs[i], nd)
            csz = sz_or(pszs[i], tsz)
            partial = _partial(op, i, out, primals, params, plain)
            contribution = _scaled(partial, pad_batch(tangents[i], nd), csz)
            total = contribution if total is None else total + contribution
            sz = csz if n == 0 else sz_and(sz, csz)
    shape = (k,) + np.shape(out)
    total = total if np.shape(total) == shape else np.broadcast_to(total, shape)
    return total, _full(sz, shape)


def _full(sz, shape):
    """A mask kept in the (co)tangent's own shape (cheap: a broadcast view)."""
    sz = sz_clean(sz)
    if sz is not None and np.shape(sz) != shape:
        sz = np.broadcast_to(sz, shape)
    return sz


def vjp(op, g, needed, out, primals, params, gsz=None):
    """``(cotangents, szs)`` of the inputs from the cotangent ``g`` (``(k,) + out.shape``,
    structural zeros ``gsz``): one ``(k,) + primals[i].shape`` array (None where not
    ``needed[i]``) and its structural zeros per input."""
    with np.errstate(all="ignore"):
        if op.kind != ELEMENTWISE:
            return _structural_vjp(op, g, gsz, needed, out, primals, params)
        plain, const = _context(out, primals, needed)
        pszs = [_szero(op, i, const, plain) if need else None for i, need in enumerate(needed)]
        if not params and gsz is None and np.shape(g)[0] == 1:  # one pass (adcore.fused)
            done = fused.vjp(op, g, needed, out, primals)
            if done is not None:
                return done, tuple(None if psz is None else
                                   unbroadcast_sz(psz, np.shape(g), np.shape(x))
                                   for psz, x in zip(pszs, primals))
        grads, szs = [], []
        for i, (need, x) in enumerate(zip(needed, primals)):
            if not need:
                grads.append(None)
                szs.append(None)
                continue
            csz = sz_or(pszs[i], gsz)
            c = _scaled(_partial(op, i, out, primals, params, plain), g, csz)
            grads.append(unbroadcast(c, np.shape(x)))
            szs.append(unbroadcast_sz(csz, np.shape(c), np.shape(x)))
        return tuple(grads), tuple(szs)


# ------------------------------------------------------------------------------ structural
def _pattern_inputs(op, out, primals, params):
    """``(out, primals)`` on which a rule's linear map shows its structural zeros: the real
    values when its coefficients are structural, all-ones values when they are data (so a
    value that is 0 at this point never passes for a structural zero)."""
    plain = tuple(value_of(x) for x in primals)
    if op.coefficients == "structural":
        return value_of(out), plain
    ones = tuple(np.ones(np.shape(x)) for x in plain)
    return op.primal(*ones, **params), ones


def _structural_jvp(op, out, primals, tangents, szs, params):
    value = op.jvp(tangents, out, *primals, **params)
    if all(s is None for s in szs) and "jvp" not in op.creates_zeros:
        return value, None
    ind = tuple(None if t is None else indicator(t, s) for t, s in zip(tangents, szs))
    pout, pprimals = _pattern_inputs(op, out, primals, params)
    sz = sz_clean(np.equal(op.jvp(ind, pout, *pprimals, **params), 0))
    return sz_apply(value, sz), sz


def _structural_vjp(op, g, gsz, needed, out, primals, params):
    grads = op.vjp(g, needed, out, *primals, **params)
    if gsz is None and "vjp" not in op.creates_zeros:
        return grads, (None,) * len(needed)
    pout, pprimals = _pattern_inputs(op, out, primals, params)
    pats = op.vjp(indicator(g, gsz), needed, pout, *pprimals, **params)
    szs = tuple(None if pat is None else sz_clean(np.equal(pat, 0)) for pat in pats)
    return tuple(None if gi is None else sz_apply(gi, s) for gi, s in zip(grads, szs)), szs
