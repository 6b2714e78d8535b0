"""np.linalg in both modes, beyond the registered examples: stacks, float32, second order by
nesting, the triangle convention of symmetric-input routines, every norm, degenerate
spectra, result types and refusals; complex matrices (gradients dL/dx - i dL/dy against
finite differences, the dot-product test with complex directions, second order on the
stacked real and imaginary parts, the Hermitian triangle, the gauge of eigh/svd vectors)
and the eigenvectors of np.linalg.eig in NumPy's own normalization."""
import numpy as np
import pytest

import adcore
import dualnum
import tapes
from adcore.checking import check_grads, numerical_jacobian

GRADS = {"forward": dualnum.grad, "reverse": tapes.grad}
JACOBIANS = {"forward": dualnum.jacobian, "reverse": tapes.jacobian}
both = pytest.mark.parametrize("mode", ["forward", "reverse"])
NESTINGS = {f"{o.__module__.split('.')[0]}.jacobian({i.__module__.split('.')[0]}.grad)": (o, i)
            for o in (dualnum.jacobian, tapes.jacobian) for i in (dualnum.grad, tapes.grad)}


def rand(*shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape)


# the helpers keep the input's dtype, so a float32 function stays float32 in NumPy too
def wc(a):
    """Well conditioned: strictly diagonally dominant for entries in [-1, 1]."""
    n = a.shape[-1]
    return a + (n + 1) * np.eye(n, dtype=a.dtype)


def spread(a):
    """Distinct, well-separated eigen/singular values for entries in [-1, 1]."""
    m, n = a.shape[-2:]
    return a + (np.eye(m, n) * (3.0 * np.arange(n))).astype(a.dtype)


def spd(a):
    return a @ np.swapaxes(a, -1, -2) + 3 * np.eye(a.shape[-1], dtype=a.dtype)


W33 = rand(3, 3, seed=99)
C3 = np.array([1.0, -2.0, 0.5])


def w33(a):
    return W33.astype(a.dtype)


def c3(a):
    return C3.astype(a.dtype)


def vjp_of(mode, f, x, w):
    """<w, J>: one reverse sweep, or (forward) the full Jacobian contracted with w."""
    if mode == "reverse":
        return tapes.vjp(f, x)[1](w)[0]
    J = dualnum.jacobian(f)(x)
    return np.tensordot(w, J, axes=np.ndim(w))


# ------------------------------------------------------------------------------ coverage
LINALG_NAMES = ["solve", "inv", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "svd", "pinv",
                "qr", "lstsq", "norm", "multi_dot", "matrix_power", "matrix_norm", "vector_norm",
                "svdvals", "matrix_transpose", "vecdot", "outer", "trace", "diagonal",
                "tensorinv", "tensorsolve", "cond", "matmul", "eig", "eigvals"]


def test_every_linalg_function_is_an_entry_point():
    table = adcore.numpy_entry_points()
    missing = [n for n in LINALG_NAMES if f"np.linalg.{n}" not in table]
    assert not missing
    assert table["np.linalg.inv"] == "linalg.inv"  # a single op: listed by its op name
    assert table["np.linalg.matrix_rank"] == "(no derivative)"


# ------------------------------------------------------------------------------ stacks
STACKED = {
    "inv": lambda a: np.linalg.inv(wc(a)),
    "det": lambda a: np.linalg.det(wc(a)),
    "slogdet": lambda a: np.linalg.slogdet(wc(a)).logabsdet,
    "solve": lambda a: np.linalg.solve(wc(a), np.arange(6.0).reshape(3, 2)),
    "cholesky": lambda a: np.linalg.cholesky(wc(a)),
    "cholesky upper": lambda a: np.linalg.cholesky(wc(a), upper=True),
    "eigvalsh": lambda a: np.linalg.eigvalsh(spread(a)),
    "eigh vectors": lambda a: np.linalg.eigh(spread(a), UPLO="U").eigenvectors ** 2,
    "svdvals": lambda a: np.linalg.svdvals(spread(a)),
    "svd U": lambda a: np.linalg.svd(spread(a)).U ** 2,
    "svd Vh": lambda a: np.linalg.svd(spread(a)).Vh ** 2,
    "pinv": lambda a: np.linalg.pinv(spread(a)),
    "qr Q": lambda a: np.linalg.qr(spread(a)).Q,
    "qr R": lambda a: np.linalg.qr(spread(a)).R,
    "matrix_power": lambda a: np.linalg.matrix_power(wc(a), -3),
    "cond": lambda a: np.linalg.cond(spread(a)),
    "norm nuc": lambda a: np.linalg.norm(spread(a), "nuc", axis=(-2, -1)),
    "trace": lambda a: np.linalg.trace(a, offset=1),
    "diagonal": lambda a: np.linalg.diagonal(a),
}


@both
@pytest.mark.parametrize("name", list(STACKED))
def test_a_stack_is_differentiated_matrix_by_matrix(mode, name):
    """The Jacobian of a stack is block diagonal, each block the single matrix's Jacobian."""
    f = STACKED[name]
    a = rand(2, 3, 3, seed=1)
    J = JACOBIANS[mode](f)(a)
    for i in range(2):
        block = J[i][..., i, :, :]
        np.testing.assert_allclose(block, JACOBIANS[mode](f)(a[i]), rtol=1e-12, atol=1e-13)
        np.testing.assert_array_equal(J[i][..., 1 - i, :, :], 0.0)


@both
@pytest.mark.parametrize("a_shape,b_shape", [((3, 3), (2, 3, 2)), ((2, 3, 3), (3,)),
                                             ((2, 1, 3, 3), (4, 3, 1))])
