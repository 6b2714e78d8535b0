"""Run a grid of (problem, size, engine, settings) jobs into result records.

:func:`plan` expands the user's lists into :class:`Job` objects, :func:`check_memory`
refuses jobs that cannot fit before anything runs, and :func:`run` measures each job
and writes its record.  Jobs sharing a problem point (problem, size, seed) share the
seeded instance, the function's own timing, and each engine's derivative (so every
record is checked against its reference on the same input).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from bench import engines as engine_registry
from bench import problems as problem_registry
from bench.errors import UsageError
from bench.memory import measure_peak
from bench.problems import Size
from bench.records import record_key
from bench.timing import time_call


@dataclass(frozen=True)
class Job:
    """One record to measure."""

    problem: str
    engine: str
    size: Size
    settings: tuple        # sorted (name, value) pairs, hashable
    seed: int = 0

    @property
    def settings_dict(self) -> dict:
        return dict(self.settings)

    def identity(self) -> dict:
        """The key fields of this job's record."""
        return {"problem": self.problem, "engine": self.engine, "n": self.size.n,
                "m": self.size.m, "depth": self.size.depth, "params": self.size.params,
                "settings": self.settings_dict, "seed": self.seed}

    def key(self) -> tuple:
        return record_key(self.identity())

    def label(self) -> str:
        parts = [self.problem, self.engine, f"n={self.size.n}", f"m={self.size.m}"]
        if self.size.depth is not None:
            parts.append(f"depth={self.size.depth}")
        parts += [f"{k}={v}" for k, v in self.size.params.items()]
        parts += [f"{k}={v}" for k, v in self.settings if v is not None]
        return " ".join(parts)


def usable_engines(names, log=None) -> list:
    """The engines among ``names`` that can run here; one line logged per skipped one."""
    log = log or (lambda msg: print(msg, file=sys.stderr))
    usable = []
    for name in names:
        reason = engine_registry.get(name).missing()
        if reason:
            log(f"fwdrev: skipping engine {name!r}: {reason}")
        else:
            usable.append(name)
    return usable


def plan(problems, engines, *, n=None, m=None, depth=None, params=None, chunk=None,
         seed=0) -> list:
    """Expand lists into jobs: problems x sizes x params x engines x settings.

    ``n``, ``m``, ``depth``: lists of ints or ``None`` (problem default); each applies
    to the problems that have the knob.  ``params``: ``{"r": [3.0, 4.0]}``.  ``chunk``:
    list of ints for the engines with a ``chunk`` setting.  Raises ``UsageError`` when a
    given knob, parameter or setting applies to none of the selected problems/engines.
    """
    probs = [problem_registry.get(p) for p in problems]
    engs = [engine_registry.get(e) for e in engines]
    params = params or {}
    for knob, values in (("n", n), ("m", m), ("depth", depth)):
        if values is not None and not any(knob in p.knobs for p in probs):
            raise UsageError(f"--{knob} given, but none of the selected problems "
                             f"({', '.join(problems)}) has a {knob!r} knob")
    for key in params:
        if not any(key in p.params for p in probs):
            raise UsageError(f"--param {key}=... given, but none of the selected problems "
                             f"has a parameter {key!r}")
    if chunk is not None and not any("chunk" in e.settings for e in engs):
        raise UsageError("--chunk given, but none of the selected engines has a chunk setting")

    jobs, seen = [], set()
    for prob in probs:
        def axis(knob, values):
            return values if (values is not None and knob in prob.knobs) else [None]
        own = {k: v for k, v in params.items() if k in prob.params}
        param_sets = [dict(zip(own, combo)) for combo in itertools.product(*own.values())]
        for nv, mv, dv, pv in itertools.product(axis("n", n), axis("m", m),
                                                axis("depth", depth), param_sets):
            size = prob.size(n=nv, m=mv, depth=dv, params=pv)
            for eng in engs:
                chunks = chunk if (chunk is not None and "chunk" in eng.settings) else [None]
                for cv in chunks:
                    settings = eng.resolve({"chunk": cv} if cv is not None else {})
                    job = Job(prob.name, eng.name, size, tuple(sorted(settings.items())), seed)
                    if job.key() not in seen:
                        seen.add(job.key())
                        jobs.append(job)
    return jobs


