"""The compiled engines in the bench harness: forward-jit, reverse-jit, hand-jit."""
import numpy as np
import pytest

from bench import engines, problems
from bench.engines import max_rel_error


def derivative(engine, problem, **size):
    prob = problems.get(problem)
    inst = prob.instantiate(prob.size(**size), seed=3, xp=engines.get(engine).namespace())
    eng = engines.get(engine)
    return eng.build(inst.f, inst.x, prob.scalar, eng.resolve({}))(inst.x)


@pytest.mark.parametrize("problem, size", [("logistic-loop", {"depth": 50}),
                                           ("rosenbrock-loop", {"n": 10})])
@pytest.mark.parametrize("engine", ["forward-jit", "reverse-jit", "hand-jit"])
def test_compiled_engines_agree_with_reverse(engine, problem, size):
    want = derivative("reverse", problem, **size)
    got = derivative(engine, problem, **size)
    assert got.shape == want.shape
    assert max_rel_error(got, want) < engines.EXACT_TOL
    assert np.abs(want).max() > 0


@pytest.mark.parametrize("problem, size", [("rosenbrock", {"n": 6}), ("lecture", {}),
                                           ("homework", {}), ("logistic-map", {"n": 3, "depth": 4})])
def test_reverse_jit_replays_problems_without_an_njit_form(problem, size):
    want = derivative("reverse", problem, **size)
    assert max_rel_error(derivative("reverse-jit", problem, **size), want) < engines.EXACT_TOL


def test_engines_needing_an_njit_form_say_so():
    for engine in ("forward-jit", "hand-jit"):
        with pytest.raises(ValueError, match="@njit"):
            derivative(engine, "rosenbrock", n=4)


def test_the_plain_evaluation_is_the_native_kernel():
    prob = problems.get("logistic-loop")
    inst = prob.instantiate(prob.size(depth=10), seed=0)
    from bench.problems.logistic_loop import logistic_loop
    assert inst.f(inst.x) == logistic_loop(inst.x, 10, 3.0)
    assert logistic_loop.signatures  # ran compiled


def test_targets_script_runs_on_tiny_sizes():
    """bench/jit_targets.py must not rot; its numbers are never asserted."""
    from bench import jit_targets
    lines = []
    res = jit_targets.run(quick=True, out=lines.append, sections=(3,))
    assert len(res["rows"]) == 4 and all(r["measured"] > 0 for r in res["rows"])
    assert any("bytes / scalar op" in line for line in lines)
