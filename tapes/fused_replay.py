"""Compiled replay of array programs: a recording lowered to fused numba kernels.

``tapes.record(f, *args, compiled="fused")`` (and ``compiled=True`` for array programs,
see :func:`tapes.record`)
records ``f`` once in Python, lowers the tape (:mod:`adjit.lowering`: runs of elementwise
ops become one fused kernel each, views become aliases, everything else stays an eager op
with the registry's rules) and replays it on buffers allocated once (:mod:`adjit.program`).
Kernels are generated from the registry and cached on disk, keyed by the program's
structure (:mod:`adjit.fusion`).

The replay is guarded exactly as :class:`~tapes.replay.Recording` (whose checks it shares):
a changed input shape or dtype, a changed non-differentiated argument, an eager op that
fails or changes its result's kind, or a guard (a comparison, ``argmax``, a ``where``
condition) that comes out differently re-records at the new input (or raises
:class:`adcore.GuardError` with ``on_guard_failure="raise"``) -- never a derivative of the
wrong branch. Inside another derivative call (traced arguments) the recording answers with
the Python replay.

Modes: :meth:`FusedRecording.gradient` and :meth:`~FusedRecording.vjp` sweep in reverse;
:meth:`~FusedRecording.jvp` pushes tangents forward through the same fused groups (k
directions per sweep); :meth:`~FusedRecording.jacobian` takes either mode (``mode="auto"``:
forward when the inputs have fewer entries than the output), in chunks of directions.
"""
from __future__ import annotations

import threading

import numpy as np

from adcore import calls
from adcore.tracing import Traced, value_of
from adjit.lowering import SHAPE_QUERIES, lower, numpy_cone
from adjit.program import Program

from .api import vjp as tapes_vjp
from .replay import Recording, RecordingWrapper, guard_holds
from .tape import _Ref

#: a chunk of (co)tangent directions holds at most this many buffer entries (64 MiB)
CHUNK_ENTRIES = 1 << 23


