"""Errors raised instead of returning a derivative that silently lost a term.

Every message names the operation and says what to do instead.
"""


class ADError(Exception):
    """Base class of every fwdrev differentiation error."""


# The closest supported way to compute what an unsupported NumPy function computes.
ALTERNATIVES = {
    "np.add.at": "adcore.index_add(x, index, v) (a functional x[index] += v)",
    "np.bincount": "adcore.index_add(np.zeros(n), indices, weights) for weighted counts",
    "np.unique": "np.sort(x) (differentiable), selecting entries with a plain index",
    "np.histogram": "run np.histogram on plain values (counts are steps); for a smooth "
                    "density, a kernel sum such as np.sum(np.exp(-(x[:, None] - c) ** 2), 0)",
    "np.fft.hfft": "np.fft.irfft(np.conj(a), n) * n (hfft's definition)",
    "np.fft.ihfft": "np.conj(np.fft.rfft(a, n)) / n (ihfft's definition)",
    "np.choose": "np.select or np.take_along_axis",
    "np.piecewise": "np.select or np.where (every piece evaluated, the taken one selected)",
    "np.logaddexp.reduce": "adcore.logsumexp(x, axis)",
    "np.maximum.accumulate": "a loop of np.maximum, or np.max over sliding windows",
    "np.i0": "a truncated series with np.power and np.sum, or a rule with adcore.defop",
    "np.nanargmax": "np.argmax(np.where(np.isnan(x), -np.inf, x))",
    "np.float_power.reduce": "np.prod",
}


class UnsupportedOpError(ADError, TypeError):
    """A NumPy function or ufunc with no derivative rule was applied to a traced value.
    The message names it, says why where a detail is known, and gives the closest
    supported alternative (:data:`ALTERNATIVES`) where there is one."""

    def __init__(self, name, detail=""):
        alternative = ALTERNATIVES.get(name)
        msg = (
            f"{name} has no derivative rule in adcore, so it cannot be applied to a traced "
            f"value (a dualnum.Dual or a tapes.Tracer){': ' + detail if detail else ''}. "
            + (f"Closest supported: {alternative}. " if alternative else "")
            + "Otherwise rewrite it with registered NumPy functions (the list: "
            "adcore.numpy_entry_points(), COVERAGE.md) or register a rule once with "
            "adcore.defop(...)."
        )
        super().__init__(msg)
        self.name = name


class ConcretizationError(ADError, TypeError):
    """A traced value was turned into a plain Python number or a plain NumPy array."""


class MutationError(ADError, TypeError):
    """A traced array was written to in place (x[i] = v, np.add(..., out=x))."""


class TracerLeakError(ADError, RuntimeError):
    """A traced value outlived the derivative call that created it."""


class NonFloatInputError(ADError, TypeError):
    """An integer, boolean or complex array was passed where a derivative is taken."""


class NonScalarOutputError(ADError, TypeError):
    """``grad`` was asked for the gradient of a function whose output is not a scalar."""


class RegistrationError(ADError, ValueError):
    """An op was registered without a rule for one of the two modes."""


class GuardError(ADError, RuntimeError):
    """A recorded tape was replayed at an input where the program would take another branch."""
