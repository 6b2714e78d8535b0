"""Elementwise ops: one line each — NumPy primal and the partial derivatives.

A partial is ``partial_i(out, *inputs) -> d out / d input_i``, broadcastable to ``out``.
Both engines derive JVP and VJP from it (:mod:`adcore.linear`), the numba engines
compile it for scalars, and the generated tests loop over this table — so a rule
added here is used and tested everywhere the day it is added.

Partials use only arithmetic, comparisons and NumPy ufuncs (no ``np.where``), so they
compile in numba's nopython mode for scalars as well as run on arrays.

Kink conventions (one subgradient per op, identical in both modes):

* ``abs``: d|x|/dx = sign(x), so **0 at x = 0** (the middle of the subdifferential).
* ``sign``, ``floor``-like steps: derivative 0 everywhere (``sign`` is traced; steps
  such as ``np.floor`` return plain arrays).
* ``relu``: **0 at x = 0**.
* ``maximum(x, y)`` / ``minimum``: the larger (smaller) input gets the whole
  derivative; **on a tie each input gets 1/2**.
* ``clip(x, lo, hi)``: d/dx = 1 on the **closed** interval lo <= x <= hi, else 0;
  d/dlo = 1 where x < lo, d/dhi = 1 where x > hi.
* ``power(x, y)``: d/dx = y x^(y-1) is **0 where y = 0** (also at x = 0);
  d/dy = x^y log x is **0 where x = 0**.
* ``sqrt`` at 0: +inf (not a kink: the derivative really is unbounded).
"""
import math

import numpy as np

from .registry import POSITIVE, REAL, UNIT, ConstZero, Domain, Kink, defop, jittable
from . import nn_primals as nnp, rules

inf = float("inf")
_NONZERO = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.3)
_AWAY_FROM_0 = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.05)
# Python floats (weak under NumPy's promotion), not np.float64: a partial times them keeps
# a float32 or complex64 value's dtype, nested derivatives included
_LOG2, _LOG10 = math.log(2.0), math.log(10.0)


def elementwise(name, primal, *partials, numpy=(), domains=(REAL,), kink="", special=(),
                szero=None, kinks=None, complex_partials=None):
    """Register an elementwise op; ``numpy`` defaults to the primal when it is a ufunc.
    ``complex_partials``: the holomorphic derivative for complex inputs where the real
    partials use real-only functions (see adcore.ops_complex)."""
    if not numpy and isinstance(primal, np.ufunc):
        numpy = (primal,)
    return defop(name, primal, partials=partials, numpy=numpy, domains=domains, kink=kink,
                 special=special, szero=szero, kinks=kinks, complex_partials=complex_partials)


# Structural zeros of partials (registry.defop's ``szero``): where the op does not depend
# on an input at all. ConstZero(j, pred): where input j is a plain constant and pred holds.
_TIE = lambda o, x, y: x == y  # noqa: E731 - a maximum/minimum tie: the 1/2 split is a convention


# name           primal          partials (out, *inputs) -> d out / d input_i
elementwise("add",        np.add,        lambda o, x, y: 1.0,  lambda o, x, y: 1.0)
elementwise("subtract",   np.subtract,   lambda o, x, y: 1.0,  lambda o, x, y: -1.0)
elementwise("multiply",   np.multiply,   lambda o, x, y: y,    lambda o, x, y: x,
            szero=(ConstZero(1, lambda o, x, y: y == 0), ConstZero(0, lambda o, x, y: x == 0)))
# d(x/y)/dy = -x/y^2 written as -out/y: one division, and exact wherever out is.
elementwise("divide",     np.divide,     lambda o, x, y: 1.0 / y, lambda o, x, y: -o / y,
            domains=(REAL, _NONZERO), szero=(None, ConstZero(0, lambda o, x, y: x == 0)))
