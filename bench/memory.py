"""Peak memory of a computation, counting every allocation, in a fresh subprocess.

Why a subprocess and the kernel's counters: ``tracemalloc`` sees only allocations
routed through Python's allocator.  numba 0.68's NRT happens to route there, but
BLAS workspaces, a C extension's plain ``malloc`` (see :func:`malloc_probe`) and other
native allocators do not.  The kernel's resident-set high-water mark (``VmHWM`` in
``/proc/self/status``) counts all of them.  It is a per-process maximum, so each
measurement runs in its own process.

Procedure in the child (:func:`_child_main`):

1. ``setup = factory(**kwargs)`` builds the inputs and returns a zero-argument
   ``thunk`` (imports, data and the engine's derivative function are made here);
2. ``thunk()`` once as warm-up, so JIT compilation, lazy imports and one-time caches
   are excluded -- those are reported by the timing's ``first_call_s`` instead;
3. ``gc.collect()``, ``malloc_trim(0)``, then the high-water mark is reset by writing
   ``5`` to ``/proc/self/clear_refs`` (Linux >= 4.0) and read as the baseline;
4. ``result = thunk()``; peak = ``VmHWM`` - baseline, with the result still alive.

If the reset is not permitted, the baseline is the high-water mark after step 1 and
the warm-up is skipped (method ``hwm-delta``), which can only under-count a peak that
stays below an earlier transient one; the method used is stored in every record.

glibc's malloc would keep freed blocks in its heap (and raises its mmap threshold
dynamically), so a warm-up's freed memory could be reused without touching new pages
and the peak would be under-counted.  The child therefore runs with a fixed
``MALLOC_MMAP_THRESHOLD_`` (large blocks always come from, and go back to, mmap) and a
small ``MALLOC_TRIM_THRESHOLD_``.  Resident memory then tracks live memory.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass

import bench

#: Resolution of the measurement: the kernel keeps RSS in per-CPU batched counters,
#: so a peak can read up to ~64 pages low (measured here: 100 kB allocations read as
#: 0, 400 kB within 11 kB, >= 1 MiB within one page).  Plots omit peaks below it.
RESOLUTION_BYTES = 256 * 1024

_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "131072"}


@dataclass
class MemoryResult:
    """Peak bytes over the baseline, the baseline itself, and how it was measured."""

    peak_bytes: int | None
    baseline_bytes: int | None
    method: str
    error: str | None = None


def _status_kib(field_name):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _malloc_trim():
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _child_main(spec: dict) -> dict:
    module, _, attr = spec["target"].partition(":")
    factory = getattr(importlib.import_module(module), attr)
    thunk = factory(**spec.get("kwargs", {}))
    gc.collect()
    _malloc_trim()
    if _reset_hwm():
        method = "hwm-reset"
        thunk()
        gc.collect()
        _malloc_trim()
        _reset_hwm()
    else:
        method = "hwm-delta"
    baseline = _status_kib("VmHWM") * 1024
    result = thunk()
    peak = _status_kib("VmHWM") * 1024
    del result
    return {"peak_bytes": peak - baseline, "baseline_bytes": baseline, "method": method}


def measure_peak(target: str, kwargs: dict | None = None, timeout_s: float = 900.0) -> MemoryResult:
    """Peak memory of ``factory(**kwargs)()`` over its baseline, in a fresh process.

    ``target`` is ``"module:factory"``; ``factory`` must be importable in a fresh
    interpreter and return the zero-argument thunk to measure.  Never raises for a
    failing child: the error is returned in ``MemoryResult.error``.
    """
    if not os.path.exists("/proc/self/status"):
        return MemoryResult(None, None, "unavailable", "no /proc/self/status on this system")
    env = dict(os.environ, **_MALLOC_ENV)
    # The child must import bench from where this process did (source tree or install).
    root = os.path.dirname(os.path.dirname(os.path.abspath(bench.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root, *sys.path[1:]])
    spec = json.dumps({"target": target, "kwargs": kwargs or {}})
    try:
        proc = subprocess.run([sys.executable, "-m", "bench.memory"], input=spec,
                              capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return MemoryResult(None, None, "failed", f"memory child timed out after {timeout_s:g} s")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return MemoryResult(None, None, "failed", f"memory child failed: {last}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return MemoryResult(out["peak_bytes"], out["baseline_bytes"], out["method"])


def derivative_thunk(problem, engine, n, m, depth, params, settings, seed):
    """Factory for :func:`measure_peak`: the derivative computation of one record."""
    from bench import engines, problems

    prob = problems.get(problem)
    eng = engines.get(engine)
    size = problems.Size(n=n, m=m, depth=depth, params=params)
    inst = prob.instantiate(size, seed=seed, xp=eng.namespace())
    derivative = eng.build(inst.f, inst.x, prob.scalar, settings)
    x = inst.x
    return lambda: derivative(x)


def numba_probe(nbytes):
    """Factory for the self-check: a thunk whose only big allocation is inside numba.

    The kernel allocates ``nbytes`` with ``np.empty`` in numba's own allocator (NRT,
    invisible to tracemalloc), writes every element so the pages are really committed,
    and returns a scalar, so nothing big survives the call.  Compiled here, in setup.
    """
    import numba
    import numpy as np

    count = nbytes // 8

    @numba.njit(cache=False)
    def kernel(k):
        buf = np.empty(k, dtype=np.float64)
        for i in range(k):
            buf[i] = i * 0.5
        return buf[k - 1]

    kernel(1)            # compile now, with a tiny size
    return lambda: kernel(count)


def malloc_probe(nbytes):
    """Factory for the self-check: a thunk that ``malloc``s ``nbytes`` in C (libc,
    bypassing Python's allocator and tracemalloc), touches every page, frees it."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]

    def thunk():
        ptr = libc.malloc(nbytes)
        ctypes.memset(ptr, 1, nbytes)
        libc.free(ptr)

    return thunk


if __name__ == "__main__":
    print(json.dumps(_child_main(json.loads(sys.stdin.read()))))


def tracemalloc_peak(fn) -> int:
    """Peak bytes NumPy and Python allocate in one call of ``fn`` after a warm-up call
    (``tracemalloc``: exact for them, blind to native allocators such as torch's)."""
    import tracemalloc

    fn()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
