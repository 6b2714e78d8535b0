"""PNG plots of a results file (matplotlib, Agg backend: no display needed).

:func:`make_all` draws every plot the records support and returns what it drew:

- ``time-vs-{n,m,depth}-<problem>``: log-log time per variant, fitted slope in the legend,
  a dotted ``∝ n`` (``∝ m``) guide through the forward (reverse) series when measured;
- ``ratio-<problem>``: forward/reverse time over the (n, m) grid, the crossover drawn
  along the cell edges (never through the numbers in the cells);
- ``memory-vs-{n,depth}-<problem>``: peak memory per variant (and its tape bytes);
- ``chunk-<problem>-<engine>``: time vs chunk size k for each size, passes ⌈n/k⌉
  written at each point (drawn when the records hold a sweep over ``chunk``);
- ``grad-ratio``: the cheap-gradient ratio (derivative time / function time).

Rules every plot keeps: a title saying what is compared; time axes in ns/µs/ms/s and
memory axes in B/KiB/MiB/GiB, one unit per axis picked from the data range
(:func:`unit_for`; each tick in its own unit when no single one reads the range);
log scales where sizes span decades, ticks at the measured sizes; legends *outside*
the axes (:func:`legend_below`), so they never cover data; one colour per engine in
every plot (:func:`engine_color`), guide lines in a light tint of the series they guide.
"""

from __future__ import annotations

import json
import math
import os
import zlib
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
from matplotlib import colors as mcolors, ticker  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from bench import analysis  # noqa: E402

_KNOB_LABEL = {"n": "n (input size)", "m": "m (output size)", "depth": "depth (T or L)"}
_STYLES = ["-", "--", ":", "-."]
_MARKERS = ["o", "s", "^", "D"]
#: At most this many fixed-knob combinations per variant in one line plot.
_MAX_LINES = 3
#: At most this many sizes (lines) in one chunk plot.
_MAX_CHUNK_LINES = 6
#: The one resolution of every PNG.
DPI = 110


def save(fig, path, tight=True):
    """Write ``fig`` as a PNG at the project's one resolution, then free it.

    Figures made with ``layout="constrained"`` (all of this module's) lay themselves
    out; ``tight`` applies matplotlib's tight layout to the others."""
    if tight and fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def new_figure(width, height):
    """A figure with one axes and constrained layout (room for legends outside)."""
    return plt.subplots(figsize=(width, height), layout="constrained")


# ---------------------------------------------------------------- units and ticks

TIME_UNITS = (("ns", 1e-9), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0))
BYTE_UNITS = (("B", 1), ("KiB", 2 ** 10), ("MiB", 2 ** 20), ("GiB", 2 ** 30))
_UNITS = {"time": TIME_UNITS, "bytes": BYTE_UNITS}


def plain(x, digits=3) -> str:
    """``x`` to ``digits`` significant digits, positional (never ``1e-05``): 0.0001,
    250, 100000."""
    if x == 0 or not np.isfinite(x):
        return f"{x:g}"
    return np.format_float_positional(float(f"{x:.{digits}g}"), trim="-")


def unit_for(values, kind):
    """``(name, scale)`` of the one unit an axis showing ``values`` is labelled in, or
    ``None`` when no single unit labels the whole range readably.

    ``kind`` is ``"time"`` (seconds in: ns, µs, ms, s) or ``"bytes"`` (B, KiB, MiB,
    GiB).  A unit is readable when the data reads between 0.02 and 5000 in it; of those,
    the one whose range sticks out least (in decades) of 0.1 .. 1000 is picked:
    10 .. 640 µs reads in µs, 60 µs .. 50 ms in ms, 0.2 ms .. 3 s in ms,
    3 kB .. 5 MB in KiB, 300 kB .. 17 MB in MiB.  A wider range (1 KiB .. 100 MiB would
    need "100000 KiB" or "0.001 MiB") gets ``None``: each tick then names its own unit
    (:func:`fmt_unit`).
    """
    units = _UNITS[kind]
    vals = [float(v) for v in values if v is not None and np.isfinite(v) and v > 0]
    if not vals:
        return units[-1] if kind == "time" else units[0]
    lo, hi = min(vals), max(vals)
    best, best_bad = None, None
    for name, scale in units:
        a, b = lo / scale, hi / scale
        if (a < 0.02 * 0.9995 and (name, scale) != units[0]) or \
                (b >= 5000 and (name, scale) != units[-1]):
            continue
        bad = max(0.0, -1 - math.log10(a)) + max(0.0, math.log10(b) - 3)
        if best is None or bad < best_bad - 1e-12:
            best, best_bad = (name, scale), bad
    return best


def fmt_unit(value, kind, unit=None):
    """A tick label: ``value`` in ``unit``, or (``None``) in its own unit, the largest
    it reaches: ``fmt_unit(2e-3, "time")`` is ``"2 ms"``, of ``3 * 2**20`` bytes
    ``"3 MiB"``."""
    if unit is None:
        units = _UNITS[kind]
        unit = units[0]
        for name, scale in units:
            if abs(value) >= scale * 0.9995:
                unit = (name, scale)
    return f"{plain(value / unit[1])} {unit[0]}"


