"""The lecture's logistic map as a scalar loop with an ``@numba.njit`` form.

f(x) = l_T with l_1 = x[0], l_(k+1) = r l_k (1 - l_k): R^1 -> R, depth = T.

The same map as ``logistic-map``, written the way scalar-heavy code is written for numba:
a loop over floats. The plain NumPy evaluation (the function time every ratio divides by)
runs the ``@njit`` kernel, so ``grad_fun_ratio`` is "derivative time / native primal".

- fwdrev's numba engines (``forward-jit``, ``reverse-jit``) differentiate the kernel
  itself: the problem hands it over through ``xp.njit_call`` (see
  :mod:`bench.engines.jit_engines`), with the iteration count as a pass-through argument;
- ``hand-jit`` runs :func:`logistic_loop_adjoint`, a hand-written numba adjoint (the
  practical limit);
- every other engine (``forward``, ``reverse``, peers) runs the same loop on its traced
  values.

r defaults to 3 for the reason given in ``logistic_map.py``: at the lecture's r = 4 the
derivative overflows float64 after ~1000 steps (``--param r=4`` for short depths).
"""

import numba
import numpy as np

from adjit import cache

from bench.problems import Footprint, Problem

cache.install()  # cache=True below writes to the user's cache directory


@numba.njit(cache=True)
def logistic_loop(x, T, r):
    """l_T(x[0]) — the native primal."""
    v = x[0]
    for _ in range(T):
        v = r * v * (1.0 - v)
    return v


@numba.njit(cache=True)
def logistic_loop_adjoint(x, T, r):
    """Hand-written reverse mode: store the T values, then g <- g * r (1 - 2 l_k)."""
    vs = np.empty(T)
    v = x[0]
    for t in range(T):
        vs[t] = v
        v = r * v * (1.0 - v)
    g = 1.0
    for t in range(T - 1, -1, -1):
        g *= r * (1.0 - 2.0 * vs[t])
    out = np.empty(1)
    out[0] = g
    return out


def logistic_loop_fn(x, data, xp):
    T, r = data["depth"], data["r"]
    njit_call = getattr(xp, "njit_call", None)
    if njit_call is not None:
        return njit_call(logistic_loop, x, T, r, hand=logistic_loop_adjoint)
    if type(x) is np.ndarray:
        return logistic_loop(np.ascontiguousarray(x, dtype=np.float64), T, r)
    v = x[0]
    for _ in range(T):
        v = r * v * (1.0 - v)
    return v


PROBLEM = Problem(
    name="logistic-loop",
    summary="logistic map l <- r l (1 - l) as an @njit scalar loop, T = depth steps, R -> R",
    knobs={"depth": (1000, "number of iterations T")},
    fn=logistic_loop_fn,
    make_data=lambda rng, size: {"depth": size.depth, "r": size.params["r"]},
    make_input=lambda rng, size: rng.uniform(0.1, 0.9, 1),
    in_size=lambda size: 1,
    out_size=lambda size: 1,
    footprint=lambda size: Footprint(data_bytes=0, work_bytes=8 * 3 * size.depth,
                                     ops=3 * size.depth),
    scalar=True,
    params={"r": (3.0, "map parameter (lecture: 4, chaotic; default 3 keeps f' finite)")},
    fixed={"n": 1},
    scalar_ops=lambda size: 3 * size.depth,  # r * v, 1 - v, and their product
    native_primal=True,
)
