"""The compiled tier's speed targets, as ratios in one run: the second table of
``python -m bench.targets`` (alone: ``python -m bench.compiled_targets``).

Rows (the compiled-tier issue's table):

1. NumPy Rosenbrock, n = 1e6: the fused compiled replay's gradient / NumPy f, and against
   ``jax.jit(jax.grad)`` (whose own f is fused by XLA);
2. the MLP 784-512-512-10 (batch 256, float64): fused replay gradient / hand backprop;
3. the tanh-net Jacobian grid, n, m in {1, 16, 256, 1024}: the faster of the fused replay's
   two modes / the faster of JAX jit's ``jacfwd`` and ``jacrev``, every cell;
4. the logistic map: the compiled replay of a Python recording / the ``@njit`` primal;
5. the ``@njit`` scalar-loop Rosenbrock: reverse (tape recorded in compiled code) / primal;
6. first replay of the Rosenbrock tape (recording, lowering, compiling the kernels), and
   the same in a second process, where numba loads the kernels from its on-disk cache.

Timing as :mod:`bench.targets` (medians of warm calls; JAX compiled outside the timed
calls and waited for). Nothing here is a test: the unit tests never assert a time.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np

import tapes
from bench import targets as T


def _rosenbrock(quick):
    n = 10_000 if quick else 1_000_000
    x = np.linspace(-1.0, 1.0, n)
    rec = tapes.record(T._rosen, x, compiled="fused")
    rec.gradient(x * 0.5)
    base = T._t(lambda: T._rosen(x))
    ours = T._t(lambda: rec.gradient(x))
    jax_g = jax_f = None
    jax = T._peer("jax")
    if jax is not None:
        def jax_times():
            gj = jax.jit(jax.grad(lambda v: T._rosen(v, jax.numpy)))
            fj = jax.jit(lambda v: T._rosen(v, jax.numpy))
            xj = jax.numpy.asarray(x)
            gj(xj).block_until_ready()
            fj(xj).block_until_ready()
            return (T._t(lambda: gj(xj).block_until_ready()),
                    T._t(lambda: fj(xj).block_until_ready()))
        jax_g, jax_f = T._try("JAX jit", jax_times) or (None, None)
    r = ours / base
    rows = [T.Row(f"NumPy Rosenbrock n = {n}: fused replay gradient / NumPy f",
                  f"{r:.3g} ({T._fmt_t(ours)}; {rec.plan.fused_ops} ops in one kernel)",
                  f"NumPy f {T._fmt_t(base)}", "≤ 1.0", None if quick else r <= 1.0)]
    if jax_g is None:
        rows.append(T.Row("same, / JAX jit gradient", "–", "JAX not installed", "≤ 15", None))
    else:
        rj = ours / jax_g
        rows.append(T.Row("same, / JAX jit gradient", f"{rj:.3g}",
                          f"JAX jit grad {T._fmt_t(jax_g)} ({jax_g / base:.3g}× NumPy f), "
                          f"JAX jit f {T._fmt_t(jax_f)} ({jax_f / base:.3g}× NumPy f)",
                          "≤ 15", None if quick else rj <= 15))
    return rows


def _mlp(quick):
    loss, hand, ws = T._mlp(np.float64, quick)
    rec = tapes.record(loss, *ws, argnums=(0, 1, 2), compiled="fused")
    rec.gradient(*ws)
    base = T._t(lambda: loss(*ws))
    th = T._t(lambda: hand(*ws))
    tg = T._t(lambda: rec.gradient(*ws))
    peers = {}
    jax = T._peer("jax")
    if jax is not None:
        res = T._try("JAX jit", lambda: T._mlp_peer("JAX jit", np.float64, quick))
        if res is not None:
            peers["JAX jit"] = T._try("JAX jit", lambda: T._t(res[1]) / base)
    ratio = tg / th
    cells = [f"hand backprop {T._fmt_t(th)} ({th / base:.3g}× f)"] + [
        f"{k} {v:.3g}× f" for k, v in peers.items() if v is not None]
    return T.Row(f"MLP {'784-512-512-10, batch 256' if not quick else 'small'}, float64: "
                 "fused replay gradient / hand backprop",
                 f"{ratio:.3g} ({tg / base:.3g}× f)", "; ".join(cells), "≤ 1.0",
                 None if quick else ratio <= 1.0)


def _tanh_grid(quick):
    sizes = (1, 16) if quick else (1, 16, 256, 1024)
    jax = T._peer("jax")
    worst, cells, met = 0.0, [], []
    for n in sizes:
        for m in sizes:
            rng = np.random.default_rng(1)
            w1 = rng.normal(0.0, n ** -0.5, (32, n))
            w2 = rng.normal(0.0, 32 ** -0.5, (m, 32))
            x = rng.standard_normal(n)

            def f(v, xp=np):
                return xp.tanh(w2 @ xp.tanh(w1 @ v))
            rec = tapes.record(f, x, compiled="fused")
            ours = {}
            for mode in ("forward", "reverse"):
                rec.jacobian(x, mode=mode)
                ours[mode] = T._t(lambda mode=mode: rec.jacobian(x, mode=mode))
            best_mode = min(ours, key=ours.get)
            cell = f"({n},{m}) {T._fmt_t(ours[best_mode])} {best_mode}"
            if jax is not None:
                def jax_best():
                    jnp = jax.numpy
                    wj1, wj2 = jnp.asarray(w1), jnp.asarray(w2)

                    def g(v):
                        return jnp.tanh(wj2 @ jnp.tanh(wj1 @ v))
                    best = None
                    for j in (jax.jacfwd, jax.jacrev):
                        jf = jax.jit(j(g))
                        xj = jax.numpy.asarray(x)
                        jf(xj).block_until_ready()
                        t = T._t(lambda: jf(xj).block_until_ready())
                        best = t if best is None else min(best, t)
                    return best
                tj = T._try("JAX jit", jax_best)
                if tj is not None:
                    r = ours[best_mode] / tj
                    worst = max(worst, r)
                    met.append(r <= 1.5)
                    cell += f" / JAX {T._fmt_t(tj)} = {r:.2g}"
            cells.append(cell)
    ours_cell = f"worst cell {worst:.3g}" if met else "–"
    return T.Row("tanh-net Jacobian grid n, m ∈ {" + ", ".join(map(str, sizes)) + "}: "
                 "best fused mode / JAX jit best", ours_cell, "; ".join(cells),
                 "≤ 1.5 every cell", None if quick or not met else all(met))


def _scalar_rows(quick):
    """Rows 4 and 5, measured by :mod:`bench.jit_targets` (its sections 1 and 2)."""
    from bench import jit_targets
    res = jit_targets.run(quick, out=lambda *a: None, sections=(1, 2))
    got = {r["target"]: r for r in res["rows"]}
    rows = []
    rep = got.get("compiled replay of a Python recording (gradient) / primal")
    if rep is not None:
        rows.append(T.Row("logistic map: compiled replay of a Python recording, gradient / "
                          "@njit primal", f"{rep['measured']:.3g}", rep["note"], "≤ 3",
                          None if quick else rep["measured"] <= 3))
    rev = got.get("reverse-jit gradient / primal")
    if rev is not None:
        rows.append(T.Row("@njit scalar-loop Rosenbrock: reverse / primal",
                          f"{rev['measured']:.3g}", rev["note"], "≤ 5",
                          None if quick else rev["measured"] <= 5))
    return rows


_FIRST = textwrap.dedent("""
    import time
    t0 = time.perf_counter()
    import numpy as np
    import numba  # noqa: F401  (the library's own import: a fixed cost of any numba user)
    import tapes
    t1 = time.perf_counter()
    def rosen(x):
        h, t = x[:-1], x[1:]
        return np.sum(100.0 * (t - h ** 2) ** 2 + (1.0 - h) ** 2)
    x = np.linspace(-1.0, 1.0, {n})
    rec = tapes.record(rosen, x, compiled="fused")
    rec.gradient(x)
    t2 = time.perf_counter()
    print(t1 - t0, t2 - t1)
