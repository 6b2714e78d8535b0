"""The two compiled kinds of ``tapes.record``: how tapes uses the compiled tier (adjit).

* :class:`CompiledRecording` — ``tapes.record(f, *args, compiled=True)``: ``f`` recorded
  in Python (a :class:`~tapes.replay.Recording`, whose staleness checks it shares), the
  tape lowered to a flat scalar tape and replayed by compiled loops with guards
  (:mod:`adjit.flat_replay`: the layout, the generated kernels, the lowering).
* :class:`NjitRecording` — ``tapes.record`` of a ``numba.njit`` function: re-recorded in
  compiled code at every call (:mod:`adjit.tape`).

Importing this module imports numba (through :mod:`adjit.flat_replay`); ``import tapes``
does not import it (:func:`tapes.record` imports it on first use).
"""
from __future__ import annotations

import threading

import numpy as np

from adcore import calls
from adcore.errors import NonScalarOutputError
from adcore.tracing import value_of
from adjit.flat_replay import FlatTape

from .api import jacobian_from_tape, njit_tape, sweep
from .replay import Recording, RecordingWrapper, _equal_values, _same, init_options
from .tape import _Ref


class _PythonAnswer:
    """A fresh recording answered by its Python tape, for the one case where the compiled
    forward sweep (float64) does not reproduce a decision ``f`` took at its own input —
    a float32 program with a value within float32 rounding of a threshold. The tape is
    exactly the branch ``f`` took, so this answer is right; the next call tries the
    compiled sweep again."""

    def __init__(self, recording, flat):
        self.r, self.flat = recording, flat

    def output(self):
        out = value_of(self.r.out)
        return out.copy() if isinstance(out, np.ndarray) else out

    def gradients(self):
        r = self.r
        seed = np.ones((1,), dtype=np.result_type(value_of(r.out), np.float32))
        return [np.asarray(g[0]).astype(d) for g, d in
                zip(sweep(r.tape, r.out, r.out_index, seed), self.flat.in_dtypes)]

    def jacobians(self):
        r = self.r
        jacs = jacobian_from_tape(r.tape, r.out, r.out_index, r.in_shapes, None, False)
        return [np.asarray(j).astype(d) for j, d in zip(jacs, self.flat.in_dtypes)]


