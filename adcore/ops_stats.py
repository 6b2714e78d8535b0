"""Statistics over axes: var, std, average, ptp, cov, corrcoef and the NaN-ignoring
reductions (nansum, nanmean, nanvar, nanstd, nanmax, nanmin, nanprod, nancumsum) --
composites of registered ops.

NaN-ignoring reductions select: a NaN entry is replaced by the reduction's neutral value
with ``np.where``, so its derivative is exactly 0 (not NaN) -- what the function computes.
"""
import numpy as np

from .errors import MutationError, UnsupportedOpError
from .linear import normalize_axes
from .registry import POSITIVE, Domain, Example, defcomposite
from .tracing import Traced, call_nondiff, cast, value_of


def _composite(func, examples=()):
    return defcomposite((func,), examples=examples)


def _no_out(name, out):
    if out is not None:
        raise MutationError(f"{name}(..., out=...) writes in place; use the returned value")


def _as_dtype(a, dtype, name):
    if dtype is None or np.dtype(dtype) == np.result_type(value_of(a)):
        return a
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise UnsupportedOpError(name, f"dtype={dtype} would drop the derivative")
    return cast(a, dtype)


def _real_dtype(a):
    """The real float dtype of ``a``'s values (float32 for float32 and complex64, float64
    for float64, complex128 and anything not inexact)."""
    dt = np.result_type(value_of(a))
    return np.finfo(dt).dtype if np.issubdtype(dt, np.inexact) else np.dtype(np.float64)


def _count(shape, axis, where=None, dtype=None):
    """How many entries a reduction over ``axis`` sees (as an array when masked, of the
    real float ``dtype`` of the values reduced: an integer count array would make a float32
    mean float64 under NumPy's promotion, where NumPy's own stays float32)."""
    if where is not None:
        count = np.sum(np.broadcast_to(where, shape), axis=axis, keepdims=True)
        return count if dtype is None else count.astype(dtype)
    axes = normalize_axes(axis, len(shape))
    return int(np.prod([shape[i] for i in axes], dtype=int))


@_composite(np.var, examples=(
    Example(lambda x: np.var(x), ((5,),), label="all"),
    Example(lambda x: np.var(x, axis=(0, 2), ddof=1), ((2, 3, 4),), label="axes ddof"),
    Example(lambda x: np.var(x, axis=1, where=np.array([True, False, True, True])), ((3, 4),),
            label="where"),
))
def _var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
         correction=None):
    _no_out("np.var", out)
    a = _as_dtype(a, dtype, "np.var")
    if correction is not None:
        ddof = correction
    shape = np.shape(value_of(a))
    w = None if where is None else call_nondiff(
        "np.var where", lambda m: np.broadcast_to(np.asarray(m, bool), shape), (where,), {})
    n = _count(shape, axis, w, _real_dtype(a))
    if mean is None:
        mean = (np.sum(a if w is None else np.where(w, a, 0.0), axis=axis, keepdims=True) / n)
    centred = a - mean
    # |a - mean|^2: for complex entries the modulus, as NumPy (a real variance)
    sq = centred * centred if np.result_type(value_of(centred)).kind != "c" else \
        np.real(centred) ** 2 + np.imag(centred) ** 2
    if w is not None:
        sq = np.where(w, sq, 0.0)
    total = np.sum(sq, axis=axis, keepdims=True) / (n - ddof)
    return total if keepdims else np.squeeze(total, axis=normalize_axes(axis, len(shape)))


@_composite(np.std, examples=(
    Example(lambda x: np.std(x, axis=0, ddof=1), ((3, 4),), label="axis ddof"),))
def _std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
         correction=None):
    return np.sqrt(_var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                        correction=correction))


