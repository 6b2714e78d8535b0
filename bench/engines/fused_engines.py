"""fwdrev's compiled array tier: ``forward-fused`` and ``reverse-fused``.

The problem (plain NumPy) is recorded once in Python by ``tapes.record(f, x,
compiled="fused")`` and replayed at each input as fused numba kernels (runs of elementwise
ops in one loop each, matmul through BLAS into preallocated buffers, views as aliases; see
:mod:`adjit.lowering`), guarded like any replay:

- ``forward-fused``: the Jacobian (or gradient) by the fused tangent kernels, ``chunk``
  input directions per sweep;
- ``reverse-fused``: the gradient by one fused reverse sweep, the Jacobian by ``chunk``
  output directions per sweep.

``build`` records and runs once at ``x``: ``first_call_s`` holds the recording, the lowering
and the kernels' compilation (or their load from numba's on-disk cache); timed calls never
compile.
"""
from __future__ import annotations

import numpy as np

from bench.engines import Engine
from bench.engines.forward import _fwdrev_version


class _Fused(Engine):
    requires = ("numba",)
    mode = ""
    settings = {"chunk": (None, "directions per fused sweep (default: as many as fit 64 MiB)")}
    references = ("reverse", "forward", "fd")

    def version(self):
        import numba
        return f"fwdrev {_fwdrev_version()} numba {numba.__version__}"

    def build(self, f, x, scalar, settings):
        import tapes
        rec = tapes.record(f, x, compiled="fused")
        chunk, mode = settings.get("chunk"), self.mode
        if scalar and mode == "reverse":
            def derivative(x_):
                return rec.gradient(x_)
        else:
            def derivative(x_):
                return np.asarray(rec.jacobian(x_, mode=mode, chunk=chunk))
        derivative(x)  # record, lower, compile now: first_call_s holds it
        return derivative

    def sizes(self, f, x, scalar, settings):
        import tapes
        rec = tapes.record(f, x, compiled="fused")
        plan = rec.plan
        return {"fused_ops": plan.fused_ops, "eager_ops": plan.eager_ops,
                "views": plan.view_ops, "tape_len": len(rec)}

    def estimate_bytes(self, footprint, in_size, out_size, settings):
        # buffers once per recording, (co)tangents for a chunk of directions
        width = settings.get("chunk") or min(in_size if self.mode == "forward" else out_size, 64)
        return footprint.data_bytes + 8 * in_size * (out_size + 2) + (width + 2) * footprint.work_bytes


class ForwardFused(_Fused):
    name = "forward-fused"
    mode = "forward"
    summary = "record once, replay as fused numba kernels; forward mode, chunked tangents"


class ReverseFused(_Fused):
    name = "reverse-fused"
    mode = "reverse"
    summary = "record once, replay as fused numba kernels; reverse mode (one sweep per gradient)"


ENGINES = (ForwardFused(), ReverseFused())