elementwise("negative",   np.negative,   lambda o, x: -1.0)
elementwise("positive",   np.positive,   lambda o, x: 1.0)
# d/dx = y x**(y - 1). y == 0 is added to the exponent so the y == 0 case is 0 * x**0 = 0
# (the true partial: x**0 is constant in x), not 0 * inf at x = 0, while a constant
# exponent stays a scalar (NumPy's fast paths for x**2). That 0 is a value, not a function
# of y: its own y-derivative (1/x) is not what the formula gives, so y == 0 is a kink for
# nested derivatives (NaN there, never the wrong 1). (For |y| < 1 and a huge or tiny x the
# rounding of y - 1 is magnified |log x| times, up to ~140 ulps at x = 1e-300; correcting
# it would cost a second pow on every x**y: tests/test_accuracy.py lists the limit.)
# x == 0 is added inside the log so d/dy at x = 0 is out * log(1) = 0 (kink convention).
elementwise("power",      np.power,      lambda o, x, y: y * x ** (y - 1.0 + (y == 0)),
                                         lambda o, x, y: o * np.log(x + (x == 0)),
            domains=(POSITIVE, REAL),
            kink="d/dx is 0 where y == 0 (also at x = 0); d/dy is 0 where x == 0",
            # x**0 is the constant 1; 1**y and (for y > 0) 0**y are constants too
            szero=(ConstZero(1, lambda o, x, y: y == 0),
                   ConstZero(0, lambda o, x, y: (x == 1) | ((x == 0) & (y > 0)))),
            # the 0 at y == 0 is right along x, a convention along y; the 0 at x == 0 the
            # other way round
            kinks=(Kink(lambda o, x, y: y == 0, wrt=(1,)), Kink(lambda o, x, y: x == 0, wrt=(0,))),
            special=(((0.0, 0.0), (0.0, 0.0)), ((0.0, 2.0), (0.0, 0.0)), ((2.0, 0.0), (0.0, _LOG2))))
elementwise("square",     np.square,     lambda o, x: 2.0 * x)
elementwise("sqrt",       np.sqrt,       lambda o, x: 0.5 / o, domains=(POSITIVE,),
            special=(((0.0,), (inf,)),))
elementwise("cbrt",       np.cbrt,       lambda o, x: 1.0 / (3.0 * o * o), domains=(POSITIVE,))
elementwise("reciprocal", np.reciprocal, lambda o, x: -o * o, domains=(_NONZERO,))
elementwise("exp",        np.exp,        lambda o, x: o)
elementwise("exp2",       np.exp2,       lambda o, x: o * _LOG2)
# exp(x), not o + 1: expm1(x) + 1 cancels for x < 0 (expm1'(-37.43) was 0, not 5.6e-17)
elementwise("expm1",      np.expm1,      lambda o, x: np.exp(x))
elementwise("log",        np.log,        lambda o, x: 1.0 / x, domains=(POSITIVE,))
elementwise("log2",       np.log2,       lambda o, x: 1.0 / (x * _LOG2), domains=(POSITIVE,))
# (1/ln 10) / x: x * ln 10 overflows for x > 7.8e307 (log10'(1.8e308) was 0, not 2.4e-309)
elementwise("log10",      np.log10,      lambda o, x: (1.0 / _LOG10) / x, domains=(POSITIVE,))
elementwise("log1p",      np.log1p,      lambda o, x: 1.0 / (1.0 + x), domains=(Domain(-0.5, 2.0),))
elementwise("sin",        np.sin,        lambda o, x: np.cos(x))
elementwise("cos",        np.cos,        lambda o, x: -np.sin(x))
elementwise("tan",        np.tan,        lambda o, x: 1.0 + o * o, domains=(Domain(-1.2, 1.2),))
# 1 - x^2: 1 - x*x cancels near +-1 (arcsin'(1 - 1e-8) was 1.2e6 ulps off), (1 - x)(1 + x) is
# exact there, but its own derivative -(1 + x) + (1 - x) cancels near 0 (arcsin''(1e-24)
# would be 0): each is used where it is accurate, 1 - x*x for |x| < 1/2
elementwise("arcsin",     np.arcsin,
            lambda o, x: 1.0 / np.sqrt((x * x < 0.25) * (1.0 - x * x)
                                       + (1 - (x * x < 0.25)) * ((1.0 - x) * (1.0 + x))),
            domains=(UNIT,), complex_partials=(lambda o, x: 1.0 / np.sqrt(1.0 - x * x),))
# 1 - x^2 as for arcsin
elementwise("arccos",     np.arccos,
            lambda o, x: -1.0 / np.sqrt((x * x < 0.25) * (1.0 - x * x)
                                        + (1 - (x * x < 0.25)) * ((1.0 - x) * (1.0 + x))),
            domains=(UNIT,), complex_partials=(lambda o, x: -1.0 / np.sqrt(1.0 - x * x),))
# (1 / hypot(x, 1))^2: x * x overflows for |x| > 1.3e154 (arctan'(1e155) was 0, not 1e-310,
# and arctan''(1e308) NaN from 0 * inf)
elementwise("arctan",     np.arctan,     lambda o, x: np.square(1.0 / np.hypot(x, 1.0)),
            complex_partials=(lambda o, x: 1.0 / (1.0 + x * x),))
