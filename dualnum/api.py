"""Forward mode: JAX-like entry points built on one primitive, :func:`push_forward`.

Cost model: one forward pass carries ``k`` directions; a full Jacobian with respect to
an input of size n needs ceil(n / chunk) passes, each costing about ``chunk`` times the
function. Nothing is stored behind the pass (no tape): memory is ``chunk`` times the
function's live values.

Shapes follow JAX: ``jacobian(f)(x)`` has shape ``f(x).shape + x.shape``.
"""
from __future__ import annotations

import functools
import threading

import numpy as np

from adcore import NonFloatInputError, Traced, calls, value_of
from adcore.linear import sz_of_seed

from .dual import Dual, ForwardTrace

_njit_lock = threading.Lock()
_njit_engine = None


def njit_dual():
    """:mod:`adjit.dual`, forward mode inside ``@njit`` code: imported on first use (it
    imports numba, which ``import dualnum`` does not). The first call also makes dualnum's
    derivative functions (and adjit.dual's) refuse clearly inside compiled code (they are
    Python functions: a nested derivative there is named, instead of failing as a numba
    typing error)."""
    global _njit_engine
    engine = _njit_engine
    if engine is not None:
        return engine
    with _njit_lock:
        if _njit_engine is None:
            from adjit import dual, scalar_rules
            for name in ("derivative", "grad", "jacobian", "jvp", "value_and_grad",
                         "push_forward"):
                for fn in {globals()[name], getattr(dual, name, None)} - {None}:
                    scalar_rules.forbid_inside_njit(
                        fn, f"dualnum.{name} inside an @njit function: nested derivatives "
                            "inside compiled code are not supported. Differentiate the outer "
                            "function as a whole, or compute the inner derivative outside the "
                            "compiled code.")
            _njit_engine = dual
        return _njit_engine


def push_forward(f, args, argnum, seed, also=()):
    """Run ``f(*args)`` once with ``args[argnum]`` carrying the directions ``seed``.

    ``seed`` has shape ``(k,) + args[argnum].shape``. Returns ``(out, out_tangent)`` with
    ``out_tangent`` of shape ``(k,) + out.shape`` (zeros if ``out`` does not depend on
    the input). ``also``: other differentiated arguments, traced in this pass with a
    structurally zero tangent -- so that, as in reverse mode (which records them all at
    once), none of them passes for a plain constant of the program (whose exact zeros are
    structural: ``adcore.registry.ConstZero``).
    """
    k = np.shape(seed)[0]
    with ForwardTrace(k) as trace:
        args = list(args)
        for a in also:
            if a != argnum:
                shape = (k,) + np.shape(value_of(args[a]))
                zero = np.broadcast_to(np.zeros((), np.result_type(value_of(args[a]))), shape)
                args[a] = Dual(trace, args[a], zero, np.broadcast_to(True, shape))
        args[argnum] = Dual(trace, args[argnum], seed, sz_of_seed(seed))
        out = calls.check_single_output(f(*args), "dualnum")
        if isinstance(out, Dual) and out._trace is trace:
            return out.primal, out.tangent
        return out, np.zeros((k,) + np.shape(value_of(out)),
                             dtype=np.result_type(value_of(out), np.float32))


def _prepare(args, argnums, where, promote_int=False):
    nums, single = calls.normalize_argnums(argnums, len(args), where)
    args = list(args)
    for a in nums:
        args[a] = calls.as_float_input(args[a], where, a, promote_int, complex_ok=True)
    return args, nums, single


