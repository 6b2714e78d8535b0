"""NumPy functions that return plain arrays when given traced values: no derivative.

Comparisons, argmax, shape queries and integer-valued steps (floor, round) have a zero
or undefined derivative, so they run on the plain values underneath. Each one that reads
a traced value is reported to its trace (tapes record it as a replay guard).
"""
import numpy as np

from . import registry

registry.NONDIFF_UFUNCS.update({
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.logical_and, np.logical_or, np.logical_not, np.logical_xor,
    np.isfinite, np.isnan, np.isinf, np.signbit,
    np.floor, np.ceil, np.rint, np.trunc, np.floor_divide,
})

registry.NONDIFF_FUNCTIONS.update({
    np.shape, np.ndim, np.size, np.argmax, np.argmin, np.argsort, np.nonzero,
    np.count_nonzero, np.any, np.all, np.isclose, np.allclose, np.array_equal,
    np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.round, np.around,
    np.searchsorted, np.iscomplexobj, np.isrealobj, np.result_type, np.may_share_memory,
    np.shares_memory, np.argpartition, np.lexsort, np.flatnonzero, np.argwhere,
    np.isin, np.digitize,
})
