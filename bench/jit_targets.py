"""Issue 4's targets, measured as ratios in one run: ``python -m bench.jit_targets``.

Every ratio divides two times measured here, in this process, with
:func:`bench.timing.time_call` (first call excluded; median of the samples). Kernels are
warmed up before timing; first-call times (recording + JIT compile, or loading numba's
on-disk cache) are reported separately. Nothing here is a test: the unit tests never
assert a time.

Sections (``--quick`` shrinks every size for a smoke run):

1. logistic map, T = 1e5 (r = 3, see ``bench/problems/logistic_loop.py``): the ``@njit``
   primal, ``dualnum.derivative`` of it (forward, compiled), ``tapes.grad`` of it at a new
   input (reverse, recorded and swept in compiled code), the hand-written numba adjoint,
   and the compiled replay of a Python recording of the same map.
2. extended Rosenbrock as an ``@njit`` scalar loop, n = 1e5: reverse; and the forward
   gradient's cost against n / chunk.
3. tape bytes per recorded scalar op.
4. array tier: NumPy Rosenbrock at n = 1e6 with the Python-level engines — ``tapes.grad``
   and one ``dualnum.jvp`` against the NumPy primal.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np

from bench.timing import time_call


def _t(fn, max_time_s=2.0, samples=7):
    return time_call(fn, min_sample_s=0.02, samples=samples, max_time_s=max_time_s)


def _first(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def rosen_np(x):
    head, tail = x[:-1], x[1:]
    return np.sum(100.0 * (tail - head ** 2) ** 2 + (1.0 - head) ** 2)


def logistic_py(x, T, r):
    v = x
    for _ in range(T):
        v = r * v * (1.0 - v)
    return v


def run(quick=False, out=print, sections=(1, 2, 3, 4)):
    """Measure the given sections in this process; returns the rows and first-call times."""
    results = {"machine": platform.processor() or platform.machine(),
               "python": sys.version.split()[0]}
    import numba
    results["numba"] = numba.__version__
    rows = []

    def row(target, measured, limit, note=""):
        ok = None if limit is None else bool(measured <= limit)
        rows.append({"target": target, "measured": measured, "limit": limit, "met": ok,
                     "note": note})
        mark = "" if ok is None else ("  OK" if ok else "  MISSED")
        lim = "" if limit is None else f" (target <= {limit:g})"
        out(f"  {target:58s} {measured:8.2f}{lim}{mark}  {note}")

    # ---------------------------------------------------------------- 1. logistic map
    T = 1000 if quick else 100_000
    r = 3.0
    ops = 3 * T
    x0, x1 = np.array([0.3]), np.array([0.41])
    n = 2000 if quick else 100_000
    ops_r = 8 * (n // 2)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.5, 1.5, n)
    if 1 in sections:
        _section1(quick, out, row, results, T, r, ops, x0, x1)
    if 2 in sections:
        _section2(quick, out, row, results, n, x, rng, ops_r)
    if 3 in sections:
        _section3(quick, out, row, T, r, ops, x0, x, ops_r, rng)
    if 4 in sections:
        _section4(quick, out, row, rng)
    results["rows"] = rows
    return results


def _section1(quick, out, row, results, T, r, ops, x0, x1):
    import numba

    import dualnum
    import tapes
    from bench.problems.logistic_loop import logistic_loop, logistic_loop_adjoint
    out(f"1. logistic map, T = {T}, r = {r}")
    rev = tapes.grad(logistic_loop)

    @numba.njit
    def logistic_scalar(x, T, r):
        v = x
        for _ in range(T):
            v = r * v * (1.0 - v)
        return v

    d_scalar = dualnum.derivative(logistic_scalar)
    first = {}
    first["forward-jit: dualnum.derivative(njit)(0.3, T) (compile + first call)"] = _first(
        lambda: d_scalar(0.3, T, r))
    first["forward-jit: dualnum.grad on the length-1 array (compile + first call)"] = _first(
        lambda: dualnum.grad(logistic_loop)(x0, T, r))
    first["reverse-jit: tapes.grad (compile + first call)"] = _first(lambda: rev(x0, T, r))
    first["hand-jit (compile or numba cache load)"] = _first(
        lambda: logistic_loop_adjoint(x0, T, r))
    start = time.perf_counter()
    rec_py = tapes.record(lambda z: logistic_py(z, T, r), np.float64(0.3), compiled="scalar")
    rec_py.gradient(np.float64(0.41))
    first["compiled replay: Python recording + lowering + first replay"] = \
        time.perf_counter() - start
    tp = _t(lambda: logistic_loop(x1, T, r)).median_s
    tps = _t(lambda: logistic_scalar(0.41, T, r)).median_s
    tf = _t(lambda: d_scalar(0.41, T, r)).median_s
    tf_arr = _t(lambda: dualnum.grad(logistic_loop)(x1, T, r)).median_s
    tr = _t(lambda: rev(x1, T, r)).median_s
    th = _t(lambda: logistic_loop_adjoint(x1, T, r)).median_s
    trp = _t(lambda: rec_py.gradient(np.float64(0.41))).median_s
    out(f"  primal @njit: {tp * 1e3:.3f} ms ({tp / ops * 1e9:.2f} ns per scalar op)")
    row("forward-jit derivative / primal", tf / tps, 2.0,
        f"{tf / ops * 1e9:.2f} ns/op; via grad on a length-1 array: {tf_arr / tp:.2f}x")
    row("reverse-jit gradient at a new input / primal", tr / tp, 4.0,
        f"{tr / ops * 1e9:.2f} ns/op")
    row("reverse-jit gradient / hand-written numba adjoint", tr / th, 3.0,
        f"hand adjoint = {th / tp:.2f}x primal")
    row("compiled replay of a Python recording (gradient) / primal", trp / tp, None,
        f"{trp / ops * 1e9:.2f} ns/op; {len(rec_py)} recorded ops")
    for k, v in first.items():
        out(f"  first call: {k}: {v:.3f} s")
    results["first_call_s"] = first



def _section2(quick, out, row, results, n, x, rng, ops_r):
    import dualnum
    import tapes
    from bench.problems.rosenbrock_loop import ext_rosenbrock, ext_rosenbrock_grad
    xn = rng.uniform(-1.5, 1.5, n)
    out(f"2. extended Rosenbrock as an @njit loop, n = {n}")
    rev_r = tapes.grad(ext_rosenbrock)
    first_r = _first(lambda: rev_r(x))
    tp = _t(lambda: ext_rosenbrock(xn)).median_s
    tr = _t(lambda: rev_r(xn)).median_s
    th = _t(lambda: ext_rosenbrock_grad(xn)).median_s
    out(f"  primal @njit: {tp * 1e3:.3f} ms ({tp / ops_r * 1e9:.2f} ns per scalar op); "
        f"hand gradient {th / tp:.2f}x; reverse first call {first_r:.2f} s")
    row("reverse-jit gradient / primal", tr / tp, 5.0, f"{tr / ops_r * 1e9:.2f} ns/op")
    sizes = [500, 1000, 2000] if quick else [1000, 2000, 4000, 8000]
    chunks = [1, 4, 8]
    pts = []
    for k in chunks:
        g = dualnum.grad(ext_rosenbrock, chunk=k)
        g(rng.uniform(-1.5, 1.5, sizes[0]))  # compile this chunk width once
        for m in sizes:
            z = rng.uniform(-1.5, 1.5, m)
            t = _t(lambda: g(z), max_time_s=1.0, samples=3).median_s
            tpm = _t(lambda: ext_rosenbrock(z)).median_s
            passes = -(-m // k)
            pts.append((k, m, passes, t, tpm))
    out("  forward-jit gradient cost / primal, by chunk k (rows) and n: (passes = n/k)")
    for k in chunks:
        sel = [q for q in pts if q[0] == k]
        cells = ", ".join(f"n={m}: {t / tpm:.0f}x primal = {p} passes x {t / (p * tpm):.1f}"
                          for _, m, p, t, tpm in sel)
        # slope of log(cost / primal) against log(passes): 1 <=> linear in n / chunk
        slope = float(np.polyfit(np.log([q[2] for q in sel]),
                                 np.log([q[3] / q[4] for q in sel]), 1)[0])
        row(f"forward-jit, k={k}: exponent of cost/primal in n/k", slope, None, cells)
    results["forward_chunk_points"] = pts



def _section3(quick, out, row, T, r, ops, x0, x, ops_r, rng):
    import tapes
    from bench.problems.logistic_loop import logistic_loop
    from bench.problems.rosenbrock_loop import ext_rosenbrock
    out("3. tape bytes per recorded scalar op")
    rec_py = tapes.record(lambda z: logistic_py(z, T, r), np.float64(0.3), compiled="scalar")
    rec_j = tapes.record(logistic_loop, x0, T, r)
    row("reverse-jit (njit) tape, logistic: bytes / scalar op", rec_j.nbytes / ops, 40.0,
        f"{len(rec_j)} entries for {ops} ops (24 B/entry; one-operand ops fold)")
    rec_jr = tapes.record(ext_rosenbrock, x)
    row("reverse-jit (njit) tape, Rosenbrock: bytes / scalar op", rec_jr.nbytes / ops_r, 40.0,
        f"{len(rec_jr)} entries for {ops_r} ops")
    row("compiled replay tape, logistic: bytes / scalar op", rec_py.nbytes / len(rec_py), 40.0,
        "34 B/entry: int16 op, 2 int32 slots, 2 float64 partials, float64 value")
    m = 2000 if quick else 20_000
    rec_rn = tapes.record(rosen_np, rng.uniform(-1.5, 1.5, m), compiled="scalar")
    row(f"compiled replay tape, NumPy Rosenbrock n={m}: bytes / scalar op",
        rec_rn.nbytes / len(rec_rn), 40.0, f"{rec_rn.entries} entries, {len(rec_rn)} ops")



def _section4(quick, out, row, rng):
    import dualnum
    import tapes
    n = 10_000 if quick else 1_000_000
    out(f"4. array tier: NumPy Rosenbrock, n = {n} (Python-level engines)")
    x = rng.uniform(-1.5, 1.5, n)
    v = rng.standard_normal(n)
    g = tapes.grad(rosen_np)
    tp = _t(lambda: rosen_np(x)).median_s
    tg = _t(lambda: g(x)).median_s
    tj = _t(lambda: dualnum.jvp(rosen_np, (x,), (v,))).median_s
    out(f"  primal NumPy: {tp * 1e3:.2f} ms")
    row("tapes.grad / NumPy primal", tg / tp, 4.0)
    row("dualnum.jvp / NumPy primal", tj / tp, 3.0)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.jit_targets", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--json", help="also write the measurements to this JSON file")
    ap.add_argument("--section", type=int, help="run only this section, in this process")
    args = ap.parse_args(argv)
    if args.section:
        res = run(quick=args.quick, sections=(args.section,))
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(res, fh, indent=1, default=float)
        return
    # Each section in a fresh process: the NumPy array tier is sensitive to the heap state
    # an earlier section leaves behind (page faults of freshly mapped memory).
    import subprocess
    import tempfile
    res = {"rows": []}
    for sec in (1, 2, 3, 4):
        with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
            cmd = [sys.executable, "-m", "bench.jit_targets", "--section", str(sec),
                   "--json", tmp.name] + (["--quick"] if args.quick else [])
            subprocess.run(cmd, check=True)
            with open(tmp.name) as fh:
                part = json.load(fh)
        rows = part.pop("rows")
        res.update(part)
        res["rows"] += rows
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1, default=float)
    missed = [r for r in res["rows"] if r["met"] is False]
    print(f"{len(missed)} target(s) missed" if missed else "all targets met")


if __name__ == "__main__":
    main()
