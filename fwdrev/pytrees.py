"""Pytrees in and out of the derivative calls: dicts, lists, tuples and namedtuples of arrays.

The engines differentiate functions of arrays. A function of pytrees is turned into one of
its *leaves* (flattened by ``optree``, the library JAX's own flattening grew into), and the
results are put back with JAX's conventions:

* the gradient of ``f(params)`` has the structure of ``params``;
* a Jacobian is an output-structured tree of input-structured trees of arrays of shape
  ``out_leaf.shape + in_leaf.shape`` (a single array when both sides are single arrays);
* a pytree *output* is differentiated as one flat vector of its leaves (raveled and
  concatenated by registered ops), then split back.

Leaves are whatever ``optree`` treats as leaves (arrays and numbers; ``None`` is an empty
subtree, as in JAX).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import optree

from adcore import Traced, value_of


@dataclasses.dataclass
class Inputs:
    """The differentiated arguments of a call, flattened: ``leaves`` in order, and how to
    rebuild the call's arguments and to regroup per-leaf results into their trees."""

    args: list
    nums: tuple
    single: bool
    specs: list  # per differentiated argument: (treedef, number of leaves)
    leaves: list

    @classmethod
    def of(cls, args, nums, single, where="fwdrev") -> "Inputs":
        specs, leaves = [], []
        for a in nums:
            paths, ls, treedef = optree.tree_flatten_with_path(args[a])
            if not ls:
                raise ValueError(f"{where}: argument {a} has no array leaves to differentiate")
            for path, leaf in zip(paths, ls):
                _check_leaf(leaf, a, path, where)
            specs.append((treedef, len(ls)))
            leaves.extend(ls)
        return cls(list(args), tuple(nums), single, specs, leaves)

    def check_like(self, trees, what: str, where: str):
        """``trees`` (one per differentiated argument) have the arguments' structures and
        leaf shapes; returns their leaves. Raises ValueError naming the first difference."""
        leaves = []
        for (treedef, _), a, tree in zip(self.specs, self.nums, trees):
            ls, other = optree.tree_flatten(tree)
            if other != treedef:
                raise ValueError(f"{where}: {what} for argument {a} has the structure {other}, "
                                 f"the argument has {treedef}")
            leaves.extend(ls)
        for i, (x, t) in enumerate(zip(self.leaves, leaves)):
            if np.shape(value_of(t)) != np.shape(value_of(x)):
                raise ValueError(f"{where}: {what} leaf {i} has shape {np.shape(value_of(t))}, "
                                 f"the argument's leaf has {np.shape(value_of(x))}")
        return leaves

    def call_args(self, leaf_values) -> list:
        """The call's arguments with the differentiated ones rebuilt from ``leaf_values``."""
        args, start = list(self.args), 0
        for a, (treedef, n) in zip(self.nums, self.specs):
            args[a] = (leaf_values[start] if treedef.is_leaf() else
                       optree.tree_unflatten(treedef, list(leaf_values[start:start + n])))
            start += n
        return args

    def regroup(self, per_leaf):
        """One result per leaf -> one tree per differentiated argument (or the one tree)."""
        trees, start = [], 0
        for treedef, n in self.specs:
            trees.append(optree.tree_unflatten(treedef, list(per_leaf[start:start + n])))
            start += n
        return trees[0] if self.single else tuple(trees)

    @property
    def leaf_nums(self) -> tuple:
        return tuple(range(len(self.leaves)))


class Output:
    """The output side: records the output's tree on the first call, and makes a pytree
    output one flat vector (:meth:`flat`) whose Jacobian rows :meth:`split` takes apart."""

    def __init__(self):
        self.treedef = None
        self.shapes = None

    def flat(self, out):
        if isinstance(out, _LEAVES):  # the common case: one array, nothing to flatten
            self.treedef, self.shapes = None, None
            return out
        leaves, treedef = optree.tree_flatten(out)
        if treedef.num_leaves == 1 and treedef.num_nodes == 1:  # an object array (a leaf)
            self.treedef, self.shapes = None, None
            return out
        if treedef.num_leaves == 1 and not treedef.num_nodes > 1:  # a single array
            self.treedef, self.shapes = treedef, None
            return leaves[0]
        self.treedef = treedef
        self.shapes = [np.shape(value_of(leaf)) for leaf in leaves]
        if not leaves:
            raise ValueError("the function returned a tree with no array leaves")
        return np.concatenate([np.ravel(leaf) for leaf in leaves])

    def flat_like(self, tree, what: str, where: str):
        """A direction (cotangent) with the output's structure, as the flat vector; raises
        ValueError naming the first difference in structure or leaf shape."""
        leaves, treedef = optree.tree_flatten(tree)
        if treedef != self.treedef:
            raise ValueError(f"{where}: {what} has the structure {treedef}, the output has "
                             f"{self.treedef}")
        for i, (leaf, shape) in enumerate(zip(leaves, self.shapes)):
            if np.shape(leaf) != shape:
                raise ValueError(f"{where}: {what} leaf {i} has shape {np.shape(leaf)}, the "
                                 f"output's has {shape}")
        return np.concatenate([np.ravel(np.asarray(leaf)) for leaf in leaves])

    @property
    def is_tree(self) -> bool:
        return self.shapes is not None

    def value(self, flat_value):
        """The output in its own structure, from the flat value."""
        if not self.is_tree:
            return flat_value
        return optree.tree_unflatten(self.treedef, self._pieces(flat_value, ()))

    def split(self, jac, in_shape):
        """A Jacobian ``(total,) + in_shape`` as one ``leaf.shape + in_shape`` per leaf, in a
        list (or ``jac`` itself for a single-array output)."""
        if not self.is_tree:
            return jac
        return self._pieces(jac, in_shape)

    def tree_of(self, per_leaf):
        return optree.tree_unflatten(self.treedef, per_leaf) if self.is_tree else per_leaf

    def _pieces(self, flat, trailing):
        pieces, start = [], 0
        for shape in self.shapes:
            size = int(np.prod(shape, dtype=int))
            pieces.append(np.reshape(flat[start:start + size], shape + tuple(trailing)))
            start += size
        return pieces


_LEAVES = (np.ndarray, np.generic, float, int, complex, Traced)


def _check_leaf(leaf, argnum, path, where):
    """A differentiated leaf must hold floats (or complex numbers): the error names it."""
    kind = np.result_type(value_of(leaf)).kind if isinstance(leaf, _LEAVES) else "O"
    if kind not in "fc":
        from adcore import NonFloatInputError
        name = "".join(f"[{k!r}]" for k in path) or "itself"
        raise NonFloatInputError(
            f"{where}: argument {argnum}, leaf {name}, is {type(leaf).__name__} of dtype kind "
            f"{kind!r}, not floating point: derivatives need float (or complex) leaves. Make "
            "it a float array, or move it out of the differentiated argument.")


def is_leaf(x) -> bool:
    """An array or a number (or a traced one): no structure to flatten."""
    return isinstance(x, _LEAVES)


def leaf_shapes(leaves) -> list:
    return [np.shape(value_of(x)) for x in leaves]


def tree_map(fn, tree, *rest) -> Any:
    return optree.tree_map(fn, tree, *rest)


def flatten(tree):
    return optree.tree_flatten(tree)


def unflatten(treedef, leaves):
    return optree.tree_unflatten(treedef, leaves)