def unit_formatter(unit, kind="time"):
    """Tick labels ``"0.1 ms"``, ``"10 MiB"``: in the unit ``(name, scale)``, or each in
    its own unit (``unit`` ``None``)."""
    return ticker.FuncFormatter(lambda v, _pos: fmt_unit(v, kind, unit))


class ScaledLogLocator(ticker.Locator):
    """Log-axis ticks at round values *of the unit* (1, 10, 100 KiB = 1024, 10240,
    ... bytes), more of them (1, 2, 5) when the axis spans less than 2.5 decades.
    ``scales``: several units (each tick in its own): 1, 10, 100 of each."""

    def __init__(self, scale=1.0, minor=False, scales=None):
        self.scale = scale
        self.minor = minor
        self.scales = scales

    def __call__(self):
        vmin, vmax = self.axis.get_view_interval()
        return self.tick_values(vmin, vmax)

    def tick_values(self, vmin, vmax):
        vmin, vmax = sorted((vmin, vmax))
        if vmax <= 0:
            return []
        vmin = vmin if vmin > 0 else vmax / 1e3
        if self.scales is not None:
            if self.minor:
                return []
            return [m * s for s in self.scales for m in (1, 10, 100)
                    if vmin / 1.0001 <= m * s <= vmax * 1.0001]
        lo, hi = vmin / self.scale, vmax / self.scale
        span = math.log10(hi / lo)
        if span >= 2.5:
            major = (1.0,)
        elif span >= 0.6:
            major = (1.0, 2.0, 5.0)
        else:
            major = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
        if self.minor:
            subs = tuple(s for s in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
                         if s not in major)
            if not subs or span > 6:
                return []
        else:
            subs = major
        out = []
        for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
            for s in subs:
                t = s * 10.0 ** e
                if lo / 1.0001 <= t <= hi * 1.0001:
                    out.append(t * self.scale)
        if not self.minor and len(out) < 2:          # a sliver of a decade: linear ticks
            out = [t * self.scale for t in ticker.MaxNLocator(4).tick_values(lo, hi)
                   if t > 0]
        return out


def unit_axis(ax, which, kind, values=None):
    """Label the (log) ``which`` axis (``"x"``/``"y"``) of ``ax`` with units picked by
    :func:`unit_for` from ``values`` (default: the plotted data's range).
    Returns the axis label suffix: ``" [ms]"``, or ``""`` when each tick names its own
    unit."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    if values is None:
        values = ax.dataLim.intervaly if which == "y" else ax.dataLim.intervalx
    unit = unit_for(values, kind)
    if unit is None:
        axis.set_major_locator(ScaledLogLocator(scales=[s for _, s in _UNITS[kind]]))
        axis.set_minor_locator(ticker.NullLocator())
    else:
        axis.set_major_locator(ScaledLogLocator(unit[1]))
        axis.set_minor_locator(ScaledLogLocator(unit[1], minor=True))
    axis.set_major_formatter(unit_formatter(unit, kind))
    axis.set_minor_formatter(ticker.NullFormatter())
    return f" [{unit[0]}]" if unit else ""


def ratio_axis(ax, which="y"):
    """A log axis of ratios labelled ``0.1×``, ``1×``, ``10×`` (not ``10^-1``)."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_locator(ScaledLogLocator(1.0))
    axis.set_minor_locator(ScaledLogLocator(1.0, minor=True))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: f"{plain(v)}×"))
    axis.set_minor_formatter(ticker.NullFormatter())


def count_axis(ax, which="y"):
    """A log axis of counts labelled 10, 100, 1000 (not ``10^2``)."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_locator(ScaledLogLocator(1.0))
    axis.set_minor_locator(ScaledLogLocator(1.0, minor=True))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: plain(v)))
    axis.set_minor_formatter(ticker.NullFormatter())


def size_axis(ax, xs, which="x", log=None):
    """Sizes (n, m, depth, chunk) on the ``which`` axis: log scale when they span a
    decade or more (or ``log=True``: log-log plots whose slopes are read), ticks at the
    measured sizes themselves when there are few, plain numbers (never ``4×10^0``)."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    sizes = sorted({x for x in xs if x is not None and x > 0})
    if not sizes:
        return
    if log is None:
        log = sizes[-1] / sizes[0] >= 10
    (ax.set_xscale if which == "x" else ax.set_yscale)("log" if log else "linear")
    if len(sizes) <= 12:
        axis.set_major_locator(ticker.FixedLocator(sizes))
    else:
        axis.set_major_locator(ScaledLogLocator(1.0) if log else
                               ticker.MaxNLocator(integer=True))
    axis.set_minor_locator(ticker.NullLocator())
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: _size_text(v)))
    axis.set_minor_formatter(ticker.NullFormatter())


