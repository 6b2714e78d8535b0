"""Contractions: ``np.einsum`` as one registered op, and the NumPy functions that are
einsums in disguise (tensordot, inner, kron, N-D dot, vdot, vecdot, cross, trace).

The op ``einsum`` is a *multilinear* map of its operands, so its rules are einsums too:

    JVP  = sum_i einsum(spec with operand i replaced by its tangent)
    VJP_i = einsum(cotangent, the other operands -> operand i's subscripts)

The transpose needs every index of operand i to appear in the output or in another operand,
and no index twice in one operand. The composite :func:`_einsum` brings any NumPy einsum to
that form with registered ops first: ``...`` is spelled out in letters (broadcasting of
size-1 axes by ``np.broadcast_to``), a repeated index within one operand (``'ii->i'``,
traces) becomes a diagonal gather (``getitem``), and an index only one operand has and the
output lacks is summed out (``np.sum``). A batch of k directions is one more letter.
"""
from __future__ import annotations

import string

import numpy as np

from .errors import UnsupportedOpError
from .registry import Example, defcomposite, defop
from .tracing import Traced, apply, cast, value_of

_LETTERS = string.ascii_letters


def _spec_str(ins, out):
    return ",".join(ins) + "->" + out


def _unused(*subscripts):
    """A letter not used in any of ``subscripts`` (the batch axis of the rules)."""
    used = set("".join(subscripts))
    return next(c for c in _LETTERS if c not in used)


def _einsum_primal(*operands, ins, out, optimize):
    return np.einsum(_spec_str(ins, out), *operands, optimize=optimize)


def _einsum_jvp(ts, out_value, *operands, ins, out, optimize):
    z = _unused(out, *ins)
    total = None
    for i, t in enumerate(ts):
        if t is None:
            continue
        subs = [z + s if j == i else s for j, s in enumerate(ins)]
        args = [t if j == i else o for j, o in enumerate(operands)]
        term = np.einsum(_spec_str(subs, z + out), *args, optimize=optimize)
        total = term if total is None else total + term
    return total


def _einsum_vjp(g, needed, out_value, *operands, ins, out, optimize):
    z = _unused(out, *ins)
    grads = []
    for i, need in enumerate(needed):
        if not need:
            grads.append(None)
            continue
        others = [s for j, s in enumerate(ins) if j != i]
        args = [o for j, o in enumerate(operands) if j != i]
        grads.append(np.einsum(_spec_str([z + out] + others, z + ins[i]), g, *args,
                               optimize=optimize))
    return tuple(grads)


einsum_op = defop(
    "einsum", _einsum_primal, jvp=_einsum_jvp, vjp=_einsum_vjp, nargs=None,
    doc="np.einsum in canonical form (explicit output, no ellipsis, no index repeated within "
        "an operand, every index of an operand in the output or in another operand); "
        "np.einsum itself is the composite that brings a call to this form.",
    examples=(
        Example(lambda a, b: np.einsum("ij,jk->ik", a, b), ((3, 4), (4, 2)), label="matmul"),
        Example(lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c, optimize=True),
                ((2, 3), (3, 4), (4, 2)), label="chain, optimize"),
        Example(lambda a: np.einsum("ij->ji", a), ((2, 3),), label="transpose"),
    ))


# ----------------------------------------------------------------------------- parsing
def _interleaved(args):
    """einsum(op0, sublist0, op1, sublist1, ..., [sublist_out]) as (spec string, operands)."""
    def letters(sub):
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sub)
    operands, subs = list(args[0::2]), list(args[1::2])
    out = None
    if len(operands) > len(subs):  # a trailing output sublist
        out = operands.pop()
    spec = ",".join(letters(s) for s in subs)
    if out is not None:
        spec += "->" + letters(out)
    return spec, operands


