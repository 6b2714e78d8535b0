"""How a recorded op reads in the lecture's notation: its expression (``v3 = v1 + v2``), its
local partials (``cos(x1)``), and how its gate treats the adjoint flowing back through it.

One table per concern, keyed by the registry's op names; an op the tables do not list
reads as ``name(args)`` with the partial written ``∂v/∂x`` -- the numbers are still the
engines' own.
"""
from __future__ import annotations

import re

# the expression of a node, by op: {0}, {1}: the inputs' names
EXPRESSION = {
    "add": "{0} + {1}", "subtract": "{0} - {1}", "multiply": "{0} · {1}",
    "divide": "{0} / {1}", "power": "{0}^{1}", "negative": "-{0}", "positive": "+{0}",
    "square": "{0}²", "matmul": "{0} @ {1}", "dot": "{0} · {1}", "maximum": "max({0}, {1})",
    "minimum": "min({0}, {1})", "abs": "|{0}|", "sum": "Σ {0}", "mean": "mean({0})",
    "max": "max({0})", "min": "min({0})", "getitem": "{0}[…]", "reshape": "reshape({0})",
    "transpose": "{0}ᵀ", "where": "where(·, {0}, {1})",
}

# the local partial of a node with respect to input j, by op: {0}, {1} the inputs, {out}
# the node itself
PARTIAL = {
    "add": ("1", "1"), "subtract": ("1", "-1"), "multiply": ("{1}", "{0}"),
    "divide": ("1/{1}", "-{out}/{1}"), "negative": ("-1",), "positive": ("1",),
    "power": ("{1}·{0}^({1}-1)", "{out}·log({0})"), "square": ("2·{0}",),
    "sin": ("cos({0})",), "cos": ("-sin({0})",), "tan": ("1 + {out}²",),
    "exp": ("{out}",), "log": ("1/{0}",), "sqrt": ("1/(2·{out})",),
    "tanh": ("1 - {out}²",), "sigmoid": ("{out}·(1 - {out})",), "relu": ("[{0} > 0]",),
    "abs": ("sign({0})",), "maximum": ("[{0} ≥ {1}]", "[{1} ≥ {0}]"),
    "minimum": ("[{0} ≤ {1}]", "[{1} ≤ {0}]"), "reciprocal": ("-{out}²",),
    "log1p": ("1/(1 + {0})",), "expm1": ("{out} + 1",), "softplus": ("sigmoid({0})",),
}

# how a gate passes the adjoint back (the lecture's patterns): an add distributes it
# unchanged, a max routes it to one input, a multiply switches (each input gets it times
# the other input); every other op scales it by its local derivative
DISTRIBUTES = {"add", "subtract", "positive", "negative", "sum", "mean", "reshape", "transpose",
               "broadcast_to", "expand_dims", "squeeze", "concatenate", "stack", "cumsum"}
ROUTES = {"maximum", "minimum", "fmax", "fmin", "max", "min", "relu", "where", "getitem",
          "clip", "abs", "sign"}
SWITCHES = {"multiply", "divide", "matmul", "dot", "outer", "einsum"}

GATE_COLOURS = {"distributes": "#1f77b4", "routes": "#ff7f0e", "switches": "#2ca02c",
                "scales": "#7f7f7f"}


# tangent expressions of linear ops, written as the op on the tangents ({d0}: the first
# input's tangent, {0}: the first input)
LINEAR_TANGENT = {
    "sum": "Σ {d0}", "mean": "mean({d0})", "getitem": "{d0}[…]", "reshape": "reshape({d0})",
    "transpose": "{d0}ᵀ", "cumsum": "cumsum({d0})", "broadcast_to": "broadcast({d0})",
    "expand_dims": "{d0}", "squeeze": "{d0}",
    "matmul": "{d0} @ {1} + {0} @ {d1}", "dot": "{d0} · {1} + {0} · {d1}",
}


def linear_tangent(op_name: str, dots: list, inputs: list):
    """The tangent expression of a linear (or bilinear) op, or None to use the partials.
    ``dots[j]``: input j's tangent name, None for a constant input."""
    template = LINEAR_TANGENT.get(op_name)
    if template is None:
        return None
    fields = {f"d{j}": d for j, d in enumerate(dots)}
    if op_name in ("matmul", "dot"):  # drop the term of a constant operand
        terms = [t for t, d in zip(template.split(" + "), dots) if d is not None]
        template = " + ".join(terms)
    try:
        return template.format(*inputs, **fields)
    except (IndexError, KeyError):
        return None


# adjoint terms of linear (or bilinear) ops, as the transposed op on the adjoint ({bar}: the
# consumer's adjoint name), per input
LINEAR_ADJOINT = {
    "sum": ("broadcast({bar})",), "mean": ("broadcast({bar}) / n",),
    "getitem": ("scatter({bar})",), "reshape": ("reshape({bar})",),
    "transpose": ("{bar}ᵀ",), "cumsum": ("reverse-cumsum({bar})",),
    "broadcast_to": ("Σ {bar}",), "expand_dims": ("{bar}",), "squeeze": ("{bar}",),
    "matmul": ("{bar} @ {1}ᵀ", "{0}ᵀ @ {bar}"), "dot": ("{bar} · {1}ᵀ", "{0}ᵀ · {bar}"),
}

_ATOM = re.compile(r"[\w\u0300-\u036f²]+(\(.*\))?|\[[^\]]*\]")


def times(name: str, factor: str) -> str:
    """``name·factor``, the factor bracketed unless it is one name, number or call."""
    if factor == "1":
        return name
    if factor == "-1":
        return "-" + name
    if not _ATOM.fullmatch(factor):
        factor = f"({factor})"
    return f"{name}·{factor}"


def adjoint_term(op_name: str, j: int, inputs: list, out: str, bar: str) -> str:
    """The term input j's adjoint gets from this node: the transposed linear map of the
    node applied to its adjoint ``bar`` (``v̄3 @ Bᵀ``), or ``bar`` times the local partial."""
    filled = _fill(LINEAR_ADJOINT.get(op_name), j, inputs, bar=bar)
    return filled if filled is not None else times(bar, partial(op_name, j, inputs, out))


def gate(op_name: str) -> str:
    """``"distributes"``, ``"routes"``, ``"switches"`` or ``"scales"``."""
    if op_name in DISTRIBUTES:
        return "distributes"
    if op_name in ROUTES:
        return "routes"
    if op_name in SWITCHES:
        return "switches"
    return "scales"


def expression(op_name: str, inputs: list[str]) -> str:
    template = EXPRESSION.get(op_name)
    if template is not None and template.count("{") <= len(inputs):
        try:
            return template.format(*inputs)
        except IndexError:
            pass
    return f"{op_name}({', '.join(inputs)})"


def partial(op_name: str, j: int, inputs: list[str], out: str) -> str:
    """The local partial ∂out/∂inputs[j] as text."""
    filled = _fill(PARTIAL.get(op_name), j, inputs, out=out)
    return filled if filled is not None else f"∂{out}/∂{inputs[j]}"


def _fill(templates, j: int, inputs: list, **names):
    """Template j of ``templates`` filled with the inputs and ``names``; None if there is
    none, or it needs more inputs than the node has."""
    if templates is None or j >= len(templates):
        return None
    try:
        return templates[j].format(*inputs, **names)
    except IndexError:
        return None
