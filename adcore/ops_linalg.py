"""Linear algebra: ``np.linalg`` as registered ops (one per differentiable output) and composites.

Shapes: every function takes stacks of matrices ``(..., M, N)`` as NumPy does. The rules see
a batch of k directions in front, ``(k, ..., M, N)``, and broadcast the primal stack against
it (matmul and solve broadcast leading axes).

Multi-output functions (eigh, svd, qr, slogdet, lstsq) are one op per differentiable output,
each calling NumPy in its primal, and a composite that returns NumPy's own result class
(``EighResult``, ``SVDResult``, ...). An output nobody uses gets no cotangent, so e.g. the
eigenvector rule's 1/(w_j - w_i) never reaches an eigenvalue-only gradient.

Rules are written with registered NumPy functions (matmul, solve, inv, where, sum, ...), so
nested calls differentiate them again (second derivatives). Sources:
M. Giles, "An extended collection of matrix derivative results for forward and reverse mode
AD" (2008) [Giles]; I. Murray, "Differentiation of the Cholesky decomposition" (2016)
[Murray]; J. Townsend, "Differentiating the singular value decomposition" (2016) [Townsend];
S. Walter, L. Lehmann, "Algorithmic differentiation of linear algebra functions with
application in optimum experimental design" (2013) [Walter-Lehmann]; G. Golub, V. Pereyra,
"The differentiation of pseudo-inverses and nonlinear least squares problems" (1973)
[Golub-Pereyra].

Conventions:

* Symmetric-input routines (cholesky, eigh, eigvalsh, pinv(hermitian=True)) are
  differentiated as NumPy computes them: NumPy reads one triangle (the lower by default,
  ``UPLO='U'`` / ``upper=True`` the upper), so the derivative with respect to the other
  triangle is exactly 0, and a used off-diagonal entry gets the contributions of both (i, j)
  and (j, i). This agrees with finite differences along *any* perturbation. JAX instead
  symmetrizes the tangent, (dA + dA^T) / 2; the two agree on symmetric perturbations.
* Eigen- and singular vectors are differentiated only where the eigen/singular values are
  distinct (and, for the extra columns of a non-square SVD, non-zero): the rules divide by
  the gaps, so at a degenerate spectrum the vector derivatives are inf or NaN -- never a
  wrong finite number. Values-only functions (eigvalsh, svdvals, det, norms) do not use them.
* A singular matrix makes inv and solve (and slogdet's derivative, -> inf) raise NumPy's
  LinAlgError. det's derivative, the cofactor matrix, is defined everywhere: at a singular
  matrix it comes from the SVD. pinv and lstsq are differentiated where the rank is locally
  constant [Golub-Pereyra]; their derivative assumes the rank stays what it is.
* Norms (np.linalg.norm, vector_norm, matrix_norm) follow NumPy's formula for each ord, so
  kinks get the conventions of the ops they are made of: the 2-norm and Frobenius norm give
  the zero subgradient at 0; ord 1, inf, 'nuc' and the spectral norm give a subgradient at
  zeros and ties (abs'(0) = 0, ties of max split equally); other p are NaN at 0; ord=0 is a
  count, with no derivative.
* Complex numbers are not supported: eig and eigvals raise UnsupportedOpError, and the ops
  refuse complex matrices.
"""
from __future__ import annotations

import functools
import math
import operator

import numpy as np

from . import registry
from .errors import MutationError, UnsupportedOpError
from .linear import pad_batch, unbroadcast
from .ops_structural import _bind_matmul, matmul_op, norm2
from .registry import Domain, Done, Example, defcomposite, defop, register_numpy_alias
from .tracing import Traced, apply, call_nondiff, value_of

# NumPy's own result classes (namedtuples), taken from NumPy's results rather than from its
# private module: ``w, V = eigh(A)`` and ``eigh(A).eigenvalues`` both work.
_ONE = np.eye(1)
EighResult = type(np.linalg.eigh(_ONE))
SVDResult = type(np.linalg.svd(_ONE))
QRResult = type(np.linalg.qr(_ONE))
SlogdetResult = type(np.linalg.slogdet(_ONE))

SMALL = Domain(-1.0, 1.0)  # example entries; the example builds a well-conditioned input


# ------------------------------------------------------------------------------ helpers
def _T(x):
    """The transpose of the last two axes (of a stack, or of a batch of stacks)."""
    return np.swapaxes(x, -1, -2)


def _dtype(x):
    """The float dtype of a value: float32 stays float32 (as matmul's rules keep it)."""
    return np.result_type(value_of(x), np.float32)


def _eye(n, like):
    return np.eye(n, dtype=_dtype(like))


def _row(s):
    """``s`` (..., K) as (..., 1, K): multiplies the columns of a matrix (X @ diag(s))."""
    return np.expand_dims(s, -2)


def _col(s):
    """``s`` (..., K) as (..., K, 1): multiplies the rows of a matrix (diag(s) @ X)."""
    return np.expand_dims(s, -1)


def _solve_right(x, r):
    """``x @ inv(r)`` without forming the inverse."""
    return _T(np.linalg.solve(_T(r), _T(x)))


def _inverse_gaps(w):
    """F with F[i, j] = 1 / (w[j] - w[i]) off the diagonal and 0 on it; inf where two values
    coincide (a degenerate spectrum: the vector derivatives are not defined there)."""
    eye = np.eye(np.shape(w)[-1], dtype=bool)
    gaps = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    return np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, gaps))


def _masks(n, lower):
    """(triangle incl. diagonal, strict triangle) boolean masks of an n x n matrix."""
    tri, strict = np.tri(n, dtype=bool), np.tri(n, k=-1, dtype=bool)
    return (tri, strict) if lower else (tri.T, strict.T)


def _from_triangle(t, lower):
    """The symmetric matrix NumPy reads from one triangle of ``t``: tril(t) + tril(t, -1)^T
    for the lower one. Linear, so it maps tangents the same way."""
    tri, strict = _masks(np.shape(t)[-1], lower)
    return np.where(tri, t, 0.0) + _T(np.where(strict, t, 0.0))


def _to_triangle(g, lower):
    """The transpose of :func:`_from_triangle`: tril(g) + tril(g^T, -1) for the lower triangle,
    so the unread triangle gets exactly 0 and a read entry both (i, j) and (j, i)."""
    tri, strict = _masks(np.shape(g)[-1], lower)
    return np.where(tri, g, 0.0) + np.where(strict, _T(g), 0.0)


def _square(a):
    shape = np.shape(a)
    if len(shape) < 2:
        raise np.linalg.LinAlgError(
            f"{len(shape)}-dimensional array given. Array must be at least two-dimensional")
    if shape[-1] != shape[-2]:
        raise np.linalg.LinAlgError("Last 2 dimensions of the array must be square")


# ------------------------------------------------------------------------------ zeros
# A dense matrix map has no structural zeros of its own: a direction of the output is a
# structural zero only when that direction of every input is one. adcore's generic pattern
# for "data" ops re-runs the rule on all-ones inputs -- a singular matrix here, so inv, solve
# and cholesky would raise -- so these ops state that pattern directly (``sz_rules``).
def _zero_directions(mask, shape):
    """(k,) bool: which directions of a (co)tangent with structural zeros ``mask`` are zero."""
    m = np.asarray(mask, dtype=bool)
    m = m.reshape((1,) * (1 + len(shape) - m.ndim) + m.shape)
    m = np.broadcast_to(m, m.shape[:1] + tuple(shape))
    return m.reshape(m.shape[0], -1).all(axis=1)


def _directions_mask(whole, shape):
    if not whole.any():
        return None
    return np.broadcast_to(whole.reshape((-1,) + (1,) * len(shape)), whole.shape + tuple(shape))


def _dense_jvp_sz(ts, szs, out, *inputs, **params):
    if any(t is not None and s is None for t, s in zip(ts, szs)):
        return None  # an input direction with no structural zeros: none in the output
    present = [(s, x) for t, s, x in zip(ts, szs, inputs) if t is not None]
    whole = functools.reduce(np.logical_and, [_zero_directions(s, np.shape(x))
                                              for s, x in present])
    return _directions_mask(whole, np.shape(out))


