"""bench.memory: the subprocess high-water-mark measurement sees every allocation,
including one made inside a numba kernel (which tracemalloc cannot see)."""

import tracemalloc

import pytest

from bench.memory import RESOLUTION_BYTES, malloc_probe, measure_peak

MIB = 1 << 20


@pytest.mark.parametrize("nbytes", [16 * MIB, 64 * MIB])
def test_allocation_inside_numba_kernel_is_seen(nbytes):
    mem = measure_peak("bench.memory:numba_probe", {"nbytes": nbytes})
    assert mem.error is None
    assert mem.method == "hwm-reset"
    # Within the kernel counters' resolution of the known size, and not double-counted.
    assert nbytes - RESOLUTION_BYTES <= mem.peak_bytes <= nbytes + 4 * MIB
    assert mem.baseline_bytes > 10 * MIB          # imports (numba, numpy) are baseline


def test_measurement_grows_with_the_allocation():
    small = measure_peak("bench.memory:numba_probe", {"nbytes": 8 * MIB}).peak_bytes
    large = measure_peak("bench.memory:numba_probe", {"nbytes": 40 * MIB}).peak_bytes
    assert large - small == pytest.approx(32 * MIB, abs=RESOLUTION_BYTES)


def test_plain_c_malloc_is_seen_where_tracemalloc_is_blind():
    # Why the harness does not use tracemalloc: native allocations bypass it.
    nbytes = 32 * MIB
    thunk = malloc_probe(nbytes)
    tracemalloc.start()
    try:
        thunk()
        _, traced = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert traced < MIB
    mem = measure_peak("bench.memory:malloc_probe", {"nbytes": nbytes})
    assert nbytes - RESOLUTION_BYTES <= mem.peak_bytes <= nbytes + 4 * MIB


def test_derivative_of_a_large_tape_is_measured():
    # Reverse mode on a deep logistic map keeps every step on the tape.
    kwargs = dict(problem="logistic-map", engine="reverse", n=1, m=1, depth=20000,
                  params={"r": 3.0}, settings={"chunk": None}, seed=0)
    rev = measure_peak("bench.memory:derivative_thunk", kwargs)
    fwd = measure_peak("bench.memory:derivative_thunk", dict(kwargs, engine="forward"))
    assert rev.error is None and fwd.error is None
    assert rev.peak_bytes > 2 * MIB               # 60 000 recorded ops
    assert fwd.peak_bytes < rev.peak_bytes / 4    # forward keeps nothing behind it


def test_a_failing_child_is_reported_not_raised():
    mem = measure_peak("bench.memory:no_such_factory", {})
    assert mem.peak_bytes is None
    assert "memory child failed" in mem.error
