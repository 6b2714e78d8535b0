"""Central finite differences: the lecture's numerical gradient, for checking.

Step rule: h_j = eps^(1/3) * max(1, |x_j|) (eps = float64 machine epsilon, so
h ~ 6e-6 near |x| <= 1), which balances the O(h^2) truncation error of the central
quotient against its O(eps/h) rounding error.  The step actually used is
(x_j + h_j) - x_j, exactly representable, so the quotient divides by the true
distance between the two evaluation points.  Costs 2n evaluations of f.
"""

from __future__ import annotations

import numpy as np

from bench.engines import Engine

_EPS_CBRT = np.finfo(float).eps ** (1.0 / 3.0)


def central_difference(f, x):
    """Derivative of ``f`` at ``x`` (shape ``(n,)``) by central differences.

    Returns shape ``(n,)`` for scalar ``f``, ``(out_size, n)`` otherwise.
    """
    x = np.asarray(x, dtype=float)
    cols = []
    for j in range(x.size):
        h = _EPS_CBRT * max(1.0, abs(x[j]))
        plus, minus = x.copy(), x.copy()
        plus[j] += h
        minus[j] -= h
        step = plus[j] - minus[j]          # exactly representable 2h
        cols.append((np.asarray(f(plus), dtype=float) - np.asarray(f(minus), dtype=float)) / step)
    return np.stack(cols, axis=-1)


class FiniteDifferenceEngine(Engine):
    name = "fd"
    summary = "central finite differences, h = eps^(1/3) max(1,|x_j|); 2n evaluations"
    requires = ()
    exact = False
    references = ("reverse", "forward")
    #: ADBench's tolerance for finite differences: the central quotient's O(h^2) error,
    #: with h scaled by max(1, |x_j|), reaches ~1e-5 on badly scaled problems (BA).
    tolerance = 1e-4

    def version(self):
        return None

    def build(self, f, x, scalar, settings):
        return _CentralDifference(f)

    def sizes(self, f, x, scalar, settings):
        return {"evaluations": 2 * x.size}


class _CentralDifference:
    def __init__(self, f):
        self.f = f

    def __call__(self, x):
        return central_difference(self.f, x)


ENGINE = FiniteDifferenceEngine()
