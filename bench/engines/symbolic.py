"""Symbolic differentiation (sympy): the lecture's third way to get a derivative.

``build`` runs the problem's own source on symbols (:mod:`bench.engines.sympy_xp`)
to obtain its closed form, differentiates every output by every input with
``sympy.diff``, and turns the result into a NumPy function with ``sympy.lambdify``
(no common-subexpression elimination: the expression is evaluated as derived, which
is what "symbolic differentiation" means and where its cost shows).  All of that
is the record's ``first_call_s``; the steady-state time is the lambdified f'.

Expression size is reported next to the time (``engine_sizes``): ``f_ops`` and
``df_ops`` are ``sympy.count_ops`` of F and of all of F's derivative entries (the
expression *tree*: a subexpression used twice counts twice, as written out);
``df_ops_cse`` is the op count after ``sympy.cse`` (shared subexpressions
computed once -- which is what AD does by construction).  On the logistic map
iterated k times, ``df_ops`` grows exponentially in k while AD's cost is a constant
factor times F's 3k operations (the lecture's expression swell).

Meant for small closed forms: a problem with more than ``MAX_ENTRIES`` derivative
entries, or whose F has more than ``MAX_F_OPS`` operations, is refused with a
one-line error (the record's ``error``) instead of running for hours.
"""

from __future__ import annotations

import time

import numpy as np

from bench.engines._peers import PeerEngine

MAX_ENTRIES = 64
MAX_F_OPS = 5_000


def closed_form(f, n):
    """``(symbols, outputs)``: F's closed form at n symbols, outputs as a flat list."""
    import sympy

    from bench.engines import sympy_xp  # noqa: F401  (the namespace f was built with)

    syms = sympy.symbols(f"x0:{n}", real=True)
    y = f(np.array(syms, dtype=object))
    outputs = [sympy.sympify(v) for v in np.asarray(y, dtype=object).reshape(-1)]
    return syms, outputs


def derive(f, n, scalar):
    """``(symbols, outputs, derivative entries, seconds)`` -- F and dF/dx symbolically."""
    import sympy

    start = time.perf_counter()
    if n > MAX_ENTRIES:                  # refuse before building a costly closed form
        _too_many(1 if scalar else "(>= 1)", n)
    syms, outputs = closed_form(f, n)
    if len(outputs) * n > MAX_ENTRIES:
        _too_many(len(outputs), n)
    f_ops = sympy.count_ops(outputs)
    if f_ops > MAX_F_OPS:
        raise ValueError(f"symbolic: F has {f_ops} operations, over the limit of "
                         f"{MAX_F_OPS} (this engine is for small closed forms)")
    entries = [[sympy.diff(y, s) for s in syms] for y in outputs]
    return syms, outputs, entries, time.perf_counter() - start


def _too_many(m, n):
    raise ValueError(f"symbolic: {m} x {n} derivative entries exceed the limit of "
                     f"{MAX_ENTRIES} (this engine is for small closed forms)")


class SymbolicEngine(PeerEngine):
    name = "symbolic"
    summary = "sympy: diff of the closed form, lambdify (no CSE); expression size reported"
    module = "sympy"

    def namespace(self):
        from bench.engines import sympy_xp

        return sympy_xp

    def build(self, f, x, scalar, settings):
        import sympy

        n = int(np.size(x))
        syms, outputs, entries, _ = derive(f, n, scalar)
        fn = sympy.lambdify(syms, entries, modules="numpy", cse=False)
        shape = (n,) if scalar else (len(outputs), n)

        def derivative(x_):
            values = fn(*np.asarray(x_, dtype=float))
            return np.asarray(values, dtype=float).reshape(shape)

        return derivative

    def sizes(self, f, x, scalar, settings):
        import sympy

        syms, outputs, entries, derive_s = derive(f, int(np.size(x)), scalar)
        flat = [e for row in entries for e in row]
        replacements, reduced = sympy.cse(flat)
        cse_ops = sympy.count_ops([r for _, r in replacements] + reduced)
        return {"f_ops": int(sympy.count_ops(outputs)), "df_ops": int(sympy.count_ops(flat)),
                "df_ops_cse": int(cse_ops), "derive_s": derive_s}


ENGINES = (SymbolicEngine(),)
