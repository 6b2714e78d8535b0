"""The speed targets, measured as ratios in one run: ``python -m bench.targets``.

Two tables: the eager tier's (this module) and the compiled tier's
(:mod:`bench.compiled_targets`; ``--only eager`` / ``--only compiled`` for one).

Each row of the speed issue's table is measured on this machine, in one run, against
hand-written NumPy always and against the installed peers -- PyTorch (eager; ``torch.func``
for Jacobians), HIPS autograd, JAX (eager and ``jax.jit``) -- and marked met or missed.
Writes ``reports/targets.md`` (``--out``). A peer that is not installed (or whose import
fails) is one line in the report's header and a dash in its cells, never an error; a peer
that fails while being measured is a dash and a note under the table.

**Time**: medians of :func:`bench.timing.time_call` (warm-up call excluded, batches of at
least 20 ms, up to 5 samples within 2 s). JAX jit is compiled once, outside the
steady-state time (its first call, "compile", is shown where it matters) and every JAX
result is waited for (``block_until_ready``). Peers get NumPy float64 inputs and the
conversion is timed: ``torch.from_numpy`` in, ``.numpy()`` out; JAX converts NumPy inputs
itself. The MLP's weights and data are made into each library's arrays once, as a training
loop holds them. JAX runs with ``jax_enable_x64``.

**Threads**: every library keeps its default (the header states torch's intra-op thread
count and the thread environment variables). On a shared 2-core machine with one core
busy, multi-threaded kernels -- NumPy's OpenBLAS matmuls, torch's ops -- can run ten times
slower or worse (threads waiting for the busy core; ``bench.engines.torch_engines`` pins
torch to one thread for that reason). Read those rows with the report's load line.

**Memory**: ``tracemalloc`` sees NumPy's and Python's allocations, so it measures fwdrev,
hand NumPy and autograd exactly. It does not see torch's C++ allocator nor XLA's, so torch
and JAX peaks are the kernel's resident high-water mark of one warm call in a fresh process
(:func:`bench.memory.measure_peak`, "VmHWM"; resolution about 256 KiB, Linux only; a dash
elsewhere). fwdrev's peaks are also given by VmHWM, the like-for-like comparison.

**Page faults**: minor page faults (``ru_minflt``) of one warm Rosenbrock gradient at the
largest n, median of 3 calls, each library in a fresh process with the default malloc
(glibc's malloc adapts as large blocks are freed, so in this process the count would depend
on the rows measured before). The row has no goal (met: a dash).

**Not measured**: JAX's tape bytes per op -- jit keeps no tape, and eager ``jax.grad`` of
the row's 6e4 scalar ops would take about 16 s a call here (0.8 s per 3e3 ops), twice in
the measuring process: beyond the run's budget.

The machine is shared and noisy: read ratios, and the load line at the top of the report.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import importlib
import os
import resource
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

import bench
import dualnum
import fwdrev
import tapes
from bench.memory import measure_peak, tracemalloc_peak
from bench.timing import time_call

#: The peer libraries, by import name.
PEERS = ("torch", "autograd", "jax")
#: Peer columns: label -> the library it needs.
LIBRARY = {"torch": "torch", "autograd": "autograd", "JAX eager": "jax", "JAX jit": "jax"}
GRAD_PEERS = tuple(LIBRARY)
#: Environment variables that set the BLAS / OpenMP thread pools (stated in the header).
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: Failures of installed peers during this run (one line each, printed under the table).
NOTES: list = []


@dataclasses.dataclass
class Row:
    measure: str
    ours: str
    peers: str
    goal: str
    met: bool | None  # None: not decidable here (a peer missing, quick sizes, no goal)


# ------------------------------------------------------------------------------ helpers
@functools.lru_cache(maxsize=None)
def _peer(name: str):
    """The peer library ``name`` imported (JAX with float64 on), or None if unavailable."""
    try:
        lib = importlib.import_module(name)
        if name == "autograd":
            importlib.import_module("autograd.numpy")
        elif name == "torch":
            importlib.import_module("torch.func")
        elif name == "jax":
            lib.config.update("jax_enable_x64", True)
        return lib
    except Exception:  # not installed, or an install that cannot import: a dash
        return None


def _try(label, thunk):
    """``thunk()``, or None (with a note) if it raises: one failing peer is one dash."""
    try:
        return thunk()
    except Exception as exc:  # noqa: BLE001 -- a peer's failure is reported, not raised
        msg = str(exc).strip().splitlines()
        detail = f": {msg[0][:120]}" if msg else ""
        NOTES.append(f"{label} failed: {type(exc).__name__}{detail}")
        return None


def _timing(fn):
    return time_call(fn, samples=5, max_time_s=2.0)


def _t(fn) -> float:
    return _timing(fn).median_s




def _vmhwm(label, problem, size):
    """Resident high-water mark of one warm gradient in a fresh process, or None."""
    res = measure_peak("bench.targets:_thunk", {"label": label, "problem": problem, "size": size})
    if res.peak_bytes is None:
        NOTES.append(f"{label} peak ({problem}) not measured: {res.error}")
    return res.peak_bytes


def _minflt(fn) -> int:
    """Minor page faults of one warm call (median of 3, after a warm-up call)."""
    fn()
    counts = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        fn()
        counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return int(statistics.median(counts))


def _fresh_minflt(label, n):
    """:func:`_minflt` of the Rosenbrock gradient at ``n`` in a fresh process, or None.

    Fresh, because glibc's malloc adapts (its mmap threshold rises as large blocks are
    freed), so in this process the count would depend on the rows measured before."""
    root = Path(bench.__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), *sys.path[1:]]))
    code = ("import sys; from bench import targets; "
            "print(targets._minflt(targets._thunk(sys.argv[1], 'rosenbrock', int(sys.argv[2]))))")
    try:
        proc = subprocess.run([sys.executable, "-c", code, label, str(n)], env=env,
                              capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        proc = None
    if proc is None or proc.returncode != 0:
        last = "timed out" if proc is None else (proc.stderr.strip().splitlines() or ["?"])[-1]
        NOTES.append(f"{label} page faults not measured: {last[:120]}")
        return None
    return int(proc.stdout.split()[-1])


def _all_met(*parts) -> bool | None:
    """Missed if any part is missed, else undecided if any part is undecided, else met."""
    if any(p is False for p in parts):
        return False
    return None if any(p is None for p in parts) else True


def _fmt_t(s: float) -> str:
    return f"{s * 1e6:.3g} µs" if s < 1e-3 else f"{s * 1e3:.3g} ms"


def _fmt_b(b) -> str:
    return "–" if b is None else f"{b / 2 ** 20:.1f} MiB"


def _cells(figures: dict, fmt=str) -> str:
    """``label figure`` for every peer column, a dash where the figure is missing (a string
    figure is shown as it is)."""
    return ", ".join(f"{k} {'–' if v is None else v if isinstance(v, str) else fmt(v)}"
                     for k, v in figures.items())


# ------------------------------------------------------------------- peer gradients
def _torch_grad(make_f):
    """x (NumPy array or float) -> df/dx (NumPy) by one torch backward, conversions timed."""
    torch = _peer("torch")
    f = make_f(torch)

    def g(x):
        xt = (torch.from_numpy(x) if isinstance(x, np.ndarray)
              else torch.tensor(x, dtype=torch.float64)).requires_grad_()
        f(xt).backward()
        return xt.grad.numpy()
    return g


def _autograd_grad(make_f):
    import autograd.numpy as anp
    return _peer("autograd").grad(make_f(anp))


def _jax_grad(make_f, jit):
    jax = _peer("jax")
    g = jax.grad(make_f(jax.numpy))
    g = jax.jit(g) if jit else g
    return lambda x: g(x).block_until_ready()


_GRAD = {"torch": _torch_grad, "autograd": _autograd_grad,
         "JAX eager": functools.partial(_jax_grad, jit=False),
         "JAX jit": functools.partial(_jax_grad, jit=True)}


def _grad_fn(label, make_f):
    """The gradient of ``make_f(xp)`` by fwdrev (tapes), or a peer (None: not installed)."""
    if label == "fwdrev":
        return tapes.grad(make_f(np))
    return None if _peer(LIBRARY[label]) is None else _GRAD[label](make_f)


def _peer_timings(make_f, x, labels=GRAD_PEERS) -> dict:
    """label -> Timing of the peer's gradient of ``make_f(xp)`` at ``x`` (None: absent)."""
    out = {}
    for label in labels:
        g = _try(label, lambda: _grad_fn(label, make_f))
        out[label] = None if g is None else _try(label, lambda: _timing(lambda: g(x)))
    return out


