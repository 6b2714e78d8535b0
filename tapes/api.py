"""Reverse mode: JAX-like entry points built on one recording and reversed sweeps.

Cost model: one recording (about the cost of the function, plus the tape it keeps:
every intermediate value), then one backward sweep per output component — or per
chunk of components, swept together. A gradient (one output) is one sweep whatever the
number of inputs; a Jacobian with m outputs takes ceil(m / chunk) sweeps.

Shapes follow JAX: ``jacobian(f)(x)`` has shape ``f(x).shape + x.shape``.
"""
from __future__ import annotations

import functools
import threading

import numpy as np

from adcore import calls, value_of
from adcore.linear import sz_of_seed

from .tape import ReverseTrace, Tracer

_njit_lock = threading.Lock()
_njit_engine = None


def njit_tape():
    """:mod:`adjit.tape`, reverse mode inside ``@njit`` code: imported on first use (it
    imports numba, which ``import tapes`` does not). The first call also makes tapes'
    derivative functions refuse clearly inside compiled code (they are Python functions: a
    nested derivative there is named, instead of failing as a numba typing error)."""
    global _njit_engine
    engine = _njit_engine
    if engine is not None:
        return engine
    with _njit_lock:
        if _njit_engine is None:
            from adjit import scalar_rules, tape
            for name in ("grad", "jacobian", "value_and_grad", "vjp"):
                scalar_rules.forbid_inside_njit(
                    globals()[name], f"tapes.{name} inside an @njit function: nested "
                    "derivatives inside compiled code are not supported. Differentiate the "
                    "outer function as a whole, or compute the inner derivative outside the "
                    "compiled code.")
            _njit_engine = tape
        return _njit_engine


def record_call(f, args, argnums, keep_values=True):
    """Run ``f(*args)`` once, recording every op that depends on ``args[argnums]``.

    Returns ``(tape, out, out_index)``: the tape (inputs in the order of ``argnums``), the
    plain output and the index of the node that produced it (None if the output does not
    depend on the inputs). ``keep_values=False``: the tape keeps only the values its
    reverse rules read (enough for sweeps, not for replay; :class:`tapes.tape.Tape`).
    """
    trace = ReverseTrace(keep_values)
    with trace:
        args = list(args)
        for a in argnums:
            args[a] = trace.new_input(args[a])
        out = calls.check_single_output(f(*args), "tapes")
    if isinstance(out, Tracer) and out._trace is trace:
        return trace.tape, out.primal, out.index
    return trace.tape, out, None


def sweep(tape, out, out_index, cotangent, release=False):
    """Input cotangents ``[(k,) + input.shape]`` for a batch of output cotangents.
    ``release``: the tape's last sweep (see :meth:`tapes.tape.Tape.backward`)."""
    k = np.shape(cotangent)[0]
    if out_index is None:  # the output is a constant: every derivative is zero
        return [np.zeros((k,) + np.shape(value_of(tape.out_of[i])),
                         dtype=np.result_type(value_of(tape.out_of[i]), np.float32))
                for i in tape.inputs]
    return tape.backward(out_index, cotangent, sz=sz_of_seed(cotangent), release=release)


def _prepare(args, argnums, where):
    nums, single = calls.normalize_argnums(argnums, len(args), where)
    args = list(args)
    for a in nums:
        args[a] = calls.as_float_input(args[a], where, a, complex_ok=True)
    return args, nums, single


def vjp(f, *primals):
    """Reverse mode: ``(f(*primals), vjp_fn)`` with ``vjp_fn(w) = w^T J`` for every primal.

    ``w`` has the shape of the output; ``vjp_fn`` returns a tuple with one cotangent per
    primal (each of that primal's shape). The function is recorded once; each call of
    ``vjp_fn`` is one backward sweep and never accumulates into an earlier result.
    A ``numba.njit`` function is recorded in compiled code (:mod:`adjit.tape`).
    """
    if calls.is_njit(f):
        return njit_tape().vjp(f, *primals)
    args, nums, _ = _prepare(primals, tuple(range(len(primals))), "tapes.vjp")
    tape, out, out_index = record_call(f, args, nums, keep_values=False)
    out_shape = np.shape(value_of(out))

    def vjp_fn(cotangent):
        w = calls.as_float_direction(cotangent, "tapes.vjp", out)
        if np.shape(w) != out_shape:
            raise ValueError(f"vjp_fn: cotangent has shape {np.shape(w)}, output has {out_shape}")
        return tuple(c[0] for c in sweep(tape, out, out_index, np.expand_dims(w, 0)))

    return out, vjp_fn


