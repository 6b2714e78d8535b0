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
nested derivative of that partial is not defined; :data:`KINK` makes it NaN there, so a
second derivative that needs it is NaN instead of a wrong finite number.
"""
from __future__ import annotations

import contextlib
import contextvars

import numpy as np

from .linear import (indicator, masked_mul, pad_batch, sz_and, sz_apply, sz_clean, sz_or,
                     unbroadcast, unbroadcast_sz)
from .registry import ELEMENTWISE, ConstZero
from .tracing import Placeholder, Traced, apply, call_nondiff, is_complex, value_of

KINK = None  # the registered op "kink" (adcore.ops_elementwise), set there

#: One-pass kernels for elementwise rules on large arrays, or None: every rule then runs
#: its NumPy code. adcore sits below the compiled tier and never imports it; ``import
#: adjit`` (which ``tapes`` and ``dualnum`` do) installs :mod:`adjit.array_kernels` here
#: through :func:`use_array_kernels`. The module gives ``enabled`` (a switch read per
#: call), ``MIN_SIZE`` (the smallest array it takes), ``jvp(op, out, primals, tangents)``
#: and ``vjp(op, g, needed, out, primals, into=None)``, each returning None to decline.
array_kernels = None


def use_array_kernels(module) -> None:
    """Evaluate elementwise rules on large arrays with ``module``'s kernels (see
    :data:`array_kernels`); None goes back to NumPy only."""
    global array_kernels
    array_kernels = module


def _plain(out, primals):
    return [value_of(out)] + [value_of(x) for x in primals]


# True while a sparsity pattern is detected (:func:`dependencies_only`), in that thread or
# task only (a context variable): the ``szero`` entries, zeros that hold at this point only
# (a maximum's loser, a factor that is 0 here), are not applied, so the pattern also holds
# near the point.
_value_zeros_off = contextvars.ContextVar("fwdrev_dependencies_only", default=False)


@contextlib.contextmanager
def dependencies_only():
    """Within (this thread or task): partials' point-wise structural zeros are not applied."""
    token = _value_zeros_off.set(True)
    try:
        yield
    finally:
        _value_zeros_off.reset(token)


def _szero(op, i, out, primals, present):
    """Structural zeros of partial_i (None: none), from the op's ``szero`` entry. A
    :class:`ConstZero` applies only where its input is a plain constant at every level."""
    entry = op.szero[i]
    if entry is None or _value_zeros_off.get():
        return None
    if type(entry) is ConstZero:
        j = entry.j
        if present[j] or isinstance(primals[j], Traced):
            return None
        entry = entry.pred
    if isinstance(out, Traced):
        return sz_clean(entry(*_plain(out, primals)))
    return sz_clean(entry(out, *primals))  # plain values already (no nesting)


def _partial(op, i, out, primals, params):
    """partial_i; at a kink under a nested derivative it is routed through :data:`KINK`, so
    its own derivative is NaN there."""
    table = op.partials
    if op.complex_partials is not None and any(is_complex(x) for x in primals):
        table = op.complex_partials
    p = table[i](out, *primals, **params)
    entry = op.kinks[i] if op.kinks is not None else None
    if entry is not None and isinstance(out, Traced):
        # on the plain values through call_nondiff: a recording of this derivative keeps
        # where the kinks are as a guard, so a replay at another point re-records
        at = call_nondiff(f"{op.name} kink", entry, (out,) + tuple(primals), {})
        if np.any(at):
            m = np.asarray(at, dtype=float)
            wrt = getattr(entry, "wrt", range(len(primals)))  # a registry.Kink names its inputs
            for j in wrt:
                if isinstance(primals[j], Traced):
                    p = apply(KINK, p, primals[j], m)
    return p


def _real_part_for_real(grads, primals):
    """A real input whose cotangent came out complex (``x * 1j``) gets its real part: the
    transpose of the inclusion R -> C under the pairing Re(w t) (adcore.ops_complex)."""
    for g in grads:  # the common case: no complex cotangent (a plain loop: no generator)
        if g is not None and is_complex(g):
            break
    else:
        return grads
    return tuple(np.real(g) if g is not None and is_complex(g) and not is_complex(x) else g
                 for g, x in zip(grads, primals))