def _dense_vjp_sz(g, gsz, needed, out, *inputs, **params):
    whole = np.broadcast_to(_zero_directions(gsz, np.shape(out)), np.shape(g)[:1])
    return tuple(_directions_mask(whole, np.shape(x)) if need else None
                 for need, x in zip(needed, inputs))


def _real_only(name, primal):
    """``primal``, refusing complex matrices: the rules use transposes, not conjugate ones."""
    @functools.wraps(primal)
    def run(*inputs, **params):
        if any(np.iscomplexobj(x) for x in inputs):
            raise UnsupportedOpError(f"np.{name.split('_')[0]}", "complex matrices are not "
                                     "supported yet (only real floating-point ones)")
        return primal(*inputs, **params)
    return run


def _op(name, primal, jvp, vjp, nargs=1, **kwargs):
    """Register a dense linear-algebra op of real matrices (see the note on zeros above)."""
    return defop(name, _real_only(name, primal), jvp=jvp, vjp=vjp, nargs=nargs,
                 sz_rules={"jvp": _dense_jvp_sz, "vjp": _dense_vjp_sz}, **kwargs)


def _examples(*items):
    return tuple(Example(fn, shapes, domains=(SMALL,) * len(shapes), label=label)
                 for label, fn, shapes in items)


def _wc(a):
    """A well-conditioned matrix from entries in [-1, 1]: strictly diagonally dominant."""
    n = np.shape(a)[-1]
    return a + (n + 1) * np.eye(n)


def _spread(a):
    """Entries in [-1, 1] plus well-separated diagonal steps: distinct eigen/singular values."""
    m, n = np.shape(a)[-2:]
    return a + np.eye(m, n) * (3.0 * np.arange(n))


# ------------------------------------------------------------------------------ solve, inv
def _solve_jvp(ts, out, a, b):
    ta, tb = ts
    nd = np.ndim(out)
    rhs = None if tb is None else pad_batch(tb, nd)
    if ta is not None:  # d(a^-1 b) = a^-1 (db - da x)
        r = pad_batch(ta, nd) @ out
        rhs = -r if rhs is None else rhs - r
    return np.linalg.solve(a, rhs)


def _solve_vjp(g, needed, out, a, b):
    gb = np.linalg.solve(_T(a), g)  # b's cotangent a^-T g; a's is -a^-T g x^T
    ga = unbroadcast(-(gb @ _T(out)), np.shape(a)) if needed[0] else None
    return ga, (unbroadcast(gb, np.shape(b)) if needed[1] else None)


def _bind_solve(a, b):
    if np.ndim(b) == 1:  # NumPy 2: b is a vector only when it is 1-D
        return Done(apply(solve_op, a, b[:, None])[..., 0])
    return (a, b), {}


solve_op = _op(
    "linalg.solve", np.linalg.solve, _solve_jvp, _solve_vjp, nargs=2,
    numpy=(np.linalg.solve,), bind=_bind_solve,
    doc="x = solve(a, b): a (..., n, n), b (..., n, m) (stacks broadcast) or b (n,). "
        "dx = a^-1 (db - da x); b's cotangent a^-T g, a's -(a^-T g) x^T [Giles].",
    examples=_examples(
        ("vector b", lambda a, b: np.linalg.solve(_wc(a), b), ((3, 3), (3,))),
        ("matrix b", lambda a, b: np.linalg.solve(_wc(a), b), ((3, 3), (3, 2))),
        ("batch", lambda a, b: np.linalg.solve(_wc(a), b), ((2, 3, 3), (2, 3, 2))),
        ("batch a, vector b", lambda a, b: np.linalg.solve(_wc(a), b), ((2, 3, 3), (3,))),
        ("broadcast a", lambda a, b: np.linalg.solve(_wc(a), b), ((3, 3), (2, 3, 1)))))

inv_op = _op(
    "linalg.inv", np.linalg.inv,
    lambda ts, out, a: -(out @ ts[0] @ out),
    lambda g, needed, out, a: (-(_T(out) @ g @ _T(out)),),
    numpy=(np.linalg.inv,),
    doc="inv(a), a (..., n, n): d inv = -inv da inv; cotangent -inv^T g inv^T [Giles].",
    examples=_examples(
        ("matrix", lambda a: np.linalg.inv(_wc(a)), ((3, 3),)),
        ("batch", lambda a: np.linalg.inv(_wc(a)), ((2, 3, 3),)),
        ("inv of inv", lambda a: np.linalg.inv(np.linalg.inv(_wc(a))), ((2, 2),))))


# ------------------------------------------------------------------------------ det, slogdet
def _inv_T(a):
    return _T(np.linalg.inv(a))


def _cofactors(a, det):
    """d det / d a = the cofactor matrix adj(a)^T, (..., n, n): det a^-T where every det in
    the stack is non-zero; else from the SVD, sign U diag(prod_{j != i} s_j) Vh with sign =
    det(U) det(Vh) -- a polynomial, defined at singular matrices too (0 where rank < n - 1)."""
    # decisions on plain values through call_nondiff: guards when this rule is recorded
    if call_nondiff("det != 0", lambda d: bool(np.all(d != 0)), (det,), {}):
        return np.expand_dims(det, (-2, -1)) * _inv_T(a)
    u, s, vh = (apply(op, a, how="full") for op in (svd_u_op, svd_s_op, svd_vh_op))
    sign = call_nondiff("det(U) det(Vh)", lambda u_, vh_: np.linalg.det(u_) * np.linalg.det(vh_),
                        (u, vh), {})  # +-1: constant between sign changes
    others = np.prod(np.where(np.eye(np.shape(s)[-1], dtype=bool), 1.0, _row(s)), axis=-1)
    return np.expand_dims(sign, (-2, -1)) * ((u * _row(others)) @ vh)


det_op = _op(
    "linalg.det", np.linalg.det,
    lambda ts, out, a: np.sum(_cofactors(a, out) * ts[0], axis=(-2, -1)),
    lambda g, needed, out, a: (np.expand_dims(g, (-2, -1)) * _cofactors(a, out),),
    numpy=(np.linalg.det,),
    doc="det(a), a (..., n, n) -> (...): d det = tr(adj(a) da), adj(a)^T = det a^-T "
        "[Giles]; at a singular a the cofactors come from the SVD (still defined).",
    examples=(Example(lambda a: np.linalg.det(a), ((3, 3),), label="matrix"),
              Example(lambda a: np.linalg.det(a), ((2, 3, 3),), label="batch"),
              Example(lambda a: np.linalg.det(_wc(a)), ((1, 1),), domains=(SMALL,),
                      label="1x1"),
              Example(lambda a: np.linalg.det(a * np.array([1.0, 1.0, 0.0])), ((3, 3),),
                      label="singular (cofactors by SVD)")))

logabsdet_op = _op(
    "linalg.slogdet_logabsdet", lambda a: np.linalg.slogdet(a).logabsdet,
    lambda ts, out, a: np.sum(_inv_T(a) * ts[0], axis=(-2, -1)),
    lambda g, needed, out, a: (np.expand_dims(g, (-2, -1)) * _inv_T(a),),
    doc="log|det a|, the logabsdet of slogdet: d = tr(a^-1 da); cotangent g a^-T [Giles].",
    examples=(Example(lambda a: np.linalg.slogdet(a).logabsdet, ((3, 3),), label="matrix"),
              Example(lambda a: np.linalg.slogdet(a)[1], ((2, 3, 3),), label="batch, [1]")))


@defcomposite((np.linalg.slogdet,), examples=(
    Example(lambda a: np.linalg.slogdet(a)[0] * np.linalg.slogdet(a)[1], ((3, 3),),
            label="sign * logabsdet"),))
def _slogdet(a):
    """SlogdetResult(sign, logabsdet): the sign is a plain array (no derivative: it is
    piecewise constant), the logabsdet an op."""
    sign = call_nondiff("np.linalg.slogdet (sign)", lambda a: np.linalg.slogdet(a).sign, (a,), {})
    return SlogdetResult(sign, apply(logabsdet_op, a))