def test_solve_broadcasts_like_numpy_and_sums_the_cotangent(mode, a_shape, b_shape):
    a, b = wc(rand(*a_shape, seed=2)), rand(*b_shape, seed=3)
    x = np.linalg.solve(a, b)
    w = rand(*x.shape, seed=4)
    f = lambda a, b: np.sum(np.linalg.solve(a, b) * w)
    ga, gb = GRADS[mode](f, argnums=(0, 1))(a, b)
    assert ga.shape == a.shape and gb.shape == b.shape
    np.testing.assert_allclose(ga, numerical_jacobian(f, (a, b), 0), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, numerical_jacobian(f, (a, b), 1), rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------------------ float32
FLOAT32 = {
    "matmul (reference)": lambda a: np.sum(a @ a),
    "inv": lambda a: np.sum(np.linalg.inv(wc(a)) * w33(a)),
    "det": lambda a: np.linalg.det(wc(a)),
    "det singular": lambda a: np.linalg.det(a * np.array([1.0, 1.0, 0.0], a.dtype)),
    "slogdet": lambda a: np.linalg.slogdet(wc(a))[1],
    "solve": lambda a: np.sum(np.linalg.solve(wc(a), c3(a))),
    "cholesky": lambda a: np.sum(np.linalg.cholesky(wc(a)) * w33(a)),
    "eigh": lambda a: np.sum(np.linalg.eigh(spread(a)).eigenvectors ** 2 * w33(a)),
    "eigvalsh": lambda a: np.sum(np.linalg.eigvalsh(spread(a)) * c3(a)),
    "svd": lambda a: np.sum(np.linalg.svd(spread(a)).U ** 2 * w33(a)),
    "svdvals": lambda a: np.sum(np.linalg.svdvals(spread(a)) * c3(a)),
    "pinv": lambda a: np.sum(np.linalg.pinv(spread(a)) * w33(a)),
    "qr": lambda a: np.sum(np.linalg.qr(spread(a)).R * w33(a)),
    "lstsq": lambda a: np.sum(np.linalg.lstsq(spread(a), c3(a))[0]),
    "norm 2": lambda a: np.linalg.norm(a, 2),
    "norm 3": lambda a: np.linalg.norm(a, 3, axis=0)[1],
    "trace": lambda a: np.linalg.trace(a @ a),
    "diagonal": lambda a: np.sum(np.linalg.diagonal(a, offset=-1) ** 2),
    "multi_dot": lambda a: np.sum(np.linalg.multi_dot([a, a, c3(a)])),
    "matrix_power": lambda a: np.sum(np.linalg.matrix_power(wc(a), -2)),
}


FLOAT32_CASES = [pytest.param(name, mode, id=f"{name}-{mode}")
                 for name in FLOAT32 for mode in ("forward", "reverse")]


@pytest.mark.parametrize("name,mode", FLOAT32_CASES)
def test_float32_gradients_stay_float32_like_matmul(name, mode):
    f = FLOAT32[name]
    a = rand(3, 3, seed=5)
    assert np.result_type(f(a.astype(np.float32))) == np.float32  # NumPy keeps it float32
    g32 = GRADS[mode](f)(a.astype(np.float32))
    assert g32.dtype == np.float32
    np.testing.assert_allclose(g32, GRADS[mode](f)(a), rtol=2e-3, atol=2e-4)


# ------------------------------------------------------------------------------ second order
SMOOTH = {
    "det": (lambda a: np.linalg.det(a), (3, 3)),
    "logabsdet": (lambda a: np.linalg.slogdet(wc(a)).logabsdet, (3, 3)),
    "inv": (lambda a: np.sum(np.linalg.inv(wc(a)) * W33), (3, 3)),
    "solve wrt a": (lambda a: np.sum(np.linalg.solve(wc(a), W33[:, :2]) ** 2), (3, 3)),
    "solve wrt b": (lambda b: np.sum(np.linalg.solve(wc(W33), b) ** 3), (3,)),
    "cholesky": (lambda a: np.sum(np.linalg.cholesky(wc(a)) * W33), (3, 3)),
    "cholesky of a a^T": (lambda a: np.sum(np.linalg.cholesky(spd(a), upper=True) * W33), (3, 3)),
    "eigvalsh": (lambda a: np.sum(np.linalg.eigvalsh(spread(a)) ** 2 * C3), (3, 3)),
    "eigh vectors": (lambda a: np.sum(np.linalg.eigh(spread(a)).eigenvectors ** 2 * W33), (3, 3)),
    "svdvals": (lambda a: np.sum(np.linalg.svdvals(spread(a)) * C3), (3, 4)),
    "svd U": (lambda a: np.sum(np.linalg.svd(spread(a), full_matrices=False).U ** 2
                               * rand(4, 3, seed=98)), (4, 3)),
    "svd Vh": (lambda a: np.sum(np.linalg.svd(spread(a), full_matrices=False).Vh ** 2
                                * W33[:, :2].T), (2, 3)),
    "pinv": (lambda a: np.sum(np.linalg.pinv(spread(a)) * W33[:, :2]), (2, 3)),
    "qr tall": (lambda a: np.sum(np.linalg.qr(spread(a)).Q * W33[:, :2]), (3, 2)),
    "qr wide R": (lambda a: np.sum(np.linalg.qr(spread(a)).R * W33[:2]), (2, 3)),
    "lstsq x": (lambda a: np.sum(np.linalg.lstsq(spread(a), C3)[0] ** 2), (3, 2)),
    "lstsq residuals": (lambda a: np.sum(np.linalg.lstsq(spread(a), C3)[1]), (3, 2)),
    "norm nuc": (lambda a: np.linalg.norm(spread(a), "nuc"), (3, 3)),
    "cond": (lambda a: np.linalg.cond(spread(a)), (3, 3)),
    "matrix_power -2": (lambda a: np.sum(np.linalg.matrix_power(wc(a), -2) * W33), (3, 3)),
}


@pytest.mark.parametrize("nesting", list(NESTINGS))
@pytest.mark.parametrize("name", list(SMOOTH))
def test_second_derivatives_by_nesting_agree_with_finite_differences(name, nesting):
    f, shape = SMOOTH[name]
    outer, inner = NESTINGS[nesting]
    a = rand(*shape, seed=6)
    H = outer(inner(f))(a)
    fd = numerical_jacobian(tapes.grad(f), (a,))
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(fd).max()))
    n = a.size  # a Hessian is symmetric
    np.testing.assert_allclose(H.reshape(n, n), H.reshape(n, n).T, rtol=1e-9, atol=1e-10)


# ------------------------------------------------------------------------------ triangles
SYMMETRIC_INPUT = {  # name -> (f, which triangle NumPy reads)
    "eigvalsh L": (lambda a: np.sum(np.linalg.eigvalsh(spread(a)) * C3), "L"),
    "eigvalsh U": (lambda a: np.sum(np.linalg.eigvalsh(spread(a), UPLO="U") * C3), "U"),
    "eigh values U": (lambda a: np.sum(np.linalg.eigh(spread(a), "U")[0] ** 2), "U"),
    "eigh vectors L": (lambda a: np.sum(np.linalg.eigh(spread(a))[1] ** 2 * W33), "L"),
    "eigh vectors U": (lambda a: np.sum(np.linalg.eigh(spread(a), "U")[1] ** 2 * W33), "U"),
    "cholesky": (lambda a: np.sum(np.linalg.cholesky(wc(a)) * W33), "L"),
    "cholesky upper": (lambda a: np.sum(np.linalg.cholesky(wc(a), upper=True) * W33), "U"),
    "pinv hermitian": (lambda a: np.sum(np.linalg.pinv(wc(a), hermitian=True) * W33), "L"),
}


@both
@pytest.mark.parametrize("name", list(SYMMETRIC_INPUT))
def test_symmetric_input_routines_differentiate_the_triangle_numpy_reads(mode, name):
    """The unread triangle's derivative is exactly 0; finite differences along a
    NON-symmetric perturbation (and along a symmetric one) agree with <grad, E>."""
    f, tri = SYMMETRIC_INPUT[name]
    a = rand(3, 3, seed=7)
    g = GRADS[mode](f)(a)
    unread = np.triu(g, 1) if tri == "L" else np.tril(g, -1)
    np.testing.assert_array_equal(unread, 0.0)
    read = np.tril_indices(3, -1) if tri == "L" else np.triu_indices(3, 1)
    assert np.all(g[read] != 0)  # a read off-diagonal entry does count
    h = 1e-6
    for e in (rand(3, 3, seed=8), spd(rand(3, 3, seed=9))):
        fd = (f(a + h * e) - f(a - h * e)) / (2 * h)
        np.testing.assert_allclose(np.sum(g * e), fd, rtol=1e-6, atol=1e-8)


