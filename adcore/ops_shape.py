"""Shape and selection functions (tril, diag, pad, roll, sort, median, diff, cumprod, ...).

Every function here is a *composite*: a builder with NumPy's signature that computes the
result from registered ops, so forward mode, reverse mode and every nesting differentiate
it with no rule of its own. The building blocks, and why:

* selections are selections: ``np.where(mask, x, 0.0)``, a gather ``x[idx]``, basic
  slices and ``np.concatenate`` with constant blocks. An entry that does not come from
  ``x`` is then a *structural* zero of the derivative (adcore.rules), so an inf or NaN
  tangent of a masked-out entry never leaks -- never a product with a 0/1 mask, whose
  zeros are structural only while the mask stays a plain constant;
* data-dependent orders (sort, partition, median, percentile) read a permutation off the
  plain value with ``np.argsort`` on the traced value -- a non-differentiable call that
  tapes record as a replay guard -- and then gather through it. Ties follow NumPy's
  stable sort: tied entries keep their index order, so the derivative is the one-sided
  derivative for directions that keep that order (a permutation, never an average);
* running products are a Hillis-Steele scan of multiplies (exact at zeros: the
  derivative of a product with a 0 in it is the product of the others, not 0/0).
"""
import operator

import numpy as np

from .composites import _at_least
from .errors import MutationError, UnsupportedOpError
from .linear import normalize_axes
from .ops_structural import _cumprod_last
from .registry import Domain, Example, defcomposite
from .tracing import Traced, call_nondiff, cast, value_of


def _composite(func, examples=()):
    return defcomposite((func,), examples=examples)


# ----------------------------------------------------------------------------- helpers
def _axis(axis, ndim):
    """One axis, normalised like NumPy's (AxisError when out of range)."""
    return normalize_axes(operator.index(axis), ndim)[0]


def _along(axis, key):
    """An index that applies ``key`` to ``axis`` and takes everything elsewhere."""
    return (slice(None),) * axis + (key,)


def _dtype(a):
    """The float dtype of a result made from ``a`` (float32 stays float32)."""
    return np.result_type(value_of(a), np.float32)


def _real_dtype(a):
    """The real counterpart of :func:`_dtype` (float32 for complex64): the dtype of
    coefficients that multiply ``a``."""
    return np.finfo(_dtype(a)).dtype


def _constant_block(a, axis, width, value):
    """A plain block of ``value`` shaped like ``a`` but ``width`` long along ``axis``."""
    shape = list(np.shape(a))
    shape[axis] = width
    return np.full(shape, value, dtype=_dtype(a))


def _pad_axis_constant(a, axis, before, after, value_before=0.0, value_after=0.0):
    """``a`` with constant blocks joined on both sides of ``axis`` (structural zeros of
    the derivative: they do not depend on ``a``)."""
    parts = ([_constant_block(a, axis, before, value_before)] if before else []) + [a] + (
        [_constant_block(a, axis, after, value_after)] if after else [])
    return a if len(parts) == 1 else np.concatenate(parts, axis=axis)


def _take_along(a, idx, axis):
    """``np.take_along_axis(a, idx, axis)`` as one gather (``idx`` plain integers)."""
    shape = np.shape(a)
    nd = len(shape)
    key = tuple(idx if d == axis else
                np.arange(shape[d]).reshape(tuple(-1 if e == d else 1 for e in range(nd)))
                for d in range(nd))
    return a[key]


def _check_out(name, out=None, dtype=None):
    if out is not None:
        raise MutationError(f"{name}(..., out=...) writes in place; use the returned value instead")
    if dtype is not None and not np.issubdtype(np.dtype(dtype), np.floating):
        raise UnsupportedOpError(name, f"dtype={dtype} would drop the derivative")


def _axes_to_last(a, axis):
    """``(b, keep_shape)``: ``a`` with the reduced axes (None: all) moved to the end and
    merged into one last axis, and the shape a ``keepdims=True`` result has."""
    shape = np.shape(a)
    nd = len(shape)
    axes = normalize_axes(axis, nd)
    kept = [d for d in range(nd) if d not in axes]
    if kept + list(axes) != list(range(nd)):
        a = np.transpose(a, kept + list(axes))
    n = int(np.prod([shape[d] for d in axes], dtype=int))
    b = np.reshape(a, tuple(shape[d] for d in kept) + (n,))
    return b, tuple(1 if d in axes else shape[d] for d in range(nd))


# ----------------------------------------------------------------------------- triangles
@_composite(np.tril, examples=(
        Example(lambda x: np.tril(x), ((3, 4),), label="matrix"),
        Example(lambda x: np.tril(x, k=-1), ((2, 3, 3),), label="batch k=-1"),
        Example(lambda x: np.tril(x, 1), ((3,),), label="1-D -> matrix")))
def _tril(m, k=0):
    """(..., N, M) -> (..., N, M): entries above diagonal ``k`` are structural zeros."""
    mask = np.tri(*np.shape(m)[-2:], k=k, dtype=bool)
    return np.where(mask, m, 0.0)


@_composite(np.triu, examples=(
        Example(lambda x: np.triu(x), ((4, 3),), label="matrix"),
        Example(lambda x: np.triu(x, k=2), ((2, 3, 4),), label="batch k=2")))