# ------------------------------------------------------------------------------ cholesky
def _phi(x):
    """Murray's Phi: the lower triangle with the diagonal halved."""
    n = np.shape(x)[-1]
    return np.where(np.tri(n, k=-1, dtype=bool), x,
                    np.where(np.eye(n, dtype=bool), 0.5 * x, 0.0))


def _cholesky_jvp(ts, out, a, upper):
    lo = _T(out) if upper else out
    ds = _from_triangle(ts[0], lower=not upper)
    dl = lo @ _phi(_solve_right(np.linalg.solve(lo, ds), _T(lo)))  # L Phi(L^-1 dS L^-T)
    return _T(dl) if upper else dl


def _cholesky_vjp(g, needed, out, a, upper):
    lo = _T(out) if upper else out
    gl = _T(g) if upper else g
    p = _phi(_T(lo) @ gl)
    gs = _solve_right(np.linalg.solve(_T(lo), p), lo)  # L^-T Phi(L^T G) L^-1
    return (_to_triangle(gs, lower=not upper),)


def _bind_cholesky(a, /, *, upper=False):
    return (a,), {"upper": bool(upper)}


cholesky_op = _op(
    "linalg.cholesky", lambda a, upper: np.linalg.cholesky(a, upper=upper),
    _cholesky_jvp, _cholesky_vjp, numpy=(np.linalg.cholesky,), bind=_bind_cholesky,
    doc="cholesky(a, upper=False): L (..., n, n) with S = L L^T, S read from the lower "
        "triangle of a (upper=True: from the upper one, returning L^T). dL = L Phi(L^-1 dS "
        "L^-T), Phi = lower triangle with halved diagonal; cotangent L^-T Phi(L^T G) L^-1 "
        "[Murray 2016]. Triangle convention: the unread triangle's derivative is exactly 0 and "
        "a read off-diagonal entry gets both (i, j) and (j, i) (JAX symmetrizes instead; the "
        "two agree on symmetric perturbations).",
    examples=_examples(
        ("SPD a a^T", lambda a: np.linalg.cholesky(a @ _T(a) + 3 * np.eye(3)), ((3, 3),)),
        ("lower triangle read", lambda a: np.linalg.cholesky(_wc(a)), ((3, 3),)),
        ("upper=True", lambda a: np.linalg.cholesky(_wc(a), upper=True), ((3, 3),)),
        ("batch", lambda a: np.linalg.cholesky(_wc(a)), ((2, 3, 3),))))


# ------------------------------------------------------------------------------ eigh
def _uplo(UPLO):
    u = str(UPLO).upper()
    if u not in ("L", "U"):
        raise ValueError("UPLO argument must be 'L' or 'U'")
    return u


def _eigh_values_primal(a, uplo, via):
    if via == "eigvalsh":
        return np.linalg.eigvalsh(a, UPLO=uplo)
    return np.linalg.eigh(a, UPLO=uplo).eigenvalues


def _eigh_vectors(a, uplo):
    return apply(eigh_vectors_op, a, uplo=uplo)


def _eigh_values_jvp(ts, out, a, uplo, via):
    v = _eigh_vectors(a, uplo)
    ds = _from_triangle(ts[0], uplo == "L")
    return np.sum(v * (ds @ v), axis=-2)  # dw_i = v_i^T dS v_i


def _eigh_values_vjp(g, needed, out, a, uplo, via):
    v = _eigh_vectors(a, uplo)
    return (_to_triangle((v * _row(g)) @ _T(v), uplo == "L"),)  # V diag(g) V^T


def _bind_eigvalsh(a, UPLO="L"):
    return (a,), {"uplo": _uplo(UPLO), "via": "eigvalsh"}


_EIGH_DOC = (
    " S is read from one triangle of a (UPLO='L': the lower): the unread triangle's derivative "
    "is exactly 0 and a read off-diagonal entry gets both (i, j) and (j, i) -- the derivative "
    "of what NumPy computes, equal to finite differences along any perturbation (JAX "
    "symmetrizes the tangent; the two agree on symmetric perturbations).")

eigh_values_op = _op(
    "linalg.eigh_values", _eigh_values_primal, _eigh_values_jvp, _eigh_values_vjp,
    numpy=(np.linalg.eigvalsh,), bind=_bind_eigvalsh,
    doc="Eigenvalues w (..., n) of a symmetric S (eigvalsh, eigh(...).eigenvalues): "
        "dw = diag(V^T dS V), cotangent V diag(g) V^T [Giles]. At a repeated eigenvalue "
        "this is the derivative along NumPy's eigenvector basis (as in JAX)." + _EIGH_DOC,
    examples=_examples(
        ("eigvalsh", lambda a: np.linalg.eigvalsh(_spread(a)), ((3, 3),)),
        ("UPLO='U'", lambda a: np.linalg.eigvalsh(_spread(a), UPLO="U"), ((3, 3),)),
        ("batch", lambda a: np.linalg.eigvalsh(_spread(a)), ((2, 3, 3),)),
        ("eigh values", lambda a: np.linalg.eigh(_spread(a)).eigenvalues, ((4, 4),))))


def _eigh_vectors_jvp(ts, out, a, uplo):
    f = _inverse_gaps(apply(eigh_values_op, a, uplo=uplo, via="eigh"))
    ds = _from_triangle(ts[0], uplo == "L")
    return out @ (f * (_T(out) @ ds @ out))  # dV = V (F o (V^T dS V))


def _eigh_vectors_vjp(g, needed, out, a, uplo):
    f = _inverse_gaps(apply(eigh_values_op, a, uplo=uplo, via="eigh"))
    return (_to_triangle(out @ (f * (_T(out) @ g)) @ _T(out), uplo == "L"),)


eigh_vectors_op = _op(
    "linalg.eigh_vectors", lambda a, uplo: np.linalg.eigh(a, UPLO=uplo).eigenvectors,
    _eigh_vectors_jvp, _eigh_vectors_vjp,
    doc="Eigenvectors V (..., n, n) of a symmetric S (eigh): dV = V (F o (V^T dS V)) with "
        "F_ij = 1/(w_j - w_i), F_ii = 0; cotangent V (F o (V^T G)) V^T [Giles]. Defined "
        "for distinct eigenvalues only: at a degenerate spectrum it is inf/NaN. The sign of "
        "each column is NumPy's (LAPACK's) choice." + _EIGH_DOC,
    examples=_examples(
        ("V * V", lambda a: np.linalg.eigh(_spread(a)).eigenvectors ** 2, ((3, 3),)),
        ("V diag(c) V^T, UPLO='U'", lambda a: (lambda v: (v * np.array([1.0, -2.0, 0.5])) @ _T(v))(
            np.linalg.eigh(_spread(a), UPLO="U")[1]), ((3, 3),)),
        ("batch", lambda a: np.linalg.eigh(_spread(a))[1] ** 2, ((2, 3, 3),))))


@defcomposite((np.linalg.eigh,), examples=_examples(
    ("V diag(w) V^T", lambda a: (lambda r: (r.eigenvectors * _row(r.eigenvalues)) @ _T(r[1]))(
        np.linalg.eigh(_spread(a))), ((3, 3),)),))
def _eigh(a, UPLO="L"):
    """EighResult(eigenvalues, eigenvectors): one op each (see eigh_values, eigh_vectors)."""
    uplo = _uplo(UPLO)
    return EighResult(apply(eigh_values_op, a, uplo=uplo, via="eigh"),
                      apply(eigh_vectors_op, a, uplo=uplo))


# ------------------------------------------------------------------------------ eig
# A = U diag(w) U^-1 (general real matrix; w, U complex in general). For distinct
# eigenvalues dw = diag(U^-1 dA U) (Giles 2008, sec. 3.1); under the pairing Re(sum(c * t))
# (adcore.ops_complex) the VJP is U^-T diag(c) U^T, whose real part the real A keeps. U comes
# from NumPy on plain values, so the rule itself is not differentiable again: a nested
# derivative of eigvals raises instead of dropping the dU terms. Eigenvectors: NumPy fixes
# their phase by "largest component real", a gauge with no derivative offered here.
def _eig_plain(a):
    w, u = np.linalg.eig(value_of(a))
    return w, u


