"""Shape and selection functions (tril, pad, sort, ...): registered ops and composites."""
import numpy as np

from .registry import defcomposite  # noqa: F401