# (x / r) / r with r = hypot(y, x): x * x + y * y overflows above 1.3e154 and underflows
# below 1.5e-154 (d/dy at (1e-300, 1e-300) was inf, not 5e299)
elementwise("arctan2",    np.arctan2,    lambda o, y, x: x / np.hypot(y, x) / np.hypot(y, x),
                                         lambda o, y, x: -y / np.hypot(y, x) / np.hypot(y, x),
            domains=(REAL, _NONZERO))
# at the origin d hypot = (0, 0), the convention of abs'(0) and of np.linalg.norm at 0.
# d/dx = x / r, but its derivative through x / r is 1/r - (x/r)^2 / r, which cancels where
# |y| << |x| (d2/dx2 at (1, 1e-8) was 0, not 1e-16; subnormal r also makes x / r itself
# inexact). So x / r is the cosine or the sine of an angle of at most pi/4, from the axis
# the point is nearest: sign(x) cos(arctan2(y, |x|)) where |x| >= |y|, else
# sin(arctan2(x, |y|)); sign(x), |x| from comparisons. Likewise d/dy.
elementwise("hypot",      np.hypot,
            lambda o, x, y: ((((x >= y) & (x >= -y)) | ((x <= y) & (x <= -y)))
                             * ((x > 0) * 1.0 - (x < 0))
                             * np.cos(np.arctan2(y, ((x > 0) * 1.0 - (x < 0)) * x))
                             + (1 - (((x >= y) & (x >= -y)) | ((x <= y) & (x <= -y))))
                             * np.sin(np.arctan2(x, ((y > 0) * 1.0 - (y < 0)) * y))),
            lambda o, x, y: ((((y >= x) & (y >= -x)) | ((y <= x) & (y <= -x)))
                             * ((y > 0) * 1.0 - (y < 0))
                             * np.cos(np.arctan2(x, ((y > 0) * 1.0 - (y < 0)) * y))
                             + (1 - (((y >= x) & (y >= -x)) | ((y <= x) & (y <= -x))))
                             * np.sin(np.arctan2(y, ((x > 0) * 1.0 - (x < 0)) * x))),
            domains=(_NONZERO,), kink="the gradient at the origin is (0, 0)",
            special=(((0.0, 0.0), (0.0, 0.0)),),
            kinks=(lambda o, x, y: o == 0,) * 2)
elementwise("sinh",       np.sinh,       lambda o, x: np.cosh(x))
elementwise("cosh",       np.cosh,       lambda o, x: np.sinh(x))
# sech^2: 1 - o*o cancels for |x| > ~19 (o rounds to +-1; tanh'(20) was 0, not 1.7e-17);
# 4 exp(-2 logaddexp(x, -x)) is exact there, but its own derivative cancels near 0 (it is
# computed as sigmoid(2x) - sigmoid(-2x)). The blend (1 - w)^2 + w * that, w = o*o, equals
# 1 - w and is exact where either is: near 0 the weight w ~ x^2, and where 1 - w cancels
# its error is multiplied by 1 - w itself. ((1 / cosh x)^2 is exact too, but its reverse-mode
# second derivative underflows in between, as e^-3x, for |x| > 248.)
elementwise("tanh",       np.tanh,
            lambda o, x: ((1.0 - o * o) * (1.0 - o * o)
                          + o * o * (4.0 * np.exp(-2.0 * np.logaddexp(x, -x)))),
            complex_partials=(lambda o, x: 1.0 - o * o,),
            special=(((50.0,), (1.4880303904083344e-43,)), ((-50.0,), (1.4880303904083344e-43,))))
# 1 / hypot(x, 1): x * x overflows for |x| > 1.3e154 (arcsinh'(1e300) was 0, not 1e-300)
elementwise("arcsinh",    np.arcsinh,    lambda o, x: 1.0 / np.hypot(x, 1.0),
            complex_partials=(lambda o, x: 1.0 / np.sqrt(x * x + 1.0),))
# sqrt(x - 1) sqrt(x + 1): x * x overflows for x > 1.3e154 (arccosh'(1e155) was 0, not 1e-155);
# x - 1 is exact near 1
elementwise("arccosh",    np.arccosh,    lambda o, x: 1.0 / (np.sqrt(x - 1.0) * np.sqrt(x + 1.0)),
            domains=(Domain(1.2, 3.0),))
