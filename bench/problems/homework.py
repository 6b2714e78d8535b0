"""The lecture's homework function, R^6 -> R:

f(x) = sigmoid(log(5 (max{x1, x2} x3 / x4 - (x5 + x6)))) + 1/2.

The input keeps the log's argument positive: x1..x4 uniform on [1, 2] (so
max{x1, x2} x3 / x4 >= 1/2) and x5, x6 uniform on [-1, 0] (so -(x5 + x6) >= 0);
x1 != x2 with probability one, so max is differentiable there.  n is fixed at 6.
"""

from bench.problems import Footprint, Problem


def homework(x, data, xp):
    """The homework function at ``x`` (shape ``(6,)``) -> shape ``()``."""
    inner = 5.0 * (xp.maximum(x[0], x[1]) * x[2] / x[3] - (x[4] + x[5]))
    return 1.0 / (1.0 + xp.exp(-xp.log(inner))) + 0.5


PROBLEM = Problem(
    name="homework",
    summary="sigmoid(log(5 (max{x1,x2} x3/x4 - (x5+x6)))) + 1/2, R^6 -> R",
    knobs={},
    fn=homework,
    make_data=lambda rng, size: {},
    make_input=lambda rng, size: [*rng.uniform(1.0, 2.0, 4), *rng.uniform(-1.0, 0.0, 2)],
    in_size=lambda size: 6,
    out_size=lambda size: 1,
    footprint=lambda size: Footprint(data_bytes=0, work_bytes=128, ops=10),
    scalar=True,
    fixed={"n": 6},
)
