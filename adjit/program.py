"""Running a lowered tape (:mod:`adjit.lowering`) on preallocated buffers.

A :class:`Program` owns one value buffer per materialised row (inputs are copied into
theirs; views alias their source's buffer; fused groups and eager ops write into theirs)
and, per number of directions k, one (co)tangent buffer of shape ``(k,) + shape`` per row
that depends on an input. Buffers are allocated on first use and reused by every replay:
no array is allocated per op, so a large program pays no page faults after its first call.

* :meth:`forward` -- values at new inputs (fused kernels, eager primals), then the guards
  are the caller's business (the values are in :meth:`value_of`);
* :meth:`reverse` -- cotangents of the inputs for k seeds of the output (``(k,) +
  out.shape``): fused groups run their reverse kernels, views cost nothing, eager ops run
  :func:`adcore.rules.vjp` and add into their operands' buffers;
* :meth:`tangent` -- values and k tangent directions of the output (forward mode).

Unreached (co)tangents are ``-0.0`` in the buffers (see :mod:`adjit.fusion`); eager rules
get them as structural-zero masks, and results leave with ``+ 0.0``.
"""
from __future__ import annotations

import numpy as np

from adcore import rules

from . import fusion
from .lowering import Eager, Fused, View

_F64 = np.dtype(np.float64)


def _as_view(buf, shape):
    """``buf`` seen with ``shape`` -- a view, never a copy: kernels write into it (setting
    ``.shape`` raises where ``reshape`` would silently copy)."""
    view = buf.view()
    view.shape = shape
    return view


def _marks(a):
    """The unreached entries of a real buffer (a bool array), or None if there are none."""
    if a.dtype.kind != "f":
        return None
    marks = np.signbit(a) & (a == 0)
    return marks if marks.any() else None


def _unmarked(a):
    """``(a, marks)`` for an eager rule: its unreached entries as 0.0 and their mask (the
    rule's structural zeros), or ``(a, None)`` when there are none (complex buffers carry
    no marks)."""
    marks = _marks(a)
    return (a, None) if marks is None else (np.where(marks, 0.0, a), marks)


def _matmul_dead(marks, left, nda, ndb, shape):
    """Where a matmul cotangent is unreached, from the marks of ``g`` (see
    :meth:`Program._matmul_vjp`); None if nowhere."""
    if left:  # dA: g's row (B a matrix) or g's entry (B a vector: an outer product)
        dead = np.all(marks, axis=-1)[..., None] if ndb == 2 else marks[..., None]
    elif nda == 2:  # dB: g's column (B a matrix) or g's row (g @ A, B a vector)
        dead = np.all(marks, axis=-2)[..., None, :] if ndb == 2 else np.all(marks, axis=-1)[:, None]
    else:  # A a vector: outer products again
        dead = marks[:, None, :] if ndb == 2 else marks[:, None]
    dead = np.broadcast_to(dead, shape)
    return dead if dead.any() else None


def _offset(program, row):
    """(root, byte offset) of a row's buffer inside its root's: the order of addresses."""
    root = program.root[row]
    a, b = program.values[row], program.values[root]
    if a is None or b is None:
        return (root, 0)
    return (root, a.__array_interface__["data"][0] - b.__array_interface__["data"][0])


def _pad(shape, nd):
    return (1,) * (nd - len(shape)) + tuple(shape)