@_composite(np.average, examples=(
    Example(lambda x: np.average(x), ((5,),), label="plain"),
    Example(lambda x, w: np.average(x, axis=1, weights=w), ((3, 4), (4,)),
            domains=(Domain(), POSITIVE), label="weights 1-D"),
    Example(lambda x, w: np.average(x, weights=w, returned=True)[0], ((3, 4), (3, 4)),
            domains=(Domain(), POSITIVE), label="weights returned"),
))
def _average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    if weights is None:
        avg = np.mean(a, axis=axis, keepdims=keepdims)
        shape = np.shape(value_of(a))
        # in the mean's dtype, as NumPy's (float32 stays float32)
        scl = np.broadcast_to(np.asarray(_count(shape, axis), np.result_type(value_of(avg))),
                              np.shape(value_of(avg)))
        return (avg, scl) if returned else avg
    wshape, ashape = np.shape(value_of(weights)), np.shape(value_of(a))
    if wshape != ashape:
        if axis is None:
            raise TypeError("Axis must be specified when shapes of a and weights differ.")
        if len(wshape) != 1 or np.ndim(axis) != 0:
            raise TypeError("1D weights expected when shapes of a and weights differ.")
        ax = normalize_axes(axis, len(ashape))[0]
        weights = np.reshape(weights, (1,) * ax + wshape + (1,) * (len(ashape) - ax - 1))
    scl = np.sum(np.broadcast_to(weights, ashape) if isinstance(weights, Traced)
                 else np.broadcast_to(value_of(weights), ashape), axis=axis, keepdims=keepdims)
    avg = np.sum(a * weights, axis=axis, keepdims=keepdims) / scl
    return (avg, np.broadcast_to(scl, np.shape(value_of(avg)))) if returned else avg


@_composite(np.ptp, examples=(Example(lambda x: np.ptp(x, axis=0), ((3, 4),)),))
def _ptp(a, axis=None, out=None, keepdims=False):
    _no_out("np.ptp", out)
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


# ----------------------------------------------------------------------------- NaN-ignoring
_NAN_IN = np.array([[0.3, np.nan, -1.2, 0.7], [np.nan, np.nan, 0.4, 1.1], [0.2, 0.5, -0.3, 0.9]])


def _with_nans(x):
    """An example input with NaN entries at fixed places (a constant selection)."""
    return np.where(np.isnan(_NAN_IN), np.nan, x)


def _nan_examples(f, **kw):
    return (Example(lambda x: f(_with_nans(x), **kw), ((3, 4),), label="NaN entries"),
            Example(lambda x: f(_with_nans(x), axis=1, **kw), ((3, 4),), label="axis"))


def _drop_nans(a, neutral):
    return np.where(call_nondiff("isnan", np.isnan, (a,), {}), neutral, a)


def _nan_reduction(name, reduce, fill, takes_dtype):
    """np.nan<reduce>: the NaN entries replaced by ``fill`` (a selection), then ``reduce``."""
    @_composite(getattr(np, name), examples=_nan_examples(getattr(np, name)))
    def build(a, axis=None, *args, out=None, keepdims=False, initial=np._NoValue,
              where=np._NoValue, **kwargs):
        _no_out(f"np.{name}", out)
        dtype = args[0] if takes_dtype and args else kwargs.pop("dtype", None)
        if kwargs or (args and not takes_dtype):
            raise TypeError(f"np.{name}: unexpected arguments")
        extra = {"dtype": dtype} if takes_dtype else {}
        return reduce(_drop_nans(a, fill), axis=axis, keepdims=keepdims, initial=initial,
                      where=where, **extra)
    return build


_nansum = _nan_reduction("nansum", np.sum, 0.0, True)
_nanprod = _nan_reduction("nanprod", np.prod, 1.0, True)
_nanmax = _nan_reduction("nanmax", np.max, -np.inf, False)
_nanmin = _nan_reduction("nanmin", np.min, np.inf, False)


@_composite(np.nanmean, examples=_nan_examples(np.nanmean))
def _nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=np._NoValue):
    _no_out("np.nanmean", out)
    ok = ~call_nondiff("isnan", np.isnan, (a,), {})
    if where is not np._NoValue:
        ok = ok & np.asarray(where, bool)
    a = _as_dtype(a, dtype, "np.nanmean")
    shape = np.shape(value_of(a))
    ok = np.broadcast_to(ok, shape)
    # the sum of the kept entries over their count, the count in a's (real) dtype as
    # NumPy's nanmean divides (an integer count would make a float32 mean float64)
    total = np.sum(np.where(ok, a, 0.0), axis=axis, keepdims=True)
    mean = total / _count(shape, axis, ok, _real_dtype(a))
    return mean if keepdims else np.squeeze(mean, axis=normalize_axes(axis, len(shape)))


