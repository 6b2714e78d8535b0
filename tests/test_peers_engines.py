"""Peer engines (JAX, PyTorch, autograd, sympy) and the finite-difference variants on
tiny sizes, against our reverse mode on the same input.  Each peer's tests are skipped
when the library is not installed (CI installs only '.[test]')."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

import tapes
from bench import engines, problems, sweep
from bench.engines import EXACT_TOL, max_rel_error

#: Tiny sizes of the problems written in plain NumPy (every problem but the @njit loops).
TINY = {"rosenbrock": {"n": 3}, "logreg": {"n": 3}, "mlp-loss": {"n": 2},
        "tanh-net": {"n": 3, "m": 2}, "logistic-map": {"n": 2, "depth": 5},
        "layer-chain": {"n": 3, "m": 2, "depth": 2}, "jacobian-chain": {"n": 3, "depth": 2},
        "lecture": {}, "homework": {},
        "gmm": {"params": {"d": 3, "K": 2, "N": 4}},
        "ba": {"params": {"C": 2, "P": 3, "O": 4}},
        "lstm": {"params": {"l": 2, "c": 3, "b": 2}}}

PEERS = {"jax": ("jax-fwd", "jax-rev", "jax-jit-fwd", "jax-jit-rev"),
         "torch": ("torch-fwd", "torch-rev"),
         "autograd": ("autograd-fwd", "autograd-rev")}


def reference(name, seed=3):
    prob = problems.get(name)
    inst = prob.instantiate(prob.size(**TINY[name]), seed=seed)
    op = tapes.grad if prob.scalar else tapes.jacobian
    return inst, op(inst.f)(inst.x)


def peer_derivative(engine, name, seed=3):
    """The derivative by ``engine`` with the problem in the engine's namespace."""
    prob, eng = problems.get(name), engines.get(engine)
    inst = prob.instantiate(prob.size(**TINY[name]), seed=seed, xp=eng.namespace())
    d = eng.build(inst.f, inst.x, prob.scalar, eng.resolve({}))
    return inst, d(inst.x)


def test_tiny_covers_every_numpy_problem():
    njit_loops = {n for n in problems.PROBLEMS if n.endswith("-loop")}
    assert set(TINY) == set(problems.PROBLEMS) - njit_loops


@pytest.mark.parametrize("library,engine", [(lib, e) for lib, es in PEERS.items() for e in es])
@pytest.mark.parametrize("name", sorted(TINY))
def test_peer_agrees_with_reverse(library, engine, name):
    pytest.importorskip(library)
    ref_inst, ref = reference(name)
    inst, result = peer_derivative(engine, name)
    np.testing.assert_array_equal(inst.x, ref_inst.x)          # same input
    assert isinstance(result, np.ndarray) and result.dtype == np.float64
    assert result.shape == ref.shape
    assert max_rel_error(result, ref) < EXACT_TOL
    assert np.abs(ref).max() > 0


@pytest.mark.parametrize("engine", [e for es in PEERS.values() for e in es])
def test_peer_reports_its_own_f_time(engine):
    eng = engines.get(engine)
    pytest.importorskip(eng.module)
    prob = problems.get("tanh-net")
    inst = prob.instantiate(prob.size(n=3, m=2), seed=0, xp=eng.namespace())
    sizes = eng.sizes(inst.f, inst.x, False, {})
    assert sizes["own_f_time_s"] > 0
    assert eng.version().startswith(eng.module)


def test_jax_runs_in_float64():
    pytest.importorskip("jax")
    eng = engines.get("jax-jit-rev")
    xp = eng.namespace()
    assert xp.asarray(np.ones(2)).dtype == np.float64
    # 1 + 1e-12 is lost in float32 but not in float64: a float32 derivative would fail.
    f = lambda x: xp.sum(x * (1.0 + 1e-12 * x))
    d = eng.build(f, np.ones(2), True, {})(np.full(2, 1e3))
    np.testing.assert_allclose(d, 1 + 2e-12 * 1e3, rtol=1e-15)


def test_torch_namespace_matches_numpy():
    torch = pytest.importorskip("torch")
    from bench.engines import torch_xp as xp

    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4))
    t = xp.asarray(a)
    assert t.dtype == torch.float64
    for name in ("sin", "cos", "tanh", "exp"):
        np.testing.assert_allclose(getattr(xp, name)(t).numpy(), getattr(np, name)(a))
    np.testing.assert_allclose(xp.log(xp.abs(t)).numpy(), np.log(np.abs(a)))
    np.testing.assert_allclose(xp.sum(t, axis=1, keepdims=True).numpy(),
                               np.sum(a, axis=1, keepdims=True))
    np.testing.assert_allclose(xp.max(t, axis=0).numpy(), np.max(a, axis=0))
    np.testing.assert_allclose(xp.maximum(t, 0.0).numpy(), np.maximum(a, 0.0))
    np.testing.assert_allclose(xp.where(t > 0, t, 1.0).numpy(), np.where(a > 0, a, 1.0))
    np.testing.assert_allclose(xp.stack([t[:, 0], t[:, 1]], axis=-1).numpy(),
                               np.stack([a[:, 0], a[:, 1]], axis=-1))
    np.testing.assert_allclose(xp.concatenate([t, t], axis=1).numpy(),
                               np.concatenate([a, a], axis=1))
    np.testing.assert_allclose(xp.squeeze(xp.sum(t, axis=0, keepdims=True), axis=0).numpy(),
                               np.sum(a, axis=0))
    assert xp.asarray(np.arange(3)).dtype == torch.int64        # index arrays stay integer


def test_torch_runs_on_one_thread():
    torch = pytest.importorskip("torch")
    engines.get("torch-rev").namespace()
    assert torch.get_num_threads() == 1


