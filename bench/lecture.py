"""The lecture suite's report (``fwdrev run --suite lecture``): the lecture's own views,
every number computed in the run.

1. **Four ways to get a derivative** on the logistic map l_K (l1 = x, l(k+1) = 4 l_k (1 − l_k)),
   K = 1..10: manual (the closed form's hand derivative, K ≤ 4, as in SEED §1), symbolic
   (sympy, when installed: the expression swell), numerical (forward and central
   differences), automatic (forward: dualnum, reverse: tapes) -- time, expression size and
   error against an arbitrary-precision reference (mpmath, or exact rational arithmetic).
2. **The gradient check**: the error of forward and central differences against the step h
   from 1e-1 to 1e-14 (truncation against round-off: the V), AD's error as a flat line.
3. **Evaluation traces and graphs** of the lecture's examples (``lecture``, ``homework``,
   ``gates``): both tables and the computational graph, with the gate patterns read off
   the recorded adjoints.
4. **The ReLU Jacobian** of a 4096-vector: built densely by forward mode and drawn (its
   diagonal), its size against what a VJP needs.
5. **The cascade** (the ``jacobian-chain`` records of the suite): see
   :func:`bench.report.chain_section`.

:func:`write_report` is the suite's report writer (``Suite.report``); it draws its pictures
as ``<name>_*.png`` (and the graphs also as ``.svg``) next to ``<name>.md``.
"""

from __future__ import annotations

import dataclasses
import glob
import math
import os
import shutil
import sys
import time
from fractions import Fraction

import numpy as np

from bench import explain, plots
from bench.records import argv_string
from bench.report import chain_section, fmt_bytes, fmt_time
from bench.timing import time_call

EPS = float(np.finfo(float).eps)

#: Colours of the four ways (forward differences dark grey, central light: the fd engines').
COLORS = {"manual": "#8c564b", "symbolic": plots.ENGINE_COLORS["symbolic"],
          "forward difference": plots.ENGINE_COLORS["fd-forward"],
          "central difference": plots.ENGINE_COLORS["fd"],
          "forward AD": plots.ENGINE_COLORS["forward"],
          "reverse AD": plots.ENGINE_COLORS["reverse"]}
METHODS = tuple(COLORS)


@dataclasses.dataclass(frozen=True)
class Options:
    """What the report computes (the suite's ``report_options``; the tests shrink them)."""

    ks: tuple = tuple(range(1, 13))      # the logistic map's l_K
    symbolic_max_k: int = 12             # sympy's f' grows ~2.5x per step: K = 12 is 195k ops
    x: float = explain.LOGISTIC_X
    h_per_decade: int = 4                # the gradient check's steps, 1e-1 .. 1e-14
    relu_n: int = 4096
    min_sample_s: float = 0.002          # timing of the four ways (each is micro-seconds)
    samples: int = 3
    max_time_s: float = 0.1


def _log(message):
    print(f"fwdrev: lecture report: {message}", file=sys.stderr, flush=True)


def _time(fn, opts):
    return time_call(fn, min_sample_s=opts.min_sample_s, samples=opts.samples,
                     max_time_s=opts.max_time_s).median_s


# ------------------------------------------------------------------ the reference
def reference_kind() -> str:
    try:
        import mpmath  # noqa: F401
    except ImportError:
        return "fractions"
    return "mpmath"


def _to_ref(value, ref):
    """The float ``value`` exactly, in the number type of ``ref``."""
    if isinstance(ref, Fraction):
        return Fraction(float(value))
    if isinstance(ref, np.longdouble):
        return np.longdouble(float(value))
    import mpmath
    return mpmath.mpf(float(value))


def rel_error(values, refs) -> float:
    """Normwise relative error max|v − r| / max|r|, computed in the reference's precision
    (so an AD result that is the correctly rounded value reads ~1e-17, not 0 or 1e-16)."""
    values, refs = np.ravel(values), list(np.ravel(np.asarray(refs, dtype=object)))
    diff = max(abs(_to_ref(v, r) - r) for v, r in zip(values, refs))
    scale = max(abs(r) for r in refs)
    return float(diff / scale) if scale else float(diff)


def logistic_reference(x, k, kind=None):
    """``(l_K(x), l_K'(x))`` exactly: the pair recurrence (v, v') ← (4v(1−v), 4v' − 8vv')
    in 60-digit mpmath, or in exact rational arithmetic without mpmath."""
    kind = kind or reference_kind()
    if kind == "mpmath":
        import mpmath
        with mpmath.workdps(60):
            v, dv = mpmath.mpf(x), mpmath.mpf(1)
            for _ in range(k - 1):
                v, dv = 4 * v * (1 - v), 4 * dv - 8 * v * dv
            return +v, +dv
    v, dv = Fraction(x), Fraction(1)
    for _ in range(k - 1):
        v, dv = 4 * v * (1 - v), 4 * dv - 8 * v * dv
    return v, dv


def lecture_gradient_reference(x1, x2, kind=None):
    """∇(x1 x2 + sin x1) = (cos x1 + x2, x1): mpmath at 60 digits, else long double."""
    kind = kind or reference_kind()
    if kind == "mpmath":
        import mpmath
        with mpmath.workdps(60):
            return [mpmath.cos(mpmath.mpf(x1)) + mpmath.mpf(x2), mpmath.mpf(x1)]
    ld = np.longdouble
    return [np.cos(ld(x1)) + ld(x2), ld(x1)]


def reference_text(kind) -> str:
    if kind == "mpmath":
        import mpmath
        return f"mpmath {mpmath.__version__} at 60 significant digits"
    bits = np.finfo(np.longdouble).nmant + 1
    return ("exact rational arithmetic (Python's fractions) for the logistic map and NumPy's "
            f"long double ({bits}-bit significand) for sin/cos — mpmath is not installed "
            "(it comes with pip install 'fwdrev[test]')")


