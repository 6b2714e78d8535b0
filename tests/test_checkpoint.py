"""Checkpointing: tapes.checkpoint (a segment recomputed in the sweep) and tapes.scan
(binomial checkpointing of a loop) give the plain program's derivatives, hold less, and
recompute exactly the optimal number of steps."""
import functools
import tracemalloc

import numpy as np
import pytest

import adcore
import dualnum
import fwdrev
import tapes
from tapes.checkpoint import binomial, optimal_recomputations, repetitions, split

RNG = np.random.default_rng(0)
W = RNG.standard_normal((5, 5)) / 2


def _layer(x, w):
    return np.tanh(w @ x) + 0.1 * x


LAYER = tapes.checkpoint(_layer)


def _plain(x, w, depth=3):
    for _ in range(depth):
        x = _layer(x, w)
    return np.sum(x ** 2)


def _checkpointed(x, w, depth=3):
    for _ in range(depth):
        x = LAYER(x, w)
    return np.sum(x ** 2)


@pytest.mark.parametrize("engine", [tapes, dualnum, fwdrev])
def test_a_checkpointed_segment_has_the_plain_gradient(engine):
    x = RNG.standard_normal(5)
    want = tapes.grad(_plain, argnums=(0, 1))(x, W)
    got = engine.grad(_checkpointed, argnums=(0, 1))(x, W)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_second_order_through_a_checkpoint_all_nestings():
    x = RNG.standard_normal(5)
    f, g = functools.partial(_checkpointed, w=W), functools.partial(_plain, w=W)
    want = fwdrev.hessian(g)(x)
    np.testing.assert_allclose(fwdrev.hessian(f)(x), want, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(tapes.jacobian(tapes.grad(f))(x), want, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(dualnum.jacobian(tapes.grad(f))(x), want, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(tapes.jacobian(dualnum.grad(f))(x), want, rtol=1e-11, atol=1e-13)


def test_a_checkpoint_holds_less_than_the_plain_tape():
    x = RNG.standard_normal(20000)
    w = 1.0001

    def seg(v):
        for _ in range(6):
            v = np.sin(v) * w + v
        return v
    ck = tapes.checkpoint(seg)

    def plain(v):
        for _ in range(8):
            v = seg(v)
        return np.sum(v)

    def light(v):
        for _ in range(8):
            v = ck(v)
        return np.sum(v)
    np.testing.assert_allclose(tapes.grad(light)(x), tapes.grad(plain)(x), rtol=1e-14)
    peaks = []
    for f in (plain, light):
        tapes.grad(f)(x)
        tracemalloc.start()
        tapes.grad(f)(x)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 0.5 * peaks[0], peaks


def test_a_structural_zero_does_not_cross_a_checkpoint_but_never_gives_a_wrong_number():
    # plain: the constant 0 factor is a structural zero, so d/dx at x = 0 is exactly 0;
    # checkpointed, the zero cotangent is a computed one and meets sqrt'(0) = inf: NaN
    x = np.array([0.0, 4.0])
    plain = tapes.grad(lambda v: np.sum(np.sqrt(v) * np.array([0.0, 1.0])))(x)
    ck = tapes.grad(lambda v: np.sum(tapes.checkpoint(np.sqrt)(v) * np.array([0.0, 1.0])))(x)
    np.testing.assert_array_equal(plain, [0.0, 0.25])
    assert np.isnan(ck[0]) and ck[1] == 0.25
    # a cotangent that is a structural zero throughout never reaches the segment: exact 0
    assert tapes.grad(lambda v: np.sum(tapes.checkpoint(np.sqrt)(v) * 0.0))(x).tolist() == [0, 0]
    assert tapes.grad(lambda v: tapes.checkpoint(np.sqrt)(v) * 0.0)(0.0) == 0.0


# ------------------------------------------------------------------ scan
def _step(x, a, b):
    return a * x * (1.0 - x) + b * np.sin(x)


def _loop(x, a, b, steps):
    for _ in range(steps):
        x = _step(x, a, b)
    return np.sum(x)


@pytest.mark.parametrize("steps, snapshots", [(1, 1), (2, 1), (7, 1), (30, 2), (30, 3),
                                              (64, 4), (100, 6), (40, 40), (40, None)])
def test_scan_reverses_with_the_optimal_number_of_recomputed_steps(steps, snapshots):
    x0, a, b = np.array([0.2, 0.45, 0.7]), 3.6, 0.05
    want = tapes.grad(_loop, argnums=(0, 1, 2))(x0, a, b, steps)
    stats = tapes.ScanStats()
    f = lambda x, a, b: np.sum(tapes.scan(_step, x, steps, a, b, snapshots=snapshots,  # noqa: E731
                                          stats=stats))
    got = tapes.grad(f, argnums=(0, 1, 2))(x0, a, b)
    for u, v in zip(got, want):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)
    s = steps if snapshots is None else snapshots
    assert stats.recorded == steps
    assert stats.recomputed == optimal_recomputations(steps, s)
    assert stats.max_snapshots <= s
    # forward mode runs the loop as it is
    fwd = dualnum.grad(f, argnums=(0, 1, 2))(x0, a, b)
    for u, v in zip(fwd, want):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)


@functools.lru_cache(maxsize=None)
def _exhaustive(steps, snapshots):
    """The fewest recomputed steps over every schedule (dynamic programming)."""
    if steps <= 1:
        return 0
    if snapshots == 1:
        return steps * (steps - 1) // 2
    return min(m + _exhaustive(steps - m, snapshots - 1) + _exhaustive(m, snapshots)
               for m in range(1, steps))


def _schedule_cost(steps, snapshots):
    if steps <= 1:
        return 0
    if snapshots == 1:
        return steps * (steps - 1) // 2
    m = split(steps, snapshots)
    return m + _schedule_cost(steps - m, snapshots - 1) + _schedule_cost(m, snapshots)


def test_the_revolve_formula_and_split_are_the_exhaustive_optimum():
    for steps in range(1, 90):
        for snapshots in range(1, 7):
            best = _exhaustive(steps, snapshots)
            assert optimal_recomputations(steps, snapshots) == best, (steps, snapshots)
            assert _schedule_cost(steps, snapshots) == best, (steps, snapshots)
            r = repetitions(steps, snapshots)
            assert binomial(snapshots, r) >= steps and (r == 0 or binomial(snapshots, r - 1) < steps)


def test_scan_arguments_are_checked_and_zero_steps_is_the_identity():
    x0 = np.array([0.3])
    assert tapes.grad(lambda x: np.sum(tapes.scan(np.sin, x, 0)))(x0) == 1.0
    with pytest.raises(ValueError, match="snapshots"):
        tapes.scan(np.sin, x0, 5, snapshots=0)
    with pytest.raises(ValueError, match="steps"):
        tapes.scan(np.sin, x0, -1)


def test_misuses_are_refused_with_the_fix_named():
    x0 = np.array([0.3, 0.5])
    with pytest.raises(adcore.TracerLeakError, match="as an argument"):
        tapes.grad(lambda x: np.sum(tapes.checkpoint(lambda y: np.sin(y * x))(x)))(x0)
    with pytest.raises(adcore.TracerLeakError, match="as an argument"):
        tapes.grad(lambda a: np.sum(tapes.scan(lambda y: a * y, a * x0, 3, snapshots=2)))(2.0)
    with pytest.raises(TypeError, match="one array"):
        tapes.grad(lambda x: np.sum(tapes.checkpoint(lambda y: (y, y))(x)[0]))(x0)
    with pytest.raises(ValueError, match="integer"):
        tapes.scan(np.sin, x0, 2.5)
    # passed as arguments, the same functions work
    got = tapes.grad(lambda a: np.sum(tapes.scan(lambda y, b: b * y, a * x0, 3, a, snapshots=2)))(2.0)
    assert got == pytest.approx(4 * 2.0 ** 3 * np.sum(x0))


def test_an_evaluation_trace_refuses_a_checkpointed_segment_by_name():
    with pytest.raises(adcore.ADError, match="checkpoint"):
        fwdrev.trace(lambda x: np.sum(tapes.checkpoint(np.sin)(x)), np.array([0.1, 0.2]))
    with pytest.raises(adcore.ADError, match="scan"):
        fwdrev.trace(lambda x: tapes.scan(np.sin, x, 3), 0.5)


def test_no_per_call_op_is_kept_alive_by_the_liveness_cache():
    import gc
    import weakref

    from adcore import liveness
    before = len(liveness._cache)
    big = np.ones(10)
    refs = []
    for _ in range(3):
        seg = tapes.checkpoint(lambda y, b=big: y * b)
        refs.append(weakref.ref(seg.op))
        tapes.grad(lambda x: np.sum(seg(x)))(np.ones(10))
        del seg
    gc.collect()
    assert all(r() is None for r in refs)
    assert len(liveness._cache) == before


def test_a_long_scan_holds_any_number_of_snapshots():
    # more snapshots than Python's recursion limit: the schedule is a loop, not recursion
    stats = tapes.ScanStats()
    step = lambda x, r: r * x * (1.0 - x)  # noqa: E731
    f = lambda x, r: np.sum(tapes.scan(step, x, 1500, r, stats=stats))  # noqa: E731
    got = tapes.grad(f, argnums=(0, 1))(np.full(2, 0.3), 2.5)

    def plain(x, r):
        for _ in range(1500):
            x = step(x, r)
        return np.sum(x)
    want = tapes.grad(plain, argnums=(0, 1))(np.full(2, 0.3), 2.5)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    assert stats.max_snapshots == 1500 and stats.recomputed == 1499
