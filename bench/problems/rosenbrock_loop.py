"""The extended Rosenbrock function as a scalar loop with an ``@numba.njit`` form.

f(x) = sum_{i < n/2} 100 (x[2i+1] - x[2i]^2)^2 + (1 - x[2i])^2   (More, Garbow and
Hillstrom's "extended Rosenbrock": independent pairs; n even — for odd n the last
variable does not appear). Input: uniform on [-1.5, 1.5]^n.

Written as a loop over elements, as numba code is. The plain evaluation runs the
``@njit`` kernel (so ``grad_fun_ratio`` divides by the native primal); fwdrev's numba
engines differentiate the kernel itself (``xp.njit_call``, see
:mod:`bench.engines.jit_engines`); ``hand-jit`` runs :func:`ext_rosenbrock_grad`, the
hand-written gradient; every other engine runs the same loop on its traced values (slow
in Python: keep n small for ``forward``/``reverse``).
"""

import numba
import numpy as np

from adjit import cache

from bench.problems import Footprint, Problem

cache.install()  # cache=True below writes to the user's cache directory


@numba.njit(cache=True)
def ext_rosenbrock(x):
    s = 0.0
    for i in range(len(x) // 2):
        a = x[2 * i]
        b = x[2 * i + 1]
        s += 100.0 * (b - a ** 2) ** 2 + (1.0 - a) ** 2
    return s


@numba.njit(cache=True)
def ext_rosenbrock_grad(x):
    """Hand-written gradient (the practical limit)."""
    g = np.zeros(len(x))
    for i in range(len(x) // 2):
        a = x[2 * i]
        b = x[2 * i + 1]
        d = b - a * a
        g[2 * i] = -400.0 * d * a - 2.0 * (1.0 - a)
        g[2 * i + 1] = 200.0 * d
    return g


def ext_rosenbrock_fn(x, data, xp):
    njit_call = getattr(xp, "njit_call", None)
    if njit_call is not None:
        return njit_call(ext_rosenbrock, x, hand=ext_rosenbrock_grad)
    if type(x) is np.ndarray:
        return ext_rosenbrock(np.ascontiguousarray(x, dtype=np.float64))
    s = 0.0
    for i in range(len(x) // 2):
        a, b = x[2 * i], x[2 * i + 1]
        s = s + 100.0 * (b - a ** 2) ** 2 + (1.0 - a) ** 2
    return s


PROBLEM = Problem(
    name="rosenbrock-loop",
    summary="extended Rosenbrock (independent pairs) as an @njit loop, R^n -> R",
    knobs={"n": (1000, "number of variables (even)")},
    fn=ext_rosenbrock_fn,
    make_data=lambda rng, size: {},
    make_input=lambda rng, size: rng.uniform(-1.5, 1.5, size.n),
    in_size=lambda size: size.n,
    out_size=lambda size: 1,
    footprint=lambda size: Footprint(data_bytes=0, work_bytes=8 * 8 * (size.n // 2),
                                     ops=8 * (size.n // 2)),
    scalar=True,
    min_n=2,
    # per pair: a**2, b - ., (.)**2, 100 *, 1 - a, (.)**2, +, s + .
    scalar_ops=lambda size: 8 * (size.n // 2),
    native_primal=True,
)
