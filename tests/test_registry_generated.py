"""Every registered op, in both modes, against finite differences and against each other."""
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
