"""Behaviour of the two engines beyond single ops: tapes, chunks, shapes, replay, custom ops."""
import numpy as np
import pytest

import adcore
import dualnum
import tapes
from adcore import calls
from adcore.checking import check_grads, check_jacobians

both = pytest.mark.parametrize("mode", ["forward", "reverse"])
GRADS = {"forward": dualnum.grad, "reverse": tapes.grad}
JACOBIANS = {"forward": dualnum.jacobian, "reverse": tapes.jacobian}


def test_a_chain_of_100k_ops_needs_no_recursion():
    def chain(x):
        for _ in range(100_000):
            x = np.sin(x)
        return x
    x = 0.5
    rec = tapes.record(chain, x)
    assert len(rec) == 100_000
    expected, v = 1.0, x
    for _ in range(100_000):
        expected *= np.cos(v)
        v = np.sin(v)
    assert rec.gradient(x) == pytest.approx(expected, rel=1e-10)


def test_second_sweep_never_accumulates_into_the_first():
    f = lambda x: np.sum(x * x)
    x = np.array([1.0, 2.0])
    g1 = tapes.grad(f)(x)
    g2 = tapes.grad(f)(x)
    np.testing.assert_array_equal(g1, g2)
    _, vjp_fn = tapes.vjp(lambda x: x * x, x)
    a, = vjp_fn(np.ones(2))
    b, = vjp_fn(np.ones(2))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, 2 * x)


def test_tape_can_be_inspected():
    W = np.ones((4, 3))
    rec = tapes.record(lambda x: np.sum(np.tanh(W @ x)), np.ones(3))
    names = [name for _, name, _, _ in rec.tape.ops()]
    assert names == ["input", "matmul", "tanh", "sum"]
    assert [shape for *_, shape in rec.tape.ops()] == [(3,), (4,), (4,), ()]
    assert len(rec) == 3
    # holds input (24 B), W (96 B), matmul output and tanh output (32 B each), sum (8 B)
    assert rec.nbytes == 24 + 96 + 32 + 32 + 8
    text = rec.tape.summary()
    assert "matmul(%0, const)" in text.replace("const, %0", "%0, const") or "matmul(const, %0)" in text
    assert "tanh(%1)" in text


@both
def test_fan_out_gradients_add(mode):
    assert GRADS[mode](lambda x: x * x * x)(2.0) == 12.0


@both
def test_where_does_not_leak_nan_from_the_branch_not_taken(mode):
    x = np.array([-1.0, 4.0, 0.0])
    with np.errstate(all="ignore"):
        g = GRADS[mode](lambda x: np.sum(np.where(x > 0, np.sqrt(x), 0.0)))(x)
        h = GRADS[mode](lambda x: np.sum(np.where(x > 0, np.log(x), x)))(x)
    np.testing.assert_array_equal(g, [0.0, 0.25, 0.0])
    np.testing.assert_array_equal(h, [1.0, 0.25, 1.0])


@both
def test_jacobian_shapes_follow_out_shape_plus_in_shape(mode):
    A = np.arange(24.0).reshape(2, 3, 4) / 10
    f = lambda X: np.tanh(A @ X)  # X (4, 5) -> (2, 3, 5)
    X = np.linspace(-1, 1, 20).reshape(4, 5)
    J = JACOBIANS[mode](f)(X)
    assert J.shape == (2, 3, 5, 4, 5)
    # entry [i, j, k, l, m] = d out[i,j,k] / d X[l,m]
    expected = (1 - np.tanh(A @ X) ** 2)[:, :, :, None, None] * A[:, :, None, :, None] \
        * np.eye(5)[None, None, :, None, :]
    np.testing.assert_allclose(J, expected, rtol=1e-12, atol=1e-15)


@both
@pytest.mark.parametrize("chunk", [1, 3, 7, None, 100])
def test_chunk_size_does_not_change_the_jacobian(mode, chunk):
    f = lambda x: np.cumsum(np.sin(x) * x[::-1])
    x = np.linspace(-1, 2, 7)
    np.testing.assert_allclose(JACOBIANS[mode](f, chunk=chunk)(x), JACOBIANS[mode](f, chunk=1)(x),
                               rtol=1e-14)


