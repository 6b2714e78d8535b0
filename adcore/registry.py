"""The one op registry that both engines read.

An op is defined once, here, as an :class:`Op`:

* an **elementwise** op gives its primal and one *partial* per differentiable input,
  ``partial_i(out, *inputs) -> d out / d input_i`` (broadcastable to ``out``). Both
  modes are derived from it: JVP = sum_i partial_i * tangent_i, and
  VJP_i = unbroadcast(partial_i * cotangent) (see :mod:`adcore.linear`).
* a **structural** op (sum, matmul, reshape, indexing, ...) gives a JVP and its
  transpose, a VJP. Both work on a *batch* of k directions stacked on a leading axis:
  ``jvp(tangents, out, *inputs, **params) -> (k,) + out.shape`` where ``tangents[i]``
  is ``None`` (a symbolic zero) or has shape ``(k,) + inputs[i].shape``;
  ``vjp(cotangent, out, *inputs, needed, **params) -> tuple`` of ``(k,) + inputs[i].shape``
  arrays (``None`` where ``needed[i]`` is false).

``inputs`` are the arrays that may carry derivatives; ``params`` are static
(axis, shape, index, ...). A NumPy entry point (``np.sum``, ``x.T``, ``np.ravel``) is
mapped to an op by a *binder* that splits NumPy's call into ``(inputs, params)``.

Each op also carries what the generated tests need: the input domains, the kink
convention in words and as special values, and example calls.

A NumPy function that needs no rule of its own is a *composite* (:func:`defcomposite`):
computed from registered ops, so both modes and every nesting differentiate what it is
made of; its example calls are tested like an op's. :func:`numpy_entry_points` lists every
NumPy name covered (COVERAGE.md is generated from it).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from .errors import RegistrationError

ELEMENTWISE = "elementwise"
STRUCTURAL = "structural"


@dataclasses.dataclass(frozen=True)
class Domain:
    """Where the generated tests sample an input: uniform on [low, high], away from kinks.

    ``avoid`` lists points (kinks, singularities) that samples keep ``margin`` away from,
    so finite differences stay valid; the kinks themselves are tested separately.
    """

    low: float = -2.0
    high: float = 2.0
    avoid: tuple = ()
    margin: float = 0.05

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        x = rng.uniform(self.low, self.high, size=shape)
        for point in self.avoid:
            close = np.abs(x - point) < self.margin
            # push close samples outward, staying inside [low, high]
            x = np.where(close, np.where(x >= point, point + self.margin, point - self.margin), x)
            x = np.clip(x, self.low, self.high)
        return x


REAL = Domain()
POSITIVE = Domain(0.2, 3.0)
UNIT = Domain(-0.9, 0.9)


@dataclasses.dataclass(frozen=True)
class Example:
    """One call the generated tests make: ``fn(*inputs)`` with inputs of ``shapes``.

    ``domains`` (one per input, default the op's) say where to sample; ``raises``: the
    error both modes must raise instead of returning a derivative.
    """

    fn: Callable
    shapes: tuple
    domains: tuple | None = None
    label: str = ""
    # the error a derivative of fn must raise (an op that refuses a derivative it cannot
    # give, e.g. the eigenvectors of np.linalg.eig); None: fn is differentiable
    raises: type | None = None


@dataclasses.dataclass(frozen=True)
class Kink:
    """A ``kinks`` entry whose convention is a kink only with respect to some inputs: the
    partial's own derivative is undefined along inputs ``wrt`` where ``pred(out, *inputs)``
    holds, and correct along the others. (d(x**y)/dx is 0 at y = 0 for every x -- its
    x-derivative 0 is right -- but that 0 is not the formula's y-derivative: wrt=(1,).)"""

    pred: Callable
    wrt: tuple

    def __call__(self, out, *inputs):
        return self.pred(out, *inputs)


@dataclasses.dataclass(frozen=True)
class ConstZero:
    """An ``szero`` entry: partial_i is a structural zero where input ``j`` is a plain
    constant (at every trace level) and ``pred(out, *inputs)`` holds -- e.g. the partial
    of ``x * c`` with respect to x, where the constant c is 0."""

    j: int
    pred: Callable

    def __call__(self, out, *inputs, const):
        return self.pred(out, *inputs) if const[self.j] else None


@dataclasses.dataclass(frozen=True)
class Op:
    """One registered operation. See the module docstring for the rule signatures."""

    name: str
    primal: Callable
    kind: str
    nargs: int | None  # None: variadic (concatenate, stack)
    partials: tuple | None = None
    jvp: Callable | None = None
    vjp: Callable | None = None
    domains: tuple = (REAL,)
    kink: str = ""
    special: tuple = ()  # ((inputs...), (expected partial per input...)) for elementwise ops
    examples: tuple = ()
    doc: str = ""
    # elementwise: per input, None, szero_i(out, *inputs) -> bool mask where partial_i is a
    # *structural* zero (the op does not depend on input i there), or a ConstZero
    szero: tuple | None = None
    # elementwise: per input, None or kink_i(out, *inputs) -> bool mask where partial_i is a
    # convention (a subgradient at a kink) rather than a derivative
    kinks: tuple | None = None
    # structural: "structural" if the (co)tangent map's coefficients are fixed by the program
    # (moves, sums, selections), "data" if they are values (matmul, prod, softmax)
    coefficients: str = "data"
    # structural: which rules can make a structural zero from non-zero inputs ("jvp", "vjp")
    creates_zeros: frozenset = frozenset()
    # structural: which rules only move entries (reshape, transpose): masks move the same way
    moves: frozenset = frozenset()
    # structural, optional: the masks of structural zeros computed directly (a fast path, or
    # where the indicator run cannot be made, e.g. inv of an all-ones matrix),
    # {"vjp": fn(g, gsz, needed, out, *inputs, **params) -> tuple of masks or None,
    #  "jvp": fn(tangents, szs, out, *inputs, **params) -> mask or None}
    sz_rules: dict | None = None
    # elementwise, optional: partials for complex inputs where the real ones use real-only
    # functions (comparisons, hypot, logaddexp) for accuracy; None: the real ones serve
    complex_partials: tuple | None = None
    # a function of registered ops that only reverse mode treats as one node (a checkpointed
    # segment, tapes.checkpoint): forward mode runs ``primal`` on its traced inputs instead
    inline: bool = False

    def __repr__(self):
        return f"<adcore op {self.name} ({self.kind})>"

    def domain(self, i: int) -> Domain:
        return self.domains[min(i, len(self.domains) - 1)]


_OPS: dict[str, Op] = {}
# NumPy entry points -> (op, binder). Binders split NumPy's call into (inputs, params).
_UFUNCS: dict[Any, tuple[Op, Callable]] = {}
_FUNCTIONS: dict[Any, tuple[Op, Callable]] = {}
# Entry points that return plain arrays (no derivative): comparisons, argmax, shape, ...
NONDIFF_UFUNCS: set = set()
NONDIFF_FUNCTIONS: set = set()


class Done:
    """A binder's way to say "here is the result already" (e.g. one-argument np.where)."""

    def __init__(self, value):
        self.value = value


def positional_binder(nargs):
    """The default binder: the first ``nargs`` arguments are inputs; no params."""

    def bind(*args, **kwargs):
        if kwargs or len(args) != nargs:
            raise TypeError(f"expected {nargs} array arguments and no keywords")
        return args, {}

    bind.direct = nargs  # dispatch may skip this binder: inputs = the arguments, no params
    return bind


def defop(
    name: str,
    primal: Callable,
    *,
    partials: Sequence[Callable] | None = None,
    jvp: Callable | None = None,
    vjp: Callable | None = None,
    nargs: int | None = None,
    numpy: Sequence = (),
    bind: Callable | None = None,
    domains: Sequence[Domain] = (REAL,),
    kink: str = "",
    special: Sequence = (),
    examples: Sequence[Example] = (),
    doc: str = "",
    replace: bool = False,
    szero: Sequence | None = None,
    kinks: Sequence | None = None,
    coefficients: str = "data",
    creates_zeros: Sequence[str] = (),
    moves: Sequence[str] = (),
    sz_rules: dict | None = None,
    complex_partials: Sequence[Callable] | None = None,
) -> Op:
    """Register an op once; both engines and the generated tests pick it up.

    Elementwise: give ``partials`` (one ``partial_i(out, *inputs)`` per input); optionally
    ``szero`` (per input, None, ``szero_i(out, *inputs) -> bool mask`` where the op does
    not depend on input i at all, e.g. the loser of a maximum, or a :class:`ConstZero` for
    a factor that is a plain constant 0) and
    ``kinks`` (per input, None or ``kink_i(out, *inputs) -> bool mask``: where partial_i is a
    convention such as abs'(0) = 0; a nested derivative of the partial is NaN there).
    Structural: give both ``jvp`` and ``vjp`` (batched on a leading axis; module doc);
    ``coefficients="structural"`` when their linear maps only move, sum or select entries
    (so the structural zeros of the result are read off the rule applied to an indicator),
    ``"data"`` (default) when they multiply by values; ``creates_zeros`` names the rules
    ("jvp", "vjp") that can output structural zeros from inputs without any, and ``moves``
    those that only move entries (their rule moves a boolean mask of structural zeros too).
    ``numpy``: NumPy functions or ufuncs that should dispatch to this op when called on a
    traced value, bound by ``bind(*args, **kwargs) -> (inputs, params)``.
    Returns the :class:`Op`, which is also callable through :func:`adcore.apply`.
    """
    if partials is not None:
        if jvp is not None or vjp is not None:
            raise RegistrationError(f"op {name!r}: give partials OR jvp+vjp, not both")
        partials = tuple(partials)
        if nargs is None:
            nargs = len(partials)
        if len(partials) != nargs or any(not callable(p) for p in partials):
            raise RegistrationError(
                f"op {name!r}: an elementwise op needs one callable partial per input "
                f"({nargs} inputs, got {len(partials)})"
            )
        kind = ELEMENTWISE
        for label, table in (("szero", szero), ("kinks", kinks)):
            if table is not None and len(table) != nargs:
                raise RegistrationError(f"op {name!r}: {label} needs one entry (or None) per input")
    else:
        missing = [mode for mode, rule in (("jvp (forward mode)", jvp), ("vjp (reverse mode)", vjp))
                   if rule is None]
        if missing:
            raise RegistrationError(
                f"op {name!r}: no {' and no '.join(missing)} rule. Register partials for an "
                "elementwise op, or both a jvp and its transpose (vjp) for a structural op."
            )
        kind = STRUCTURAL
    if name in _OPS and not replace:
        raise RegistrationError(f"op {name!r} is already registered (pass replace=True)")
    op = Op(name=name, primal=primal, kind=kind, nargs=nargs, partials=partials, jvp=jvp,
            vjp=vjp, domains=tuple(domains), kink=kink, special=tuple(special),
            examples=tuple(examples), doc=doc or (primal.__doc__ or ""),
            szero=None if szero is None else tuple(szero),
            kinks=None if kinks is None else tuple(kinks),
            coefficients=coefficients, creates_zeros=frozenset(creates_zeros),
            moves=frozenset(moves), sz_rules=sz_rules,
            complex_partials=None if complex_partials is None else tuple(complex_partials))
    _OPS[name] = op
    binder = bind or positional_binder(nargs)
    for entry in numpy:
        table = _UFUNCS if isinstance(entry, np.ufunc) else _FUNCTIONS
        if entry in table:  # taken over from another rule: given back by unregister
            _SHADOWED[(entry, name)] = table[entry]
        table[entry] = (op, binder)
    return op


_SHADOWED: dict = {}


# Plain functions that partials call (a shared series, say): the numba tier registers each
# with numba.extending.register_jitable, so the same function object runs in both tiers.
NUMBA_HELPERS: list = []


def jittable(fn):
    """Decorator for a helper a partial calls: plain Python here, compiled in @njit code."""
    NUMBA_HELPERS.append(fn)
    return fn


def unregister(name: str) -> None:
    """Remove an op and its NumPy entry points (for tests and for replacing a custom op); a
    NumPy function it took over from another rule goes back to that rule."""
    op = _OPS.pop(name)
    for table in (_UFUNCS, _FUNCTIONS):
        for entry in [e for e, (o, _) in table.items() if o is op]:
            previous = _SHADOWED.pop((entry, name), None)
            if previous is None:
                del table[entry]
            else:
                table[entry] = previous


def register_numpy_alias(entry, op: Op, bind: Callable):
    """Route another NumPy entry point (e.g. ``np.ravel``) to an existing op."""
    (_UFUNCS if isinstance(entry, np.ufunc) else _FUNCTIONS)[entry] = (op, bind)


def get_op(name: str) -> Op:
    return _OPS[name]


def registered_ops() -> dict[str, Op]:
    """All registered ops by name (a copy)."""
    return dict(_OPS)


def lookup_ufunc(ufunc):
    return _UFUNCS.get(ufunc)


def lookup_function(func):
    return _FUNCTIONS.get(func)


@dataclasses.dataclass(frozen=True)
class Composite:
    """A NumPy function with no rule of its own: ``build(*args, **kwargs)`` computes it from
    registered ops, so both modes (and every nesting) differentiate what it is made of.
    ``examples`` are tested like an op's (finite differences, dot-product test, forward =
    reverse)."""

    name: str
    build: Callable
    examples: tuple = ()
    doc: str = ""

    def __repr__(self):
        return f"<adcore composite {self.name}>"


_COMPOSITES: dict[str, Composite] = {}


def defcomposite(numpy: Sequence, *, examples: Sequence[Example] = (), name: str = "",
                 doc: str = ""):
    """Decorator: route the NumPy functions ``numpy`` (called on a traced value) to
    ``build``, a function of registered ops with NumPy's signature. Returns ``build``."""

    def register(build):
        label = name or _entry_name(numpy[0])
        comp = Composite(label, build, tuple(examples), doc or (build.__doc__ or ""))
        _COMPOSITES[label] = comp
        for entry in numpy:
            table = _UFUNCS if isinstance(entry, np.ufunc) else _FUNCTIONS
            table[entry] = (None, lambda *a, _b=build, **k: Done(_b(*a, **k)))
        return build

    return register


def registered_composites() -> dict[str, Composite]:
    """All composites by name (a copy)."""
    return dict(_COMPOSITES)


def _entry_name(entry) -> str:
    """``np.linalg.norm`` -> "linalg.norm", ``np.sum`` -> "sum" (the name a user types)."""
    mod = getattr(entry, "__module__", "") or ""
    name = getattr(entry, "__name__", repr(entry))
    sub = mod.split(".")[1] if mod.startswith("numpy.") and mod.split(".")[1] in (
        "linalg", "fft", "random") else ""
    return f"{sub}.{name}" if sub else name


def numpy_entry_points() -> dict:
    """What fwdrev differentiates: ``{"np.<name>": how}`` for every NumPy function and ufunc
    that has a rule, where ``how`` is the registered op's name, ``"(composite)"`` for a
    function built from registered ops, or ``"(no derivative)"`` for one that runs on the
    plain values (comparisons, argmax, shape queries)."""
    table = {}
    for entry, (op, _) in list(_UFUNCS.items()) + list(_FUNCTIONS.items()):
        table["np." + _entry_name(entry)] = op.name if op else "(composite)"
    for entry in list(NONDIFF_UFUNCS) + list(NONDIFF_FUNCTIONS):
        table.setdefault("np." + _entry_name(entry), "(no derivative)")
    return dict(sorted(table.items()))