def _triu(m, k=0):
    mask = np.tri(*np.shape(m)[-2:], k=k - 1, dtype=bool)
    return np.where(mask, 0.0, m)


# ----------------------------------------------------------------------------- diagonals
def _diagonal_matrix(v, k):
    """(n,) -> (n + |k|, n + |k|) with ``v`` on diagonal ``k``, from basic ops only:
    the rows [v_i, 0, ..., 0] (n zeros) laid end to end put v_i at flat index i (n + 1),
    the diagonal of an n x n matrix; constant zero blocks then shift it to diagonal k."""
    n = np.shape(v)[0]
    rows = np.concatenate([np.reshape(v, (n, 1)), np.zeros((n, n), _dtype(v))], axis=1)
    d = np.reshape(np.reshape(rows, (-1,))[: n * n], (n, n))
    up, low = max(k, 0), max(-k, 0)
    return _pad_axis_constant(_pad_axis_constant(d, 0, low, up), 1, up, low)


@_composite(np.diagonal, examples=(
        Example(lambda x: np.diagonal(x), ((3, 4),), label="matrix"),
        Example(lambda x: np.diagonal(x, offset=-1, axis1=2, axis2=0), ((3, 2, 4),),
                label="offset -1, axes (2, 0)"),
        Example(lambda x: np.diagonal(x, 5), ((3, 4),), label="empty")))
def _diagonal(a, offset=0, axis1=0, axis2=1):
    """(..., N, M) on axes (axis1, axis2) -> (..., d): a strided basic slice of the
    flattened matrices (entry (i, i + offset) is at flat i (M + 1) + offset)."""
    nd = np.ndim(a)
    if nd < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    ax1, ax2 = _axis(axis1, nd), _axis(axis2, nd)
    if ax1 == ax2:
        raise ValueError("axis1 and axis2 cannot be the same")
    if (ax1, ax2) != (nd - 2, nd - 1):
        a = np.moveaxis(a, (ax1, ax2), (-2, -1))
    *lead, rows, cols = np.shape(a)
    offset = operator.index(offset)
    if offset >= 0:
        d, start = max(0, min(rows, cols - offset)), offset
    else:
        d, start = max(0, min(rows + offset, cols)), -offset * cols
    flat = np.reshape(a, tuple(lead) + (rows * cols,))
    if d == 0:
        return flat[..., :0]
    return flat[..., start: start + (d - 1) * (cols + 1) + 1: cols + 1]


@_composite(np.diag, examples=(
        Example(lambda v: np.diag(v), ((3,),), label="vector -> matrix"),
        Example(lambda v: np.diag(v, k=-2), ((2,),), label="k=-2"),
        Example(lambda x: np.diag(x, 1), ((3, 4),), label="matrix -> diagonal")))
def _diag(v, k=0):
    k = operator.index(k)
    if np.ndim(v) == 1:
        return _diagonal_matrix(v, k)
    if np.ndim(v) == 2:
        return _diagonal(v, k)
    raise ValueError("Input must be 1- or 2-d.")


@_composite(np.diagflat, examples=(
        Example(lambda v: np.diagflat(v, 1), ((2, 2),), label="2-D, k=1"),))
def _diagflat(v, k=0):
    return _diagonal_matrix(np.ravel(v), operator.index(k))


# ----------------------------------------------------------------------------- repeat, tile, roll
@_composite(np.repeat, examples=(
        Example(lambda x: np.repeat(x, 2), ((2, 2),), label="scalar, flattened"),
        Example(lambda x: np.repeat(x, [2, 0, 1], axis=1), ((2, 3),), label="array, axis 1"),
        Example(lambda x: np.repeat(x, 3, axis=-1), ((2, 1, 2),), label="scalar, 3-D")))
def _repeat(a, repeats, axis=None):
    if axis is None:
        a, axis = np.ravel(a), 0
    shape = np.shape(a)
    axis = _axis(axis, len(shape))
    reps = np.asarray(value_of(repeats))
    if not np.issubdtype(reps.dtype, np.integer) and reps.size:
        raise TypeError("repeats must be integers")
    if reps.size == 1:  # the same count everywhere: a broadcast, then a reshape
        r = int(reps.ravel()[0])
        if r < 0:
            raise ValueError("repeats may not contain negative values.")
        wide = np.broadcast_to(np.expand_dims(a, axis + 1),
                               shape[: axis + 1] + (r,) + shape[axis + 1:])
        return np.reshape(wide, shape[:axis] + (shape[axis] * r,) + shape[axis + 1:])
    return a[_along(axis, np.repeat(np.arange(shape[axis]), reps))]


@_composite(np.tile, examples=(
        Example(lambda x: np.tile(x, 2), ((3,),), label="1-D"),
        Example(lambda x: np.tile(x, (2, 1, 2)), ((2, 3),), label="more reps than dims"),
        Example(lambda x: np.tile(x, 2), ((2, 1, 2),), label="fewer reps than dims")))
def _tile(A, reps):
    """Each axis s of A (after NumPy's promotion) as (1, s), broadcast to (r, s), merged."""
    reps = tuple(int(r) for r in np.atleast_1d(reps))
    shape = np.shape(A)
    if len(shape) < len(reps):
        shape = (1,) * (len(reps) - len(shape)) + shape
    reps = (1,) * (len(shape) - len(reps)) + reps
    split = np.reshape(A, tuple(x for s in shape for x in (1, s)))
    wide = np.broadcast_to(split, tuple(x for r, s in zip(reps, shape) for x in (r, s)))
    return np.reshape(wide, tuple(r * s for r, s in zip(reps, shape)))


