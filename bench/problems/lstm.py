"""ADBench's diagonal LSTM loss: the gradient of a scalar over a sequence.

l layers of width b (ADBench: b = 14 in every published file) run over a sequence
s_1 .. s_c of constant vectors in R^b.  Everything is elementwise (a "diagonal" LSTM).

Input x packs ``[main (2 l rows of 4 b: W_1, B_1, W_2, B_2, ...), w_in (b),
w_out (b), b_out (b)]``: ``in_size = 8 l b + 3 b``.  Each W and B row holds the
forget, input, output and change blocks of b entries, in that order.

For t = 1 .. c-1: x = s_t * w_in; per layer: f = sigmoid(x W_f + B_f),
i = sigmoid(h W_i + B_i), o = sigmoid(x W_o + B_o), g = tanh(h W_c + B_c),
cell <- cell f + i g, h <- o tanh(cell), x <- h, where h and cell are the layer's
state (constants at t = 1).  Then y = x w_out + b_out and
yhat = y - log(sum(exp(y)) + 2) -- the "+ 2" is in ADBench's reference (Python's
``sum(..., 2)`` start value) and kept so values match.  Loss =
-sum_t s_{t+1} . yhat_t / ((c - 1) b).

The sequence length c is the tape-length knob: reverse mode records ~20 l ops per
step, forward mode carries ceil(in_size / chunk) passes through the same loop.

Sizes: ``--param l=...`` layers (default 2), ``--param c=...`` sequence length
(default 32), ``--param b=...`` width (default 14).  ADBench publishes l in {2, 4},
c in {1024, 4096}.  The harness's n knob is not used (recorded as n = 0).

Inputs (seeded; ADBench ships fixed files, these are our distributions): parameters
~ U(-1, 1); initial state (h, cell per layer) ~ U(-1, 1); sequence ~ U(-1, 1).
"""

from __future__ import annotations

import numpy as np

from bench.problems import Footprint, Problem
from bench.problems._adbench import int_param

NAME = "lstm"


def sizes(size):
    """``(l, c, b)`` of ``size``, validated (c >= 2: the loss needs a next step)."""
    return (int_param(size, NAME, "l"), int_param(size, NAME, "c", minimum=2),
            int_param(size, NAME, "b"))


def n_params(l, b):
    return 8 * l * b + 3 * b


def _sigmoid(v, xp):
    return 1.0 / (1.0 + xp.exp(-v))


def lstm_objective(x, data, xp):
    """The loss at packed parameters ``x`` (shape ``(8 l b + 3 b,)``) -> shape ``()``."""
    l, c, b = data["l"], data["c"], data["b"]
    main = x[:8 * l * b].reshape(2 * l, 4 * b)
    w_in = x[8 * l * b:8 * l * b + b]
    w_out = x[8 * l * b + b:8 * l * b + 2 * b]
    b_out = x[8 * l * b + 2 * b:]
    seq, state = data["sequence"], data["state"]
    hidden = [state[2 * k] for k in range(l)]
    cell = [state[2 * k + 1] for k in range(l)]
    # Weight blocks sliced once, outside the time loop.
    blocks = [[(main[2 * k, j * b:(j + 1) * b], main[2 * k + 1, j * b:(j + 1) * b])
               for j in range(4)] for k in range(l)]
    total = 0.0
    for t in range(c - 1):
        inp = seq[t] * w_in
        for k in range(l):
            (wf, bf), (wi, bi), (wo, bo), (wc, bc) = blocks[k]
            forget = _sigmoid(inp * wf + bf, xp)
            ingate = _sigmoid(hidden[k] * wi + bi, xp)
            outgate = _sigmoid(inp * wo + bo, xp)
            change = xp.tanh(hidden[k] * wc + bc)
            cell[k] = cell[k] * forget + ingate * change
            hidden[k] = outgate * xp.tanh(cell[k])
            inp = hidden[k]
        y = inp * w_out + b_out
        ynorm = y - xp.log(xp.sum(xp.exp(y)) + 2.0)
        total = total + xp.sum(seq[t + 1] * ynorm)
    return -total / ((c - 1) * b)


def _data(rng, size):
    l, c, b = sizes(size)
    return {"l": l, "c": c, "b": b, "state": rng.uniform(-1.0, 1.0, (2 * l, b)),
            "sequence": rng.uniform(-1.0, 1.0, (c, b))}


def _out_size(size):
    sizes(size)
    return 1


PROBLEM = Problem(
    name=NAME,
    summary="ADBench diagonal LSTM: l layers of width b over a sequence of c steps, "
            "gradient in 8lb+3b parameters",
    knobs={},
    fn=lstm_objective,
    make_data=_data,
    make_input=lambda rng, size: rng.uniform(-1.0, 1.0, n_params(sizes(size)[0],
                                                                 sizes(size)[2])),
    in_size=lambda size: n_params(sizes(size)[0], sizes(size)[2]),
    out_size=_out_size,
    footprint=lambda size: Footprint(
        data_bytes=8 * sizes(size)[2] * (sizes(size)[1] + 2 * sizes(size)[0]),
        work_bytes=8 * sizes(size)[2] * 24 * sizes(size)[0] * sizes(size)[1],
        ops=24 * sizes(size)[0] * sizes(size)[1]),
    scalar=True,
    params={"l": (2, "layers"), "c": (32, "sequence length (the tape-length knob)"),
            "b": (14, "width (ADBench: 14)")},
    min_n=0,
    fixed={"n": 0},
)
