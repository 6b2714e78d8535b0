"""Evaluation traces: the lecture's forward (primal + tangent) and reverse (adjoint) tables
of a function at a point, computed by fwdrev's own engines on one recording.

``trace(f, *args)`` records ``f`` once on a tape (reverse mode's recording), then sweeps it
twice with the registry's rules (``adcore.rules``): forward with the seed direction(s),
keeping every node's tangent, and backward from the output's cotangent, keeping every
node's adjoint *and the contributions it is the sum of* -- so a table can write
``x̄1 = v̄1·x2 + v̄2·cos(x1)`` and show where the gradients of two paths add.

Shapes: a node's ``primal`` has its value's shape, ``tangent`` is ``(k,) + shape`` for k
seed directions, ``adjoint`` has the value's shape. Names follow the lecture: inputs x1,
x2, ... (one per argument), intermediates v1, v2, ... in evaluation order.
"""
from __future__ import annotations

import dataclasses
import unicodedata

import numpy as np

import tapes.api
from adcore import ADError, calls, rules, value_of
from adcore.linear import sz_and, sz_of_seed

from . import notation

MAX_NODES = 200


class TraceTooLargeError(ADError, ValueError):
    """The function records more nodes than a readable trace shows."""


@dataclasses.dataclass
class Step:
    """One node of the trace (see the module doc for shapes)."""

    name: str
    op: str  # "input", or the registry's op name
    inputs: list  # names of the nodes (or constants, as text) it reads
    parents: tuple  # node indices (-1: a constant)
    primal: object
    tangent: object = None
    adjoint: object = None
    consumers: list = dataclasses.field(default_factory=list)  # indices of nodes that read it
    # (consumer index, term as text, contribution value): the terms of this adjoint
    contributions: list = dataclasses.field(default_factory=list)

    @property
    def expression(self) -> str:
        return "input" if self.op == "input" else notation.expression(self.op, self.inputs)

    @property
    def gate(self) -> str:
        return notation.gate(self.op)


def _dot(name: str) -> str:
    """ẋ1: the tangent's name (a combining dot over the letter)."""
    return name[0] + "\u0307" + name[1:]


def _bar(name: str) -> str:
    """x̄1: the adjoint's name (a combining macron)."""
    return name[0] + "\u0304" + name[1:]


def _sum(terms) -> str:
    """Terms joined by + (a term that starts with - is subtracted)."""
    out = ""
    for t in terms:
        out += (f" - {t[1:]}" if t.startswith("-") else f" + {t}") if out else t
    return out or "0"


def fmt(v, digits: int = 5) -> str:
    """A value for a table: a scalar to ``digits`` significant digits, an array as its shape
    and first entries."""
    if v is None:
        return ""
    a = np.asarray(value_of(v))
    if a.ndim == 0:
        x = a.item()
        if isinstance(x, complex):
            return f"{x.real:.{digits}g}{x.imag:+.{digits}g}j"
        return "0" if x == 0 else f"{x:.{digits}g}"  # never "-0"
    head = ", ".join(f"{e + 0.0:.{digits}g}" for e in a.ravel()[:3])  # + 0.0: no "-0"
    return f"{a.shape} [{head}{', …' if a.size > 3 else ''}]"


