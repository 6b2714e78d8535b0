"""The ``beyond`` suite's report (``fwdrev run --suite beyond``): what comes after first
order, measured -- each section a table and a plot, every number computed in the run.

1. **Second order**: the cost of a Hessian-vector product over the cost of a gradient as n
   grows (theory: a small constant), and a full Hessian's cost against n for three
   nestings: forward-over-reverse (``fwdrev.hessian``), reverse-over-reverse and
   forward-over-forward.
2. **Mode choice**: ``fwdrev.jacobian(mode="auto")`` beside both modes on the tanh-net
   (n, m) grid, from the suite's harness records (the first call, which measures, is the
   record's ``first_call_s``; the time is the steady state).
3. **Sparse Jacobians and Hessians**: colour counts against the known optimum (banded:
   2w + 1 columns; arrow Hessian: 2 star colours), and cost against n, dense against
   compressed, on a banded map and on ADBench's bundle adjustment.
4. **Checkpointing**: ``tapes.scan`` on the logistic map -- peak memory and time against
   the number of snapshots, with the revolve schedule's theoretical recomputations beside
   the measured ones; ``tapes.checkpoint`` on a chain of layers.
5. **Pytrees**: what the front door's flattening costs next to the engines' own calls.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import sys
import time

import numpy as np

from matplotlib.ticker import NullLocator

from bench import plots
from bench.records import argv_string
from bench.report import fmt_bytes, fmt_time
from bench.memory import tracemalloc_peak
from bench.timing import time_call


@dataclasses.dataclass(frozen=True)
class Options:
    """Sizes (the tests shrink them)."""

    hvp_ns: tuple = (16, 256, 4096, 65536)
    hessian_ns: tuple = (8, 32, 128, 512)
    banded_ns: tuple = (100, 1000, 10000)
    ba_sizes: tuple = ((2, 4, 8), (4, 16, 64), (8, 64, 256))
    scan_steps: int = 2000
    scan_snapshots: tuple = (2, 4, 8, 16, 64, 2000)
    chain_depths: tuple = (4, 16, 64)
    chain_width: int = 20000
    max_time_s: float = 1.0
    samples: int = 5


def _log(message):
    print(f"fwdrev: beyond report: {message}", file=sys.stderr, flush=True)


def _time(fn, opts):
    return time_call(fn, samples=opts.samples, max_time_s=opts.max_time_s).median_s




def _loglog(path, title, xlabel, series, ylabel="time", kind="time"):
    fig, ax = plots.new_figure(6.0, 3.6)
    for label, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    xs = sorted({x for xs_, _ in series.values() for x in xs_})
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if kind in ("time", "bytes"):
        plots.unit_axis(ax, "y", kind, [y for _, ys in series.values() for y in ys])
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    plots.save(fig, path)


# ------------------------------------------------------------------------------ 1
def _rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def second_order(opts, outdir, name):
    import dualnum
    import fwdrev
    import tapes

    rows, ratio = [], ([], [])
    for n in opts.hvp_ns:
        x = np.linspace(-1.0, 1.0, n)
        v = np.cos(np.arange(n))
        g = tapes.grad(_rosenbrock)
        hvp = fwdrev.hvp(_rosenbrock)
        tg, th = _time(lambda: g(x), opts), _time(lambda: hvp(x, v), opts)
        rows.append(f"| {n} | {fmt_time(tg)} | {fmt_time(th)} | {th / tg:.2f} |")
        ratio[0].append(n)
        ratio[1].append(th / tg)
    fig, ax = plots.new_figure(6.0, 3.2)
    ax.plot(*ratio, marker="o", color=plots.ENGINE_COLORS["reverse"])
    ax.set_xscale("log")
    ax.set_xticks(ratio[0], [str(v) for v in ratio[0]])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_ylim(0, max(ratio[1]) * 1.3)
    ax.set_xlabel("n")
    ax.set_ylabel("HVP time / gradient time")
    ax.set_title("Rosenbrock: a Hessian-vector product costs a few gradients, whatever n",
                 fontsize=10)
    ax.grid(True, alpha=0.3)
    plots.save(fig, os.path.join(outdir, f"{name}_hvp.png"))

    nestings = {
        "forward-over-reverse (fwdrev.hessian)": lambda f: fwdrev.hessian(f),
        "reverse-over-reverse": lambda f: tapes.jacobian(tapes.grad(f)),
        "forward-over-forward": lambda f: dualnum.jacobian(dualnum.grad(f)),
    }
    series = {k: ([], []) for k in nestings}
    hrows = []
    for n in opts.hessian_ns:
        x = np.linspace(-1.0, 1.0, n)
        cells = []
        for label, make in nestings.items():
            h = make(_rosenbrock)
            t = _time(lambda: h(x), opts)
            series[label][0].append(n)
            series[label][1].append(t)
            cells.append(fmt_time(t))
        hrows.append(f"| {n} | " + " | ".join(cells) + " |")
    _loglog(os.path.join(outdir, f"{name}_hessian.png"),
            "Rosenbrock Hessian: time vs n, three nestings", "n", series)
    return ["## 1. Second order", "",
            "`fwdrev.hvp(f)(x, v)` is one forward pass (direction v) through the recorded "
            "gradient (forward-over-reverse): its cost over a gradient's stays a small "
            "constant as n grows.", "",
            "| n | gradient | HVP | HVP / gradient |", "|---|---|---|---|", *rows, "",
            f"![HVP over gradient]({name}_hvp.png)", "",
            "A full Hessian is n such products (`chunk` at a time):", "",
            "| n | " + " | ".join(nestings) + " |", "|---|" + "---|" * len(nestings), *hrows,
            "", f"![Hessian time vs n]({name}_hessian.png)", ""]


# ------------------------------------------------------------------------------ 2
def mode_choice(records, outdir, name):
    cells = {}
    for r in records:
        if r.get("problem") != "tanh-net" or r.get("engine") not in ("forward", "reverse", "auto"):
            continue
        if (r.get("settings") or {}).get("chunk") is not None or not r.get("ok"):
            continue
        cells.setdefault((r["n"], r["m"]), {})[r["engine"]] = r
    rows, worst = [], 0.0
    points = ([], [])
    for (n, m), by in sorted(cells.items()):
        if len(by) < 3:
            continue
        f, rv, a = (by[e]["time_median_s"] for e in ("forward", "reverse", "auto"))
        ratio = a / min(f, rv)
        worst = max(worst, ratio)
        chosen = (by["auto"].get("engine_sizes") or {}).get("mode", "?")
        best = "forward" if f <= rv else "reverse"
        rows.append(f"| {n} | {m} | {fmt_time(f)} | {fmt_time(rv)} | {fmt_time(a)} | {chosen} | "
                    f"{best} | {ratio:.2f} | {fmt_time(by['auto'].get('first_call_s'))} |")
        points[0].append(f"{n},{m}")
        points[1].append(ratio)
    if not rows:
        return ["## 2. Mode choice", "", "No tanh-net records with forward, reverse and auto.", ""]
    fig, ax = plots.new_figure(7.0, 3.2)
    ax.bar(range(len(points[1])), points[1], color=plots.ENGINE_COLORS["forward"])
    ax.axhline(1.2, color="k", linestyle="--", linewidth=1, label="goal: 1.2")
    ax.set_xticks(range(len(points[0])), points[0], rotation=90, fontsize=7)
    ax.set_xlabel("(n, m)")
    ax.set_ylabel("auto / faster mode")
    ax.set_title("tanh-net: mode='auto' against the faster of the two modes", fontsize=10)
    ax.legend(fontsize=8)
    plots.save(fig, os.path.join(outdir, f"{name}_auto.png"))
    return ["## 2. Mode choice: `fwdrev.jacobian(f, mode=\"auto\")`", "",
            "At its first call `auto` times one forward pass, one recording and one reverse "
            "sweep at the input (`fwdrev.choose_mode`), extrapolates both Jacobians and keeps "
            "the cheaper mode for that input shape; later calls run it directly.", "",
            f"Worst cell: auto = **{worst:.2f}x** the faster mode (goal: at most 1.2x).", "",
            "| n | m | forward | reverse | auto | chose | faster | auto / faster | first call |",
            "|---|---|---|---|---|---|---|---|---|", *rows, "", f"![auto]({name}_auto.png)", ""]


# ------------------------------------------------------------------------------ 3
def _banded(x):
    return x[1:-1] ** 2 * x[:-2] + np.sin(x[2:]) - x[1:-1]


def sparse_section(opts, outdir, name):
    import dualnum
    import fwdrev
    import tapes
    from bench.problems import get
    from fwdrev import sparsity as S

    counts = []
    for w in (1, 2, 5):
        def f(x, w=w):
            xp = np.concatenate([np.zeros(w), x, np.zeros(w)])
            return sum(np.sin(xp[k:k + x.size]) for k in range(2 * w + 1)) * x
        p = fwdrev.jacobian_sparsity(f, np.linspace(0.1, 1.0, 200))
        counts.append(f"| banded, half-bandwidth {w}: columns | {S.colour_columns(p).max() + 1} "
                      f"| {2 * w + 1} |")
    arrow = lambda x: x[0] * np.sum(x[1:] ** 2) + np.sum(x ** 3)  # noqa: E731
    pa = fwdrev.hessian_sparsity(arrow, np.linspace(0.1, 1.0, 200))
    counts.append(f"| arrow Hessian (n = 200): star colouring | {S.star_colouring(pa).max() + 1} | 2 |")
    counts.append(f"| arrow Hessian (n = 200): columns, as a Jacobian | "
                  f"{S.colour_columns(pa).max() + 1} | 200 |")

    series = {"dense forward": ([], []), "dense reverse": ([], []), "sparse (3 colours)": ([], [])}
    rows = []
    for n in opts.banded_ns:
        x = np.linspace(0.1, 1.0, n)
        jac = fwdrev.sparse_jacobian(_banded, mode="forward")
        jac(x)
        ts = _time(lambda: jac(x), opts)
        tf = _time(lambda: dualnum.jacobian(_banded)(x), opts) if n <= 2000 else None
        tr = _time(lambda: tapes.jacobian(_banded)(x), opts) if n <= 2000 else None
        for label, t in (("dense forward", tf), ("dense reverse", tr), ("sparse (3 colours)", ts)):
            if t is not None:
                series[label][0].append(n)
                series[label][1].append(t)
        rows.append(f"| banded | {n} | {jac.compression.colours} | {fmt_time(tf)} | "
                    f"{fmt_time(tr)} | {fmt_time(ts)} |")
    ba = get("ba")
    for c, p, o in opts.ba_sizes:
        inst = ba.instantiate(ba.size(params={"C": c, "P": p, "O": o}))
        jac = fwdrev.sparse_jacobian(inst.f, mode="forward")
        jac(inst.x)
        ts = _time(lambda: jac(inst.x), opts)
        tf = _time(lambda: dualnum.jacobian(inst.f)(inst.x), opts)
        tr = _time(lambda: tapes.jacobian(inst.f)(inst.x), opts)
        rows.append(f"| ADBench BA (C, P, O) = ({c}, {p}, {o}) | {inst.x.size} | "
                    f"{jac.compression.colours} | {fmt_time(tf)} | {fmt_time(tr)} | {fmt_time(ts)} |")
    _loglog(os.path.join(outdir, f"{name}_sparse.png"),
            "banded map: dense grows with n, compressed with the colours",
            "n", {k: v for k, v in series.items() if v[0]})
    return ["## 3. Sparse Jacobians and Hessians", "",
            "The pattern is detected once by tracing (structural zeros, one rule per op), "
            "coloured (columns: networkx's greedy distance-1; Hessians: a star colouring), "
            "and each evaluation is one pass per colour, decompressed into `scipy.sparse` "
            "and checked against one JVP.", "",
            "| pattern | colours | known optimum |", "|---|---|---|", *counts, "",
            "| problem | n | colours | dense forward | dense reverse | sparse |",
            "|---|---|---|---|---|---|", *rows, "", f"![sparse]({name}_sparse.png)", ""]


# ------------------------------------------------------------------------------ 4
def checkpoint_section(opts, outdir, name):
    import tapes

    steps = opts.scan_steps
    step = lambda x, r: r * x * (1.0 - x)  # noqa: E731
    x0 = np.linspace(0.1, 0.9, 1000)

    def plain(x, r):
        for _ in range(steps):
            x = step(x, r)
        return np.sum(x)
    rows = []
    mem, tim = ([], []), ([], [])
    tp = _time(lambda: tapes.grad(plain)(x0, 3.7), opts)
    mp = tracemalloc_peak(lambda: tapes.grad(plain)(x0, 3.7))
    rows.append(f"| plain loop (tape) | – | – | – | {fmt_bytes(mp)} | {fmt_time(tp)} |")
    for s in opts.scan_snapshots:
        stats = tapes.ScanStats()
        f = lambda x, r, s=s: np.sum(tapes.scan(step, x, steps, r, snapshots=s, stats=stats))  # noqa: E731
        g = tapes.grad(f)
        t = _time(lambda: g(x0, 3.7), opts)
        m = tracemalloc_peak(lambda: g(x0, 3.7))
        mem[0].append(s)
        mem[1].append(m)
        tim[0].append(s)
        tim[1].append(t)
        rows.append(f"| scan, s = {s} | {stats.max_snapshots} | "
                    f"{tapes.optimal_recomputations(steps, s)} | {stats.recomputed} | "
                    f"{fmt_bytes(m)} | {fmt_time(t)} |")
    fig, ax = plots.new_figure(6.0, 3.4)
    ax.plot(*mem, marker="o", color=plots.ENGINE_COLORS["reverse"], label="peak memory")
    ax.axhline(mp, color="grey", linestyle="--", label="plain loop's tape")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plots.unit_axis(ax, "y", "bytes", mem[1] + [mp])
    ax.set_xticks(mem[0], [str(v) for v in mem[0]])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("snapshots s")
    ax.set_ylabel("peak memory")
    ax2 = ax.twinx()
    ax2.plot(*tim, marker="s", color=plots.ENGINE_COLORS["forward"], label="time")
    ax2.set_yscale("log")
    plots.unit_axis(ax2, "y", "time", tim[1])
    ax2.set_ylabel("gradient time")
    ax.set_title(f"logistic map, T = {steps}: memory and time vs snapshots", fontsize=10)
    fig.legend(fontsize=8, loc="outside lower center", ncol=3)
    plots.save(fig, os.path.join(outdir, f"{name}_checkpoint.png"))

    crows = []
    width = opts.chain_width
    x = np.linspace(-1.0, 1.0, width)

    def seg(v):
        for _ in range(4):
            v = np.tanh(v) * 1.01 + 0.01 * v
        return v
    ck = tapes.checkpoint(seg)
    for depth in opts.chain_depths:
        def plain_chain(v, depth=depth):
            for _ in range(depth):
                v = seg(v)
            return np.sum(v)

        def ck_chain(v, depth=depth):
            for _ in range(depth):
                v = ck(v)
            return np.sum(v)
        pm, cm = tracemalloc_peak(lambda: tapes.grad(plain_chain)(x)), tracemalloc_peak(lambda: tapes.grad(ck_chain)(x))
        pt, ct = _time(lambda: tapes.grad(plain_chain)(x), opts), _time(lambda: tapes.grad(ck_chain)(x), opts)
        crows.append(f"| {depth} | {fmt_bytes(pm)} | {fmt_bytes(cm)} | {fmt_time(pt)} | "
                     f"{fmt_time(ct)} | {ct / pt:.2f} |")
    return ["## 4. Checkpointing", "",
            f"`tapes.scan(step, x0, T, r, snapshots=s)`: the logistic map on {x0.size} "
            f"points, T = {steps}, reversed holding at most s states (Griewank's binomial "
            "schedule). The fewest recomputed steps (r T - C(s + r, r - 1), Griewank & "
            "Walther 2000) beside the counted ones:", "",
            "| run | states held | recomputed: theory | recomputed: counted | peak memory | "
            "gradient time |", "|---|---|---|---|---|---|", *rows, "",
            f"![checkpointing]({name}_checkpoint.png)", "",
            f"`tapes.checkpoint(segment)` on a chain of 4-op segments ({width} entries): "
            "the tape keeps each segment's input only, and the sweep records it again.", "",
            "| segments | plain: peak | checkpointed: peak | plain: time | checkpointed: time | "
            "time ratio |", "|---|---|---|---|---|---|", *crows, ""]


# ------------------------------------------------------------------------------ 5
def pytree_section(opts, outdir, name):
    import fwdrev
    import tapes

    rows, series = [], {"fwdrev.grad of a dict": ([], []), "tapes.grad of the leaves": ([], [])}
    for leaves in (1, 4, 16, 64):
        tree = {f"w{i}": np.linspace(-1.0, 1.0, 8) + i for i in range(leaves)}
        f = lambda p: sum(np.sum(np.tanh(v) ** 2) for v in p.values())  # noqa: E731
        flat = lambda *vs: sum(np.sum(np.tanh(v) ** 2) for v in vs)  # noqa: E731
        values = list(tree.values())
        tt = _time(lambda: fwdrev.grad(f)(tree), opts)
        te = _time(lambda: tapes.grad(flat, argnums=tuple(range(leaves)))(*values), opts)
        for label, t in zip(series, (tt, te)):
            series[label][0].append(leaves)
            series[label][1].append(t)
        rows.append(f"| {leaves} | {fmt_time(tt)} | {fmt_time(te)} | {fmt_time(tt - te)} | "
                    f"{tt / te:.2f} |")
    _loglog(os.path.join(outdir, f"{name}_pytrees.png"),
            "a dict of leaves: the front door's flattening next to the engine's own call",
            "leaves", series)
    return ["## 5. Pytrees", "",
            "Dicts, lists, tuples and namedtuples are flattened by `optree`; the gradient has "
            "the input's structure. What the flattening costs, against the engine called on "
            "the leaves directly (8 entries per leaf):", "",
            "| leaves | fwdrev.grad (dict) | tapes.grad (leaves) | overhead | ratio |",
            "|---|---|---|---|---|", *rows, "", f"![pytrees]({name}_pytrees.png)", ""]


def write_report(headers, records, outdir, name, results_path, **options) -> str:
    """Write ``<outdir>/<name>.md`` and its pictures; return the Markdown path."""
    opts = Options(**options)
    os.makedirs(outdir, exist_ok=True)
    for old in glob.glob(os.path.join(glob.escape(outdir), f"{name}_*.png")):
        os.remove(old)
    started = time.perf_counter()
    h = headers[-1] if headers else {}
    _log("1/5 second order ...")
    s1 = second_order(opts, outdir, name)
    _log("2/5 mode choice ...")
    s2 = mode_choice(records, outdir, name)
    _log("3/5 sparse Jacobians ...")
    s3 = sparse_section(opts, outdir, name)
    _log("4/5 checkpointing ...")
    s4 = checkpoint_section(opts, outdir, name)
    _log("5/5 pytrees ...")
    s5 = pytree_section(opts, outdir, name)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    lines = [f"# Beyond first order: {name}", "",
             "Second order, automatic mode choice, sparse Jacobians, checkpointing and "
             "pytrees, measured in one run — "
             f"`{argv_string(h.get('argv') or ['fwdrev', 'run', '--suite', name])}` "
             f"({os.cpu_count()} CPUs, load {load[0]:.2f}; times are medians, ratios in one "
             "run are the numbers to compare).", "",
             *s1, *s2, *s3, *s4, *s5,
             f"_Report computed in {time.perf_counter() - started:.0f} s._", ""]
    path = os.path.join(outdir, f"{name}.md")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return path