def _parse(spec, operands):
    """(inputs, output) subscripts with every ``...`` spelled out in letters, and the
    operands broadcast over their ellipsis axes where a size-1 axis meets a longer one."""
    spec = spec.replace(" ", "")
    ins_str, arrow, out_str = spec.partition("->")
    ins = ins_str.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"einsum: {len(ins)} subscripts for {len(operands)} operands")
    shapes = [np.shape(value_of(o)) for o in operands]
    ell_ndim = [len(sh) - len(s.replace("...", "")) if "..." in s else 0
                for s, sh in zip(ins, shapes)]
    for s, sh in zip(ins, shapes):
        if len(s.replace("...", "")) > len(sh) or ("..." not in s and len(s) != len(sh)):
            raise ValueError(f"einsum: subscripts {s!r} do not match an operand of shape {sh}")
    n_ell = max(ell_ndim, default=0)
    fresh = [c for c in _LETTERS if c not in spec][:n_ell]
    ell_shape = np.broadcast_shapes(*[sh[s.index("..."):s.index("...") + e]
                                      for s, sh, e in zip(ins, shapes, ell_ndim) if "..." in s]
                                    ) if n_ell else ()
    new_ins, new_ops = [], []
    for s, op, sh, e in zip(ins, operands, shapes, ell_ndim):
        if "..." in s:
            at = s.index("...")
            mine = ell_shape[n_ell - e:]
            if sh[at:at + e] != mine:  # a size-1 ellipsis axis broadcast against a longer one
                op = np.broadcast_to(op, sh[:at] + mine + sh[at + e:])
            s = s.replace("...", "".join(fresh[n_ell - e:]))
        new_ins.append(s)
        new_ops.append(op)
    new_ops = _broadcast_named(new_ins, new_ops)
    if arrow:
        out = out_str.replace("...", "".join(fresh))
    else:  # implicit output: the ellipsis axes, then the indices used once, sorted
        once = sorted(c for c in set("".join(ins).replace(".", ""))
                      if "".join(ins).count(c) == 1)
        out = "".join(fresh) + "".join(once)
    return new_ins, out, new_ops


def _broadcast_named(ins, ops):
    """NumPy's einsum broadcasts a size-1 axis against a longer one with the same letter
    ('i,i' of shapes (1,) and (4,)): broadcast those operands explicitly (np.broadcast_to),
    so the rules' transposes see equal sizes and broadcast_to's own VJP sums back."""
    size = {}
    for s, op in zip(ins, ops):
        for c, n in zip(s, np.shape(value_of(op))):
            size[c] = n if size.get(c, 1) == 1 else size[c]
    out = []
    for s, op in zip(ins, ops):
        shape = np.shape(value_of(op))
        want = tuple(size[c] if n == 1 else n for c, n in zip(s, shape))
        out.append(op if want == shape else np.broadcast_to(op, want))
    return out


def _diagonal_of_repeats(s, op):
    """An operand whose subscripts repeat an index (``'iij'``): its diagonal over the
    repeated axes as a gather, with the index once (``'ij'``)."""
    while len(set(s)) < len(s):
        c = next(ch for ch in s if s.count(ch) > 1)
        first, second = s.index(c), s.index(c, s.index(c) + 1)
        op = np.moveaxis(op, (first, second), (0, 1))  # the pair in front: adjacent indices
        rest = s[:first] + s[first + 1:second] + s[second + 1:]
        n = np.shape(value_of(op))[0]
        if np.shape(value_of(op))[1] != n:
            raise ValueError(f"einsum: index {c!r} has two different sizes in one operand")
        idx = np.arange(n)
        op = op[idx, idx]
        s = c + rest
    return s, op


def _sum_private(ins, out, ops):
    """Sum out an index that only one operand has and the output lacks."""
    new_ins, new_ops = [], []
    for i, (s, op) in enumerate(zip(ins, ops)):
        elsewhere = out + "".join(t for j, t in enumerate(ins) if j != i)
        private = tuple(a for a, c in enumerate(s) if c not in elsewhere)
        if private:
            op = np.sum(op, axis=private)
            s = "".join(c for c in s if c in elsewhere)
        new_ins.append(s)
        new_ops.append(op)
    return new_ins, new_ops


def einsum_canonical(spec, *operands, optimize=False):
    """np.einsum on traced operands, through the registered op in canonical form."""
    ins, out, ops = _parse(spec, operands)
    for c in out:
        if out.count(c) > 1 or not any(c in s for s in ins):
            raise ValueError(f"einsum: output subscript {c!r} is repeated or not in any input")
    pairs = [_diagonal_of_repeats(s, op) for s, op in zip(ins, ops)]
    ins, ops = [p[0] for p in pairs], [p[1] for p in pairs]
    ins, ops = _sum_private(ins, out, ops)
    optimize = optimize if isinstance(optimize, (bool, str)) else "greedy"
    if not any(isinstance(o, Traced) for o in ops):
        return np.einsum(_spec_str(ins, out), *ops, optimize=optimize)
    return apply(einsum_op, *ops, ins=tuple(ins), out=out, optimize=optimize)


