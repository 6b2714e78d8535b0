"""bench.plots (and the peers plots) on synthetic records: readable units, legends off the
data, a crossover that never crosses the numbers in the heat map, guides only for measured
series in their colour family, and a chunk plot whenever the records sweep ``chunk``."""

import math
import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgb
from matplotlib.patches import Rectangle
from matplotlib.transforms import Bbox

from bench import peers_report, plots, report

NS = MS = (1, 4, 16, 64)


def rec(engine, n, m, t, depth=None, mem=None, chunk=None, problem="tanh-net", **kw):
    r = {"kind": "result", "problem": problem, "engine": engine, "n": n, "m": m,
         "depth": depth, "params": {}, "settings": {"chunk": chunk}, "seed": 0, "in_size": n,
         "out_size": m, "scalar": m == 1, "time_median_s": t, "time_min_s": t * 0.9,
         "time_spread": 0.1, "samples_s": [t], "first_call_s": 2 * t,
         "fun_time_median_s": 1e-5, "grad_fun_ratio": t / 1e-5, "peak_mem_bytes": mem,
         "engine_sizes": {}, "reference": "reverse", "max_rel_error": 1e-16,
         "tolerance": 1e-8, "ok": True, "error": None}
    r.update(kw)
    return r


def textbook():
    """forward ~ n, reverse ~ m (crossover exactly on n = m), memory with a tape."""
    recs = []
    for n in NS:
        for m in MS:
            recs += [rec("forward", n, m, 1e-5 * n, mem=3e5 * n),
                     rec("reverse", n, m, 1e-5 * m, mem=3e5 * m + 1e5 * n,
                         engine_sizes={"tape_len": 3 * n * m, "tape_bytes": 1000 * n * m})]
    return recs


def chunk_study():
    """The README's chunk study at two sizes, plus a default-settings run."""
    recs = []
    for n in (64, 256):
        for k in (1, 4, 16, 64):
            recs.append(rec("forward", n, 1, 1e-5 * math.ceil(n / k) + 1e-4, chunk=k))
        recs.append(rec("forward", n, 1, 1e-4 + 1e-5 * n / 64))
    return recs


@pytest.fixture
def figures(monkeypatch):
    """Every figure the plot functions save, kept (drawn) for inspection."""
    kept = {}
    real = plots.save

    def keep(fig, path, tight=True):
        real(fig, path, tight)
        FigureCanvasAgg(fig)            # closing detached it: a canvas to measure with
        fig.canvas.draw()
        kept[str(path).rsplit("/", 1)[-1]] = fig

    monkeypatch.setattr(plots, "save", keep)
    return kept


def test_plots_draw_headless():
    assert matplotlib.get_backend().lower() == "agg"


# ---------------------------------------------------------------- units


@pytest.mark.parametrize("values, kind, unit", [
    ([60e-6, 50e-3], "time", "ms"),          # 0.06 .. 50 ms
    ([2e-6, 2e-5], "time", "µs"),
    ([2e-4, 3.0], "time", "ms"),             # 0.2 .. 3000 ms
    ([0.5, 30.0], "time", "s"),
    ([5e-9, 8e-9], "time", "ns"),
    ([3000, 5e6], "bytes", "KiB"),           # 2.9 .. 4883 KiB
    ([3e5, 1.7e7], "bytes", "MiB"),
    ([2e9, 3e9], "bytes", "GiB"),
    ([100, 900], "bytes", "B"),
    ([1e-5, 6.4e-4], "time", "µs"),          # not "0.01 ms"
])
def test_unit_is_picked_from_the_data_range(values, kind, unit):
    assert plots.unit_for(values, kind)[0] == unit


def test_too_wide_a_range_labels_each_tick_in_its_own_unit():
    assert plots.unit_for([1024, 1.4e8], "bytes") is None       # "100000 KiB" otherwise
    assert plots.unit_for([12 * 2 ** 10, 75 * 2 ** 20], "bytes") is None  # or "0.01 MiB"
    assert plots.fmt_unit(2e-3, "time") == "2 ms"
    assert plots.fmt_unit(3 * 2 ** 20, "bytes") == "3 MiB"
    assert plots.fmt_unit(100 * 2 ** 10, "bytes") == "100 KiB"
    assert plots.fmt_unit(512, "bytes") == "512 B"


