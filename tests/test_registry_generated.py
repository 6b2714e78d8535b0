"""Every registered op, in both modes, against finite differences and against each other."""
import warnings
import zlib

import numpy as np
import pytest

import adcore
import dualnum
import tapes
from adcore.checking import check_grads, check_jacobians
from cases import registry_cases, sample_inputs

CASES = registry_cases()
IDS = [c[0] for c in CASES]


def _seed(case_id):
    return zlib.crc32(case_id.encode())


REFUSING = [c for c in CASES if getattr(c[2], "raises", None)]
CASES = [c for c in CASES if not getattr(c[2], "raises", None)]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("case", REFUSING, ids=[c[0] for c in REFUSING])
def test_a_refused_derivative_is_an_error_in_both_modes(case):
    case_id, op, fn, shapes, domains = case
    args = sample_inputs(shapes, domains, _seed(case_id))
    expected = fn(*args)  # the value itself is computed
    with pytest.raises(fn.raises):
        dualnum.jvp(fn, args, args)
    with pytest.raises(fn.raises):
        out, vjp_fn = tapes.vjp(fn, *args)
        np.testing.assert_allclose(out, expected)
        vjp_fn(np.ones_like(expected))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jvp_vjp_against_finite_differences_and_dot_product(case):
    case_id, op, fn, shapes, domains = case
    args = sample_inputs(shapes, domains, _seed(case_id))
    check_grads(fn, args, jvp=dualnum.jvp, vjp=tapes.vjp, rng=np.random.default_rng(_seed(case_id)))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_full_jacobians_forward_equals_reverse_equals_fd(case):
    case_id, op, fn, shapes, domains = case
    args = sample_inputs(shapes, domains, _seed(case_id) + 1)
    check_jacobians(fn, args, jacobian_fwd=dualnum.jacobian, jacobian_rev=tapes.jacobian)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_primal_through_dispatch_matches_numpy(case):
    """The value computed on traced inputs is the plain NumPy value."""
    case_id, op, fn, shapes, domains = case
    args = sample_inputs(shapes, domains, _seed(case_id) + 2)
    expected = fn(*args)
    out_f, _ = dualnum.jvp(fn, args, tuple(np.zeros_like(a) for a in args))
    out_r, _ = tapes.vjp(fn, *args)
    np.testing.assert_allclose(out_f, expected, rtol=1e-13, atol=0)
    np.testing.assert_allclose(out_r, expected, rtol=1e-13, atol=0)


SPECIAL = [(name, inputs, expected) for name, op in sorted(adcore.registered_ops().items())
           for inputs, expected in op.special]


@pytest.mark.parametrize("name,inputs,expected", SPECIAL,
                         ids=[f"{n}{i}" for n, i, _ in SPECIAL])
def test_special_values_and_kinks_same_in_both_modes(name, inputs, expected):
    """Kinks, zeros and large arguments: the documented derivative, in both modes."""
    op = adcore.get_op(name)
    fn = lambda *xs: adcore.apply(op, *xs)
    args = tuple(float(v) for v in inputs)
    forward = dualnum.grad(fn, argnums=tuple(range(len(args))))(*args)
    reverse = tapes.grad(fn, argnums=tuple(range(len(args))))(*args)
    np.testing.assert_array_equal(np.asarray(forward, dtype=float), np.asarray(reverse, dtype=float))
    np.testing.assert_allclose(np.asarray(forward, dtype=float), np.asarray(expected, dtype=float),
                               rtol=1e-12, atol=0)


def test_every_structural_op_has_examples_and_every_op_a_case():
    ops = adcore.registered_ops()
    covered = {c[1].name for c in CASES + REFUSING if isinstance(c[1], adcore.Op)}
    assert covered == set(ops)