@defcomposite((np.einsum,), examples=(
    Example(lambda a: np.einsum("ii", a), ((3, 3),), label="trace"),
    Example(lambda a: np.einsum("ii->i", a), ((3, 3),), label="diagonal"),
    Example(lambda a: np.einsum("ij->", a), ((2, 3),), label="sum"),
    Example(lambda a, b: np.einsum("ij,jk", a, b), ((3, 4), (4, 2)), label="implicit"),
    Example(lambda a, b: np.einsum("...ij,...jk->...ik", a, b), ((2, 3, 4), (4, 2)),
            label="ellipsis broadcast"),
    Example(lambda a, b: np.einsum("bi,bj->bij", a, b), ((2, 3), (2, 4)), label="batch outer"),
    Example(lambda a, b, c: np.einsum("i,ij,j", a, b, c), ((3,), (3, 4), (4,)), label="bilinear"),
    Example(lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), ((2, 3), (3, 2)),
            label="sublists"),
    Example(lambda a, b: np.einsum("iij,j->i", a, b), ((3, 3, 2), (2,)), label="repeated+contract"),
    Example(lambda a, b: np.einsum("...i,...i->...", a, b), ((2, 1, 3), (4, 3)),
            label="ellipsis size-1 broadcast"),
))
def _einsum(*args, out=None, optimize=False, dtype=None, order="K", casting="safe"):
    if out is not None:
        from .errors import MutationError
        raise MutationError("np.einsum(..., out=...) writes in place; use the returned value")
    if dtype is not None and not np.issubdtype(np.dtype(dtype), np.floating):
        raise UnsupportedOpError("np.einsum", f"dtype={dtype} would drop the derivative")
    if isinstance(args[0], str):
        spec, operands = args[0], args[1:]
    else:
        spec, operands = _interleaved(args)
    return einsum_canonical(spec, *operands, optimize=optimize)


# ----------------------------------------------------------------------------- einsums in disguise
def _letters(n, skip=""):
    return "".join([c for c in _LETTERS if c not in skip][:n])


def _tensordot_axes(axes, nda, ndb):
    if np.ndim(axes) == 0:
        n = int(axes)
        return list(range(nda - n, nda)), list(range(n))
    a_axes, b_axes = axes
    a_axes = [int(a) % nda for a in np.atleast_1d(a_axes)]
    b_axes = [int(b) % ndb for b in np.atleast_1d(b_axes)]
    if len(a_axes) != len(b_axes):
        raise ValueError("shape-mismatch for sum")
    return a_axes, b_axes


@defcomposite((np.tensordot,), examples=(
    Example(lambda a, b: np.tensordot(a, b), ((2, 3, 4), (3, 4, 2)), label="axes=2"),
    Example(lambda a, b: np.tensordot(a, b, axes=1), ((2, 3), (3, 4)), label="axes=1"),
    Example(lambda a, b: np.tensordot(a, b, axes=([0, 2], [2, 0])), ((2, 3, 4), (4, 3, 2)),
            label="axes pairs"),
    Example(lambda a, b: np.tensordot(a, b, axes=0), ((2,), (3,)), label="axes=0 outer"),
))
def _tensordot(a, b, axes=2):
    nda, ndb = np.ndim(value_of(a)), np.ndim(value_of(b))
    a_axes, b_axes = _tensordot_axes(axes, nda, ndb)
    sa = list(_letters(nda))
    sb = list(_letters(ndb, skip="".join(sa)))
    for i, j in zip(a_axes, b_axes):
        sb[j] = sa[i]
    out = [c for i, c in enumerate(sa) if i not in a_axes] + [
        c for j, c in enumerate(sb) if j not in b_axes]
    return einsum_canonical("".join(sa) + "," + "".join(sb) + "->" + "".join(out), a, b)


@defcomposite((np.inner,), examples=(
    Example(lambda a, b: np.inner(a, b), ((3,), (3,)), label="vectors"),
    Example(lambda a, b: np.inner(a, b), ((2, 3), (4, 3)), label="matrices"),
    Example(lambda a, b: np.inner(a, b), ((), (3,)), label="scalar"),
))
def _inner(a, b):
    nda, ndb = np.ndim(value_of(a)), np.ndim(value_of(b))
    if nda == 0 or ndb == 0:
        return np.multiply(a, b)
    return _tensordot(a, b, axes=([-1], [-1]))


