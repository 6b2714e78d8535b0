"""dualnum and tapes on numba.njit functions: scalars, 1-D arrays, extra arguments,
arrays of AD values inside compiled code, errors that name the construct, nopython."""
import math

import numba
import numpy as np
import pytest

import adcore
import dualnum
import tapes
from njit_cases import branchy_sum
from adjit import scalar_rules as nr
from adcore.errors import NonScalarOutputError, UnsupportedOpError


@numba.njit
def logistic(x, T):
    v = x
    for _ in range(T):
        v = 3.0 * v * (1.0 - v)
    return v


def logistic_py(x, T):
    v = x
    for _ in range(T):
        v = 3.0 * v * (1.0 - v)
    return v


@numba.njit
def rosen_loop(x):
    s = 0.0
    for i in range(len(x) - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


def rosen_np(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@numba.njit
def map_r(x, r):
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = r * x[i] * (1.0 - x[i]) + x[0] * x[i]
    return out


def map_r_py(x, r):
    return np.stack([r * x[i] * (1.0 - x[i]) + x[0] * x[i] for i in range(len(x))])


X = np.array([0.5, -0.3, 1.2, 0.7, 0.1])


def assert_no_object_mode(*fns):
    for f in fns:
        assert f.signatures, f"{f} never compiled"
        assert all(not cres.objectmode for cres in f.overloads.values()), f"{f}: object mode"


# --------------------------------------------------------------------------- forward
def test_derivative_with_an_extra_integer_argument():
    for T in (1, 10, 1000):
        got = dualnum.derivative(logistic)(0.3, T)
        want = dualnum.derivative(logistic_py)(np.float64(0.3), T)
        assert got == pytest.approx(float(want), rel=1e-12, abs=1e-300)
    assert_no_object_mode(logistic)


def test_derivative_promotes_an_integer_x_like_the_python_path():
    @numba.njit
    def cube(x):
        return x * x * x
    assert dualnum.derivative(cube)(2) == pytest.approx(12.0)


@pytest.mark.parametrize("chunk", [None, 1, 2, 3, 5])
def test_forward_grad_of_a_loop_over_an_array(chunk):
    got = dualnum.grad(rosen_loop, chunk=chunk)(X)
    np.testing.assert_allclose(got, dualnum.grad(rosen_np)(X), rtol=1e-12)
    assert_no_object_mode(rosen_loop)


def test_forward_jacobian_and_jvp_with_array_output():
    J = dualnum.jacobian(map_r)(X, 3.0)
    np.testing.assert_allclose(J, dualnum.jacobian(map_r_py)(X, 3.0), rtol=1e-12)
    v = np.linspace(-1, 1, X.size)
    y, t = dualnum.jvp(map_r, (X, 3.0), (v, 0.5))
    y_py, t_py = dualnum.jvp(map_r_py, (X, np.float64(3.0)), (v, np.float64(0.5)))
    np.testing.assert_allclose(y, y_py, rtol=1e-12)
    np.testing.assert_allclose(t, t_py, rtol=1e-12)


def test_forward_value_and_grad_with_two_argnums():
    @numba.njit
    def f(x, w, n):
        s = 0.0
        for k in range(n):
            for i in range(len(x)):
                s += math.sin(x[i] * w) / (k + 1)
        return s

    val, (gx, gw) = dualnum.value_and_grad(f, argnums=(0, 1))(X, 0.7, 3)
    ref = dualnum.value_and_grad(
        lambda x, w: sum(np.sum(np.sin(x * w)) / (k + 1) for k in range(3)), argnums=(0, 1))(
        X, np.float64(0.7))
    assert val == pytest.approx(float(ref[0]))
    np.testing.assert_allclose(gx, ref[1][0], rtol=1e-12)
    assert float(gw) == pytest.approx(float(ref[1][1]), rel=1e-12)


def test_arrays_of_duals_support_iteration_slices_and_zeros_like():
    @numba.njit
    def f(x):
        head = x[:-1]
        tail = x[1:]
        acc = np.zeros_like(head)
        for i in range(len(head)):
            acc[i] = head[i] * tail[i]
        s = 0.0
        for v in acc:
            s += v
        buf = nr.zeros(3, x)
        buf[1] = x[-1]
        buf[2] = 2.0
        return s + np.sum(buf) + x.copy()[0] * x.size + x.shape[0] * 0.0 + x.ndim

    def f_py(x):
        return (np.sum(x[:-1] * x[1:]) + x[-1] + 2.0 + x[0] * x.size + x.ndim)

    np.testing.assert_allclose(dualnum.grad(f)(X), dualnum.grad(f_py)(X), rtol=1e-12)
    np.testing.assert_allclose(tapes.grad(f)(X), tapes.grad(f_py)(X), rtol=1e-12)
    assert f(X) == pytest.approx(float(f_py(X)))  # the same code runs on plain floats


def test_grad_of_a_non_scalar_output_is_refused():
    with pytest.raises(NonScalarOutputError):
        dualnum.grad(map_r)(X, 3.0)
    with pytest.raises(NonScalarOutputError):
        tapes.grad(map_r)(X, 3.0)


# --------------------------------------------------------------------------- reverse
def test_reverse_grad_of_the_logistic_map_with_an_iteration_count():
    for T in (1, 10, 2000):
        got = tapes.grad(logistic)(0.3, T)
        assert got == pytest.approx(float(dualnum.derivative(logistic)(0.3, T)), rel=1e-10)


def test_reverse_grad_jacobian_and_vjp_of_array_functions():
    np.testing.assert_allclose(tapes.grad(rosen_loop)(X), tapes.grad(rosen_np)(X), rtol=1e-12)
    np.testing.assert_allclose(tapes.jacobian(map_r)(X, 3.0), dualnum.jacobian(map_r)(X, 3.0),
                               rtol=1e-12)
    y, vjp_fn = tapes.vjp(map_r, X, 3.0)
    w = np.linspace(1, 2, X.size)
    gx, gr = vjp_fn(w)
    J = dualnum.jacobian(map_r)(X, 3.0)
    np.testing.assert_allclose(gx, w @ J, rtol=1e-12)
    assert gr == pytest.approx(float(w @ (X * (1 - X))))
    assert_no_object_mode(rosen_loop, map_r)


def test_reverse_tape_grows_beyond_its_initial_capacity():
    x = np.random.default_rng(0).uniform(-1, 1, 20000)  # > 4096 entries
    np.testing.assert_allclose(tapes.grad(rosen_loop)(x), tapes.grad(rosen_np)(x), rtol=1e-10)


def test_njit_recording_rerecords_natively_and_counts_its_tape():
    f = branchy_sum

    def f_py(x):
        return sum((x[i] * x[i] * x[0]) if x[i] > 0 else (-2.0 * x[i] * x[0])
                   for i in range(len(x)))

    rec = tapes.record(f, X)
    assert rec.nbytes == 24 * len(rec) and len(rec) > 0
    for z in (X, -X, X[::-1].copy()):  # different branches: the recording follows them
        np.testing.assert_allclose(rec.gradient(z), tapes.grad(f_py)(z), rtol=1e-12)
        assert rec.value(z) == pytest.approx(float(f_py(z)))


# --------------------------------------------------------------------------- errors
def _raises_naming(fn, *args, names=()):
    with pytest.raises(UnsupportedOpError) as info:
        fn(*args)
    msg = str(info.value)
    for name in names:
        assert name in msg, f"{name!r} not named in: {msg}"
    return msg


def test_unsupported_function_is_named_with_its_source_line():
    @numba.njit
    def f(x):
        y = x * 2.0
        return math.gamma(y)

    for engine in (dualnum.derivative(f), tapes.grad(f)):
        msg = _raises_naming(engine, 0.3, names=("gamma", "return math.gamma(y)"))
        assert "test_jit_njit_api.py" in msg


def test_float_of_an_ad_value_is_named():
    @numba.njit
    def f(x):
        return float(x) * x

    _raises_naming(dualnum.derivative(f), 0.3, names=("float()", "dual number"))
    _raises_naming(tapes.grad(f), 0.3, names=("float()", "tape value"))


def test_storing_into_a_plain_array_is_named():
    @numba.njit
    def f(x):
        out = np.empty(len(x))
        for i in range(len(x)):
            out[i] = x[i] * 2.0
        return out

    _raises_naming(dualnum.jacobian(f), X, names=("plain NumPy array", "np.empty_like"))
    _raises_naming(tapes.jacobian(f), X, names=("plain NumPy array",))


def test_whole_array_numpy_on_ad_arrays_is_named():
    @numba.njit
    def f(x):
        return np.sum(np.sin(x))

    _raises_naming(dualnum.grad(f), X, names=("np.sin", "whole array", "loop over the elements"))
    _raises_naming(tapes.grad(f), X, names=("np.sin", "whole array"))


def test_nested_derivative_inside_njit_is_refused_clearly():
    @numba.njit
    def outer(x):
        return dualnum.derivative(logistic)(x, 3)

    _raises_naming(dualnum.derivative(outer), 0.3, names=("dualnum.derivative", "nested"))

    @numba.njit
    def outer_tapes(x):
        return tapes.grad(rosen_loop)(x)

    _raises_naming(tapes.grad(outer_tapes), X, names=("tapes.grad", "nested"))


def test_python_derivative_of_an_njit_derivative_is_refused_clearly():
    inner = dualnum.derivative(logistic)
    with pytest.raises(nr.JitUnsupportedError, match="nested derivatives"):
        dualnum.derivative(lambda x: inner(x, 3))(np.float64(0.3))
    with pytest.raises(nr.JitUnsupportedError, match="nested derivatives"):
        tapes.grad(lambda x: tapes.grad(logistic)(x, 3))(np.float64(0.3))


def test_two_dimensional_inputs_are_refused():
    @numba.njit
    def f(x):
        return x[0, 0]

    with pytest.raises(ValueError, match="1-D"):
        dualnum.grad(f)(np.ones((2, 2)))
    with pytest.raises(ValueError, match="1-D"):
        tapes.grad(f)(np.ones((2, 2)))


def test_integer_inputs_are_refused_like_the_python_path():
    with pytest.raises(adcore.NonFloatInputError):
        dualnum.grad(rosen_loop)(np.arange(4))
    with pytest.raises(adcore.NonFloatInputError):
        tapes.grad(rosen_loop)(np.arange(4))