# -------------------------------------------------------------------------- problems
def _chain(k, xp=np):
    def f(v):
        for _ in range(k):
            v = v * 1.0001
        return xp.sum(v)
    return f


def _logistic(steps):
    """The logistic map on Python floats, ``steps`` steps of 3 scalar ops."""
    def f(x):
        for _ in range(steps):
            x = 4.0 * x * (1.0 - x)
        return x
    return f


def _rosen(x, xp=np):
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _rosen_grad_hand(x):
    g = np.zeros_like(x)
    d = x[1:] - x[:-1] ** 2
    g[:-1] = -400.0 * x[:-1] * d - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * d
    return g


def _problem(problem, size):
    """(make_f, x): ``make_f(xp)`` is the function in namespace ``xp``, ``x`` its input."""
    if problem == "logistic":
        return (lambda xp: _logistic(size)), 0.3
    return (lambda xp: functools.partial(_rosen, xp=xp)), np.linspace(-1.0, 1.0, size)


def _thunk(label, problem, size):
    """Factory for :func:`bench.memory.measure_peak`: one gradient, in a fresh process."""
    make_f, x = _problem(problem, size)
    g = _rosen_grad_hand if label == "hand NumPy" else _grad_fn(label, make_f)
    return lambda: g(x)


# ------------------------------------------------------------------------------ rows
def marginal_op_cost(quick: bool) -> Row:
    """Cost of one more op on a length-1 array: the slope of time vs chain length."""
    lengths = (10, 40) if quick else (50, 400)
    x = np.array([0.3])
    span = lengths[1] - lengths[0]
    per = {}
    for name, grad in (("reverse", tapes.grad), ("forward", dualnum.grad)):
        a, b = (_t(lambda k=k: grad(_chain(k))(x)) for k in lengths)
        per[name] = (b - a) / span
    labels = ("torch", "autograd", "JAX eager")
    a, b = (_peer_timings(lambda xp, k=k: _chain(k, xp), x, labels) for k in lengths)
    peers = {k: None if a[k] is None or b[k] is None else (b[k].median_s - a[k].median_s) / span
             for k in labels}
    met = None if peers["torch"] is None else max(per.values()) <= peers["torch"]
    return Row("marginal cost of one more op, length-1 array: reverse / forward",
               f"{_fmt_t(per['reverse'])} / {_fmt_t(per['forward'])}",
               _cells(peers, _fmt_t), "≤ torch, both modes", met)


