"""Discrete Fourier transforms (np.fft): four linear ops along one axis -- fft, ifft, rfft,
irfft -- and the N-D transforms and shifts composed from them.

Under the pairing Re(sum(w * t)) (adcore.ops_complex) the transpose of a linear map is its
plain transpose. The DFT matrix F is symmetric, so the VJP of ``fft`` is ``fft`` of the
cotangent and that of ``ifft`` is ``ifft`` (same ``norm``); zero-padding or cropping the
input to ``n`` transposes to cropping or zero-padding the cotangent back. ``rfft`` keeps the
first n//2 + 1 rows of F: its VJP is ``fft`` of the cotangent padded to n (the real part is
taken for the real input by adcore.rules). ``irfft`` is R-linear in the coefficients c:
irfft(c)_j = (1/n) Re(sum_k m_k c_k e^{2 pi i jk/n}) with m_k = 2 except m_0 = 1 (and
m_{n/2} = 1 for even n), so its VJP is ``m * ifft(w)`` over the first n//2 + 1 entries.
"""
from __future__ import annotations

import numpy as np

from .errors import UnsupportedOpError
from .registry import Example, defcomposite, defop
from .tracing import value_of


def _fit(a, length, axis):
    """``a`` cropped or zero-padded along ``axis`` to ``length`` entries."""
    have = np.shape(value_of(a))[axis]
    if have == length:
        return a
    if have > length:
        return a[(slice(None),) * axis + (slice(0, length),)]
    shape = list(np.shape(value_of(a)))
    shape[axis] = length - have
    return np.concatenate([a, np.zeros(shape, dtype=np.result_type(value_of(a)))], axis=axis)


def _check(norm):
    if norm not in (None, "backward", "ortho", "forward"):
        raise ValueError(f'Invalid norm value {norm}; should be "backward", "ortho" or "forward".')


def _linear(name, forward, transpose, examples):
    """An op ``forward(x, n, axis, norm)`` along one axis, linear in x; ``transpose(g, x, n,
    axis, norm)`` its VJP on a batch of cotangents (axis shifted by the batch axis)."""
    return defop(
        f"fft.{name}", lambda x, n, axis, norm: forward(x, n, axis, norm),
        jvp=lambda ts, out, x, n, axis, norm: forward(ts[0], n, axis + 1, norm),
        vjp=lambda g, needed, out, x, n, axis, norm: (transpose(g, x, n, axis + 1, norm),),
        nargs=1, coefficients="data", examples=examples)


fft_op = _linear(
    "fft", lambda x, n, axis, norm: np.fft.fft(x, n, axis, norm),
    lambda g, x, n, axis, norm: _fit(np.fft.fft(g, n, axis, norm),
                                     np.shape(value_of(x))[axis - 1], axis),
    (Example(lambda x: np.real(np.fft.fft(x)) + np.imag(np.fft.fft(x)), ((6,),), label="1-D"),
     Example(lambda x: np.abs(np.fft.fft(x, n=8, axis=0, norm="ortho")), ((5, 2),),
             label="padded, ortho")))
ifft_op = _linear(
    "ifft", lambda x, n, axis, norm: np.fft.ifft(x, n, axis, norm),
    lambda g, x, n, axis, norm: _fit(np.fft.ifft(g, n, axis, norm),
                                     np.shape(value_of(x))[axis - 1], axis),
    (Example(lambda x: np.real(np.fft.ifft(x * (1 + 0.5j), n=4)), ((6,),), label="cropped"),))
rfft_op = _linear(
    "rfft", lambda x, n, axis, norm: np.fft.rfft(x, n, axis, norm),
    lambda g, x, n, axis, norm: _fit(np.fft.fft(_fit(g, n, axis), n, axis, norm),
                                     np.shape(value_of(x))[axis - 1], axis),
    (Example(lambda x: np.imag(np.fft.rfft(x)), ((6,),), label="even"),
     Example(lambda x: np.real(np.fft.rfft(x, n=7, norm="forward")), ((5, 2),),
             label="odd n, padded")))


def _irfft_vjp(g, c, n, axis, norm):
    m = n // 2 + 1
    # in the cotangent's real dtype: float64 weights would make a float32 program's
    # cotangent complex128
    dt = np.result_type(value_of(g))
    weights = np.full(m, 2.0, dtype=np.finfo(dt).dtype if dt.kind in "fc" else np.float64)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    shape = [1] * np.ndim(value_of(g))
    shape[axis] = m
    ct = _fit(np.fft.ifft(g, n, axis, norm), m, axis) * weights.reshape(shape)
    return _fit(ct, np.shape(value_of(c))[axis - 1], axis)


