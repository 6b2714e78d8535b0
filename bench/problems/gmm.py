"""ADBench's Gaussian mixture model objective: the gradient of a scalar.

K components in dimension d, N data points (ADBench calls the point count n).  The
input x packs, component-major, ``[alpha (K), mu (K*d), icf (K*d(d+1)/2)]``, so
``in_size = K (1 + d + d(d+1)/2)``.  ``icf_k = [q_k (d log-diagonal entries),
l_k (d(d-1)/2 strictly-lower entries, column-major)]``; Q_k is lower triangular with
diagonal exp(q_k) and l_k below it (the inverse covariance is Q_k Q_k^T).

    F = -(N d / 2) log(2 pi)
        + sum_i LSE_k[ alpha_k + sum_j q_kj - 1/2 ||Q_k (x_i - mu_k)||^2 ]
        - N LSE(alpha)
        + sum_k [ 1/2 gamma^2 (||exp(q_k)||^2 + ||l_k||^2) - m sum_j q_kj ]
        - K C,
    C = N_w d (log gamma - 1/2 log 2) - log Gamma_d(N_w / 2),  N_w = d + m + 1,

with the Wishart prior constants gamma = 1, m = 0, and LSE(v) = max v + log sum
exp(v - max v).  This is exactly what ADBench's reference computes, quirk included:
the data term is a log-likelihood while the prior term carries the negative-log sign.

Sizes: ``--param d=...`` (dimension, default 2), ``--param K=...`` (components,
default 5), ``--param N=...`` (data points, default 1000).  ADBench publishes
d in {2, 10, 20, 32, 64, 128}, K in {5, 10, 25, 50, 100, 200}, N in {1000, 10000}.
The harness's n knob is not used (recorded as n = 0); ``in_size`` is the parameter
count.

Inputs (ADBench's generator, seeded): alpha ~ N(0, 1), mu ~ U(0, 1), icf ~ N(0, 1),
data points x_i ~ N(0, 1)^d.
"""

from __future__ import annotations

import math

import numpy as np

from bench.problems import Footprint, Problem
from bench.problems._adbench import int_param, logsumexp

NAME = "gmm"
GAMMA = 1.0
WISHART_M = 0


def sizes(size):
    """``(d, K, N)`` of ``size``, validated."""
    return (int_param(size, NAME, "d"), int_param(size, NAME, "K"),
            int_param(size, NAME, "N"))


def n_params(d, K):
    """Length of the packed input: K (1 + d + d(d+1)/2)."""
    return K * (1 + d + d * (d + 1) // 2)


def lower_index(d):
    """Gather index turning ``[l_k..., 0]`` into the row-major d x d matrix L_k.

    Entry (r, c) with r > c holds l_k's column-major position; every other entry
    points at the appended zero (index d(d-1)/2).
    """
    nl = d * (d - 1) // 2
    idx = np.full((d, d), nl, dtype=np.intp)
    pos = 0
    for c in range(d):
        for r in range(c + 1, d):
            idx[r, c] = pos
            pos += 1
    return idx.reshape(-1)


def log_gamma_distrib(a, p):
    """log of the multivariate gamma function Gamma_p(a)."""
    return 0.25 * p * (p - 1) * math.log(math.pi) + sum(
        math.lgamma(a + 0.5 * (1 - j)) for j in range(1, p + 1))


def constant_terms(d, K, N):
    """The input-independent part of F: -(N d / 2) log(2 pi) - K C."""
    nw = d + WISHART_M + 1
    c = nw * d * (math.log(GAMMA) - 0.5 * math.log(2.0)) - log_gamma_distrib(0.5 * nw, d)
    return -0.5 * N * d * math.log(2.0 * math.pi) - K * c


def gmm_objective(x, data, xp):
    """F at packed parameters ``x`` (shape ``(K (1 + d + d(d+1)/2),)``) -> shape ``()``."""
    d, K, N = data["d"], data["K"], data["N"]
    nl = d * (d - 1) // 2
    alpha = x[:K]                                            # (K,)
    mu = x[K:K + K * d].reshape(K, d)                        # (K, d)
    icf = x[K + K * d:].reshape(K, d + nl)                   # (K, d + nl)
    q = icf[:, :d]                                           # log-diagonals (K, d)
    l = icf[:, d:]                                           # strictly lower (K, nl)
    # L_k as dense (K, d, d) by gathering from [l_k, 0]: no item assignment needed.
    l_pad = xp.concatenate([l, 0.0 * icf[:, :1]], axis=1)    # (K, nl + 1)
    lower = l_pad[:, data["lower_index"]].reshape(K, d, d)
    # Q_k (x_i - mu_k) for all i, k at once, points along the last axis.
    centered = data["points_t"][None, :, :] - mu[:, :, None]          # (K, d, N)
    qx = xp.exp(q)[:, :, None] * centered + lower @ centered          # (K, d, N)
    sum_q = xp.sum(q, axis=1)                                          # (K,)
    main = (alpha + sum_q)[:, None] - 0.5 * xp.sum(qx * qx, axis=1)   # (K, N)
    data_term = xp.sum(logsumexp(main, xp, axis=0))
    alpha_term = N * logsumexp(alpha, xp, axis=0)
    prior = xp.sum(0.5 * GAMMA ** 2 * (xp.sum(xp.exp(2.0 * q), axis=1)
                                       + xp.sum(l * l, axis=1)) - WISHART_M * sum_q)
    return data["constant"] + data_term - alpha_term + prior


def _data(rng, size):
    d, K, N = sizes(size)
    return {"d": d, "K": K, "N": N, "points_t": rng.normal(0.0, 1.0, (N, d)).T.copy(),
            "lower_index": lower_index(d), "constant": constant_terms(d, K, N)}


def _input(rng, size):
    d, K, _ = sizes(size)
    return np.concatenate([rng.normal(0.0, 1.0, K), rng.uniform(0.0, 1.0, K * d),
                           rng.normal(0.0, 1.0, K * d * (d + 1) // 2)])


def _footprint(size):
    d, K, N = sizes(size)
    return Footprint(data_bytes=8 * N * d, work_bytes=8 * (8 * K * d * N + 2 * K * d * d),
                     ops=40)


def _out_size(size):
    sizes(size)           # validates the knobs when the harness completes a size
    return 1


PROBLEM = Problem(
    name=NAME,
    summary="ADBench GMM: mixture log-likelihood + Wishart prior, gradient in "
            "K(1+d+d(d+1)/2) parameters",
    knobs={},
    fn=gmm_objective,
    make_data=_data,
    make_input=_input,
    in_size=lambda size: n_params(*sizes(size)[:2]),
    out_size=_out_size,
    footprint=_footprint,
    scalar=True,
    params={"d": (2, "dimension"), "K": (5, "mixture components"),
            "N": (1000, "data points (ADBench's n)")},
    min_n=0,
    fixed={"n": 0},
)
