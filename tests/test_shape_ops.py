"""NumPy's shape and selection functions on traced values (adcore/ops_shape.py and
adcore/composites.py), beyond their registered examples: every form NumPy accepts gives
NumPy's value and shape in both modes and derivatives that match finite differences;
selections leave structural zeros; ties follow the stable sort; running products are
exact at zeros; unsupported forms say so.
"""
import itertools
import warnings

import numpy as np
import pytest

import adcore
import dualnum
import tapes
from adcore.checking import check_grads, numerical_jacobian

GRADS = {"forward": dualnum.grad, "reverse": tapes.grad}
JACS = {"forward": dualnum.jacobian, "reverse": tapes.jacobian}
both = pytest.mark.parametrize("mode", ["forward", "reverse"])
nestings = pytest.mark.parametrize("outer,inner", list(itertools.product(GRADS, repeat=2)))


def _flat(out):
    """A list/tuple result (split, meshgrid, gradient) as one array, for one output."""
    if isinstance(out, (list, tuple)):
        return np.concatenate([np.ravel(o) for o in out]) if out else np.zeros(0)
    return out


def _row_stack(tup):
    with warnings.catch_warnings():  # deprecated in NumPy 2: it calls np.vstack
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.row_stack(tup)


M = np.array([[True, False, True], [False, False, True]])
# (id, f, input shapes): forms not in the registered examples
FORMS = [
    ("tril k=1", lambda x: np.tril(x, 1), [(4, 3)]),
    ("tril k=-5", lambda x: np.tril(x, -5), [(3, 3)]),
    ("tril batch", lambda x: np.tril(x), [(2, 2, 3)]),
    ("triu 1-D k=-1", lambda x: np.triu(x, -1), [(3,)]),
    ("triu k=10", lambda x: np.triu(x, 10), [(2, 3)]),
    ("diag 1-D k=3", lambda x: np.diag(x, 3), [(2,)]),
    ("diag empty 1-D k=1", lambda x: np.diag(x, 1), [(0,)]),
    ("diag 2-D k=-1", lambda x: np.diag(x, k=-1), [(4, 3)]),
    ("diag 2-D k=-5", lambda x: np.diag(x, -5), [(3, 3)]),
    ("diagonal 3-D", lambda x: np.diagonal(x), [(3, 2, 4)]),
    ("diagonal axes 1,2 off 1", lambda x: np.diagonal(x, 1, 1, 2), [(2, 3, 4)]),
    ("diagonal axes -1,0", lambda x: np.diagonal(x, -2, -1, 0), [(4, 2, 3)]),
    ("diagflat k=-1", lambda x: np.diagflat(x, -1), [(3,)]),
    ("diagflat 0-d", lambda x: np.diagflat(x), [()]),
    ("repeat list", lambda x: np.repeat(x, [1, 0, 3], axis=0), [(3, 2, 2)]),
    ("repeat 0", lambda x: np.repeat(x, 0, axis=1), [(2, 3)]),
    ("repeat 0-d", lambda x: np.repeat(x, 3), [()]),
    ("repeat size-1 array", lambda x: np.repeat(x, np.array([2]), axis=-1), [(2, 2)]),
    ("tile ()", lambda x: np.tile(x, ()), [(2,)]),
    ("tile 0-d", lambda x: np.tile(x, (2, 3)), [()]),
    ("tile 0 reps", lambda x: np.tile(x, (0, 2)), [(2, 2)]),
    ("roll 0", lambda x: np.roll(x, 0), [(3,)]),
    ("roll large", lambda x: np.roll(x, 7, axis=-1), [(2, 3)]),
    ("roll negative", lambda x: np.roll(x, -4), [(5,)]),
    ("roll scalar shift, axes", lambda x: np.roll(x, 1, axis=(0, 1)), [(2, 3)]),
    ("roll empty axis", lambda x: np.roll(x, 2, axis=1), [(2, 0)]),
    ("pad int", lambda x: np.pad(x, 2), [(2, 2)]),
    ("pad pair", lambda x: np.pad(x, (1, 2), constant_values=3.5), [(2, 3)]),
    ("pad one pair", lambda x: np.pad(x, ((1, 0),), mode="edge"), [(2, 2)]),
    ("pad per axis 3-D", lambda x: np.pad(x, ((0, 1), (2, 0), (1, 1)), constant_values=-1.0),
     [(2, 1, 2)]),
    ("pad zero width", lambda x: np.pad(x, 0, mode="reflect"), [(2, 3)]),
    ("pad 0-d", lambda x: np.pad(x, 3), [()]),
    ("pad empty axis constant", lambda x: np.pad(x, 1), [(0, 2)]),
    ("pad reflect wide", lambda x: np.pad(x, (7, 5), mode="reflect"), [(3,)]),
    ("pad reflect 2-D", lambda x: np.pad(x, ((2, 1), (1, 2)), mode="reflect"), [(3, 3)]),
    ("pad reflect singleton", lambda x: np.pad(x, 2, mode="reflect"), [(1, 3)]),
    ("pad reflect odd", lambda x: np.pad(x, (2, 1), mode="reflect", reflect_type="odd"), [(4,)]),
    ("pad symmetric wide", lambda x: np.pad(x, (4, 6), mode="symmetric"), [(3,)]),
    ("pad symmetric 2-D", lambda x: np.pad(x, 1, mode="symmetric"), [(2, 3)]),
    ("pad wrap wide", lambda x: np.pad(x, (5, 4), mode="wrap"), [(2,)]),
    ("pad wrap 2-D", lambda x: np.pad(x, ((1, 2), (3, 0)), mode="wrap"), [(2, 3)]),
    ("pad edge", lambda x: np.pad(x, (2, 3), mode="edge"), [(2, 2)]),
    ("pad dict", lambda x: np.pad(x, {-1: (0, 2)}, mode="symmetric"), [(2, 3)]),
    ("squeeze axes", lambda x: np.squeeze(x, axis=(0, 2)), [(1, 3, 1, 2)]),
    ("expand_dims axes", lambda x: np.expand_dims(x, (-1, 0)), [(2, 3)]),
    ("moveaxis several", lambda x: np.moveaxis(x, (0, 1), (-1, 0)), [(2, 3, 4)]),
    ("swapaxes negative", lambda x: np.swapaxes(x, -1, 0), [(2, 3, 4)]),
    ("flip", lambda x: np.flip(x), [(2, 3)]),
    ("flip axes", lambda x: np.flip(x, (0, -1)), [(2, 3, 2)]),
    ("fliplr 3-D", lambda x: np.fliplr(x), [(2, 3, 2)]),
    ("flipud 1-D", lambda x: np.flipud(x), [(3,)]),
    ("rot90 k=0", lambda x: np.rot90(x, 0), [(2, 3)]),
    ("rot90 k=2", lambda x: np.rot90(x, 2), [(2, 3)]),
    ("rot90 k=3", lambda x: np.rot90(x, 3), [(2, 3)]),
    ("rot90 axes 1,0", lambda x: np.rot90(x, 1, axes=(1, 0)), [(2, 3)]),
    ("rot90 3-D axes -1,0", lambda x: np.rot90(x, -1, axes=(-1, 0)), [(2, 3, 2)]),
    ("rollaxis -1 to 1", lambda x: np.rollaxis(x, -1, 1), [(2, 3, 4)]),
    ("rollaxis same", lambda x: np.rollaxis(x, 1, 1), [(2, 3)]),
    ("rollaxis start -1", lambda x: np.rollaxis(x, 0, -1), [(2, 3, 4)]),
    ("split axis -1", lambda x: np.split(x, 2, axis=-1), [(3, 4)]),
    ("split odd indices", lambda x: np.split(x, [2, 10, -1]), [(5,)]),
    ("array_split more than n", lambda x: np.array_split(x, 4), [(3,)]),
    ("array_split indices", lambda x: np.array_split(x, [1], axis=1), [(2, 3)]),
    ("hsplit 2-D", lambda x: np.hsplit(x, [1]), [(2, 3)]),
    ("vsplit 3-D", lambda x: np.vsplit(x, 2), [(2, 2, 3)]),
    ("dsplit indices", lambda x: np.dsplit(x, [1, 2]), [(2, 1, 3)]),
    ("append 0-d", lambda x, y: np.append(x, y), [(2,), ()]),
    ("append plain values", lambda x: np.append(x, [[1.0, 2.0]], axis=0), [(2, 2)]),
    ("append plain array", lambda y: np.append(np.ones((2, 2)), y, axis=1), [(2, 1)]),
    ("append list of traced", lambda x: np.append(x, [x[0], 5.0]), [(2,)]),
    ("hstack 0-d", lambda x, y: np.hstack([x, y]), [(), (2,)]),
    ("vstack 3-D", lambda x, y: np.vstack([x, y]), [(1, 2, 2), (2, 2, 2)]),
    ("row_stack", lambda x, y: _row_stack([x, y]), [(2,), (2,)]),
    ("dstack 0-d", lambda x, y: np.dstack([x, y]), [(), ()]),
    ("column_stack 0-d, 1-D", lambda x, y: np.column_stack((x, y)), [(), (1,)]),
    ("column_stack array", lambda x: np.column_stack(x), [(2, 3)]),
    ("atleast_1d 2-D", lambda x: np.atleast_1d(x), [(2, 3)]),
    ("atleast_2d 0-d", lambda x: np.atleast_2d(x), [()]),
    ("atleast_2d several", lambda x, y: np.atleast_2d(x, 1.0, y), [(), (2, 2, 1)]),
    ("atleast_3d 0-d", lambda x: np.atleast_3d(x), [()]),
    ("atleast_3d 2-D", lambda x: np.atleast_3d(x), [(2, 3)]),
    ("atleast_3d 4-D", lambda x: np.atleast_3d(x), [(1, 2, 1, 2)]),
    ("block 0-d", lambda x: np.block(x), [()]),
    ("broadcast_arrays three", lambda x, y: np.broadcast_arrays(x, y, np.ones((2, 1, 1))),
     [(3, 1), (4,)]),
    ("meshgrid one", lambda x: np.meshgrid(x), [(3,)]),
    ("meshgrid 3 xy", lambda x, y, z: np.meshgrid(x, y, z), [(2,), (3,), (2,)]),
    ("meshgrid sparse xy", lambda x, y: np.meshgrid(x, y, sparse=True), [(2,), (3,)]),
    ("meshgrid 2-D input", lambda x, y: np.meshgrid(x, y, indexing="ij"), [(2, 2), (3,)]),
    ("take scalar", lambda x: np.take(x, 4), [(2, 3)]),
    ("take negative", lambda x: np.take(x, [[-1, 0]], axis=-1), [(2, 3)]),
    ("take wrap flat", lambda x: np.take(x, [-7, 13], mode="wrap"), [(2, 3)]),
    ("take along argsort", lambda x: np.take_along_axis(x, np.argsort(x, axis=1), axis=1),
     [(3, 4)]),
    ("take along 3-D axis 0", lambda x: np.take_along_axis(x, np.array([[[0, 1]], [[1, 1]]]), 0),
     [(2, 3, 2)]),
    ("select traced default", lambda x, d: np.select([M, ~M], [x, 2.0 * x], default=d),
     [(2, 3), (3,)]),
    ("select plain choices", lambda d: np.select([M], [np.ones(3)], default=d), [(2, 3)]),
    ("select overlap", lambda x, y: np.select([M, M | True], [x, y]), [(2, 3), (2, 3)]),
    ("sort 3-D axis 1", lambda x: np.sort(x, axis=1), [(2, 3, 2)]),
    ("sort kind", lambda x: np.sort(x, kind="quicksort"), [(4,)]),
    ("sort stable", lambda x: np.sort(x, stable=True), [(4,)]),
    ("sort empty", lambda x: np.sort(x), [(2, 0)]),
    ("partition negative kth", lambda x: np.partition(x, -2), [(5,)]),
    ("partition axis None", lambda x: np.partition(x, [1, 4], axis=None), [(2, 3)]),
    ("partition 3-D axis 0", lambda x: np.partition(x, 1, axis=0), [(3, 2, 2)]),
    ("median 0-d", lambda x: np.median(x), [()]),
    ("median n=1", lambda x: np.median(x, axis=0), [(1, 3)]),
    ("median 3-D axis -1", lambda x: np.median(x, axis=-1), [(2, 2, 4)]),
    ("median all keepdims", lambda x: np.median(x, keepdims=True), [(2, 3)]),
    ("percentile 2-D q", lambda x: np.percentile(x, [[0.0, 25.0], [75.0, 100.0]], axis=1),
     [(2, 5)]),
    ("percentile int q", lambda x: np.percentile(x, [10, 90]), [(4,)]),
    ("percentile keepdims all", lambda x: np.percentile(x, 35.0, keepdims=True), [(2, 3)]),
    ("quantile scalar", lambda x: np.quantile(x, 0.5), [(2, 2, 2)]),
    ("quantile n=1", lambda x: np.quantile(x, [0.3, 1.0], axis=0), [(1, 2)]),
    ("diff n=0", lambda x: np.diff(x, 0), [(3,)]),
    ("diff n=3 axis 0", lambda x: np.diff(x, 3, axis=0), [(5, 2, 2)]),
    ("diff n > len", lambda x: np.diff(x, 4), [(3,)]),
    ("diff prepend array", lambda x, p: np.diff(x, prepend=p, axis=0), [(2, 3), (1, 3)]),
    ("diff plain append", lambda x: np.diff(x, append=[[1.0], [2.0]]), [(2, 2)]),
    ("ediff1d 0-d", lambda x: np.ediff1d(x), [()]),
    ("ediff1d scalar begin", lambda x: np.ediff1d(x, to_begin=-1.0), [(3,)]),
    ("ediff1d traced begin", lambda x, b: np.ediff1d(x, to_begin=b), [(3,), (2, 1)]),
    ("gradient 2-D", lambda x: np.gradient(x), [(3, 4)]),
    ("gradient axis tuple of one", lambda x: np.gradient(x, axis=(-1,)), [(2, 3)]),
    ("gradient 3-D axes 0,2", lambda x: np.gradient(x, 2.0, axis=(0, 2), edge_order=2),
     [(3, 2, 3)]),
    ("gradient coords edge 2", lambda x: np.gradient(x, np.array([0.0, 0.3, 1.0, 1.2]),
                                                     edge_order=2), [(4,)]),
    ("gradient uniform coords", lambda x: np.gradient(x, [0.0, 0.5, 1.0]), [(3,)]),
    ("gradient two spacings", lambda x: np.gradient(x, [1.0, 1.5], 0.5, edge_order=1),
     [(2, 3)]),
    ("gradient traced coords", lambda x, c: np.gradient(x, c), [(3,), (3,)]),
    ("cumprod 3-D axis -1", lambda x: np.cumprod(x, axis=-1), [(2, 2, 3)]),
    ("cumprod 0-d", lambda x: np.cumprod(x), [()]),
    ("cumprod empty", lambda x: np.cumprod(x, axis=0), [(0, 2)]),
    ("cumprod long", lambda x: np.cumprod(x), [(11,)]),
    ("cumulative_prod 1-D", lambda x: np.cumulative_prod(x), [(4,)]),
    ("linspace num 0", lambda a, b: np.linspace(a, b, 0), [(), ()]),
    ("linspace num 2 no endpoint", lambda a, b: np.linspace(a, b, 2, endpoint=False), [(), ()]),
    ("linspace axis 1", lambda a, b: np.linspace(a, b, 3, axis=1), [(2,), (2,)]),
    ("linspace plain stop", lambda a: np.linspace(a, 3.0, 4), [(2,)]),
    ("linspace plain start", lambda b: np.linspace([0.0, 1.0], b, 3, axis=-1), [()]),
    ("linspace retstep", lambda a, b: np.linspace(a, b, 5, retstep=True), [(), ()]),
    ("linspace float32", lambda a, b: np.linspace(a, b, 3, dtype=np.float32), [(), ()]),
    ("logspace array", lambda a, b: np.logspace(a, b, 3, axis=1), [(2,), ()]),
    ("logspace array base", lambda a: np.logspace(a, 1.0, 3, base=[2.0, 3.0]), [(2,)]),
]
FORM_IDS = [f[0] for f in FORMS]