class _Group:
    """A fused step bound to the program's buffers: its kernel layout and arguments."""

    def __init__(self, program, step: Fused):
        plan = program.plan
        self.step = step
        shape = step.shape or (1,)
        self.dims = tuple(int(d) for d in shape)
        nd = len(self.dims)
        position = {row: p for p, row in enumerate(step.nodes)}
        consumers_outside = program.read_outside(step)
        self.ext_refs, ext_flags, self.scalars = [], [], []
        ext_index = {}
        nodes, special = [], []
        for row in step.nodes:
            refs = []
            for j, (kind, v) in enumerate(plan.operands[row]):
                if kind == "row" and v in position:
                    refs.append(("n", position[v]))
                elif kind == "const" and np.ndim(v) == 0:
                    refs.append(("s", len(self.scalars)))
                    self.scalars.append(float(v))
                else:
                    key = ("row", v) if kind == "row" else ("const", id(v))
                    if key not in ext_index:
                        ext_index[key] = len(self.ext_refs)
                        self.ext_refs.append((kind, v))
                        shp = plan.shapes[v] if kind == "row" else np.shape(v)
                        padded = _pad(shp, len(step.shape)) if step.shape else (1,)
                        flags = tuple(bool(a == 1 and b != 1) for a, b in zip(padded, shape))
                        ext_flags.append((flags, kind == "row" and plan.active[v]))
                    refs.append(("e", ext_index[key]))
            op = plan.ops[row]
            exponent = (self.scalars[refs[1][1]] if op.name == "power" and refs[1][0] == "s"
                        else None)
            special.append(fusion.special_power(exponent))
            nodes.append((op.name, tuple(refs)))
        self.out_rows = [row for row in step.nodes if row in consumers_outside]
        self.red_rows = [r for r, _, _ in step.reductions]
        self.red_scale = np.array([s for _, _, s in step.reductions] or [0.0])
        layout = fusion.GroupLayout(
            ndim=nd, ext=ext_flags, scalars=len(self.scalars), nodes=nodes,
            active=[plan.active[row] for row in step.nodes],
            outs=[position[r] for r in self.out_rows],
            reductions=[position[src] for _, src, _ in step.reductions], special=special)
        layout.write_order = sorted(
            (j for j, (_, act) in enumerate(ext_flags) if act),
            key=lambda j: _offset(program, self.ext_refs[j][1]))
        self.layout = layout
        self.mod = fusion.kernels(layout)
        self.active_ext = [j for j, (_, act) in enumerate(ext_flags) if act]
        self.nd = nd
        self.ext_pad = [(_pad(program.plan.shapes[v] if kind == "row" else np.shape(v), nd)
                         if step.shape else (1,)) for kind, v in self.ext_refs]
        self._const = {}
        for j, (kind, v) in enumerate(self.ext_refs):
            if kind == "const":
                self._const[j] = np.asarray(v, dtype=np.float64).reshape(self.ext_pad[j])
        self.red = np.zeros(max(len(self.red_rows), 1))
        self._ext = self._outs = None
        self._rev_args = {}

    def ext_values(self, program):
        """The operands as kernel arguments. Buffers are allocated once, so the list is
        built once -- unless an operand is (a view of) an input, which is the caller's
        array, bound anew at every call."""
        if self._ext is not None:
            return self._ext
        ext = [self._const[j] if kind == "const" else _as_view(program.values[v], self.ext_pad[j])
               for j, (kind, v) in enumerate(self.ext_refs)]
        if not any(kind == "row" and program.root[v] in program.plan.inputs
                   for kind, v in self.ext_refs):
            self._ext = ext
        return ext

    def _reverse_args(self, program, k, cot):
        """(output cotangents, reduction cotangents, operand cotangents) as kernel arguments
        for k directions: views of the program's buffers for k, made once."""
        args = self._rev_args.get(k)
        if args is None:
            go = [_as_view(cot[r], (k,) + self.dims) if cot[r] is not None
                  else np.full((k,) + self.dims, -0.0) for r in self.out_rows]
            gred = np.full((k, max(len(self.red_rows), 1)), -0.0)
            gext = [_as_view(cot[self.ext_refs[j][1]], (k,) + self.ext_pad[j])
                    for j in self.active_ext]
            args = self._rev_args[k] = (go, gred, gext)
        return args

    def forward(self, program):
        outs = self._outs
        if outs is None:
            outs = self._outs = [_as_view(program.values[r], self.dims) for r in self.out_rows]
        self.mod.forward(*self.ext_values(program), *self.scalars, *outs, self.red, *self.dims)
        for m, row in enumerate(self.red_rows):
            program.values[row][...] = self.red[m] * self.red_scale[m]

    def reverse(self, program, k, cot, touched):
        for r in self.out_rows + self.red_rows:
            if cot[r] is not None:
                program.claim(r, cot, touched)  # not reached this sweep: -0.0, not stale
        go, gred, gext = self._reverse_args(program, k, cot)
        for m, row in enumerate(self.red_rows):
            gred[:, m] = cot[row].reshape(k) * self.red_scale[m]
        for j in self.active_ext:
            program.claim(self.ext_refs[j][1], cot, touched)
        kernel = self.mod.reverse1 if k == 1 else self.mod.reverse
        kernel(*self.ext_values(program), *self.scalars, *go, gred, *gext, self.red,
               *self.dims, k)
        for m, row in enumerate(self.red_rows):  # (the forward may have been deferred)
            program.values[row][...] = self.red[m] * self.red_scale[m]

    def tangent(self, program, k, tan):
        text = [_as_view(tan[self.ext_refs[j][1]], (k,) + self.ext_pad[j])
                for j in self.active_ext]
        outs = [_as_view(program.values[r], self.dims) for r in self.out_rows]
        touts = [_as_view(tan[r], (k,) + self.dims) if program.plan.active[r]
                 else np.empty((k,) + self.dims) for r in self.out_rows]
        tred = np.full((k, max(len(self.red_rows), 1)), -0.0)
        kernel = self.mod.tangent1 if k == 1 else self.mod.tangent
        kernel(*self.ext_values(program), *self.scalars, *text, *outs, *touts, self.red, tred,
               *self.dims, k)
        for m, row in enumerate(self.red_rows):
            program.values[row][...] = self.red[m] * self.red_scale[m]
            if program.plan.active[row]:
                t = tred[:, m] * self.red_scale[m]
                t[np.signbit(tred[:, m]) & (tred[:, m] == 0)] = -0.0
                tan[row].reshape(k)[...] = t


