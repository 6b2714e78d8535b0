"""Sparse Jacobians and Hessians: a sparsity pattern, a colouring, and one pass per colour.

A Jacobian whose columns j1, j2 share no row can be computed together: seed a forward
pass with e_j1 + e_j2 and read each entry back from the row it lives in. Grouping the
columns so that no two in a group share a row is a *distance-1 colouring* of the columns'
intersection graph (Curtis, Powell & Reid 1974; Coleman & More 1983); forward mode then
needs one pass of ``colours`` directions, not n of them, and reverse mode likewise with
rows. A symmetric Hessian can do better: a *star colouring* (every path on four vertices
uses at least three colours) lets each off-diagonal entry be read from one of its two
symmetric positions (Gebremedhin, Manne & Pothen 2005, "What color is your Jacobian?",
SIAM Review 47 -- Algorithm 4.1 and the direct recovery of Section 4).

* :func:`jacobian_sparsity` / :func:`hessian_sparsity` detect the pattern by tracing:
  forward passes whose directions are the unit vectors, reading the *structural* zeros the
  registry's rules propagate (adcore.rules: a structural zero is a zero by the program's
  structure -- an index not gathered, a constant 0 factor, a sum of such), one rule per op.
  The pattern is taken at the input and at two nearby points, so a branch (a maximum's
  loser, a ``where``) taken differently nearby is included.
* :func:`colour_columns` / :func:`colour_rows` colour with ``networkx.greedy_color``;
  :func:`star_colouring` is Algorithm 4.1 (networkx has no star colouring).
* :func:`sparse_jacobian` / :func:`sparse_hessian` evaluate compressed and decompress into
  ``scipy.sparse`` CSR arrays; the pattern and colouring are computed once (or given) and
  reused. Each evaluation is checked: ``w^T J v`` of the sparse result against one JVP
  (random ``v``, ``w``); a pattern that no longer holds (a branch taken elsewhere) is
  detected and recomputed at the new input (``rerecords`` counts it), never decompressed
  into a wrong number.

Inputs and outputs are arrays, seen flattened: a Jacobian is ``(m, n)`` with m =
``out.size`` and n = ``x.size``.
"""
from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import scipy.sparse as sp

import dualnum
import tapes
from adcore import calls, rules, value_of
from adcore.linear import sz_of_seed
from dualnum.dual import Dual, ForwardTrace

from .derivatives import hessian as fwdrev_hessian

NEARBY = 2  # extra points at which the pattern is detected (branches taken nearby)


# ------------------------------------------------------------------------------ patterns
def _dependencies(f, x, chunk):
    """Boolean CSR ``(m, n)``: output entry i may depend on input entry j at ``x`` -- not a
    structural zero of the forward pass seeded with e_j (or non-zero anyway). Built chunk by
    chunk as sparse blocks: memory O(nnz + chunk m), not O(m n)."""
    n = x.size
    blocks, m = [], 0
    for start, stop in calls.chunks(n, chunk):
        seed = calls.basis_chunk(x.shape, start, stop, np.result_type(x, np.float32))
        k = stop - start
        with ForwardTrace(k) as trace:
            # an output built from traced entries (np.array([x0 * x1, x2])) is lifted first
            out = calls.check_single_output(f(Dual(trace, x, seed, sz_of_seed(seed))),
                                            "fwdrev.jacobian_sparsity")
            if isinstance(out, Dual) and out._trace is trace:
                t, sz = out.tangent, out.sz
            else:  # the output does not depend on x at all
                t, sz = np.zeros((k,) + np.shape(value_of(out))), True
        m = int(np.size(value_of(out)))
        dep = np.reshape(np.asarray(t) != 0, (k, m))
        if sz is None:
            dep = np.ones((k, m), dtype=bool)
        else:
            dep = dep | ~np.reshape(np.broadcast_to(sz, np.shape(t)), (k, m))
        blocks.append(sp.csr_array(dep.T))
    return sp.hstack(blocks, format="csr") if blocks else sp.csr_array((m, 0), dtype=bool)


def _nearby(x, seed=0):
    rng = np.random.default_rng(seed)
    scale = np.maximum(np.abs(x), 1.0)
    return [x + 1e-3 * scale * rng.standard_normal(x.shape) for _ in range(NEARBY)]


def _pattern(f, x, chunk=None):
    """The dependencies at ``x`` and two nearby points, with the rules' point-wise zeros (a
    maximum's loser, a factor that is 0 here) not applied: a pattern that holds near x."""
    with np.errstate(all="ignore"), rules.dependencies_only():
        dep = _dependencies(f, x, chunk)
        for y in _nearby(x):
            try:
                dep = dep + _dependencies(f, y, chunk)
            except (ArithmeticError, ValueError, np.linalg.LinAlgError):
                continue  # a nearby point outside the domain: the input's pattern stands
    return sp.csr_array(dep > 0)


