"""adjit — how fwdrev compiles: the numba tier, in one place.

* :mod:`adjit.scalar_rules` — the registry's elementwise rules as numba overloads
  (njit-compiled primals, partials and structural zeros) and the AD scalar base type both
  compiled modes build on.
* :mod:`adjit.dual` — forward mode inside ``@njit`` code: dual numbers as a numba type
  (``dualnum.grad`` & co. of a ``numba.njit`` function).
* :mod:`adjit.tape` — reverse mode inside ``@njit`` code: a tape recorded by the compiled
  function and swept by a compiled loop (``tapes.grad`` & co. of a ``numba.njit`` function).
* :mod:`adjit.flat_replay` — compiled replay of a Python recording: a ``tapes`` tape lowered
  to a flat scalar tape swept by generated kernels (``tapes.record(..., compiled=True)``).
* :mod:`adjit.array_kernels` — one-pass kernels the eager engines use for elementwise rules
  on large arrays (installed into :mod:`adcore.rules` on import, see below).
* :mod:`adjit.cache` — where numba's on-disk cache and the generated kernel modules go (the
  user's cache directory, never a package).

Layering: adcore < adjit < (tapes, dualnum) < fwdrev < bench. adjit imports only adcore
(and numpy, numba, llvmlite, the standard library); the engines' Python APIs that the
compiled modes serve (``tapes.record``, the refusals of nested derivative calls inside
``@njit`` code) live in tapes and dualnum, which import adjit.

Importing this package is cheap: it does not import numba (the submodules above except
``array_kernels`` and ``cache`` do). It installs :mod:`adjit.array_kernels` into
:mod:`adcore.rules` (:func:`adcore.rules.use_array_kernels`), which imports numba only on
the first large array; without it adcore evaluates every rule with NumPy.
"""
from adcore import rules as _rules

from . import array_kernels

_rules.use_array_kernels(array_kernels)