@both
def test_on_symmetric_perturbations_the_triangle_gradient_matches_the_symmetrized_one(mode):
    """JAX's convention (the gradient of f((A + A^T)/2)) and ours give the same directional
    derivative along every symmetric perturbation."""
    f = lambda a: np.sum(np.linalg.eigvalsh(spread(a)) ** 3)
    a = spd(rand(3, 3, seed=10))
    ours = GRADS[mode](f)(a)
    symmetrized = GRADS[mode](lambda a: f((a + a.T) / 2))(a)
    assert not np.allclose(ours, symmetrized)
    e = spd(rand(3, 3, seed=11))
    np.testing.assert_allclose(np.sum(ours * e), np.sum(symmetrized * e), rtol=1e-12)


# ------------------------------------------------------------------------------ norms
INF = np.inf
VECTOR_ORDS = [None, 1, -1, 2, -2, INF, -INF, 3, 0.5, 2.5, -3]
MATRIX_ORDS = [None, "fro", "f", "nuc", 1, -1, 2, -2, INF, -INF]
NORM_CASES = (
    [((5,), o, ax) for o in VECTOR_ORDS for ax in (None, 0, -1)]
    + [((3, 4), o, ax) for o in VECTOR_ORDS for ax in (0, 1, -1)]
    + [((2, 3, 4), o, ax) for o in VECTOR_ORDS for ax in (0, -1)]
    + [((3, 4), o, ax) for o in MATRIX_ORDS for ax in (None, (0, 1), (1, 0), (-1, -2))]
    + [((2, 3, 4), o, ax) for o in MATRIX_ORDS for ax in ((0, 2), (2, 1), (-3, -1))]
    + [((2, 3, 4), None, None)])


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,ord,axis", NORM_CASES, ids=[str(c) for c in NORM_CASES])
def test_norm_every_ord_axis_keepdims_against_numpy_and_fd(shape, ord, axis, keepdims):
    x = np.random.default_rng(abs(hash((shape, str(ord), str(axis)))) % 2**32).normal(size=shape)
    f = lambda x: np.linalg.norm(x, ord, axis, keepdims)
    expected = f(x)
    for out in (dualnum.jvp(f, (x,), (np.ones_like(x),))[0], tapes.vjp(f, x)[0]):
        assert np.shape(out) == np.shape(expected)
        np.testing.assert_allclose(out, expected, rtol=1e-13, atol=0)
    check_grads(f, (x,), jvp=dualnum.jvp, vjp=tapes.vjp)


@both
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_norm_ord_0_is_a_count_with_zero_derivative(mode, axis):
    x = np.array([[0.0, 1.5, -2.0], [3.0, 0.0, 0.0]])
    f = lambda x: np.sum(np.linalg.norm(x if axis is not None else x[0], 0, axis))
    assert f(x) == tapes.vjp(f, x)[0] == dualnum.jvp(f, (x,), (np.ones_like(x),))[0]
    np.testing.assert_array_equal(GRADS[mode](lambda x: f(x) + 0 * np.sum(x))(x), 0.0)


@both
@pytest.mark.parametrize("fn", [
    lambda x: np.linalg.vector_norm(x, axis=(0, 2), ord=3, keepdims=True),
    lambda x: np.linalg.vector_norm(x, axis=(2, 0), ord=1),
    lambda x: np.linalg.vector_norm(x, keepdims=True),
    lambda x: np.linalg.vector_norm(x, axis=-1, ord=INF, keepdims=True),
    lambda x: np.linalg.matrix_norm(x, ord="nuc", keepdims=True),
    lambda x: np.linalg.matrix_norm(x, ord=-2),
    lambda x: np.linalg.cond(x[0, :, :3]),
    lambda x: np.linalg.cond(x[:, :, :3], 1),
])
def test_vector_norm_matrix_norm_and_cond(mode, fn):
    x = np.random.default_rng(12).normal(size=(2, 3, 4))
    out = (tapes.vjp(fn, x) if mode == "reverse" else dualnum.jvp(fn, (x,), (x,)))[0]
    assert np.shape(out) == np.shape(fn(x))
    np.testing.assert_allclose(out, fn(x), rtol=1e-13)
    check_grads(fn, (x,), jvp=dualnum.jvp, vjp=tapes.vjp)


@both
@pytest.mark.parametrize("shape,ord,axis", [
    ((5,), "fro", None), ((5,), "nuc", None), ((3, 4), 3, None), ((3, 4), "fro", 0),
    ((2, 3, 4), 1, None), ((3, 4), 2, (0, 0)), ((3, 4), None, (0, 1, 2)), ((3, 4), 1, 2),
    ((3, 4), 1, (0, 2)), ((3, 4), 1, [0])])
def test_norm_refuses_what_numpy_refuses(mode, shape, ord, axis):
    x = np.ones(shape)
    with pytest.raises(Exception) as numpy_error:
        np.linalg.norm(x, ord, axis)
    with pytest.raises(type(numpy_error.value)):
        GRADS[mode](lambda x: np.sum(np.linalg.norm(x, ord, axis)))(x)


def _dual_norm_at_most_one(g, norm, n_samples=300):
    """g is a subgradient of the norm at 0 iff <g, y> <= ||y|| for every y."""
    rng = np.random.default_rng(13)
    ys = [rng.normal(size=g.shape) for _ in range(n_samples)]
    ys += [np.eye(g.size)[i].reshape(g.shape) * s for i in range(g.size) for s in (1, -1)]
    ys += [np.sign(g), g]
    return all(np.sum(g * y) <= norm(y) * (1 + 1e-12) + 1e-15 for y in ys)


@both
@pytest.mark.parametrize("shape,ord", [((4,), o) for o in VECTOR_ORDS]
                         + [((3, 4), o) for o in MATRIX_ORDS])
def test_norm_at_zero_is_a_subgradient_or_nan_never_a_wrong_number(mode, shape, ord):
    """At 0: the 2-norm and Frobenius give the zero subgradient (as before); 1, inf, nuc and
    the spectral norm a subgradient (dual norm <= 1); p-norms NaN. Functions that are not
    norms (negative orders) must not claim a finite gradient that is not a generalized one."""
    x = np.zeros(shape)
    f = lambda x: np.linalg.norm(x, ord)
    with np.errstate(all="ignore"):
        g = GRADS[mode](f)(x)
    if ord in (None, "fro", "f") or (ord == 2 and len(shape) == 1):
        np.testing.assert_array_equal(g, 0.0)
    elif np.all(np.isnan(g)):
        assert ord not in (1, INF, "nuc")  # these have a subgradient, which we promise
    elif ord not in (-1, -2, -INF, -3):  # (not norms: no dual-norm bound to check)
        assert np.all(np.isfinite(g)) and _dual_norm_at_most_one(g, f)
    else:
        assert np.all(np.isfinite(g) | np.isnan(g))
        assert np.all(np.isnan(g)) or np.abs(g).max() <= 1.0  # inside Clarke's |.| bound


