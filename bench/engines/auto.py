"""Automatic mode choice: ``fwdrev.jacobian(f, mode="auto")``.

The first call measures one forward pass, one recording and one reverse sweep at the input
and picks the cheaper mode (:func:`fwdrev.choose_mode`); it is timed as ``first_call_s``.
Later calls run the chosen engine, so the steady-state time is that mode's -- the report
shows it beside both, and ``sizes`` says which was chosen and why.
"""

from __future__ import annotations

from bench.engines import Engine
from bench.engines.forward import _AsArray, _fwdrev_version


class AutoEngine(Engine):
    name = "auto"
    summary = "fwdrev.jacobian(mode='auto'): the mode measured cheaper at the first call"
    requires = ("fwdrev:jacobian",)
    settings = {"chunk": (None, "directions per pass / cotangents per sweep (default: core's rule)")}
    references = ("reverse", "forward", "fd")

    def version(self):
        return "fwdrev " + _fwdrev_version()

    def build(self, f, x, scalar, settings):
        import fwdrev

        return _AsArray(fwdrev.jacobian(f, mode="auto", chunk=settings.get("chunk")))

    def sizes(self, f, x, scalar, settings):
        import fwdrev

        choice = fwdrev.choose_mode(f, x, chunk=settings.get("chunk"))
        return {"mode": choice.mode, "estimate_forward_s": choice.forward_s,
                "estimate_reverse_s": choice.reverse_s, "tape_bytes": choice.tape_bytes}

    def estimate_bytes(self, footprint, in_size, out_size, settings):
        from bench.engines import forward, reverse

        return max(forward.ENGINE.estimate_bytes(footprint, in_size, out_size, settings),
                   reverse.ENGINE.estimate_bytes(footprint, in_size, out_size, settings))


ENGINE = AutoEngine()
