"""Errors instead of wrong answers: each names the op and says what to do."""
import math

import numpy as np
import pytest

import adcore
import dualnum
import tapes

GRADS = {"forward": dualnum.grad, "reverse": tapes.grad}
both = pytest.mark.parametrize("mode", ["forward", "reverse"])
x3 = np.array([0.5, -1.0, 2.0])


@both
@pytest.mark.parametrize("convert,what", [(float, "float()"), (int, "int()"),
                                          (math.sin, "float()"), (complex, "complex()")])
def test_concretization_is_an_error(mode, convert, what):
    with pytest.raises(adcore.ConcretizationError, match=r"would drop its derivative") as e:
        GRADS[mode](lambda x: convert(x[0]) + np.sum(x))(x3)
    assert what in str(e.value) and mode in str(e.value)


@both
@pytest.mark.parametrize("cast", [lambda v: np.asarray(v, dtype=float),
                                  lambda v: np.array([v[0], v[1]], dtype=np.float64)])
def test_a_cast_to_a_plain_float_array_is_an_error(mode, cast):
    with pytest.raises(adcore.ConcretizationError, match=r"would drop its derivative"):
        GRADS[mode](lambda x: np.sum(cast(x)))(x3)


@both
@pytest.mark.parametrize("cast", [np.int64, int, lambda v: np.asarray(v, dtype=np.int32),
                                  lambda v: v.astype(int)])
def test_a_cast_to_an_integer_is_an_error(mode, cast):
    with pytest.raises(adcore.ConcretizationError, match=r"would drop its derivative"):
        GRADS[mode](lambda x: cast(x[0]) + np.sum(x))(x3)


@both
def test_assigning_into_a_traced_array_is_an_error(mode):
    def f(x):
        x[0] = 1.0
        return np.sum(x)
    with pytest.raises(adcore.MutationError, match=r"assigning into a traced array.*np.where"):
        GRADS[mode](f)(x3)


@both
def test_assigning_a_traced_value_into_a_plain_array_is_an_error(mode):
    def f(x):
        out = np.zeros(3)
        out[0] = x[0]
        return np.sum(out)
    # NumPy reads a traced value as a sequence here and refuses it itself (ValueError)
    with pytest.raises((adcore.ConcretizationError, ValueError)):
        GRADS[mode](f)(x3)


@both
def test_out_argument_is_an_error(mode):
    def f(x):
        buf = np.empty(3)
        return np.sum(np.sin(x, out=buf))
    with pytest.raises(adcore.MutationError, match=r"np.sin\(\.\.\., out=\.\.\.\)"):
        GRADS[mode](f)(x3)


@both
@pytest.mark.parametrize("fn,name", [(np.i0, "np.i0"), (np.fft.hfft, "np.fft.hfft"),
                                     (np.unique, "np.unique"), (np.histogram, "np.histogram")])
def test_function_without_a_rule_names_itself(mode, fn, name):
    f = lambda x: np.sum(fn(x))
    with pytest.raises(adcore.UnsupportedOpError, match=rf"{name} has no derivative rule.*defop"):
        GRADS[mode](f)(x3)


@both
def test_unsupported_keyword_is_named(mode):
    with pytest.raises(adcore.UnsupportedOpError, match=r"np.reshape.*order='F'"):
        GRADS[mode](lambda x: np.sum(np.reshape(x, (3, 1), order="F")))(x3)


@both
@pytest.mark.parametrize("bad", [np.array([1, 2, 3]), 2, np.array([True, False])])
def test_non_float_input_to_grad_is_an_error(mode, bad):
    with pytest.raises(adcore.NonFloatInputError, match=r"dtype=float|floating-point"):
        GRADS[mode](lambda x: np.sum(x * x))(bad)


def test_derivative_promotes_an_integer_scalar():
    assert dualnum.derivative(lambda x: x ** 3)(2) == 12.0


def test_integer_arguments_outside_argnums_are_fine():
    f = lambda x, n: np.sum(x ** n)
    np.testing.assert_allclose(tapes.grad(f)(x3, 2), 2 * x3)
    np.testing.assert_allclose(dualnum.grad(f)(x3, 2), 2 * x3)


@both
def test_grad_of_non_scalar_output_points_to_jacobian(mode):
    with pytest.raises(adcore.NonScalarOutputError, match=r"jacobian.*vjp|jacobian or .*jvp"):
        GRADS[mode](np.sin)(x3)


@both
def test_leaked_tracer_is_an_error(mode):
    leaked = []

    def f(x):
        leaked.append(x)
        return np.sum(x)
    GRADS[mode](f)(x3)
    with pytest.raises(adcore.TracerLeakError, match="finished"):
        np.sin(leaked[0])


def test_mixing_values_of_two_calls_by_leaking_across_calls_is_an_error():
    """A value of a finished forward call used inside a later reverse call."""
    leaked = []
    dualnum.grad(lambda x: leaked.append(x) or np.sum(x))(x3)
    with pytest.raises(adcore.TracerLeakError):
        tapes.grad(lambda y: np.sum(y * leaked[0]))(x3)


@both
def test_traced_value_as_index_is_an_error(mode):
    with pytest.raises((adcore.ConcretizationError, IndexError)):
        GRADS[mode](lambda x: np.sum(x[x[0]]))(x3)


@both
def test_plain_ndarray_method_on_traced_is_differentiated_not_a_silent_constant(mode):
    W = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(GRADS[mode](lambda x: np.sum(W.dot(x)))(x3), W.sum(axis=0))


def test_replay_on_another_branch_raises_when_asked():
    def f(x):
        return np.sum(x ** 2) if np.sum(x) > 0 else np.sum(-x)
    rec = tapes.record(f, x3, on_guard_failure="raise")
    np.testing.assert_allclose(rec.gradient(x3 * 2), 4 * x3)
    with pytest.raises(adcore.GuardError, match="different branch"):
        rec.gradient(-x3)
