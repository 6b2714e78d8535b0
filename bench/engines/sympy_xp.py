"""A NumPy-style array namespace over sympy: problems run on symbols, unchanged.

Arrays are NumPy object arrays of sympy expressions; constants stay float arrays
(float @ object works in NumPy).  Elementwise functions map sympy's (``tanh``,
``exp``, ``Max`` ...) over the entries; reductions and joins are NumPy's own on object
arrays.  Used by the ``symbolic`` engine to obtain a problem's closed form.

Comparisons of expressions (``expr != 0``) are *structural* in sympy, so a
``where`` on a traced condition picks a branch once, for the symbols -- fine for the
small closed forms this engine is meant for, and the engine's result is checked
against ours like every other engine's.
"""

from __future__ import annotations

import numpy as np
import sympy

pi = sympy.pi


def _elementwise(fn, nin=1):
    ufunc = np.frompyfunc(fn, nin, 1)

    def apply(*args):
        if all(not isinstance(a, np.ndarray) for a in args):
            return fn(*(sympy.sympify(a) for a in args))
        return ufunc(*args)

    apply.__name__ = getattr(fn, "__name__", "elementwise")
    return apply


def asarray(value, dtype=None):
    return value


sin, cos, tan, tanh = map(_elementwise, (sympy.sin, sympy.cos, sympy.tan, sympy.tanh))
sinh, cosh, arctan = map(_elementwise, (sympy.sinh, sympy.cosh, sympy.atan))
exp, log, sqrt = map(_elementwise, (sympy.exp, sympy.log, sympy.sqrt))
abs = absolute = _elementwise(sympy.Abs)  # noqa: A001
sign = _elementwise(sympy.sign)
square = _elementwise(lambda v: v ** 2)
log1p = _elementwise(lambda v: sympy.log(1 + v))
expm1 = _elementwise(lambda v: sympy.exp(v) - 1)
maximum = _elementwise(sympy.Max, 2)
minimum = _elementwise(sympy.Min, 2)
power = _elementwise(lambda a, b: a ** b, 2)
where = _elementwise(lambda c, a, b: sympy.Piecewise((a, c), (b, True)), 3)


def _obj(x):
    return np.asarray(x, dtype=object)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    out = np.sum(_obj(x), axis=axis, keepdims=keepdims)
    return out


def mean(x, axis=None, keepdims=False):
    x = _obj(x)
    count = x.size if axis is None else np.prod([x.shape[a] for a in np.atleast_1d(axis)])
    return sum(x, axis, keepdims) / int(count)


def _reduce(fn, x, axis, keepdims):
    x = _obj(x)
    if axis is None:
        return fn(*x.reshape(-1))
    return np.frompyfunc(fn, 2, 1).reduce(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce(sympy.Max, x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return _reduce(sympy.Min, x, axis, keepdims)


reshape, squeeze, expand_dims, transpose = np.reshape, np.squeeze, np.expand_dims, np.transpose


def stack(arrays, axis=0):
    return np.stack([_obj(a) for a in arrays], axis=axis)


def concatenate(arrays, axis=0):
    return np.concatenate([_obj(a) for a in arrays], axis=axis)


def matmul(a, b):
    return np.matmul(_obj(a), _obj(b))


dot = matmul
