"""Linear algebra: np.linalg functions as registered ops and composites."""
import numpy as np

from .errors import UnsupportedOpError
from .registry import defcomposite


@defcomposite((np.linalg.norm,))
def _norm(x, ord=None, axis=None, keepdims=False):
    if ord not in (None, 2, "fro") or (ord == 2 and axis is None and np.ndim(x) > 1):
        raise UnsupportedOpError("np.linalg.norm", f"ord={ord!r} (only the 2-norm / Frobenius norm)")
    from .ops_structural import norm2  # one op: the zero subgradient at 0, as hypot
    return norm2(x, axis=axis, keepdims=keepdims)