# 1 - x^2 as for arcsin (1 - x*x cancels near +-1; (1 - x)(1 + x)'s derivative near 0)
elementwise("arctanh",    np.arctanh,
            lambda o, x: 1.0 / ((x * x < 0.25) * (1.0 - x * x)
                                + (1 - (x * x < 0.25)) * ((1.0 - x) * (1.0 + x))),
            domains=(UNIT,), complex_partials=(lambda o, x: 1.0 / (1.0 - x * x),))
elementwise("abs",        np.absolute,   lambda o, x: np.sign(x), domains=(_AWAY_FROM_0,),
            numpy=(np.absolute, np.fabs),
            kink="d|x|/dx = sign(x): 0 at x = 0", special=(((0.0,), (0.0,)),),
            kinks=(lambda o, x: x == 0,))
elementwise("sign",       np.sign,       lambda o, x: np.zeros_like(x), domains=(_AWAY_FROM_0,),
            kink="derivative 0 everywhere, including x = 0", special=(((0.0,), (0.0,)),),
            szero=(lambda o, x: x != 0,), kinks=(lambda o, x: x == 0,))
elementwise("maximum",    np.maximum,    lambda o, x, y: (x > y) + 0.5 * (x == y),
                                         lambda o, x, y: (y > x) + 0.5 * (x == y),
            kink="the larger input gets the derivative; a tie splits it 1/2, 1/2",
            special=(((1.0, 1.0), (0.5, 0.5)), ((2.0, 1.0), (1.0, 0.0))),
            szero=(lambda o, x, y: y > x, lambda o, x, y: x > y), kinks=(_TIE, _TIE))
elementwise("minimum",    np.minimum,    lambda o, x, y: (x < y) + 0.5 * (x == y),
                                         lambda o, x, y: (y < x) + 0.5 * (x == y),
            kink="the smaller input gets the derivative; a tie splits it 1/2, 1/2",
            special=(((1.0, 1.0), (0.5, 0.5)), ((2.0, 1.0), (0.0, 1.0))),
            szero=(lambda o, x, y: y < x, lambda o, x, y: x < y), kinks=(_TIE, _TIE))
# d/dx = sigmoid(x - y) = exp(-logaddexp(0, y - x)): no cancellation in either tail, no
# overflow (1 / (1 + exp(y - x)) was 0 for y - x > 709, not down to 5e-324, and its own
# derivative 0 * inf = NaN there), and equal infinite arguments (y - x is NaN) give the limit
# along x = y, 1/2 each (fmax(d, 0) + fmin(d, 0) is d with NaN replaced by 0, in arithmetic
# numba compiles for scalars)
elementwise("logaddexp",  np.logaddexp,
            lambda o, x, y: np.exp(-np.logaddexp(0.0, np.fmax(y - x, 0.0) + np.fmin(y - x, 0.0))),
            lambda o, x, y: np.exp(-np.logaddexp(0.0, np.fmax(x - y, 0.0) + np.fmin(x - y, 0.0))),
            special=(((1000.0, 0.0), (1.0, 0.0)), ((-inf, -inf), (0.5, 0.5)),
                     ((-inf, 0.0), (0.0, 1.0))))
elementwise("clip",       nnp.clip,      lambda o, x, lo, hi: (x >= lo) * (x <= hi) * 1.0,
                                         lambda o, x, lo, hi: (x < lo) * 1.0,
                                         lambda o, x, lo, hi: (x > hi) * 1.0,
            numpy=(), domains=(REAL, Domain(-1.5, -0.5), Domain(0.5, 1.5)),
            kink="d/dx = 1 on the closed interval lo <= x <= hi; d/dlo = 1 where x < lo; "
                 "d/dhi = 1 where x > hi",
            special=(((-1.0, -1.0, 1.0), (1.0, 0.0, 0.0)), ((1.0, -1.0, 1.0), (1.0, 0.0, 0.0)),
                     ((2.0, -1.0, 1.0), (0.0, 0.0, 1.0))),
            szero=(lambda o, x, lo, hi: (x < lo) | (x > hi),
                   lambda o, x, lo, hi: x > lo, lambda o, x, lo, hi: x < hi),
            kinks=(lambda o, x, lo, hi: (x == lo) | (x == hi),
                   lambda o, x, lo, hi: x == lo, lambda o, x, lo, hi: x == hi))