def _no_nesting(*values):
    if any(isinstance(v, Traced) for v in values):
        raise UnsupportedOpError("np.linalg.eigvals", "second derivatives (the rule uses the "
                                 "eigenvectors as constants); for a symmetric matrix use "
                                 "np.linalg.eigvalsh, which has derivatives of every order")


def _eigvals_jvp(ts, out, a):
    _no_nesting(a, ts[0])
    w, u = _eig_plain(a)
    m = np.linalg.solve(u, ts[0] @ u)  # (k, ..., n, n): U^-1 t U
    return np.diagonal(m, axis1=-2, axis2=-1)


def _eigvals_vjp(g, needed, out, a):
    _no_nesting(a, g)
    w, u = _eig_plain(a)
    inner = g[..., :, None] * np.eye(np.shape(w)[-1])  # diag(c)
    return (np.linalg.solve(np.swapaxes(u, -1, -2), inner @ np.swapaxes(u, -1, -2)),)


def _eigvals_primal(a):
    _square(a)
    return np.linalg.eigvals(a)


eigvals_op = defop(
    "linalg.eigvals", _eigvals_primal, jvp=_eigvals_jvp, vjp=_eigvals_vjp, nargs=1,
    numpy=(np.linalg.eigvals,),
    doc="Eigenvalues of a general square matrix (complex in general); distinct eigenvalues.",
    examples=(Example(lambda a: np.abs(np.linalg.eigvals(a + np.diag([0.0, 1.5, 3.0]))),
                      ((3, 3),), domains=(Domain(-0.3, 0.3),), label="|eigvals|"),
              Example(lambda a: np.real(np.sum(np.linalg.eigvals(a) ** 2)), ((2, 3, 3),),
                      label="batch, sum of squares")))


def _eig_vectors_refuse(*args, **kwargs):
    raise UnsupportedOpError(
        "np.linalg.eig", "derivatives of the eigenvectors (NumPy fixes their phase by a "
        "convention with no derivative offered here): differentiate the eigenvalues "
        "(np.linalg.eigvals), or use np.linalg.eigh for a symmetric matrix")


eig_vectors_op = defop(
    "linalg.eig_vectors", lambda a: np.linalg.eig(a).eigenvectors,
    jvp=_eig_vectors_refuse, vjp=_eig_vectors_refuse, nargs=1,
    doc="The eigenvectors of np.linalg.eig: their derivative raises (see linalg.eigvals).",
    examples=(Example(lambda a: np.abs(np.linalg.eig(a + np.diag([0.0, 1.5, 3.0]))[1]),
                      ((3, 3),), domains=(Domain(-0.3, 0.3),), label="vectors of eig",
                      raises=UnsupportedOpError),))


@defcomposite((np.linalg.eig,))
def _eig(a):
    """EigResult(eigenvalues, eigenvectors): the values differentiable, the vectors' derivative
    an error when one is asked for (reverse mode: only if they are used)."""
    _square(value_of(a))
    from numpy.linalg._linalg import EigResult
    return EigResult(apply(eigvals_op, a), apply(eig_vectors_op, a))


# ------------------------------------------------------------------------------ svd
# ``how``: "reduced" (full_matrices=False), "full" (full_matrices=True: square only, where it
# is the same decomposition) or "values" (compute_uv=False; the singular values only).
def _svd_primal(a, how):
    if how == "values":
        return None, np.linalg.svd(a, compute_uv=False), None
    return np.linalg.svd(a, full_matrices=(how == "full"))


def _uv(how):
    return "reduced" if how == "values" else how


def _svd_u(a, how):
    return apply(svd_u_op, a, how=_uv(how))


def _svd_s(a, how):
    return apply(svd_s_op, a, how=how)


def _svd_vh(a, how):
    return apply(svd_vh_op, a, how=_uv(how))


def _svd_s_jvp(ts, out, a, how):
    u, vh = _svd_u(a, how), _svd_vh(a, how)
    return np.sum(u * (ts[0] @ _T(vh)), axis=-2)  # ds_i = u_i^T dA v_i


def _svd_s_vjp(g, needed, out, a, how):
    return ((_svd_u(a, how) * _row(g)) @ _svd_vh(a, how),)  # U diag(g) V^T


def _svd_u_jvp(ts, out, a, how):
    u, s, v = out, _svd_s(a, how), _T(_svd_vh(a, how))
    dav = ts[0] @ v
    p = _T(u) @ dav
    du = u @ (_inverse_gaps(s * s) * (p * _row(s) + _col(s) * _T(p)))
    if np.shape(u)[-2] > np.shape(u)[-1]:  # tall: (I - U U^T) dA V S^-1
        du = du + (dav - u @ p) / _row(s)
    return du


def _svd_u_vjp(g, needed, out, a, how):
    u, s, vh = out, _svd_s(a, how), _svd_vh(a, how)
    utg = _T(u) @ g
    ga = u @ ((_inverse_gaps(s * s) * (utg - _T(utg))) * _row(s)) @ vh
    if np.shape(u)[-2] > np.shape(u)[-1]:
        ga = ga + ((g - u @ utg) / _row(s)) @ vh
    return (ga,)


def _svd_vh_jvp(ts, out, a, how):
    u, s, v = _svd_u(a, how), _svd_s(a, how), _T(out)
    t = ts[0]
    p = _T(u) @ (t @ v)
    dv = v @ (_inverse_gaps(s * s) * (_col(s) * p + _T(p) * _row(s)))
    if np.shape(v)[-2] > np.shape(v)[-1]:  # wide: (I - V V^T) dA^T U S^-1
        dv = dv + (_T(t) @ u - v @ _T(p)) / _row(s)
    return _T(dv)


def _svd_vh_vjp(g, needed, out, a, how):
    u, s, vh = _svd_u(a, how), _svd_s(a, how), out
    vtg = vh @ _T(g)  # V^T Vbar with Vbar = g^T
    ga = u @ (_col(s) * (_inverse_gaps(s * s) * (vtg - _T(vtg)))) @ vh
    if np.shape(vh)[-1] > np.shape(vh)[-2]:
        ga = ga + (u / _row(s)) @ (g - (g @ _T(vh)) @ vh)
    return (ga,)


_SVD_DOC = (" a = U diag(s) Vh, a (..., M, N), K = min(M, N): U (..., M, K), s (..., K), "
            "Vh (..., K, N). [Townsend 2016] with F_ij = 1/(s_j^2 - s_i^2).")

svd_s_op = _op(
    "linalg.svd_values", lambda a, how: _svd_primal(a, how)[1], _svd_s_jvp, _svd_s_vjp,
    doc="Singular values s (svd, svdvals, svd(compute_uv=False)): ds = diag(U^T dA V), "
        "cotangent U diag(g) V^T. At a repeated singular value: the derivative along NumPy's "
        "singular vectors; at s = 0 a one-sided derivative (a subgradient for norms)." + _SVD_DOC,
    examples=_examples(
        ("wide", lambda a: np.linalg.svd(_spread(a), compute_uv=False), ((3, 4),)),
        ("tall", lambda a: np.linalg.svdvals(_spread(a)), ((4, 3),)),
        ("batch", lambda a: np.linalg.svd(_spread(a), compute_uv=False), ((2, 3, 3),)),
        ("full svd .S", lambda a: np.linalg.svd(_spread(a)).S, ((3, 3),))))

svd_u_op = _op(
    "linalg.svd_u", lambda a, how: _svd_primal(a, how)[0], _svd_u_jvp, _svd_u_vjp,
    doc="Left singular vectors U: dU = U (F o (P S + S P^T)) + (I - U U^T) dA V S^-1 with "
        "P = U^T dA V. Defined for distinct (and, for M > N, non-zero) singular values only: "
        "inf/NaN otherwise. Column signs are NumPy's (LAPACK's) choice." + _SVD_DOC,
    examples=_examples(
        ("tall U * U", lambda a: np.linalg.svd(_spread(a), full_matrices=False).U ** 2, ((4, 3),)),
        ("square U * U", lambda a: np.linalg.svd(_spread(a))[0] ** 2, ((3, 3),)),
        ("U diag(s) Vh = a", lambda a: (lambda r: (r.U * _row(r.S)) @ r.Vh)(
            np.linalg.svd(_spread(a), full_matrices=False)), ((2, 4, 3),))))

