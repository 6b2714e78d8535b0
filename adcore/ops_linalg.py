"""Linear algebra: ``np.linalg`` as registered ops (one per differentiable output) and composites.

Shapes: every function takes stacks of matrices ``(..., M, N)`` as NumPy does. The rules see
a batch of k directions in front, ``(k, ..., M, N)``, and broadcast the primal stack against
it (matmul and solve broadcast leading axes).

Multi-output functions (eigh, eig, svd, qr, slogdet, lstsq) are one op per differentiable output,
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
[Golub-Pereyra]; Z. Wan, S. Zhang, "Automatic differentiation for complex valued SVD"
(2019) [Wan-Zhang]; LAPACK's geev/heevd/geqrf documentation for NumPy's normalizations.

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
* Complex matrices follow adcore.ops_complex's convention (JAX's, shared by autograd): a
  tangent is complex and a cotangent w pairs with it by Re(sum(w * t)), no conjugate. So a
  holomorphic map (solve, inv, det, matrix_power, multi_dot, eigvals) keeps the real rule,
  its VJP the plain transpose (dY = A dX B -> A^T Ybar B^T); a rule whose JVP has dX^H or
  conj terms (Hermitian or unitary factors: eigh, cholesky, svd, qr, pinv, lstsq, and the
  real-valued slogdet logabsdet, singular values and norms) transposes them to conjugates:
  t -> B t^H C has the VJP g -> conj(C) g^H conj(B), t -> Re(t) has g -> Re(g). A real
  input whose cotangent comes out complex keeps its real part (adcore.rules). Each rule's
  doc gives its source. Hermitian-input routines read one triangle and, as LAPACK does,
  ignore the imaginary part of the diagonal (both in the triangle convention above).
* Phases. A column of a complex eigh or svd factor is fixed only up to a phase; these rules
  take a gauge (diag(V^H dV) = 0; for svd diag(V^H dV) = 0 with the determined part of
  the relative phase on U, as JAX and Wan & Zhang 2019) rather than NumPy's (LAPACK's)
  phase, so only functions invariant under that phase (|V|, V diag(c) V^H, U diag(s) V^H,
  projections) are differentiated as NumPy computes them -- the same limitation as JAX,
  PyTorch and autograd. qr's R has a real diagonal (LAPACK), which fixes Q: no gauge. The
  eigenvectors of np.linalg.eig are differentiated in NumPy's own normalization (unit norm,
  largest-modulus entry real), so every function of them is (see the notes at eig).
"""
from __future__ import annotations

import functools
import math
import operator

import numpy as np

from . import registry
from .errors import MutationError, UnsupportedOpError
from .linear import pad_batch, unbroadcast
from .ops_complex import conj, imag, real
from .ops_structural import _bind_matmul, matmul_op, norm2
from .registry import Domain, Done, Example, defcomposite, defop, register_numpy_alias
from .tracing import apply, call_nondiff, is_complex, value_of

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


def _H(x):
    """The conjugate transpose of the last two axes (the plain transpose of a real value)."""
    return conj(np.swapaxes(x, -1, -2))


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
    """The symmetric (Hermitian) matrix NumPy reads from one triangle of ``t``: for the lower
    one tril(t) + tril(t, -1)^T, and for a complex t tril(t, -1) + diag(Re t) + tril(t, -1)^H
    (LAPACK's Hermitian routines ignore the imaginary part of the diagonal). R-linear, so it
    maps tangents the same way."""
    n = np.shape(t)[-1]
    tri, strict = _masks(n, lower)
    if is_complex(t):
        part = np.where(strict, t, 0.0)
        return part + np.where(np.eye(n, dtype=bool), real(t), 0.0) + _H(part)
    return np.where(tri, t, 0.0) + _T(np.where(strict, t, 0.0))


def _to_triangle(g, lower):
    """The transpose of :func:`_from_triangle` (under the pairing Re(sum(g * t))): tril(g) +
    tril(g^T, -1) for the lower triangle, so the unread triangle gets exactly 0 and a read
    entry both (i, j) and (j, i); complex: tril(g, -1) + tril(g^H, -1) + diag(Re g)."""
    n = np.shape(g)[-1]
    tri, strict = _masks(n, lower)
    if is_complex(g):
        return (np.where(strict, g + _H(g), 0.0)
                + np.where(np.eye(n, dtype=bool), real(g), 0.0))
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


