"""The lecture suite (``fwdrev run --suite lecture``, issue 11 §4-5): the cascade's two
multiplication orders (agreement with tapes.grad, FLOP counts ∝ d³ and d²), the four ways on
the logistic map, the gradient check's V, the ReLU Jacobian, the gate patterns, and a mini
run of the whole suite producing every section and picture. No timing assertions."""
import math
import os
import re
import shutil

import numpy as np
import pytest

import dualnum
import fwdrev
import tapes
from bench import engines, explain, lecture, problems, records, suites
from bench.cli import main
from bench.engines import chain
from bench.errors import UsageError
from mini_suite import run_mini_suite

MATRIX, VECTOR = "chain-matrix-first", "chain-vector-first"


def chain_instance(d, e, engine=None, seed=3):
    prob = problems.get("jacobian-chain")
    xp = engines.get(engine).namespace() if engine else np
    return prob.instantiate(prob.size(n=d, depth=e), seed=seed, xp=xp)


# ------------------------------------------------------------------ the cascade
@pytest.mark.parametrize("d, e", [(1, 1), (3, 1), (5, 2), (8, 4), (16, 7)])
@pytest.mark.parametrize("engine", [MATRIX, VECTOR])
def test_chain_orders_agree_with_tapes_grad(engine, d, e):
    ref_inst = chain_instance(d, e)
    reference = tapes.grad(ref_inst.f)(ref_inst.x)
    inst = chain_instance(d, e, engine)
    np.testing.assert_array_equal(inst.x, ref_inst.x)
    eng = engines.get(engine)
    got = eng.build(inst.f, inst.x, True, {})(inst.x)
    assert got.shape == (d,)
    assert engines.max_rel_error(got, reference) < 1e-13
    assert np.abs(reference).max() > 0


def test_the_problem_is_the_layer_loop_for_every_other_engine():
    inst = chain_instance(6, 3)
    h = inst.x
    for w in inst.data["layers"]:
        h = np.tanh(w @ h)
    assert inst.f(inst.x) == pytest.approx(float(inst.data["readout"] @ h), rel=1e-14)
    np.testing.assert_allclose(dualnum.grad(inst.f)(inst.x), tapes.grad(inst.f)(inst.x),
                               rtol=1e-12)


@pytest.mark.parametrize("d, e", [(2, 1), (7, 3), (32, 5)])
def test_flop_counts_are_the_closed_forms(d, e):
    for engine, order in ((MATRIX, "matrix-first"), (VECTOR, "vector-first")):
        inst = chain_instance(d, e, engine)
        sizes = engines.get(engine).sizes(inst.f, inst.x, True, {})
        assert sizes["flops"] == chain.flops(order, d, e)
        assert isinstance(sizes["flops"], int)


def test_flops_scale_as_d_cubed_and_d_squared():
    def exponent(order, d, e=8):
        return math.log2(chain.flops(order, 2 * d, e) / chain.flops(order, d, e))
    assert exponent("matrix-first", 512) == pytest.approx(3.0, abs=0.01)
    assert exponent("vector-first", 512) == pytest.approx(2.0, abs=0.01)
    assert 2.8 < exponent("matrix-first", 64) < 3.0     # lower-order terms at small d
    # linear in the number of layers (matrix-first: e - 1 products)
    assert chain.flops("vector-first", 64, 16) == 2 * chain.flops("vector-first", 64, 8)
    ratio = chain.flops("matrix-first", 64, 32) / chain.flops("matrix-first", 64, 16)
    assert ratio == pytest.approx(31 / 15, rel=0.02)       # (e - 1) d x d products dominate
    # and the counted FLOPs of the engines follow the same exponents
    counted = {}
    for engine in (MATRIX, VECTOR):
        counted[engine] = [engines.get(engine).sizes(
            (inst := chain_instance(d, 4, engine)).f, inst.x, True, {})["flops"]
            for d in (64, 128)]
    assert math.log2(counted[MATRIX][1] / counted[MATRIX][0]) > 2.8
    assert math.log2(counted[VECTOR][1] / counted[VECTOR][0]) == pytest.approx(2.0, abs=0.02)


def test_chain_engines_refuse_other_problems():
    prob = problems.get("lecture")
    for engine in (MATRIX, VECTOR):
        eng = engines.get(engine)
        inst = prob.instantiate(prob.size(), xp=eng.namespace())
        with pytest.raises(ValueError, match="needs the jacobian-chain problem"):
            eng.build(inst.f, inst.x, True, {})


def test_chain_through_the_harness_records_flops_and_checks_against_reverse(tmp_path, capsys):
    out = tmp_path / "chain.jsonl"
    status = main(["run", "--problem", "jacobian-chain", "--engine", f"{MATRIX},{VECTOR}",
                   "--n", "3,6", "--depth", "2", "--out", str(out), "--no-memory",
                   "--min-time", "0.001", "--samples", "3"])
    assert status == 0, capsys.readouterr().err
    _, results = records.read(out)
    assert {r["engine"] for r in results} == {MATRIX, VECTOR} and len(results) == 4
    for r in results:
        assert r["ok"] is True and r["reference"] == "reverse"
        assert r["max_rel_error"] < 1e-12
        assert r["engine_sizes"]["flops"] == chain.flops(
            r["engine"].removeprefix("chain-"), r["n"], r["depth"])
    # the report's cascade section reads them
    status = main(["report", str(out), "--outdir", str(tmp_path)])
    assert status == 0
    md = (tmp_path / "chain.md").read_text(encoding="utf-8")
    assert "## The cascade: the order of the Jacobian product" in md
    assert (tmp_path / "chain-chain-vs-d.png").stat().st_size > 10_000


