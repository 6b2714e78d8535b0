"""PNG plots of a results file (matplotlib, Agg backend: no display needed).

:func:`make_all` draws every plot the records support and returns what it drew:

- ``time-vs-{n,m,depth}-<problem>``: log-log time per variant, fitted slope in the legend;
- ``ratio-<problem>``: forward/reverse time over the (n, m) grid, crossover marked;
- ``memory-vs-{n,depth}-<problem>``: peak memory per variant (and tape bytes);
- ``grad-ratio``: the cheap-gradient ratio (derivative time / function time).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402

from bench import analysis  # noqa: E402

_KNOB_LABEL = {"n": "n (input size)", "m": "m (output size)", "depth": "depth (T or L)"}
_STYLES = ["-", "--", ":", "-."]
_MARKERS = ["o", "s", "^", "D"]
#: At most this many fixed-knob combinations per variant in one line plot.
_MAX_LINES = 3


def save(fig, path, tight=True):
    """Write ``fig`` as a PNG at the project's one resolution, then free it."""
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _colors(variants):
    cmap = plt.get_cmap("tab10")
    return {v: cmap(i % 10) for i, v in enumerate(sorted(variants))}


def _fixed_label(fixed):
    parts = []
    for k, v in fixed:
        if k == "params":
            parts += [f"{pk}={pv:g}" for pk, pv in json.loads(v).items()]
        elif v is not None:
            parts.append(f"{k}={v}")
    return " ".join(parts)


def _fixed_order(fixed):
    """Sort key of a fixed-knob tuple: numerically by value (None first)."""
    return [(k, (0, v) if isinstance(v, (int, float)) else (1, str(v))) for k, v in fixed]


