"""1-D numerical routines as composites of registered ops: polynomials (polyval, polyfit,
vander), convolution and correlation, linear interpolation, trapezoidal integration,
phase unwrapping, cumulative_sum, insert/delete, NaN-ignoring order statistics, and the
fill-value functions (full_like with a traced fill value; np.full and np.copyto refuse it
with the fix, since they write into a plain array).

Each is differentiable in every float argument the NumPy function reads as a value; the
integer-valued decisions (interpolation intervals, unwrap's multiples of 2 pi) are steps,
read on plain values and recorded as replay guards.
"""
import numpy as np

from . import registry
from .errors import MutationError, UnsupportedOpError
from .registry import Domain, Example, defcomposite
from .tracing import Traced, call_nondiff, value_of


def _composite(func, examples=()):
    return defcomposite((func,), examples=examples)


def _dtype_of(a):
    """The dtype of ``a``'s values (a traced value's, or NumPy's for a plain list)."""
    v = value_of(a)
    return v.dtype if isinstance(v, np.ndarray) else np.asarray(v).dtype


def _entries(p):
    """The entries of a 1-D coefficient sequence: an array (or a plain list, made one as
    NumPy does, so its entries have the array's dtype) indexed; a list holding traced
    entries as it is."""
    if isinstance(p, (list, tuple)):
        if not any(isinstance(e, Traced) for e in p):
            p = np.asarray(p)
        else:
            return list(p)
    if isinstance(p, np.poly1d):  # p[i] of a poly1d is the coefficient of x**i: use its array
        p = p.coeffs
    return [p[i] for i in range(np.shape(value_of(p))[0])]


# ----------------------------------------------------------------------------- polynomials
@_composite(np.polyval, examples=(
    Example(lambda p, x: np.polyval(p, x), ((4,), (5,)), label="coefficients and points"),
    Example(lambda x: np.polyval([1.0, -2.0, 0.5], x), ((3,),), label="plain coefficients"),
))
def _polyval(p, x):
    """Horner's rule: ((p0 x + p1) x + p2) ..., from zeros of x's dtype, as NumPy's
    (float32 points and coefficients give a float32 result)."""
    coeffs = _entries(p)
    zeros = np.zeros(np.shape(value_of(x)), dtype=_dtype_of(x))
    y = zeros + coeffs[0] if coeffs else zeros
    for c in coeffs[1:]:
        y = y * x + c
    return y


@_composite(np.vander, examples=(
    Example(lambda x: np.vander(x, 4), ((3,),), label="decreasing"),
    Example(lambda x: np.vander(x, increasing=True), ((3,),), label="increasing"),
))
def _vander(x, N=None, increasing=False):
    n = np.shape(value_of(x))[0] if N is None else int(N)
    powers = [x ** k for k in range(n)]  # x ** 0: the constant 1 (a structural zero derivative)
    cols = powers if increasing else powers[::-1]
    return np.stack(cols, axis=1) if cols else np.zeros((np.shape(value_of(x))[0], 0))


@_composite(np.polyfit, examples=(
    Example(lambda x, y: np.polyfit(x, y, 2), ((6,), (6,)), label="deg 2"),))
def _polyfit(x, y, deg, rcond=None, full=False, w=None, cov=False):
    """Least squares on the Vandermonde matrix, columns scaled as NumPy does."""
    if full or cov or w is not None:
        raise UnsupportedOpError("np.polyfit", "full=, cov= and w= (only the coefficients)")
    lhs = _vander(x, int(deg) + 1)
    scale = np.sqrt(np.sum(lhs * lhs, axis=0))
    c = np.linalg.lstsq(lhs / scale, y, rcond=rcond)[0]
    return (c.T / scale).T


# ----------------------------------------------------------------------------- convolution
def _convolve_full(a, v):
    """sum_m a[n - m] v[m] for n in 0..na+nv-2: a gather of a (a Toeplitz matrix, entries
    outside a from a constant 0) times v."""
    na, nv = np.shape(value_of(a))[0], np.shape(value_of(v))[0]
    n = np.arange(na + nv - 1)[:, None] - np.arange(nv)[None, :]
    idx = np.where((n >= 0) & (n < na), n, na)  # na: the appended 0
    a0 = np.concatenate([a, np.zeros(1, dtype=_dtype_of(a))])  # in a's dtype: float32 stays
    return a0[idx] @ v


