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
    #: ``"module:function"`` writing the suite's own report instead of the generic one
    #: (``bench.report.write_report``'s signature, plus ``**report_options``).
    report: str | None = None
    report_options: dict = field(default_factory=dict)

    def report_writer(self):
        """The function that writes this suite's report (the generic one by default)."""
        import importlib

        module, _, func = (self.report or "bench.report:write_report").partition(":")
        writer = getattr(importlib.import_module(module), func)
        if not self.report_options:
            return writer
        return lambda *args: writer(*args, **self.report_options)

    def plan(self, seed=0) -> list:
        """All jobs of the suite (engines are filtered by the caller)."""
        jobs = []
        for e in self.entries:
            jobs += sweep.plan(e.problems, e.engines, n=e.n, m=e.m, depth=e.depth,
                               params=e.params, chunk=e.chunk, seed=seed)
        return jobs


#: fwdrev's own two modes, and the peer engines (optional libraries).
_OURS = ("forward", "reverse")
_PEERS = ("jax-fwd", "jax-rev", "jax-jit-fwd", "jax-jit-rev", "torch-fwd", "torch-rev",
          "autograd-fwd", "autograd-rev")
_PEERS_ADBENCH = ("jax-jit-fwd", "jax-jit-rev", "torch-fwd", "torch-rev", "autograd-fwd",
                  "autograd-rev")

