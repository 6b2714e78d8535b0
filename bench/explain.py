"""``fwdrev explain``: the lecture's evaluation trace of a function at a point, on the command
line -- both tables (forward sweep: primals and tangents; reverse sweep: adjoints as sums of
their contributions) and, with ``--graph``, the computational graph as a picture.

Built-in examples (``--problem``), written as plain functions of scalars so that every
input is a node of its own (x1, x2, ...):

- ``lecture``: f(x1, x2) = x1·x2 + sin(x1) at (2, 3) (SEED §4);
- ``homework``: sigmoid(log(5 (max{x1, x2}·x3/x4 − (x5 + x6)))) + 1/2 (SEED §4);
- ``logistic-map``: l_K with l1 = x, l(k+1) = 4 l_k (1 − l_k) (SEED §1; ``--depth K``);
- ``gates``: 2 (x·y + max(z, w)), the gate patterns of SEED §6.

Or any function of yours: ``fwdrev explain path/to/file.py:func --at 0.5,1.0`` (one value
per argument; an array argument as ``[0.5,1.0]``).

Every input error -- no such file or function, the wrong number of values, a value that
is not a number, a function that fails or records too many nodes, an unwritable output --
is one line ``fwdrev explain: error: ...`` on stderr and exit status 2 (as ``fwdrev run``).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib.util
import inspect
import math
import os
import re
import sys
from typing import Callable

import numpy as np

from bench.errors import UsageError


# ------------------------------------------------------------------ the lecture's examples
def lecture(x1, x2):
    """The lecture's worked graph example (SEED §4)."""
    return x1 * x2 + np.sin(x1)


def homework(x1, x2, x3, x4, x5, x6):
    """The lecture's homework function (SEED §4)."""
    from adcore import sigmoid

    return sigmoid(np.log(5.0 * (np.maximum(x1, x2) * x3 / x4 - (x5 + x6)))) + 0.5


def gates(x, y, z, w):
    """The lecture's gate patterns (SEED §6): add distributes, max routes, multiply
    switches."""
    return 2.0 * (x * y + np.maximum(z, w))


def logistic_map(depth: int):
    """l_K as a function of x: K − 1 steps of l ← 4 l (1 − l) from l1 = x (K = ``depth``;
    the lecture's f = l4 is ``depth=4``)."""
    def l_K(x):
        v = x
        for _ in range(depth - 1):
            v = 4.0 * v * (1.0 - v)
        return v
    l_K.__name__ = f"l{depth}"
    return l_K


@dataclasses.dataclass(frozen=True)
class Example:
    """A built-in example: the function, its point, its formula, and (where the lecture
    derives them) the hand-derived partials, ``(text, function of the point)``."""

    name: str
    formula: str
    fn: Callable
    point: tuple
    where: str
    partials: tuple = ()


@dataclasses.dataclass(frozen=True)
class HandDerivative:
    """l_K in closed form and its derivative derived by hand (the product rule over the
    closed form's factors: one term per factor), as Python expressions of ``x``."""

    f_source: str
    df_source: str
    pretty: str
    pretty_derivative: str

    def f(self, x):
        return eval(self.f_source, {"__builtins__": {}}, {"x": x})  # noqa: S307 -- ours

    def derivative(self, x):
        return eval(self.df_source, {"__builtins__": {}}, {"x": x})  # noqa: S307 -- ours

    def function(self):
        """The hand derivative as a compiled Python function of x (for timing it)."""
        return eval(f"lambda x: {self.df_source}", {"__builtins__": {}})  # noqa: S307 -- ours

    def ops(self, which="df") -> int:
        """Arithmetic operations in the expression as written (its size)."""
        tree = ast.parse(self.df_source if which == "df" else self.f_source, mode="eval")
        return sum(isinstance(n, (ast.BinOp, ast.UnaryOp)) for n in ast.walk(tree))


