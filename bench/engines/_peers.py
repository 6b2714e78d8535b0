"""What the peer adapters (JAX, PyTorch, autograd, sympy) share.

A peer is optional: :meth:`PeerEngine.missing` only *looks* for the library
(``importlib.util.find_spec``, no import), so ``fwdrev list`` and every sweep stay
fast and a missing peer is one line.  The library is imported when the engine is
built; an import that fails there (a broken install) becomes that record's one-line
``error``, never a traceback.

Each peer evaluates the problem's own source with its array namespace
(:meth:`Engine.namespace`: ``jax.numpy``, the torch shim, ``autograd.numpy``, the
sympy shim), so a problem is written once.  Inputs and derivatives cross the
boundary as float64 NumPy arrays.

ADBench reports J/F with F timed in the *same* tool; the sweep's ``grad_fun_ratio``
divides by the plain NumPy F instead (one denominator for every engine, so ratios
compare engines directly).  Peers therefore also report their own F time in
``engine_sizes["own_f_time_s"]`` (and ``own_f_first_call_s`` for compiled F), from
which the report derives the ADBench-style ratio.
"""

from __future__ import annotations

import importlib.util
from importlib import metadata

import numpy as np

from bench.engines import Engine
from bench.timing import time_call

#: Budget of the untimed own-F measurement in ``sizes`` (small: it is a side number).
_OWN_F_BUDGET = dict(min_sample_s=0.01, samples=3, max_time_s=0.3)


class PeerEngine(Engine):
    """Base of the peer adapters: cheap availability check, distribution version."""

    #: Import name of the library whose presence decides availability.
    module: str = ""
    #: Distribution name for the version (defaults to ``module``).
    dist: str | None = None

    #: "forward" when the engine pushes all n directions at once (vmapped jacfwd),
    #: "reverse" when it pulls all m cotangents at once (vmapped jacrev); the memory
    #: estimate then scales the problem's intermediates by n or m.
    vectorised: str | None = None

    def estimate_bytes(self, footprint, in_size, out_size, settings):
        width = {"forward": in_size, "reverse": out_size if out_size > 1 else 1}.get(
            self.vectorised, 1)
        return (footprint.data_bytes + 8 * in_size * (out_size + 1)
                + footprint.work_bytes * (2 + width))

    def missing(self):
        try:
            found = importlib.util.find_spec(self.module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            extra = "symbolic" if self.module == "sympy" else "peers"
            return (f"{self.module} is not installed (pip install 'fwdrev[{extra}]')")
        return None

    def version(self):
        try:
            return f"{self.dist or self.module} {metadata.version(self.dist or self.module)}"
        except metadata.PackageNotFoundError:
            return None

    def own_f(self, f):
        """F as the peer runs it (jitted for the jit engines); for the own-F time."""
        return f

    def to_peer(self, x):
        """A NumPy float64 input as the peer's array type."""
        return x

    def own_f_sizes(self, f, x) -> dict:
        """``own_f_time_s`` (median) and ``own_f_first_call_s`` of the peer's F."""
        g = self.own_f(f)
        xp_x = self.to_peer(np.asarray(x, dtype=float))
        t = time_call(lambda: _block(g(xp_x)), **_OWN_F_BUDGET)
        return {"own_f_time_s": t.median_s, "own_f_first_call_s": t.first_call_s}


def _block(value):
    """Wait for an asynchronously dispatched result (JAX) before the clock stops."""
    ready = getattr(value, "block_until_ready", None)
    if ready is not None:
        ready()
    return value


def as_numpy(value) -> np.ndarray:
    """A peer's array (JAX, torch, autograd) as a float64 NumPy array."""
    detach = getattr(value, "detach", None)
    if detach is not None:                     # torch
        value = detach().cpu().numpy()
    return np.asarray(value, dtype=float)