@_composite(np.nanvar, examples=_nan_examples(np.nanvar, ddof=1))
def _nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=np._NoValue,
            mean=np._NoValue, correction=np._NoValue):
    _no_out("np.nanvar", out)
    ok = ~call_nondiff("isnan", np.isnan, (a,), {})
    if where is not np._NoValue:
        ok = ok & np.asarray(where, bool)
    return _var(_drop_nans(a, 0.0), axis, dtype, None, ddof, keepdims, where=ok,
                correction=None if correction is np._NoValue else correction)


@_composite(np.nanstd, examples=_nan_examples(np.nanstd))
def _nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=np._NoValue,
            mean=np._NoValue, correction=np._NoValue):
    return np.sqrt(_nanvar(a, axis, dtype, out, ddof, keepdims, where=where,
                           correction=correction))


@_composite(np.nancumsum, examples=_nan_examples(np.nancumsum))
def _nancumsum(a, axis=None, dtype=None, out=None):
    _no_out("np.nancumsum", out)
    return np.cumsum(_drop_nans(_as_dtype(a, dtype, "np.nancumsum"), 0.0), axis=axis)


# ----------------------------------------------------------------------------- cov, corrcoef
@_composite(np.cov, examples=(
    Example(lambda x: np.cov(x), ((3, 5),), label="rows are variables"),
    Example(lambda x, y: np.cov(x, y, rowvar=False, ddof=0), ((5, 2), (5,)), label="y, columns"),
    Example(lambda x, w: np.cov(x, aweights=w), ((2, 5), (5,)),
            domains=(Domain(), POSITIVE), label="aweights"),
))
def _cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None,
         *, dtype=None):
    """np.cov from registered ops (weights as in NumPy: fweights integer counts, aweights
    reliability weights)."""
    x = m if isinstance(m, Traced) else np.asarray(m, float)
    x = np.reshape(x, (1, -1)) if np.ndim(value_of(x)) < 2 else x
    if not rowvar and np.shape(value_of(x))[0] != 1:
        x = x.T
    if y is not None:
        yy = y if isinstance(y, Traced) else np.asarray(y, float)
        yy = np.reshape(yy, (1, -1)) if np.ndim(value_of(yy)) == 1 else yy
        if not rowvar and np.shape(value_of(yy))[0] != 1:
            yy = yy.T
        x = np.concatenate([x, yy], axis=0)
    x = _as_dtype(x, dtype, "np.cov")
    n_obs = np.shape(value_of(x))[1]
    w = None
    if fweights is not None:
        if isinstance(fweights, Traced):
            raise UnsupportedOpError("np.cov", "traced fweights (integer frequency counts have no "
                                     "derivative); pass them as plain integers, or use aweights")
        w = np.asarray(fweights, float)
    if aweights is not None:
        w = aweights if w is None else w * aweights
    if ddof is None:
        ddof = 0 if bias else 1
    if w is None:
        avg = np.mean(x, axis=1, keepdims=True)
        fact = n_obs - ddof
        xc = x - avg
        c = xc @ np.conjugate(xc).T / fact
    else:
        w_sum = np.sum(w)
        avg = np.sum(x * w, axis=1, keepdims=True) / w_sum
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * np.sum(w * aweights) / w_sum
        xc = x - avg
        c = (xc * w) @ np.conjugate(xc).T / fact
    return np.squeeze(c)


@_composite(np.corrcoef, examples=(Example(lambda x: np.corrcoef(x), ((3, 5),)),))
def _corrcoef(x, y=None, rowvar=True, *, dtype=None):
    c = _cov(x, y, rowvar, dtype=dtype)
    if np.ndim(value_of(c)) == 0:
        return c / c
    idx = np.arange(np.shape(value_of(c))[0])
    d = np.sqrt(c[idx, idx])
    c = c / d[:, None] / d[None, :]
    # NumPy clips rounding beyond +-1; a selection on the plain values does the same without
    # clip's kink at the diagonal's exact 1 (there the true derivative is 0, not a convention)
    beyond = call_nondiff("|corrcoef| > 1", lambda v: np.abs(v) > 1, (c,), {})
    return np.where(beyond, call_nondiff("sign", np.sign, (c,), {}), c)
