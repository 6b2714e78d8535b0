"""ADBench's bundle adjustment residuals: a sparse Jacobian.

Input x packs ``[cameras (11 per camera), points (3 per point), weights (1 per
observation)]``: ``in_size = 11 C + 3 P + O``.  A camera is ``[r (3, angle-axis),
centre (3), f, x0 (2), kappa (2)]``.  Observation i sees point i mod P from camera
i mod C, with weight w_i and measured feature m_i (a constant).

- P_c = X - centre; theta = ||r||.  If theta != 0: v = r / theta and
  P' = P_c cos(theta) + (v x P_c) sin(theta) + v (v . P_c)(1 - cos(theta)) (Rodrigues);
  else P' = P_c + r x P_c (ADBench's small-angle branch).
- u = P'[0:2] / P'[2];  u <- u (1 + kappa_1 |u|^2 + kappa_2 |u|^4);  proj = f u + x0.
- Reprojection residual e_i = w_i (proj - m_i) (2 values); weight residual 1 - w_i^2.

Output ``[e_1, ..., e_O (2 each, interleaved), 1 - w_1^2, ..., 1 - w_O^2]``, so
``out_size = 3 O``.  Each reprojection row has 15 structural nonzeros (11 camera,
3 point, 1 weight), each weight row 1.  Our engines compute the dense Jacobian
(no colouring), so keep sizes modest: the point of the problem here is forward mode
(in_size passes) against reverse (3 O sweeps) on a wide, sparse Jacobian.

The two branches are computed for every observation and selected with ``where``; the
rotation branch divides by a theta replaced with 1 where theta = 0 (the "double where"
trick), so the branch not taken never produces NaN in any engine.

Sizes: ``--param C=...`` cameras (default 2), ``--param P=...`` points (default 4),
``--param O=...`` observations (default 8).  The harness's n knob is not used
(recorded as n = 0).

Inputs (ADBench's generator, seeded): w ~ U(0, 1), X ~ 10 U(0, 1), r ~ N(0, 1),
centre ~ 100 U(0, 1), f ~ 1000 U(0, 1), x0 ~ 10 N(0, 1), kappa ~ 0.1 U(0, 1);
features m_i = the projection of an independent draw of the same distributions
+ N(0, 1) noise (the data stream does not see the input's draw; see ``_data``).
"""

from __future__ import annotations

import numpy as np

from bench.problems import Footprint, Problem
from bench.problems._adbench import cross, int_param

NAME = "ba"
CAM = 11


def sizes(size):
    """``(C, P, O)`` of ``size``, validated."""
    return (int_param(size, NAME, "C"), int_param(size, NAME, "P"),
            int_param(size, NAME, "O"))


def n_inputs(C, P, O):
    return CAM * C + 3 * P + O


def rodrigues(rot, pt, xp):
    """Rotate ``pt`` (O, 3) by angle-axis ``rot`` (O, 3), with ADBench's branch."""
    sqtheta = xp.sum(rot * rot, axis=-1)                    # (O,)
    nonzero = sqtheta != 0.0
    theta = xp.sqrt(xp.where(nonzero, sqtheta, 1.0))        # safe in both branches
    cos, sin = xp.cos(theta), xp.sin(theta)
    v = rot / theta[:, None]
    v_dot_p = xp.sum(v * pt, axis=-1)
    full = (pt * cos[:, None] + cross(v, pt, xp) * sin[:, None]
            + v * ((1.0 - cos) * v_dot_p)[:, None])
    small = pt + cross(rot, pt, xp)
    return xp.where(nonzero[:, None], full, small)


def project(cams, points, xp):
    """Projections (O, 2) of ``points`` (O, 3) by ``cams`` (O, 11)."""
    p = rodrigues(cams[:, 0:3], points - cams[:, 3:6], xp)
    u = p[:, 0:2] / p[:, 2:3]
    rsq = xp.sum(u * u, axis=-1)
    u = u * (1.0 + cams[:, 9] * rsq + cams[:, 10] * rsq * rsq)[:, None]
    return u * cams[:, 6:7] + cams[:, 7:9]


