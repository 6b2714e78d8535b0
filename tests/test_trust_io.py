"""What goes in and comes out of a derivative call is what the caller meant.

* outputs with no derivative (None, a string, a bool, a comparison) and complex outputs are
  refused with an error naming them, by both engines alike (adcore.calls);
* complex, boolean or non-numeric tangents / cotangents are refused, never cast
  (adcore.calls.as_float_direction);
* masked arrays (and np.matrix) as differentiated inputs are refused, never unmasked;
* float32 in, float32 out — also for the compiled replay and for @njit functions;
* small legal programs do not crash: np.hstack / np.vstack of traced values as NumPy does
  them, and ``%``, ``//``, ``divmod``, bitwise operators on traced values either work or
  raise adcore.UnsupportedOpError naming the NumPy function.

Derivatives are compared with the other engine or with central differences.
"""
import numba
import numpy as np
import pytest

import adcore
import dualnum
import tapes
from njit_cases import cube_sum, logistic_step, positive, signs
from adcore import NonFloatInputError, UnsupportedOpError, calls

X = np.array([0.3, -0.7, 1.1, 0.5])


def fd_jacobian(f, x, h=1e-6):
    """Central differences: shape f(x).shape + x.shape."""
    x = np.asarray(x, dtype=float)
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        cols.append((np.asarray(f(x + e), dtype=float) - np.asarray(f(x - e), dtype=float))
                    / (2 * h))
    out_shape = np.shape(f(x))
    return np.moveaxis(np.array(cols), 0, -1).reshape(out_shape + x.shape)


# ------------------------------------------------------------------ outputs with no derivative
def _entry_points():
    """Every way to take a derivative of f at X, in both engines (name, call)."""
    return [
        ("tapes.grad", lambda f: tapes.grad(f)(X)),
        ("dualnum.grad", lambda f: dualnum.grad(f)(X)),
        ("tapes.value_and_grad", lambda f: tapes.value_and_grad(f)(X)),
        ("dualnum.value_and_grad", lambda f: dualnum.value_and_grad(f)(X)),
        ("tapes.jacobian", lambda f: tapes.jacobian(f)(X)),
        ("dualnum.jacobian", lambda f: dualnum.jacobian(f)(X)),
        ("tapes.vjp", lambda f: tapes.vjp(f, X)),
        ("dualnum.jvp", lambda f: dualnum.jvp(f, (X,), (np.ones(4),))),
        ("dualnum.derivative", lambda f: dualnum.derivative(lambda s: f(X * s))(1.0)),
        ("tapes.record", lambda f: tapes.record(f, X).gradient(X)),
        ("tapes.record compiled", lambda f: tapes.record(f, X, compiled="scalar").gradient(X)),
        ("tapes.record fused", lambda f: tapes.record(f, X, compiled="fused").gradient(X)),
    ]


NO_DERIVATIVE = [
    pytest.param(lambda x: None, "None", id="None"),
    pytest.param(lambda x: "total", "str", id="str"),
    pytest.param(lambda x: True, "bool", id="bool"),
    pytest.param(lambda x: np.sum(x) > 0, "bool", id="comparison"),
    pytest.param(lambda x: x > 0, "boolean", id="bool-array"),
    pytest.param(lambda x: np.array([object()]), "non-numeric", id="object-array"),
]


@pytest.mark.parametrize("f, named", NO_DERIVATIVE)
@pytest.mark.parametrize("where, call", _entry_points(), ids=[n for n, _ in _entry_points()])
def test_an_output_without_a_derivative_is_refused_naming_it(where, call, f, named):
    with pytest.raises(TypeError, match=named) as info:
        call(f)
    assert "returned" in str(info.value)


@pytest.mark.parametrize("f", [pytest.param(lambda x: np.sum(x) * 1j, id="times-1j"),
                               pytest.param(lambda x: np.sum(np.exp(x + 0.5j)), id="complex-constant")])
@pytest.mark.parametrize("where, call", [e for e in _entry_points() if "grad" in e[0]],
                         ids=[n for n, _ in _entry_points() if "grad" in n])
def test_a_complex_output_is_refused_by_grad(where, call, f):
    """grad needs a real-valued output (JAX's rule): a complex one points to holomorphic=True."""
    with pytest.raises(NonFloatInputError, match="holomorphic=True"):
        call(f)


