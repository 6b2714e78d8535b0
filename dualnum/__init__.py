"""dualnum — forward-mode automatic differentiation with dual numbers.

A :class:`Dual` carries a value and k tangent directions (shape ``(k,) + value.shape``)
through plain NumPy code; each op's tangent rule comes from the ``adcore`` registry.
Cost: a Jacobian with n inputs takes ceil(n / chunk) passes; no tape is kept, but every
live value carries chunk tangents (memory about chunk + 1 times the function's).

    >>> import numpy as np, dualnum
    >>> dualnum.grad(lambda x: np.sum(np.sin(x) * x))(np.array([0.0, 1.0]))
"""
# the compiled tier: importing it installs its large-array kernels into adcore.rules
# (numba itself is imported only when compiled code is first needed)
import adjit  # noqa: F401
from adcore import logsumexp, relu, sigmoid, softplus  # noqa: F401  (convenience)

from .api import derivative, grad, jacobian, jvp, push_forward, value_and_grad
from .dual import Dual, ForwardTrace

__all__ = ["derivative", "grad", "jacobian", "jvp", "value_and_grad", "push_forward",
           "Dual", "ForwardTrace"]
