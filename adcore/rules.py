"""Both modes of every op, derived from its one registry entry.

:func:`jvp` is what forward mode (``dualnum``) runs per op and :func:`vjp` what reverse
mode (``tapes``) runs per recorded op in its backward sweep. For an elementwise op they
are built from its partials:

    JVP      = sum_i  partial_i * tangent_i                    (broadcast to out)
    VJP_i    = unbroadcast(partial_i * cotangent, input_i.shape)

with :func:`adcore.linear.strong_mul` so that a zero factor always contributes zero.
For a structural op they are its registered ``jvp`` and ``vjp`` (its transpose).
"""
from __future__ import annotations

import numpy as np

from . import fused
from .linear import pad_batch, strong_mul, unbroadcast
from .registry import ELEMENTWISE


def _scaled(partial, t):
    # add/subtract/negative have constant partials 1 and -1: skip the multiplication
    if type(partial) is float:
        if partial == 1.0:
            return t
        if partial == -1.0:
            return -t
        return t * partial
    return strong_mul(partial, t)


def jvp(op, out, primals, tangents, params, k):
    """Tangent of ``out`` (shape ``(k,) + out.shape``) from the inputs' tangents.

    ``tangents[i]`` is ``None`` (zero) or ``(k,) + primals[i].shape``.
    """
    with np.errstate(all="ignore"):  # partials may be inf at singular points, by design
        if op.kind != ELEMENTWISE:
            return op.jvp(tangents, out, *primals, **params)
        if k == 1 and not params:  # one pass on large arrays where measured faster
            done = fused.jvp(op, out, primals, tangents)
            if done is not None:
                return done
        nd = np.ndim(out)
        total = None
        for partial, t in zip(op.partials, tangents):
            if t is None:
                continue
            contribution = _scaled(partial(out, *primals, **params), pad_batch(t, nd))
            total = contribution if total is None else total + contribution
    shape = (k,) + np.shape(out)
    return total if np.shape(total) == shape else np.broadcast_to(total, shape)


def vjp(op, g, needed, out, primals, params):
    """Cotangents of the inputs (``(k,) + primals[i].shape``, or None where not needed)
    from the cotangent ``g`` (``(k,) + out.shape``) of the output."""
    with np.errstate(all="ignore"):
        if op.kind != ELEMENTWISE:
            return op.vjp(g, needed, out, *primals, **params)
        if not params and np.shape(g)[0] == 1:  # one pass on large arrays (adcore.fused)
            done = fused.vjp(op, g, needed, out, primals)
            if done is not None:
                return done
        return tuple(
            unbroadcast(_scaled(partial(out, *primals, **params), g), np.shape(x)) if need else None
            for partial, x, need in zip(op.partials, primals, needed)
        )