# ------------------------------------------------------------------ 1. four ways
def _sympy():
    try:
        import sympy
    except ImportError:
        return None
    return sympy


def four_ways(opts: Options) -> dict:
    """Per K: f, the reference derivative, and for each way its value, relative error,
    time per derivative and expression size."""
    import dualnum
    import tapes

    sympy = _sympy()
    kind = reference_kind()
    x = opts.x
    rows = []
    for k in opts.ks:
        f = explain.logistic_map(k)
        ref_f, ref_d = logistic_reference(x, k, kind)
        row = {"K": k, "f": float(ref_f), "df": float(ref_d), "f_time": _time(lambda: f(x), opts),
               "graph_nodes": len(tapes.record(f, x)) if k > 1 else 0, "ways": {}}
        ways = row["ways"]

        def way(name, derivative, size=None, **extra):
            value = float(derivative(x))
            ways[name] = {"value": value, "error": rel_error(value, ref_d),
                          "time": _time(lambda: derivative(x), opts), "size": size, **extra}

        hand = explain.HAND_LOGISTIC.get(k)
        if hand is not None:
            way("manual", hand.function(), size=hand.ops())
        if sympy is not None and k <= opts.symbolic_max_k:
            sym = sympy.Symbol("x")
            expr = f(sym)                       # the same source, run on a symbol
            start = time.perf_counter()
            d = sympy.diff(expr, sym)
            diff_s = time.perf_counter() - start
            start = time.perf_counter()
            d_fn = sympy.lambdify(sym, d, modules="math", cse=False)
            lambdify_s = time.perf_counter() - start
            replaced, reduced = sympy.cse(d)
            way("symbolic", d_fn, size=int(sympy.count_ops(d)),
                f_tree=int(sympy.count_ops(expr)),
                cse=int(sympy.count_ops([e for _, e in replaced] + list(reduced))),
                derive_s=diff_s + lambdify_s)
        h_f = math.sqrt(EPS) * max(1.0, abs(x))
        h_c = EPS ** (1 / 3) * max(1.0, abs(x))
        way("forward difference", lambda t: (f(t + h_f) - f(t)) / h_f, h=h_f)
        way("central difference", lambda t: (f(t + h_c) - f(t - h_c)) / (2 * h_c), h=h_c)
        way("forward AD", dualnum.derivative(f))
        way("reverse AD", tapes.grad(f))
        rows.append(row)
    return {"rows": rows, "x": x, "kind": kind, "sympy": sympy is not None,
            "sympy_version": getattr(sympy, "__version__", None),
            "symbolic_max_k": opts.symbolic_max_k}


def _nodes_per_step(rows):
    """Recorded graph nodes added per step of the map (least squares over K ≥ 2)."""
    pts = [(r["K"], r["graph_nodes"]) for r in rows if r["K"] > 1]
    if len(pts) < 2:
        return None
    return float(np.polyfit([k for k, _ in pts], [n for _, n in pts], 1)[0])


def _fit_growth(ks, sizes):
    """The factor a size grows by per step of K (least squares on log size)."""
    pts = [(k, s) for k, s in zip(ks, sizes) if s]
    if len(pts) < 2:
        return None
    slope = np.polyfit([k for k, _ in pts], np.log([s for _, s in pts]), 1)[0]
    return float(np.exp(slope))


def _times(r):
    """A ratio: 2.13×, 860×, 4,750×."""
    return f"{r:,.0f}×" if r >= 1000 else f"{r:.3g}×"


def _err_text(e):
    if e is None:
        return "–"
    return "0" if e == 0 else f"{e:.2g}"


