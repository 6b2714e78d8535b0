"""The lecture's regularised logistic-regression loss, R^n -> R (gradient in the weights).

p(y | a) = 1 / (1 + exp(-y w.a)) with labels y in {-1, +1};
loss(w) = 1/2 ||w||^2 - lam * sum_b log p(y_b | a_b) over a fixed batch of B = 32 samples.
n = number of features (= weights).  Features a ~ N(0, 1/n) so that w.a = O(1) and
exp cannot overflow; labels are fair coin flips; the weights w ~ N(0, 1).
"""

from bench.problems import Footprint, Problem

BATCH = 32
LAM = 1.0


def logreg_loss(w, data, xp):
    """Loss at weights ``w`` (shape ``(n,)``) -> shape ``()``."""
    margins = data["labels"] * (data["features"] @ w)       # (B,)
    # -log p(y|a) = log(1 + exp(-y w.a)); margins are O(1) by construction.
    return 0.5 * xp.sum(w * w) + LAM * xp.sum(xp.log(1.0 + xp.exp(-margins)))


def _data(rng, size):
    return {
        "features": rng.normal(0.0, size.n ** -0.5, (BATCH, size.n)),
        "labels": rng.choice([-1.0, 1.0], BATCH),
    }


PROBLEM = Problem(
    name="logreg",
    summary=f"1/2 ||w||^2 - log-likelihood of logistic regression, batch {BATCH}, R^n -> R",
    knobs={"n": (16, "number of features (weights)")},
    fn=logreg_loss,
    make_data=_data,
    make_input=lambda rng, size: rng.normal(0.0, 1.0, size.n),
    in_size=lambda size: size.n,
    out_size=lambda size: 1,
    footprint=lambda size: Footprint(data_bytes=8 * BATCH * (size.n + 1),
                                     work_bytes=8 * (3 * size.n + 8 * BATCH), ops=10),
    scalar=True,
)
