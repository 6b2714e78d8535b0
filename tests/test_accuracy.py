"""Accuracy of every elementwise rule over its whole floating domain, tails included.

Generated from the registry: for every elementwise op (the internal ``kink`` marker
aside) the first derivative -- each partial, through ``dualnum.grad`` and ``tapes.grad``
-- and the second derivative -- every Hessian entry, through the four nestings
``{dualnum, tapes}.grad({dualnum, tapes}.grad(f))`` -- are compared at float inputs
spanning the op's whole domain (0, subnormals, 1e-300 ... 1e300, the overflow and
underflow thresholds of exp, points a few ulps from the domain's edges, seeded
log-uniform samples) with a reference computed by mpmath from its own functions at the
same inputs: high-order central differences at high precision for one-input ops, closed
forms for the others (checked against those differences in
``test_closed_form_references``). A second derivative runs the partials' own formulas on
traced values, so it tests that they are accurate too.

Tolerance, with ``S = sum_i |x_i * d(exact)/dx_i|`` (the sensitivity of the derivative to a
relative change of each input; ``S / |exact|`` is its condition number)::

    |computed - exact| <= C * eps * max(|exact|, tiny) * max(1, S / |exact|)
    |computed|         <= C * eps * max(S, tiny)                  where exact == 0

that is C ulps times max(1, condition number), counted in subnormal ulps where the exact
value underflows. Where the exact value overflows, the same infinity is required (and
NaN is never accepted). Two allowances, for the op's own value rather than its rules:
where that value is subnormal, eps is its relative rounding error (2^-1074 / |value|),
and where it overflowed (underflowed to 0) an infinite derivative (any error) is
accepted. ``KNOWN_LIMITS`` lists the few regions (subnormal or near-subnormal arguments)
where an intermediate of the chain rule over- or underflows; they are skipped, with the
reason.

``TAIL_CASES`` are named points -- the issue's sigmoid'(50), sigmoid'(37.43),
softplus''(40) among them, and the domain edges where the derivative is infinite --
checked on scalars through both engines and all four nestings.
``test_the_check_rejects_the_old_rules`` registers the rules this file replaced (sigmoid'
= o (1 - o), tanh' = 1 - o^2, expm1' = o + 1, ...) as temporary ops and requires the same
check to fail on each.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import adcore
import dualnum
import tapes

mpmath = pytest.importorskip("mpmath")
mp, mpf = mpmath.mp, mpmath.mpf

C = 8
EPS = 2.0 ** -52
TINY = 2.0 ** -1022
MAX = float(np.finfo(float).max)
with mp.workprec(100):
    OVERFLOW = mpf(MAX) + mp.ldexp(1, 970)  # MAX + ulp/2: the least value that rounds to inf
ENGINES = {"dualnum": dualnum, "tapes": tapes}
NESTINGS = [(outer, inner) for outer in ENGINES for inner in ENGINES]

OPS = {name: op for name, op in sorted(adcore.registered_ops().items())
       if op.kind == adcore.ELEMENTWISE and name != "kink"}


def numpy_spelling(op):
    """The op as user code calls it: its ufunc, or the adcore function (sigmoid, clip...)."""
    if isinstance(op.primal, np.ufunc):
        return op.primal
    return lambda *xs: adcore.apply(op, *xs)


# ------------------------------------------------------------------------------ reference
def _sig(z):
    return 1 / (1 + mp.exp(-z))


# one-input ops: the mpmath function, real on the sampled domain
MP1 = {
    "negative": lambda x: -x, "positive": lambda x: +x, "square": lambda x: x * x,
    "sqrt": lambda x: mp.sqrt(x), "cbrt": lambda x: mp.sign(x) * mp.cbrt(abs(x)),
    "reciprocal": lambda x: 1 / x, "exp": lambda x: mp.exp(x),
    "exp2": lambda x: mp.power(2, x), "expm1": lambda x: mp.expm1(x),
    "log": lambda x: mp.log(x), "log2": lambda x: mp.log(x, 2),
    "log10": lambda x: mp.log10(x), "log1p": lambda x: mp.log1p(x),
    "sin": lambda x: mp.sin(x), "cos": lambda x: mp.cos(x), "tan": lambda x: mp.tan(x),
    "arcsin": lambda x: mp.asin(x), "arccos": lambda x: mp.acos(x),
    "arctan": lambda x: mp.atan(x), "sinh": lambda x: mp.sinh(x),
    "cosh": lambda x: mp.cosh(x), "tanh": lambda x: mp.tanh(x),
    "arcsinh": lambda x: mp.asinh(x), "arccosh": lambda x: mp.acosh(x),
    "arctanh": lambda x: mp.atanh(x), "abs": lambda x: abs(x),
    "sign": lambda x: mp.sign(x), "relu": lambda x: x if x > 0 else 0 * x,
    "sigmoid": _sig, "softplus": lambda x: mp.log1p(mp.exp(x)),
    "deg2rad": lambda x: x * mp.pi / 180, "rad2deg": lambda x: x * 180 / mp.pi,
    "sinc": lambda x: mp.sincpi(x),
}


def _exponent(x):
    return math.frexp(x)[1] if x != 0 else 0


def stencil(F, x, n, step_bits=120):
    """The n-th derivative of F at the float x, as an mpf good to ~100 bits (or a value
    far below the double range): central differences with the step
    2^-step_bits * min(1, |x|), at a precision that holds x +- k*step exactly and is
    raised until the cancellation leaves 100 bits."""
    e = _exponent(x)
    h_exp = -step_bits + min(0, e)
    prec = 256 + max(0, e) + (n + 1) * (step_bits + max(0, -e))
    for _ in range(8):
        with mp.workprec(prec):
            X, H = mpf(x), mp.ldexp(1, h_exp)
            values = [F(X + (n - 2 * k) * H) for k in range(n + 1)]
            total = mpf(0)
            for k, v in enumerate(values):
                total += (-1) ** k * mp.binomial(n, k) * v
            value = total / (2 * H) ** n
            biggest = max(abs(v) for v in values)
            # rounding error of the difference, scaled like the derivative
            noise = mp.ldexp(biggest, -prec + n + 2) / (2 * H) ** n
        if abs(value) > mp.ldexp(noise, 100) or noise < mp.ldexp(1, -1300):
            return value
        prec += max(128, int(mp.log(noise, 2)) + 1400)  # enough for either exit
    raise AssertionError(f"reference did not converge at {x!r} (order {n})")


# multi-input ops: closed-form gradient and Hessian (checked against ``stencil`` below)
def _divide(x, y):
    return [1 / y, -x / y ** 2], [[0, -1 / y ** 2], [-1 / y ** 2, 2 * x / y ** 3]]


def _power(x, y):
    lx = mp.log(x)
    xy = mp.power(x, y)
    xy1 = mp.power(x, y - 1)
    return ([y * xy1, xy * lx],
            [[y * (y - 1) * mp.power(x, y - 2), xy1 * (1 + y * lx)],
             [xy1 * (1 + y * lx), xy * lx ** 2]])


def _arctan2(y, x):  # the op's arguments are (y, x), as np.arctan2's
    r2 = x * x + y * y
    return [x / r2, -y / r2], [[-2 * x * y / r2 ** 2, (y * y - x * x) / r2 ** 2],
                               [(y * y - x * x) / r2 ** 2, 2 * x * y / r2 ** 2]]


def _hypot(x, y):
    r = mp.hypot(x, y)
    return [x / r, y / r], [[y * y / r ** 3, -x * y / r ** 3], [-x * y / r ** 3, x * x / r ** 3]]


def _logaddexp(x, y):
    a, b = _sig(x - y), _sig(y - x)
    return [a, b], [[a * b, -a * b], [-a * b, a * b]]


def _logaddexp2(x, y):
    ln2 = mp.log(2)
    a, b = _sig((x - y) * ln2), _sig((y - x) * ln2)
    return [a, b], [[ln2 * a * b, -ln2 * a * b], [-ln2 * a * b, ln2 * a * b]]


def _quotient(mod):
    """d/dy of x mod y = -q, with q the integer quotient NumPy's own result implies."""
    def grad(x, y):
        q = (mpf(x) - mpf(float(mod(float(x), float(y))))) / mpf(y)
        return 1, -mp.nint(q)
    return grad


