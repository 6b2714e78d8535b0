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

import numpy as np

from adcore import GuardError, calls

from .api import jacobian_from_tape, record_call, sweep
from .tape import Node, Tape, _Ref


def _same(a, b) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return np.shape(a) == np.shape(b) and bool(np.all(np.asarray(a) == np.asarray(b)))


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
    """

    def __init__(self, f, args, argnums=0, on_guard_failure="rerecord"):
        init_options(self, f, args, argnums, on_guard_failure)
        self._record(args)

    def _record(self, args):
        args = self._check(args)
        self.args = list(args)
        self.tape, self.out, self.out_index = record_call(self.f, args, self.argnums)
        self.in_shapes = [np.shape(args[a]) for a in self.argnums]

    def _check(self, args):
        args = list(args)
        for a in self.argnums:
            args[a] = calls.as_float_input(args[a], "tapes.record", a)
        return args

    def __len__(self):
        return len(self.tape)

    @property
    def nbytes(self) -> int:
        return self.tape.nbytes

    def _replayed(self, args):
        """(tape, out, out_index) at ``args``: replayed, or re-recorded if a guard fails."""
        args = self._check(args)
        shapes = [np.shape(args[a]) for a in self.argnums]
        others_same = all(args[i] is self.args[i] or _same(args[i], self.args[i])
                          for i in range(len(args)) if i not in self.argnums)
        if shapes != self.in_shapes or not others_same:
            return self._retrace(args, "input shapes or non-differentiated arguments changed")
        new = Tape()
        new.inputs = list(self.tape.inputs)
        values = []
        inputs = iter(args[a] for a in self.argnums)
        with np.errstate(all="ignore"):  # a failed guard may make the stale branch invalid
            for node in self.tape.nodes:
                if node.op is None:
                    out = next(inputs)
                    primals = ()
                else:
                    primals = tuple(values[p] if p >= 0 else c for p, c in zip(node.parents, node.primals))
                    out = node.op.primal(*primals, **node.params)
                values.append(out)
                new.nodes.append(Node(node.op, node.parents, primals, out, node.params))
        for guard in self.tape.guards:
            def deref(a):
                if isinstance(a, _Ref):
                    return values[a.index]
                if isinstance(a, (list, tuple)):
                    return type(a)(deref(b) for b in a)
                return a
            now = guard.func(*deref(guard.args), **{k: deref(v) for k, v in guard.kwargs.items()})
            if not _same(now, guard.result):
                return self._retrace(args, f"guard '{guard.name}' changed")
        new.guards = self.tape.guards
        out = values[self.out_index] if self.out_index is not None else self.out
        return new, out, self.out_index

    def _retrace(self, args, why):
        if self.on_guard_failure == "raise":
            raise GuardError(
                f"tapes.record: the recorded tape does not hold at the new input ({why}): the "
                "function would take a different branch. Record again at this input, or create "
                "the recording with on_guard_failure='rerecord'."
            )
        self.rerecords += 1
        self._record(args)
        return self.tape, self.out, self.out_index

    def value(self, *args):
        """f(*args) by replaying the tape."""
        return self._replayed(args)[1]

    def gradient(self, *args):
        """Reverse-mode gradient of a scalar f at ``args`` (one replay, one sweep)."""
        tape, out, out_index = self._replayed(args)
        calls.check_scalar_output(out, "Recording.gradient", "Recording.jacobian")
        grads = tuple(g[0] for g in sweep(tape, out, out_index, np.ones((1,))))
        return grads[0] if self.single else grads

    def jacobian(self, *args, chunk=None):
        """Reverse-mode Jacobian at ``args``, shape ``out.shape + in.shape``."""
        tape, out, out_index = self._replayed(args)
        return jacobian_from_tape(tape, out, out_index, self.in_shapes, chunk, self.single)


def record(f, *args, argnums=0, on_guard_failure="rerecord", compiled=False):
    """Record ``f(*args)`` once; replay it at new inputs (see :class:`Recording`).

    ``compiled=True``: replay with one compiled loop over a flat scalar tape, guards checked
    in the compiled sweep (:class:`tapes.compiled.CompiledRecording`). A ``numba.njit``
    ``f`` is always recorded in compiled code and re-recorded natively at each new input
    (:class:`tapes.numba_tape.NjitRecording`).
    """
    if calls.is_njit(f):
        from .numba_tape import NjitRecording
        return NjitRecording(f, args, argnums, on_guard_failure)
    if compiled:
        from .compiled import CompiledRecording
        return CompiledRecording(f, args, argnums, on_guard_failure)
    return Recording(f, args, argnums, on_guard_failure)