def _scaled(partial, t, sz):
    # add/subtract/negative have constant partials 1 and -1: skip the multiplication
    if type(partial) is float and sz is None:
        if partial == 1.0:
            return t
        if partial == -1.0:
            return -t
    return masked_mul(partial, t, sz)


def _shape(v) -> tuple:
    """``np.shape`` without its call overhead for the common operand types."""
    t = type(v)
    if t is np.ndarray or t is Placeholder or t is np.float64:
        return v.shape
    if t is float or t is int:
        return ()
    return np.shape(v)


def _table(op, primals):
    """The partials to use: the complex ones if some input is complex (and the op has them)."""
    if op.complex_partials is not None:
        for x in primals:
            if is_complex(x):
                return op.complex_partials
    return op.partials


def _fusable(out, params):
    """Cheap pre-check before the :data:`array_kernels` look at the operands (large arrays
    only): the installed kernels module, or None (none installed, switched off, or not a
    large array)."""
    ak = array_kernels
    if (ak is not None and not params and ak.enabled
            and (type(out) is np.ndarray or type(out) is Placeholder) and out.size >= ak.MIN_SIZE):
        return ak
    return None


def jvp(op, out, primals, tangents, params, k, szs=None):
    """``(tangent, sz)`` of ``out``: the tangent has shape ``(k,) + out.shape``, ``sz`` its
    structural zeros (None or a bool mask of the tangent's shape).

    ``tangents[i]`` is ``None`` (zero) or ``(k,) + primals[i].shape``; ``szs[i]`` its
    structural zeros (default: none). Partials may be inf at singular points by design:
    call it under ``np.errstate(all="ignore")`` (the engines open one per derivative call,
    :class:`adcore.tracing.Trace`, not one per op).
    """
    if szs is None:
        szs = (None,) * len(tangents)
    if op.kind != ELEMENTWISE:
        return _structural_jvp(op, out, primals, tangents, szs, params)
    if not params and not isinstance(out, Traced) and _table(op, primals) is op.partials:
        for s in szs:
            if s is not None:
                break
        else:
            done = _plain_jvp(op, out, primals, tangents, k)
            if done is not None:
                return done
    present = tuple([t is not None for t in tangents])
    nested = isinstance(out, Traced)  # an input of an outer level: partials are traced too
    szero = op.szero
    shape = (k,) + _shape(out)
    ak = _fusable(out, params) if k == 1 else None
    if ak is not None and all(s is None for s in szs):
        done = ak.jvp(op, out, primals, tangents)  # one pass on large arrays
        if done is not None:
            sz = None
            for n, i in enumerate(i for i, p in enumerate(present) if p):
                psz = None if szero is None else _szero(op, i, out, primals, present)
                sz = psz if n == 0 else sz_and(sz, psz)
            return done, _full(sz, shape)
    table = _table(op, primals)
    nd = len(shape) - 1
    total = sz = None
    first = True
    for i, t in enumerate(tangents):
        if t is None:
            continue
        psz = None if szero is None else _szero(op, i, out, primals, present)
        tsz = szs[i]
        if tsz is not None and np.ndim(tsz) != nd + 1:
            tsz = pad_batch(tsz, nd)
        csz = sz_or(psz, tsz)
        partial = (_partial(op, i, out, primals, params) if nested
                   else _in_dtype_of(table[i](out, *primals, **params), out))
        contribution = _scaled(partial, pad_batch(t, nd), csz)
        if first:
            total, sz, first = contribution, csz, False
        else:
            total = total + contribution
            sz = sz_and(sz, csz)
    if _shape(total) != shape:
        total = np.broadcast_to(total, shape)
    if sz is not None and any(sz is szs[i] for i, p in enumerate(present) if p):
        return total, sz if np.shape(sz) == shape else np.broadcast_to(sz, shape)  # passed through
    return total, _full(sz, shape)


def _full(sz, shape):
    """A mask kept in the (co)tangent's own shape (cheap: a broadcast view); None if empty."""
    sz = sz_clean(sz)
    if sz is not None and np.shape(sz) != shape:
        sz = np.broadcast_to(sz, shape)
    return sz


