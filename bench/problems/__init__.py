"""The problems: functions to differentiate, each written once in plain NumPy.

A problem is a :class:`Problem` object.  Its function has the signature
``fn(x, data, xp)``:

- ``x``     -- the input we differentiate with respect to, shape ``(in_size,)``;
- ``data``  -- a dict of constants (weights, samples, the depth) built once, seeded;
- ``xp``    -- the array namespace (``numpy`` today).  Problems call ``xp.tanh``,
  ``xp.sum`` ... rather than ``np.tanh`` so that peer engines (JAX, PyTorch; issue 5)
  can run the same source with ``xp=jax.numpy``.  Our own engines trace plain NumPy
  calls, so for them ``xp`` is simply ``numpy``.

and returns a scalar (shape ``()``) for gradient problems or a vector of shape
``(out_size,)`` for Jacobian problems.

Sizes: every problem reads the knobs it uses from a :class:`Size` -- ``n`` (input
size; each problem documents what it means), ``m`` (output size) and ``depth``
(iterations or layers) -- plus named float constants in ``params`` (e.g. the
logistic map's ``r``).  Knobs a problem does not use are fixed by the problem.

Adding a problem is one step: write ``bench/problems/<module>.py`` defining
``PROBLEM = Problem(...)`` and add ``<module>`` to ``_MODULES`` below.  Every engine,
the CLI, ``fwdrev list`` and the tests pick it up from the registry.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from bench.errors import UsageError

#: Modules under bench/problems that each define ``PROBLEM``.  Order = listing order.
_MODULES = (
    "rosenbrock",
    "logreg",
    "mlp_loss",
    "tanh_net",
    "logistic_map",
    # Scalar loops with an @njit form (fwdrev's compiled engines differentiate the kernel).
    "logistic_loop",
    "rosenbrock_loop",
    "layer_chain",
    # The lecture's cascade: the order of the Jacobian product (engines chain-*).
    "jacobian_chain",
    "lecture",
    "homework",
    # ADBench's problems (Srajer, Kukelova, Fitzgibbon 2018), sized by --param.
    "gmm",
    "ba",
    "lstm",
)


@dataclass(frozen=True)
class Size:
    """One point of a sweep: the knobs ``n``, ``m``, ``depth`` and named constants.

    A knob the problem does not use holds the problem's fixed value (``m`` = its
    output size, ``depth`` = ``None``), so records are uniform across problems.
    """

    n: int
    m: int
    depth: int | None
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Footprint:
    """Rough memory needs of one evaluation, used to refuse sizes that cannot fit.

    ``data_bytes`` -- the constants (weights, samples);
    ``work_bytes`` -- all intermediates of one evaluation added up (what a tape
    would hold);  ``ops`` -- approximate number of array operations per evaluation.
    """

    data_bytes: int
    work_bytes: int
    ops: int


@dataclass(frozen=True)
class Problem:
    """A function to differentiate plus everything needed to run it at a size.

    Attributes:
        name:       CLI name (``tanh-net``).
        summary:    one line for ``fwdrev list`` and the report.
        knobs:      ``{"n": (default, meaning), ...}`` for the knobs the problem
                    uses, among ``n``, ``m``, ``depth``.
        fn:         ``fn(x, data, xp) -> y``; ``x`` shape ``(in_size,)``, ``y`` shape
                    ``()`` if ``scalar`` else ``(out_size,)``.
        make_data:  ``make_data(rng, size) -> dict`` of constants (seeded).
        make_input: ``make_input(rng, size) -> ndarray`` of shape ``(in_size,)``.
        in_size:    ``in_size(size) -> int``.
        out_size:   ``out_size(size) -> int`` (1 for scalar problems).
        footprint:  ``footprint(size) -> Footprint``.
        scalar:     True when ``fn`` returns a scalar (the derivative is a gradient).
        params:     ``{"r": (default, meaning)}`` named float constants.
        min_n:      smallest meaningful ``n``.
        fixed:      ``{"n": 2}`` values of knobs the problem does not let vary.
        scalar_ops: ``scalar_ops(size) -> int``, the exact number of scalar arithmetic
                    operations of one evaluation, for scalar-loop problems: the report
                    then gives nanoseconds per operation for the primal and every mode.
        native_primal: True when ``fn`` on a NumPy array runs a compiled (``@njit``)
                    kernel and on a list of floats the same loop in plain Python: each
                    engine's derivative/function ratio then divides by the primal of its
                    own tier (compiled engines by the kernel, Python engines by the loop).
    """

    name: str
    summary: str
    knobs: dict
    fn: Callable[..., Any]
    make_data: Callable[..., dict]
    make_input: Callable[..., np.ndarray]
    in_size: Callable[[Size], int]
    out_size: Callable[[Size], int]
    footprint: Callable[[Size], Footprint]
    scalar: bool
    params: dict = field(default_factory=dict)
    min_n: int = 1
    fixed: dict = field(default_factory=dict)
    scalar_ops: Callable[[Size], int] | None = None
    native_primal: bool = False

    def size(self, n=None, m=None, depth=None, params=None) -> Size:
        """Complete a partial size with this problem's defaults and fixed values.

        Knobs the problem does not use must be ``None`` here; the caller (the sweep)
        only passes the knobs listed in ``self.knobs``.
        """
        given = {"n": n, "m": m, "depth": depth}
        for knob, value in given.items():
            if value is not None and knob not in self.knobs:
                raise UsageError(f"problem {self.name!r} has no {knob!r} knob")
        vals = {k: (v if v is not None else self.knobs[k][0]) if k in self.knobs else None
                for k, v in given.items()}
        merged = {k: float(d) for k, (d, _) in self.params.items()}
        for key, value in (params or {}).items():
            if key not in self.params:
                raise UsageError(f"problem {self.name!r} has no parameter {key!r}"
                                 f" (it has: {', '.join(self.params) or 'none'})")
            merged[key] = float(value)
        n_val = vals["n"] if vals["n"] is not None else self.fixed["n"]
        if n_val < self.min_n:
            raise UsageError(f"problem {self.name!r} needs n >= {self.min_n}, got {n_val}")
        partial = Size(n=n_val, m=vals["m"] if vals["m"] is not None else 0,
                       depth=vals["depth"], params=merged)
        # m of a problem without an m knob is its output size (1 for scalar output).
        if "m" not in self.knobs:
            partial = Size(n=partial.n, m=self.out_size(partial), depth=partial.depth,
                           params=merged)
        return partial

    def instantiate(self, size: Size, seed: int = 0, xp=np) -> "Instance":
        """Build the seeded constants and input for ``size``.

        Constants and input come from two independent streams spawned from ``seed``,
        so the same (problem, size, seed) always gives the same function and point.
        """
        data_seq, input_seq = np.random.SeedSequence(seed).spawn(2)
        data = self.make_data(np.random.default_rng(data_seq), size)
        x = np.asarray(self.make_input(np.random.default_rng(input_seq), size), dtype=float)
        if x.shape != (self.in_size(size),):
            raise AssertionError(f"{self.name}: input shape {x.shape} != ({self.in_size(size)},)")
        if xp is not np:
            data = {k: _convert(v, xp) for k, v in data.items()}
        fn = self.fn

        def f(x_):
            return fn(x_, data, xp)

        return Instance(problem=self, size=size, f=f, x=x, data=data)


def _convert(value, xp):
    """NumPy arrays (also inside lists and tuples) as ``xp`` arrays; the rest as is."""
    if isinstance(value, np.ndarray):
        return xp.asarray(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_convert(v, xp) for v in value)
    return value


@dataclass(frozen=True)
class Instance:
    """A problem at one size: ``f(x)`` is the plain function of the input ``x``."""

    problem: Problem
    size: Size
    f: Callable[[np.ndarray], Any]
    x: np.ndarray
    data: dict

    @property
    def in_size(self) -> int:
        return self.problem.in_size(self.size)

    @property
    def out_size(self) -> int:
        return self.problem.out_size(self.size)


def _load() -> dict:
    registry = {}
    for mod in _MODULES:
        problem = importlib.import_module(f"{__name__}.{mod}").PROBLEM
        registry[problem.name] = problem
    return registry


#: name -> Problem, in listing order.
PROBLEMS: dict = _load()


def get(name: str) -> Problem:
    """Return the registered problem ``name``; ``UsageError`` naming the choices if unknown."""
    try:
        return PROBLEMS[name]
    except KeyError:
        raise UsageError(f"unknown problem {name!r} (choose from: {', '.join(PROBLEMS)})") from None
