"""Lowering a recorded tape to a small IR of steps: fused elementwise groups, views, eager ops.

A recorded tape (:class:`tapes.tape.Tape`; read here through its columns ``op_of``,
``out_of``, ``params_of``, ``starts``, ``args``, ``arg_nodes``, ``inputs``, so this module
needs nothing above :mod:`adcore`) is a list of rows in program order. :func:`lower` turns
it into a :class:`Plan`, a list of steps of three kinds:

``Fused``
    a maximal run of elementwise ops on float64 values of one shape ``S``, in record order,
    with full reductions (``sum``/``mean`` over every axis) of its values at the end. Its
    operands from outside the run (inputs, constants, earlier values, views of them) may
    have any shape that broadcasts to ``S``. One generated kernel runs the whole run per
    element (:mod:`adjit.fusion`): the forward sweep writes only the values other steps read,
    the reverse sweep recomputes the rest in registers (the adjoint of a fused group is
    itself fused), the tangent sweep pushes k directions through it.
``View``
    a basic index, transpose, reshape, expand_dims or squeeze whose result is a view of its
    operand: the value *and* the (co)tangent buffers are views of the operand's buffers, set
    up once per plan, so the step costs nothing when replayed, and the reverse sweep's
    scatter-add into the operand is the aliasing itself.
``Eager``
    every other op (matmul, axis reductions, linear algebra, FFTs, ops with parameters,
    float32 or complex values ...): run with the registry's own primal and JVP/VJP rules
    (:func:`adcore.rules.jvp` / :func:`adcore.rules.vjp`) on the plan's buffers; matmul
    writes into its buffer (BLAS, no temporary). This is the per-group fallback: an op the
    lowering does not fuse is swept by the eager rules, never dropped.

A run is broken by an eager step (which may read the run's values), by a change of shape
or dtype, and by an operand that is a reduction of the run itself (it is only known when the
loop ends). Views never break a run.
"""
from __future__ import annotations

import dataclasses
import numpy as np

from adcore.registry import ELEMENTWISE

#: guards on shapes only: a compiled replay is built for fixed input shapes (checked before
#: every replay), so these decisions cannot change and are not re-evaluated
SHAPE_QUERIES = frozenset({np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj,
                           np.isrealobj})
#: structural ops whose result is a view of their operand (then set up once per plan)
VIEW_OPS = frozenset({"getitem", "transpose", "reshape", "expand_dims", "squeeze"})
#: reductions a fused group can end with: over every axis, optionally scaled (mean)
REDUCTIONS = frozenset({"sum", "mean"})
_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)


@dataclasses.dataclass
class Fused:
    """One fused run. ``nodes``: rows in record order; ``reductions``: (row, source row,
    scale) -- ``row = scale * sum(source)``; ``shape``: the iteration shape ``S``."""

    shape: tuple
    nodes: list = dataclasses.field(default_factory=list)
    reductions: list = dataclasses.field(default_factory=list)

    @property
    def rows(self):
        return self.nodes + [r for r, _, _ in self.reductions]


@dataclasses.dataclass
class View:
    row: int
    source: int


@dataclasses.dataclass
class Eager:
    row: int


@dataclasses.dataclass
class Plan:
    """The lowered program: ``steps`` in execution order, per row its op, operands
    (``("row", i)`` or ``("const", value)``), params, shape and dtype, and whether it
    depends on a differentiated input (only those get (co)tangent buffers)."""

    steps: list
    ops: list
    operands: list
    params: list
    shapes: list
    dtypes: list
    active: list
    inputs: list
    fused_ops: int = 0
    eager_ops: int = 0
    view_ops: int = 0
    eager_names: dict = dataclasses.field(default_factory=dict)


def _is_const_scalar(v) -> bool:
    return isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, bool)


def _fusable_const(v) -> bool:
    """A constant operand a kernel can take: a real number or a real, numeric array."""
    if _is_const_scalar(v) or isinstance(v, (bool, np.bool_)):
        return True
    return isinstance(v, np.ndarray) and v.dtype.kind in "biuf"


def _ew_fusable(op, params, out_shape, dtype, operands, shapes, dtypes) -> bool:
    if op.kind != ELEMENTWISE or params or dtype != _F64 or op.nargs is None:
        return False
    for kind, v in operands:
        if kind == "const":
            if not _fusable_const(v):
                return False
            if isinstance(v, np.ndarray) and np.broadcast_shapes(v.shape, out_shape) != out_shape:
                return False
        elif (np.broadcast_shapes(shapes[v], out_shape) != out_shape
              or (dtypes[v] != _F64 and dtypes[v] != _F32)):  # numba: no float16 and such
            return False
    return True


def _full_reduction(op, params, in_shape) -> float | None:
    """The scale of a sum/mean over every axis (1 or 1/size); None for any other op."""
    if op is None or op.name not in REDUCTIONS:
        return None
    axes = params.get("axes")
    if axes is None or sorted(int(a) % max(len(in_shape), 1) for a in axes) != list(range(len(in_shape))):
        return None
    if set(params) - {"axes", "keepdims"}:
        return None
    size = int(np.prod(in_shape)) if in_shape else 1
    if op.name == "mean":
        return 1.0 / size if size else None
    return 1.0


