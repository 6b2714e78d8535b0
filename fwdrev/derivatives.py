"""Derivatives through the front door: thin, documented names over both engines, taking and
returning pytrees (:mod:`fwdrev.pytrees`), and the second-order ones built by nesting them.

============================  =================================  ==============================
call                          computes                           how
============================  =================================  ==============================
``grad(f)(x)``                gradient of a scalar f, x's tree   reverse: one recording, one sweep
``value_and_grad(f)(x)``      (f(x), gradient)                   the same
``jacfwd(f)(x)``              Jacobian, out tree of x trees      forward: ceil(n / chunk) passes
``jacrev(f)(x)``              the same                           reverse: one recording,
                                                                 ceil(m / chunk) sweeps
``jacobian(f, mode=)(x)``     the same                           "forward", "reverse" or "auto"
                                                                 (:mod:`fwdrev.modes`)
``jvp(f, primals, tangents)`` (f(x), J v)                        forward: one pass
``vjp(f, *primals)``          (f(x), w -> w^T J)                 reverse: one recording
``hvp(f)(x, v)``              H v, x's tree                      forward-over-reverse: one pass
                                                                 of the gradient's recording
``hessian(f)(x)``             H, shape x.shape + x.shape         forward-over-reverse, chunked
============================  =================================  ==============================

Shapes follow JAX: a Jacobian leaf has shape ``out_leaf.shape + in_leaf.shape``; ``argnums``
(an int or a tuple) picks the differentiated arguments, a tuple giving a tuple of results.
Errors are the engines' (non-float inputs, unsupported functions, non-scalar outputs for
``grad``), raised before any result is returned.

Forward-over-reverse (Pearlmutter 1994, "Fast exact multiplication by the Hessian"): the
gradient is a recorded reverse sweep; a forward pass with direction v through that whole
computation gives H v at about the cost of a few gradients, whatever n is. A Hessian is n
such directions, carried ``chunk`` at a time.
"""
from __future__ import annotations

import functools
import threading

import numpy as np

import dualnum
import tapes
from adcore import calls

from .pytrees import Inputs, Output, is_leaf, leaf_shapes, unflatten


def inputs_of(args, argnums, where) -> Inputs:
    nums, single = calls.normalize_argnums(argnums, len(args), where)
    return Inputs.of(args, nums, single, where)


def leaf_function(f, inputs: Inputs, output: Output | None = None):
    """``f`` as a function of the differentiated leaves (and, with ``output``, returning one
    array: a pytree output flattened)."""
    def g(*leaves):
        out = f(*inputs.call_args(leaves))
        return out if output is None else output.flat(out)
    return g


# ------------------------------------------------------------------------------ first order
def _plain(args, argnums) -> bool:
    """Every differentiated argument is an array or a number: the engines take the call
    as it is (no flattening, none of its cost)."""
    nums = (argnums,) if np.ndim(argnums) == 0 else tuple(argnums)
    return all(isinstance(a, (int, np.integer)) and -len(args) <= a < len(args)
               and is_leaf(args[a]) for a in nums)


def value_and_grad(f, argnums=0, holomorphic=False):
    """``(f(*args), gradient)`` of a scalar-valued ``f`` by reverse mode; the gradient has
    the structure of the differentiated argument(s)."""
    plain = tapes.value_and_grad(f, argnums=argnums, holomorphic=holomorphic)

    @functools.wraps(f)
    def vg(*args):
        if _plain(args, argnums):
            return plain(*args)
        inputs = inputs_of(args, argnums, "fwdrev.grad")
        value, grads = tapes.value_and_grad(leaf_function(f, inputs), argnums=inputs.leaf_nums,
                                            holomorphic=holomorphic)(*inputs.leaves)
        return value, inputs.regroup(grads)
    return vg


def grad(f, argnums=0, holomorphic=False):
    """The gradient of a scalar-valued ``f`` (reverse mode: one recording, one sweep),
    with the structure of the differentiated argument(s)."""
    vg = value_and_grad(f, argnums, holomorphic)

    @functools.wraps(f)
    def g(*args):
        return vg(*args)[1]
    return g


def jacobian_by(engine, f, argnums, chunk, where):
    """The Jacobian function of ``f`` by ``engine`` (``dualnum`` or ``tapes``), on pytrees."""
    # the output's structure belongs to one call: kept per thread (and restored around a
    # call made from inside f), while the engine's function is built once
    state = threading.local()
    plain = engine.jacobian(lambda *a: state.output.flat(f(*a)), argnums=argnums, chunk=chunk)

    @functools.wraps(f)
    def jac(*args):
        if _plain(args, argnums):
            outer = getattr(state, "output", None)
            state.output = output = Output()
            try:
                jacs = plain(*args)
            finally:
                state.output = outer
            if not output.is_tree:
                return jacs
            inputs = inputs_of(args, argnums, where)
            return assemble(inputs, output, jacs if not inputs.single else (jacs,))
        inputs = inputs_of(args, argnums, where)
        output = Output()
        jacs = engine.jacobian(leaf_function(f, inputs, output), argnums=inputs.leaf_nums,
                               chunk=chunk)(*inputs.leaves)
        return assemble(inputs, output, jacs)
    return jac


