"""The cascade's two multiplication orders (SEED §3, issue 11 §4), in plain NumPy.

On the ``jacobian-chain`` problem (h¹ = x, h^(k+1) = tanh(W_k h^k), L = c·h^(e+1)) the
gradient is the product of the layers' Jacobians J_k = diag(1 − (h^(k+1))²) W_k:

    ∂L/∂h¹ = c · J_e ⋯ J_2 · J_1

Both engines build every J_k explicitly (d² entries each) and differ only in the order
they multiply them:

- ``chain-matrix-first`` (right to left, forward accumulation): M = J_1, then
  M = J_k M for k = 2..e as the forward pass goes (d × d times d × d: 2d³ flops each),
  then c M.  Nothing is kept behind the sweep: the memory is a few d × d matrices,
  whatever e is.
- ``chain-vector-first`` (left to right, reverse accumulation): a forward pass stores
  every 1 − (h^(k+1))² (the "tape", e·d values), then v = c, v = v J_k for k = e..1
  (1 × d times d × d: 2d² flops each).

Both run NumPy's BLAS on **one thread** while they compute (``blas_threads`` in the record's
``engine_sizes``; ``None`` where the BLAS library offers no thread control): the FLOP model
counts one processor's work, and on shared cores a multithreaded BLAS made the times of
the same product jump by 10-100× from one size to the next.

``sizes`` reports ``flops``: the floating-point operations of one derivative call,
counted where the code does them (a multiply-add is 2, tanh 1): matrix-first
e(3d² + 3d) + 2(e − 1)d³ + 2d², vector-first e(5d² + 3d).  The problem hands its layers
over through ``xp.layer_chain`` (see :mod:`bench.problems.jacobian_chain`); on any other
problem these engines refuse with a one-line error record.
"""

from __future__ import annotations

import contextlib
import functools
import os
import types as _pytypes

import numpy as np

from bench.engines import Engine
from bench.engines.forward import _fwdrev_version
from ._forms import form_of


class ChainForm(Exception):
    """Raised by :meth:`ChainNamespace.layer_chain` to hand the layers to the engine."""

    def __init__(self, layers, readout):
        super().__init__("layer chain")
        self.layers, self.readout = list(layers), np.asarray(readout, dtype=float)


class ChainNamespace(_pytypes.SimpleNamespace):
    """NumPy, plus ``layer_chain(x, layers, readout)`` (raises :class:`ChainForm`)."""

    __name__ = "fwdrev-chain"

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def layer_chain(x, layers, readout):
        raise ChainForm(layers, readout)


CHAIN = ChainNamespace()


def chain_form(f, x):
    """The problem's layers and read-out (``None`` if it is not a layer chain)."""
    return form_of(f, x, ChainForm)


def _forward(layers, x, counter):
    """h^(k+1) = tanh(W_k h^k); yields (W_k, s_k = 1 - (h^(k+1))²) per layer."""
    h = np.asarray(x, dtype=float)
    d = h.size
    for w in layers:
        h = np.tanh(w @ h)
        counter[0] += 2 * d * d + d        # W h, tanh
        s = 1.0 - h * h
        counter[0] += 2 * d                # h², 1 - h²
        yield w, s


def _jacobian(w, s, counter):
    """J_k = diag(s_k) W_k, the layer's Jacobian as a plain d × d array."""
    counter[0] += w.size
    return s[:, None] * w


def matrix_first(layers, readout, x, counter=None):
    """∂L/∂h¹ by forward accumulation: (J_e (⋯ (J_2 J_1))), then c times it."""
    counter = [0] if counter is None else counter
    d = np.size(x)
    m = None
    for w, s in _forward(layers, x, counter):
        j = _jacobian(w, s, counter)
        if m is None:
            m = j
        else:
            m = j @ m
            counter[0] += 2 * d * d * d
    if m is None:                       # no layer: L = c·x
        return readout.copy()
    counter[0] += 2 * d * d
    return readout @ m