def ba_residuals(x, data, xp):
    """Residuals at packed ``x`` (shape ``(11 C + 3 P + O,)``) -> shape ``(3 O,)``."""
    C, P, O = data["C"], data["P"], data["O"]
    cams = x[:CAM * C].reshape(C, CAM)
    points = x[CAM * C:CAM * C + 3 * P].reshape(P, 3)
    w = x[CAM * C + 3 * P:]
    proj = project(cams[data["cam_index"]], points[data["point_index"]], xp)
    reproj = w[:, None] * (proj - data["features"])                   # (O, 2)
    return xp.concatenate([reproj.reshape(2 * O), 1.0 - w * w])


def _indices(C, P, O):
    obs = np.arange(O)
    return obs % C, obs % P


def _input(rng, size):
    C, P, O = sizes(size)
    cams = np.concatenate([rng.normal(0.0, 1.0, (C, 3)),            # r
                           100.0 * rng.uniform(0.0, 1.0, (C, 3)),   # centre
                           1000.0 * rng.uniform(0.0, 1.0, (C, 1)),  # f
                           10.0 * rng.normal(0.0, 1.0, (C, 2)),     # x0
                           0.1 * rng.uniform(0.0, 1.0, (C, 2))],    # kappa
                          axis=1)
    points = 10.0 * rng.uniform(0.0, 1.0, (P, 3))
    w = rng.uniform(0.0, 1.0, O)
    return np.concatenate([cams.reshape(-1), points.reshape(-1), w])


def _data(rng, size):
    C, P, O = sizes(size)
    cam_index, point_index = _indices(C, P, O)
    # Features: the exact projections of cameras and points drawn from the input's
    # distributions plus N(0, 1) noise.  The data stream cannot see the input
    # stream's draw (Problem.instantiate keeps them independent), so the draw here is
    # a second, independent one: residuals at the input are large rather than noise
    # sized.  That changes no derivative's cost or structure.
    x = _input(rng, size)
    cams = x[:CAM * C].reshape(C, CAM)
    points = x[CAM * C:CAM * C + 3 * P].reshape(P, 3)
    proj = project(cams[cam_index], points[point_index], np)
    return {"C": C, "P": P, "O": O, "cam_index": cam_index, "point_index": point_index,
            "features": proj + rng.normal(0.0, 1.0, (O, 2))}


def _out_size(size):
    return 3 * sizes(size)[2]


PROBLEM = Problem(
    name=NAME,
    summary="ADBench bundle adjustment: weighted reprojection + weight residuals, "
            "Jacobian (3 O) x (11 C + 3 P + O)",
    knobs={},
    fn=ba_residuals,
    make_data=_data,
    make_input=_input,
    in_size=lambda size: n_inputs(*sizes(size)),
    out_size=_out_size,
    footprint=lambda size: Footprint(data_bytes=8 * 4 * sizes(size)[2],
                                     work_bytes=8 * 80 * sizes(size)[2], ops=90),
    scalar=False,
    params={"C": (2, "cameras"), "P": (4, "points"), "O": (8, "observations")},
    min_n=0,
    fixed={"n": 0},
)


def sparsity_pattern(size):
    """The structural nonzeros of the Jacobian, a boolean (3 O, in_size) array."""
    C, P, O = sizes(size)
    cam_index, point_index = _indices(C, P, O)
    pattern = np.zeros((3 * O, n_inputs(C, P, O)), dtype=bool)
    for i in range(O):
        cols = np.r_[CAM * cam_index[i] + np.arange(CAM),
                     CAM * C + 3 * point_index[i] + np.arange(3), CAM * C + 3 * P + i]
        pattern[2 * i, cols] = pattern[2 * i + 1, cols] = True
        pattern[2 * O + i, CAM * C + 3 * P + i] = True
    return pattern
