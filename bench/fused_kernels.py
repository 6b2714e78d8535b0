"""Fused numba kernels vs plain NumPy for elementwise rules: ``python -m bench.fused_kernels``.

For every registered elementwise op (generated from the registry, like everything else),
one numba kernel per mode does the whole rule in a single pass over the arrays:

- forward (dual propagation, one direction): ``t_out[i] = sum_j strong_mul(p_j, t_j[i])``
  with ``p_j = partial_j(out[i], x[i], ...)`` — the registry's partials, ``numba.njit``
  -compiled for scalars;
- reverse (accumulation): ``g_j[i] = strong_mul(p_j, g[i])`` for every input j.

Both are timed against what the Python engines run today (:func:`adcore.rules.jvp` and
:func:`adcore.rules.vjp`, NumPy), on the same inputs, warm, in one process. The kernels
write into preallocated outputs (the most favourable case for them). The table says per
op which is faster; ``--n`` sets the array size.

Result on the development machine (2-core AMD EPYC, NumPy 2.4, numba 0.68): see the
commit message / the issue note — NumPy is as fast or faster for the arithmetic rules
(memory-bound, NumPy's loops are SIMD) and for the transcendental ones (NumPy's SIMD
sin/cos/exp/log beat libm calls per element); numba wins only where NumPy needs several
temporaries for one partial. The engines therefore keep NumPy (see ``decide``).
"""
from __future__ import annotations

import argparse

import numba
import numpy as np

import adcore
from adcore import rules
from adjit import scalar_rules as nr
from bench.timing import time_call

_kernels: dict = {}


def _kernel(op, mode):
    """A fused single-pass kernel for ``op`` (all operands arrays of one shape)."""
    key = (op.name, mode)
    if key in _kernels:
        return _kernels[key]
    rule = nr.scalar_rule(op)
    k = op.nargs
    xs = [f"x{j}" for j in range(k)]
    vals = ", ".join(f"{x}[i]" for x in xs)
    if mode == "jvp":
        ts = [f"t{j}" for j in range(k)]
        src = [f"def kern(out, {', '.join(xs)}, {', '.join(ts)}, res):",
               "    for i in range(out.shape[0]):",
               "        o = out[i]",
               "        acc = 0.0"]
        for j in range(k):
            src += [f"        p = partial{j}(o, {vals})",
                    f"        t = {ts[j]}[i]",
                    "        r = p * t",
                    "        if r != r and (p == 0.0 or t == 0.0):",
                    "            r = 0.0",
                    "        acc += r"]
        src += ["        res[i] = acc"]
    else:
        gs = [f"g{j}" for j in range(k)]
        src = [f"def kern(out, {', '.join(xs)}, g, {', '.join(gs)}):",
               "    for i in range(out.shape[0]):",
               "        o = out[i]",
               "        gi = g[i]"]
        for j in range(k):
            src += [f"        p = partial{j}(o, {vals})",
                    "        r = p * gi",
                    "        if r != r and (p == 0.0 or gi == 0.0):",
                    "            r = 0.0",
                    f"        {gs[j]}[i] = r"]
    scope = {f"partial{j}": rule.partials[j] for j in range(k)}
    exec("\n".join(src) + "\n", scope)  # noqa: S102 - generated from the registry entry
    fn = numba.njit(scope["kern"], error_model="numpy")
    _kernels[key] = fn
    return fn


def measure(op, n, rng):
    with np.errstate(all="ignore"):  # as inside a derivative call (adcore.tracing.Trace)
        return _measure(op, n, rng)


def _measure(op, n, rng):
    xs = [op.domain(j).sample(rng, (n,)) for j in range(op.nargs)]
    out = np.asarray(op.primal(*xs), dtype=float)
    ts = [rng.standard_normal(n) for _ in xs]
    g = rng.standard_normal(n)
    res = np.empty(n)
    outs = [np.empty(n) for _ in xs]
    kj, kv = _kernel(op, "jvp"), _kernel(op, "vjp")
    kj(out, *xs, *ts, res)
    kv(out, *xs, g, *outs)
    # the kernels compute what the NumPy rules compute
    want_t = rules.jvp(op, out, xs, [t[None] for t in ts], {}, 1)[0][0]
    want_g = rules.vjp(op, g[None], (True,) * op.nargs, out, xs, {})[0]
    # (numba's libm and NumPy's SIMD math may differ in the last bits)
    def close(a, b):
        scale = np.nanmax(np.abs(np.where(np.isfinite(b), b, 0.0))) if b.size else 0.0
        return np.allclose(a, b, rtol=1e-9, atol=1e-12 * scale, equal_nan=True)
    assert close(res, want_t), op.name
    for a, b in zip(outs, want_g):
        assert close(a, b[0]), op.name
    tb = [t[None] for t in ts]
    budget = dict(min_sample_s=0.01, samples=5, max_time_s=0.5)
    return {
        "jvp_numpy": time_call(lambda: rules.jvp(op, out, xs, tb, {}, 1), **budget).median_s,
        # fused kernels allocate their outputs too, as the NumPy rules do
        "jvp_fused": time_call(lambda: kj(out, *xs, *ts, np.empty(n)), **budget).median_s,
        "vjp_numpy": time_call(lambda: rules.vjp(op, g[None], (True,) * op.nargs, out, xs, {}),
                               **budget).median_s,
        "vjp_fused": time_call(lambda: kv(out, *xs, g, *[np.empty(n) for _ in xs]),
                               **budget).median_s,
    }


def decide(table, margin=1.2):
    """Ops where the fused kernel beats NumPy by ``margin`` in both modes."""
    return [name for name, t in table.items()
            if t["jvp_numpy"] > margin * t["jvp_fused"] and t["vjp_numpy"] > margin * t["vjp_fused"]]


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.fused_kernels", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="array size (1e6)")
    ap.add_argument("--ops", help="comma-separated op names (default: every elementwise op)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    ops = [op for op in adcore.registered_ops().values() if op.kind == adcore.ELEMENTWISE]
    if args.ops:
        ops = [op for op in ops if op.name in args.ops.split(",")]
    table = {}
    print(f"n = {args.n}; times in ms (median); ratio = NumPy / fused (> 1: fused faster)")
    print(f"{'op':12s} {'jvp numpy':>10s} {'jvp fused':>10s} {'ratio':>6s}   "
          f"{'vjp numpy':>10s} {'vjp fused':>10s} {'ratio':>6s}")
    for op in ops:
        t = table[op.name] = measure(op, args.n, rng)
        print(f"{op.name:12s} {t['jvp_numpy'] * 1e3:10.3f} {t['jvp_fused'] * 1e3:10.3f} "
              f"{t['jvp_numpy'] / t['jvp_fused']:6.2f}   {t['vjp_numpy'] * 1e3:10.3f} "
              f"{t['vjp_fused'] * 1e3:10.3f} {t['vjp_numpy'] / t['vjp_fused']:6.2f}")
    wins = decide(table)
    print(f"fused faster by >1.2x in both modes: {', '.join(wins) or 'none'}")
    return table


if __name__ == "__main__":
    main()