@both
def test_matrix_norm_subgradients_at_ties_and_rank_deficiency(mode):
    """A repeated top singular value (2-norm) and a zero singular value (nuclear norm): the
    returned gradient is a subgradient: f(a + e) >= f(a) + <g, e> for every e."""
    rng = np.random.default_rng(14)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    for a, ord in ((q @ np.diag([2.0, 2.0, 1.0]) @ q.T, 2), (q @ np.diag([2.0, 1.0, 0.0]), "nuc")):
        f = lambda x: np.linalg.norm(x, ord)
        g = GRADS[mode](f)(a)
        assert np.all(np.isfinite(g))
        for _ in range(200):
            e = rng.normal(size=(3, 3)) * rng.choice([1e-3, 1e-1, 1.0])
            assert f(a + e) >= f(a) + np.sum(g * e) - 1e-12


# ------------------------------------------------------------------------------ degenerate
@both
def test_values_only_gradients_survive_a_degenerate_spectrum(mode):
    """At a repeated eigen/singular value the vector rules divide by 0; functions of the
    values alone never use them, so their gradients stay finite (and right)."""
    a = np.diag([1.0, 1.0, 2.0])
    g = GRADS[mode](lambda a: np.sum(np.linalg.eigvalsh(a) * C3))(a)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(np.trace(g), np.sum(C3))  # d/dt at a + t I
    g = GRADS[mode](lambda a: np.sum(np.linalg.eigh(a).eigenvalues))(a)
    np.testing.assert_allclose(g, np.eye(3), atol=1e-15)
    g = GRADS[mode](lambda a: np.sum(np.linalg.svdvals(a) ** 2))(a)
    np.testing.assert_allclose(g, 2 * a, atol=1e-14)  # sum of s^2 = ||a||_F^2


@both
@pytest.mark.parametrize("fn", [
    lambda a: np.sum(np.linalg.eigh(a).eigenvectors ** 2 * W33),
    lambda a: np.sum(np.linalg.svd(a).U ** 2 * W33),
    lambda a: np.sum(np.linalg.svd(a).Vh ** 2 * W33),
], ids=["eigh vectors", "svd U", "svd Vh"])
def test_vector_derivatives_at_a_degenerate_spectrum_are_not_finite(mode, fn):
    with np.errstate(all="ignore"):
        g = GRADS[mode](fn)(np.diag([1.0, 1.0, 2.0]))
    assert not np.all(np.isfinite(g))


@both
def test_det_gradient_is_the_cofactor_matrix_also_at_singular_matrices(mode):
    rng = np.random.default_rng(15)
    singular = rng.normal(size=(3, 3)) * [1.0, 1.0, 0.0]  # det(U) det(Vh) = +1 or -1: both
    for a in (rng.normal(size=(3, 3)), singular, -singular, singular.T[::-1], np.outer(C3, C3)):
        cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
                         for j in range(3)] for i in range(3)])
        np.testing.assert_allclose(GRADS[mode](np.linalg.det)(a), cof, atol=1e-12)


@both
@pytest.mark.parametrize("fn", [np.linalg.inv, lambda a: np.linalg.solve(a, C3),
                                lambda a: np.linalg.slogdet(a)[1]])
def test_singular_matrix_raises_numpys_linalgerror(mode, fn):
    a = np.outer(C3, C3)
    with pytest.raises(np.linalg.LinAlgError):
        GRADS[mode](lambda a: np.sum(fn(a)))(a)


# ------------------------------------------------------------------------------ results
@both
def test_results_are_numpys_own_classes(mode):
    seen = {}

    def f(a):
        r = np.linalg.eigh(spread(a))
        w, v = r
        seen["eigh"] = (type(r), r.eigenvalues is w, r.eigenvectors is v)
        s = np.linalg.svd(spread(a))
        seen["svd"] = (type(s), s.U is s[0], s.S is s[1], s.Vh is s[2])
        q = np.linalg.qr(spread(a))
        seen["qr"] = (type(q), q.Q is q[0])
        sl = np.linalg.slogdet(wc(a))
        seen["slogdet"] = (type(sl), type(sl.sign))
        return np.sum(w) + np.sum(s.S) + np.sum(q.R) + sl.logabsdet

    GRADS[mode](f)(rand(3, 3, seed=16))
    one = np.eye(2)
    assert seen["eigh"] == (type(np.linalg.eigh(one)), True, True)
    assert seen["svd"] == (type(np.linalg.svd(one)), True, True, True)
    assert seen["qr"] == (type(np.linalg.qr(one)), True)
    assert seen["slogdet"] == (type(np.linalg.slogdet(one)), type(np.linalg.slogdet(one).sign))


@both
def test_slogdet_sign_is_plain_and_sign_exp_logabsdet_is_det(mode):
    a = rand(3, 3, seed=17)
    f = lambda a: (lambda r: r.sign * np.exp(r.logabsdet))(np.linalg.slogdet(a))
    np.testing.assert_allclose(GRADS[mode](f)(a), GRADS[mode](np.linalg.det)(a), rtol=1e-12)


@both
@pytest.mark.parametrize("a_shape,b_shape", [((4, 2), (4,)), ((4, 2), (4, 3)), ((2, 4), (2,)),
                                             ((3, 3), (3,))])
def test_lstsq_returns_numpys_tuple(mode, a_shape, b_shape):
    a, b = spread(rand(*a_shape, seed=18)), rand(*b_shape, seed=19)
    expected = np.linalg.lstsq(a, b)
    got = {}

    def f(a):
        x, res, rank, s = np.linalg.lstsq(a, b)
        got.update(rank=rank, res=adcore.value_of(res), s=adcore.value_of(s))
        return np.sum(x ** 2) + np.sum(res)
    GRADS[mode](f)(a)
    assert got["rank"] == expected[2] and isinstance(got["rank"], (int, np.integer))
    assert got["res"].shape == expected[1].shape
    np.testing.assert_allclose(got["res"], expected[1], rtol=1e-12)
    np.testing.assert_allclose(got["s"], expected[3], rtol=1e-13)
    check_grads(lambda a, b: np.sum(np.linalg.lstsq(a, b)[0] ** 2) + np.sum(np.linalg.lstsq(a, b)[1]),
                (a, b), jvp=dualnum.jvp, vjp=tapes.vjp)


# ------------------------------------------------------------------------------ refusals
NONSYMMETRIC = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 1.0], [0.3, 0.2, 2.0]])


@both
def test_eigvals_of_a_general_matrix(mode):
    """Distinct eigenvalues (complex here): the gradient of sum |lambda|^2 against finite
    differences; the real input gets a real gradient."""
    f = lambda a: np.sum(np.abs(np.linalg.eigvals(a)) ** 2)  # noqa: E731
    g = GRADS[mode](f)(NONSYMMETRIC)
    assert g.dtype == np.float64
    fd = np.zeros((3, 3))
    for idx in np.ndindex(3, 3):
        e = np.zeros((3, 3))
        e[idx] = 1e-6
        fd[idx] = (f(NONSYMMETRIC + e) - f(NONSYMMETRIC - e)) / 2e-6
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_eig_values_and_vectors_differentiate():
    """eig's values are eigvals' (the same op); its vectors differentiate in both modes."""
    f = lambda a: np.sum(np.abs(np.linalg.eig(a).eigenvalues) ** 2)  # noqa: E731
    np.testing.assert_allclose(tapes.grad(f)(NONSYMMETRIC),
                               tapes.grad(lambda a: np.sum(np.abs(np.linalg.eigvals(a)) ** 2))(
                                   NONSYMMETRIC))
    g = lambda a: np.sum(np.abs(np.linalg.eig(a).eigenvectors) * W33)  # noqa: E731
    fd = numerical_jacobian(g, (NONSYMMETRIC,))
    for grad in (tapes.grad, dualnum.grad):
        np.testing.assert_allclose(grad(f)(NONSYMMETRIC), numerical_jacobian(f, (NONSYMMETRIC,)),
                                   rtol=1e-6, atol=1e-8)
        out = grad(g)(NONSYMMETRIC)
        assert out.dtype == np.float64  # a real input keeps the real part
        np.testing.assert_allclose(out, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("nesting", list(NESTINGS))
def test_eigvals_second_derivatives_by_nesting(nesting):
    """eigvals' rule is made of registered ops (the eigenvectors an op too): it nests."""
    f = lambda a: np.sum(np.abs(np.linalg.eigvals(a)) ** 2)  # noqa: E731
    outer, inner = NESTINGS[nesting]
    H = outer(inner(f))(NONSYMMETRIC)
    fd = numerical_jacobian(tapes.grad(f), (NONSYMMETRIC,))
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-6 * np.abs(fd).max())