def four_ways_section(data, outdir, name, level="##") -> list:
    rows, x = data["rows"], data["x"]
    kmax = rows[-1]["K"]
    lines = [f"{level} 1. Four ways to get a derivative: the logistic map", "",
             f"l1 = x, l(k+1) = 4 l_k (1 − l_k); f = l_K at x = {x:g}, K = {rows[0]['K']}.."
             f"{kmax} (K − 1 steps; the lecture's f = l4 = {explain.HAND_LOGISTIC[4].pretty}). "
             "Errors are relative to the exact derivative, computed with "
             f"{reference_text(data['kind'])}.", "",
             "- **manual**: the closed form's derivative derived by hand (product rule, one "
             "term per factor: for l4 " + explain.HAND_LOGISTIC[4].pretty_derivative + "), "
             f"written for K ≤ {max(explain.HAND_LOGISTIC)} — nobody derives l_K by hand "
             "beyond that;",
             "- **symbolic**: " + (
                 f"sympy {data['sympy_version']}: the same Python loop run on a symbol, "
                 "`sympy.diff`, then `sympy.lambdify` (evaluated as derived, no "
                 f"common-subexpression elimination), K ≤ {data['symbolic_max_k']};"
                 if data["sympy"] else
                 "skipped — sympy is not installed (pip install 'fwdrev[symbolic]');"),
             f"- **numerical**: forward difference (f(x+h) − f(x))/h with h = √ε·max(1,|x|) = "
             f"{rows[0]['ways']['forward difference']['h']:.3g} and central difference "
             f"(f(x+h) − f(x−h))/2h with h = ε^(1/3)·max(1,|x|) = "
             f"{rows[0]['ways']['central difference']['h']:.3g} (the gradient check below "
             "shows every h);",
             "- **automatic**: forward mode carries (v, v′) through the loop "
             "(`dualnum.derivative`), reverse mode records the loop and sweeps it back "
             "(`tapes.grad`); both exact up to rounding, at a cost proportional to f's.", ""]
    path = os.path.join(outdir, f"{name}_four_ways.png")
    plot_four_ways(data, path)
    lines += [f"![four ways: expression size, time and error vs K]({os.path.basename(path)})",
              ""]
    # findings, from the numbers
    last = rows[-1]
    sym = [r for r in rows if "symbolic" in r["ways"]]
    if sym:
        ks = [r["K"] for r in sym]
        sizes = [r["ways"]["symbolic"]["size"] for r in sym]
        growth = _fit_growth(ks[1:], sizes[1:])
        s_last = sym[-1]
        lines.append(
            f"- **Expression swell.** sympy's f′ has {sizes[1] if len(sizes) > 1 else sizes[0]} "
            f"operations at K = {ks[1] if len(ks) > 1 else ks[0]} and "
            f"{s_last['ways']['symbolic']['size']} at K = {s_last['K']}"
            + (f" (×{growth:.3g} per step, fitted)" if growth else "") +
            f"; f itself, as sympy's expression tree, has {s_last['ways']['symbolic']['f_tree']} "
            f"(the tree repeats every shared l_k), and CSE shrinks f′ back to "
            f"{s_last['ways']['symbolic']['cse']}. The graph AD sweeps has "
            f"{s_last['graph_nodes']} nodes at K = {s_last['K']}"
            + (f": {_nodes_per_step(rows):.3g} per step" if _nodes_per_step(rows) else "")
            + ", shared, never "
            f"expanded. Deriving and compiling f′ took "
            f"{fmt_time(s_last['ways']['symbolic']['derive_s'])} at K = {s_last['K']}; one "
            f"evaluation takes {fmt_time(s_last['ways']['symbolic']['time'])}, "
            f"{_times(s_last['ways']['symbolic']['time'] / s_last['f_time'])} f's "
            f"{fmt_time(s_last['f_time'])}"
            + next((f"; from K = {r['K']} on, evaluating the derived f′ costs more than "
                    f"reverse AD's whole recording and sweep ({fmt_time(r['ways']['symbolic']['time'])}"
                    f" vs {fmt_time(r['ways']['reverse AD']['time'])})"
                    for r in sym if r['ways']['symbolic']['time'] > r['ways']['reverse AD']['time']
                    and all(q['ways']['symbolic']['time'] > q['ways']['reverse AD']['time']
                            for q in sym if q['K'] >= r['K'])), "") + ".")
    ad = [max(r["ways"][m]["error"] for m in ("forward AD", "reverse AD")) for r in rows]
    ad_err = max(ad)
    fd = {m: [r["ways"][m]["error"] for r in rows if r["K"] > 1] or [0.0] for m in
          ("forward difference", "central difference")}   # l1 = x: its quotient is exact
    lines.append(
        f"- **Accuracy.** Forward and reverse AD are within {_err_text(ad_err)} of the exact "
        f"derivative at every K (relative). Forward differences are off by "
        f"{_err_text(min(fd['forward difference']))} to {_err_text(max(fd['forward difference']))}"
        f", central differences by {_err_text(min(fd['central difference']))} to "
        f"{_err_text(max(fd['central difference']))} (K ≥ 2), worst at K = "
        f"{max(rows, key=lambda r: r['ways']['central difference']['error'])['K']}"
        ": l_K's higher derivatives "
        "grow with K, and so does the truncation error."
        + (f" The symbolic f′, exact as an expression, evaluated in floating point is off by "
           f"up to {_err_text(max(r['ways']['symbolic']['error'] for r in sym))}."
           if sym else "")
        + f" AD's error grows from {_err_text(ad[1] if len(ad) > 1 else ad[0])} at K = "
          f"{rows[1]['K'] if len(rows) > 1 else rows[0]['K']} to {_err_text(ad[-1])} at K = "
          f"{kmax}{' as the symbolic one does' if sym else ''}: AD differentiates the "
          "floating-point program exactly, but the map itself stretches every rounding error "
          "(|l_K′| reaches "
          f"{max(abs(r['df']) for r in rows):.3g} here), and the derivative with it.")
    ratios = {m: last["ways"][m]["time"] / last["f_time"] for m in last["ways"]}
    per_step = {}
    for m in ("forward AD", "reverse AD"):
        pts = [(r["K"], r["ways"][m]["time"]) for r in rows if r["K"] > 1]
        if len(pts) >= 2:
            per_step[m] = float(np.polyfit([k for k, _ in pts], [t for _, t in pts], 1)[0])
    lines.append(
        f"- **Cost.** At K = {kmax} (f: {fmt_time(last['f_time'])}): "
        + ", ".join(f"{m} {fmt_time(last['ways'][m]['time'])} ({_times(ratios[m])} f)"
                    for m in METHODS if m in last["ways"]) + ". "
        + ("AD's time grows linearly with K: "
           + ", ".join(f"{m} +{fmt_time(t)}" for m, t in per_step.items())
           + " per step of the map (least squares"
           + (f"; a step records {_nodes_per_step(rows):.3g} operations" if _nodes_per_step(rows)
              else "") + ") — a constant cost per operation, "
             "large for fwdrev's Python engines against f's own, but constant; the symbolic "
             "f′ grows with its expression." if per_step else ""))
    lines.append("")
    # the tables
    present = [m for m in METHODS if any(m in r["ways"] for r in rows)]
    lines += ["**Relative error against the exact derivative**", "",
              "| K | l_K(x) | exact l_K′(x) | " + " | ".join(present) + " |",
              "|---|---|---|" + "---|" * len(present)]
    for r in rows:
        lines.append(f"| {r['K']} | {r['f']:.6g} | {r['df']:.10g} | " + " | ".join(
            _err_text(r["ways"][m]["error"]) if m in r["ways"] else "–" for m in present) + " |")
    lines += ["", "**Time per derivative** (median; symbolic: evaluating the compiled f′, and "
                  "in brackets deriving and compiling it once)", "",
              "| K | f itself | " + " | ".join(present) + " |", "|---|---|" + "---|" * len(present)]
    for r in rows:
        cells = []
        for m in present:
            w = r["ways"].get(m)
            if w is None:
                cells.append("–")
            elif m == "symbolic":
                cells.append(f"{fmt_time(w['time'])} ({fmt_time(w['derive_s'])})")
            else:
                cells.append(fmt_time(w["time"]))
        lines.append(f"| {r['K']} | {fmt_time(r['f_time'])} | " + " | ".join(cells) + " |")
    lines += ["", "**Expression size** (arithmetic operations; AD: nodes of the recorded "
                  "graph, which both sweeps visit once; differences: 2 evaluations of f)", "",
              "| K | graph of f (AD) | manual f′ | " + (
                  "sympy f (tree) | sympy f′ (tree) | sympy f′ after CSE |" if data["sympy"]
                  else "sympy |"),
              "|---|---|---|" + ("---|---|---|" if data["sympy"] else "---|")]
    for r in rows:
        man = r["ways"].get("manual")
        sy = r["ways"].get("symbolic")
        sym_cells = (f"{sy['f_tree']} | {sy['size']} | {sy['cse']}" if sy else "– | – | –") \
            if data["sympy"] else "skipped"
        lines.append(f"| {r['K']} | {r['graph_nodes']} | {man['size'] if man else '–'} | "
                     f"{sym_cells} |")
    lines.append("")
    return lines