svd_vh_op = _op(
    "linalg.svd_vh", lambda a, how: _svd_primal(a, how)[2], _svd_vh_jvp, _svd_vh_vjp,
    doc="Right singular vectors Vh = V^T: dV = V (F o (S P + P^T S)) + (I - V V^T) dA^T U "
        "S^-1. Defined for distinct (and, for M < N, non-zero) singular values only." + _SVD_DOC,
    examples=_examples(
        ("wide Vh * Vh", lambda a: np.linalg.svd(_spread(a), full_matrices=False).Vh ** 2,
         ((3, 4),)),
        ("U diag(s) Vh = a, wide", lambda a: (lambda r: (r.U * _row(r.S)) @ r.Vh)(
            np.linalg.svd(_spread(a), full_matrices=False)), ((3, 4),)),
        ("u_0 v_0^T", lambda a: (lambda r: r.U[..., :, :1] @ r.Vh[..., :1, :])(
            np.linalg.svd(_spread(a))), ((3, 3),))))


@defcomposite((np.linalg.svd,))
def _svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """SVDResult(U, S, Vh) (one op each), or the singular values for compute_uv=False."""
    if hermitian:
        raise UnsupportedOpError("np.linalg.svd", "hermitian=True (an eigh-based SVD with its "
                                 "own signs and order); use hermitian=False or np.linalg.eigh")
    if not compute_uv:
        return apply(svd_s_op, a, how="values")
    m, n = np.shape(a)[-2:]
    if full_matrices and m != n:
        raise UnsupportedOpError(
            "np.linalg.svd", f"full_matrices=True on a {m}x{n} matrix (the extra columns of U "
            "or rows of Vh are not unique, so they have no derivative); pass "
            "full_matrices=False")
    how = "full" if full_matrices else "reduced"
    return SVDResult(apply(svd_u_op, a, how=how), apply(svd_s_op, a, how=how),
                     apply(svd_vh_op, a, how=how))


@defcomposite((np.linalg.svdvals,))
def _svdvals(x, /):
    return apply(svd_s_op, x, how="values")


# ------------------------------------------------------------------------------ pinv
def _pinv_parts(out, a, hermitian):
    """X = pinv(A), A as NumPy sees it, and the projectors I - A X (M x M), I - X A (N x N)."""
    big_a = _from_triangle(a, True) if hermitian else a
    m, n = np.shape(big_a)[-2:]
    return out, big_a, _eye(m, out) - big_a @ out, _eye(n, out) - out @ big_a


def _pinv_jvp(ts, out, a, rcond, rtol, hermitian):
    x, big_a, pa, qx = _pinv_parts(out, a, hermitian)
    da = _from_triangle(ts[0], True) if hermitian else ts[0]
    dat = _T(da)
    return -(x @ da @ x) + (x @ _T(x)) @ dat @ pa + qx @ dat @ (_T(x) @ x)


def _pinv_vjp(g, needed, out, a, rcond, rtol, hermitian):
    x, big_a, pa, qx = _pinv_parts(out, a, hermitian)
    gt = _T(g)
    ga = -(_T(x) @ g @ _T(x)) + pa @ gt @ (x @ _T(x)) + (_T(x) @ x) @ gt @ qx
    return (_to_triangle(ga, True) if hermitian else ga,)


def _bind_pinv(a, rcond=None, hermitian=False, *, rtol=np._NoValue):
    return (a,), {"rcond": rcond, "rtol": rtol, "hermitian": bool(hermitian)}


pinv_op = _op(
    "linalg.pinv",
    lambda a, rcond, rtol, hermitian: np.linalg.pinv(a, rcond=rcond, hermitian=hermitian,
                                                     rtol=rtol),
    _pinv_jvp, _pinv_vjp, numpy=(np.linalg.pinv,), bind=_bind_pinv,
    doc="X = pinv(A), A (..., M, N): dX = -X dA X + X X^T dA^T (I - A X) + (I - X A) dA^T "
        "X^T X [Golub-Pereyra 1973], valid where the rank is locally constant (it assumes the "
        "rank, as cut by rcond/rtol, stays what it is). hermitian=True reads the lower "
        "triangle, with the triangle convention of eigh.",
    examples=_examples(
        ("wide", lambda a: np.linalg.pinv(_spread(a)), ((3, 4),)),
        ("tall", lambda a: np.linalg.pinv(_spread(a)), ((4, 3),)),
        ("batch square", lambda a: np.linalg.pinv(_wc(a)), ((2, 3, 3),)),
        ("hermitian", lambda a: np.linalg.pinv(_wc(a), hermitian=True), ((3, 3),))))


# ------------------------------------------------------------------------------ qr
def _qr_q(a):
    return apply(qr_q_op, a, mode="reduced")


def _qr_r(a):
    return apply(qr_r_op, a, mode="reduced")


def _qr_square_tangents(da, q, r):
    """(dQ, dR) for M >= N, r square: B = dA R^-1, C = Q^T B, Omega = tril(C, -1) minus its
    transpose; dQ = Q (Omega - C) + B, dR = (C - Omega) R [Walter-Lehmann]."""
    b = _solve_right(da, r)
    c = _T(q) @ b
    low = np.where(np.tri(np.shape(c)[-1], k=-1, dtype=bool), c, 0.0)
    omega = low - _T(low)
    return q @ (omega - c) + b, (c - omega) @ r


def _qr_tangents(da, a, q, r):
    m, n = np.shape(a)[-2:]
    if m >= n:
        return _qr_square_tangents(da, q, r)
    # wide: a = [X Y] with X square; Q, R1 come from X and R2 = Q^T Y
    dq, dr1 = _qr_square_tangents(da[..., :m], q, r[..., :m])
    dr2 = _T(dq) @ a[..., m:] + _T(q) @ da[..., m:]
    return dq, np.concatenate([dr1, dr2], axis=-1)


def _qr_square_cotangent(gq, gr, q, r):
    """The transpose of :func:`_qr_square_tangents`; ``gq`` or ``gr`` may be None (zero)."""
    h = 0.0
    if gq is not None:
        h = _T(q) @ gq
    if gr is not None:
        h = h - gr @ _T(r)
    gc = np.where(np.tri(np.shape(r)[-1], k=-1, dtype=bool), h - _T(h), 0.0) - h
    gb = q @ gc if gq is None else gq + q @ gc
    return _T(np.linalg.solve(r, _T(gb)))  # gB R^-T


def _qr_cotangent(gq, gr, a, q, r):
    m, n = np.shape(a)[-2:]
    if m >= n:
        return _qr_square_cotangent(gq, gr, q, r)
    y = a[..., m:]
    if gr is None:
        k = np.shape(gq)[0]
        gy = np.zeros((k,) + np.shape(value_of(y)), dtype=_dtype(gq))
        gx = _qr_square_cotangent(gq, None, q, r[..., :m])
    else:
        gr2 = gr[..., m:]
        gy = q @ gr2
        extra = y @ _T(gr2)
        gx = _qr_square_cotangent(extra if gq is None else gq + extra, gr[..., :m], q,
                                  r[..., :m])
    return np.concatenate([gx, gy], axis=-1)


def _qr_r_primal(a, mode):
    return np.linalg.qr(a, mode="r") if mode == "r" else np.linalg.qr(a, mode=mode).R


_QR_DOC = (" a (..., M, N) = Q R, K = min(M, N): Q (..., M, K), R (..., K, N), Householder "
           "signs as NumPy (LAPACK) computes them. Needs the leading K x K block of a to have "
           "full rank (R^-1 appears): inf/NaN otherwise. Wide a = [X Y]: Q, R1 from X, "
           "R2 = Q^T Y [Walter-Lehmann; the wide case as in JAX].")