def _inputs(shapes, seed):
    rng = np.random.default_rng(seed)
    return tuple(rng.uniform(-2.0, 2.0, size=s) for s in shapes)


def _seed(name):
    return sum(map(ord, name))


def _both_values(f, args):
    """f's value through forward mode and through reverse mode."""
    out_f, _ = dualnum.jvp(lambda *a: _flat(f(*a)), args, tuple(np.zeros_like(a) for a in args))
    out_r, _ = tapes.vjp(lambda *a: _flat(f(*a)), *args)
    return out_f, out_r


@pytest.mark.parametrize("form", FORMS, ids=FORM_IDS)
def test_value_and_shape_match_numpy(form):
    name, f, shapes = form
    args = _inputs(shapes, _seed(name))
    expected = f(*args)
    for got in _both_values(f, args):
        want = _flat(expected)
        assert np.shape(got) == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)
    if isinstance(expected, (list, tuple)):  # the pieces and their shapes, not only the sum
        seen = {}

        def keep(*a):
            seen["out"] = f(*a)
            return _flat(seen["out"])
        dualnum.jvp(keep, args, args)
        assert type(seen["out"]) is type(expected) and len(seen["out"]) == len(expected)
        for piece, want in zip(seen["out"], expected):
            assert np.shape(piece) == np.shape(want)