@dataclasses.dataclass
class Trace:
    """The evaluation trace of ``f`` at a point; ``steps`` in evaluation order (inputs
    first). ``seed``: the input direction(s), ``(n, k)`` over the flattened inputs;
    ``cotangent``: the output's seed of the reverse sweep."""

    steps: list
    output: int  # index of the output node
    seed: np.ndarray
    cotangent: object

    @property
    def k(self) -> int:
        return self.seed.shape[1]

    @property
    def value(self):
        return self.steps[self.output].primal

    def gradient(self):
        """The adjoints of the inputs (one per argument): the reverse sweep's result."""
        return tuple(np.zeros_like(s.primal, dtype=np.result_type(s.primal, np.float32))
                     if s.adjoint is None else s.adjoint
                     for s in self.steps if s.op == "input")

    def directional(self):
        """The output's tangent: J times each seed direction, ``(k,) + out.shape``."""
        return self.steps[self.output].tangent

    # -- the lecture's two tables -----------------------------------------------------------
    def forward_rows(self):
        """``[(name, definition, value, tangent expression, tangent)]`` in evaluation order."""
        rows = []
        for s in self.steps:
            if s.op == "input":
                rows.append((s.name, "input", fmt(s.primal), "seed", self._tangent_text(s)))
                continue
            linear = notation.linear_tangent(s.op, [
                _dot(inp) if s.parents[j] >= 0 else None for j, inp in enumerate(s.inputs)],
                s.inputs)
            terms = [notation.times(_dot(inp), notation.partial(s.op, j, s.inputs, s.name))
                     for j, inp in enumerate(s.inputs) if s.parents[j] >= 0]
            rows.append((s.name, s.expression, fmt(s.primal), linear or _sum(terms),
                         self._tangent_text(s)))
        return rows

    def reverse_rows(self):
        """``[(name, adjoint as the sum of its contributions, value)]`` in reverse order."""
        rows = []
        for i in range(len(self.steps) - 1, -1, -1):
            s = self.steps[i]
            if i == self.output:
                rows.append((s.name, f"{fmt(s.adjoint)} (seed)", fmt(s.adjoint)))
                continue
            if s.adjoint is None:
                continue
            terms = [term for _, term, _ in s.contributions]
            rows.append((s.name, _sum(terms), fmt(s.adjoint)))
        return rows

    def _tangent_text(self, s):
        if s.tangent is None:
            return "0"
        if self.k == 1:
            return fmt(np.asarray(s.tangent)[0])
        return "(" + ", ".join(fmt(t) for t in np.asarray(s.tangent)) + ")"

    def table(self, format: str = "text") -> str:
        """Both tables: ``format="text"`` (aligned columns) or ``"markdown"``."""
        if format not in ("text", "markdown"):
            raise ValueError(f"format must be 'text' or 'markdown', not {format!r}")
        inputs = [s.name for s in self.steps if s.op == "input"]
        if self.k > 1:
            seed = f"{self.k} directions"
        elif self.seed.shape[0] == 1:
            seed = f"{_dot(inputs[0])} = {fmt(self.seed[0, 0])}"
        else:
            seed = f"{_dot('x')} = ({', '.join(fmt(v) for v in self.seed[:, 0])})"
        fwd_head = ("node", "definition", "value", "tangent", "tangent value")
        rev_head = ("node", "adjoint", "value")
        fwd_title = f"Forward sweep (primal and tangent), seed {seed}"
        rev_title = (f"Reverse sweep (adjoints), seed {_bar(self.steps[self.output].name)} = "
                     f"{fmt(self.cotangent)}; where a value feeds several nodes, their "
                     "contributions add")
        fwd = [_display(r) for r in self.forward_rows()]
        rev = [(r[0], f"{_bar(r[0])} = {r[1]}", r[2]) for r in self.reverse_rows()]
        render = _markdown if format == "markdown" else _text
        return "\n\n".join([render(fwd_title, fwd_head, fwd), render(rev_title, rev_head, rev)])

    def __str__(self):
        return self.table()

    # -- the graph ------------------------------------------------------------------------------
    def to_dot(self, show=("primal", "tangent", "adjoint"), rankdir="LR") -> str:
        """The computational graph in Graphviz's DOT language (see :mod:`fwdrev.graph`);
        ``rankdir``: "LR" (left to right) or "TB" (top to bottom, for long chains)."""
        from .graph import to_dot
        return to_dot(self, show, rankdir)

    def render(self, path, show=("primal", "tangent", "adjoint"), rankdir="LR"):
        """Draw the graph to ``path`` (.svg or .png) with Graphviz; without the Graphviz
        binaries, write ``path`` with a .dot suffix and print the command that renders it.
        Returns the path written."""
        from .graph import render
        return render(self, path, show, rankdir)


