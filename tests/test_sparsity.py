"""Sparse Jacobians and Hessians: detected patterns never miss a non-zero, colourings are
valid and reach the known optimum on banded and arrow patterns, compressed evaluation
equals the dense derivative, and a pattern that stops holding is caught, not used."""
import numpy as np
import pytest
import scipy.sparse as sp

import dualnum
import fwdrev
import tapes
from fwdrev import sparsity as S

RNG = np.random.default_rng(3)


def banded(w):
    def f(x):  # output i depends on x[i - w .. i + w] (zero-padded ends)
        xp = np.concatenate([np.zeros(w), x, np.zeros(w)])
        return sum(np.sin(xp[k:k + x.size]) * (k + 1.0) for k in range(2 * w + 1)) * x
    return f


FUNCTIONS = [
    ("tridiagonal", banded(1), 40),
    ("pentadiagonal", banded(2), 40),
    ("arrow", lambda x: np.concatenate([[np.sum(x ** 2)], x[1:] * x[0] + np.cos(x[1:])]), 30),
    ("block diagonal", lambda x: (np.reshape(x, (-1, 3)) @ np.ones((3, 3))).ravel() ** 2, 30),
    ("dense", lambda x: np.tanh(np.ones((4, x.size)) @ x), 12),
    ("max and where", lambda x: np.where(x > 0.2, x ** 2, np.maximum(x, x[::-1])), 20),
    ("gather", lambda x: x[[0, 3, 3, 7]] * x[[1, 1, 2, 0]], 9),
]


