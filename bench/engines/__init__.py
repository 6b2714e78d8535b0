"""Engine adapters: one small class per way of computing a derivative.

An adapter turns a problem's plain function ``f`` (input shape ``(in_size,)``) into a
function computing its *full* derivative at ``x``:

- the gradient, shape ``(in_size,)``, when ``f`` returns a scalar;
- the Jacobian, shape ``(out_size, in_size)`` (JAX convention: ``out.shape + in.shape``),
  otherwise.

The interface (subclass :class:`Engine`, override what you need):

``name``, ``summary``
    CLI name and one line for ``fwdrev list``.
``requires``
    ``"module"`` or ``"module:attribute"`` entries that must import for the engine to
    run.  A missing one makes the sweep skip the engine with one line, never a
    traceback.  (Name an attribute when an empty directory of that name could import
    as a namespace package.)
``settings``
    ``{"chunk": (default, help)}`` -- knobs a sweep may vary (``--chunk``); each record
    stores the values used.
``namespace()``
    the array namespace problems are evaluated with (``numpy`` here; a JAX adapter
    returns ``jax.numpy``).  The sweep instantiates the problem with it.
``build(f, x, scalar, settings) -> derivative``
    ``derivative(x)`` returns the gradient/Jacobian as a NumPy array.  Anything done
    lazily on the first call (tracing, recording, JIT compiling) is timed as
    ``first_call_s``, separately from the steady-state timing.
``sizes(f, x, scalar, settings) -> dict``
    engine-reported sizes (tape length and bytes, tangent width ...); untimed.
``estimate_bytes(footprint, in_size, out_size, settings) -> int``
    a conservative memory estimate; sizes above the machine's available memory are
    refused before anything runs.

Adding an engine: write ``bench/engines/<module>.py`` defining ``ENGINE = MyEngine()``
(or ``ENGINES = (...)`` for a family of adapters, e.g. one library's modes) and add
``<module>`` to ``_MODULES``.
"""

from __future__ import annotations

import importlib
from importlib import metadata

import numpy as np

from bench.errors import UsageError

#: Modules under bench/engines that each define ``ENGINE``.
_MODULES = ("forward", "reverse", "auto", "fd", "fd_forward",
            # fwdrev's compiled engines (numba): forward-jit, reverse-jit, hand-jit.
            "jit_engines",
            # fwdrev's compiled array tier: a recording replayed as fused numba kernels.
            "fused_engines",
            # The cascade's two multiplication orders on the jacobian-chain problem.
            "chain",
            # Peers (optional libraries; skipped with one line when not installed).
            "jax_engines", "torch_engines", "autograd_engines", "symbolic")

#: Tolerances on the normwise relative error (see :func:`max_rel_error`) when an
#: engine is checked against its reference.  AD engines must agree to rounding;
#: finite differences are only accurate to about eps^(2/3) ~ 4e-11 times a scale
#: factor that grows with curvature, so they get a looser bound.
EXACT_TOL = 1e-8
APPROX_TOL = 1e-5


class Engine:
    """Base class of the adapters; see the module docstring for the contract."""

    name: str = ""
    summary: str = ""
    requires: tuple = ()
    settings: dict = {}
    #: True for engines whose result is exact up to rounding (AD, symbolic).
    exact: bool = True
    #: Optional looser tolerance for this engine's check (e.g. one-sided differences).
    tolerance: float | None = None
    #: Reference engines to check this one against, first available wins.
    references: tuple = ("reverse", "forward")
    #: True for engines that run compiled code (fwdrev's numba tier): on problems with a
    #: compiled primal their derivative/function ratio divides by that primal; the others'
    #: by the same loop in plain Python (``Problem.native_primal``).
    compiled: bool = False

    def missing(self) -> str | None:
        """Why the engine cannot run here (``None`` if it can)."""
        for entry in self.requires:
            mod, _, attr = entry.partition(":")
            try:
                module = importlib.import_module(mod)
            except ImportError as exc:
                return f"{mod} is not installed ({exc})"
            if attr and not hasattr(module, attr):
                return f"{mod} has no {attr!r} (incomplete install?)"
        return None

    def version(self) -> str | None:
        """Version of the library behind the engine, for the report."""
        for entry in self.requires:
            mod = entry.partition(":")[0]
            try:
                return metadata.version(mod)
            except metadata.PackageNotFoundError:
                return getattr(importlib.import_module(mod), "__version__", None)
        return None

    def namespace(self):
        """Array namespace that problems are evaluated with for this engine."""
        return np

    def build(self, f, x, scalar, settings):
        raise NotImplementedError

    def sizes(self, f, x, scalar, settings) -> dict:
        return {}

    def estimate_bytes(self, footprint, in_size, out_size, settings) -> int:
        return footprint.data_bytes + 8 * in_size * (out_size + 1) + 2 * footprint.work_bytes

    def resolve(self, settings: dict) -> dict:
        """Fill defaults for this engine's settings, dropping settings it lacks."""
        return {k: settings.get(k, default) for k, (default, _) in self.settings.items()}


def max_rel_error(result, reference) -> float:
    """Normwise relative error ``max|result - reference| / max|reference|``.

    Normwise (one scale for the whole derivative) rather than entrywise, so an exactly
    zero entry computed as 1e-30 is not an "infinite" error; an entry that is wrong by
    more than tol * (largest entry) is still caught.  Both all-zero -> 0.  Shapes must
    match; NaN anywhere -> NaN (which never passes a tolerance check).
    """
    a = np.asarray(result, dtype=float)
    b = np.asarray(reference, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"shape {a.shape} differs from reference shape {b.shape}")
    if a.size == 0:
        return 0.0
    if np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    scale = float(np.max(np.abs(b)))
    diff = float(np.max(np.abs(a - b))) if np.isfinite(a).all() and np.isfinite(b).all() \
        else (0.0 if np.array_equal(a, b) else float("inf"))
    if scale == 0.0 or not np.isfinite(scale):
        return diff
    return diff / scale


def _load() -> dict:
    found = {}
    for mod in _MODULES:
        module = importlib.import_module(f"{__name__}.{mod}")
        for e in getattr(module, "ENGINES", None) or (module.ENGINE,):
            found[e.name] = e
    return found


#: name -> Engine, in listing order.
ENGINES: dict = _load()


def get(name: str) -> Engine:
    """Return the registered engine ``name``; ``UsageError`` naming the choices if unknown."""
    try:
        return ENGINES[name]
    except KeyError:
        raise UsageError(f"unknown engine {name!r} (choose from: {', '.join(ENGINES)})") from None


def reference_for(engine: Engine, available) -> str | None:
    """Name of the engine to check ``engine`` against, among ``available`` names."""
    for ref in engine.references:
        if ref != engine.name and ref in available:
            return ref
    return None
