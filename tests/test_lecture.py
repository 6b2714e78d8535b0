"""The worked examples of the lecture (../shared/SEED.md), each in both engines."""
import numpy as np
import pytest

import dualnum
import tapes
from adcore import relu, sigmoid

GRADS = {"forward": dualnum.grad, "reverse": tapes.grad}
JACOBIANS = {"forward": dualnum.jacobian, "reverse": tapes.jacobian}
both = pytest.mark.parametrize("mode", ["forward", "reverse"])


# --- 1. four ways: the logistic map ------------------------------------------------------
def logistic_l4(x):
    v = x
    for _ in range(3):  # l1 = x, l(k+1) = 4 lk (1 - lk): three steps give l4
        v = 4 * v * (1 - v)
    return v


def l4_closed_form(x):
    return 64 * x * (1 - x) * (1 - 2 * x) ** 2 * (1 - 8 * x + 8 * x ** 2) ** 2


def l4_derivative_by_hand(x):
    # product rule on A = 64 x (1 - x), B = (1 - 2x)^2, C = (1 - 8x + 8x^2)^2
    a, da = 64 * x * (1 - x), 64 * (1 - 2 * x)
    b, db = (1 - 2 * x) ** 2, -4 * (1 - 2 * x)
    c, dc = (1 - 8 * x + 8 * x ** 2) ** 2, 2 * (1 - 8 * x + 8 * x ** 2) * (16 * x - 8)
    return da * b * c + a * db * c + a * b * dc


@both
@pytest.mark.parametrize("x", [0.1, 0.3, 0.77])
def test_logistic_map_l4_matches_hand_derived_derivative(mode, x):
    assert logistic_l4(x) == pytest.approx(l4_closed_form(x), rel=1e-12)
    assert GRADS[mode](logistic_l4)(x) == pytest.approx(l4_derivative_by_hand(x), rel=1e-12)


def test_logistic_map_forward_pairs_and_numerical_derivative():
    """Forward AD is the pair recurrence (v, v') <- (4v(1-v), 4v' - 8 v v'); the numerical
    derivative with h = 1e-6 is only approximate."""
    x = 0.3
    v, dv = x, 1.0
    for _ in range(3):
        v, dv = 4 * v * (1 - v), 4 * dv - 8 * v * dv
    assert dualnum.derivative(logistic_l4)(x) == pytest.approx(dv, rel=1e-13)
    numerical = (logistic_l4(x + 1e-6) - logistic_l4(x)) / 1e-6
    assert numerical == pytest.approx(dv, rel=1e-4)
    assert abs(numerical - dv) > 1e-12  # approximate, not exact


# --- 4. computational graph: f(x1, x2) = x1 x2 + sin(x1) -------------------------------
def lecture_f(x):
    x1, x2 = x[0], x[1]
    return x1 * x2 + np.sin(x1)


@both
def test_lecture_graph_gradient(mode):
    x = np.array([0.7, -1.3])
    np.testing.assert_allclose(GRADS[mode](lecture_f)(x), [np.cos(0.7) - 1.3, 0.7], rtol=1e-14)


def test_lecture_graph_forward_one_seed_per_input():
    x = np.array([0.7, -1.3])
    _, d1 = dualnum.jvp(lecture_f, (x,), (np.array([1.0, 0.0]),))
    _, d2 = dualnum.jvp(lecture_f, (x,), (np.array([0.0, 1.0]),))
    assert d1 == pytest.approx(np.cos(0.7) - 1.3) and d2 == pytest.approx(0.7)


def test_lecture_graph_reverse_one_sweep_gives_both():
    out, vjp_fn = tapes.vjp(lambda x1, x2: x1 * x2 + np.sin(x1), 0.7, -1.3)
    g1, g2 = vjp_fn(1.0)
    assert (g1, g2) == (pytest.approx(np.cos(0.7) - 1.3), pytest.approx(0.7))