qr_q_op = _op(
    "linalg.qr_q", lambda a, mode: np.linalg.qr(a, mode=mode).Q,
    lambda ts, out, a, mode: _qr_tangents(ts[0], a, out, _qr_r(a))[0],
    lambda g, needed, out, a, mode: (_qr_cotangent(g, None, a, out, _qr_r(a)),),
    doc="Q of qr(a) (mode 'reduced', or 'complete' where M <= N)." + _QR_DOC,
    examples=_examples(
        ("tall", lambda a: np.linalg.qr(_spread(a)).Q, ((4, 3),)),
        ("wide", lambda a: np.linalg.qr(_spread(a))[0], ((3, 4),)),
        ("Q R = a, batch", lambda a: (lambda r: r.Q @ r.R)(np.linalg.qr(_spread(a))),
         ((2, 4, 3),))))

qr_r_op = _op(
    "linalg.qr_r", _qr_r_primal,
    lambda ts, out, a, mode: _qr_tangents(ts[0], a, _qr_q(a), out)[1],
    lambda g, needed, out, a, mode: (_qr_cotangent(None, g, a, _qr_q(a), out),),
    doc="R of qr(a) (mode 'reduced', 'r', or 'complete' where M <= N)." + _QR_DOC,
    examples=_examples(
        ("tall", lambda a: np.linalg.qr(_spread(a)).R, ((4, 3),)),
        ("wide", lambda a: np.linalg.qr(_spread(a))[1], ((3, 4),)),
        ("mode='r', batch", lambda a: np.linalg.qr(_spread(a), mode="r"), ((2, 3, 3),))))


@defcomposite((np.linalg.qr,))
def _qr(a, mode="reduced"):
    """QRResult(Q, R) for mode 'reduced' (and 'complete' where it is the same); R for 'r'."""
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"Unrecognized mode '{mode}'")
    m, n = np.shape(a)[-2:]
    if mode == "raw" or (mode == "complete" and m > n):
        raise UnsupportedOpError(
            "np.linalg.qr", f"mode={mode!r}" + (f" on a {m}x{n} matrix (the extra columns of Q "
                                                "are not unique)" if mode == "complete" else "")
            + "; use mode='reduced' (or 'r')")
    if mode == "r":
        return apply(qr_r_op, a, mode="r")
    return QRResult(apply(qr_q_op, a, mode=mode), apply(qr_r_op, a, mode=mode))


# ------------------------------------------------------------------------------ lstsq
# a (M, N), b (M, m) (2-D here; the composite handles a 1-D b). With X = pinv(a), x = X b
# and r = b - a x, Golub-Pereyra's dX gives
#   dx = X (db - dA x) + X X^T dA^T r + (I - X a) dA^T X^T x.
def _lstsq_pinv(a, rcond):
    return apply(pinv_op, a, rcond=rcond, rtol=np._NoValue, hermitian=False)


def _lstsq_x_jvp(ts, out, a, b, rcond):
    ta, tb = ts
    x, big_x = out, _lstsq_pinv(a, rcond)
    dx = None if tb is None else big_x @ tb
    if ta is not None:
        r, v = b - a @ x, _T(big_x) @ x
        qx = _eye(np.shape(a)[-1], x) - big_x @ a
        part = -(big_x @ (ta @ x)) + big_x @ (_T(big_x) @ (_T(ta) @ r)) + qx @ (_T(ta) @ v)
        dx = part if dx is None else dx + part
    return dx


def _lstsq_x_vjp(g, needed, out, a, b, rcond):
    x, big_x = out, _lstsq_pinv(a, rcond)
    gb = _T(big_x) @ g
    ga = None
    if needed[0]:
        r, v = b - a @ x, _T(big_x) @ x
        qx = _eye(np.shape(a)[-1], x) - big_x @ a
        ga = -(gb @ _T(x)) + r @ _T(big_x @ gb) + v @ (_T(g) @ qx)
    return ga, (gb if needed[1] else None)


lstsq_x_op = _op(
    "linalg.lstsq_x", lambda a, b, rcond: np.linalg.lstsq(a, b, rcond=rcond)[0],
    _lstsq_x_jvp, _lstsq_x_vjp, nargs=2,
    doc="x of lstsq(a, b): a (M, N), b (M, m) -> x (N, m), the minimum-norm least-squares "
        "solution pinv(a) b; its derivative from Golub-Pereyra's d pinv (valid where the rank "
        "is locally constant).",
    examples=_examples(
        ("tall, vector b", lambda a, b: np.linalg.lstsq(_spread(a), b)[0], ((4, 2), (4,))),
        ("tall, matrix b", lambda a, b: np.linalg.lstsq(_spread(a), b)[0], ((4, 2), (4, 3))),
        ("wide (min norm)", lambda a, b: np.linalg.lstsq(_spread(a), b)[0], ((2, 4), (2,)))))


def _lstsq_residual(a, b, rcond):
    x = apply(lstsq_x_op, a, b, rcond=rcond)
    return x, b - a @ x


def _lstsq_res_jvp(ts, out, a, b, rcond):
    ta, tb = ts
    x, r = _lstsq_residual(a, b, rcond)
    d = tb if ta is None else (-(ta @ x) if tb is None else tb - ta @ x)
    return 2 * np.sum(r * d, axis=-2)  # a^T r = 0 at the minimum: only db - dA x counts


def _lstsq_res_vjp(g, needed, out, a, b, rcond):
    x, r = _lstsq_residual(a, b, rcond)
    gb = 2 * r * _row(g)
    return (-(gb @ _T(x)) if needed[0] else None), (gb if needed[1] else None)


lstsq_res_op = _op(
    "linalg.lstsq_residuals", lambda a, b, rcond: np.linalg.lstsq(a, b, rcond=rcond)[1],
    _lstsq_res_jvp, _lstsq_res_vjp, nargs=2,
    doc="residuals of lstsq (full column rank, M > N): ||b - a x||^2 per column of b; "
        "d = 2 r^T (db - dA x) (the a dx term vanishes as a^T r = 0).",
    examples=_examples(
        ("vector b", lambda a, b: np.linalg.lstsq(_spread(a), b)[1], ((4, 2), (4,))),
        ("matrix b", lambda a, b: np.linalg.lstsq(_spread(a), b)[1], ((5, 3), (5, 2)))))


@defcomposite((np.linalg.lstsq,), examples=_examples(
    ("s", lambda a, b: np.linalg.lstsq(_spread(a), b)[3], ((4, 2), (4,))),))
def _lstsq(a, b, rcond=None):
    """(x, residuals, rank, s) as NumPy returns them: x and residuals are ops; rank is a plain
    integer (no derivative); s are the singular values of a, differentiable (computed by
    np.linalg.svd, so equal to lstsq's own to rounding)."""
    if np.ndim(a) != 2 or np.ndim(b) not in (1, 2):
        raise np.linalg.LinAlgError("lstsq: a must be 2-D and b 1-D or 2-D")
    m, n = np.shape(a)
    rc = np.finfo(np.float64).eps * max(m, n) if rcond is None else rcond  # NumPy's default
    b2 = b[:, None] if np.ndim(b) == 1 else b
    x = apply(lstsq_x_op, a, b2, rcond=rc)
    rank = call_nondiff("np.linalg.lstsq (rank)",
                        lambda a, b: np.linalg.lstsq(a, b, rcond=rc)[2], (a, b2), {})
    if rank == n and m > n:
        residuals = apply(lstsq_res_op, a, b2, rcond=rc)
    else:
        residuals = np.array([], dtype=_dtype(x))
    return (x[..., 0] if np.ndim(b) == 1 else x), residuals, rank, apply(svd_s_op, a, how="values")


# ------------------------------------------------------------------------------ norms
def _axis_tuple(axis, nd):
    out = []
    for a in axis:
        if not -nd <= int(a) < nd:
            raise np.exceptions.AxisError(int(a), nd)
        out.append(int(a) % nd)
    if len(set(out)) != len(out):
        raise ValueError("repeated axis")
    return tuple(out)


