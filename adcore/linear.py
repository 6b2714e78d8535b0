"""Shared helpers for rules on batched tangents and cotangents.

Convention (both engines): a batch of k tangent or cotangent directions of a value of
shape ``s`` is an array of shape ``(k,) + s`` — the direction index comes first.
Everything here is written with NumPy functions that are themselves registered, so a
rule applied to traced values (nested derivatives) is differentiated too.
"""
from __future__ import annotations

import numpy as np

from .tracing import value_of


def batch_size(tangents) -> int:
    """k, the number of directions, from the first non-zero tangent."""
    for t in tangents:
        if t is not None:
            return np.shape(t)[0]
    raise ValueError("all tangents are zero")


def normalize_axes(axis, ndim: int) -> tuple:
    """``axis`` (None, int or tuple; negatives allowed) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def shift(axes) -> tuple:
    """Axes of a value, as axes of its batch ``(k,) + shape``."""
    return tuple(a + 1 for a in axes)


def pad_batch(t, ndim: int):
    """Insert unit axes after the batch axis so ``t`` broadcasts against a value of ``ndim`` dims."""
    extra = ndim + 1 - (t.ndim if type(t) is np.ndarray else np.ndim(t))
    if extra > 0:
        shape = np.shape(t)
        t = np.reshape(t, (shape[0],) + (1,) * extra + shape[1:])
    return t


def _unbroadcast_axes(gshape: tuple, shape: tuple) -> tuple:
    """Axes of a batch ``(k,) + gshape`` that broadcasting to ``gshape`` added or stretched."""
    lead = len(gshape) - len(shape)
    return tuple(range(1, 1 + lead)) + tuple(
        1 + lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1)


def unbroadcast(g, shape: tuple):
    """Sum a batch of cotangents ``(k,) + g_shape`` back to ``(k,) + shape``.

    This is the one place where broadcasting is undone: over leading axes that
    broadcasting added and over axes where ``shape`` has 1.
    """
    gshape = (g.shape if type(g) is np.ndarray else np.shape(g))[1:]
    if gshape == tuple(shape):
        return g
    axes = _unbroadcast_axes(gshape, shape)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    return np.reshape(g, (np.shape(g)[0],) + tuple(shape))


# ----------------------------------------------------------------------------------------
# Structural zeros. A (co)tangent travels with ``sz``: None (no entry is known to be zero by
# the program's structure) or a boolean array broadcastable to it, True where the entry is
# zero *by structure* -- a seed direction's zero, the branch a where did not take, an entry
# an index did not gather, the loser of a maximum, a product with a constant 0. Such an
# entry contributes exactly 0 even against inf or NaN. A zero that a rule *computed* at
# this point (d(x**3)/dx at 0) is an ordinary number: 0 * inf is NaN, which tells the user
# the chain rule met 0 * inf there. A whole zero value is ``None`` instead of an array.
# ----------------------------------------------------------------------------------------

def nonfinite(v) -> bool:
    """True if any entry of ``v`` (or of its plain value, for a traced ``v``) is inf or NaN."""
    v = value_of(v)
    total = v.sum() if isinstance(v, np.ndarray) else v  # one cheap pass, no temporary
    return bool(total - total != 0)  # true exactly when the sum is inf or NaN


def sz_or(a, b):
    """Structurally zero in either mask (a product: either factor is a structural zero)."""
    if a is None:
        return b
    if b is None:
        return a
    return np.logical_or(a, b)


def sz_and(a, b):
    """Structurally zero in both masks (a sum: every term is a structural zero)."""
    if a is None or b is None:
        return None
    if a is b:
        return a
    return np.logical_and(a, b)


def sz_clean(sz):
    """``sz`` as None when no entry is structurally zero (the common, cheap case)."""
    if sz is None or isinstance(sz, (bool, np.bool_)):
        return sz or None
    return sz if sz.any() else None


def sz_of_seed(seed):
    """The structural zeros of a seed direction a user or a Jacobian gives: its exact zeros
    (a direction that does not move an entry does not move it, whatever the rules say)."""
    v = value_of(seed)
    return sz_clean(np.equal(v, 0))


def sz_apply(value, sz):
    """``value`` with exact zeros where ``sz``: needed only if a structural zero met an inf or
    NaN (0 * inf); otherwise the product already was 0 and nothing is copied. A selection,
    not a product, so a nested (outer) derivative treats those entries as constant 0."""
    if sz is None or not nonfinite(value):
        return value
    return np.where(sz, 0.0, value)


def masked_mul(partial, t, sz):
    """``partial * t`` with exact zeros where ``sz`` (structural zeros of either factor)."""
    return sz_apply(partial * t, sz)


def indicator(t, sz):
    """1.0 where a (co)tangent entry may be non-zero, 0.0 where it is a structural zero: fed
    through a rule's linear map, the zeros of the result are the structural zeros of its
    output (see adcore.rules)."""
    v = value_of(t)
    shape = np.shape(v)
    # a complex (co)tangent: 1 + 1j, so real/imag/conj of an entry that may be non-zero
    # never read as a structural zero
    one = (1.0 + 1.0j) if getattr(v, "dtype", None) is not None and v.dtype.kind == "c" else 1.0
    if sz is None:
        return np.full(shape, one)
    return np.broadcast_to(np.logical_not(sz), shape) * one


def unbroadcast_sz(sz, full_shape: tuple, shape: tuple):
    """The structural zeros of ``unbroadcast(g, shape)`` for a ``g`` of ``full_shape`` with
    structural zeros ``sz``: a sum is a structural zero when all its terms are."""
    if sz is None:
        return None
    sz = np.broadcast_to(sz, full_shape)
    gshape = tuple(full_shape[1:])
    if gshape == tuple(shape):
        return sz
    axes = _unbroadcast_axes(gshape, shape)
    if axes:
        sz = np.all(sz, axis=axes, keepdims=True)
    return sz_clean(np.reshape(sz, (full_shape[0],) + tuple(shape)))


def expand_reduced(g, in_shape: tuple, axes: tuple, keepdims: bool):
    """A batch of cotangents of a reduction's output, broadcast back to ``(k,) + in_shape``."""
    if not keepdims and axes:
        g = np.expand_dims(g, shift(axes))
    return np.broadcast_to(g, (np.shape(g)[0],) + tuple(in_shape))


def zeros(k: int, shape: tuple, dtype=float):
    return np.zeros((k,) + tuple(shape), dtype=dtype)
