"""The tape: a flat, append-only Wengert list, and the reversed loop that sweeps it.

Recording appends one :class:`Node` per op in the order the program runs it, which is
already a topological order; the backward sweep is a plain reversed ``for`` loop over
that list — no recursion, so a chain of 10^5 ops is no harder than a chain of 3.
Cotangents live in a per-sweep list, so a second sweep never accumulates into the
first sweep's result.
"""
from __future__ import annotations

import dataclasses
import itertools
import sys
import types
from array import array
from typing import Any

import numpy as np

from adcore import Trace, Traced, apply, get_op, liveness, rules, value_of
from adcore.tracing import Placeholder, run_primal
from adcore.linear import sz_and, sz_clean

INPUT = None  # the op of an input node


@dataclasses.dataclass(eq=False, slots=True)
class Node:
    """One recorded op, ``out = op(*primals, **params)`` — a view of a tape's row (the tape
    itself is flat: :class:`Tape`).

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


#: a one-shot tape drops unread values of ops whose output has at least this many entries
#: (below it the bookkeeping would cost more time than the memory it frees is worth)
DROP_MIN = 1024
#: cotangents of at least this many entries are reused in place by the sweep (a fresh
#: large block costs page faults; a small one is cheaper to allocate than to check)
CONSUME_MIN = 1 << 14
_NO_PARAMS = types.MappingProxyType({})  # shared by every node without params: read-only


class Tape:
    """A recorded program: a flat Wengert list. ``len(tape)`` counts ops (inputs excluded);
    ``nbytes`` the values it holds; ``summary()`` prints it in record order.

    Row i is ``op_of[i]`` (the op, or ``INPUT``), ``out_of[i]``, ``params_of[i]`` and the arguments
    ``args[starts[i]:starts[i + 1]]`` with the nodes that made them in ``arg_nodes`` (-1: a
    constant) — flat lists and integer arrays rather than one object per node, so a tape of
    10^6 scalar ops costs about 100 bytes an op. ``tape.nodes[i]`` gives a row as a
    :class:`Node`.

    ``keep_values=False`` (one-shot gradients): a value no reverse rule reads is kept only
    as a :class:`adcore.tracing.Placeholder` (:mod:`adcore.liveness`), so the recording
    frees each temporary array as soon as the program is done with it.
    """

    def __init__(self, keep_values: bool = True):
        self.op_of: list = []
        self.out_of: list = []
        self.params_of: list = []
        self.starts = array("q", [0])
        self.args: list = []
        self.arg_nodes = array("q")
        self.guards: list[Guard] = []
        self.inputs: list[int] = []
        self.keep_values = keep_values
        self.released = False

    def __len__(self):
        return len(self.op_of) - len(self.inputs)

    def append(self, op, parents, primals, out, params) -> int:
        """Add a row; returns its index."""
        if (not self.keep_values and type(out) is np.ndarray and out.size >= DROP_MIN
                and op is not INPUT):
            keep = liveness.kept(op, tuple([p >= 0 for p in parents]))
            if keep is not None and not isinstance(out, Traced):  # nested: keep all
                keep_out, keep_in = keep
                if not keep_out:
                    out = Placeholder.of(out)
                if not all(keep_in):
                    primals = [x if k or p < 0 else Placeholder.of(x)
                               for x, k, p in zip(primals, keep_in, parents)]
        self.op_of.append(op)
        self.out_of.append(out)
        self.params_of.append(params or _NO_PARAMS)
        self.args.extend(primals)
        self.arg_nodes.extend(parents)
        self.starts.append(len(self.args))
        return len(self.op_of) - 1

    def node(self, i: int) -> Node:
        s, e = self.starts[i], self.starts[i + 1]
        return Node(self.op_of[i], tuple(self.arg_nodes[s:e]), tuple(self.args[s:e]),
                    self.out_of[i], self.params_of[i])

    @property
    def nodes(self) -> list:
        """The rows as :class:`Node` objects (built on demand: for reading, not for speed)."""
        return [self.node(i) for i in range(len(self.op_of))]

    @property
    def nbytes(self) -> int:
        """Bytes of the distinct arrays the tape keeps alive (outputs and constants)."""
        seen, total = set(), 0
        for v in itertools.chain(self.out_of, self.args):
            v = value_of(v)
            if id(v) not in seen and type(v) is not Placeholder:
                seen.add(id(v))
                total += int(getattr(v, "nbytes", 8))
        return total

    def ops(self):
        """``[(index, op name, parent indices, output shape)]`` in record order."""
        return [(i, n.name, n.parents, np.shape(value_of(n.out))) for i, n in enumerate(self.nodes)]

    def summary(self, limit: int = 50) -> str:
        lines = [f"Tape: {len(self)} ops, {len(self.inputs)} inputs, {len(self.guards)} guards, "
                 f"{self.nbytes} bytes held"]
        rows = self.ops()
        for i, name, parents, shape in rows[:limit]:
            args = ", ".join(f"%{p}" if p >= 0 else "const" for p in parents)
            lines.append(f"  %{i:<5} = {name}({args})  -> shape {shape}")
        if len(rows) > limit:
            lines.append(f"  ... {len(rows) - limit} more")
        return "\n".join(lines)

    __str__ = summary

    def backward(self, out_index: int, cotangent, wanted=None, sz=None, release=False):
        """Reverse sweep from node ``out_index`` seeded with ``cotangent`` (``(k,) + out.shape``,
        structural zeros ``sz``; see :mod:`adcore.rules`).

        Returns the cotangents of the input nodes (``(k,) + input.shape``, zeros where
        the output does not depend on an input), in the order of ``self.inputs``.
        ``release=True`` (a gradient's one sweep): each node's values are let go as the
        sweep passes it, so memory falls as the sweep goes; the tape cannot be swept again
        (``RuntimeError``).
        """
        if self.released:
            raise RuntimeError("this tape was released by a sweep (release=True); record again")
        self.released = release  # before the sweep: a sweep that raises midway released too
        with np.errstate(all="ignore"):  # once per sweep: partials may be inf, by design
            cots = self._sweep(out_index, cotangent, sz, release)
        k = np.shape(cotangent)[0]

        def zero(v):  # an unreached input: zeros in its own float (or complex) dtype
            return np.zeros((k,) + np.shape(v), dtype=np.result_type(v, np.float32))

        def batch(c):  # a cotangent of the scalar lane as a batch of one
            return np.full((1,), c) if type(c) is float else c
        return [batch(cots[i]) if cots[i] is not None else zero(value_of(self.out_of[i]))
                for i in self.inputs]

    def _sweep(self, out_index, cotangent, sz, release):
        """The reversed loop: cotangents of every node, accumulated from ``out_index`` down."""
        ops, outs, params, args = self.op_of, self.out_of, self.params_of, self.args
        starts, arg_nodes, vjp = self.starts, self.arg_nodes, rules.vjp
        scalar_vjp = rules.scalar_vjp
        cots = [None] * len(ops)
        szs = [None] * len(ops)
        if (sz is None and type(cotangent) is np.ndarray and cotangent.shape == (1,)
                and cotangent.dtype == np.float64):
            # a float64 scalar output: its cotangents are swept as Python floats while the
            # nodes are scalar elementwise ops (rules.scalar_vjp), arrays from the first
            # that is not -- a scalar program costs float products, not (1,)-array ones
            cotangent = float(cotangent[0])
        cots[out_index] = cotangent
        szs[out_index] = sz
        for i in range(out_index, -1, -1):
            g = cots[i]
            if g is None:
                continue
            op = ops[i]
            if op is INPUT:
                continue
            gsz = szs[i]
            cots[i] = szs[i] = None  # done with it: free the memory as the sweep moves back
            if gsz is not None and (gsz is True or gsz.all()):
                continue  # a cotangent that is all structural zeros contributes nothing
            s, e = starts[i], starts[i + 1]
            parents = arg_nodes[s:e]
            if release:  # the values go with this step (the locals hold them until then)
                out, primals = outs[i], args[s:e]
                outs[i] = None
                args[s:e] = [None] * (e - s)
            else:
                out, primals = outs[i], args[s:e]
            if type(g) is float:
                grads = scalar_vjp(op, g, parents, out, primals, params[i])
                if grads is not None:
                    for p, gp in zip(parents, grads):
                        if p >= 0 and gp is not None:
                            have = cots[p]
                            cots[p] = gp if have is None else have + gp
                            szs[p] = None
                    continue
                g = np.full((1,), g)  # leave the scalar lane: arrays from here
            if op is _GETITEM and gsz is None and parents[0] >= 0 and _owned(cots, parents[0], g):
                # a second slice of the same array: add into its cotangent in place (the
                # same sums as zeros-with-g-assigned + cotangent, without the temporary)
                index = params[i]["index"]
                if index.basic and index.adjacent:
                    p0 = parents[0]
                    cots[p0][(slice(None),) + index.key] += g
                    psz = szs[p0]
                    if psz is not None:  # the entries just added to are reached now
                        psz = np.array(np.broadcast_to(psz, cots[p0].shape))
                        psz[(slice(None),) + index.key] = False
                        szs[p0] = sz_clean(psz)
                    continue
            needed = tuple([p >= 0 for p in parents])
            # g is given up to the rule if only this loop holds it (no other node's slot,
            # not the caller's seed): a large cotangent is then computed into its buffer
            consume = (_IN_PLACE and type(g) is np.ndarray and g.size >= CONSUME_MIN
                       and g.base is None and g.flags.writeable and sys.getrefcount(g) == 2)
            grads, gszs = vjp(op, g, needed, out, tuple(primals), params[i], gsz, consume)
            out = primals = None
            for p, gp, s_ in zip(parents, grads, gszs):
                if p < 0 or gp is None:
                    continue
                have = cots[p]
                if have is None:
                    cots[p] = gp
                    szs[p] = s_
                    continue
                if _owned(cots, p, gp) and gp.shape == have.shape:
                    have += gp  # an array only this sweep holds: no new temporary
                else:
                    cots[p] = have + gp
                szs[p] = sz_and(szs[p], s_)
        return cots


_GETITEM = get_op("getitem")


def _refcounts_as_expected() -> bool:
    """The in-place paths (``consume``, :func:`_owned`) read ``sys.getrefcount`` as this
    interpreter counts today: an array taken out of its only list slot into a local reads 2
    (3 if another slot holds it too); one read from its slot reads 3 (4 if shared). Checked
    once at import on those very shapes; an interpreter that counts otherwise gets the
    allocating paths, never a write into a shared buffer."""
    def taken(slots):
        g = slots[0]
        slots[0] = None
        return sys.getrefcount(g)

    def read(slots):
        a = slots[0]
        return sys.getrefcount(a)
    shared = [np.ones(2)]
    shared.append(shared[0])
    shared_read = [np.ones(2)]
    shared_read.append(shared_read[0])
    return (taken([np.ones(2)]), taken(shared), read([np.ones(2)]), read(shared_read)) == (2, 3, 3, 4)


_IN_PLACE = _refcounts_as_expected()


def _owned(cots, p, other) -> bool:
    """``cots[p]`` is a float array that only this sweep's list refers to, owns its memory
    and is writeable — so adding into it in place is invisible to anyone else."""
    a = cots[p]
    return (_IN_PLACE and type(a) is np.ndarray and a.base is None and a.flags.writeable
            and a is not other and type(other) is np.ndarray
            and sys.getrefcount(a) == 3  # the list, ``a`` and getrefcount's argument
            and np.result_type(a, other) == a.dtype)


class ReverseTrace(Trace):
    """One recording: every op on a value of this trace is appended to ``self.tape``."""

    mode = "reverse"

    def __init__(self, keep_values: bool = True):
        super().__init__()
        self.tape = Tape(keep_values)

    def new_input(self, value) -> "Tracer":
        index = self.tape.append(INPUT, (), (), value, None)
        self.tape.inputs.append(index)
        return Tracer(self, value, index)

    def process(self, op, inputs, params):
        parents, primals = [], []
        nested = False  # a value of an outer derivative call among the primals
        for x in inputs:
            if type(x) is Tracer and x._trace is self:
                parents.append(x.index)
                x = x.primal
            else:  # constant for this tape (plain, or a value of an outer call)
                parents.append(-1)
            primals.append(x)
            nested = nested or isinstance(x, Traced)
        out = apply(op, *primals, **params) if nested else run_primal(op, primals, params)
        return Tracer(self, out, self.tape.append(op, parents, primals, out, params))

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
