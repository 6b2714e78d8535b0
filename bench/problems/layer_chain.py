"""A chain of L = depth dense tanh layers of width n, then a linear read-out to R^m.

h_0 = x, h_k = tanh(W_k h_(k-1)) for k = 1..L, y = C h_L.  W_k ~ N(0, 1/n) (n, n),
C ~ N(0, 1/n) (m, n), x ~ N(0, 1).  n = layer width = input size, m = output size
(default 1: a scalar read-out).

This is the lecture's "how should we multiply the Jacobian product": with m = 1,
reverse accumulation pushes a 1 x n row through L layers (O(L n^2)), forward pushes
n tangent directions (O(L n^3)).
"""

from bench.problems import Footprint, Problem


def layer_chain(x, data, xp):
    """Read-out of the layer chain at ``x`` (shape ``(n,)``) -> shape ``(m,)``."""
    h = x
    for w in data["layers"]:
        h = xp.tanh(w @ h)
    return data["readout"] @ h


def _data(rng, size):
    n = size.n
    return {"layers": [rng.normal(0.0, n ** -0.5, (n, n)) for _ in range(size.depth)],
            "readout": rng.normal(0.0, n ** -0.5, (size.m, n))}


PROBLEM = Problem(
    name="layer-chain",
    summary="depth L dense tanh layers of width n, linear read-out to R^m",
    knobs={"n": (16, "layer width (= input size)"), "m": (1, "output size"),
           "depth": (4, "number of layers L")},
    fn=layer_chain,
    make_data=_data,
    make_input=lambda rng, size: rng.normal(0.0, 1.0, size.n),
    in_size=lambda size: size.n,
    out_size=lambda size: size.m,
    footprint=lambda size: Footprint(
        data_bytes=8 * size.n * (size.n * size.depth + size.m),
        work_bytes=8 * (2 * size.n * size.depth + size.m), ops=2 * size.depth + 1),
    scalar=False,
)