def _vector_norm_core(x, ord, axis, keepdims):
    """np.linalg.norm over one axis, op for op as NumPy computes it. Zeros and ties: ord 1,
    inf give a subgradient (abs'(0) = 0, ties of max split equally); ord 2 the zero
    subgradient at 0 (norm2); other p (|x|^p summed, to the 1/p) are NaN at x = 0."""
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    ax = _axis_tuple((axis,), np.ndim(x))
    if ord == np.inf:
        return np.max(np.abs(x), axis=ax, keepdims=keepdims)
    if ord == -np.inf:
        return np.min(np.abs(x), axis=ax, keepdims=keepdims)
    if ord == 0:  # a count of non-zeros: piecewise constant, no derivative
        return call_nondiff("np.linalg.norm (ord=0)",
                            lambda x: np.linalg.norm(x, 0, ax, keepdims), (x,), {})
    if ord == 1:
        return np.sum(np.abs(x), axis=ax, keepdims=keepdims)
    if ord is None or ord == 2:
        return norm2(x, axis=ax, keepdims=keepdims)
    total = np.sum(np.power(np.abs(x), ord), axis=ax, keepdims=keepdims)
    return np.power(total, np.reciprocal(ord, dtype=_dtype(total)))


def _matrix_norm_core(x, ord, axes, keepdims):
    """np.linalg.norm over two axes, as NumPy computes it. ord 2/-2/'nuc' go through the
    singular values (max/min/sum): at ties and zeros a subgradient (U_r W V_r^T)."""
    row, col = (_axis_tuple((a,), np.ndim(x))[0] for a in axes)
    if row == col:
        raise ValueError("Duplicate axes given.")
    if ord in (2, -2, "nuc"):
        s = apply(svd_s_op, np.moveaxis(x, (row, col), (-2, -1)), how="values")
        ret = (np.max(s, axis=-1) if ord == 2 else np.min(s, axis=-1) if ord == -2
               else np.sum(s, axis=-1))
    elif ord in (1, -1):
        sums = np.sum(np.abs(x), axis=row)
        c = col - 1 if col > row else col
        ret = np.max(sums, axis=c) if ord == 1 else np.min(sums, axis=c)
    elif ord in (np.inf, -np.inf):
        sums = np.sum(np.abs(x), axis=col)
        r = row - 1 if row > col else row
        ret = np.max(sums, axis=r) if ord == np.inf else np.min(sums, axis=r)
    elif ord is None or ord in ("fro", "f"):
        ret = norm2(x, axis=(row, col))
    else:
        raise ValueError("Invalid norm order for matrices.")
    return np.expand_dims(ret, (row, col)) if keepdims else ret


@defcomposite((np.linalg.norm,), examples=(
    Example(lambda x: np.linalg.norm(x, 3), ((5,),), label="vector p=3"),
    Example(lambda x: np.linalg.norm(x, np.inf, axis=1), ((3, 4),), label="rows inf"),
    Example(lambda x: np.linalg.norm(_spread(x), "nuc"), ((3, 4),), domains=(SMALL,),
            label="nuc"),
    Example(lambda x: np.linalg.norm(x, 2, axis=(0, 2), keepdims=True), ((3, 2, 4),),
            label="spectral, axes (0,2), keepdims"),
    Example(lambda x: np.linalg.norm(x, -1), ((3, 4),), label="matrix -1")))
def _norm(x, ord=None, axis=None, keepdims=False):
    """np.linalg.norm for every ord NumPy accepts: vectors None/2, 1, inf, -inf, 0 (a count,
    no derivative), any other real p; matrices None/'fro', 'nuc', 1, -1, 2, -2, inf, -inf."""
    nd = np.ndim(x)
    if axis is None:
        if ord is None or (ord in ("f", "fro") and nd == 2) or (ord == 2 and nd == 1):
            return norm2(x, axis=None, keepdims=keepdims)  # the zero subgradient at 0
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        try:
            axis = (int(axis),)
        except Exception as e:
            raise TypeError("'axis' must be None, an integer or a tuple of integers") from e
    if len(axis) == 1:
        return _vector_norm_core(x, ord, axis[0], keepdims)
    if len(axis) == 2:
        return _matrix_norm_core(x, ord, axis, keepdims)
    raise ValueError("Improper number of dimensions to norm.")


@defcomposite((np.linalg.vector_norm,), examples=(
    Example(lambda x: np.linalg.vector_norm(x, axis=(0, 2), ord=3, keepdims=True),
            ((2, 3, 2),), label="axes (0,2) p=3 keepdims"),))
def _vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """np.linalg.vector_norm: any number of axes, flattened to one vector, as NumPy does."""
    shape = list(np.shape(x))
    if axis is None:
        y, ax = np.ravel(x), 0
    elif isinstance(axis, tuple):
        axes = _axis_tuple(axis, len(shape))
        rest = tuple(i for i in range(len(shape)) if i not in axes)
        y = np.reshape(np.transpose(x, axes + rest),
                       (math.prod(shape[i] for i in axes),) + tuple(shape[i] for i in rest))
        ax = 0
    else:
        y, ax = x, axis
    res = _norm(y, ord=ord, axis=ax)
    if keepdims:
        axes = range(len(shape)) if axis is None else _axis_tuple(
            axis if isinstance(axis, tuple) else (axis,), len(shape))
        for i in axes:
            shape[i] = 1
        res = np.reshape(res, tuple(shape))
    return res


@defcomposite((np.linalg.matrix_norm,), examples=(
    Example(lambda x: np.linalg.matrix_norm(x, ord=np.inf), ((2, 3, 4),), label="batch inf"),))
def _matrix_norm(x, /, *, keepdims=False, ord="fro"):
    return _norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


@defcomposite((np.linalg.cond,), examples=_examples(
    ("2-norm", lambda x: np.linalg.cond(_spread(x)), ((3, 3),)),
    ("-2, batch", lambda x: np.linalg.cond(_spread(x), -2), ((2, 3, 4),)),
    ("fro", lambda x: np.linalg.cond(_wc(x), "fro"), ((3, 3),))))
def _cond(x, p=None):
    """cond: s_max / s_min for p None/2 (-2: the reciprocal); for the other p NumPy's
    norm(x, p) * norm(inv(x), p) (a singular x raises LinAlgError, NumPy returns inf)."""
    if p is None or (not isinstance(p, str) and p in (2, -2)):
        s = apply(svd_s_op, x, how="values")
        return s[..., -1] / s[..., 0] if p == -2 else s[..., 0] / s[..., -1]
    return _norm(x, p, axis=(-2, -1)) * _norm(np.linalg.inv(x), p, axis=(-2, -1))


# ------------------------------------------------------------------------------ products
def _chain_order(shapes):
    """NumPy's matrix-chain order (same costs, same ties), so the products are NumPy's."""
    n = len(shapes)
    p = [s[0] for s in shapes] + [shapes[-1][1]]
    m = np.zeros((n, n))
    split = np.empty((n, n), dtype=np.intp)
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            m[i, j] = np.inf
            for k in range(i, j):
                q = m[i, k] + m[k + 1, j] + p[i] * p[k + 1] * p[j + 1]
                if q < m[i, j]:
                    m[i, j], split[i, j] = q, k
    return split


def _chain(arrays, order, i, j):
    if i == j:
        return arrays[i]
    k = order[i, j]
    return np.dot(_chain(arrays, order, i, k), _chain(arrays, order, k + 1, j))


@defcomposite((np.linalg.multi_dot,), examples=(
    Example(lambda a, b, c: np.linalg.multi_dot([a, b, c]), ((3,), (3, 4), (4, 2)),
            label="vector first, three"),
    Example(lambda a, b, c, d: np.linalg.multi_dot([a, b, c, d]),
            ((2, 5), (5, 3), (3, 4), (4,)), label="four, vector last")))
