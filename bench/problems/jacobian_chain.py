"""The lecture's cascade (SEED §3): a chain of e dense tanh layers of width d, then a scalar.

h¹ = x, h^(k+1) = tanh(W_k h^k) for k = 1..e, L = c · h^(e+1).  W_k ~ N(0, 1/d) (d, d),
c ~ N(0, 1/d) (d,), x ~ N(0, 1).  n = d (the width, = input size), depth = e (layers).

∂L/∂h¹ = c J_e ⋯ J_2 J_1 with J_k = diag(1 − (h^(k+1))²) W_k.  How the product is
multiplied is the point: from the output side a 1 × d row meets each J_k (reverse
accumulation, O(e·d²)); from the input side d × d matrices are multiplied (forward
accumulation, O(e·d³)).  The engines ``chain-vector-first`` and ``chain-matrix-first``
(:mod:`bench.engines.chain`) do exactly that with each layer's plain NumPy Jacobian; they
receive the layers through ``xp.layer_chain`` when their namespace offers it (the same
hand-over as the ``@njit`` problems' ``xp.njit_call``). Every other engine differentiates
the loop below.
"""

from bench.problems import Footprint, Problem


def jacobian_chain(x, data, xp):
    """L at ``x`` (shape ``(d,)``) -> shape ``()``."""
    hand_over = getattr(xp, "layer_chain", None)
    if hand_over is not None:
        return hand_over(x, data["layers"], data["readout"])
    h = x
    for w in data["layers"]:
        h = xp.tanh(w @ h)
    return xp.sum(data["readout"] * h)


def _data(rng, size):
    d = size.n
    return {"layers": [rng.normal(0.0, d ** -0.5, (d, d)) for _ in range(size.depth)],
            "readout": rng.normal(0.0, d ** -0.5, d)}


PROBLEM = Problem(
    name="jacobian-chain",
    summary="e = depth dense tanh layers of width d = n, then L = c·h (the lecture's "
            "cascade J_e ⋯ J_1: multiplication order)",
    knobs={"n": (64, "layer width d (= input size)"), "depth": (8, "number of layers e")},
    fn=jacobian_chain,
    make_data=_data,
    make_input=lambda rng, size: rng.normal(0.0, 1.0, size.n),
    in_size=lambda size: size.n,
    out_size=lambda size: 1,
    footprint=lambda size: Footprint(
        data_bytes=8 * size.n * (size.n * size.depth + 1),
        work_bytes=8 * (3 * size.n * size.depth + 1), ops=3 * size.depth + 2),
    scalar=True,
)
