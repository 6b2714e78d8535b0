"""The registry's elementwise rules compiled for numba scalars, and the generator that
turns them into numba overloads for an AD scalar type.

Both numba engines are generated here from ONE loop over :func:`adcore.registered_ops`:
dualnum's dual-number type (:mod:`adjit.dual`) and tapes' recording type
(:mod:`adjit.tape`). For every elementwise op, every spelling of it in ``@njit``
code — an operator, ``math.*``, a NumPy ufunc, an ``adcore`` function — gets an overload
whose value is the op's primal and whose derivative comes from the op's registered
``partials``, each ``numba.njit``-compiled for scalars (:func:`scalar_rule`). No
derivative formula is written here or in the engines; only *how* partials are combined
differs per mode (a :class:`Mode` says it in a line or two of source).

Zeros follow the convention of the Python engines (:mod:`adcore.rules`): a contribution
that is zero *by the program's structure* is exactly 0, even against inf or NaN; a zero a
rule *computed* is an ordinary number (0 * inf is NaN). The registry's ``Op.szero`` entries
(the loser of a maximum, a factor that is a plain constant 0, ...) are compiled for scalars
next to the partials (:attr:`ScalarRule.szero`), and every generated overload evaluates them:
an input whose partial is structurally zero here contributes nothing. A
:class:`~adcore.registry.ConstZero` entry applies when its input j is a plain constant: a
plain (non-AD) argument, known when the overload is generated, or an AD-typed value that
holds an untraced constant (``s = 0.0`` unified with AD values: :meth:`Mode.untraced`).

Also here, shared by both modes: the base type :class:`ADScalar` (anything with a float
``val``), comparisons and other non-differentiable functions on it (they read the value),
the masked multiply-add (:func:`emit_masked_lincomb`, the scalar twin of
:func:`adcore.linear.masked_mul`), and :func:`explain_compile_error`, which turns a numba
typing error into one that names the unsupported construct.

Importing this module imports numba; nothing in ``adcore`` or ``adjit/__init__`` does.
"""
from __future__ import annotations

import builtins
import math
import operator
import re
import sys
import threading

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core import errors as nb_errors
from numba.core.imputils import RefType, impl_ret_borrowed, iternext_impl, lower_builtin
from numba.extending import models, overload, overload_attribute, register_model

from adcore import nn, registry
from adcore.errors import UnsupportedOpError
from adcore.registry import ELEMENTWISE

from . import cache

# numba's on-disk cache of everything compiled below (and in adjit.dual, adjit.tape,
# adjit.flat_replay, adjit.array_kernels) goes to the user's cache directory
cache.install()

# ------------------------------------------------------------------------------------
# The table, in registry order: an op's opcode is its position (used by compiled tapes).
# ------------------------------------------------------------------------------------


def elementwise_ops() -> tuple:
    """Every registered elementwise op, in registration order."""
    return tuple(op for op in registry.registered_ops().values() if op.kind == ELEMENTWISE)


def _is_real(t) -> bool:
    return isinstance(t, (types.Number, types.Boolean)) and not isinstance(t, types.Complex)


def as_float(r):
    """``float(r)`` for a scalar or a 0-d array (njit only; see the overload below)."""
    return float(np.asarray(r))


@overload(as_float, inline="always")
def _as_float_ov(r):
    if isinstance(r, types.Array) and r.ndim == 0:
        return lambda r: float(r[()])
    if _is_real(r):
        return lambda r: float(r)
    return None


_NJIT = dict(error_model="numpy")  # 1/0 -> inf, like NumPy (partials are inf by design)
for _helper in registry.NUMBA_HELPERS:  # helpers the partials call (registry.jittable)
    numba.extending.register_jitable(**_NJIT)(_helper)
_rule_lock = threading.Lock()
_rules: dict = {}


class ScalarRule:
    """One op compiled for float64 scalars: ``primal(*x) -> float``,
    ``partials[i](out, *x) -> float`` and ``szero[i]`` — the registry's own functions under
    ``numba.njit``.

    ``szero[i]`` is None (partial i is never a structural zero) or ``(j, pred)`` with
    ``pred(out, *x) -> bool``: partial i is a structural zero where ``pred`` holds — always
    (``j`` None: a plain ``Op.szero`` predicate) or only where input ``j`` is a plain
    constant (a :class:`~adcore.registry.ConstZero`).
    """

    def __init__(self, op):
        self.op = op
        self.nargs = op.nargs
        self.primal = _float_valued(op.primal, op.nargs, first_is_out=False)
        self.partials = tuple(_float_valued(p, op.nargs, first_is_out=True) for p in op.partials)
        table = op.szero if op.szero is not None else (None,) * op.nargs
        self.szero = tuple(_szero_entry(e, op.nargs) for e in table)


