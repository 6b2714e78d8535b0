"""Traced values, trace levels and NumPy dispatch, shared by both engines.

Every derivative call (a forward pass of ``dualnum`` or a recording of ``tapes``) opens a
:class:`Trace` with a fresh, increasing *level*. A traced value (:class:`Traced`) belongs
to one trace and wraps a ``primal`` that may itself be a traced value of a lower level —
that is how nested derivatives work. When an op meets values of several levels, the
highest level handles it and treats the others as constants; so a perturbation of an
outer call can never be mistaken for one of an inner call (no perturbation confusion).

Plain NumPy code reaches :func:`apply` through ``__array_ufunc__`` and
``__array_function__``; anything without a rule raises an error that names it. Arrays a
program builds from lists of traced values (``np.array([x, 2 * x])``, ``x + [a, b]``) are
object arrays of traced entries, lifted back to one traced array where they meet a traced
op or are returned (:func:`lift`; the section "Arrays built from lists" below).
"""
from __future__ import annotations

import itertools
import operator
import sys
import threading

import numpy as np

from . import registry
from .errors import (ADError, ConcretizationError, MutationError, TracerLeakError,
                     UnsupportedOpError)

_next_level = itertools.count(1)
_level_lock = threading.Lock()


class Trace:
    """One derivative call. Engines subclass it and implement :meth:`process`."""

    mode = "trace"

    def __init__(self):
        with _level_lock:
            self.level = next(_next_level)
        self.active = True

    def process(self, op, inputs, params):  # pragma: no cover - abstract
        raise NotImplementedError

    def note_nondiff(self, name, func, args, kwargs, result):
        """Hook: a non-differentiable function (comparison, argmax, bool) read a traced value
        of this trace: ``result = func(*args, **kwargs)`` on plain values.

        The tape records these as guards for replay; forward mode ignores them.
        """

    def __enter__(self):
        # One np.errstate for the whole derivative call, not one per op (it costs about a
        # microsecond, as much as a small op): partials are inf or NaN at singular points
        # by design, and inf/NaN in the results say so. NumPy's floating-point warnings
        # are therefore not raised inside a derivative call, in the primal either.
        self._quiet = np.errstate(all="ignore")
        self._quiet.__enter__()
        return self

    def __exit__(self, *exc):
        self.active = False
        self._quiet.__exit__(*exc)
        return False


def value_of(x):
    """The plain (untraced) value under any number of trace levels."""
    while isinstance(x, Traced):
        x = x.primal
    return x


def is_complex(v) -> bool:
    """True if the plain value under ``v`` has a complex dtype."""
    v = value_of(v)
    if type(v) is np.ndarray or type(v) is Placeholder:
        return v.dtype.kind == "c"
    return isinstance(v, (complex, np.complexfloating))


class Placeholder:
    """What a tape keeps of a value no reverse rule of it reads (:mod:`adcore.liveness`):
    its shape and dtype. Reading its values is a bug in that analysis, so it raises."""

    __slots__ = ("shape", "dtype")
    _cache: dict = {}

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype

    @classmethod
    def of(cls, v) -> "Placeholder":
        """The (shared) placeholder of ``v``'s shape and dtype."""
        if type(v) is np.ndarray:
            key = (v.shape, v.dtype)
        else:
            key = (np.shape(v), np.result_type(v))
        p = cls._cache.get(key)
        if p is None:
            p = cls._cache.setdefault(key, cls(*key))
        return p

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    def __array__(self, *args, **kwargs):
        raise AssertionError(
            "internal error: a reverse rule read a value its tape did not keep "
            "(adcore.liveness); please report it, with the function differentiated")

    def __repr__(self):
        return f"Placeholder(shape={self.shape}, dtype={self.dtype})"


def cast(a, dtype):
    """``a`` as ``dtype``: a registered cast (astype) for a traced value, np.asarray for a
    plain one."""
    return a.astype(dtype) if isinstance(a, Traced) else np.asarray(a, dtype=dtype)