# --- homework: sigmoid(log(5 (max{x1,x2} x3/x4 - (x5+x6)))) + 1/2 ----------------------
def homework(x):
    return sigmoid(np.log(5 * (np.maximum(x[0], x[1]) * x[2] / x[3] - (x[4] + x[5])))) + 0.5


def homework_gradient_by_hand(x):
    x1, x2, x3, x4, x5, x6 = x
    m = max(x1, x2)
    a = m * x3 / x4 - (x5 + x6)
    s = 1 / (1 + np.exp(-np.log(5 * a)))
    da = s * (1 - s) / a  # d sigmoid(log(5a)) / da
    dm = da * x3 / x4
    return np.array([dm * (x1 > x2), dm * (x2 > x1), da * m / x4, -da * m * x3 / x4 ** 2, -da, -da])


@both
@pytest.mark.parametrize("x", [[2.0, 1.0, 3.0, 1.5, 0.2, 0.3], [0.5, 1.5, 2.0, 0.7, -0.4, 0.1]])
def test_homework_function(mode, x):
    x = np.array(x)
    np.testing.assert_allclose(GRADS[mode](homework)(x), homework_gradient_by_hand(x), rtol=1e-12)


# --- logistic regression ------------------------------------------------------------------
def logreg_loss(w, x, y, lam):
    p1 = sigmoid(w @ x)
    return 0.5 * np.sum(w * w) - lam * np.log(p1 if y == 1 else 1 - p1)


@both
@pytest.mark.parametrize("y", [0, 1])
def test_logistic_regression_against_analytic_gradient(mode, y):
    rng = np.random.default_rng(3)
    w, x, lam = rng.standard_normal(6), rng.standard_normal(6), 0.7
    analytic = w - lam * (y - 1 / (1 + np.exp(-w @ x))) * x
    np.testing.assert_allclose(GRADS[mode](logreg_loss)(w, x, y, lam), analytic, rtol=1e-12)


# --- fully-connected + ReLU network against hand-written backprop -----------------------
def mlp_loss(W1, b1, W2, b2, X, labels):
    h = relu(X @ W1 + b1)
    scores = h @ W2 + b2
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(X.shape[0]), labels])


def mlp_backprop(W1, b1, W2, b2, X, labels):
    z = X @ W1 + b1
    h = np.maximum(z, 0)
    scores = h @ W2 + b2
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dscores = p.copy()
    dscores[np.arange(len(X)), labels] -= 1
    dscores /= len(X)
    dW2, db2 = h.T @ dscores, dscores.sum(axis=0)
    dz = (dscores @ W2.T) * (z > 0)
    return X.T @ dz, dz.sum(axis=0), dW2, db2


@both
def test_mlp_against_hand_written_backprop(mode):
    rng = np.random.default_rng(5)
    X, labels = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)
    params = (rng.standard_normal((5, 7)), rng.standard_normal(7), rng.standard_normal((7, 3)),
              rng.standard_normal(3))
    grads = GRADS[mode](mlp_loss, argnums=(0, 1, 2, 3))(*params, X, labels)
    for g, expected in zip(grads, mlp_backprop(*params, X, labels)):
        np.testing.assert_allclose(g, expected, rtol=1e-10, atol=1e-13)


# --- 8. the ReLU Jacobian of a 4096-d input ------------------------------------------------
@both
def test_relu_jacobian_4096_is_diagonal(mode):
    x = np.random.default_rng(1).standard_normal(4096)
    J = JACOBIANS[mode](relu)(x)
    assert J.shape == (4096, 4096)
    np.testing.assert_array_equal(J, np.diag((x > 0).astype(float)))