def _float_valued(fn, nargs, first_is_out):
    """``numba.njit(fn)`` with its result as a float (partials may return bools or 0-d arrays)."""
    inner = fn if isinstance(fn, np.ufunc) else numba.njit(fn, **_NJIT)
    names = (["o"] if first_is_out else []) + ["x%d" % i for i in range(nargs)]
    src = f"def wrapped({', '.join(names)}):\n    return as_float(inner({', '.join(names)}))\n"
    scope = {"inner": inner, "as_float": as_float}
    exec(src, scope)  # noqa: S102 - generated from the op's arity only
    return numba.njit(scope["wrapped"], inline="always", **_NJIT)


def as_bool(r):
    """``bool(r)`` for a bool, a number or a 0-d array (njit only; see the overload below)."""
    return bool(np.asarray(r))


@overload(as_bool, inline="always")
def _as_bool_ov(r):
    if isinstance(r, types.Array) and r.ndim == 0:
        return lambda r: r[()] != 0
    if isinstance(r, types.Boolean):
        return lambda r: r
    if _is_real(r):
        return lambda r: r != 0
    return None


def _szero_entry(entry, nargs):
    if entry is None:
        return None
    if isinstance(entry, registry.ConstZero):
        return entry.j, _bool_valued(entry.pred, nargs)
    return None, _bool_valued(entry, nargs)


def _bool_valued(fn, nargs):
    """``numba.njit(fn)`` of an ``szero`` predicate ``fn(out, *inputs)``, as a bool."""
    inner = numba.njit(fn, **_NJIT)
    names = ["o"] + ["x%d" % i for i in range(nargs)]
    src = f"def wrapped({', '.join(names)}):\n    return as_bool(inner({', '.join(names)}))\n"
    scope = {"inner": inner, "as_bool": as_bool}
    exec(src, scope)  # noqa: S102 - generated from the op's arity only
    return numba.njit(scope["wrapped"], inline="always", **_NJIT)


def scalar_rule(op) -> ScalarRule:
    """The njit-compiled scalar rule of an elementwise op (cached per op object)."""
    key = (op.name, id(op))
    with _rule_lock:
        rule = _rules.get(key)
        if rule is None:
            rule = _rules[key] = ScalarRule(op)
    return rule


# ------------------------------------------------------------------------------------
# How each op is spelled in njit code. Spellings only — the formulas stay in the table.
# ------------------------------------------------------------------------------------

_OPERATORS = {
    "add": (operator.add, operator.iadd),
    "subtract": (operator.sub, operator.isub),
    "multiply": (operator.mul, operator.imul),
    "divide": (operator.truediv, operator.itruediv),
    "power": (operator.pow, operator.ipow, builtins.pow),
    "negative": (operator.neg,),
    "positive": (operator.pos,),
    "abs": (builtins.abs,),
}
# NumPy name -> math-module name (math.log takes one argument here; log(x, base) is refused)
_MATH = {"sqrt": "sqrt", "cbrt": "cbrt", "exp": "exp", "exp2": "exp2", "expm1": "expm1",
         "log": "log", "log2": "log2", "log10": "log10", "log1p": "log1p", "sin": "sin",
         "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
         "arctan2": "atan2", "hypot": "hypot", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
         "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "abs": "fabs",
         "power": "pow"}


def entry_points(op) -> tuple:
    """Everything that means ``op`` in njit code: operators, math.*, NumPy, adcore.

    Returns ``((callable, works_on_plain_floats), ...)``; the second flag is True for
    ``adcore`` functions (``adcore.sigmoid``), which njit code may also call on floats.
    """
    found = []
    if isinstance(op.primal, np.ufunc):
        found.append(op.primal)
    for table in (registry._UFUNCS, registry._FUNCTIONS):
        for entry, (other, _) in table.items():
            if other is op and entry not in found:
                found.append(entry)
    found.extend(e for e in _OPERATORS.get(op.name, ()) if e not in found)
    name = _MATH.get(op.name)
    if name and hasattr(math, name):
        found.append(getattr(math, name))
    result = [(e, False) for e in found]
    adcore_fn = getattr(nn, op.name, None)
    if callable(adcore_fn):
        result.append((adcore_fn, True))
    return tuple(result)


