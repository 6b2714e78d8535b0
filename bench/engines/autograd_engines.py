"""HIPS autograd peers: ``autograd-fwd`` and ``autograd-rev``.

- ``autograd-rev``: ``autograd.grad`` for scalar F, ``autograd.jacobian`` (one
  reverse sweep per output, over one recorded trace) otherwise;
- ``autograd-fwd``: ``autograd.make_jvp`` -- autograd's forward mode carries one
  tangent per trace, so the derivative is n traces, one per basis direction (autograd
  has no chunked/vectorised forward mode).

Problems run on ``autograd.numpy`` through their ``xp`` argument (float64).
"""

from __future__ import annotations

import numpy as np

from bench.engines._peers import PeerEngine, as_numpy


class _AutogradEngine(PeerEngine):
    module = "autograd"

    def namespace(self):
        import autograd.numpy as anp

        return anp

    def sizes(self, f, x, scalar, settings):
        return self.own_f_sizes(f, x)


class AutogradFwd(_AutogradEngine):
    name = "autograd-fwd"
    summary = "HIPS autograd make_jvp: forward mode, one trace per input direction"

    def build(self, f, x, scalar, settings):
        from autograd import make_jvp

        def derivative(x_):
            x_ = np.asarray(x_, dtype=float)
            jvp = make_jvp(f)(x_)
            cols = []
            for j in range(x_.size):
                e = np.zeros_like(x_)
                e[j] = 1.0
                cols.append(as_numpy(jvp(e)[1]))
            return np.stack(cols, axis=-1)

        return derivative

    def sizes(self, f, x, scalar, settings):
        return {**self.own_f_sizes(f, x), "traces": int(np.size(x))}


class AutogradRev(_AutogradEngine):
    name = "autograd-rev"
    summary = "HIPS autograd grad / jacobian: reverse mode, one sweep per output"

    def build(self, f, x, scalar, settings):
        import autograd

        d = autograd.grad(f) if scalar else autograd.jacobian(f)

        def derivative(x_):
            return as_numpy(d(np.asarray(x_, dtype=float)))

        return derivative


ENGINES = (AutogradFwd(), AutogradRev())
