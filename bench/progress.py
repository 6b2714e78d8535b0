"""A one-line progress display for long sweeps, shown only on a terminal."""

from __future__ import annotations

import sys
import time


class Progress:
    """``[ 3/50  0:42] tanh-net forward n=16 m=4`` rewritten in place on stderr.

    Quiet (no output at all) when the stream is not a TTY, so logs and CI output stay
    clean; ``enabled`` overrides the detection (tests).
    """

    def __init__(self, total, stream=None, enabled=None):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.start = time.monotonic()
        self._width = 0

    def update(self, done, label):
        if not self.enabled:
            return
        mins, secs = divmod(int(time.monotonic() - self.start), 60)
        text = f"[{done:>{len(str(self.total))}}/{self.total} {mins}:{secs:02d}] {label}"
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def close(self):
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