def logistic_per_iteration(quick: bool) -> Row:
    steps = 100 if quick else 1000
    g = tapes.grad(_logistic(steps))
    per = _t(lambda: g(0.3)) / steps
    peers = _peer_timings(lambda xp: _logistic(steps), 0.3)

    def fmt(tm):
        return _fmt_t(tm.median_s / steps) + (
            f" (compile {tm.first_call_s:.2g} s)" if tm is peers["JAX jit"] else "")
    return Row(f"logistic map on Python floats, T = {steps}, per iteration: tapes.grad",
               _fmt_t(per), _cells(peers, fmt), "≤ 8 µs", per <= 8e-6)


def tape_bytes_per_op(quick: bool) -> Row:
    steps = 2000 if quick else 20_000
    ops = 3 * steps
    per = tracemalloc_peak(lambda: tapes.grad(_logistic(steps))(0.3)) / ops
    hwm = _vmhwm("fwdrev", "logistic", steps)
    ours = f"{per:.0f} B" + ("" if hwm is None else f" (VmHWM {hwm / ops:.0f} B)")
    peers = {"torch (VmHWM)": None, "autograd (tracemalloc)": None,
             "JAX": None if _peer("jax") is None else "not measured (see bench.targets)"}
    if _peer("torch") is not None:
        peers["torch (VmHWM)"] = _vmhwm("torch", "logistic", steps)
    g = _try("autograd", lambda: _grad_fn("autograd", _problem("logistic", steps)[0]))
    if g is not None:
        peers["autograd (tracemalloc)"] = _try("autograd", lambda: tracemalloc_peak(lambda: g(0.3)))
    return Row(f"recorded tape, per scalar op (measured peak / {ops} ops; fwdrev: tracemalloc)",
               ours, _cells(peers, lambda b: f"{b / ops:.0f} B"), "≤ 150 B", per <= 150)


