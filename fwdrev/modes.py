"""Which mode computes a Jacobian faster, decided by measuring at the input -- what JAX
leaves to its user (``jacfwd`` or ``jacrev``).

The textbook rule is the dimensions: forward mode costs ``ceil(n / k)`` passes of k
directions (n input entries), reverse mode one recording plus ``ceil(m / k)`` sweeps of k
cotangents (m output entries), so forward when n < m. But a pass and a sweep do not cost
the same (a tape's bookkeeping, BLAS's appetite for wide blocks, Python's per-op
overhead), so near n = m, and for small n or m, the rule guesses. :func:`choose_mode`
measures instead, at this input and chunk size: one forward pass with k directions, one
recording (with the tape's size), one reverse sweep with k cotangents -- each the best of
a few runs -- extrapolates both Jacobians, and returns the cheaper with its reasons.

``jacobian(f, mode="auto")`` decides once per input shape and dtype (the first call pays
for the measurement) and then runs the chosen engine directly.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import time

import numpy as np

import dualnum
import tapes
from adcore import calls, value_of
from tapes.api import record_call, sweep

from .derivatives import inputs_of, jacobian_by, leaf_function
from .pytrees import Output, flatten

MODES = ("forward", "reverse", "auto")
REPEATS = 3  # each probe: the best of this many runs (a shared machine is noisy)


@dataclasses.dataclass(frozen=True)
class ModeChoice:
    """The decision and its evidence. Times in seconds, sizes in bytes.

    ``forward_s`` / ``reverse_s``: the whole Jacobian's estimated time by each mode
    (``passes * pass_s`` and ``record_s + sweeps * sweep_s``); ``chunk_forward`` /
    ``chunk_reverse``: directions per pass and cotangents per sweep.
    """

    mode: str
    n: int
    m: int
    passes: int
    chunk_forward: int
    chunk_reverse: int
    pass_s: float
    record_s: float
    sweep_s: float
    tape_bytes: int
    forward_s: float
    reverse_s: float


    @property
    def sweeps(self) -> int:
        return math.ceil(self.m / self.chunk_reverse) if self.m else 0

    @property
    def chunk(self) -> int:
        return self.chunk_forward if self.mode == "forward" else self.chunk_reverse

    def __str__(self) -> str:
        return (f"{self.mode} mode: n = {self.n} inputs, m = {self.m} outputs. Forward: "
                f"{self.passes} pass(es) of {self.chunk_forward} directions x "
                f"{self.pass_s * 1e3:.3g} ms = {self.forward_s * 1e3:.3g} ms. Reverse: a "
                f"recording of {self.record_s * 1e3:.3g} ms (tape {self.tape_bytes / 2**20:.3g} "
                f"MiB) + {self.sweeps} sweep(s) of {self.chunk_reverse} cotangents x "
                f"{self.sweep_s * 1e3:.3g} ms = {self.reverse_s * 1e3:.3g} ms.")


def _best(fn) -> float:
    best = math.inf
    for _ in range(REPEATS):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


#: a chunk's (co)tangents may take this many bytes across the function's values: wider
#: chunks mean fewer passes and wider matrix products (one GEMM instead of many)
CHUNK_BUDGET = 64 * 2 ** 20


def _footprint(tape) -> int:
    """Bytes of every value the function computes (a recorded tape's outputs, the dropped
    ones counted by shape and dtype): what a forward pass carries k tangents of."""
    total = 0
    for v in tape.out_of:
        v = value_of(v)
        total += int(np.prod(np.shape(v), dtype=int)) * getattr(getattr(v, "dtype", None),
                                                                 "itemsize", 8)
    return max(total, 8)


def wide_chunk(size: int, footprint: int) -> int:
    """Directions per pass for ``size`` of them: as many as :data:`CHUNK_BUDGET` allows over
    a function of ``footprint`` bytes (at least the engines' default chunk, at most all),
    in balanced passes."""
    if size <= 0:
        return 1
    widest = max(calls.default_chunk(size), min(size, CHUNK_BUDGET // footprint))
    passes = math.ceil(size / widest)
    return math.ceil(size / passes)


def choose_mode(f, *args, argnums=0, chunk=None) -> ModeChoice:
    """Measure both modes at ``args`` and pick the cheaper for ``f``'s full Jacobian with
    respect to ``args[argnums]`` (pytrees allowed), with its chunk. ``chunk``: directions
    per forward pass and cotangents per sweep; default: as many as :data:`CHUNK_BUDGET`
    allows for this function's values (:func:`wide_chunk`), at least the engines' default.
    Raises the engines' errors (unsupported functions, non-float inputs)."""
    if chunk is not None and (not isinstance(chunk, (int, np.integer)) or chunk < 1):
        raise ValueError(f"fwdrev.choose_mode: chunk must be a positive integer, not {chunk!r}")
    inputs = inputs_of(args, argnums, "fwdrev.choose_mode")
    output = Output()
    g = leaf_function(f, inputs, output)
    leaves = [calls.as_float_input(x, "fwdrev.choose_mode", i, complex_ok=True)
              for i, x in enumerate(inputs.leaves)]
    nums = inputs.leaf_nums
    n = sum(int(np.size(value_of(x))) for x in leaves)

    recorded = {}

    def record():
        recorded["r"] = record_call(g, list(leaves), nums, keep_values=False)
    record_s = _best(record)
    tape, out, out_index = recorded["r"]
    out_shape = np.shape(value_of(out))
    m = int(np.prod(out_shape, dtype=int))
    footprint = _footprint(tape)
    kr = min(int(chunk), max(m, 1)) if chunk else wide_chunk(m, footprint)
    dtype = np.result_type(value_of(out), np.float32)
    cot = calls.basis_chunk(out_shape, 0, min(kr, m), dtype) if m else None
    sweep_s = _best(lambda: sweep(tape, out, out_index, cot)) if m else 0.0

    # forward: as dualnum.jacobian runs it, ceil(size / chunk) passes per input leaf; one
    # pass is timed on the largest leaf (the others' passes cost about the same)
    sizes = [int(np.size(value_of(x))) for x in leaves]
    chunks = [min(int(chunk), max(s, 1)) if chunk else wide_chunk(s, footprint) for s in sizes]
    big = int(np.argmax(sizes))
    shape = np.shape(value_of(leaves[big]))
    seed = calls.basis_chunk(shape, 0, chunks[big] if sizes[big] else 0,
                             np.result_type(value_of(leaves[big]), np.float32))
    pass_s = _best(lambda: dualnum.api.push_forward(g, list(leaves), big, seed, also=nums))
    passes = sum(math.ceil(s / k) for s, k in zip(sizes, chunks) if s)
    kf = chunks[big]

    sweeps = math.ceil(m / kr) if m else 0
    forward_s = passes * pass_s
    reverse_s = record_s + sweeps * sweep_s
    return ModeChoice("forward" if forward_s <= reverse_s else "reverse", n, m, passes, kf, kr,
                      pass_s, record_s, sweep_s, int(tape.nbytes), forward_s, reverse_s)


def _shape_key(args, argnums) -> tuple:
    """The shapes and dtypes of the differentiated leaves (a decision is reused for these)."""
    nums = (argnums,) if np.ndim(argnums) == 0 else tuple(argnums)
    key = []
    for a in nums:
        x = args[a]
        if type(x) is np.ndarray:
            key.append((x.shape, x.dtype.str))
        else:
            leaves, treedef = flatten(x)
            key.append((str(treedef),) + tuple((np.shape(value_of(v)), np.result_type(
                value_of(v)).str) for v in leaves))
    return tuple(key)


def jacobian(f, argnums=0, mode="auto", chunk=None, explain=False):
    """The Jacobian of ``f`` (pytrees in and out, shapes as :func:`fwdrev.jacfwd`).

    ``mode``: "forward", "reverse" or "auto" -- measured by :func:`choose_mode` at the
    first call for each input shape and dtype, then reused. ``explain=True``: the call
    returns ``(jacobian, choice)`` with the :class:`ModeChoice` (None for a fixed mode).
    """
    if mode not in MODES:
        raise ValueError(f"fwdrev.jacobian: mode must be one of {MODES}, not {mode!r}")
    fixed = {"forward": jacobian_by(dualnum, f, argnums, chunk, "fwdrev.jacobian"),
             "reverse": jacobian_by(tapes, f, argnums, chunk, "fwdrev.jacobian")}
    decided: dict = {}

    @functools.wraps(f)
    def jac(*args):
        choice = None
        if mode == "auto":
            nums, _ = calls.normalize_argnums(argnums, len(args), "fwdrev.jacobian")
            key = _shape_key(args, nums)
            found = decided.get(key)
            if found is None:
                choice = choose_mode(f, *args, argnums=argnums, chunk=chunk)
                found = decided[key] = (choice, jacobian_by(
                    dualnum if choice.mode == "forward" else tapes, f, argnums, choice.chunk,
                    "fwdrev.jacobian"))  # the engine with the chunk choose_mode timed
            choice, engine = found
        else:
            engine = fixed[mode]
        result = engine(*args)
        return (result, choice) if explain else result
    jac.decisions = decided  # (choice, engine) made so far, by input shapes and dtypes
    return jac