def _strip(obj):
    """``value_of`` mapped through lists/tuples (arguments of non-differentiable functions)."""
    if isinstance(obj, Traced):
        return value_of(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_strip(o) for o in obj)
    return obj


def _traced_in(obj, found):
    if isinstance(obj, Traced):
        found.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _traced_in(o, found)
    return found


def top_trace(inputs):
    """The active trace of highest level among ``inputs`` (None if none is traced)."""
    top = None
    for x in inputs:
        if isinstance(x, Traced):
            trace = x._trace
            if not trace.active:
                raise TracerLeakError(
                    f"a traced value from a finished {trace.mode} derivative call was used "
                    "again. Traced values live only inside the function being differentiated: "
                    "return what you need from it instead of storing it (e.g. in a global or a "
                    "closure)."
                )
            if top is None or trace.level > top.level:
                top = trace
    return top


_FLOAT_SCALARS = (float, np.float64)
# +, -, * of two float64 scalars: Python's operators give NumPy's IEEE result bit for bit,
# without a ufunc call's half microsecond (a scalar program is mostly these)
_SCALAR_ARITH = {np.add: operator.add, np.subtract: operator.sub, np.multiply: operator.mul}


def run_primal(op, primals, params):
    """``op``'s primal on plain values (what the engines record); see :data:`_SCALAR_ARITH`."""
    if len(primals) == 2 and not params:
        a, b = primals
        if type(a) in _FLOAT_SCALARS and type(b) in _FLOAT_SCALARS:
            fast = _SCALAR_ARITH.get(op.primal)
            if fast is not None:
                r = fast(a, b)
                return r if type(r) is np.float64 else np.float64(r)
    return op.primal(*primals, **params)


def apply(op, *inputs, **params):
    """Apply a registered op: the primal on plain values, else the top trace's rule."""
    top = top_trace(inputs)
    if top is None:
        return op.primal(*inputs, **params)
    return top.process(op, inputs, params)


def call_nondiff(name, func, args, kwargs):
    """Run a function with no derivative (comparison, argmax, shape) on plain values.

    Each active trace whose values it read is told (tapes record a guard).
    """
    result = func(*_strip(args), **_strip(kwargs))
    told = set()
    for t in _traced_in((args, tuple(kwargs.values())), []):
        while isinstance(t, Traced):  # every level that this value passes through
            if id(t._trace) not in told:
                told.add(id(t._trace))
                t._trace.note_nondiff(name, func, args, kwargs, result)
            t = t.primal
    return result


_REDUCE_METHODS = {np.add: np.sum, np.multiply: np.prod, np.maximum: np.max, np.minimum: np.min}


def dispatch_ufunc(ufunc, method, inputs, kwargs):
    if method == "__call__" and not kwargs:  # the common case, first and lean
        entry = registry._UFUNCS.get(ufunc)
        if entry is not None and getattr(entry[1], "direct", None) == len(inputs):
            return apply(entry[0], *_lift_args(inputs, np.ufunc))
    name = f"np.{ufunc.__name__}"
    inputs = _lift_args(inputs, np.ufunc)
    if kwargs:
        kwargs = _lift_kwargs(kwargs)
    if kwargs.get("out") is not None:
        raise MutationError(
            f"{name}(..., out=...) would write into an array in place, which a derivative "
            "cannot follow. Use the returned value instead of out=."
        )
    kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    if method == "__call__":
        entry = registry.lookup_ufunc(ufunc)
        if entry is not None:
            if kwargs and entry[0] is not None:  # a composite takes NumPy's keywords itself
                raise UnsupportedOpError(name, f"keyword argument(s) {sorted(kwargs)} are not supported")
            return _bound_apply(name, entry, inputs, kwargs)
        if ufunc in registry.NONDIFF_UFUNCS:
            return call_nondiff(name, ufunc, inputs, kwargs)
        raise UnsupportedOpError(name)
    if method == "reduce" and ufunc in _REDUCE_METHODS:
        kwargs.setdefault("axis", 0)
        return dispatch_function(_REDUCE_METHODS[ufunc], inputs, kwargs)
    if method == "accumulate" and ufunc in (np.add, np.multiply):
        kwargs.setdefault("axis", 0)
        return dispatch_function(np.cumsum if ufunc is np.add else np.cumprod, inputs, kwargs)
    if method == "outer" and len(inputs) == 2 and not kwargs:
        # ufunc.outer(a, b) = ufunc(a with b.ndim unit axes appended, b)
        a, b = inputs
        a = np.reshape(a, np.shape(value_of(a)) + (1,) * np.ndim(value_of(b)))
        return dispatch_ufunc(ufunc, "__call__", (a, b), {})
    raise UnsupportedOpError(f"{name}.{method}")