class CompiledRecording(RecordingWrapper):
    """:class:`~tapes.replay.Recording` with a compiled replay (see
    :mod:`adjit.flat_replay`).

    ``len(rec)`` is the number of scalar ops on the flat tape, ``rec.nbytes`` the bytes it
    holds (34 per entry: opcode, two operand slots, two partials, a value),
    ``rec.entries`` the number of entries (ops, inputs, constants, guards),
    ``rec.rerecords`` how many times a changed guard forced a new recording.

    Never stale, like :class:`~tapes.replay.Recording` (whose checks it shares): a changed
    input shape or dtype, a non-differentiated argument that differs by value from the
    private copy taken when recording (also when changed in place), or a guard that comes
    out differently re-records (or raises :class:`adcore.GuardError`); a re-recording that
    fails (``f`` raises, or the new tape has an op without a compiled lowering) leaves the
    recording stale, so the next call records again. Results have the caller's dtypes (the
    output the dtype ``f`` returned, derivatives their input's dtype) although the sweeps
    compute in float64; decisions are re-evaluated in float64 too, so a float32 input within
    rounding of a threshold may re-record (or raise) where ``f`` itself would not branch.
    """

    def __init__(self, f, args, argnums=0, on_guard_failure="rerecord", recording=None):
        # recording: one already made of f at args (tapes.record(compiled=True) records
        # first, then picks the compiled layout)
        self.recording = recording or Recording(f, args, argnums, on_guard_failure)
        self._lock = threading.RLock()
        self.flat = None
        self._flatten()

    def _flatten(self):
        r = self.recording
        self.flat = None  # until the new flat tape exists: a failure leaves no stale one
        self.flat = FlatTape(r.tape, r.out_index, r.out, r.in_shapes, r.in_dtypes,
                             ref_type=_Ref, same=_same)
        self._recorded_x = self._x(r.args)


    @property
    def entries(self) -> int:
        return self.flat.n if self.flat is not None else 0

    def __len__(self):
        return self.flat.ops if self.flat is not None else 0

    @property
    def nbytes(self) -> int:
        return self.flat.nbytes if self.flat is not None else 0

    def _x(self, args):
        r = self.recording
        if not r.argnums:
            return np.zeros(0)
        return np.concatenate([np.ravel(np.asarray(args[a], dtype=np.float64))
                               for a in r.argnums])

    def _replay(self, args):
        """The flat tape after a forward sweep at ``args`` (re-recorded if needed); the
        caller holds ``self._lock``."""
        r = self.recording
        args, why = r.checked(args)
        if why is None and self.flat is None:
            why = "the last recording could not be compiled"
        if why is not None:
            return self._retrace(args, why)
        x = self._x(args)
        why = self.flat.forward(x)
        if why is not None:
            if _equal_values(x, self._recorded_x):
                # the float64 sweep disagrees with a decision f took at this very input: the
                # tape f recorded here is the answer (no GuardError, no re-record loop)
                return _PythonAnswer(r, self.flat)
            return self._retrace(args, why)
        return self.flat

    def _retrace(self, args, why):
        r = self.recording
        r.rerecord(args, why, raise_ok=self.flat is not None)
        self.flat = None  # if f raised: no flat tape, the next call records again
        self._flatten()
        if self.flat.forward(self._x(args)) is not None:
            # the float64 sweep disagrees with a decision f took at this very input: answer
            # from the tape f just recorded (never a GuardError at the recording's own input)
            return _PythonAnswer(r, self.flat)
        return self.flat

    def value(self, *args):
        """f(*args) by the compiled forward sweep."""
        with self._lock:
            return self._replay(args).output()

    def gradient(self, *args):
        """Reverse-mode gradient of a scalar f at ``args``: one compiled forward sweep and one
        compiled reverse sweep."""
        with self._lock:
            flat = self._replay(args)
            calls.check_scalar_output(flat.output(), "Recording.gradient", "Recording.jacobian")
            grads = tuple(flat.gradients())
            return grads[0] if self.recording.single else grads

    def jacobian(self, *args, chunk=None):
        """Reverse-mode Jacobian at ``args``, shape ``out.shape + in.shape`` (one compiled
        sweep per output element)."""
        with self._lock:
            flat = self._replay(args)
            jacs = tuple(flat.jacobians())
            return jacs[0] if self.recording.single else jacs

    def summary(self, limit: int = 50) -> str:
        f = self.flat
        if f is None:
            return "Compiled tape: none (the last recording failed; the next call records again)"
        return (f"Compiled tape: {f.ops} scalar ops, {f.n} entries ({f.guard_entries} guards "
                f"compiled, {len(f.pyguards)} checked in Python), {self.nbytes} bytes\n"
                + self.recording.tape.summary(limit))

    __str__ = summary


class NjitRecording:
    """``tapes.record`` of a numba.njit function: evaluate and differentiate at new inputs.

    Each call re-runs the compiled recording at the new input (nanoseconds per op,
    :mod:`adjit.tape`), so the tape always follows the branch that input takes: a guard
    cannot go stale and no GuardError is ever raised (``on_guard_failure`` is accepted for
    the common signature). ``len(rec)`` is the number of tape entries of the latest
    recording (ops with two or more tape operands; one-operand ops are folded, see
    :mod:`adjit.tape`) and ``rec.nbytes`` its size (24 bytes per entry).
    """

    def __init__(self, f, args, argnums=0, on_guard_failure="rerecord"):
        init_options(self, f, args, argnums, on_guard_failure)
        self._engine = njit_tape()
        self._entries = 0
        self.value(*args)

    def __len__(self):
        return self._entries

    @property
    def nbytes(self) -> int:
        return self._entries * self._engine.ENTRY_BYTES

    def _run(self, args, then):
        with self._engine.recording(self.f, args, set(self.argnums), "tapes.record") as rec:
            self._entries = rec.entries
            return then(rec)

    def value(self, *args):
        return self._run(args, lambda rec: rec.value)

    def gradient(self, *args):
        def then(rec):
            if rec.ndim != 0:
                raise NonScalarOutputError("Recording.gradient: the output is not a scalar; "
                                           "use Recording.jacobian")
            g = self._engine.gradients(rec, self.argnums)
            return g[0] if self.single else g
        return self._run(args, then)

    def jacobian(self, *args, chunk=None):
        res = self._run(args, lambda rec: self._engine.jacobians(rec, self.argnums))
        return res[0] if self.single else res


__all__ = ["CompiledRecording", "NjitRecording"]