def _op(name, primal, jvp, vjp, nargs=1, **kwargs):
    """Register a dense linear-algebra op (see the note on zeros above)."""
    return defop(name, primal, jvp=jvp, vjp=vjp, nargs=nargs,
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
    """d det / d a = the cofactor matrix adj(a)^T, (..., n, n): det a^-T where every matrix
    in the stack is well conditioned (cond < 1e8). Else, for a real a, from the SVD, sign U diag(prod_{j != i} s_j) Vh
    with sign = det(U) det(Vh) (+-1, locally constant) -- a polynomial, defined at singular
    matrices too (0 where rank < n - 1); for a complex a (where det(U) det(Vh) is a phase that
    is not locally constant) from the minors, (-1)^(i+j) det(a without row i and column j)."""
    # decisions on plain values through call_nondiff: guards when this rule is recorded.
    # det a^-T only where a is well conditioned: near a singular a its own derivative (a
    # second derivative of det) loses eps * cond(a) to cancellation, order 1 at cond ~ 1e16
    if call_nondiff("det well conditioned", lambda a_, d: bool(
            np.all(d != 0) and np.all(np.linalg.cond(a_) < 1e8)), (a, det), {}):
        return np.expand_dims(det, (-2, -1)) * _inv_T(a)
    if is_complex(a):
        return _minor_cofactors(a)
    u, s, vh = (apply(op, a, how="full") for op in (svd_u_op, svd_s_op, svd_vh_op))
    sign = call_nondiff("det(U) det(Vh)", lambda u_, vh_: np.linalg.det(u_) * np.linalg.det(vh_),
                        (u, vh), {})  # +-1: constant between sign changes
    others = np.prod(np.where(np.eye(np.shape(s)[-1], dtype=bool), 1.0, _row(s)), axis=-1)
    return np.expand_dims(sign, (-2, -1)) * ((u * _row(others)) @ vh)


def _minor_cofactors(a):
    """The cofactor matrix from the n^2 minors (det of (n-1) x (n-1) matrices, registered ops
    all the way, so every order of derivative is the polynomial's)."""
    n = np.shape(a)[-1]
    if n == 1:
        return np.ones(np.shape(value_of(a)), dtype=_dtype(a))
    keep = np.array([[j for j in range(n) if j != i] for i in range(n)])  # (n, n - 1)
    minors = np.swapaxes(np.take(np.take(a, keep, axis=-2), keep, axis=-1), -3, -2)
    signs = (-1.0) ** np.add.outer(np.arange(n), np.arange(n))
    return signs * np.linalg.det(minors)  # minors (..., n, n, n - 1, n - 1)


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
    lambda ts, out, a: real(np.sum(_inv_T(a) * ts[0], axis=(-2, -1))),
    lambda g, needed, out, a: (np.expand_dims(g, (-2, -1)) * _inv_T(a),),
    doc="log|det a|, the logabsdet of slogdet (real also for a complex a): d = Re tr(a^-1 da) "
        "[Giles; for complex a, log|det a| = Re log det a]; cotangent g a^-T (under the "
        "pairing Re(sum(w * t)), the transpose of t -> Re(sum(a^-T * t)) is g a^-T).",
    examples=(Example(lambda a: np.linalg.slogdet(a).logabsdet, ((3, 3),), label="matrix"),
              Example(lambda a: np.linalg.slogdet(a)[1], ((2, 3, 3),), label="batch, [1]")))


def _slogdet_sign_jvp(ts, out, a):
    tau = np.sum(_inv_T(a) * ts[0], axis=(-2, -1))  # tr(a^-1 da)
    return out * (1j * imag(tau))


def _slogdet_sign_vjp(g, needed, out, a):
    tau_bar = 1j * imag(g * out)  # the transpose of tau -> sign i Im(tau)
    return (np.expand_dims(tau_bar, (-2, -1)) * _inv_T(a),)


slogdet_sign_op = _op(
    "linalg.slogdet_sign", lambda a: np.linalg.slogdet(a).sign,
    _slogdet_sign_jvp, _slogdet_sign_vjp,
    doc="The sign of slogdet of a complex a, det a / |det a| (a real a's sign is piecewise "
        "constant and stays a plain array): d sign = sign i Im tr(a^-1 da) (the phase of "
        "det a moves by Im d log det a [Giles]); cotangent i Im(g sign) a^-T.",
    examples=(Example(lambda x, y: np.real(np.linalg.slogdet(_wc(x) + 1j * y).sign *
                                           np.array(1.0 - 2.0j)), ((3, 3), (3, 3)),
                      domains=(SMALL, SMALL), label="complex a"),
              Example(lambda x, y: np.imag(np.linalg.slogdet(x + 1j * _wc(y))[0]),
                      ((2, 3, 3), (2, 3, 3)), domains=(SMALL, SMALL), label="batch")))


@defcomposite((np.linalg.slogdet,), examples=(
    Example(lambda a: np.linalg.slogdet(a)[0] * np.linalg.slogdet(a)[1], ((3, 3),),
            label="sign * logabsdet"),))
def _slogdet(a):
    """SlogdetResult(sign, logabsdet): for a real a the sign is a plain array (no derivative:
    it is piecewise constant), for a complex a an op (the phase of det a); the logabsdet an
    op."""
    if is_complex(a):
        sign = apply(slogdet_sign_op, a)
    else:
        sign = call_nondiff("np.linalg.slogdet (sign)", lambda a: np.linalg.slogdet(a).sign,
                            (a,), {})
    return SlogdetResult(sign, apply(logabsdet_op, a))


# ------------------------------------------------------------------------------ cholesky
def _phi(x):
    """Murray's Phi: the lower triangle with the diagonal halved (complex: the real part of
    the diagonal, halved -- dL_ii is real as L_ii is). Self-adjoint under Re(sum(w * t))."""
    n = np.shape(x)[-1]
    diag = real(x) if is_complex(x) else x
    return np.where(np.tri(n, k=-1, dtype=bool), x,
                    np.where(np.eye(n, dtype=bool), 0.5 * diag, 0.0))