@_composite(np.roll, examples=(
        Example(lambda x: np.roll(x, 2), ((2, 3),), label="flattened"),
        Example(lambda x: np.roll(x, (1, -1, 3), axis=(0, 1, 0)), ((3, 4),), label="tuples"),
        Example(lambda x: np.roll(x, -1, axis=-1), ((2, 2, 3),), label="3-D")))
def _roll(a, shift, axis=None):
    """Per axis, the last ``s`` entries then the first ``n - s``: two slices, joined."""
    if axis is None:
        return np.reshape(_roll(np.ravel(a), shift, 0), np.shape(a))
    shape = np.shape(a)
    total = {}
    for s, ax in np.broadcast(shift, axis):  # repeated axes add up, as in NumPy
        ax = _axis(ax, len(shape))
        total[ax] = total.get(ax, 0) + int(s)
    for ax, s in sorted(total.items()):
        n = shape[ax]
        s = s % n if n else 0
        if s:
            a = np.concatenate([a[_along(ax, slice(n - s, None))],
                                a[_along(ax, slice(None, n - s))]], axis=ax)
    return a


# ----------------------------------------------------------------------------- pad
_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")
_PAD_KWARGS = {"constant": {"constant_values"}, "reflect": {"reflect_type"},
               "symmetric": {"reflect_type"}, "edge": set(), "wrap": set()}


def _as_pairs(x, ndim, as_index=False):
    """``x`` as ``ndim`` pairs (before, after), broadcast as ``np.pad`` does: a scalar,
    one pair, one value per axis ([[1], [2]]) or one pair per axis."""
    x = np.array(x)
    if as_index:
        x = np.round(x).astype(np.intp)
        if x.size and x.min() < 0:
            raise ValueError("index can't contain negative values")
    if x.ndim < 3:
        if x.size == 1:
            x = x.ravel()
            return [(x[0], x[0])] * ndim
        if x.size == 2 and x.shape != (2, 1):
            x = x.ravel()
            return [(x[0], x[1])] * ndim
    return np.broadcast_to(x, (ndim, 2)).tolist()


def _pad_widths(pad_width, ndim):
    if isinstance(pad_width, dict):  # NumPy >= 2.3: {axis: width or (before, after)}
        seq = [(0, 0)] * ndim
        for ax, w in pad_width.items():
            seq[ax] = (w, w) if np.ndim(w) == 0 else tuple(w)
        pad_width = seq
    pad_width = np.asarray(pad_width)
    if pad_width.dtype.kind not in "iu":
        raise TypeError("`pad_width` must be of integral type.")
    return [(int(b), int(e)) for b, e in _as_pairs(pad_width, ndim, as_index=True)]


def _pad_axis_linear(a, axis, before, after, mode, reflect_type):
    """Pad one axis by a linear map of its entries: a gather for edge, wrap and the even
    reflections (each new entry is a copy); for reflect_type='odd' each new entry is
    2 * edge - mirror (repeatedly, for wide pads), a short sum of gathers."""
    n = np.shape(a)[axis]
    if n == 0:
        raise ValueError(f"can't extend empty axis {axis} using modes other than "
                         "'constant' or 'empty'")
    if reflect_type != "odd" or mode not in ("reflect", "symmetric"):
        return a[_along(axis, np.pad(np.arange(n), (before, after), mode=mode))]
    # the map as a matrix (rows: output entries); its non-zeros as terms coef * a[idx]
    # in a's real dtype (small integers, exact): float64 coefficients would make a float32
    # pad float64, where NumPy's stays float32
    rows = np.pad(np.eye(n, dtype=_real_dtype(a)), ((before, after), (0, 0)), mode=mode,
                  reflect_type="odd")
    nonzero = rows != 0
    order = np.argsort(~nonzero, axis=1, kind="stable")[:, : nonzero.sum(axis=1).max()]
    coefs = np.take_along_axis(rows, order, axis=1)
    shape = [1] * np.ndim(a)
    shape[axis] = -1
    out = None
    for idx, coef in zip(order.T, coefs.T):
        term = a[_along(axis, idx)]
        if np.any(coef != 1):
            c = coef.reshape(shape)
            term = np.where(c != 0, term * c, 0.0)  # rows with fewer terms: structural 0
        out = term if out is None else out + term
    return out


@_composite(np.pad, examples=(
        Example(lambda x: np.pad(x, 1), ((2, 3),), label="constant"),
        Example(lambda x: np.pad(x, ((1, 2), (0, 1)), constant_values=((1.0, 2.0), (3.0, 4.0))),
                ((2, 2),), label="constant values per side"),
        Example(lambda x: np.pad(x, (2, 3), mode="reflect"), ((4,),), label="reflect"),
        Example(lambda x: np.pad(x, {0: 1, 2: (4, 1)}, mode="wrap"), ((2, 1, 3),),
                label="wrap, dict, 3-D"),
        Example(lambda x: np.pad(x, ((0, 0), (5, 2)), mode="symmetric", reflect_type="odd"),
                ((2, 3),), label="symmetric odd, wide"),
        Example(lambda x: np.pad(x, [[1], [2]], mode="edge"), ((2, 2),), label="edge")))