# ------------------------------------------------------------------------------------
# The AD scalar base type and the overload generator.
# ------------------------------------------------------------------------------------

class ADScalar(types.Type):
    """Base of numba's AD scalar types. Subclasses have a float64 attribute ``val`` and a
    cast from float (a constant), so ``s = 0.0; s += x[i]`` types as the AD type."""

    what = "AD scalar"

    def unify(self, typingctx, other):
        if _is_real(other):
            return self
        return None


class Mode:
    """What one numba AD type supplies to :func:`generate_overloads`.

    ``scalar``: its :class:`ADScalar` subclass. ``combine(names, active, zs)``: source lines
    ending in ``return ...`` that build the result from ``o`` (the primal value), ``p<i>``
    (the registry's partial of input i, for the active inputs), ``zs[i]`` (an expression:
    true where partial i is a structural zero here, its contribution exactly 0; ``"False"``
    when the registry declares none) and the arguments ``names``. ``untraced(name)``: an
    expression, true when the AD-typed argument ``name`` holds a plain constant (no input
    reached it: a ``ConstZero`` entry then applies, as for a plain argument). ``scope``: the
    globals those lines use. ``check(ad_types, op)``: raise a TypingError if these AD
    arguments cannot meet (e.g. different partial counts).
    """

    key = ""
    scalar = ADScalar
    scope: dict = {}

    def combine(self, names, active, zs=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def untraced(self, name):  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, ad_types, op):
        pass


class FwdrevTypingError(nb_errors.TypingError):
    """A typing error raised by fwdrev's overloads; its message is kept verbatim."""


_MARK = "[fwdrev] "
_generated: set = set()
_gen_lock = threading.RLock()
_impls: dict = {}


def generate_overloads(mode: Mode):
    """Register, once per (mode, op), an overload for every entry point of every
    registered elementwise op. Called again after new ops are registered, it adds theirs."""
    with _gen_lock:
        for op in elementwise_ops():
            key = (mode.key, op.name, id(op))
            if key in _generated:
                continue
            _generated.add(key)
            for entry, plain_ok in entry_points(op):
                overload(entry, inline="always")(_typer(op, mode, plain_ok))


def _typer(op, mode, plain_ok):
    def typing(*tys):
        ad = tuple(isinstance(t, mode.scalar) for t in tys)
        if not any(ad):
            if plain_ok and all(_is_real(t) for t in tys):
                return _impl(op, None, (False,) * len(tys))
            return None
        if not all(a or _is_real(t) for a, t in zip(ad, tys)):
            return None
        mode.check([t for t, a in zip(tys, ad) if a], op)
        return _impl(op, mode, ad)

    names = ["x", "y", "z"][: op.nargs]
    src = f"def typer({', '.join(names)}):\n    return typing({', '.join(names)})\n"
    scope = {"typing": typing}
    exec(src, scope)  # noqa: S102 - fixed arity wrapper
    return scope["typer"]


def _impl(op, mode, ad):
    key = (mode.key if mode else "", op.name, id(op), ad)
    impl = _impls.get(key)
    if impl is not None:
        return impl
    rule = scalar_rule(op)
    names = ["x", "y", "z"][: op.nargs]
    vals = ", ".join(n + "v" for n in names)
    lines = [f"def impl({', '.join(names)}):"]
    for n, a in zip(names, ad):
        lines.append(f"    {n}v = {n}.val" if a else f"    {n}v = float({n})")
    lines.append(f"    o = primal({vals})")
    active = [i for i, a in enumerate(ad) if a]
    for i in active:
        lines.append(f"    p{i} = partial{i}(o, {vals})")
    scope = {"primal": rule.primal, "float": float}
    scope.update({f"partial{i}": p for i, p in enumerate(rule.partials)})
    if mode is None:
        lines.append("    return o")
    else:
        # structural zeros of the partials (Op.szero), decided here per argument kind: a
        # ConstZero on a plain argument is a plain predicate; on an AD argument it holds
        # only while that argument is an untraced constant
        zs = ["False"] * len(names)
        for i in active:
            entry = rule.szero[i]
            if entry is None:
                continue
            j, pred = entry
            scope[f"szero{i}"] = pred
            if j is None or not ad[j]:
                lines.append(f"    z{i} = szero{i}(o, {vals})")
            else:
                # (& not `and`: no branch inside an inlined overload)
                lines.append(f"    z{i} = ({mode.untraced(names[j])}) & szero{i}(o, {vals})")
            zs[i] = f"z{i}"
        lines.extend("    " + line for line in mode.combine(names, active, zs))
        scope.update(mode.scope)
    exec("\n".join(lines) + "\n", scope)  # noqa: S102 - generated from the registry entry
    impl = _impls[key] = scope["impl"]
    return impl