@pytest.mark.parametrize("name, f, n", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
def test_the_detected_pattern_never_misses_a_non_zero(name, f, n):
    for seed in range(3):
        x = np.random.default_rng(seed).uniform(-1, 1, n)
        pattern = fwdrev.jacobian_sparsity(f, x).toarray()
        dense = dualnum.jacobian(f)(x)
        assert np.all(pattern[dense != 0]), name


@pytest.mark.parametrize("name, f, n", FUNCTIONS, ids=[c[0] for c in FUNCTIONS])
@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_sparse_jacobian_equals_the_dense_one(name, f, n, mode):
    x = RNG.uniform(-1, 1, n)
    jac = fwdrev.sparse_jacobian(f, mode=mode)
    got = jac(x)
    assert sp.issparse(got) and got.shape == (np.size(f(x)), n)
    np.testing.assert_allclose(got.toarray(), dualnum.jacobian(f)(x).reshape(got.shape),
                               rtol=1e-13, atol=1e-14)
    y = RNG.uniform(-1, 1, n)  # reused pattern and colouring at another point
    np.testing.assert_allclose(jac(y).toarray(), tapes.jacobian(f)(y).reshape(got.shape),
                               rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("w", [1, 2, 3, 5])
def test_banded_columns_take_the_optimal_2w_plus_1_colours(w):
    pattern = fwdrev.jacobian_sparsity(banded(w), RNG.uniform(-1, 1, 60))
    assert S.colour_columns(pattern).max() + 1 == 2 * w + 1
    assert S.colour_rows(pattern).max() + 1 == 2 * w + 1


def test_arrow_hessian_is_star_coloured_with_the_optimal_two_colours():
    f = lambda x: x[0] * np.sum(x[1:] ** 2) + np.sum(x ** 3)  # noqa: E731
    x = RNG.uniform(-1, 1, 50)
    pattern = fwdrev.hessian_sparsity(f, x)
    colour = S.star_colouring(pattern)
    assert colour.max() + 1 == 2 and S.is_star_colouring(pattern, colour)
    # column colouring of the same matrix as a Jacobian needs n colours: star saves n - 2
    assert S.colour_columns(pattern).max() + 1 == 50
    np.testing.assert_allclose(fwdrev.sparse_hessian(f)(x).toarray(),
                               fwdrev.hessian(f)(x), rtol=1e-13, atol=1e-14)


def test_a_path_hessian_needs_three_star_colours():
    f = lambda x: np.sum(x[1:] * x[:-1]) + np.sum(np.sin(x))  # noqa: E731
    x = RNG.uniform(-1, 1, 30)
    colour = S.star_colouring(fwdrev.hessian_sparsity(f, x))
    assert colour.max() + 1 == 3


@pytest.mark.parametrize("seed", range(8))
def test_star_and_column_colourings_are_valid_on_random_patterns(seed):
    rng = np.random.default_rng(seed)
    n = 40
    a = sp.random_array((n, n), density=0.06, rng=rng) != 0
    sym = sp.csr_array(((a + a.T + sp.eye_array(n, dtype=bool)) > 0))
    assert S.is_star_colouring(sym, S.star_colouring(sym))
    cols = S.colour_columns(a)
    dense = a.toarray()
    for c in range(cols.max() + 1):
        assert np.all(dense[:, cols == c].sum(axis=1) <= 1)  # no shared row in a colour
    rows = S.colour_rows(a)
    for c in range(rows.max() + 1):
        assert np.all(dense[rows == c].sum(axis=0) <= 1)


def test_is_star_colouring_rejects_a_two_coloured_path_of_four():
    path = sp.csr_array(np.eye(4, dtype=bool) | np.eye(4, k=1, dtype=bool) | np.eye(4, k=-1, dtype=bool))
    assert not S.is_star_colouring(path, np.array([0, 1, 0, 1]))
    assert S.is_star_colouring(path, np.array([0, 1, 2, 0]))


@pytest.mark.parametrize("name, f, n", [("banded", lambda x: np.sum(x[1:] ** 2 * x[:-1]) + np.sum(np.cos(x)), 25),
                                        ("arrow", lambda x: x[0] * np.sum(x[1:] ** 2), 25),
                                        ("quartic", lambda x: np.sum(x ** 4) + np.prod(x[:3]), 10)],
                         ids=["banded", "arrow", "quartic"])
def test_sparse_hessian_equals_the_dense_one(name, f, n):
    x = RNG.uniform(0.2, 1.0, n)
    got = fwdrev.sparse_hessian(f)(x)
    np.testing.assert_allclose(got.toarray(), fwdrev.hessian(f)(x), rtol=1e-12, atol=1e-13)
    assert (got != got.T).nnz == 0


def test_a_pattern_that_stops_holding_is_detected_and_recomputed():
    # x[0] > 0: output 1 depends on x[2]; else not. The pattern taken where it does not...
    f = lambda x: np.where(x[0] > 0, x * x[2], x * 2.0)  # noqa: E731
    jac = fwdrev.sparse_jacobian(f, mode="forward")
    x = np.array([-1.0, 0.5, 0.7])
    np.testing.assert_allclose(jac(x).toarray(), dualnum.jacobian(f)(x))
    assert jac.rerecords == 0
    y = np.array([1.0, 0.5, 0.7])  # ... is caught at a point where it does
    np.testing.assert_allclose(jac(y).toarray(), dualnum.jacobian(f)(y))
    assert jac.rerecords == 1


def test_a_given_pattern_is_used_and_checked():
    f = banded(1)
    x = RNG.uniform(-1, 1, 20)
    pattern = fwdrev.jacobian_sparsity(f, x)
    jac = fwdrev.sparse_jacobian(f, pattern=pattern)
    assert jac.compression.colours == 3
    np.testing.assert_allclose(jac(x).toarray(), dualnum.jacobian(f)(x), rtol=1e-13)
    # too sparse a pattern (the diagonal only) is caught by the check and replaced
    wrong = fwdrev.sparse_jacobian(f, pattern=sp.eye_array(20, dtype=bool))
    np.testing.assert_allclose(wrong(x).toarray(), dualnum.jacobian(f)(x), rtol=1e-13)
    assert wrong.rerecords == 1


# ------------------------------------------------------------------ found by hunting
def test_an_output_built_from_traced_entries_has_its_pattern():
    f = lambda x: np.array([x[0] * x[1], x[2]])  # noqa: E731
    x = np.array([0.3, -0.4, 1.2])
    assert fwdrev.jacobian_sparsity(f, x).toarray().tolist() == [[True, True, False],
                                                                [False, False, True]]
    for mode in ("forward", "reverse"):
        np.testing.assert_array_equal(fwdrev.sparse_jacobian(f, mode=mode)(x).toarray(),
                                      dualnum.jacobian(f)(x))


@pytest.mark.parametrize("scale", [1.0, 1e8, 1e12])
def test_a_maximum_is_a_dependency_on_both_sides_whatever_the_scales(scale):
    g = lambda x: np.concatenate([scale * x[:1], np.maximum(x[1:], 0.0)])  # noqa: E731
    jac = fwdrev.sparse_jacobian(g)
    jac(np.array([1.0, -1.0]))  # the pattern taken where the maximum picks 0 ...
    y = np.array([1.0, 1.0])  # ... holds where it picks x (the loser is not a zero of it)
    np.testing.assert_array_equal(jac(y).toarray(), dualnum.jacobian(g)(y))


def test_a_complex_output_is_checked_whole():
    h = lambda x: np.concatenate([x[:1], 1j * np.where(x[1:] > 0, x[1:], 0.0)])  # noqa: E731
    jac = fwdrev.sparse_jacobian(h)
    jac(np.array([1.0, -1.0]))
    y = np.array([1.0, 1.0])
    np.testing.assert_array_equal(jac(y).toarray(), dualnum.jacobian(h)(y))
    assert jac.rerecords == 1  # the where's branch changed the pattern: caught


def test_a_collision_far_below_its_rows_scale_is_still_caught():
    def k(x):  # x[0] > 0 adds x[2] to a row dominated by 1e6 x[1]
        extra = np.where(x[0] > 0, x[2], 0.0)
        return np.concatenate([[1e6 * x[1] + extra], x[1:]])
    jac = fwdrev.sparse_jacobian(k, mode="forward")
    jac(np.array([-1.0, 1.0, 1.0]))
    y = np.array([1.0, 1.0, 1.0])
    np.testing.assert_array_equal(jac(y).toarray(), dualnum.jacobian(k)(y))
    assert jac.rerecords == 1 and jac.calls == 2 and jac.dense_fallbacks == 0


def test_empty_inputs_and_malformed_patterns():
    assert fwdrev.sparse_jacobian(lambda x: x * 2.0)(np.zeros(0)).shape == (0, 0)
    assert fwdrev.sparse_jacobian(lambda x: np.ones(3) * np.sum(x))(np.zeros(0)).shape == (3, 0)
    jac = fwdrev.sparse_jacobian(lambda x: x * 2.0, pattern=sp.eye_array(4, dtype=bool))
    with pytest.raises(ValueError, match="columns"):
        jac(np.ones(3))


def test_float32_stays_float32():
    x = np.linspace(0.1, 1.0, 10, dtype=np.float32)
    f = lambda v: v[1:] * v[:-1] + np.sin(v[1:])  # noqa: E731
    for mode in ("forward", "reverse"):
        assert fwdrev.sparse_jacobian(f, mode=mode)(x).dtype == np.float32
    assert fwdrev.sparse_hessian(lambda v: np.sum(f(v)))(x).dtype == np.float32
