"""The lecture's logistic map iterated T times: l_1 = x, l_(k+1) = r l_k (1 - l_k).

Maps R^n -> R^n elementwise (n independent starting points, default 1); depth = T.
The knob to watch is depth: forward mode carries (v, v') through the loop in
constant memory, reverse mode stores all T steps on its tape.

r defaults to 3, not the lecture's 4: at r = 4 the map is chaotic, |dl_T/dx| grows
like 2^T and overflows float64 beyond T ~ 1000, which would make every deep record a
comparison of infinities.  At r = 3 (the first period doubling) the iterates converge
to the fixed point 2/3 only algebraically, so the derivative stays finite and non-zero
at any depth.  ``--param r=4`` gives the lecture's map (fine for T <= ~500).
Inputs: uniform on [0.1, 0.9].
"""

from bench.problems import Footprint, Problem


def logistic_map(x, data, xp):
    """T-fold iterate of the logistic map at ``x`` (shape ``(n,)``) -> shape ``(n,)``."""
    r = data["r"]
    v = x
    for _ in range(data["depth"]):
        v = r * v * (1.0 - v)
    return v


PROBLEM = Problem(
    name="logistic-map",
    summary="l <- r l (1 - l) iterated T = depth times, elementwise R^n -> R^n",
    knobs={"n": (1, "number of independent starting points"),
           "depth": (4, "number of iterations T")},
    fn=logistic_map,
    make_data=lambda rng, size: {"depth": size.depth, "r": size.params["r"]},
    make_input=lambda rng, size: rng.uniform(0.1, 0.9, size.n),
    in_size=lambda size: size.n,
    out_size=lambda size: size.n,
    footprint=lambda size: Footprint(data_bytes=0, work_bytes=8 * 3 * size.n * size.depth,
                                     ops=3 * size.depth),
    scalar=False,
    params={"r": (3.0, "map parameter (lecture: 4, chaotic; default 3 keeps f' finite)")},
)