@pytest.mark.parametrize("value, unit, text", [
    (1e-4, ("ms", 1e-3), "0.1 ms"), (2.5e-2, ("ms", 1e-3), "25 ms"),
    (1e-6, ("µs", 1e-6), "1 µs"), (10 * 2 ** 20, ("MiB", 2 ** 20), "10 MiB"),
    (2 ** 10 / 100, ("KiB", 2 ** 10), "0.01 KiB"), (3.0, ("s", 1.0), "3 s")])
def test_tick_labels_carry_the_unit(value, unit, text):
    kind = "bytes" if "B" in unit[0] else "time"
    assert plots.fmt_unit(value, kind, unit) == text


def test_numbers_are_never_in_scientific_notation():
    assert plots.plain(1e-5) == "0.00001"
    assert plots.plain(100000.0) == "100000"
    assert plots.plain(0.016) == "0.016"
    assert plots.plain(140.4, 2) == "140"


def _tick_texts(axis):
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


_RAW = re.compile(r"\$|\^|\d[eE][+-]?\d|10\^")     # mathtext, 1e-05, 10^x


def test_time_and_memory_axes_read_in_units(tmp_path, figures):
    drawn = plots.make_all(textbook(), str(tmp_path), "tb")
    assert drawn
    time_fig = figures["tb-time-vs-n-tanh-net.png"]
    mem_fig = figures["tb-memory-vs-n-tanh-net.png"]
    for fig, units in ((time_fig, ("ns", "µs", "ms", "s")), (mem_fig, ("B", "KiB", "MiB", "GiB"))):
        ax = fig.axes[0]
        labels = _tick_texts(ax.yaxis)
        assert len(labels) >= 2, labels
        for text in labels:
            assert not _RAW.search(text), text
            assert text.split(" ")[-1] in units, text
    # 10 µs .. 640 µs: in µs, ticks at round values (1, 2, 5 per decade: < 2.5 decades)
    assert {"10 µs", "20 µs", "50 µs", "100 µs", "200 µs", "500 µs"} <= \
        set(_tick_texts(time_fig.axes[0].yaxis))
    assert time_fig.axes[0].get_ylabel() == "median time per derivative [µs]"
    # sizes: the measured ones, plain
    assert _tick_texts(time_fig.axes[0].xaxis) == ["1", "4", "16", "64"]


# ---------------------------------------------------------------- legends


def _data_bbox(ax):
    """Display-space bounding box of everything plotted as data in ``ax``."""
    boxes = []
    for line in ax.lines:
        xy = line.get_xydata()
        if len(xy):
            pts = line.get_transform().transform(xy)
            pts = pts[np.isfinite(pts).all(axis=1)]
            if len(pts):
                boxes.append(Bbox([pts.min(axis=0), pts.max(axis=0)]))
    for patch in ax.patches:            # bars on a log axis start far below it: the
        box = Bbox.intersection(patch.get_window_extent(), ax.bbox)  # visible part
        if box is not None:
            boxes.append(box)
    for image in ax.images:
        boxes.append(image.get_window_extent())
    assert boxes, "no data in the axes"
    return Bbox.union(boxes)


def _legend(fig, ax):
    legends = list(fig.legends) + ([ax.get_legend()] if ax.get_legend() else [])
    assert len(legends) == 1
    return legends[0]


def _check_legend_off_the_data(fig):
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    box = _legend(fig, ax).get_window_extent(renderer)
    assert not box.overlaps(_data_bbox(ax)), (box, _data_bbox(ax))
    assert not box.overlaps(ax.get_window_extent(renderer))        # outside the axes
    width, height = fig.canvas.get_width_height()
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height  # not clipped


def test_legends_never_cover_the_data(tmp_path, figures):
    plots.make_all(textbook() + chunk_study(), str(tmp_path), "tb")
    for name in ("tb-time-vs-n-tanh-net.png", "tb-time-vs-m-tanh-net.png",
                 "tb-memory-vs-n-tanh-net.png", "tb-ratio-tanh-net.png",
                 "tb-chunk-tanh-net-forward.png", "tb-grad-ratio.png"):
        _check_legend_off_the_data(figures[name])