class FusedRecording(RecordingWrapper):
    """A recording replayed as fused compiled kernels (see the module docstring).

    ``len(rec)`` counts the recorded ops; ``rec.plan`` is the lowered program (its
    ``steps``, ``fused_ops``, ``eager_ops`` and ``eager_names``: which ops run eagerly),
    ``rec.rerecords`` how many times a guard forced a new recording. ``str(rec)`` shows
    the groups.
    """

    def __init__(self, f, args, argnums=0, on_guard_failure="rerecord", recording=None):
        self.recording = recording or Recording(f, args, argnums, on_guard_failure)
        self._lock = threading.RLock()
        self._program = None
        self._program_of = None
        self._complex_of = None

    # -- what was recorded ------------------------------------------------------------
    def __len__(self):
        return len(self.recording)

    @property
    def nbytes(self) -> int:
        return self.recording.nbytes

    @property
    def plan(self):
        """The lowered program (:class:`adjit.lowering.Plan`) of the current recording."""
        with self._lock:
            return self._bound().plan

    def _bound(self) -> Program:
        r = self.recording
        if self._program is None or self._program_of is not r.tape:
            self._program = None
            self._guards = [g for g in r.tape.guards if g.func not in SHAPE_QUERIES]
            guard_rows = {a.index for g in self._guards for a in _refs(g)}
            plan = lower(r.tape, numpy_cone(r.tape, guard_rows))
            program = Program(plan, r.out_index)
            program.prepare(guard_rows)
            self._program, self._program_of = program, r.tape
        return self._program

    # -- replay -------------------------------------------------------------------------
    def _nested(self, args) -> bool:
        """Answer with the Python replay: inside another derivative call (traced
        arguments), for an output that does not depend on the inputs, and for complex
        programs (complex values are never fused, and their derivatives follow the
        engines' complex conventions, which the Python replay implements)."""
        r = self.recording
        if self._complex_of is not r.tape:  # complex anywhere: inputs, output, intermediates
            self._complex = any(np.iscomplexobj(value_of(v)) for v in r.tape.out_of)
            self._complex_of = r.tape
        return any(isinstance(a, Traced) for a in args) or r.out_index is None or self._complex

    def _replay(self, args, defer_last=False) -> Program:
        """The program with every value computed at ``args`` (re-recorded if the recording
        does not hold there); ``defer_last``: a reverse sweep follows at once, which
        computes the last group's reductions itself (:meth:`adjit.program.Program.forward`).
        The caller holds ``self._lock``."""
        r = self.recording
        args, why = r.checked(args)
        if why is not None:
            return self._retrace(args, why)
        program = self._bound()
        try:
            program.forward([args[a] for a in r.argnums], defer_last)
        except (ArithmeticError, ValueError, np.linalg.LinAlgError) as e:
            return self._retrace(args, f"an op failed on replay ({e})")
        values = program.values
        for guard in self._guards:
            if not guard_holds(guard, values):
                return self._retrace(args, f"guard '{guard.name}' changed")
        return program

    def _retrace(self, args, why) -> Program:
        r = self.recording
        self._program = None
        r.rerecord(args, why)
        program = self._bound()
        program.forward([args[a] for a in r.argnums])
        return program

    def _diff(self, args):
        return tuple(args[a] for a in self.recording.argnums)

    def _call_with(self, args, diff):
        """f's replay with the differentiated arguments replaced (for nested calls)."""
        full = list(args)
        for a, d in zip(self.recording.argnums, diff):
            full[a] = d
        return self.recording.value(*full)

    def _output(self, program):
        out = program.values[program.output]
        dtype = np.result_type(value_of(self.recording.out))
        return out.astype(dtype) if out.ndim else dtype.type(out[()])

    # -- the API ------------------------------------------------------------------------
    def value(self, *args):
        """f(*args) by the compiled forward sweep (a new array)."""
        with self._lock:
            if self._nested(args):
                return self.recording.value(*args)
            return self._output(self._replay(args))

    def value_and_gradient(self, *args):
        """(f, reverse-mode gradient) of a scalar f at ``args``: one forward and one reverse
        sweep of the fused kernels. Gradients have their input's dtype."""
        with self._lock:
            if self._nested(args):
                return self.recording.value(*args), self.recording.gradient(*args)
            program = self._replay(args, defer_last=True)
            shape = program.plan.shapes[program.output]
            calls.check_scalar_output(np.empty(shape), "Recording.gradient", "Recording.jacobian")
            grads = self._leaving(program.reverse(np.ones((1,) + shape)), 0)
            out = self._output(program)
            return out, grads[0] if self.recording.single else tuple(grads)

    def gradient(self, *args):
        """Reverse-mode gradient of a scalar f at ``args``."""
        return self.value_and_gradient(*args)[1]

    def _constant(self, args, tangent=False):
        """(f, zero derivatives) when f does not depend on the differentiated inputs."""
        r = self.recording
        out = r.value(*args)
        if tangent:
            return out, np.zeros(np.shape(out), np.result_type(out, np.float32))
        zeros = [np.zeros(s, d) for s, d in zip(r.in_shapes, r.in_dtypes)]
        return out, zeros[0] if r.single else tuple(zeros)

    def vjp(self, args, cotangent):
        """(f(*args), the cotangents of the differentiated inputs for the output cotangent
        ``cotangent`` (shape of the output)): one reverse sweep."""
        with self._lock:
            args = tuple(args)
            if self._nested(args) or np.iscomplexobj(cotangent):
                if self.recording.out_index is None:
                    return self._constant(args)
                out, pullback = tapes_vjp(lambda *d: self._call_with(args, d), *self._diff(args))
                res = pullback(cotangent)
                return out, res[0] if self.recording.single else res
            program = self._replay(args)
            out = self._output(program)
            if np.shape(cotangent) != np.shape(out):
                raise ValueError(f"Recording.vjp: the cotangent has shape {np.shape(cotangent)}, "
                                 f"the output {np.shape(out)}")
            seed = np.asarray(cotangent, dtype=np.float64).reshape((1,) + np.shape(out))
            grads = self._leaving(program.reverse(seed), 0, gradient=False)
            return out, grads[0] if self.recording.single else tuple(grads)

    def jvp(self, args, tangents):
        """(f(*args), the output's tangent for input tangents ``tangents`` (one per
        differentiated input, its shape; a single array if there is one)): one forward
        sweep of the fused tangent kernels."""
        with self._lock:
            r = self.recording
            args = tuple(args)
            if r.single and not isinstance(tangents, (tuple, list)):
                tangents = (tangents,)
            if len(tangents) != len(r.in_shapes) or any(
                    np.shape(t) != sh for t, sh in zip(tangents, r.in_shapes)):
                raise ValueError(f"Recording.jvp: tangents of shapes "
                                 f"{[np.shape(t) for t in tangents]} for inputs of shapes "
                                 f"{r.in_shapes}")
            if any(np.iscomplexobj(t) for t in tangents) or any(d.kind == "c" for d in r.in_dtypes):
                raise NotImplementedError(
                    "Recording.jvp: complex inputs or tangents are not supported by the fused "
                    "replay (tapes holds no forward mode); use dualnum.jvp(f, primals, "
                    "tangents), or Recording.vjp / jacobian in reverse mode")
            if self._nested(args):
                if r.out_index is None:
                    return self._constant(args, tangent=True)
                # tapes does not import the forward engine: J t from the Python replay
                jacs = r.jacobian(*args)
                jacs = (jacs,) if r.single else jacs
                tan = sum(np.tensordot(j, t, axes=np.ndim(t)) for j, t in zip(jacs, tangents))
                return r.value(*args), tan
            program = self._replay(args)
            seeds = [np.asarray(t, dtype=np.float64).reshape((1,) + s)
                     for t, s in zip(tangents, r.in_shapes)]
            tan = program.tangent([args[a] for a in r.argnums], seeds)
            out = self._output(program)
            return out, (tan[0] + 0.0).astype(np.result_type(out, np.float32), copy=False)

    def jacobian(self, *args, mode="auto", chunk=None):
        """The Jacobian at ``args``, shape ``out.shape + in.shape`` (a tuple for several
        inputs): ``mode="reverse"`` sweeps chunks of output directions, ``"forward"``
        chunks of input directions, ``"auto"`` the side with fewer entries."""
        if mode not in ("auto", "forward", "reverse"):
            raise ValueError("mode must be 'auto', 'forward' or 'reverse'")
        with self._lock:
            r = self.recording
            if self._nested(args):
                return r.jacobian(*args, chunk=chunk)
            program = self._replay(args)
            out = self._output(program)
            m = int(np.size(out))
            n = sum(int(np.prod(s, dtype=int)) for s in r.in_shapes)
            if mode == "auto":
                mode = "forward" if n < m else "reverse"
            cap = max(1, CHUNK_ENTRIES // max(program.entries, 1))
            if mode == "reverse":
                jacs = self._jac_reverse(program, out, m, max(1, chunk or min(m, cap)))
            else:
                jacs = self._jac_forward(program, args, out, max(1, chunk or min(n, cap)))
            return jacs[0] if r.single else tuple(jacs)

    def _jac_reverse(self, program, out, m, chunk):
        r = self.recording
        rows = [np.empty((m,) + s, dtype=d)
                for s, d in zip(r.in_shapes, self._derivative_dtypes(False))]
        for start in range(0, m, chunk):
            k = min(chunk, m - start)
            seed = np.zeros((k, m))
            seed[np.arange(k), start + np.arange(k)] = 1.0
            grads = self._leaving(program.reverse(seed.reshape((k,) + np.shape(out))), None,
                                  gradient=False)
            for dst, g in zip(rows, grads):
                dst[start:start + k] = g
        return [j.reshape(np.shape(out) + s) for j, s in zip(rows, r.in_shapes)]

    def _jac_forward(self, program, args, out, chunk):
        r = self.recording
        inputs = [args[a] for a in r.argnums]
        shape_out = np.shape(out)
        m = int(np.size(out))
        jacs = []
        for which, (s, d) in enumerate(zip(r.in_shapes, self._derivative_dtypes(False))):
            n = int(np.prod(s, dtype=int))
            cols = np.empty((n, m), dtype=d)
            for start in range(0, n, chunk):
                k = min(chunk, n - start)
                seeds = [np.zeros((k,) + t) for t in r.in_shapes]
                seeds[which].reshape(k, n)[np.arange(k), start + np.arange(k)] = 1.0
                tan = program.tangent(inputs, seeds)
                cols[start:start + k] = tan.reshape(k, m) + 0.0
            jacs.append(np.ascontiguousarray(cols.T).reshape(shape_out + s))
        return jacs

    def _derivative_dtypes(self, gradient):
        """A gradient has its input's dtype (as :meth:`tapes.replay.Recording.gradient`);
        a Jacobian or VJP the result type of input and output (float32 in, float32 out;
        float32 in, float64 out: float64), as the engines'."""
        r = self.recording
        if gradient:
            return r.in_dtypes
        out = np.result_type(value_of(r.out))
        return [np.result_type(d, out) for d in r.in_dtypes]

    def _leaving(self, grads, row, gradient=True):
        """Buffers (float64) leave as new arrays in the derivatives' dtypes; ``-0.0``
        (never reached) becomes ``0.0``. ``row``: one direction, or None for all."""
        dts = self._derivative_dtypes(gradient)
        return [((g[row] if row is not None else g) + 0.0).astype(d, copy=False)
                for g, d in zip(grads, dts)]

    def summary(self) -> str:
        plan = self.plan
        lines = [f"Fused replay: {plan.fused_ops} ops in "
                 f"{sum(1 for s in plan.steps if type(s).__name__ == 'Fused')} fused kernels, "
                 f"{plan.view_ops} views, {plan.eager_ops} eager ops "
                 f"({', '.join(f'{k} x{v}' for k, v in sorted(plan.eager_names.items())) or 'none'})"]
        for step in plan.steps:
            kind = type(step).__name__
            if kind == "Fused":
                names = [plan.ops[r].name for r in step.nodes]
                red = [plan.ops[r].name for r, _, _ in step.reductions]
                lines.append(f"  fused {step.shape}: {' '.join(names)}"
                             + (f" -> {' '.join(red)}" if red else ""))
            else:
                lines.append(f"  {kind.lower()} {plan.ops[step.row].name} {plan.shapes[step.row]}")
        return "\n".join(lines)

    __str__ = summary


def _refs(guard):
    found = []

    def walk(a):
        if isinstance(a, _Ref):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            for b in a:
                walk(b)
    walk(guard.args)
    walk(list(guard.kwargs.values()))
    return found

