"""Edges of the NumPy coverage found by trying user programs: plain lists of traced values
given to NumPy functions, einsum's size-1 broadcasting of a named index, the quotient of
remainder/fmod at a jump, and recordings of derivatives replayed at new points."""
import numpy as np
import pytest

import adcore
import dualnum
import tapes

X = np.array([0.5, -1.2])
H = 1e-6


def _fd(f, x):
    return np.array([(f(x + H * e) - f(x - H * e)) / (2 * H) for e in np.eye(x.size)])


LISTS = {
    "x + list": lambda x: np.sum(x + [2 * x[0], x[1] ** 2]),
    "x + list(x**2)": lambda x: np.sum(x + list(x ** 2)),
    "tuple operand": lambda x: np.sum(x * (x[0], x[1] ** 2)),
    "maximum with a list": lambda x: np.sum(np.maximum([2 * x[0], x[1] ** 2], x)),
    "where with lists": lambda x: np.sum(np.where([True, False], [3 * x[0], x[1]], x)),
    "keyword list": lambda x: np.sum(np.clip(x, a_min=np.array([2 * x[0], x[1] ** 2]), a_max=None)),
    "dot with a list": lambda x: np.dot(x, [x[1], 1.0]),
    "average weights list": lambda x: np.average(x, weights=[x[0] ** 2, 1.0]),
    "power with a list": lambda x: np.sum(np.power(x ** 2, [x[0], 2.0])),
    "einsum list operand": lambda x: np.einsum("i,i", x, [x[1], 2.0]),
    "select with lists": lambda x: np.sum(np.select([x > 0, x <= 0], [x ** 2, [x[0], 3.0]])),
    "insert a list": lambda x: np.sum(np.insert(x, 1, [x[0] ** 2])),
    "cov with a list": lambda x: np.sum(np.cov(x, [x[1], x[0] ** 2])),
    "concatenate ragged": lambda x: np.sum(np.concatenate([x, [x[0], 5.0]]) ** 2),
}


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_list_of_traced_values_is_never_a_constant(name):
    f = LISTS[name]
    fd = _fd(f, X)
    np.testing.assert_allclose(tapes.grad(f)(X), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(dualnum.grad(f)(X), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("spec,shapes", [("i,i->", [(1,), (4,)]), ("ij,jk->ik", [(2, 1), (3, 3)]),
                                         ("ij,ij->i", [(2, 1), (2, 3)])])
def test_einsum_broadcasts_a_size_one_named_axis_in_both_modes(spec, shapes):
    a = np.linspace(0.3, 1.1, int(np.prod(shapes[0]))).reshape(shapes[0])
    b = np.linspace(-1.0, 1.0, int(np.prod(shapes[1]))).reshape(shapes[1])
    f = lambda a: np.sum(np.einsum(spec, a, b) ** 2)  # noqa: E731
    fd = _fd(lambda v: f(v.reshape(a.shape)), a.ravel()).reshape(a.shape)
    for grad in (tapes.grad, dualnum.grad):
        g = grad(f)(a)
        assert g.shape == a.shape
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("fn", [np.remainder, np.fmod])
def test_remainder_derivative_uses_numpys_own_quotient(fn):
    """1 % 0.1 is 1 - 9 * 0.1 in NumPy (x / y rounds to 10): d/dy is -9, the piece taken."""
    ys = np.linspace(0.01, 0.5, 200)
    for x in (1.0, 2.7, -1.3):
        q = (x - fn(x, ys)) / ys  # the quotient NumPy's result implies
        for grad in (tapes.grad, dualnum.grad):
            d = np.array([grad(lambda y: fn(x, y))(y) for y in ys])
            np.testing.assert_allclose(d, -np.rint(q), rtol=0, atol=0)


REPLAYS = {
    "max": (np.max, np.array([3.0, 1.0, 2.0]), np.array([1.0, 3.0, 2.0])),
    "sort": (lambda x: np.sum(np.sort(x) * np.arange(3.0)), np.array([3.0, 1.0, 2.0]),
             np.array([1.0, 3.0, 2.0])),
    "det at a singular matrix": (np.linalg.det, np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]]),
                                 np.diag([-1.0, 2, 3])),
    "norm at 0": (np.linalg.norm, np.zeros(3), np.array([1.0, 2.0, 2.0])),
}


@pytest.mark.parametrize("name", sorted(REPLAYS))
def test_a_recorded_gradient_replays_with_new_decisions(name):
    f, x, y = REPLAYS[name]
    rec = tapes.record(tapes.grad(f), x)
    np.testing.assert_allclose(rec.value(y), tapes.grad(f)(y), rtol=1e-12, atol=1e-14)


COMPOSITE_REPLAYS = {
    "angle of reals": (lambda x: np.sum(x * np.angle(x)), [1.0, 2.0], [-1.0, 2.0]),
    "nan_to_num": (lambda x: np.sum(np.nan_to_num(np.sqrt(x))), [-1.0, 2.0], [1.0, 2.0]),
    "complex sign": (lambda x: np.real(np.sum(np.sign(x * (1 + 1j)) * x)), [0.0, 1.0], [1.0, 2.0]),
}