def _pick(items):
    """At most _MAX_LINES items spread over the list (first, middle, last)."""
    if len(items) <= _MAX_LINES:
        return items
    idx = sorted({0, len(items) // 2, len(items) - 1})
    return [items[i] for i in idx]


def _line_plot(groups, knob, ylabel, title, path, slope=True, extra=None, floor=None):
    """Log-log lines, one per (variant, fixed knobs); colour = variant, style = fixed.

    ``floor``: values below it are drawn *at* it with hollow markers (a measurement
    resolution), so a flat series below the floor stays visible as such.
    """
    fig, ax = plt.subplots(figsize=(7.5, 5))
    colors = _colors({var for var, _ in groups})
    by_var = {}
    for (var, fixed), pts in groups.items():
        by_var.setdefault(var, []).append((fixed, pts))
    for var in sorted(by_var):
        ordered = sorted(by_var[var], key=lambda t: _fixed_order(t[0]))
        for i, (fixed, pts) in enumerate(_pick(ordered)):
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            label = f"{var} {_fixed_label(fixed)}".strip()
            if floor is not None:
                low = [(x, floor) for x, y in pts if (y or 0) < floor]
                ys = [max(y or 0, floor) for y in ys]
                if low:
                    ax.plot([p[0] for p in low], [p[1] for p in low], _MARKERS[i % 4],
                            markerfacecolor="white", color=colors[var], zorder=3)
            if slope and floor is not None:
                above = [(x, y) for x, y in pts if (y or 0) >= floor]
                s = analysis.fit_slope([p[0] for p in above], [p[1] for p in above])
                label += f"  (slope {s:.2f} above resolution)" if s is not None else ""
            elif slope:
                s = analysis.fit_slope(xs, ys)
                s_up = analysis.fit_slope(*analysis.upper_half(xs, ys))
                if s is not None and len(xs) > 2:
                    label += f"  (slope {s:.2f}; upper half {s_up:.2f})"
                elif s is not None:
                    label += f"  (slope {s:.2f})"
            ax.plot(xs, ys, _STYLES[i % 4], marker=_MARKERS[i % 4], color=colors[var],
                    label=label)
    if extra:
        extra(ax)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(_KNOB_LABEL[knob])
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path)


def _title(problem, label):
    return problem + (f" [{label}]" if label else "")


def _var(engine, label):
    return engine + (f"[{label}]" if label else "")


def plot_time(records, knob, problem, path, label=""):
    """Log-log median time vs ``knob`` for the engines of ``problem`` at settings ``label``."""
    groups = {(_var(eng, lab), fixed): pts
              for (prob, lab, eng, fixed), pts in analysis.series(records, knob).items()
              if prob == problem and lab == label}
    if not groups:
        return False
    _line_plot(groups, knob, "median time per derivative [s]",
               f"{_title(problem, label)}: derivative time vs {knob}\n"
               "(log-log; slope = fitted exponent, all points and upper half of the range)",
               path)
    return True


def plot_memory(records, knob, problem, path, label=""):
    """Log-log peak memory (and engine-reported tape bytes) vs ``knob`` for ``problem``.

    Peaks below :data:`bench.memory.RESOLUTION_BYTES` are within the noise of the
    kernel's counters: they are drawn on the resolution line as hollow markers.
    Nothing is drawn if every peak is below it.
    """
    from bench.memory import RESOLUTION_BYTES

    groups = {}
    for (prob, lab, eng, fixed), pts in analysis.series(records, knob, "peak_mem_bytes").items():
        if prob == problem and lab == label:
            groups[(_var(eng, lab), fixed)] = pts
    if not any((y or 0) >= RESOLUTION_BYTES for pts in groups.values() for _, y in pts):
        return False
    tapes = defaultdict(dict)
    for r in analysis.usable(records):
        nbytes = (r.get("engine_sizes") or {}).get("tape_bytes")
        if r["problem"] == problem and analysis.settings_label(r) == label and nbytes:
            fixed = " ".join(f"{k}={r[k]}" for k in ("n", "m", "depth")
                             if k != knob and r[k] is not None)
            tapes[(analysis.variant(r), fixed)][r[knob]] = nbytes

    def draw_extras(ax):
        for i, ((var, fixed), pts) in enumerate(_pick(sorted(tapes.items()))):
            xs = sorted(x for x in pts if x is not None)
            if len(xs) >= 2:
                ax.plot(xs, [pts[x] for x in xs], color="grey", linestyle=_STYLES[i % 4],
                        linewidth=1, label=f"{var} {fixed}: tape bytes (engine-reported)")
        ax.axhline(RESOLUTION_BYTES, color="lightgrey", linewidth=3, zorder=0,
                   label=f"resolution ({RESOLUTION_BYTES // 1024} KiB): hollow = at or below")

    _line_plot(groups, knob, "peak memory over baseline [bytes]",
               f"{_title(problem, label)}: peak memory vs {knob} (log-log)",
               path, extra=draw_extras, floor=RESOLUTION_BYTES)
    return True


def plot_ratio(points, problem, path, label="", a="forward", b="reverse"):
    """Heat map of time(a)/time(b) over the (n, m) grid, crossover contour marked."""
    layout = analysis.ratio_grid(points, problem, label)
    if layout is None:
        return False
    ns, ms, grid = layout
    logr = np.log10(grid)
    lim = max(0.05, float(np.nanmax(np.abs(logr))))
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    im = ax.imshow(logr, origin="lower", cmap="RdBu_r", aspect="auto",
                   norm=TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim))
    for i in range(len(ms)):
        for j in range(len(ns)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2g}", ha="center", va="center", fontsize=8,
                        color="white" if abs(logr[i, j]) > 0.6 * lim else "black")
    if np.isfinite(logr).all() and (logr.min() < 0 < logr.max()):
        ax.contour(np.arange(len(ns)), np.arange(len(ms)), logr, levels=[0.0],
                   colors="black", linewidths=2)
        # contour sets have no legend handle: a proxy line stands for it.
        ax.plot([], [], "k-", linewidth=2, label="measured crossover (ratio = 1)")
    # Where theory puts the crossover (n = m), on the same index axes.
    diag = [(j, ms.index(n)) for j, n in enumerate(ns) if n in ms]
    if len(diag) >= 2:
        ax.plot([d[0] for d in diag], [d[1] for d in diag], "k:", linewidth=1,
                label="n = m")
    ax.set_xticks(range(len(ns)), [str(n) for n in ns])
    ax.set_yticks(range(len(ms)), [str(m) for m in ms])
    ax.set_xlabel("n (input size)")
    ax.set_ylabel("m (output size)")
    ax.set_title(f"{_title(problem, label)}: {a} time / {b} time (cells)\n"
                 f"red: {b} faster, blue: {a} faster; solid line: crossover")
    cbar = fig.colorbar(im, ax=ax)
    cbar.set_label(f"log10({a} time / {b} time)")
    handles, labels = ax.get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.06 if handles else 0, 1, 1))
    if handles:      # below the axes: inside, it would hide cells
        fig.legend(handles, labels, loc="lower center", ncol=len(handles), fontsize=8)
    save(fig, path, tight=False)
    return True


