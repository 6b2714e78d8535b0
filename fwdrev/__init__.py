"""fwdrev: the front door above both engines -- the one package that imports forward mode
(``dualnum``) and reverse mode (``tapes``) together.

* :func:`grad`, :func:`value_and_grad`, :func:`jacfwd`, :func:`jacrev`, :func:`jvp`,
  :func:`vjp`: thin names over the engines, with pytrees in and out (JAX's conventions).
* :func:`jacobian` with ``mode="auto"`` and :func:`choose_mode`: the mode (and chunk) that
  is cheaper at this input, measured (:mod:`fwdrev.modes`).
* :func:`hvp` and :func:`hessian`: second order by forward-over-reverse.
* :func:`sparse_jacobian`, :func:`sparse_hessian` (with :func:`jacobian_sparsity`,
  :func:`hessian_sparsity`): one pass per colour of a colouring, into ``scipy.sparse``.
* :func:`trace`: the lecture's evaluation trace of a function at a point -- every node's
  primal, tangent (forward sweep) and adjoint (reverse sweep), as tables
  (``Trace.table()``) and as a computational graph (``Trace.to_dot()``, ``Trace.render()``).
"""
from . import pytrees
from .derivatives import grad, hessian, hvp, jacfwd, jacrev, jvp, value_and_grad, vjp
from .modes import ModeChoice, choose_mode, jacobian
from .sparsity import hessian_sparsity, jacobian_sparsity, sparse_hessian, sparse_jacobian
from .trace import MAX_NODES, Step, Trace, TraceTooLargeError, trace

__all__ = ["grad", "value_and_grad", "jacfwd", "jacrev", "jacobian", "jvp", "vjp", "hvp",
           "hessian", "choose_mode", "ModeChoice", "pytrees", "jacobian_sparsity",
           "hessian_sparsity", "sparse_jacobian", "sparse_hessian",
           "trace", "Trace", "Step", "TraceTooLargeError", "MAX_NODES"]
