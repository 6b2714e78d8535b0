"""bench.analysis: slopes, ratios and crossovers on records with known answers."""

import math

import pytest

from bench import analysis


def rec(engine, n, m, t, depth=None, settings=None, **kw):
    r = {"kind": "result", "problem": "p", "engine": engine, "n": n, "m": m, "depth": depth,
         "params": {}, "settings": settings or {"chunk": None}, "seed": 0, "in_size": n,
         "time_median_s": t, "error": None, "fun_time_median_s": 1e-4,
         "grad_fun_ratio": t / 1e-4 if t else None}
    r.update(kw)
    return r


def grid(ns=(1, 4, 16, 64), ms=(1, 4, 16, 64)):
    """Forward time ~ n, reverse ~ m (equal per-direction cost): crossover at n = m."""
    out = []
    for n in ns:
        for m in ms:
            out += [rec("forward", n, m, 1e-5 * n), rec("reverse", n, m, 1e-5 * m)]
    return out


def test_fit_slope_recovers_the_exponent():
    xs = [1, 2, 4, 8, 16]
    assert analysis.fit_slope(xs, [3 * x ** 1.5 for x in xs]) == pytest.approx(1.5)
    assert analysis.fit_slope([4, 4], [1, 2]) is None
    assert analysis.fit_slope([1, 2], [0.0, 1.0]) is None      # non-positive dropped


def test_upper_half_keeps_the_largest_points():
    assert analysis.upper_half([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == ([3, 4, 5], [3, 4, 5])
    assert analysis.upper_half([1, 2], [5, 6]) == ([1, 2], [5, 6])


def test_slopes_along_n_and_m():
    rows = {(r["variant"], r["knob"], r["fixed"]["m" if r["knob"] == "n" else "n"]): r
            for knob in ("n", "m") for r in analysis.slopes(grid(), knob)}
    assert rows[("forward", "n", 4)]["slope"] == pytest.approx(1.0)
    assert rows[("forward", "m", 4)]["slope"] == pytest.approx(0.0)
    assert rows[("reverse", "m", 16)]["slope"] == pytest.approx(1.0)
    assert rows[("reverse", "n", 16)]["slope"] == pytest.approx(0.0)


def test_ratio_grid_and_crossover_on_the_diagonal():
    points = analysis.ratio_points(grid())
    ns, ms, g = analysis.ratio_grid(points, "p")
    assert ns == [1, 4, 16, 64] and ms == [1, 4, 16, 64]
    assert g[0, 3] == pytest.approx(64.0)       # m=1, n=64: forward 64x slower
    for m in ms:
        row = [p for p in points if p["m"] == m]
        row.sort(key=lambda p: p["n"])
        assert analysis.crossover([p["n"] for p in row], [p["ratio"] for p in row]) == \
            pytest.approx(m)


def test_crossover_interpolates_in_log_space_and_may_not_exist():
    assert analysis.crossover([1, 100], [0.1, 10]) == pytest.approx(10.0)
    assert analysis.crossover([1, 10, 100], [2, 3, 4]) is None
    assert analysis.crossover([1, 10], [1.0, 2.0]) == 1.0


def test_ratio_points_pair_only_equal_settings():
    recs = [rec("forward", 4, 1, 1.0, settings={"chunk": 1}),
            rec("reverse", 4, 1, 2.0, settings={"chunk": None})]
    assert analysis.ratio_points(recs) == []
    recs.append(rec("reverse", 4, 1, 4.0, settings={"chunk": 1}))
    (p,) = analysis.ratio_points(recs)
    assert p["label"] == "chunk=1" and p["ratio"] == pytest.approx(0.25)


def test_failed_records_are_not_analysed():
    recs = grid() + [rec("forward", 256, 1, None, error="boom")]
    assert all(r["x_range"][1] == 64 for r in analysis.slopes(recs, "n"))


def test_grad_ratios_at_the_largest_input():
    recs = [rec("reverse", n, 1, 3e-4) for n in (4, 64)] + \
        [rec("forward", n, 1, n * 1e-5) for n in (4, 64)]
    rows = {r["variant"]: r for r in analysis.grad_ratios(recs)}
    assert rows["reverse"]["n"] == 64 and rows["reverse"]["ratio"] == pytest.approx(3.0)
    assert rows["forward"]["ratio"] == pytest.approx(6.4)


def test_settings_sweeps_group_records_differing_in_settings():
    recs = [rec("forward", 64, 1, 1e-3 / c, settings={"chunk": c}) for c in (1, 4, 16)]
    (sw,) = analysis.settings_sweeps(recs)
    assert [label for label, _ in sw["times"]] == ["chunk=1", "chunk=4", "chunk=16"]
    assert math.isclose(sw["times"][2][1], 1e-3 / 16)


def test_slope_intervals_come_from_the_sample_spread_and_flat_is_flat():
    from bench import analysis
    xs = [10, 100, 1000]
    tight = [[1e-3 * (x / 10) * f for f in (0.99, 1.0, 1.01)] for x in xs]
    lo, hi = analysis.slope_interval(xs, tight)
    assert lo < 1.0 < hi and hi - lo < 0.05
    noisy_flat = [[1e-6 * f for f in (0.5, 1.0, 1.6)] for _ in xs]
    ci = analysis.slope_interval(xs, noisy_flat)
    assert ci[0] < 0.0 < ci[1]
    assert analysis.is_flat(-0.21, ci)
    assert not analysis.is_flat(1.0, (0.95, 1.05))