def test_peers_legends_never_cover_the_data(tmp_path, figures):
    from tests.test_peers_report import sample

    records = sample()
    assert peers_report.make_plots(records, str(tmp_path), "x")
    for name in ("x-cmp-time-vs-n-tanh-net.png", "x-cmp-jf-gmm.png", "x-cmp-memory-gmm.png",
                 "x-cmp-swell.png"):
        _check_legend_off_the_data(figures[name])
    mem = figures["x-cmp-memory-gmm.png"].axes[0]
    assert all(t.split(" ")[-1] in ("B", "KiB") for t in _tick_texts(mem.yaxis))
    jf = figures["x-cmp-jf-gmm.png"].axes[0]
    assert all(t.endswith("×") for t in _tick_texts(jf.yaxis))


def test_legend_below_measures_its_columns():
    fig, ax = plots.new_figure(8, 5)
    for i in range(12):
        ax.plot([1, 2], [i, i + 1], label=f"series {i} with a fairly long legend label")
    height = fig.get_figheight()
    legend = plots.legend_below(fig, ax)
    assert 1 < legend._ncols < 12
    assert fig.get_figheight() > height              # the figure grew: the axes kept theirs
    fig.canvas.draw()
    assert legend.get_window_extent().width <= fig.bbox.width
    plt.close(fig)


# ---------------------------------------------------------------- heat map


def _ratio_points(grid_fn, ns=(1, 4, 16, 64, 256), ms=(1, 4, 16, 64)):
    return [{"problem": "p", "label": "", "n": n, "m": m, "depth": None, "params": {},
             "ratio": grid_fn(n, m)} for n in ns for m in ms]


def _check_no_line_through_text(fig):
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    texts = [t.get_window_extent(renderer) for t in ax.texts if t.get_text()]
    assert texts
    paths = []
    for coll in ax.collections:          # the crossover, however drawn (lines, contours)
        paths += [coll.get_transform().transform_path(p) for p in coll.get_paths()]
    for patch in ax.patches:
        if isinstance(patch, Rectangle):
            paths.append(patch.get_transform().transform_path(patch.get_path()))
    for line in ax.lines:
        paths.append(line.get_transform().transform_path(line.get_path()))
    for path in paths:
        for box in texts:
            assert not path.intersects_bbox(box, filled=False), (path.vertices, box)
    return paths


def test_crossover_runs_between_the_cells_never_through_their_numbers(tmp_path, figures):
    # textbook: ratio = n / m, exactly 1 on the diagonal, where the old contour ran
    # straight through the "1" written in each diagonal cell.
    assert plots.plot_ratio(_ratio_points(lambda n, m: n / m), "p", tmp_path / "r.png")
    fig = figures["r.png"]
    paths = _check_no_line_through_text(fig)
    (coll,) = [c for c in fig.axes[0].collections if c.get_gid() == "crossover"]
    assert isinstance(coll, LineCollection)
    assert len(coll.get_segments()) > 0
    assert len(paths) > 1                              # crossover and the n = m cells
    assert "n = m (theory: ratio ≈ 1)" in [t.get_text() for t in fig.legends[0].texts]
    # every cell's number is there, plain, 2 significant digits (256 -> 260, not 2.6e+02)
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert "260" in texts and "0.016" in texts and len(texts) == 20


def test_crossover_is_the_boundary_between_winning_cells():
    logr = np.log10(np.array([[0.5, 2.0], [0.5, 0.5]]))
    assert plots.crossover_edges(logr) == [((0.5, -0.5), (0.5, 0.5)), ((0.5, 0.5), (1.5, 0.5))]
    with_gap = np.log10(np.array([[0.5, np.nan, 2.0]]))
    assert plots.crossover_edges(with_gap) == []       # no edge next to an unmeasured cell


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("gap", [False, True])
def test_crossover_clear_of_text_on_noisy_grids(tmp_path, figures, seed, gap):
    rng = np.random.default_rng(seed)
    table = {}
    grid = _ratio_points(lambda n, m: table.setdefault((n, m), 10 ** rng.uniform(-2, 2)),
                         ns=(1, 2, 4, 8, 16, 32, 64, 128, 256), ms=(1, 4, 16, 64, 256))
    if gap:
        grid = [p for p in grid if (p["n"], p["m"]) != (4, 16)]      # one unmeasured cell
    assert plots.plot_ratio(grid, "p", tmp_path / "noisy.png")
    fig = figures["noisy.png"]
    _check_no_line_through_text(fig)
    assert ("not\nmeasured" in [t.get_text() for t in fig.axes[0].texts]) == gap
    assert "×" in fig.axes[1].get_yticklabels()[0].get_text()       # colour bar in ratios


