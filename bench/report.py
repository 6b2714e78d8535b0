"""The Markdown report: plots, tables, and sentences computed from the records.

Nothing in the findings is pre-written: every sentence is produced from the
measured numbers (which mode wins where, slopes, crossovers, failures), so a run on
other hardware or with a changed engine says what *it* measured.
"""

from __future__ import annotations

import json
import glob
import html
import os
from collections import defaultdict

from bench import analysis, plots
from bench.records import argv_string


def fmt_time(s):
    if s is None:
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= 0.9995 * scale:        # 999.7 µs prints as "1 ms", not "1e+03 µs"
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_bytes(b):
    if b is None:
        return "–"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= 0.9995 * scale * 1000 / 1024 or (unit == "KiB" and b >= scale):
            return f"{b / scale:.3g} {unit}"      # 1010 KiB prints as "0.986 MiB"
    return f"{b} B"


def _exp(x):
    """A fitted exponent with 2 decimals, never "-0.00"."""
    return f"{round(x, 2) + 0.0:.2f}"


def fmt_num(x, digits=3):
    return "–" if x is None else f"{x:.{digits}g}"


def _fixed_text(fixed):
    parts = []
    for k, v in fixed.items():
        if k == "params":
            parts += [f"{pk}={pv:g}" for pk, pv in json.loads(v).items()]
        elif v is not None:
            parts.append(f"{k}={v}")
    return ", ".join(parts) or "—"


# ---------------------------------------------------------------- findings


def ratio_findings(records, a="forward", b="reverse") -> list:
    """Bullets on who wins where, from time(a)/time(b) at points both measured with
    the same settings."""
    points = analysis.ratio_points(records, a, b)
    out = []
    for problem, label in dict.fromkeys((p["problem"], p["label"]) for p in points):
        pts = [p for p in points if p["problem"] == problem and p["label"] == label]
        a_wins = [p for p in pts if p["ratio"] < 1]
        b_wins = [p for p in pts if p["ratio"] > 1]
        name = problem + (f" [{label}]" if label else "")
        head = (f"- **{name}**: {a} is faster at {len(a_wins)} of {len(pts)} measured "
                f"points, {b} at {len(b_wins)}")
        fastest_b = max(pts, key=lambda p: p["ratio"])
        fastest_a = min(pts, key=lambda p: p["ratio"])
        detail = []
        if fastest_b["ratio"] > 1:
            detail.append(f"{b}'s largest lead is {fastest_b['ratio']:.3g}× at "
                          f"{_where(fastest_b)}")
        if fastest_a["ratio"] < 1:
            detail.append(f"{a}'s largest lead is {1 / fastest_a['ratio']:.3g}× at "
                          f"{_where(fastest_a)}")
        out.append(head + (" (" + "; ".join(detail) + ")" if detail else "") + ".")
        out += _crossover_sentences(pts, a, b)
    return out


def _where(p):
    return analysis.size_label(p)


def _crossover_sentences(pts, a, b):
    """Per fixed (m, depth, params): where along n the ratio crosses 1."""
    rows = defaultdict(list)
    for p in pts:
        rows[(p["m"], p["depth"], json.dumps(p["params"], sort_keys=True))].append(p)
    out, cross_vs_m = [], []
    for (m, depth, _), row in sorted(rows.items(), key=lambda kv: (kv[0][1] or 0, kv[0][0])):
        row.sort(key=lambda p: p["n"])
        if len(row) < 2:
            continue
        where = f"m = {m}" + (f", depth = {depth}" if depth is not None else "")
        xs, rs = [p["n"] for p in row], [p["ratio"] for p in row]
        found = analysis.crossings(xs, rs)
        if found:
            cx = found[-1]
            above = a if rs[-1] < 1 else b
            below = b if above == a else a
            if len(found) == 1:
                out.append(f"  - at {where}: the modes cross near n ≈ {cx:.3g} "
                           f"({below} faster below, {above} above).")
            else:
                out.append(f"  - at {where}: the ratio crosses 1 at n ≈ "
                           f"{', '.join(f'{c:.3g}' for c in found)}: the modes are within "
                           f"noise of each other below n ≈ {cx:.3g}; {above} is faster above.")
            cross_vs_m.append((m, cx))
        elif all(r > 1 for r in rs):
            out.append(f"  - at {where}: {b} is faster at every n from {xs[0]} to {xs[-1]} "
                       f"({min(rs):.3g}× to {max(rs):.3g}×).")
        elif all(r < 1 for r in rs):
            out.append(f"  - at {where}: {a} is faster at every n from {xs[0]} to {xs[-1]} "
                       f"({1 / max(rs):.3g}× to {1 / min(rs):.3g}×).")
    if len({m for m, _ in cross_vs_m}) >= 2:
        ratios = [cx / m for m, cx in cross_vs_m]
        slope = analysis.fit_slope([m for m, _ in cross_vs_m], [cx for _, cx in cross_vs_m])
        out.append(f"  - the crossover n grows with m (log-log slope {fmt_num(slope, 2)}); "
                   f"crossover n / m ranges {min(ratios):.2g}–{max(ratios):.2g} "
                   "(theory for equal per-direction cost: n = m).")
    return out