def plot_four_ways(data, path):
    rows = data["rows"]
    ks = [r["K"] for r in rows]
    fig, (ax_s, ax_t, ax_e) = plt_subplots(1, 3, (15, 4.8))
    # (a) expression size
    def series(fn):
        pts = [(r["K"], fn(r)) for r in rows]
        return [p for p in pts if p[1]]          # 0 operations (l1 = x) has no log

    size_lines = [
        ("size: the graph of f, the nodes AD sweeps"
         + (f" ({_nodes_per_step(rows):.3g} per step)" if _nodes_per_step(rows) else ""),
         "#444444", "-", "s",
         series(lambda r: r["graph_nodes"] or None)),
        ("size: manual f′ (hand-derived)", COLORS["manual"], "-", "D",
         series(lambda r: r["ways"].get("manual", {}).get("size"))),
        ("size: sympy f (expression tree)", plots.tint(COLORS["symbolic"], 0.45), "--", "o",
         series(lambda r: r["ways"].get("symbolic", {}).get("f_tree") or None)),
        ("size: sympy f′ (expression tree, as derived)", COLORS["symbolic"], "-", "o",
         series(lambda r: r["ways"].get("symbolic", {}).get("size") or None)),
        ("size: sympy f′ after CSE", plots.shade(COLORS["symbolic"], 0.4), ":", "^",
         series(lambda r: r["ways"].get("symbolic", {}).get("cse") or None)),
    ]
    for label, color, style, marker, pts in size_lines:
        if pts:
            ax_s.plot([p[0] for p in pts], [p[1] for p in pts], linestyle=style, marker=marker,
                      color=color, label=label, markersize=4)
    ax_s.set_yscale("log")
    plots.count_axis(ax_s)
    ax_s.set_ylabel("arithmetic operations (log scale)")
    ax_s.set_title("expression size", fontsize=10)
    # (b) time, (c) error
    ax_t.plot(ks, [r["f_time"] for r in rows], color="black", linestyle=(0, (1, 1.5)),
              linewidth=1.5, label="f itself (no derivative)")
    floor = _error_floor(rows)
    for m in METHODS:
        pts = [(r["K"], r["ways"][m]) for r in rows if m in r["ways"]]
        if not pts:
            continue
        style = dict(color=COLORS[m], marker="o", markersize=4,
                     linestyle="--" if "difference" in m else "-")
        ax_t.plot([k for k, _ in pts], [w["time"] for _, w in pts], label=m, **style)
        if m == "symbolic":
            ax_t.plot([k for k, _ in pts], [w["derive_s"] for _, w in pts],
                      color=plots.tint(COLORS[m], 0.4), linestyle="-.", marker="x",
                      label="symbolic: deriving and compiling f′ (once)")
        errs = [w["error"] for _, w in pts]
        ax_e.plot([k for k, _ in pts], [max(e, floor) for e in errs], label=m, **style)
        zeros = [(k, floor) for (k, _), e in zip(pts, errs) if e == 0]
        if zeros:
            ax_e.plot([k for k, _ in zeros], [y for _, y in zeros], "o", color=COLORS[m],
                      markerfacecolor="white", markersize=6)
    ax_t.set_yscale("log")
    ax_t.set_ylabel("median time per derivative" + plots.unit_axis(ax_t, "y", "time"))
    ax_t.set_title("time", fontsize=10)
    ax_e.set_yscale("log")
    ax_e.axhline(EPS, color="#bbbbbb", linewidth=1, zorder=0)
    ax_e.annotate(f"ε = {EPS:.2g}", (ks[-1], EPS), xytext=(-2, -10), textcoords="offset points",
                  ha="right", fontsize=7, color="#888888")
    ax_e.set_ylabel("relative error vs the exact l_K′")
    ax_e.set_title(f"error (0 drawn hollow at {floor:.0e})", fontsize=10)
    for ax in (ax_s, ax_t, ax_e):
        ax.set_xlabel("K (f = l_K: K − 1 steps of the map)")
        ax.set_xticks(ks)
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"Four ways to get l_K′({data['x']:g}) for the logistic map l(k+1) = "
                 "4 l_k (1 − l_k): manual, symbolic, numerical, automatic", fontsize=11)
    handles, labels = [], []
    for ax in (ax_s, ax_t, ax_e):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    plots.legend_below(fig, ax_s, handles=handles, labels=labels)
    plots.save(fig, path)


def _error_floor(rows):
    errs = [w["error"] for r in rows for w in r["ways"].values() if w["error"] > 0]
    return 10.0 ** math.floor(math.log10(min(errs + [EPS]) / 3))


def plt_subplots(rows, cols, size):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(rows, cols, figsize=size, layout="constrained")
    return fig, axes


# ------------------------------------------------------------------ 2. the gradient check
def _lecture_vec(v):
    return explain.lecture(v[0], v[1])


