"""Helpers shared by the ADBench problems (``gmm``, ``ba``, ``lstm``).

Their size knobs are named integer parameters (``--param d=2,10 --param K=5``); the
harness stores parameters as floats, so each problem reads them back through
:func:`int_param`, which refuses non-integers and values below a minimum with a
``UsageError`` naming the problem and the knob.
"""

from __future__ import annotations

from bench.errors import UsageError


def int_param(size, problem: str, key: str, minimum: int = 1) -> int:
    """The integer value of parameter ``key`` of ``size``; ``UsageError`` if invalid."""
    value = size.params[key]
    if value != int(value) or value < minimum:
        raise UsageError(f"problem {problem!r}: --param {key}= must be an integer >= "
                         f"{minimum}, got {value:g}")
    return int(value)


def logsumexp(v, xp, axis):
    """``max(v) + log(sum(exp(v - max(v))))`` along ``axis`` -- ADBench's LSE.

    Written with ``max``, ``exp``, ``log`` and ``sum`` only, so every array namespace
    (NumPy under our engines, jax.numpy, the torch shim, autograd.numpy) runs it.
    The shift's derivative cancels exactly in exact arithmetic (1 - sum(softmax) = 0).
    """
    top = xp.max(v, axis=axis, keepdims=True)
    return xp.log(xp.sum(xp.exp(v - top), axis=axis)) + xp.squeeze(top, axis=axis)


def cross(a, b, xp):
    """Cross product along the last axis (length 3), built with ``stack``."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return xp.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
