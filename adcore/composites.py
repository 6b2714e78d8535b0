"""Joining and splitting arrays: composites of concatenate, reshape, broadcast_to and
basic slices (hstack, vstack, dstack, column_stack, block, append, split, atleast_*,
broadcast_arrays, meshgrid).

Each builder has NumPy's signature and is reached when some argument is traced; the
derivative comes from the registered ops it is made of (both modes, any nesting). Plain
arguments among traced ones are fine: registered ops accept them as constants, whose
entries in the result are structural zeros of the derivative.
"""
import numpy as np

from .linear import normalize_axes
from .registry import Example, defcomposite
from .tracing import Traced


def _composite(func, examples=()):
    return defcomposite((func,), examples=examples)


def _axis(axis, ndim):
    """One axis, normalised like NumPy's (AxisError when out of range)."""
    return normalize_axes(int(axis), ndim)[0]


def _arrays(tup, name):
    """The sequence of arrays NumPy's stacking functions take: a list/tuple, or an array
    iterated along its first axis (``np.hstack(x)`` of a 1-D ``x`` joins its elements)."""
    if isinstance(tup, (list, tuple)):
        return list(tup)
    if np.ndim(tup) == 0:
        raise TypeError(f"{name}: expects a sequence of arrays, got a 0-d value")
    return [tup[i] for i in range(np.shape(tup)[0])]


def _at_least(a, ndim):
    """``a`` with unit axes prepended up to ``ndim`` dimensions (as ``np.atleast_2d``
    and ``np.block`` do): a 0-d value becomes (1,) / (1, 1), a 1-D value (n,) -> (1, n)."""
    shape = np.shape(a)
    if len(shape) >= ndim:
        return a
    return np.reshape(a, (1,) * (ndim - len(shape)) + shape)