def dispatch_function(func, args, kwargs):
    name = "np." + registry._entry_name(func)
    if func is not np.block:  # np.block's nested lists are its own structure
        args = _lift_args(args, func)
        kwargs = _lift_kwargs(kwargs)
    entry = registry.lookup_function(func)
    if entry is not None:
        return _bound_apply(name, entry, args, kwargs)
    if func in registry.NONDIFF_FUNCTIONS:
        return call_nondiff(name, func, args, kwargs)
    raise UnsupportedOpError(name)


def _bound_apply(name, entry, args, kwargs):
    op, bind = entry
    try:
        bound = bind(*args, **kwargs)
    except ADError:  # already names the function (MutationError, UnsupportedOpError, ...)
        raise
    except TypeError as e:
        raise UnsupportedOpError(name, str(e)) from None
    if isinstance(bound, registry.Done):
        return bound.value
    if len(bound) == 3:  # the binder picked another op (e.g. np.dot of a scalar -> multiply)
        op, inputs, params = bound
    else:
        inputs, params = bound
    return apply(op, *inputs, **params)


def _concretize(what):
    def method(self, *args, **kwargs):
        raise ConcretizationError(
            f"{what} of a traced value would drop its derivative (in {self._trace.mode} "
            "mode). Keep it an array: use np.sin/np.exp rather than math.sin/math.exp, "
            "np.asarray(x) without a dtype (or np.stack([...])) rather than a cast to a "
            "plain float array, and return the traced value from your function; read plain "
            "numbers from the result of the derivative call."
        )

    method.__name__ = f"__{what}__"
    return method


# ----------------------------------------------------------------------------------------
# Arrays built from lists. np.array([x, 2 * x]) cannot be intercepted: NumPy builds the
# array itself and asks each element for ``__array__``. A traced value answers with an
# *object* array of traced scalars (its elements), so NumPy assembles an object array of
# traced entries -- correct values, and any NumPy arithmetic on it works elementwise. When
# such an array meets a traced operation (dispatch below) or is returned from the function
# being differentiated, :func:`lift` turns it back into one traced array (a stack); a cast
# of it to a float dtype calls float() on a traced entry, a ConcretizationError. A traced
# array split into elements by np.asarray(x) is recognised and lifted back to x itself.
# ----------------------------------------------------------------------------------------
MAX_ELEMENTS = 100_000  # np.asarray of a larger traced array: an error, not 10^5 scalar ops


