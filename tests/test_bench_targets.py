"""bench.targets: every row of the speed issue's table, measured and written (no timing
assertions: the numbers are the report's, not the test's)."""
import numpy as np

from bench import targets


def test_quick_run_writes_every_row(tmp_path):
    out = tmp_path / "targets.md"
    assert targets.main(["--quick", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    for measure in ("marginal cost of one more op", "logistic map", "recorded tape",
                    "Rosenbrock", "peak memory", "MLP", "float32", "tanh-net Jacobian"):
        assert measure in text
    assert text.count("\n| ") == 1 + 8  # the header and eight rows


def test_hand_backprop_baseline_is_the_gradient():
    """The hand-written baselines compute what fwdrev computes (else the ratios lie)."""
    loss, hand, ws = targets._mlp(np.float64, quick=True)
    import tapes
    for got, want in zip(hand(*ws), tapes.grad(loss, argnums=(0, 1, 2))(*ws)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    x = np.linspace(-1.0, 1.0, 7)
    np.testing.assert_allclose(targets._rosen_grad_hand(x), tapes.grad(targets._rosen)(x),
                               rtol=1e-12)