@both
@pytest.mark.parametrize("fn,match", [
    (lambda a: np.linalg.svd(a)[0], r"full_matrices=True on a 3x2.*full_matrices=False"),
    (lambda a: np.linalg.svd(a, hermitian=True)[1], r"hermitian=True"),
    (lambda a: np.linalg.qr(a, mode="raw")[0], r"mode='raw'.*mode='reduced'"),
    (lambda a: np.linalg.qr(a, mode="complete")[0], r"mode='complete' on a 3x2"),
])
def test_unsupported_variants_name_the_alternative(mode, fn, match):
    with pytest.raises(adcore.UnsupportedOpError, match=match):
        GRADS[mode](lambda a: np.sum(fn(a)))(rand(3, 2, seed=20))


@both
def test_square_full_matrices_and_complete_qr_where_they_coincide(mode):
    a = spread(rand(3, 3, seed=21))
    f = lambda a: np.sum(np.linalg.svd(a).U ** 2 * W33) + np.sum(np.linalg.qr(a[:2], "complete").R)
    np.testing.assert_allclose(GRADS[mode](f)(a), numerical_jacobian(f, (a,)), rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------------------ products
@both
@pytest.mark.parametrize("shapes", [[(4,), (4, 30), (30, 2)], [(2, 30), (30, 3), (3, 40), (40,)],
                                    [(5, 2), (2, 6), (6, 3), (3, 4), (4, 2)]])
def test_multi_dot_is_numpys_value_and_derivative(mode, shapes):
    arrays = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    f = lambda *xs: np.linalg.multi_dot(list(xs))
    out = (tapes.vjp(f, *arrays) if mode == "reverse"
           else dualnum.jvp(f, arrays, [np.zeros_like(x) for x in arrays]))[0]
    np.testing.assert_array_equal(out, f(*arrays))  # the same parenthesization
    check_grads(f, arrays, jvp=dualnum.jvp, vjp=tapes.vjp)


@both
@pytest.mark.parametrize("n", [0, 1, 2, 3, 6, 7, -1, -4])
def test_matrix_power_every_branch(mode, n):
    a = wc(rand(2, 3, 3, seed=22)) / 4
    f = lambda a: np.linalg.matrix_power(a, n)
    out = (tapes.vjp(f, a) if mode == "reverse" else dualnum.jvp(f, (a,), (a,)))[0]
    np.testing.assert_array_equal(out, f(a))
    J = JACOBIANS[mode](f)(a)
    np.testing.assert_allclose(J, numerical_jacobian(f, (a,)), rtol=1e-6, atol=1e-8)
    if n == 0:
        np.testing.assert_array_equal(J, 0.0)


@both
def test_tensorinv_tensorsolve_and_the_numpy2_names(mode):
    a = np.reshape(wc(rand(6, 6, seed=23)), (2, 3, 6))
    b = rand(2, 3, seed=24)
    fns = [lambda a: np.linalg.tensorinv(a),
           lambda a: np.linalg.tensorsolve(np.reshape(a, (2, 3, 2, 3)), b),
           lambda a: np.linalg.tensorsolve(np.reshape(a, (2, 3, 2, 3)), b, axes=(0,)),
           lambda a: np.linalg.matrix_transpose(a),
           lambda a: np.linalg.vecdot(a, a[:1], axis=1),
           lambda a: np.linalg.outer(a[0, 0], a[1, 1]),
           lambda a: np.linalg.trace(a, offset=-1),
           lambda a: np.linalg.diagonal(a, offset=2),
           lambda a: np.linalg.matmul(a, a[0].T)]
    for f in fns:
        out = (tapes.vjp(f, a) if mode == "reverse" else dualnum.jvp(f, (a,), (a,)))[0]
        np.testing.assert_allclose(out, f(a), rtol=1e-13)
        J = JACOBIANS[mode](f)(a)
        np.testing.assert_allclose(J, numerical_jacobian(f, (a,)), rtol=1e-6, atol=1e-8)


@both
@pytest.mark.parametrize("fn,name", [
    (lambda x: np.linalg.tensordot(x, x, axes=1), "np.tensordot"),
    (lambda x: np.linalg.cross(x, x[::-1]), "np.cross")])
def test_linalg_tensordot_and_cross_are_numpys(mode, fn, name):
    """They forward to np.tensordot / np.cross: differentiable once those have rules."""
    x = rand(3, seed=25)
    if name in adcore.numpy_entry_points():
        check_grads(fn, (x,), jvp=dualnum.jvp, vjp=tapes.vjp)
    else:
        with pytest.raises(adcore.UnsupportedOpError, match=name):
            GRADS[mode](lambda x: np.sum(fn(x)))(x)


@both
def test_matrix_rank_has_no_derivative(mode):
    a = rand(3, 3, seed=26) * [1.0, 1.0, 0.0]
    g = GRADS[mode](lambda a: np.linalg.matrix_rank(a) * np.sum(a))(a)
    np.testing.assert_array_equal(g, 2.0)


# ------------------------------------------------------------------------------ zeros
@both
def test_a_direction_that_does_not_move_the_matrix_is_an_exact_zero(mode):
    """Jacobian columns (forward) and rows (reverse) whose direction is structurally zero
    stay exact zeros through the dense ops (their zero pattern is stated directly, since
    the generic all-ones probe would be a singular matrix)."""
    def f(x):
        a = wc(np.reshape(x[:9], (3, 3)))
        return np.concatenate([np.ravel(np.linalg.inv(a)), np.linalg.cholesky(a)[0], x[9:] * 2])
    x = rand(11, seed=27)
    J = JACOBIANS[mode](f)(x)
    np.testing.assert_array_equal(J[:12, 9:], 0.0)
    np.testing.assert_array_equal(J[12:, :9], 0.0)
    np.testing.assert_allclose(J, numerical_jacobian(f, (x,)), rtol=1e-6, atol=1e-8)


# A structurally zero direction through a dense op at a degenerate spectrum (inf coefficients)
# must give exactly 0, also as the LAST op of a forward pass and reversed into moves-only ops
# (reshape): adcore.rules re-applies the masks on every structural path.
DEGENERATE = np.concatenate([np.ravel(np.diag([1.0, 1.0, 2.0])), [0.5]])


def test_structural_zero_direction_beats_nan_forward_last_op():
    f = lambda x: np.linalg.eigh(np.reshape(x[:9], (3, 3))).eigenvectors
    with np.errstate(all="ignore"):
        J = dualnum.jacobian(f)(DEGENERATE)
    np.testing.assert_array_equal(J[..., 9], 0.0)


def test_structural_zero_direction_beats_nan_reverse_into_reshape():
    f = lambda x: np.concatenate([np.ravel(np.linalg.eigh(np.reshape(x[:9], (3, 3)))[1]),
                                  x[9:] * 2])
    with np.errstate(all="ignore"):
        J = tapes.jacobian(f)(DEGENERATE)
    np.testing.assert_array_equal(J[9, :9], 0.0)


# ------------------------------------------------------------------------------ complex
# The convention of adcore.ops_complex: the gradient of a real-valued L of a complex Z is
# dL/dx - i dL/dy; a cotangent w pairs with a tangent t by Re(sum(w * t)).
def crand(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, shape) + 1j * rng.uniform(-1, 1, shape)


def herm(z):
    """A Hermitian matrix with distinct, well-separated eigenvalues."""
    n = z.shape[-1]
    return (z + np.conj(np.swapaxes(z, -1, -2))) / 2 + np.diag(3.0 * np.arange(n))


def hpd(z):
    return z @ np.conj(np.swapaxes(z, -1, -2)) + 2 * np.eye(z.shape[-1])


def H(x):
    return np.conj(np.swapaxes(x, -1, -2))


def complex_fd_grad(L, z, h=1e-6):
    """dL/dx - i dL/dy by central differences along each entry's real and imaginary parts."""
    g = np.zeros(z.shape, dtype=complex)
    for idx in np.ndindex(z.shape):
        e = np.zeros(z.shape, dtype=complex)
        e[idx] = h
        dx = (L(z + e) - L(z - e)) / (2 * h)
        dy = (L(z + 1j * e) - L(z - 1j * e)) / (2 * h)
        g[idx] = dx - 1j * dy
    return g


Z33, Z43, Z34 = crand(3, 3, seed=30), crand(4, 3, seed=31), crand(3, 4, seed=32)
CW33, CW43 = crand(3, 3, seed=33), crand(4, 3, seed=34)
B33 = crand(3, 3, seed=35)


def re_sum(x, w):
    return np.real(np.sum(x * w))


# name -> (L, input): every L real-valued; eigen/singular vectors only through functions
# invariant under the phase of each column (or of the pair u_i, v_i).
COMPLEX_GRADIENTS = {
    "solve": (lambda z: re_sum(np.linalg.solve(wc(z), CW33[:, 0]), 1.0), Z33),
    "solve wrt b": (lambda b: re_sum(np.linalg.solve(wc(Z33), b), CW33), B33),
    "inv": (lambda z: re_sum(np.linalg.inv(wc(z)), CW33), Z33),
    "det": (lambda z: re_sum(np.linalg.det(z), 1.0 - 2.0j), Z33),
    "det singular (minors)": (lambda z: re_sum(np.linalg.det(z * np.array([1.0, 1.0, 0.0])),
                                               1.0 + 0.5j), Z33),
    "slogdet logabsdet": (lambda z: np.linalg.slogdet(wc(z)).logabsdet, Z33),
    "slogdet sign": (lambda z: re_sum(np.linalg.slogdet(z).sign, 0.3 + 2.0j), Z33),
    "slogdet sign exp(logabsdet) = det": (
        lambda z: re_sum((lambda r: r.sign * np.exp(r.logabsdet))(np.linalg.slogdet(z)), 1j), Z33),
    "cholesky of z z^H": (lambda z: re_sum(np.linalg.cholesky(hpd(z)), CW33), Z33),
    "cholesky reads the lower triangle": (lambda z: re_sum(np.linalg.cholesky(wc(z)), CW33), Z33),
    "cholesky upper": (lambda z: re_sum(np.linalg.cholesky(wc(z), upper=True), CW33), Z33),
    "eigvalsh": (lambda z: np.sum(np.linalg.eigvalsh(herm(z)) * C3), Z33),
    "eigvalsh of a triangle, UPLO=U": (lambda z: np.sum(np.linalg.eigvalsh(
        z + np.diag([0.0, 3.0, 6.0]), UPLO="U") ** 2), Z33),
    "eigh |V|^2": (lambda z: np.sum(np.abs(np.linalg.eigh(herm(z))[1]) ** 2 * W33), Z33),
    "eigh |V|, triangle": (lambda z: np.sum(np.abs(np.linalg.eigh(
        z + np.diag([0.0, 3.0, 6.0]))[1]) * W33), Z33),
    "eigh V diag(c) V^H": (lambda z: (lambda v: re_sum((v * C3) @ H(v), CW33))(
        np.linalg.eigh(herm(z), UPLO="U")[1]), Z33),
    "eigh |V^H B V|": (lambda z: (lambda v: np.sum(np.abs(H(v) @ B33 @ v) * W33))(
        np.linalg.eigh(herm(z))[1]), Z33),
    "svdvals tall": (lambda z: np.sum(np.linalg.svdvals(z) * C3), Z43),
    "svd compute_uv=False wide": (lambda z: np.sum(np.linalg.svd(z, compute_uv=False) ** 3), Z34),
    "svd |U|^2 tall": (lambda z: np.sum(np.abs(np.linalg.svd(z, full_matrices=False).U) ** 2
                                        * W33[0]), Z43),
    "svd |Vh| wide": (lambda z: np.sum(np.abs(np.linalg.svd(z, full_matrices=False).Vh)
                                       * W33[:, :1]), Z34),
    "svd U diag(s) Vh, full square": (lambda z: (lambda r: re_sum((r.U * r.S) @ r.Vh, CW33))(
        np.linalg.svd(z)), Z33),
    "svd U U^H (2 columns) tall": (lambda z: (lambda u: re_sum(u @ H(u), CW43 @ CW43.T))(
        np.linalg.svd(z, full_matrices=False).U[:, :2]), Z43),
    "svd u_0 v_0^H wide": (lambda z: (lambda r: re_sum(r.U[:, :1] @ r.Vh[:1], CW43.T))(
        np.linalg.svd(z, full_matrices=False)), Z34),
    "svd |U|^2 + |Vh|^2, square full": (lambda z: (lambda r: np.sum(np.abs(r.U) ** 2 * W33)
                                        + np.sum(np.abs(r.Vh) ** 2 * W33.T))(np.linalg.svd(z)),
                                        Z33),
    "norm nuc": (lambda z: np.linalg.norm(z, "nuc"), Z43),
    "norm 2 (spectral)": (lambda z: np.linalg.norm(z, 2), Z34),
    "norm -2": (lambda z: np.linalg.norm(z, -2), Z43),
    "norm fro": (lambda z: np.linalg.norm(z), Z43),
    "norm 1": (lambda z: np.linalg.norm(z, 1), Z43),
    "norm inf": (lambda z: np.linalg.norm(z, np.inf), Z43),
    "vector norm 3": (lambda z: np.linalg.norm(z[0], 3), Z43),
    "matrix_norm nuc": (lambda z: np.linalg.matrix_norm(z, ord="nuc"), Z34),
    "cond": (lambda z: np.linalg.cond(z), Z33),
    "cond fro": (lambda z: np.linalg.cond(wc(z), "fro"), Z33),
    "pinv tall": (lambda z: re_sum(np.linalg.pinv(z), CW43.T), Z43),
    "pinv wide": (lambda z: re_sum(np.linalg.pinv(z), CW43), Z34),
    "pinv hermitian": (lambda z: re_sum(np.linalg.pinv(wc(z), hermitian=True), CW33), Z33),
    "lstsq x tall": (lambda z: re_sum(np.linalg.lstsq(z, CW43[:, 0])[0], C3), Z43),
    "lstsq x wide": (lambda z: re_sum(np.linalg.lstsq(z, CW33[:, 0])[0], CW43[:, 0]), Z34),
    "lstsq residuals": (lambda z: np.sum(np.linalg.lstsq(z, CW43)[1]), Z43),
    "lstsq s": (lambda z: np.sum(np.linalg.lstsq(z, CW43)[3]), Z43),
    "qr Q tall": (lambda z: re_sum(np.linalg.qr(z).Q, CW43), Z43),
    "qr R tall": (lambda z: re_sum(np.linalg.qr(z).R, CW33), Z43),
    "qr Q wide": (lambda z: re_sum(np.linalg.qr(z).Q, CW33), Z34),
    "qr R wide": (lambda z: re_sum(np.linalg.qr(z).R, CW43.T), Z34),
    "qr complete square": (lambda z: re_sum(np.linalg.qr(z, "complete").Q, CW33), Z33),
    "matrix_power 3": (lambda z: re_sum(np.linalg.matrix_power(z, 3), CW33), Z33),
    "matrix_power -2": (lambda z: re_sum(np.linalg.matrix_power(wc(z), -2), CW33), Z33),
    "multi_dot": (lambda z: re_sum(np.linalg.multi_dot([z, CW33, z, CW33[0]]), C3), Z33),
    "eigvals": (lambda z: np.sum(np.abs(np.linalg.eigvals(z)) ** 2 * C3), Z33),
    "eig values": (lambda z: re_sum(np.linalg.eig(z).eigenvalues, CW33[0]), Z33),
    "eig vectors themselves": (lambda z: re_sum(np.linalg.eig(z).eigenvectors, CW33), Z33),
    "eig |U|, batch": (lambda z: np.sum(np.abs(np.linalg.eig(z)[1]) * W33),
                       crand(2, 3, 3, seed=36)),
    "eig U diag(w) U^-1": (lambda z: (lambda r: re_sum(
        (r.eigenvectors * r.eigenvalues) @ np.linalg.inv(r.eigenvectors), CW33))(
        np.linalg.eig(z)), Z33),
    "matrix_rank has no derivative": (lambda z: np.linalg.matrix_rank(z) * np.linalg.norm(z),
                                      Z33),
}


@both
@pytest.mark.parametrize("name", list(COMPLEX_GRADIENTS))
def test_complex_gradient_is_dx_minus_i_dy(mode, name):
    L, z = COMPLEX_GRADIENTS[name]
    g = GRADS[mode](L)(z)
    assert g.dtype == np.complex128 and g.shape == z.shape
    np.testing.assert_allclose(g, complex_fd_grad(L, z), rtol=1e-6, atol=1e-7)


# complex-valued outputs: JVP along a complex direction against finite differences, and
# the dot-product test Re(sum(w * J v)) = Re(sum(J^T w * v))
COMPLEX_MAPS = {
    "solve": (lambda z: np.linalg.solve(wc(z), CW33), Z33),
    "inv": (lambda z: np.linalg.inv(wc(z)), Z33),
    "det": (lambda z: np.linalg.det(z), Z33),
    "slogdet": (lambda z: (lambda r: r.sign * r.logabsdet)(np.linalg.slogdet(z)), Z33),
    "cholesky": (lambda z: np.linalg.cholesky(wc(z)), Z33),
    "cholesky upper of z z^H": (lambda z: np.linalg.cholesky(hpd(z), upper=True), Z33),
    "eigh V diag(c) V^H": (lambda z: (lambda v: (v * C3) @ H(v))(np.linalg.eigh(herm(z))[1]),
                           Z33),
    "eigh values": (lambda z: np.linalg.eigh(z + np.diag([0.0, 3.0, 6.0])).eigenvalues, Z33),
    "svd U diag(s) Vh tall": (lambda z: (lambda r: (r.U * r.S) @ r.Vh)(
        np.linalg.svd(z, full_matrices=False)), Z43),
    "svd U diag(c) Vh wide": (lambda z: (lambda r: (r.U * C3) @ r.Vh)(
        np.linalg.svd(z, full_matrices=False)), Z34),
    "svd U U^H square": (lambda z: (lambda u: u[:, :2] @ H(u[:, :2]))(np.linalg.svd(z).U), Z33),
    "svdvals": (lambda z: np.linalg.svdvals(z), Z43),
    "pinv": (lambda z: np.linalg.pinv(z), Z43),
    "pinv hermitian": (lambda z: np.linalg.pinv(wc(z), hermitian=True), Z33),
    "lstsq": (lambda z: np.linalg.lstsq(z, CW43)[0], Z43),
    "qr Q": (lambda z: np.linalg.qr(z).Q, Z43),
    "qr R wide": (lambda z: np.linalg.qr(z).R, Z34),
    "eig vectors": (lambda z: np.linalg.eig(z).eigenvectors, Z33),
    "eigvals": (lambda z: np.linalg.eigvals(z), Z33),
    "matrix_power": (lambda z: np.linalg.matrix_power(z, 5), Z33),
}


@pytest.mark.parametrize("name", list(COMPLEX_MAPS))
def test_complex_jvp_against_fd_and_the_dot_product_test(name):
    f, z = COMPLEX_MAPS[name]
    v = crand(*z.shape, seed=40)
    out, jv = dualnum.jvp(f, (z,), (v,))
    h = 1e-6
    np.testing.assert_allclose(jv, (f(z + h * v) - f(z - h * v)) / (2 * h), rtol=1e-6, atol=1e-7)
    w = crand(*np.shape(out), seed=41)
    if not np.iscomplexobj(out):  # a real output takes a real cotangent
        w = np.real(w)
    out_r, vjp_fn = tapes.vjp(f, z)
    np.testing.assert_allclose(out_r, out, rtol=1e-13)
    (zbar,) = vjp_fn(w)
    lhs, rhs = np.real(np.sum(w * jv)), np.real(np.sum(zbar * v))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-12)