def assemble(inputs: Inputs, output: Output, jacs):
    """Per-leaf Jacobians of the flat output -> the output tree of input trees."""
    shapes = leaf_shapes(inputs.leaves)
    if not output.is_tree:
        return inputs.regroup(list(jacs))
    per_in = [output.split(j, s) for j, s in zip(jacs, shapes)]  # [in leaf][out leaf]
    rows = [[per_in[i][o] for i in range(len(per_in))] for o in range(len(output.shapes))]
    return output.tree_of([inputs.regroup(r) for r in rows])


def jacfwd(f, argnums=0, chunk=None):
    """The Jacobian by forward mode: ``ceil(n / chunk)`` passes of ``chunk`` directions
    (n: the number of input entries). Cheaper than :func:`jacrev` when n < m."""
    return jacobian_by(dualnum, f, argnums, chunk, "fwdrev.jacfwd")


def jacrev(f, argnums=0, chunk=None):
    """The Jacobian by reverse mode: one recording, ``ceil(m / chunk)`` sweeps of ``chunk``
    cotangents (m: the number of output entries). Cheaper than :func:`jacfwd` when m < n."""
    return jacobian_by(tapes, f, argnums, chunk, "fwdrev.jacrev")


def jvp(f, primals, tangents):
    """``(f(*primals), J v)`` by one forward pass; ``tangents`` has the structure of
    ``primals`` (a tuple of trees), the result that of the output."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError("fwdrev.jvp: primals and tangents must have the same length")
    inputs = inputs_of(primals, tuple(range(len(primals))), "fwdrev.jvp")
    t_leaves = inputs.check_like(tangents, "the tangent", "fwdrev.jvp")
    output = Output()
    out, t = dualnum.jvp(leaf_function(f, inputs, output), inputs.leaves, t_leaves)
    return output.value(out), output.value(t)


def vjp(f, *primals):
    """``(f(*primals), vjp_fn)``: ``vjp_fn(w)`` (``w`` with the output's structure) returns
    one cotangent per primal, each with that primal's structure. One recording; each call
    of ``vjp_fn`` is one sweep."""
    inputs = inputs_of(primals, tuple(range(len(primals))), "fwdrev.vjp")
    output = Output()
    out, pullback = tapes.vjp(leaf_function(f, inputs, output), *inputs.leaves)

    def vjp_fn(w):
        if output.is_tree:  # complex cotangents stay complex: no cast here
            w = output.flat_like(w, "the cotangent", "fwdrev.vjp")
        cots = pullback(w)
        trees, start = [], 0
        for treedef, n in inputs.specs:
            trees.append(unflatten(treedef, list(cots[start:start + n])))
            start += n
        return tuple(trees)
    return output.value(out), vjp_fn


# ------------------------------------------------------------------------------ second order
def hvp(f, argnums=0):
    """``hvp(f)(*args, v)``: the Hessian of a scalar ``f`` times ``v``, by forward-over-
    reverse: one forward pass, direction v, through the recorded gradient -- a small
    constant times a gradient's cost, whatever n is.

    ``v`` has the structure and leaf shapes of the differentiated argument (a tuple of such
    trees for a tuple ``argnums``); the result has the same. ``ValueError`` if ``v`` does
    not; the engines' errors otherwise (non-scalar ``f``, non-float leaves)."""
    def h(*args_and_v):
        *args, v = args_and_v
        inputs = inputs_of(args, argnums, "fwdrev.hvp")
        v_leaves = inputs.check_like((v,) if inputs.single else tuple(v), "v", "fwdrev.hvp")
        gradient = tapes.grad(leaf_function(f, inputs), argnums=inputs.leaf_nums)
        output = Output()  # the gradient: a tuple of leaves, carried as one flat vector
        _, hv = dualnum.jvp(lambda *leaves: output.flat(gradient(*leaves)), inputs.leaves,
                            v_leaves)
        return inputs.regroup(list(output.value(hv)))
    return h


def hessian(f, argnums=0, chunk=None):
    """The Hessian of a scalar ``f``, shape ``x.shape + x.shape`` (for trees: a tree of
    trees, as JAX), by forward-over-reverse: forward passes of ``chunk`` directions through
    the recorded gradient, ``ceil(n / chunk)`` of them."""
    def hess(*args):
        inputs = inputs_of(args, argnums, "fwdrev.hessian")
        gradient = tapes.grad(leaf_function(f, inputs), argnums=inputs.leaf_nums)
        output = Output()
        jacs = dualnum.jacobian(lambda *leaves: output.flat(gradient(*leaves)),
                                argnums=inputs.leaf_nums, chunk=chunk)(*inputs.leaves)
        # the gradient is a tuple of leaves: its Jacobian, a tuple (one per gradient leaf) of
        # input trees, regrouped into the input's structure -- a tree of trees, as JAX's
        return inputs.regroup(list(assemble(inputs, output, jacs)))
    return hess