def available_memory() -> int:
    """Bytes of memory available to new allocations (``MemAvailable``), best effort."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def estimate_bytes(job: Job) -> int:
    """Conservative estimate of the memory one job needs (engine + reference result)."""
    prob = problem_registry.get(job.problem)
    eng = engine_registry.get(job.engine)
    fp = prob.footprint(job.size)
    n_in, n_out = prob.in_size(job.size), prob.out_size(job.size)
    return eng.estimate_bytes(fp, n_in, n_out, job.settings_dict) + 8 * n_in * n_out


def check_memory(jobs, available=None):
    """Raise ``UsageError`` (with the estimate) for the first job that cannot fit."""
    available = available_memory() if available is None else available
    for job in jobs:
        need = estimate_bytes(job)
        if need > available:
            raise UsageError(f"refusing {job.label()}: estimated {_gib(need)} exceeds the "
                             f"{_gib(available)} of memory available")


def _gib(nbytes):
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**28 else f"{nbytes / 2**20:.1f} MiB"


@dataclass
class Options:
    """How to measure: timing parameters and whether to spawn memory measurements."""

    min_sample_s: float = 0.02
    samples: int = 5
    max_time_s: float = 1.0
    memory: bool = True


def _expected_shape(prob, size):
    n_in, n_out = prob.in_size(size), prob.out_size(size)
    return (n_in,) if prob.scalar else (n_out, n_in)


class _Point:
    """Shared state of the jobs at one (problem, size, seed): instance and derivatives."""

    def __init__(self, prob, size, seed, options):
        self.prob, self.size, self.seed = prob, size, seed
        self.instance = prob.instantiate(size, seed=seed)
        inst = self.instance
        self.fun = time_call(lambda: inst.f(inst.x), min_sample_s=options.min_sample_s,
                             samples=options.samples, max_time_s=options.max_time_s)
        # the Python tier's primal: the same loop on plain floats (Problem.native_primal)
        self.fun_python = None
        if prob.native_primal:
            floats = inst.x.tolist()
            self.fun_python = time_call(lambda: inst.f(floats),
                                        min_sample_s=options.min_sample_s,
                                        samples=options.samples, max_time_s=options.max_time_s)
        self.derivatives = {}     # engine name -> first result computed at this point
        self.by_namespace = {}    # array namespace name -> instance (peers: jax.numpy ...)

    def instance_for(self, eng):
        """The instance evaluated with ``eng.namespace()`` (same seed: same data and x)."""
        xp = eng.namespace()
        if xp is np:
            return self.instance
        key = getattr(xp, "__name__", repr(xp))
        if key not in self.by_namespace:
            self.by_namespace[key] = self.prob.instantiate(self.size, seed=self.seed, xp=xp)
        return self.by_namespace[key]

    def derivative(self, name):
        """This point's derivative by engine ``name`` (default settings), computed once."""
        if name not in self.derivatives:
            eng = engine_registry.get(name)
            d = eng.build(self.instance_for(eng).f, self.instance.x, self.prob.scalar,
                          eng.resolve({}))
            self.derivatives[name] = d(self.instance.x)
        return self.derivatives[name]