def _at_least_3d(a):
    """``np.atleast_3d`` of one value: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    shape = np.shape(a)
    new = {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}.get(len(shape), shape)
    return a if new == shape else np.reshape(a, new)


def _nonempty(arrs, name):
    if not arrs:
        raise ValueError(f"{name}: need at least one array to concatenate")
    return arrs


# ----------------------------------------------------------------------------- stacking
@_composite(np.hstack, examples=(
        Example(lambda a, b: np.hstack([a, b]), ((3,), (2,)), label="1-D"),
        Example(lambda a, b: np.hstack((a, b)), ((2, 1), (2, 3)), label="2-D")))
def _hstack(tup, *, dtype=None, casting="same_kind"):
    arrs = _nonempty([_at_least(a, 1) for a in _arrays(tup, "np.hstack")], "np.hstack")
    axis = 0 if np.ndim(arrs[0]) == 1 else 1
    return np.concatenate(arrs, axis=axis, dtype=dtype, casting=casting)


# np.row_stack (deprecated) calls np.vstack, so it is covered by this composite too
@_composite(np.vstack, examples=(
        Example(lambda a, b: np.vstack([a, b]), ((3,), (3,)), label="1-D"),
        Example(lambda a, b: np.vstack((a, b)), ((1, 3), (2, 3)), label="2-D")))
def _vstack(tup, *, dtype=None, casting="same_kind"):
    arrs = _nonempty([_at_least(a, 2) for a in _arrays(tup, "np.vstack")], "np.vstack")
    return np.concatenate(arrs, axis=0, dtype=dtype, casting=casting)


@_composite(np.dstack, examples=(
        Example(lambda a, b: np.dstack([a, b]), ((3,), (3,)), label="1-D"),
        Example(lambda a, b: np.dstack((a, b)), ((2, 3), (2, 3, 2)), label="2-D, 3-D")))
def _dstack(tup):
    arrs = _nonempty([_at_least_3d(a) for a in _arrays(tup, "np.dstack")], "np.dstack")
    return np.concatenate(arrs, axis=2)


def _as_column(a):
    """A column of ``np.column_stack``: () -> (1, 1), (n,) -> (n, 1); N-D unchanged."""
    shape = np.shape(a)
    return a if len(shape) >= 2 else np.reshape(a, (-1, 1) if shape else (1, 1))


@_composite(np.column_stack, examples=(
        Example(lambda a, b: np.column_stack([a, b]), ((3,), (3, 2)), label="1-D, 2-D"),))
def _column_stack(tup):
    arrs = _nonempty([_as_column(a) for a in _arrays(tup, "np.column_stack")],
                     "np.column_stack")
    return np.concatenate(arrs, axis=1)


def _atleast(func, convert):
    """``np.atleast_Nd(*arys)``: one array for one argument, a tuple for several."""
    def build(*arys):
        out = tuple(convert(a) if isinstance(a, Traced) else func(a) for a in arys)
        return out[0] if len(out) == 1 else out
    return build


_composite(np.atleast_1d, examples=(
    Example(lambda x: np.atleast_1d(x), ((),), label="0-d"),
    Example(lambda x, y: np.concatenate(np.atleast_1d(x, y)), ((), (2,)), label="two")))(
    _atleast(np.atleast_1d, lambda a: _at_least(a, 1)))
_composite(np.atleast_2d, examples=(
    Example(lambda x: np.atleast_2d(x), ((3,),), label="1-D"),))(
    _atleast(np.atleast_2d, lambda a: _at_least(a, 2)))
_composite(np.atleast_3d, examples=(
    Example(lambda x: np.atleast_3d(x), ((3,),), label="1-D"),
    Example(lambda x, y: np.concatenate(np.atleast_3d(x, y), axis=2), ((2, 3), (2, 3)),
            label="two 2-D")))(
    _atleast(np.atleast_3d, _at_least_3d))


def _block_depth(arrays, path="arrays"):
    """Nesting depth of the lists of ``np.block``, checked to be the same everywhere."""
    if isinstance(arrays, tuple):
        raise TypeError(f"{path} is a tuple. Only lists can be used to arrange blocks, and "
                        "np.block does not allow implicit conversion from tuple to ndarray.")
    if not isinstance(arrays, list):
        return 0
    if not arrays:
        raise ValueError(f"List at {path} cannot be empty")
    depths = {_block_depth(a, f"{path}[{i}]") for i, a in enumerate(arrays)}
    if len(depths) > 1:
        raise ValueError(f"List depths are mismatched in {path}")
    return 1 + depths.pop()


def _block_leaves(arrays):
    return [x for a in arrays for x in _block_leaves(a)] if isinstance(arrays, list) else [arrays]


# nested lists ([[a, b], [c, d]]) are built right here, but adcore.tracing lifts a nested
# list of traced values to one array before dispatch, so they are not in the examples
@_composite(np.block, examples=(
        Example(lambda a, b: np.block([a, b]), ((2, 2), (2, 1)), label="2-D side by side"),
        Example(lambda a, b: np.block([a, b, 1.0]), ((2,), (3,)), label="1-D and a scalar")))
def _block(arrays):
    """Innermost lists join along the last axis, the next ones along the one before, ...;
    every block first gets leading unit axes up to the result's number of dimensions."""
    depth = _block_depth(arrays)
    ndim = max([depth] + [np.ndim(x) for x in _block_leaves(arrays)])

    def build(item, level):
        if level == depth:
            return _at_least(item, ndim)
        return np.concatenate([build(x, level + 1) for x in item], axis=level - depth)

    return build(arrays, 0)


@_composite(np.append, examples=(
        Example(lambda a, b: np.append(a, b), ((2, 2), (3,)), label="flattened"),
        Example(lambda a, b: np.append(a, b, axis=0), ((2, 3), (1, 3)), label="axis 0")))
def _append(arr, values, axis=None):
    if axis is None:
        if np.ndim(arr) != 1:
            arr = np.ravel(arr)
        values, axis = np.ravel(values), np.ndim(arr) - 1
    return np.concatenate((arr, values), axis=axis)