""")


def _first_replay(quick):
    """The first replay in two fresh processes sharing one cache directory: the first
    compiles, the second loads (the user's cache directory, as a user would have it)."""
    n = 1000 if quick else 1_000_000
    import os
    import tempfile
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, FWDREV_CACHE_DIR=cache)
        times = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", _FIRST.format(n=n)], env=env,
                                 capture_output=True, text=True, check=True).stdout.split()
            times.append((float(out[0]), float(out[1])))
    (imp1, first), (imp2, second) = times
    return T.Row(f"first replay of the Rosenbrock tape (n = {n}: record, lower, compile, "
                 "run); second process (kernels from numba's cache)",
                 f"first process {first:.2f} s; second {second:.2f} s",
                 f"import numpy, numba, tapes {imp1:.2f} / {imp2:.2f} s (not counted)",
                 "second process ≤ 0.5 s", second <= 0.5)


def run(quick=False) -> list:
    rows = _rosenbrock(quick)
    rows.append(_mlp(quick))
    rows.append(_tanh_grid(quick))
    rows += _scalar_rows(quick)
    rows.append(_first_replay(quick))
    return rows


def main(argv=None) -> int:
    start = time.perf_counter()
    rows = run("--quick" in (argv or sys.argv[1:]))
    print(T.markdown(rows, "--quick" in (argv or sys.argv[1:]),
                     title="Compiled-tier speed targets"))
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
