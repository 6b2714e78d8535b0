"""Progress a person can follow during long sweeps (``tqdm`` draws it).

On a terminal: one bar on stderr with the current record, the elapsed time and an ETA,
redrawn in place. Elsewhere (a CI log, a pipe): one plain line per record, so the log
says what ran and when, with nothing rewritten in place.
"""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    mins, secs = divmod(int(seconds), 60)
    hours, mins = divmod(mins, 60)
    return f"{hours}:{mins:02d}:{secs:02d}" if hours else f"{mins}:{secs:02d}"


class Progress:
    """Progress over ``total`` records: ``update(done, label)`` before each record runs.

    ``enabled`` forces the terminal bar on (True) or off (False; plain lines instead);
    by default it follows ``stream.isatty()``.
    """

    def __init__(self, total, stream=None, enabled=None, unit="record"):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        tty = self.stream.isatty() if enabled is None else enabled
        self.start = time.monotonic()
        self._bar = None
        if tty:
            from tqdm import tqdm
            self._bar = tqdm(total=total, file=self.stream, unit=unit, dynamic_ncols=True,
                             leave=False, bar_format="{n_fmt}/{total_fmt} {bar} {elapsed}<"
                                                     "{remaining} {postfix}")

    def update(self, done, label):
        if self._bar is not None:
            self._bar.n = done
            self._bar.set_postfix_str(label, refresh=False)
            self._bar.refresh()
            return
        if done >= self.total:
            return
        elapsed = time.monotonic() - self.start
        eta = f", ETA {_clock(elapsed / done * (self.total - done))}" if done else ""
        width = len(str(self.total))
        print(f"[{done + 1:>{width}}/{self.total} {_clock(elapsed)}{eta}] {label}",
              file=self.stream, flush=True)

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
