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
import numpy as np

from .registry import POSITIVE, REAL, UNIT, Domain, defop
from . import nn_primals as nnp

inf = float("inf")
_NONZERO = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.3)
_AWAY_FROM_0 = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.05)
_LOG2, _LOG10 = np.log(2.0), np.log(10.0)


def elementwise(name, primal, *partials, numpy=(), domains=(REAL,), kink="", special=()):
    """Register an elementwise op; ``numpy`` defaults to the primal when it is a ufunc."""
    if not numpy and isinstance(primal, np.ufunc):
        numpy = (primal,)
    return defop(name, primal, partials=partials, numpy=numpy, domains=domains, kink=kink,
                 special=special)


# name           primal          partials (out, *inputs) -> d out / d input_i
elementwise("add",        np.add,        lambda o, x, y: 1.0,  lambda o, x, y: 1.0)
elementwise("subtract",   np.subtract,   lambda o, x, y: 1.0,  lambda o, x, y: -1.0)
elementwise("multiply",   np.multiply,   lambda o, x, y: y,    lambda o, x, y: x)
# d(x/y)/dy = -x/y^2 written as -out/y: one division, and exact wherever out is.
elementwise("divide",     np.divide,     lambda o, x, y: 1.0 / y, lambda o, x, y: -o / y,
            domains=(REAL, _NONZERO))
elementwise("negative",   np.negative,   lambda o, x: -1.0)
elementwise("positive",   np.positive,   lambda o, x: 1.0)
# y == 0 is added to the exponent so the y == 0 case is 0 * x**0 = 0, not 0 * inf at x = 0;
# x == 0 is added inside the log so d/dy at x = 0 is out * log(1) = 0 (kink convention).
elementwise("power",      np.power,      lambda o, x, y: y * x ** (y - 1.0 + (y == 0)),
                                         lambda o, x, y: o * np.log(x + (x == 0)),
            domains=(POSITIVE, REAL),
            kink="d/dx is 0 where y == 0; d/dy is 0 where x == 0",
            special=(((0.0, 0.0), (0.0, 0.0)), ((0.0, 2.0), (0.0, 0.0)), ((2.0, 0.0), (0.0, _LOG2))))
elementwise("square",     np.square,     lambda o, x: 2.0 * x)
elementwise("sqrt",       np.sqrt,       lambda o, x: 0.5 / o, domains=(POSITIVE,),
            special=(((0.0,), (inf,)),))
elementwise("cbrt",       np.cbrt,       lambda o, x: 1.0 / (3.0 * o * o), domains=(POSITIVE,))
elementwise("reciprocal", np.reciprocal, lambda o, x: -o * o, domains=(_NONZERO,))
elementwise("exp",        np.exp,        lambda o, x: o)
elementwise("exp2",       np.exp2,       lambda o, x: o * _LOG2)
elementwise("expm1",      np.expm1,      lambda o, x: o + 1.0)
elementwise("log",        np.log,        lambda o, x: 1.0 / x, domains=(POSITIVE,))
elementwise("log2",       np.log2,       lambda o, x: 1.0 / (x * _LOG2), domains=(POSITIVE,))
elementwise("log10",      np.log10,      lambda o, x: 1.0 / (x * _LOG10), domains=(POSITIVE,))
elementwise("log1p",      np.log1p,      lambda o, x: 1.0 / (1.0 + x), domains=(Domain(-0.5, 2.0),))
elementwise("sin",        np.sin,        lambda o, x: np.cos(x))
elementwise("cos",        np.cos,        lambda o, x: -np.sin(x))
elementwise("tan",        np.tan,        lambda o, x: 1.0 + o * o, domains=(Domain(-1.2, 1.2),))
elementwise("arcsin",     np.arcsin,     lambda o, x: 1.0 / np.sqrt(1.0 - x * x), domains=(UNIT,))
elementwise("arccos",     np.arccos,     lambda o, x: -1.0 / np.sqrt(1.0 - x * x), domains=(UNIT,))
elementwise("arctan",     np.arctan,     lambda o, x: 1.0 / (1.0 + x * x))
elementwise("arctan2",    np.arctan2,    lambda o, y, x: x / (x * x + y * y),
                                         lambda o, y, x: -y / (x * x + y * y),
            domains=(REAL, _NONZERO))