class ADArray(types.IterableType):
    """Base of numba's 1-D arrays of AD values (``for v in x`` yields ``elem_type``)."""

    what = "array of AD values"

    @property
    def elem_type(self):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def iterator_type(self):
        return ADArrayIterType(self)


class ADArrayIterType(types.SimpleIteratorType):
    def __init__(self, arr):
        self.arr = arr
        super().__init__(f"iter({arr})", arr.elem_type)


@register_model(ADArrayIterType)
class _ADArrayIterModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, [("arr", fe_type.arr),
                                        ("index", types.EphemeralPointer(types.intp))])


@lower_builtin("getiter", ADArray)
def _getiter(context, builder, sig, args):
    it = cgutils.create_struct_proxy(sig.return_type)(context, builder)
    index = cgutils.alloca_once(builder, context.get_value_type(types.intp))
    builder.store(context.get_constant(types.intp, 0), index)
    it.index = index
    it.arr = args[0]
    return impl_ret_borrowed(context, builder, sig.return_type, it._getvalue())


@lower_builtin("iternext", ADArrayIterType)
@iternext_impl(RefType.BORROWED)
def _iternext(context, builder, sig, args, result):
    ity = sig.args[0]
    it = cgutils.create_struct_proxy(ity)(context, builder, value=args[0])
    index = builder.load(it.index)
    n = context.compile_internal(builder, lambda a: len(a), types.intp(ity.arr), [it.arr])
    valid = builder.icmp_signed("<", index, n)
    result.set_valid(valid)
    with builder.if_then(valid):
        item = context.compile_internal(builder, lambda a, i: a[i],
                                        ity.arr.elem_type(ity.arr, types.intp), [it.arr, index])
        result.yield_(item)
        builder.store(builder.add(index, context.get_constant(types.intp, 1)), it.index)


# ------------------------------------------------------------------------------------
# Non-differentiable functions of an AD scalar: they read its value.
# ------------------------------------------------------------------------------------

def _either_ad(*tys):
    return any(isinstance(t, ADScalar) for t in tys) and all(
        isinstance(t, ADScalar) or _is_real(t) for t in tys)


def value(x):
    """The float value of an AD scalar (or a plain number), inside njit code."""
    return float(x)


@overload(value, inline="always")
def _value_ov(x):
    if isinstance(x, ADScalar):
        return lambda x: x.val
    if _is_real(x):
        return lambda x: float(x)
    return None


def _cmp_typer(cmp):
    def typer(a, b):
        if _either_ad(a, b):
            return lambda a, b: cmp(value(a), value(b))
        return None
    return typer


def _value_fn_typer(fn):
    def typer(x):
        if isinstance(x, ADScalar):
            return lambda x: fn(x.val)
        return None
    return typer


def _concretize_typer(what):
    def typer(x):
        if isinstance(x, ADScalar):
            raise FwdrevTypingError(
                f"{_MARK}{what} of a {x.what} inside @njit would drop its derivative. "
                "Keep the value as it is (arithmetic, math.* and np.* work on it), or read "
                "plain numbers from the result of the derivative call.")
        return None
    return typer