def _mode_slice(full, na, nv, mode):
    if mode == "full":
        return full
    big, small = max(na, nv), min(na, nv)
    if mode == "same":
        start = (small - 1) // 2
        return full[start:start + big]
    if mode == "valid":
        return full[small - 1:big]
    raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")


@_composite(np.convolve, examples=(
    Example(lambda a, v: np.convolve(a, v), ((5,), (3,)), label="full"),
    Example(lambda a, v: np.convolve(a, v, "same"), ((3,), (5,)), label="same, short first"),
    Example(lambda a, v: np.convolve(a, v, mode="valid"), ((5,), (2,)), label="valid"),
))
def _convolve(a, v, mode="full"):
    na, nv = np.shape(value_of(a))[0], np.shape(value_of(v))[0]
    if na == 0 or nv == 0:
        raise ValueError("v cannot be empty" if nv == 0 else "a cannot be empty")
    return _mode_slice(_convolve_full(a, v), na, nv, mode)


@_composite(np.correlate, examples=(
    Example(lambda a, v: np.correlate(a, v), ((5,), (3,)), label="valid"),
    Example(lambda a, v: np.correlate(a, v, "full"), ((3,), (4,)), label="full"),
))
def _correlate(a, v, mode="valid"):
    """sum_n a[n + k] conj(v[n]): the convolution with conj(v) reversed."""
    return _convolve(a, np.conjugate(v[::-1]) if isinstance(v, Traced) else
                     np.conjugate(np.asarray(v)[::-1]), mode)


