"""fwdrev's compiled engines: ``forward-jit``, ``reverse-jit`` and the limit ``hand-jit``.

- ``forward-jit``: dual numbers as a numba type (:mod:`adjit.dual`) compiled into
  the problem's ``@njit`` form; ceil(n / chunk) compiled passes.
- ``reverse-jit``: on a problem with an ``@njit`` form, the tape is recorded inside the
  compiled code and swept by a compiled loop (:mod:`adjit.tape`); on any other
  problem, the function is recorded once in Python and replayed at each input by the
  compiled flat-tape loops with guards (:mod:`adjit.flat_replay`, through
  ``tapes.record(..., compiled="scalar")``).
- ``hand-jit``: the problem's hand-written numba derivative (the practical limit).

The ``@njit`` form: these engines evaluate problems with the namespace :data:`NJIT`
(NumPy, plus ``njit_call``). A problem that has an ``@njit`` kernel returns
``xp.njit_call(kernel, x, *extra, hand=derivative_kernel)`` when ``xp`` offers it;
``extra`` are pass-through arguments (an iteration count, a constant). See
``bench/problems/logistic_loop.py``. Problems without one run as plain NumPy: then
``forward-jit`` and ``hand-jit`` refuse them (one-line error record) and ``reverse-jit``
uses the compiled replay.

``build`` compiles before returning (one call at ``x``), so ``first_call_s`` holds the
JIT compile and the timed calls never do; numba's on-disk cache keeps the static kernels
(sweeps, replay loops, problem kernels) across processes.
"""

from __future__ import annotations

import types as _pytypes

import numpy as np

from bench.engines import Engine
from bench.engines.forward import _fwdrev_version
from ._forms import form_of


class NjitForm(Exception):
    """Raised by :meth:`NjitNamespace.njit_call` to hand the kernel to the engine."""

    def __init__(self, kernel, extra, hand):
        super().__init__("njit form")
        self.kernel, self.extra, self.hand = kernel, tuple(extra), hand


class NjitNamespace(_pytypes.SimpleNamespace):
    """NumPy, plus ``njit_call(kernel, x, *extra, hand=None)`` for problems with an
    ``@njit`` form (it raises :class:`NjitForm`, which the engine catches)."""

    __name__ = "fwdrev-njit"

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def njit_call(kernel, x, *extra, hand=None):
        raise NjitForm(kernel, extra, hand)


NJIT = NjitNamespace()


def njit_form(f, x):
    """The problem's ``NjitForm`` (``None`` if it has none)."""
    return form_of(f, x, NjitForm)


class _JitEngine(Engine):
    requires = ("numba",)
    compiled = True

    def namespace(self):
        return NJIT

    def version(self):
        import numba
        return f"fwdrev {_fwdrev_version()} numba {numba.__version__}"

    @staticmethod
    def _warm(derivative, x):
        derivative(x)  # compile now: first_call_s holds it, timed calls never do
        return derivative


def _no_form(name):
    return ValueError(f"{name} needs a problem with an @njit form (xp.njit_call); this problem "
                      "has none — use forward/reverse, or reverse-jit (compiled replay)")


class ForwardJit(_JitEngine):
    name = "forward-jit"
    summary = "dualnum dual numbers compiled into the problem's @njit form; ceil(n/chunk) passes"
    settings = {"chunk": (None, "partials per dual number (directions per compiled pass)")}
    references = ("reverse", "forward", "fd")

    def build(self, f, x, scalar, settings):
        from dualnum.api import njit_dual  # adjit.dual, as dualnum uses it

        form = njit_form(f, x)
        if form is None:
            raise _no_form(self.name)
        chunk = settings.get("chunk")
        dual = njit_dual()
        d = (dual.grad if scalar else dual.jacobian)(form.kernel, chunk=chunk)
        extra = form.extra

        def derivative(x_):
            return np.asarray(d(x_, *extra), dtype=float)
        return self._warm(derivative, x)

    def sizes(self, f, x, scalar, settings):
        from adcore import calls
        n = np.size(x)
        spans = calls.chunks(n, settings.get("chunk"))
        width = spans[0][1] - spans[0][0] if spans else 0
        return {"tangent_width": width, "passes": len(spans)}

    def estimate_bytes(self, footprint, in_size, out_size, settings):
        width = min(settings.get("chunk") or in_size, in_size)
        return footprint.data_bytes + 8 * in_size * (out_size + width + 2)


class ReverseJit(_JitEngine):
    name = "reverse-jit"
    summary = ("tape recorded inside the problem's @njit form and swept compiled; else a "
               "Python recording replayed by compiled loops with guards")
    settings = {}
    references = ("reverse", "forward", "fd")

    def build(self, f, x, scalar, settings):
        form = njit_form(f, x)
        if form is not None:
            from tapes.api import njit_tape  # adjit.tape, as tapes uses it
            tape = njit_tape()
            d = (tape.grad if scalar else tape.jacobian)(form.kernel)
            extra = form.extra

            def derivative(x_):
                return np.asarray(d(x_, *extra), dtype=float)
            return self._warm(derivative, x)
        import tapes
        rec = tapes.record(f, x, compiled="scalar")

        def derivative(x_):
            return np.asarray(rec.gradient(x_) if scalar else rec.jacobian(x_), dtype=float)
        return self._warm(derivative, x)

    def sizes(self, f, x, scalar, settings):
        import tapes
        form = njit_form(f, x)
        if form is not None:
            rec = tapes.record(form.kernel, x, *form.extra)
            return {"tape_len": len(rec), "tape_bytes": int(rec.nbytes), "tape": "njit"}
        rec = tapes.record(f, x, compiled="scalar")
        return {"tape_len": len(rec), "tape_bytes": int(rec.nbytes),
                "tape_entries": rec.entries, "tape": "compiled-replay"}

    def estimate_bytes(self, footprint, in_size, out_size, settings):
        # 34-42 bytes per scalar entry (tape + adjoint); footprint.ops counts array ops, so
        # scale by the elements they touch (work_bytes / 8).
        return footprint.data_bytes + 8 * in_size * (out_size + 2) + 6 * footprint.work_bytes


class HandJit(_JitEngine):
    name = "hand-jit"
    summary = "the problem's hand-written numba derivative (the practical limit)"
    settings = {}
    references = ("reverse-jit", "reverse", "forward")

    def build(self, f, x, scalar, settings):
        form = njit_form(f, x)
        if form is None or form.hand is None:
            raise ValueError("hand-jit needs a problem with a hand-written @njit derivative "
                             "(xp.njit_call(..., hand=...)); this problem has none")
        hand, extra = form.hand, form.extra

        def derivative(x_):
            return np.asarray(hand(np.ascontiguousarray(x_, dtype=float), *extra), dtype=float)
        return self._warm(derivative, x)


ENGINES = (ForwardJit(), ReverseJit(), HandJit())
