"""A two-layer tanh network as a map R^n -> R^m, the (n, m) grid's main problem.

y = tanh(W2 tanh(W1 x)) with fixed hidden width H = 32; W1 ~ N(0, 1/n) is (H, n),
W2 ~ N(0, 1/H) is (m, H), x ~ N(0, 1).  n = input size, m = output size.

Forward mode needs one tangent direction per input (cost ~ n evaluations), reverse
one sweep per output (~ m), so the forward/reverse crossover should sit near n = m.
"""

from bench.problems import Footprint, Problem

HIDDEN = 32


def tanh_net(x, data, xp):
    """Network output at ``x`` (shape ``(n,)``) -> shape ``(m,)``."""
    return xp.tanh(data["w2"] @ xp.tanh(data["w1"] @ x))


def _data(rng, size):
    return {"w1": rng.normal(0.0, size.n ** -0.5, (HIDDEN, size.n)),
            "w2": rng.normal(0.0, HIDDEN ** -0.5, (size.m, HIDDEN))}


PROBLEM = Problem(
    name="tanh-net",
    summary=f"tanh(W2 tanh(W1 x)), hidden width {HIDDEN}, R^n -> R^m",
    knobs={"n": (16, "input size"), "m": (16, "output size")},
    fn=tanh_net,
    make_data=_data,
    make_input=lambda rng, size: rng.normal(0.0, 1.0, size.n),
    in_size=lambda size: size.n,
    out_size=lambda size: size.m,
    footprint=lambda size: Footprint(data_bytes=8 * HIDDEN * (size.n + size.m),
                                     work_bytes=8 * (size.n + 4 * HIDDEN + 4 * size.m), ops=4),
    scalar=False,
)
