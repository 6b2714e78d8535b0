"""Named sweeps: what ``fwdrev run`` measures when no ``--problem`` is given.

A suite is a list of :class:`Entry` objects; each entry is exactly what one
``fwdrev run --problem ... --engine ... --n ...`` command would plan.  ``default``
answers the lecture's questions in a few minutes on 2 cores; ``smoke`` is a tiny grid
that CI runs through the test suite so the harness never rots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import sweep


@dataclass(frozen=True)
class Entry:
    """One block of a suite: the arguments of :func:`bench.sweep.plan`."""

    problems: tuple
    engines: tuple
    n: list | None = None
    m: list | None = None
    depth: list | None = None
    params: dict = field(default_factory=dict)
    chunk: list | None = None


@dataclass(frozen=True)
class Suite:
    name: str
    summary: str
    entries: tuple

    def plan(self, seed=0) -> list:
        """All jobs of the suite (engines are filtered by the caller)."""
        jobs = []
        for e in self.entries:
            jobs += sweep.plan(e.problems, e.engines, n=e.n, m=e.m, depth=e.depth,
                               params=e.params, chunk=e.chunk, seed=seed)
        return jobs


SUITES = {
    "default": Suite(
        name="default",
        summary="forward vs reverse over the tanh-net (n, m) grid (default chunking and "
                "one direction per pass), gradients of the scalar problems, depth "
                "studies, a chunk sweep, the lecture's examples (~4 min on 2 cores)",
        entries=(
            # The point of the tool: the (n, m) grid, with the engines' default chunking
            # (up to 64 directions per pass, vectorised) ...
            Entry(("tanh-net",), ("forward", "reverse"),
                  n=[1, 4, 16, 64, 256, 1024], m=[1, 4, 16, 64, 256, 1024]),
            # ... and with one direction per pass: the textbook cost model, forward ~ n
            # passes, reverse ~ m sweeps, crossover at n = m.
            Entry(("tanh-net",), ("forward", "reverse"),
                  n=[1, 4, 16, 64, 256], m=[1, 4, 16, 64, 256], chunk=[1]),
            # Gradients R^n -> R: forward needs n directions, reverse one sweep; fd too.
            Entry(("rosenbrock", "logreg"), ("forward", "reverse", "fd"),
                  n=[4, 16, 64, 256, 1024]),
            Entry(("mlp-loss",), ("forward", "reverse", "fd"), n=[2, 8, 32, 128]),
            # Depth: forward's memory stays flat, reverse's tape grows with T.
            Entry(("logistic-map",), ("forward", "reverse"),
                  depth=[10, 100, 1000, 10000, 100000]),
            # The lecture's "how to multiply": scalar read-out of a chain of layers.
            Entry(("layer-chain",), ("forward", "reverse"), n=[4, 16, 64, 256], depth=[4, 16]),
            # Forward chunk sweep: tangent directions per pass.
            Entry(("tanh-net",), ("forward",), n=[1024], m=[1],
                  chunk=[1, 4, 16, 64, 256, 1024]),
            Entry(("lecture", "homework"), ("forward", "reverse", "fd")),
            # fwdrev's compiled engines on @njit scalar loops: ratios to the native primal,
            # next to the hand-written numba derivative (the practical limit) ...
            Entry(("logistic-loop",), ("forward-jit", "reverse-jit", "hand-jit"),
                  depth=[1000, 10000, 100000]),
            Entry(("logistic-loop",), ("forward", "reverse"), depth=[1000]),
            Entry(("rosenbrock-loop",), ("reverse-jit", "hand-jit"), n=[1000, 10000, 100000]),
            # ... and the compiled forward gradient's ceil(n / chunk) passes.
            Entry(("rosenbrock-loop",), ("forward-jit",), n=[250, 500, 1000, 2000],
                  chunk=[1, 8]),
        ),
    ),
    "smoke": Suite(
        name="smoke",
        summary="a tiny grid of every problem and engine (seconds; used by the tests)",
        entries=(
            Entry(("tanh-net",), ("forward", "reverse", "fd"), n=[1, 3], m=[1, 2]),
            Entry(("rosenbrock", "logreg", "mlp-loss"), ("forward", "reverse", "fd"),
                  n=[2, 4]),
            Entry(("logistic-map",), ("forward", "reverse", "fd"), depth=[2, 8]),
            Entry(("layer-chain",), ("forward", "reverse", "fd"), n=[2, 3], depth=[2]),
            Entry(("lecture", "homework"), ("forward", "reverse", "fd")),
        ),
    ),
}
