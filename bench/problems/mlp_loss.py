"""Softmax cross-entropy of a fully-connected + ReLU network over a minibatch, R^p -> R.

Network: input width n -> hidden width H = 16 (ReLU) -> C = 10 classes, minibatch
B = 32 (the lecture's smallest SGD batch).  We differentiate with respect to all
parameters, packed into one vector x of length p = n*H + H + H*C + C = 16 n + 186.
So n = input width; the gradient has p entries.

Inputs ~ N(0, 1); weights W1 ~ N(0, 1/n), W2 ~ N(0, 1/H), biases 0.1 ~ N(0, 1); hence
the logits are O(1) and the log-sum-exp needs no max-shift (a max-shift would need a
non-differentiable max in every engine's op set).
"""

from bench.problems import Footprint, Problem

HIDDEN = 16
CLASSES = 10
BATCH = 32


def n_params(n):
    """Length of the packed parameter vector for input width ``n``."""
    return n * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES


def mlp_loss(x, data, xp):
    """Mean cross-entropy at packed parameters ``x`` (shape ``(p,)``) -> shape ``()``."""
    n = data["inputs"].shape[1]
    i = 0
    w1 = x[i:i + n * HIDDEN].reshape(n, HIDDEN); i += n * HIDDEN
    b1 = x[i:i + HIDDEN]; i += HIDDEN
    w2 = x[i:i + HIDDEN * CLASSES].reshape(HIDDEN, CLASSES); i += HIDDEN * CLASSES
    b2 = x[i:i + CLASSES]
    hidden = xp.maximum(data["inputs"] @ w1 + b1, 0.0)      # (B, H), ReLU
    logits = hidden @ w2 + b2                                # (B, C)
    log_norm = xp.log(xp.sum(xp.exp(logits), axis=1))       # (B,) log-sum-exp
    picked = xp.sum(logits * data["onehot"], axis=1)         # (B,) logit of true class
    return xp.sum(log_norm - picked) / BATCH


def _data(rng, size):
    labels = rng.integers(0, CLASSES, BATCH)
    onehot = (labels[:, None] == range(CLASSES)).astype(float)
    return {"inputs": rng.normal(0.0, 1.0, (BATCH, size.n)), "onehot": onehot}


def _input(rng, size):
    n = size.n
    return [*rng.normal(0.0, n ** -0.5, n * HIDDEN), *rng.normal(0.0, 0.1, HIDDEN),
            *rng.normal(0.0, HIDDEN ** -0.5, HIDDEN * CLASSES), *rng.normal(0.0, 0.1, CLASSES)]


PROBLEM = Problem(
    name="mlp-loss",
    summary=f"softmax cross-entropy of n -> {HIDDEN} (ReLU) -> {CLASSES}, batch {BATCH}; "
            "gradient in all 16n+186 parameters",
    knobs={"n": (16, f"input width (the gradient has 16n+{n_params(0)} entries)")},
    fn=mlp_loss,
    make_data=_data,
    make_input=_input,
    in_size=lambda size: n_params(size.n),
    out_size=lambda size: 1,
    footprint=lambda size: Footprint(
        data_bytes=8 * BATCH * (size.n + CLASSES),
        work_bytes=8 * (3 * n_params(size.n) + BATCH * (6 * HIDDEN + 8 * CLASSES)), ops=20),
    scalar=True,
)