@pytest.mark.parametrize("form", FORMS, ids=FORM_IDS)
def test_derivatives_match_finite_differences_in_both_modes(form):
    name, f, shapes = form
    args = _inputs(shapes, _seed(name) + 1)
    if "float32" in name:  # finite differences of a float32 result are too coarse
        return
    assert check_grads(lambda *a: _flat(f(*a)), args, jvp=dualnum.jvp, vjp=tapes.vjp,
                       rng=np.random.default_rng(_seed(name)))


@pytest.mark.parametrize("shapes", [[(2, 2), (2, 1), (1, 2), (1, 1)], [(), (), (), ()]])
def test_block_of_nested_lists(shapes):
    args = tuple(np.full(s, float(i)) for i, s in enumerate(shapes))
    f = lambda a, b, c, d: np.block([[a, b], [c, d]])  # noqa: E731
    out, _ = dualnum.jvp(f, args, args)
    assert np.shape(out) == np.shape(f(*args))
    np.testing.assert_array_equal(out, f(*args))


@both
def test_linspace_step_is_differentiable(mode):
    g = GRADS[mode](lambda a, b: np.linspace(a, b, 4, retstep=True)[1], argnums=(0, 1))(0.5, 2.0)
    np.testing.assert_allclose(g, [-1.0 / 3.0, 1.0 / 3.0], rtol=1e-15)  # d (b - a) / 3