def numpy_cone(tape, rows) -> set:
    """``rows`` and every row they are computed from: the values a guard reads are computed
    by NumPy's own primals (eager steps), so a decision replays exactly as the program
    took it -- a compiled ``exp`` may differ from NumPy's SIMD ``exp`` in the last bit."""
    cone, stack = set(), list(rows)
    while stack:
        i = stack.pop()
        if i in cone or i < 0:
            continue
        cone.add(i)
        stack.extend(tape.arg_nodes[tape.starts[i]:tape.starts[i + 1]])
    return cone


def lower(tape, numpy_rows=frozenset()) -> Plan:
    """The :class:`Plan` of a recorded tape (see the module docstring). ``numpy_rows``
    (e.g. :func:`numpy_cone` of the rows guards read) stay eager steps."""
    n = len(tape.op_of)
    ops, operands, params, shapes, dtypes, active = [], [], [], [], [], []
    inputs = set(tape.inputs)
    for i in range(n):
        s, e = tape.starts[i], tape.starts[i + 1]
        rows = list(tape.arg_nodes[s:e])
        vals = tape.args[s:e]
        ops.append(tape.op_of[i])
        operands.append([("row", p) if p >= 0 else ("const", v) for p, v in zip(rows, vals)])
        params.append(dict(tape.params_of[i]))
        out = tape.out_of[i]
        shapes.append(tuple(np.shape(out)))
        dtypes.append(np.result_type(out))
        active.append(i in inputs or any(p >= 0 and active[p] for p in rows))
    plan = Plan([], ops, operands, params, shapes, dtypes, active, list(tape.inputs))
    standin = {}  # row -> an unwritten array laid out as the program's buffer for it
    producer = {}  # row -> the Fused step that computes it (through views, too)
    current = None
    same_view = {}  # (source, op, params) -> the first row that took that view
    alias = {}  # a repeated view (x[:-1] written twice) -> its first row: one kernel operand
    for i in range(n):
        op = ops[i]
        if i in inputs:
            continue
        if alias:
            operands[i] = [("row", alias.get(v, v)) if kind == "row" else (kind, v)
                           for kind, v in operands[i]]
        ew = i not in numpy_rows and _ew_fusable(op, params[i], shapes[i], dtypes[i],
                                                  operands[i], shapes, dtypes)
        if ew:
            internal_ok = current is not None and current.shape == shapes[i]
            for kind, v in operands[i]:
                if (internal_ok and kind == "row" and producer.get(v) is current
                        and v not in current.nodes):
                    internal_ok = False  # a reduction (or a view) of this very run
            if not internal_ok:
                current = Fused(shapes[i])
                plan.steps.append(current)
            current.nodes.append(i)
            producer[i] = current
            plan.fused_ops += 1
            continue
        scale = _full_reduction(op, params[i], shapes[operands[i][0][1]]
                                if operands[i] and operands[i][0][0] == "row" else ())
        if (scale is not None and current is not None and dtypes[i] == _F64
                and i not in numpy_rows
                and operands[i][0][1] in current.nodes):
            current.reductions.append((i, operands[i][0][1], scale))
            producer[i] = current
            plan.fused_ops += 1
            continue
        if op is not None and op.name in VIEW_OPS and _is_view(op, params[i], operands[i],
                                                               shapes, dtypes, standin, i):
            src = operands[i][0][1]
            key = (src, op.name, repr(sorted(params[i].items())))
            if key in same_view:
                alias[i] = same_view[key]
            else:
                same_view[key] = i
            plan.steps.append(View(i, src))
            if src in producer:
                producer[i] = producer[src]
            plan.view_ops += 1
            continue
        plan.steps.append(Eager(i))
        plan.eager_ops += 1
        plan.eager_names[op.name] = plan.eager_names.get(op.name, 0) + 1
        current = None
    return plan


def _is_view(op, params, operands, shapes, dtypes, standin, row) -> bool:
    """The op's result is a view of its operand's buffer, for values (the buffer: C order,
    or itself a view) and for a batch of k (co)tangents (``(k,) + shape``) -- tried on
    unwritten stand-in arrays laid out like the program's buffers."""
    if len(operands) != 1 or operands[0][0] != "row":
        return False
    if op.name == "getitem" and not getattr(params.get("index"), "basic", False):
        return False
    src = operands[0][1]
    base = standin.get(src)
    if base is None:
        base = standin[src] = np.empty(shapes[src], dtypes[src])
    try:
        view = op.primal(base, **params)
        batch = np.empty((2,) + shapes[src], np.result_type(dtypes[src], np.float32))
        tview = op.jvp((batch,), view, base, **params)
    except Exception:  # noqa: BLE001 - anything unusual: the eager op is always right
        return False
    ok = (type(view) is np.ndarray and view.shape == shapes[row] and np.shares_memory(view, base)
          and type(tview) is np.ndarray and tview.shape == (2,) + shapes[row]
          and np.shares_memory(tview, batch))
    if ok:
        standin[row] = view
    return ok