# sigmoid' = sigmoid(x) sigmoid(-x), with sigmoid(-x) = exp(-logaddexp(0, x)) computed
# directly: 1 - sigmoid(x) cancels to 0 for x > 37 (sigmoid'(50) = 1.9e-22, not 0). That
# product's own derivative cancels near 0 (sigmoid''(1e-16) was 0, not -1.25e-17), where
# (1 - t^2) / 4, t = tanh(x / 2), is exact instead: blended by w = (2 o - 1)^2 (= t^2) as
# (1 - w) (1 - t^2) / 4 + w sigmoid(x) sigmoid(-x), exactly sigmoid' and exact where
# either is (as for tanh).
elementwise("sigmoid",    nnp.sigmoid,
            lambda o, x: ((1.0 - (2.0 * o - 1.0) * (2.0 * o - 1.0))
                          * (0.25 - 0.25 * np.square(np.tanh(0.5 * x)))
                          + (2.0 * o - 1.0) * (2.0 * o - 1.0) * o * np.exp(-np.logaddexp(0.0, x))),
            special=(((800.0,), (0.0,)), ((-800.0,), (0.0,)), ((0.0,), (0.25,))))
elementwise("relu",       nnp.relu,      lambda o, x: (x > 0) * 1.0, domains=(_AWAY_FROM_0,),
            kink="0 at x = 0", special=(((0.0,), (0.0,)), ((1.0,), (1.0,))),
            szero=(lambda o, x: x < 0,), kinks=(lambda o, x: x == 0,))
# softplus' = sigmoid(x) = exp(-logaddexp(0, -x)): no overflow for large |x|, and its own
# derivative has no 1 - sigmoid cancellation (softplus''(40) = 4.2e-18, not 0)
elementwise("softplus",   nnp.softplus,  lambda o, x: np.exp(-np.logaddexp(0.0, -x)),
            special=(((800.0,), (1.0,)), ((-800.0,), (0.0,))))
# NaN-ignoring maximum/minimum: a NaN argument loses (NumPy's fmax/fmin)
elementwise("fmax",       np.fmax,       lambda o, x, y: (x > y) + (y != y) + 0.5 * (x == y),
                                         lambda o, x, y: (y > x) + (x != x) + 0.5 * (x == y),
            kink="the larger non-NaN input gets the derivative; a tie splits it 1/2, 1/2",
            special=(((1.0, 1.0), (0.5, 0.5)), ((2.0, 1.0), (1.0, 0.0))),
            szero=(lambda o, x, y: (y > x) | ((x != x) & (y == y)),
                   lambda o, x, y: (x > y) | ((y != y) & (x == x))),
            kinks=(_TIE, _TIE))
elementwise("fmin",       np.fmin,       lambda o, x, y: (x < y) + (y != y) + 0.5 * (x == y),
                                         lambda o, x, y: (y < x) + (x != x) + 0.5 * (x == y),
            kink="the smaller non-NaN input gets the derivative; a tie splits it 1/2, 1/2",
            special=(((1.0, 1.0), (0.5, 0.5)), ((2.0, 1.0), (0.0, 1.0))),
            szero=(lambda o, x, y: (y < x) | ((x != x) & (y == y)),
                   lambda o, x, y: (x < y) | ((y != y) & (x == x))),
            kinks=(_TIE, _TIE))

# x mod y = x - q y with an integer q (remainder, %: q = x // y, the sign of y; fmod: q rounds
# toward 0, the sign of x). Piecewise: d/dx = 1, d/dy = -q, constant between the jumps. q is
# the quotient the computed result itself implies, (x - out) / y rounded to an integer -- not
# floor(x / y): x / y rounds, and near a jump floor(x / y) is often the other piece (1 % 0.1
# is 1 - 9 * 0.1 in NumPy, floor(1 / 0.1) = 10); numba's primal gets its own quotient too.
_MOD_DOMAINS = (Domain(-2.0, 2.0, avoid=(0.0,), margin=0.1), Domain(2.5, 3.0))
elementwise("remainder",  np.remainder,  lambda o, x, y: 1.0,
                                         lambda o, x, y: -np.rint((x - o) / y),
            domains=_MOD_DOMAINS, special=(((1.0, 0.1), (1.0, -9.0)),),
            kink="jumps where NumPy's quotient x // y steps: the derivative of the piece taken")
elementwise("fmod",       np.fmod,       lambda o, x, y: 1.0,
                                         lambda o, x, y: -np.rint((x - o) / y),
            domains=_MOD_DOMAINS, special=(((1.0, 0.1), (1.0, -9.0)),),
            kink="jumps where the truncated quotient steps: the derivative of the piece taken")
