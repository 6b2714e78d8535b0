"""Complex numbers: the ops that are not holomorphic, and the convention that ties them up.

Convention (JAX's, which autograd shares; the README states it with an example). A complex
tangent is a complex number; a cotangent ``w`` pairs with a tangent ``t`` by
``Re(sum(w * t))`` -- no conjugation. So for a holomorphic op with derivative ``f'(z)``
the JVP is ``f'(z) t`` and the VJP ``w f'(z)``: the elementwise and structural rules of the
real case serve unchanged (``Op.complex_partials`` gives the holomorphic formula where the
real partial uses real-only functions). For a real-valued ``f`` of a complex ``z = x + iy``
the gradient (the VJP of 1) is ``df/dx - i df/dy``; for a holomorphic ``f`` it is
``f'(z)``. A real input whose cotangent came out complex (``x * 1j``) keeps its real part:
the transpose of the inclusion R -> C (adcore.rules).

Ops that are not holomorphic need their own rules, and only three are primitive here:
``real``, ``imag`` and ``conj`` (R-linear maps, their transposes under that pairing are
``w -> w``, ``w -> -i w`` and ``w -> conj(w)``). ``abs``, ``angle`` and ``sign`` of a complex
value are composed from them (``hypot(re, im)``, ``arctan2(im, re)``), so they inherit the
real rules' conventions (the zero subgradient of ``abs`` at 0). Ops that order values
(maximum, clip, sort, max) take NumPy's lexicographic order of complex numbers: they select
entries, and the derivative of a selection is the selected entry's (ties split as for reals).
"""
from __future__ import annotations

import numpy as np

from . import registry
from .registry import Domain, Example, defcomposite, defop
from .tracing import apply, call_nondiff, cast, is_complex, value_of


def _complex_dtype(x):
    return np.result_type(value_of(x), np.complex64)


def _as_complex(g, like):
    """A real cotangent (or tangent) as the complex dtype of ``like``."""
    return cast(g, _complex_dtype(like))


real_op = defop(
    "real", lambda z: np.real(z),
    jvp=lambda ts, out, z: np.real(ts[0]),
    vjp=lambda g, needed, out, z: (_as_complex(g, z),),
    nargs=1, coefficients="structural",
    doc="Re(z) of a complex z: JVP Re(t); VJP w (as complex, the pairing Re(w t)).",
    examples=(Example(lambda x, y: np.real((x + 1j * y) ** 2), ((3,), (3,)), label="re z^2"),))

imag_op = defop(
    "imag", lambda z: np.imag(z),
    jvp=lambda ts, out, z: np.imag(ts[0]),
    vjp=lambda g, needed, out, z: (np.multiply(_as_complex(g, z), -1j),),
    nargs=1, coefficients="structural",
    doc="Im(z) of a complex z: JVP Im(t); VJP -i w (Re(-i w t) = w Im(t)).",
    examples=(Example(lambda x, y: np.imag((x + 1j * y) ** 2), ((3,), (3,)), label="im z^2"),))

conj_op = defop(
    "conj", lambda z: np.conjugate(z),
    jvp=lambda ts, out, z: np.conjugate(ts[0]),
    vjp=lambda g, needed, out, z: (np.conjugate(g),),
    nargs=1, coefficients="structural", moves=("jvp", "vjp"),
    doc="conj(z) of a complex z: JVP conj(t); VJP conj(w) (Re(w conj(t)) = Re(conj(w) t)).",
    examples=(Example(lambda x, y: np.real(np.conj(x + 1j * y) * (x - 2j * y)), ((3,), (3,)),
                      label="conj"),))


def real(z):
    return apply(real_op, z) if is_complex(z) else z


def imag(z):
    return apply(imag_op, z) if is_complex(z) else np.zeros(np.shape(value_of(z)))


def conj(z):
    return apply(conj_op, z) if is_complex(z) else z


_CPLX = (Domain(), Domain())


@defcomposite((np.real,), examples=(
    Example(lambda x, y: np.real(np.exp(x + 1j * y)), ((4,), (4,)), label="exp"),))
def _real(val):
    return real(val)


@defcomposite((np.imag,), examples=(
    Example(lambda x, y: np.imag(np.log(x + 1j * y)), ((4,), (4,)), domains=(
        Domain(0.5, 2.0), Domain()), label="log"),))
def _imag(val):
    return imag(val)


@defcomposite((np.conj, np.conjugate), name="conjugate", examples=(
    Example(lambda x, y: np.abs(np.conj(x + 1j * y) ** 2), ((3,), (3,)), label="|conj z^2|"),))
def _conjugate(x, **kwargs):
    if kwargs.get("out") is not None:
        from .errors import MutationError
        raise MutationError("np.conjugate(..., out=...) writes in place; use the returned value")
    return conj(x)


@defcomposite((np.angle,), examples=(
    Example(lambda x, y: np.angle(x + 1j * y), ((4,), (4,)),
            domains=(Domain(0.3, 2.0), Domain()), label="angle"),))
def _angle(z, deg=False):
    """arg z = arctan2(Im z, Re z) (a real input: 0 or pi, a step with derivative 0)."""
    if not is_complex(z):
        out = call_nondiff("np.angle", lambda v: np.arctan2(np.zeros(np.shape(v)), v), (z,), {})
        return np.rad2deg(out) if deg else out
    out = np.arctan2(imag(z), real(z))
    return np.rad2deg(out) if deg else out


registry.NONDIFF_FUNCTIONS.update({np.iscomplex, np.isreal})


def complex_abs(z):
    """|z| = hypot(Re z, Im z): NumPy's algorithm, and hypot's zero subgradient at 0."""
    return np.hypot(real(z), imag(z))


def complex_sign(z):
    """z / |z| (NumPy 2), 0 at 0: a selection there, so the derivative at 0 is 0."""
    at0 = call_nondiff("z == 0", np.equal, (z, 0), {})
    return np.where(at0, 0.0, z / np.where(at0, 1.0, complex_abs(z)))


def _redirect(name, complex_build):
    """A binder for an elementwise op: the op itself for real inputs, ``complex_build``
    (a composite of registered ops) for a complex one."""
    op = registry.get_op(name)

    def bind(*args, **kwargs):
        if kwargs:
            raise TypeError(f"unexpected keyword argument(s) {sorted(kwargs)}")
        if any(is_complex(a) for a in args):
            return registry.Done(complex_build(*args))
        return args, {}
    return op, bind


for _entry, (_name, _build) in {np.absolute: ("abs", complex_abs),
                                np.sign: ("sign", complex_sign)}.items():
    registry.register_numpy_alias(_entry, *_redirect(_name, _build))
