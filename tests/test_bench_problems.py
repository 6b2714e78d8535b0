"""bench.problems and bench.engines: every problem under every engine, on tiny sizes,
against closed forms from the lecture where there is one."""

import numpy as np
import pytest

from bench import engines, problems
from bench.engines import max_rel_error
from bench.errors import UsageError


def derivative(engine, problem, **size):
    prob = problems.get(problem)
    inst = prob.instantiate(prob.size(**size), seed=3)
    eng = engines.get(engine)
    return inst, eng.build(inst.f, inst.x, prob.scalar, eng.resolve({}))(inst.x)


TINY = {"rosenbrock": {"n": 3}, "logreg": {"n": 3}, "mlp-loss": {"n": 2},
        "tanh-net": {"n": 3, "m": 2}, "logistic-map": {"n": 2, "depth": 5},
        "layer-chain": {"n": 3, "m": 2, "depth": 2}, "jacobian-chain": {"n": 3, "depth": 2},
        "lecture": {}, "homework": {},
        "gmm": {"params": {"d": 3, "K": 2, "N": 5}}, "ba": {"params": {"C": 2, "P": 3, "O": 4}},
        "lstm": {"params": {"l": 1, "c": 3, "b": 2}},
        "logistic-loop": {"depth": 5}, "rosenbrock-loop": {"n": 4}}


def test_every_problem_has_a_tiny_size():
    assert set(TINY) == set(problems.PROBLEMS)


@pytest.mark.parametrize("name", sorted(TINY))
def test_engines_agree_on_every_problem(name):
    inst, fwd = derivative("forward", name, **TINY[name])
    _, rev = derivative("reverse", name, **TINY[name])
    _, fd = derivative("fd", name, **TINY[name])
    prob = problems.get(name)
    expected = (inst.in_size,) if prob.scalar else (inst.out_size, inst.in_size)
    assert fwd.shape == rev.shape == fd.shape == expected
    assert max_rel_error(fwd, rev) < engines.EXACT_TOL
    assert max_rel_error(fd, rev) < engines.APPROX_TOL
    assert np.abs(rev).max() > 0          # a zero derivative would make agreement vacuous


def test_lecture_gradient_is_the_hand_derived_one():
    inst, grad = derivative("reverse", "lecture")
    x1, x2 = inst.x
    np.testing.assert_allclose(grad, [x2 + np.cos(x1), x1], rtol=1e-14)


def test_homework_gradient_matches_hand_derivation():
    inst, grad = derivative("forward", "homework")
    x = inst.x
    assert x[0] != x[1]
    big = max(x[0], x[1])
    u = 5 * (big * x[2] / x[3] - (x[4] + x[5]))
    assert u > 0                           # the input keeps the log defined
    # f = sigmoid(log u) + 1/2 = u / (1 + u) + 1/2, so df/du = 1 / (1 + u)^2.
    du = np.zeros(6)
    du[0 if x[0] > x[1] else 1] = 5 * x[2] / x[3]
    du[2] = 5 * big / x[3]
    du[3] = -5 * big * x[2] / x[3] ** 2
    du[4] = du[5] = -5
    np.testing.assert_allclose(grad, du / (1 + u) ** 2, rtol=1e-12)
    np.testing.assert_allclose(inst.f(x), u / (1 + u) + 0.5, rtol=1e-14)


def test_logistic_map_matches_the_lectures_closed_form_at_depth_four():
    # The lecture: l1 = x, l4 = 64x(1-x)(1-2x)^2(1-8x+8x^2)^2 for r = 4, i.e. three
    # applications of the map.  Our depth counts applications.
    prob = problems.get("logistic-map")
    inst = prob.instantiate(prob.size(n=3, depth=3, params={"r": 4.0}), seed=1)
    x = inst.x
    closed = 64 * x * (1 - x) * (1 - 2 * x) ** 2 * (1 - 8 * x + 8 * x ** 2) ** 2
    np.testing.assert_allclose(inst.f(x), closed, rtol=1e-12)
    eng = engines.get("forward")
    jac = eng.build(inst.f, x, False, {"chunk": None})(x)
    h = 1e-6
    slope = (64 * (x + h) * (1 - x - h) * (1 - 2 * (x + h)) ** 2 * (1 - 8 * (x + h) + 8 * (x + h) ** 2) ** 2
             - 64 * (x - h) * (1 - x + h) * (1 - 2 * (x - h)) ** 2 * (1 - 8 * (x - h) + 8 * (x - h) ** 2) ** 2) / (2 * h)
    np.testing.assert_allclose(np.diag(jac), slope, rtol=1e-6)
    assert np.count_nonzero(jac - np.diag(np.diag(jac))) == 0   # elementwise map