SUITES = {
    "default": Suite(
        name="default",
        summary="forward vs reverse over the tanh-net (n, m) grid (default chunking and "
                "one direction per pass), gradients of the scalar problems, depth "
                "studies, a chunk sweep, the lecture's examples, a peers block for the "
                "installed peers (~5 min on 2 cores)",
        entries=(
            # The point of the tool: the (n, m) grid, with the engines' default chunking
            # (up to 64 directions per pass, vectorised) ...
            Entry(("tanh-net",), ("forward", "reverse", "auto"),
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
            # The compiled array tier: the recording replayed as fused numba kernels, both
            # modes, on the (n, m) grid next to JAX jit (when installed) and on the
            # gradients of the array problems.
            Entry(("tanh-net",), ("forward-fused", "reverse-fused", "jax-jit-fwd",
                                  "jax-jit-rev"),
                  n=[1, 16, 256, 1024], m=[1, 16, 256, 1024]),
            Entry(("rosenbrock", "logreg"), ("reverse-fused", "forward-fused"),
                  n=[16, 1024]),
            Entry(("mlp-loss",), ("reverse-fused",), n=[8, 128]),
            # Peers section (only the installed ones run; the full comparison is
            # 'fwdrev run --suite peers'): the gradient at n = 16 and 1024, ADBench's GMM.
            Entry(("tanh-net",), _PEERS_ADBENCH, n=[16, 1024], m=[1]),
            Entry(("gmm",), _OURS + ("jax-jit-rev", "torch-rev", "autograd-rev")),
        ),
    ),
    # Issue 5: the established libraries on the same problems, in the same run.  Peers
    # not installed are skipped with one line each (pip install 'fwdrev[peers,symbolic]').
    "peers": Suite(
        name="peers",
        summary="fwdrev's forward/reverse next to JAX (eager, jit), PyTorch, autograd, "
                "finite differences and sympy: tanh-net (time vs n, m), ADBench's gmm/ba/lstm "
                "(J/F and memory per size), the logistic map's expression swell (~10 min)",
        entries=(
            # Time vs n (m = 1: a gradient) and vs m (n = 64), every AD engine.
            Entry(("tanh-net",), _OURS + _PEERS, n=[4, 64, 1024], m=[1]),
            Entry(("tanh-net",), _OURS + _PEERS, n=[64], m=[256]),
            # ADBench's problems (J/F per size as in its tables, and peak memory).  Eager
            # JAX is left out here: it compiles every primitive on first use (~10 s per
            # size on gmm) and is measured on tanh-net and lstm instead.
            Entry(("gmm",), _OURS + _PEERS_ADBENCH + ("fd",),
                  params={"d": [2, 10], "K": [5], "N": [1000]}),
            Entry(("ba",), _OURS + _PEERS_ADBENCH + ("fd", "fd-forward"),
                  params={"C": [2], "P": [4], "O": [8]}),
            Entry(("ba",), _OURS + _PEERS_ADBENCH + ("fd", "fd-forward"),
                  params={"C": [16], "P": [128], "O": [256]}),
            # LSTM: the sequence length c is the tape-length knob.  XLA's fusion makes the
            # jitted gradient of the unrolled loop grow exponentially in c (see the
            # report), so jit runs at c <= 12 only; autograd-fwd's n traces at c = 8.
            Entry(("lstm",), _OURS + ("jax-jit-rev",), params={"l": [2], "c": [4, 8, 12]}),
            Entry(("lstm",), _OURS + ("jax-fwd", "jax-rev", "torch-fwd", "torch-rev",
                                      "autograd-rev"), params={"l": [2], "c": [8, 32]}),
            Entry(("lstm",), ("jax-jit-fwd", "autograd-fwd"), params={"l": [2], "c": [8]}),
            # Longer tapes for the memory plot (reverse stores ~60 ops per step).
            Entry(("lstm",), _OURS + ("jax-rev", "torch-fwd", "torch-rev", "autograd-rev"),
                  params={"l": [2], "c": [128, 512]}),
            # The lecture's expression swell: symbolic f' vs AD on the logistic map.
            Entry(("logistic-map",), ("symbolic", "forward", "reverse"),
                  depth=[1, 2, 3, 4, 5, 6, 7, 8], params={"r": [4.0]}),
            Entry(("homework",), ("symbolic", "forward", "reverse", "fd", "fd-forward")),
        ),
    ),
    # Issue 11: the lecture's views. The harness measures the cascade (the two
    # multiplication orders of the Jacobian product, next to fwdrev's forward and reverse
    # modes); the report (bench/lecture.py) adds the four ways on the logistic map, the
    # gradient check, the examples' traces and graphs and the ReLU Jacobian, computed while
    # it is written.
    "lecture": Suite(
        name="lecture",
        summary="the lecture, computed: four ways to a derivative (logistic map), the "
                "gradient check, traces and graphs of the lecture's examples, the 4096-d "
                "ReLU Jacobian, the cascade's multiplication order (~1 min on 2 cores)",
        entries=(
            # time and FLOPs vs the width d at e = 8 layers ...
            Entry(("jacobian-chain",), ("chain-matrix-first", "chain-vector-first"),
                  n=[16, 32, 64, 128, 256, 512, 1024], depth=[8]),
            Entry(("jacobian-chain",), ("forward", "reverse"), n=[16, 64, 256], depth=[8]),
            # ... and vs the number of layers e at d = 256
            Entry(("jacobian-chain",), ("chain-matrix-first", "chain-vector-first"),
                  n=[256], depth=[2, 4, 16, 32]),
        ),
        report="bench.lecture:write_report",
    ),
    # Issue 14: beyond first order. The harness measures mode="auto" beside both modes on
    # the tanh-net grid; the report (bench/beyond.py) adds second order, sparse Jacobians,
    # checkpointing and pytrees, computed while it is written.
    "beyond": Suite(
        name="beyond",
        summary="second order (HVP / gradient, Hessian vs n by three nestings), mode='auto' "
                "on the tanh-net grid, sparse Jacobians and Hessians by colouring, "
                "checkpointing (scan, checkpoint), pytrees (~3 min on 2 cores)",
        entries=(
            Entry(("tanh-net",), ("forward", "reverse", "auto"),
                  n=[1, 16, 256, 1024], m=[1, 16, 256, 1024]),
        ),
        report="bench.beyond:write_report",
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
            Entry(("tanh-net",), ("forward-fused", "reverse-fused"), n=[3], m=[2]),
            Entry(("rosenbrock",), ("forward-fused", "reverse-fused"), n=[3]),
        ),
    ),
}
