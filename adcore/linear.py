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
    extra = ndim - (np.ndim(t) - 1)
    if extra > 0:
        shape = np.shape(t)
        t = np.reshape(t, (shape[0],) + (1,) * extra + shape[1:])
    return t


def unbroadcast(g, shape: tuple):
    """Sum a batch of cotangents ``(k,) + g_shape`` back to ``(k,) + shape``.

    This is the one place where broadcasting is undone: over leading axes that
    broadcasting added and over axes where ``shape`` has 1.
    """
    gshape = np.shape(g)[1:]
    if gshape == tuple(shape):
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(1, 1 + lead)) + tuple(
        1 + lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1
    )
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    return np.reshape(g, (np.shape(g)[0],) + tuple(shape))


def strong_mul(partial, t):
    """``partial * t`` where a zero on either side gives exactly zero.

    Why: an elementwise rule multiplies a partial derivative by a (co)tangent. Where one
    factor is 0 and the other is inf or NaN (sqrt'(0) = inf; the unselected branch of
    ``np.where``; a constant direction), the true contribution is zero — without this,
    NaN from a branch that was never taken leaks into the derivative.
    """
    r = partial * t
    v = value_of(r)
    total = v.sum() if isinstance(v, np.ndarray) else v  # one cheap pass, no temporary
    if total - total != 0:  # true exactly when the sum is inf or NaN
        zero = np.equal(partial, 0) | np.equal(t, 0)
        r = np.where(zero, 0.0, r)
    return r


def expand_reduced(g, in_shape: tuple, axes: tuple, keepdims: bool):
    """A batch of cotangents of a reduction's output, broadcast back to ``(k,) + in_shape``."""
    if not keepdims and axes:
        g = np.expand_dims(g, shift(axes))
    return np.broadcast_to(g, (np.shape(g)[0],) + tuple(in_shape))


def zeros(k: int, shape: tuple, dtype=float):
    return np.zeros((k,) + tuple(shape), dtype=dtype)
