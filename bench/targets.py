"""The eager tier's speed targets, measured as ratios in one run: ``python -m bench.targets``.

Each row of the speed issue's table is measured on this machine, in this process, against
hand-written NumPy always and against the installed peers (torch, autograd, JAX; absent:
a dash), and marked met or missed. Writes ``reports/targets.md`` (``--out``). Times are
medians (bench.timing's procedure: warm-up call, batches of at least 20 ms, 5 samples);
memory is the tracemalloc peak of one call. The machine is shared and noisy: read ratios,
and the load line at the top of the report.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
import tracemalloc
from pathlib import Path

import numpy as np

import dualnum
import tapes
from bench.timing import time_call


@dataclasses.dataclass
class Row:
    measure: str
    ours: str
    peers: str
    goal: str
    met: bool | None  # None: not measurable here (a peer missing)


def _t(fn) -> float:
    return time_call(fn, samples=5, max_time_s=2.0).median_s


def _peak(fn) -> int:
    fn()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _have(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _fmt_t(s: float) -> str:
    return f"{s * 1e6:.3g} µs" if s < 1e-3 else f"{s * 1e3:.3g} ms"


# ------------------------------------------------------------------------------ rows
def marginal_op_cost(quick: bool) -> Row:
    """Cost of one more op on a length-1 array: the slope of time vs chain length."""
    lengths = (10, 40) if quick else (50, 400)
    x = np.array([0.3])

    def chain(k):
        def f(v):
            for _ in range(k):
                v = v * 1.0001
            return np.sum(v)
        return f
    per = {}
    for name, grad in (("reverse", tapes.grad), ("forward", dualnum.grad)):
        a, b = (_t(lambda k=k: grad(chain(k))(x)) for k in lengths)
        per[name] = (b - a) / (lengths[1] - lengths[0])
    peers = []
    torch_cost = None
    if _have("torch"):
        import torch
        xt = torch.tensor([0.3], dtype=torch.float64, requires_grad=True)

        def torch_chain(k):
            def run():
                v = xt
                for _ in range(k):
                    v = v * 1.0001
                v.sum().backward()
                xt.grad = None
            return run
        a, b = (_t(torch_chain(k)) for k in lengths)
        torch_cost = (b - a) / (lengths[1] - lengths[0])
        peers.append(f"torch {_fmt_t(torch_cost)}")
    met = None if torch_cost is None else max(per.values()) <= torch_cost
    return Row("marginal cost of one more op, length-1 array: reverse / forward",
               f"{_fmt_t(per['reverse'])} / {_fmt_t(per['forward'])}",
               ", ".join(peers) or "–", "≤ torch, both modes", met)


def _logistic(steps):
    """The logistic map on Python floats, ``steps`` steps of 3 scalar ops."""
    def f(x):
        for _ in range(steps):
            x = 4.0 * x * (1.0 - x)
        return x
    return f


def logistic_per_iteration(quick: bool) -> Row:
    steps = 100 if quick else 1000
    g = tapes.grad(_logistic(steps))
    per = _t(lambda: g(0.3)) / steps
    return Row(f"logistic map on Python floats, T = {steps}, per iteration: tapes.grad",
               _fmt_t(per), "–", "≤ 8 µs", per <= 8e-6)


def tape_bytes_per_op(quick: bool) -> Row:
    steps = 2000 if quick else 100_000
    peak = _peak(lambda: tapes.grad(_logistic(steps))(0.3))
    per = peak / (3 * steps)
    return Row("recorded tape, per scalar op (tracemalloc peak / ops)", f"{per:.0f} B", "–",
               "≤ 150 B", per <= 150)


def _rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosen_grad_hand(x):
    g = np.zeros_like(x)
    d = x[1:] - x[:-1] ** 2
    g[:-1] = -400.0 * x[:-1] * d - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * d
    return g


def rosenbrock(quick: bool) -> list:
    sizes = (100, 10_000) if quick else (100, 10_000, 1_000_000)
    ours, hands, met = [], [], True
    for n in sizes:
        x = np.linspace(-1.0, 1.0, n)
        base = _t(lambda: _rosen(x))
        g = tapes.grad(_rosen)
        r = _t(lambda: g(x)) / base
        h = _t(lambda: _rosen_grad_hand(x)) / base
        ours.append(f"{r:.3g}")
        hands.append(f"{h:.2g}")
        met = met and (n < 1_000_000 or r <= 2.0)
    rows = [Row(f"NumPy Rosenbrock, gradient / NumPy f, n = {' / '.join(map(str, sizes))}",
                " / ".join(ours), "hand NumPy " + " / ".join(hands), "≤ torch; ≤ 2 at 1e6",
                met if not quick else None)]
    n = sizes[-1]
    x = np.linspace(-1.0, 1.0, n)
    peak = _peak(lambda: tapes.grad(_rosen)(x)) / 2 ** 20
    hand = _peak(lambda: _rosen_grad_hand(x)) / 2 ** 20
    rows.append(Row(f"peak memory of that gradient at n = {n}", f"{peak:.1f} MiB",
                    f"hand NumPy {hand:.1f} MiB", "≤ 40 MB at 1e6",
                    None if quick else peak * 2 ** 20 <= 40e6))
    return rows


def _mlp(dtype, quick):
    rng = np.random.default_rng(0)
    batch = 32 if quick else 256
    sizes = (784, 512, 512, 10) if not quick else (64, 32, 32, 10)
    ws = [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(dtype)
          for a, b in zip(sizes, sizes[1:])]
    xb = rng.standard_normal((batch, sizes[0])).astype(dtype)
    yb = rng.integers(0, 10, batch)

    def loss(w1, w2, w3):
        h1 = np.maximum(xb @ w1, 0.0)
        h2 = np.maximum(h1 @ w2, 0.0)
        z = h2 @ w3
        z = z - np.max(z, axis=1, keepdims=True)
        return np.mean(np.log(np.sum(np.exp(z), axis=1)) - z[np.arange(batch), yb])

    def hand(w1, w2, w3):
        a1 = xb @ w1
        h1 = np.maximum(a1, 0.0)
        a2 = h1 @ w2
        h2 = np.maximum(a2, 0.0)
        z = h2 @ w3
        z = z - np.max(z, axis=1, keepdims=True)
        p = np.exp(z)
        p /= np.sum(p, axis=1, keepdims=True)
        p[np.arange(batch), yb] -= 1.0
        p /= batch
        g3 = h2.T @ p
        d2 = (p @ w3.T) * (a2 > 0)
        g2 = h1.T @ d2
        d1 = (d2 @ w2.T) * (a1 > 0)
        return xb.T @ d1, g2, g3
    return loss, hand, ws


def mlp(dtype, quick: bool) -> Row:
    loss, hand, ws = _mlp(dtype, quick)
    g = tapes.grad(loss, argnums=(0, 1, 2))
    base = _t(lambda: loss(*ws))
    ours = _t(lambda: g(*ws)) / base
    hand_r = _t(lambda: hand(*ws)) / base
    out_dtype = g(*ws)[0].dtype
    name = np.dtype(dtype).name
    return Row(f"MLP {'784-512-512-10, batch 256' if not quick else 'small'}, {name}: "
               "grad / own f", f"{ours:.3g} ({out_dtype} gradients)",
               f"hand backprop {hand_r:.3g}", "≤ 1.1 × hand backprop"
               + (f", {name} end to end" if dtype == np.float32 else ""),
               None if quick else (ours <= 1.1 * hand_r and out_dtype == dtype))


def tanh_net_jacobian(quick: bool) -> Row:
    cells = [(16, 16)] if quick else [(256, 256), (1024, 1024)]
    out = []
    for n, m in cells:
        rng = np.random.default_rng(1)
        w1 = rng.standard_normal((m, n)) / np.sqrt(n)
        x = rng.standard_normal(n)
        f = lambda v: np.tanh(w1 @ np.tanh(v))  # noqa: E731
        fwd = _t(lambda: dualnum.jacobian(f)(x))
        rev = _t(lambda: tapes.jacobian(f)(x))
        out.append(f"({n},{m}): {_fmt_t(min(fwd, rev))}")
    return Row("tanh-net Jacobian, best mode", "; ".join(out),
               "torch.func best: " + ("measured with [peers]" if _have("torch") else "–"),
               "≤ torch.func best at every cell", None)


def run(quick: bool = False) -> list:
    rows = [marginal_op_cost(quick), logistic_per_iteration(quick), tape_bytes_per_op(quick)]
    rows += rosenbrock(quick)
    rows += [mlp(np.float64, quick), mlp(np.float32, quick), tanh_net_jacobian(quick)]
    return rows


def markdown(rows, quick=False) -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    lines = ["# Eager-tier speed targets", "",
             f"`python -m bench.targets{' --quick' if quick else ''}`: one run, this machine "
             f"({os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / "
             f"{load[2]:.2f}), NumPy {np.__version__}, Python {sys.version.split()[0]}. "
             "Ratios are to the same run's baselines.", "",
             "| measure | fwdrev | peers / hand NumPy | goal | met |", "|---|---|---|---|---|"]
    for r in rows:
        met = "–" if r.met is None else ("met" if r.met else "missed")
        lines.append(f"| {r.measure} | {r.ours} | {r.peers} | {r.goal} | {met} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.targets", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run, seconds)")
    p.add_argument("--out", default="reports/targets.md", help="the Markdown report")
    args = p.parse_args(argv)
    rows = run(args.quick)
    text = markdown(rows, args.quick)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
