"""bench.timing: the adaptive-repeat procedure, driven by a fake clock (no wall time)."""

import pytest

from bench.timing import MAX_NUMBER, time_call


class FakeClock:
    """A clock that only advances when the timed function runs.

    ``costs`` gives the duration of successive calls (the last one repeats), so tests
    can model a slow first call followed by a fast steady state.
    """

    def __init__(self, costs):
        self.now = 0.0
        self.costs = list(costs)
        self.calls = 0

    def __call__(self):
        return self.now

    def fn(self):
        cost = self.costs[min(self.calls, len(self.costs) - 1)]
        self.calls += 1
        self.now += cost


def test_first_call_is_timed_alone_and_excluded():
    clock = FakeClock([5.0, 0.001])
    t = time_call(clock.fn, min_sample_s=0.01, samples=5, clock=clock)
    assert t.first_call_s == pytest.approx(5.0)
    assert t.median_s == pytest.approx(0.001)
    assert t.min_s == pytest.approx(0.001)
    assert max(t.samples) < 1.0          # the slow first call is in no sample


def test_repeat_count_doubles_until_batch_reaches_minimum():
    clock = FakeClock([0.001])
    t = time_call(clock.fn, min_sample_s=0.05, samples=3, clock=clock)
    # 0.001 * number >= 0.05 first at number = 64 (1, 2, 4, ..., 64).
    assert t.number == 64
    assert len(t.samples) == 3
    # calls: 1 first + calibration 1+2+...+64 = 127 + 3 samples of 64.
    assert clock.calls == 1 + 127 + 3 * 64


def test_slow_calls_use_one_repeat():
    clock = FakeClock([0.5])
    t = time_call(clock.fn, min_sample_s=0.02, samples=5, max_time_s=100, clock=clock)
    assert t.number == 1
    assert len(t.samples) == 5


def test_budget_stops_sampling_after_three_samples():
    clock = FakeClock([0.4])
    t = time_call(clock.fn, min_sample_s=0.02, samples=10, max_time_s=1.0, clock=clock)
    assert len(t.samples) == 3           # 3 x 0.4 s > 1 s budget, but 3 is the floor


def test_call_longer_than_budget_takes_a_single_sample():
    clock = FakeClock([3.0])
    t = time_call(clock.fn, min_sample_s=0.02, samples=10, max_time_s=1.0, clock=clock)
    assert len(t.samples) == 1
    assert t.median_s == pytest.approx(3.0)


def test_median_min_and_spread_of_noisy_samples():
    # first call, calibration (1 call >= min), then samples 1, 3, 2 -> median 2.
    clock = FakeClock([9.0, 1.0, 1.0, 3.0, 2.0])
    t = time_call(clock.fn, min_sample_s=0.5, samples=3, max_time_s=100, clock=clock)
    assert t.samples == [1.0, 3.0, 2.0]
    assert t.median_s == 2.0 and t.min_s == 1.0
    assert t.spread == pytest.approx((3.0 - 1.0) / 2.0)


def test_first_call_false_skips_it():
    clock = FakeClock([0.1])
    t = time_call(clock.fn, min_sample_s=0.05, samples=3, first_call=False, clock=clock)
    assert t.first_call_s is None
    assert clock.calls == 1 + 3


def test_a_clock_that_never_advances_still_terminates():
    clock = FakeClock([0.0])
    t = time_call(clock.fn, min_sample_s=0.01, samples=2, clock=clock)
    assert t.number == MAX_NUMBER
    assert t.median_s == 0.0 and t.spread == 0.0
