"""The zero convention (README "Zeros, infinities and NaN"), pinned in both engines and all
four nestings: a structural zero contributes exactly 0 even against inf or NaN; a zero a
rule computed at this point does not (the result is NaN, or the true limit).

Each test is a *kind* of fault from the trust issue; the expected values are computed
(finite differences, the other engine, closed forms at regular points), not copied.
"""
import itertools

import numpy as np
import pytest

import adcore
import dualnum
import tapes

GRADS = {"forward": dualnum.grad, "reverse": tapes.grad}
JACS = {"forward": dualnum.jacobian, "reverse": tapes.jacobian}
both = pytest.mark.parametrize("mode", ["forward", "reverse"])
NESTINGS = list(itertools.product(["forward", "reverse"], repeat=2))
nestings = pytest.mark.parametrize("outer,inner", NESTINGS)


def hessian(outer, inner, f):
    return JACS[outer](GRADS[inner](f))


def honest(value, truth):
    """The convention's promise at a singular point: NaN (the chain rule met 0 * inf) or
    the true value -- never another finite number."""
    value = np.asarray(value, dtype=float)
    truth = np.broadcast_to(np.asarray(truth, dtype=float), value.shape)
    ok = np.isnan(value) | np.isclose(value, truth, rtol=1e-9, atol=1e-12)
    assert ok.all(), f"wrong finite derivative: got {value}, true {truth}"


# ----------------------------------------------------------------- computed zeros vs inf
SMOOTH_THROUGH_A_SINGULARITY = [
    # (f, x, true derivative): f is smooth at x, but a rule's partial is inf there
    (lambda x: np.cbrt(x) ** 3, 0.0, 1.0),
    (lambda x: (x ** (1.0 / 3.0)) ** 3, 0.0, 1.0),
    (lambda x: np.sqrt(x) * np.sqrt(x), 0.0, 1.0),
    (lambda x: np.cbrt(x ** 3), 0.0, 1.0),
    (lambda x: np.sqrt(x ** 2) ** 2, 0.0, 0.0),
    (lambda x: np.sqrt(x) ** 4, 0.0, 0.0),
    (lambda x: np.arcsin(np.sin(x)), 0.3, 1.0),  # a regular point: the control
]


@both
@pytest.mark.parametrize("case", range(len(SMOOTH_THROUGH_A_SINGULARITY)))
def test_a_computed_zero_does_not_cancel_an_infinity(mode, case):
    f, x, truth = SMOOTH_THROUGH_A_SINGULARITY[case]
    honest(GRADS[mode](f)(np.float64(x)), truth)


def test_jvp_of_a_product_of_powers_at_zero_is_not_zero():
    # f(t, t) = t, so the directional derivative along (1, 1) at 0 is 1
    _, t = dualnum.jvp(lambda v: v[0] ** 0.3 * v[1] ** 0.7, (np.zeros(2),), (np.ones(2),))
    honest(t, 1.0)
    _, pullback = tapes.vjp(lambda v: v[0] ** 0.3 * v[1] ** 0.7, np.zeros(2))
    honest(np.sum(pullback(np.float64(1.0))[0]), 1.0)


HESSIAN_AT_ZERO = [
    # polynomials written through a kink convention or a singular rule: Hessian 2 I
    (lambda x: np.linalg.norm(x) ** 2, 2.0),
    (lambda x: np.sum(np.abs(x) ** 2), 2.0),
    (lambda x: np.sum(np.maximum(x, -x) ** 2), 2.0),
    (lambda x: np.hypot(x[0], x[1]) ** 2, 2.0),
    (lambda x: np.sum(np.sqrt(x * x) ** 2), 2.0),
]