def slope_findings(records) -> list:
    """Sentences: median fitted exponent of time vs n and vs m per problem and variant."""
    out = []
    by = defaultdict(dict)
    for knob in ("n", "m", "depth"):
        for row in analysis.slopes(records, knob):
            if row["slope_upper"] is not None:
                by[(row["problem"], row["variant"])].setdefault(knob, []).append(row)
    for (problem, var), knobs in by.items():
        parts = []
        for knob, rows in knobs.items():
            row = sorted(rows, key=lambda r: r["slope_upper"])[(len(rows) - 1) // 2]  # median
            slope, ci = row["slope_upper"], row["slope_upper_ci"]
            interval = f" [{_exp(ci[0])}, {_exp(ci[1])}]" if ci else ""
            if analysis.is_flat(slope, ci):
                parts.append(f"flat in {knob} (within noise: {knob}^{_exp(slope)}{interval})")
            elif slope < 0:
                parts.append(f"falls with {knob} (like {knob}^{_exp(slope)}{interval}: fixed "
                             "costs amortised, not a law)")
            else:
                parts.append(f"grows like {knob}^{_exp(slope)}{interval}")
        out.append(f"**{problem} / {var}**: time " + "; ".join(parts)
                   + " (median series, fit over the upper half of the range; 95% interval "
                     "from the spread of the timing samples).")
    return out


def settings_findings(records) -> list:
    """Sentences on settings sweeps (e.g. forward's --chunk): which setting was fastest."""
    out = []
    for sw in analysis.settings_sweeps(records):
        if len(sw["times"]) < 3:
            continue      # a grid run twice (default and one setting) is not a sweep
        best = min(sw["times"], key=lambda t: t[1])
        times = ", ".join(f"{label} {fmt_time(t)}" for label, t in sw["times"])
        where = f"n={sw['n']} m={sw['m']}" + (f" depth={sw['depth']}" if sw["depth"] else "")
        out.append(f"**{sw['problem']} / {sw['engine']}** at {where}: {times}; fastest: "
                   f"{best[0]}.")
    return out


def grad_findings(records) -> list:
    rows = analysis.grad_ratios(records)
    out = []
    for problem in dict.fromkeys(r["problem"] for r in rows):
        pr = [r for r in rows if r["problem"] == problem]
        first = pr[0]
        size = analysis.size_label(first) + (
            f" ({first['in_size']} inputs)" if first.get("in_size") not in (first["n"], None)
            and not first.get("params") else "")
        tiers = {r["tier"] for r in pr if r.get("tier")}
        if tiers >= {"python", "compiled"}:  # each engine against its own tier's primal
            parts = "; ".join(
                f"{what}: " + ", ".join(f"{r['variant']} {r['ratio']:.3g}×" for r in
                                        sorted((r for r in pr if r["tier"] == tier),
                                               key=lambda r: r["ratio"]))
                for tier, what in (("compiled", "compiled engines / the @njit primal"),
                                   ("python", "Python engines / the same loop in Python")))
        else:
            parts = ", ".join(f"{r['variant']} {r['ratio']:.3g}×" for r in
                              sorted(pr, key=lambda r: r["ratio"]))
        out.append(f"**{problem}** at {size}: derivative / function time = {parts}.")
        below = [r for r in pr if r["ratio"] < 1.0]
        if below:
            names = ", ".join(f"{r['variant']} ({r['ratio']:.2g}×)" for r in below)
            out.append(f"  Below 1 — a derivative faster than its own function — for {names}: "
                       "the derivative kernel does less or better-vectorised work than the "
                       "primal kernel (a hand-written adjoint fuses the loop the primal runs "
                       "with a dependent sum), or the two timings are within noise; it is not "
                       "a free derivative.")
    return out


def per_op_findings(records) -> list:
    """Nanoseconds per scalar operation, primal and each engine, for scalar-loop problems
    (those that declare ``scalar_ops``), at each problem's largest measured size."""
    from bench.problems import PROBLEMS, Size

    out = []
    for problem in dict.fromkeys(r["problem"] for r in records):
        prob = PROBLEMS.get(problem)
        if prob is None or prob.scalar_ops is None:
            continue
        timed = [r for r in records if r["problem"] == problem and r.get("time_median_s")]
        if not timed:
            continue
        big = max(timed, key=lambda r: (r["n"] or 0) * (r["depth"] or 1))
        at = [r for r in timed if (r["n"], r["depth"]) == (big["n"], big["depth"])]
        ops = prob.scalar_ops(Size(n=big["n"], m=big["m"], depth=big["depth"],
                                   params=big.get("params") or {}))
        primal = big["fun_time_median_s"] / ops * 1e9
        parts = ", ".join(
            f"{r['engine'] + _settings_suffix(r)} {r['time_median_s'] / ops * 1e9:.3g} ns "
            f"({r['time_median_s'] / big['fun_time_median_s']:.3g}× the primal)"
            for r in sorted(at, key=lambda r: r["time_median_s"]))
        size = f"depth={big['depth']}" if big["depth"] is not None else f"n={big['n']}"
        out.append(f"**{problem}** at {size} ({ops} scalar ops): primal {primal:.3g} ns per op; "
                   f"{parts}.")
    return out


def _settings_suffix(r) -> str:
    s = {k: v for k, v in (r.get("settings") or {}).items() if v is not None}
    return f"[{', '.join(f'{k}={v}' for k, v in s.items())}]" if s else ""


def memory_findings(records) -> list:
    """Sentences: peak memory along depth, n and m per engine.

    One sentence per problem, settings and knob: the series at the largest values of
    the other knobs (where memory is largest), if any engine rises above the
    measurement's resolution (smaller values print as "<").  Then, where reverse mode
    reports its tape, how the measured peak compares with the tape's value bytes.
    """
    from bench.memory import RESOLUTION_BYTES

    def fmt(y):
        return f"< {fmt_bytes(RESOLUTION_BYTES)}" if (y or 0) < RESOLUTION_BYTES else fmt_bytes(y)

    def size_rank(fixed):
        return tuple((v or 0) if k != "params" else 0 for k, v in fixed)

    out = []
    for knob in ("depth", "n", "m"):
        groups = defaultdict(lambda: defaultdict(list))
        for (problem, label, engine, fixed), pts in \
                analysis.series(records, knob, "peak_mem_bytes").items():
            groups[(problem, label)][fixed].append((engine, pts))
        for (problem, label), by_fixed in groups.items():
            fixed = max(by_fixed, key=size_rank)
            items = by_fixed[fixed]
            if all((y or 0) < RESOLUTION_BYTES for _, pts in items for _, y in pts):
                continue      # all within the counters' noise: nothing to say
            xs = sorted({x for _, pts in items for x, _ in pts})
            parts = [f"{engine} {' → '.join(fmt(y) for _, y in pts)}" for engine, pts in items]
            name = problem + (f" [{label}]" if label else "")
            out.append(f"**{name}** ({_fixed_text(dict(fixed))}), peak memory over baseline "
                       f"at {knob} = {', '.join(map(str, xs))}: " + "; ".join(parts) + ".")
    # Measured peak against the tape's own account of the values it holds.
    tape_recs = [r for r in analysis.usable(records)
                 if (r.get("engine_sizes") or {}).get("tape_bytes")
                 and (r.get("peak_mem_bytes") or 0) >= 4 * RESOLUTION_BYTES]
    for problem in dict.fromkeys(r["problem"] for r in tape_recs):
        r = max((t for t in tape_recs if t["problem"] == problem),
                key=lambda t: t["peak_mem_bytes"])
        tape = r["engine_sizes"]["tape_bytes"]
        where = analysis.size_label(r)
        ops = r["engine_sizes"].get("tape_len")
        extra = r["peak_mem_bytes"] - tape
        per_op = f", about {fmt_bytes(extra / ops)} per op" if ops and extra > 0 else ""
        out.append(f"**{problem}** {analysis.variant(r)} at {where}: measured peak "
                   f"{fmt_bytes(r['peak_mem_bytes'])} is {r['peak_mem_bytes'] / tape:.3g}× "
                   f"the {fmt_bytes(tape)} of values the tape reports holding "
                   f"({ops} recorded ops{per_op}): the tape's own byte count is only its "
                   "arrays' data; each recorded op also costs a Python node, its tuples and "
                   "NumPy array headers (~100 B each), which dominate for scalar ops.")
    out += _forward_memory_findings(records)
    return out


def _forward_memory_findings(records) -> list:
    """Why forward mode can use more memory than reverse on a scalar loss: no tape, but
    every live value carries k tangents (k = the chunk of directions per pass)."""
    out = []
    by_point = defaultdict(dict)
    for r in analysis.usable(records):
        if r.get("peak_mem_bytes") and r.get("scalar") and r["engine"] in ("forward", "reverse") \
                and not analysis.settings_label(r):
            by_point[(r["problem"], r["n"], r["m"], r["depth"])][r["engine"]] = r
    above = [(k, p) for k, p in by_point.items() if len(p) == 2
             and p["forward"]["peak_mem_bytes"] > p["reverse"]["peak_mem_bytes"]]
    if above:
        (problem, n, *_), p = max(above, key=lambda kp: kp[1]["forward"]["peak_mem_bytes"])
        k = min(n or 1, 64)
        out.append(
            f"Forward mode above reverse at {len(above)} of {len(by_point)} scalar-loss points "
            f"(e.g. **{problem}** n={n}: forward {fmt_bytes(p['forward']['peak_mem_bytes'])}, "
            f"reverse {fmt_bytes(p['reverse']['peak_mem_bytes'])}): forward mode stores no "
            f"tape, but each live value carries k = {k} tangents (one per direction of the "
            "pass, up to 64), so its working set is about k + 1 times the function's, while "
            "reverse keeps one copy of every intermediate.")
    return out


#: a record whose timing samples spread more than this ((max - min) / median) is "noisy"
NOISY_SPREAD = 0.5


def noisy(records) -> list:
    return [r for r in records if (r.get("time_spread") or 0.0) > NOISY_SPREAD]


def noise_findings(records, header) -> list:
    """How trustworthy the timings are: the noisy records, named, and the machine's load."""
    loud = noisy(records)
    timed = [r for r in records if r.get("time_median_s")]
    if not timed:
        return []
    load = header.get("load_avg")
    cpus = header.get("cpu_count")
    where = (f" The load average at the start was {load[0]:.2f} on {cpus} CPUs"
             + (" (a busy machine: other work shared the cores)." if cpus and load[0] > 0.5 * cpus
                else ".") if load else "")
    if not loud:
        return [f"All {len(timed)} timed records have a sample spread below "
                f"{NOISY_SPREAD:.0%}.{where}"]
    worst = sorted(loud, key=lambda r: -r["time_spread"])[:5]
    names = ", ".join(f"{r['problem']} {analysis.variant(r)} {analysis.size_label(r)} "
                      f"({r['time_spread']:.0%})" for r in worst)
    return [f"**{len(loud)} of {len(timed)} records are noisy** (timing spread above "
            f"{NOISY_SPREAD:.0%}, marked ⚠ in the tables): read their numbers as rough; the "
            f"worst: {names}.{where} Ratios measured close together in time are more "
            "reliable than absolute times."]


def correctness_findings(records) -> list:
    failed = [r for r in records if r.get("error")]
    wrong = [r for r in records if not r.get("error") and r.get("ok") is False]
    unchecked = [r for r in records if not r.get("error") and r.get("ok") is None]
    good = len(records) - len(failed) - len(wrong) - len(unchecked)
    out = [f"{good} of {len(records)} records agree with their reference engine within "
           "tolerance."]
    for r in wrong:
        out.append(f"- **WRONG**: {r['problem']} {analysis.variant(r)} {analysis.size_label(r)}"
                   f": max_rel_error {fmt_num(r.get('max_rel_error'))} "
                   f"> {r.get('tolerance')} against {r.get('reference')}.")
    for r in failed:
        out.append(f"- **FAILED**: {r['problem']} {analysis.variant(r)} "
                   f"{analysis.size_label(r)}: {r['error']}")
    for r in unchecked:
        out.append(f"- unchecked (no reference engine available): {r['problem']} "
                   f"{analysis.variant(r)} {analysis.size_label(r)}")
    return out


# ---------------------------------------------------------------- tables


def records_table(records) -> list:
    head = ("| n | m | depth | engine | median | min | spread | first call | f time | "
            "deriv/f | peak mem | engine sizes | rel. error | ok |")
    # Problems sized by --param (the ADBench ones) need their params to tell rows apart.
    with_params = any(r.get("params") for r in records)
    if with_params:
        head = "| params " + head
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for r in sorted(records, key=lambda r: (json.dumps(r.get("params"), sort_keys=True),
                                            r["depth"] or 0, r["m"], r["n"],
                                            analysis.variant(r))):
        sizes = ", ".join(f"{k} {fmt_bytes(v) if k.endswith('bytes') else _size_value(v)}"
                          for k, v in (r.get("engine_sizes") or {}).items())
        params = " ".join(f"{k}={v:g}" for k, v in (r.get("params") or {}).items()) or "–"
        ok = "**FAILED**" if r.get("error") else {True: "yes", False: "**NO**",
                                                   None: "unchecked"}[r.get("ok")]
        lines.append(
            (f"| {params} " if with_params else "") +
            f"| {r['n']} | {r['m']} | {r['depth'] if r['depth'] is not None else '–'} | "
            f"{analysis.variant(r)} | {fmt_time(r.get('time_median_s'))} | "
            f"{fmt_time(r.get('time_min_s'))} | {fmt_num(r.get('time_spread'), 2)}"
            f"{' ⚠' if (r.get('time_spread') or 0.0) > NOISY_SPREAD else ''} | "
            f"{fmt_time(r.get('first_call_s'))} | {fmt_time(r.get('fun_time_median_s'))} | "
            f"{fmt_num(r.get('grad_fun_ratio'))} | {fmt_bytes(r.get('peak_mem_bytes'))} | "
            f"{sizes or '–'} | {fmt_num(r.get('max_rel_error'), 2)} | {ok} |")
    return lines


def _size_value(v):
    return fmt_num(v) if isinstance(v, float) else v


def slopes_table(records) -> list:
    lines = ["| problem | engine | along | fixed | points | range | slope (all) | "
             "slope (upper half) |", "|---|---|---|---|---|---|---|---|"]
    for knob in ("n", "m", "depth"):
        for row in analysis.slopes(records, knob):
            lines.append(f"| {row['problem']} | {row['variant']} | {knob} | "
                         f"{_fixed_text(row['fixed'])} | {row['points']} | "
                         f"{row['x_range'][0]}–{row['x_range'][1]} | "
                         f"{fmt_num(row['slope'], 2)} | {fmt_num(row['slope_upper'], 2)} |")
    return lines


# ---------------------------------------------------------------- document


_METHOD = """\
- **Time**: the first call (building the derivative function: tracing, recording,
  compiling) is timed alone as *first call*.  Then the repeat count doubles until one
  batch lasts ≥ {min_sample} s; up to {samples} such batches are timed and the per-call
  *median*, *min* and *spread* ((max − min) / median) reported.  *f time* is the same
  measurement of the plain function; *deriv/f* = median derivative time / median f time.
- **Memory**: each record's derivative runs again in a fresh Python process: after a
  warm-up call the kernel's resident high-water mark is reset (`/proc/self/clear_refs`)
  and read as the baseline; *peak mem* is the high-water mark after one more call
  minus that baseline.  It counts every allocation (NumPy, numba, BLAS) — not only
  Python's.  glibc's malloc runs with a fixed mmap threshold so freed blocks are
  returned to the system and not silently reused.
- **Correctness**: each record's derivative is compared with a reference engine's on
  the same input (forward ↔ reverse, fd → reverse): normwise relative error
  max|J − J_ref| / max|J_ref|; tolerance {exact_tol:g} between AD engines and
  {approx_tol:g} when finite differences are involved.
- Times are from one run on a shared machine; compare ratios within this report,
  not absolute numbers across machines."""


def _escaped(value):
    """Strings from a results file, safe in Markdown: HTML special characters escaped,
    table pipes escaped, one line (a results file is data, never markup)."""
    if isinstance(value, str):
        return html.escape(value, quote=False).replace("|", "\\|").replace("\n", " ")
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


def write_report(headers, records, outdir, name, results_path) -> str:
    """Write ``<outdir>/<name>.md`` and its PNGs; return the Markdown path."""
    from bench.engines import APPROX_TOL, EXACT_TOL

    os.makedirs(outdir, exist_ok=True)
    headers, records = _escaped(headers), _escaped(records)
    # the folder holds exactly what this report shows: no PNG of an earlier run survives
    for old in glob.glob(os.path.join(glob.escape(outdir), glob.escape(name) + "-*.png")):
        os.remove(old)
    drawn = plots.make_all(records, outdir, name)
    h = headers[-1]
    lines = [f"# fwdrev benchmark report: {name}", "",
             f"Generated by `fwdrev report` from `{os.path.basename(results_path)}` "
             f"({len(records)} records).", "",
             "| | |", "|---|---|",
             f"| command | `{argv_string(h.get('argv') or [])}` |",
             f"| machine | {h.get('processor') or h.get('machine')}, "
             f"{h.get('cpu_count')} CPUs, {h.get('platform')} |",
             f"| versions | Python {h.get('python')}, NumPy {h.get('numpy')}, "
             f"numba {h.get('numba')}, fwdrev {h.get('fwdrev')} |",
             f"| started | {h.get('started')} |"]
    if h.get("load_avg"):
        lines.append(f"| load average at start | {', '.join(f'{v:.2f}' for v in h['load_avg'])} "
                     f"(1, 5, 15 min; {h.get('cpu_count')} CPUs) |")
    lines.append("")
    if len(headers) > 1:
        lines += [f"The file holds {len(headers)} run segments (resumed); the header "
                  "above is the last one.", ""]
    lines += ["## Findings", "", "### Forward vs reverse", ""]
    lines += ratio_findings(records) or ["No point was measured by both forward and reverse."]
    lines += ["", "### Growth (fitted log-log slopes)", ""]
    lines += [f"- {s}" for s in slope_findings(records)] or ["No series with ≥ 2 sizes."]
    sweeps = settings_findings(records)
    chunk_plots = [d for d in drawn if d[0].startswith("time vs chunk size")]
    if sweeps or chunk_plots:
        lines += ["", "### Engine settings", ""] + [f"- {s}" for s in sweeps]
        for kind, problem, _, path in chunk_plots:
            lines += ["", f"![{problem}: {kind}]({os.path.basename(path)})"]
    lines += ["", "### Cheap-gradient ratio", ""]
    lines += [f"- {s}" for s in grad_findings(records)] or ["No data."]
    per_op = per_op_findings(records)
    if per_op:
        lines += ["", "### Time per scalar operation", ""] + [f"- {s}" for s in per_op]
    mem = memory_findings(records)
    if mem:
        lines += ["", "### Memory", ""] + [f"- {s}" for s in mem]
    lines += ["", "### Timing noise", ""] + (noise_findings(records, h) or ["No timings."])
    lines += ["", "### Correctness", ""] + correctness_findings(records)
    # Peers (issue 5): a section of its own, present when any peer engine was measured.
    from bench import peers_report
    lines += [""] + peers_report.section(headers, records, outdir, name)
    # The lecture's cascade (issue 11 §4): present when the chain engines were measured.
    chain = chain_section(records, outdir, f"{name}-chain-vs-")
    if chain:
        lines += [""] + chain
    lines += ["", "## Plots", ""]
    for kind, problem, label, path in drawn:
        if (kind, problem, label, path) in chunk_plots:
            continue          # shown with the engine settings above
        title = (f"{problem}{f' [{label}]' if label else ''}: {kind}" if problem else kind)
        lines += [f"### {title}", "", f"![{title}]({os.path.basename(path)})", ""]
    lines += ["## Slopes", ""] + slopes_table(records) + [""]
    lines += ["## Records", ""]
    for problem in dict.fromkeys(r["problem"] for r in records):
        lines += [f"### {problem}", ""] + records_table(
            [r for r in records if r["problem"] == problem]) + [""]
    timing = h.get("timing") or {}
    lines += ["## Method", "", _METHOD.format(
        min_sample=timing.get("min_sample_s", "?"), samples=timing.get("samples", "?"),
        exact_tol=EXACT_TOL, approx_tol=APPROX_TOL), ""]
    path = os.path.join(outdir, f"{name}.md")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return path


# ---------------------------------------------------------------- the cascade (jacobian-chain)


def chain_section(records, outdir, stem, level="##") -> list:
    """The cascade's section (issue 11 §4): the two multiplication orders of
    ∂L/∂h¹ = c·J_e⋯J_1 on ``jacobian-chain`` -- their plots (``<stem>d.png`` and
    ``<stem>e.png`` in ``outdir``), fitted slopes of time and counted FLOPs, the FLOP and time ratios at the
    largest size, agreement with the reference, and a table. ``[]`` without chain records."""
    chain = [r for r in records if r["problem"] == plots.CHAIN_PROBLEM
             and r["engine"] in plots.CHAIN_ENGINES]
    if not chain:
        return []
    lines = [f"{level} The cascade: the order of the Jacobian product", "",
             "`jacobian-chain`: h¹ = x, h^(k+1) = tanh(W_k h^k) for k = 1..e (width d), "
             "L = c·h^(e+1). Its gradient is a product of the layers' Jacobians "
             "J_k = diag(1 − (h^(k+1))²) W_k, each built as a plain d × d NumPy array: "
             "∂L/∂h¹ = c·J_e⋯J_2·J_1. **matrix-first** multiplies from the input side, "
             "M ← J_k M (d × d by d × d: forward accumulation, O(e·d³)); **vector-first** from "
             "the output side, v ← v J_k (1 × d by d × d: reverse accumulation, O(e·d²)). "
             "The FLOPs are counted by the engines where they compute (a multiply-add is 2); "
             "both run NumPy's BLAS on one thread, the one processor the FLOP model counts "
             "(fwdrev's forward and reverse modes, drawn beside them where measured, use the "
             "BLAS as configured).", ""]
    for knob in ("n", "depth"):
        path = os.path.join(outdir, f"{stem}{'d' if knob == 'n' else 'e'}.png")
        if plots.plot_chain(records, knob, path):
            what = "the width d" if knob == "n" else "the number of layers e"
            lines += [f"![jacobian-chain: time and FLOPs vs {what}]({os.path.basename(path)})",
                      ""]
    rows = ["| along | fixed | engine | points | time slope (all) | time slope (upper half) | "
            "FLOP slope (upper half) | theory (FLOPs) |", "|---|---|---|---|---|---|---|---|"]
    sentences = []
    for knob in ("n", "depth"):
        fixed, series = plots.chain_series(records, knob)
        if not series:
            continue
        letter = "d" if knob == "n" else "e"
        fixed_text = f"{'e' if knob == 'n' else 'd'} = {fixed[1]}"
        for engine, row in plots.chain_slopes(series).items():
            flops = row.get("flops")
            theory = plots.CHAIN_THEORY.get(engine, {}).get(knob)
            rows.append(f"| {letter} | {fixed_text} | {engine} | {len(series[engine])} | "
                        f"{fmt_num(row['time'][0], 3)} | {fmt_num(row['time'][1], 3)} | "
                        f"{fmt_num(flops[1], 3) if flops else '–'} | "
                        f"{theory if theory is not None else '–'} |")
        mf, vf = series.get("chain-matrix-first"), series.get("chain-vector-first")
        if mf and vf:
            slopes = plots.chain_slopes(series)
            big = {p[0]: p for p in mf}.keys() & {p[0]: p for p in vf}.keys()
            if big:
                x, x0 = max(big), min(big)
                m = next(p for p in mf if p[0] == x)
                v = next(p for p in vf if p[0] == x)
                first_ratio = next(p[1] for p in mf if p[0] == x0) / \
                    next(p[1] for p in vf if p[0] == x0)
                sentences.append(
                    f"- Along {letter} ({fixed_text}): matrix-first's time grows like "
                    f"{letter}^{_exp(slopes['chain-matrix-first']['time'][1])} and its FLOPs like "
                    f"{letter}^{_exp(slopes['chain-matrix-first']['flops'][1])}; vector-first's "
                    f"time like {letter}^{_exp(slopes['chain-vector-first']['time'][1])}, FLOPs "
                    f"like {letter}^{_exp(slopes['chain-vector-first']['flops'][1])} (upper half "
                    f"of the range). At {letter} = {x}: matrix-first does "
                    f"{m[2] / v[2]:.3g}× the FLOPs ({plots._flop_text(m[2])} vs "
                    f"{plots._flop_text(v[2])}) and takes {m[1] / v[1]:.3g}× the time "
                    f"({fmt_time(m[1])} vs {fmt_time(v[1])}): it runs at "
                    f"{m[2] / m[1] / 1e9:.3g} GFLOP/s against vector-first's "
                    f"{v[2] / v[1] / 1e9:.3g} — a matrix product reuses every entry it loads, "
                    "a vector-matrix product reads each once — so the times differ by less "
                    f"than the FLOPs; the time ratio is {first_ratio:.3g}× at {letter} = "
                    f"{x0}.")
    lines += sentences + [""] + rows + [""]
    # the engines' own forward and reverse modes, where measured beside them
    fwd = {(r["n"], r["depth"], r["engine"]): r for r in analysis.usable(records)
           if r["problem"] == plots.CHAIN_PROBLEM and r["engine"] in plots.CHAIN_CONTEXT
           and not analysis.settings_label(r)}
    # agreement with the reference (tapes' reverse gradient)
    bad = [r for r in chain if r.get("error") or r.get("ok") is not True]
    checked = [r for r in chain if r.get("ok") is True]
    worst = max((r["max_rel_error"] for r in checked if r.get("max_rel_error") is not None),
                default=None)
    refs = sorted({r.get("reference") for r in checked if r.get("reference")})
    ref_text = ", ".join(f"{r} (`tapes.grad`)" if r == "reverse" else r for r in refs)
    lines.append(f"Both orders agree with the reference engine's gradient, {ref_text or '–'}, "
                 f"at {len(checked)} of {len(chain)} records"
                 + (f"; largest normwise relative error {worst:.2g}" if worst is not None
                    else "") + ".")
    for r in bad:
        what = r.get("error") or (f"max_rel_error {fmt_num(r.get('max_rel_error'))} against "
                                  f"{r.get('reference')}")
        lines.append(f"- **{'FAILED' if r.get('error') else 'NOT CHECKED' if r.get('ok') is None else 'WRONG'}**: "
                     f"{r['engine']} d={r['n']} e={r['depth']}: {what}")
    lines += ["", "| d | e | engine | median time | FLOPs | GFLOP/s | peak mem | rel. error "
              "vs reference | ok |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(chain + list(fwd.values()), key=lambda r: (r["depth"], r["n"], r["engine"])):
        flops = (r.get("engine_sizes") or {}).get("flops")
        t = r.get("time_median_s")
        rate = f"{flops / t / 1e9:.3g}" if flops and t else "–"
        ok = "**FAILED**" if r.get("error") else {True: "yes", False: "**NO**",
                                                   None: "unchecked"}[r.get("ok")]
        lines.append(f"| {r['n']} | {r['depth']} | {r['engine']} | {fmt_time(t)} | "
                     f"{plots._flop_text(flops) if flops else '–'} | {rate} | "
                     f"{_peak_text(r.get('peak_mem_bytes'))} | "
                     f"{fmt_num(r.get('max_rel_error'), 2)} | {ok} |")
    lines.append("")
    return lines


def _peak_text(b):
    """A peak memory, "< 256 KiB" below the measurement's resolution."""
    from bench.memory import RESOLUTION_BYTES

    if b is None:
        return "–"
    return f"< {fmt_bytes(RESOLUTION_BYTES)}" if b < RESOLUTION_BYTES else fmt_bytes(b)