def _piecewise_linear(grad):
    def ref(*xs):
        g = [mpf(v) for v in grad(*xs)]
        return g, [[mpf(0)] * len(xs) for _ in xs]
    return ref


MPN = {
    "add": _piecewise_linear(lambda x, y: (1, 1)),
    "subtract": _piecewise_linear(lambda x, y: (1, -1)),
    "multiply": lambda x, y: ([y, x], [[mpf(0), mpf(1)], [mpf(1), mpf(0)]]),
    "divide": _divide, "power": _power, "arctan2": _arctan2, "hypot": _hypot,
    "logaddexp": _logaddexp,
    "maximum": _piecewise_linear(lambda x, y: (int(x > y), int(y > x))),
    "minimum": _piecewise_linear(lambda x, y: (int(x < y), int(y < x))),
    "fmax": _piecewise_linear(lambda x, y: (int(x > y), int(y > x))),
    "fmin": _piecewise_linear(lambda x, y: (int(x < y), int(y < x))),
    "clip": _piecewise_linear(lambda x, lo, hi: (int(lo < x < hi), int(x < lo), int(x > hi))),
    "logaddexp2": _logaddexp2,
    "copysign": _piecewise_linear(lambda x, y: (mp.sign(x) * math.copysign(1.0, float(y)), 0)),
    "remainder": _piecewise_linear(_quotient(np.remainder)),
    "fmod": _piecewise_linear(_quotient(np.fmod)),
}
# the mpmath primal of each multi-input op (for the check of the closed forms)
MPN_PRIMAL = {
    "add": lambda x, y: x + y, "subtract": lambda x, y: x - y, "multiply": lambda x, y: x * y,
    "divide": lambda x, y: x / y, "power": lambda x, y: mp.power(x, y),
    "arctan2": lambda y, x: mp.atan2(y, x), "hypot": lambda x, y: mp.hypot(x, y),
    "logaddexp": lambda x, y: mp.log(mp.exp(x) + mp.exp(y)),
    "maximum": max, "minimum": min, "fmax": max, "fmin": min,
    "clip": lambda x, lo, hi: min(max(x, lo), hi),
    "logaddexp2": lambda x, y: mp.log(mp.power(2, x) + mp.power(2, y), 2),
    "copysign": lambda x, y: abs(x) * math.copysign(1.0, float(y)),
    "remainder": lambda x, y: x - y * mp.floor(x / y),
    "fmod": lambda x, y: x - y * mp.sign(x / y) * mp.floor(abs(x / y)),
}