def gradient_check(opts: Options) -> dict:
    """Forward and central differences of two functions at every step h = 1e-1 .. 1e-14
    (each coordinate perturbed in turn, as the lecture's gradient check does), and AD's
    error, all against the exact gradient."""
    import dualnum
    import tapes

    kind = reference_kind()
    decades = 13
    hs = 10.0 ** -np.linspace(1, 1 + decades, decades * opts.h_per_decade + 1)
    l4 = explain.logistic_map(4)
    cases = [
        ("the lecture's f(x1, x2) = x1·x2 + sin(x1) at (2, 3): the gradient",
         _lecture_vec, np.array([2.0, 3.0]), lecture_gradient_reference(2.0, 3.0, kind)),
        (f"the logistic map's l4 at x = {opts.x:g}: the derivative",
         lambda v: l4(v[0]), np.array([opts.x]),
         [logistic_reference(opts.x, 4, kind)[1]]),
    ]
    out = []
    for title, f, x, ref in cases:
        fwd, cen = [], []
        fx = f(x)
        for h in hs:
            gf, gc = np.empty(x.size), np.empty(x.size)
            for j in range(x.size):
                e = np.zeros(x.size)
                e[j] = h
                gf[j] = (f(x + e) - fx) / h
                gc[j] = (f(x + e) - f(x - e)) / (2 * h)
            fwd.append(rel_error(gf, ref))
            cen.append(rel_error(gc, ref))
        case = {"title": title, "hs": hs, "forward": np.array(fwd), "central": np.array(cen),
                "forward AD": rel_error(dualnum.grad(f)(x), ref),
                "reverse AD": rel_error(tapes.grad(f)(x), ref)}
        for m in ("forward", "central"):
            errs = case[m]
            i = int(np.argmin(errs))
            case[m + "_min"] = (float(hs[i]), float(errs[i]))
            # the two branches of the V, fitted away from the minimum: truncation (h large)
            # and round-off (h small)
            big = [(h, e) for h, e in zip(hs, errs) if h >= hs[i] * 100 and e > 0]
            small = [(h, e) for h, e in zip(hs, errs) if h <= hs[i] / 100 and e > 0]
            from bench.analysis import fit_slope
            case[m + "_slopes"] = (fit_slope(*zip(*big)) if len(big) >= 2 else None,
                                   fit_slope(*zip(*small)) if len(small) >= 2 else None)
        out.append(case)
    return {"cases": out, "kind": kind}


def gradient_check_section(data, outdir, name, level="##") -> list:
    path = os.path.join(outdir, f"{name}_gradient_check.png")
    plot_gradient_check(data, path)
    lines = [f"{level} 2. The gradient check: finite differences against the step h", "",
             "The lecture's numerical gradient perturbs one coordinate at a time by h and "
             "re-evaluates f (SEED §2); in practice one checks an analytic gradient against it. "
             "Its error (normwise relative, against the exact gradient) has two parts: "
             "truncation, which shrinks with h (∝ h for the forward difference, ∝ h² for the "
             "central one), and round-off, ε·|f|/h, which grows as h shrinks. Their sum is the V "
             f"below; AD has neither (ε = {EPS:.3g}).", "",
             f"![gradient check: error vs h]({os.path.basename(path)})", ""]
    for case in data["cases"]:
        parts = []
        for m, rule, theory in (("forward", "√ε", math.sqrt(EPS)),
                                ("central", "ε^(1/3)", EPS ** (1 / 3))):
            h, e = case[m + "_min"]
            trunc, rnd = case[m + "_slopes"]
            parts.append(
                f"the {m} difference is best at h = {h:.2g} (error {e:.2g}; the rule of thumb "
                f"{rule} = {theory:.2g})"
                + (f", its error falls like h^{trunc:.2f} above (truncation)" if trunc else "")
                + (f" and grows like h^{rnd:.2f} below (round-off)" if rnd else ""))
        lines.append(f"- **{case['title']}**: " + "; ".join(parts) +
                     f". Forward AD: {_err_text(case['forward AD'])}, reverse AD: "
                     f"{_err_text(case['reverse AD'])} — whatever h.")
    lines.append("")
    return lines


