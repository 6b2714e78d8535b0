"""Errors raised instead of returning a derivative that silently lost a term.

Every message names the operation and says what to do instead.
"""


class ADError(Exception):
    """Base class of every fwdrev differentiation error."""


class UnsupportedOpError(ADError, TypeError):
    """A NumPy function or ufunc with no derivative rule was applied to a traced value."""

    def __init__(self, name, detail=""):
        msg = (
            f"{name} has no derivative rule in adcore, so it cannot be applied to a traced "
            f"value (a dualnum.Dual or a tapes.Tracer){': ' + detail if detail else ''}. "
            "Rewrite it with registered NumPy functions (see adcore.registered_ops()) or "
            "register a rule once with adcore.defop(...)."
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
