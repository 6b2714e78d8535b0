"""Checkpointing: trade recomputation for tape memory.

* :func:`checkpoint` makes a function ONE node of the tape: its inside is run without
  recording, and the sweep records it again at the saved inputs when it gets there
  (memory: the segment's inputs and output instead of all its intermediates; time: one
  more evaluation of the segment).
* :func:`scan` runs a loop of T steps as one node and reverses it with binomial
  checkpointing -- Griewank's *revolve* schedule (Griewank 1992, "Achieving logarithmic
  growth of temporal and spatial complexity in reverse automatic differentiation";
  Griewank & Walther 2000, ACM TOMS 26): at most ``snapshots`` states are kept, and the
  number of recomputed steps is the minimal ``r T - C(s + r, r - 1)`` (r: the smallest
  integer with ``C(s + r, s) >= T``).

Forward mode needs neither: it stores nothing behind the pass, so ``dualnum`` runs a
checkpointed function as the ops it is made of (``Op.inline``). Gradients are the plain
loop's (same rules, same order per step); a structural zero does not cross a checkpoint
(its cotangent is treated as computed: a NaN there is honest, never a wrong number).
"""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from adcore import STRUCTURAL, Op, Traced, TracerLeakError, apply, value_of

from .api import record_call


def _no_jvp(*args, **kwargs):  # pragma: no cover - forward mode runs the segment inline
    raise NotImplementedError("a checkpointed segment has no JVP rule: forward mode runs "
                              "what it is made of (Op.inline)")


_CLOSURE = ("{what} uses a traced value it does not take as an argument (a closure over a "
            "value being differentiated): the reverse sweep runs it again after that value's "
            "recording has ended. Pass the value as an argument instead.")


def _one_array(fn, what):
    """``fn``, refusing a result that is not one array (a tuple, a dict) with a clear error."""
    @functools.wraps(fn)
    def call(*args):
        out = fn(*args)
        if not isinstance(out, (np.ndarray, np.generic, float, int, complex, Traced)):
            raise TypeError(f"{what} must return one array, not a {type(out).__name__} (a "
                            "checkpointed segment or a scan step is one node of the tape)")
        return out
    return call


def _no_sz(g, gsz, needed, out, *inputs, **params):
    return (None,) * len(needed)  # a structural zero does not cross a checkpoint


def _segment_vjp(fn, g, needed, xs, what):
    """Cotangents of ``fn``'s needed inputs for the batch ``g``: ``fn`` recorded again at
    ``xs`` (only the values its rules read) and swept once."""
    nums = tuple(i for i, need in enumerate(needed) if need)
    try:
        tape, out, out_index = record_call(fn, list(xs), nums, keep_values=False)
    except TracerLeakError:
        raise TracerLeakError(_CLOSURE.format(what=what)) from None
    if out_index is None:
        cots = [None] * len(nums)
    else:
        cots = tape.backward(out_index, g, release=True)
    it = iter(cots)
    return tuple(next(it) if need else None for need in needed)


def checkpoint(fn):
    """``fn`` (arrays in, one array out) as one recorded node whose inside the reverse sweep
    recomputes instead of storing. ``checkpoint(layer)(x, w)`` is used like ``layer(x, w)``;
    every argument may be differentiated.

    Pass every traced value ``fn`` uses as an argument: a closure over a value being
    differentiated raises ``adcore.TracerLeakError`` in the sweep (it runs ``fn`` again
    after that value's recording ended), and a closure over a traced value of an outer
    derivative call is recorded op by op on that call's tape (correct, but not
    checkpointed there). ``TypeError`` if ``fn`` returns something other than one array."""
    name = getattr(fn, "__name__", "segment")
    what = f"tapes.checkpoint({name})"

    def vjp(g, needed, out, *xs):
        return _segment_vjp(fn, g, needed, xs, what)

    op = Op(name=f"checkpoint[{name}]", primal=_one_array(fn, what), kind=STRUCTURAL,
            nargs=None, jvp=_no_jvp,
            vjp=vjp, sz_rules={"vjp": _no_sz}, inline=True,
            doc=f"{name}, checkpointed: recomputed in the reverse sweep")

    @functools.wraps(fn)
    def wrapped(*args):
        return apply(op, *args)
    wrapped.op = op
    return wrapped


# ------------------------------------------------------------------------------ scan
def binomial(c: int, r: int) -> int:
    """beta(c, r) = C(c + r, c): the most steps reversible with c snapshots (the start
    included) when no step is evaluated more than r times."""
    return math.comb(c + r, c)


def repetitions(steps: int, snapshots: int) -> int:
    """The smallest r with beta(snapshots, r) >= steps."""
    r = 0
    while binomial(snapshots, r) < steps:
        r += 1
    return r