def _multi_dot(arrays, *, out=None):
    """multi_dot with NumPy's parenthesization (so the value is NumPy's), from np.dot."""
    if out is not None:
        raise MutationError("np.linalg.multi_dot(..., out=...) writes in place; use the result")
    arrays = list(arrays)
    n = len(arrays)
    if n < 2:
        raise ValueError("Expecting at least two arrays.")
    if n == 2:
        return np.dot(arrays[0], arrays[1])
    first, last = np.ndim(arrays[0]), np.ndim(arrays[-1])
    if first == 1:
        arrays[0] = np.reshape(arrays[0], (1, -1))
    if last == 1:
        arrays[-1] = np.reshape(arrays[-1], (-1, 1))
    for a in arrays:
        if np.ndim(a) != 2:
            raise np.linalg.LinAlgError(
                f"{np.ndim(a)}-dimensional array given. Array must be two-dimensional")
    shapes = [np.shape(a) for a in arrays]
    if n == 3:  # NumPy's _multi_dot_three
        (a0, a1b0), (b1c0, c1) = shapes[0], shapes[2]
        if a0 * b1c0 * (a1b0 + c1) < a1b0 * c1 * (a0 + b1c0):
            result = np.dot(np.dot(arrays[0], arrays[1]), arrays[2])
        else:
            result = np.dot(arrays[0], np.dot(arrays[1], arrays[2]))
    else:
        result = _chain(arrays, _chain_order(shapes), 0, n - 1)
    if first == 1 and last == 1:
        return result[0, 0]
    return np.ravel(result) if first == 1 or last == 1 else result


@defcomposite((np.linalg.matrix_power,), examples=(
    Example(lambda a: np.linalg.matrix_power(a, 3), ((3, 3),), label="n=3"),
    Example(lambda a: np.linalg.matrix_power(a, 5), ((2, 3, 3),), domains=(SMALL,),
            label="n=5 (binary), batch"),
    Example(lambda a: np.linalg.matrix_power(_wc(a), -2), ((3, 3),), domains=(SMALL,),
            label="n=-2 (inv)")))
def _matrix_power(a, n):
    """matrix_power with NumPy's sequence of products; a negative n inverts first."""
    _square(a)
    try:
        n = operator.index(n)
    except TypeError as e:
        raise TypeError("exponent must be an integer") from e
    if n == 0:  # the identity: a constant
        shape = np.shape(a)
        return np.broadcast_to(np.eye(shape[-1], dtype=np.result_type(value_of(a))), shape).copy()
    if n < 0:
        a, n = np.linalg.inv(a), -n
    if n == 1:
        return a
    if n == 2:
        return a @ a
    if n == 3:
        return (a @ a) @ a
    z = result = None
    while n > 0:  # NumPy's binary decomposition, least significant bit first
        z = a if z is None else z @ z
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else result @ z
    return result


@defcomposite((np.linalg.matrix_transpose,), examples=(
    Example(lambda x: np.linalg.matrix_transpose(x), ((2, 3, 4),), label="batch"),))
def _matrix_transpose(x, /):
    if np.ndim(x) < 2:
        raise ValueError(f"Input array must be at least 2-dimensional, but it is {np.ndim(x)}")
    return _T(x)


@defcomposite((np.linalg.vecdot,), examples=(
    Example(lambda a, b: np.linalg.vecdot(a, b), ((2, 3), (3,)), label="broadcast"),
    Example(lambda a, b: np.linalg.vecdot(a, b, axis=0), ((3, 2), (3, 2)), label="axis 0")))
def _vecdot(x1, x2, /, *, axis=-1):
    """sum(conj(x1) * x2) over ``axis`` of each operand."""
    return np.sum(np.conjugate(np.moveaxis(x1, axis, -1)) * np.moveaxis(x2, axis, -1), axis=-1)


@defcomposite((np.linalg.outer,), examples=(
    Example(lambda a, b: np.linalg.outer(a, b), ((3,), (2,))),))
def _outer(x1, x2, /):
    if np.ndim(x1) != 1 or np.ndim(x2) != 1:
        raise ValueError("Input arrays must be one-dimensional, but they are "
                         f"x1.ndim={np.ndim(x1)} and x2.ndim={np.ndim(x2)}.")
    return np.outer(x1, x2)


def _diagonal(x, offset=0):
    """The ``offset`` diagonal of the last two axes, (..., L). Selected with where + sum (a
    row holds one diagonal entry, so the sum is exact) and a slice, not an integer-array
    index: in reverse mode that keeps float32 cotangents float32."""
    n, m = np.shape(x)[-2:]
    length = max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))
    start = 0 if offset >= 0 else -offset
    rows = np.sum(np.where(np.eye(n, m, k=offset, dtype=bool), x, 0.0), axis=-1)
    return rows[..., start:start + length]


@defcomposite((np.linalg.diagonal,), examples=(
    Example(lambda x: np.linalg.diagonal(x), ((2, 3, 4),), label="batch"),
    Example(lambda x: np.linalg.diagonal(x, offset=-1), ((4, 3),), label="offset -1")))
def _linalg_diagonal(x, /, *, offset=0):
    if np.ndim(x) < 2:
        raise ValueError("diag requires an array of at least two dimensions")
    return _diagonal(x, offset)


@defcomposite((np.linalg.trace,), examples=(
    Example(lambda x: np.linalg.trace(x), ((2, 3, 3),), label="batch"),
    Example(lambda x: np.linalg.trace(x, offset=1), ((3, 4),), label="offset 1")))
def _linalg_trace(x, /, *, offset=0, dtype=None):
    if dtype is not None:
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise UnsupportedOpError("np.linalg.trace", f"dtype={dtype} would drop the derivative")
        x = x.astype(dtype)
    return np.sum(_diagonal(x, offset), axis=-1)


@defcomposite((np.linalg.tensorinv,), examples=(
    Example(lambda a: np.linalg.tensorinv(np.reshape(_wc(np.reshape(a, (6, 6))), (2, 3, 6))),
            ((2, 3, 6),), domains=(SMALL,), label="ind=2"),))
def _tensorinv(a, ind=2):
    """tensorinv: inv of a reshaped to a square matrix, reshaped back (NumPy's steps)."""
    shape = np.shape(a)
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    inv_shape = shape[ind:] + shape[:ind]
    return np.reshape(np.linalg.inv(np.reshape(a, (math.prod(shape[ind:]), -1))), inv_shape)


@defcomposite((np.linalg.tensorsolve,), examples=(
    Example(lambda a, b: np.linalg.tensorsolve(np.reshape(_wc(np.reshape(a, (6, 6))),
                                                          (2, 3, 2, 3)), b),
            ((2, 3, 2, 3), (2, 3)), domains=(SMALL, SMALL), label="2x3"),))
def _tensorsolve(a, b, axes=None):
    """tensorsolve: solve with a reshaped to a square matrix and b flattened (NumPy's steps)."""
    an = np.ndim(a)
    if axes is not None:
        order = list(range(an))
        for k in axes:
            order.remove(k)
            order.insert(an, k)
        a = np.transpose(a, order)
    old_shape = np.shape(a)[-(an - np.ndim(b)):]
    size = math.prod(old_shape)
    if math.prod(np.shape(a)) != size ** 2:
        raise np.linalg.LinAlgError("Input arrays must satisfy the requirement "
                                    "prod(a.shape[b.ndim:]) == prod(a.shape[:b.ndim])")
    return np.reshape(np.linalg.solve(np.reshape(a, (size, size)), np.ravel(b)), old_shape)


# ------------------------------------------------------------------------------ aliases
register_numpy_alias(np.linalg.matmul, matmul_op, lambda x1, x2, /: _bind_matmul(x1, x2))


@defcomposite((np.linalg.tensordot,))
def _linalg_tensordot(x1, x2, /, *, axes=2):
    return np.tensordot(x1, x2, axes=axes)  # differentiable where np.tensordot is registered


@defcomposite((np.linalg.cross,))
def _linalg_cross(x1, x2, /, *, axis=-1):
    if np.shape(x1)[axis] != 3 or np.shape(x2)[axis] != 3:
        raise ValueError("Both input arrays must be (arrays of) 3-dimensional vectors, "
                         f"but they are {np.shape(x1)[axis]} and {np.shape(x2)[axis]} "
                         "dimensional instead.")
    return np.cross(x1, x2, axis=axis)  # differentiable where np.cross is registered


registry.NONDIFF_FUNCTIONS.add(np.linalg.matrix_rank)  # an integer: no derivative