def _as_input(x, where):
    x = calls.as_float_input(x, where, 0, promote_int=True)
    if np.result_type(x).kind == "c":
        raise TypeError(f"{where}: complex inputs are not supported")
    return np.asarray(x)


def jacobian_sparsity(f, x, chunk=None):
    """The sparsity pattern of ``f``'s Jacobian at ``x`` (and nearby), a boolean
    ``scipy.sparse`` CSR array of shape ``(out.size, x.size)``. Cost: ``ceil(n / chunk)``
    forward passes per point (it is computed once and reused)."""
    return _pattern(f, _as_input(x, "fwdrev.jacobian_sparsity"), chunk)


def hessian_sparsity(f, x, chunk=None):
    """The sparsity pattern of a scalar ``f``'s Hessian at ``x`` (and nearby): the
    dependencies of the recorded gradient, symmetrised; boolean CSR ``(n, n)``."""
    x = _as_input(x, "fwdrev.hessian_sparsity")
    p = _pattern(tapes.grad(f), x, chunk)
    return sp.csr_array((p + p.T + sp.eye_array(x.size, dtype=bool, format="csr")) > 0)


# ------------------------------------------------------------------------------ colourings
def _intersection_graph(pattern, axis):
    """Columns (axis=1) or rows (axis=0) as vertices, joined when they share a row/column."""
    p = sp.csr_array(pattern, dtype=np.int32)
    gram = (p.T @ p) if axis == 1 else (p @ p.T)
    g = nx.Graph()
    g.add_nodes_from(range(gram.shape[0]))
    coo = sp.coo_array(gram)
    g.add_edges_from((i, j) for i, j in zip(coo.row, coo.col) if i < j)
    return g


def _greedy(graph) -> np.ndarray:
    colouring = nx.greedy_color(graph, strategy="largest_first")
    return np.array([colouring[v] for v in range(graph.number_of_nodes())], dtype=np.int64)


def colour_columns(pattern) -> np.ndarray:
    """A colour per column, no two columns of one colour sharing a row (distance-1 colouring
    of the column intersection graph; networkx's greedy, largest degree first)."""
    return _greedy(_intersection_graph(pattern, 1))


def colour_rows(pattern) -> np.ndarray:
    """A colour per row, no two rows of one colour sharing a column (for reverse mode)."""
    return _greedy(_intersection_graph(pattern, 0))


def star_colouring(pattern) -> np.ndarray:
    """A star colouring of the symmetric pattern's adjacency graph (Gebremedhin, Manne &
    Pothen 2005, Algorithm 4.1): distance-1, and every path on four vertices gets at least
    three colours, which the symmetric recovery (:func:`_recover_symmetric`) needs."""
    p = sp.csr_array(pattern)
    n = p.shape[0]
    adj = [set(p.indices[p.indptr[v]:p.indptr[v + 1]]) - {v} for v in range(n)]
    order = sorted(range(n), key=lambda v: -len(adj[v]))  # largest degree first
    colour = np.full(n, -1, dtype=np.int64)
    for v in order:
        forbidden = set()
        for w in adj[v]:
            if colour[w] >= 0:
                forbidden.add(colour[w])
        for w in adj[v]:
            for x in adj[w]:
                if x == v or colour[x] < 0:
                    continue
                if colour[w] < 0:  # v, x at distance 2 through an uncoloured w
                    forbidden.add(colour[x])
                elif any(colour[y] == colour[w] for y in adj[x] if y != w):
                    forbidden.add(colour[x])  # v-w-x-y would be two-coloured
        c = 0
        while c in forbidden:
            c += 1
        colour[v] = c
    return colour


def is_star_colouring(pattern, colour) -> bool:
    """Checks the definition directly (tests): a proper colouring with no two-coloured path
    on four vertices."""
    p = sp.csr_array(pattern)
    n = p.shape[0]
    adj = [set(p.indices[p.indptr[v]:p.indptr[v + 1]]) - {v} for v in range(n)]
    for a in range(n):
        for b in adj[a]:
            if colour[a] == colour[b]:
                return False
            for c in adj[b] - {a}:
                if colour[c] != colour[a]:
                    continue
                if any(colour[d] == colour[b] for d in adj[c] - {a, b}):
                    return False
    return True


# ------------------------------------------------------------------------------ evaluation
def _seed_matrix(colour, count, dtype=np.float64) -> np.ndarray:
    s = np.zeros((len(colour), count), dtype=dtype)
    s[np.arange(len(colour)), colour] = 1.0
    return s


