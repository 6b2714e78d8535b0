"""Structural ops: a primal, a JVP and its transpose (VJP), on batched (co)tangents.

Rule signatures (see :mod:`adcore.registry`):

* ``jvp(tangents, out, *inputs, **params)``: ``tangents[i]`` is ``None`` (zero) or
  ``(k,) + inputs[i].shape``; returns ``(k,) + out.shape``.
* ``vjp(g, needed, out, *inputs, **params)``: ``g`` is ``(k,) + out.shape``; returns one
  ``(k,) + inputs[i].shape`` cotangent per input (``None`` where not ``needed[i]``).

Rules use registered NumPy functions only, so nested derivatives differentiate them.
Binders turn NumPy's call (``np.sum(x, axis=1)``, ``x.T``, ``np.ravel(x)``) into
``(inputs, params)`` with axes normalised against the input's shape.
"""
from __future__ import annotations

import math

import numpy as np

from . import registry, rules as _rules
from .errors import MutationError, UnsupportedOpError
from .indexing import Index, normalize_index, take_batched
from .linear import (batch_size, expand_reduced, normalize_axes, pad_batch, shift, sz_clean,
                     unbroadcast, unbroadcast_sz, zeros)
from .registry import REAL, Domain, Example, defop, register_numpy_alias
from .tracing import Traced, apply, call_nondiff, cast, value_of


def _zero_or(t, k, shape, like=None):
    """``t``, or zeros of the batch shape (a constant input) in the dtype of ``like``."""
    return zeros(k, shape, _float_dtype(like)) if t is None else t


def _float_dtype(like):
    """The float dtype of a (co)tangent: float32 stays float32 (float64 by default)."""
    if like is None:
        return np.float64
    return np.result_type(value_of(like), np.float32)


def _check_plain_kwargs(name, dtype=None, out=None, **extra):
    if out is not None:
        raise MutationError(f"{name}(..., out=...) writes in place; use the returned value instead")
    if dtype is not None and not np.issubdtype(np.dtype(dtype), np.floating):
        raise UnsupportedOpError(name, f"dtype={dtype} would drop the derivative")
    extra = {k: v for k, v in extra.items() if v is not np._NoValue}
    if extra:
        raise UnsupportedOpError(name, f"keyword argument(s) {sorted(extra)} are not supported")


# ----------------------------------------------------------------------------- reductions
def _reduce_binder(name):
    def bind(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
             where=np._NoValue, **extra):
        _check_plain_kwargs(name, dtype, out, **extra)
        if dtype is not None and np.dtype(dtype) != np.result_type(value_of(a)):
            # NumPy casts the entries to dtype, then reduces in it
            a = cast(a, dtype)
        axes, keepdims = normalize_axes(axis, np.ndim(a)), bool(keepdims)
        if initial is np._NoValue and where is np._NoValue:
            return (a,), {"axes": axes, "keepdims": keepdims}
        return registry.Done(_masked_reduce(name, a, axes, keepdims, initial, where))
    return bind


# what a masked-out entry becomes, so the reduction ignores it (a selection: its derivative
# is exactly 0); and how an initial value joins the result
_NEUTRAL = {"np.sum": (0.0, np.add), "np.prod": (1.0, np.multiply),
            "np.max": (-np.inf, np.maximum), "np.min": (np.inf, np.minimum),
            "np.mean": (0.0, None)}


def _masked_reduce(name, a, axes, keepdims, initial, where):
    """sum/prod/max/min/mean with NumPy's ``where=`` and ``initial=``, from registered ops."""
    neutral, join = _NEUTRAL[name]
    shape = np.shape(value_of(a))
    if where is not np._NoValue:
        w = call_nondiff(f"{name} where", lambda m: np.broadcast_to(np.asarray(m, bool), shape),
                         (where,), {})
        if name in ("np.max", "np.min") and initial is np._NoValue:
            raise ValueError(f"reduction operation {name[3:]!r} does not have an identity, so to "
                             "use a where mask one has to specify 'initial'")
        a = np.where(w, a, neutral)
    if name == "np.mean":
        if initial is not np._NoValue:
            raise TypeError("mean() got an unexpected keyword argument 'initial'")
        if where is not np._NoValue:  # the count in a's real float dtype: float32 stays float32
            dt = np.result_type(value_of(a))
            count = np.sum(w, axis=axes, keepdims=keepdims).astype(
                np.finfo(dt).dtype if dt.kind in "fc" else np.float64)
        else:
            count = math.prod(shape[i] for i in axes)
        return np.sum(a, axis=axes, keepdims=keepdims) / count
    out = _REDUCE[name](a, axis=axes, keepdims=keepdims)
    return out if initial is np._NoValue else join(out, initial)


_REDUCE = {"np.sum": np.sum, "np.prod": np.prod, "np.max": np.max, "np.min": np.min}


def _reduction(name, primal, jvp, vjp, numpy, examples=(), domains=(REAL,), kink="",
               coefficients="data", creates_zeros=()):
    op = defop(name, primal, jvp=jvp, vjp=vjp, nargs=1, numpy=numpy,
               bind=_reduce_binder(f"np.{name}"), domains=domains, kink=kink,
               examples=examples, coefficients=coefficients, creates_zeros=creates_zeros)
    return op