def plot_grad_ratio(records, path):
    """Grouped bars: derivative time / function time per problem, engines at their
    default settings (settings sweeps would crowd it; they are in the report)."""
    rows = [r for r in analysis.grad_ratios(records) if "[" not in r["variant"]]
    if not rows:
        return False
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    colors = _colors({r["variant"] for r in rows})
    most = max(sum(r["problem"] == p for r in rows) for p in problems)
    width = 0.8 / most
    fig, ax = plt.subplots(figsize=(max(7.5, 1.2 * len(problems)), 5))
    labelled = set()
    for i, prob in enumerate(problems):
        here = sorted((r for r in rows if r["problem"] == prob), key=lambda r: r["variant"])
        for k, row in enumerate(here):
            var = row["variant"]
            ax.bar(i + (k - (len(here) - 1) / 2) * width, row["ratio"], width,
                   color=colors[var], label=None if var in labelled else var)
            labelled.add(var)
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    labels = []
    for prob in problems:
        row = next(r for r in rows if r["problem"] == prob)
        labels.append(f"{prob}\nn={row['n']}" + (f" m={row['m']}" if row["m"] != 1 else ""))
    ax.set_xticks(range(len(problems)), labels, fontsize=8)
    ax.set_ylabel("derivative time / function time")
    ax.set_title("Cheap-gradient ratio at each problem's largest measured input (m = 1 there)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, path)
    return True


def make_all(records, outdir, prefix) -> list:
    """Draw every supported plot into ``outdir`` as ``<prefix>-<plot>.png``.

    One set of plots per problem and engine-settings label (``chunk=1`` runs get
    their own).  Returns ``[(kind, problem_or_None, label, path), ...]``.
    """
    drawn = []
    combos = list(dict.fromkeys((r["problem"], analysis.settings_label(r))
                                for r in analysis.usable(records)))
    points = analysis.ratio_points(records)

    def out(name, label):
        suffix = "-" + label.replace("=", "").replace(",", "-") if label else ""
        return os.path.join(outdir, f"{prefix}-{name}{suffix}.png")

    for problem, label in combos:
        for knob in ("n", "m", "depth"):
            path = out(f"time-vs-{knob}-{problem}", label)
            if plot_time(records, knob, problem, path, label):
                drawn.append((f"time vs {knob}", problem, label, path))
        path = out(f"ratio-{problem}", label)
        if plot_ratio(points, problem, path, label):
            drawn.append(("forward/reverse ratio", problem, label, path))
        for knob in ("n", "m", "depth"):
            path = out(f"memory-vs-{knob}-{problem}", label)
            if plot_memory(records, knob, problem, path, label):
                drawn.append((f"memory vs {knob}", problem, label, path))
    path = os.path.join(outdir, f"{prefix}-grad-ratio.png")
    if plot_grad_ratio(records, path):
        drawn.append(("cheap-gradient ratio", None, "", path))
    return drawn
