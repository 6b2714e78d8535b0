"""Which recorded values an op's reverse rule reads — so a tape keeps only those.

A one-shot gradient (``tapes.grad``) records every op's inputs and output, but most rules
read few of them: the VJP of ``a - b`` reads none, of ``x * c`` only ``c``, of ``exp`` only
its output, of ``sum`` only its input's shape. A tape that keeps only what its rules read
frees each intermediate array as soon as the last op that needs it has run, which is what
bounds the memory of a gradient of an array program (the speed issue's Rosenbrock at
n = 10^6: the tape no longer holds every temporary). Replays and evaluation traces keep
every value (they re-run or display them).

What a rule reads is read off its code, not declared: a parameter that a rule's bytecode
never mentions cannot be read by it (:func:`_mentioned`). Anything it cannot see through
(a builtin, ``*args``, ``locals()``) counts as reading everything, so the analysis can only
keep too much, never too little. A value the tape drops is replaced by a
:class:`adcore.tracing.Placeholder` of its shape and dtype (what ``unbroadcast`` and the
real-or-complex checks need); a rule that nevertheless reads its values raises
``AssertionError`` instead of computing with a wrong number.

For an elementwise op the reads of input i's partial count only when input i is
differentiated (its partial is never evaluated otherwise); the ``szero``, ``kinks`` and
complex tables are included. For a structural op: its ``vjp`` and ``sz_rules["vjp"]``.
"""
from __future__ import annotations

import dis
import inspect
import threading

from .registry import ELEMENTWISE, ConstZero, Kink

_ALL = None  # "reads every value": what an unanalysable rule is assumed to do


def _mentioned(fn, first: int, count: int):
    """For parameters ``first .. first + count - 1`` of ``fn``: whether its code mentions
    each one (a tuple of bools), or :data:`_ALL` when that cannot be told."""
    if isinstance(fn, (ConstZero, Kink)):
        fn = fn.pred
    code = getattr(fn, "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARARGS:
        return _ALL
    if code.co_argcount < first + count or {"locals", "vars", "eval", "exec"} & set(code.co_names):
        return _ALL
    names = code.co_varnames[first:first + count]
    seen = set(code.co_cellvars)  # a parameter an inner function captures: read
    for ins in dis.get_instructions(code):
        v = ins.argval
        if isinstance(v, str):
            seen.add(v)
        elif isinstance(v, tuple):  # LOAD_FAST_LOAD_FAST (Python >= 3.13)
            seen.update(x for x in v if isinstance(x, str))
    return tuple(name in seen for name in names)


def _or(a, b):
    if a is _ALL or b is _ALL:
        return _ALL
    return tuple(x or y for x, y in zip(a, b))


def _elementwise_reads(op):
    """Per input i: which of (out, *inputs) partial i and its tables read, or _ALL."""
    n = op.nargs
    per = []
    for i in range(n):
        reads = (False,) * (n + 1)
        fns = [op.partials[i]]
        if op.complex_partials is not None:
            fns.append(op.complex_partials[i])
        for table in (op.szero, op.kinks):
            if table is not None and table[i] is not None:
                fns.append(table[i])
        for fn in fns:
            reads = _or(reads, _mentioned(fn, 0, n + 1))
        per.append(reads)
    return per


def _structural_reads(op):
    """Which of (out, *inputs) the structural op's reverse rules read, or _ALL."""
    n = op.nargs
    reads = _mentioned(op.vjp, 2, n + 1)  # vjp(g, needed, out, *inputs)
    direct = op.sz_rules and op.sz_rules.get("vjp")
    if direct:
        reads = _or(reads, _mentioned(direct, 3, n + 1))  # (g, gsz, needed, out, *inputs)
    return reads


_cache: dict = {}
_lock = threading.Lock()


def kept(op, needed: tuple):
    """``(keep_out, keep_inputs)`` for a node of ``op`` whose differentiated inputs are
    ``needed``: what its reverse rule may read. None: keep everything."""
    if op.nargs is None or op.nargs != len(needed):
        return None  # variadic (concatenate, stack, a checkpointed segment): keep all --
        # and no cache entry, which would keep a per-call op (tapes.checkpoint) alive
    key = (id(op), needed)
    hit = _cache.get(key)
    if hit is not None or key in _cache:
        return hit
    with _lock:
        if op.kind == ELEMENTWISE:
            reads = (False,) * (op.nargs + 1)
            for i, r in enumerate(_elementwise_reads(op)):
                if needed[i]:
                    reads = _or(reads, r)
            result = None if reads is _ALL else (reads[0], reads[1:])
        else:
            reads = _structural_reads(op)
            result = None if reads is _ALL else (reads[0], reads[1:])
        _cache[key] = result
        # the op object stays alive while cached (ids are not reused under a live entry)
        _cache[("op", id(op))] = op
    return result