DELTA_BITS = 60  # relative step of the finite difference that estimates S for closed forms


def reference(name, point, order):
    """{index: (exact, S)} for the derivatives of ``order`` at ``point`` (a tuple of
    floats): index (i,) for d/dx_i, (i, j) for d2/dx_i dx_j; S as in the module doc."""
    if name in MP1:
        (x,) = point
        F = MP1[name]
        d = stencil(F, x, order)
        s = abs(mpf(x) * stencil(F, x, order + 1)) if x != 0 else mpf(0)
        return {(0,) * order: (d, s)}
    closed = MPN[name]
    k = len(point)
    with mp.workprec(256):
        def pick(xs):
            g, hess = closed(*xs)
            return {(i,): g[i] for i in range(k)} if order == 1 else \
                {(i, j): hess[i][j] for i in range(k) for j in range(k)}
        xs = [mpf(v) for v in point]
        exact = pick(xs)
        sens = {idx: mpf(0) for idx in exact}
        delta = mp.ldexp(1, -DELTA_BITS)
        for i in range(k):
            if xs[i] == 0:
                continue
            up, down = list(xs), list(xs)
            up[i] = xs[i] * (1 + delta)
            down[i] = xs[i] * (1 - delta)
            with mp.workprec(256 + DELTA_BITS):
                hi, lo = pick(up), pick(down)
            for idx in exact:
                sens[idx] += abs(hi[idx] - lo[idx]) / (2 * delta)
        return {idx: (exact[idx], sens[idx]) for idx in exact}


def within(got, exact, sens, eps=EPS):
    """(ok, error in units of eps * scale), scale as in the module docstring."""
    got = float(got)
    if abs(exact) >= OVERFLOW:  # rounds to +-inf: the same infinity
        want = math.copysign(math.inf, float(exact))
        return got == want, (0.0 if got == want else math.inf)
    if not math.isfinite(got):
        return False, math.inf
    if exact == 0:
        scale = max(sens, mpf(TINY))
    else:
        scale = max(abs(exact), mpf(TINY)) * max(1, sens / abs(exact))
    err = abs(mpf(got) - exact) / (eps * scale)
    return err <= C, float(err)


def primal_at(op, point):
    with np.errstate(all="ignore"):
        return float(op.primal(*(np.float64(v) for v in point)))


def exact_primal(name, point):
    with mp.workprec(256):
        if name in MP1:
            return MP1[name](mpf(point[0]))
        return MPN_PRIMAL[name](*(mpf(v) for v in point))


def effective_eps(name, point, value):
    """The relative error the op's own value already carries: eps, more where it is
    subnormal, 1 where it underflowed to 0 (partials computed from the value cannot be
    more accurate than the value)."""
    if value == 0 and exact_primal(name, point) != 0:
        return 1.0
    if value != 0 and abs(value) < TINY:
        return max(EPS, 2.0 ** -1074 / abs(value))
    return EPS


