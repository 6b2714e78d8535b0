"""``@numba.njit`` functions several test files differentiate (defined once, compiled once)."""
import numba
import numpy as np


@numba.njit
def cube_sum(x):
    """sum_i x_i^2 x_0: a scalar loop over an array."""
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i] * x[0]
    return s


@numba.njit
def logistic_step(x, r):
    """r x (1 - x) elementwise into a new array: an array output, a pass-through argument."""
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = r * x[i] * (1.0 - x[i])
    return out


@numba.njit
def branchy_sum(x):
    """A loop whose branch depends on the input's signs (recordings must follow it)."""
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0.0:
            s += x[i] * x[i] * x[0]
        else:
            s -= 2.0 * x[i] * x[0]
    return s


@numba.njit
def positive(x):
    """A boolean scalar output: no derivative to return (refused, naming it)."""
    return x[0] > 0.0


@numba.njit
def signs(x):
    """A boolean array output: no derivative to return (refused, naming it)."""
    out = np.empty(len(x), dtype=np.bool_)
    for i in range(len(x)):
        out[i] = x[i] > 0.0
    return out