@pytest.mark.parametrize("name", sorted(COMPOSITE_REPLAYS))
def test_a_recording_with_value_decisions_replays_them(name):
    f, x, y = COMPOSITE_REPLAYS[name]
    x, y = np.array(x), np.array(y)
    with np.errstate(invalid="ignore"):
        rec = tapes.record(f, x)
        np.testing.assert_allclose(rec.gradient(y), tapes.grad(f)(y), rtol=1e-12)
        np.testing.assert_allclose(rec.value(y), f(y), rtol=1e-12)


def test_traced_frequency_weights_are_refused():
    X3 = np.arange(8.0).reshape(2, 4) ** 1.5
    with pytest.raises(adcore.UnsupportedOpError, match="fweights"):
        tapes.grad(lambda w: np.sum(np.cov(X3, fweights=w)))(np.array([1.0, 2, 1, 3]))


def test_a_replayed_gradient_has_the_input_dtype():
    x = np.ones(3, np.float32)
    rec = tapes.record(lambda x: np.sum(x * np.ones(3)), x)
    assert rec.gradient(x).dtype == np.float32 == tapes.grad(lambda x: np.sum(x * np.ones(3)))(x).dtype


# ------------------------------------------------------------------------------ second hunt
def test_a_complex_traced_value_never_enters_an_object_array():
    """NumPy's object arithmetic has no complex rules (.imag of an entry would be 0)."""
    z = np.array([0.5 + 1j, -1.5 - 0.2j])
    for grad in (tapes.grad, dualnum.grad):
        with pytest.raises(adcore.ConcretizationError, match="complex traced value"):
            grad(lambda z: np.sum(np.asarray(z).imag ** 2))(z)
        with pytest.raises(adcore.ConcretizationError):
            grad(lambda x: np.sum(np.array([x[0], 1j * x[1]]).imag) + x[0])(X)


def test_polyval_of_a_poly1d():
    p = np.poly1d([1.0, 2.0, 3.0])
    for grad in (tapes.grad, dualnum.grad):
        np.testing.assert_allclose(grad(lambda t: np.polyval(p, t))(0.3), 2 * 0.3 + 2.0)


def test_plain_lists_and_complex_constants_beside_traced_values():
    x = np.array([1.0, 2.0])
    cases = {
        lambda x: np.sum(x / [1.5, 2.0]): [1 / 1.5, 0.5],
        lambda x: np.sum(np.hypot(x, [3.0, 4.0])): x / np.hypot(x, [3.0, 4.0]),
        lambda x: np.real(np.sum(x + [1j, x[0]])): [2.0, 1.0],
    }
    for f, want in cases.items():
        for grad in (tapes.grad, dualnum.grad):
            np.testing.assert_allclose(grad(f)(x), want, rtol=1e-14)


def test_replay_re_records_when_an_op_changes_its_kind_or_fails():
    f = lambda m: np.sum(np.real(np.linalg.eigvals(m)) ** 2)  # noqa: E731
    a = np.array([[2.0, 1.0], [0.5, -1.0]])  # real eigenvalues
    b = np.array([[0.0, 1.0], [-1.0, 0.0]])  # a complex pair
    np.testing.assert_allclose(tapes.record(f, a).value(b), f(b))
    np.testing.assert_allclose(tapes.record(tapes.grad(f), a).value(b), tapes.grad(f)(b))
    with pytest.raises(adcore.GuardError, match="complex"):
        tapes.record(f, a, on_guard_failure="raise").value(b)
    rhs = np.ones(2)

    def g(m):
        if abs(np.linalg.det(m)) > 1e-9:
            return np.sum(np.linalg.solve(m, rhs))
        return np.sum(np.linalg.pinv(m) @ rhs)
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(tapes.record(g, a).gradient(singular), tapes.grad(g)(singular))


def test_a_recorded_gradient_keeps_its_kinks_as_guards():
    g = tapes.grad(lambda t: np.abs(t) * t)
    direct = dualnum.derivative(g)
    for at, new in [(0.0, 1.0), (1.0, 0.0)]:
        np.testing.assert_array_equal(tapes.record(g, at).jacobian(new), direct(new))


def test_det_second_derivative_near_a_singular_matrix():
    """det a^-T loses eps * cond(a) in its own derivative: near singular, the SVD path."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 2)) @ rng.standard_normal((2, 3))  # rank 2 up to rounding
    h = dualnum.jacobian(tapes.grad(np.linalg.det))(a)
    exact = np.zeros((3, 3, 3, 3))  # d2 det / da_ij da_kl: signed 1x1 minors
    for i, j, k, m in np.ndindex(3, 3, 3, 3):
        if i != k and j != m:
            r = ({0, 1, 2} - {i, k}).pop()
            c = ({0, 1, 2} - {j, m}).pop()
            sign = np.linalg.det(np.eye(3)[[i, k, r]]) * np.linalg.det(np.eye(3)[:, [j, m, c]])
            exact[i, j, k, m] = sign * a[r, c]
    np.testing.assert_allclose(h, exact, atol=1e-12)


def test_interp_at_a_repeated_knot_and_full_like_dtype():
    xp, fp = [0.0, 1.0, 2.0, 2.0], [0.0, 1.0, 2.0, 3.0]
    assert tapes.grad(lambda x: np.interp(x, xp, fp))(2.0) == 0.0  # the piece on the right
    assert np.isfinite(tapes.vjp(lambda x: np.interp(x, xp, fp), 2.0)[0])
    x = np.array([1.0, 2.0])
    assert dualnum.jacobian(lambda x: np.full_like(x, x[0], dtype=np.float32))(x).dtype == np.float32