# ----------------------------------------------------------------------------- interpolation
@_composite(np.interp, examples=(
    Example(lambda x: np.interp(x, [-3.0, -1.0, 0.5, 3.0], [1.0, 2.0, -1.0, 0.0]), ((5,),),
            domains=(Domain(-2.5, 2.5, avoid=(-1.0, 0.5)),), label="in x"),
    Example(lambda x, fp: np.interp(x, np.array([-3.0, 0.0, 3.0]), fp), ((4,), (3,)),
            domains=(Domain(-2.5, 2.5, avoid=(0.0,)), Domain()), label="in x and fp"),
    Example(lambda xp: np.interp(np.array([0.2, 1.4]), np.sort(xp) * 3, [0.0, 1.0, 3.0, 2.0]),
            ((4,),), label="in xp"),
))
def _interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise linear; at a knot the interval on its right is used (a kink: one-sided
    derivative). Outside [xp[0], xp[-1]]: fp[0] / fp[-1] (or ``left``/``right``), constant."""
    if period is not None:
        raise UnsupportedOpError("np.interp", "period= (only the non-periodic form)")
    xp_list = xp if not isinstance(xp, (list, tuple)) else np.stack(
        [e if isinstance(e, Traced) else np.float64(e) for e in xp])
    fp_list = fp if not isinstance(fp, (list, tuple)) else np.stack(
        [e if isinstance(e, Traced) else np.float64(e) for e in fp])
    xpv = np.asarray(value_of(xp_list), float)
    n = xpv.shape[0]
    i = call_nondiff("np.interp interval",
                     lambda xv, knots: np.clip(np.searchsorted(knots, xv, side="right") - 1,
                                               0, max(n - 2, 0)), (x, xp_list), {})
    if n == 1:
        y = np.zeros(np.shape(value_of(x))) + fp_list[0]
    else:
        x0, x1 = xp_list[i], xp_list[i + 1]
        f0, f1 = fp_list[i], fp_list[i + 1]
        # a repeated knot (x1 == x0): the value on its right, as NumPy (no 0/0)
        same = call_nondiff("np.interp repeated knot", np.equal, (x1, x0), {})
        y = np.where(same, f1, f0 + (x - x0) / np.where(same, 1.0, x1 - x0) * (f1 - f0))
    xv = value_of(x)
    below = call_nondiff("np.interp left", lambda a, k: a < k[0], (x, xp_list), {})
    above = call_nondiff("np.interp right", lambda a, k: a > k[-1], (x, xp_list), {})
    lo = fp_list[0] if left is None else left
    hi = fp_list[-1] if right is None else right
    y = np.where(below, lo, np.where(above, hi, y))
    return y if np.ndim(xv) else y[()] if isinstance(y, np.ndarray) else y


# ----------------------------------------------------------------------------- integration
def _trapezoid_impl(y, x=None, dx=1.0, axis=-1):
    nd = np.ndim(value_of(y))
    ax = axis % nd
    lead = (slice(None),) * ax
    y_hi, y_lo = y[lead + (slice(1, None),)], y[lead + (slice(None, -1),)]
    if x is None:
        d = dx
    else:
        d = np.diff(x, axis=axis if np.ndim(value_of(x)) > 1 else -1)
        if np.ndim(value_of(x)) == 1 and nd > 1:
            d = np.reshape(d, (-1,) + (1,) * (nd - ax - 1))
    return np.sum(d * (y_hi + y_lo) / 2.0, axis=ax)


_TRAPEZOID = (np.trapezoid,) if hasattr(np, "trapezoid") else ()
_TRAPZ = (np.trapz,) if hasattr(np, "trapz") else ()
defcomposite(_TRAPEZOID + _TRAPZ, name="trapezoid", examples=(
    Example(lambda y: np.trapezoid(y), ((5,),), label="dx=1"),
    Example(lambda y, x: np.trapezoid(y, x), ((5,), (5,)), label="x"),
    Example(lambda y: np.trapezoid(y, dx=0.5, axis=0), ((4, 3),), label="axis 0"),
) if _TRAPEZOID else ())(_trapezoid_impl)


# ----------------------------------------------------------------------------- unwrap
@_composite(np.unwrap, examples=(
    Example(lambda p: np.unwrap(p * 3.0), ((6,),), label="jumps"),))
def _unwrap(p, discont=None, axis=-1, *, period=2 * np.pi):
    """p plus multiples of the period chosen on plain values (a step: derivative 1 in p)."""
    shift = call_nondiff("np.unwrap", lambda v: np.unwrap(v, discont, axis, period=period) - v,
                         (p,), {})
    return p + shift


# ----------------------------------------------------------------------------- cumulative
if hasattr(np, "cumulative_sum"):  # NumPy >= 2.1
    @_composite(np.cumulative_sum, examples=(
        Example(lambda x: np.cumulative_sum(x, include_initial=True), ((4,),), label="initial"),
        Example(lambda x: np.cumulative_sum(x, axis=1), ((2, 3),), label="axis"),))
    def _cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
        if out is not None:
            raise MutationError("np.cumulative_sum(..., out=...) writes in place")
        if axis is None:
            if np.ndim(value_of(x)) > 1:
                raise ValueError("axis must be specified for multi-dimensional arrays")
            axis = 0
        c = np.cumsum(x if dtype is None else x.astype(dtype), axis=axis)
        if include_initial:
            shape = list(np.shape(value_of(c)))
            shape[axis] = 1
            c = np.concatenate([np.zeros(shape, dtype=_dtype_of(c)), c], axis=axis)
        return c


@_composite(np.nancumprod, examples=(
    Example(lambda x: np.nancumprod(np.where(np.arange(4) == 1, np.nan, x)), ((4,),),
            label="NaN entry"),))
def _nancumprod(a, axis=None, dtype=None, out=None):
    if out is not None:
        raise MutationError("np.nancumprod(..., out=...) writes in place")
    nan = call_nondiff("isnan", np.isnan, (a,), {})
    return np.cumprod(np.where(nan, 1.0, a), axis=axis)


def _nan_order_stat(name, fn):
    @_composite(getattr(np, name), examples=(
        Example(lambda x: getattr(np, name)(np.where(np.arange(5) == 2, np.nan, x),
                                            *(([30.0] if "percentile" in name else [0.3])
                                              if name != "nanmedian" else [])),
                ((5,),), label="NaN entry"),))
    def build(a, *args, axis=None, **kwargs):
        if axis is not None and np.ndim(value_of(a)) > 1:
            raise UnsupportedOpError(f"np.{name}", "axis= on more than one dimension (drop "
                                     "the NaN entries first, or use np.median / np.quantile "
                                     "with np.where)")
        keep = call_nondiff("isnan", lambda v: np.flatnonzero(~np.isnan(v)), (a,), {})
        return fn(np.ravel(a)[keep], *args, **kwargs)
    return build


_nanmedian = _nan_order_stat("nanmedian", np.median)
_nanpercentile = _nan_order_stat("nanpercentile", np.percentile)
_nanquantile = _nan_order_stat("nanquantile", np.quantile)


# ----------------------------------------------------------------------------- insert, delete
@_composite(np.delete, examples=(
    Example(lambda x: np.delete(x, [0, 2]), ((5,),), label="flat"),
    Example(lambda x: np.delete(x, 1, axis=1), ((2, 3),), label="axis"),))
def _delete(arr, obj, axis=None):
    if axis is None:
        arr, axis = np.ravel(arr), 0
    n = np.shape(value_of(arr))[axis]
    keep = np.delete(np.arange(n), obj)  # NumPy's own index rules, on positions
    return np.take(arr, keep, axis=axis)


@_composite(np.insert, examples=(
    Example(lambda x, v: np.insert(x, 1, v), ((4,), ()), label="scalar"),
    Example(lambda x, v: np.insert(x, [0, 2], v), ((4,), (2,)), label="values"),
    Example(lambda x, v: np.insert(x, 1, v, axis=0), ((2, 3), (3,)), label="row"),))
def _insert(arr, obj, values, axis=None):
    """A gather from the entries of arr and values: NumPy's insert run on their labels
    (0.. for arr's entries, then values') says where each one lands, broadcasting and all."""
    # plain values in arr's dtype, as NumPy casts them (float32 stays float32)
    dt = _dtype_of(arr)
    vals = values if isinstance(values, Traced) else np.asarray(
        values, dt if np.issubdtype(dt, np.inexact) else float)
    size_a = int(np.size(value_of(arr)))
    labels_a = np.arange(size_a).reshape(np.shape(value_of(arr)))
    labels_v = size_a + np.arange(int(np.size(value_of(vals)))).reshape(np.shape(value_of(vals)))
    where = np.insert(labels_a, obj, labels_v, axis=axis)
    return np.concatenate([np.ravel(arr), np.ravel(vals)])[where]


# ----------------------------------------------------------------------------- fill values
@_composite(np.full_like, examples=(
    Example(lambda x: np.full_like(x, x[0, 1]) * x, ((2, 3),), label="traced fill"),))
def _full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """A traced fill value: broadcast (its derivative reaches every entry); a plain one: a
    plain array, as NumPy's (the values of ``a`` are not read)."""
    shape = np.shape(value_of(a)) if shape is None else shape
    dtype = np.dtype(dtype or np.result_type(value_of(a)))
    if not isinstance(fill_value, Traced):
        return np.full(shape, fill_value, dtype=dtype)
    if dtype.kind not in "fc":
        raise UnsupportedOpError("np.full_like", f"dtype={dtype} would drop the fill value's "
                                 "derivative")
    if dtype.kind == "f" and fill_value.dtype.kind == "c":
        fill_value = np.real(fill_value)  # NumPy keeps the real part
    filled = np.broadcast_to(fill_value, shape) + np.zeros(shape, dtype=dtype)
    return filled if filled.dtype == dtype else filled.astype(dtype)


registry.NONDIFF_FUNCTIONS.discard(np.full_like)


@_composite(np.copyto)
def _copyto(dst, src, casting="same_kind", where=True):
    raise MutationError(
        "np.copyto (also reached by np.full(shape, v) and np.full_like(plain_array, v)) writes "
        "a traced value into a plain array, which would drop its derivative. Build the array "
        "instead: np.broadcast_to(v, shape) or np.zeros(shape) + v.")