def _reduce_examples(fn_name):
    f = getattr(np, fn_name)
    mask = np.array([[True, False, True, True], [False, True, True, False], [True] * 4])
    masked = (Example(lambda x: f(x, axis=1, where=mask, **(
        {} if fn_name == "mean" else {"initial": 0.5})), ((3, 4),), label="where, initial"),)
    return masked + (
        Example(lambda x: f(x), ((5,),), label="all"),
        Example(lambda x: f(x, axis=0), ((3, 4),), label="axis0"),
        Example(lambda x: f(x, axis=-1, keepdims=True), ((3, 4),), label="axis-1 keepdims"),
        Example(lambda x: f(x, axis=(0, 2)), ((2, 3, 4),), label="axes (0,2)"),
        Example(lambda x: f(x), ((),), label="0-d"),
    )


sum_op = _reduction(
    "sum",
    lambda x, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims),
    lambda ts, out, x, axes, keepdims: np.sum(ts[0], axis=shift(axes), keepdims=keepdims),
    lambda g, needed, out, x, axes, keepdims: (expand_reduced(g, np.shape(x), axes, keepdims),),
    numpy=(np.sum,), examples=_reduce_examples("sum"), coefficients="structural")


def _count(shape, axes):
    return math.prod(shape[a] for a in axes)


mean_op = _reduction(
    "mean",
    lambda x, axes, keepdims: np.mean(x, axis=axes, keepdims=keepdims),
    lambda ts, out, x, axes, keepdims: np.mean(ts[0], axis=shift(axes), keepdims=keepdims),
    lambda g, needed, out, x, axes, keepdims: (
        expand_reduced(g / _count(np.shape(x), axes), np.shape(x), axes, keepdims),),
    numpy=(np.mean,), examples=_reduce_examples("mean"), coefficients="structural")


def _cumprod_last(a):
    """Inclusive running product along the last axis. On a traced value: a Hillis-Steele
    scan of registered ops (log2(n) multiplies), so it is differentiable to any order."""
    if not isinstance(a, Traced):
        return np.cumprod(a, axis=-1)
    n, s = np.shape(a)[-1], 1
    while s < n:
        a = np.concatenate([a[..., :s], a[..., s:] * a[..., :-s]], axis=-1)
        s *= 2
    return a


def _prod_others(x, axes):
    """d prod / d x_j = the product of the other entries, as (product of those before j) *
    (product of those after j): exact where x has zeros, no division (so no underflow of
    the whole product: the gradient of prod at [1e-300, 1e-30] is [1e-30, 1e-300]), and
    made of registered ops, so prod has derivatives of every order."""
    nd = np.ndim(x)
    if not axes:
        return np.ones(np.shape(x))
    last = tuple(range(nd - len(axes), nd))
    moved = np.moveaxis(x, axes, last)
    flat = np.reshape(moved, np.shape(moved)[: nd - len(axes)] + (-1,))
    one = np.ones(np.shape(flat)[:-1] + (1,))
    left = _cumprod_last(np.concatenate([one, flat[..., :-1]], axis=-1))
    right = _cumprod_last(np.concatenate([one, flat[..., :0:-1]], axis=-1))[..., ::-1]
    others = np.reshape(left * right, np.shape(moved))
    return np.moveaxis(others, last, axes)


prod_op = _reduction(
    "prod",
    lambda x, axes, keepdims: np.prod(x, axis=axes, keepdims=keepdims),
    lambda ts, out, x, axes, keepdims: np.sum(_prod_others(x, axes) * ts[0], axis=shift(axes),
                                              keepdims=keepdims),
    lambda g, needed, out, x, axes, keepdims: (
        expand_reduced(g, np.shape(x), axes, keepdims) * _prod_others(x, axes),),
    numpy=(np.prod,), examples=_reduce_examples("prod") + (
        Example(lambda x: np.prod(x * np.array([1.0, 0.0, 1.0, 1.0])), ((4,),), label="with a zero"),),
    domains=(Domain(0.5, 1.5),))


def _extremum_weights(x, axes, fn):
    """Where the max (min) is attained, 1/count of the ties there; 0 elsewhere (read on the
    plain values through call_nondiff: a recording of this rule -- a nested derivative --
    keeps it as a guard, so a replay where another entry wins re-records)."""
    def weights(xv):
        best = fn(xv, axis=axes, keepdims=True)
        hit = (xv == best) | (np.isnan(xv) & np.isnan(best))  # a NaN entry wins, as in NumPy
        # in x's float dtype: float32 weights keep a float32 gradient float32
        return (hit / np.sum(hit, axis=axes, keepdims=True)).astype(
            np.result_type(xv, np.float32), copy=False)
    return call_nondiff(f"np.{fn.__name__} argmax", weights, (x,), {})


def _extremum(name, fn, numpy):
    return _reduction(
        name,
        lambda x, axes, keepdims: fn(x, axis=axes, keepdims=keepdims),
        lambda ts, out, x, axes, keepdims: np.sum(_extremum_weights(x, axes, fn) * ts[0],
                                                  axis=shift(axes), keepdims=keepdims),
        lambda g, needed, out, x, axes, keepdims: (
            expand_reduced(g, np.shape(x), axes, keepdims) * _extremum_weights(x, axes, fn),),
        numpy=numpy, examples=_reduce_examples("max" if fn is np.max else "min"),
        kink="ties split the derivative equally among the entries that attain the extremum",
        coefficients="structural", creates_zeros=("jvp", "vjp"))


max_op = _extremum("max", np.max, (np.max, np.amax))
min_op = _extremum("min", np.min, (np.min, np.amin))


def _logsumexp_primal(x, axes, keepdims):
    # shift by the (plain) max for stability; the shift cancels in value and derivative
    m = np.max(value_of(x), axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axes)