def _size_text(v):
    """A size as written: 1024, not 1020 (sizes are exact integers)."""
    return str(int(round(v))) if abs(v - round(v)) < 1e-6 * max(1.0, abs(v)) else plain(v)


# ---------------------------------------------------------------- colours and legends

#: One colour per engine in every plot: forward mode blues, reverse mode oranges,
#: each peer library its own hue (forward dark, reverse light).
ENGINE_COLORS = {
    "forward": "#1f77b4", "forward-jit": "#0b3d6e", "forward-fused": "#6baed6",
    "reverse": "#ff7f0e", "reverse-jit": "#a84d00", "reverse-fused": "#fdae6b",
    "hand-jit": "#bcbd22", "fd": "#7f7f7f", "fd-forward": "#3a3a3a",
    "jax-fwd": "#2ca02c", "jax-rev": "#98df8a",
    "jax-jit-fwd": "#d62728", "jax-jit-rev": "#ff9896",
    "torch-fwd": "#9467bd", "torch-rev": "#c5b0d5",
    "autograd-fwd": "#8c564b", "autograd-rev": "#c49c94",
    "symbolic": "#e377c2",
}
_EXTRA_COLORS = ("#17becf", "#9edae5", "#dbdb8d", "#393b79", "#637939", "#843c39")


def engine_color(variant):
    """The colour of an engine (``forward``) or variant (``forward[chunk=4]``)."""
    engine = variant.split("[", 1)[0]
    if engine in ENGINE_COLORS:
        return ENGINE_COLORS[engine]
    return _EXTRA_COLORS[zlib.crc32(engine.encode()) % len(_EXTRA_COLORS)]


def tint(color, amount=0.5):
    """``color`` mixed with white (``amount`` 0: unchanged, 1: white): a guide line in
    the colour family of the series it guides."""
    rgb = np.array(mcolors.to_rgb(color))
    return tuple(rgb + (1.0 - rgb) * amount)


def shade(color, amount=0.5):
    """``color`` mixed with black (``amount`` 0: unchanged, 1: black)."""
    return tuple(np.array(mcolors.to_rgb(color)) * (1.0 - amount))


