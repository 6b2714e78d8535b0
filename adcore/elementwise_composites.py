"""Elementwise NumPy functions made of registered ops (no rule of their own): divmod, modf,
frexp, ldexp, float_power, nan_to_num, real_if_close, matvec/vecmat; and the elementwise
steps that have no derivative (heaviside, nextafter, spacing)."""
import numpy as np

from . import registry
from .errors import UnsupportedOpError
from .registry import POSITIVE, REAL, Domain, Example, defcomposite
from .tracing import call_nondiff, cast, value_of

registry.NONDIFF_UFUNCS.update({np.heaviside, np.nextafter, np.spacing, np.isnat})


def _plain_kwargs(name, kwargs):
    if kwargs.get("out") is not None:
        from .errors import MutationError
        raise MutationError(f"{name}(..., out=...) writes in place; use the returned value")
    extra = sorted(k for k in kwargs if k != "out")
    if extra:
        raise UnsupportedOpError(name, f"keyword argument(s) {extra} are not supported")


_MOD = (Domain(-2.0, 2.0, avoid=(0.0,), margin=0.1), Domain(2.5, 3.0))


@defcomposite((np.divmod,), examples=(
    Example(lambda x, y: np.divmod(x, y)[1], ((4,), ()), domains=_MOD, label="remainder part"),))
def _divmod(x, y, **kwargs):
    """(x // y, x % y): the quotient is a step (a plain array), the remainder differentiable."""
    _plain_kwargs("np.divmod", kwargs)
    return np.floor_divide(x, y), np.remainder(x, y)


@defcomposite((np.modf,), examples=(
    Example(lambda x: np.modf(x)[0], ((5,),), domains=(Domain(-2.0, 2.0, avoid=(-1.0, 0.0, 1.0),
                                                            margin=0.1),), label="fraction"),))
def _modf(x, **kwargs):
    """(fractional part, integral part): d frac/dx = 1; the integral part is a step."""
    _plain_kwargs("np.modf", kwargs)
    whole = np.trunc(x)  # plain: a step
    return x - whole, whole


@defcomposite((np.frexp,), examples=(
    Example(lambda x: np.frexp(x)[0], ((5,),), label="mantissa"),))
def _frexp(x, **kwargs):
    """(mantissa, exponent) with x = mantissa * 2**exponent: d mantissa/dx = 2**-exponent
    (piecewise; the exponent is a step, read on the plain value and recorded as a guard)."""
    _plain_kwargs("np.frexp", kwargs)
    exponent = call_nondiff("np.frexp", lambda v: np.frexp(v)[1], (x,), {})
    return _times_pow2(x, -exponent), exponent


@defcomposite((np.ldexp,), examples=(
    Example(lambda x: np.ldexp(x, np.array([0, 3, -2])), ((3,),), label="int exponents"),))
def _ldexp(x, n, **kwargs):
    """x * 2**n for integer n (exact: a power of two)."""
    _plain_kwargs("np.ldexp", kwargs)
    n = value_of(n)
    if not np.issubdtype(np.asarray(n).dtype, np.integer):
        raise UnsupportedOpError("np.ldexp", "the exponent must be a plain integer array")
    return _times_pow2(x, n)


def _times_pow2(x, n):
    """``x * 2**n`` (``n`` plain integers) by exact powers of two in x's float dtype, so a
    float32 ``x`` stays float32 as in NumPy's own frexp/ldexp: one factor, or two where
    2**n alone would overflow or underflow to 0 in that dtype (a subnormal x's mantissa,
    a large x times a tiny power) -- the first then takes as much of n as it can."""
    dt = np.result_type(value_of(x))
    dt = dt if np.issubdtype(dt, np.floating) else np.dtype(np.float64)
    info = np.finfo(dt)
    one = np.ones((), dt)
    n = np.asarray(n)
    first = np.clip(n, info.minexp - info.nmant, info.maxexp - 1)  # 2**first: no 0, no inf
    y = x * np.ldexp(one, first)
    rest = n - first
    return y * np.ldexp(one, rest) if np.any(rest != 0) else y


def _to_float64(v):
    """float64 (complex128 for a complex value), as NumPy's float_power computes in."""
    dtype = np.complex128 if np.result_type(value_of(v)).kind == "c" else np.float64
    return cast(v, dtype)


@defcomposite((np.float_power,), examples=(
    Example(lambda x, y: np.float_power(x, y), ((3,), (3,)), domains=(POSITIVE, REAL)),))
def _float_power(x, y, **kwargs):
    """x ** y computed in float64 or complex128 (NumPy's float_power)."""
    _plain_kwargs("np.float_power", kwargs)
    return np.power(_to_float64(x), _to_float64(y))


@defcomposite((np.nan_to_num,), examples=(
    Example(lambda x: np.nan_to_num(np.log(x)), ((4,),), domains=(POSITIVE,), label="finite"),))
def _nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """NaN -> ``nan``, +-inf -> the largest finite numbers (or ``posinf``/``neginf``): a
    selection, so replaced entries have derivative exactly 0."""
    big = np.finfo(np.result_type(value_of(x), np.float16)).max
    posinf = big if posinf is None else posinf
    neginf = -big if neginf is None else neginf
    # masks through call_nondiff: replay guards, so a recording never replays stale ones
    out = np.where(call_nondiff("isnan", np.isnan, (x,), {}), nan, x)
    out = np.where(call_nondiff("== inf", np.equal, (x, np.inf), {}), posinf, out)
    return np.where(call_nondiff("== -inf", np.equal, (x, -np.inf), {}), neginf, out)


@defcomposite((np.real_if_close,), examples=(
    Example(lambda x: np.real_if_close(x), ((3,),)),))
def _real_if_close(a, tol=100):
    """Real input: returned as it is."""
    return a


if hasattr(np, "matvec"):  # NumPy >= 2.2
    @defcomposite((np.matvec,), examples=(
        Example(lambda a, v: np.matvec(a, v), ((2, 3, 4), (4,)), label="stacked"),))
    def _matvec(x1, x2, **kwargs):
        _plain_kwargs("np.matvec", kwargs)
        return np.einsum("...ij,...j->...i", x1, x2)

    @defcomposite((np.vecmat,), examples=(
        Example(lambda v, a: np.vecmat(v, a), ((3,), (2, 3, 4)), label="stacked"),))
    def _vecmat(x1, x2, **kwargs):
        _plain_kwargs("np.vecmat", kwargs)
        return np.einsum("...i,...ij->...j", np.conjugate(x1), x2)
