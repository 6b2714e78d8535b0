"""The tape: a flat, append-only Wengert list, and the reversed loop that sweeps it.

Recording appends one :class:`Node` per op in the order the program runs it, which is
already a topological order; the backward sweep is a plain reversed ``for`` loop over
that list — no recursion, so a chain of 10^5 ops is no harder than a chain of 3.
Cotangents live in a per-sweep list, so a second sweep never accumulates into the
first sweep's result.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Any

import numpy as np

from adcore import Trace, Traced, apply, get_op, rules, value_of
from adcore.linear import sz_and, sz_clean

INPUT = None  # the op of an input node


@dataclasses.dataclass(eq=False, slots=True)  # slots: a tape of 10^5 scalar ops stays small
class Node:
    """One recorded op: ``out = op(*primals, **params)``.

    ``parents[i]`` is the index of the node that produced ``primals[i]``, or -1 when
    that input is a constant of this tape (a plain array, or a value of an outer call).
    """

    op: Any
    parents: tuple
    primals: tuple
    out: Any
    params: dict

    @property
    def name(self):
        return "input" if self.op is INPUT else self.op.name


@dataclasses.dataclass(eq=False)
class Guard:
    """A decision the program took by looking at a traced value (a comparison, argmax,
    ``bool``, a ``where`` condition): on replay it must come out the same."""

    name: str
    func: Any
    args: tuple  # traced values of this tape replaced by _Ref(node index)
    kwargs: dict
    result: Any


@dataclasses.dataclass(frozen=True)
class _Ref:
    index: int


class Tape:
    """A recorded program. ``len(tape)`` counts ops (inputs excluded); ``nbytes`` the
    values it holds; ``summary()`` prints it in record order."""

    def __init__(self):
        self.nodes: list[Node] = []
        self.guards: list[Guard] = []
        self.inputs: list[int] = []

    def __len__(self):
        return len(self.nodes) - len(self.inputs)

    def append(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    @property
    def nbytes(self) -> int:
        """Bytes of the distinct arrays the tape keeps alive (outputs and constants)."""
        seen, total = set(), 0
        for node in self.nodes:
            for v in (node.out,) + node.primals:
                v = value_of(v)
                if id(v) not in seen:
                    seen.add(id(v))
                    total += int(getattr(v, "nbytes", 8))
        return total

    def ops(self):
        """``[(index, op name, parent indices, output shape)]`` in record order."""
        return [(i, n.name, n.parents, np.shape(value_of(n.out))) for i, n in enumerate(self.nodes)]

    def summary(self, limit: int = 50) -> str:
        lines = [f"Tape: {len(self)} ops, {len(self.inputs)} inputs, {len(self.guards)} guards, "
                 f"{self.nbytes} bytes held"]
        for i, name, parents, shape in self.ops()[:limit]:
            args = ", ".join(f"%{p}" if p >= 0 else "const" for p in parents)
            lines.append(f"  %{i:<5} = {name}({args})  -> shape {shape}")
        if len(self.nodes) > limit:
            lines.append(f"  ... {len(self.nodes) - limit} more")
        return "\n".join(lines)

    __str__ = summary

    def backward(self, out_index: int, cotangent, wanted=None, sz=None):
        """Reverse sweep from node ``out_index`` seeded with ``cotangent`` (``(k,) + out.shape``,
        structural zeros ``sz``; see :mod:`adcore.rules`).

        Returns the cotangents of the input nodes (``(k,) + input.shape``, zeros where
        the output does not depend on an input), in the order of ``self.inputs``.
        """
        cots = [None] * len(self.nodes)
        szs = [None] * len(self.nodes)
        cots[out_index] = cotangent
        szs[out_index] = sz
        is_input = set(self.inputs)
        for i in range(out_index, -1, -1):
            g = cots[i]
            if g is None or i in is_input:
                continue
            gsz = szs[i]
            cots[i] = szs[i] = None  # done with it: free the memory as the sweep moves back
            node = self.nodes[i]
            p0 = node.parents[0] if node.parents else -1
            if node.op is _GETITEM and p0 >= 0 and gsz is None and _owned(cots, p0, g):
                # a second slice of the same array: add into its cotangent in place (the
                # same sums as zeros-with-g-assigned + cotangent, without the temporary)
                index = node.params["index"]
                if index.basic and index.adjacent:
                    cots[p0][(slice(None),) + index.key] += g
                    psz = szs[p0]
                    if psz is not None:  # the entries just added to are reached now
                        psz = np.array(np.broadcast_to(psz, cots[p0].shape))
                        psz[(slice(None),) + index.key] = False
                        szs[p0] = sz_clean(psz)
                    continue
            needed = tuple(p >= 0 for p in node.parents)
            grads, gszs = rules.vjp(node.op, g, needed, node.out, node.primals, node.params, gsz)
            for p, gp, s in zip(node.parents, grads, gszs):
                if p >= 0 and gp is not None:
                    if cots[p] is None:
                        cots[p] = gp
                        szs[p] = s
                        continue
                    if _owned(cots, p, gp) and np.shape(gp) == cots[p].shape:
                        cots[p] += gp  # an array only this sweep holds: no new temporary
                    else:
                        cots[p] = cots[p] + gp
                    szs[p] = sz_and(szs[p], s)
        k = np.shape(cotangent)[0]

        def zero(v):  # an unreached input: zeros in its own float (or complex) dtype
            return np.zeros((k,) + np.shape(v), dtype=np.result_type(v, np.float32))
        return [cots[i] if cots[i] is not None else zero(value_of(self.nodes[i].out))
                for i in self.inputs]


_GETITEM = get_op("getitem")


def _owned(cots, p, other) -> bool:
    """``cots[p]`` is a float array that only this sweep's list refers to, owns its memory
    and is writeable — so adding into it in place is invisible to anyone else."""
    a = cots[p]
    return (type(a) is np.ndarray and a.base is None and a.flags.writeable
            and a is not other and type(other) is np.ndarray
            and sys.getrefcount(a) == 3  # the list, ``a`` and getrefcount's argument
            and np.result_type(a, other) == a.dtype)


class ReverseTrace(Trace):
    """One recording: every op on a value of this trace is appended to ``self.tape``."""

    mode = "reverse"

    def __init__(self):
        super().__init__()
        self.tape = Tape()

    def new_input(self, value) -> "Tracer":
        index = self.tape.append(Node(INPUT, (), (), value, {}))
        self.tape.inputs.append(index)
        return Tracer(self, value, index)

    def process(self, op, inputs, params):
        parents, primals = [], []
        for x in inputs:
            if isinstance(x, Tracer) and x._trace is self:
                parents.append(x.index)
                primals.append(x.primal)
            else:  # constant for this tape (plain, or a value of an outer call)
                parents.append(-1)
                primals.append(x)
        out = apply(op, *primals, **params)
        index = self.tape.append(Node(op, tuple(parents), tuple(primals), out, params))
        return Tracer(self, out, index)

    def note_nondiff(self, name, func, args, kwargs, result):
        def ref(a):
            t = a  # a value of an inner level wraps ours: find this trace's node under it
            while isinstance(t, Traced):
                if isinstance(t, Tracer) and t._trace is self:
                    return _Ref(t.index)
                t = t.primal
            if isinstance(a, (list, tuple)):
                return type(a)(ref(b) for b in a)
            return value_of(a)
        self.tape.guards.append(Guard(name, func, ref(args), {k: ref(v) for k, v in kwargs.items()},
                                      result))


class Tracer(Traced):
    """A value recorded on a tape: ``primal`` and the ``index`` of the node that made it."""

    __slots__ = ("index",)

    def __init__(self, trace: ReverseTrace, primal, index: int):
        self._trace = trace
        self.primal = primal
        self.index = index

    def __repr__(self):
        return f"Tracer(primal={self.primal!r}, node=%{self.index}, level={self._trace.level})"