def _register_nondiff():
    for cmp in (operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne):
        overload(cmp)(_cmp_typer(cmp))
    unary_value_fns = [math.floor, math.ceil, math.trunc, math.isnan, math.isinf, math.isfinite,
                       np.floor, np.ceil, np.trunc, np.rint, np.isnan, np.isinf, np.isfinite,
                       np.signbit]
    for fn in unary_value_fns:
        overload(fn)(_value_fn_typer(fn))

    @overload(bool)
    def _bool(x):
        if isinstance(x, ADScalar):
            return lambda x: x.val != 0.0
        return None

    # max(a, b) / min(a, b) choose one argument, like Python (no tie splitting: that is
    # np.maximum's rule). A float and an AD value unify to the AD type.
    @overload(builtins.max)
    def _max(a, b):
        if _either_ad(a, b):
            return lambda a, b: b if b > a else a
        return None

    @overload(builtins.min)
    def _min(a, b):
        if _either_ad(a, b):
            return lambda a, b: b if b < a else a
        return None

    for fn, what in ((float, "float()"), (int, "int()")):
        overload(fn)(_concretize_typer(what))

    @overload(operator.setitem)
    def _store_into_plain(arr, index, v):
        if isinstance(arr, types.Array) and isinstance(v, ADScalar):
            raise FwdrevTypingError(
                f"{_MARK}storing a {v.what} into a plain NumPy array ({arr}) inside @njit "
                "would drop its derivative. Create the array from a differentiated one so it "
                "holds AD values: np.empty_like(x), np.zeros_like(x), x.copy(), or "
                "adjit.scalar_rules.zeros(n, like=x) for another length.")
        return None


_register_nondiff()


@numba.njit(inline="always")
def check_index(n, i):
    """``i`` as an index into a length-``n`` array inside njit code (negatives wrap)."""
    if i < 0:
        i += n
    if i < 0 or i >= n:
        raise IndexError("index out of bounds for an array of dual numbers or tape values")
    return i


def overload_length(array_type, length):
    """``len(a)``, ``a.shape``, ``a.size`` and ``a.ndim`` inside njit code for a 1-D array
    type of an engine (arrays of dual numbers, arrays of tape values); ``length`` is an
    njit function returning the number of elements of an ``a``."""

    @overload(len)
    def _len(a):
        if isinstance(a, array_type):
            return lambda a: length(a)
        return None

    overload_attribute(array_type, "shape")(lambda a: lambda a: (length(a),))
    overload_attribute(array_type, "size")(lambda a: lambda a: length(a))
    overload_attribute(array_type, "ndim")(lambda a: lambda a: 1)


def zeros(n, like):
    """A length-``n`` array of zeros "like" ``like``: plain float64 for a plain array;
    inside a derivative call an array of AD values (dual numbers, tape values) whose
    entries may be assigned AD values. Use it in njit code for outputs whose length
    differs from the input's (``np.zeros_like(x)`` covers the same length)."""
    return np.zeros(n, dtype=np.float64)


@overload(zeros)
def _zeros_plain(n, like):
    if isinstance(like, types.Array) and isinstance(n, types.Integer):
        return lambda n, like: np.zeros(n, dtype=np.float64)
    return None


# ------------------------------------------------------------------------------------
# Masked multiply-add: the scalar twin of adcore.linear.masked_mul.
# ------------------------------------------------------------------------------------

def emit_masked_lincomb(builder, terms, count=None):
    """LLVM for ``sum_i p_i * t_i`` in which a term that is a *structural* zero contributes
    exactly 0, even against inf or NaN, and every other term is IEEE arithmetic (a computed
    0 times inf is NaN): the scalar twin of :func:`adcore.linear.masked_mul`.

    ``terms``: ``(p, t, live)`` with ``p`` a double, ``t`` a double or a ``[count x
    double]`` (k tangents) and ``live`` None (never structural) or ``live(builder, c)``
    emitting an ``i1``: false where component ``c`` of the term is a structural zero.
    Returns a double or a ``[count x double]``.

    Fast path: plain multiply-adds. A structural zero holds an exact 0 (a tangent) or a
    partial the registry evaluates to 0 (or NaN), so its IEEE product is 0 unless the other
    factor is inf or NaN — and then the sum is NaN. Only if a result is NaN is it recomputed
    with the masks, on a branch the CPU predicts (and ``live`` is only evaluated there), so
    the common path carries no extra latency.
    """
    zero = ir.Constant(ir.DoubleType(), 0.0)
    scalar = count is None
    n = 1 if scalar else count
    parts = [[(p, t if scalar else builder.extract_value(t, c), live) for p, t, live in terms]
             for c in range(n)]

    def build(careful):
        outs = []
        bad = ir.Constant(ir.IntType(1), 0)
        for c, part in enumerate(parts):
            acc = None
            for p, tc, live in part:
                r = builder.fmul(p, tc)
                if careful and live is not None:
                    r = builder.select(live(builder, c), r, zero)
                acc = r if acc is None else builder.fadd(acc, r)
            if not careful:
                bad = builder.or_(bad, builder.fcmp_unordered("uno", acc, acc))
            outs.append(acc)
        return outs, bad

    fast, bad = build(False)
    entry = builder.basic_block
    with builder.if_then(bad, likely=False):
        slow, _ = build(True)
        slow_block = builder.basic_block
    merged = []
    for f, s in zip(fast, slow):  # scalar phis keep the k tangents in registers
        phi = builder.phi(f.type)
        phi.add_incoming(f, entry)
        phi.add_incoming(s, slow_block)
        merged.append(phi)
    if scalar:
        return merged[0]
    out = ir.Constant(ir.ArrayType(ir.DoubleType(), n), ir.Undefined)
    for i, v in enumerate(merged):
        out = builder.insert_value(out, v, i)
    return out