# ---------------------------------------------------------------- guides


def _rgb(color):
    return tuple(round(c, 6) for c in to_rgb(color))


def test_tape_guides_only_for_drawn_series_in_their_colour(tmp_path, figures):
    recs = textbook()
    recs.append(rec("reverse", 1, 1024, 1e-2, mem=1e6,          # a sixth m, not drawn
                    engine_sizes={"tape_bytes": 2e6}))
    recs.append(rec("reverse", 4, 1024, 1e-2, mem=1e6, engine_sizes={"tape_bytes": 3e6}))
    assert plots.plot_memory(recs, "n", "tanh-net", tmp_path / "mem.png")
    ax = figures["mem.png"].axes[0]
    series = {ln.get_label(): ln for ln in ax.lines if not ln.get_label().startswith("_")}
    tapes = [lab for lab in series if lab.endswith("tape bytes (engine-reported)")]
    assert tapes
    drawn = {lab.split("  (")[0] for lab in series if "tape" not in lab}
    reverse = _rgb(plots.tint(plots.engine_color("reverse"), 0.45))
    for lab in tapes:
        assert lab.split(":")[0] in drawn                 # guides a drawn series
        assert _rgb(series[lab].get_color()) == reverse   # in reverse's colour family
    # five m values, three drawn (m = 1, 16, 1024): no tape line for m = 4 or 64
    assert sorted(lab.split(":")[0] for lab in tapes) == ["reverse m=1", "reverse m=1024",
                                                         "reverse m=16"]


def test_proportional_guides_only_when_their_mode_was_measured(tmp_path, figures):
    recs = textbook()
    assert plots.plot_time(recs, "n", "tanh-net", tmp_path / "n.png")
    assert plots.plot_time(recs, "m", "tanh-net", tmp_path / "m.png")
    only_reverse = [r for r in recs if r["engine"] == "reverse"]
    assert plots.plot_time(only_reverse, "n", "tanh-net", tmp_path / "rev.png")

    def guides(name):
        return [ln for ln in figures[name].axes[0].lines if ln.get_label().startswith("∝")]

    (gn,) = guides("n.png")
    assert "forward" in gn.get_label()
    assert _rgb(gn.get_color()) == _rgb(plots.tint(plots.engine_color("forward"), 0.45))
    xs, ys = gn.get_xydata().T
    assert math.isclose(math.log(ys[1] / ys[0]) / math.log(xs[1] / xs[0]), 1.0)  # slope 1
    (gm,) = guides("m.png")
    assert "reverse" in gm.get_label()
    assert guides("rev.png") == []              # no forward series: no O(n) guide


def test_swell_guide_only_with_the_tape_it_guides(tmp_path, figures):
    rows = [{"k": k, "f_ops": 2 ** k, "df_ops": k * 4 ** k, "df_ops_cse": 20 * k,
             "tape_len": 3 * k} for k in (1, 2, 3)]
    assert peers_report.plot_swell(rows, tmp_path / "s1.png")
    assert peers_report.plot_swell([dict(r, tape_len=None) for r in rows], tmp_path / "s2.png")
    with_tape = [ln.get_label() for ln in figures["s1.png"].axes[0].lines]
    without = [ln.get_label() for ln in figures["s2.png"].axes[0].lines]
    assert any("3k" in lab for lab in with_tape)
    assert not any("3k" in lab for lab in without)


def test_engines_keep_their_colour_across_plots():
    assert plots.engine_color("forward[chunk=4]") == plots.engine_color("forward")
    names = ["forward", "reverse", "forward-jit", "reverse-jit", "hand-jit", "fd",
             "fd-forward", "jax-fwd", "jax-rev", "jax-jit-fwd", "jax-jit-rev", "torch-fwd",
             "torch-rev", "autograd-fwd", "autograd-rev", "symbolic"]
    assert len({plots.engine_color(e) for e in names}) == len(names)     # no two alike


# ---------------------------------------------------------------- chunk plot