def vector_first(layers, readout, x, counter=None):
    """∂L/∂h¹ by reverse accumulation: ((c J_e) J_(e-1)) ⋯ J_1, after a stored forward."""
    counter = [0] if counter is None else counter
    d = np.size(x)
    stored = list(_forward(layers, x, counter))       # the tape: every layer's s_k
    v = readout.copy()
    for w, s in reversed(stored):
        v = v @ _jacobian(w, s, counter)
        counter[0] += 2 * d * d
    return v


def flops(order, d, e):
    """The closed form of the counts above (the tests check it against the counter)."""
    if order == "matrix-first":
        return e * (3 * d * d + 3 * d) + 2 * max(e - 1, 0) * d ** 3 + (2 * d * d if e else 0)
    return e * (5 * d * d + 3 * d)


@functools.lru_cache(maxsize=1)
def _blas_thread_control():
    """``(get, set)`` of the loaded OpenBLAS's thread count (NumPy's wheels ship OpenBLAS),
    found through the process's mapped libraries; ``None`` when there is none."""
    import ctypes

    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if len(line.split()) >= 6
                     and "openblas" in os.path.basename(line.split()[-1]).lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""),
                               ("openblas", "64_"), ("openblas", "")):
            get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, set_
    return None


@contextlib.contextmanager
def one_blas_thread():
    """NumPy's BLAS on one thread inside the block (restored after); a no-op without a
    controllable OpenBLAS."""
    control = _blas_thread_control()
    if control is None:
        yield None
        return
    get, set_ = control
    before = get()
    set_(1)
    try:
        yield 1
    finally:
        set_(before)


class _ChainEngine(Engine):
    requires = ()
    settings = {}
    references = ("reverse", "forward")
    order = ""
    accumulate = None

    def namespace(self):
        return CHAIN

    def version(self):
        return "fwdrev " + _fwdrev_version() + " numpy " + np.__version__

    def _form(self, f, x, scalar):
        form = chain_form(f, x)
        if form is None or not scalar:
            raise ValueError(f"{self.name} needs the jacobian-chain problem (a chain of "
                             "layers handed over by xp.layer_chain); this problem is not one")
        return form

    def build(self, f, x, scalar, settings):
        form = self._form(f, x, scalar)
        layers, readout, accumulate = form.layers, form.readout, type(self).accumulate

        def derivative(x_):
            with one_blas_thread():
                return accumulate(layers, readout, x_)
        return derivative

    def sizes(self, f, x, scalar, settings):
        form = self._form(f, x, scalar)
        counter = [0]
        type(self).accumulate(form.layers, form.readout, x, counter)
        # the values kept behind the forward pass: none for matrix-first, every layer's
        # 1 - h² for vector-first (what a tape holds)
        stored = 0 if self.order == "matrix-first" else len(form.layers) * int(np.size(x))
        with one_blas_thread() as threads:
            pass
        return {"flops": int(counter[0]), "stored_bytes": 8 * stored, "blas_threads": threads}

    def estimate_bytes(self, footprint, in_size, out_size, settings):
        return footprint.data_bytes + footprint.work_bytes + 8 * 4 * in_size * in_size


class MatrixFirst(_ChainEngine):
    name = "chain-matrix-first"
    summary = ("jacobian-chain: J_e(⋯(J_2 J_1)) right to left, matrix-first (forward "
               "accumulation), O(e·d³) flops")
    order = "matrix-first"
    accumulate = staticmethod(matrix_first)


class VectorFirst(_ChainEngine):
    name = "chain-vector-first"
    summary = ("jacobian-chain: ((c J_e) J_(e-1))⋯J_1 left to right, vector-first (reverse "
               "accumulation), O(e·d²) flops")
    order = "vector-first"
    accumulate = staticmethod(vector_first)


ENGINES = (MatrixFirst(), VectorFirst())