def _pad(array, pad_width, mode="constant", **kwargs):
    """Modes constant (constant_values: plain numbers, per axis and side), edge, reflect,
    symmetric (reflect_type 'even' or 'odd') and wrap, with pad_width in any of NumPy's
    forms (int, pair, pair per axis, dict). Axis by axis, as NumPy: later axes pad the
    already padded array, so they fill the corners. Constant blocks are structural zeros
    of the derivative; the other modes copy entries (a gather), except odd reflections,
    which are 2 * edge - mirror. The statistic modes (maximum, mean, median, minimum),
    linear_ramp, empty and a callable mode raise UnsupportedOpError."""
    if callable(mode) or mode not in _PAD_MODES:
        raise UnsupportedOpError(
            "np.pad", f"mode={mode!r}; supported modes: {', '.join(map(repr, _PAD_MODES))}")
    unexpected = set(kwargs) - _PAD_KWARGS[mode]
    if unexpected:
        raise ValueError(f"unsupported keyword arguments for mode '{mode}': {unexpected}")
    nd = np.ndim(array)
    widths = _pad_widths(pad_width, nd)
    if mode == "constant":
        values = kwargs.get("constant_values", 0)
        if isinstance(values, Traced):
            raise UnsupportedOpError("np.pad", "a traced constant_values (use np.concatenate "
                                     "with np.broadcast_to blocks)")
        for axis, ((b, e), (vb, ve)) in enumerate(zip(widths, _as_pairs(values, nd))):
            array = _pad_axis_constant(array, axis, b, e, vb, ve)
        return array
    reflect_type = kwargs.get("reflect_type", "even")
    for axis, (b, e) in enumerate(widths):
        if b or e:
            array = _pad_axis_linear(array, axis, b, e, mode, reflect_type)
    return array


# ----------------------------------------------------------------------------- flips, rotations
@_composite(np.fliplr, examples=(Example(lambda x: np.fliplr(x), ((2, 3),)),))
def _fliplr(m):
    if np.ndim(m) < 2:
        raise ValueError("Input must be >= 2-d.")
    return m[:, ::-1]


@_composite(np.flipud, examples=(Example(lambda x: np.flipud(x), ((3, 2),)),))
def _flipud(m):
    if np.ndim(m) < 1:
        raise ValueError("Input must be >= 1-d.")
    return m[::-1, ...]


@_composite(np.rot90, examples=(
        Example(lambda x: np.rot90(x), ((2, 3),), label="k=1"),
        Example(lambda x: np.rot90(x, 3, axes=(2, 0)), ((2, 3, 4),), label="k=3, axes (2, 0)"),
        Example(lambda x: np.rot90(x, -2), ((2, 3),), label="k=-2")))
def _rot90(m, k=1, axes=(0, 1)):
    axes = tuple(axes)
    nd = np.ndim(m)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    if axes[0] == axes[1] or abs(axes[0] - axes[1]) == nd:
        raise ValueError("Axes must be different.")
    if not all(-nd <= ax < nd for ax in axes):
        raise ValueError(f"Axes={axes} out of range for array of ndim={nd}.")
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return np.flip(np.flip(m, axes[0]), axes[1])
    perm = list(range(nd))
    a0, a1 = axes[0] % nd, axes[1] % nd
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return np.transpose(np.flip(m, axes[1]), perm)
    return np.flip(np.transpose(m, perm), axes[1])


@_composite(np.rollaxis, examples=(
        Example(lambda x: np.rollaxis(x, 2), ((2, 3, 4),), label="to front"),
        Example(lambda x: np.rollaxis(x, 0, 3), ((2, 3, 4),), label="to end")))
def _rollaxis(a, axis, start=0):
    n = np.ndim(a)
    axis = _axis(axis, n)
    start = operator.index(start)
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise np.exceptions.AxisError(
            f"'start' arg requires {-n} <= start < {n + 1}, but {start} was passed in")
    if axis < start:
        start -= 1
    if axis == start:
        return a
    perm = [d for d in range(n) if d != axis]
    perm.insert(start, axis)
    return np.transpose(a, perm)


# ----------------------------------------------------------------------------- gathers
def _plain_indices(indices, name):
    if isinstance(indices, Traced):
        raise IndexError(f"{name}: a traced value cannot be used as an index (its derivative "
                         "would be dropped); index with plain integers")
    idx = np.asarray(indices)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise IndexError(f"{name}: indices must be integers, got {idx.dtype}")
    return idx.astype(np.intp)


# supersedes the getitem alias of np.take in adcore.ops_structural, which ignores mode=
@_composite(np.take, examples=(
        Example(lambda x: np.take(x, [[0, 5], [2, 2]]), ((2, 3),), label="flattened"),
        Example(lambda x: np.take(x, [3, -1, 0], axis=1, mode="wrap"), ((2, 3),), label="wrap"),
        Example(lambda x: np.take(x, [-2, 1, 7], axis=0, mode="clip"), ((3, 2),), label="clip")))