def legend_below(fig, ax, fontsize=8, handles=None, labels=None):
    """The legend of ``ax`` *below* the axes (outside them: it covers no data), in as
    many columns as the figure's width holds (measured, not guessed); the figure grows
    by the legend's height, so the axes keep their size."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    if not uniq:
        return None
    labels, handles = list(uniq), list(uniq.values())
    renderer = fig.canvas.get_renderer()
    width = fig.get_figwidth() * fig.dpi
    for ncol in range(min(len(labels), 6), 0, -1):
        legend = fig.legend(handles, labels, loc="outside lower center", ncol=ncol,
                            fontsize=fontsize)
        box = legend.get_window_extent(renderer)
        if box.width <= 0.97 * width or ncol == 1:
            break
        legend.remove()
    fig.set_figheight(fig.get_figheight() + box.height / fig.dpi + 0.1)
    return legend


# ---------------------------------------------------------------- line plots


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


def _pick(items, most=_MAX_LINES):
    """At most ``most`` items spread over the list (first, middle, last for 3)."""
    if len(items) <= most:
        return items
    idx = sorted({math.floor(i * (len(items) - 1) / (most - 1) + 0.5) for i in range(most)})
    return [items[i] for i in idx]


_PEER_PREFIXES = ("jax-", "torch-", "autograd-", "symbolic")


def _compared(variants):
    """What a plot compares: ``forward vs reverse``, or ours and how many peers."""
    names = sorted({v.split("[", 1)[0] for v in variants})
    if len(names) <= 4:
        return " vs ".join(names)
    ours = [e for e in names if not e.startswith(_PEER_PREFIXES)]
    peers = len(names) - len(ours)
    return " vs ".join(ours) + (f" and {peers} peer engines" if peers else "")


def _line_plot(groups, knob, kind, ylabel, title, path, slope=True, extra=None, floor=None):
    """Log-log lines, one per (variant, fixed knobs); colour = variant, style = fixed.

    ``kind`` (``"time"``/``"bytes"``) sets the y unit.  ``floor``: values below it are
    drawn *at* it with hollow markers (a measurement resolution), so a flat series below
    the floor stays visible as such.  ``extra(ax, drawn)`` draws guides for the drawn
    series: ``drawn`` is ``[{"variant", "fixed", "xs", "ys", "color", "style"}]``.
    """
    fig, ax = new_figure(8, 5)
    by_var = {}
    for (var, fixed), pts in groups.items():
        by_var.setdefault(var, []).append((fixed, pts))
    drawn = []
    for var in sorted(by_var):
        color = engine_color(var)
        ordered = sorted(by_var[var], key=lambda t: _fixed_order(t[0]))
        for i, (fixed, pts) in enumerate(_pick(ordered)):
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            label = f"{var} {_fixed_label(fixed)}".strip()
            if floor is not None:
                low = [(x, floor) for x, y in pts if (y or 0) < floor]
                ys = [max(y or 0, floor) for y in ys]
                if low:
                    ax.plot([p[0] for p in low], [p[1] for p in low], _MARKERS[i % 4],
                            markerfacecolor="white", color=color, zorder=3)
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
            ax.plot(xs, ys, _STYLES[i % 4], marker=_MARKERS[i % 4], color=color,
                    label=label)
            drawn.append({"variant": var, "fixed": fixed, "xs": xs, "ys": ys,
                          "color": color, "style": _STYLES[i % 4]})
    if extra:
        extra(ax, drawn)
    ax.set_yscale("log")
    size_axis(ax, [x for d in drawn for x in d["xs"]], log=True)
    suffix = unit_axis(ax, "y", kind)
    ax.set_xlabel(_KNOB_LABEL[knob])
    ax.set_ylabel(ylabel + suffix)
    ax.set_title(title, fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    legend_below(fig, ax)
    save(fig, path)


def _wrap(text, width):
    """Words of ``text`` on lines of at most ``width`` characters (a long word alone)."""
    lines = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def _title(problem, label):
    return problem + (f" [{label}]" if label else "")


def _var(engine, label):
    return engine + (f"[{label}]" if label else "")


#: ``∝ knob`` guides: along n through the forward-mode series (cost ~ n passes), along
#: m through the reverse-mode series (~ m sweeps), first engine found.
_GUIDED = {"n": ("forward", "forward-jit"), "m": ("reverse", "reverse-jit")}


def _proportional_guide(knob):
    """``extra`` for :func:`_line_plot`: a dotted ``∝ knob`` line over the upper half of
    the first drawn series (of three or more sizes) of the mode the cost argument scales
    with ``knob``, through its largest point, in a tint of its colour, never below the
    lowest measured value.  Nothing when that mode was not measured in the plot."""
    def draw(ax, drawn):
        floor = min((y for d in drawn for y in d["ys"] if y), default=None)
        for engine in _GUIDED.get(knob, ()):
            series = [d for d in drawn if d["variant"].split("[", 1)[0] == engine
                      and len(d["xs"]) >= 3]
            if not series or not floor:
                continue
            d = series[0]
            xs, _ = analysis.upper_half(d["xs"], d["ys"])
            x1, y1 = d["xs"][-1], d["ys"][-1]
            # from the upper half's start, but not below the lowest measured value
            gx = [max(xs[0], x1 * floor / y1), x1]
            if gx[0] >= x1:
                return
            ax.plot(gx, [y1 * x / x1 for x in gx], color=tint(d["color"], 0.45),
                    linestyle=(0, (1, 1.5)), linewidth=2.2, zorder=1,
                    label=f"∝ {knob} guide through {d['variant']} "
                          f"{_fixed_label(d['fixed'])} (largest {knob})")
            return
    return draw


def plot_time(records, knob, problem, path, label=""):
    """Log-log median time vs ``knob`` for the engines of ``problem`` at settings ``label``."""
    groups = {(_var(eng, lab), fixed): pts
              for (prob, lab, eng, fixed), pts in analysis.series(records, knob).items()
              if prob == problem and lab == label}
    if not groups:
        return False
    _line_plot(groups, knob, "time", "median time per derivative",
               f"{_title(problem, label)}: derivative time vs {knob}, "
               f"{_compared(v for v, _ in groups)}\n"
               "(log-log; slope = fitted exponent, all points and upper half of the range)",
               path, extra=_proportional_guide(knob))
    return True


def plot_memory(records, knob, problem, path, label=""):
    """Log-log peak memory (and engine-reported tape bytes) vs ``knob`` for ``problem``.

    Peaks below :data:`bench.memory.RESOLUTION_BYTES` are within the noise of the
    kernel's counters: they are drawn on the resolution line as hollow markers.
    Nothing is drawn if every peak is below it.  A tape-bytes line is drawn only for a
    series that is drawn, in a tint of its colour.
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
            fixed = tuple((k, r[k]) for k in analysis.KNOBS if k != knob) + \
                (("params", json.dumps(r.get("params") or {}, sort_keys=True)),)
            tapes[(analysis.variant(r), fixed)][r[knob]] = nbytes

    def draw_extras(ax, drawn):
        for d in drawn:
            pts = tapes.get((d["variant"], d["fixed"]), {})
            xs = sorted(x for x in pts if x is not None)
            if len(xs) >= 2:
                ax.plot(xs, [pts[x] for x in xs], color=tint(d["color"], 0.45),
                        linestyle=d["style"], linewidth=1.3, zorder=1,
                        label=f"{d['variant']} {_fixed_label(d['fixed'])}: "
                              "tape bytes (engine-reported)")
        ax.axhline(RESOLUTION_BYTES, color="lightgrey", linewidth=3, zorder=0,
                   label=f"resolution ({RESOLUTION_BYTES // 1024} KiB): hollow = at or below")

    _line_plot(groups, knob, "bytes", "peak memory over baseline",
               f"{_title(problem, label)}: peak memory vs {knob}, "
               f"{_compared(v for v, _ in groups)} (log-log)",
               path, extra=draw_extras, floor=RESOLUTION_BYTES)
    return True


