"""bench.targets: every row of the speed issue's table, measured and written (no timing
assertions: the numbers are the report's, not the test's)."""
import numpy as np
import pytest

from bench import targets

MEASURES = ("marginal cost of one more op", "logistic map", "recorded tape", "Rosenbrock",
            "peak memory", "minor page faults", "MLP", "float32", "tanh-net Jacobian")


def _quick_report(tmp_path):
    out = tmp_path / "targets.md"
    assert targets.main(["--quick", "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_quick_run_writes_every_row(tmp_path):
    text = _quick_report(tmp_path)
    for measure in MEASURES:
        assert measure in text
    # two tables: the eager tier's header and nine rows, the compiled tier's and seven
    assert text.count("\n| ") == 1 + 9 + 1 + 7
    for measure in ("fused replay gradient / NumPy f", "fused replay gradient / hand backprop",
                    "best fused mode / JAX jit best", "second process"):
        assert measure in text
    assert not targets.NOTES, targets.NOTES  # no installed peer failed


def test_quick_run_without_peers(tmp_path, monkeypatch):
    """Peers absent: one line in the header, a dash in their cells, every row still there."""
    monkeypatch.setattr(targets, "_peer", lambda name: None)
    text = _quick_report(tmp_path)
    assert "Not installed, shown as –: torch, autograd, jax" in text
    assert text.count("\n| ") == 1 + 9 + 1 + 7
    for label in ("torch –", "autograd –", "JAX eager –", "JAX jit –",
                  "torch.func best: (16,16) –"):
        assert label in text
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    marginal = next(v for k, v in rows.items() if "marginal cost" in k)
    assert marginal.endswith("| – |")  # "≤ torch" is undecidable without torch
    assert not targets.NOTES


def test_hand_backprop_baseline_is_the_gradient():
    """The hand-written baselines compute what fwdrev computes (else the ratios lie)."""
    loss, hand, ws = targets._mlp(np.float64, quick=True)
    import tapes
    for got, want in zip(hand(*ws), tapes.grad(loss, argnums=(0, 1, 2))(*ws)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    x = np.linspace(-1.0, 1.0, 7)
    np.testing.assert_allclose(targets._rosen_grad_hand(x), tapes.grad(targets._rosen)(x),
                               rtol=1e-12)


@pytest.mark.parametrize("label", targets.GRAD_PEERS)
def test_peer_baselines_compute_the_same_derivatives(label):
    """Each peer's timed function computes what fwdrev computes (else the ratios lie)."""
    pytest.importorskip(targets.LIBRARY[label])
    make_f, x = targets._problem("rosenbrock", 9)
    np.testing.assert_allclose(np.asarray(targets._grad_fn(label, make_f)(x)),
                               targets._rosen_grad_hand(x), rtol=1e-12)
    make_f, x = targets._problem("logistic", 5)
    np.testing.assert_allclose(float(targets._grad_fn(label, make_f)(x)),
                               float(targets._grad_fn("fwdrev", make_f)(x)), rtol=1e-12)
    if label in ("torch", "autograd", "JAX jit"):
        loss, hand, ws = targets._mlp(np.float32, quick=True)
        own_f, grad = targets._mlp_peer(label, np.float32, quick=True)
        np.testing.assert_allclose(float(own_f()), loss(*ws), rtol=1e-5)
        for got, want in zip(grad(), hand(*ws)):
            assert np.asarray(got).dtype == np.float32
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-6)
    if label in ("torch", "JAX jit"):
        rng = np.random.default_rng(1)
        w1, v = rng.standard_normal((4, 3)), rng.standard_normal(3)
        import dualnum
        want = dualnum.jacobian(lambda u: np.tanh(w1 @ np.tanh(u)))(v)
        peer = "torch.func" if label == "torch" else label
        for jac in targets._tanh_peer(peer, w1).values():
            np.testing.assert_allclose(np.asarray(jac(v)), want, rtol=1e-12)