def _take(a, indices, axis=None, out=None, mode="raise"):
    _check_out("np.take", out)
    if axis is None:
        a, axis = np.ravel(a), 0
    axis = _axis(axis, np.ndim(a))
    idx, n = _plain_indices(indices, "np.take"), np.shape(a)[axis]
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"clipmode must be one of 'clip', 'raise', or 'wrap' (got {mode!r})")
    if mode != "raise" and idx.size:
        if n == 0:
            raise IndexError("cannot do a non-empty take from an empty axes.")
        idx = idx % n if mode == "wrap" else np.clip(idx, 0, n - 1)
    return a[_along(axis, idx)]


@_composite(np.take_along_axis, examples=(
        Example(lambda x: np.take_along_axis(x, np.array([[2, 0], [1, 1]]), axis=1), ((2, 3),),
                label="axis 1"),
        Example(lambda x: np.take_along_axis(x, np.array([[[1]], [[0]]]), axis=0), ((2, 3, 2),),
                label="broadcast"),
        Example(lambda x: np.take_along_axis(x, np.array([5, 0]), axis=None), ((2, 3),),
                label="None")))
def _take_along_axis(arr, indices, axis=-1):
    idx = _plain_indices(indices, "np.take_along_axis")
    if axis is None:
        if idx.ndim != 1:
            raise ValueError("when axis=None, `indices` must have a single dimension.")
        arr, axis = np.ravel(arr), 0
    if idx.ndim != np.ndim(arr):
        raise ValueError("`indices` and `arr` must have the same number of dimensions")
    return _take_along(arr, idx, _axis(axis, np.ndim(arr)))


@_composite(np.select, examples=(
        Example(lambda a, b: np.select([np.array([True, False, False, True]),
                                        np.array([True, True, False, False])], [a, b * 2.0],
                                       default=a * b), ((4,), (4,)), label="first wins"),
        Example(lambda a: np.select([np.eye(3, dtype=bool)], [a]), ((3,),),
                label="broadcast, default 0")))
def _select(condlist, choicelist, default=0):
    """The first true condition picks its choice; nested np.where from the last one in,
    so an unpicked choice gets a structural zero."""
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(condlist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    for i, cond in enumerate(condlist):
        if not isinstance(cond, Traced) and np.asarray(cond).dtype != np.bool_:
            raise TypeError(f"invalid entry {i} in condlist: should be boolean ndarray")
    result = default
    for cond, choice in zip(condlist[::-1], choicelist[::-1]):
        result = np.where(cond, choice, result)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (*condlist, *choicelist, default)))
    return result if np.shape(result) == shape else np.broadcast_to(result, shape)


# ----------------------------------------------------------------------------- order statistics
def _sorted(a, axis):
    """``a`` sorted along ``axis`` as a gather through the stable argsort of its value
    (``np.argsort`` on the traced value: tapes record it as a replay guard)."""
    return _take_along(a, np.argsort(a, axis=axis, kind="stable"), axis)


@_composite(np.sort, examples=(
        Example(lambda x: np.sort(x), ((5,),), label="1-D"),
        Example(lambda x: np.sort(x, axis=0), ((3, 2, 2),), label="axis 0"),
        Example(lambda x: np.sort(x, axis=None), ((2, 3),), label="None")))
def _sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """Ties: tied entries keep their index order (stable), whatever ``kind`` says; the
    sorted values are the same for every kind."""
    if order is not None:
        raise UnsupportedOpError("np.sort", "order= (structured arrays)")
    if axis is None:
        a, axis = np.ravel(a), 0
    return _sorted(a, _axis(axis, np.ndim(a)))


def _partition_perm(a, kth, axis):
    """The gather ``p`` with ``take_along_axis(a, p, axis) == np.partition(a, kth, axis)``:
    NumPy's own arrangement, matched to the input through both stable sort orders (the
    j-th smallest output entry takes the j-th smallest input entry; ties in index order)."""
    part = np.partition(a, kth, axis=axis)
    perm = np.empty(np.shape(a), dtype=np.intp)
    np.put_along_axis(perm, np.argsort(part, axis=axis, kind="stable"),
                      np.argsort(a, axis=axis, kind="stable"), axis=axis)
    return perm


@_composite(np.partition, examples=(
        Example(lambda x: np.partition(x, 2), ((6,),), label="kth 2"),
        Example(lambda x: np.partition(x, (0, 2), axis=0), ((4, 3),), label="kth (0, 2), axis 0")))
def _partition(a, kth, axis=-1, kind="introselect", order=None):
    if order is not None:
        raise UnsupportedOpError("np.partition", "order= (structured arrays)")
    if axis is None:
        a, axis = np.ravel(a), 0
    axis = _axis(axis, np.ndim(a))
    perm = call_nondiff("np.partition", _partition_perm, (a,), {"kth": kth, "axis": axis})
    return _take_along(a, perm, axis)


@_composite(np.median, examples=(
        Example(lambda x: np.median(x), ((5,),), label="odd"),
        Example(lambda x: np.median(x, axis=1), ((3, 4),), label="even, axis 1"),
        Example(lambda x: np.median(x, axis=(0, 2), keepdims=True), ((2, 3, 2),),
                label="axes (0, 2), keepdims")))
