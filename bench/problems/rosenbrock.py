"""Rosenbrock's function, R^n -> R: the classic ill-conditioned valley.

f(x) = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2,  i = 0 .. n-2.
n = number of variables (>= 2).  Input: uniform on [-1.5, 1.5]^n.
"""

from bench.problems import Footprint, Problem


def rosenbrock(x, data, xp):
    """Scalar Rosenbrock value of ``x`` (shape ``(n,)``) -> shape ``()``."""
    head, tail = x[:-1], x[1:]
    return xp.sum(100.0 * (tail - head ** 2) ** 2 + (1.0 - head) ** 2)


PROBLEM = Problem(
    name="rosenbrock",
    summary="sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, R^n -> R",
    knobs={"n": (16, "number of variables")},
    fn=rosenbrock,
    make_data=lambda rng, size: {},
    make_input=lambda rng, size: rng.uniform(-1.5, 1.5, size.n),
    in_size=lambda size: size.n,
    out_size=lambda size: 1,
    footprint=lambda size: Footprint(data_bytes=0, work_bytes=10 * 8 * size.n, ops=10),
    scalar=True,
    min_n=2,
)
