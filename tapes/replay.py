"""Record once, replay at new inputs — with guards, so a replay never follows a stale branch.

``tapes.record(f, *args)`` traces ``f`` once. ``value``, ``gradient`` and ``jacobian`` at
new inputs re-run the recorded ops in record order on the new values (no Python code of
``f`` runs), then sweep backwards. Every decision ``f`` took by looking at a traced
value — a comparison, ``argmax``, ``bool(x)``, a ``np.where`` condition — was recorded
as a guard. A replay re-evaluates each guard; if any comes out differently, ``f`` would
have taken another branch, so the recording is redone at the new input
(``on_guard_failure="rerecord"``, the default) or :class:`adcore.GuardError` is raised
(``"raise"``). Kinks inside registered ops (abs, maximum, relu, clip, max) need no guard:
their rules are re-evaluated at the new values.
"""
from __future__ import annotations

import threading

import numpy as np

from adcore import GuardError, calls
from adcore.tracing import Traced, value_of

from .api import jacobian_from_tape, record_call, sweep
from .tape import Tape, _Ref


def _equal_values(a, b) -> bool:
    """Equal shapes and values, NaN equal to NaN (a NaN input or guard result is the same
    decision every time it is replayed)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    try:
        eq = np.asarray(a == b)
        if eq.shape != a.shape:  # an elementwise comparison NumPy refused
            return False
        if a.dtype.kind in "fc" and b.dtype.kind in "fc":
            eq = eq | (np.isnan(a) & np.isnan(b))
        return bool(np.all(eq))
    except (TypeError, ValueError):
        return False


def _same(a, b) -> bool:
    """Two guard results (or argument values) are the same decision: equal shapes and
    values, NaN == NaN; tuples (``np.nonzero``) element by element."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if a is b:
        return True
    return _equal_values(a, b)


def _deref(a, values):
    """A guard's argument with each ``_Ref(i)`` replaced by ``values[i]``."""
    if isinstance(a, _Ref):
        return values[a.index]
    if isinstance(a, (list, tuple)):
        return type(a)(_deref(b, values) for b in a)
    return a


def guard_holds(guard, values) -> bool:
    """The decision ``guard`` recorded comes out the same on the replayed ``values``."""
    now = guard.func(*_deref(guard.args, values),
                     **{k: _deref(v, values) for k, v in guard.kwargs.items()})
    return _same(now, guard.result)


# -- non-differentiated arguments: compared by value against a private snapshot ----------

def _snapshot(a):
    """A private copy of a non-differentiated argument, taken at record time: arrays are
    copied (a caller changing ``c[:] = 5`` in place must not change the snapshot),
    lists/tuples/dicts are walked; other objects are kept by reference."""
    if isinstance(a, np.ndarray):
        return ("array", type(a), a.copy())
    if isinstance(a, (list, tuple)):
        return ("seq", type(a), tuple(_snapshot(b) for b in a))
    if isinstance(a, dict):
        return ("dict", type(a), tuple((k, _snapshot(v)) for k, v in a.items()))
    return ("obj", type(a), a)


def _matches(a, snap) -> bool:
    """``a`` is the same argument as the snapshot: same type, dtype, shape and values
    (NaN == NaN) — not merely the same object, which may have been changed in place."""
    kind, typ, content = snap
    if type(a) is not typ:
        return False
    if kind == "array":
        if a.dtype != content.dtype or a.shape != content.shape:
            return False
        if isinstance(a, np.ma.MaskedArray) and not _equal_values(
                np.ma.getmaskarray(a), np.ma.getmaskarray(content)):
            return False
        return _equal_values(np.asarray(a), np.asarray(content))
    if kind == "seq":
        return len(a) == len(content) and all(_matches(x, s) for x, s in zip(a, content))
    if kind == "dict":
        return (list(a.keys()) == [k for k, _ in content]
                and all(_matches(a[k], s) for k, s in content))
    if a is content:
        return True
    if isinstance(a, Traced):  # a value of an outer derivative call: its tangent counts too
        return False
    if a is None or isinstance(a, (np.generic, int, float, complex, str, bytes)):
        return _same(a, content)
    try:
        return bool(a == content)
    except Exception:  # noqa: BLE001 - an object without a usable ==: treat it as changed
        return False