def stacked(L, shape):
    """L as a function of one real vector [Re z; Im z] (second order on a real vector)."""
    n = int(np.prod(shape))
    return lambda xy: L(np.reshape(xy[:n], shape) + 1j * np.reshape(xy[n:], shape))


COMPLEX_SECOND_ORDER = ["det singular (minors)", "slogdet logabsdet", "slogdet sign",
                        "cholesky reads the lower triangle", "eigvalsh", "eigh |V|^2",
                        "svd |U|^2 tall", "svd |Vh| wide", "norm nuc", "pinv tall", "qr Q tall",
                        "lstsq x tall", "eigvals", "eig vectors themselves", "eig |U|, batch"]


@pytest.mark.parametrize("nesting", ["dualnum.jacobian(tapes.grad)",
                                     "tapes.jacobian(dualnum.grad)"])
@pytest.mark.parametrize("name", COMPLEX_SECOND_ORDER)
def test_complex_second_derivatives_by_nesting(name, nesting):
    L, z = COMPLEX_GRADIENTS[name]
    f = stacked(L, z.shape)
    xy = np.concatenate([np.ravel(z.real), np.ravel(z.imag)])
    outer, inner = NESTINGS[nesting]
    Hm = outer(inner(f))(xy)
    fd = numerical_jacobian(tapes.grad(f), (xy,))
    np.testing.assert_allclose(Hm, fd, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(fd).max()))
    np.testing.assert_allclose(Hm, Hm.T, rtol=1e-8, atol=1e-9 * max(1.0, np.abs(fd).max()))


