"""Functions NumPy lacks, as registered ops: work on plain arrays and traced values alike.

``sigmoid``, ``relu``, ``softplus`` are elementwise ops of the registry (their rules are
in :mod:`adcore.ops_elementwise`); ``logsumexp`` is a reduction.
"""
from .ops_structural import logsumexp
from .registry import get_op
from .tracing import apply

_SIGMOID, _RELU, _SOFTPLUS = get_op("sigmoid"), get_op("relu"), get_op("softplus")
_KINK = get_op("kink")


def sigmoid(x):
    """1 / (1 + exp(-x)) elementwise, without overflow."""
    return apply(_SIGMOID, x)


def relu(x):
    """max(x, 0) elementwise; derivative 0 at x = 0."""
    return apply(_RELU, x)


def softplus(x):
    """log(1 + exp(x)) elementwise, without overflow."""
    return apply(_SOFTPLUS, x)


def kink(p, x, m):
    """``p``; its derivative is NaN where ``m == 1`` (p is a convention at a kink of an op of
    ``x``, e.g. abs'(0) = 0). Rules use it so that a second derivative through a
    convention is NaN, not a wrong finite number (see :mod:`adcore.rules`)."""
    return apply(_KINK, p, x, m)


__all__ = ["sigmoid", "relu", "softplus", "logsumexp"]
