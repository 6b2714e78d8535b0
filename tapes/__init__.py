"""tapes — reverse-mode automatic differentiation with a tape (a Wengert list).

Tracing appends every op to a flat tape in record order; the backward sweep is a
reversed loop over it. Rules come from the ``adcore`` registry, the same table that
forward mode (``dualnum``) reads. Cost: a gradient is one recording plus one sweep;
the tape keeps every intermediate value alive until the sweep.

    >>> import numpy as np, tapes
    >>> tapes.grad(lambda x: np.sum(np.sin(x) * x))(np.array([0.0, 1.0]))
"""
# the compiled tier: importing it installs its large-array kernels into adcore.rules
# (numba itself is imported only when compiled code is first needed)
import adjit  # noqa: F401
from adcore import logsumexp, relu, sigmoid, softplus  # noqa: F401  (convenience)

from .api import grad, jacobian, record_call, sweep, value_and_grad, vjp
from .checkpoint import ScanStats, checkpoint, optimal_recomputations, scan
from .recorder import record
from .replay import Recording
from .tape import Guard, Node, ReverseTrace, Tape, Tracer

__all__ = ["grad", "jacobian", "value_and_grad", "vjp", "record", "Recording", "Tape", "Node",
           "Guard", "Tracer", "ReverseTrace", "record_call", "sweep", "checkpoint", "scan",
           "ScanStats", "optimal_recomputations"]
