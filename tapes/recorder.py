"""``tapes.record``: one front door to the three kinds of recording.

* :class:`~tapes.replay.Recording` — recorded in Python, replayed in Python (the default);
* :class:`~tapes.compiled.CompiledRecording` — recorded in Python, replayed by compiled
  loops over a flat scalar tape (``compiled="scalar"``);
* :class:`~tapes.fused_replay.FusedRecording` — recorded in Python, replayed as fused
  numba kernels (``compiled="fused"``);
* :class:`~tapes.compiled.NjitRecording` — a ``numba.njit`` function, recorded in compiled
  code at every call.

It sits above :mod:`tapes.replay`, :mod:`tapes.compiled` and :mod:`tapes.fused_replay`
(which build on it) and imports the latter two on first use: ``import tapes`` does not
import numba.
"""
from __future__ import annotations

import numpy as np

from adcore import calls

from .replay import Recording


def record(f, *args, argnums=0, on_guard_failure="rerecord", compiled=False):
    """Record ``f(*args)`` once; replay it at new inputs (see :class:`~tapes.replay.Recording`).

    ``compiled`` picks how the recording is replayed:

    * ``False`` (default): in Python, op by op (:class:`~tapes.replay.Recording`);
    * ``"fused"``: lowered to fused numba kernels -- runs of elementwise ops one loop each,
      matmul through BLAS, buffers allocated once, both modes
      (:class:`tapes.fused_replay.FusedRecording`); any op runs, those without a kernel
      by their eager rules;
    * ``"scalar"``: one compiled loop over a flat scalar tape, guards checked in the
      compiled sweep (:class:`tapes.compiled.CompiledRecording`): for programs of scalars;
      ops without a scalar lowering (matmul, ...) raise an error naming them;
    * ``True``: recorded first, then ``"scalar"`` if every recorded value is a single
      number, else ``"fused"``.

    Every kind is guarded the same way (a changed branch re-records, or raises
    :class:`adcore.GuardError` with ``on_guard_failure="raise"``). A ``numba.njit`` ``f``
    is always recorded in compiled code and re-recorded natively at each new input
    (:class:`tapes.compiled.NjitRecording`).
    """
    if compiled not in (False, True, "scalar", "fused"):
        raise ValueError(f"tapes.record: compiled must be False, True, 'scalar' or 'fused', "
                         f"not {compiled!r}")
    if calls.is_njit(f):
        from .compiled import NjitRecording
        return NjitRecording(f, args, argnums, on_guard_failure)
    if compiled is False:
        return Recording(f, args, argnums, on_guard_failure)
    recording = None
    if compiled is True:
        recording = Recording(f, args, argnums, on_guard_failure)
        scalar = all(np.size(v) <= 1 for v in recording.tape.out_of)
        compiled = "scalar" if scalar else "fused"
    if compiled == "scalar":
        from adjit.scalar_rules import JitUnsupportedError

        from .compiled import CompiledRecording
        try:
            return CompiledRecording(f, args, argnums, on_guard_failure, recording=recording)
        except JitUnsupportedError:
            if recording is None:  # asked for "scalar": its refusal, naming the op
                raise
            # compiled=True: a scalar program with an op the flat layout lacks (a 1x1
            # matmul) is fused instead
    from .fused_replay import FusedRecording
    return FusedRecording(f, args, argnums, on_guard_failure, recording=recording)