def _softmax(out, x, axes, keepdims):
    """d logsumexp / dx: exp(x - m) / sum(exp(x - m)) with m the (plain) max. Entries equal
    to an infinite max are shifted to 0, not to inf - inf: a row of all -inf has the limit
    of equal entries, 1/n each; a row with +inf spreads over its +inf entries."""
    xv = value_of(x)
    m = np.max(xv, axis=axes, keepdims=True)
    # only an entry equal to an INFINITE max is set to 0 (inf - inf is NaN); a finite max
    # entry keeps x - m, whose derivative the Hessian of logsumexp needs
    e = np.exp(np.where((xv == m) & ~np.isfinite(m), 0.0, x - m))
    return e / np.sum(e, axis=axes, keepdims=True)


logsumexp_op = _reduction(
    "logsumexp", _logsumexp_primal,
    lambda ts, out, x, axes, keepdims: np.sum(_softmax(out, x, axes, keepdims) * ts[0],
                                              axis=shift(axes), keepdims=keepdims),
    lambda g, needed, out, x, axes, keepdims: (
        expand_reduced(g, np.shape(x), axes, keepdims) * _softmax(out, x, axes, keepdims),),
    numpy=(), examples=(
        Example(lambda x: logsumexp(x), ((5,),), label="all"),
        Example(lambda x: logsumexp(x, axis=1), ((3, 4),), label="axis1"),
        Example(lambda x: logsumexp(x * 400.0, axis=0, keepdims=True), ((3, 4),), label="large"),
    ))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over ``axis``, stable for large entries; any mode, any level."""
    return apply(logsumexp_op, x, axes=normalize_axes(axis, np.ndim(x)), keepdims=bool(keepdims))


def _normalized(out, x, axes, keepdims):
    """d ||x|| / dx = x / ||x||, and 0 where ||x|| = 0: the zero subgradient, as abs'(0) = 0
    and hypot at the origin. That 0 is a convention, not a derivative: under a nested
    derivative it goes through the kink marker (adcore.rules.KINK), so a second derivative
    there (the Hessian of ||x|| or of ||x||**2 at 0) is NaN, never a wrong finite number."""
    n = out if keepdims else np.expand_dims(out, axes)
    at_zero = call_nondiff("norm == 0", np.equal, (n, 0), {})
    p = x / (n + at_zero)
    if isinstance(p, Traced) and np.any(at_zero):
        m = np.broadcast_to(at_zero, np.shape(value_of(x))).astype(float)
        for v in (x, n):
            if isinstance(v, Traced):
                p = apply(_rules.KINK, p, v, m)
    return p


norm_op = _reduction(
    "norm",
    lambda x, axes, keepdims: np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdims)),
    lambda ts, out, x, axes, keepdims: np.sum(_normalized(out, x, axes, keepdims) * ts[0],
                                              axis=shift(axes), keepdims=keepdims),
    lambda g, needed, out, x, axes, keepdims: (
        expand_reduced(g, np.shape(x), axes, keepdims) * _normalized(out, x, axes, keepdims),),
    numpy=(), kink="the gradient at ||x|| = 0 is 0 (the zero subgradient)",
    examples=(Example(lambda x: np.linalg.norm(x), ((5,),), label="vector"),
              Example(lambda x: np.linalg.norm(x, axis=1), ((3, 4),), label="rows"),
              Example(lambda x: np.linalg.norm(x, "fro"), ((3, 4),), label="fro")))


def norm2(x, axis=None, keepdims=False):
    """The 2-norm (Frobenius for matrices) over ``axis``; gradient 0 where the norm is 0.
    A complex x: the norm of |x| (entrywise moduli)."""
    if np.result_type(value_of(x)).kind == "c":
        x = np.abs(x)
    return apply(norm_op, x, axes=normalize_axes(axis, np.ndim(x)), keepdims=bool(keepdims))


# ----------------------------------------------------------------------------- matmul, dot
def _promote(a, b):
    """1-D operands of matmul as matrices: a -> (1, p), b -> (p, 1)."""
    a2 = a if np.ndim(a) >= 2 else np.expand_dims(a, 0)
    b2 = b if np.ndim(b) >= 2 else np.expand_dims(b, -1)
    return a2, b2


def _bmm(x, y, x_batched):
    """matmul where one operand has a leading batch axis; both have >= 2 core dims.

    The batched operand gets unit axes after its batch axis so that broadcasting of the
    stack dimensions never pairs the batch axis with a stack axis of the other operand.
    """
    bx, other = (x, y) if x_batched else (y, x)
    if type(bx) is np.ndarray and type(other) is np.ndarray and other.ndim == 2:
        folded = _folded_gemm(bx, other, x_batched)
        if folded is not None:
            return folded
    extra = (np.ndim(other) - 2) - (np.ndim(bx) - 3)
    if extra > 0:
        s = np.shape(bx)
        bx = np.reshape(bx, (s[0],) + (1,) * extra + s[1:])
    return np.matmul(bx, y) if x_batched else np.matmul(x, bx)


def _folded_gemm(bx, m, x_batched):
    """A batch of k products with one plain matrix ``m`` as ONE matrix product: NumPy's
    stacked matmul calls BLAS once per stacked matrix -- k matrix-vector products for the
    k directions of a Jacobian chunk -- where folding the batch into the rows of one
    operand makes a single GEMM (the same sums, in BLAS's order). None: not foldable."""
    s = bx.shape
    if x_batched:  # (k, ..., r, p) @ (p, q): the rows of every batch entry, stacked
        return (bx.reshape(-1, s[-1]) @ m).reshape(s[:-1] + (m.shape[1],))
    if s[-1] == 1:  # (r, p) @ (k, ..., p, 1): a batch of vectors, as rows times m^T
        return (bx.reshape(-1, s[-2]) @ m.T).reshape(s[:-2] + (m.shape[0], 1))
    return None


def _matmul_jvp(ts, out, a, b):
    ta, tb = ts
    k = batch_size(ts)
    a2, b2 = _promote(a, b)
    result = None
    if ta is not None:
        ta2 = ta if np.ndim(a) >= 2 else np.expand_dims(ta, 1)
        result = _bmm(ta2, b2, True)
    if tb is not None:
        tb2 = tb if np.ndim(b) >= 2 else np.expand_dims(tb, -1)
        r = _bmm(a2, tb2, False)
        result = r if result is None else result + r
    return np.reshape(result, (k,) + np.shape(out))


def _matmul_vjp(g, needed, out, a, b):
    k = np.shape(g)[0]
    a2, b2 = _promote(a, b)
    stack = np.broadcast_shapes(np.shape(a2)[:-2], np.shape(b2)[:-2])
    g2 = np.reshape(g, (k,) + stack + (np.shape(a2)[-2], np.shape(b2)[-1]))
    ga = gb = None
    if needed[0]:
        ga = unbroadcast(_bmm(g2, np.swapaxes(b2, -1, -2), True), np.shape(a2))
        ga = np.reshape(ga, (k,) + np.shape(a))
    if needed[1]:
        gb = unbroadcast(_bmm(np.swapaxes(a2, -1, -2), g2, False), np.shape(b2))
        gb = np.reshape(gb, (k,) + np.shape(b))
    return ga, gb


# Structural zeros of matmul's rules, read off directly (rules._structural_vjp would run the
# rule once more on indicators, a second matmul as costly as the first): with the data
# operand's coefficients counted as non-zero, an entry of g @ B^T is a structural zero
# exactly when its whole row of g is, an entry of A^T @ g when its whole column of g is.
def _matmul_vjp_sz(g, gsz, needed, out, a, b):
    k = np.shape(g)[0]
    a2, b2 = _promote(value_of(a), value_of(b))
    stack = np.broadcast_shapes(np.shape(a2)[:-2], np.shape(b2)[:-2])
    m, p, n = np.shape(a2)[-2], np.shape(a2)[-1], np.shape(b2)[-1]
    sz2 = np.reshape(np.broadcast_to(gsz, np.shape(g)), (k,) + stack + (m, n))
    sza = szb = None
    if needed[0]:
        full = (k,) + stack + (m, p)
        sza = unbroadcast_sz(np.broadcast_to(np.all(sz2, axis=-1, keepdims=True), full),
                             full, np.shape(a2))
        sza = None if sza is None else np.reshape(sza, (k,) + np.shape(a))
    if needed[1]:
        full = (k,) + stack + (p, n)
        szb = unbroadcast_sz(np.broadcast_to(np.all(sz2, axis=-2, keepdims=True), full),
                             full, np.shape(b2))
        szb = None if szb is None else np.reshape(szb, (k,) + np.shape(b))
    return sza, szb


def _matmul_jvp_sz(ts, szs, out, a, b):
    (ta, tb), (sa, sb) = ts, szs
    if (ta is not None and sa is None) or (tb is not None and sb is None):
        return None  # a direction with no structural zeros: none in the output
    k = batch_size(ts)
    a, b = value_of(a), value_of(b)
    a2, b2 = _promote(a, b)
    stack = np.broadcast_shapes(np.shape(a2)[:-2], np.shape(b2)[:-2])
    full = (k,) + stack + (np.shape(a2)[-2], np.shape(b2)[-1])
    sz = True
    if ta is not None:  # ta @ B: a row of ta all structural zeros
        sa2 = np.broadcast_to(sa, np.shape(ta))
        sa2 = sa2 if np.ndim(a) >= 2 else np.expand_dims(sa2, 1)
        sz = np.all(_expand_stack(sa2, len(stack) + 2), axis=-1, keepdims=True)
    if tb is not None:  # A @ tb: a column of tb all structural zeros
        sb2 = np.broadcast_to(sb, np.shape(tb))
        sb2 = sb2 if np.ndim(b) >= 2 else np.expand_dims(sb2, -1)
        sz = np.logical_and(sz, np.all(_expand_stack(sb2, len(stack) + 2), axis=-2,
                                       keepdims=True))
    return sz_clean(np.reshape(np.broadcast_to(sz, full), (k,) + np.shape(out)))


def _expand_stack(m, core_ndim):
    """A batched ``(k,) + shape`` mask with unit axes after k up to ``core_ndim`` dims."""
    extra = core_ndim - (np.ndim(m) - 1)
    return m if extra <= 0 else np.reshape(m, np.shape(m)[:1] + (1,) * extra + np.shape(m)[1:])


_MATMUL_SZ = {"vjp": _matmul_vjp_sz, "jvp": _matmul_jvp_sz}


def _bind_matmul(a, b, **kwargs):
    _check_plain_kwargs("np.matmul", **kwargs)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        raise ValueError("matmul: input operand does not have enough dimensions")
    return (a, b), {}


matmul_op = defop(
    "matmul", np.matmul, jvp=_matmul_jvp, vjp=_matmul_vjp, nargs=2, numpy=(np.matmul,),
    bind=_bind_matmul, domains=(REAL,), sz_rules=_MATMUL_SZ,
    examples=(
        Example(lambda a, b: a @ b, ((3, 4), (4, 2)), label="matrix"),
        Example(lambda a, b: a @ b, ((4,), (4, 2)), label="vector-matrix"),
        Example(lambda a, b: a @ b, ((3, 4), (4,)), label="matrix-vector"),
        Example(lambda a, b: a @ b, ((4,), (4,)), label="inner"),
        Example(lambda a, b: a @ b, ((2, 3, 4), (4, 2)), label="batch-matrix"),
        Example(lambda a, b: a @ b, ((4,), (2, 4, 3)), label="vector-batch"),
        Example(lambda a, b: a @ b, ((2, 1, 3, 4), (5, 4, 2)), label="broadcast batches"),
    ))


def _bind_dot(a, b, out=None):
    _check_plain_kwargs("np.dot", out=out)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return registry.get_op("multiply"), (a, b), {}
    if np.ndim(a) > 2 or np.ndim(b) > 2:  # N-D: a tensordot (not matmul's batching)
        from .ops_contract import dot_nd
        return registry.Done(dot_nd(a, b))
    return (a, b), {}


dot_op = defop(
    "dot", np.dot, jvp=_matmul_jvp, vjp=_matmul_vjp, nargs=2, numpy=(np.dot,), bind=_bind_dot,
    sz_rules=_MATMUL_SZ,
    doc="np.dot for 1-D and 2-D operands (the same linear maps as matmul); scalars multiply.",
    examples=(
        Example(lambda a, b: np.dot(a, b), ((4,), (4,)), label="inner"),
        Example(lambda a, b: np.dot(a, b), ((3, 4), (4,)), label="matrix-vector"),
        Example(lambda a: a.dot(np.linspace(-1.0, 1.0, 8).reshape(4, 2)), ((3, 4),), label="method"),
        Example(lambda a, b: np.dot(a, b), ((), (3,)), label="scalar"),
        Example(lambda a, b: np.dot(a, b), ((2, 3, 4), (2, 4, 3)), label="N-D"),
    ))


def _outer_jvp(ts, out, a, b):
    ta, tb = ts
    k = batch_size(ts)
    av, bv = np.ravel(a), np.ravel(b)
    result = None
    if ta is not None:
        result = np.reshape(ta, (k, -1, 1)) * bv
    if tb is not None:
        r = np.reshape(av, (-1, 1)) * np.reshape(tb, (k, 1, -1))
        result = r if result is None else result + r
    return result


def _outer_vjp(g, needed, out, a, b):
    k = np.shape(g)[0]
    ga = np.reshape(np.sum(g * np.ravel(b), axis=-1), (k,) + np.shape(a)) if needed[0] else None
    gb = (np.reshape(np.sum(g * np.reshape(np.ravel(a), (-1, 1)), axis=1), (k,) + np.shape(b))
          if needed[1] else None)
    return ga, gb


outer_op = defop(
    "outer", np.outer, jvp=_outer_jvp, vjp=_outer_vjp, nargs=2, numpy=(np.outer,),
    bind=lambda a, b, out=None: (_check_plain_kwargs("np.outer", out=out), ((a, b), {}))[1],
    examples=(Example(lambda a, b: np.outer(a, b), ((3,), (4,))),
              Example(lambda a, b: np.outer(a, b), ((2, 2), (3,)), label="flattens")))


# ----------------------------------------------------------------------------- shape ops
def _transpose_bind(a, axes=None):
    nd = np.ndim(a)
    perm = tuple(reversed(range(nd))) if axes is None else tuple(int(p) % nd for p in axes)
    if sorted(perm) != list(range(nd)):
        raise ValueError(f"axes {axes} do not match an array of {nd} dimensions")
    return (a,), {"perm": perm}


def _swapaxes_bind(a, axis1, axis2):
    nd = np.ndim(a)
    perm = list(range(nd))
    i, j = int(axis1) % nd, int(axis2) % nd
    perm[i], perm[j] = perm[j], perm[i]
    return (a,), {"perm": tuple(perm)}


def _moveaxis_bind(a, source, destination):
    nd = np.ndim(a)
    src = tuple(int(s) % nd for s in np.atleast_1d(source))
    dst = tuple(int(d) % nd for d in np.atleast_1d(destination))
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return (a,), {"perm": tuple(order)}


transpose_op = defop(
    "transpose", lambda x, perm: np.transpose(x, perm),
    jvp=lambda ts, out, x, perm: np.transpose(ts[0], (0,) + shift(perm)),
    vjp=lambda g, needed, out, x, perm: (np.transpose(g, (0,) + shift(np.argsort(perm))),),
    nargs=1, numpy=(np.transpose,), bind=_transpose_bind,
    coefficients="structural", moves=("jvp", "vjp"),
    examples=(Example(lambda x: x.T, ((3, 4),), label=".T"),
              Example(lambda x: np.transpose(x, (1, 2, 0)), ((2, 3, 4),), label="perm"),
              Example(lambda x: np.swapaxes(x, 0, 2), ((2, 3, 4),), label="swapaxes"),
              Example(lambda x: np.moveaxis(x, 0, -1), ((2, 3, 4),), label="moveaxis")))
register_numpy_alias(np.swapaxes, transpose_op, _swapaxes_bind)
register_numpy_alias(np.moveaxis, transpose_op, _moveaxis_bind)


def _resolve_shape(size, shape):
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension")
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        shape = tuple(size // known if known and s == -1 else s for s in shape)
    if math.prod(shape) != size:
        raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
    return shape


def _reshape_bind(a, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise UnsupportedOpError("np.reshape", f"order={order!r} (only 'C')")
    shape = newshape if shape is None else shape
    return (a,), {"shape": _resolve_shape(int(np.size(a)), shape)}


def _ravel_bind(a, order="C"):
    if order != "C":
        raise UnsupportedOpError("np.ravel", f"order={order!r} (only 'C')")
    return (a,), {"shape": (int(np.size(a)),)}


reshape_op = defop(
    "reshape", lambda x, shape: np.reshape(x, shape),
    jvp=lambda ts, out, x, shape: np.reshape(ts[0], (np.shape(ts[0])[0],) + shape),
    vjp=lambda g, needed, out, x, shape: (np.reshape(g, (np.shape(g)[0],) + np.shape(x)),),
    nargs=1, numpy=(np.reshape,), bind=_reshape_bind,
    coefficients="structural", moves=("jvp", "vjp"),
    examples=(Example(lambda x: np.reshape(x, (4, 3)), ((3, 4),)),
              Example(lambda x: x.reshape(2, -1), ((3, 4),), label="method -1"),
              Example(lambda x: np.ravel(x), ((3, 4),), label="ravel"),
              Example(lambda x: x.flatten(), ((2, 3),), label="flatten")))
register_numpy_alias(np.ravel, reshape_op, _ravel_bind)


def _broadcast_to_bind(array, shape, subok=False):
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    np.broadcast_shapes(np.shape(array), shape)  # raises like NumPy when incompatible
    return (array,), {"shape": shape}


broadcast_to_op = defop(
    "broadcast_to", lambda x, shape: np.broadcast_to(x, shape),
    jvp=lambda ts, out, x, shape: np.broadcast_to(pad_batch(ts[0], len(shape)),
                                                  (np.shape(ts[0])[0],) + shape),
    vjp=lambda g, needed, out, x, shape: (unbroadcast(g, np.shape(x)),),
    nargs=1, numpy=(np.broadcast_to,), bind=_broadcast_to_bind,
    coefficients="structural", moves=("jvp",),
    examples=(Example(lambda x: np.broadcast_to(x, (3, 4)), ((4,),)),
              Example(lambda x: np.broadcast_to(x, (2, 3, 4)), ((3, 1),), label="unit axis"),
              Example(lambda x: np.broadcast_to(x, (3,)), ((),), label="scalar")))


def _expand_dims_bind(a, axis):
    nd = np.ndim(a) + (1 if np.ndim(axis) == 0 else len(axis))
    return (a,), {"axes": normalize_axes(axis, nd)}


expand_dims_op = defop(
    "expand_dims", lambda x, axes: np.expand_dims(x, axes),
    jvp=lambda ts, out, x, axes: np.expand_dims(ts[0], shift(axes)),
    vjp=lambda g, needed, out, x, axes: (np.reshape(g, (np.shape(g)[0],) + np.shape(x)),),
    nargs=1, numpy=(np.expand_dims,), bind=_expand_dims_bind,
    coefficients="structural", moves=("jvp", "vjp"),
    examples=(Example(lambda x: np.expand_dims(x, 0), ((3,),)),
              Example(lambda x: np.expand_dims(x, (0, -1)), ((3, 2),), label="two axes"),
              Example(lambda x: x[:, None], ((3,),), label="None index (getitem)")))


def _squeeze_bind(a, axis=None):
    shape = np.shape(a)
    if axis is None:
        axes = tuple(i for i, s in enumerate(shape) if s == 1)
    else:
        axes = normalize_axes(axis, len(shape))
        if any(shape[i] != 1 for i in axes):
            raise ValueError("cannot select an axis to squeeze out which has size not equal to one")
    return (a,), {"axes": axes}


squeeze_op = defop(
    "squeeze", lambda x, axes: np.squeeze(x, axis=axes),
    jvp=lambda ts, out, x, axes: np.squeeze(ts[0], axis=shift(axes)),
    vjp=lambda g, needed, out, x, axes: (np.reshape(g, (np.shape(g)[0],) + np.shape(x)),),
    nargs=1, numpy=(np.squeeze,), bind=_squeeze_bind,
    coefficients="structural", moves=("jvp", "vjp"),
    examples=(Example(lambda x: np.squeeze(x), ((3, 1, 2),)),
              Example(lambda x: x.squeeze(0), ((1, 3),), label="axis")))


astype_op = defop(
    "astype", lambda x, dtype: np.asarray(x, dtype=dtype),
    jvp=lambda ts, out, x, dtype: ts[0].astype(dtype),
    vjp=lambda g, needed, out, x, dtype: (
        (np.real(g) if np.result_type(value_of(x)).kind != "c" and
         np.result_type(value_of(g)).kind == "c" else g).astype(np.result_type(value_of(x))),),
    nargs=1, coefficients="structural",
    doc="x.astype(dtype) between floating dtypes: tangents follow the value's dtype, "
        "cotangents return to the input's (NumPy promotes float32 -> float64 the same way).",
    examples=(Example(lambda x: (x.astype(np.longdouble) * 2.0).astype(np.float64), ((3,),),
                      label="longdouble round trip"),))


# ----------------------------------------------------------------------------- indexing
def _index_add_primal(x, v, index: Index):
    out = np.array(x, dtype=np.result_type(x, v, np.float32), copy=True)
    if index.basic:  # basic indices never repeat an element, so += is exact and fast
        out[index.key] += v
    else:  # repeated integer indices must accumulate
        np.add.at(out, index.key, v)
    return out


def _batched_index_add(z, index: Index, v):
    """index_add on batches: ``z`` is ``(k,) + shape``, ``v`` is ``(k,) + index_shape``."""
    if index.adjacent:
        return apply(index_add_op, z, v, index=Index((slice(None),) + index.key, index.basic, True))
    z_last, v_last = np.moveaxis(z, 0, -1), np.moveaxis(v, 0, -1)
    return np.moveaxis(apply(index_add_op, z_last, v_last, index=index), -1, 0)


def _index_add_jvp(ts, out, x, v, index):
    tx, tv = ts
    k = batch_size(ts)
    tx = _zero_or(tx, k, np.shape(out), tv)
    if tv is None:
        return tx
    sub_shape = np.shape(value_of(out)[index.key])
    tv = np.broadcast_to(pad_batch(tv, len(sub_shape)), (k,) + sub_shape)
    return _batched_index_add(tx, index, tv)


def _index_add_vjp(g, needed, out, x, v, index):
    gx = unbroadcast(g, np.shape(x)) if needed[0] else None
    gv = unbroadcast(take_batched(g, index), np.shape(v)) if needed[1] else None
    return gx, gv


index_add_op = defop(
    "index_add", _index_add_primal, jvp=_index_add_jvp, vjp=_index_add_vjp, nargs=2,
    coefficients="structural", creates_zeros=("jvp",),
    doc="x with v added at index (repeated indices accumulate); a functional x[index] += v.",
    examples=(Example(lambda x, v: index_add(x, (slice(1, 3),), v), ((5,), (2,)), label="slice"),
              Example(lambda x, v: index_add(x, np.array([0, 2, 0]), v), ((4,), (3,)),
                      label="repeated"),
              Example(lambda x, v: index_add(x, (1,), v), ((3, 4), (4,)), label="row")))


def index_add(x, index, v):
    """A new array equal to ``x`` with ``v`` added at ``x[index]`` (repeats accumulate).

    The differentiable replacement for ``x[index] += v``; works in both modes.
    """
    return apply(index_add_op, x, v, index=normalize_index(index, np.shape(x)))


def _getitem_vjp(g, needed, out, x, index):
    z = zeros(np.shape(g)[0], np.shape(x), _float_dtype(g))
    if index.basic and index.adjacent and not isinstance(g, Traced):
        # fast path: write into the fresh zeros (no copy); basic indices never repeat
        z[(slice(None),) + index.key] = g
        return (z,)
    return (_batched_index_add(z, index, g),)


def _getitem_vjp_sz(g, gsz, needed, out, x, index):
    """Structural zeros of getitem's VJP, directly for a basic index: every entry the index
    did not gather (and those it gathered where the cotangent is structurally zero)."""
    if not (index.basic and index.adjacent):
        return None  # repeated or moved entries: the indicator rule handles them
    sz = np.ones((np.shape(g)[0],) + np.shape(x), dtype=bool)
    sz[(slice(None),) + index.key] = False if gsz is None else gsz
    return (sz_clean(sz),)


getitem_op = defop(
    "getitem", lambda x, index: x[index.key],
    jvp=lambda ts, out, x, index: take_batched(ts[0], index),
    vjp=_getitem_vjp, nargs=1,
    coefficients="structural", creates_zeros=("vjp",), moves=("jvp",),
    sz_rules={"vjp": _getitem_vjp_sz},
    doc="x[index] for basic indices (ints, slices, None, ...) and integer/boolean arrays.",
    examples=(Example(lambda x: x[1:4], ((6,),), label="slice"),
              Example(lambda x: x[::-1, 1], ((3, 4),), label="reverse, int"),
              Example(lambda x: x[..., 2], ((2, 3, 4),), label="ellipsis"),
              Example(lambda x: x[np.array([0, 2, 2, 1])], ((4,),), label="repeated ints"),
              Example(lambda x: x[np.array([0, 1]), :, np.array([1, 3])], ((2, 3, 4),),
                      label="non-adjacent advanced"),
              Example(lambda x: x[:, np.array([[0, 1], [2, 0]])], ((3, 4),), label="2-D index"),
              Example(lambda x: x[np.array([True, False, True])], ((3, 2),), label="bool mask"),
              Example(lambda x: x[1], ((3, 4),), label="int")))


def getitem(x, index):
    """``x[index]`` on a traced value (called by ``Traced.__getitem__``)."""
    return apply(getitem_op, x, index=normalize_index(index, np.shape(x)))


def _flip_bind(m, axis=None):
    axes = normalize_axes(axis, np.ndim(m))
    key = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(np.ndim(m)))
    return getitem_op, (m,), {"index": normalize_index(key, np.shape(m))}


register_numpy_alias(np.flip, getitem_op, _flip_bind)


# ----------------------------------------------------------------------------- joining
def _concatenate_bind(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    _check_plain_kwargs("np.concatenate", dtype, out)
    arrays = tuple(arrays)
    if axis is None:
        arrays, axis = tuple(np.ravel(a) for a in arrays), 0
    return arrays, {"axis": normalize_axes(axis, np.ndim(arrays[0]))[0]}


def _concatenate_jvp(ts, out, *arrays, axis):
    k = batch_size(ts)
    like = next(t for t in ts if t is not None)
    return np.concatenate([_zero_or(t, k, np.shape(a), like) for t, a in zip(ts, arrays)],
                          axis=axis + 1)


def _concatenate_vjp(g, needed, out, *arrays, axis):
    grads, start = [], 0
    for need, a in zip(needed, arrays):
        stop = start + np.shape(a)[axis]
        grads.append(g[(slice(None),) * (axis + 1) + (slice(start, stop),)] if need else None)
        start = stop
    return tuple(grads)


concatenate_op = defop(
    "concatenate", lambda *arrays, axis: np.concatenate(arrays, axis=axis),
    jvp=_concatenate_jvp, vjp=_concatenate_vjp, nargs=None, numpy=(np.concatenate,),
    bind=_concatenate_bind,
    coefficients="structural", creates_zeros=("jvp",),
    examples=(Example(lambda a, b: np.concatenate([a, b]), ((3,), (2,))),
              Example(lambda a, b, c: np.concatenate((a, b, c), axis=1), ((2, 1), (2, 3), (2, 2)),
                      label="axis1, three"),
              Example(lambda a, b: np.concatenate([a, b], axis=None), ((2, 2), (3,)), label="None")))


def _stack_bind(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    _check_plain_kwargs("np.stack", dtype, out)
    arrays = tuple(arrays)
    return arrays, {"axis": normalize_axes(axis, np.ndim(arrays[0]) + 1)[0]}


def _stack_jvp(ts, out, *arrays, axis):
    k = batch_size(ts)
    like = next(t for t in ts if t is not None)
    return np.stack([_zero_or(t, k, np.shape(a), like) for t, a in zip(ts, arrays)], axis=axis + 1)


def _stack_vjp(g, needed, out, *arrays, axis):
    return tuple(g[(slice(None),) * (axis + 1) + (i,)] if need else None
                 for i, need in enumerate(needed))


stack_op = defop(
    "stack", lambda *arrays, axis: np.stack(arrays, axis=axis),
    jvp=_stack_jvp, vjp=_stack_vjp, nargs=None, numpy=(np.stack,), bind=_stack_bind,
    coefficients="structural", creates_zeros=("jvp",),
    examples=(Example(lambda a, b: np.stack([a, b]), ((3,), (3,))),
              Example(lambda a, b, c: np.stack((a, b, c), axis=-1), ((2, 3),) * 3, label="axis -1"),
              Example(lambda a, b: np.stack([a, b]), ((), ()), label="scalars")))


# ----------------------------------------------------------------------------- cumsum
def _cumsum_bind(a, axis=None, dtype=None, out=None):
    _check_plain_kwargs("np.cumsum", dtype, out)
    return (a,), {"axis": None if axis is None else normalize_axes(axis, np.ndim(a))[0]}


def _cumsum_jvp(ts, out, x, axis):
    t = ts[0]
    if axis is None:
        return np.cumsum(np.reshape(t, (np.shape(t)[0], -1)), axis=1)
    return np.cumsum(t, axis=axis + 1)


def _cumsum_vjp(g, needed, out, x, axis):
    # the transpose of a running sum is a running sum from the other end
    k = np.shape(g)[0]
    ax = 1 if axis is None else axis + 1
    rev = (slice(None),) * ax + (slice(None, None, -1),)
    return (np.reshape(np.cumsum(g[rev], axis=ax)[rev], (k,) + np.shape(x)),)


cumsum_op = defop(
    "cumsum", lambda x, axis: np.cumsum(x, axis=axis), jvp=_cumsum_jvp, vjp=_cumsum_vjp,
    nargs=1, numpy=(np.cumsum,), bind=_cumsum_bind,
    coefficients="structural",
    examples=(Example(lambda x: np.cumsum(x), ((5,),)),
              Example(lambda x: np.cumsum(x, axis=1), ((3, 4),), label="axis1"),
              Example(lambda x: np.cumsum(x), ((2, 3),), label="flattened")))


# ----------------------------------------------------------------------------- where, clip
def _where_bind(condition, x=None, y=None):
    if x is None and y is None:
        return registry.Done(call_nondiff("np.where", np.where, (condition,), {}))
    if x is None or y is None:
        raise ValueError("either both or neither of x and y should be given")
    # the condition carries no derivative; a traced condition is read as a plain mask
    cond = call_nondiff("np.where condition", lambda c: np.asarray(c, dtype=bool), (condition,), {})
    return (x, y), {"cond": cond}


def _where_jvp(ts, out, a, b, cond):
    k = batch_size(ts)
    nd = np.ndim(out)
    ta = 0.0 if ts[0] is None else pad_batch(ts[0], nd)
    tb = 0.0 if ts[1] is None else pad_batch(ts[1], nd)
    # selection, not multiplication by a mask: a NaN tangent of the branch not taken stays out
    return np.broadcast_to(np.where(cond, ta, tb), (k,) + np.shape(out))


def _where_vjp(g, needed, out, a, b, cond):
    ga = unbroadcast(np.where(cond, g, 0.0), np.shape(a)) if needed[0] else None
    gb = unbroadcast(np.where(cond, 0.0, g), np.shape(b)) if needed[1] else None
    return ga, gb


where_op = defop(
    "where", lambda a, b, cond: np.where(cond, a, b), jvp=_where_jvp, vjp=_where_vjp, nargs=2,
    numpy=(np.where,), bind=_where_bind,
    coefficients="structural", creates_zeros=("jvp", "vjp"),
    kink="the condition has no derivative; the unselected branch gets an exact zero, and a "
         "NaN or inf derivative inside the unselected branch does not reach the result",
    examples=(Example(lambda a, b: np.where(a > 0, a, b), ((3, 4), (3, 4))),
              Example(lambda a, b: np.where(a > 0, a, b), ((3, 4), (4,)), label="broadcast"),
              Example(lambda a, b: np.where(b > 0, a * 2.0, 0.0), ((3,), (3,)), label="constant")))


def _clip_bind(a, a_min=None, a_max=None, out=None, **kwargs):
    _check_plain_kwargs("np.clip", out=out, **{k: v for k, v in kwargs.items() if k not in ("min", "max")})
    a_min = kwargs.get("min", a_min)
    a_max = kwargs.get("max", a_max)
    lo = -np.inf if a_min is None else a_min
    hi = np.inf if a_max is None else a_max
    return (a, lo, hi), {}


register_numpy_alias(np.clip, registry.get_op("clip"), _clip_bind)
register_numpy_alias(np.copy, registry.get_op("positive"),
                     lambda a, order="K", subok=False: ((a,), {}))