def test_logistic_map_default_stays_finite_at_large_depth():
    prob = problems.get("logistic-map")
    inst, jac = derivative("forward", "logistic-map", depth=5000)
    assert np.isfinite(jac).all() and np.abs(jac).max() > 0


def test_instances_are_seeded_and_reproducible():
    prob = problems.get("tanh-net")
    a = prob.instantiate(prob.size(n=4, m=3), seed=7)
    b = prob.instantiate(prob.size(n=4, m=3), seed=7)
    c = prob.instantiate(prob.size(n=4, m=3), seed=8)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.f(a.x), b.f(b.x))
    assert not np.array_equal(a.x, c.x)


def test_sizes_fill_defaults_and_reject_what_a_problem_lacks():
    assert problems.get("rosenbrock").size().m == 1
    assert problems.get("lecture").size().n == 2
    assert problems.get("logistic-map").size(n=3).m == 3
    with pytest.raises(UsageError, match="no 'm' knob"):
        problems.get("rosenbrock").size(m=4)
    with pytest.raises(UsageError, match="n >= 2"):
        problems.get("rosenbrock").size(n=1)
    with pytest.raises(UsageError, match="no parameter 'q'"):
        problems.get("logistic-map").size(params={"q": 1.0})
    with pytest.raises(UsageError, match="unknown problem 'nope'"):
        problems.get("nope")


def test_mlp_loss_input_size_is_its_parameter_count():
    prob = problems.get("mlp-loss")
    assert prob.in_size(prob.size(n=5)) == 16 * 5 + 186


def test_max_rel_error_is_normwise_and_catches_wrong_entries():
    ref = np.array([[1.0, 0.0], [0.0, 2.0]])
    assert max_rel_error(ref, ref) == 0.0
    assert max_rel_error(ref + 1e-30, ref) < 1e-20      # tiny noise on a zero entry
    wrong = ref.copy()
    wrong[0, 1] = 0.1
    assert max_rel_error(wrong, ref) == pytest.approx(0.05)
    assert np.isnan(max_rel_error([np.nan], [1.0]))
    assert max_rel_error([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert max_rel_error([np.inf], [1.0]) == np.inf
    with pytest.raises(ValueError, match="shape"):
        max_rel_error(np.zeros(2), np.zeros(3))


def test_fd_step_rule_gives_accurate_central_differences():
    from bench.engines.fd import central_difference

    x = np.array([0.3, -2.0, 40.0])
    got = central_difference(lambda v: np.sin(v) * v, x)
    exact = np.diag(np.cos(x) * x + np.sin(x))
    assert max_rel_error(got, exact) < 1e-7      # truncation ~ h^2 |f'''| / 6


def test_engine_settings_resolve_to_defaults():
    assert engines.get("forward").resolve({}) == {"chunk": None}
    assert engines.get("forward").resolve({"chunk": 4, "other": 1}) == {"chunk": 4}
    assert engines.get("fd").resolve({"chunk": 4}) == {}


def test_reference_choice():
    names = set(engines.ENGINES)
    assert engines.reference_for(engines.get("forward"), names) == "reverse"
    assert engines.reference_for(engines.get("reverse"), names) == "forward"
    assert engines.reference_for(engines.get("fd"), names) == "reverse"
    assert engines.reference_for(engines.get("fd"), {"fd"}) is None


def test_reverse_reports_its_tape():
    prob = problems.get("logistic-map")
    inst = prob.instantiate(prob.size(depth=50))
    sizes = engines.get("reverse").sizes(inst.f, inst.x, False, {"chunk": None})
    assert sizes["tape_len"] >= 50 and sizes["tape_bytes"] > 0