def test_a_chunk_sweep_yields_a_chunk_plot_with_pass_counts(tmp_path, figures):
    drawn = plots.make_all(chunk_study(), str(tmp_path), "cs")
    chunk = [d for d in drawn if d[0].startswith("time vs chunk size")]
    assert len(chunk) == 1
    kind, problem, _, path = chunk[0]
    assert problem == "tanh-net" and "forward" in kind
    assert path.endswith("cs-chunk-tanh-net-forward.png") and (tmp_path / path).exists()
    ax = figures["cs-chunk-tanh-net-forward.png"].axes[0]
    passes = sorted(t.get_text() for t in ax.texts if t.get_gid() == "passes")
    assert passes == sorted(["64 passes", "16 passes", "4 passes", "1 pass",
                             "256 passes", "64 passes", "16 passes", "4 passes"])
    assert ax.get_xscale() == "log" and _tick_texts(ax.xaxis) == ["1", "4", "16", "64"]
    assert "chunk size k" in ax.get_xlabel() and "[" in ax.get_ylabel()
    labels = [ln.get_label() for ln in ax.lines]
    assert "n=64 m=1: default chunking" in labels     # the default run as a guide


def test_no_chunk_plot_without_a_chunk_sweep(tmp_path):
    # default and one explicit chunk at each point: a grid run twice, not a sweep
    recs = [rec("forward", n, 1, 1e-5 * n, chunk=c) for n in NS for c in (None, 1)]
    drawn = plots.make_all(recs, str(tmp_path), "x")
    assert not [d for d in drawn if d[0].startswith("time vs chunk size")]
    assert plots.chunk_sweeps(recs) == {}


def test_passes_count_inputs_forward_and_outputs_reverse():
    point = {"n": 1000, "m": 100, "in_size": 1000, "out_size": 100}
    assert plots.passes("forward", point, 64) == 16
    assert plots.passes("forward-jit", point, 8) == 125
    assert plots.passes("reverse", point, 8) == 13
    assert plots.passes("forward", point, 4096) == 1


def test_report_shows_the_chunk_plot_with_the_engine_settings(tmp_path):
    header = {"kind": "header", "argv": ["fwdrev"], "timing": {}}
    path = report.write_report([header], chunk_study(), str(tmp_path), "cs", "cs.jsonl")
    md = open(path, encoding="utf-8").read()
    settings = md.split("### Engine settings", 1)[1].split("\n### ", 1)[0]
    assert "(cs-chunk-tanh-net-forward.png)" in settings
    assert md.count("cs-chunk-tanh-net-forward.png") == 1   # not repeated under Plots


# ---------------------------------------------------------------- every plot


def test_every_plot_says_what_it_compares_with_labelled_axes(tmp_path, figures):
    recs = textbook() + chunk_study() + [
        rec(e, 1, 1, 1e-5 * d * (2 if e == "reverse" else 1), depth=d, problem="logistic-map",
            mem=4000 * d if e == "reverse" else 0,
            engine_sizes={"tape_len": 3 * d, "tape_bytes": 24 * d} if e == "reverse" else {})
        for e in ("forward", "reverse") for d in (10, 100, 1000, 10000, 100000)]
    drawn = plots.make_all(recs, str(tmp_path), "all")
    assert len(drawn) >= 8
    for name, fig in figures.items():
        ax = fig.axes[0]
        assert ax.get_title(), name
        assert ax.get_xlabel() and ax.get_ylabel(), name
        if "time-vs" in name or "memory-vs" in name or "chunk" in name:
            assert ax.get_yscale() == "log" and ax.get_xscale() == "log", name
            assert re.search(r"vs (n|m|depth|chunk size k)", ax.get_title()), name
            assert re.search(r"forward|reverse", ax.get_title()), name
            for text in _tick_texts(ax.yaxis):
                assert not _RAW.search(text), (name, text)
                assert re.search(r"(s|B)$", text), (name, text)
    depth_mem = figures["all-memory-vs-depth-logistic-map.png"].axes[0]
    assert _tick_texts(depth_mem.xaxis) == ["10", "100", "1000", "10000", "100000"]


def test_size_labels_in_the_grad_ratio_plot_come_from_the_records(tmp_path, figures):
    gmm = rec("reverse", 0, 1, 1e-3, problem="gmm", params={"d": 2.0, "K": 5.0, "N": 1000.0},
              in_size=30)
    assert plots.plot_grad_ratio(textbook() + [gmm], tmp_path / "g.png")
    labels = _tick_texts(figures["g.png"].axes[0].xaxis)
    gmm_label = next(t for t in labels if t.startswith("gmm"))
    assert "n=0" not in gmm_label and "d=2" in gmm_label and "30 inputs" in gmm_label
    assert all(t.endswith("×") for t in _tick_texts(figures["g.png"].axes[0].yaxis))