def test_relu_vjp_never_builds_the_jacobian():
    import tracemalloc
    x = np.random.default_rng(2).standard_normal(4096)
    w = np.random.default_rng(3).standard_normal(4096)
    tracemalloc.start()
    _, vjp_fn = tapes.vjp(relu, x)
    (g,) = vjp_fn(w)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    np.testing.assert_array_equal(g, w * (x > 0))
    assert peak < 50 * 4096 * 8, f"peak {peak} bytes: something of size n^2 = {4096**2 * 8} was built?"


# --- 6. patterns in the backward flow -------------------------------------------------------
def gates(x, y, z, w):
    return 2 * (x * y + np.maximum(z, w))


@both
def test_gate_patterns(mode):
    x, y, z, w = 3.0, -4.0, 2.0, -1.0
    dx, dy, dz, dw = GRADS[mode](gates, argnums=(0, 1, 2, 3))(x, y, z, w)
    assert (dx, dy) == (2 * y, 2 * x)      # multiply switches its inputs
    assert (dz, dw) == (2.0, 0.0)          # max routes to the larger input only
    add_grads = GRADS[mode](lambda a, b: a + b, argnums=(0, 1))(1.0, 2.0)
    assert add_grads == (1.0, 1.0)         # add distributes unchanged
    assert GRADS[mode](lambda a: a * a + np.sin(a))(0.5) == pytest.approx(2 * 0.5 + np.cos(0.5))  # branches add


# --- perturbation confusion ---------------------------------------------------------------------
@pytest.mark.parametrize("outer,inner", [(dualnum.derivative, dualnum.derivative),
                                         (tapes.grad, tapes.grad),
                                         (dualnum.derivative, tapes.grad),
                                         (tapes.grad, dualnum.derivative)])
def test_perturbation_confusion(outer, inner):
    assert outer(lambda x: x * inner(lambda y: x + y)(1.0))(1.0) == 1.0


@pytest.mark.parametrize("outer,inner", [(dualnum.derivative, dualnum.derivative),
                                         (tapes.grad, tapes.grad),
                                         (dualnum.derivative, tapes.grad),
                                         (tapes.grad, dualnum.derivative)])
def test_second_derivatives_by_nesting(outer, inner):
    x = 0.8
    assert outer(inner(np.sin))(x) == pytest.approx(-np.sin(x), rel=1e-14)
    assert outer(inner(lambda t: t ** 3 * np.exp(t)))(x) == pytest.approx(
        (6 * x + 6 * x ** 2 + x ** 3) * np.exp(x), rel=1e-13)


def test_hessian_by_nesting_jacobian_of_grad():
    def f(x):
        return np.sum(np.sin(x) * x[::-1]) + x[0] ** 2 * x[1]
    x = np.array([0.3, -0.4, 1.1])
    h_fr = dualnum.jacobian(tapes.grad(f))(x)
    h_rf = tapes.jacobian(dualnum.grad(f))(x)
    h_ff = dualnum.jacobian(dualnum.grad(f))(x)
    h_rr = tapes.jacobian(tapes.grad(f))(x)
    from adcore.checking import numerical_jacobian
    np.testing.assert_allclose(h_fr, numerical_jacobian(tapes.grad(f), (x,)), rtol=1e-6, atol=1e-8)
    for h in (h_rf, h_ff, h_rr):
        np.testing.assert_allclose(h, h_fr, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_fr, h_fr.T, atol=1e-14)


# --- 9. training loop: minibatch SGD with backprop gradients --------------------------------
def test_sgd_on_logistic_regression_decreases_the_loss():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 4))
    y = (X @ np.array([1.5, -2.0, 0.5, 1.0]) > 0).astype(float)

    def loss(w, Xb, yb):
        p = sigmoid(Xb @ w)
        return -np.mean(yb * np.log(p) + (1 - yb) * np.log(1 - p))

    w = np.zeros(4)
    first = loss(w, X, y)
    for step in range(60):
        idx = rng.choice(256, 32, replace=False)
        w = w - 0.5 * tapes.grad(loss)(w, X[idx], y[idx])
    assert loss(w, X, y) < 0.5 * first
