"""Gradient checks in both modes — the lecture's "gradient check", made systematic.

The engines are passed in (``jvp`` with ``dualnum.jvp``'s signature, ``vjp`` with
``tapes.vjp``'s), so this module depends on neither; the generated tests and users who
register their own ops call the same functions:

    >>> from adcore.checking import check_grads
    >>> check_grads(f, (x,), jvp=dualnum.jvp, vjp=tapes.vjp)

Checks, each on one random direction (JAX's ``check_grads`` idea):

* forward:  J v from ``jvp`` against central differences (f(x + h v) - f(x - h v)) / 2h;
* reverse:  <J^T w, v> from ``vjp`` against <w, central difference>;
* dot-product test between the modes: <w, J v> = <J^T w, v> to rounding error.
"""
from __future__ import annotations

import numpy as np

FD_STEP = 1e-6


def _vdot(a, b) -> float:
    return float(np.sum(np.asarray(a, dtype=float) * np.asarray(b, dtype=float)))


def central_difference(f, args, direction, h=FD_STEP):
    """(f(x + h v) - f(x - h v)) / 2h along the tuple of directions ``direction``."""
    plus = f(*[a + h * v for a, v in zip(args, direction)])
    minus = f(*[a - h * v for a, v in zip(args, direction)])
    return (np.asarray(plus, dtype=float) - np.asarray(minus, dtype=float)) / (2 * h)


def numerical_jacobian(f, args, argnum=0, h=FD_STEP):
    """Jacobian ``out.shape + x.shape`` by central differences, one coordinate at a time."""
    x = np.asarray(args[argnum], dtype=float)
    out_shape = np.shape(f(*args))
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = 1.0
        d = [np.zeros_like(np.asarray(a, dtype=float)) for a in args]
        d[argnum] = e.reshape(x.shape)
        cols.append(np.reshape(central_difference(f, args, d, h), -1))
    jt = np.array(cols).reshape((x.size,) + (int(np.prod(out_shape, dtype=int)),))
    return jt.T.reshape(out_shape + x.shape)


def _close(actual, expected, rtol, atol, what):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    scale = atol + rtol * np.maximum(np.abs(expected), np.abs(actual))
    bad = ~(np.abs(actual - expected) <= scale)
    if np.any(bad):
        raise AssertionError(
            f"{what}: mismatch\n  got      {actual.ravel()[:8]}\n  expected {expected.ravel()[:8]}\n"
            f"  max abs error {np.max(np.abs(actual - expected))}")


def check_grads(f, args, *, jvp, vjp, rng=None, rtol=1e-5, atol=1e-6, h=FD_STEP):
    """Check forward and reverse derivatives of ``f`` at ``args`` (all differentiated).

    Raises AssertionError naming the check that failed: ``forward (JVP) vs finite
    differences``, ``reverse (VJP) vs finite differences`` or ``dot-product test``.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    args = tuple(np.asarray(a, dtype=float) for a in args)
    v = tuple(rng.standard_normal(np.shape(a)) for a in args)
    fd = central_difference(f, args, v, h)
    out, jv = jvp(f, args, v)
    _close(jv, fd, rtol, atol, "forward (JVP) vs finite differences")
    w = rng.standard_normal(np.shape(out))
    out_r, vjp_fn = vjp(f, *args)
    jtw = vjp_fn(w)
    _close(np.asarray(out_r, dtype=float), np.asarray(out, dtype=float), 1e-12, 1e-12,
           "primal value: forward vs reverse")
    reverse_side = sum(_vdot(g, vi) for g, vi in zip(jtw, v))
    _close(reverse_side, _vdot(w, fd), rtol, atol * max(1.0, float(np.sum(np.abs(w)))),
           "reverse (VJP) vs finite differences")
    _close(_vdot(w, jv), reverse_side, 1e-10, 1e-12, "dot-product test <w, J v> = <J^T w, v>")
    return True


def check_jacobians(f, args, *, jacobian_fwd, jacobian_rev, rtol=1e-5, atol=1e-6, h=FD_STEP):
    """Full Jacobians per argument: forward = reverse (to rounding) and both = finite differences."""
    args = tuple(np.asarray(a, dtype=float) for a in args)
    for i in range(len(args)):
        jf = jacobian_fwd(f, argnums=i)(*args)
        jr = jacobian_rev(f, argnums=i)(*args)
        expected_shape = np.shape(f(*args)) + np.shape(args[i])
        if np.shape(jf) != expected_shape or np.shape(jr) != expected_shape:
            raise AssertionError(f"Jacobian shapes {np.shape(jf)} (forward), {np.shape(jr)} "
                                 f"(reverse); expected out.shape + in.shape = {expected_shape}")
        _close(jf, jr, 1e-10, 1e-12, f"Jacobian wrt argument {i}: forward vs reverse")
        _close(jf, numerical_jacobian(f, args, i, h), rtol, atol,
               f"Jacobian wrt argument {i}: forward vs finite differences")
    return True