class RecordingWrapper:
    """What a compiled replay of a :class:`Recording` (``self.recording``) shares with it:
    its options, its tape and its count of re-recordings."""

    @property
    def on_guard_failure(self):
        return self.recording.on_guard_failure

    @property
    def rerecords(self):
        return self.recording.rerecords

    @property
    def tape(self):
        return self.recording.tape


def init_options(rec, f, args, argnums, on_guard_failure):
    """The attributes every kind of recording shares, validated once."""
    if on_guard_failure not in ("rerecord", "raise"):
        raise ValueError("on_guard_failure must be 'rerecord' or 'raise'")
    rec.f = f
    rec.on_guard_failure = on_guard_failure
    rec.argnums, rec.single = calls.normalize_argnums(argnums, len(args), "tapes.record")
    rec.rerecords = 0


class Recording:
    """A function recorded once at some arguments; evaluate and differentiate it at others.

    ``len(rec)`` is the number of recorded ops, ``rec.nbytes`` the bytes the tape holds,
    ``rec.tape`` the :class:`~tapes.tape.Tape` (``rec.tape.summary()`` prints it),
    ``rec.rerecords`` how many times a failed guard forced a new recording.

    A replay is never stale. It re-records (or, with ``on_guard_failure="raise"``, raises
    :class:`adcore.GuardError`) when a guard comes out differently, when a differentiated
    input has another shape or dtype, or when a non-differentiated argument differs *by
    value* from a private copy taken at record time (so ``c[:] = 5`` on the same array
    counts as a change; NaN equals NaN). If ``f`` raises while re-recording, the error
    propagates and the recording is marked stale: the next call records again. One
    recording may be used from several threads (a lock serialises replay and sweep).
    Objects other than arrays, numbers, strings and lists/tuples/dicts of them are
    compared with ``==`` (by identity for most classes): state changed inside such an
    object, or in a global or closure ``f`` reads, is not detected.
    """

    def __init__(self, f, args, argnums=0, on_guard_failure="rerecord"):
        init_options(self, f, args, argnums, on_guard_failure)
        self._lock = threading.RLock()
        self._valid = False
        self._record(args)

    def _record(self, args):
        """Record ``f(*args)``; commit the new tape only if ``f`` returned normally. A
        failure marks the recording stale (the next call records again)."""
        args = self._check(args)
        self._valid = False
        snaps = [None if i in self.argnums else _snapshot(a) for i, a in enumerate(args)]
        tape, out, out_index = record_call(self.f, args, self.argnums)
        self.args = list(args)
        self._snaps = snaps
        self.tape, self.out, self.out_index = tape, out, out_index
        self.in_shapes = [np.shape(args[a]) for a in self.argnums]
        self.in_dtypes = [np.result_type(value_of(args[a])) for a in self.argnums]
        self._valid = True

    def _check(self, args):
        args = list(args)
        for a in self.argnums:
            args[a] = calls.as_float_input(args[a], "tapes.record", a, complex_ok=True)
        return args

    def __len__(self):
        return len(self.tape)

    @property
    def nbytes(self) -> int:
        return self.tape.nbytes

    def _unchanged(self, args):
        """None if ``args`` fit the current recording (shapes, dtypes, non-differentiated
        values); else why not."""
        if not self._valid:
            return "the last recording failed"
        if [np.shape(args[a]) for a in self.argnums] != self.in_shapes:
            return "input shapes changed"
        if [np.result_type(value_of(args[a])) for a in self.argnums] != self.in_dtypes:
            return "input dtypes changed"
        for i, snap in enumerate(self._snaps):
            if snap is None:
                continue
            if not _matches(args[i], snap):
                return f"non-differentiated argument {i} changed"
            # the tape's constants may be the recorded object itself (or views of it): it
            # must still hold the recorded values, even if an equal copy is passed now
            if args[i] is not self.args[i] and not _matches(self.args[i], snap):
                return f"the array recorded as argument {i} was changed in place"
        return None

    def checked(self, args):
        """(args, why): the arguments checked and converted as when recording, and None if
        they fit the current recording, else why not (the replay must re-record)."""
        if len(args) != len(self._snaps):
            raise TypeError(f"tapes.record: the function was recorded with {len(self._snaps)} "
                            f"argument(s), got {len(args)}; record it again")
        args = self._check(args)
        return args, self._unchanged(args)

    def rerecord(self, args, why, raise_ok=True):
        """Record again at ``args`` because the recording does not hold there (``why``), or
        raise :class:`adcore.GuardError` with ``on_guard_failure="raise"`` (and
        ``raise_ok``: a compiled wrapper whose own layout is valid). If ``f`` raises, the
        recording stays stale and the next call records again."""
        if self.on_guard_failure == "raise" and self._valid and raise_ok:
            raise GuardError(
                f"tapes.record: the recorded tape does not hold at the new input ({why}): the "
                "function would take a different branch. Record again at this input, or create "
                "the recording with on_guard_failure='rerecord'."
            )
        self._record(args)
        self.rerecords += 1

    def _replayed(self, args):
        """(tape, out, out_index) at ``args``: replayed, or re-recorded if a guard fails.
        The caller holds ``self._lock``."""
        args, why = self.checked(args)
        if why is not None:
            return self._retrace(args, why)
        new = Tape()
        new.inputs = list(self.tape.inputs)
        values = []
        inputs = iter(args[a] for a in self.argnums)

        changed = None
        with np.errstate(all="ignore"):  # a failed guard may make the stale branch invalid
            for node in self.tape.nodes:
                if node.op is None:
                    out = next(inputs)
                    primals = ()
                else:
                    primals = tuple(values[p] if p >= 0 else c for p, c in zip(node.parents, node.primals))
                    try:
                        out = node.op.primal(*primals, **node.params)
                    except (ArithmeticError, ValueError, np.linalg.LinAlgError) as e:
                        # the recorded branch fails here (solve of a now singular matrix):
                        # the program would have taken another -- record it again
                        return self._retrace(args, f"op {node.op.name} failed on replay ({e})")
                    # an op whose result kind depends on the values (eigvals: real, or
                    # complex for a complex pair) changes the program downstream
                    if np.result_type(out).kind != np.result_type(value_of(node.out)).kind:
                        return self._retrace(args, f"op {node.op.name} now returns "
                                                   f"{np.result_type(out)}")
                values.append(out)
                new.append(node.op, node.parents, primals, out, node.params)
            for guard in self.tape.guards:
                if not guard_holds(guard, values):
                    changed = guard.name
                    break
        if changed is not None:
            return self._retrace(args, f"guard '{changed}' changed")
        new.guards = self.tape.guards
        out = values[self.out_index] if self.out_index is not None else self.out
        return new, out, self.out_index

    def _retrace(self, args, why):
        self.rerecord(args, why)
        return self.tape, self.out, self.out_index

    def value(self, *args):
        """f(*args) by replaying the tape (a new array: never the recording's own)."""
        with self._lock:
            out = self._replayed(args)[1]
            return out.copy() if isinstance(out, np.ndarray) else out

    def gradient(self, *args):
        """Reverse-mode gradient of a scalar f at ``args`` (one replay, one sweep)."""
        with self._lock:
            tape, out, out_index = self._replayed(args)
            calls.check_scalar_output(out, "Recording.gradient", "Recording.jacobian")
            seed = np.ones((1,) + np.shape(value_of(out)),
                           dtype=np.result_type(value_of(out), np.float32))
            # a gradient has its input's dtype, as tapes.grad's
            grads = tuple(g[0].astype(d, copy=False) if isinstance(g[0], np.ndarray) else g[0]
                          for g, d in zip(sweep(tape, out, out_index, seed), self.in_dtypes))
        return grads[0] if self.single else grads

    def jacobian(self, *args, chunk=None):
        """Reverse-mode Jacobian at ``args``, shape ``out.shape + in.shape``."""
        with self._lock:
            tape, out, out_index = self._replayed(args)
            calls.check_single_output(out, "Recording.jacobian")
            return jacobian_from_tape(tape, out, out_index, self.in_shapes, chunk, self.single)