@pytest.mark.parametrize("jacobian", [tapes.jacobian, dualnum.jacobian])
def test_the_jacobian_of_a_complex_output_of_real_inputs_is_complex(jacobian):
    f = lambda x: np.exp(1j * x) * x[::-1]
    J = jacobian(f)(X)
    fd = np.stack([(f(X + 1e-6 * e) - f(X - 1e-6 * e)) / 2e-6 for e in np.eye(X.size)], axis=-1)
    np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-8)


def test_integer_and_float_outputs_still_work_as_constants():
    for f in (lambda x: 3, lambda x: np.arange(2), lambda x: 2.5):
        np.testing.assert_array_equal(tapes.jacobian(f)(X), dualnum.jacobian(f)(X))
        assert not np.any(tapes.jacobian(f)(X))


def test_njit_boolean_output_is_refused_naming_it():
    with pytest.raises(TypeError, match="bool"):
        tapes.grad(positive)(X)
    with pytest.raises(TypeError, match="bool"):
        tapes.jacobian(signs)(X)


# ------------------------------------------------------------ tangents and cotangents
def test_as_float_direction_refuses_what_a_cast_would_corrupt():
    like = np.zeros(3)
    for bad, named in ((np.ones(3) * 1j, "complex"), (np.ones(3, dtype=bool), "boolean"),
                       (np.array(["a", "b", "c"]), "non-numeric"), (None, "None"),
                       (np.array([object()] * 3), "non-numeric"), ("abc", "str"),
                       (np.ma.array(np.ones(3), mask=[0, 1, 0]), "masked")):
        with pytest.raises(NonFloatInputError, match=named):
            calls.as_float_direction(bad, "test", like)


def test_as_float_direction_converts_real_values_to_the_primals_float_dtype():
    for like, dtype in ((np.zeros(3), np.float64), (np.zeros(3, np.float32), np.float32),
                        (np.zeros(3, int), np.float64), (2.0, np.float64)):
        for t in ([1, 2, 3], np.arange(3), np.arange(3, dtype=np.float32), np.ones(3)):
            got = calls.as_float_direction(t, "test", like)
            assert got.dtype == dtype
            np.testing.assert_array_equal(got, np.asarray(t, dtype=float))


def test_as_float_direction_passes_a_traced_direction_through():
    seen = []

    def f(s):
        t = calls.as_float_direction(s * np.ones(2), "test", np.zeros(2))
        seen.append(t)
        return np.sum(t * t)

    assert dualnum.derivative(f)(1.5) == pytest.approx(float(fd_jacobian(
        lambda s: f(float(s[0])), np.array([1.5]))[0]), rel=1e-6)
    assert isinstance(seen[0], adcore.Traced)


def test_njit_vjp_refuses_a_complex_cotangent():
    @numba.njit
    def f(x):
        out = np.empty_like(x)
        for i in range(len(x)):
            out[i] = x[i] * x[i]
        return out

    _, vjp_fn = tapes.vjp(f, X)
    with pytest.raises(NonFloatInputError, match="complex"):
        vjp_fn(np.ones(4) * (1 + 1j))
    with pytest.raises(NonFloatInputError, match="boolean"):
        vjp_fn(np.ones(4, dtype=bool))
    np.testing.assert_allclose(vjp_fn(np.arange(4))[0], np.arange(4) @ np.diag(2 * X),
                               rtol=1e-12)


# The Python jvp / vjp entry points validate their directions with
# adcore.calls.as_float_direction (the helper the njit paths use too).
_QUIET_CAST = pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")


@_QUIET_CAST
def test_python_jvp_refuses_a_complex_tangent():
    try:
        dualnum.jvp(np.sin, (X,), (X * 1j,))
    except NonFloatInputError as e:
        assert "complex" in str(e)
        return
    raise AssertionError("a complex tangent was accepted (its imaginary part dropped)")


@_QUIET_CAST
def test_python_vjp_refuses_a_complex_cotangent():
    _, vjp_fn = tapes.vjp(np.sin, X)
    try:
        vjp_fn(X * 1j)
    except NonFloatInputError as e:
        assert "complex" in str(e)
        return
    raise AssertionError("a complex cotangent was accepted (its imaginary part dropped)")


