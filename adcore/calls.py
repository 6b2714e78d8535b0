"""What both engines' user-facing functions share: argument checks, argnums, chunking.

Kept here (not in either engine) so that ``dualnum`` and ``tapes`` never import each
other and behave the same way on the same mistakes.
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

from .errors import NonFloatInputError, NonScalarOutputError
from .tracing import Traced, lift, value_of

MAX_DEFAULT_CHUNK = 64


def is_njit(f) -> bool:
    """True for a ``numba.njit``-compiled function (a numba CPUDispatcher): both engines
    then run their compiled paths (``adjit.dual``, ``adjit.tape``).
    Never imports numba itself: if numba is not loaded, ``f`` cannot be one."""
    numba = sys.modules.get("numba")
    if numba is None:
        return False
    try:
        return isinstance(f, numba.core.registry.CPUDispatcher)
    except AttributeError:  # pragma: no cover - a partially imported numba
        return False


def default_chunk(n: int) -> int:
    """Directions per pass when the caller gives none.

    At most ``MAX_DEFAULT_CHUNK`` (64) directions per pass, and balanced: n = 100 runs two
    passes of 50 rather than 64 + 36, so no pass is wasted on padding. Larger chunks
    mean fewer passes (less Python overhead) but ``chunk`` times more memory per value.
    """
    if n <= MAX_DEFAULT_CHUNK:
        return max(n, 1)
    passes = math.ceil(n / MAX_DEFAULT_CHUNK)
    return math.ceil(n / passes)


def chunks(n: int, chunk: int | None):
    """Index ranges [start, stop) covering 0..n in steps of ``chunk``."""
    size = default_chunk(n) if chunk is None else int(chunk)
    if size < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def normalize_argnums(argnums, nargs: int, where: str):
    single = np.ndim(argnums) == 0
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not isinstance(a, (int, np.integer)) or not -nargs <= a < nargs:
            raise ValueError(f"{where}: argnums={argnums!r} is out of range for {nargs} argument(s)")
    nums = tuple(int(a) % nargs for a in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"{where}: argnums={argnums!r} names an argument twice; each argument "
                         "is differentiated once (pass the value twice as two arguments if "
                         "you need two derivatives)")
    return nums, single


def _refuse_array_subclass(x, where: str, what: str):
    """Array subclasses whose meaning a plain float array would silently drop."""
    if isinstance(x, np.ma.MaskedArray):
        raise NonFloatInputError(
            f"{where}: {what} is a masked array (np.ma.MaskedArray); its mask would be lost "
            "(the derivative would be taken at the masked entries' hidden values too). Pass "
            "x.filled(value) or x.compressed(), or apply the mask inside the function with "
            "np.where.")
    if isinstance(x, np.matrix):
        raise NonFloatInputError(
            f"{where}: {what} is an np.matrix; its matrix semantics of * and ** would be "
            "lost. Pass np.asarray(x) and write @ for matrix products.")


def as_float_input(x, where: str, argnum: int, promote_int: bool = False,
                   complex_ok: bool = False):
    """Check that a differentiated argument is floating point or complex; return it as an
    array.

    Integer and boolean inputs are refused (their derivative would be silently wrong for
    step functions and rounding): pass floats. ``promote_int`` (used by
    ``derivative(f)(2)``) turns a Python or NumPy integer *scalar* into a float instead.
    Complex inputs pass where ``complex_ok`` (the Python engines; the convention:
    adcore.ops_complex) and are refused elsewhere (the numba tier). Masked arrays and
    ``np.matrix`` are refused (a mask or matrix semantics would be silently dropped).
    """
    if isinstance(x, Traced):  # a value of an outer derivative call: nested use
        dtype = np.result_type(value_of(x))
        if not (np.issubdtype(dtype, np.floating) or (complex_ok and dtype.kind == "c")):
            raise NonFloatInputError(f"{where}: argument {argnum} has dtype {dtype}")
        return x
    _refuse_array_subclass(x, where, f"argument {argnum}")
    arr = np.asarray(x)
    if arr.dtype == object:
        raise NonFloatInputError(
            f"{where}: argument {argnum} is not a numeric array (got {type(x).__name__}); "
            "pass a float or a float NumPy array")
    if np.issubdtype(arr.dtype, np.floating) or (complex_ok and arr.dtype.kind == "c"):
        return arr
    if arr.dtype.kind == "c":
        raise NonFloatInputError(
            f"{where}: argument {argnum} is complex ({arr.dtype}); complex inputs are "
            "differentiated by the Python engines (dualnum.grad, tapes.grad, ... on a plain "
            "Python function), not in compiled @njit code")
    if promote_int and arr.ndim == 0 and np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
        return arr.astype(float)
    kind = "boolean" if arr.dtype == bool else "integer"
    raise NonFloatInputError(
        f"{where}: argument {argnum} has {kind} dtype {arr.dtype}; derivatives are taken "
        f"with respect to floating-point inputs. Pass np.asarray(x, dtype=float) (or 2.0 "
        f"instead of 2), or leave this argument out of argnums."
    )


def float_dtype(like):
    """The dtype derivatives of ``like`` are returned in: ``like``'s own float or complex
    dtype (float32 stays float32), float64 for anything else (integers, Python floats)."""
    dt = np.result_type(value_of(like)) if not isinstance(like, np.dtype) else like
    return dt if np.issubdtype(dt, np.inexact) else np.dtype(np.float64)


def as_dtype_of(g, x):
    """A gradient in its input's dtype (float32 in, float32 out; complex in, complex out),
    whatever precision the function computed in -- the same in both modes."""
    dtype = np.result_type(value_of(x))
    if isinstance(g, np.ndarray) and g.dtype != dtype:
        return g.astype(dtype)
    return g


def as_float_direction(t, where: str, like):
    """Validate a tangent (``jvp``) or cotangent (``vjp``) ``t`` for the primal ``like``.

    Real floating and integer values are returned as an array of ``like``'s float dtype
    (:func:`float_dtype`); a traced ``t`` (a direction that is itself differentiated by an
    outer call) is returned as it is if its values are real floats. Complex directions
    are refused (complex derivatives are not supported: casting would silently drop the
    imaginary part), and so are booleans, strings, objects, ``None`` and masked arrays.
    The shape is left to the caller to check.
    """
    like_complex = np.result_type(value_of(like)).kind == "c"
    if isinstance(t, Traced):
        dtype = np.result_type(value_of(t))
        if not (np.issubdtype(dtype, np.floating) or (like_complex and dtype.kind == "c")):
            raise NonFloatInputError(f"{where}: the traced direction has dtype {dtype}; it must "
                                     "be real floating point")
        return t
    if t is None or isinstance(t, (str, bytes)):
        raise NonFloatInputError(f"{where}: the direction is {_describe(t)}, not a real number "
                                 "or a real array")
    _refuse_array_subclass(t, where, "the direction")
    arr = np.asarray(t)
    kind = arr.dtype.kind
    if kind == "c" and not like_complex:
        raise NonFloatInputError(
            f"{where}: the direction has complex dtype {arr.dtype} but the value it goes with "
            "is real; the imaginary part would be dropped. Pass a real direction (or make the "
            "value complex).")
    if kind not in "fiuc":
        what = "boolean" if kind == "b" else f"non-numeric ({arr.dtype})"
        raise NonFloatInputError(
            f"{where}: the direction has {what} dtype; pass real floating-point values "
            f"(e.g. np.asarray(v, dtype=float)).")
    return arr.astype(float_dtype(like), copy=False)


def _describe(out) -> str:
    if out is None:
        return "None"
    if isinstance(out, (bool, np.bool_)):
        return f"a bool ({out!r})"
    if isinstance(out, (str, bytes)):
        return f"a {type(out).__name__} ({out!r:.40})"
    return f"a {type(out).__name__}"


def check_output_kind(out, where: str, allow_complex: bool = False):
    """Refuse an output that has no derivative to return: ``None``, a string, a bool (or a
    boolean array), an object array — raised as ``TypeError`` naming what was returned —
    and, unless ``allow_complex``, a complex output (:class:`~adcore.errors.NonFloatInputError`:
    a gradient or Jacobian of a complex output needs ``holomorphic=True``). Integer
    outputs are constants (their derivative is exactly zero) and pass."""
    if isinstance(out, (tuple, list, dict)):
        raise TypeError(f"{where}: the function must return one array or scalar, not a "
                        f"{type(out).__name__}")
    v = value_of(out)
    if v is None or isinstance(v, (str, bytes, bool, np.bool_)):
        raise TypeError(f"{where}: the function returned {_describe(v)}; a derivative needs a "
                        "real floating-point scalar or array as the output. Return the value "
                        "to differentiate (e.g. the float expression, not a comparison).")
    if isinstance(v, np.ma.MaskedArray):
        raise TypeError(f"{where}: the function returned a masked array; its mask would be "
                        "lost. Return out.filled(value) or apply the mask with np.where.")
    try:
        dtype = np.result_type(v)
    except TypeError:
        raise TypeError(f"{where}: the function returned {_describe(v)}, not a numeric "
                        "scalar or array") from None
    if dtype.kind == "c" and not allow_complex:
        raise NonFloatInputError(
            f"{where}: the function returned a complex value (dtype {dtype}). For a "
            "holomorphic function pass holomorphic=True (the result is f'(z)); otherwise "
            "differentiate a real-valued function of it (np.real, np.abs, ...) or use "
            "vjp/jvp, which take complex outputs.")
    if dtype.kind not in "fiuc":
        what = "boolean" if dtype.kind == "b" else f"non-numeric ({dtype})"
        raise TypeError(f"{where}: the function returned a {what} array of shape "
                        f"{np.shape(v)}; a derivative needs a real floating-point output.")


def check_scalar_output(out, where: str, suggestion: str, allow_complex: bool = False):
    check_output_kind(out, where, allow_complex)
    shape = np.shape(value_of(out))
    if math.prod(shape) != 1:  # one element, of any shape ((1,), (1, 1)): a scalar, as autograd
        raise NonScalarOutputError(
            f"{where}: the function returned an array of shape {shape}, but a gradient needs a "
            f"scalar output. Use {suggestion} for non-scalar outputs, or reduce it "
            "(e.g. np.sum) inside the function."
        )


def check_single_output(out, where: str):
    """One real-valued array or scalar (see :func:`check_output_kind`), returned; an object
    array of traced entries (``return np.array([x, 2 * x])``) as one traced array (call it
    while the trace is active)."""
    out = lift(out)
    check_output_kind(out, where, allow_complex=True)
    return out


def check_holomorphic_inputs(args, nums, where: str, holomorphic: bool):
    """``holomorphic=True`` needs complex inputs (JAX's rule: f'(z) of a real input is the
    ordinary derivative; ask for it without the flag)."""
    if holomorphic:
        for a in nums:
            if np.result_type(value_of(args[a])).kind != "c":
                raise NonFloatInputError(
                    f"{where}: holomorphic=True needs complex inputs; argument {a} has dtype "
                    f"{np.result_type(value_of(args[a]))} (pass it as complex, or drop the flag)")


def available_memory() -> int | None:
    """Bytes of memory the machine can still give (None where it cannot tell)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def _fmt_bytes(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if b < 1024 or unit == "TiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024
    return f"{b:.1f} TiB"  # pragma: no cover


def check_jacobian_size(out_shape, in_shape, dtype, where: str, per_pass: int = 0):
    """Refuse, before allocating anything, a Jacobian that cannot fit in memory.

    The result alone is ``prod(out_shape) * prod(in_shape)`` entries (``out_shape +
    in_shape``); assembling it from per-chunk blocks needs about twice that, plus
    ``per_pass`` bytes for one pass (tangents or cotangents). Raises ``MemoryError`` with
    the estimate and what to do instead.
    """
    entries = math.prod(out_shape) * math.prod(in_shape)
    need = 2 * entries * np.dtype(dtype).itemsize + per_pass
    free = available_memory()
    if free is not None and need > free:
        raise MemoryError(
            f"{where}: the Jacobian of shape {tuple(out_shape) + tuple(in_shape)} needs about "
            f"{_fmt_bytes(need)} ({entries:,} entries of {np.dtype(dtype).itemsize} bytes, "
            f"twice while its blocks are joined) and {_fmt_bytes(free)} is available. Ask "
            "for what you need instead: a gradient (grad), products with vectors (jvp, vjp), "
            "or the Jacobian of a slice of the output.")


def assemble_jacobian(blocks, out_shape, in_shape, by: str):
    """Jacobian ``out_shape + in_shape`` from per-chunk blocks.

    ``by='columns'`` (forward mode): each block is ``(k,) + out_shape`` (tangents of
    directions e_j). ``by='rows'`` (reverse mode): each block is ``(k,) + in_shape``
    (cotangents of output components). Built with registered NumPy functions only, so
    it also works when the blocks are traced (nested derivatives).
    """
    m, n = math.prod(out_shape), math.prod(in_shape)
    if by == "columns":
        flat = [np.reshape(b, (np.shape(b)[0], m)) for b in blocks]
        jt = flat[0] if len(flat) == 1 else np.concatenate(flat, axis=0)  # (n, m)
        return np.reshape(np.transpose(jt), tuple(out_shape) + tuple(in_shape))
    flat = [np.reshape(b, (np.shape(b)[0], n)) for b in blocks]
    j = flat[0] if len(flat) == 1 else np.concatenate(flat, axis=0)  # (m, n)
    return np.reshape(j, tuple(out_shape) + tuple(in_shape))


def basis_chunk(shape, start: int, stop: int, dtype=float):
    """Unit directions e_start..e_{stop-1} of a value of ``shape``: ``(stop-start,) + shape``."""
    n = math.prod(shape)
    k = stop - start
    seed = np.zeros((k, n), dtype=dtype)
    seed[np.arange(k), np.arange(start, stop)] = 1.0
    return seed.reshape((k,) + tuple(shape))