def _median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The middle entry (odd n) or the mean of the two middle ones (even n) of the stable
    sort: at a tie the middle position's entry in index order gets the derivative. A slice
    with NaN has median NaN, as in NumPy."""
    _check_out("np.median", out)
    b, keep_shape = _axes_to_last(a, axis)
    n = np.shape(b)[-1]
    s = _sorted(b, np.ndim(b) - 1)
    med = np.mean(s[..., (n - 1) // 2: n // 2 + 1], axis=-1)
    if n:
        last = s[..., -1]  # NaN sorts last
        med = np.where(np.isnan(last), last, med)
    return np.reshape(med, keep_shape) if keepdims else med


def _quantile(name, a, q, axis, out, method, keepdims, weights, weak_q=False):
    """Linear interpolation between the neighbours of the virtual index (n - 1) q in the
    stable sort (NumPy's default method); the result has shape q.shape + reduced shape.
    ``q`` may be traced: the weight of the upper neighbour is differentiable in q.
    ``weak_q``: q was a Python number, so (as in NumPy) its weight is a Python float that
    does not promote a float32 ``a`` (an array q, or a NumPy float64 one, does)."""
    _check_out(name, out)
    if weights is not None:
        raise UnsupportedOpError(name, "weights= (only unweighted method='linear')")
    if method != "linear":
        raise UnsupportedOpError(name, f"method={method!r}; only method='linear' (the default) "
                                       "is differentiable here")
    if not isinstance(q, Traced):
        q = np.asarray(q)
        q = q.astype(np.float64) if q.dtype.kind in "biu" else q
    qv = np.asarray(value_of(q))
    if not np.all((qv >= 0) & (qv <= 1)):
        kind = "Percentiles must be in the range [0, 100]" if name == "np.percentile" else \
            "Quantiles must be in the range [0, 1]"
        raise ValueError(kind)
    b, keep_shape = _axes_to_last(a, axis)
    n = np.shape(b)[-1]
    s = np.moveaxis(_sorted(b, np.ndim(b) - 1), -1, 0)  # (n, ...kept)
    virtual = (n - 1) * q
    below = np.asarray(np.floor(virtual))  # a guard in tapes when q is traced
    lo = np.clip(below, 0, n - 1).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    gamma = virtual - below
    if weak_q:
        gamma = float(gamma)
    kept = np.ndim(b) - 1
    if np.ndim(q):
        gamma = np.reshape(gamma, np.shape(q) + (1,) * kept)
    prev, nxt = s[lo], s[hi]
    diff = nxt - prev
    # NumPy's _lerp: from the nearer end, so q = 0 and q = 1 hit the sorted ends exactly
    result = np.where(gamma >= 0.5, nxt - diff * (1 - gamma),
                      prev + diff * gamma)
    result = np.where(np.isnan(s[-1]), s[-1], result)  # a slice with NaN gives NaN
    return np.reshape(result, np.shape(q) + keep_shape) if keepdims else result


@_composite(np.percentile, examples=(
        Example(lambda x: np.percentile(x, 30.0), ((5,),), label="scalar q"),
        Example(lambda x: np.percentile(x, [10.0, 50.0, 100.0], axis=0, keepdims=True),
                ((4, 3),), label="array q, keepdims"),
        Example(lambda x, q: np.percentile(x, q), ((6,), ()),
                domains=(Domain(), Domain(5.0, 95.0, avoid=(20.0, 40.0, 60.0, 80.0))),
                label="traced q")))
def _percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                keepdims=False, *, weights=None):
    return _quantile("np.percentile", a, q / 100.0 if isinstance(q, Traced) else
                     np.true_divide(q, 100), axis, out, method, keepdims, weights,
                     weak_q=type(q) in (int, float))


@_composite(np.quantile, examples=(
        Example(lambda x: np.quantile(x, [0.0, 0.25, 0.9], axis=(1, 2)), ((2, 3, 2),),
                label="axes (1, 2)"),))
def _quantile_entry(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                    keepdims=False, *, weights=None):
    return _quantile("np.quantile", a, q, axis, out, method, keepdims, weights,
                     weak_q=type(q) in (int, float))


# ----------------------------------------------------------------------------- differences
def _diff_operand(x, a, axis):
    """A prepend/append value of np.diff: a scalar is broadcast to one slice of ``a``."""
    if np.ndim(x) == 0:
        shape = list(np.shape(a))
        shape[axis] = 1
        return np.broadcast_to(x, tuple(shape))
    return x


@_composite(np.diff, examples=(
        Example(lambda x: np.diff(x), ((5,),), label="1-D"),
        Example(lambda x: np.diff(x, n=2, axis=0), ((4, 3),), label="n=2, axis 0"),
        Example(lambda x, p: np.diff(x, prepend=p, append=1.5), ((3, 2), ()),
                label="prepend, append")))
def _diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    n = operator.index(n)
    if n == 0:
        return a
    if n < 0:
        raise ValueError("order must be non-negative but got " + repr(n))
    nd = np.ndim(a)
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _axis(axis, nd)
    parts = ([_diff_operand(prepend, a, axis)] if prepend is not np._NoValue else []) + [a] + (
        [_diff_operand(append, a, axis)] if append is not np._NoValue else [])
    if len(parts) > 1:
        a = np.concatenate(parts, axis=axis)
    for _ in range(n):
        a = a[_along(axis, slice(1, None))] - a[_along(axis, slice(None, -1))]
    return a


@_composite(np.ediff1d, examples=(
        Example(lambda x: np.ediff1d(x), ((2, 3),), label="flattened"),
        Example(lambda x, e: np.ediff1d(x, to_end=e, to_begin=[1.0, 2.0]), ((4,), (2,)),
                label="to_end, to_begin")))
def _ediff1d(ary, to_end=None, to_begin=None):
    """The differences, with to_begin/to_end in ary's dtype, as NumPy's (which refuses
    values that do not cast to it under the 'same_kind' rule)."""
    ary = np.ravel(ary)
    dtype = np.result_type(value_of(ary))

    def joined(x, name):
        x = x if isinstance(x, Traced) else np.asarray(x)
        if not np.can_cast(np.result_type(value_of(x)), dtype, casting="same_kind"):
            raise TypeError(f"dtype of `{name}` must be compatible with input `ary` under the "
                            "`same_kind` rule.")
        return np.ravel(x if np.result_type(value_of(x)) == dtype else cast(x, dtype))

    parts = [ary[1:] - ary[:-1]]
    if to_begin is not None:
        parts.insert(0, joined(to_begin, "to_begin"))
    if to_end is not None:
        parts.append(joined(to_end, "to_end"))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _spacing(dx, n):
    """One axis's spacing for np.gradient: a scalar, or the differences of coordinates
    (n of them) -- a scalar again when they are uniform, as NumPy reduces them."""
    if np.ndim(dx) == 0:
        return dx
    if np.ndim(dx) != 1:
        raise ValueError("distances must be either scalars or 1d")
    if np.shape(dx)[0] != n:
        raise ValueError("when 1d, distances must match the length of the corresponding "
                         "dimension")
    if not isinstance(dx, Traced):  # integer coordinates as floats (no modular differences)
        dx = np.asarray(dx)
        dx = dx.astype(np.float64) if dx.dtype.kind in "biu" else dx
    d = dx[1:] - dx[:-1]
    return d[0] if np.all(np.asarray(d == d[0])) else d


def _gradient_axis(f, axis, dx, edge_order, dtype):
    """np.gradient along one axis (NumPy's formulas, term by term): central differences
    inside, one-sided ones of order ``edge_order`` at both ends, joined. The coefficients
    (computed from the spacing) are taken in the real ``dtype`` of the result, as NumPy
    writes its result in f's dtype: float64 coordinates do not make a float32 f's
    gradient float64."""
    nd = np.ndim(f)

    def coef(c):  # a Python number stays weak; an array or NumPy scalar gets the dtype
        if type(c) in (int, float):  # (np.float64 is a float subclass: not weak)
            return c
        have = np.result_type(value_of(c))
        return c if have == dtype or have.kind == "c" else cast(c, dtype)

    def span(i, j):  # f at positions i:j along axis
        return f[_along(axis, slice(i, j))]

    def at(i):  # the one entry i along axis, the axis kept
        return span(i, i + 1 or None)

    def shaped(c):  # per-position coefficients broadcast along axis
        return np.reshape(c, tuple(-1 if d == axis else 1 for d in range(nd)))

    uniform = np.ndim(dx) == 0
    if uniform:
        inner = (span(2, None) - span(None, -2)) / coef(2.0 * dx)
    else:
        dx1, dx2 = dx[:-1], dx[1:]
        a = shaped(coef(-dx2 / (dx1 * (dx1 + dx2))))
        b = shaped(coef((dx2 - dx1) / (dx1 * dx2)))
        c = shaped(coef(dx1 / (dx2 * (dx1 + dx2))))
        inner = a * span(None, -2) + b * span(1, -1) + c * span(2, None)
    if edge_order == 1:
        first = (at(1) - at(0)) / coef(dx if uniform else dx[0])
        last = (at(-1) - at(-2)) / coef(dx if uniform else dx[-1])
    else:
        if uniform:
            a, b, c = -1.5 / dx, 2.0 / dx, -0.5 / dx
        else:
            d1, d2 = dx[0], dx[1]
            a, b, c = (-(2.0 * d1 + d2) / (d1 * (d1 + d2)), (d1 + d2) / (d1 * d2),
                       -d1 / (d2 * (d1 + d2)))
        first = coef(a) * at(0) + coef(b) * at(1) + coef(c) * at(2)
        if uniform:
            a, b, c = 0.5 / dx, -2.0 / dx, 1.5 / dx
        else:
            d1, d2 = dx[-2], dx[-1]
            a, b, c = (d2 / (d1 * (d1 + d2)), -(d2 + d1) / (d1 * d2),
                       (2.0 * d2 + d1) / (d2 * (d1 + d2)))
        last = coef(a) * at(-3) + coef(b) * at(-2) + coef(c) * at(-1)
    return np.concatenate([first, inner, last], axis=axis)


@_composite(np.gradient, examples=(
        Example(lambda f: np.gradient(f), ((5,),), label="1-D"),
        Example(lambda f: np.gradient(f, 0.5, axis=1, edge_order=2), ((2, 4),),
                label="spacing, edge_order 2"),
        Example(lambda f: np.stack(np.gradient(f, np.array([0.0, 0.5, 1.5]), 2.0)), ((3, 3),),
                label="coordinates, both axes"),
        Example(lambda f, h: np.gradient(f, h, edge_order=2), ((4,), ()),
                domains=(Domain(), Domain(0.5, 2.0)), label="traced spacing")))
def _gradient(f, *varargs, axis=None, edge_order=1):
    nd = np.ndim(f)
    axes = tuple(range(nd)) if axis is None else tuple(_axis(a, nd) for a in np.atleast_1d(axis))
    if len(set(axes)) != len(axes):
        raise ValueError("repeated axis")
    shape = np.shape(f)
    if not varargs:
        dxs = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        dxs = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        dxs = [_spacing(d, shape[ax]) for d, ax in zip(varargs, axes)]
    else:
        raise TypeError("invalid number of arguments")
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    # NumPy's result has f's dtype (float64 for an integer f): its coefficients' real dtype
    ftype = np.result_type(value_of(f))
    dtype = np.finfo(ftype if np.issubdtype(ftype, np.inexact) else np.float64).dtype
    out = []
    for ax, dx in zip(axes, dxs):
        if shape[ax] < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, "
                             "at least (edge_order + 1) elements are required.")
        out.append(_gradient_axis(f, ax, dx, edge_order, dtype))
    return out[0] if len(out) == 1 else tuple(out)


# ----------------------------------------------------------------------------- running products
def _cumprod_along(a, axis):
    """Running product along ``axis``: a scan of multiplies (adcore.ops_structural's
    Hillis-Steele ``_cumprod_last``), so a 0 entry gives the exact product of the others."""
    moved = np.moveaxis(a, axis, -1)
    return np.moveaxis(_cumprod_last(moved), -1, axis)


@_composite(np.cumprod, examples=(
        Example(lambda x: np.cumprod(x), ((2, 3),), label="flattened"),
        Example(lambda x: np.cumprod(x, axis=0), ((5, 2),), label="axis 0"),
        Example(lambda x: np.cumprod(x * np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])), ((6,),),
                label="with zeros")))
def _cumprod(a, axis=None, dtype=None, out=None):
    _check_out("np.cumprod", out, dtype)
    if axis is None:
        a, axis = np.ravel(a), 0
    return _cumprod_along(a, _axis(axis, np.ndim(a)))


def _cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    _check_out("np.cumulative_prod", out, dtype)
    if axis is None:
        if np.ndim(x) > 1:
            raise ValueError("For arrays which have more than one dimension ``axis`` "
                             "argument is required.")
        axis = 0
    axis = _axis(axis, np.ndim(x))
    if include_initial:
        x = _pad_axis_constant(x, axis, 1, 0, 1.0)
    return _cumprod_along(x, axis)


if hasattr(np, "cumulative_prod"):  # NumPy >= 2.1
    _composite(np.cumulative_prod, examples=(
        Example(lambda x: np.cumulative_prod(x, axis=1, include_initial=True), ((2, 3),),
                label="include_initial"),))(_cumulative_prod)


# ----------------------------------------------------------------------------- ranges
@_composite(np.linspace, examples=(
        Example(lambda a, b: np.linspace(a, b, 5), ((), ()), label="scalars"),
        Example(lambda a, b: np.linspace(a, b, 4, endpoint=False, axis=-1), ((2,), (3, 1)),
                label="arrays, axis -1, no endpoint"),
        Example(lambda b: np.linspace(0.0, b, 1), ((2,),), label="num 1")))
def _linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
              device=None):
    """start + i * step along a new axis, step = (stop - start) / div; the last point is
    ``stop`` itself when ``endpoint`` (a selection: exact, as NumPy's)."""
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    _check_out("np.linspace", dtype=dtype)
    div = num - 1 if endpoint else num
    start, stop = (x if isinstance(x, (Traced, float, int, np.generic, np.ndarray))
                   else np.asarray(x) for x in (start, stop))  # Python numbers stay weak
    dt = np.result_type(value_of(start), value_of(stop))
    dt = dt if np.issubdtype(dt, np.inexact) else np.dtype(np.float64)
    delta = stop - start
    y = np.arange(0, num, dtype=dt).reshape((-1,) + (1,) * np.ndim(delta))
    if div > 0:
        step = delta / div
        if np.any(np.asarray(step == 0)):  # NumPy's path for denormal steps
            y = (y / div) * delta
        else:
            y = y * step
    else:
        step = np.nan
        y = y * delta
    y = y + start
    if endpoint and num > 1:
        # a plain stop in the result's dtype, as NumPy writes it into its result (a Python
        # float would otherwise make a float32 linspace float64)
        last = stop if isinstance(stop, Traced) else np.asarray(stop, dtype=dt)
        y = np.concatenate([y[:-1], np.broadcast_to(last, np.shape(delta))[None]], axis=0)
    if axis != 0:
        y = np.moveaxis(y, 0, axis)
    if dtype is not None:
        y = y.astype(dtype)
    return (y, step) if retstep else y


@_composite(np.logspace, examples=(
        Example(lambda a, b: np.logspace(a, b, 4, base=2.0), ((), ()), label="scalars"),))
def _logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    if not isinstance(base, (float, int)) and np.ndim(base):
        nd = max(np.ndim(start), np.ndim(stop), np.ndim(base))
        start, stop, base = (_at_least(x, nd) for x in (start, stop, base))
        base = np.expand_dims(base, axis)
    y = np.power(base, _linspace(start, stop, num=num, endpoint=endpoint, axis=axis))
    return y if dtype is None else y.astype(dtype)