# ------------------------------------------------------------------------------ sampling
MAGNITUDES = [
    5e-324, 1e-320, 1.2345e-310, TINY, 1e-300, 1e-200, 1e-100, 1e-30, 1e-16, 1e-8, 1e-4,
    0.01, 0.1, 0.3, 0.5, 0.9, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 19.5, 20.0, 30.0, 37.43, 40.0,
    50.0, 100.0, 300.0, 356.0, 365.0, 372.0, 400.0, 700.0, 709.5, 710.5, 740.0, 745.0, 800.0,
    1024.3, 1e3, 1e5, 1e8, 1e16, 1e20, 1e100, 1e154, 1e155, 1e160, 1e200, 1e300, MAX]
REALS = sorted({0.0} | {s * m for m in MAGNITUDES for s in (1.0, -1.0)})
# two- and three-input ops: a coarser grid, every pair
MAGNITUDES2 = [5e-324, 1.2345e-310, 1e-300, 1e-150, 1e-8, 0.3, 1.0, 2.0, 30.0, 50.0, 700.0,
               800.0, 1e8, 1e160, 1e300]
REALS2 = sorted({0.0} | {s * m for m in MAGNITUDES2 for s in (1.0, -1.0)})


def near(a, side):
    """Points next to a (on ``side`` = +1 or -1): a few ulps, then 1e-12 ... 1e-2 away."""
    pts, x = [], a
    for k in range(1, 5):
        x = np.nextafter(x, side * math.inf)
        pts.append(float(x))
    pts.append(float(np.nextafter(a, side * math.inf)) + side * 8 * float(np.spacing(max(abs(a), 1.0))))
    pts += [a + side * d for d in (1e-12, 1e-8, 1e-4, 1e-2)]
    return pts


# open domain of each one-input op (the edges themselves are in TAIL_CASES)
DOMAIN1 = {
    "sqrt": lambda x: x > 0, "log": lambda x: x > 0, "log2": lambda x: x > 0,
    "log10": lambda x: x > 0, "log1p": lambda x: x > -1, "reciprocal": lambda x: x != 0,
    "cbrt": lambda x: x != 0,
    "arcsin": lambda x: -1 < x < 1, "arccos": lambda x: -1 < x < 1,
    "arctanh": lambda x: -1 < x < 1, "arccosh": lambda x: x > 1,
    "abs": lambda x: x != 0, "sign": lambda x: x != 0, "relu": lambda x: x != 0,
}
EDGES1 = {"log1p": [(-1.0, 1)], "arcsin": [(-1.0, 1), (1.0, -1)], "arccos": [(-1.0, 1), (1.0, -1)],
          "arctanh": [(-1.0, 1), (1.0, -1)], "arccosh": [(1.0, 1)], "tan": [(np.pi / 2, 1), (np.pi / 2, -1)],
          "sqrt": [(0.0, 1)], "log": [(0.0, 1), (1.0, 1), (1.0, -1)]}


def _log_uniform(rng, n, low=-310.0, high=308.0):
    return [float(s * 10.0 ** e) for s, e in zip(rng.choice([-1.0, 1.0], n), rng.uniform(low, high, n))]