def rosenbrock(quick: bool) -> list:
    sizes = (100, 10_000) if quick else (100, 10_000, 1_000_000)
    ours, hands = [], []
    peers = {label: [] for label in GRAD_PEERS}
    make_f = _problem("rosenbrock", 1)[0]
    g = tapes.grad(_rosen)
    for n in sizes:
        x = np.linspace(-1.0, 1.0, n)
        base = _t(lambda: _rosen(x))
        ours.append(_t(lambda: g(x)) / base)
        hands.append(_t(lambda: _rosen_grad_hand(x)) / base)
        for label, tm in _peer_timings(make_f, x).items():
            peers[label].append(None if tm is None else tm.median_s / base)

    def series(rs):
        return " / ".join("–" if r is None else f"{r:.3g}" for r in rs)
    torch_met = [None if t is None else r <= t for r, t in zip(ours, peers["torch"])]
    met = None if quick else _all_met(ours[-1] <= 2.0, *torch_met)
    cell = "; ".join([f"hand NumPy {series(hands)}"]
                     + [f"{label} {series(rs)}" for label, rs in peers.items()])
    rows = [Row(f"NumPy Rosenbrock, gradient / NumPy f, n = {' / '.join(map(str, sizes))}",
                series(ours), cell, "≤ torch at every n; ≤ 2 at 1e6", met)]

    n = sizes[-1]
    x = np.linspace(-1.0, 1.0, n)
    peak = tracemalloc_peak(lambda: g(x))
    hwm = _vmhwm("fwdrev", "rosenbrock", n)
    mem = {"hand NumPy (tracemalloc)": tracemalloc_peak(lambda: _rosen_grad_hand(x)),
           "autograd (tracemalloc)": None,
           "torch (VmHWM)": None, "JAX eager (VmHWM)": None, "JAX jit (VmHWM)": None}
    ag = _try("autograd", lambda: _grad_fn("autograd", make_f))
    if ag is not None:
        mem["autograd (tracemalloc)"] = _try("autograd", lambda: tracemalloc_peak(lambda: ag(x)))
    for label in ("torch", "JAX eager", "JAX jit"):
        if _peer(LIBRARY[label]) is not None:
            mem[f"{label} (VmHWM)"] = _try(label, lambda: _vmhwm(label, "rosenbrock", n))
    rows.append(Row(f"peak memory of that gradient at n = {n} (fwdrev: tracemalloc)",
                    f"{_fmt_b(peak)} (VmHWM {_fmt_b(hwm)})", _cells(mem, _fmt_b),
                    "≤ 40 MB at 1e6", None if quick else peak <= 40e6))

    faults = {label: None if label in LIBRARY and _peer(LIBRARY[label]) is None
              else _fresh_minflt(label, n) for label in ("hand NumPy", *GRAD_PEERS)}
    rows.append(Row(f"minor page faults per gradient at n = {n} (one warm call, fresh process)",
                    str(_fresh_minflt("fwdrev", n)), _cells(faults), "– (reported)", None))
    return rows


def _mlp_data(dtype, quick):
    rng = np.random.default_rng(0)
    batch = 32 if quick else 256
    sizes = (784, 512, 512, 10) if not quick else (64, 32, 32, 10)
    ws = [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(dtype)
          for a, b in zip(sizes, sizes[1:])]
    xb = rng.standard_normal((batch, sizes[0])).astype(dtype)
    yb = rng.integers(0, 10, batch)
    return ws, xb, yb


def _mlp_loss(xp, xb, yb):
    """The MLP's mean cross-entropy in a NumPy-like namespace (NumPy, jax.numpy, autograd)."""
    rows = np.arange(len(yb))

    def loss(w1, w2, w3):
        h1 = xp.maximum(xb @ w1, 0.0)
        h2 = xp.maximum(h1 @ w2, 0.0)
        z = h2 @ w3
        z = z - xp.max(z, axis=1, keepdims=True)
        return xp.mean(xp.log(xp.sum(xp.exp(z), axis=1)) - z[rows, yb])
    return loss


def _mlp(dtype, quick):
    ws, xb, yb = _mlp_data(dtype, quick)
    batch = len(yb)

    def hand(w1, w2, w3):
        a1 = xb @ w1
        h1 = np.maximum(a1, 0.0)
        a2 = h1 @ w2
        h2 = np.maximum(a2, 0.0)
        z = h2 @ w3
        z = z - np.max(z, axis=1, keepdims=True)
        p = np.exp(z)
        p /= np.sum(p, axis=1, keepdims=True)
        p[np.arange(batch), yb] -= 1.0
        p /= batch
        g3 = h2.T @ p
        d2 = (p @ w3.T) * (a2 > 0)
        g2 = h1.T @ d2
        d1 = (d2 @ w2.T) * (a1 > 0)
        return xb.T @ d1, g2, g3
    return _mlp_loss(np, xb, yb), hand, ws


