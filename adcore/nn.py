"""Functions NumPy lacks, as registered ops: work on plain arrays and traced values alike.

``sigmoid``, ``relu``, ``softplus`` are elementwise ops of the registry (their rules are
in :mod:`adcore.ops_elementwise`); ``logsumexp`` is a reduction.
"""
from .ops_structural import logsumexp
from .registry import get_op
from .tracing import apply

_SIGMOID, _RELU, _SOFTPLUS = get_op("sigmoid"), get_op("relu"), get_op("softplus")


def sigmoid(x):
    """1 / (1 + exp(-x)) elementwise, without overflow."""
    return apply(_SIGMOID, x)


def relu(x):
    """max(x, 0) elementwise; derivative 0 at x = 0."""
    return apply(_RELU, x)


def softplus(x):
    """log(1 + exp(x)) elementwise, without overflow."""
    return apply(_SOFTPLUS, x)


__all__ = ["sigmoid", "relu", "softplus", "logsumexp"]