def plot_gradient_check(data, path):
    cases = data["cases"]
    fig, axes = plt_subplots(1, len(cases), (6.2 * len(cases), 4.8))
    axes = np.atleast_1d(axes)
    errs = [e for c in cases for e in (c["forward AD"], c["reverse AD"]) if e > 0]
    floor = 10.0 ** math.floor(math.log10(min(errs + [EPS]) / 3))
    for ax, case in zip(axes, cases):
        hs = case["hs"]
        for m, label, color in (("forward", "forward difference (f(x+h) − f(x))/h",
                                 COLORS["forward difference"]),
                                ("central", "central difference (f(x+h) − f(x−h))/2h",
                                 COLORS["central difference"])):
            ax.plot(hs, np.maximum(case[m], floor), color=color, marker=".", markersize=4,
                    label=label, linestyle="--" if m == "forward" else "-")
            h, e = case[m + "_min"]
            ax.plot([h], [e], "o", markersize=9, markerfacecolor="none", color=color)
            ax.annotate(f"min at h = {h:.1g}", (h, e), xytext=(0, -16),
                        textcoords="offset points", ha="center", fontsize=7.5, color=color,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
        for m in ("forward AD", "reverse AD"):
            e = case[m]
            ax.axhline(max(e, floor), color=COLORS[m], linewidth=2.2 if m == "forward AD" else 1.4,
                       linestyle="-" if m == "forward AD" else "--",
                       label=f"{m}: error {_err_text(e)} for every h"
                             + (f" (0: drawn at {floor:.0e})" if e == 0 else ""))
        ad = max(case["forward AD"], case["reverse AD"], floor)
        ax.annotate(f"AD: forward {_err_text(case['forward AD'])}, reverse "
                    f"{_err_text(case['reverse AD'])}", (hs.max(), ad), xytext=(-4, 4),
                    textcoords="offset points", ha="right", fontsize=8,
                    color=COLORS["forward AD"])
        for value, text in ((math.sqrt(EPS), "√ε"), (EPS ** (1 / 3), "ε^(1/3)")):
            ax.axvline(value, color="#bbbbbb", linestyle=":", linewidth=1.2, zorder=0)
            ax.annotate(text, (value, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(3, -12), textcoords="offset points", fontsize=8,
                        color="#777777")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(hs.min() / 2, hs.max() * 2)
        ax.set_xlabel("step h (log scale)")
        ax.set_ylabel("relative error vs the exact gradient")
        ax.set_title(case["title"], fontsize=9.5)
        ax.grid(True, which="major", alpha=0.3)
    fig.suptitle("Gradient check: finite-difference error against the step h — truncation "
                 "(right) meets round-off (left); AD is flat", fontsize=11)
    handles, labels = [], []
    for ax in axes:
        for hd, lab in zip(*ax.get_legend_handles_labels()):
            key = lab.split(":")[0]
            if key not in [lb.split(":")[0] for lb in labels]:
                handles.append(hd)
                labels.append(lab if "AD" not in lab else key + " (error: flat line)")
    plots.legend_below(fig, axes[0], handles=handles, labels=labels)
    plots.save(fig, path)


# ------------------------------------------------------------------ 3. traces and graphs
TRACED = ("lecture", "homework", "gates")
GRAPH_NAMES = {"lecture": "graph", "homework": "graph_homework", "gates": "graph_gates"}


def gate_sentences(tr) -> list:
    """How each gate passed its adjoint back, read off the recorded contributions (the
    lecture's patterns: add distributes, max routes, multiply switches, branches add)."""
    from fwdrev.trace import _bar, fmt

    steps, out = tr.steps, []
    for i, s in enumerate(steps):
        if s.op == "input" or s.adjoint is None:
            continue
        got = []
        for j, p in enumerate(s.parents):
            if p < 0:
                continue
            value = next((v for c, _, v in steps[p].contributions if c == i), 0.0)
            got.append((steps[p].name, value))
        if not got:
            continue
        bar = f"{_bar(s.name)} = {fmt(s.adjoint)}"
        parts = {steps[p].name: part for p in s.parents if p >= 0
                 for c, part, _ in steps[p].contributions if c == i}
        gets = ", ".join(f"{n} gets {fmt(v)}" for n, v in got)
        consts = [inp for inp, p in zip(s.inputs, s.parents) if p < 0]
        if s.op == "add":
            out.append(f"`{s.name} = {s.expression}`: the add gate **distributes** {bar} "
                       f"unchanged — {gets}.")
        elif s.op == "subtract":
            out.append(f"`{s.name} = {s.expression}`: the subtract gate **distributes** {bar} "
                       f"— unchanged to the first input, negated to the second: {gets}.")
        elif s.gate == "routes":
            out.append(f"`{s.name} = {s.expression}`: the max gate **routes** {bar} to the "
                       f"larger input only — {gets}.")
        elif s.op == "multiply" and len(got) == 2:
            out.append(f"`{s.name} = {s.expression}`: the multiply gate **switches** — each "
                       f"input gets {bar} times the *other* input: {gets}.")
        elif s.op == "multiply" and consts:
            out.append(f"`{s.name} = {s.expression}`: a multiply by the constant {consts[0]} "
                       f"**scales** {bar} by it — {gets}.")
        else:
            how = ", ".join(f"{n} gets {_bar(s.name)}·{parts.get(n, '∂')} = {fmt(v)}"
                            for n, v in got)
            out.append(f"`{s.name} = {s.expression}`: {bar} times the local partial — {how}.")
    for s in steps:
        if len(s.contributions) > 1:
            terms = " + ".join(fmt(v) if float(np.real(v)) >= 0 else f"({fmt(v)})"
                               for _, _, v in s.contributions)
            readers = ", ".join(steps[c].name for c, _, _ in s.contributions)
            out.append(f"**Branch**: {s.name} feeds {readers}; the gradients add: "
                       f"{_bar(s.name)} = {terms} = {fmt(s.adjoint)}.")
    return out


def traces_section(outdir, name, level="##") -> list:
    import fwdrev

    have_dot = shutil.which("dot") is not None
    lines = [f"{level} 3. Evaluation traces and computational graphs", "",
             "Each example traced by `fwdrev.trace` (one recording, swept forward with the "
             "seed ẋ = e1 and backward from f̄ = 1): the forward table lists every node's "
             "value and tangent, the reverse table every adjoint as the sum of its "
             "contributions. In the graphs, edges are coloured by how the gate passes the "
             "adjoint back (blue: an add distributes it; orange: a max routes it; green: a "
             "multiply switches; grey: other ops scale it), labelled with the local partial and "
             "(←) the adjoint they carry back; a double border marks a branch, where adjoints "
             "add. The same output comes from `fwdrev explain --problem NAME` (`--graph "
             "FILE.svg` for the picture).", ""]
    if not have_dot:
        lines += ["Graphviz's `dot` program is not installed here: the graphs are written "
                  "as `.dot` files; render one with `dot -Tpng FILE.dot -o FILE.png` "
                  "(apt-get install graphviz, brew install graphviz).", ""]
    for i, ex_name in enumerate(TRACED):
        ex = explain.example(ex_name)
        tr = fwdrev.trace(ex.fn, *ex.point)
        names = [f"x{k + 1}" for k in range(len(ex.point))]
        head = explain.summary(tr, ex.formula, ex.where, names, list(ex.point), ex.partials,
                               "markdown")
        head[0] = f"{level}# 3.{i + 1} `{ex_name}`: {ex.formula}"
        lines += head + [tr.table("markdown"), ""]
        stem = os.path.join(outdir, f"{name}_{GRAPH_NAMES[ex_name]}")
        if have_dot:
            for suffix in ("svg", "png"):
                tr.render(f"{stem}.{suffix}")
            lines += [f"![the computational graph of {ex_name}]({os.path.basename(stem)}.svg)",
                      "", f"(PNG: [{os.path.basename(stem)}.png]({os.path.basename(stem)}.png))",
                      ""]
        else:
            tr.render(f"{stem}.dot")
            lines += [f"Graph: [{os.path.basename(stem)}.dot]({os.path.basename(stem)}.dot)",
                      ""]
        lines += ["How the adjoint flowed back:", ""]
        lines += [f"- {s}" for s in gate_sentences(tr)] + [""]
    return lines


# ------------------------------------------------------------------ 4. the ReLU Jacobian
def relu_jacobian(opts: Options) -> dict:
    """The n × n Jacobian of relu on an n-vector, built densely by forward mode (n
    directions), against the VJP reverse mode applies (no matrix)."""
    import adcore
    import dualnum
    import tapes

    n = opts.relu_n
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n)
    w = rng.standard_normal(n)
    start = time.perf_counter()
    jac = dualnum.jacobian(adcore.relu)(x)
    build_s = time.perf_counter() - start
    mask = x > 0
    diagonal_ok = bool(np.array_equal(np.diag(jac), mask.astype(float))
                       and np.count_nonzero(jac) == int(mask.sum()))
    _, vjp_fn = tapes.vjp(adcore.relu, x)
    (vjp,) = vjp_fn(w)
    vjp_ok = bool(np.array_equal(vjp, w * mask))
    dense_ok = bool(np.allclose(w @ jac, vjp, rtol=0, atol=0))
    vjp_s = _time(lambda: vjp_fn(w), opts)
    dense_s = _time(lambda: w @ jac, opts)
    rec = tapes.record(adcore.relu, x)
    block = max(1, n // 256)
    m = n // block
    blocks = np.abs(jac[:m * block, :m * block]).reshape(m, block, m, block).max(axis=(1, 3))
    corner = jac[:64, :64].copy()
    from bench.engines.forward import tangent_width

    width = tangent_width(n, None)
    return {"n": n, "build_s": build_s, "passes": -(-n // width), "width": width, "dense_bytes": n * n * 8, "nnz": int(mask.sum()),
            "diagonal_ok": diagonal_ok, "vjp_ok": vjp_ok, "dense_ok": dense_ok,
            "vjp_s": vjp_s, "dense_vjp_s": dense_s, "cotangent_bytes": int(w.nbytes),
            "mask_bytes": int(mask.nbytes), "tape_bytes": int(rec.nbytes),
            "blocks": blocks, "block": block, "corner": corner, "x": x}


def relu_section(data, outdir, name, level="##") -> list:
    path = os.path.join(outdir, f"{name}_relu_jacobian.png")
    plot_relu(data, path)
    n = data["n"]
    vjp_bytes = data["cotangent_bytes"] + data["mask_bytes"]
    return [
        f"{level} 4. The Jacobian of ReLU on a {n}-vector", "",
        f"y = max(x, 0) on x ∈ R^{n} has a {n} × {n} Jacobian: diagonal, 1 where x_i > 0 "
        f"({data['nnz']} of {n} here), 0 everywhere else (SEED §8). Built densely — forward "
        f"mode, {n} directions in {data['passes']} passes of {data['width']} — it took {fmt_time(data['build_s'])} and holds "
        f"{n}² × 8 B = {data['dense_bytes']:,} B ({data['dense_bytes'] / 1e6:.3g} MB, "
        f"{fmt_bytes(data['dense_bytes'])}), of which {data['nnz'] / n ** 2:.2%} is non-zero "
        f"({'checked: exactly diag(x > 0)' if data['diagonal_ok'] else '**NOT diag(x > 0)**'}).",
        "",
        f"Reverse mode never builds it: the VJP w·J = w ⊙ [x > 0] needs the cotangent w "
        f"({n} × 8 B = {fmt_bytes(data['cotangent_bytes'])}) and the mask x > 0 ({n} "
        f"booleans, {fmt_bytes(data['mask_bytes'])}; tapes' recording keeps "
        f"{fmt_bytes(data['tape_bytes'])} for it) — {fmt_bytes(vjp_bytes)} in all, "
        f"{data['dense_bytes'] / vjp_bytes:,.0f}× less than the dense matrix. `tapes.vjp` "
        f"applies it in {fmt_time(data['vjp_s'])}; w @ J with the dense matrix takes "
        f"{fmt_time(data['dense_vjp_s'])} "
        f"({'the same numbers' if data['vjp_ok'] and data['dense_ok'] else '**DIFFERENT numbers**'}).",
        "", f"![the ReLU Jacobian, its corner and its size]({os.path.basename(path)})", ""]


def plot_relu(data, path):
    from matplotlib import ticker

    n, block = data["n"], data["block"]
    fig, (ax_c, ax_f, ax_b) = plt_subplots(1, 3, (15, 5.0))
    corner = data["corner"]
    ax_c.imshow(corner, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
    k = corner.shape[0]
    ax_c.set_title(f"top-left {k} × {k} corner: black = 1 (x_i > 0), white = 0", fontsize=9.5)
    ax_c.set_xlabel("column j (input x_j)")
    ax_c.set_ylabel("row i (output y_i)")
    ax_c.set_xticks(np.arange(0, k, 8))
    ax_c.set_yticks(np.arange(0, k, 8))
    ax_c.set_xticks(np.arange(-0.5, k, 1), minor=True)
    ax_c.set_yticks(np.arange(-0.5, k, 1), minor=True)
    ax_c.grid(True, which="minor", color="#e6e6e6", linewidth=0.4)
    ax_c.tick_params(which="minor", length=0)
    ax_f.imshow(data["blocks"], cmap="Greys", vmin=0, vmax=1, interpolation="nearest",
                extent=(0, data["blocks"].shape[1] * block, data["blocks"].shape[0] * block, 0))
    ax_f.set_title(f"all {n} × {n} entries, in {block} × {block} blocks:\n"
                   "black = the block holds a 1 (only on the diagonal)", fontsize=9.5)
    ax_f.set_xlabel("column j")
    ax_f.set_ylabel("row i")
    # sizes
    items = [("dense Jacobian\n(n² × 8 B)", data["dense_bytes"], "#7f7f7f"),
             ("VJP: cotangent w\n(n × 8 B)", data["cotangent_bytes"], COLORS["reverse AD"]),
             ("VJP: mask x > 0\n(n booleans)", data["mask_bytes"],
              plots.tint(COLORS["reverse AD"], 0.4)),
             ("tapes' recording\nof relu", data["tape_bytes"],
              plots.shade(COLORS["reverse AD"], 0.3))]
    ys = np.arange(len(items))[::-1]
    ax_b.barh(ys, [v for _, v, _ in items], color=[c for _, _, c in items])
    for y, (_, v, _) in zip(ys, items):
        text = f"{v:,} B" + (f" = {fmt_bytes(v)}" if fmt_bytes(v) != f"{v} B" else "")
        ax_b.annotate(text, (v, y), xytext=(4, 0),
                      textcoords="offset points", va="center", fontsize=8)
    ax_b.set_yticks(ys, [t for t, _, _ in items], fontsize=8.5)
    ax_b.set_xscale("log")
    ax_b.set_xlim(min(v for _, v, _ in items) / 3, max(v for _, v, _ in items) * 60)
    ax_b.xaxis.set_major_locator(plots.ScaledLogLocator(scales=[s for _, s in plots.BYTE_UNITS]))
    ax_b.xaxis.set_major_formatter(plots.unit_formatter(None, "bytes"))
    ax_b.xaxis.set_minor_locator(ticker.NullLocator())
    ax_b.set_xlabel("bytes (log scale)")
    ax_b.set_title("memory: the dense matrix vs what the VJP needs", fontsize=9.5)
    ax_b.grid(True, axis="x", alpha=0.3)
    fig.suptitle(f"The Jacobian of ReLU on R^{n}: diagonal, {n}² entries, "
                 f"{data['nnz']} non-zero", fontsize=11)
    plots.save(fig, path)


# ------------------------------------------------------------------ the document
def _clean(outdir, name):
    """The folder holds exactly what this report shows: no picture of an earlier run."""
    for pattern in (f"{name}_*.png", f"{name}_*.svg", f"{name}_*.dot"):
        for old in glob.glob(os.path.join(glob.escape(outdir), pattern)):
            os.remove(old)


def write_report(headers, records, outdir, name, results_path, **options) -> str:
    """Write ``<outdir>/<name>.md`` and its pictures; return the Markdown path."""
    opts = Options(**options)
    os.makedirs(outdir, exist_ok=True)
    _clean(outdir, name)
    started = time.perf_counter()
    h = headers[-1] if headers else {}
    _log("1/5 four ways on the logistic map ...")
    ways = four_ways(opts)
    _log("2/5 the gradient check ...")
    check = gradient_check(opts)
    _log("3/5 traces and graphs ...")
    traces = traces_section(outdir, name)
    _log(f"4/5 the {opts.relu_n}-d ReLU Jacobian ...")
    relu = relu_jacobian(opts)
    _log("5/5 the cascade ...")
    chain = chain_section(records, outdir, f"{name}_chain_vs_", level="##")
    chain = ([chain[0].replace("## The cascade", "## 5. The cascade")] + chain[1:]) if chain \
        else ["## 5. The cascade: the order of the Jacobian product", "",
              "No jacobian-chain records with the chain engines in the results.", ""]
    lines = [f"# The lecture, computed: {name}", "",
             "What fwdrev's lecture (computational graphs, forward and reverse mode, "
             "backprop) works through, each number computed by this run — "
             f"`{argv_string(h.get('argv') or ['fwdrev', 'run', '--suite', 'lecture'])}`.", "",
             "| | |", "|---|---|",
             f"| machine | {h.get('processor') or h.get('machine')}, {h.get('cpu_count')} CPUs, "
             f"{h.get('platform')} |",
             f"| versions | Python {h.get('python')}, NumPy {h.get('numpy')}, fwdrev "
             f"{h.get('fwdrev')}"
             + (f", sympy {ways['sympy_version']}" if ways["sympy"] else ", sympy not installed")
             + (f", mpmath {_mpmath_version()}" if ways["kind"] == "mpmath" else "") + " |",
             f"| started | {h.get('started')} |",
             f"| results | `{os.path.basename(results_path)}` ({len(records)} records: the "
             "cascade; the other sections are computed while writing this report) |", "",
             "1. [Four ways to get a derivative](#1-four-ways-to-get-a-derivative-the-logistic-map)",
             "2. [The gradient check](#2-the-gradient-check-finite-differences-against-the-step-h)",
             "3. [Evaluation traces and computational graphs]"
             "(#3-evaluation-traces-and-computational-graphs)",
             f"4. [The Jacobian of ReLU](#4-the-jacobian-of-relu-on-a-{opts.relu_n}-vector)",
             "5. [The cascade: the order of the Jacobian product]"
             "(#5-the-cascade-the-order-of-the-jacobian-product)", ""]
    lines += four_ways_section(ways, outdir, name)
    lines += gradient_check_section(check, outdir, name)
    lines += traces
    lines += relu_section(relu, outdir, name)
    lines += chain
    lines += [f"*Writing this report (computing sections 1–4, drawing every picture) took "
              f"{time.perf_counter() - started:.1f} s.*", ""]
    path = os.path.join(outdir, f"{name}.md")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return path


def _mpmath_version():
    import mpmath
    return mpmath.__version__