@pytest.mark.parametrize("mode,f", [
    ("forward", lambda x: np.sum(np.pad(x, 1) * np.tril(np.outer(x, x))[1, 0])),
    ("reverse", lambda x: np.sum(np.pad(x, 1) * np.tril(np.outer(x, x))[1, 0])),
    ("forward", lambda x: np.sum(np.sort(x) * x)),
    ("reverse", lambda x: np.sum(np.sort(x) * x))],
    ids=["basic-forward", "basic-reverse", "gather-forward", "gather-reverse"])
def test_float32_stays_float32(mode, f):
    assert GRADS[mode](f)(np.array([1.0, 2.0, 0.5], dtype=np.float32)).dtype == np.float32


# ----------------------------------------------------------------------------- second order
SECOND_ORDER = {
    "pad reflect": lambda x: np.sum(np.pad(x, 2, mode="reflect") ** 3),
    "pad odd": lambda x: np.sum(np.pad(x, (3, 1), mode="symmetric", reflect_type="odd") ** 3),
    "sort": lambda x: np.sum(np.sort(x) * np.arange(4.0)) ** 2,
    "median": lambda x: np.median(x ** 3) * np.sum(x),
    "percentile": lambda x: np.percentile(x ** 3, 40.0) * np.sum(x),
    "gradient": lambda x: np.sum(np.gradient(x ** 2, edge_order=2) ** 2),
    "cumprod": lambda x: np.sum(np.cumprod(x) ** 2),
    "tril": lambda x: np.sum(np.tril(np.outer(x, x), -1) ** 2),
    "linspace": lambda x: np.sum(np.linspace(x[0], x[1], 5) ** 3) + x[2] * x[3],
    "roll, repeat": lambda x: np.sum(np.roll(np.repeat(x, 2), 3) * np.sin(np.repeat(x, 2))),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_hessian_by_nesting_agrees_in_all_four_nestings_and_with_fd(name):
    f = SECOND_ORDER[name]
    x = np.array([0.7, -1.3, 0.4, 1.9])
    hessians = {(o, i): JACS[o](GRADS[i](f))(x) for o, i in itertools.product(GRADS, GRADS)}
    reference = hessians["forward", "reverse"]
    for h in hessians.values():
        np.testing.assert_allclose(h, reference, rtol=1e-10, atol=1e-12)
    fd = numerical_jacobian(tapes.grad(f), (x,))
    np.testing.assert_allclose(reference, fd, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- structural zeros
# selections S: with x = 0 exactly where S(x) does not read x, sqrt(x) has an inf
# derivative there; it must stay out (exact 0 in the gradient), never a NaN
DROPPING = {
    "tril": (lambda x: np.tril(x), np.triu(np.ones((3, 3)), 1)),
    "triu k=1": (lambda x: np.triu(x, 1), np.tril(np.ones((3, 3)))),
    "diag": (lambda x: np.diag(x), 1 - np.eye(3)),
    "diagonal offset": (lambda x: np.diagonal(x, 1), 1 - np.eye(3, k=1)),
    "repeat 0": (lambda x: np.repeat(x, [1, 0, 2], axis=1), np.eye(3)[[1, 1, 1]]),
    "take": (lambda x: np.take(x, [0, 4]), ~np.isin(np.arange(9), [0, 4]).reshape(3, 3) * 1.0),
    "take_along_axis": (lambda x: np.take_along_axis(x, np.array([[0], [2], [2]]), 1),
                        np.array([[0, 1, 1], [1, 1, 0], [1, 1, 0.0]])),
    "select": (lambda x: np.select([np.eye(3, dtype=bool)], [x], default=2.0), 1 - np.eye(3)),
    "split piece": (lambda x: np.split(x, 3)[1], np.array([[1, 1, 1], [0, 0, 0], [1, 1, 1.0]])),
    "partition min": (lambda x: np.partition(x + np.arange(9.0).reshape(3, 3) * 10, 0,
                                             axis=None)[:1], 1 - np.eye(9)[0].reshape(3, 3)),
    "median odd": (lambda x: np.median(x + np.arange(9.0).reshape(3, 3) * 10, axis=1),
                   np.array([[1, 0, 1]] * 3)),
}


@both
@pytest.mark.parametrize("name", sorted(DROPPING))
def test_an_entry_a_selection_drops_gets_an_exact_zero(mode, name):
    select, dropped = DROPPING[name]
    x = np.where(dropped == 1, 0.0, np.linspace(1.0, 4.0, 9).reshape(3, 3))
    w = np.cos(np.arange(np.size(select(x)), dtype=float)).reshape(np.shape(select(x))) + 2.0
    g = GRADS[mode](lambda x: np.sum(select(np.sqrt(x)) * w))(x)
    counts = GRADS[mode](lambda x: np.sum(select(x) * w))(x)  # S^T w: 0 where dropped
    assert np.all(counts[dropped == 1] == 0)
    expected = np.where(dropped == 1, 0.0, counts * 0.5 / np.sqrt(np.where(dropped == 1, 1, x)))
    np.testing.assert_array_equal(g[dropped == 1], 0.0)
    np.testing.assert_allclose(g, expected, rtol=1e-14)


# constant entries (not made from x): weighted by inf they add nothing, as their
# derivative is a structural zero (x * mask or x * 0 would give 0 * inf = NaN)
CONSTANT_ENTRIES = {
    "tril": (lambda x: np.tril(x), lambda s: ~np.tri(*s, dtype=bool)),
    "triu": (lambda x: np.triu(x, -1), lambda s: np.tri(*s, k=-2, dtype=bool)),
    "diag 1-D": (lambda x: np.diag(x[0], 1), lambda s: ~np.eye(s[0], k=1, dtype=bool)),
    "diagflat": (lambda x: np.diagflat(x[:2]), lambda s: ~np.eye(s[0], dtype=bool)),
    "pad constant": (lambda x: np.pad(x, ((1, 0), (2, 1)), constant_values=4.0),
                     lambda s: np.pad(np.zeros((3, 3), bool), ((1, 0), (2, 1)),
                                      constant_values=True)),
    "select default": (lambda x: np.select([np.eye(3, dtype=bool)], [x], default=1.0),
                       lambda s: ~np.eye(3, dtype=bool)),
    "append constant": (lambda x: np.append(x, [[7.0, 7.0, 7.0]], axis=0),
                        lambda s: np.arange(12).reshape(4, 3) >= 9),
    "cumulative_prod initial": (lambda x: np.cumulative_prod(x, axis=0, include_initial=True),
                                lambda s: np.arange(12).reshape(4, 3) < 3),
}


@pytest.mark.filterwarnings("ignore:invalid value")  # the value itself is 0 * inf = NaN
@both
@pytest.mark.parametrize("name", sorted(CONSTANT_ENTRIES))
def test_constant_entries_have_a_structural_zero_derivative(mode, name):
    f, constant = CONSTANT_ENTRIES[name]
    x = np.linspace(0.5, 2.0, 9).reshape(3, 3)
    mask = constant(np.shape(f(x)))
    w = np.where(mask, np.inf, np.cos(np.arange(mask.size)).reshape(mask.shape))
    g = GRADS[mode](lambda x: np.sum(f(x) * w))(x)
    want = GRADS[mode](lambda x: np.sum(f(x) * np.where(mask, 0.0, w)))(x)
    assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(g, want)
    # forward mode's Jacobian has exact zero rows there too
    j = JACS[mode](f)(x)
    assert np.all(j[mask] == 0)


@both
def test_the_choice_select_did_not_pick_gets_an_exact_zero(mode):
    x = np.array([0.0, 4.0, 0.0, 9.0])
    pick = np.array([False, True, False, True])
    g = GRADS[mode](lambda x: np.sum(np.select([pick], [np.sqrt(x)], default=x)))(x)
    np.testing.assert_array_equal(g, np.where(pick, 0.5 / np.sqrt(np.where(pick, x, 1)), 1.0))


# ----------------------------------------------------------------------------- ties
def _stable_jacobian(x):
    """d sort(x) / dx under the documented convention: tied entries in index order."""
    return np.eye(x.size)[np.argsort(x, kind="stable")]


@both
@pytest.mark.parametrize("x", [[2.0, 1.0, 2.0, 0.0], [3.0, 3.0, 3.0], [1.0, -1.0, 1.0, -1.0]])
def test_sort_at_ties_is_the_stable_permutation(mode, x):
    x = np.array(x)
    np.testing.assert_array_equal(JACS[mode](np.sort)(x), _stable_jacobian(x))


def test_sort_tie_derivative_is_one_sided_for_order_keeping_directions():
    x = np.array([2.0, 1.0, 2.0, 0.0])
    v = np.array([0.1, 0.3, 0.5, -0.2])  # keeps x[0] before its tie x[2]: v[0] < v[2]
    h = 1e-7
    one_sided = (np.sort(x + h * v) - np.sort(x)) / h
    _, jv = dualnum.jvp(np.sort, (x,), (v,))
    np.testing.assert_allclose(jv, one_sided, rtol=1e-6)


@both
@pytest.mark.parametrize("x", [[2.0, 1.0, 2.0], [3.0, 1.0, 3.0, 3.0], [5.0, 5.0, 5.0, 5.0, 5.0]])
def test_median_at_ties_follows_the_stable_sort(mode, x):
    x = np.array(x)
    n = x.size
    middle = np.argsort(x, kind="stable")[(n - 1) // 2: n // 2 + 1]
    expected = np.zeros(n)
    expected[middle] = 1.0 / middle.size
    np.testing.assert_array_equal(GRADS[mode](np.median)(x), expected)


@both
@pytest.mark.parametrize("x,q", [([1.0, 2.0, 2.0, 3.0], 50.0), ([2.0, 2.0, 2.0], 30.0),
                                 ([4.0, 1.0, 4.0], 100.0), ([4.0, 1.0, 4.0], 0.0)])
def test_percentile_at_ties_interpolates_in_stable_order(mode, x, q):
    x = np.array(x)
    n = x.size
    v = (n - 1) * q / 100.0
    lo, frac = int(np.floor(v)), v - np.floor(v)
    perm = np.argsort(x, kind="stable")
    expected = np.zeros(n)
    expected[perm[lo]] += 1.0 - frac
    expected[perm[min(lo + 1, n - 1)]] += frac
    np.testing.assert_allclose(GRADS[mode](lambda x: np.percentile(x, q))(x), expected,
                               rtol=1e-15, atol=1e-15)


@both
@pytest.mark.parametrize("kth", [1, 2, [0, 3]])
def test_partition_at_ties_is_a_permutation_giving_numpys_arrangement(mode, kth):
    x = np.array([3.0, 1.0, 3.0, 3.0, 0.0])
    j = JACS[mode](lambda x: np.partition(x, kth))(x)
    assert set(np.unique(j)) <= {0.0, 1.0}
    np.testing.assert_array_equal(j.sum(axis=0), 1.0)
    np.testing.assert_array_equal(j.sum(axis=1), 1.0)
    np.testing.assert_array_equal(j @ x, np.partition(x, kth))


def test_a_replayed_sort_follows_the_new_order():
    f = lambda x: np.sum(np.sort(x) * np.arange(3.0))  # noqa: E731
    rec = tapes.record(f, np.array([3.0, 1.0, 2.0]))
    for x in ([3.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 1.0]):
        x = np.array(x)
        np.testing.assert_array_equal(rec.gradient(x), tapes.grad(f)(x))
        np.testing.assert_array_equal(rec.gradient(x), np.argsort(np.argsort(x)).astype(float))


# ----------------------------------------------------------------------------- cumprod at zeros
def _cumprod_jacobian(x):
    """J[i, j] = prod of x[k] for k <= i, k != j (j <= i), by explicit products."""
    n = x.size
    return np.array([[np.prod(np.delete(x[: i + 1], j)) if j <= i else 0.0 for j in range(n)]
                     for i in range(n)])


def _cumprod_hessian_of_sum(x):
    """d^2 sum(cumprod(x)) / dx_j dx_l = sum over i >= max(j, l) of prod x[k], k <= i,
    k not in {j, l} (j != l); 0 on the diagonal."""
    n = x.size
    h = np.zeros((n, n))
    for j, l in itertools.permutations(range(n), 2):
        h[j, l] = sum(np.prod(np.delete(x[: i + 1], [j, l])) for i in range(max(j, l), n))
    return h


CUMPROD_POINTS = [[2.0, 0.0, 3.0, 4.0], [2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 0.0, 1.5],
                  [1.5, -2.0, 0.5, 3.0]]


@both
@pytest.mark.parametrize("x", CUMPROD_POINTS)
def test_cumprod_jacobian_is_the_product_of_the_others_at_zeros(mode, x):
    x = np.array(x)
    np.testing.assert_allclose(JACS[mode](np.cumprod)(x), _cumprod_jacobian(x), rtol=1e-15,
                               atol=0)


@both
def test_cumprod_along_an_axis_with_zeros(mode):
    x = np.array([[2.0, 0.0, 3.0], [0.0, 4.0, 0.0]])
    j = JACS[mode](lambda x: np.cumprod(x, axis=1))(x)
    for r in range(2):
        np.testing.assert_allclose(j[r, :, r, :], _cumprod_jacobian(x[r]), rtol=1e-15, atol=0)
        np.testing.assert_array_equal(j[r, :, 1 - r, :], 0.0)


@nestings
@pytest.mark.parametrize("x", CUMPROD_POINTS[:3])
def test_cumprod_hessian_at_zeros(outer, inner, x):
    x = np.array(x)
    h = JACS[outer](GRADS[inner](lambda x: np.sum(np.cumprod(x))))(x)
    np.testing.assert_allclose(h, _cumprod_hessian_of_sum(x), rtol=1e-14, atol=0)


# ----------------------------------------------------------------------------- errors
x3 = np.array([0.5, -1.0, 2.0])


@both
@pytest.mark.parametrize("call,pattern", [
    (lambda x: np.pad(x, 1, mode="maximum"), r"np.pad.*mode='maximum'.*supported modes"),
    (lambda x: np.pad(x, 1, mode="linear_ramp"), r"np.pad.*mode='linear_ramp'"),
    (lambda x: np.pad(x, 1, mode="empty"), r"np.pad.*mode='empty'"),
    (lambda x: np.pad(x, 1, mode=lambda *a: None), r"np.pad.*mode="),
    (lambda x: np.percentile(x, 50.0, method="nearest"), r"np.percentile.*method='nearest'"),
    (lambda x: np.quantile(x, 0.5, method="median_unbiased"), r"np.quantile.*'linear'"),
    (lambda x: np.quantile(x, 0.5, method="inverted_cdf", weights=np.ones(3)),
     r"np.quantile.*weights"),
    (lambda x: np.sort(x, order="f"), r"np.sort.*order"),
    (lambda x: np.cumprod(x, dtype=int), r"np.cumprod.*dtype"),
    (lambda x: np.linspace(x[0], x[1], 3, dtype=int), r"np.linspace.*dtype"),
])
def test_unsupported_forms_name_the_function_and_the_alternative(mode, call, pattern):
    with pytest.raises(adcore.UnsupportedOpError, match=pattern):
        GRADS[mode](lambda x: np.sum(call(x)))(x3)


@both
def test_out_arguments_are_mutation_errors(mode):
    for call in (lambda x: np.cumprod(x, out=np.empty(3)),
                 lambda x: np.take(x, [0], out=np.empty(1)),
                 lambda x: np.median(x, out=np.empty(()))):
        # a MutationError (reported as an ADError by adcore.tracing's binder call)
        with pytest.raises(adcore.ADError, match=r"out=\.\.\.\) writes in place"):
            GRADS[mode](lambda x: np.sum(call(x)))(x3)


# NumPy's own errors for invalid calls are kept (same exception type as on plain arrays)
INVALID = [
    lambda x: np.split(x, 2),
    lambda x: np.fliplr(x),
    lambda x: np.diag(np.reshape(x, (1, 1, 3))),
    lambda x: np.diagonal(x),
    lambda x: np.rot90(np.outer(x, x), axes=(0, 0)),
    lambda x: np.pad(x, -1),
    lambda x: np.pad(x, 1, mode="edge", constant_values=2.0),
    lambda x: np.pad(x[:0], 1, mode="wrap"),
    lambda x: np.repeat(x, -1),
    lambda x: np.take(x, [0], mode="bogus"),
    lambda x: np.take_along_axis(x, np.array([[0]]), axis=0),
    lambda x: np.select([x > 0], [x, x]),
    lambda x: np.percentile(x, 101.0),
    lambda x: np.quantile(x, [0.5, -0.1]),
    lambda x: np.diff(x, -1),
    lambda x: np.gradient(x, edge_order=3),
    lambda x: np.gradient(x[:2], edge_order=2),
    lambda x: np.gradient(x, 1.0, 2.0),
    lambda x: np.meshgrid(x, indexing="yx"),
    lambda x: np.vsplit(x, 3),
    lambda x: np.linspace(x[0], x[1], -1),
    lambda x: np.cumulative_prod(np.outer(x, x)),
]


@both
@pytest.mark.parametrize("case", range(len(INVALID)))
def test_invalid_calls_raise_numpys_error(mode, case):
    call = INVALID[case]
    with pytest.raises(Exception) as plain:
        call(x3)
    with pytest.raises(type(plain.value)):
        GRADS[mode](lambda x: np.sum(call(x)))(x3)


def test_traced_indices_are_refused():
    with pytest.raises(IndexError, match="traced value cannot be used as an index"):
        tapes.grad(lambda x: np.sum(np.take(x, x)))(x3)


def test_every_function_of_the_task_is_covered():
    covered = adcore.numpy_entry_points()
    names = ("tril triu diag diagonal diagflat repeat tile roll pad flip fliplr flipud rot90 "
             "rollaxis split array_split hsplit vsplit dsplit append dstack column_stack hstack "
             "vstack atleast_1d atleast_2d atleast_3d take take_along_axis select sort partition "
             "median percentile quantile diff ediff1d gradient cumprod cumulative_prod linspace "
             "logspace squeeze expand_dims moveaxis swapaxes block broadcast_arrays meshgrid")
    missing = [n for n in names.split() if f"np.{n}" not in covered]
    assert not missing