@nestings
@pytest.mark.parametrize("case", range(len(HESSIAN_AT_ZERO)))
def test_hessian_through_a_convention_is_honest(outer, inner, case):
    f, diag = HESSIAN_AT_ZERO[case]
    h = hessian(outer, inner, f)(np.zeros(2))
    honest(h, diag * np.eye(2))
    # and away from the singular point it is the true Hessian
    np.testing.assert_allclose(hessian(outer, inner, f)(np.array([0.3, -0.7])), diag * np.eye(2),
                               rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------- structural zeros
@both
@pytest.mark.parametrize("zero", [0.0, np.float64(0.0), np.array(0.0), np.zeros(1)],
                         ids=["float", "float64", "0-d", "1-d"])
def test_a_constant_zero_factor_is_structural_whatever_its_type(mode, zero):
    g = GRADS[mode](lambda x: np.sum(np.log(zero * x[0] + x[1])))(np.array([1.0, 0.0]))
    np.testing.assert_array_equal(g, [0.0, np.inf])


@both
@pytest.mark.parametrize("n", [1, 10, 2 ** 17], ids=["n=1", "n=10", "n=2^17"])
def test_zero_times_sqrt_at_zero_is_zero_at_every_size(mode, n):
    x = np.zeros(n)
    if mode == "forward":
        _, t = dualnum.jvp(lambda x: 0.0 * np.sqrt(x), (x,), (np.ones(n),))
    else:
        _, pullback = tapes.vjp(lambda x: 0.0 * np.sqrt(x), x)
        (t,) = pullback(np.ones(n))
    np.testing.assert_array_equal(t, np.zeros(n))


@pytest.mark.parametrize("n", [10, 2 ** 17], ids=["small", "fused"])
def test_large_and_small_arrays_follow_one_convention(n):
    x = np.zeros(n)
    x[1::2] = 1.0
    for f in (lambda x: np.sqrt(x) * 0.0 + x, lambda x: np.cbrt(x) ** 3,
              lambda x: np.maximum(np.sqrt(x), 2.0)):
        _, t = dualnum.jvp(f, (x,), (np.ones(n),))
        _, pullback = tapes.vjp(f, x)
        (g,) = pullback(np.ones(n))
        np.testing.assert_array_equal(np.isnan(t), np.isnan(g))
        np.testing.assert_array_equal(t[~np.isnan(t)], g[~np.isnan(g)])
        small_t = dualnum.jvp(f, (x[:4],), (np.ones(4),))[1]
        np.testing.assert_array_equal(small_t, t[:4])


P = np.array([[0.2, 0.8], [0.5, -1.0]])
VALID = np.all(P > 0, axis=1)
UNSELECTED = {
    "logsumexp": lambda lp: adcore.logsumexp(lp, axis=1),
    "max": lambda lp: np.max(lp, axis=1),
    "min": lambda lp: np.min(lp, axis=1),
    "prod": lambda lp: np.prod(lp, axis=1),
    "sum": lambda lp: np.sum(lp, axis=1),
    "mean": lambda lp: np.mean(lp, axis=1),
    "matmul": lambda lp: lp @ np.array([1.0, -2.0]),
    "dot": lambda lp: np.dot(lp, np.array([1.0, -2.0])),
    "getitem": lambda lp: lp[:, 1],
    "cumsum": lambda lp: np.cumsum(lp, axis=1)[:, -1],
    "norm": lambda lp: np.linalg.norm(lp, axis=1),
    "transpose": lambda lp: lp.T[1],
}


@both
@pytest.mark.parametrize("name", sorted(UNSELECTED))
def test_the_branch_where_did_not_take_gets_an_exact_zero(mode, name):
    """NaN inside the unselected branch of np.where never reaches the gradient, whichever
    structural op sits between the NaN and the where (forward and reverse alike)."""
    red = UNSELECTED[name]
    f = lambda p: np.sum(np.where(VALID, red(np.log(p)), 0.0))  # noqa: E731
    g = GRADS[mode](f)(P)
    assert np.all(g[1] == 0.0), g
    # the selected row is the derivative of the selected branch alone
    want = GRADS[mode](lambda p: np.sum(red(np.log(p))[:1]))(P[:1] + 0.0 * P[:1])
    np.testing.assert_allclose(g[0], want[0], rtol=1e-12)


@both
def test_an_entry_an_index_did_not_gather_is_a_structural_zero(mode):
    x = np.array([0.0, 1.0, 4.0])
    np.testing.assert_array_equal(GRADS[mode](lambda x: np.sqrt(x)[1])(x), [0.0, 0.5, 0.0])
    np.testing.assert_array_equal(GRADS[mode](lambda x: np.sum(np.sqrt(x)[1:]))(x),
                                  [0.0, 0.5, 0.25])
    np.testing.assert_array_equal(
        GRADS[mode](lambda x: np.sum(np.sqrt(x)[np.array([2, 2])]))(x), [0.0, 0.0, 0.5])


@both
def test_seed_directions_are_structural(mode):
    """A Jacobian's off-diagonal entries do not depend on the inputs at all: exactly 0,
    even where the diagonal is inf."""
    j = JACS[mode](np.sqrt)(np.array([0.0, 1.0]))
    np.testing.assert_array_equal(j, [[np.inf, 0.0], [0.0, 0.5]])
    g = GRADS[mode](lambda x: np.sqrt(x[0]) + x[1])(np.array([0.0, 2.0]))
    np.testing.assert_array_equal(g, [np.inf, 1.0])


@both
def test_the_loser_of_a_maximum_is_structural_the_tie_is_not(mode):
    f = lambda x: np.sum(np.maximum(np.sqrt(x), 2.0))  # noqa: E731
    np.testing.assert_array_equal(GRADS[mode](f)(np.array([0.0, 9.0])), [0.0, 1.0 / 6.0])
    f = lambda x: np.sum(adcore.relu(np.sqrt(x) - 1.0))  # noqa: E731
    np.testing.assert_array_equal(GRADS[mode](f)(np.array([0.0, 4.0])), [0.0, 0.25])
    # at a tie the 1/2 split is a convention (a computed number): it does not cancel inf
    g = GRADS[mode](lambda x: np.maximum(np.sqrt(x), 0.0))(np.float64(0.0))
    honest(g, np.inf)
    f = lambda x: np.sum(np.clip(np.sqrt(x), 1.0, 2.0))  # noqa: E731
    np.testing.assert_array_equal(GRADS[mode](f)(np.array([0.0, 2.25, 9.0])),
                                  [0.0, 1.0 / 3.0, 0.0])
    # max reduction: losers are structural
    f = lambda x: np.max(np.sqrt(x) + np.array([5.0, 0.0]))  # noqa: E731
    np.testing.assert_array_equal(GRADS[mode](f)(np.array([1.0, 0.0])), [0.5, 0.0])


@both
def test_a_constant_branch_of_concatenate_and_stack(mode):
    f = lambda x: np.sum(np.concatenate([np.sqrt(x), np.zeros(2)]) * np.array([0, 1, 1, 1.0]))  # noqa
    np.testing.assert_array_equal(GRADS[mode](f)(np.array([0.0, 4.0])), [0.0, 0.25])
    f = lambda x: np.stack([np.sqrt(x), np.ones(2)])[0, 1]  # noqa: E731
    np.testing.assert_array_equal(GRADS[mode](f)(np.array([0.0, 4.0])), [0.0, 0.25])


@both
def test_hypot_and_norm_agree_at_the_origin(mode):
    g_h = GRADS[mode](lambda v: np.hypot(v[0], v[1]))(np.zeros(2))
    g_n = GRADS[mode](np.linalg.norm)(np.zeros(2))
    np.testing.assert_array_equal(g_h, g_n)
    np.testing.assert_array_equal(g_n, [0.0, 0.0])
    v = np.array([3.0, -4.0])
    np.testing.assert_allclose(GRADS[mode](lambda v: np.hypot(v[0], v[1]))(v),
                               GRADS[mode](np.linalg.norm)(v), rtol=1e-15)


@both
def test_logsumexp_and_logaddexp_at_minus_infinity(mode):
    # the limit along equal arguments: softmax of equal entries is uniform
    np.testing.assert_allclose(GRADS[mode](adcore.logsumexp)(np.full(4, -np.inf)), 0.25)
    np.testing.assert_allclose(
        GRADS[mode](lambda v: np.logaddexp(v[0], v[1]))(np.full(2, -np.inf)), [0.5, 0.5])
    assert GRADS[mode](lambda x: np.logaddexp(-np.inf, x))(np.float64(1.0)) == 1.0
    g = GRADS[mode](lambda x: adcore.logsumexp(x))(np.array([-np.inf, 0.0, 0.0]))
    np.testing.assert_allclose(g, [0.0, 0.5, 0.5])
    g = GRADS[mode](lambda x: adcore.logsumexp(x))(np.array([np.inf, 0.0, np.inf]))
    np.testing.assert_allclose(g, [0.5, 0.0, 0.5])


# ----------------------------------------------------------------- prod
@both
def test_prod_gradient_is_the_product_of_the_others_without_division(mode):
    np.testing.assert_array_equal(GRADS[mode](np.prod)(np.array([1e-300, 1e-30])),
                                  [1e-30, 1e-300])
    x = np.array([3e-160, 2e-160, 7.0])  # the product is subnormal: no digits lost
    np.testing.assert_allclose(GRADS[mode](np.prod)(x), [x[1] * x[2], x[0] * x[2], x[0] * x[1]],
                               rtol=1e-15)
    np.testing.assert_array_equal(GRADS[mode](np.prod)(np.array([0.0, 2.0, 3.0])), [6.0, 0, 0])


@nestings
@pytest.mark.parametrize("x", [[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [1.5, -2.0, 0.5],
                               [0.0, 0.0, 0.0]])
def test_prod_hessian_with_zeros(outer, inner, x):
    x = np.array(x)
    h = hessian(outer, inner, np.prod)(x)
    want = np.array([[0.0 if i == j else np.prod(np.delete(x, [i, j])) for j in range(3)]
                     for i in range(3)])
    np.testing.assert_allclose(h, want, rtol=1e-14)


@both
def test_prod_along_an_axis_with_zeros(mode):
    x = np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    g = GRADS[mode](lambda x: np.sum(np.prod(x, axis=1) * np.array([1.0, 2.0])))(x)
    np.testing.assert_array_equal(g, [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


# ----------------------------------------------------------------- tails
@both
@pytest.mark.parametrize("f,x,truth", [
    (adcore.sigmoid, 50.0, 1.9287498479639178e-22),
    (adcore.sigmoid, 37.43, 5.550825086253719e-17),
    (adcore.sigmoid, -50.0, 1.9287498479639178e-22),
    (adcore.softplus, -40.0, 4.248354255291589e-18),
])
def test_tails_keep_their_digits(mode, f, x, truth):
    np.testing.assert_allclose(GRADS[mode](f)(np.float64(x)), truth, rtol=1e-13)


@nestings
def test_second_derivative_of_softplus_in_the_tail(outer, inner):
    d2 = GRADS[outer](GRADS[inner](adcore.softplus))(np.float64(40.0))
    np.testing.assert_allclose(d2, 4.248354255291589e-18, rtol=1e-12)


# ----------------------------------------------------------------- dtypes
@pytest.mark.parametrize("api", ["dualnum.grad", "tapes.grad", "dualnum.jacobian",
                                 "tapes.jacobian", "tapes.vjp", "dualnum.jvp", "record"])
def test_float32_in_float32_out(api):
    x = np.array([0.3, -1.2, 2.0], dtype=np.float32)
    f = lambda x: np.sum(np.tanh(x) * x[0] + np.exp(-x))  # noqa: E731
    vf = lambda x: np.sin(x) * x[1]  # noqa: E731
    out = {
        "dualnum.grad": lambda: dualnum.grad(f)(x),
        "tapes.grad": lambda: tapes.grad(f)(x),
        "dualnum.jacobian": lambda: dualnum.jacobian(vf)(x),
        "tapes.jacobian": lambda: tapes.jacobian(vf)(x),
        "tapes.vjp": lambda: tapes.vjp(vf, x)[1](np.ones(3, np.float32))[0],
        "dualnum.jvp": lambda: dualnum.jvp(vf, (x,), (np.ones(3, np.float32),))[1],
        "record": lambda: tapes.record(f, x).gradient(x * 2),
    }[api]()
    assert out.dtype == np.float32, api
    x64 = x.astype(np.float64)
    want = {"dualnum.grad": lambda: tapes.grad(f)(x64), "tapes.grad": lambda: dualnum.grad(f)(x64),
            "dualnum.jacobian": lambda: tapes.jacobian(vf)(x64),
            "tapes.jacobian": lambda: dualnum.jacobian(vf)(x64),
            "tapes.vjp": lambda: np.sum(dualnum.jacobian(vf)(x64), axis=0),
            "dualnum.jvp": lambda: dualnum.jacobian(vf)(x64) @ np.ones(3),
            "record": lambda: tapes.grad(f)(x64 * 2)}[api]()
    np.testing.assert_allclose(out, want, rtol=1e-5)


@both
def test_astype_float64_promotes_a_float32_value(mode):
    x = np.array([1.0, 3.0], dtype=np.float32)
    f = lambda x: np.sum((x.astype(np.float64) + 1e-9) ** 2)  # noqa: E731
    g = GRADS[mode](f)(x)
    # in float32, 1 + 1e-9 == 1; promoted, the 1e-9 survives
    want = 2.0 * (x.astype(np.float64) + 1e-9)
    assert g.dtype == np.float32  # a gradient has its input's dtype
    np.testing.assert_allclose(g, want.astype(np.float32))
    # a Jacobian has the wider dtype; reverse mode's cotangent of a float32 input is float32
    j = JACS[mode](lambda x: x.astype(np.float64) * 1e-30)(x)
    assert j.dtype == np.float64
    np.testing.assert_allclose(np.diag(j), 1e-30, rtol=1e-7)


@both
def test_integer_casts_of_traced_values_are_refused(mode):
    with pytest.raises(adcore.ConcretizationError, match="astype"):
        GRADS[mode](lambda x: np.sum(x.astype(np.int64)))(np.ones(2))


# ----------------------------------------------------------------- nesting
C = np.array([1.0, -2.0, 0.5])
X0 = np.array([0.3, 0.1, -0.4])


@nestings
def test_reverse_inside_an_outer_derivative_with_constant_terms(outer, inner):
    def outer_f(w):
        return np.sum(GRADS[inner](lambda x: np.sum((x - w) ** 2) + np.sum((x - C) ** 2)
                                   + np.sum(x * C))(X0))
    # d/dw sum(2 (x - w) + 2 (x - c) + c) = -2 per component
    np.testing.assert_allclose(GRADS[outer](outer_f)(np.array([0.5, 0.0, -1.0])), -2.0)


@both
def test_jvp_with_a_traced_tangent(mode):
    """d/dv (J v) = J: a tangent may itself be traced by an outer call."""
    f = lambda x: np.sin(x) * x[0]  # noqa: E731
    x = np.array([0.3, 0.7])
    j = JACS[mode](lambda v: dualnum.jvp(f, (x,), (v,))[1])(np.array([1.0, -2.0]))
    np.testing.assert_allclose(j, dualnum.jacobian(f)(x), rtol=1e-14)
    j = JACS[mode](lambda v: tapes.vjp(f, x)[1](v)[0])(np.array([1.0, -2.0]))
    np.testing.assert_allclose(j, tapes.jacobian(f)(x).T, rtol=1e-14)


# ----------------------------------------------------------------- random compositions
UNARY = [np.sqrt, np.cbrt, np.abs, np.square, np.log, np.exp, np.sin, np.tanh, np.arctan,
         adcore.relu, np.sign, lambda v: v ** 3, lambda v: 0.0 * v, lambda v: v * 0.0 + 1.0,
         np.log1p, np.expm1]
BINARY = [np.add, np.subtract, np.multiply, np.maximum, np.minimum, np.hypot, np.logaddexp,
          lambda a, b: np.where(a > 0.5, a, b), lambda a, b: a / (1.0 + b * b)]
SINGULAR = np.array([0.0, -0.0, 1.0, -1.0, 0.5, np.inf, -np.inf, 1e-300, 2.0])


def _random_program(rng, n_in, depth):
    """A random expression over x[0..n_in-1]: a list of (op, args) in evaluation order."""
    steps = []
    live = list(range(n_in))
    for _ in range(depth):
        if rng.random() < 0.5 or len(live) < 2:
            steps.append(("u", int(rng.integers(len(UNARY))), (int(rng.choice(live)),)))
        else:
            a, b = rng.choice(live, 2, replace=False)
            steps.append(("b", int(rng.integers(len(BINARY))), (int(a), int(b))))
        live.append(n_in + len(steps) - 1)
    return steps


def _run(steps, x):
    vals = [x[i] for i in range(len(x))]
    for kind, k, args in steps:
        fn = UNARY[k] if kind == "u" else BINARY[k]
        vals.append(fn(*[vals[a] for a in args]))
    return vals[-1] + 0.0 * x[0]


@pytest.mark.parametrize("seed", range(60))
def test_random_compositions_at_singular_points_agree_in_both_modes(seed):
    """Forward, reverse and a replayed recording follow one convention: NaN exactly where
    the other gives NaN, and the same finite numbers elsewhere."""
    rng = np.random.default_rng(seed)
    n_in = 3
    steps = _random_program(rng, n_in, int(rng.integers(2, 7)))
    x = rng.choice(SINGULAR, n_in)
    f = lambda x: _run(steps, x)  # noqa: E731
    with np.errstate(all="ignore"):
        fwd = dualnum.grad(f)(x)
        rev = tapes.grad(f)(x)
        rec = tapes.record(f, x + 0.25).gradient(x)
    for got in (rev, rec):
        np.testing.assert_array_equal(np.isnan(fwd), np.isnan(got), err_msg=f"{steps} at {x}")
        finite = ~np.isnan(fwd)
        np.testing.assert_allclose(fwd[finite], got[finite], rtol=1e-12, atol=0,
                                   err_msg=f"{steps} at {x}")


@pytest.mark.parametrize("argnums", [(0, 1), 0])
def test_a_differentiated_argument_is_never_a_plain_constant(argnums):
    """With several argnums, forward mode traces all of them in every pass (reverse records
    them together): a differentiated 0 is a computed zero in both modes; an argument left
    out of argnums is a plain constant, whose zero is structural, in both modes."""
    f = lambda x, c: c * np.sqrt(x)  # noqa: E731
    fwd = dualnum.grad(f, argnums=argnums)(0.0, 0.0)
    rev = tapes.grad(f, argnums=argnums)(0.0, 0.0)
    np.testing.assert_array_equal(np.asarray(fwd, dtype=float), np.asarray(rev, dtype=float))
    if argnums == 0:
        assert fwd == 0.0
    else:
        assert np.isnan(fwd[0]) and fwd[1] == 0.0


@nestings
def test_hessian_of_power_at_a_zero_exponent_is_never_wrong(outer, inner):
    h = hessian(outer, inner, lambda v: v[0] ** v[1])(np.array([2.0, 0.0]))
    # d2/dx2 = y (y - 1) x**(y - 2) = 0, d2/dx dy = d2/dy dx = 1/x, d2/dy2 = log(x)^2
    honest(h, [[0.0, 0.5], [0.5, np.log(2.0) ** 2]])
    np.testing.assert_allclose(h[1], [0.5, np.log(2.0) ** 2])