def _as_object_array(self, dtype=None, copy=None):
    if dtype is not None and np.dtype(dtype) != np.dtype(object):
        dtype = np.dtype(dtype)
        if dtype.kind in "biu":
            raise ConcretizationError(
                f"a cast of a traced value to {dtype} (np.{dtype.name}(x), np.asarray(x, "
                f"dtype={dtype.name}), x.astype(int)) would drop its derivative "
                f"({self._trace.mode} mode): an integer or boolean cast is a step function. "
                "Use np.floor / np.round / np.trunc (plain results, derivative 0, recorded "
                "as guards) if a step is meant, or keep the value a float.")
        return _concretize(f"np.asarray(..., dtype={dtype})")(self)
    if self.dtype.kind == "c":
        raise ConcretizationError(
            f"np.asarray()/np.array() of a complex traced value ({self._trace.mode} mode): "
            "NumPy's arithmetic on arrays of Python objects has no complex rules (.imag, "
            "np.abs, norms would be wrong), so it is refused. Drop the np.asarray call (a "
            "traced value already behaves as an array) and build arrays with np.stack.")
    shape = self.shape
    size = int(np.prod(shape, dtype=int))
    if size > MAX_ELEMENTS:
        raise ConcretizationError(
            f"np.asarray()/np.array() of a traced array of {size} elements would split it into "
            f"{size} traced scalars ({self._trace.mode} mode). A traced value already behaves "
            "as an array: drop the np.asarray call, or build arrays with np.stack / "
            "np.concatenate.")
    out = np.empty(shape, dtype=object)
    if shape == ():
        out[()] = self
        return out
    parts = self._trace.__dict__.setdefault("_element_of", {})
    for flat, idx in enumerate(np.ndindex(*shape)):
        element = self[idx]
        parts[id(element)] = (element, self, flat)  # kept alive with the trace: ids stay unique
        out[idx] = element
    return out


def _whole(block):
    """The traced array whose elements, in order, fill the object array ``block`` (as
    ``np.asarray(x)`` made them), or None."""
    flat = block.ravel()
    first = flat[0] if flat.size else None
    if not isinstance(first, Traced):
        return None
    if block.ndim == 0:
        return first
    parts = first._trace.__dict__.get("_element_of", {})
    origin = parts.get(id(first))
    if origin is None or origin[0] is not first:
        return None
    parent = origin[1]
    if np.shape(value_of(parent)) != block.shape:
        return None
    for i, e in enumerate(flat):
        o = parts.get(id(e))
        if o is None or o[0] is not e or o[1] is not parent or o[2] != i:
            return None
    return parent


def _lift_block(block):
    whole = _whole(block)
    if whole is not None:
        return whole
    if block.ndim == 0:
        e = block[()]
        if isinstance(e, Traced):
            return e
        return _plain_entry(e)
    if block.shape[0] == 0:
        return np.zeros(block.shape)
    return np.stack([_lift_block(block[i, ...]) for i in range(block.shape[0])])


def _plain_entry(e):
    value = np.asarray(e)
    if value.dtype == object or value.dtype.kind not in "biufc":
        raise TypeError(f"an array built from a list mixes traced values with {type(e).__name__} "
                        f"entries ({e!r:.40}); only numbers and traced values can be combined")
    return value.astype(np.result_type(value, np.float64)) if value.dtype.kind in "biu" else value


def lift(obj):
    """``obj`` with an object array of traced entries (what ``np.array([x, 2 * x])`` builds)
    replaced by one traced array of the same shape; anything else unchanged."""
    if type(obj) is np.ndarray and obj.dtype == object and obj.size:
        if any(isinstance(e, Traced) for e in obj.flat):
            return _lift_block(obj)
        # no traced entry left (np.min over numbers and traced values picked a number): the
        # numeric array it stands for, if it is one
        if all(isinstance(e, (int, float, np.integer, np.floating)) for e in obj.flat):
            return obj.astype(float)
    return obj


def _is_object_array(a):
    return type(a) is np.ndarray and a.dtype == object


def _holds_traced(seq):
    return any(isinstance(e, Traced) or (isinstance(e, (list, tuple)) and _holds_traced(e))
               for e in seq)


def _lift_entry(e):
    """An entry of a sequence argument (np.concatenate([x, [x[0], 5.0]])): an object array or
    a nested list holding traced values becomes one traced array."""
    if _is_object_array(e):
        return lift(e)
    if isinstance(e, (list, tuple)) and _holds_traced(e):
        return lift(np.array(e, dtype=object))
    return e


# NumPy functions whose list arguments are sequences of arrays (np.concatenate([x, y]) with
# x, y of different lengths): their entries are lifted one by one, never the list as one array
_SEQUENCE_FUNCTIONS = {np.concatenate, np.stack, np.hstack, np.vstack, np.dstack,
                       np.column_stack, np.select, np.linalg.multi_dot}


