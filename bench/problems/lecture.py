"""The lecture's worked graph example: f(x1, x2) = x1 x2 + sin(x1), R^2 -> R.

df/dx1 = x2 + cos(x1), df/dx2 = x1.  Input: uniform on [-2, 2]^2.  n is fixed at 2.
"""

from bench.problems import Footprint, Problem


def lecture(x, data, xp):
    """x1 x2 + sin(x1) at ``x`` (shape ``(2,)``) -> shape ``()``."""
    return x[0] * x[1] + xp.sin(x[0])


PROBLEM = Problem(
    name="lecture",
    summary="x1 x2 + sin(x1), R^2 -> R (the lecture's computational-graph example)",
    knobs={},
    fn=lecture,
    make_data=lambda rng, size: {},
    make_input=lambda rng, size: rng.uniform(-2.0, 2.0, 2),
    in_size=lambda size: 2,
    out_size=lambda size: 1,
    footprint=lambda size: Footprint(data_bytes=0, work_bytes=64, ops=4),
    scalar=True,
    fixed={"n": 2},
)
