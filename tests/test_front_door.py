"""fwdrev's front door: grad, jacfwd, jacrev, jacobian(mode=), jvp, vjp, hvp, hessian and
choose_mode -- on pytrees, against dense results computed independently, both ways round."""
import collections

import numpy as np
import pytest

import adcore
import dualnum
import fwdrev
import tapes
from adcore.checking import numerical_jacobian

Params = collections.namedtuple("Params", "w b")


def finite_difference_jacobian(f, x):
    return numerical_jacobian(f, (x,))
RNG = np.random.default_rng(0)


def _flat(tree):
    leaves, _ = fwdrev.pytrees.flatten(tree)
    return np.concatenate([np.ravel(np.asarray(x, dtype=float)) for x in leaves])


def _unflat_like(tree, vector):
    leaves, treedef = fwdrev.pytrees.flatten(tree)
    out, start = [], 0
    for x in leaves:
        size = int(np.size(x))
        out.append(np.reshape(vector[start:start + size], np.shape(x)))
        start += size
    return fwdrev.pytrees.unflatten(treedef, out)


# scalar functions of pytrees, and the same function of one flat vector (the reference)
TREES = [
    ("array", np.linspace(-0.8, 0.9, 5), lambda p: np.sum(np.sin(p) * p ** 2)),
    ("dict", {"w": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2)},
     lambda p: np.sum(np.tanh(np.ones(3) @ p["w"] + p["b"]) ** 2) + np.sum(p["w"] ** 3)),
    ("list", [RNG.standard_normal(3), RNG.standard_normal(3)],
     lambda p: np.sum(p[0] * np.exp(p[1])) + np.sum(p[0] ** 2)),
    ("namedtuple", Params(RNG.standard_normal((2, 2)), 0.3),
     lambda p: np.sum(p.w @ p.w) * p.b + np.sin(p.b)),
    ("nested", {"layer": [RNG.standard_normal(2), (RNG.standard_normal(()), 1.5)]},
     lambda p: np.sum(p["layer"][0] ** 2) * p["layer"][1][0] + np.cos(p["layer"][1][1])),
]


def _reference(f, tree):
    def flat_f(v):
        return f(_unflat_like(tree, v))
    return flat_f, _flat(tree)