# ------------------------------------------------------------------------------------
# Errors that name the construct.
# ------------------------------------------------------------------------------------

class JitUnsupportedError(UnsupportedOpError):
    """A construct inside an ``@njit`` function cannot be compiled for AD values."""

    def __init__(self, message, construct=""):
        Exception.__init__(self, message)
        self.name = construct
        self.construct = construct


_SIG_LINE = re.compile(r"^\s*>>> (.+)$", re.M)
_UNKNOWN_ATTR = re.compile(r"Unknown attribute '([^']+)' of type ([^\n]+)")
_UNIFY = re.compile(r"Cannot unify ([^\n]+)")
_UNTYPED = re.compile(r"Untyped global name '([^']+)'")
_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+):\n((?:.*\n)*?)\s*\^', re.M)


def explain_compile_error(err, fname: str, mode_name: str, ad_what: str) -> JitUnsupportedError:
    """Turn numba's error while compiling ``fname`` for AD values into one that names the
    construct (the call signature, attribute or statement numba could not type)."""
    text = str(err)
    construct, why = "", ""
    marked = [line.split(_MARK, 1)[1] for line in text.splitlines() if _MARK in line]
    if marked:
        why = marked[-1].strip()
        construct = why.split(" ", 1)[0]
    elif (m := _UNKNOWN_ATTR.search(text)):
        construct = f".{m.group(1)} of {m.group(2).strip()}"
        why = f"attribute {construct} is not supported"
    elif (m := _UNTYPED.search(text)):
        construct = m.group(1)
        why = f"the global name {construct!r} cannot be used in compiled code"
    else:
        sigs = _SIG_LINE.findall(text)
        if sigs:
            construct = sigs[0].strip()
            why = (f"{construct} has no implementation for {ad_what}s (no registered adcore "
                   "rule reaches it inside @njit)")
        elif (m := _UNIFY.search(text)):
            construct = m.group(1).strip()
            why = f"cannot unify {construct}"
        else:
            first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
            construct = first
            why = first
    where = ""
    for path, line, src in _FILE_LINE.findall(text):
        if path.startswith("<"):
            continue  # fwdrev's generated driver, not the user's code
        stmt = [s.strip() for s in src.splitlines() if s.strip()]
        where = f" (at {path}:{line}: {stmt[-1] if stmt else ''})"
        break
    msg = (f"{mode_name}: cannot compile {fname!r} for {ad_what} arguments: {why}{where}. "
           f"Use registered operations (operators, math.*, np.* ufuncs listed by "
           f"adcore.registered_ops()) inside the @njit function, or differentiate the plain "
           f"Python function instead.")
    e = JitUnsupportedError(msg, construct)
    return e


def forbid_inside_njit(func, message):
    """Calling ``func`` (a Python derivative API) inside njit code raises ``message``."""
    import inspect
    params = list(inspect.signature(func).parameters.values())
    sig = ", ".join(str(p) for p in params)
    src = f"def typer({sig}):\n    raise FwdrevTypingError(message)\n"
    scope = {"FwdrevTypingError": FwdrevTypingError, "message": _MARK + message}
    exec(src, scope)  # noqa: S102 - same signature as func, as numba's overload requires
    overload(func)(scope["typer"])


