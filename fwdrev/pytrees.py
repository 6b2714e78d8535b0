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
    def of(cls, args, nums, single) -> "Inputs":
        specs, leaves = [], []
        for a in nums:
            ls, treedef = optree.tree_flatten(args[a])
            if not ls:
                raise ValueError(f"argument {a} has no array leaves to differentiate")
            specs.append((treedef, len(ls)))
            leaves.extend(ls)
        return cls(list(args), tuple(nums), single, specs, leaves)

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
        if treedef.num_leaves == 1 and not treedef.num_nodes > 1:  # a single array
            self.treedef, self.shapes = treedef, None
            return leaves[0]
        self.treedef = treedef
        self.shapes = [np.shape(value_of(leaf)) for leaf in leaves]
        if not leaves:
            raise ValueError("the function returned a tree with no array leaves")
        return np.concatenate([np.ravel(leaf) for leaf in leaves])

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