def _display(row):
    name, definition, value, texpr, tval = row
    return (name, f"{name} = {definition}" if definition != "input" else "input", value,
            f"{_dot(name)} = {texpr}" if definition != "input" else "seed", tval)


def _width(text) -> int:
    """Columns a string takes: combining marks (the dot of ẋ, the bar of x̄) take none."""
    return sum(not unicodedata.combining(c) for c in str(text))


def _text(title, head, rows):
    widths = [max(_width(r[i]) for r in (head,) + tuple(rows)) for i in range(len(head))]
    pad = lambda c, w: str(c) + " " * (w - _width(c))  # noqa: E731
    line = lambda r: "  ".join(pad(c, w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([title, line(head), "  ".join("-" * w for w in widths)] +
                     [line(r) for r in rows])


def _markdown(title, head, rows):
    esc = lambda c: str(c).replace("|", "\\|")  # noqa: E731
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |",
             "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ building
def _seed_matrix(seed, n):
    if seed is None:
        m = np.zeros((n, 1))
        if n:
            m[0, 0] = 1.0
        return m
    m = np.asarray(seed)
    m = m.astype(np.result_type(m, np.float64))  # complex seeds stay complex
    if m.ndim == 1:
        m = m[:, None]
    if m.ndim != 2 or m.shape[0] != n:
        raise ValueError(f"trace: seed must have {n} rows (one per input entry), got shape "
                         f"{np.shape(seed)}")
    return m


def trace(f, *args, seed=None, cotangent=None, argnums=None, names=None,
          max_nodes=MAX_NODES) -> Trace:
    """The evaluation trace of ``f(*args)``: every node's primal value, tangent along
    ``seed`` (default: the first input's first entry; a vector over the flattened inputs,
    or an ``(n, k)`` matrix for k directions) and adjoint from ``cotangent`` (default 1 for
    a scalar output; required for an array output). ``argnums``: the differentiated
    arguments (default: all); ``names``: the inputs' names (default x1, x2, ...).

    Raises :class:`TraceTooLargeError` beyond ``max_nodes`` recorded nodes, and the
    engines' errors (unsupported functions, non-float inputs) as they do.
    """
    argnums = tuple(range(len(args))) if argnums is None else tuple(np.atleast_1d(argnums))
    args = list(args)
    for a in argnums:
        args[a] = calls.as_float_input(args[a], "fwdrev.trace", a, promote_int=True,
                                       complex_ok=True)
    tape, out, out_index = tapes.api.record_call(f, args, argnums)
    segments = sorted({op.name for op in tape.op_of if op is not None and op.inline})
    if segments:
        raise ADError(
            f"fwdrev.trace: {', '.join(segments)} is one node of the tape (a checkpointed "
            "segment or a tapes.scan loop), and an evaluation trace shows every op: trace the "
            "function without tapes.checkpoint / tapes.scan (a plain loop), or a smaller piece")
    nodes = tape.nodes
    if len(nodes) > max_nodes:
        raise TraceTooLargeError(
            f"fwdrev.trace: {f.__name__ if hasattr(f, '__name__') else 'the function'} records "
            f"{len(nodes)} nodes, more than max_nodes={max_nodes} rows a table can show. Trace "
            "a smaller instance (fewer loop steps, smaller arrays), or pass max_nodes=... .")
    if out_index is None:
        raise ValueError("fwdrev.trace: the output does not depend on the inputs (nothing to trace)")
    if names is not None and len(names) != len(tape.inputs):
        raise ValueError(f"fwdrev.trace: {len(names)} names for {len(tape.inputs)} inputs")
    steps = _name_steps(nodes, tape.inputs, names)
    sizes = [int(np.size(value_of(nodes[i].out))) for i in tape.inputs]
    seed_m = _seed_matrix(seed, sum(sizes))
    with np.errstate(all="ignore"):  # the rules' partials may be inf at singular points
        _forward_sweep(nodes, tape.inputs, steps, seed_m, sizes)
    out_value = value_of(nodes[out_index].out)
    if cotangent is None:
        if np.shape(out_value) != ():
            raise ValueError(f"fwdrev.trace: the output has shape {np.shape(out_value)}; give "
                             "cotangent= (an array of that shape) for the reverse sweep")
        cotangent = np.ones((), dtype=np.result_type(out_value, np.float32))
    cotangent = np.asarray(cotangent)
    if np.shape(cotangent) != np.shape(out_value):
        raise ValueError(f"fwdrev.trace: cotangent has shape {np.shape(cotangent)}, the output "
                         f"{np.shape(out_value)}")
    with np.errstate(all="ignore"):
        _reverse_sweep(nodes, steps, out_index, cotangent)
    return Trace(steps, out_index, seed_m, cotangent)


def _name_steps(nodes, inputs, input_names=None):
    names, steps, count = {}, [], 0
    for n, i in enumerate(inputs):
        names[i] = f"x{n + 1}" if input_names is None else str(input_names[n])
    for i, node in enumerate(nodes):
        if i not in names:
            count += 1
            names[i] = f"v{count}"
        ins = [names[p] if p >= 0 else _constant(c) for p, c in zip(node.parents, node.primals)]
        steps.append(Step(names[i], node.name, ins, tuple(node.parents), value_of(node.out)))
        for p in node.parents:
            if p >= 0 and i not in steps[p].consumers:
                steps[p].consumers.append(i)
    return steps


def _constant(c) -> str:
    """A constant operand as text: its value if a scalar, ``const(shape)`` if an array."""
    shape = np.shape(value_of(c))
    return fmt(c, 4) if shape == () else f"const{shape}"


def _forward_sweep(nodes, inputs, steps, seed_m, sizes):
    k = seed_m.shape[1]
    tangents = [None] * len(nodes)
    szs = [None] * len(nodes)
    start = 0
    for i, size in zip(inputs, sizes):
        shape = np.shape(value_of(nodes[i].out))
        t = np.ascontiguousarray(seed_m[start:start + size].T).reshape((k,) + shape)
        tangents[i], szs[i] = t, sz_of_seed(t)
        start += size
    for i, node in enumerate(nodes):
        if node.name == "input":
            continue
        ts = tuple(tangents[p] if p >= 0 else None for p in node.parents)
        if all(t is None for t in ts):
            continue
        tangents[i], szs[i] = rules.jvp(node.op, node.out, node.primals, ts, node.params, k,
                                        tuple(szs[p] if p >= 0 else None for p in node.parents))
    for s, t in zip(steps, tangents):
        s.tangent = t


def _reverse_sweep(nodes, steps, out_index, cotangent):
    """The reverse sweep of tapes.Tape.backward (structural zeros too), keeping every
    node's adjoint and the terms it is the sum of."""
    adj = [None] * len(nodes)
    szs = [None] * len(nodes)
    adj[out_index] = cotangent[None]
    szs[out_index] = sz_of_seed(adj[out_index])
    for i in range(out_index, -1, -1):
        g = adj[i]
        if g is None:
            continue
        steps[i].adjoint = g[0]
        node = nodes[i]
        if node.name == "input":
            continue
        needed = tuple(p >= 0 for p in node.parents)
        grads, gszs = rules.vjp(node.op, g, needed, node.out, node.primals, node.params, szs[i])
        for j, (p, gp, s) in enumerate(zip(node.parents, grads, gszs)):
            if p < 0 or gp is None:
                continue
            szs[p] = s if adj[p] is None else sz_and(szs[p], s)
            term = notation.adjoint_term(node.name, j, steps[i].inputs, steps[i].name,
                                         _bar(steps[i].name))
            steps[p].contributions.append((i, term, gp[0]))
            adj[p] = gp if adj[p] is None else adj[p] + gp
    # contributions in evaluation order of their consumers (the lecture's order)
    for s in steps:
        s.contributions.sort(key=lambda c: c[0])


__all__ = ["trace", "Trace", "Step", "TraceTooLargeError", "fmt", "MAX_NODES"]