# ----------------------------------------------------------------------------- splitting
def _split_bounds(n, indices_or_sections, equal):
    """[(start, stop)] of the pieces along an axis of length ``n``, as NumPy computes them:
    N sections -> the first n % N pieces one longer; indices -> Python slice bounds."""
    if np.ndim(indices_or_sections) == 0:
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0.")
        if equal and n % sections:
            raise ValueError("array split does not result in an equal division")
        each, extra = divmod(n, sections)
        points = np.cumsum([0] + [each + 1] * extra + [each] * (sections - extra)).tolist()
    else:
        points = [0] + [int(i) for i in indices_or_sections] + [n]
    return list(zip(points[:-1], points[1:]))


def _split_along(ary, indices_or_sections, axis, equal):
    nd = np.ndim(ary)
    axis = _axis(axis, nd)
    bounds = _split_bounds(np.shape(ary)[axis], indices_or_sections, equal)
    return [ary[(slice(None),) * axis + (slice(start, stop),)] for start, stop in bounds]


def _stacked(pieces):
    """One array from the pieces of a split (for the generated tests' single output)."""
    return np.concatenate([np.ravel(p) for p in pieces])


@_composite(np.split, examples=(
        Example(lambda x: _stacked(np.split(x, 3)), ((6,),), label="sections"),
        Example(lambda x: _stacked(np.split(x, [1, 3], axis=1)), ((2, 5),), label="indices")))
def _split(ary, indices_or_sections, axis=0):
    return _split_along(ary, indices_or_sections, axis, True)


@_composite(np.array_split, examples=(
        Example(lambda x: _stacked(np.array_split(x, 3, axis=-1)), ((2, 2, 4),),
                label="unequal"),))
def _array_split(ary, indices_or_sections, axis=0):
    return _split_along(ary, indices_or_sections, axis, False)


def _dim_split(name, min_ndim, axis_of):
    def build(ary, indices_or_sections):
        nd = np.ndim(ary)
        if nd < min_ndim:
            raise ValueError(f"{name} only works on arrays of {min_ndim} or more dimensions")
        return _split_along(ary, indices_or_sections, axis_of(nd), True)
    return build


_composite(np.hsplit, examples=(
    Example(lambda x: _stacked(np.hsplit(x, 2)), ((3, 4),), label="2-D"),
    Example(lambda x: _stacked(np.hsplit(x, [1])), ((3,),), label="1-D")))(
    _dim_split("hsplit", 1, lambda nd: 1 if nd > 1 else 0))
_composite(np.vsplit, examples=(
    Example(lambda x: _stacked(np.vsplit(x, [1, 2])), ((3, 2),), label="indices"),))(
    _dim_split("vsplit", 2, lambda nd: 0))
_composite(np.dsplit, examples=(
    Example(lambda x: _stacked(np.dsplit(x, 2)), ((1, 2, 4),), label="3-D"),))(
    _dim_split("dsplit", 3, lambda nd: 2))


# ----------------------------------------------------------------------------- broadcasting
@_composite(np.broadcast_arrays, examples=(
        Example(lambda a, b: np.stack(np.broadcast_arrays(a, b)), ((3, 1), (4,)), label="two"),))
def _broadcast_arrays(*args, subok=False):
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    return tuple(a if np.shape(a) == shape else np.broadcast_to(a, shape) for a in args)


@_composite(np.meshgrid, examples=(
        Example(lambda x, y: np.stack(np.meshgrid(x, y)), ((3,), (2,)), label="xy"),
        Example(lambda x, y, z: np.concatenate(
            [np.ravel(g) for g in np.meshgrid(x, y, z, indexing="ij", sparse=True)]),
                ((2,), (3,), (2,)), label="ij sparse")))
def _meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    ndim = len(xi)
    axes = list(range(ndim))
    if indexing == "xy" and ndim > 1:  # the first two inputs vary along columns, rows
        axes[0], axes[1] = 1, 0
    grids = [np.reshape(x, tuple(-1 if d == ax else 1 for d in range(ndim)))
             for x, ax in zip(xi, axes)]
    return tuple(grids) if sparse else _broadcast_arrays(*grids)

