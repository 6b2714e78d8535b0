"""Arrays built from lists of traced values: np.array, np.asarray, np.r_, np.c_, lists passed
to NumPy functions. Every form is checked in both modes against finite differences, and
forward = reverse; the result's value equals NumPy's on plain inputs."""
import numpy as np
import pytest

import adcore
from adcore.checking import numerical_jacobian
import dualnum
import tapes
from adcore.checking import check_grads, check_jacobians

X = np.array([0.7, -1.3, 0.4])

FORMS = {
    "array of scalars": lambda x: np.array([x[0], x[1] * x[2]]),
    "array mixing numbers": lambda x: np.array([x[0], 2.0, 3, x[2] ** 2]),
    "array of arrays": lambda x: np.array([x, 2 * x]),
    "array of arrays and a plain row": lambda x: np.array([x, np.ones(3), np.sin(x)]),
    "nested 2x2": lambda x: np.array([[x[0], x[1]], [x[2], x[0] * x[1]]]),
    "nested with numbers": lambda x: np.array([[x[0], 1.0], [0.0, x[1]]]) @ x[:2],
    "asarray of a list": lambda x: np.asarray([x[1], x[0]]),
    "asarray of a traced array": lambda x: np.sin(np.asarray(x)),
    "array of a traced array": lambda x: np.array(x) * 2.0,
    "r_": lambda x: np.r_[x, 1.0, x[0]] ** 2,
    "r_ slices": lambda x: np.r_[x[:2], x[1:]],
    "c_": lambda x: np.c_[x, x ** 2],
    "mean of a list": lambda x: np.mean([x, x + 2]),
    "mean of a list of scalars": lambda x: np.mean([x[0], x[1], 3.0]),
    "var of a list": lambda x: np.var([x, x ** 2]),
    "norm of a list": lambda x: np.linalg.norm([x[0], x[1]]),
    "sum of a list": lambda x: np.sum([x[0] ** 2, x[1], 1.0]),
    "dot with a plain matrix (method)": lambda x: np.arange(6.0).reshape(2, 3).dot(x),
    "stack of lists": lambda x: np.stack([[x[0], x[1]], [x[2], 1.0]]),
    "concatenate with a list": lambda x: np.concatenate([x, [x[0], 5.0]]),
    "list arithmetic": lambda x: np.array([x[0], x[1]]) * x[2] + np.array([1.0, x[0]]),
    "ufunc on an object array": lambda x: np.exp(np.array([x[0], x[1]])),
    "returned as a list-built array": lambda x: np.array([np.sum(x), np.prod(x)]),
    "0-d": lambda x: np.array(x[0] * x[1]),
}


def _plain(form):
    return np.asarray(form(X), dtype=float)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_value_is_numpys(name):
    out, _ = dualnum.jvp(FORMS[name], (X,), (np.ones(3),))
    np.testing.assert_allclose(out, _plain(FORMS[name]), rtol=1e-14)
    out_r, _ = tapes.vjp(FORMS[name], X)
    np.testing.assert_allclose(out_r, _plain(FORMS[name]), rtol=1e-14)


@pytest.mark.parametrize("name", sorted(FORMS))
def test_both_modes_against_finite_differences(name):
    check_grads(FORMS[name], (X,), jvp=dualnum.jvp, vjp=tapes.vjp)
    check_jacobians(FORMS[name], (X,), jacobian_fwd=dualnum.jacobian, jacobian_rev=tapes.jacobian)


@pytest.mark.parametrize("name", ["nested 2x2", "r_", "mean of a list", "array of arrays"])
def test_second_order_by_nesting(name):
    f = lambda x: np.sum(FORMS[name](x) ** 3)
    h_fr = dualnum.jacobian(tapes.grad(f))(X)
    h_rf = tapes.jacobian(dualnum.grad(f))(X)
    h_ff = dualnum.jacobian(dualnum.grad(f))(X)
    np.testing.assert_allclose(h_fr, h_rf, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h_fr, h_ff, rtol=1e-10, atol=1e-12)
    fd = numerical_jacobian(tapes.grad(f), (X,))
    np.testing.assert_allclose(h_fr, fd, rtol=1e-5, atol=1e-6)


def test_asarray_of_a_traced_array_is_lifted_back_to_it():
    """np.asarray(x) splits x into its entries; meeting a traced op, the entries are
    recognised and x itself comes back (one tape node, not a stack of n scalars)."""
    seen = {}

    def f(x):
        a = np.asarray(x)
        seen["type"] = type(a)
        return np.sum(a * x)
    rec = tapes.record(f, X)
    assert seen["type"] is np.ndarray
    assert not any(n.op.name == "stack" for n in rec.tape.nodes if n.op is not None)
    np.testing.assert_allclose(rec.gradient(X), 2 * X)


def test_a_recording_with_lists_replays():
    f = lambda x: np.sum(np.array([x[0] * x[1], x[2]]) ** 2)
    rec = tapes.record(f, X)
    y = X + 0.5
    np.testing.assert_allclose(rec.gradient(y), tapes.grad(f)(y))


def test_too_large_an_asarray_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(adcore.tracing, "MAX_ELEMENTS", 2)
    with pytest.raises(adcore.ConcretizationError, match="drop the np.asarray call"):
        tapes.grad(lambda x: np.sum(np.asarray(x)))(X)


@pytest.mark.parametrize("entry", ["a", None, {"k": 1}])
def test_a_list_mixing_traced_values_and_non_numbers_is_refused(entry):
    with pytest.raises(TypeError):
        tapes.grad(lambda x: np.sum(np.array([x[0], entry], dtype=object) * x[1]))(X)


def test_assigning_into_a_plain_array_is_still_an_error():
    def f(x):
        out = np.zeros(2)
        out[0] = x[0]
        return np.sum(out)
    for grad in (dualnum.grad, tapes.grad):
        with pytest.raises((adcore.ConcretizationError, ValueError)):
            grad(f)(X)
