"""Forward mode: dualnum's dual numbers, ``chunk`` tangent directions per pass."""

from __future__ import annotations

import math

import numpy as np

from bench.engines import Engine


class ForwardEngine(Engine):
    name = "forward"
    summary = "dualnum forward mode (dual numbers); ceil(n/chunk) passes"
    requires = ("dualnum:jacobian",)
    settings = {"chunk": (None, "tangent directions per forward pass (default: core's rule, <= 64)")}
    references = ("reverse", "fd")

    def version(self):
        return "fwdrev " + _fwdrev_version()

    def build(self, f, x, scalar, settings):
        import dualnum

        chunk = settings.get("chunk")
        op = dualnum.grad if scalar else dualnum.jacobian
        return _AsArray(op(f, chunk=chunk))

    def sizes(self, f, x, scalar, settings):
        # Each pass carries `width` tangents next to every value (dualnum stores them
        # as shape (width,) + value.shape).  Derived from dualnum's chunking rule, which
        # it does not report itself; tangent_bytes is the output's tangent block.
        width = tangent_width(x.size, settings.get("chunk"))
        out = np.asarray(f(x))
        return {"tangent_width": width, "passes": math.ceil(x.size / width),
                "out_tangent_bytes": 8 * width * out.size}

    def estimate_bytes(self, footprint, in_size, out_size, settings):
        width = tangent_width(in_size, settings.get("chunk"))
        return (footprint.data_bytes + 8 * in_size * (out_size + 1)
                + footprint.work_bytes * (1 + width))


def tangent_width(n, chunk):
    """Directions per pass for ``n`` inputs: ``chunk``, or the core's default rule."""
    from adcore.calls import default_chunk

    return max(1, min(n, chunk)) if chunk else default_chunk(n)


class _AsArray:
    """Wrap a derivative function so it always returns a float ndarray."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x):
        return np.asarray(self.fn(x), dtype=float)


def _fwdrev_version():
    from importlib import metadata
    try:
        return metadata.version("fwdrev")
    except metadata.PackageNotFoundError:
        return "source"


ENGINE = ForwardEngine()