#: The lecture's manual way (SEED §1) for the small K where anyone does it by hand: l_K's
#: closed form and its hand derivative (for K = 4 "a long sum of four products").
HAND_LOGISTIC = {
    1: HandDerivative("x", "1", "x", "1"),
    2: HandDerivative("4*x*(1 - x)", "4*(1 - x) - 4*x", "4x(1−x)", "4(1−x) − 4x"),
    3: HandDerivative(
        "16*x*(1 - x)*(1 - 2*x)**2",
        "16*(1 - x)*(1 - 2*x)**2 - 16*x*(1 - 2*x)**2 - 64*x*(1 - x)*(1 - 2*x)",
        "16x(1−x)(1−2x)²",
        "16(1−x)(1−2x)² − 16x(1−2x)² − 64x(1−x)(1−2x)"),
    4: HandDerivative(
        "64*x*(1 - x)*(1 - 2*x)**2*(1 - 8*x + 8*x**2)**2",
        "64*(1 - x)*(1 - 2*x)**2*(1 - 8*x + 8*x**2)**2"
        " - 64*x*(1 - 2*x)**2*(1 - 8*x + 8*x**2)**2"
        " - 256*x*(1 - x)*(1 - 2*x)*(1 - 8*x + 8*x**2)**2"
        " + 128*x*(1 - x)*(1 - 2*x)**2*(1 - 8*x + 8*x**2)*(16*x - 8)",
        "64x(1−x)(1−2x)²(1−8x+8x²)²",
        "64(1−x)(1−2x)²(1−8x+8x²)² − 64x(1−2x)²(1−8x+8x²)² − 256x(1−x)(1−2x)(1−8x+8x²)² "
        "+ 128x(1−x)(1−2x)²(1−8x+8x²)(16x−8)"),
}

#: The default depth of ``--problem logistic-map``: the lecture's f = l4.
LOGISTIC_DEPTH = 4
LOGISTIC_X = 0.3


def example(name: str, depth: int | None = None) -> Example:
    """The built-in example ``name`` (``depth``: the logistic map's K)."""
    if name == "lecture":
        return Example("lecture", "f(x1, x2) = x1·x2 + sin(x1)", lecture, (2.0, 3.0),
                       "the lecture's computational-graph example (SEED §4)",
                       (("cos(x1) + x2", lambda x1, x2: np.cos(x1) + x2),
                        ("x1", lambda x1, x2: x1)))
    if name == "homework":
        return Example("homework",
                       "f(x) = sigmoid(log(5 (max{x1, x2}·x3/x4 − (x5 + x6)))) + 1/2",
                       homework, (1.5, 2.0, 3.0, 2.0, -0.5, -0.5),
                       "the lecture's homework function (SEED §4)")
    if name == "gates":
        return Example("gates", "f(x1, x2, x3, x4) = 2 (x1·x2 + max(x3, x4))",
                       gates, (3.0, -4.0, 2.0, -1.0),
                       "the lecture's 2 (x y + max(z, w)) (SEED §6): add distributes, max "
                       "routes, multiply switches",
                       (("2·x2", lambda x, y, z, w: 2 * y), ("2·x1", lambda x, y, z, w: 2 * x),
                        ("2·[x3 ≥ x4]", lambda x, y, z, w: 2.0 * (z >= w)),
                        ("2·[x4 ≥ x3]", lambda x, y, z, w: 2.0 * (w >= z))))
    if name == "logistic-map":
        k = LOGISTIC_DEPTH if depth is None else depth
        steps = k - 1
        hand = HAND_LOGISTIC.get(k)
        return Example("logistic-map",
                       f"f(x1) = l{k}: l1 = x1, l(k+1) = 4 l_k (1 − l_k) ({steps} "
                       f"step{'s' if steps != 1 else ''})",
                       logistic_map(k), (LOGISTIC_X,),
                       "the lecture's logistic map (SEED §1)" +
                       (f"; in closed form (x = x1) f = {hand.pretty}" if hand else ""),
                       ((hand.pretty_derivative, hand.derivative),) if hand else ())
    raise UsageError(f"unknown example {name!r} (choose from: {', '.join(EXAMPLES)})")


EXAMPLES = ("lecture", "homework", "logistic-map", "gates")