# ---------------------------------------------------------------- forward/reverse heat map


def crossover_edges(logr):
    """Cell edges between measured neighbours on opposite sides of ratio 1.

    ``logr[i, j]`` is log10 of the ratio at row i (m), column j (n), cells centred on
    integer coordinates.  Returns ``[((x0, y0), (x1, y1)), ...]`` on the half-integer
    grid lines: the crossover follows the cell boundaries, so it never crosses the
    number written in the middle of a cell.
    """
    above = logr > 0
    finite = np.isfinite(logr)
    segs = []
    rows, cols = logr.shape
    for i in range(rows):
        for j in range(cols):
            if not finite[i, j]:
                continue
            if j + 1 < cols and finite[i, j + 1] and above[i, j] != above[i, j + 1]:
                segs.append(((j + 0.5, i - 0.5), (j + 0.5, i + 0.5)))
            if i + 1 < rows and finite[i + 1, j] and above[i, j] != above[i + 1, j]:
                segs.append(((j - 0.5, i + 0.5), (j + 0.5, i + 0.5)))
    return segs


def _ratio_ticks(lim):
    cands = [1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1e3]
    ticks = [math.log10(c) for c in cands if abs(math.log10(c)) <= lim + 1e-9]
    if len(ticks) < 3:
        ticks = [math.log10(c) for c in (0.5, 0.7, 0.8, 0.9, 1, 1.1, 1.25, 1.5, 2)
                 if abs(math.log10(c)) <= lim + 1e-9]
    return ticks


def plot_ratio(points, problem, path, label="", a="forward", b="reverse"):
    """Heat map of time(a)/time(b) over the (n, m) grid: the ratio written in each cell,
    the measured crossover along the cell edges, the n = m cells outlined."""
    layout = analysis.ratio_grid(points, problem, label)
    if layout is None:
        return False
    ns, ms, grid = layout
    with np.errstate(divide="ignore", invalid="ignore"):
        logr = np.log10(grid)
    lim = max(0.05, float(np.nanmax(np.abs(logr))))
    fig, ax = new_figure(max(7.5, 1.6 + 0.8 * len(ns)), max(5.0, 1.8 + 0.55 * len(ms)))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#d9d9d9")   # unmeasured: grey
    im = ax.imshow(logr, origin="lower", cmap=cmap, aspect="auto",
                   norm=TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim))
    size = 8 if len(ns) <= 8 else 7
    for i in range(len(ms)):
        for j in range(len(ns)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, plain(grid[i, j], 2), ha="center", va="center", fontsize=size,
                        color="white" if abs(logr[i, j]) > 0.6 * lim else "black")
            else:
                ax.text(j, i, "not\nmeasured", ha="center", va="center", fontsize=size - 1,
                        color="#666666")
    segs = crossover_edges(logr)
    if segs:
        ax.add_collection(LineCollection(segs, colors="black", linewidths=2.5, zorder=4,
                                         capstyle="round", gid="crossover",
                                         label=f"measured crossover (ratio = 1): between "
                                               f"cells where {a} and {b} win"))
    # Where theory puts the crossover (n = m): those cells outlined, inside their edges.
    first = True
    for j, n in enumerate(ns):
        if n in ms:
            ax.add_patch(Rectangle((j - 0.42, ms.index(n) - 0.42), 0.84, 0.84, fill=False,
                                   edgecolor="black", linestyle=(0, (1, 1.5)),
                                   linewidth=1.2, zorder=3, gid="n=m",
                                   label="n = m (theory: ratio ≈ 1)" if first else None))
            first = False
    ax.set_xticks(range(len(ns)), [str(n) for n in ns])
    ax.set_yticks(range(len(ms)), [str(m) for m in ms])
    ax.set_xlim(-0.5, len(ns) - 0.5)
    ax.set_ylim(-0.5, len(ms) - 0.5)
    ax.set_xlabel("n (input size)")
    ax.set_ylabel("m (output size)")
    ax.set_title(f"{_title(problem, label)}: {a} time / {b} time over the (n, m) grid\n"
                 f"cells: the ratio; red: {b} faster, blue: {a} faster"
                 + ("" if np.isfinite(grid).all() else ", grey: not measured"), fontsize=11)
    cbar = fig.colorbar(im, ax=ax)
    cbar.set_ticks(_ratio_ticks(lim))
    cbar.ax.yaxis.set_major_formatter(
        ticker.FuncFormatter(lambda v, _p: f"{plain(10 ** v, 2)}×"))
    cbar.set_label(f"{a} time / {b} time (log scale)")
    legend_below(fig, ax)
    save(fig, path)
    return True


