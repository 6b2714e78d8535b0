"""A NumPy-style array namespace over PyTorch, so problems run unchanged on torch.

Problems call ``xp.tanh(v)``, ``xp.sum(v, axis=1, keepdims=True)``,
``xp.maximum(v, 0.0)``, ``xp.where(c, a, 1.0)``, ``xp.stack([...], axis=-1)`` ...;
PyTorch spells some of these differently (``dim``/``keepdim``, ``torch.cat``,
tensor-only ``maximum``).  This module is the one place that translates, solved once
for every problem (the alternative -- each problem written once per library -- is
what the ``xp`` argument exists to avoid).  Operators (``+ * / ** @``), slicing,
integer-array indexing and ``.reshape`` are the tensors' own and need no shim.

Only what the problems use is here; a problem reaching for something missing fails
with ``AttributeError: module 'bench.engines.torch_xp' has no attribute ...`` --
add the function here, once.  Everything is float64 (inputs come from NumPy
float64 arrays; Python scalars are turned into float64 tensors).
"""

from __future__ import annotations

import torch

float64 = torch.float64
pi = float(torch.pi)


def asarray(value, dtype=None):
    """NumPy array, scalar or tensor -> tensor (float64 floats, integers kept)."""
    t = torch.as_tensor(value)
    if dtype is not None:
        return t.to(dtype)
    return t.to(torch.float64) if t.is_floating_point() else t


def _t(value, like):
    """``value`` as a tensor next to ``like`` (Python scalars take like's dtype)."""
    if isinstance(value, torch.Tensor):
        return value
    dtype = like.dtype if isinstance(like, torch.Tensor) and like.is_floating_point() \
        else torch.float64
    return torch.as_tensor(value, dtype=dtype)


def _dims(axis):
    return tuple(axis) if isinstance(axis, (tuple, list)) else axis


# Elementwise: same names and meaning in torch.
sin, cos, tan, tanh, exp, log, sqrt = (torch.sin, torch.cos, torch.tan, torch.tanh,
                                       torch.exp, torch.log, torch.sqrt)
sinh, cosh, arctan, log1p, expm1 = torch.sinh, torch.cosh, torch.atan, torch.log1p, torch.expm1
abs, absolute, sign, square = torch.abs, torch.abs, torch.sign, torch.square  # noqa: A001


def maximum(a, b):
    return torch.maximum(_t(a, b), _t(b, a))


def minimum(a, b):
    return torch.minimum(_t(a, b), _t(b, a))


def where(cond, a, b):
    like = a if isinstance(a, torch.Tensor) else b
    return torch.where(_t(cond, None), _t(a, like), _t(b, like))


def power(a, b):
    return torch.pow(_t(a, b), _t(b, a))


# Reductions: axis/keepdims -> dim/keepdim.
def sum(x, axis=None, keepdims=False):  # noqa: A001
    x = _t(x, None)
    if axis is None:
        return torch.sum(x)
    return torch.sum(x, dim=_dims(axis), keepdim=keepdims)


def mean(x, axis=None, keepdims=False):
    x = _t(x, None)
    if axis is None:
        return torch.mean(x)
    return torch.mean(x, dim=_dims(axis), keepdim=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    x = _t(x, None)
    if axis is None:
        return torch.amax(x)
    return torch.amax(x, dim=_dims(axis), keepdim=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    x = _t(x, None)
    if axis is None:
        return torch.amin(x)
    return torch.amin(x, dim=_dims(axis), keepdim=keepdims)


# Shapes and joins.
def reshape(x, shape):
    return torch.reshape(x, shape)


def squeeze(x, axis=None):
    return torch.squeeze(x) if axis is None else torch.squeeze(x, dim=axis)


def expand_dims(x, axis):
    return torch.unsqueeze(x, axis)


def transpose(x, axes=None):
    return x.permute(*reversed(range(x.ndim))) if axes is None else x.permute(*axes)


def stack(arrays, axis=0):
    like = next((a for a in arrays if isinstance(a, torch.Tensor)), None)
    return torch.stack([_t(a, like) for a in arrays], dim=axis)


def concatenate(arrays, axis=0):
    like = next((a for a in arrays if isinstance(a, torch.Tensor)), None)
    return torch.cat([_t(a, like) for a in arrays], dim=axis)


def matmul(a, b):
    return torch.matmul(_t(a, b), _t(b, a))


def dot(a, b):
    return torch.matmul(_t(a, b), _t(b, a))


def zeros(shape, dtype=None):
    return torch.zeros(shape, dtype=dtype or torch.float64)


def ones(shape, dtype=None):
    return torch.ones(shape, dtype=dtype or torch.float64)
