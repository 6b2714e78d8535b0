"""``tapes.record``: one front door to the three kinds of recording.

* :class:`~tapes.replay.Recording` — recorded in Python, replayed in Python (the default);
* :class:`~tapes.compiled.CompiledRecording` — recorded in Python, replayed by compiled
  loops over a flat scalar tape (``compiled=True``);
* :class:`~tapes.compiled.NjitRecording` — a ``numba.njit`` function, recorded in compiled
  code at every call.

It sits above :mod:`tapes.replay` and :mod:`tapes.compiled` (which builds on it) and
imports the latter on first use: ``import tapes`` does not import numba.
"""
from __future__ import annotations

from adcore import calls

from .replay import Recording


def record(f, *args, argnums=0, on_guard_failure="rerecord", compiled=False):
    """Record ``f(*args)`` once; replay it at new inputs (see :class:`~tapes.replay.Recording`).

    ``compiled=True``: replay with one compiled loop over a flat scalar tape, guards checked
    in the compiled sweep (:class:`tapes.compiled.CompiledRecording`). A ``numba.njit``
    ``f`` is always recorded in compiled code and re-recorded natively at each new input
    (:class:`tapes.compiled.NjitRecording`).
    """
    if calls.is_njit(f):
        from .compiled import NjitRecording
        return NjitRecording(f, args, argnums, on_guard_failure)
    if compiled:
        from .compiled import CompiledRecording
        return CompiledRecording(f, args, argnums, on_guard_failure)
    return Recording(f, args, argnums, on_guard_failure)