@both
@pytest.mark.parametrize("name,tri", [
    ("eigvalsh L", "L"), ("eigvalsh U", "U"), ("eigh |V| L", "L"), ("cholesky", "L"),
    ("cholesky upper", "U"), ("pinv hermitian", "L")])
def test_hermitian_input_routines_read_one_triangle_and_the_real_diagonal(mode, name, tri):
    """NumPy reads one triangle and ignores the imaginary part of the diagonal (LAPACK):
    their gradients are exactly 0; finite differences along non-Hermitian complex
    perturbations agree with Re(sum(g * e))."""
    f = {"eigvalsh L": lambda z: np.sum(np.linalg.eigvalsh(spread(z)) * C3),
         "eigvalsh U": lambda z: np.sum(np.linalg.eigvalsh(spread(z), UPLO="U") ** 2),
         "eigh |V| L": lambda z: np.sum(np.abs(np.linalg.eigh(spread(z))[1]) * W33),
         "cholesky": lambda z: re_sum(np.linalg.cholesky(wc(z)), CW33),
         "cholesky upper": lambda z: re_sum(np.linalg.cholesky(wc(z), upper=True), CW33),
         "pinv hermitian": lambda z: re_sum(np.linalg.pinv(wc(z), hermitian=True), CW33)}[name]
    z = crand(3, 3, seed=42)
    g = GRADS[mode](f)(z)
    unread = np.triu(g, 1) if tri == "L" else np.tril(g, -1)
    np.testing.assert_array_equal(unread, 0.0)
    np.testing.assert_array_equal(np.imag(np.diagonal(g)), 0.0)
    assert np.all(np.abs(g[np.tril_indices(3, -1) if tri == "L" else np.triu_indices(3, 1)]) > 0)
    h = 1e-6
    for e in (crand(3, 3, seed=43), H(crand(3, 3, seed=44)) + crand(3, 3, seed=44)):
        fd = (f(z + h * e) - f(z - h * e)) / (2 * h)
        np.testing.assert_allclose(np.real(np.sum(g * e)), fd, rtol=1e-6, atol=1e-8)


