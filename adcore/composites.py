"""NumPy functions that need no rule of their own: they are compositions of registered ops.

Each binder returns :class:`adcore.registry.Done` with the composed result, so the
derivative comes from the ops it is made of (and both modes agree by construction).
"""
import numpy as np

from .errors import UnsupportedOpError
from .registry import defcomposite


def _composite(func, examples=()):
    return defcomposite((func,), examples=examples)


def _arrays(tup, name):
    """The sequence of arrays NumPy's stacking functions take: a list/tuple, or an array
    iterated along its first axis (``np.hstack(x)`` of a 1-D ``x`` joins its elements)."""
    if isinstance(tup, (list, tuple)):
        return list(tup)
    if np.ndim(tup) == 0:
        raise TypeError(f"{name}: expects a sequence of arrays, got a 0-d value")
    return [tup[i] for i in range(np.shape(tup)[0])]


def _at_least(a, ndim):
    """``np.atleast_1d`` / ``np.atleast_2d`` of a traced or plain value, as NumPy does it:
    a 0-d value becomes (1,) / (1, 1), a 1-D value of length n becomes (1, n)."""
    shape = np.shape(a)
    if len(shape) >= ndim:
        return a
    return np.reshape(a, (1,) * (ndim - len(shape)) + shape)


@_composite(np.hstack)
def _hstack(tup, *, dtype=None, casting="same_kind"):
    arrs = [_at_least(a, 1) for a in _arrays(tup, "np.hstack")]
    if not arrs:
        raise ValueError("need at least one array to concatenate")
    axis = 0 if np.ndim(arrs[0]) == 1 else 1
    return np.concatenate(arrs, axis=axis, dtype=dtype, casting=casting)


@_composite(np.vstack)
def _vstack(tup, *, dtype=None, casting="same_kind"):
    arrs = [_at_least(a, 2) for a in _arrays(tup, "np.vstack")]
    if not arrs:
        raise ValueError("need at least one array to concatenate")
    return np.concatenate(arrs, axis=0, dtype=dtype, casting=casting)
