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
    # at x = 0 the derivative of sqrt is inf, and the zero from d(x^2) makes it exactly 0
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


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


@_composite(np.hstack)
def _hstack(tup, *, dtype=None, casting="same_kind"):
    tup = list(tup)
    return np.concatenate(tup, axis=0 if np.ndim(tup[0]) == 1 else 1)


@_composite(np.vstack)
def _vstack(tup, *, dtype=None, casting="same_kind"):
    return np.concatenate([a if np.ndim(a) >= 2 else np.reshape(a, (1, -1)) for a in tup], axis=0)


@_composite(np.trace)
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    if np.ndim(a) != 2 or offset != 0:
        raise UnsupportedOpError("np.trace", "only the main diagonal of a 2-D array")
    n = min(np.shape(a))
    return np.sum(a[np.arange(n), np.arange(n)])
