"""Complex numbers in both modes, generated from the registry: every elementwise op NumPy
evaluates on complex numbers, holomorphic derivatives (holomorphic=True) against complex
finite differences, real-valued functions of complex inputs against finite differences
along the real and the imaginary direction (the convention df/dx - i df/dy), the
dot-product test under the pairing Re(sum(w * t)), and second order by nesting."""
import warnings

import numpy as np
import pytest

import adcore
from adcore.checking import numerical_jacobian
import dualnum
import tapes

H = 1e-6
# elementwise ops whose complex rule is not f'(z) t: they are composed from real/imag/conj
# (abs, sign) or refuse complex inputs (the orderings)
NOT_HOLOMORPHIC = {"abs", "sign", "maximum", "minimum", "fmax", "fmin", "clip", "relu", "kink",
                   "copysign", "hypot", "arctan2", "logaddexp", "logaddexp2", "remainder",
                   "fmod", "cbrt", "deg2rad", "rad2deg", "sigmoid", "softplus", "sinc"}


def _takes_complex(op):
    z = np.array([0.3 + 0.4j] * op.nargs)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = op.primal(*z)
    except (TypeError, ValueError):
        return False
    return np.iscomplexobj(out)


HOLOMORPHIC = sorted(name for name, op in adcore.registered_ops().items()
                     if op.kind == adcore.ELEMENTWISE and name not in NOT_HOLOMORPHIC
                     and _takes_complex(op))


def _sample(rng, shape=(3,)):
    return rng.uniform(0.2, 0.8, shape) + 1j * rng.uniform(-0.6, 0.6, shape)


def _call(op):
    return op.primal if isinstance(op.primal, np.ufunc) else (lambda *a: adcore.apply(op, *a))


def _complex_fd(f, args, i):
    """d f / d z_i of a holomorphic f, by central differences along the real axis."""
    plus = list(args)
    minus = list(args)
    plus[i] = args[i] + H
    minus[i] = args[i] - H
    return (f(*plus) - f(*minus)) / (2 * H)


def test_the_op_list_is_not_empty():
    assert {"exp", "log", "sin", "tanh", "power", "multiply", "divide", "arctanh"} <= set(HOLOMORPHIC)


