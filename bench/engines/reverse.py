"""Reverse mode: tapes' Wengert tape, recorded once, swept per chunk of outputs."""

from __future__ import annotations

import math

import numpy as np

from bench.engines import Engine
from bench.engines.forward import _AsArray, _fwdrev_version, tangent_width

#: Bytes of bookkeeping per recorded op (node object, parent references) assumed by
#: the memory estimate on top of the values the tape holds.
_OP_OVERHEAD = 512


class ReverseEngine(Engine):
    name = "reverse"
    summary = "tapes reverse mode (Wengert tape); one sweep per output chunk"
    requires = ("tapes:jacobian",)
    settings = {"chunk": (None, "output cotangent directions per reverse sweep (default: core's rule, <= 64)")}
    references = ("forward", "fd")

    def version(self):
        return "fwdrev " + _fwdrev_version()

    def build(self, f, x, scalar, settings):
        import tapes

        if scalar:
            return _AsArray(tapes.grad(f))
        return _AsArray(tapes.jacobian(f, chunk=settings.get("chunk")))

    def sizes(self, f, x, scalar, settings):
        import tapes

        tape = tapes.record(f, x)
        sizes = {"tape_len": len(tape), "tape_bytes": int(tape.nbytes)}
        if not scalar:
            width = tangent_width(int(np.size(f(x))), settings.get("chunk"))
            sizes["sweeps"] = math.ceil(int(np.size(f(x))) / width)
        return sizes

    def estimate_bytes(self, footprint, in_size, out_size, settings):
        width = tangent_width(out_size, settings.get("chunk"))
        return (footprint.data_bytes + 8 * in_size * (out_size + 1)
                + footprint.work_bytes * (2 + width) + _OP_OVERHEAD * footprint.ops)


ENGINE = ReverseEngine()