def test_default_chunk_rule():
    assert calls.default_chunk(1) == 1
    assert calls.default_chunk(64) == 64
    assert calls.default_chunk(65) == 33  # two balanced passes, not 64 + 1
    assert calls.default_chunk(100) == 50
    assert calls.default_chunk(1000) == 63
    for n in (1, 64, 65, 100, 1000, 4096):
        spans = calls.chunks(n, None)
        assert spans[0][0] == 0 and spans[-1][1] == n
        assert max(b - a for a, b in spans) <= calls.MAX_DEFAULT_CHUNK


def test_forward_pass_carries_k_directions_on_a_leading_axis():
    x = np.linspace(0, 1, 4).reshape(2, 2)
    seed = np.stack([np.eye(4)[i].reshape(2, 2) for i in range(3)])  # k = 3 directions
    out, t = dualnum.push_forward(lambda x: np.sum(x * x, axis=0), [x], 0, seed)
    assert t.shape == (3, 2)
    np.testing.assert_allclose(t, [[2 * x[0, 0], 0], [0, 2 * x[0, 1]], [2 * x[1, 0], 0]])


@both
def test_constant_output_has_zero_derivative(mode):
    c = np.array([1.0, 2.0])
    np.testing.assert_array_equal(JACOBIANS[mode](lambda x: c)(np.ones(3)), np.zeros((2, 3)))
    assert GRADS[mode](lambda x: 3.0)(np.ones(3)).tolist() == [0.0, 0.0, 0.0]


def test_value_and_grad_both_modes():
    f = lambda x, y: np.sum(x * y)
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    for vg in (dualnum.value_and_grad, tapes.value_and_grad):
        v, (gx, gy) = vg(f, argnums=(0, 1))(x, y)
        assert v == 11.0
        np.testing.assert_array_equal(gx, y)
        np.testing.assert_array_equal(gy, x)


def test_jvp_and_vjp_agree_on_a_network():
    rng = np.random.default_rng(0)
    W1, W2 = rng.standard_normal((6, 4)), rng.standard_normal((3, 6))
    f = lambda x: np.tanh(W2 @ np.tanh(W1 @ x))
    x = rng.standard_normal(4)
    check_grads(f, (x,), jvp=dualnum.jvp, vjp=tapes.vjp)
    check_jacobians(f, (x,), jacobian_fwd=dualnum.jacobian, jacobian_rev=tapes.jacobian)


# --- record and replay with guards ---------------------------------------------------------------
def test_replay_of_kinks_needs_no_guard_and_is_right_on_both_sides():
    f = lambda x: np.sum(np.abs(x) + np.maximum(x, 0.5) + adcore.relu(x - 1))
    x = np.array([-2.0, 0.7, 3.0])
    rec = tapes.record(f, x)
    for y in (x, -x, x + 1.3, np.array([0.0, 0.5, 1.0])):
        np.testing.assert_array_equal(rec.gradient(y), tapes.grad(f)(y))
        np.testing.assert_array_equal(rec.gradient(y), dualnum.grad(f)(y))
    assert rec.rerecords == 0


def test_replay_rerecords_when_a_python_branch_changes():
    def f(x):
        if x[0] > 0:
            return np.sum(x ** 2)
        return np.sum(np.sin(x))
    x = np.array([1.0, 2.0])
    rec = tapes.record(f, x)
    np.testing.assert_allclose(rec.gradient(np.array([0.5, 1.0])), [1.0, 2.0])
    assert rec.rerecords == 0
    y = np.array([-1.0, 2.0])
    np.testing.assert_allclose(rec.gradient(y), np.cos(y))
    assert rec.rerecords == 1
    assert rec.value(y) == pytest.approx(np.sum(np.sin(y)))