@pytest.mark.parametrize("name", HOLOMORPHIC)
def test_holomorphic_derivative_both_modes(name):
    op = adcore.get_op(name)
    rng = np.random.default_rng(len(name))
    args = tuple(_sample(rng) for _ in range(op.nargs))
    f = _call(op)
    for i in range(op.nargs):
        fwd = dualnum.jacobian(f, argnums=i, holomorphic=True)(*args)
        rev = tapes.jacobian(f, argnums=i, holomorphic=True)(*args)
        np.testing.assert_allclose(np.diagonal(fwd), _complex_fd(f, args, i), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(fwd, rev, rtol=1e-12, atol=1e-14)
        # Cauchy-Riemann: the same derivative along the imaginary axis
        plus, minus = list(args), list(args)
        plus[i], minus[i] = args[i] + 1j * H, args[i] - 1j * H
        along_i = (f(*plus) - f(*minus)) / (2j * H)
        np.testing.assert_allclose(np.diagonal(fwd), along_i, rtol=1e-6, atol=1e-8)


def _grad_fd(f, z):
    """df/dx - i df/dy of a real-valued f, entry by entry."""
    g = np.zeros(z.shape, complex)
    for k in np.ndindex(*z.shape):
        e = np.zeros(z.shape)
        e[k] = H
        g[k] = (f(z + e) - f(z - e)) / (2 * H) - 1j * (f(z + 1j * e) - f(z - 1j * e)) / (2 * H)
    return g


@pytest.mark.parametrize("name", HOLOMORPHIC)
def test_real_valued_function_of_complex_input_both_modes(name):
    op = adcore.get_op(name)
    rng = np.random.default_rng(7 + len(name))
    others = tuple(_sample(rng) for _ in range(op.nargs - 1))
    fn = _call(op)
    f = lambda z: np.sum(np.abs(fn(z, *others)) ** 2 + np.angle(fn(z, *others) + 3.0))
    z = _sample(rng)
    expected = _grad_fd(f, z)
    np.testing.assert_allclose(tapes.grad(f)(z), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dualnum.grad(f)(z), expected, rtol=1e-6, atol=1e-8)


NON_HOLOMORPHIC_FUNCTIONS = {
    "abs": lambda z: np.sum(np.abs(z)),
    "abs squared": lambda z: np.sum(np.abs(z) ** 2),
    "real and imag": lambda z: np.sum(np.real(z) ** 2 * np.imag(z)),
    "attributes": lambda z: np.sum(z.real * z.imag + z.conj().imag),
    "conj product": lambda z: np.real(np.sum(np.conj(z) * z * z)),
    "angle": lambda z: np.sum(np.angle(z) ** 2),
    "angle deg": lambda z: np.sum(np.angle(z, deg=True)),
    "sign": lambda z: np.sum(np.real(np.sign(z)) + np.imag(np.sign(z) * z)),
    "norm": lambda z: np.linalg.norm(z),
    "vdot": lambda z: np.real(np.vdot(z, z * 1j + 2)),
    "matmul": lambda z: np.sum(np.abs(np.outer(z, z) @ z) ** 2),
    "einsum": lambda z: np.real(np.einsum("i,i->", z, np.conj(z))),
    "astype": lambda z: np.sum(np.abs(np.real(z).astype(np.complex128) * z) ** 2
                               + np.imag(z).astype(np.longdouble).astype(float)),
    "real input made complex": lambda z: np.sum(np.abs(np.real(z) * (1 + 2j) + z) ** 2),
    "stacked": lambda z: np.abs(np.sum(np.stack([z[0], 2 * z[1]]) ** 2)),
    "where": lambda z: np.sum(np.abs(np.where(np.real(z) > 0.5, z ** 2, np.exp(z)))),
    "mean, getitem": lambda z: np.abs(np.mean(z[::-1] * z)),
}


@pytest.mark.parametrize("name", sorted(NON_HOLOMORPHIC_FUNCTIONS))
def test_non_holomorphic_functions_both_modes(name):
    f = NON_HOLOMORPHIC_FUNCTIONS[name]
    z = _sample(np.random.default_rng(3), (3,))
    expected = _grad_fd(f, z)
    np.testing.assert_allclose(tapes.grad(f)(z), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dualnum.grad(f)(z), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(tapes.jacobian(f)(z), expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dualnum.jacobian(f)(z), expected, rtol=1e-6, atol=1e-8)


def test_jax_convention_example():
    """The README's example: grad of |z|^2 at 3 + 4i is 2 conj(z) = 6 - 8i."""
    f = lambda z: np.abs(z) ** 2
    assert tapes.grad(f)(3.0 + 4.0j) == 6.0 - 8.0j
    assert dualnum.grad(f)(3.0 + 4.0j) == 6.0 - 8.0j


@pytest.mark.parametrize("name", ["exp", "multiply", "power", "tan"])
def test_dot_product_test_under_the_real_pairing(name):
    """Re(sum(w * J v)) = Re(sum(J^T w * v)) for complex v and w."""
    op = adcore.get_op(name)
    rng = np.random.default_rng(11)
    args = tuple(_sample(rng, (2, 3)) for _ in range(op.nargs))
    f = lambda *a: np.sin(_call(op)(*a)) @ np.array([1.0 + 1j, 2.0, -1j])
    vs = tuple(_sample(rng, (2, 3)) for _ in args)
    out, jv = dualnum.jvp(f, args, vs)
    w = _sample(rng, np.shape(out))
    _, vjp_fn = tapes.vjp(f, *args)
    lhs = np.real(np.sum(w * jv))
    rhs = sum(np.real(np.sum(c * v)) for c, v in zip(vjp_fn(w), vs))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


def test_second_derivative_of_a_holomorphic_function_by_nesting():
    f = lambda z: np.sum(np.exp(z) * np.sin(z))
    second = lambda z: np.exp(z) * 2 * np.cos(z)
    z = _sample(np.random.default_rng(5))
    for outer, inner in [(dualnum, tapes), (tapes, dualnum), (dualnum, dualnum), (tapes, tapes)]:
        h = outer.jacobian(inner.grad(f, holomorphic=True), holomorphic=True)(z)
        np.testing.assert_allclose(np.diagonal(h), second(z), rtol=1e-12)


def test_hessian_of_a_real_function_of_complex_parts_by_nesting():
    """A real function of (x, y) written through z = x + iy: forward-over-reverse and
    reverse-over-forward Hessians agree with finite differences of the gradient."""
    def f(v):
        z = v[:2] + 1j * v[2:]
        return np.sum(np.abs(np.exp(z) * z) ** 2) + np.real(np.prod(z))
    v = np.array([0.3, -0.2, 0.5, 0.1])
    h1 = dualnum.jacobian(tapes.grad(f))(v)
    h2 = tapes.jacobian(dualnum.grad(f))(v)
    np.testing.assert_allclose(h1, h2, rtol=1e-10, atol=1e-12)
    fd = numerical_jacobian(tapes.grad(f), (v,))
    np.testing.assert_allclose(h1, fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("grad", [tapes.grad, dualnum.grad])
def test_complex_output_needs_holomorphic(grad):
    with pytest.raises(adcore.NonFloatInputError, match="holomorphic=True"):
        grad(lambda z: np.exp(z))(1.0 + 1j)


@pytest.mark.parametrize("jac", [tapes.jacobian, dualnum.jacobian])
def test_holomorphic_needs_complex_inputs(jac):
    with pytest.raises(adcore.NonFloatInputError, match="complex inputs"):
        jac(np.exp, holomorphic=True)(np.ones(2))


@pytest.mark.parametrize("f", [lambda z: np.maximum(z, 0.5), lambda z: np.max(z),
                               lambda z: np.clip(z, 0, 1), lambda z: np.minimum(z, z[::-1]),
                               lambda z: np.sort(z)[::-1] * np.arange(3.0)])
def test_orderings_of_complex_values_select_in_both_modes(f):
    """NumPy orders complex numbers lexicographically: a selection, whose derivative is the
    selected entry's."""
    g = lambda z: np.sum(np.abs(f(z) * (1 + 2j)) ** 2)  # noqa: E731
    z = _sample(np.random.default_rng(0))
    expected = _grad_fd(g, z)
    for grad in (tapes.grad, dualnum.grad):
        np.testing.assert_allclose(grad(g)(z), expected, rtol=1e-6, atol=1e-8)


def test_complex_jvp_and_vjp_take_complex_directions():
    z = _sample(np.random.default_rng(9))
    t = _sample(np.random.default_rng(10))
    out, jv = dualnum.jvp(np.exp, (z,), (t,))
    np.testing.assert_allclose(jv, np.exp(z) * t, rtol=1e-14)
    _, vjp_fn = tapes.vjp(np.exp, z)
    np.testing.assert_allclose(vjp_fn(t)[0], t * np.exp(z), rtol=1e-14)
    with pytest.raises(adcore.NonFloatInputError, match="real"):
        dualnum.jvp(np.exp, (np.ones(3),), (t,))


def test_real_input_gets_a_real_gradient():
    x = np.array([0.5, 2.0])
    for grad in (tapes.grad, dualnum.grad):
        g = grad(lambda x: np.sum(np.abs(np.exp(1j * x) * x) ** 2))(x)
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, 2 * x, rtol=1e-12)