def _mlp_peer(label, dtype, quick):
    """(own f, gradient) of the MLP loss for a peer: zero-argument thunks; the gradient
    returns the three weight gradients (as the peer's arrays)."""
    ws, xb, yb = _mlp_data(dtype, quick)
    if label == "torch":
        torch = _peer("torch")
        wt = [torch.from_numpy(w).requires_grad_() for w in ws]
        xt, yt, rows = torch.from_numpy(xb), torch.from_numpy(yb), torch.arange(len(yb))

        def loss():
            h1 = torch.clamp_min(xt @ wt[0], 0.0)
            h2 = torch.clamp_min(h1 @ wt[1], 0.0)
            z = h2 @ wt[2]
            z = z - torch.amax(z, dim=1, keepdim=True)
            return torch.mean(torch.log(torch.sum(torch.exp(z), dim=1)) - z[rows, yt])

        def own_f():
            with torch.no_grad():
                return loss()
        return own_f, lambda: torch.autograd.grad(loss(), wt)
    if label == "autograd":
        import autograd.numpy as anp
        f = _mlp_loss(anp, xb, yb)
        g = _peer("autograd").grad(lambda w: f(*w))
        return lambda: f(*ws), lambda: g(ws)
    jax = _peer("jax")
    wj, f = [jax.numpy.asarray(w) for w in ws], _mlp_loss(jax.numpy, xb, yb)
    fj, gj = jax.jit(f), jax.jit(jax.grad(f, argnums=(0, 1, 2)))
    return (lambda: fj(*wj).block_until_ready(),
            lambda: jax.block_until_ready(gj(*wj)))


def mlp(dtype, quick: bool) -> Row:
    loss, hand, ws = _mlp(dtype, quick)
    g = tapes.grad(loss, argnums=(0, 1, 2))
    base = _t(lambda: loss(*ws))
    ours = _t(lambda: g(*ws)) / base
    hand_r = _t(lambda: hand(*ws)) / base
    out_dtype = g(*ws)[0].dtype
    name = np.dtype(dtype).name
    peers = {"hand backprop": f"{hand_r:.3g}", "torch": None, "autograd": None, "JAX jit": None}
    for label in ("torch", "autograd", "JAX jit"):
        if _peer(LIBRARY[label]) is None:
            continue

        def measure():
            own_f, grad = _mlp_peer(label, dtype, quick)
            r = f"{_t(grad) / _t(own_f):.3g}"
            got = np.asarray(grad()[0]).dtype
            return r if got == dtype else f"{r} ({got} gradients)"
        peers[label] = _try(label, measure)
    return Row(f"MLP {'784-512-512-10, batch 256' if not quick else 'small'}, {name}: "
               "grad / own f", f"{ours:.3g} ({out_dtype} gradients)", _cells(peers),
               "≤ 1.1 × hand backprop" + (f", {name} end to end" if dtype == np.float32 else ""),
               None if quick else (ours <= 1.1 * hand_r and out_dtype == dtype))


def _tanh_peer(label, w1):
    """The peer's best-of-two Jacobian functions of tanh(W tanh(v)): {mode: x -> J}."""
    if label == "torch.func":
        torch = _peer("torch")
        wt = torch.from_numpy(w1)
        f = lambda v: torch.tanh(wt @ torch.tanh(v))  # noqa: E731
        return {m: (lambda x, j=j(f): j(torch.from_numpy(x)).numpy())
                for m, j in (("jacfwd", torch.func.jacfwd), ("jacrev", torch.func.jacrev))}
    jax = _peer("jax")
    wj = jax.numpy.asarray(w1)
    f = lambda v: jax.numpy.tanh(wj @ jax.numpy.tanh(v))  # noqa: E731
    return {m: (lambda x, j=jax.jit(j(f)): j(x).block_until_ready())
            for m, j in (("jacfwd", jax.jacfwd), ("jacrev", jax.jacrev))}


