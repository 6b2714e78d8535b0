"""Primals of the ops NumPy does not have (sigmoid, relu, softplus, clip).

Written with registered NumPy functions only, so that at a lower trace level (nested
derivatives) they are differentiated by the same conventions as at the top level:
``np.where`` selects a branch rather than splitting ties.
"""
import numpy as np


def sigmoid(x):
    """1 / (1 + exp(-x)), computed as exp(-log(1 + exp(-x))): no overflow for any x."""
    return np.exp(-np.logaddexp(0.0, np.negative(x)))


def relu(x):
    """max(x, 0), with the branch chosen by x > 0 (derivative 0 at x = 0)."""
    return np.where(x > 0, x, 0.0)


def softplus(x):
    """log(1 + exp(x)), without overflow."""
    return np.logaddexp(0.0, x)


def clip(x, lo, hi):
    """x limited to [lo, hi]; x itself on the closed interval (so d/dx = 1 at the bounds)."""
    return np.where(x < lo, lo, np.where(x > hi, hi, x))