def value_and_grad(f, argnums=0, holomorphic=False):
    """Reverse mode: ``(f(*args), gradient)`` of a scalar-valued ``f``: one recording and
    one backward sweep, whatever the number of inputs. Non-scalar outputs raise an error
    that points to :func:`jacobian` and :func:`vjp`. A ``numba.njit`` function is recorded
    and swept in compiled code (:mod:`adjit.tape`). Complex inputs: the gradient of a
    real-valued f is df/dx - i df/dy; of a holomorphic f (``holomorphic=True``, complex
    output allowed) it is f'(z) (see adcore.ops_complex)."""
    if calls.is_njit(f):
        return njit_tape().value_and_grad(f, argnums)

    @functools.wraps(f)
    def vg(*args):
        args, nums, single = _prepare(args, argnums, "tapes.grad")
        calls.check_holomorphic_inputs(args, nums, "tapes.grad", holomorphic)
        tape, out, out_index = record_call(f, args, nums, keep_values=False)
        calls.check_scalar_output(out, "tapes.grad", "tapes.jacobian or tapes.vjp", holomorphic)
        seed = np.ones((1,) + np.shape(value_of(out)), dtype=np.result_type(value_of(out), np.float32))
        grads = tuple(calls.as_dtype_of(g[0], args[a])
                      for g, a in zip(sweep(tape, out, out_index, seed, release=True), nums))
        return out, (grads[0] if single else grads)
    return vg


def grad(f, argnums=0, holomorphic=False):
    """Reverse mode: the gradient of a scalar-valued ``f`` (see :func:`value_and_grad`)."""
    vg = value_and_grad(f, argnums, holomorphic)

    @functools.wraps(getattr(f, "py_func", f))
    def g(*args):
        return vg(*args)[1]
    return g


def jacobian(f, argnums=0, chunk=None, holomorphic=False):
    """Reverse mode: the Jacobian, shape ``f(*args).shape + args[argnum].shape``.

    Records ``f`` ONCE, then sweeps backwards once per chunk of output components
    (``chunk`` components per sweep; default :func:`adcore.calls.default_chunk`).
    A tuple ``argnums`` returns a tuple of Jacobians. A ``numba.njit`` function is recorded
    and swept in compiled code (:mod:`adjit.tape`). Complex inputs: as
    :func:`value_and_grad`, row by row (``holomorphic=True``: f'(z), complex output allowed).
    """
    if calls.is_njit(f):
        return njit_tape().jacobian(f, argnums, chunk)

    @functools.wraps(f)
    def jac(*args):
        args, nums, single = _prepare(args, argnums, "tapes.jacobian")
        calls.check_holomorphic_inputs(args, nums, "tapes.jacobian", holomorphic)
        tape, out, out_index = record_call(f, args, nums, keep_values=False)
        real_in = all(np.result_type(value_of(args[a])).kind != "c" for a in nums)
        calls.check_output_kind(out, "tapes.jacobian", allow_complex=holomorphic or real_in)
        return jacobian_from_tape(tape, out, out_index, [np.shape(value_of(args[a])) for a in nums],
                                  chunk, single, complex_rows=not holomorphic)
    return jac


def jacobian_from_tape(tape, out, out_index, in_shapes, chunk=None, single=True,
                       complex_rows=True):
    """Jacobian(s) from a recorded tape by sweeps over chunks of output components.

    A complex output of real inputs (``complex_rows``): a sweep from the seed e gives the
    rows of Re J and one from -i e those of Im J (the pairing Re(w t)), so J = both."""
    if complex_rows and np.result_type(value_of(out)).kind == "c":
        re = _jacobian_sweeps(tape, out, out_index, in_shapes, chunk, 1.0)
        im = _jacobian_sweeps(tape, out, out_index, in_shapes, chunk, -1j)
        jacs = tuple(r + 1j * i for r, i in zip(re, im))
        return jacs[0] if single else jacs
    jacs = _jacobian_sweeps(tape, out, out_index, in_shapes, chunk, 1.0)
    return jacs[0] if single else jacs


def _jacobian_sweeps(tape, out, out_index, in_shapes, chunk, scale):
    out_shape = np.shape(value_of(out))
    m = int(np.prod(out_shape, dtype=int))
    for s in in_shapes:  # refuse up front, with the estimate, what cannot fit in memory
        calls.check_jacobian_size(out_shape, s, np.result_type(value_of(out), np.float32),
                                  "tapes.jacobian")
    blocks = [[] for _ in in_shapes]
    for start, stop in calls.chunks(m, chunk) if m else []:
        seed = calls.basis_chunk(out_shape, start, stop,
                                 np.result_type(value_of(out), np.float32))
        seed = seed if scale == 1.0 else seed * scale
        for per_input, g in zip(blocks, sweep(tape, out, out_index, seed)):
            per_input.append(g)
    # a Jacobian has the wider of the output's and the input's float dtypes, as in forward mode
    dtype = np.result_type(value_of(out), np.float32)
    jacs = tuple(calls.assemble_jacobian(b, out_shape, s, "rows") if b
                 else np.zeros(out_shape + s, dtype=dtype)
                 for b, s in zip(blocks, in_shapes))
    return tuple(j.astype(np.result_type(j, dtype)) if isinstance(j, np.ndarray) else j
                 for j in jacs)
