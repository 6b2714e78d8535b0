"""np.einsum and the contractions built on it, beyond the registered examples: random
subscripts (1-3 operands, repeated indices, traces, implicit and explicit outputs, ellipsis
with broadcasting), both modes against finite differences, and second order by nesting."""
import numpy as np
import pytest

import dualnum
import tapes
from adcore.checking import check_grads, numerical_jacobian

SIZES = {"i": 2, "j": 3, "k": 2, "l": 3, "m": 1}


def _random_spec(rng):
    """A random valid einsum call: subscripts and operand shapes."""
    n_ops = int(rng.integers(1, 4))
    ins = []
    for _ in range(n_ops):
        length = int(rng.integers(0, 4))
        ins.append("".join(rng.choice(list(SIZES), size=length)))
    used = sorted(set("".join(ins)))
    form = rng.integers(0, 3)
    if form == 0 or not used:
        spec = ",".join(ins)  # implicit output
    else:
        k = int(rng.integers(0, len(used) + 1))
        out = "".join(rng.permutation(used)[:k])
        spec = ",".join(ins) + "->" + out
    shapes = [tuple(SIZES[c] for c in s) for s in ins]
    return spec, shapes


SPECS = [_random_spec(np.random.default_rng(seed)) for seed in range(60)]


@pytest.mark.parametrize("spec,shapes", SPECS, ids=[s for s, _ in SPECS])
def test_random_einsum_both_modes(spec, shapes):
    rng = np.random.default_rng(len(spec))
    args = tuple(rng.uniform(-1, 1, s) for s in shapes)
    f = lambda *ops: np.einsum(spec, *ops)
    out, _ = dualnum.jvp(f, args, tuple(np.zeros_like(a) for a in args))
    np.testing.assert_allclose(out, np.einsum(spec, *args), rtol=1e-13, atol=1e-15)
    check_grads(f, args, jvp=dualnum.jvp, vjp=tapes.vjp)


ELLIPSIS = [
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),
    ("i...,i...->...", [(3, 2), (3, 1)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("...,...", [(2, 3), (3,)]),
    ("ij...,jk...", [(2, 3, 2), (3, 2, 1)]),
]


@pytest.mark.parametrize("spec,shapes", ELLIPSIS, ids=[s for s, _ in ELLIPSIS])
def test_ellipsis_and_broadcasting(spec, shapes):
    rng = np.random.default_rng(0)
    args = tuple(rng.uniform(-1, 1, s) for s in shapes)
    f = lambda *ops: np.einsum(spec, *ops)
    out, _ = tapes.vjp(f, *args)
    np.testing.assert_allclose(out, np.einsum(spec, *args), rtol=1e-13)
    check_grads(f, args, jvp=dualnum.jvp, vjp=tapes.vjp)


@pytest.mark.parametrize("optimize", [False, True, "greedy", "optimal"])
def test_optimize_is_honoured_and_derivative_unchanged(optimize):
    rng = np.random.default_rng(1)
    args = tuple(rng.uniform(-1, 1, s) for s in [(2, 3), (3, 4), (4, 2)])
    f = lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c, optimize=optimize)
    check_grads(f, args, jvp=dualnum.jvp, vjp=tapes.vjp)


@pytest.mark.parametrize("spec,shapes", [("ij,jk->ik", [(2, 3), (3, 2)]), ("ii", [(3, 3)]),
                                         ("i,i->", [(3,), (3,)]), ("ij,ij->i", [(2, 3), (2, 3)])])
def test_second_order_by_nesting(spec, shapes):
    sizes = [int(np.prod(s)) for s in shapes]
    cuts = np.cumsum(sizes)[:-1]

    def f(v):
        ops = [p.reshape(s) for p, s in zip(np.split(v, cuts), shapes)]
        return np.sum(np.einsum(spec, *ops) ** 2)
    v = np.random.default_rng(2).uniform(-1, 1, sum(sizes))
    h1 = dualnum.jacobian(tapes.grad(f))(v)
    h2 = tapes.jacobian(dualnum.grad(f))(v)
    np.testing.assert_allclose(h1, h2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h1, numerical_jacobian(tapes.grad(f), (v,)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axes", [0, 1, 2, ([1], [0]), ([0, 1], [1, 0]), (-1, 0)])
def test_tensordot_axes_forms(axes):
    rng = np.random.default_rng(3)
    a, b = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (3, 2))
    if axes == 2:
        b = rng.uniform(-1, 1, (2, 3))
    f = lambda a, b: np.tensordot(a, b, axes=axes)
    np.testing.assert_allclose(tapes.vjp(f, a, b)[0], np.tensordot(a, b, axes=axes), rtol=1e-13)
    check_grads(f, (a, b), jvp=dualnum.jvp, vjp=tapes.vjp)


@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(2, 3), (3,)], [(2, 3, 4), (4, 2)],
                                    [(2, 3, 4), (5, 4, 2)], [(4,), (2, 4, 3)]])
def test_nd_dot_matches_numpy(shapes):
    rng = np.random.default_rng(4)
    args = tuple(rng.uniform(-1, 1, s) for s in shapes)
    np.testing.assert_allclose(tapes.vjp(np.dot, *args)[0], np.dot(*args), rtol=1e-13)
    check_grads(np.dot, args, jvp=dualnum.jvp, vjp=tapes.vjp)


@pytest.mark.parametrize("fn,shapes", [
    (np.inner, [(2, 3), (3,)]), (np.kron, [(2, 3), (3, 2)]), (np.kron, [(2, 1, 2), (2, 2)]),
    (np.vdot, [(3, 2), (2, 3)]), (np.cross, [(2, 3), (2, 3)]), (np.cross, [(2,), (3,)]),
    (lambda a: np.trace(a, offset=-2), [(4, 3)]), (lambda a: np.trace(a, 5), [(3, 3)]),
])
def test_contractions_match_numpy_and_differentiate(fn, shapes):
    rng = np.random.default_rng(5)
    args = tuple(rng.uniform(-1, 1, s) for s in shapes)
    np.testing.assert_allclose(tapes.vjp(fn, *args)[0], fn(*args), rtol=1e-13, atol=1e-15)
    check_grads(fn, args, jvp=dualnum.jvp, vjp=tapes.vjp)


def test_einsum_errors_name_the_problem():
    x = np.ones((2, 3))
    with pytest.raises(ValueError):  # NumPy's own message: sizes do not match
        tapes.grad(lambda a: np.sum(np.einsum("ij,j->i", a, np.ones(2))))(x)
    with pytest.raises(ValueError, match="output subscript"):
        tapes.grad(lambda a: np.sum(np.einsum("ij->ik", a)))(x)