def _lift_value(a, sequence=False):
    """An argument as NumPy would read it, with traced entries kept: an object array or a
    list/tuple holding traced values becomes one traced array (entry by entry for the
    sequence arguments of ``_SEQUENCE_FUNCTIONS``); anything else is returned as it is."""
    if _is_object_array(a):
        return lift(a)
    if isinstance(a, (list, tuple)):
        if sequence:
            if any(_is_object_array(e) or (isinstance(e, (list, tuple)) and _holds_traced(e))
                   for e in a):
                return type(a)(_lift_entry(e) for e in a)
        elif _holds_traced(a):
            return lift(np.array(a, dtype=object))
    return a


def _lift_args(args, func=None):
    """``_lift_value`` over the positional arguments of a NumPy call."""
    for a in args:  # the common case first: no list, tuple or object array (no work)
        t = type(a)
        if t is list or t is tuple or (t is np.ndarray and a.dtype.hasobject):
            break
    else:
        return args
    sequence = func in _SEQUENCE_FUNCTIONS
    out = None
    for i, a in enumerate(args):
        b = _lift_value(a, sequence)
        if b is a and func is np.ufunc and isinstance(a, (list, tuple)):
            b = np.asarray(a)  # a ufunc operand: the array NumPy would make of it
        if b is not a:
            out = list(args) if out is None else out
            out[i] = b
    return args if out is None else tuple(out)


def _lift_kwargs(kwargs):
    """``_lift_value`` over keyword arguments (np.average(x, weights=[w0, w1]))."""
    if not kwargs:
        return kwargs
    return {k: _lift_value(v) for k, v in kwargs.items()}


_SCALARS = (float, int, np.float64, np.float32)


def _operator(ufunc, reflected=False):
    """``x + o`` (``o + x`` if ``reflected``) for a traced ``x``: what ``ufunc(x, o)`` does,
    straight to the registered op when ``o`` is a float, an int, a numeric array or a traced
    value (nothing to lift, no keywords) -- NumPy's override protocol and the dispatch
    below would reach the same op a few microseconds later."""
    def method(self, o):
        t = type(o)
        if t in _SCALARS or isinstance(o, Traced) or (t is np.ndarray and not o.dtype.hasobject):
            entry = registry._UFUNCS.get(ufunc)
            if entry is not None and getattr(entry[1], "direct", None) == 2:
                return apply(entry[0], o, self) if reflected else apply(entry[0], self, o)
        return ufunc(o, self) if reflected else ufunc(self, o)
    method.__name__ = f"__{'r' if reflected else ''}{ufunc.__name__}__"
    return method