@pytest.mark.parametrize("reduction", [np.max, np.min])
def test_extremum_ties_split_equally(reduction):
    x = np.array([1.0, 3.0, 3.0, -2.0]) * (1 if reduction is np.max else -1)
    expected = np.array([0.0, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(dualnum.grad(reduction)(x), expected)
    np.testing.assert_array_equal(tapes.grad(reduction)(x), expected)


def _flat_grad(grad, g, n):
    """The gradient of scalar ``g`` with respect to all ``n`` arguments, as one flat vector."""
    def flat(*args):
        gs = grad(g, argnums=tuple(range(n)))(*args)
        return np.concatenate([np.ravel(x) for x in gs])
    return flat


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_second_order_by_nesting(case):
    """H v of <w, f> three ways: forward over reverse, reverse over forward (its transpose,
    H symmetric) and finite differences of the reverse gradient."""
    case_id, op, fn, shapes, domains = case
    rng = np.random.default_rng(_seed(case_id) + 3)
    args = sample_inputs(shapes, domains, _seed(case_id) + 3)
    w = rng.standard_normal(np.shape(fn(*args)))
    g = lambda *a: np.sum(w * fn(*a))  # noqa: E731
    n = len(args)
    v = tuple(rng.standard_normal(np.shape(a)) for a in args)
    grad_r = _flat_grad(tapes.grad, g, n)
    grad_f = _flat_grad(dualnum.grad, g, n)
    try:
        _, hv_fr = dualnum.jvp(grad_r, args, v)  # forward over reverse
    except adcore.UnsupportedOpError as e:  # an op documented to refuse second derivatives
        assert "second derivatives" in str(e)
        return
    h = 1e-5
    fd = (grad_r(*[a + h * d for a, d in zip(args, v)])
          - grad_r(*[a - h * d for a, d in zip(args, v)])) / (2 * h)
    scale = 1.0 + np.max(np.abs(fd), initial=0.0)
    np.testing.assert_allclose(hv_fr, fd, rtol=1e-4, atol=1e-5 * scale)
    # reverse over forward: u^T H = (H u)^T
    u = rng.standard_normal(np.shape(hv_fr))
    _, vjp_fn = tapes.vjp(grad_f, *args)
    uh = np.concatenate([np.ravel(c) for c in vjp_fn(u)])
    vflat = np.concatenate([np.ravel(d) for d in v])
    np.testing.assert_allclose(np.dot(uh, vflat), np.dot(u, hv_fr), rtol=1e-7,
                               atol=1e-9 * scale * (1 + np.sum(np.abs(u))))


def _complex_args(shapes, domains, seed):
    re = sample_inputs(shapes, domains, seed)
    im = sample_inputs(shapes, domains, seed + 1)
    return tuple(r + 0.5j * i for r, i in zip(re, im))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_complex_inputs_both_modes(case):
    """Every example on complex inputs, where NumPy computes it: the JVP along a complex
    direction against finite differences (f need not be holomorphic: it is differentiable
    as a map of real and imaginary parts), and the VJP by the dot-product test under the
    pairing Re(sum(w * t))."""
    case_id, op, fn, shapes, domains = case
    args = _complex_args(shapes, domains, _seed(case_id) + 5)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            expected = fn(*args)
    except (TypeError, ValueError, np.linalg.LinAlgError, np.exceptions.ComplexWarning):
        pytest.skip("NumPy does not compute this example on complex inputs")
    if not np.all(np.isfinite(expected)):
        pytest.skip("not finite at the complex sample")
    rng = np.random.default_rng(_seed(case_id) + 6)
    v = _complex_args(shapes, domains, _seed(case_id) + 7)
    try:
        out, jv = dualnum.jvp(fn, args, v)
    except adcore.UnsupportedOpError as e:
        assert "complex" in str(e)  # a refusal names complex inputs as the reason
        return
    h = 1e-6
    fd = (fn(*[a + h * d for a, d in zip(args, v)]) - fn(*[a - h * d for a, d in zip(args, v)])) / (2 * h)
    np.testing.assert_allclose(jv, fd, rtol=1e-5, atol=1e-6)
    w = rng.standard_normal(np.shape(out))
    if np.iscomplexobj(out):
        w = w + 1j * rng.standard_normal(np.shape(out))
    _, vjp_fn = tapes.vjp(fn, *args)
    lhs = np.real(np.sum(w * jv))
    rhs = sum(np.real(np.sum(c * d)) for c, d in zip(vjp_fn(w), v))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-11 * (1 + np.sum(np.abs(w * jv))))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_recorded_gradient_replays_at_a_new_point(case):
    """tapes.record of the gradient function itself (a nested derivative, recorded once),
    replayed at another sample: equal to the gradient computed there -- a rule that decides
    something on plain values (an argmax, a mask, a branch) must leave a guard, never a
    stale constant."""
    case_id, op, fn, shapes, domains = case
    args1 = sample_inputs(shapes, domains, _seed(case_id) + 8)
    args2 = sample_inputs(shapes, domains, _seed(case_id) + 9)
    w = np.random.default_rng(_seed(case_id) + 10).standard_normal(np.shape(fn(*args1)))
    g = lambda *a: np.sum(w * fn(*a))  # noqa: E731
    grad_r = _flat_grad(tapes.grad, g, len(args1))
    try:
        rec = tapes.record(grad_r, *args1, argnums=tuple(range(len(args1))))
    except adcore.UnsupportedOpError as e:
        assert "second derivatives" in str(e)
        return
    np.testing.assert_allclose(rec.value(*args2), grad_r(*args2), rtol=1e-10, atol=1e-12)