@pytest.mark.parametrize("name, tree, f", TREES, ids=[t[0] for t in TREES])
def test_grad_has_the_input_structure_and_the_values_of_the_flat_gradient(name, tree, f):
    flat_f, v = _reference(f, tree)
    want = tapes.grad(flat_f)(v)
    got = fwdrev.grad(f)(tree)
    assert fwdrev.pytrees.flatten(got)[1] == fwdrev.pytrees.flatten(tree)[1]
    np.testing.assert_allclose(_flat(got), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(want, finite_difference_jacobian(flat_f, v), rtol=1e-6, atol=1e-8)
    value, g2 = fwdrev.value_and_grad(f)(tree)
    assert np.isclose(value, f(tree))
    np.testing.assert_array_equal(_flat(g2), _flat(got))


@pytest.mark.parametrize("name, tree, f", TREES, ids=[t[0] for t in TREES])
def test_hessian_three_ways_and_hvp_as_its_product(name, tree, f):
    flat_f, v = _reference(f, tree)
    h_flat = fwdrev.hessian(flat_f)(v)  # forward-over-reverse
    np.testing.assert_allclose(h_flat, tapes.jacobian(tapes.grad(flat_f))(v), rtol=1e-10,
                               atol=1e-12)  # reverse-over-reverse
    np.testing.assert_allclose(h_flat, dualnum.jacobian(dualnum.grad(flat_f))(v), rtol=1e-10,
                               atol=1e-12)  # forward-over-forward
    np.testing.assert_allclose(h_flat, finite_difference_jacobian(tapes.grad(flat_f), v),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(h_flat, h_flat.T, rtol=1e-10, atol=1e-12)
    direction = RNG.standard_normal(v.size)
    hv = fwdrev.hvp(f)(tree, _unflat_like(tree, direction))
    assert fwdrev.pytrees.flatten(hv)[1] == fwdrev.pytrees.flatten(tree)[1]
    np.testing.assert_allclose(_flat(hv), h_flat @ direction, rtol=1e-10, atol=1e-12)
    # the tree Hessian: a tree (rows) of trees (columns) of out_leaf.shape + in_leaf.shape
    h_tree = fwdrev.hessian(f)(tree)
    rows = fwdrev.pytrees.flatten(h_tree)[0]
    leaves = fwdrev.pytrees.flatten(tree)[0]
    assert len(rows) == len(leaves) ** 2
    assembled = np.block([[np.reshape(rows[i * len(leaves) + j],
                                      (int(np.size(a)), int(np.size(b))))
                           for j, b in enumerate(leaves)] for i, a in enumerate(leaves)])
    np.testing.assert_allclose(assembled, h_flat, rtol=1e-10, atol=1e-12)


def test_hessian_has_jax_shapes_and_argnums():
    f = lambda x, y: np.sum(x ** 2 * y[:, None])  # noqa: E731
    x, y = RNG.standard_normal((2, 3)), RNG.standard_normal(2)
    assert fwdrev.hessian(f)(x, y).shape == (2, 3, 2, 3)
    hxx, hxy = fwdrev.hessian(f, argnums=(0, 1))(x, y)[0]
    assert hxx.shape == (2, 3, 2, 3) and hxy.shape == (2, 3, 2)
    np.testing.assert_allclose(fwdrev.hessian(f, chunk=2)(x, y), fwdrev.hessian(f)(x, y),
                               rtol=1e-12)
    hvp = fwdrev.hvp(f, argnums=(0, 1))(x, y, (np.ones((2, 3)), np.zeros(2)))
    assert hvp[0].shape == (2, 3) and hvp[1].shape == (2,)


OUTPUTS = [
    ("array", lambda x: np.tanh(np.outer(x, x))),
    ("tuple", lambda x: (x ** 2, np.sum(x))),
    ("dict", lambda x: {"a": np.sin(x), "b": [x[0] * x[1], x[1:] * 2.0]}),
]


@pytest.mark.parametrize("name, f", OUTPUTS, ids=[o[0] for o in OUTPUTS])
@pytest.mark.parametrize("which", ["jacfwd", "jacrev", "auto", "forward", "reverse"])
def test_jacobians_of_tree_outputs_split_the_flat_jacobian(name, f, which):
    x = np.array([0.3, -0.7, 1.1])
    jac = getattr(fwdrev, which)(f) if which.startswith("jac") else fwdrev.jacobian(f, mode=which)
    got = jac(x)
    out = f(x)
    out_leaves, out_def = fwdrev.pytrees.flatten(out)
    got_leaves, got_def = fwdrev.pytrees.flatten(got)
    assert got_def == out_def
    flat = lambda v: np.concatenate([np.ravel(o) for o in fwdrev.pytrees.flatten(f(v))[0]])  # noqa: E731
    want = finite_difference_jacobian(flat, x)
    start = 0
    for o, j in zip(out_leaves, got_leaves):
        size = int(np.size(o))
        assert np.shape(j) == np.shape(o) + x.shape
        np.testing.assert_allclose(np.reshape(j, (size,) + x.shape), want[start:start + size],
                                   rtol=1e-6, atol=1e-8)
        start += size


def test_jvp_and_vjp_on_trees_satisfy_the_dot_product_test():
    f = lambda p, s: {"y": np.tanh(p["w"] @ p["x"]) * s, "z": np.sum(p["x"]) * s}  # noqa: E731
    p = {"w": RNG.standard_normal((3, 2)), "x": RNG.standard_normal(2)}
    s = 0.7
    tp = {"w": RNG.standard_normal((3, 2)), "x": RNG.standard_normal(2)}
    ts = 0.4
    out, jv = fwdrev.jvp(f, (p, s), (tp, ts))
    w = {"y": RNG.standard_normal(3), "z": 1.3}
    out2, pullback = fwdrev.vjp(f, p, s)
    cp, cs = pullback(w)
    lhs = np.dot(w["y"], jv["y"]) + w["z"] * jv["z"]
    rhs = (np.sum(cp["w"] * tp["w"]) + np.dot(cp["x"], tp["x"]) + cs * ts)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)
    np.testing.assert_allclose(out["y"], out2["y"])


def test_a_dict_input_and_a_list_of_arrays_are_trees_not_errors_or_stacks():
    f = lambda p: np.sum(p["a"] * p["b"])  # noqa: E731
    g = fwdrev.grad(f)({"a": np.ones(2), "b": np.array([2.0, 3.0])})
    np.testing.assert_array_equal(g["a"], [2.0, 3.0])
    # a list of same-shape arrays: a list of gradients, not one stacked array
    g = fwdrev.grad(lambda xs: np.sum(xs[0] * xs[1]))([np.ones(2), np.array([2.0, 3.0])])
    assert isinstance(g, list) and len(g) == 2
    np.testing.assert_array_equal(g[1], [1.0, 1.0])


def test_non_float_leaves_are_refused_naming_the_argument():
    with pytest.raises(Exception, match="float|integer|int"):
        fwdrev.grad(lambda p: np.sum(p["a"]))({"a": np.array([1, 2])})


# ------------------------------------------------------------------ mode choice
def _tanh_net(n, m):
    w = np.random.default_rng(1).standard_normal((m, n)) / np.sqrt(n)
    return (lambda v: np.tanh(w @ np.tanh(v))), np.random.default_rng(2).standard_normal(n)


@pytest.mark.parametrize("n, m, mode", [(256, 1, "reverse"), (1, 256, "forward"),
                                        (512, 4, "reverse"), (4, 512, "forward")])
def test_choose_mode_picks_reverse_for_tall_and_forward_for_wide_maps(n, m, mode):
    f, x = _tanh_net(n, m)
    choice = fwdrev.choose_mode(f, x)
    assert choice.mode == mode, str(choice)
    assert (choice.n, choice.m) == (n, m)
    assert choice.forward_s > 0 and choice.reverse_s > 0 and choice.tape_bytes > 0
    assert mode in str(choice)


def test_auto_jacobian_decides_once_per_shape_and_explains():
    f, x = _tanh_net(8, 3)
    jac = fwdrev.jacobian(f, mode="auto", explain=True)
    J, choice = jac(x)
    np.testing.assert_allclose(J, tapes.jacobian(f)(x), rtol=1e-12)
    assert choice.mode in ("forward", "reverse") and len(jac.decisions) == 1
    J2, choice2 = jac(x + 1.0)
    assert choice2 is choice  # reused: same shape and dtype
    assert choice.chunk_forward == 8 and choice.chunk_reverse == 3  # small: one pass each
    np.testing.assert_allclose(J2, dualnum.jacobian(f)(x + 1.0), rtol=1e-12)
    with pytest.raises(ValueError, match="mode"):
        fwdrev.jacobian(f, mode="sideways")


# ------------------------------------------------------------------ refusals, by name
def test_an_argument_named_twice_is_refused_in_every_engine():
    x = np.array([0.5, -1.0, 2.0])
    for jac in (fwdrev.jacrev, fwdrev.jacfwd, tapes.jacobian, dualnum.jacobian):
        with pytest.raises(ValueError, match="twice"):
            jac(lambda a, b: a * b, argnums=(0, 0))(x, x)
    with pytest.raises(ValueError, match="twice"):
        fwdrev.hessian(lambda a: np.sum(a ** 3), argnums=(0, -1))(x)


def test_numpy_integer_argnums_work_and_bad_leaves_are_named():
    x = np.array([0.5, -1.0])
    g = fwdrev.grad(lambda a, b: np.sum(a * b), argnums=np.int64(1))(x, x)
    np.testing.assert_array_equal(g, x)
    assert fwdrev.jacobian(lambda a, b: a * b, argnums=np.int64(0))(x, x).shape == (2, 2)
    with pytest.raises(adcore.NonFloatInputError, match=r"\['n'\]"):
        fwdrev.grad(lambda p: np.sum(p["a"]) * p["n"])({"a": x, "n": 3})
    with pytest.raises(adcore.NonFloatInputError, match=r"\['s'\]"):
        fwdrev.grad(lambda p: np.sum(p["a"]))({"a": x, "s": "text"})


def test_directions_must_have_the_structure_and_shapes_they_pair_with():
    x = np.array([0.5, -1.0, 2.0])
    _, pullback = fwdrev.vjp(lambda a: {"a": a, "b": a[:2]}, x)
    with pytest.raises(ValueError, match="shape"):
        pullback({"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0, 5.0])})
    with pytest.raises(ValueError, match="structure"):
        pullback({"a": x, "c": x[:2]})
    with pytest.raises(ValueError, match="structure"):
        fwdrev.jvp(lambda p: p["a"] * 2.0, ({"a": x},), ({"b": x},))
    with pytest.raises(ValueError, match="shape"):
        fwdrev.hvp(lambda p: np.sum(p["a"] ** 3))({"a": x}, {"a": x[:2]})


def test_a_complex_cotangent_of_a_tree_output_keeps_its_imaginary_part():
    x = np.array([0.5, -1.0, 2.0])
    _, tree = fwdrev.vjp(lambda a: {"y": a * (1 + 2j)}, x)
    _, flat = fwdrev.vjp(lambda a: a * (1 + 2j), x)
    w = np.array([1j, 0.0, 0.0])
    np.testing.assert_array_equal(tree({"y": w})[0], flat(w)[0])


def test_one_jacobian_function_used_from_two_threads_splits_each_calls_output():
    import threading
    f = lambda x, k: {"a": x[:k] ** 2, "b": np.sin(x[k:])}  # noqa: E731
    jac = fwdrev.jacrev(f)
    x = np.linspace(0.1, 0.4, 4)
    errors = []

    def run(k):
        for _ in range(200):
            got = jac(x, k)
            if got["a"].shape != (k, 4) or got["b"].shape != (4 - k, 4):
                errors.append((k, got["a"].shape))
    threads = [threading.Thread(target=run, args=(k,)) for k in (1, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