# ---------------------------------------------------------------- chunk sweeps


def chunk_sweeps(records) -> dict:
    """Settings sweeps over ``chunk`` (as :func:`bench.analysis.settings_sweeps` groups
    them: same problem, engine, sizes and params, records differing only in
    ``settings.chunk``), with at least two explicit chunk values.

    Returns ``{(problem, engine): [{"point": record-like dict, "ks": [...],
    "times": [...], "default": time or None}, ...]}``, sizes in increasing order.
    """
    groups = defaultdict(list)
    for r in analysis.usable(records):
        settings = dict(r.get("settings") or {})
        settings.pop("chunk", None)
        key = (r["problem"], r["engine"], r["n"], r["m"], r["depth"],
               json.dumps(r.get("params") or {}, sort_keys=True),
               json.dumps(settings, sort_keys=True, default=str))
        groups[key].append(r)
    out = defaultdict(list)
    for key, recs in groups.items():
        chunked = {}
        default = None
        for r in recs:
            k = (r.get("settings") or {}).get("chunk")
            if k is None:
                default = r["time_median_s"]
            else:
                chunked[int(k)] = r["time_median_s"]
        if len(chunked) < 2:
            continue
        ks = sorted(chunked)
        out[key[:2]].append({"point": recs[0], "ks": ks, "times": [chunked[k] for k in ks],
                             "default": default})
    for sweeps in out.values():
        sweeps.sort(key=lambda s: (s["point"]["in_size"] or 0, s["point"]["n"] or 0,
                                   s["point"]["m"] or 0, s["point"]["depth"] or 0))
    return dict(out)


def _is_reverse(engine):
    return "rev" in engine


def passes(engine, point, k):
    """Passes of a derivative in chunks of ``k``: ⌈inputs/k⌉ forward passes, ⌈outputs/k⌉
    reverse sweeps."""
    size = (point.get("out_size") or point["m"]) if _is_reverse(engine) else \
        (point.get("in_size") or point["n"])
    return math.ceil(max(size or 1, 1) / k)