def test_a_flops_field_of_the_wrong_type_is_refused_and_old_records_stay_valid():
    rec = {"kind": "result", "problem": "jacobian-chain", "engine": MATRIX,
           "engine_sizes": {"flops": "many"}}
    with pytest.raises(UsageError, match="flops"):
        records._check_record(rec, "r.jsonl:2")
    records._check_record({**rec, "engine_sizes": {"tape_len": 3}}, "r.jsonl:2")
    records._check_record({**rec, "engine_sizes": {"flops": 12}}, "r.jsonl:2")


def test_the_lecture_suite_plans_the_cascade_and_has_its_own_report():
    suite = suites.SUITES["lecture"]
    jobs = suite.plan()
    assert {j.problem for j in jobs} == {"jacobian-chain"}
    assert {MATRIX, VECTOR} <= {j.engine for j in jobs}
    assert len({j.key() for j in jobs}) == len(jobs)          # no record measured twice
    assert suite.report_writer() is lecture.write_report


# ------------------------------------------------------------------ four ways
def test_the_hand_derivatives_are_the_derivatives():
    for k, hand in explain.HAND_LOGISTIC.items():
        f = explain.logistic_map(k)
        for x in (0.1, 0.3, 0.77):
            assert hand.f(x) == pytest.approx(f(x), rel=1e-12, abs=1e-15)
            assert hand.function()(x) == pytest.approx(dualnum.derivative(f)(x), rel=1e-11,
                                                       abs=1e-13)
    assert explain.HAND_LOGISTIC[4].ops() > explain.HAND_LOGISTIC[3].ops() > 3 * 3


def test_references_agree():
    pytest.importorskip("mpmath")
    for k in (1, 4, 9):
        m = lecture.logistic_reference(0.3, k, "mpmath")
        q = lecture.logistic_reference(0.3, k, "fractions")
        for a, b in zip(m, q):
            assert abs(float(a) - float(b)) <= 1e-15 * max(1.0, abs(float(b)))
    exact = lecture.lecture_gradient_reference(2.0, 3.0, "mpmath")
    ld = lecture.lecture_gradient_reference(2.0, 3.0, "fractions")   # long double
    assert abs(float(exact[0]) - float(ld[0])) < 1e-15


FAST = dict(min_sample_s=0.0005, samples=1, max_time_s=0.01)


def test_four_ways_numbers():
    data = lecture.four_ways(lecture.Options(ks=(1, 2, 4, 6), symbolic_max_k=4, **FAST))
    rows = {r["K"]: r for r in data["rows"]}
    for k, r in rows.items():
        v, dv = 0.3, 1.0
        for _ in range(k - 1):
            v, dv = 4 * v * (1 - v), 4 * dv - 8 * v * dv
        assert r["df"] == pytest.approx(dv, rel=1e-13)
        for way in ("forward AD", "reverse AD"):
            assert r["ways"][way]["error"] < 1e-14          # exact up to rounding
        assert r["ways"]["forward difference"]["error"] < 1e-4
        assert r["ways"]["central difference"]["error"] < 1e-7
        assert ("manual" in r["ways"]) == (k <= 4)
        assert r["graph_nodes"] == 3 * (k - 1)
    assert rows[4]["ways"]["manual"]["error"] < 1e-14
    # numerical differentiation is approximate where AD is exact
    assert rows[6]["ways"]["forward difference"]["error"] > \
        100 * max(rows[6]["ways"]["reverse AD"]["error"], 1e-16)
    if data["sympy"]:
        sizes = [rows[k]["ways"]["symbolic"]["size"] for k in (2, 4)]
        assert sizes[1] > 5 * sizes[0]                     # expression swell
        assert rows[4]["ways"]["symbolic"]["error"] < 1e-13
        assert "symbolic" not in rows[6]["ways"]           # beyond symbolic_max_k


def test_gradient_check_is_a_v_and_ad_is_flat():
    data = lecture.gradient_check(lecture.Options(h_per_decade=4))
    case = data["cases"][0]                                 # the lecture's f at (2, 3)
    h_fwd, e_fwd = case["forward_min"]
    h_cen, e_cen = case["central_min"]
    assert 1e-9 <= h_fwd <= 1e-7 and e_fwd < 1e-7           # around √ε ~ 1.5e-8
    assert 1e-6 <= h_cen <= 1e-4 and e_cen < 1e-9           # around ε^(1/3) ~ 6e-6
    trunc_f, round_f = case["forward_slopes"]
    trunc_c, round_c = case["central_slopes"]
    assert trunc_f == pytest.approx(1.0, abs=0.15) and trunc_c == pytest.approx(2.0, abs=0.2)
    assert round_f < -0.5 and round_c < -0.5                # round-off: error grows as h shrinks
    hs = case["hs"]
    assert case["forward"][0] > 100 * e_fwd and case["forward"][-1] > 100 * e_fwd  # both arms
    assert hs[0] == pytest.approx(0.1) and hs[-1] == pytest.approx(1e-14)
    for c in data["cases"]:
        assert c["forward AD"] < 1e-15 and c["reverse AD"] < 1e-15
        assert c["central_min"][1] < c["forward_min"][1]