@defcomposite((np.vdot,), examples=(
    Example(lambda a, b: np.vdot(a, b), ((2, 3), (6,)), label="flattens"),))
def _vdot(a, b):
    return einsum_canonical("i,i->", np.ravel(np.conjugate(a)), np.ravel(b))


if hasattr(np, "vecdot"):  # NumPy >= 2.0
    @defcomposite((np.vecdot,), examples=(
        Example(lambda a, b: np.vecdot(a, b), ((2, 3), (3,)), label="broadcast"),))
    def _vecdot(x1, x2, axis=-1):
        return np.sum(np.conjugate(x1) * x2, axis=axis)


@defcomposite((np.kron,), examples=(
    Example(lambda a, b: np.kron(a, b), ((2, 2), (2, 3)), label="matrices"),
    Example(lambda a, b: np.kron(a, b), ((3,), (2,)), label="vectors"),
    Example(lambda a, b: np.kron(a, b), ((2,), (2, 2)), label="mixed ndim"),
))
def _kron(a, b):
    sa, sb = np.shape(value_of(a)), np.shape(value_of(b))
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    a, b = np.reshape(a, sa), np.reshape(b, sb)
    la, lb = _letters(nd), _letters(nd, skip=_letters(nd))
    out = "".join(x + y for x, y in zip(la, lb))  # interleaved: a's axis i next to b's
    return np.reshape(einsum_canonical(f"{la},{lb}->{out}", a, b),
                      tuple(p * q for p, q in zip(sa, sb)))


def dot_nd(a, b):
    """np.dot for N-D operands: a sum over the last axis of a and the second-to-last of b."""
    nda, ndb = np.ndim(value_of(a)), np.ndim(value_of(b))
    return _tensordot(a, b, axes=([nda - 1], [max(ndb - 2, 0)]))


@defcomposite((np.cross,), examples=(
    Example(lambda a, b: np.cross(a, b), ((3,), (3,)), label="3-vectors"),
    Example(lambda a, b: np.cross(a, b), ((4, 3), (3,)), label="broadcast rows"),
    Example(lambda a, b: np.cross(a, b, axisa=0, axisb=0, axisc=0), ((3, 2), (3, 2)),
            label="axes"),
))
def _cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a = np.moveaxis(a, axisa, -1)
    b = np.moveaxis(b, axisb, -1)
    na, nb = np.shape(value_of(a))[-1], np.shape(value_of(b))[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("incompatible dimensions for cross product (dimension must be 2 or 3)")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    if na == 2 and nb == 2:
        return a0 * b1 - a1 * b0
    # a 2-vector's z is 0, in its own dtype (float32 stays float32, as NumPy's cross)
    a2 = a[..., 2] if na == 3 else np.zeros(np.shape(value_of(a0)), np.result_type(value_of(a0)))
    b2 = b[..., 2] if nb == 3 else np.zeros(np.shape(value_of(b0)), np.result_type(value_of(b0)))
    parts = (a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0)
    shape = np.broadcast_shapes(*(np.shape(value_of(p)) for p in parts))
    c = np.stack([np.broadcast_to(p, shape) for p in parts], axis=-1)
    return np.moveaxis(c, -1, axisc)


@defcomposite((np.trace,), examples=(
    Example(lambda a: np.trace(a), ((3, 3),), label="square"),
    Example(lambda a: np.trace(a, offset=1), ((3, 4),), label="offset"),
    Example(lambda a: np.trace(a, offset=-1, axis1=1, axis2=2), ((2, 3, 3),),
            label="batched axes"),
))
def _trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    if out is not None or (dtype is not None and not np.issubdtype(np.dtype(dtype), np.floating)):
        raise UnsupportedOpError("np.trace", "out= or a non-float dtype")
    if dtype is not None:
        a = cast(a, dtype)
    a = np.moveaxis(a, (axis1, axis2), (-2, -1))
    n, m = np.shape(value_of(a))[-2:]
    rows = np.arange(max(0, -offset), min(n, m - offset)) if offset < m else np.arange(0)
    return np.sum(a[..., rows, rows + offset], axis=-1)