class Program:
    """A lowered tape bound to buffers (see the module docstring). ``plan``: the
    :class:`~adjit.lowering.Plan`; ``output``: the row of the program's output."""

    def __init__(self, plan, output: int):
        self.plan = plan
        self.output = output
        n = len(plan.ops)
        # which steps read each row (a fused group's value leaves the loop only if read)
        self._readers = [[] for _ in range(n)]
        for s, step in enumerate(plan.steps):
            rows = step.rows if isinstance(step, Fused) else [step.row]
            for row in rows:
                for kind, v in plan.operands[row]:
                    if kind == "row":
                        self._readers[v].append(s)
        self.extra_reads = {output}
        self.values = [None] * n
        self.root = list(range(n))  # the row whose buffer a view aliases
        self._step_of = {}
        for s, step in enumerate(plan.steps):
            for row in (step.rows if isinstance(step, Fused) else [step.row]):
                self._step_of[row] = s
        for i in plan.inputs:
            self.values[i] = np.empty(plan.shapes[i], plan.dtypes[i])
        steps = []
        for step in plan.steps:
            if isinstance(step, View):
                src = self.values[step.source]
                view = plan.ops[step.row].primal(src, **plan.params[step.row])
                # the lowering tried the view on buffers laid out like these
                assert isinstance(view, np.ndarray) and np.shares_memory(view, src)
                self.values[step.row] = view
                self.root[step.row] = self.root[step.source]
                steps.append(step)
                continue
            if isinstance(step, Eager):
                self.values[step.row] = np.empty(plan.shapes[step.row], plan.dtypes[step.row])
            else:
                for row in step.rows:
                    self.values[row] = np.empty(plan.shapes[row], _F64)
            steps.append(step)
        self.steps = steps
        #: entries of one direction's (co)tangents: what a chunk of k directions costs / k
        self.entries = sum(int(np.prod(s, dtype=int)) for s in plan.shapes)
        self._views = [s for s in steps if isinstance(s, View)]
        self._input_set = frozenset(plan.inputs)
        self._owned = {i: True for i in plan.inputs}
        self._groups = {}
        self._cots = {}
        self._tans = {}

    def read_outside(self, step: Fused) -> set:
        """Rows of a fused group read by another step or by the caller (output, guards)."""
        s = self._step_of[step.nodes[0]]
        out = set()
        for row in step.nodes:
            if row in self.extra_reads or any(r != s for r in self._readers[row]):
                out.add(row)
        return out

    def group(self, step):
        g = self._groups.get(id(step))
        if g is None:
            g = self._groups[id(step)] = _Group(self, step)
        return g

    def prepare(self, guard_rows=()):
        """Bind every fused group to its kernels (generating/loading them). A group's
        values that no other step reads live only in registers: no buffer."""
        self.guard_rows = set(guard_rows)
        self.extra_reads |= self.guard_rows
        self._interior = set()
        for step in self.steps:
            if isinstance(step, Fused):
                g = self.group(step)
                self._interior |= set(step.nodes) - set(g.out_rows)
        for row in self._interior:
            self.values[row] = None

    # ---- forward -------------------------------------------------------------------
    def _eager_primal(self, row):
        plan = self.plan
        args = [self.values[v] if kind == "row" else v for kind, v in plan.operands[row]]
        op = plan.ops[row]
        buf = self.values[row]
        if op.name == "matmul" and buf.ndim >= 1 and all(
                isinstance(a, np.ndarray) and a.dtype == buf.dtype for a in args):
            np.matmul(args[0], args[1], out=buf)  # BLAS straight into the buffer
            return
        out = op.primal(*args, **plan.params[row])
        if np.shape(out) != buf.shape or np.result_type(out).kind != buf.dtype.kind:
            raise ArithmeticError(f"op {op.name} now returns {np.result_type(out)} "
                                  f"{np.shape(out)}")
        buf[...] = out

    def _bind_inputs(self, inputs):
        """Read float64 inputs in place (no copy): their views are re-derived (a few µs);
        other inputs are converted into the input's buffer."""
        plan = self.plan
        for i, x in zip(plan.inputs, inputs):
            if (type(x) is np.ndarray and x.dtype == plan.dtypes[i] and x.shape == plan.shapes[i]
                    and x.flags.c_contiguous):  # laid out as the lowering assumed
                self.values[i] = x
            else:
                if self.values[i] is None or not self._owned[i]:
                    self.values[i] = np.empty(plan.shapes[i], plan.dtypes[i])
                    self._owned[i] = True
                self.values[i][...] = x
                continue
            self._owned[i] = False
        for step in self._views:
            self.values[step.row] = plan.ops[step.row].primal(self.values[step.source],
                                                              **plan.params[step.row])

    def deferrable(self) -> bool:
        """The last step is a fused group whose only results are reductions, one of them
        the output: its reverse kernel computes them too, so a gradient need not run its
        forward (one pass over its operands instead of two)."""
        last = self._last_computing()
        return (isinstance(last, Fused) and not self.group(last).out_rows
                and self.output in self.group(last).red_rows
                and not self.guard_rows & set(last.rows))  # guards read values first

    def _last_computing(self):
        """The last step that computes something (views after it cost nothing)."""
        return next((s for s in reversed(self.steps) if not isinstance(s, View)), None)

    def forward(self, inputs, defer_last=False):
        """Values of every row at ``inputs`` (one array per tape input, in order); with
        ``defer_last`` (see :meth:`deferrable`) the last group's values are left to the
        reverse sweep."""
        self._bind_inputs(inputs)
        skip = self._last_computing() if defer_last and self.deferrable() else None
        steps = [s for s in self.steps if s is not skip] if skip is not None else self.steps
        with np.errstate(all="ignore"):
            for step in steps:
                if isinstance(step, Fused):
                    self.group(step).forward(self)
                elif isinstance(step, Eager):
                    self._eager_primal(step.row)

    # ---- buffers of (co)tangents -----------------------------------------------------
    def _buffers(self, store, k):
        bufs = store.get(k)
        if bufs is not None:
            return bufs
        plan = self.plan
        bufs = [None] * len(plan.ops)
        for i in range(len(plan.ops)):
            if not plan.active[i] or self.root[i] != i or i in self._interior:
                continue
            # float64 (complex128) whatever the value's dtype: a float32 operand broadcast
            # over many entries accumulates its cotangent in float64, cast once at the end
            dt = np.complex128 if plan.dtypes[i].kind == "c" else np.float64
            bufs[i] = np.empty((k,) + plan.shapes[i], dt)
        for step in self.steps:
            if isinstance(step, View) and plan.active[step.row]:
                row = step.row
                view = plan.ops[row].jvp((bufs[step.source],), self.values[row],
                                         self.values[step.source], **plan.params[row])
                if not (view.shape == (k,) + plan.shapes[row]
                        and np.shares_memory(view, bufs[step.source])):
                    raise AssertionError(f"{plan.ops[row].name}: the batched view is a copy")
                bufs[row] = view
        store[k] = bufs
        return bufs

    # ---- reverse ---------------------------------------------------------------------
    def reverse(self, seed):
        """Cotangents of the inputs (each ``(k,) + shape``, ``-0.0`` where unreached) for
        the output cotangents ``seed`` (``(k,) + out.shape``). Call :meth:`forward` first."""
        k = seed.shape[0]
        cot = self._buffers(self._cots, k)
        plan = self.plan
        out = self.output
        touched = set()  # roots whose buffer holds this sweep's cotangents (else stale)
        self.claim(out, cot, touched)
        cot[out][...] = np.where(seed == 0, -0.0, seed)  # a seed's zeros are structural
        with np.errstate(all="ignore"):
            for step in reversed(self.steps):
                if isinstance(step, Fused):
                    if any(self.root[r] in touched for r in step.rows if plan.active[r]):
                        self.group(step).reverse(self, k, cot, touched)
                elif isinstance(step, Eager):
                    if self.root[step.row] in touched and plan.active[step.row]:
                        self._eager_vjp(step.row, cot, touched)
        for i in plan.inputs:
            self.claim(i, cot, touched)  # an input nothing reached: all -0.0
        return [cot[i] for i in plan.inputs]

    def claim(self, row, cot, touched):
        """Make ``row``'s root buffer part of this sweep: filled with ``-0.0`` (nothing
        reached yet) the first time a step adds into it. Filling lazily lets the first
        writer of a whole buffer (a matmul) write instead of add."""
        root = self.root[row]
        if root not in touched:
            cot[root].fill(-0.0)
            touched.add(root)

    def _matmul_operands(self, row, dtype):
        plan = self.plan
        (ka, a), (kb, b) = plan.operands[row]
        A = self.values[a] if ka == "row" else a
        B = self.values[b] if kb == "row" else b
        ok = (isinstance(A, np.ndarray) and isinstance(B, np.ndarray) and A.ndim in (1, 2)
              and B.ndim in (1, 2) and A.dtype == B.dtype == dtype and dtype.kind == "f")
        return ok, (ka, a, A), (kb, b, B)

    def _matmul_vjp(self, row, cot, touched) -> bool:
        """matmul of matrices and vectors, k cotangents at once: each operand's cotangent is
        one BLAS call (or one outer product), written straight into its buffer when nothing
        else has reached it yet, else added. False: not this case (the eager rule runs).

        Unreached entries of the cotangent (``-0.0``) are zeros to BLAS, which is exact
        when the other operand is finite (0 * inf is the one product a structural zero
        must not make); the result's unreached entries are then those the engines' rule
        gives (:func:`adcore.ops_structural._matmul_vjp_sz`): a row of ``dA`` whose row of
        ``g`` is all unreached, a column of ``dB`` whose column of ``g`` is."""
        g = cot[row]
        ok, (ka, a, A), (kb, b, B) = self._matmul_operands(row, g.dtype)
        if not ok:
            return False
        marks = _marks(g)
        plan = self.plan
        for kind, v, left in ((ka, a, True), (kb, b, False)):
            if kind != "row" or not plan.active[v]:
                continue
            other = B if left else A
            if marks is not None and not np.all(np.isfinite(other)):
                return False  # (before any write: the eager rule then does both operands)
        for kind, v, left in ((ka, a, True), (kb, b, False)):
            if kind != "row" or not plan.active[v]:
                continue
            dst = cot[v]
            fresh = self.root[v] == v and v not in touched and dst.flags.c_contiguous
            out = dst if fresh else None
            # dA = g B^T, dB = A^T g (Giles 2008, "Collected matrix derivative results"),
            # with a leading batch axis; a vector operand makes them outer products
            if left:
                c = (np.matmul(g, B.T, out=out) if B.ndim == 2
                     else np.multiply(g[..., None], B, out=out))
            elif A.ndim == 2:
                c = np.matmul(A.T, g, out=out) if B.ndim == 2 else np.matmul(g, A, out=out)
            else:
                c = (np.multiply(A[:, None], g[:, None, :], out=out) if B.ndim == 2
                     else np.multiply(g[:, None], A, out=out))
            # an input's cotangent is read by no step (it leaves with + 0.0): marks there
            # would only cost passes over the buffer
            marked = self.root[v] not in self._input_set
            dead = (None if marks is None or not marked
                    else _matmul_dead(marks, left, A.ndim, B.ndim, dst.shape))
            if fresh:
                touched.add(v)
                if marked:
                    np.add(dst, 0.0, out=dst)  # reached entries: no -0.0 left as a mark
                if dead is not None:
                    np.copyto(dst, -0.0, where=dead)
            else:
                self.claim(v, cot, touched)
                keep = True if dead is None else ~dead
                np.add(dst, c, out=dst, where=keep)
                if marked:
                    np.add(dst, 0.0, out=dst, where=keep)
        return True

    def _matmul_jvp(self, row, tan) -> bool:
        """The forward-mode twin of :meth:`_matmul_vjp`: tA B + A tB into the buffer; an
        output entry is unreached where the engines' rule says
        (:func:`adcore.ops_structural._matmul_jvp_sz`): its row of tA and its column of tB
        all unreached."""
        dst = tan[row]
        ok, (ka, a, A), (kb, b, B) = self._matmul_operands(row, dst.dtype)
        if not ok:
            return False
        plan = self.plan
        act_a, act_b = ka == "row" and plan.active[a], kb == "row" and plan.active[b]
        ma = _marks(tan[a]) if act_a else None
        mb = _marks(tan[b]) if act_b else None
        if (ma is not None and not np.all(np.isfinite(B))) or (
                mb is not None and not np.all(np.isfinite(A))):
            return False  # 0 * inf: the eager rule's structural zeros
        first = True
        if act_a:
            np.matmul(tan[a], B, out=dst)
            first = False
        if act_b:
            tB = tan[b]
            if B.ndim == 2:
                c = np.matmul(A, tB, out=dst if first else None)
            else:
                c = np.matmul(tB, A.T if A.ndim == 2 else A, out=dst if first else None)
            if not first:
                dst += c
        np.add(dst, 0.0, out=dst)
        if (act_a and ma is None) or (act_b and mb is None):
            return True  # a direction with no unreached entries: the output is reached
        k = dst.shape[0]
        dead = True
        if act_a:
            dead = np.all(ma if A.ndim == 2 else ma[:, None, :], axis=-1, keepdims=True)
        if act_b:
            dead = dead & np.all(mb if B.ndim == 2 else mb[..., None], axis=-2, keepdims=True)
        full = (k, A.shape[0] if A.ndim == 2 else 1, B.shape[1] if B.ndim == 2 else 1)
        dead = np.reshape(np.broadcast_to(dead, full), dst.shape)
        if dead.any():
            np.copyto(dst, -0.0, where=dead)
        return True

    def _eager_vjp(self, row, cot, touched):
        plan = self.plan
        if plan.ops[row].name == "matmul" and self._matmul_vjp(row, cot, touched):
            return
        g, gsz = _unmarked(cot[row])
        operands = plan.operands[row]
        needed = tuple(kind == "row" and plan.active[v] for kind, v in operands)
        primals = tuple(self.values[v] if kind == "row" else v for kind, v in operands)
        grads, szs = rules.vjp(plan.ops[row], g, needed, self.values[row], primals,
                               plan.params[row], gsz)
        for (kind, v), c, sz in zip(operands, grads, szs):
            if c is None or kind != "row":
                continue
            self.claim(v, cot, touched)
            dst = cot[v]
            c = np.asarray(c)
            if dst.dtype.kind != "c" and c.dtype.kind == "c":
                c = c.real
            if sz is None:
                np.add(dst, c, out=dst)
                np.add(dst, 0.0, out=dst)  # reached: a -0.0 sum is no longer a mark
            else:
                keep = ~np.broadcast_to(sz, dst.shape)
                np.add(dst, c, out=dst, where=keep)
                np.add(dst, 0.0, out=dst, where=keep)

    # ---- forward mode ------------------------------------------------------------------
    def tangent(self, inputs, seeds):
        """Values and the output's k tangents (``(k,) + out.shape``) for input tangents
        ``seeds`` (per input ``(k,) + shape``)."""
        k = seeds[0].shape[0]
        tan = self._buffers(self._tans, k)
        plan = self.plan
        self._bind_inputs(inputs)
        for i, t in zip(plan.inputs, seeds):
            tan[i][...] = np.where(np.asarray(t) == 0, -0.0, t)
        with np.errstate(all="ignore"):
            for step in self.steps:
                if isinstance(step, Fused):
                    self.group(step).tangent(self, k, tan)
                elif isinstance(step, Eager):
                    self._eager_primal(step.row)
                    if plan.active[step.row] and not (
                            plan.ops[step.row].name == "matmul" and self._matmul_jvp(step.row, tan)):
                        self._eager_jvp(step.row, k, tan)
        return tan[self.output]

    def _eager_jvp(self, row, k, tan):
        plan = self.plan
        operands = plan.operands[row]
        tangents, szs = [], []
        for kind, v in operands:
            if kind == "row" and plan.active[v]:
                t, sz = _unmarked(tan[v])
                tangents.append(t)
                szs.append(sz)
            else:
                tangents.append(None)
                szs.append(None)
        primals = tuple(self.values[v] if kind == "row" else v for kind, v in operands)
        t, sz = rules.jvp(plan.ops[row], self.values[row], primals, tuple(tangents),
                          plan.params[row], k, tuple(szs))
        dst = tan[row]
        t = np.asarray(t)
        if dst.dtype.kind != "c" and t.dtype.kind == "c":
            t = t.real
        dst[...] = t
        np.add(dst, 0.0, out=dst)  # a reached zero is +0.0 (-1 * 0 is no mark) ...
        if sz is not None:  # ... and the structural zeros are marks
            np.copyto(dst, -0.0, where=np.broadcast_to(sz, dst.shape))