def points1(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    pts = set(REALS) | set(_log_uniform(rng, 40)) | set(rng.uniform(-3.0, 3.0, 20).tolist())
    for a, side in EDGES1.get(name, ()):
        pts.update(near(a, side))
    pts.update(near(0.0, 1) + near(0.0, -1))
    ok = DOMAIN1.get(name, lambda x: True)
    return [(x,) for x in sorted(pts) if ok(x)]


def pointsN(name):
    if name == "clip":
        bounds = [(-1.0, 1.0), (-1e300, 1e-300), (-5e-324, 5e-324), (1e8, 1e300)]
        return [(x, lo, hi) for x in REALS2 for lo, hi in bounds if x != lo and x != hi]
    rng = np.random.default_rng(sum(map(ord, name)))
    pairs = [(x, y) for x in REALS2 for y in REALS2]
    pairs += list(zip(_log_uniform(rng, 100), _log_uniform(rng, 100)))
    pairs += [tuple(p) for p in rng.uniform(-3.0, 3.0, (40, 2)).tolist()]
    # nearly equal arguments and their neighbourhoods
    for a in (1e-300, 0.3, 1.0, 30.0, 1e300):
        for b in near(a, 1) + near(a, -1):
            pairs += [(a, b), (b, a), (-a, -b)]
    if name == "power":  # x > 0 (x = 0 is a kink), exponents that stay finite near x = 1
        pairs = [(x, y) for x, y in pairs if x > 0]
        pairs += [(x, y) for x in near(1.0, 1) + near(1.0, -1) for y in (1e8, -1e8, 1e15, 1e16)]
    if name == "divide":
        pairs = [(x, y) for x, y in pairs if y != 0]
    if name in ("arctan2", "hypot"):
        pairs = [(x, y) for x, y in pairs if (x, y) != (0.0, 0.0)]
    if name in ("maximum", "minimum", "fmax", "fmin"):
        pairs = [(x, y) for x, y in pairs if x != y]
    if name == "copysign":  # x = 0 is abs's kink
        pairs = [(x, y) for x, y in pairs if x != 0]
    if name in ("remainder", "fmod"):  # y = 0: NaN; beyond 2**52 the quotient is not exact
        pairs = [(x, y) for x, y in pairs if y != 0 and abs(x / y) < 2.0 ** 52]
    return sorted(set(pairs))


def points(name):
    return points1(name) if name in MP1 else pointsN(name)


# ------------------------------------------------------------------------------ engines
BATCH = 32  # points per call: nested forward mode costs ~ BATCH^2 per point


def _sum_of(f):
    return lambda *xs: np.sum(f(*xs))


def _batched(compute, args):
    """compute(*batch_args) -> {index: array}, over batches of the points, concatenated."""
    parts = [compute(*(a[s:s + BATCH] for a in args)) for s in range(0, len(args[0]), BATCH)]
    return {idx: np.concatenate([p[idx] for p in parts]) for idx in parts[0]}


def first_derivatives(op, args, engine):
    """{(i,): d f / d x_i} elementwise at the points ``args`` (one array per input)."""
    f, k = numpy_spelling(op), len(args)

    def compute(*xs):
        with np.errstate(all="ignore"):
            g = engine.grad(_sum_of(f), argnums=tuple(range(k)))(*xs)
        return {(i,): np.asarray(g[i], dtype=float) for i in range(k)}
    return _batched(compute, args)


def second_derivatives(op, args, outer, inner):
    """{(i, j): d2 f / dx_i dx_j} elementwise: ``outer.grad`` of ``inner.grad``."""
    f, k = numpy_spelling(op), len(args)

    def compute(*xs):
        out = {}
        with np.errstate(all="ignore"):
            for i in range(k):
                gi = _sum_of(inner.grad(_sum_of(f), argnums=i))
                h = outer.grad(gi, argnums=tuple(range(k)))(*xs)
                for j in range(k):
                    out[(i, j)] = np.asarray(h[j], dtype=float)
        return out
    return _batched(compute, args)


# (op, derivative order, predicate on the point, why): regions skipped by the generated test
def _subnormal(v):
    return v != 0 and abs(v) < TINY


def _pow_overflows(x, e):
    with np.errstate(all="ignore"):
        return bool(np.isinf(np.power(x, e)))


KNOWN_LIMITS = [
    ("divide", 2, lambda x, y: x == 0 and _subnormal(y),
     "x / y at x = 0 and subnormal y: d2/dy2 = 2x/y^3 is exactly 0, but 1/y overflows and "
     "the chain rule meets inf * 0"),
    ("arctan2", 2, lambda y, x: math.hypot(x, y) < 1.5e-154,
     "hypot(y, x) < 1.5e-154: the second derivatives ~ 1/r^2 overflow, and where they are "
     "+-inf or exactly 0 the chain rule meets inf - inf"),
    ("hypot", 2, lambda x, y: _subnormal(x) or _subnormal(y),
     "subnormal arguments: the second derivatives go through arctan2's partials ~ 1/r, "
     "which overflow"),
    ("power", 1, lambda x, y: -1.0 < y < 1.0 and y != 0.0 and (0.0 < x < 1e-30 or x > 1e30),
     "|y| < 1 and a huge or tiny x: the rounding of y - 1 (up to eps/2) is magnified |log x| "
     "times (~140 ulps at x = 1e-300); a correction would cost a second pow on every x**y"),
    ("power", 1, lambda x, y: _subnormal(x),
     "subnormal x: x**(y - 1) (~ 1/x) overflows where y x**(y - 1) with a small y does not"),
    ("power", 2, lambda x, y: y == 0.0,
     "y = 0: d/dx is the value 0 (0 * x**0, so that x = 0 gives no 0 * inf); its own "
     "derivatives there are a kink of the formula and come out NaN (never a wrong number)"),
    ("power", 2, lambda x, y: -1.0 < y < 1.0 and y != 0.0 and (0.0 < x < 1e-30 or x > 1e30),
     "the first-order limit above, differentiated once more (the rounding of y - 1 is "
     "magnified |log x| times)"),
    ("power", 2, lambda x, y: _subnormal(x) or _pow_overflows(x, y - 2.0),
     "x**(y - 2) (or 1/x) overflows before it is multiplied by y (y - 1), or at y = 0 by 0"),
]


def known_limit(name, order, point):
    """The reason the point is skipped, or None."""
    for op_name, op_order, pred, why in KNOWN_LIMITS:
        if op_name == name and op_order == order and pred(*point):
            return why
    return None


_REF_CACHE: dict = {}


def references(name, order):
    key = (name, order)
    if key not in _REF_CACHE:
        pts = [p for p in points(name) if known_limit(name, order, p) is None]
        _REF_CACHE[key] = (pts, [reference(name, p, order) for p in pts])
    return _REF_CACHE[key]


def measure(name, order, op=None):
    """Every failure [(error in eps * scale units, engines, index, point, got, exact)] and
    the worst error, for the op ``name`` (or ``op``, checked against ``name``'s reference)
    and one derivative order."""
    op = OPS[name] if op is None else op
    pts, refs = references(name, order)
    args = [np.array([p[i] for p in pts]) for i in range(len(pts[0]))]
    runs = ([(e, first_derivatives(op, args, ENGINES[e])) for e in ENGINES] if order == 1 else
            [(f"{o}.grad({i}.grad)", second_derivatives(op, args, ENGINES[o], ENGINES[i]))
             for o, i in NESTINGS])
    primals = [primal_at(op, p) for p in pts]
    effs = [effective_eps(name, p, v) for p, v in zip(pts, primals)]
    failures, worst = [], (0.0, None)
    for label, got in runs:
        for n, (p, ref) in enumerate(zip(pts, refs)):
            for idx, (exact, sens) in ref.items():
                value = float(got[idx][n])
                if math.isinf(value) and (math.isinf(primals[n]) or effs[n] == 1.0):
                    continue  # the op's value overflowed (or underflowed): accepted
                ok, err = within(value, exact, sens, effs[n])
                if err > worst[0] or worst[1] is None:
                    worst = (err, (label, idx, p, value, _show(exact)))
                if not ok:
                    failures.append((err, label, idx, p, value, _show(exact)))
    return failures, worst


def _show(exact):
    if exact != 0 and abs(exact) < mp.ldexp(1, -1080):
        return "0 (underflows)"
    if abs(exact) > mp.ldexp(1, 1030):
        return "+inf (overflows)" if exact > 0 else "-inf (overflows)"
    return repr(float(exact))


def _report(failures, limit=12):
    failures = sorted(failures, key=lambda f: -f[0])
    lines = [f"  {lab} d{list(idx)} at {p}: got {g!r}, exact {ex} (error {err:.3g} eps x scale)"
             for err, lab, idx, p, g, ex in failures[:limit]]
    return f"{len(failures)} failures, worst first:\n" + "\n".join(lines)


@pytest.mark.slow  # exhaustive: CI runs it in its own step (pytest -m slow)
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("name", sorted(OPS))
def test_derivative_accuracy_over_the_whole_domain(name, order):
    failures, _ = measure(name, order)
    assert not failures, f"{name}, derivative order {order}: " + _report(failures)


# ------------------------------------------------------------------------------ named tails
INF = math.inf
# (op, point, derivative index, exact or None for the mpmath reference)
TAIL_CASES = [
    # the issue
    ("sigmoid", (50.0,), (0,), None),                 # 1.93e-22, was 0
    ("sigmoid", (37.43,), (0,), None),                # 5.55e-17, was 1.1e-16
    ("softplus", (40.0,), (0, 0), None),              # 4.25e-18, was 0
    ("sigmoid", (-745.0,), (0,), None),               # 4.9e-324, subnormal
    ("sigmoid", (1e-16,), (0, 0), None),              # -1.25e-17, was 0
    ("sigmoid", (0.0,), (0, 0), 0.0),
    ("softplus", (740.0,), (0, 0), None),             # 4.2e-322, was 0
    ("tanh", (20.0,), (0,), None),                    # 1.7e-17, was 0
    ("tanh", (-19.5,), (0, 0), None),                 # 9.2e-17, was 0
    ("tanh", (372.0,), (0,), None),                   # subnormal
    ("tanh", (0.0,), (0, 0), 0.0),
    ("tanh", (1e-8,), (0, 0), None),
    ("expm1", (-37.43,), (0,), None),                 # 5.6e-17, was 0
    ("expm1", (-5.0,), (0, 0), None),
    ("log10", (MAX,), (0,), None),                    # 2.4e-309, was 0
    ("arcsinh", (1e300,), (0,), None),                # 1e-300, was 0
    ("arcsinh", (-1e200,), (0, 0), None),
    ("arccosh", (1e155,), (0,), None),                # 1e-155, was 0
    ("arccosh", (1.0 + 2.0 ** -52,), (0,), None),
    ("arctan", (1e155,), (0,), None),                 # 1e-310, was 0
    ("arctan", (MAX,), (0, 0), None),                 # was NaN
    ("arctan2", (1e-300, 1e-300), (0,), None),        # 5e299, was inf
    ("arctan2", (1e200, -1e200), (1,), None),         # was 0
    ("hypot", (1.0, 1e-8), (0, 0), None),             # 1e-16, was 0
    ("hypot", (5e-324, 5e-324), (0,), None),          # 0.707, was 1
    ("logaddexp", (-700.0, 30.0), (0,), None),        # 9.2e-318, was 0
    ("logaddexp", (0.0, 800.0), (0, 0), None),        # 0 (underflows), was NaN
    ("power", (1e300, 0.0), (1, 0), None),            # d2/dy dx = 1/x = 1e-300 (the d/dy side)
    ("power", (2.0, 0.0), (1, 0), None),
    ("log1p", (-1.0 + 2.0 ** -53,), (0,), None),
    ("arcsin", (1.0 - 2.0 ** -53,), (0,), None),
    ("arccos", (-1.0 + 2.0 ** -53,), (0, 0), None),
    ("arctanh", (1.0 - 2.0 ** -53,), (0, 0), None),
    ("tan", (np.pi / 2,), (0,), None),
    # edges of the domain: the one-sided limit, infinite
    ("sqrt", (0.0,), (0,), INF),
    ("log", (0.0,), (0,), INF),
    ("log1p", (-1.0,), (0,), INF),
    ("arcsin", (1.0,), (0,), INF),
    ("arcsin", (-1.0,), (0,), INF),
    ("arccos", (1.0,), (0,), -INF),
    ("arctanh", (1.0,), (0,), INF),
    ("arccosh", (1.0,), (0,), INF),
    ("cbrt", (0.0,), (0,), INF),
    ("reciprocal", (1e-160,), (0,), -INF),
    ("exp", (710.0,), (0,), INF),
    ("sinh", (1e300,), (0, 0), INF),
    ("sqrt", (0.0,), (0, 0), -INF),
]


def _scalar_derivative(name, point, idx, outer, inner):
    f = numpy_spelling(OPS[name])
    args = tuple(np.float64(v) for v in point)
    with np.errstate(all="ignore"):
        if len(idx) == 1:
            return float(outer.grad(f, argnums=idx[0])(*args))
        g = inner.grad(f, argnums=idx[0])
        return float(outer.grad(g, argnums=idx[1])(*args))


@pytest.mark.parametrize("name,point,idx,exact", TAIL_CASES,
                         ids=[f"{n}{list(p)}d{list(i)}" for n, p, i, _ in TAIL_CASES])
def test_tail_cases(name, point, idx, exact):
    if exact is None:
        exact, sens = reference(name, point, len(idx))[idx]
    else:
        exact, sens = mpf(exact), mpf(0)
    eps = effective_eps(name, point, primal_at(OPS[name], point)) if math.isfinite(exact) else EPS
    pairs = [(e, e) for e in ENGINES] if len(idx) == 1 else NESTINGS
    for outer, inner in pairs:
        got = _scalar_derivative(name, point, idx, ENGINES[outer], ENGINES[inner])
        if math.isinf(exact):
            assert got == exact, f"{name} d{list(idx)} at {point} ({outer}/{inner}): {got!r}, not {exact}"
            continue
        ok, err = within(got, exact, sens, eps)
        assert ok, (f"{name} d{list(idx)} at {point} ({outer}/{inner}): got {got!r}, exact "
                    f"{_show(exact)} (error {err:.3g} eps x scale)")


# next to a domain edge the exact input is known exactly: there the first derivative must be
# within C ulps, condition number or not (1 - x*x alone was 1.2e6 ulps off at 1 - 1e-8)
EDGE_POINTS = [("arcsin", 1.0, -1), ("arcsin", -1.0, 1), ("arccos", 1.0, -1),
               ("arctanh", 1.0, -1), ("arctanh", -1.0, 1), ("arccosh", 1.0, 1),
               ("log1p", -1.0, 1)]


@pytest.mark.parametrize("name,edge,side", EDGE_POINTS, ids=[f"{n}{e:+}" for n, e, _ in EDGE_POINTS])
def test_first_derivative_next_to_domain_edges_within_ulps(name, edge, side):
    pts = [(x,) for x in near(edge, side)]
    refs = [reference(name, p, 1)[(0,)][0] for p in pts]
    args = [np.array([p[0] for p in pts])]
    for label, engine in ENGINES.items():
        got = first_derivatives(OPS[name], args, engine)[(0,)]
        for p, exact, g in zip(pts, refs, got):
            ok, err = within(g, exact, mpf(0))
            assert ok, f"{name}'({p[0]!r}) by {label}: {g!r}, exact {_show(exact)} ({err:.3g} ulps)"


# ------------------------------------------------------------------------------ the checker
CLOSED_FORM_POINTS = {
    "power": [(0.7, 1.3), (2.5, -0.4), (1e-3, 3.0), (40.0, 0.5)],
    "arctan2": [(0.7, -1.3), (-2.5, 0.4), (1e-3, 3.0), (3.0, 1e-3)],
    "hypot": [(0.7, -1.3), (-2.5, 0.4), (1e-3, 3.0)],
    "logaddexp": [(0.7, -1.3), (-2.5, 0.4), (30.0, -10.0)],
    "divide": [(0.7, -1.3), (-2.5, 0.4), (1e-3, 3.0)],
    "logaddexp2": [(0.7, -1.3), (-2.5, 0.4), (30.0, -10.0)],
    "copysign": [(0.7, -1.3), (-2.5, 0.4)],
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORM_POINTS))
def test_closed_form_references(name):
    """The closed forms used for multi-input ops agree with central differences of
    mpmath's primal (first partials) and of the closed-form first partials (second)."""
    for point in CLOSED_FORM_POINTS[name]:
        with mp.workprec(256):
            grad, hess = MPN[name](*(mpf(v) for v in point))
        for i in range(len(point)):
            def along(F, i=i):
                return lambda t: F(*[t if k == i else mpf(v) for k, v in enumerate(point)])
            d = stencil(along(MPN_PRIMAL[name]), point[i], 1)
            assert abs(d - grad[i]) <= mp.ldexp(abs(grad[i]), -80), (name, point, i)
            for j in range(len(point)):
                def partial_j(*xs, j=j):
                    return MPN[name](*xs)[0][j]
                d2 = stencil(along(partial_j), point[i], 1)
                assert abs(d2 - hess[j][i]) <= mp.ldexp(abs(hess[j][i]) + 1, -80), (name, point, j, i)


