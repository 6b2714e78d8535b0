"""NumPy functions that need no rule of their own: they are compositions of registered ops.

Each binder returns :class:`adcore.registry.Done` with the composed result, so the
derivative comes from the ops it is made of (and both modes agree by construction).
"""
import numpy as np

from .errors import UnsupportedOpError
from .registry import Done, _FUNCTIONS


def _composite(func):
    def register(build):
        _FUNCTIONS[func] = (None, lambda *a, **k: Done(build(*a, **k)))
        return build
    return register


@_composite(np.linalg.norm)
def _norm(x, ord=None, axis=None, keepdims=False):
    if ord not in (None, 2, "fro") or (ord == 2 and axis is None and np.ndim(x) > 1):
        raise UnsupportedOpError("np.linalg.norm", f"ord={ord!r} (only the 2-norm / Frobenius norm)")
    from .ops_structural import norm2  # one op: the zero subgradient at 0, as hypot
    return norm2(x, axis=axis, keepdims=keepdims)


@_composite(np.var)
def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    if out is not None or dtype is not None:
        raise UnsupportedOpError("np.var", "dtype/out")
    centred = a - np.mean(a, axis=axis, keepdims=True)
    n = np.size(a) if axis is None else np.prod([np.shape(a)[i] for i in np.atleast_1d(axis)])
    return np.sum(centred * centred, axis=axis, keepdims=keepdims) / (n - ddof)


@_composite(np.std)
def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    return np.sqrt(_var(a, axis, dtype, out, ddof, keepdims))


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


@_composite(np.trace)
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    if np.ndim(a) != 2 or offset != 0:
        raise UnsupportedOpError("np.trace", "only the main diagonal of a 2-D array")
    n = min(np.shape(a))
    return np.sum(a[np.arange(n), np.arange(n)])