# d/dx logaddexp2(x, y) = 2^x / (2^x + 2^y) = 1 / (1 + 2^(y - x)), as logaddexp's (which see)
elementwise("logaddexp2", np.logaddexp2,
            lambda o, x, y: np.exp2(-np.logaddexp2(0.0, np.fmax(y - x, 0.0) + np.fmin(y - x, 0.0))),
            lambda o, x, y: np.exp2(-np.logaddexp2(0.0, np.fmax(x - y, 0.0) + np.fmin(x - y, 0.0))),
            special=(((1000.0, 0.0), (1.0, 2.0 ** -1000)), ((-inf, -inf), (0.5, 0.5))))
_PI = np.pi
elementwise("deg2rad",    np.deg2rad,    lambda o, x: _PI / 180.0, numpy=(np.deg2rad, np.radians))
elementwise("rad2deg",    np.rad2deg,    lambda o, x: 180.0 / _PI, numpy=(np.rad2deg, np.degrees))
# |x| with the sign of y: d/dx = sign(x) sign(y) (0 at x = 0, abs's convention); no
# dependence on y (its sign bit is a step)
elementwise("copysign",   np.copysign,
            lambda o, x, y: np.sign(x) * np.copysign(1.0, y), lambda o, x, y: np.zeros_like(y),
            domains=(_AWAY_FROM_0, _AWAY_FROM_0), kink="d/dx is 0 at x = 0 (as abs)",
            szero=(None, lambda o, x, y: y == y), kinks=(lambda o, x, y: x == 0, None))
# sinc(x) = sin(pi x) / (pi x): d/dx = (cos(pi x) - sinc(x)) / x, which cancels near 0. There
# (|x| < 1/4) it is the Taylor series sum_k (-1)^k 2k pi^2k x^(2k-1) / (2k+1)!, k = 1..10
# (the next term is below 1e-20 relative), by Horner's rule in x^2, at x * [|x| < 1/4] so it
# stays finite (0 * inf would be NaN) for huge x. cos(pi x), sin(pi x) are taken at
# pi * fmod(x, 2) -- the same numbers, exactly -- since pi * x rounds the period away for
# |x| > 2**50 (and overflows above 5.7e307). x + (x == 0) keeps the unused formula finite.
_SINC_SERIES = tuple((-1) ** k * 2 * k * _PI ** (2 * k) / math.factorial(2 * k + 1)
                     for k in range(1, 11))


@jittable
def _sinc_near_0(x):
    """sinc'(x) by its series (Horner's rule in x^2), for |x| < 1/4."""
    c, x2 = _SINC_SERIES, x * x
    return x * (c[0] + x2 * (c[1] + x2 * (c[2] + x2 * (c[3] + x2 * (c[4] + x2 * (
        c[5] + x2 * (c[6] + x2 * (c[7] + x2 * (c[8] + x2 * c[9])))))))))


elementwise("sinc",       lambda x: np.sinc(x),  # a function, so numba compiles it
            lambda o, x: ((np.abs(x) < 0.25) * _sinc_near_0(x * (np.abs(x) < 0.25))
                          + (1 - (np.abs(x) < 0.25)) * ((np.cos(_PI * np.fmod(x, 2.0)) - np.sin(
                              _PI * np.fmod(x, 2.0)) / (_PI * x + (x == 0))) / (x + (x == 0)))),
            complex_partials=(  # no fmod of complex values: pi * x directly
                lambda o, x: ((np.abs(x) < 0.25) * _sinc_near_0(x * (np.abs(x) < 0.25))
                              + (1 - (np.abs(x) < 0.25)) * ((np.cos(_PI * x) - o) / (x + (x == 0)))),),
            numpy=(np.sinc,), special=(((0.0,), (0.0,)),))

# The kink marker (adcore.rules.KINK), used only inside nested derivatives: kink(p, x, m) is
# p, but where m = 1 (p is a convention at a kink of an op of x) its derivative is NaN
# (0/0: undefined), so a second derivative through a convention is NaN, never a wrong
# finite number. Off the kinks (m = 0) it is the identity in p and does not depend on x
# (a structural zero).
rules.KINK = elementwise(
    "kink", lambda p, x, m: p + 0.0 * m,
    lambda o, p, x, m: (1.0 - m) / (1.0 - m), lambda o, p, x, m: m * (0.0 / (1.0 - m)),
    lambda o, p, x, m: 0.0,
    domains=(REAL, REAL, Domain(0.0, 0.0)),
    szero=(None, lambda o, p, x, m: m == 0, lambda o, p, x, m: m == m))
