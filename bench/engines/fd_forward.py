"""Forward (one-sided) finite differences, next to ``fd`` (central).

Step rule: h_j = sqrt(eps) * max(1, |x_j|) (eps = float64 machine epsilon, so
h ~ 1.5e-8 near |x| <= 1), which balances the O(h) truncation error of the one-sided
quotient against its O(eps/h) rounding error: about 8 significant digits at best,
against central differences' ~11 (h = eps^(1/3)).  As in ``fd``, the step used is
(x_j + h_j) - x_j, exactly representable.  Costs n + 1 evaluations of f (central:
2n) -- the lecture's numerical gradient, (f(x + h) - f(x)) / h.
"""

from __future__ import annotations

import numpy as np

from bench.engines import Engine

_SQRT_EPS = np.finfo(float).eps ** 0.5


def forward_difference(f, x):
    """Derivative of ``f`` at ``x`` (shape ``(n,)``) by one-sided differences.

    Returns shape ``(n,)`` for scalar ``f``, ``(out_size, n)`` otherwise.
    """
    x = np.asarray(x, dtype=float)
    f0 = np.asarray(f(x), dtype=float)
    cols = []
    for j in range(x.size):
        plus = x.copy()
        plus[j] += _SQRT_EPS * max(1.0, abs(x[j]))
        step = plus[j] - x[j]
        cols.append((np.asarray(f(plus), dtype=float) - f0) / step)
    return np.stack(cols, axis=-1)


class ForwardDifferenceEngine(Engine):
    name = "fd-forward"
    summary = "forward finite differences, h = sqrt(eps) max(1,|x_j|); n+1 evaluations"
    requires = ()
    exact = False
    #: One-sided differences are good to ~sqrt(eps) = 1.5e-8 times a curvature factor
    #: (central ones to ~eps^(2/3)), so the harness's 1e-5 for central differences is
    #: too tight on curved problems (BA: 1.1e-5 measured).  ADBench checks finite
    #: differences at 1e-4; so do we, for this engine only.
    tolerance = 1e-4
    references = ("reverse", "forward")

    def version(self):
        return None

    def build(self, f, x, scalar, settings):
        return lambda x_: forward_difference(f, x_)

    def sizes(self, f, x, scalar, settings):
        return {"evaluations": x.size + 1}


ENGINE = ForwardDifferenceEngine()