def _recover_columns(pattern, colour, compressed):
    """J from B = J S (column colouring): J[i, j] = B[i, colour(j)]."""
    coo = sp.coo_array(pattern)
    values = compressed[coo.row, colour[coo.col]]
    return sp.csr_array((values, (coo.row, coo.col)), shape=pattern.shape)


def _recover_rows(pattern, colour, compressed):
    """J from B = S^T J (row colouring): J[i, j] = B[colour(i), j]."""
    coo = sp.coo_array(pattern)
    values = compressed[colour[coo.row], coo.col]
    return sp.csr_array((values, (coo.row, coo.col)), shape=pattern.shape)


def _recover_symmetric(pattern, colour, compressed):
    """H from B = H S (star colouring): H[i, j] = B[i, colour(j)] if j is the only column of
    its colour in row i, else H[j, i] = B[j, colour(i)] (one of the two holds)."""
    coo = sp.coo_array(pattern)
    count = np.zeros((pattern.shape[0], compressed.shape[1]), dtype=np.int64)
    np.add.at(count, (coo.row, colour[coo.col]), 1)
    direct = count[coo.row, colour[coo.col]] == 1
    values = np.where(direct, compressed[coo.row, colour[coo.col]],
                      compressed[coo.col, colour[coo.row]])
    if not np.all(direct | (count[coo.col, colour[coo.row]] == 1)):
        raise ValueError("fwdrev.sparse_hessian: the colouring is not a star colouring")
    return sp.csr_array((values, (coo.row, coo.col)), shape=pattern.shape)


@dataclasses.dataclass
class Compression:
    """A pattern with its colouring: what :func:`sparse_jacobian` reuses between calls."""

    pattern: sp.csr_array
    colour: np.ndarray
    mode: str  # "forward" (columns), "reverse" (rows) or "symmetric" (star, Hessians)

    @property
    def colours(self) -> int:
        return int(self.colour.max()) + 1 if self.colour.size else 0


#: a row of the sparse result times a probe direction may differ from the probe's JVP by
#: this much relative to the row's terms (rounding), before the pattern is called stale
PROBE_RTOL = 1e-10
PROBES = 2


def _agrees(sparse, probe, v) -> bool:
    """Row by row, ``J_sparse v`` against the probe ``J v`` (one JVP): an entry the pattern
    misses, or two that collide in a colour, differ there far above rounding (unless the
    missed entry is below the tolerance of its row's terms: ``PROBE_RTOL`` in float64, 64
    units of roundoff in a narrower dtype). Complex values compared whole."""
    got = sparse @ v
    scale = abs(sparse) @ np.abs(v) + np.abs(probe)
    rtol = max(PROBE_RTOL, 64 * float(np.finfo(np.result_type(sparse.dtype, probe)).eps))
    return bool(np.all(np.abs(got - probe) <= rtol * scale + 1e-300))