def test_the_gauge_of_complex_eigh_and_svd_vectors():
    """The documented gauge: diag(V^H dV) = 0 for eigh and for svd's V; svd's U carries the
    determined relative phase, Im diag(U^H dU) = Im diag(U^H dA V) / s."""
    v_dir = crand(4, 3, seed=45)
    _, dv = dualnum.jvp(lambda z: np.linalg.eigh(herm(z))[1], (Z33,), (v_dir[:3],))
    v = np.linalg.eigh(herm(Z33))[1]
    np.testing.assert_allclose(np.diagonal(H(v) @ dv), 0.0, atol=1e-13)
    r = np.linalg.svd(Z43, full_matrices=False)
    _, dvh = dualnum.jvp(lambda z: np.linalg.svd(z, full_matrices=False).Vh, (Z43,), (v_dir,))
    np.testing.assert_allclose(np.diagonal(dvh @ H(r.Vh)), 0.0, atol=1e-13)
    _, du = dualnum.jvp(lambda z: np.linalg.svd(z, full_matrices=False).U, (Z43,), (v_dir,))
    p = H(r.U) @ v_dir @ H(r.Vh)
    np.testing.assert_allclose(np.diagonal(H(r.U) @ du), 1j * np.imag(np.diagonal(p)) / r.S,
                               atol=1e-13)


@pytest.mark.parametrize("kind", ["complex", "real with complex pairs", "real"])
def test_numpys_eig_vectors_satisfy_the_differentiated_normalization(kind):
    """The normalization the eig_vectors rule differentiates is what NumPy returns: unit
    2-norm columns whose largest-modulus entry is real (positive for a complex matrix)."""
    rng = np.random.default_rng(50)
    for trial in range(20):
        n = 2 + trial % 5
        a = rng.normal(size=(n, n)) + (1j * rng.normal(size=(n, n)) if kind == "complex" else 0)
        if kind == "real":
            a = a @ a.T + np.diag(np.arange(n))  # symmetric: real eigenvalues
        w, u = np.linalg.eig(a)
        if kind == "real with complex pairs" and not np.iscomplexobj(u):
            continue
        np.testing.assert_allclose(np.linalg.norm(u, axis=0), 1.0, rtol=1e-13)
        k = np.argmax(np.abs(u), axis=0)
        largest = u[k, np.arange(n)]
        np.testing.assert_array_equal(np.imag(largest), 0.0)
        if kind == "complex":
            assert np.all(np.real(largest) > 0)


@both
def test_eig_vectors_of_a_real_matrix_with_a_complex_pair(mode):
    """A real input: complex eigenvectors, a real gradient, every function of U (here its
    real and imaginary parts) differentiated as NumPy computes it."""
    a = NONSYMMETRIC + np.array([[0.0, 2.0, 0.0], [-2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert np.iscomplexobj(np.linalg.eig(a)[1])
    f = lambda a: np.sum(np.real(np.linalg.eig(a)[1]) * W33 + np.imag(np.linalg.eig(a)[1]))
    g = GRADS[mode](f)(a)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, numerical_jacobian(f, (a,)), rtol=1e-6, atol=1e-8)


@both
def test_complex_det_gradient_is_the_cofactor_matrix_also_at_singular_matrices(mode):
    for a in (Z33, Z33 * np.array([1.0, 1.0, 0.0]), np.outer(CW33[0], CW33[1])):
        cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
                         for j in range(3)] for i in range(3)])
        # det is holomorphic: the gradient of Re(det) is d det / dz, the cofactors
        np.testing.assert_allclose(GRADS[mode](lambda z: np.real(np.linalg.det(z)))(a),
                                   cof, atol=1e-12)


@both
def test_complex64_stays_complex64(mode):
    z = Z33.astype(np.complex64)
    for f in (lambda z: np.linalg.slogdet(wc(z))[1], lambda z: np.sum(np.linalg.svdvals(z)),
              lambda z: np.sum(np.abs(np.linalg.eigh(herm(z))[1]) ** 2 * W33)):
        g = GRADS[mode](f)(z)
        assert g.dtype == np.complex64
        np.testing.assert_allclose(g, GRADS[mode](f)(Z33), rtol=2e-3, atol=2e-4)