# ------------------------------------------------------------------ parsing values
def _split_top(text: str) -> list:
    """``"0.5,[1,2],3"`` -> ``["0.5", "[1,2]", "3"]``: commas outside brackets."""
    items, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth < 0:
                raise UsageError(f"{text!r}: unbalanced ']'")
        elif c == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if depth:
        raise UsageError(f"{text!r}: unbalanced '['")
    items.append(text[start:])
    return [s.strip() for s in items]


def _number(item: str, option: str) -> float:
    try:
        value = float(item)
    except ValueError:
        raise UsageError(f"{option}: {item!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{option}: {item!r} is not a finite number")
    return value


def _array(item: str, option: str) -> np.ndarray:
    try:
        value = ast.literal_eval(item)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise UsageError(f"{option}: {item!r} is not a list of numbers") from None

    def check(v):
        if isinstance(v, list):
            for e in v:
                check(e)
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UsageError(f"{option}: {item!r} holds {v!r}, not a number")
        elif not math.isfinite(v):
            raise UsageError(f"{option}: {item!r} holds a non-finite number")
    check(value)
    try:
        arr = np.array(value, dtype=float)
    except ValueError:
        raise UsageError(f"{option}: {item!r} is not a rectangular array") from None
    if arr.size == 0:
        raise UsageError(f"{option}: {item!r} is empty")
    return arr


def parse_values(text: str, option: str = "--at") -> list:
    """``"0.5,1.0"`` -> ``[0.5, 1.0]``; ``"[0.5,1.0],2"`` -> ``[array([0.5, 1.]), 2.0]``:
    one value per argument, a bracketed item an array (nested brackets: a matrix)."""
    if not text.strip():
        raise UsageError(f"{option}: no values given")
    values = []
    for item in _split_top(text):
        if not item:
            raise UsageError(f"{option}: malformed list {text!r} (an empty item)")
        values.append(_array(item, option) if item.startswith("[") else _number(item, option))
    return values


def parse_seed(text: str, sizes: list, names: list) -> np.ndarray:
    """The forward sweep's direction over the flattened inputs: numbers (brackets allowed,
    flattened), or ``xK`` for the K-th input's (first entry's) basis vector."""
    total = sum(sizes)
    m = re.fullmatch(r"\s*x(\d+)\s*", text)
    if m:
        k = int(m.group(1))
        if not 1 <= k <= len(sizes):
            raise UsageError(f"--seed {text.strip()}: the function has inputs x1 .. "
                             f"x{len(sizes)}")
        seed = np.zeros(total)
        seed[sum(sizes[:k - 1])] = 1.0
        return seed
    seed = np.concatenate([np.ravel(v) for v in parse_values(text, "--seed")])
    if seed.size != total:
        raise UsageError(f"--seed: {seed.size} numbers given, the inputs "
                         f"({', '.join(names)}) have {total} entries; one number per entry, "
                         f"or --seed x1 .. x{len(sizes)}")
    return seed