irfft_op = _linear(
    "irfft", lambda c, n, axis, norm: np.fft.irfft(c, n, axis, norm), _irfft_vjp,
    (Example(lambda x: np.fft.irfft(np.fft.rfft(x) * np.exp(1j * x[:4])), ((6,),),
             label="round trip"),
     Example(lambda x: np.fft.irfft(x + 0.3j * x, n=7), ((4,),), label="odd n")))


def _one_axis(op, default_n):
    def build(a, n=None, axis=-1, norm=None, out=None):
        if out is not None:
            raise UnsupportedOpError(f"np.{op.name}", "out= (writes in place)")
        _check(norm)
        axis = int(axis) % np.ndim(value_of(a))
        length = np.shape(value_of(a))[axis]
        n = default_n(length) if n is None else int(n)
        if n < 1:
            raise ValueError(f"Invalid number of FFT data points ({n}) specified.")
        from .tracing import apply
        return apply(op, a, n=n, axis=axis, norm=norm)
    return build


defcomposite((np.fft.fft,), name="fft.fft")(_one_axis(fft_op, lambda L: L))
defcomposite((np.fft.ifft,), name="fft.ifft")(_one_axis(ifft_op, lambda L: L))
defcomposite((np.fft.rfft,), name="fft.rfft")(_one_axis(rfft_op, lambda L: L))
defcomposite((np.fft.irfft,), name="fft.irfft")(_one_axis(irfft_op, lambda M: 2 * (M - 1)))


def _cook(a, s, axes, invreal=False):
    """NumPy's (sizes, axes) for an N-D transform: every axis, or the last len(s) ones."""
    shape = np.shape(value_of(a))
    if axes is None:
        axes = list(range(len(shape))) if s is None else list(range(-len(s), 0))
    axes = [int(ax) for ax in axes]
    if s is None:
        s = [shape[ax] for ax in axes]
        if invreal:
            s[-1] = (shape[axes[-1]] - 1) * 2
    return [int(v) for v in s], axes


def _nd(kind, default_axes=None):
    """An N-D transform as 1-D ones, in NumPy's order: fftn/ifftn over the axes last to
    first; rfftn rfft on the last axis then fft over the others (last to first); irfftn
    ifft over the others (first to last) then irfft on the last axis."""
    def build(a, s=None, axes=default_axes, norm=None, out=None):
        if out is not None:
            raise UnsupportedOpError("np.fft", "out= (writes in place)")
        s, axes = _cook(a, s, axes, invreal=kind == "irfft")
        if kind in ("fft", "ifft"):
            one = np.fft.fft if kind == "fft" else np.fft.ifft
            for n, ax in reversed(list(zip(s, axes))):
                a = one(a, n, ax, norm)
            return a
        if kind == "rfft":
            a = np.fft.rfft(a, s[-1], axes[-1], norm)
            for n, ax in reversed(list(zip(s[:-1], axes[:-1]))):
                a = np.fft.fft(a, n, ax, norm)
            return a
        for n, ax in zip(s[:-1], axes[:-1]):
            a = np.fft.ifft(a, n, ax, norm)
        return np.fft.irfft(a, s[-1], axes[-1], norm)
    return build


_ND_EXAMPLES = {
    "fft": (Example(lambda x: np.abs(np.fft.fft2(x)), ((2, 3, 4),), label="fft2"),),
    "ifft": (Example(lambda x: np.real(np.fft.ifftn(x, axes=(0,))), ((3, 4),), label="one axis"),),
    "rfft": (Example(lambda x: np.abs(np.fft.rfftn(x)), ((3, 4),), label="rfftn"),),
    "irfft": (Example(lambda x: np.fft.irfft2(np.fft.rfft2(x) * 2.0), ((3, 4),), label="irfft2"),
              Example(lambda x: np.fft.irfftn(np.fft.fftn(x)[..., :3], s=(3, 4), axes=(0, 1)), ((3, 4),),
                      label="irfftn s")),
}
for _kind, _examples in _ND_EXAMPLES.items():
    defcomposite((getattr(np.fft, _kind + "n"),), name=f"fft.{_kind}n",
                 examples=_examples)(_nd(_kind))
    defcomposite((getattr(np.fft, _kind + "2"),), name=f"fft.{_kind}2")(_nd(_kind, (-2, -1)))


def _shift(sign):
    def build(x, axes=None):
        nd = np.ndim(value_of(x))
        axes = list(range(nd)) if axes is None else [int(a) for a in np.atleast_1d(axes)]
        shape = np.shape(value_of(x))
        return np.roll(x, [sign * (shape[a] // 2) for a in axes], axes)
    return build


defcomposite((np.fft.fftshift,), name="fft.fftshift", examples=(
    Example(lambda x: np.fft.fftshift(x), ((5,),)),))(_shift(1))
defcomposite((np.fft.ifftshift,), name="fft.ifftshift", examples=(
    Example(lambda x: np.fft.ifftshift(x, axes=1), ((2, 5),)),))(_shift(-1))