class _Sparse:
    """The callable :func:`sparse_jacobian` and :func:`sparse_hessian` return."""

    def __init__(self, f, mode, compression, chunk, hessian):
        self.f, self.mode, self.compression, self.chunk = f, mode, compression, chunk
        self.hessian = hessian
        self.rerecords = 0  # patterns detected again (a branch taken elsewhere)
        self.dense_fallbacks = 0  # results computed densely (no pattern held)
        self.calls = 0

    def _compress(self, x):
        pattern = (hessian_sparsity if self.hessian else jacobian_sparsity)(self.f, x, self.chunk)
        if self.hessian:
            return Compression(pattern, star_colouring(pattern), "symmetric")
        cols, rows = colour_columns(pattern), colour_rows(pattern)
        ncols = cols.max() + 1 if cols.size else 0
        nrows = rows.max() + 1 if rows.size else 0
        mode = self.mode if self.mode != "auto" else ("forward" if ncols <= nrows else "reverse")
        return Compression(pattern, cols if mode == "forward" else rows, mode)

    def _evaluate(self, x, c: Compression):
        g = tapes.grad(self.f) if self.hessian else self.f
        p = c.colours
        n = x.size
        if c.mode in ("forward", "symmetric"):
            seed = _seed_matrix(c.colour, p, x.dtype).T.reshape((p,) + x.shape)
            _, t = dualnum.api.push_forward(g, [x], 0, seed) if p else (None, np.zeros((0,)))
            compressed = np.reshape(t, (p, -1)).T if p else np.zeros((c.pattern.shape[0], 0))
            recover = _recover_symmetric if c.mode == "symmetric" else _recover_columns
            return recover(c.pattern, c.colour, compressed)
        tape, out, out_index = tapes.record_call(g, [x], (0,), keep_values=False)
        m = int(np.size(value_of(out)))
        seed = _seed_matrix(c.colour, p, np.result_type(value_of(out), np.float32)).T.reshape(
            (p,) + np.shape(value_of(out)))
        cots = tapes.sweep(tape, out, out_index, seed)[0] if p else np.zeros((0, n))
        return _recover_rows(c.pattern, c.colour, np.reshape(cots, (p, n)) if m else
                             np.zeros((0, n)))

    def _checked(self, x, result) -> bool:
        g = tapes.grad(self.f) if self.hessian else self.f
        rng = np.random.default_rng(self.calls)
        for _ in range(PROBES):
            v = rng.standard_normal(x.size).astype(x.dtype)
            _, probe = dualnum.jvp(g, (x,), (v.reshape(x.shape),))
            if not _agrees(result, np.ravel(probe), v):
                return False
        return True

    def __call__(self, x):
        where = "fwdrev.sparse_hessian" if self.hessian else "fwdrev.sparse_jacobian"
        x = _as_input(x, where)
        if x.size == 0:  # nothing to colour: an empty (m, 0) matrix
            return sp.csr_array((int(np.size(self.f(x))) if not self.hessian else 0, 0),
                                dtype=x.dtype)
        if self.compression is None:
            self.compression = self._compress(x)
        elif self.compression.pattern.shape[1] != x.size:
            raise ValueError(f"{where}: the pattern has {self.compression.pattern.shape[1]} "
                             f"columns, the input {x.size} entries")
        self.calls += 1
        compression = self.compression  # this call's (another thread may replace it)
        result = self._evaluate(x, compression)
        if not self._checked(x, result):
            # the pattern does not hold here (a branch taken differently): detect it again
            self.rerecords += 1
            self.compression = self._compress(x)
            result = self._evaluate(x, self.compression)
            if not self._checked(x, result):
                # not even the pattern found here holds (a rule's structural zeros wrong, or
                # an entry below the probe's resolution): the dense derivative, never a guess
                self.dense_fallbacks += 1
                dense = (fwdrev_hessian(self.f) if self.hessian else dualnum.jacobian(self.f))(x)
                result = sp.csr_array(np.reshape(dense, result.shape))
        return result


def sparse_jacobian(f, mode="auto", pattern=None, chunk=None):
    """``sparse_jacobian(f)(x)``: the Jacobian as a ``scipy.sparse`` CSR array
    ``(out.size, x.size)``, by one forward pass with one direction per column colour
    (``mode="forward"``), one recording and one sweep with one cotangent per row colour
    (``"reverse"``), or whichever needs fewer colours (``"auto"``). ``pattern``: a known
    pattern (else detected at the first call). The returned callable keeps the pattern and
    colouring (``.compression``) and checks every result (module docstring); its counters
    ``rerecords`` and ``dense_fallbacks`` say how often a pattern was detected again and a
    result computed densely instead.

    Detection costs ``ceil(n / chunk)`` forward passes at three points: for n in the tens
    of thousands, detect once and reuse the callable (or pass ``pattern=``). Raises
    ``ValueError`` for a bad ``mode`` or a pattern whose shape does not fit, and the
    engines' errors (unsupported functions, complex or non-float inputs)."""
    if mode not in ("forward", "reverse", "auto"):
        raise ValueError("fwdrev.sparse_jacobian: mode must be 'forward', 'reverse' or 'auto'")
    fn = _Sparse(f, mode, None, chunk, hessian=False)
    if pattern is not None:
        pattern = sp.csr_array(pattern, dtype=bool)
        if pattern.ndim != 2:
            raise ValueError("fwdrev.sparse_jacobian: pattern must be an (out.size, x.size) matrix")
        m = mode if mode != "auto" else "forward"
        colour = colour_columns(pattern) if m == "forward" else colour_rows(pattern)
        fn.compression = Compression(pattern, colour, m)
    return fn


def sparse_hessian(f, pattern=None, chunk=None):
    """``sparse_hessian(f)(x)``: the Hessian of a scalar ``f`` as a symmetric CSR array
    ``(x.size, x.size)``, by one forward-over-reverse pass with one direction per colour of
    a star colouring. ``pattern``: a known (symmetric) pattern; else detected at the first
    call and reused; every result is checked as :func:`sparse_jacobian`'s."""
    fn = _Sparse(f, "symmetric", None, chunk, hessian=True)
    if pattern is not None:
        pattern = sp.csr_array(pattern, dtype=bool)
        pattern = sp.csr_array((pattern + pattern.T + sp.eye_array(pattern.shape[0], dtype=bool,
                                                                    format="csr")) > 0)
        fn.compression = Compression(pattern, star_colouring(pattern), "symmetric")
    return fn