def vjp(op, g, needed, out, primals, params, gsz=None, consume=False):
    """``(cotangents, szs)`` of the inputs from the cotangent ``g`` (``(k,) + out.shape``,
    structural zeros ``gsz``): one ``(k,) + primals[i].shape`` array (None where not
    ``needed[i]``) and its structural zeros per input. Call it under
    ``np.errstate(all="ignore")``, as :func:`jvp`.

    ``consume=True``: the caller gives ``g`` up (no one else holds it), so a cotangent may
    be computed into its buffer instead of a new array -- on large arrays, fresh 8 MB
    blocks cost page faults (the speed issue's bimodal timings).
    """
    if op.kind != ELEMENTWISE:
        return _structural_vjp(op, g, gsz, needed, out, primals, params)
    if (gsz is None and not params and type(g) is np.ndarray and g.dtype.kind != "c"
            and not isinstance(out, Traced) and _table(op, primals) is op.partials):
        return _plain_vjp(op, g, needed, out, primals, consume)
    szero = op.szero
    pszs = (None if szero is None else
            [_szero(op, i, out, primals, needed) if need else None for i, need in enumerate(needed)])
    gshape = _shape(g)
    ak = _fusable(out, params) if gsz is None and gshape[0] == 1 else None
    if ak is not None:  # one pass (array_kernels)
        done = ak.vjp(op, g, needed, out, primals)
        if done is not None:
            return done, _unbroadcast_szs(pszs, gshape, primals)
    nested = isinstance(out, Traced)
    table = _table(op, primals)
    grads, szs = [], []
    for i, need in enumerate(needed):
        if not need:
            grads.append(None)
            szs.append(None)
            continue
        csz = gsz if pszs is None else sz_or(pszs[i], gsz)
        partial = (_partial(op, i, out, primals, params) if nested
                   else _in_dtype_of(table[i](out, *primals, **params), out))
        c = _scaled(partial, g, csz)
        shape = _shape(primals[i])
        grads.append(unbroadcast(c, shape))
        szs.append(None if csz is None else
                   csz if csz is gsz and gshape[1:] == shape else
                   unbroadcast_sz(csz, _shape(c), shape))
    grads = tuple(grads)
    # a real cotangent of an elementwise op means real values throughout: skip the check
    return (_real_part_for_real(grads, primals) if is_complex(g) else grads), tuple(szs)


# The common case of an elementwise rule -- plain values (no nesting), no params, no
# structural zeros coming in, real -- in one loop with no helper calls: the general code
# above, specialised (it is per-op overhead that a chain of small ops pays; the speed issue).
# Large arrays go to the general code, which tries the fused kernels (array_kernels) first.
def _in_dtype_of(p, out):
    """A partial in its output's float dtype. Partials made of comparisons (maximum's
    ``(x > y) + 0.5 * (x == y)``) or with float64 constants (``np.log(2)``) come out float64
    under NumPy's promotion even for float32 values, and would turn every (co)tangent
    after them into float64: float32 programs must stay float32 end to end."""
    t = type(p)
    if t is np.float64 or t is np.complex128 or (
            t is np.ndarray and p.dtype.itemsize >= 8 and p.dtype.kind in "fc"):
        to = type(out)
        if to is np.float64 or to is float:
            return p
        d = getattr(out, "dtype", None)  # an array, a NumPy scalar or a Placeholder
        if d is None or d == p.dtype or d.kind not in "fc":
            return p
        real = _REAL.get(d.char)  # the output's precision (float32 for complex64)
        own = _REAL.get(p.dtype.char)  # (longdouble: neither, left alone)
        if real is not None and own is not None and own.itemsize > real.itemsize:
            # narrowed to it, a real partial real and a complex one complex
            return p.astype(real if p.dtype.kind == "f" else np.promote_types(real, np.complex64))
    return p


_REAL = {np.dtype(t).char: np.finfo(t).dtype for t in (np.float16, np.float32, np.float64,
                                                        np.complex64, np.complex128)}


