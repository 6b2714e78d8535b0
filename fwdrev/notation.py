"""How a recorded op reads in the lecture's notation: its expression (``v3 = v1 + v2``), its
local partials (``cos(x1)``), and how its gate treats the adjoint flowing back through it.

One table per concern, keyed by the registry's op names; an op the tables do not list
reads as ``name(args)`` with the partial written ``∂v/∂x`` -- the numbers are still the
engines' own.
"""
from __future__ import annotations

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
    templates = PARTIAL.get(op_name)
    if templates is not None and j < len(templates):
        try:
            return templates[j].format(*inputs, out=out)
        except IndexError:
            pass
    return f"∂{out}/∂{inputs[j]}"
