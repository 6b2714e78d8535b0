"""Index normalisation, shared by ``getitem`` and ``index_add``.

A batch of tangents has its direction axis first, so ``t[(slice(None),) + index]``
applies ``index`` to every direction — except when the index has advanced (array)
indices that are not adjacent: NumPy then moves the advanced axes to the front, in
front of the batch axis. For that case the batch axis is moved to the back instead,
where no index reaches it.
"""
from __future__ import annotations

import dataclasses
import operator

import numpy as np

from .tracing import Traced


@dataclasses.dataclass(frozen=True, eq=False)
class Index:
    """A normalised index: a tuple with no Ellipsis and no boolean arrays."""

    key: tuple
    basic: bool  # only ints, slices and None: no duplicates, result is a view
    adjacent: bool  # the advanced entries (if any) are next to each other

    def __repr__(self):
        return f"Index({self.key!r})"


def normalize_index(index, shape) -> Index:
    if not isinstance(index, tuple):
        index = (index,)
    entries = []
    for item in index:
        if isinstance(item, Traced):
            raise IndexError(
                "a traced value cannot be used as an index (its derivative would be dropped); "
                "index with plain integers, slices or integer arrays"
            )
        # a list or tuple inside the index tuple is an index array, as NumPy reads it
        if isinstance(item, (list, tuple, np.ndarray)) or (hasattr(item, "__array__")
                                                           and not np.isscalar(item)):
            arr = np.asarray(item)
            if arr.ndim == 0 and np.issubdtype(arr.dtype, np.integer):
                entries.append(("int", int(arr)))
                continue
            if arr.dtype == bool:
                entries.append(("bool", arr))
                continue
            if not np.issubdtype(arr.dtype, np.integer):
                raise IndexError(f"arrays used as indices must be integer or boolean, got {arr.dtype}")
            entries.append(("array", arr))
        elif item is None or item is Ellipsis or isinstance(item, slice):
            entries.append(("basic", item))
        else:
            entries.append(("int", operator.index(item)))
    consumed = sum(e[1].ndim if e[0] == "bool" else (0 if e[1] is None or e[1] is Ellipsis else 1)
                   for e in entries)
    n_ellipsis = sum(1 for e in entries if e[1] is Ellipsis and e[0] == "basic")
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > len(shape):
        raise IndexError(f"too many indices: array is {len(shape)}-dimensional, but {consumed} were indexed")
    key, kinds = [], []
    for kind, item in entries:
        if kind == "basic" and item is Ellipsis:
            fill = len(shape) - consumed
            key += [slice(None)] * fill
            kinds += ["basic"] * fill
        elif kind == "bool":
            nz = np.nonzero(item)
            key += list(nz)
            kinds += ["array"] * len(nz)
        else:
            key.append(item)
            kinds.append(kind)
    has_array = "array" in kinds
    advanced = [i for i, k in enumerate(kinds) if k == "array" or (has_array and k == "int")]
    adjacent = not advanced or advanced == list(range(advanced[0], advanced[-1] + 1))
    return Index(tuple(key), basic=not has_array, adjacent=adjacent)


def take_batched(t, index: Index):
    """``t[index]`` for every direction of a batch ``t`` of shape ``(k,) + shape``."""
    if index.adjacent:
        return t[(slice(None),) + index.key]
    return np.moveaxis(np.moveaxis(t, 0, -1)[index.key], -1, 0)