_OURS = ("adjit.",)  # the modules that define fwdrev's overloads


def prefer_ours(*funcs):
    """Make fwdrev's overloads of ``funcs`` win over numba's generic ones.

    numba tries an overloaded function's templates in registration order and takes the
    first that types. Some of numba's own (``np.empty_like``) accept any type, so when
    numba typed such a function before our module was imported, its template would come
    first and turn an array of AD values into a 0-d object array. This moves our templates
    to the front of the CPU typing context's list for each function.
    """
    from numba.core.registry import cpu_target
    ctx = cpu_target.typing_context
    ctx.refresh()
    for func in funcs:
        try:
            fnty = ctx.resolve_value_type(func)
        except Exception:  # pragma: no cover - numba has never seen it
            continue
        templates = getattr(fnty, "templates", None)
        if not templates or not isinstance(fnty, types.Function):
            continue

        def ours(t):
            impl = getattr(t, "_overload_func", None)
            return (getattr(impl, "__module__", None) or "").startswith(_OURS)
        ordered = tuple(sorted(templates, key=lambda t: 0 if ours(t) else 1))  # stable
        if ordered != tuple(templates):
            ctx._remove_global(func)
            ctx._insert_global(func, types.Function(ordered))


def cache_dir() -> str:
    """Where generated kernel modules live: ``generated/`` in fwdrev's cache directory (the
    user's cache directory or ``$FWDREV_CACHE_DIR``; see :mod:`adjit.cache`)."""
    return cache.cache_dir("generated")


def load_generated(name: str, src: str):
    """Import generated source as module ``name`` from a file in :func:`cache_dir`.

    The file is (re)written only when its text changed, so numba's ``cache=True`` index
    (keyed by the file) stays valid across processes: a second process loads machine code
    instead of compiling. Put a fingerprint of everything the code depends on (the
    registry's rules) into ``name`` or ``src``.
    """
    import importlib.util
    import os
    path = os.path.join(cache_dir(), name + ".py")
    try:
        with open(path) as fh:
            same = fh.read() == src
    except OSError:
        same = False
    if not same:
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            fh.write(src)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


_TAG = None


def code_tag() -> str:
    """A short hash of everything compiled AD code depends on: the registry's rules and the
    three modules that generate and combine them. It is part of the names of the numba AD
    types, which key numba's on-disk cache: a user's ``@njit(cache=True)`` function
    compiled on dual numbers or tape values is reused across processes until any rule or
    generator changes, and never after."""
    global _TAG
    if _TAG is None:
        import hashlib
        import os
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        h = hashlib.sha1(registry_fingerprint(elementwise_ops()).encode())
        for rel in ("adjit/scalar_rules.py", "adjit/dual.py", "adjit/tape.py"):
            with open(os.path.join(root, rel), "rb") as fh:
                h.update(fh.read())
        _TAG = h.hexdigest()[:10]
    return _TAG


def registry_fingerprint(ops) -> str:
    """A short hash of the ops' names, primals, partials and structural-zero predicates
    (their bytecode), plus the numba and NumPy versions: generated kernels are regenerated
    when any of it changes."""
    import hashlib
    h = hashlib.sha1()
    h.update(f"numba {numba.__version__} numpy {np.__version__}".encode())

    def code(fn):
        if isinstance(fn, np.ufunc):
            h.update(("ufunc:" + fn.__name__).encode())
            return
        stack = [getattr(fn, "__code__", None)]
        if stack[0] is None:
            h.update(repr(fn).encode())
            return
        while stack:
            c = stack.pop()
            h.update(c.co_code)
            h.update(repr(c.co_names).encode())
            for const in c.co_consts:
                if hasattr(const, "co_code"):
                    stack.append(const)
                else:
                    h.update(repr(const).encode())
    for op in ops:
        h.update(op.name.encode())
        code(op.primal)
        for p in op.partials:
            code(p)
        for e in (op.szero or ()):
            if e is None:
                h.update(b"-")
            elif isinstance(e, registry.ConstZero):
                h.update(f"const{e.j}".encode())
                code(e.pred)
            else:
                code(e)
    return h.hexdigest()[:16]


def compile_errors():
    """The exception types numba raises for code it cannot compile."""
    return (nb_errors.TypingError, nb_errors.UnsupportedError, nb_errors.LoweringError,
            nb_errors.NumbaError)