# ------------------------------------------------------------------------ masked inputs
MASKED = np.ma.array(X, mask=[0, 1, 0, 0])


@pytest.mark.parametrize("call", [
    lambda f: tapes.grad(f)(MASKED), lambda f: dualnum.grad(f)(MASKED),
    lambda f: tapes.jacobian(f)(MASKED), lambda f: dualnum.jacobian(f)(MASKED),
    lambda f: tapes.vjp(f, MASKED), lambda f: dualnum.jvp(f, (MASKED,), (np.ones(4),)),
    lambda f: tapes.record(f, MASKED), lambda f: tapes.record(f, X).gradient(MASKED),
    lambda f: tapes.grad(numba.njit(lambda x: x[0] * x[2]))(MASKED),
], ids=["tapes.grad", "dualnum.grad", "tapes.jacobian", "dualnum.jacobian", "tapes.vjp",
        "dualnum.jvp", "record", "replay", "njit"])
def test_a_masked_input_is_refused_not_unmasked(call):
    with pytest.raises(NonFloatInputError, match="mask"):
        call(lambda x: np.sum(x * x))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_np_matrix_input_is_refused():
    with pytest.raises(NonFloatInputError, match="matrix"):
        tapes.grad(lambda x: np.sum(x * x))(np.matrix([[1.0, 2.0]]))


# ------------------------------------------------------------------ float32 in, float32 out
X32 = X.astype(np.float32)


def test_compiled_recording_returns_the_inputs_float32():
    def f(x):
        return np.sin(x) * x[0] + x

    def s(x):
        return np.sum(f(x))

    rec = tapes.record(f, X32, compiled=True)
    value, jac = rec.value(X32), rec.jacobian(X32)
    assert value.dtype == np.float32 and jac.dtype == np.float32
    np.testing.assert_allclose(value, f(X), rtol=1e-6)
    np.testing.assert_allclose(jac, dualnum.jacobian(f)(X), rtol=1e-5, atol=1e-6)
    rec = tapes.record(s, X32, compiled=True)
    g = rec.gradient(X32)
    assert g.dtype == np.float32 and np.asarray(rec.value(X32)).dtype == np.float32
    np.testing.assert_allclose(g, fd_jacobian(s, X), rtol=1e-5, atol=1e-6)
    # the same recording at float64 (another dtype: re-recorded) returns float64
    assert rec.gradient(X).dtype == np.float64


def test_compiled_recording_keeps_each_inputs_dtype():
    def f(x, w):
        return np.sum(np.tanh(x * w))

    w = np.linspace(0.5, 1.0, 4)
    rec = tapes.record(f, X32, w, argnums=(0, 1), compiled=True)
    gx, gw = rec.gradient(X32, w)
    assert gx.dtype == np.float32 and gw.dtype == np.float64
    ref = tapes.grad(f, argnums=(0, 1))(X32.astype(float), w)
    np.testing.assert_allclose(gx, ref[0], rtol=1e-5)
    np.testing.assert_allclose(gw, ref[1], rtol=1e-5)


nj_sum, nj_map = cube_sum, logistic_step


def test_njit_tapes_return_the_inputs_float32():
    v, g = tapes.value_and_grad(nj_sum)(X32)
    assert np.asarray(v).dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_allclose(g, dualnum.grad(nj_sum)(X), rtol=1e-6)
    J = tapes.jacobian(nj_map)(X32, 3.0)
    assert J.dtype == np.float32
    np.testing.assert_allclose(J, dualnum.jacobian(nj_map)(X, 3.0), rtol=1e-6)
    y, vjp_fn = tapes.vjp(nj_map, X32, np.float32(3.0))
    gx, gr = vjp_fn(np.ones(4, dtype=np.float32))
    assert y.dtype == np.float32 and gx.dtype == np.float32 and np.asarray(gr).dtype == np.float32
    np.testing.assert_allclose(gx, np.ones(4) @ dualnum.jacobian(nj_map)(X, 3.0), rtol=1e-6)
    rec = tapes.record(nj_sum, X32)
    assert rec.gradient(X32).dtype == np.float32 and np.asarray(rec.value(X32)).dtype == np.float32
    # a float32 scalar input: a float32 scalar derivative
    d = tapes.grad(numba.njit(lambda t: t * t * t))(np.float32(0.5))
    assert np.asarray(d).dtype == np.float32 and d == pytest.approx(0.75, rel=1e-6)


