"""fwdrev: the front door above both engines -- the one package that imports forward mode
(``dualnum``) and reverse mode (``tapes``) together.

* :func:`trace`: the lecture's evaluation trace of a function at a point -- every node's
  primal, tangent (forward sweep) and adjoint (reverse sweep), as tables
  (``Trace.table()``) and as a computational graph (``Trace.to_dot()``, ``Trace.render()``).
"""
from .trace import MAX_NODES, Step, Trace, TraceTooLargeError, trace

__all__ = ["trace", "Trace", "Step", "TraceTooLargeError", "MAX_NODES"]
