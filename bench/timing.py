"""Wall-clock timing with warm-up excluded and an adaptive repeat count.

Procedure (:func:`time_call`):

1. the first call is timed on its own (``first_call_s``: tracing, recording, JIT
   compiling, lazy imports) and excluded from the steady-state numbers;
2. calibration: run batches of ``number`` calls, doubling ``number`` until one batch
   lasts at least ``min_sample_s`` (so each sample is long against the clock's
   resolution and the loop overhead); calibration batches double as warm-up and are
   not used;
3. sampling: up to ``samples`` batches of ``number`` calls; each sample is the batch
   time / ``number``.  Sampling stops early once ``max_time_s`` is spent and at least
   3 samples exist (1 if a single call already exceeds ``max_time_s``).

Reported: the median (the headline number: robust to a noisy neighbour), the minimum
(the least-disturbed run), and the spread ``(max - min) / median`` (how noisy it was).
The clock is a parameter so tests can drive the procedure with a fake clock.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Timing:
    """Result of :func:`time_call`; all times in seconds per call."""

    first_call_s: float | None
    median_s: float
    min_s: float
    spread: float
    number: int                      # calls per sample (the adaptive repeat count)
    samples: list = field(default_factory=list)


#: Upper bound on the repeat count, so a function that is (or whose fake clock is)
#: too fast to time still terminates.
MAX_NUMBER = 1 << 20


def _batch(fn, number, clock):
    start = clock()
    for _ in range(number):
        fn()
    return clock() - start


def time_call(fn, *, min_sample_s=0.02, samples=5, max_time_s=2.0,
              first_call=True, clock=time.perf_counter) -> Timing:
    """Time ``fn()`` (no arguments, result ignored) following the module's procedure.

    ``first_call=False`` when the caller already made (and timed) the first call.
    """
    first = _batch(fn, 1, clock) if first_call else None
    number = 1
    while True:
        elapsed = _batch(fn, number, clock)
        if elapsed >= min_sample_s or number >= MAX_NUMBER:
            break
        number *= 2
    # A single call slower than the whole budget: one sample is all we can afford.
    needed = 1 if elapsed / number >= max_time_s else 3
    per_call = []
    spent = 0.0
    while len(per_call) < samples and (len(per_call) < needed or spent < max_time_s):
        t = _batch(fn, number, clock)
        spent += t
        per_call.append(t / number)
    median = statistics.median(per_call)
    spread = (max(per_call) - min(per_call)) / median if median > 0 else 0.0
    return Timing(first_call_s=first, median_s=median, min_s=min(per_call), spread=spread,
                  number=number, samples=per_call)