def tanh_net_jacobian(quick: bool) -> Row:
    cells = [(16, 16)] if quick else [(256, 256), (1024, 1024)]
    ours, peer_cells, met = [], {"torch.func": [], "JAX jit": []}, []
    for n, m in cells:
        rng = np.random.default_rng(1)
        w1 = rng.standard_normal((m, n)) / np.sqrt(n)
        x = rng.standard_normal(n)
        f = lambda v: np.tanh(w1 @ np.tanh(v))  # noqa: E731
        auto = fwdrev.jacobian(f, mode="auto", explain=True)  # mode and chunk measured
        _, choice = auto(x)  # the first call decides; the timed calls run the choice
        mode = {"forward": "jacfwd", "reverse": "jacrev"}[choice.mode]
        times_ours = {"jacfwd": _t(lambda: dualnum.jacobian(f)(x)),
                      "jacrev": _t(lambda: tapes.jacobian(f)(x)),
                      f"auto ({mode}, chunk {choice.chunk})": _t(lambda: auto(x))}
        best, best_label = min((t, label) for label, t in times_ours.items())
        times = {}
        for label in peer_cells:
            if _peer({"torch.func": "torch", "JAX jit": "jax"}[label]) is None:
                times[label] = None
                continue

            def measure():
                return min((_t(lambda j=j: j(x)), mode)
                           for mode, j in _tanh_peer(label, w1).items())
            times[label] = _try(label, measure)
        for label, tm in times.items():
            peer_cells[label].append(f"({n},{m}) " + ("–" if tm is None
                                                     else f"{_fmt_t(tm[0])} {tm[1]}"))
        ref = times["torch.func"]
        ratio = None if ref is None else best / ref[0]
        met.append(None if ratio is None else ratio <= 1.0)
        ours.append(f"({n},{m}): {_fmt_t(best)} {best_label}"
                    + ("" if ratio is None else f", ratio {ratio:.3g}"))
    return Row("tanh-net Jacobian, best mode / torch.func best", "; ".join(ours),
               "; ".join(f"{label} best: {', '.join(cs)}" for label, cs in peer_cells.items()),
               "≤ 1 at every cell", None if quick else _all_met(*met))


def run(quick: bool = False) -> list:
    NOTES.clear()
    rows = [marginal_op_cost(quick)]
    with np.errstate(over="ignore", invalid="ignore"):  # the map's derivative overflows
        rows += [logistic_per_iteration(quick), tape_bytes_per_op(quick)]
    rows += rosenbrock(quick)
    rows += [mlp(np.float64, quick), mlp(np.float32, quick), tanh_net_jacobian(quick)]
    return rows


def _versions() -> tuple[list, list]:
    """(installed peers with version, absent peers)."""
    have, absent = [], []
    for name in PEERS:
        lib = _peer(name)
        if lib is None:
            absent.append(name)
            continue
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = getattr(lib, "__version__", "?")
        extra = ""
        if name == "torch":
            extra = f" ({lib.get_num_threads()} intra-op threads)"
        elif name == "jax":
            extra = " (float64 enabled)"
        have.append(f"{name} {version}{extra}")
    return have, absent


def markdown(rows, quick=False, title="Eager-tier speed targets") -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    have, absent = _versions()
    lines = [f"# {title}", "",
             f"`python -m bench.targets{' --quick' if quick else ''}`: one run, this machine "
             f"({os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / "
             f"{load[2]:.2f}), NumPy {np.__version__}, Python {sys.version.split()[0]}. "
             "Ratios are to the same run's baselines.", "",
             "Peers: " + (", ".join(have) or "none") + "." + (
                 "" if not absent else f" Not installed, shown as –: {', '.join(absent)} "
                                       "(pip install 'fwdrev[peers]')."), "",
             "Threads: every library's default; " + ", ".join(
                 f"{v}={os.environ.get(v, 'unset')}" for v in _THREAD_VARS) + ".", "",
             "| measure | fwdrev | peers / hand NumPy | goal | met |", "|---|---|---|---|---|"]
    for r in rows:
        met = "–" if r.met is None else ("met" if r.met else "missed")
        lines.append(f"| {r.measure} | {r.ours} | {r.peers} | {r.goal} | {met} |")
    if NOTES:
        lines += ["", *(f"- {note}" for note in NOTES)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.targets", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run, seconds)")
    p.add_argument("--out", default="reports/targets.md", help="the Markdown report")
    p.add_argument("--only", choices=("eager", "compiled"),
                   help="one table: the eager tier's, or the compiled tier's "
                        "(bench.compiled_targets); default both")
    args = p.parse_args(argv)
    parts = []
    if args.only != "compiled":
        parts.append(markdown(run(args.quick), args.quick))
    if args.only != "eager":
        from bench import compiled_targets
        NOTES.clear()
        parts.append(markdown(compiled_targets.run(args.quick), args.quick,
                              title="Compiled-tier speed targets"))
    text = "\n".join(parts)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