def optimal_recomputations(steps: int, snapshots: int) -> int:
    """The fewest forward steps recomputed to reverse ``steps`` steps with ``snapshots``
    states held at once (Griewank & Walther 2000, Prop. 1): r T - beta(s + 1, r - 1)."""
    if steps <= 1:
        return 0
    r = repetitions(steps, snapshots)
    return r * steps - binomial(snapshots + 1, r - 1)


def split(steps: int, snapshots: int) -> int:
    """Where revolve puts the next snapshot: after ``m`` of the ``steps`` steps, so the tail
    is reversed with one snapshot fewer and the head with as many. Any m in
    [steps - beta(s - 1, r), beta(s, r - 1)] keeps every step within r evaluations; m =
    beta(s, r - 2), clipped to that range, also attains the minimal total (checked against
    the exhaustive minimum in the tests)."""
    r = repetitions(steps, snapshots)
    lo = max(1, steps - binomial(snapshots - 1, r))
    hi = min(steps - 1, binomial(snapshots, r - 1))
    return min(max(lo, binomial(snapshots, r - 2) if r >= 2 else 1), hi) if hi >= lo else lo


@dataclasses.dataclass
class ScanStats:
    """What the last reverse sweep of a :func:`scan` did: recomputed forward steps, step
    recordings (one per step), and the most snapshots held at once."""

    recomputed: int = 0
    recorded: int = 0
    max_snapshots: int = 0


def scan(step, x0, steps: int, *params, snapshots: int | None = None,
         stats: ScanStats | None = None):
    """``x_T`` for ``x_{t+1} = step(x_t, *params)``, ``x_0 = x0``, as one recorded node.

    The reverse sweep holds at most ``snapshots`` states (default: all T, no recomputation)
    and recomputes the others by the binomial (revolve) schedule; ``stats`` (a
    :class:`ScanStats`), if given, is filled by each sweep. Differentiable with respect to
    ``x0`` and ``params`` (arrays); ``step`` must return an array of ``x0``'s shape.
    """
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"tapes.scan: steps must be an integer >= 0, not {steps!r}")
    steps = int(steps)
    what = f"tapes.scan({getattr(step, '__name__', 'step')})"
    step = _one_array(step, what)
    s = max(steps, 1) if snapshots is None else int(snapshots)
    if s < 1:
        raise ValueError("tapes.scan: snapshots must be >= 1 (the start is one)")

    def loop(x, *ps):
        for _ in range(steps):
            x = step(x, *ps)
        return x

    def vjp(g, needed, out, x, *ps):
        count = ScanStats() if stats is None else stats
        count.recomputed = count.recorded = count.max_snapshots = 0
        param_cots = [None] * len(ps)

        def advance(y, n):
            for _ in range(n):
                y = step(y, *ps)
            count.recomputed += n
            return y

        def step_vjp(y, gy):
            count.recorded += 1
            cots = _segment_vjp(step, gy, (True,) + tuple(needed[1:]), (y,) + tuple(ps), what)
            for i, c in enumerate(cots[1:]):
                if c is not None:
                    param_cots[i] = c if param_cots[i] is None else param_cots[i] + c
            return cots[0]

        def reverse(x, steps, gy, c):
            """The cotangent of x_0 from that of x_steps. A stack of frames (y, t0, t1, c):
            snapshot y = x_t0 held, the steps [t0, t1) to reverse with c snapshots (y's
            included) -- revolve's recursion, unrolled: T may be far beyond Python's
            recursion limit, and the stack's height is the number of states held."""
            stack = [(x, 0, steps, c)]
            while stack:
                count.max_snapshots = max(count.max_snapshots, len(stack))
                y, t0, t1, c = stack[-1]
                length = t1 - t0
                if length == 1:
                    gy = step_vjp(y, gy)
                    stack.pop()
                elif c == 1:  # no free slot: every state recomputed from this one
                    for t in range(t1 - 1, t0 - 1, -1):
                        gy = step_vjp(advance(y, t - t0), gy)
                    stack.pop()
                else:
                    m = split(length, c)
                    stack[-1] = (y, t0, t0 + m, c)  # the head, after ...
                    stack.append((advance(y, m), t0 + m, t1, c - 1))  # ... the tail
            return gy

        try:
            gx = reverse(x, steps, g, s) if steps else g
        except TracerLeakError:
            raise TracerLeakError(_CLOSURE.format(what=what)) from None
        zeros = lambda p: np.zeros((np.shape(g)[0],) + np.shape(value_of(p)))  # noqa: E731
        return (gx if needed[0] else None,) + tuple(
            (c if c is not None else zeros(p)) if need else None
            for c, p, need in zip(param_cots, ps, needed[1:]))

    op = Op(name=f"scan[{getattr(step, '__name__', 'step')}, T={steps}, s={s}]", primal=loop,
            kind=STRUCTURAL, nargs=None, jvp=_no_jvp, vjp=vjp, sz_rules={"vjp": _no_sz},
            inline=True, doc="a loop reversed by binomial checkpointing")
    return apply(op, x0, *params)
