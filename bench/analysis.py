"""Numbers derived from records: log-log slopes, forward/reverse ratios, crossovers.

Everything here is a pure function of result records (dicts as in the results
file), so plots and the report say only what the data says.

A *variant* is an engine plus its non-default settings (``forward[chunk=4]``); a
*series* is the records of one variant along one knob with everything else fixed.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

import numpy as np

KNOBS = ("n", "m", "depth")


def settings_label(rec) -> str:
    """``""`` for default settings, else ``"chunk=4"`` (non-default settings, sorted)."""
    return ",".join(f"{k}={v}" for k, v in sorted((rec.get("settings") or {}).items())
                    if v is not None)


def variant(rec) -> str:
    """``engine`` or ``engine[k=v,...]`` for records with non-default settings."""
    label = settings_label(rec)
    return rec["engine"] + (f"[{label}]" if label else "")


def size_label(r) -> str:
    """A readable size for a record or point: the knobs that vary, params by name (the
    ADBench problems are sized by d, K / cameras, points / l, c, not by n), and the number
    of inputs where the knobs do not say it."""
    params = r.get("params") or {}
    parts = [f"n={r['n']}"] if r.get("n") else []
    if r.get("m") is not None and (r["m"] != 1 or not params):
        parts.append(f"m={r['m']}")
    if r.get("depth") is not None:
        parts.append(f"depth={r['depth']}")
    parts += [f"{k}={v:g}" for k, v in params.items()]
    label = " ".join(parts) or "default size"
    if params and r.get("in_size"):
        label += f" ({r['in_size']} inputs)"
    return label


def usable(records) -> list:
    """Records that have a timing (not failed)."""
    return [r for r in records if not r.get("error") and r.get("time_median_s")]


def fit_slope(xs, ys) -> float | None:
    """Least-squares slope of log(y) against log(x); ``None`` with < 2 distinct x.

    The slope is the empirical exponent: time ~ n^slope.
    """
    pts = [(x, y) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len({x for x, _ in pts}) < 2:
        return None
    lx = np.log([x for x, _ in pts])
    ly = np.log([y for _, y in pts])
    return float(np.polyfit(lx, ly, 1)[0])


def slope_interval(xs, samples, level=0.95, draws=400, seed=0):
    """A bootstrap confidence interval of the log-log slope from the spread of the timing
    samples: each draw fits the slope through one sample picked at random per point.

    ``samples[i]`` are the timed samples of the point ``xs[i]``. Returns ``(lo, hi)``, or
    ``None`` with fewer than two distinct x values or no samples.
    """
    pts = [(x, [s for s in ss if s and s > 0]) for x, ss in zip(xs, samples) if x and x > 0]
    pts = [(x, ss) for x, ss in pts if ss]
    if len({x for x, _ in pts}) < 2:
        return None
    rng = np.random.default_rng(seed)
    lx = np.log([x for x, _ in pts])
    logs = [np.log(ss) for _, ss in pts]
    fits = [np.polyfit(lx, [ls[rng.integers(len(ls))] for ls in logs], 1)[0]
            for _ in range(draws)]
    tail = (1.0 - level) / 2.0 * 100.0
    return float(np.percentile(fits, tail)), float(np.percentile(fits, 100.0 - tail))


def upper_half(xs, ys):
    """The points with the larger half of x (at least 2), where fixed per-call
    overhead matters least -- the fit there estimates the asymptotic exponent."""
    pts = sorted(zip(xs, ys))
    keep = max(2, math.ceil(len(pts) / 2))
    pts = pts[-keep:]
    return [p[0] for p in pts], [p[1] for p in pts]


def series(records, knob, field="time_median_s"):
    """Group records into series along ``knob``.

    Returns ``{(problem, label, engine, fixed): [(x, y), ...]}`` sorted by x, where
    ``label`` is the :func:`settings_label`, ``fixed`` a tuple of ``(name, value)`` of
    the other knobs and params; only series with >= 2 distinct x values are kept.
    """
    groups = defaultdict(dict)
    for r in usable(records):
        y = r.get(field)
        if y is None:
            continue
        fixed = tuple((k, r[k]) for k in KNOBS if k != knob) + \
            (("params", json.dumps(r.get("params") or {}, sort_keys=True)),)
        groups[(r["problem"], settings_label(r), r["engine"], fixed)][r[knob]] = (
            y if field != "samples_s" else list(y))
    return {k: sorted(v.items()) for k, v in groups.items()
            if len({x for x in v if x is not None}) >= 2}


def slopes(records, knob, field="time_median_s") -> list:
    """One row per series: problem, variant, fixed knobs, points, slope (all), slope
    (upper half of the range)."""
    rows = []
    samples = series(records, knob, "samples_s") if field == "time_median_s" else {}
    for key, pts in series(records, knob, field).items():
        problem, label, engine, fixed = key
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        var = engine + (f"[{label}]" if label else "")
        by_x = dict(samples.get(key, ()))
        ux, _ = upper_half(xs, ys)
        interval = slope_interval(ux, [by_x.get(x, ()) for x in ux])
        rows.append({"problem": problem, "variant": var, "engine": engine, "label": label,
                     "fixed": dict(fixed), "knob": knob,
                     "points": len(pts), "x_range": (xs[0], xs[-1]),
                     "slope": fit_slope(xs, ys), "slope_upper": fit_slope(*upper_half(xs, ys)),
                     "slope_upper_ci": interval})
    return rows


def is_flat(slope, interval, noise=0.1) -> bool:
    """A slope that is 0 within noise: its interval contains 0, or it is below ``noise``
    in size (timings of a few microseconds do not resolve smaller exponents)."""
    if slope is None:
        return False
    if interval is not None and interval[0] <= 0.0 <= interval[1]:
        return True
    return abs(slope) < noise


def ratio_points(records, a="forward", b="reverse") -> list:
    """Points measured by both engines with the same settings.

    Dicts with problem, label (settings), n, m, depth, params and ``ratio`` =
    time(a) / time(b) (> 1: ``b`` is faster).
    """
    def index(engine):
        return {(r["problem"], settings_label(r), r["n"], r["m"], r["depth"],
                 json.dumps(r.get("params") or {}, sort_keys=True), r.get("seed")): r
                for r in usable(records) if r["engine"] == engine}
    ra, rb = index(a), index(b)
    out = []
    for key in ra.keys() & rb.keys():
        problem, label, n, m, depth, params, _ = key
        out.append({"problem": problem, "label": label, "n": n, "m": m, "depth": depth,
                    "params": json.loads(params),
                    "ratio": ra[key]["time_median_s"] / rb[key]["time_median_s"]})
    return sorted(out, key=lambda p: (p["problem"], p["label"], repr(p["params"]),
                                      p["depth"] or 0, p["m"], p["n"]))


def ratio_grid(points, problem, label=""):
    """Heat-map layout of ``ratio_points`` for one problem and settings label (first
    depth/params seen).

    Returns ``(ns, ms, grid)`` with ``grid[i, j]`` = ratio at ``ms[i]``, ``ns[j]``
    (NaN where not measured), or ``None`` if the problem lacks a 2 x 2 grid.
    """
    pts = [p for p in points if p["problem"] == problem and p["label"] == label]
    if not pts:
        return None
    first = (pts[0]["depth"], json.dumps(pts[0]["params"], sort_keys=True))
    pts = [p for p in pts if (p["depth"], json.dumps(p["params"], sort_keys=True)) == first]
    ns = sorted({p["n"] for p in pts})
    ms = sorted({p["m"] for p in pts})
    if len(ns) < 2 or len(ms) < 2:
        return None
    grid = np.full((len(ms), len(ns)), np.nan)
    for p in pts:
        grid[ms.index(p["m"]), ns.index(p["n"])] = p["ratio"]
    return ns, ms, grid


def crossings(xs, ratios) -> list:
    """Every x where ``ratio`` crosses 1 along ``xs`` (log-log interpolation), in order.

    A ratio exactly 1 at a point counts as a crossing there.  Noise near ratio 1 can
    give several; callers should say so rather than pick one.
    """
    pts = [(x, r) for x, r in zip(xs, ratios) if r is not None and r > 0 and np.isfinite(r)]
    out = []
    for i, (x0, r0) in enumerate(pts):
        l0 = math.log(r0)
        if l0 == 0:
            out.append(float(x0))
            continue
        if i + 1 < len(pts):
            x1, r1 = pts[i + 1]
            l1 = math.log(r1)
            if l0 * l1 < 0:
                t = l0 / (l0 - l1)
                out.append(float(math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0)))))
    return out


def crossover(xs, ratios) -> float | None:
    """The last crossing of ratio 1 (see :func:`crossings`): beyond it one mode wins
    at every measured size.  ``None`` if the ratio never crosses 1."""
    found = crossings(xs, ratios)
    return found[-1] if found else None


def grad_ratios(records) -> list:
    """Cheap-gradient ratio (derivative time / function time) per problem and variant,
    at the problem's largest input (smallest m and depth there)."""
    rows = {}
    recs = [r for r in usable(records) if r.get("grad_fun_ratio")]
    for r in recs:
        key = (r["problem"], variant(r))
        rank = (r["in_size"], -(r["m"] or 0), -(r["depth"] or 0))
        if key not in rows or rank > rows[key][0]:
            rows[key] = (rank, r)
    return [{"problem": p, "variant": v, "n": r["n"], "in_size": r["in_size"], "m": r["m"],
             "depth": r["depth"], "params": r.get("params"), "ratio": r["grad_fun_ratio"],
             "tier": r.get("fun_tier")}
            for (p, v), (_, r) in sorted(rows.items())]


def settings_sweeps(records) -> list:
    """Records differing only in an engine's settings (e.g. a ``--chunk`` sweep).

    Returns ``[{"problem", "engine", "n", "m", "depth", "times": [(label, median_s)]}]``
    for every group with >= 2 settings, times in the order of the settings values.
    """
    groups = defaultdict(list)
    for r in usable(records):
        key = (r["problem"], r["engine"], r["n"], r["m"], r["depth"],
               json.dumps(r.get("params") or {}, sort_keys=True))
        groups[key].append(r)
    out = []
    for (problem, engine, n, m, depth, _), recs in groups.items():
        if len(recs) < 2:
            continue
        recs.sort(key=lambda r: [(v is not None, v or 0) for _, v in
                                 sorted((r.get("settings") or {}).items())])
        out.append({"problem": problem, "engine": engine, "n": n, "m": m, "depth": depth,
                    "times": [(settings_label(r) or "default", r["time_median_s"])
                              for r in recs]})
    return out
