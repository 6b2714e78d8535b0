"""adcore — the one op registry that fwdrev's two engines read.

* :func:`defop` registers an op once (primal + partials, or primal + jvp + vjp); forward
  mode (``dualnum``), reverse mode (``tapes``) and the generated tests all pick it up.
* :class:`Traced`, :class:`Trace` and :func:`apply` are the shared dispatch: plain NumPy
  code on a traced value reaches the registry through ``__array_ufunc__`` and
  ``__array_function__``.
* :func:`sigmoid`, :func:`relu`, :func:`softplus`, :func:`logsumexp`, :func:`index_add`:
  functions NumPy lacks, usable in code that any engine differentiates.
"""
from . import errors
from .errors import (ADError, ConcretizationError, GuardError, MutationError, NonFloatInputError,
                     NonScalarOutputError, RegistrationError, TracerLeakError,
                     UnsupportedOpError)
from .registry import (ELEMENTWISE, POSITIVE, REAL, STRUCTURAL, UNIT, Domain, Example, Op,
                       defcomposite, defop, get_op, numpy_entry_points, register_numpy_alias,
                       registered_composites, registered_ops, unregister)
from .tracing import Trace, Traced, apply, value_of
from . import rules, calls
from . import ops_elementwise, ops_structural, nondiff, composites  # noqa: F401  (registration)
from . import ops_contract, ops_stats, elementwise_composites, ops_complex, ops_numerical, ops_fft, ops_linalg, ops_shape  # noqa: F401  (registration)
from .ops_structural import index_add
from .nn import logsumexp, relu, sigmoid, softplus
from .linear import masked_mul, unbroadcast, pad_batch

__all__ = [
    "defop", "defcomposite", "registered_composites", "get_op", "registered_ops", "unregister", "register_numpy_alias", "numpy_entry_points",
    "Op", "Domain", "Example", "REAL", "POSITIVE", "UNIT", "ELEMENTWISE", "STRUCTURAL",
    "Trace", "Traced", "apply", "value_of",
    "sigmoid", "relu", "softplus", "logsumexp", "index_add",
    "ADError", "ConcretizationError", "GuardError", "MutationError", "NonFloatInputError",
    "NonScalarOutputError", "RegistrationError", "TracerLeakError", "UnsupportedOpError",
    "masked_mul", "unbroadcast", "pad_batch",
]