# ------------------------------------------------------------------ user functions
def load_function(target: str):
    """``"path/to/file.py:func"`` -> ``(func, label)``; ``UsageError`` for every failure."""
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise UsageError(f"{target!r}: expected FILE.py:FUNCTION (e.g. my_f.py:f), or "
                         "--problem NAME")
    if not os.path.exists(path):
        raise UsageError(f"no such file: {path}")
    if not os.path.isfile(path):
        raise UsageError(f"{path} is not a file")
    if not name.isidentifier():
        raise UsageError(f"{name!r} is not a function name")
    module_name = "fwdrev_explain_" + re.sub(r"\W", "_", os.path.splitext(
        os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)           # the file's own imports of its neighbours
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:   # noqa: BLE001 -- any failure is one line
        raise UsageError(f"cannot import {path}: {_one_line(exc)}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    if not hasattr(module, name):
        defined = sorted(k for k, v in vars(module).items() if inspect.isfunction(v)
                         and v.__module__ == module_name and not k.startswith("_"))
        raise UsageError(f"{path} has no function {name!r}"
                         + (f" (it defines: {', '.join(defined)})" if defined else ""))
    fn = getattr(module, name)
    if not callable(fn):
        raise UsageError(f"{path}:{name} is not a function (it is of type "
                         f"{type(fn).__name__})")
    return fn, f"{os.path.basename(path)}:{name}"


def _arity(fn):
    """``(required, most, parameter names)`` of ``fn``'s positional parameters (``most``
    None for ``*args``); ``None`` when the signature cannot be read."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    required, most, names = 0, 0, []
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            most += 1
            names.append(p.name)
            if p.default is p.empty:
                required += 1
        elif p.kind == p.VAR_POSITIONAL:
            most = None
        elif p.kind == p.KEYWORD_ONLY and p.default is p.empty:
            return None
    return required, most, names


def _one_line(exc) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ------------------------------------------------------------------ output
def _point_text(names, values):
    from fwdrev.trace import fmt

    return ", ".join(f"{n} = {fmt(v)}" for n, v in zip(names, values))


def summary(tr, ex_formula, where, names, values, partials=(), fmt_name="text"):
    """The lines above the tables: what is traced, f, the gradient (reverse mode: one
    sweep) and the directional derivative (forward mode: one sweep per direction)."""
    from fwdrev.trace import _bar, _dot, fmt

    md = fmt_name == "markdown"
    out_name = tr.steps[tr.output].name
    scalar_out = np.ndim(tr.value) == 0
    pad = "" if md else "  "
    lines = [f"## {ex_formula}" if md else ex_formula, *([""] if md else [])]
    if where:
        lines += [f"{pad}{where[0].upper() + where[1:]}", *([""] if md else [])]
    lines += [f"{pad}at {_point_text(names, values)}", ""]
    lines += [f"{'**' if md else ''}f = {out_name} = {fmt(tr.value)}{'**' if md else ''}", ""]
    if scalar_out:
        lines.append(f"Reverse mode: one sweep, seeded with {_bar(out_name)} = 1, gives every "
                     "partial derivative")
    else:
        lines.append(f"Reverse mode: one sweep, seeded with the cotangent {_bar(out_name)} = "
                     f"{fmt(tr.cotangent)}, gives w·J for every input")
    if md:
        lines.append("")
    heads = [(f"∂f/∂{n}" if scalar_out else f"(w·J)_{n}") + f" = {_bar(n)} = {fmt(g)}"
             for n, g in zip(names, tr.gradient())]
    width = max(len(h) for h in heads) if heads else 0
    for i, head in enumerate(heads):
        line = f"{'- ' if md else '  '}{head}"
        if i < len(partials) and scalar_out:
            text, by_hand = partials[i]
            line = f"{line:<{width + 2}}   by hand: {text} = {fmt(by_hand(*values))}"
        lines.append(line.rstrip())
    seed = tr.seed[:, 0]
    direction = "(" + ", ".join(fmt(v) for v in seed) + ")"
    lines += ["", f"Forward mode: one sweep along ẋ = {direction} gives one directional "
                  "derivative"]
    if md:
        lines.append("")
    deriv = f"{'- ' if md else '  '}ḟ = {_dot(out_name)} = {fmt(np.asarray(tr.directional())[0])}"
    basis = np.flatnonzero(seed)
    sizes = [int(np.size(v)) for v in values]
    if len(basis) == 1 and seed[basis[0]] == 1.0 and all(s == 1 for s in sizes):
        k = int(basis[0]) + 1
        deriv += f" = ∂f/∂x{k} (the seed is x{k}'s basis vector)"
        lines.append(deriv)
        if len(names) > 1:
            nxt = k % len(names) + 1
            lines.append(f"{'- ' if md else '  '}--seed x{nxt} gives ∂f/∂x{nxt}: forward mode "
                         f"needs one sweep per input ({len(names)} here), reverse mode one "
                         "per output")
    else:
        lines.append(deriv + (" = ∇f·ẋ" if scalar_out else " = J·ẋ"))
    lines.append("")
    return lines


# ------------------------------------------------------------------ the command
def add_parser(sub):
    """The ``explain`` subcommand (``sub``: the CLI's subparsers)."""
    p = sub.add_parser(
        "explain", help="print the evaluation trace (forward and reverse tables) and draw "
                        "the computational graph of a function at a point",
        description="Trace a function at a point with both modes and print the lecture's two "
                    "tables: the forward sweep (primal and tangent of every node) and the "
                    "reverse sweep (every adjoint as the sum of its contributions). "
                    "TARGET is FILE.py:FUNCTION (a function of its arguments, one --at value "
                    "each), or use --problem for the lecture's examples.",
        epilog="examples:\n"
               "  fwdrev explain --problem lecture\n"
               "  fwdrev explain --problem lecture --seed x2 --graph lecture.svg\n"
               "  fwdrev explain --problem homework --format markdown --output hw.md\n"
               "  fwdrev explain --problem logistic-map --depth 4 --at 0.3\n"
               "  fwdrev explain --problem gates --graph gates.png\n"
               "  fwdrev explain my_f.py:f --at 0.5,1.0\n"
               "  fwdrev explain my_f.py:loss --at \"[0.5,1.0,-2.0]\"",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", nargs="?", metavar="TARGET",
                   help="FILE.py:FUNCTION to trace (or --problem)")
    p.add_argument("--problem", choices=EXAMPLES,
                   help="one of the lecture's examples: " + ", ".join(EXAMPLES))
    p.add_argument("--depth", type=_positive_int, metavar="K",
                   help="--problem logistic-map: trace l_K, K − 1 steps of the map "
                        f"(default {LOGISTIC_DEPTH}: the lecture's f = l4)")
    p.add_argument("--at", metavar="V1,V2,...",
                   help="the point: one value per argument, an array as [a,b,...] "
                        "(default for --problem: the example's point)")
    p.add_argument("--seed", metavar="DIRECTION",
                   help="the forward sweep's direction ẋ: one number per input entry "
                        "(e.g. 0,1), or xK for input K's basis vector (default: x1)")
    p.add_argument("--cotangent", metavar="W",
                   help="the reverse sweep's seed for a function with an array output "
                        "(a number or [a,b,...] of the output's shape)")
    p.add_argument("--graph", metavar="FILE",
                   help="draw the computational graph to FILE (.svg, .png, .pdf or .dot); "
                        "without Graphviz: the .dot file and the command that renders it")
    p.add_argument("--format", choices=("text", "markdown"), default="text",
                   help="tables as aligned text (default) or Markdown")
    p.add_argument("--output", metavar="FILE", help="write the tables to FILE, not stdout")
    p.add_argument("--max-nodes", type=_positive_int, default=None, metavar="N",
                   help="refuse a trace of more than N nodes (default 200: a table to read)")
    return p


def _positive_int(text):
    if not re.fullmatch(r"\s*\+?\d+\s*", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


#: Options whose value may start with '-' (a negative number): argparse would read
#: ``--at -1,2`` as an unknown option; :func:`join_negative_values` passes it as
#: ``--at=-1,2``.
VALUE_OPTIONS = ("--at", "--seed", "--cotangent")


def join_negative_values(argv: list) -> list:
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        if a in VALUE_OPTIONS and i + 1 < len(argv) and re.match(r"^-[\d.\[]", argv[i + 1]):
            out.append(f"{a}={argv[i + 1]}")
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def _check_destination(path, what, suffixes=None):
    from bench.records import writable

    if suffixes is not None:
        suffix = os.path.splitext(path)[1].lstrip(".").lower()
        if suffix not in suffixes:
            raise UsageError(f"{what} {path}: use a file ending in "
                             + ", ".join(f".{s}" for s in suffixes))
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{what} {path} is a directory")
    if not os.path.isdir(folder):
        raise UsageError(f"{what} {path}: directory {folder} does not exist")
    if not writable(os.path.abspath(path)):
        raise UsageError(f"{what} {path} is not writable")


def cmd_explain(args, argv) -> int:
    import fwdrev

    # -- what to trace, and where (all checked before anything runs)
    if (args.target is None) == (args.problem is None):
        raise UsageError("give a FILE.py:FUNCTION to trace, or --problem NAME (one of: "
                         f"{', '.join(EXAMPLES)}), not both" if args.target else
                         "nothing to trace: give FILE.py:FUNCTION (with --at) or --problem "
                         f"NAME (one of: {', '.join(EXAMPLES)})")
    if args.depth is not None and args.problem != "logistic-map":
        raise UsageError("--depth applies to --problem logistic-map")
    if args.graph:
        _check_destination(args.graph, "--graph", ("svg", "png", "pdf", "dot"))
    if args.output:
        _check_destination(args.output, "--output")
    values = parse_values(args.at) if args.at is not None else None
    if args.problem:
        ex = example(args.problem, args.depth)
        fn, title, where, partials = ex.fn, ex.formula, ex.where, ex.partials
        if values is None:
            values = list(ex.point)
        elif len(values) != len(ex.point):
            raise UsageError(f"--at: {args.problem} takes {len(ex.point)} value"
                             f"{'s' if len(ex.point) != 1 else ''}, {len(values)} given")
        label = args.problem
    else:
        fn, label = load_function(args.target)
        partials = ()
        arity = _arity(fn)
        if values is None:
            need = "" if arity is None else (
                f" ({label} takes {arity[0]} argument{'s' if arity[0] != 1 else ''}"
                + (f": {', '.join(arity[2])}" if arity[2] else "") + ")")
            raise UsageError(f"give the point with --at V1,V2,...{need}")
        if arity is not None:
            required, most, pnames = arity
            if len(values) < required or (most is not None and len(values) > most):
                want = str(required) if most == required else (
                    f"{required} to {most}" if most is not None else f"at least {required}")
                raise UsageError(f"{label} takes {want} argument{'s' if want != '1' else ''}"
                                 + (f" ({', '.join(pnames)})" if pnames else "")
                                 + f", --at gives {len(values)}")
        title, where = f"{label}", ""
    names = [f"x{i + 1}" for i in range(len(values))]
    sizes = [int(np.size(v)) for v in values]
    seed = parse_seed(args.seed, sizes, names) if args.seed is not None else None
    cotangent = None
    if args.cotangent is not None:
        (cotangent,) = _single(parse_values(args.cotangent, "--cotangent"))
    max_nodes = args.max_nodes or fwdrev.MAX_NODES

    # -- the trace
    try:
        tr = fwdrev.trace(fn, *values, seed=seed, cotangent=cotangent, max_nodes=max_nodes)
    except fwdrev.TraceTooLargeError as exc:
        m = re.search(r"records (\d+) nodes", str(exc))
        count = f"{m.group(1)} nodes" if m else "too many nodes"
        hint = ("use a smaller --depth" if args.problem == "logistic-map"
                else "trace a smaller instance (fewer loop steps, smaller arrays)")
        raise UsageError(f"{label} records {count}, more than --max-nodes {max_nodes} rows a "
                         f"table can show: {hint}, or raise --max-nodes") from None
    except Exception as exc:          # noqa: BLE001 -- the user's function failed: one line
        text = _one_line(exc).replace("give cotangent= (an array of that shape)",
                                      "give --cotangent")
        raise UsageError(f"cannot trace {label} at ({', '.join(_short(v) for v in values)}): "
                         f"{text}") from None

    # -- the tables (and the picture)
    lines = summary(tr, title, where, names, values, partials, args.format)
    text = "\n".join(lines) + "\n" + tr.table(args.format) + "\n"
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    if args.graph:
        try:
            written = tr.render(args.graph)
        except OSError as exc:
            raise UsageError(f"cannot write {args.graph}: {exc.strerror or exc}") from None
        except Exception as exc:      # noqa: BLE001 -- Graphviz failed on the file
            raise UsageError(f"cannot draw {args.graph}: {_one_line(exc)}") from None
        if os.path.abspath(written) == os.path.abspath(args.graph):
            print(f"wrote {args.graph}")
    return 0


def _single(values):
    if len(values) != 1:
        raise UsageError(f"--cotangent: one value (a number or [a,b,...]), {len(values)} given")
    return values


def _short(v):
    if np.ndim(v) == 0:
        return f"{float(v):.4g}"
    flat = np.ravel(v)
    return "[" + ",".join(f"{e:.4g}" for e in flat[:6]) + (",…" if flat.size > 6 else "") + "]"