def test_replay_jacobian_and_value_at_new_inputs():
    f = lambda x: np.tanh(np.outer(x, x))
    rec = tapes.record(f, np.ones(3))
    y = np.array([0.1, -0.2, 0.3])
    np.testing.assert_allclose(rec.value(y), f(y))
    np.testing.assert_allclose(rec.jacobian(y), dualnum.jacobian(f)(y), rtol=1e-13)


# --- custom ops (the README example) ---------------------------------------------------------------
def test_custom_ops_are_picked_up_by_both_engines_and_the_checker():
    cube = adcore.defop("test_cube", lambda x: x ** 3, partials=[lambda out, x: 3 * x ** 2])
    double = adcore.defop("test_double", lambda x: 2.0 * x,
                          jvp=lambda tangents, out, x: 2.0 * tangents[0],
                          vjp=lambda g, needed, out, x: (2.0 * g,))
    try:
        f = lambda x: np.sum(adcore.apply(double, adcore.apply(cube, x)))
        x = np.array([1.0, -2.0])
        np.testing.assert_allclose(dualnum.grad(f)(x), 6 * x ** 2)
        np.testing.assert_allclose(tapes.grad(f)(x), 6 * x ** 2)
        assert check_grads(f, (x,), jvp=dualnum.jvp, vjp=tapes.vjp)
    finally:
        adcore.unregister("test_cube")
        adcore.unregister("test_double")


def test_custom_op_can_take_over_a_numpy_function():
    op = adcore.defop("test_sinc", np.sinc, numpy=[np.sinc],
                      partials=[lambda o, x: np.where(x == 0, 0.0,
                                                      (np.cos(np.pi * x) - o) / np.where(x == 0, 1, x))])
    try:
        x = np.array([0.3, 1.7])
        assert check_grads(lambda x: np.sinc(x), (x,), jvp=dualnum.jvp, vjp=tapes.vjp)
    finally:
        adcore.unregister(op.name)
    # unregistered, np.sinc goes back to the built-in rule
    assert adcore.registry.lookup_function(np.sinc)[0] is adcore.get_op("sinc")
    assert check_grads(lambda x: np.sinc(x), (x,), jvp=dualnum.jvp, vjp=tapes.vjp)


# --- composites: NumPy functions made of registered ops --------------------------------------
COMPOSITES = {
    "norm": lambda x: np.linalg.norm(x),
    "norm-axis": lambda x: np.sum(np.linalg.norm(x.reshape(2, 3), axis=1)),
    "var": lambda x: np.var(x),
    "std-ddof": lambda x: np.std(x, ddof=1),
    "var-axis": lambda x: np.sum(np.var(x.reshape(2, 3), axis=0)),
    "hstack": lambda x: np.sum(np.hstack([x, x ** 2]) ** 2),
    "vstack": lambda x: np.sum(np.vstack([x, np.sin(x)]) @ np.ones(6)),
    "trace": lambda x: np.trace(np.outer(x, x)),
}


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composites_in_both_modes(name):
    x = np.array([0.3, -1.2, 0.8, 1.5, -0.4, 0.9])
    assert check_grads(COMPOSITES[name], (x,), jvp=dualnum.jvp, vjp=tapes.vjp)
    np.testing.assert_allclose(COMPOSITES[name](x), dualnum.jvp(COMPOSITES[name], (x,), (x,))[0])


@both
def test_norm_at_zero_has_the_zero_subgradient(mode):
    np.testing.assert_array_equal(GRADS[mode](np.linalg.norm)(np.zeros(3)), np.zeros(3))


@both
def test_comparisons_and_argmax_return_plain_arrays(mode):
    seen = {}

    def f(x):
        seen["cmp"], seen["argmax"], seen["shape"] = x > 0, np.argmax(x), np.shape(x)
        return np.sum(x[np.argmax(x)] * x)
    x = np.array([0.5, -1.0, 2.0])
    g = GRADS[mode](f)(x)
    assert type(seen["cmp"]) is np.ndarray and seen["cmp"].dtype == bool
    assert isinstance(seen["argmax"], np.integer) and seen["shape"] == (3,)
    np.testing.assert_allclose(g, [2.0, 2.0, 2.0 + np.sum(x)])  # d(x[2] * sum x)
