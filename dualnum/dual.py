"""The dual number: a primal value plus k tangent directions, for one forward trace.

Convention: ``tangent.shape == (k,) + shape(primal)`` — direction index first, so a
batch of k directions broadcasts against the value like any NumPy operand.
"""
from __future__ import annotations

import numpy as np

from adcore import Trace, Traced, apply, rules
from adcore.tracing import run_primal


class ForwardTrace(Trace):
    """One forward pass carrying ``k`` directions. Each derivative call opens its own."""

    mode = "forward"

    def __init__(self, k: int):
        super().__init__()
        self.k = k

    def process(self, op, inputs, params):
        if op.inline:  # a segment only reverse mode treats as one node: run what it is made of
            return op.primal(*inputs, **params)
        primals, tangents, szs = [], [], []
        nested = False  # a value of an outer derivative call among the primals
        for x in inputs:
            if type(x) is Dual and x._trace is self:
                tangents.append(x.tangent)
                szs.append(x.sz)
                x = x.primal
            else:  # a constant, or a value of an outer (lower-level) derivative call
                tangents.append(None)
                szs.append(None)
            primals.append(x)
            nested = nested or isinstance(x, Traced)
        out = apply(op, *primals, **params) if nested else run_primal(op, primals, params)
        tangent, sz = rules.jvp(op, out, primals, tangents, params, self.k, szs)
        return Dual(self, out, tangent, sz)


class Dual(Traced):
    """A value of a forward trace: ``primal`` and ``tangent`` of shape ``(k,) + shape``.

    ``sz``: the tangent's structural zeros (None, or a bool mask broadcastable to it, True
    where the entry is zero by the program's structure; see :mod:`adcore.rules`).
    """

    __slots__ = ("tangent", "sz")

    def __init__(self, trace: ForwardTrace, primal, tangent, sz=None):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent
        self.sz = sz

    def __repr__(self):
        return (f"Dual(primal={self.primal!r}, tangent={self.tangent!r}, "
                f"k={self._trace.k}, level={self._trace.level})")

    @property
    def nbytes(self) -> int:
        """Bytes of the value and its tangents (the memory forward mode carries per value)."""
        return int(np.size(self.primal) + np.size(self.tangent)) * np.dtype(self.dtype).itemsize
