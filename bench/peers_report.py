"""The peers section of a report: fwdrev next to JAX, PyTorch, autograd, sympy and FD.

:func:`section` returns Markdown lines (and draws its PNGs) when the records hold
any peer engine, else ``[]``; ``bench.report`` appends it.  Every sentence and table
entry is computed from the records:

- **versions** of every engine's library;
- **who wins where**: per measured point, the fastest engine, our best
  (``forward``/``reverse`` and the compiled ones) and each peer's time, and per peer
  a sentence stating at how many points it beats our best and by how much;
- **J/F per size** for the ADBench problems, as in ADBench's tables (F timed in the
  same tool: peers report their own F in ``engine_sizes["own_f_time_s"]``; ours is
  the plain NumPy F), plus **peak memory** per size, which ADBench never measured;
- **compile time** of the jit engines (first call) against their steady state;
- the **expression swell** of symbolic differentiation on the logistic map;
- **agreement**: every peer record's error against ours, disagreements flagged.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench import analysis, plots  # noqa: E402
from bench.report import fmt_bytes as _fmt_bytes, fmt_time as _fmt_time  # noqa: E402

#: fwdrev's own AD engines (the compiled ones when present).
OURS = ("forward", "reverse", "forward-jit", "reverse-jit")
#: Finite differences: baselines, neither ours-AD nor a peer library.
FD = ("fd", "fd-forward")
#: Engines from other libraries.
PEER_PREFIXES = ("jax-", "torch-", "autograd-", "symbolic")
#: The ADBench problems, reported with J/F per size.
ADBENCH = ("gmm", "ba", "lstm")


def is_peer(engine: str) -> bool:
    return engine.startswith(PEER_PREFIXES)




def point_key(r):
    return (r["problem"], r["n"], r["m"], r["depth"],
            json.dumps(r.get("params") or {}, sort_keys=True))


def point_label(r) -> str:
    """A readable size: the knobs that vary for this problem, params included."""
    parts = []
    if r["n"]:
        parts.append(f"n={r['n']}")
    if r["m"] != 1 and not (r.get("params") and r["problem"] in ADBENCH):
        parts.append(f"m={r['m']}")
    if r["depth"] is not None:
        parts.append(f"depth={r['depth']}")
    parts += [f"{k}={v:g}" for k, v in (r.get("params") or {}).items()]
    label = " ".join(parts) or "default"
    if r["problem"] in ADBENCH:
        label += f" ({r['in_size']} in" + (f", {r['out_size']} out)" if r["out_size"] > 1
                                           else ")")
    return label


def _default(records):
    """Usable records with default engine settings (one per engine and point)."""
    out = {}
    for r in analysis.usable(records):
        if any(v is not None for v in (r.get("settings") or {}).values()):
            continue
        out[(point_key(r), r["engine"])] = r
    return out


def _points(records):
    """``{point_key: {engine: record}}`` for points measured by at least one peer."""
    by_point = defaultdict(dict)
    for (key, engine), r in _default(records).items():
        by_point[key][engine] = r
    return {k: v for k, v in by_point.items() if any(is_peer(e) for e in v)}


# ---------------------------------------------------------------- findings


def versions_table(headers, records) -> list:
    h = headers[-1] if headers else {}
    rows = {}
    for r in records:
        rows.setdefault(r["engine"], r.get("engine_version") or "–")
    lines = ["| engine | library version |", "|---|---|"]
    lines += [f"| {e} | {v} |" for e, v in rows.items()]
    lines.append(f"| (all) | Python {h.get('python')}, NumPy {h.get('numpy')} |")
    return lines


def wins(records) -> dict:
    """Per peer: the points it shares with our best, and the ratio ours/peer there."""
    out = defaultdict(list)
    for key, engines in _points(records).items():
        ours = [r for e, r in engines.items() if e in OURS]
        if not ours:
            continue
        best = min(ours, key=lambda r: r["time_median_s"])
        for e, r in engines.items():
            if is_peer(e):
                out[e].append({"label": f"{key[0]} {point_label(r)}", "ours": best["engine"],
                               "ratio": best["time_median_s"] / r["time_median_s"]})
    return out


def win_sentences(records) -> list:
    out = []
    for engine, pts in sorted(wins(records).items()):
        faster = [p for p in pts if p["ratio"] > 1]
        slower = [p for p in pts if p["ratio"] <= 1]
        med = statistics.median(p["ratio"] for p in pts)
        s = (f"**{engine}** is faster than our best engine at {len(faster)} of {len(pts)} "
             f"points (median time ratio ours/{engine} = {med:.3g})")
        if faster:
            top = max(faster, key=lambda p: p["ratio"])
            s += f"; its largest lead is **{top['ratio']:.3g}×** ({top['label']}, vs {top['ours']})"
        if slower:
            low = min(slower, key=lambda p: p["ratio"])
            s += f"; ours leads by up to {1 / low['ratio']:.3g}× ({low['label']}, {low['ours']})"
        out.append(s + ".")
    return out


def wins_table(records) -> list:
    pts = {k: v for k, v in _points(records).items() if any(e in OURS for e in v)}
    engines = [e for e in _engine_order(records) if any(e in v for v in pts.values())]
    lines = ["| problem | size | fastest | " + " | ".join(engines) + " |",
             "|---|---|---|" + "---|" * len(engines)]
    for key in sorted(pts, key=_size_order(pts)):
        row = pts[key]
        fastest = min(row.values(), key=lambda r: r["time_median_s"])
        any_rec = next(iter(row.values()))
        cells = []
        for e in engines:
            r = row.get(e)
            cell = _fmt_time(r["time_median_s"]) if r else "–"
            if r is fastest:
                cell = f"**{cell}**"
            if r is not None and r.get("ok") is False:
                cell += " (WRONG)"
            cells.append(cell)
        lines.append(f"| {key[0]} | {point_label(any_rec)} | {fastest['engine']} | "
                     + " | ".join(cells) + " |")
    return lines


def _engine_order(records):
    seen = list(dict.fromkeys(r["engine"] for r in records))
    ours = [e for e in OURS if e in seen]
    return ours + [e for e in seen if e not in ours]


def own_ratio(r):
    """J/F with F timed in the same tool (ADBench's definition)."""
    own = (r.get("engine_sizes") or {}).get("own_f_time_s")
    if own:
        return r["time_median_s"] / own
    if r["engine"] in OURS or r["engine"] in FD:
        return r.get("grad_fun_ratio")
    return None


def adbench_tables(records) -> list:
    lines = []
    usable = _default(records)
    for problem in ADBENCH:
        recs = [r for (_, _), r in usable.items() if r["problem"] == problem]
        if not recs:
            continue
        engines = [e for e in _engine_order(records) if any(r["engine"] == e for r in recs)]
        sizes = sorted({point_key(r) for r in recs}, key=_size_order_recs(recs))
        head = "| size | F (NumPy) | " + " | ".join(engines) + " |"
        sep = "|---|---|" + "---|" * len(engines)
        jf, mem = [head, sep], [head.replace("F (NumPy)", "F (NumPy) peak"), sep]
        for key in sizes:
            row = {r["engine"]: r for r in recs if point_key(r) == key}
            any_rec = next(iter(row.values()))
            jf.append(f"| {point_label(any_rec)} | {_fmt_time(any_rec['fun_time_median_s'])} | "
                      + " | ".join(_ratio_cell(row.get(e)) for e in engines) + " |")
            mem.append(f"| {point_label(any_rec)} | – | "
                       + " | ".join(_fmt_bytes(row[e].get("peak_mem_bytes")) if e in row
                                    else "–" for e in engines) + " |")
        lines += [f"#### {problem}: J/F (derivative time / F time in the same tool)", "",
                  *jf, "", f"#### {problem}: peak memory of one derivative (over baseline)",
                  "", *mem, ""]
    return lines


def _params_order(key):
    return tuple(sorted(json.loads(key[4]).items()))


def _size_order(pts):
    """Sort key of point keys: problem, input size, then the knobs and params."""
    def order(key):
        r = next(iter(pts[key].values()))
        return (key[0], r["in_size"], key[1], key[2], key[3] or 0, _params_order(key))
    return order


def _size_order_recs(recs):
    by_key = {point_key(r): r for r in recs}
    return lambda key: (by_key[key]["in_size"], key[1], key[2], key[3] or 0,
                        _params_order(key))


def growth_sentences(records) -> list:
    """For each ADBench problem and parameter that varies with the others fixed: the
    fitted log-log slope of each engine's time in that parameter (time ~ p^slope)."""
    out = []
    usable = [r for r in _default(records).values() if r["problem"] in ADBENCH]
    for problem in ADBENCH:
        recs = [r for r in usable if r["problem"] == problem]
        keys = sorted({k for r in recs for k in (r.get("params") or {})})
        for key in keys:
            series = defaultdict(dict)
            for r in recs:
                rest = tuple(sorted((k, v) for k, v in r["params"].items() if k != key))
                series[(r["engine"], rest)][r["params"][key]] = r["time_median_s"]
            parts = []
            for (engine, rest), pts in sorted(series.items(), key=lambda kv: kv[0][0]):
                if len(pts) < 2:
                    continue
                xs = sorted(pts)
                slope = analysis.fit_slope(xs, [pts[x] for x in xs])
                parts.append(f"{engine} {slope:.2f} ({key} = {xs[0]:g}..{xs[-1]:g}: "
                             f"{_fmt_time(pts[xs[0]])} → {_fmt_time(pts[xs[-1]])})")
            if parts:
                out.append(f"**{problem}**, time ~ {key}^slope: " + "; ".join(parts) + ".")
    return out


def _ratio_cell(r):
    if r is None:
        return "–"
    ratio = own_ratio(r)
    cell = "–" if ratio is None else f"{ratio:.3g}"
    return cell + (" (WRONG)" if r.get("ok") is False else "")


def jit_table(records) -> list:
    rows = [r for r in analysis.usable(records) if "jit" in r["engine"] and is_peer(r["engine"])]
    if not rows:
        return []
    lines = ["| problem | size | engine | first call (trace + compile + run) | steady state | "
             "first / steady |", "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["problem"], r["in_size"], r["engine"])):
        lines.append(f"| {r['problem']} | {point_label(r)} | {r['engine']} | "
                     f"{_fmt_time(r.get('first_call_s'))} | {_fmt_time(r['time_median_s'])} | "
                     f"{r['first_call_s'] / r['time_median_s']:.3g} |")
    return lines


def swell_rows(records) -> list:
    """Per depth k of the logistic map: symbolic sizes and times next to AD's."""
    usable = _default(records)
    rows = defaultdict(dict)
    for (_, engine), r in usable.items():
        if r["problem"] == "logistic-map" and r["n"] == 1:
            rows[r["depth"]][engine] = r
    out = []
    for k in sorted(rows):
        sym = rows[k].get("symbolic")
        if not sym:
            continue
        sizes = sym.get("engine_sizes") or {}
        rev = rows[k].get("reverse")
        fwd = rows[k].get("forward")
        out.append({"k": k, "f_ops": sizes.get("f_ops"), "df_ops": sizes.get("df_ops"),
                    "df_ops_cse": sizes.get("df_ops_cse"),
                    "tape_len": ((rev or {}).get("engine_sizes") or {}).get("tape_len"),
                    "symbolic_s": sym["time_median_s"], "derive_s": sym.get("first_call_s"),
                    "reverse_s": rev["time_median_s"] if rev else None,
                    "forward_s": fwd["time_median_s"] if fwd else None})
    return out


def swell_table(rows) -> list:
    lines = ["| k | ops of F (tree) | ops of symbolic F' (tree) | ops of F' after CSE | "
             "reverse tape length | symbolic F' time | derive + lambdify | forward | reverse |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['k']} | {r['f_ops']} | {r['df_ops']} | {r['df_ops_cse']} | "
                     f"{r['tape_len'] if r['tape_len'] is not None else '–'} | "
                     f"{_fmt_time(r['symbolic_s'])} | {_fmt_time(r['derive_s'])} | "
                     f"{_fmt_time(r['forward_s'])} | {_fmt_time(r['reverse_s'])} |")
    return lines


def swell_sentence(rows) -> list:
    if len(rows) < 2:
        return []
    a, b = rows[0], rows[-1]
    growth = (b["df_ops"] / a["df_ops"]) if a["df_ops"] else None
    s = (f"From k = {a['k']} to k = {b['k']} the symbolic derivative grows from "
         f"{a['df_ops']} to {b['df_ops']} operations"
         + (f" ({growth:.3g}×)" if growth else "")
         + f"; after common-subexpression elimination it is {b['df_ops_cse']}")
    if b["tape_len"]:
        s += (f", and our reverse tape holds {b['tape_len']} operations at k = {b['k']} "
              f"(F itself is {3 * b['k']} arithmetic operations in the loop)")
    return [s + "."]


def agreement(records) -> list:
    peers = [r for r in records if is_peer(r["engine"]) or r["engine"] == "fd-forward"]
    if not peers:
        return []
    good = [r for r in peers if not r.get("error") and r.get("ok")]
    errs = [r["max_rel_error"] for r in good if r.get("max_rel_error") is not None]
    out = [f"{len(good)} of {len(peers)} peer/FD records agree with our "
           f"{'/'.join(sorted({r.get('reference') or '?' for r in good}))} result on the same input"
           + (f" (largest normwise relative error {max(errs):.2g})" if errs else "") + "."]
    for r in peers:
        if r.get("error"):
            out.append(f"- **FAILED** {r['engine']} on {r['problem']} {point_label(r)}: {r['error']}")
        elif r.get("ok") is False:
            out.append(f"- **DISAGREES** {r['engine']} on {r['problem']} {point_label(r)}: "
                       f"error {r['max_rel_error']:.3g} > {r['tolerance']} against "
                       f"{r['reference']}")
    return out


# ---------------------------------------------------------------- plots


def _style(engine):
    """Ours thick and solid; peers thin, dashed (forward mode) or dash-dot (reverse).
    Colours: :func:`bench.plots.engine_color`, the same engine in every plot."""
    ours = engine in OURS
    return {"color": plots.engine_color(engine), "linewidth": 2.6 if ours else 1.4,
            "linestyle": "-" if ours else ("--" if engine.endswith("fwd") else "-."),
            "marker": "o" if ours else "s"}


def plot_time_vs(records, problem, knob, path) -> bool:
    """Median derivative time vs ``knob`` (other knobs at their most common value)."""
    usable = [r for r in _default(records).values() if r["problem"] == problem]
    others = [k for k in ("n", "m", "depth") if k != knob]
    combos = defaultdict(set)
    for r in usable:
        combos[tuple(r[k] for k in others)].add(r[knob])
    combos = {k: v for k, v in combos.items() if len(v) >= 2}
    if not combos:
        return False
    fixed = max(combos, key=lambda k: len(combos[k]))
    series = defaultdict(list)
    for r in usable:
        if tuple(r[k] for k in others) == fixed:
            series[r["engine"]].append((r[knob], r["time_median_s"]))
    series = {e: sorted(p) for e, p in series.items() if len(p) >= 2}
    if not any(is_peer(e) for e in series):
        return False
    fig, ax = plots.new_figure(8.5, 5.2)
    for e in _engine_order(records):
        if e in series:
            xs, ys = zip(*series[e])
            s = analysis.fit_slope(xs, ys)
            ax.plot(xs, ys, label=f"{e} (slope {s:.2f})" if s is not None else e, **_style(e))
    ax.set_yscale("log")
    plots.size_axis(ax, [x for p in series.values() for x, _ in p], log=True)
    suffix = plots.unit_axis(ax, "y", "time")
    fixed_txt = ", ".join(f"{k}={v}" for k, v in zip(others, fixed) if v is not None)
    ax.set_xlabel({"n": "n (input size)", "m": "m (output size)", "depth": "depth"}[knob])
    ax.set_ylabel("median time per derivative" + suffix)
    ax.set_title(f"{problem}: fwdrev vs peers, derivative time vs {knob} ({fixed_txt}; "
                 "log-log)\nthick solid: fwdrev; dashed: peers' forward mode; "
                 "dash-dot: reverse", fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    plots.legend_below(fig, ax)
    plots.save(fig, path)
    return True


def _grouped_bars(records, problem, value, kind, ylabel, title, path) -> bool:
    """Bars per size and engine; ``kind`` is ``"ratio"`` or ``"bytes"`` (the y unit)."""
    recs = [r for r in _default(records).values() if r["problem"] == problem]
    if not any(is_peer(r["engine"]) for r in recs):
        return False
    sizes = sorted({point_key(r) for r in recs}, key=_size_order_recs(recs))
    engines = [e for e in _engine_order(records) if any(r["engine"] == e for r in recs)]
    width = 0.85 / max(1, len(engines))
    fig, ax = plots.new_figure(max(8, 2.2 * len(sizes)), 5.2)
    labelled = set()
    values = []
    for j, e in enumerate(engines):
        for i, key in enumerate(sizes):
            r = next((r for r in recs if r["engine"] == e and point_key(r) == key), None)
            v = value(r) if r else None
            if v:
                ax.bar(i + (j - (len(engines) - 1) / 2) * width, v, width,
                       color=_style(e)["color"], label=None if e in labelled else e,
                       hatch="//" if is_peer(e) else "", edgecolor="black", linewidth=0.3)
                labelled.add(e)
                values.append(v)
    drawn = bool(labelled)
    if not drawn:
        plt.close(fig)
        return False
    ax.set_yscale("log")
    if kind == "bytes":
        ylabel += plots.unit_axis(ax, "y", "bytes", values)
    else:
        plots.ratio_axis(ax)
    ax.set_xticks(range(len(sizes)), [point_label(next(r for r in recs if point_key(r) == k))
                                      for k in sizes], fontsize=8)
    ax.set_xlabel("size (ADBench parameters; inputs, outputs)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    plots.legend_below(fig, ax)
    plots.save(fig, path)
    return True


def plot_swell(rows, path) -> bool:
    """Operation counts per depth k: the symbolic derivative's expression against the
    tape; the 3k guide (F's operations in the loop) only with the tape it guides."""
    if len(rows) < 2:
        return False
    ks = [r["k"] for r in rows]
    fig, ax = plots.new_figure(8, 5)
    colors = {"df_ops": plots.engine_color("symbolic"), "f_ops": "#7f7f7f",
              "df_ops_cse": plots.shade(plots.engine_color("symbolic"), 0.45),
              "tape_len": plots.engine_color("reverse")}
    counts = []
    for field, label, style in (("df_ops", "symbolic F' (expression tree)", "o-"),
                                ("f_ops", "closed-form F (expression tree)", "s--"),
                                ("df_ops_cse", "symbolic F' after CSE", "^-"),
                                ("tape_len", "fwdrev reverse: tape length", "D-")):
        ys = [r[field] for r in rows]
        if all(y for y in ys):
            ax.plot(ks, ys, style, label=label, color=colors[field], zorder=3)
            counts += ys
            if field == "tape_len":
                ax.plot(ks, [3 * k for k in ks], color=plots.tint(colors[field], 0.55),
                        linewidth=6, solid_capstyle="round", zorder=2,
                        label="guide for the tape: 3k, F's operations in the loop")
    ax.set_yscale("log")
    plots.count_axis(ax)
    plots.size_axis(ax, ks)
    ax.set_xlabel("k (iterations of the logistic map)")
    ax.set_ylabel("operation count (log scale)")
    ax.set_title("Expression swell: operations of the symbolic derivative vs the AD tape\n"
                 "on l <- 4 l (1 - l), k iterations", fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    plots.legend_below(fig, ax)
    plots.save(fig, path)
    return True


def make_plots(records, outdir, prefix) -> list:
    """``[(title, path), ...]`` of the peers plots drawn into ``outdir``."""
    drawn = []

    def out(name):
        return os.path.join(outdir, f"{prefix}-cmp-{name}.png")

    problems = list(dict.fromkeys(r["problem"] for r in records))
    for problem in (p for p in problems if p not in ADBENCH):   # those get bar charts
        for knob in ("n", "m"):
            path = out(f"time-vs-{knob}-{problem}")
            if plot_time_vs(records, problem, knob, path):
                drawn.append((f"{problem}: time vs {knob}, every engine", path))
    for problem in ADBENCH:
        path = out(f"jf-{problem}")
        if _grouped_bars(records, problem, own_ratio, "ratio",
                         "J/F: derivative time / F time, F timed in the same tool (log scale)",
                         f"{problem}: J/F per size, fwdrev vs peers "
                         "(ADBench's measure; hatched: peers)", path):
            drawn.append((f"{problem}: J/F per size", path))
        path = out(f"memory-{problem}")
        if _grouped_bars(records, problem, lambda r: r.get("peak_mem_bytes"), "bytes",
                         "peak memory over baseline",
                         f"{problem}: peak memory of one derivative, fwdrev vs peers "
                         "(hatched: peers)", path):
            drawn.append((f"{problem}: peak memory per size", path))
    path = out("swell")
    if plot_swell(swell_rows(records), path):
        drawn.append(("expression swell (logistic map, k = 1..8)", path))
    return drawn


# ---------------------------------------------------------------- the section


def section(headers, records, outdir, name) -> list:
    """Markdown lines of the peers section (``[]`` when no peer was measured)."""
    if not any(is_peer(r["engine"]) for r in records):
        return []
    os.makedirs(outdir, exist_ok=True)
    drawn = make_plots(records, outdir, name)
    lines = ["## Peers: fwdrev next to JAX, PyTorch, autograd, sympy and finite differences",
             "", "Every peer differentiates the *same* problem source (the problem's `xp` "
             "argument: `jax.numpy`, a NumPy-style torch namespace, `autograd.numpy`, a "
             "sympy object-array namespace) at the same input, in float64, and its result "
             "is checked against ours.", "", "### Versions", ""]
    lines += versions_table(headers, records)
    lines += ["", "### Who wins where", ""]
    lines += [f"- {s}" for s in win_sentences(records)] or ["No point shared by ours and a peer."]
    lines += ["", "Median derivative time per engine and point (**bold**: fastest).", ""]
    lines += wins_table(records)
    ad = adbench_tables(records)
    if ad:
        lines += ["", "### ADBench problems: J/F per size, and memory", "",
                  "J/F as ADBench defines it: derivative time over F's time *in the same "
                  "tool* (jit engines: jitted F; ours and FD: the NumPy F, also shown).  "
                  "Memory: peak resident memory of one derivative over the baseline, "
                  "every allocation counted (ADBench never measured it).  The BA "
                  "Jacobian is computed *dense* by every engine here (n forward passes "
                  "or m reverse sweeps, no use of its sparsity), so its J/F grows with "
                  "the problem size, unlike ADBench's per-observation sparse J (J/F ~ "
                  "7-70): compare engines within a row, not with ADBench's BA table.", ""]
        lines += [f"- {s}" for s in growth_sentences(records)] + [""] + ad
    jt = jit_table(records)
    if jt:
        lines += ["### Compile time of the jit engines", ""] + jt + [""]
    rows = swell_rows(records)
    if rows:
        lines += ["### Expression swell (the lecture's logistic map)", ""]
        lines += swell_sentence(rows) + [""] + swell_table(rows) + [""]
    lines += ["### Agreement with fwdrev", ""] + agreement(records) + [""]
    if drawn:
        lines += ["### Peers plots", ""]
        for title, path in drawn:
            lines += [f"#### {title}", "", f"![{title}]({os.path.basename(path)})", ""]
    return lines