def _jacobian_of(f, args, argnum, chunk, scalar_output_for=None, also=(), holomorphic=False,
                 where="dualnum.jacobian"):
    """(out, J) for one argument, J of shape out.shape + in.shape, by chunked passes.

    ``scalar_output_for``: the caller's name if the output must be a scalar (checked
    after the first pass, before spending the others). A complex input of a function that
    is not declared holomorphic takes two passes per direction, along 1 and along i: its
    column is df/dx - i df/dy (the convention of adcore.ops_complex; the output is real).
    """
    x = args[argnum]
    in_shape = np.shape(value_of(x))
    n = int(np.prod(in_shape, dtype=int))
    if n == 0:  # an empty input: evaluate once for the output shape
        out = f(*args)
        return out, np.zeros(np.shape(value_of(out)) + in_shape)
    dtype = np.result_type(value_of(x))
    scales = (1.0, 1j) if dtype.kind == "c" and not holomorphic else (1.0,)
    parts, out = [], None
    for scale in scales:
        blocks = []
        for start, stop in calls.chunks(n, chunk):
            seed = calls.basis_chunk(in_shape, start, stop, dtype)
            out, t = push_forward(f, args, argnum, seed * scale if scale != 1.0 else seed, also)
            if not blocks and not parts:  # the output is known after the first pass
                if scalar_output_for:
                    calls.check_scalar_output(out, scalar_output_for,
                                              "dualnum.jacobian or dualnum.jvp", holomorphic)
                # complex outputs: of real inputs, a complex column d f / dx; of complex
                # inputs only for a holomorphic f
                calls.check_output_kind(out, where, allow_complex=holomorphic or len(scales) == 1)
                calls.check_jacobian_size(np.shape(value_of(out)), in_shape,
                                          np.result_type(t), where)
            blocks.append(t)
        parts.append(calls.assemble_jacobian(blocks, np.shape(value_of(out)), in_shape,
                                             "columns"))
    if len(parts) == 2:  # d/dx - i d/dy
        return out, parts[0] - 1j * parts[1]
    return out, parts[0]


def jvp(f, primals, tangents):
    """Forward mode: ``(f(*primals), J v)`` where v = ``tangents`` (one per primal).

    Every primal is differentiated; ``tangents[i]`` has the shape of ``primals[i]``.
    The result tangent has the shape of the output. One forward pass.
    A ``numba.njit`` function runs compiled on dual numbers (:mod:`adjit.dual`).
    """
    if calls.is_njit(f):
        return njit_dual().jvp(f, primals, tangents)
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError("jvp: primals and tangents must have the same length")
    args = [calls.as_float_input(p, "dualnum.jvp", i, complex_ok=True) for i, p in enumerate(primals)]
    with ForwardTrace(1) as trace:
        duals = []
        for i, (p, t) in enumerate(zip(args, tangents)):
            # a traced tangent (d/dv (J v) in an outer call) passes through unchanged
            t = calls.as_float_direction(t, f"dualnum.jvp (tangent {i})", p)
            if np.shape(t) != np.shape(value_of(p)):
                raise ValueError(f"jvp: tangent {i} has shape {np.shape(t)}, primal has "
                                 f"{np.shape(value_of(p))}")
            seed = np.expand_dims(t, 0)
            duals.append(Dual(trace, p, seed, sz_of_seed(seed)))
        out = calls.check_single_output(f(*duals), "dualnum.jvp")
        if isinstance(out, Dual) and out._trace is trace:
            return out.primal, out.tangent[0]
        return out, np.zeros(np.shape(value_of(out)), dtype=np.result_type(value_of(out), np.float32))


