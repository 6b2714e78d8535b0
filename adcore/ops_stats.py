"""Statistics over axes (var, std, average, nansum, ...): composites of registered ops."""
import numpy as np

from .errors import UnsupportedOpError
from .registry import defcomposite


def _composite(func, examples=()):
    return defcomposite((func,), examples=examples)


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