def _capped(v, *like):
    """A structural rule's result no wider than the (co)tangent and values it came from: its
    float64 constants or helper arrays (np.ones, np.zeros) must not make a float32 program
    float64 (:func:`_in_dtype_of`). Returns ``v`` itself when nothing is to be done."""
    if not isinstance(v, (np.ndarray, np.floating)) or v.dtype.itemsize <= 4:
        return v
    cap = np.result_type(*[getattr(x, "dtype", None) or np.result_type(x) for x in like])
    if cap.kind == v.dtype.kind and cap.itemsize < v.dtype.itemsize:
        return v.astype(cap)
    return v


def _times(p, t):
    """``p * t``, skipping the product for the constant partials 1 and -1 (add, subtract)."""
    if type(p) is float:
        if p == 1.0:
            return t
        if p == -1.0:
            return -t
    return p * t


def _plain_szero(entry, out, primals, tangents=None, needed=None):
    """:func:`_szero` on plain values; input j is differentiated if ``needed[j]`` (reverse)
    or ``tangents[j] is not None`` (forward)."""
    if entry is None or _value_zeros_off.get():
        return None
    if type(entry) is ConstZero:
        j = entry.j
        if needed[j] if needed is not None else tangents[j] is not None:
            return None
        entry = entry.pred
    return sz_clean(entry(out, *primals))


def _plain_jvp(op, out, primals, tangents, k):
    if type(out) is np.ndarray:
        oshape = out.shape
        ak = array_kernels
        if k == 1 and ak is not None and out.size >= ak.MIN_SIZE:
            return None
    else:
        oshape = _shape(out)
    nd = len(oshape)
    partials, szero = op.partials, op.szero
    total = sz = None
    first = True
    for i, t in enumerate(tangents):
        if t is None:
            continue
        if type(t) is not np.ndarray:  # a traced direction (an outer call's value)
            return None
        psz = None if szero is None else _plain_szero(szero[i], out, primals, tangents=tangents)
        p = _in_dtype_of(partials[i](out, *primals), out)
        if t.ndim != nd + 1:
            t = pad_batch(t, nd)
        c = _times(p, t) if psz is None else sz_apply(p * t, psz)
        if first:
            total, sz, first = c, psz, False
        else:
            total = total + c
            sz = sz_and(sz, psz)
    shape = (k,) + oshape
    if total.shape != shape:
        total = np.broadcast_to(total, shape)
    return total, (None if sz is None else _full(sz, shape))


def _plain_vjp(op, g, needed, out, primals, consume):
    szero = op.szero
    ak = _fusable(out, None) if g.shape[0] == 1 else None
    if ak is not None:
        pszs = (None if szero is None else
                [_plain_szero(szero[i], out, primals, needed=needed) if need else None
                 for i, need in enumerate(needed)])
        clean = pszs is None or all(psz is None for psz in pszs)
        done = ak.vjp(op, g, needed, out, primals, into=g if consume and clean else None)
        if done is not None:
            return done, _unbroadcast_szs(pszs, g.shape, primals)
    partials = op.partials
    last = len(needed) - 1 - needed[::-1].index(True) if True in needed else -1
    grads, szs = [], None
    for i, need in enumerate(needed):
        if not need:
            grads.append(None)
            continue
        psz = None if szero is None else _plain_szero(szero[i], out, primals, needed=needed)
        p = _in_dtype_of(partials[i](out, *primals), out)
        if psz is not None:
            c = sz_apply(p * g, psz)
        elif consume and i == last and not any(prev is g for prev in grads):
            c = _times_into(p, g)  # g is needed by nothing after this: write into it
        else:
            c = _times(p, g)
        shape = _shape(primals[i])
        full = c.shape
        if full[1:] != shape:
            c = unbroadcast(c, shape)
        grads.append(c)
        if psz is not None:
            szs = szs or [None] * len(needed)
            szs[i] = unbroadcast_sz(psz, full, shape)
    return tuple(grads), (None,) * len(needed) if szs is None else tuple(szs)


_SCALARS = (float, np.float64, int)