# ---------------------------------------------------------------- symbolic


def test_symbolic_agrees_with_reverse_on_small_problems():
    pytest.importorskip("sympy")
    for name in ("lecture", "homework", "rosenbrock", "tanh-net", "logistic-map"):
        _, ref = reference(name)
        _, result = peer_derivative("symbolic", name)
        assert max_rel_error(result, ref) < EXACT_TOL, name


def test_symbolic_refuses_large_problems_with_one_line():
    pytest.importorskip("sympy")
    with pytest.raises(ValueError, match="small closed forms"):
        peer_derivative("symbolic", "mlp-loss")


def test_symbolic_shows_the_expression_swell():
    """The lecture's logistic map, k = 1..8: the derivative's expression tree grows
    exponentially, shared subexpressions (what AD computes) only linearly."""
    pytest.importorskip("sympy")
    eng = engines.get("symbolic")
    prob = problems.get("logistic-map")
    df, cse, f_ops = [], [], []
    for k in range(1, 9):
        inst = prob.instantiate(prob.size(n=1, depth=k, params={"r": 4.0}), seed=0,
                                xp=eng.namespace())
        s = eng.sizes(inst.f, inst.x, False, {})
        df.append(s["df_ops"])
        cse.append(s["df_ops_cse"])
        f_ops.append(s["f_ops"])
    assert all(b > a for a, b in zip(df, df[1:]))
    assert df[-1] / df[-2] > 1.8                    # doubling (and more) per iteration
    assert df[-1] > 50 * cse[-1]                    # CSE: linear in k
    assert cse[-1] < 30 * 8


def test_symbolic_closed_form_is_the_lectures_polynomial():
    sympy = pytest.importorskip("sympy")
    from bench.engines.symbolic import closed_form

    eng = engines.get("symbolic")
    prob = problems.get("logistic-map")
    inst = prob.instantiate(prob.size(n=1, depth=3, params={"r": 4.0}), seed=0,
                            xp=eng.namespace())
    (x,), (f,) = closed_form(inst.f, 1)
    lecture = 64 * x * (1 - x) * (1 - 2 * x) ** 2 * (1 - 8 * x + 8 * x ** 2) ** 2
    assert sympy.expand(f - lecture) == 0


# ---------------------------------------------------------------- finite differences


def test_forward_differences_are_accurate_to_their_step_rule():
    from bench.engines.fd_forward import forward_difference

    _, ref = reference("rosenbrock")
    inst, _ = reference("rosenbrock")
    fd = forward_difference(inst.f, inst.x)
    err = max_rel_error(fd, ref)
    assert 1e-12 < err < 1e-6            # one-sided: ~sqrt(eps), not exact
    central = engines.get("fd").build(inst.f, inst.x, True, {})(inst.x)
    assert max_rel_error(central, ref) < err     # central beats forward


def test_forward_differences_cost_n_plus_one_evaluations():
    from bench.engines.fd_forward import forward_difference

    calls = []

    def f(x):
        calls.append(1)
        return np.sum(x ** 2)

    forward_difference(f, np.ones(5))
    assert len(calls) == 6


# ---------------------------------------------------------------- missing peers


def test_missing_peer_is_one_line(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jax" else real(name, *a))
    eng = engines.get("jax-rev")
    reason = eng.missing()
    assert reason and "\n" not in reason and "fwdrev[peers]" in reason
    logged = []
    assert sweep.usable_engines(["forward", "jax-rev"], log=logged.append) == ["forward"]
    assert len(logged) == 1 and "jax-rev" in logged[0]


def test_cli_without_peers_skips_them(tmp_path):
    """A fresh interpreter where jax, torch, autograd and sympy cannot be found."""
    code = (
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "hidden = {'jax', 'torch', 'autograd', 'sympy'}\n"
        "importlib.util.find_spec = lambda n, *a: None if n.split('.')[0] in hidden "
        "else real(n, *a)\n"
        "from bench.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    out = tmp_path / "r.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", "--problem", "lecture", "--engine",
         "forward,jax-rev,torch-rev,autograd-rev,symbolic", "--no-memory",
         "--min-time", "0.001", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    skipped = [l for l in proc.stderr.splitlines() if "skipping" in l]
    assert len(skipped) == 1  # one line for all the missing peers
    assert all(name in skipped[0] for name in ("jax-rev", "torch-rev", "autograd-rev",
                                                "symbolic"))
    records = [json.loads(l) for l in out.read_text().splitlines()]
    assert [r["engine"] for r in records if r["kind"] == "result"] == ["forward"]
    listing = subprocess.run([sys.executable, "-c", code, "list"], capture_output=True,
                             text=True)
    assert listing.returncode == 0
    assert listing.stdout.count("MISSING") >= 9


def test_list_shows_peer_versions():
    pytest.importorskip("jax")
    proc = subprocess.run([sys.executable, "-m", "bench", "list"], capture_output=True,
                          text=True)
    assert proc.returncode == 0
    line = proc.stdout.split("  jax-rev")[1].splitlines()[1]
    assert "available (jax " in line


def test_vectorised_peers_refuse_sizes_that_cannot_fit():
    """jacfwd pushes all n directions at once: the estimate scales with n, so a GMM
    with millions of parameters is refused before it runs (no peer library needed)."""
    from bench.errors import UsageError

    jobs = sweep.plan(["gmm"], ["jax-jit-fwd", "torch-fwd"],
                      params={"d": [64], "K": [50], "N": [1000]})
    for job in jobs:
        with pytest.raises(UsageError, match="estimated"):
            sweep.check_memory([job], available=24 * 2**30)
    small = sweep.plan(["gmm"], ["jax-jit-fwd"], params={"d": [2], "K": [5]})
    sweep.check_memory(small, available=24 * 2**30)