def test_stencil_reference_against_closed_forms():
    """The difference quotients used for one-input ops, at extreme arguments."""
    with mp.workprec(200):
        cases = [
            (mp.sin, 1e300, 1, mp.cos(mpf(1e300))), (mp.sin, 1e300, 2, -mp.sin(mpf(1e300))),
            (mp.log, 5e-324, 1, 1 / mpf(5e-324)), (mp.log, 1e-300, 2, -1 / mpf(1e-300) ** 2),
            (mp.tanh, 20.0, 1, 1 / mp.cosh(20) ** 2), (mp.exp, -740.0, 2, mp.exp(-740)),
            (MP1["sigmoid"], 800.0, 1, mp.exp(-800) / (1 + mp.exp(-800)) ** 2),
            (mp.asin, 1 - 2.0 ** -53, 1, 1 / mp.sqrt(1 - mpf(1 - 2.0 ** -53) ** 2)),
        ]
    for F, x, n, want in cases:
        got = stencil(F, x, n)
        assert abs(got - want) <= mp.ldexp(abs(want), -90), (F, x, n)


# the rules this file replaced: the same check must fail on each
OLD_RULES = {
    "sigmoid": ([lambda o, x: o * (1.0 - o)], 1),
    "softplus": ([lambda o, x: np.exp(x - o)], 2),
    "tanh": ([lambda o, x: 1.0 - o * o], 1),
    "expm1": ([lambda o, x: o + 1.0], 1),
    "arcsinh": ([lambda o, x: 1.0 / np.sqrt(x * x + 1.0)], 1),
    "arccosh": ([lambda o, x: 1.0 / np.sqrt(x * x - 1.0)], 1),
    "arctan": ([lambda o, x: 1.0 / (1.0 + x * x)], 1),
    "log10": ([lambda o, x: 1.0 / (x * np.log(10.0))], 1),
    "arctan2": ([lambda o, y, x: x / (x * x + y * y), lambda o, y, x: -y / (x * x + y * y)], 1),
    "hypot": ([lambda o, x, y: x / (o + (o == 0)), lambda o, x, y: y / (o + (o == 0))], 2),
    "logaddexp": ([lambda o, x, y: 1.0 / (1.0 + np.exp(np.fmax(y - x, 0.0) + np.fmin(y - x, 0.0))),
                   lambda o, x, y: 1.0 / (1.0 + np.exp(np.fmax(x - y, 0.0) + np.fmin(x - y, 0.0)))], 1),
}


@pytest.mark.parametrize("name", sorted(OLD_RULES))
def test_the_check_rejects_the_old_rules(name):
    partials, order = OLD_RULES[name]
    current = OPS[name]
    # a plain function as the primal: numpy_spelling then calls this op, not the ufunc's
    op = adcore.defop(f"_accuracy_test_old_{name}", lambda *xs: current.primal(*xs),
                      partials=partials, szero=current.szero, kinks=current.kinks)
    try:
        failures, _ = measure(name, order, op=op)
    finally:
        adcore.unregister(op.name)
    assert failures, f"the old {name} rule passed the accuracy check"