class Traced:
    """Base of dualnum's ``Dual`` and tapes' ``Tracer``: NumPy dispatch and operators.

    Subclasses set ``_trace`` (the :class:`Trace` this value belongs to) and ``primal``
    (the value one level down).
    """

    __slots__ = ("_trace", "primal")
    __array_priority__ = 1000

    # --- NumPy protocols -------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return dispatch_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return dispatch_function(func, args, kwargs)

    __float__ = _concretize("float()")
    __int__ = _concretize("int()")
    __complex__ = _concretize("complex()")
    __index__ = _concretize("index (operator.index)")
    __array__ = _as_object_array  # np.array([x, y]): an object array of traced entries

    def __getattr__(self, name):
        # NumPy's object loops call a method named after the ufunc on each entry
        # (np.sin(object_array) calls entry.sin()): route it back to the ufunc.
        ufunc = getattr(np, name, None)
        if isinstance(ufunc, np.ufunc) and (registry.lookup_ufunc(ufunc) is not None
                                            or ufunc in registry.NONDIFF_UFUNCS):
            return lambda *others: ufunc(self, *others)
        raise AttributeError(name)

    def item(self, *args):
        return _concretize("item()")(self)

    def tolist(self):
        return _concretize("tolist()")(self)

    def __bool__(self):
        return bool(call_nondiff("bool", bool, (self,), {}))

    def __setitem__(self, key, value):
        raise MutationError(
            f"assigning into a traced array (x[...] = v) cannot be differentiated "
            f"(in {self._trace.mode} mode). Build a new array instead: np.where(mask, v, x), "
            "np.concatenate / np.stack, or adcore.index_add(x, index, v)."
        )

    def __iadd__(self, other):  # x += y rebinds to a new traced value; never mutates
        return np.add(self, other)

    # --- array attributes ---------------------------------------------------------------
    @property
    def shape(self):
        return np.shape(value_of(self))

    @property
    def ndim(self):
        return np.ndim(value_of(self))

    @property
    def size(self):
        return int(np.size(value_of(self)))

    @property
    def dtype(self):
        if sys._getframe(1).f_globals.get("__name__") == "numpy._core._methods":
            # np.mean / np.var of an object array of traced entries (np.mean([x, x + 2])):
            # NumPy's own code would cast a result that has a dtype with dtype.type(result),
            # a float() of a traced value; an entry of an object array has none
            raise AttributeError("dtype")
        return np.result_type(value_of(self))

    def __len__(self):
        return len(value_of(self))

    @property
    def real(self): return np.real(self)
    @property
    def imag(self): return np.imag(self)
    def conj(self): return np.conjugate(self)
    def conjugate(self): return np.conjugate(self)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # --- operators: all routed through NumPy so there is one dispatch path -----------
    __add__, __radd__ = _operator(np.add), _operator(np.add, reflected=True)
    __sub__, __rsub__ = _operator(np.subtract), _operator(np.subtract, reflected=True)
    __mul__, __rmul__ = _operator(np.multiply), _operator(np.multiply, reflected=True)
    __truediv__, __rtruediv__ = _operator(np.divide), _operator(np.divide, reflected=True)
    __pow__, __rpow__ = _operator(np.power), _operator(np.power, reflected=True)
    def __matmul__(self, o): return np.matmul(self, o)
    def __rmatmul__(self, o): return np.matmul(o, self)
    # no rule yet (remainder, divmod, bitwise) or no derivative (floor_divide: a step,
    # run on the plain values and recorded as a guard): still routed through NumPy, so the
    # error names the NumPy function (adcore.UnsupportedOpError: np.remainder ...)
    def __mod__(self, o): return np.remainder(self, o)
    def __rmod__(self, o): return np.remainder(o, self)
    def __floordiv__(self, o): return np.floor_divide(self, o)
    def __rfloordiv__(self, o): return np.floor_divide(o, self)
    def __divmod__(self, o): return np.divmod(self, o)
    def __rdivmod__(self, o): return np.divmod(o, self)
    def __and__(self, o): return np.bitwise_and(self, o)
    def __rand__(self, o): return np.bitwise_and(o, self)
    def __or__(self, o): return np.bitwise_or(self, o)
    def __ror__(self, o): return np.bitwise_or(o, self)
    def __xor__(self, o): return np.bitwise_xor(self, o)
    def __rxor__(self, o): return np.bitwise_xor(o, self)
    def __lshift__(self, o): return np.left_shift(self, o)
    def __rlshift__(self, o): return np.left_shift(o, self)
    def __rshift__(self, o): return np.right_shift(self, o)
    def __rrshift__(self, o): return np.right_shift(o, self)
    def __invert__(self): return np.invert(self)
    def __neg__(self): return np.negative(self)
    def __pos__(self): return self
    def __abs__(self): return np.abs(self)
    def __round__(self, ndigits=None):
        # round(x): NumPy's rounding (half to even, like Python's) on the plain value — a
        # step with derivative 0, recorded as a guard — returned as an array, not an int
        return np.round(self, 0 if ndigits is None else ndigits)
    def __lt__(self, o): return np.less(self, o)
    def __le__(self, o): return np.less_equal(self, o)
    def __gt__(self, o): return np.greater(self, o)
    def __ge__(self, o): return np.greater_equal(self, o)
    def __eq__(self, o): return np.equal(self, o)
    def __ne__(self, o): return np.not_equal(self, o)
    __hash__ = None

    def __getitem__(self, index):
        from .ops_structural import getitem
        return getitem(self, index)

    # --- ndarray methods ------------------------------------------------------------------
    @property
    def T(self): return np.transpose(self)
    def transpose(self, *axes): return np.transpose(self, axes[0] if len(axes) == 1 else (axes or None))
    def reshape(self, *shape, order="C"):
        return np.reshape(self, shape[0] if len(shape) == 1 else shape, order=order)
    def ravel(self): return np.ravel(self)
    def flatten(self): return np.ravel(self)
    def squeeze(self, axis=None): return np.squeeze(self, axis)
    def sum(self, axis=None, keepdims=False): return np.sum(self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return np.mean(self, axis=axis, keepdims=keepdims)
    def prod(self, axis=None, keepdims=False): return np.prod(self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return np.max(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return np.min(self, axis=axis, keepdims=keepdims)
    def cumsum(self, axis=None): return np.cumsum(self, axis=axis)
    def cumprod(self, axis=None): return np.cumprod(self, axis=axis)
    def var(self, axis=None, ddof=0, keepdims=False):
        return np.var(self, axis=axis, ddof=ddof, keepdims=keepdims)
    def std(self, axis=None, ddof=0, keepdims=False):
        return np.std(self, axis=axis, ddof=ddof, keepdims=keepdims)
    def ptp(self, axis=None, keepdims=False): return np.ptp(self, axis=axis, keepdims=keepdims)
    def repeat(self, repeats, axis=None): return np.repeat(self, repeats, axis=axis)
    def take(self, indices, axis=None, mode="raise"): return np.take(self, indices, axis=axis, mode=mode)
    def diagonal(self, offset=0, axis1=0, axis2=1): return np.diagonal(self, offset, axis1, axis2)
    def trace(self, offset=0, axis1=0, axis2=1): return np.trace(self, offset, axis1, axis2)
    def swapaxes(self, axis1, axis2): return np.swapaxes(self, axis1, axis2)
    def any(self, axis=None, keepdims=False): return np.any(self, axis=axis, keepdims=keepdims)
    def all(self, axis=None, keepdims=False): return np.all(self, axis=axis, keepdims=keepdims)
    def argsort(self, axis=-1, kind=None): return np.argsort(self, axis=axis, kind=kind)
    def nonzero(self): return np.nonzero(self)
    def round(self, decimals=0): return np.round(self, decimals)

    def sort(self, axis=-1, kind=None, order=None):
        raise MutationError(f"x.sort() sorts a traced array in place ({self._trace.mode} mode); "
                            "use y = np.sort(x), which is differentiable")

    def fill(self, value):
        raise MutationError(f"x.fill(v) writes into a traced array ({self._trace.mode} mode); "
                            "build a new array: np.full_like(x, v) or np.where")
    def dot(self, o): return np.dot(self, o)
    def clip(self, lo=None, hi=None): return np.clip(self, lo, hi)
    def copy(self): return self  # traced values are immutable, so a copy is the value itself
    def argmax(self, axis=None): return np.argmax(self, axis=axis)
    def argmin(self, axis=None): return np.argmin(self, axis=axis)

    def astype(self, dtype, copy=True):
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        from .ops_structural import astype_op  # float <-> float and -> complex: registered
        if np.issubdtype(dtype, np.floating) and self.dtype.kind == "c":
            # NumPy drops the imaginary part (with a ComplexWarning): the real part, cast
            return np.real(self).astype(dtype)
        if np.issubdtype(dtype, np.inexact):
            return apply(astype_op, self, dtype=dtype)
        raise ConcretizationError(
            f"astype({dtype}) of a traced {self.dtype} value would drop its derivative (an "
            "integer or boolean cast is a step function); only casts between floating and "
            "complex dtypes are differentiable.")