def test_njit_tapes_still_return_float64_for_float64():
    v, g = tapes.value_and_grad(nj_sum)(X)
    assert np.asarray(v).dtype == np.float64 and g.dtype == np.float64
    assert isinstance(tapes.grad(numba.njit(lambda t: t * t))(0.5), float)


# ------------------------------------------------------------------ np.hstack / np.vstack
STACKS = [
    ("hstack of the array itself", lambda x: np.hstack(x)),
    ("hstack of one 1-D", lambda x: np.hstack([x])),
    ("hstack of 0-d values", lambda x: np.hstack([x[0], x[1], 2.0])),
    ("hstack of 0-d and 1-D, plain and traced", lambda x: np.hstack([x[0], np.ones(2), x, 3.0])),
    ("hstack plain first", lambda x: np.hstack((np.arange(2.0), x[1:3]))),
    ("hstack of 2-D", lambda x: np.hstack([np.reshape(x, (2, 2)), np.ones((2, 1))])),
    ("vstack of 0-d values", lambda x: np.vstack([x[0], x[1]])),
    ("vstack of 1-D, plain and traced", lambda x: np.vstack([x, np.ones(4), x * 2])),
    ("vstack of the array itself", lambda x: np.vstack(x)),
    ("vstack of 2-D and 1-D", lambda x: np.vstack([np.reshape(x, (2, 2)), x[:2]])),
    ("vstack of one 1-D", lambda x: np.vstack([x])),
]


@pytest.mark.parametrize("f", [f for _, f in STACKS], ids=[n for n, _ in STACKS])
def test_hstack_and_vstack_of_traced_values_match_numpy(f):
    want = f(X)  # plain NumPy
    got_values = []

    def probe(x):
        y = f(x)
        got_values.append(adcore.value_of(y))
        return y

    J_rev = tapes.jacobian(probe)(X)
    J_fwd = dualnum.jacobian(probe)(X)
    for v in got_values:
        assert np.shape(v) == want.shape
        np.testing.assert_array_equal(v, want)
    np.testing.assert_allclose(J_rev, fd_jacobian(f, X), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(J_fwd, J_rev)


# -------------------------------------------------------- operators on traced values
@pytest.mark.parametrize("op, numpy_name", [
    (lambda x: x & 1, "np.bitwise_and"), (lambda x: 1 | x, "np.bitwise_or"),
    (lambda x: x ^ 1, "np.bitwise_xor"), (lambda x: ~x, "np.invert"),
    (lambda x: x << 1, "np.left_shift"), (lambda x: 1 >> x, "np.right_shift"),
], ids=["and", "ror", "xor", "invert", "lshift", "rrshift"])
@pytest.mark.parametrize("engine", [tapes.jacobian, dualnum.jacobian], ids=["tapes", "dualnum"])
def test_operators_without_a_rule_raise_unsupported_op_naming_numpy(engine, op, numpy_name):
    with pytest.raises(UnsupportedOpError, match=numpy_name):
        engine(op)(X)


@pytest.mark.parametrize("engine", [tapes.grad, dualnum.grad], ids=["tapes", "dualnum"])
def test_floor_division_and_round_are_steps_with_derivative_zero(engine):
    def f(x):
        return np.sum((x // 0.4) * x) + np.sum((0.9 // x) * x * x) + round(x[0]) * x[1]

    z = np.array([0.35, -0.7, 1.1, 0.5])  # away from every step
    np.testing.assert_allclose(engine(f)(z), fd_jacobian(f, z), rtol=1e-6)


def test_floor_division_is_a_replay_guard():
    def f(x):
        return np.sum((x // 1.0) * x)

    rec = tapes.record(f, X, on_guard_failure="raise")
    np.testing.assert_allclose(rec.gradient(X + 0.05), fd_jacobian(f, X + 0.05), rtol=1e-6)
    with pytest.raises(adcore.GuardError):
        rec.gradient(X + 0.6)  # the integer parts change