def derivative(f, holomorphic=False):
    """Forward mode: ``f'(x)`` for a scalar ``x`` (one pass); shape ``f(x).shape``.

    An integer scalar is promoted to float (``derivative(f)(2)`` means ``f'(2.0)``).
    A complex ``x`` needs ``holomorphic=True`` (then f'(z); for a function that is not
    holomorphic, f'(z) does not exist: use grad of a real-valued function).
    A ``numba.njit`` function runs compiled on dual numbers, extra arguments passed through:
    ``derivative(njit_f)(0.3, 100000)`` (see :mod:`adjit.dual`).
    """
    if calls.is_njit(f):
        return njit_dual().derivative(f)
    @functools.wraps(f)
    def df(x, *rest):
        args, _, _ = _prepare((x,) + rest, 0, "dualnum.derivative", promote_int=True)
        calls.check_holomorphic_inputs(args, (0,), "dualnum.derivative", holomorphic)
        if np.result_type(value_of(args[0])).kind == "c" and not holomorphic:
            raise NonFloatInputError(
                "dualnum.derivative: x is complex; pass holomorphic=True for f'(z) of a "
                "holomorphic f, or use dualnum.grad of a real-valued function")
        if np.shape(value_of(args[0])) != ():
            raise ValueError("dualnum.derivative takes a scalar x; use jacobian or jvp for arrays")
        seed = np.ones((1,), dtype=np.result_type(value_of(args[0])))
        _, t = push_forward(f, args, 0, seed)
        return t[0]
    return df


def jacobian(f, argnums=0, chunk=None, holomorphic=False):
    """Forward mode: the Jacobian, shape ``f(*args).shape + args[argnum].shape``.

    Takes ceil(n / chunk) forward passes for an input of size n; ``chunk`` (directions per
    pass) defaults to :func:`adcore.calls.default_chunk`. A tuple ``argnums`` returns a
    tuple of Jacobians. A ``numba.njit`` function runs compiled (:mod:`adjit.dual`).
    Complex inputs: ``holomorphic=True`` gives the complex derivative f'(z) (complex output
    allowed); otherwise the output must be real and each column is df/dx - i df/dy (two
    passes per direction; see adcore.ops_complex). Real inputs may give complex outputs.
    """
    if calls.is_njit(f):
        return njit_dual().jacobian(f, argnums, chunk)

    @functools.wraps(f)
    def jac(*args):
        args, nums, single = _prepare(args, argnums, "dualnum.jacobian")
        calls.check_holomorphic_inputs(args, nums, "dualnum.jacobian", holomorphic)
        results = tuple(_jacobian_of(f, args, a, chunk, also=nums, holomorphic=holomorphic)[1]
                        for a in nums)
        return results[0] if single else results
    return jac


def value_and_grad(f, argnums=0, chunk=None, holomorphic=False):
    """Forward mode: ``(f(*args), gradient)`` of a scalar-valued ``f``.

    The gradient has the shape of ``args[argnum]`` and costs ceil(n / chunk) passes —
    for many inputs, reverse mode (``tapes.grad``) is the cheaper choice. A ``numba.njit``
    function runs compiled on dual numbers (:mod:`adjit.dual`). Complex inputs: the
    gradient of a real-valued f is df/dx - i df/dy; of a holomorphic f (``holomorphic=True``)
    it is f'(z) (see adcore.ops_complex).
    """
    if calls.is_njit(f):
        return njit_dual().value_and_grad(f, argnums, chunk)

    @functools.wraps(f)
    def vg(*args):
        args, nums, single = _prepare(args, argnums, "dualnum.grad")
        calls.check_holomorphic_inputs(args, nums, "dualnum.grad", holomorphic)
        grads, out = [], None
        for a in nums:
            out, g = _jacobian_of(f, args, a, chunk, scalar_output_for="dualnum.grad",
                                  also=nums, holomorphic=holomorphic, where="dualnum.grad")
            # a gradient has its input's dtype (float32 in, float32 out), as in reverse mode;
            # an output of one element in a (1,)-like shape: the gradient of that element
            g = np.reshape(g, np.shape(value_of(args[a]))) if np.ndim(g) != np.ndim(
                value_of(args[a])) else g
            grads.append(calls.as_dtype_of(g, args[a]))
        return out, (grads[0] if single else tuple(grads))
    return vg


def grad(f, argnums=0, chunk=None, holomorphic=False):
    """Forward mode: the gradient of a scalar-valued ``f`` (see :func:`value_and_grad`)."""
    vg = value_and_grad(f, argnums, chunk, holomorphic)

    @functools.wraps(getattr(f, "py_func", f))
    def g(*args):
        return vg(*args)[1]
    return g