def test_relu_jacobian_is_diagonal_and_the_vjp_needs_no_matrix():
    data = lecture.relu_jacobian(lecture.Options(relu_n=128, **FAST))
    assert data["dense_bytes"] == 128 * 128 * 8
    assert data["diagonal_ok"] and data["vjp_ok"] and data["dense_ok"]
    assert data["cotangent_bytes"] == 128 * 8 and data["mask_bytes"] == 128
    assert data["corner"].shape == (64, 64)
    assert np.array_equal(np.diag(data["corner"]), (data["x"][:64] > 0).astype(float))


def test_gate_patterns_are_read_off_the_adjoints():
    ex = explain.example("gates")
    sentences = " ".join(lecture.gate_sentences(fwdrev.trace(ex.fn, *ex.point)))
    assert "**distributes**" in sentences and "**routes**" in sentences
    assert "**switches**" in sentences
    assert "x3 gets 2, x4 gets 0" in sentences               # max routes to the larger
    lec = explain.example("lecture")
    branch = lecture.gate_sentences(fwdrev.trace(lec.fn, *lec.point))
    assert any(s.startswith("**Branch**: x1 feeds v1, v2") for s in branch)


# ------------------------------------------------------------------ the whole suite, mini
MINI = suites.Suite(
    "lecture", "a mini lecture suite for the tests",
    (suites.Entry(("jacobian-chain",), (MATRIX, VECTOR), n=[4, 8, 16], depth=[2]),
     suites.Entry(("jacobian-chain",), (MATRIX, VECTOR), n=[8], depth=[3, 4])),
    report="bench.lecture:write_report",
    report_options=dict(ks=(1, 2, 3, 4, 5), symbolic_max_k=4, relu_n=128, h_per_decade=2,
                        **FAST))

SECTIONS = ("## 1. Four ways to get a derivative", "## 2. The gradient check",
            "## 3. Evaluation traces and computational graphs", "### 3.1 `lecture`",
            "### 3.2 `homework`", "### 3.3 `gates`", "## 4. The Jacobian of ReLU",
            "## 5. The cascade: the order of the Jacobian product")


def test_mini_lecture_suite_writes_every_section_and_picture(tmp_path, monkeypatch, capsys):
    outdir, md = run_mini_suite(MINI, tmp_path, monkeypatch, capsys, SECTIONS)
    # the lecture's numbers, from the run
    assert "**f = v3 = 6.9093**" in md and "x̄1 = 2.5839" in md
    assert f"| 4 | {0.99434:.6g}" in md                      # l4(0.3) in the four-ways table
    assert ("symbolic**: skipped" in md) == (lecture._sympy() is None)
    # every picture the report shows exists, and the expected ones are there
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert shown
    for name in shown:
        assert (outdir / name).stat().st_size > 5_000, name
    for name in ("lecture_four_ways.png", "lecture_gradient_check.png",
                 "lecture_relu_jacobian.png", "lecture_chain_vs_d.png", "lecture_chain_vs_e.png"):
        assert name in shown
    graphs = ("lecture_graph", "lecture_graph_homework", "lecture_graph_gates")
    if shutil.which("dot"):
        for g in graphs:
            assert (outdir / f"{g}.png").stat().st_size > 5_000
            assert f"{g}.svg" in shown
    else:
        if os.environ.get("CI"):
            pytest.fail("CI must install Graphviz (.ci/run does)")
        for g in graphs:
            assert (outdir / f"{g}.dot").exists()
    # `fwdrev report` on the suite's results writes the lecture report again (its header
    # says which suite wrote it), and leaves no picture of the earlier run behind
    (outdir / "lecture_stale.png").write_bytes(b"old")
    status = main(["report", str(outdir / "lecture.jsonl"), "--outdir", str(outdir)])
    assert status == 0
    assert "## 4. The Jacobian of ReLU" in (outdir / "lecture.md").read_text(encoding="utf-8")
    assert not (outdir / "lecture_stale.png").exists()


def test_without_sympy_the_symbolic_way_is_one_skipped_line(tmp_path, monkeypatch):
    monkeypatch.setattr(lecture, "_sympy", lambda: None)
    data = lecture.four_ways(lecture.Options(ks=(1, 2), **FAST))
    lines = lecture.four_ways_section(data, str(tmp_path), "t")
    skipped = [l for l in lines if "skipped" in l and "sympy" in l]
    assert len(skipped) == 1 and "pip install 'fwdrev[symbolic]'" in skipped[0]
    assert (tmp_path / "t_four_ways.png").exists()