elementwise("hypot",      np.hypot,      lambda o, x, y: x / o, lambda o, x, y: y / o,
            domains=(_NONZERO,))
elementwise("sinh",       np.sinh,       lambda o, x: np.cosh(x))
elementwise("cosh",       np.cosh,       lambda o, x: np.sinh(x))
elementwise("tanh",       np.tanh,       lambda o, x: 1.0 - o * o,
            special=(((50.0,), (0.0,)), ((-50.0,), (0.0,))))
elementwise("arcsinh",    np.arcsinh,    lambda o, x: 1.0 / np.sqrt(x * x + 1.0))
elementwise("arccosh",    np.arccosh,    lambda o, x: 1.0 / np.sqrt(x * x - 1.0),
            domains=(Domain(1.2, 3.0),))
elementwise("arctanh",    np.arctanh,    lambda o, x: 1.0 / (1.0 - x * x), domains=(UNIT,))
elementwise("abs",        np.absolute,   lambda o, x: np.sign(x), domains=(_AWAY_FROM_0,),
            kink="d|x|/dx = sign(x): 0 at x = 0", special=(((0.0,), (0.0,)),))
elementwise("sign",       np.sign,       lambda o, x: np.zeros_like(x), domains=(_AWAY_FROM_0,),
            kink="derivative 0 everywhere, including x = 0", special=(((0.0,), (0.0,)),))
elementwise("maximum",    np.maximum,    lambda o, x, y: (x > y) + 0.5 * (x == y),
                                         lambda o, x, y: (y > x) + 0.5 * (x == y),
            kink="the larger input gets the derivative; a tie splits it 1/2, 1/2",
            special=(((1.0, 1.0), (0.5, 0.5)), ((2.0, 1.0), (1.0, 0.0))))
elementwise("minimum",    np.minimum,    lambda o, x, y: (x < y) + 0.5 * (x == y),
                                         lambda o, x, y: (y < x) + 0.5 * (x == y),
            kink="the smaller input gets the derivative; a tie splits it 1/2, 1/2",
            special=(((1.0, 1.0), (0.5, 0.5)), ((2.0, 1.0), (0.0, 1.0))))
elementwise("logaddexp",  np.logaddexp,  lambda o, x, y: np.exp(x - o), lambda o, x, y: np.exp(y - o),
            special=(((1000.0, 0.0), (1.0, 0.0)),))
elementwise("clip",       nnp.clip,      lambda o, x, lo, hi: (x >= lo) * (x <= hi) * 1.0,
                                         lambda o, x, lo, hi: (x < lo) * 1.0,
                                         lambda o, x, lo, hi: (x > hi) * 1.0,
            numpy=(), domains=(REAL, Domain(-1.5, -0.5), Domain(0.5, 1.5)),
            kink="d/dx = 1 on the closed interval lo <= x <= hi; d/dlo = 1 where x < lo; "
                 "d/dhi = 1 where x > hi",
            special=(((-1.0, -1.0, 1.0), (1.0, 0.0, 0.0)), ((1.0, -1.0, 1.0), (1.0, 0.0, 0.0)),
                     ((2.0, -1.0, 1.0), (0.0, 0.0, 1.0))))
elementwise("sigmoid",    nnp.sigmoid,   lambda o, x: o * (1.0 - o),
            special=(((800.0,), (0.0,)), ((-800.0,), (0.0,)), ((0.0,), (0.25,))))
elementwise("relu",       nnp.relu,      lambda o, x: (x > 0) * 1.0, domains=(_AWAY_FROM_0,),
            kink="0 at x = 0", special=(((0.0,), (0.0,)), ((1.0,), (1.0,))))
# softplus' = sigmoid(x) = exp(x - softplus(x)): no overflow for large |x|.
elementwise("softplus",   nnp.softplus,  lambda o, x: np.exp(x - o),
            special=(((800.0,), (1.0,)), ((-800.0,), (0.0,))))