def measure_job(job: Job, point: _Point, options: Options, reference_names) -> dict:
    """Measure one job -> its result record.

    Fields: the key fields (``problem, engine, n, m, depth, params, settings, seed``);
    ``in_size, out_size, scalar``; ``time_median_s, time_min_s, time_spread,
    repeats`` (calls per sample), ``samples_s``; ``first_call_s`` (build + first call:
    tracing/recording/compiling); ``fun_time_median_s`` and ``grad_fun_ratio`` (the
    cheap-gradient ratio: derivative time / function time, the function timed in the
    engine's own tier: ``fun_tier`` is "numpy", "compiled" or "python"); ``peak_mem_bytes,
    mem_baseline_bytes, mem_method``; ``engine_sizes`` (tape_len, tape_bytes ...),
    ``engine_version``; ``reference, max_rel_error, tolerance, ok``; ``error``
    (``None`` unless the engine failed; then timing fields are ``None``).
    """
    prob, eng = point.prob, engine_registry.get(job.engine)
    inst = point.instance
    settings = job.settings_dict
    rec = {"kind": "result", **job.identity(), "in_size": inst.in_size,
           "out_size": inst.out_size, "scalar": prob.scalar,
           "engine_version": eng.version(), "error": None, "ok": False}
    try:
        f = point.instance_for(eng).f     # the problem in the engine's array namespace
        start = time.perf_counter()
        derivative = eng.build(f, inst.x, prob.scalar, settings)
        result = derivative(inst.x)
        rec["first_call_s"] = time.perf_counter() - start
        expected = _expected_shape(prob, job.size)
        if np.shape(result) != expected:
            raise ValueError(f"derivative has shape {np.shape(result)}, expected {expected}")
        timing = time_call(lambda: derivative(inst.x), first_call=False,
                           min_sample_s=options.min_sample_s, samples=options.samples,
                           max_time_s=options.max_time_s)
        rec["engine_sizes"] = eng.sizes(f, inst.x, prob.scalar, settings)
    except Exception as exc:          # noqa: BLE001 -- an engine failure is a result
        rec["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return rec
    point.derivatives.setdefault(job.engine, result)
    rec.update({
        "time_median_s": timing.median_s, "time_min_s": timing.min_s,
        "time_spread": timing.spread, "repeats": timing.number, "samples_s": timing.samples,
    })
    # each engine against the primal of its own tier (compiled or plain Python)
    fun, tier = point.fun, "compiled" if prob.native_primal else "numpy"
    if point.fun_python is not None and not eng.compiled:
        fun, tier = point.fun_python, "python"
    rec.update({
        "fun_time_median_s": fun.median_s, "fun_tier": tier,
        "grad_fun_ratio": timing.median_s / fun.median_s if fun.median_s else None,
    })
    # Correctness against the reference engine on the same input.
    ref = engine_registry.reference_for(eng, reference_names)
    rec["reference"] = ref
    if ref is None:
        rec.update({"max_rel_error": None, "tolerance": None, "ok": None})
    else:
        try:
            expected = point.derivative(ref)
            err = engine_registry.max_rel_error(result, expected)
        except Exception as exc:      # noqa: BLE001 -- a failing reference is reported
            rec.update({"max_rel_error": None, "tolerance": None, "ok": None,
                        "reference_error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
        else:
            exact = eng.exact and engine_registry.get(ref).exact
            tol = engine_registry.EXACT_TOL if exact else engine_registry.APPROX_TOL
            tol = max(tol, getattr(eng, "tolerance", None) or 0.0)   # an engine's own, looser
            rec.update({"max_rel_error": err, "tolerance": tol,
                        "ok": bool(math.isfinite(err) and err <= tol)})
    if options.memory:
        mem = measure_peak("bench.memory:derivative_thunk",
                           {"problem": job.problem, "engine": job.engine, "n": job.size.n,
                            "m": job.size.m, "depth": job.size.depth,
                            "params": job.size.params, "settings": settings,
                            "seed": job.seed})
        rec.update({"peak_mem_bytes": mem.peak_bytes, "mem_baseline_bytes": mem.baseline_bytes,
                    "mem_method": mem.method})
        if mem.error:
            rec["mem_error"] = mem.error
    else:
        rec.update({"peak_mem_bytes": None, "mem_baseline_bytes": None, "mem_method": "off"})
    return rec


def run(jobs, writer, *, done=frozenset(), options=None, progress=None, log=None,
        budget_s=None) -> dict:
    """Measure ``jobs`` (skipping keys in ``done``) and write each record as it finishes.

    Returns counts ``{"written", "skipped", "failed", "wrong", "unstarted"}``. Engine
    failures and wrong results are records (``error`` / ``ok: false``) plus one logged line
    each. ``budget_s``: start no new record after that many seconds (``unstarted`` counts
    the records left for a later ``--resume``).
    """
    options = options or Options()
    deadline = None if budget_s is None else time.perf_counter() + budget_s
    log = log or (lambda msg: print(msg, file=sys.stderr))
    reference_names = {name for name, e in engine_registry.ENGINES.items() if not e.missing()}
    counts = {"written": 0, "skipped": 0, "failed": 0, "wrong": 0, "unstarted": 0}
    groups = {}
    for job in jobs:
        groups.setdefault((job.problem, json.dumps(job.size.__dict__, sort_keys=True),
                           job.seed), []).append(job)
    finished = 0
    for group in groups.values():
        todo = [j for j in group if j.key() not in done]
        counts["skipped"] += len(group) - len(todo)
        finished += len(group) - len(todo)
        if deadline is not None and time.perf_counter() > deadline:
            counts["unstarted"] += len(todo)
            continue
        if not todo:
            continue
        first = todo[0]
        point = _Point(problem_registry.get(first.problem), first.size, first.seed, options)
        for job in todo:
            if deadline is not None and time.perf_counter() > deadline:
                counts["unstarted"] += 1
                continue
            if progress:
                progress.update(finished, job.label())
            rec = measure_job(job, point, options, reference_names)
            writer.write(rec)
            counts["written"] += 1
            finished += 1
            if rec["error"]:
                counts["failed"] += 1
                log(f"fwdrev: {job.label()}: engine failed: {rec['error']}")
            elif rec["ok"] is False:
                counts["wrong"] += 1
                log(f"fwdrev: {job.label()}: WRONG result, max_rel_error "
                    f"{rec['max_rel_error']} > {rec['tolerance']} vs {rec['reference']}")
    if progress:
        progress.update(finished, "done")
        progress.close()
    return counts