def scalar_vjp(op, g, parents, out, primals, params):
    """The VJP of an elementwise op on float64 scalars, with a Python float cotangent ``g``
    (a batch of one), as floats: the same partials and structural zeros as :func:`vjp`,
    in float arithmetic. ``parents[i] >= 0`` marks a differentiated input; its entry is
    None where its cotangent is a structural zero. None when the node is not such an op
    (the caller then goes on with arrays)."""
    to = type(out)
    if (op.kind != ELEMENTWISE or params or (to is not np.float64 and to is not float)
            or op.complex_partials is not None):
        return None
    for x in primals:
        if type(x) not in _SCALARS:
            return None
    partials, szero = op.partials, op.szero
    needed = None
    grads = []
    for i, p in enumerate(parents):
        if p < 0:
            grads.append(None)
            continue
        if szero is not None and szero[i] is not None:
            if needed is None:
                needed = tuple([q >= 0 for q in parents])
            if _plain_szero(szero[i], out, primals, needed=needed):
                # a structural zero contributes nothing (None): not a computed 0.0 that
                # an inf further down would turn into NaN
                grads.append(None)
                continue
        grads.append(float(partials[i](out, *primals) * g))
    return grads


def _times_into(p, g):
    """``p * g`` computed into ``g``'s buffer (given up by the caller) where the product
    has ``g``'s shape and dtype; else a new array."""
    if type(p) is float:
        if p == 1.0:
            return g
        if p == -1.0:
            return np.negative(g, out=g)
    if np.ndim(p) < g.ndim and np.result_type(p, g) == g.dtype:
        return np.multiply(p, g, out=g)
    return p * g


def _unbroadcast_szs(pszs, gshape, primals):
    """Each input's structural zeros of a partial, summed back to the input's shape."""
    if pszs is None:
        return (None,) * len(primals)
    return tuple(None if psz is None else unbroadcast_sz(psz, gshape, _shape(x))
                 for psz, x in zip(pszs, primals))


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
    if not isinstance(out, Traced):
        value = _capped(value, out, *[t for t in tangents if t is not None])
    if all(s is None for s in szs) and "jvp" not in op.creates_zeros:
        return value, None
    plain = tuple(value_of(x) for x in primals)
    if "jvp" in op.moves:  # the rule only moves entries: move the masks the same way
        sz = op.jvp(szs, value_of(out), *plain, **params)
        return sz_apply(value, sz), sz
    direct = op.sz_rules and op.sz_rules.get("jvp")
    if direct:
        sz = direct(tangents, szs, value_of(out), *plain, **params)
        return sz_apply(value, sz), sz
    ind = tuple(None if t is None else indicator(t, s) for t, s in zip(tangents, szs))
    pout, pprimals = _pattern_inputs(op, out, primals, params)
    sz = sz_clean(np.equal(op.jvp(ind, pout, *pprimals, **params), 0))
    return sz_apply(value, sz), sz


def _structural_vjp(op, g, gsz, needed, out, primals, params):
    grads = _real_part_for_real(op.vjp(g, needed, out, *primals, **params), primals)
    if not isinstance(g, Traced) and not isinstance(out, Traced):
        grads = tuple(gi if gi is None else _capped(gi, g, x) for gi, x in zip(grads, primals))
    if gsz is None and "vjp" not in op.creates_zeros:
        return grads, (None,) * len(needed)
    if "vjp" in op.moves:
        szs = op.vjp(gsz, needed, value_of(out), *(value_of(x) for x in primals), **params)
        return _masked(grads, szs), szs
    direct = op.sz_rules and op.sz_rules.get("vjp")
    if direct:
        szs = direct(g, gsz, needed, value_of(out), *(value_of(x) for x in primals), **params)
        if szs is not None:
            return _masked(grads, szs), szs
    pout, pprimals = _pattern_inputs(op, out, primals, params)
    pats = op.vjp(indicator(g, gsz), needed, pout, *pprimals, **params)
    szs = tuple(None if pat is None else sz_clean(np.equal(pat, 0)) for pat in pats)
    return _masked(grads, szs), szs


def _masked(grads, szs):
    """Each cotangent with exact zeros at its structural zeros (where 0 * inf made NaN)."""
    return tuple(gi if gi is None or s is None else sz_apply(gi, s)
                 for gi, s in zip(grads, szs))