def plot_chunk(sweeps, problem, engine, path):
    """Time vs chunk size k, one line per size (shades of the engine's colour), each
    point labelled with its pass count ⌈n/k⌉ (⌈m/k⌉ for reverse sweeps); the time at
    default settings, where measured, as a dashed line in the same shade."""
    if not sweeps:
        return False
    sweeps = _pick(sweeps, _MAX_CHUNK_LINES)
    rev = _is_reverse(engine)
    what = "m" if rev else "n"
    fig, ax = new_figure(8, 5)
    base = engine_color(engine)
    ks_all, ts_all = [], []
    for i, sw in enumerate(sweeps):
        frac = i / max(1, len(sweeps) - 1) if len(sweeps) > 1 else 0.5
        color = tint(base, 0.45 * (1 - frac)) if frac < 0.5 else shade(base, 0.45 * (frac - 0.5))
        size = analysis.size_label(sw["point"])
        ax.plot(sw["ks"], sw["times"], "-", marker=_MARKERS[i % 4], color=color,
                label=size, zorder=3)
        for k, t in zip(sw["ks"], sw["times"]):
            p = passes(engine, sw["point"], k)
            last = k == max(sw["ks"])          # its label goes left: it stays inside
            ax.annotate(f"{p} " + (("sweep" if p == 1 else "sweeps") if rev else
                                      ("pass" if p == 1 else "passes")),
                        (k, t), xytext=(-5 if last else 5, 5), textcoords="offset points",
                        ha="right" if last else "left", fontsize=7,
                        color=shade(color, 0.2), gid="passes")
        if sw["default"] is not None:
            ax.axhline(sw["default"], color=tint(color, 0.35), linestyle="--", linewidth=1.2,
                       zorder=2, label=f"{size}: default chunking")
            ts_all.append(sw["default"])
        ks_all += sw["ks"]
        ts_all += sw["times"]
    ax.set_yscale("log")
    size_axis(ax, ks_all, log=True)
    ax.margins(x=0.08, y=0.12)
    suffix = unit_axis(ax, "y", "time", ts_all)
    direction = "output directions per reverse sweep" if rev else \
        "tangent directions per forward pass"
    ax.set_xlabel(f"chunk size k ({direction})")
    ax.set_ylabel("median time per derivative" + suffix)
    ax.set_title(f"{problem}: {engine} derivative time vs chunk size k, per size\n"
                 f"(labels: {'sweeps' if rev else 'passes'} ⌈{what}/k⌉; log-log)",
                 fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    legend_below(fig, ax)
    save(fig, path)
    return True


# ---------------------------------------------------------------- cheap-gradient ratio


def plot_grad_ratio(records, path):
    """Grouped bars: derivative time / function time per problem, engines at their
    default settings (settings sweeps would crowd it; they are in the report)."""
    rows = [r for r in analysis.grad_ratios(records) if "[" not in r["variant"]]
    if not rows:
        return False
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    most = max(sum(r["problem"] == p for r in rows) for p in problems)
    width = 0.8 / most
    fig, ax = new_figure(max(8, 1.2 * len(problems)), 5)
    labelled = set()
    for i, prob in enumerate(problems):
        here = sorted((r for r in rows if r["problem"] == prob), key=lambda r: r["variant"])
        for k, row in enumerate(here):
            var = row["variant"]
            ax.bar(i + (k - (len(here) - 1) / 2) * width, row["ratio"], width,
                   color=engine_color(var), label=None if var in labelled else var)
            labelled.add(var)
    ax.set_yscale("log")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ratio_axis(ax)
    labels = []
    for prob in problems:
        row = next(r for r in rows if r["problem"] == prob)
        size = analysis.size_label(row)
        if row.get("in_size") == row.get("n"):         # "(1 inputs)" says nothing new
            size = size.split(" (", 1)[0]
        labels.append(f"{prob}\n" + _wrap(size, 15))
    ax.set_xticks(range(len(problems)), labels, fontsize=7.5)
    ax.set_xlabel("problem, at its largest measured input")
    ax.set_ylabel("derivative time / function time (log scale)")
    ax.set_title("Cheap-gradient ratio: derivative time / function time per engine,\n"
                 "at each problem's largest measured input", fontsize=11)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    handles, names = ax.get_legend_handles_labels()
    order = sorted(range(len(names)), key=lambda i: names[i])
    legend_below(fig, ax, handles=[handles[i] for i in order], labels=[names[i] for i in order])
    save(fig, path)
    return True


def make_all(records, outdir, prefix) -> list:
    """Draw every supported plot into ``outdir`` as ``<prefix>-<plot>.png``.

    One set of plots per problem and engine-settings label (``chunk=1`` runs get
    their own), one chunk plot per problem and engine with a sweep over ``chunk``.
    Returns ``[(kind, problem_or_None, label, path), ...]``; chunk plots have kinds
    starting with ``"time vs chunk size"``.
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
    for (problem, engine), sweeps in chunk_sweeps(records).items():
        path = out(f"chunk-{problem}-{engine}", "")
        if plot_chunk(sweeps, problem, engine, path):
            drawn.append((f"time vs chunk size k ({engine})", problem, "", path))
    path = os.path.join(outdir, f"{prefix}-grad-ratio.png")
    if plot_grad_ratio(records, path):
        drawn.append(("cheap-gradient ratio", None, "", path))
    return drawn


# ---------------------------------------------------------------- the cascade (jacobian-chain)

#: The problem and the two multiplication orders of the lecture's cascade (issue 11 §4).
CHAIN_PROBLEM = "jacobian-chain"
CHAIN_ENGINES = ("chain-matrix-first", "chain-vector-first")
#: The cost model's exponents of the FLOPs: along d (n) and along e (depth).
CHAIN_THEORY = {"chain-matrix-first": {"n": 3, "depth": 1},
                "chain-vector-first": {"n": 2, "depth": 1}}
#: fwdrev's own engines drawn beside them (time only: they report no FLOP count).
CHAIN_CONTEXT = ("forward", "reverse")
_CHAIN_KNOB = {"n": ("d", "layer width d"), "depth": ("e", "number of layers e")}
ENGINE_COLORS.update({"chain-matrix-first": "#08306b", "chain-vector-first": "#a63603"})


def chain_series(records, knob):
    """The jacobian-chain series along ``knob`` (``"n"``: the width d, ``"depth"``: the
    number of layers e) at the value of the other knob with the most chain points.

    Returns ``(fixed, {engine: [(x, time_s, flops or None, record)]})`` (``fixed``:
    ``(other knob, value)``), or ``(None, {})`` with fewer than two sizes."""
    other = "depth" if knob == "n" else "n"
    recs = [r for r in analysis.usable(records) if r["problem"] == CHAIN_PROBLEM
            and r["engine"] in CHAIN_ENGINES + CHAIN_CONTEXT and not analysis.settings_label(r)]
    counts = defaultdict(set)
    for r in recs:
        if r["engine"] in CHAIN_ENGINES:
            counts[r[other]].add(r[knob])
    best = max((v for v in counts if len(counts[v]) >= 2), key=lambda v: (len(counts[v]), v),
               default=None)
    if best is None:
        return None, {}
    out = defaultdict(list)
    for r in recs:
        if r[other] == best:
            out[r["engine"]].append((r[knob], r["time_median_s"],
                                     (r.get("engine_sizes") or {}).get("flops"), r))
    series = {e: sorted(pts, key=lambda p: p[0]) for e, pts in out.items() if len(pts) >= 2}
    order = [e for e in CHAIN_ENGINES + CHAIN_CONTEXT if e in series]
    return (other, best), {e: series[e] for e in order}


def chain_slopes(series):
    """``{engine: {"time": (all, upper half), "flops": (all, upper half)}}`` -- fitted
    log-log slopes (:func:`bench.analysis.fit_slope`) of one :func:`chain_series`."""
    out = {}
    for engine, pts in series.items():
        xs = [p[0] for p in pts]
        row = {}
        for field, ys in (("time", [p[1] for p in pts]), ("flops", [p[2] for p in pts])):
            if any(y is None for y in ys):
                continue
            row[field] = (analysis.fit_slope(xs, ys),
                          analysis.fit_slope(*analysis.upper_half(xs, ys)))
        out[engine] = row
    return out


def _flop_text(v):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= scale * 0.9995:
            return f"{plain(v / scale)} {unit}"
    return plain(v)


def plot_chain(records, knob, path):
    """Time and FLOPs of ∂L/∂h¹ against d (``knob="n"``) or e (``"depth"``), both
    multiplication orders (and fwdrev's forward/reverse modes, time only), log-log, the
    fitted slopes in the legend and ∝ d³ / ∝ d² guides through the largest points."""
    fixed, series = chain_series(records, knob)
    if not any(e in series for e in CHAIN_ENGINES):
        return False
    letter, meaning = _CHAIN_KNOB[knob]
    other_letter = _CHAIN_KNOB["depth" if knob == "n" else "n"][0]
    slopes = chain_slopes(series)
    fig, (ax_t, ax_f) = plt.subplots(1, 2, figsize=(11, 4.6), layout="constrained")
    handles, labels = [], []
    xs_all = sorted({p[0] for pts in series.values() for p in pts})
    for engine, pts in series.items():
        ours = engine in CHAIN_ENGINES
        color = engine_color(engine)
        xs = [p[0] for p in pts]
        style = dict(color=color, marker="o" if ours else ".", linestyle="-" if ours else "--",
                     linewidth=2.0 if ours else 1.2, markersize=5 if ours else 4)
        (line,) = ax_t.plot(xs, [p[1] for p in pts], **style)
        s = slopes[engine]
        what = {"chain-matrix-first": "matrix-first (J_e⋯(J_2 J_1), forward accumulation)",
                "chain-vector-first": "vector-first (((c J_e)⋯)J_1, reverse accumulation)",
                "forward": "forward mode (dualnum), time only",
                "reverse": "reverse mode (tapes), time only"}.get(engine, engine)
        text = f"{what}: time ∝ {letter}^{s['time'][1]:.2f}"
        if "flops" in s:
            ax_f.plot(xs, [p[2] for p in pts], **style)
            text += f", FLOPs ∝ {letter}^{s['flops'][1]:.2f}"
            theory = CHAIN_THEORY[engine][knob]
            text += f" (theory {theory})"
            # a guide ∝ x^theory through the largest point: over the whole range of the
            # FLOPs, over the upper half of the times (where the fit is), never below the
            # lowest measured time
            x1 = pts[-1][0]
            floor = min(p[1] for ps in series.values() for p in ps)
            upper = analysis.upper_half(xs, xs)[0][0]
            t1 = pts[-1][1]
            gx_t = [max(upper, x1 * (floor / t1) ** (1.0 / theory)), x1]
            for ax, y1, gx in ((ax_t, t1, gx_t), (ax_f, pts[-1][2], [xs[0], x1])):
                if gx[0] < x1:
                    ax.plot(gx, [y1 * (x / x1) ** theory for x in gx], color=tint(color, 0.55),
                            linestyle=(0, (1, 1.5)), linewidth=2.0, zorder=1)
        handles.append(line)
        labels.append(text)
    from matplotlib.lines import Line2D
    handles.append(Line2D([], [], color="#999999", linestyle=(0, (1, 1.5)), linewidth=2.0))
    labels.append("guides (dotted, in each order's colour): the theory's ∝ d^3 (matrix-first) "
                  "and ∝ d^2 (vector-first) through the largest point" if knob == "n" else
                  "guides (dotted, in each order's colour): the theory's ∝ e through the "
                  "largest point")
    for ax, title in ((ax_t, "median time per gradient"), (ax_f, "floating-point operations")):
        ax.set_yscale("log")
        size_axis(ax, xs_all, log=True)
        ax.set_xlabel(f"{meaning} ({other_letter} = {fixed[1]} fixed)")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title(title, fontsize=10)
    ax_t.set_ylabel("time per ∂L/∂h¹" + unit_axis(ax_t, "y", "time"))
    ax_f.yaxis.set_major_locator(ScaledLogLocator(1.0))
    ax_f.yaxis.set_minor_locator(ticker.NullLocator())
    ax_f.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _p: _flop_text(v)))
    ax_f.set_ylabel("FLOPs per ∂L/∂h¹ (counted; log scale)")
    fig.suptitle(f"jacobian-chain: ∂L/∂h¹ = c·J_e⋯J_1 in two multiplication orders, vs "
                 f"{letter} (log-log; slopes fitted over the upper half of the range)",
                 fontsize=11)
    legend_below(fig, ax_t, handles=handles, labels=labels)
    save(fig, path)
    return True