def _cholesky_jvp(ts, out, a, upper):
    lo = _H(out) if upper else out
    ds = _from_triangle(ts[0], lower=not upper)
    dl = lo @ _phi(_solve_right(np.linalg.solve(lo, ds), _H(lo)))  # L Phi(L^-1 dS L^-H)
    return _H(dl) if upper else dl


def _cholesky_vjp(g, needed, out, a, upper):
    lo = _H(out) if upper else out
    gl = _H(g) if upper else g
    p = _phi(_T(lo) @ gl)
    gs = _solve_right(np.linalg.solve(_T(lo), p), conj(lo))  # L^-T Phi(L^T G) conj(L)^-1
    return (_to_triangle(gs, lower=not upper),)


def _bind_cholesky(a, /, *, upper=False):
    return (a,), {"upper": bool(upper)}


cholesky_op = _op(
    "linalg.cholesky", lambda a, upper: np.linalg.cholesky(a, upper=upper),
    _cholesky_jvp, _cholesky_vjp, numpy=(np.linalg.cholesky,), bind=_bind_cholesky,
    doc="cholesky(a, upper=False): L (..., n, n) with S = L L^H, S read from the lower "
        "triangle of a (upper=True: from the upper one, returning L^H; a complex a: the "
        "imaginary part of the diagonal is ignored, as LAPACK does). dL = L Phi(L^-1 dS "
        "L^-H), Phi = lower triangle with halved (real part of the) diagonal; cotangent "
        "L^-T Phi(L^T G) conj(L)^-1 [Murray 2016; the complex case as L^-1 dS L^-H = X + X^H "
        "with X = L^-1 dL lower triangular, real diagonal]. Triangle convention: the unread "
        "triangle's derivative is exactly 0 and a read off-diagonal entry gets both (i, j) and "
        "(j, i) (JAX symmetrizes instead; the two agree on symmetric perturbations).",
    examples=_examples(
        ("SPD a a^H", lambda a: np.linalg.cholesky(a @ np.conj(_T(a)) + 3 * np.eye(3)),
         ((3, 3),)),
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
    return real(np.sum(conj(v) * (ds @ v), axis=-2))  # dw_i = v_i^H dS v_i (real)


def _eigh_values_vjp(g, needed, out, a, uplo, via):
    v = _eigh_vectors(a, uplo)
    return (_to_triangle((conj(v) * _row(g)) @ _T(v), uplo == "L"),)  # conj(V) diag(g) V^T


def _bind_eigvalsh(a, UPLO="L"):
    return (a,), {"uplo": _uplo(UPLO), "via": "eigvalsh"}


_EIGH_DOC = (
    " S is read from one triangle of a (UPLO='L': the lower; a complex a: Hermitian, the "
    "imaginary part of the diagonal ignored, as LAPACK does): the unread triangle's "
    "derivative is exactly 0 and a read off-diagonal entry gets both (i, j) and (j, i) -- the "
    "derivative of what NumPy computes, equal to finite differences along any perturbation "
    "(JAX symmetrizes the tangent; the two agree on Hermitian perturbations).")

eigh_values_op = _op(
    "linalg.eigh_values", _eigh_values_primal, _eigh_values_jvp, _eigh_values_vjp,
    numpy=(np.linalg.eigvalsh,), bind=_bind_eigvalsh,
    doc="Eigenvalues w (..., n) (real) of a symmetric or Hermitian S (eigvalsh, "
        "eigh(...).eigenvalues): dw = Re diag(V^H dS V), cotangent conj(V) diag(g) V^T "
        "[Giles; the Hermitian case as in JAX]. At a repeated eigenvalue this is the "
        "derivative along NumPy's eigenvector basis (as in JAX)." + _EIGH_DOC,
    examples=_examples(
        ("eigvalsh", lambda a: np.linalg.eigvalsh(_spread(a)), ((3, 3),)),
        ("UPLO='U'", lambda a: np.linalg.eigvalsh(_spread(a), UPLO="U"), ((3, 3),)),
        ("batch", lambda a: np.linalg.eigvalsh(_spread(a)), ((2, 3, 3),)),
        ("eigh values", lambda a: np.linalg.eigh(_spread(a)).eigenvalues, ((4, 4),))))


def _eigh_vectors_jvp(ts, out, a, uplo):
    f = _inverse_gaps(apply(eigh_values_op, a, uplo=uplo, via="eigh"))
    ds = _from_triangle(ts[0], uplo == "L")
    return out @ (f * (_H(out) @ ds @ out))  # dV = V (F o (V^H dS V))


def _eigh_vectors_vjp(g, needed, out, a, uplo):
    f = _inverse_gaps(apply(eigh_values_op, a, uplo=uplo, via="eigh"))
    return (_to_triangle(conj(out) @ (f * (_T(out) @ g)) @ _T(out), uplo == "L"),)


def _abs2(v):
    """|v|^2 entrywise, a function of eigen/singular vectors that does not depend on the
    phase of a column (NumPy's phase of complex vectors is not differentiated)."""
    return np.real(v * np.conj(v))


eigh_vectors_op = _op(
    "linalg.eigh_vectors", lambda a, uplo: np.linalg.eigh(a, UPLO=uplo).eigenvectors,
    _eigh_vectors_jvp, _eigh_vectors_vjp,
    doc="Eigenvectors V (..., n, n) of a symmetric or Hermitian S (eigh): dV = V (F o (V^H dS "
        "V)) with F_ij = 1/(w_j - w_i), F_ii = 0; cotangent conj(V) (F o (V^T G)) V^T [Giles; "
        "the Hermitian case as in JAX]. Defined for distinct eigenvalues only: at a degenerate "
        "spectrum it is inf/NaN. Real S: the sign of each column is NumPy's (LAPACK's) choice "
        "and locally constant, so every function of V is differentiated. Complex S: a column "
        "is fixed only up to a phase e^(i phi); this rule takes the gauge diag(V^H dV) = 0 "
        "(JAX's), NOT NumPy's own phase (LAPACK's zheevd happens to return a real first row "
        "for UPLO='L', last row for 'U', a gauge that is ill-conditioned where that entry is "
        "small), so only functions invariant under V -> V diag(e^(i phi)) (|V|^2, V diag(c) "
        "V^H, V^H B V entrywise moduli, ...) have derivatives equal to NumPy's."
        + _EIGH_DOC,
    examples=_examples(
        ("|V|^2", lambda a: _abs2(np.linalg.eigh(_spread(a)).eigenvectors), ((3, 3),)),
        ("V diag(c) V^H, UPLO='U'", lambda a: (
            lambda v: (v * np.array([1.0, -2.0, 0.5])) @ np.conj(_T(v)))(
            np.linalg.eigh(_spread(a), UPLO="U")[1]), ((3, 3),)),
        ("batch", lambda a: _abs2(np.linalg.eigh(_spread(a))[1]), ((2, 3, 3),))))


@defcomposite((np.linalg.eigh,), examples=_examples(
    ("V diag(w) V^H", lambda a: (lambda r: (r.eigenvectors * _row(r.eigenvalues))
                                 @ np.conj(_T(r[1])))(np.linalg.eigh(_spread(a))), ((3, 3),)),))
def _eigh(a, UPLO="L"):
    """EighResult(eigenvalues, eigenvectors): one op each (see eigh_values, eigh_vectors)."""
    uplo = _uplo(UPLO)
    return EighResult(apply(eigh_values_op, a, uplo=uplo, via="eigh"),
                      apply(eigh_vectors_op, a, uplo=uplo))


# ------------------------------------------------------------------------------ eig
# A = U diag(w) U^-1, a general real or complex square matrix (w, U complex in general), for
# distinct eigenvalues. With P = U^-1 dA U [Giles 2008, sec. 3.1]:
#   dw = diag(P),   dU~ = U (F o P),  F_ij = 1/(w_j - w_i), F_ii = 0,
# dU~ being the derivative in the gauge diag(U^-1 dU) = 0. NumPy's U is LAPACK's geev
# normalization, checked on its outputs (tests/test_linalg.py): every column u has unit
# 2-norm, and its entry of largest modulus u_k (the first on a tie, LAPACK's idamax) is
# real -- positive for a complex matrix (zgeev), of either sign for a real one (dgeev leaves
# the sign of a real eigenvector alone, and for a complex pair rotates the entry real). That
# is a smooth function of the eigenvector's line wherever the largest entry is unique, and its
# derivative is
#   du = du~ + u c,   c = -Re(u^H du~) - i Im(du~_k / u_k),
# (the first term keeps |u| = 1, the second u_k real). The VJP is its transpose under the
# pairing Re(sum(w * t)) (adcore.ops_complex), with d_j = sum_i W_ij U_ij:
#   W^ = W - conj(U) diag(Re d) - i e_k (Im d_j / u_kj),   A_bar = U^-T (F o (U^T W^)) U^T.
# (autograd's rule has the norm term but not the phase term: it agrees for phase-invariant
# functions such as |U|.) Every step is a registered op (U^-1 by solve, the eigenvalues and
# vectors by these ops), so derivatives nest; the index k is read with call_nondiff (a guard
# when recorded).
def _eigvals_primal(a, via="eigvals"):
    _square(a)
    return np.linalg.eig(a).eigenvalues if via == "eig" else np.linalg.eigvals(a)


def _eig_vectors(a):
    return apply(eig_vectors_op, a)


def _eigvals_jvp(ts, out, a, via="eigvals"):
    u = _eig_vectors(a)
    return _diagonal(np.linalg.solve(u, ts[0] @ u))  # diag(U^-1 dA U)


def _eigvals_vjp(g, needed, out, a, via="eigvals"):
    u = _eig_vectors(a)
    return (np.linalg.solve(_T(u), _col(g) * _T(u)),)  # U^-T diag(g) U^T


def _bind_eigvals(a):
    return (a,), {"via": "eigvals"}


eigvals_op = _op(
    "linalg.eigvals", _eigvals_primal, _eigvals_jvp, _eigvals_vjp,
    numpy=(np.linalg.eigvals,), bind=_bind_eigvals,
    doc="Eigenvalues w of a general square matrix (np.linalg.eigvals, eig(...).eigenvalues; "
        "complex in general), distinct eigenvalues: dw = diag(U^-1 dA U), cotangent "
        "U^-T diag(g) U^T [Giles], U the eigenvectors (the op linalg.eig_vectors, so the rule "
        "differentiates again). A real input keeps the real part of its cotangent.",
    examples=(Example(lambda a: np.abs(np.linalg.eigvals(a + np.diag([0.0, 1.5, 3.0]))),
                      ((3, 3),), domains=(Domain(-0.3, 0.3),), label="|eigvals|"),
              Example(lambda a: np.real(np.sum(np.linalg.eigvals(a) ** 2)), ((2, 3, 3),),
                      label="batch, sum of squares"),
              Example(lambda a: np.imag(np.linalg.eigvals(a + _ROTATION)), ((3, 3),),
                      domains=(Domain(-0.3, 0.3),), label="complex pair of a real matrix")))

# w = +-i, 3; the entries of a complex pair's eigenvector have well-separated moduli (1, 1/2)
_ROTATION = np.array([[0.0, 2.0, 0.0], [-0.5, 0.0, 0.0], [0.0, 0.0, 3.0]])


def _largest_entry(u):
    """(..., n, n) bool: the entry of largest modulus of each column (the first on a tie, as
    LAPACK's idamax), the one geev makes real. A decision on plain values (a guard)."""
    k = call_nondiff("np.linalg.eig (largest entry of each eigenvector)",
                     lambda u_: np.argmax(np.abs(u_), axis=-2), (u,), {})
    return np.arange(np.shape(u)[-1])[:, None] == np.expand_dims(k, -2)


def _eig_gaps(a):
    return _inverse_gaps(apply(eigvals_op, a, via="eig"))


def _eig_vectors_jvp(ts, out, a):
    u = out
    du = u @ (_eig_gaps(a) * np.linalg.solve(u, ts[0] @ u))  # U (F o (U^-1 dA U))
    c = -real(np.sum(conj(u) * du, axis=-2))  # keeps |u_j| = 1
    if is_complex(u):  # keeps u_kj real
        sel = _largest_entry(u)
        uk = np.sum(np.where(sel, u, 0.0), axis=-2)
        c = c - 1j * imag(np.sum(np.where(sel, du, 0.0), axis=-2) / uk)
    return du + u * _row(c)


def _eig_vectors_vjp(g, needed, out, a):
    u = out
    d = np.sum(g * u, axis=-2)
    g_hat = g - conj(u) * _row(real(d))
    if is_complex(u):
        sel = _largest_entry(u)
        uk = np.sum(np.where(sel, u, 0.0), axis=-2)
        g_hat = g_hat + np.where(sel, _row(-1j * imag(d) / uk), 0.0)
    p_bar = _eig_gaps(a) * (_T(u) @ g_hat)
    return (np.linalg.solve(_T(u), p_bar @ _T(u)),)  # U^-T (F o (U^T W^)) U^T


eig_vectors_op = _op(
    "linalg.eig_vectors", lambda a: np.linalg.eig(a).eigenvectors,
    _eig_vectors_jvp, _eig_vectors_vjp,
    doc="The eigenvectors U of np.linalg.eig (general real or complex square matrix, distinct "
        "eigenvalues), differentiated in NumPy's (LAPACK geev's) normalization: unit 2-norm "
        "columns whose largest-modulus entry is real. dU = dU~ + U diag(c), dU~ = U (F o "
        "(U^-1 dA U)) [Giles], c_j = -Re(u_j^H du~_j) - i Im(du~_kj / u_kj); the VJP is its "
        "transpose (see the notes above the op). Inf/NaN at a repeated eigenvalue; where two "
        "entries of a column tie for the largest modulus NumPy's vector jumps, and the "
        "derivative is that of the entry NumPy made real.",
    examples=(Example(lambda a: np.linalg.eig(a + np.diag([0.0, 1.5, 3.0]))[1],
                      ((3, 3),), domains=(Domain(-0.3, 0.3),), label="vectors (real)"),
              Example(lambda a: (lambda v: np.real(v) + 2 * np.imag(v))(
                  np.linalg.eig(a + _ROTATION).eigenvectors), ((3, 3),),
                      domains=(Domain(-0.3, 0.3),), label="complex pair, Re + 2 Im"),
              Example(lambda a: np.abs(np.linalg.eig(a)[1]), ((2, 3, 3),), label="|U|, batch")))


@defcomposite((np.linalg.eig,), examples=(
    Example(lambda a: (lambda r: np.real(r.eigenvectors * _row(r.eigenvalues)
                                         @ np.linalg.inv(r.eigenvectors)))(
        np.linalg.eig(a + np.diag([0.0, 1.5, 3.0]))), ((3, 3),), domains=(Domain(-0.3, 0.3),),
        label="U diag(w) U^-1 = a"),))
def _eig(a):
    """EigResult(eigenvalues, eigenvectors): one op each (linalg.eigvals with via='eig', so
    the values are exactly eig's, and linalg.eig_vectors)."""
    _square(value_of(a))
    from numpy.linalg._linalg import EigResult
    return EigResult(apply(eigvals_op, a, via="eig"), apply(eig_vectors_op, a))


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


# Complex a [Townsend 2016 with conjugate transposes; the gauge as in JAX and Wan & Zhang,
# "Automatic differentiation for complex valued SVD" (2019)]: with P = U^H dA V,
#   ds = Re diag(P),  U^H dU = F o (P S + S P^H) + i Im(diag P) / S,  V^H dV = F o (S P + P^H S)
# (+ (I - U U^H) dA V S^-1 for M > N, + (I - V V^H) dA^H U S^-1 for M < N). The columns of
# U and V are fixed only up to a common phase each (U -> U D, V -> V D, D diagonal unitary):
# only Im(diag(U^H dU)) - Im(diag(V^H dV)) = Im(diag P) / S is determined, and the gauge
# puts it all on U (diag(V^H dV) = 0). Functions invariant under that phase (U diag(s) V^H,
# |U|, U U^H, u_i v_i^H) are differentiated exactly; NumPy's own phases are not followed.
# For a real a every conj is the identity and the imaginary part 0: Townsend's real rules.
def _svd_s_jvp(ts, out, a, how):
    u, vh = _svd_u(a, how), _svd_vh(a, how)
    return real(np.sum(conj(u) * (ts[0] @ _H(vh)), axis=-2))  # ds_i = Re u_i^H dA v_i


def _svd_s_vjp(g, needed, out, a, how):
    return ((conj(_svd_u(a, how)) * _row(g)) @ conj(_svd_vh(a, how)),)  # conj(U diag(g) Vh)


def _embed_diagonal(d):
    """(..., K) -> (..., K, K) with d on the diagonal."""
    return _col(d) * np.eye(np.shape(d)[-1])


def _svd_u_jvp(ts, out, a, how):
    u, s, v = out, _svd_s(a, how), _H(_svd_vh(a, how))
    dav = ts[0] @ v
    p = _H(u) @ dav
    inner = _inverse_gaps(s * s) * (p * _row(s) + _col(s) * _H(p))
    if is_complex(p):  # the gauge: i Im(P_ii) / s_i on the diagonal of U^H dU
        inner = inner + _embed_diagonal(1j * imag(_diagonal(p)) / s)
    du = u @ inner
    if np.shape(u)[-2] > np.shape(u)[-1]:  # tall: (I - U U^H) dA V S^-1
        du = du + (dav - u @ p) / _row(s)
    return du


def _svd_u_vjp(g, needed, out, a, how):
    u, s, vh = out, _svd_s(a, how), _svd_vh(a, how)
    utg = _T(u) @ g
    p_bar = (_inverse_gaps(s * s) * (utg - _H(utg))) * _row(s)  # (Y + Y^H) S, Y = F o U^T G
    if is_complex(utg):
        p_bar = p_bar + _embed_diagonal(1j * imag(_diagonal(utg)) / s)
    ga = conj(u) @ p_bar @ conj(vh)  # A_bar = conj(U) P_bar conj(Vh)
    if np.shape(u)[-2] > np.shape(u)[-1]:
        ga = ga + ((g - conj(u) @ utg) / _row(s)) @ conj(vh)
    return (ga,)


def _svd_vh_jvp(ts, out, a, how):
    u, s, v = _svd_u(a, how), _svd_s(a, how), _H(out)
    t = ts[0]
    p = _H(u) @ (t @ v)
    dv = v @ (_inverse_gaps(s * s) * (_col(s) * p + _H(p) * _row(s)))
    if np.shape(v)[-2] > np.shape(v)[-1]:  # wide: (I - V V^H) dA^H U S^-1
        dv = dv + (_H(t) @ u - v @ _H(p)) / _row(s)
    return _H(dv)


def _svd_vh_vjp(g, needed, out, a, how):
    u, s, vh = _svd_u(a, how), _svd_s(a, how), out
    vtg = conj(vh) @ _H(g)  # V^T Vbar with Vbar = g^H
    ga = conj(u) @ (_col(s) * (_inverse_gaps(s * s) * (vtg - _H(vtg)))) @ conj(vh)
    if np.shape(vh)[-1] > np.shape(vh)[-2]:
        ga = ga + (conj(u) / _row(s)) @ (g - (g @ _T(vh)) @ conj(vh))
    return (ga,)


_SVD_DOC = (" a = U diag(s) Vh, a (..., M, N) real or complex, K = min(M, N): U (..., M, K), "
            "s (..., K), Vh (..., K, N). [Townsend 2016] with F_ij = 1/(s_j^2 - s_i^2); the "
            "complex case with conjugate transposes and JAX's gauge (notes above the op).")

svd_s_op = _op(
    "linalg.svd_values", lambda a, how: _svd_primal(a, how)[1], _svd_s_jvp, _svd_s_vjp,
    doc="Singular values s (svd, svdvals, svd(compute_uv=False)): ds = Re diag(U^H dA V), "
        "cotangent conj(U) diag(g) conj(Vh). At a repeated singular value: the derivative "
        "along NumPy's singular vectors; at s = 0 a one-sided derivative (a subgradient for "
        "norms)." + _SVD_DOC,
    examples=_examples(
        ("wide", lambda a: np.linalg.svd(_spread(a), compute_uv=False), ((3, 4),)),
        ("tall", lambda a: np.linalg.svdvals(_spread(a)), ((4, 3),)),
        ("batch", lambda a: np.linalg.svd(_spread(a), compute_uv=False), ((2, 3, 3),)),
        ("full svd .S", lambda a: np.linalg.svd(_spread(a)).S, ((3, 3),))))

svd_u_op = _op(
    "linalg.svd_u", lambda a, how: _svd_primal(a, how)[0], _svd_u_jvp, _svd_u_vjp,
    doc="Left singular vectors U: dU = U (F o (P S + S P^H) + i Im(diag P) S^-1) + (I - U U^H) "
        "dA V S^-1 with P = U^H dA V (the imaginary diagonal term only for a complex a: the "
        "gauge). Defined for distinct (and, for M > N or a complex a, non-zero) singular values "
        "only: inf/NaN otherwise. Column signs (phases) are NumPy's (LAPACK's) choice: for a "
        "complex a only phase-invariant functions match NumPy's." + _SVD_DOC,
    examples=_examples(
        ("tall |U|^2", lambda a: _abs2(np.linalg.svd(_spread(a), full_matrices=False).U),
         ((4, 3),)),
        ("square |U|^2", lambda a: _abs2(np.linalg.svd(_spread(a))[0]), ((3, 3),)),
        ("U diag(s) Vh = a", lambda a: (lambda r: (r.U * _row(r.S)) @ r.Vh)(
            np.linalg.svd(_spread(a), full_matrices=False)), ((2, 4, 3),)),
        ("U U^H, tall", lambda a: (lambda u: u @ np.conj(_T(u)))(
            np.linalg.svd(_spread(a), full_matrices=False)[0][..., :, :2]), ((4, 3),))))

svd_vh_op = _op(
    "linalg.svd_vh", lambda a, how: _svd_primal(a, how)[2], _svd_vh_jvp, _svd_vh_vjp,
    doc="Right singular vectors Vh = V^H: dV = V (F o (S P + P^H S)) + (I - V V^H) dA^H U "
        "S^-1 (gauge diag(V^H dV) = 0). Defined for distinct (and, for M < N, non-zero) "
        "singular values only." + _SVD_DOC,
    examples=_examples(
        ("wide |Vh|^2", lambda a: _abs2(np.linalg.svd(_spread(a), full_matrices=False).Vh),
         ((3, 4),)),
        ("U diag(s) Vh = a, wide", lambda a: (lambda r: (r.U * _row(r.S)) @ r.Vh)(
            np.linalg.svd(_spread(a), full_matrices=False)), ((3, 4),)),
        ("u_0 v_0^H", lambda a: (lambda r: r.U[..., :, :1] @ r.Vh[..., :1, :])(
            np.linalg.svd(_spread(a))), ((3, 3),)),
        ("V V^H, wide", lambda a: (lambda vh: np.conj(_T(vh)) @ vh)(
            np.linalg.svd(_spread(a), full_matrices=False)[2][..., :2, :]), ((3, 4),))))


@defcomposite((np.linalg.svd,), examples=(
    Example(lambda a: np.linalg.svd(_spread(a), hermitian=True)[1], ((3, 3),),
            domains=(SMALL,), label="hermitian=True refuses", raises=UnsupportedOpError),))
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
    dah = _H(da)
    return -(x @ da @ x) + (x @ _H(x)) @ dah @ pa + qx @ dah @ (_H(x) @ x)


def _pinv_vjp(g, needed, out, a, rcond, rtol, hermitian):
    # the transpose of t -> B t^H C is g -> conj(C g^T B) = conj(C) g^H conj(B)
    x, big_a, pa, qx = _pinv_parts(out, a, hermitian)
    gh = _H(g)
    ga = (-(_T(x) @ g @ _T(x)) + conj(pa) @ gh @ conj(x @ _H(x))
          + conj(_H(x) @ x) @ gh @ conj(qx))
    return (_to_triangle(ga, True) if hermitian else ga,)


def _bind_pinv(a, rcond=None, hermitian=False, *, rtol=np._NoValue):
    return (a,), {"rcond": rcond, "rtol": rtol, "hermitian": bool(hermitian)}


pinv_op = _op(
    "linalg.pinv",
    lambda a, rcond, rtol, hermitian: np.linalg.pinv(a, rcond=rcond, hermitian=hermitian,
                                                     rtol=rtol),
    _pinv_jvp, _pinv_vjp, numpy=(np.linalg.pinv,), bind=_bind_pinv,
    doc="X = pinv(A), A (..., M, N) real or complex: dX = -X dA X + X X^H dA^H (I - A X) + "
        "(I - X A) dA^H X^H X [Golub-Pereyra 1973], valid where the rank is locally constant "
        "(it assumes the rank, as cut by rcond/rtol, stays what it is). hermitian=True reads "
        "the lower triangle (complex: the Hermitian matrix, real diagonal), with the triangle "
        "convention of eigh.",
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
    """(dQ, dR) for M >= N, r square: B = dA R^-1, C = Q^H B, Omega = tril(C, -1) minus its
    conjugate transpose (plus i Im(diag C) for a complex a, whose R has a real diagonal);
    dQ = Q (Omega - C) + B, dR = (C - Omega) R [Walter-Lehmann; complex: Q^H dQ is
    skew-Hermitian and dR R^-1 upper triangular with a real diagonal]."""
    b = _solve_right(da, r)
    c = _H(q) @ b
    k = np.shape(c)[-1]
    low = np.where(np.tri(k, k=-1, dtype=bool), c, 0.0)
    omega = low - _H(low)
    if is_complex(c):  # R's diagonal is real (LAPACK): Q^H dQ takes i Im(diag C)
        omega = omega + np.where(np.eye(k, dtype=bool), 1j * imag(c), 0.0)
    return q @ (omega - c) + b, (c - omega) @ r


def _qr_tangents(da, a, q, r):
    m, n = np.shape(a)[-2:]
    if m >= n:
        return _qr_square_tangents(da, q, r)
    # wide: a = [X Y] with X square; Q, R1 come from X and R2 = Q^T Y
    dq, dr1 = _qr_square_tangents(da[..., :m], q, r[..., :m])
    dr2 = _H(dq) @ a[..., m:] + _H(q) @ da[..., m:]
    return dq, np.concatenate([dr1, dr2], axis=-1)


def _qr_square_cotangent(gq, gr, q, r):
    """The transpose of :func:`_qr_square_tangents`; ``gq`` or ``gr`` may be None (zero)."""
    h = 0.0
    if gq is not None:
        h = _T(q) @ gq
    if gr is not None:
        h = h - gr @ _T(r)
    k = np.shape(r)[-1]
    gc = np.where(np.tri(k, k=-1, dtype=bool), h - _H(h), 0.0) - h
    if is_complex(h):
        gc = gc + np.where(np.eye(k, dtype=bool), 1j * imag(h), 0.0)
    gb = conj(q) @ gc if gq is None else gq + conj(q) @ gc
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
        gy = conj(q) @ gr2
        extra = conj(y) @ _H(gr2)
        gx = _qr_square_cotangent(extra if gq is None else gq + extra, gr[..., :m], q,
                                  r[..., :m])
    return np.concatenate([gx, gy], axis=-1)


def _qr_r_primal(a, mode):
    return np.linalg.qr(a, mode="r") if mode == "r" else np.linalg.qr(a, mode=mode).R


_QR_DOC = (" a (..., M, N) = Q R, K = min(M, N): Q (..., M, K), R (..., K, N), Householder "
           "signs as NumPy (LAPACK) computes them (complex a: R's diagonal real, as LAPACK's "
           "zgeqrf makes it, which fixes Q's phases: every function of Q, R is "
           "differentiated). Needs the leading K x K block of a to have full rank (R^-1 "
           "appears): inf/NaN otherwise. Wide a = [X Y]: Q, R1 from X, R2 = Q^H Y "
           "[Walter-Lehmann; the wide case as in JAX].")

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
# a (M, N), b (M, m) (2-D here; the composite handles a 1-D b), real or complex. With
# X = pinv(a), x = X b and r = b - a x, Golub-Pereyra's dX gives
#   dx = X (db - dA x) + X X^H dA^H r + (I - X a) dA^H X^H x.
def _lstsq_pinv(a, rcond):
    return apply(pinv_op, a, rcond=rcond, rtol=np._NoValue, hermitian=False)


def _lstsq_x_jvp(ts, out, a, b, rcond):
    ta, tb = ts
    x, big_x = out, _lstsq_pinv(a, rcond)
    dx = None if tb is None else big_x @ tb
    if ta is not None:
        r, v = b - a @ x, _H(big_x) @ x
        qx = _eye(np.shape(a)[-1], x) - big_x @ a
        part = -(big_x @ (ta @ x)) + big_x @ (_H(big_x) @ (_H(ta) @ r)) + qx @ (_H(ta) @ v)
        dx = part if dx is None else dx + part
    return dx


def _lstsq_x_vjp(g, needed, out, a, b, rcond):
    x, big_x = out, _lstsq_pinv(a, rcond)
    gb = _T(big_x) @ g
    ga = None
    if needed[0]:
        r, v = b - a @ x, _H(big_x) @ x
        qx = _eye(np.shape(a)[-1], x) - big_x @ a
        ga = -(gb @ _T(x)) + conj(r) @ _T(big_x @ conj(gb)) + conj(v) @ (_H(g) @ conj(qx))
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
    return 2 * real(np.sum(conj(r) * d, axis=-2))  # a^H r = 0: only db - dA x counts


def _lstsq_res_vjp(g, needed, out, a, b, rcond):
    x, r = _lstsq_residual(a, b, rcond)
    gb = 2 * conj(r) * _row(g)
    return (-(gb @ _T(x)) if needed[0] else None), (gb if needed[1] else None)


lstsq_res_op = _op(
    "linalg.lstsq_residuals", lambda a, b, rcond: np.linalg.lstsq(a, b, rcond=rcond)[1],
    _lstsq_res_jvp, _lstsq_res_vjp, nargs=2,
    doc="residuals of lstsq (full column rank, M > N): ||b - a x||^2 per column of b; "
        "d = 2 Re r^H (db - dA x) (the a dx term vanishes as a^H r = 0).",
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
        residuals = np.array([], dtype=np.finfo(_dtype(x)).dtype)  # real, as NumPy's
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
