"""ADBench's problems (gmm, ba, lstm): objective values against independent
formulations written differently (explicit scalar loops, the math module), both of
our engines against finite differences, and the BA Jacobian's sparsity pattern."""

import math

import numpy as np
import pytest

import dualnum
import tapes
from bench import problems
from bench.engines import APPROX_TOL, EXACT_TOL, max_rel_error
from bench.engines.fd import central_difference
from bench.errors import UsageError
from bench.problems import ba as ba_mod
from bench.problems import gmm as gmm_mod


def instance(name, seed=0, **params):
    prob = problems.get(name)
    return prob.instantiate(prob.size(params=params), seed=seed)


def both_modes(inst):
    if inst.problem.scalar:
        return dualnum.grad(inst.f)(inst.x), tapes.grad(inst.f)(inst.x)
    return dualnum.jacobian(inst.f)(inst.x), tapes.jacobian(inst.f)(inst.x)


def check_against_fd(inst, x=None):
    x = inst.x if x is None else x
    if inst.problem.scalar:
        fwd, rev = dualnum.grad(inst.f)(x), tapes.grad(inst.f)(x)
    else:
        fwd, rev = dualnum.jacobian(inst.f)(x), tapes.jacobian(inst.f)(x)
    fd = central_difference(inst.f, x)
    assert np.all(np.isfinite(rev))
    assert np.abs(rev).max() > 0
    assert max_rel_error(fwd, rev) < EXACT_TOL
    assert max_rel_error(fd, rev) < APPROX_TOL
    return rev


# ---------------------------------------------------------------- GMM


def gmm_by_loops(x, points, d, K):
    """ADBench's GMM objective, point by point and component by component."""
    n = len(points)
    nl = d * (d - 1) // 2
    alphas = x[:K]
    means = [x[K + k * d:K + (k + 1) * d] for k in range(K)]
    icfs = [x[K + K * d + k * (d + nl):K + K * d + (k + 1) * (d + nl)] for k in range(K)]

    def lse(values):
        top = max(values)
        return top + math.log(sum(math.exp(v - top) for v in values))

    total = 0.0
    for i in range(n):
        terms = []
        for k in range(K):
            q, lparams = icfs[k][:d], icfs[k][d:]
            centred = [points[i][j] - means[k][j] for j in range(d)]
            # Q x: diagonal exp(q), strictly-lower entries in column-major order.
            qx = [math.exp(q[j]) * centred[j] for j in range(d)]
            idx = 0
            for col in range(d):
                for row in range(col + 1, d):
                    qx[row] += lparams[idx] * centred[col]
                    idx += 1
            terms.append(alphas[k] + sum(q) - 0.5 * sum(v * v for v in qx))
        total += lse(terms)
    total -= n * lse(list(alphas))
    total -= n * d * 0.5 * math.log(2 * math.pi)
    # Wishart prior, gamma = 1, m = 0, written as ADBench's log_wishart_prior.
    gamma, m = 1.0, 0
    nw = d + m + 1
    lgd = 0.25 * d * (d - 1) * math.log(math.pi) + sum(
        math.lgamma(0.5 * nw + 0.5 * (1 - j)) for j in range(1, d + 1))
    c = nw * d * (math.log(gamma) - 0.5 * math.log(2)) - lgd
    prior = 0.0
    for k in range(K):
        q, lparams = icfs[k][:d], icfs[k][d:]
        frob = sum(math.exp(v) ** 2 for v in q) + sum(v * v for v in lparams)
        prior += 0.5 * gamma * gamma * frob - m * sum(q)
    return total + prior - K * c


@pytest.mark.parametrize("d,K,N", [(1, 1, 1), (2, 3, 7), (3, 2, 5), (4, 3, 4)])
def test_gmm_objective_matches_loops(d, K, N):
    inst = instance("gmm", seed=d + K, d=d, K=K, N=N)
    points = inst.data["points_t"].T
    assert inst.x.shape == (K * (1 + d + d * (d + 1) // 2),)
    np.testing.assert_allclose(inst.f(inst.x), gmm_by_loops(inst.x, points, d, K),
                               rtol=1e-12)


def test_gmm_lower_triangle_is_column_major():
    # d = 3: l = [L10, L20, L21] (column 0 rows 1..2, then column 1 row 2).
    idx = gmm_mod.lower_index(3).reshape(3, 3)
    pad = 3
    assert idx[1, 0] == 0 and idx[2, 0] == 1 and idx[2, 1] == 2
    assert all(idx[r, c] == pad for r in range(3) for c in range(3) if r <= c)


def test_gmm_prior_sign_quirk_is_kept():
    # The prior enters with +1/2 ||.||^2 (a negative log-density) next to a
    # log-likelihood: flipping it must change the value, so the loops above pin it.
    inst = instance("gmm", d=2, K=2, N=3)
    ours = inst.f(inst.x)
    q = inst.x[2 + 4:].reshape(2, 3)[:, :2]
    l = inst.x[2 + 4:].reshape(2, 3)[:, 2:]
    prior = 0.5 * (np.sum(np.exp(2 * q)) + np.sum(l * l))
    assert abs(prior) > 1e-3
    assert not np.isclose(ours - 2 * prior, ours)


@pytest.mark.parametrize("d,K,N", [(2, 3, 10), (3, 2, 6)])
def test_gmm_gradient_both_modes_against_fd(d, K, N):
    check_against_fd(instance("gmm", d=d, K=K, N=N))


def test_gmm_published_parameter_counts():
    size = problems.get("gmm").size
    assert problems.get("gmm").in_size(size(params={"d": 2, "K": 5})) == 30
    assert problems.get("gmm").in_size(size(params={"d": 128, "K": 200})) == 1_677_000      # "1.68M"


# ---------------------------------------------------------------- BA


def ba_by_loops(x, data):
    """ADBench's BA residuals, one observation at a time, with the math module."""
    C, P, O = data["C"], data["P"], data["O"]
    cams = [x[11 * c:11 * c + 11] for c in range(C)]
    pts = [x[11 * C + 3 * p:11 * C + 3 * p + 3] for p in range(P)]
    ws = x[11 * C + 3 * P:]
    reproj, werr = [], []
    for i in range(O):
        cam, X, w = cams[i % C], pts[i % P], ws[i]
        rot, pt = cam[0:3], [X[j] - cam[3 + j] for j in range(3)]
        sqtheta = sum(r * r for r in rot)
        if sqtheta != 0:
            theta = math.sqrt(sqtheta)
            ct, st = math.cos(theta), math.sin(theta)
            v = [r / theta for r in rot]
            vxp = [v[1] * pt[2] - v[2] * pt[1], v[2] * pt[0] - v[0] * pt[2],
                   v[0] * pt[1] - v[1] * pt[0]]
            tmp = (1 - ct) * sum(v[j] * pt[j] for j in range(3))
            p = [pt[j] * ct + vxp[j] * st + v[j] * tmp for j in range(3)]
        else:
            rxp = [rot[1] * pt[2] - rot[2] * pt[1], rot[2] * pt[0] - rot[0] * pt[2],
                   rot[0] * pt[1] - rot[1] * pt[0]]
            p = [pt[j] + rxp[j] for j in range(3)]
        u = [p[0] / p[2], p[1] / p[2]]
        rsq = u[0] ** 2 + u[1] ** 2
        scale = 1 + cam[9] * rsq + cam[10] * rsq * rsq
        proj = [u[j] * scale * cam[6] + cam[7 + j] for j in range(2)]
        feat = data["features"][i]
        reproj += [w * (proj[0] - feat[0]), w * (proj[1] - feat[1])]
        werr.append(1 - w * w)
    return np.array(reproj + werr)


@pytest.mark.parametrize("C,P,O", [(1, 1, 1), (2, 3, 5), (3, 2, 7)])
def test_ba_residuals_match_loops(C, P, O):
    inst = instance("ba", seed=O, C=C, P=P, O=O)
    assert inst.x.shape == (11 * C + 3 * P + O,)
    np.testing.assert_allclose(inst.f(inst.x), ba_by_loops(inst.x, inst.data),
                               rtol=1e-12, atol=1e-9)


def test_ba_small_angle_branch_matches_loops_and_fd():
    inst = instance("ba", C=2, P=3, O=6)
    x = inst.x.copy()
    x[0:3] = 0.0                        # camera 0: zero rotation -> the r x P branch
    np.testing.assert_allclose(inst.f(x), ba_by_loops(x, inst.data), rtol=1e-12, atol=1e-9)
    rev = check_against_fd(inst, x)
    # At r = 0 the branch's derivative in r is -[P]_x (d(r x P)/dr), not NaN.
    assert np.all(np.isfinite(rev))


def test_ba_jacobian_both_modes_against_fd():
    check_against_fd(instance("ba", C=2, P=3, O=5))


def test_ba_sparsity_pattern():
    size = problems.get("ba").size(params={"C": 3, "P": 4, "O": 10})
    inst = problems.get("ba").instantiate(size, seed=5)
    fwd, rev = both_modes(inst)
    pattern = ba_mod.sparsity_pattern(size)
    O = 10
    # ADBench's structure: 15 per reprojection row (11 camera, 3 point, 1 weight),
    # 1 per weight row: 31 per observation.
    assert (pattern[:2 * O].sum(axis=1) == 15).all()
    assert (pattern[2 * O:].sum(axis=1) == 1).all()
    assert pattern.sum() == 31 * O
    for jac in (fwd, rev):
        # No derivative outside the pattern ...
        assert not np.any(jac[~pattern])
        # ... and inside it every entry is nonzero except the principal point's other
        # coordinate (x0_y does not move the x residual and vice versa): 14 numerical
        # nonzeros per reprojection row.
        nonzero = jac != 0
        assert (nonzero[:2 * O].sum(axis=1) == 14).all()
        assert (nonzero[2 * O:].sum(axis=1) == 1).all()
        for i in range(O):
            cam = 11 * (i % 3)
            assert jac[2 * i, cam + 8] == 0 and jac[2 * i + 1, cam + 7] == 0
            assert jac[2 * i, cam + 7] != 0 and jac[2 * i + 1, cam + 8] != 0


def test_ba_weight_rows_are_minus_two_w():
    inst = instance("ba", C=2, P=2, O=4)
    _, rev = both_modes(inst)
    w = inst.x[-4:]
    np.testing.assert_allclose(rev[8:, -4:], np.diag(-2 * w), rtol=1e-14)


# ---------------------------------------------------------------- LSTM


def lstm_by_loops(x, data, plus=2.0):
    """ADBench's LSTM loss with scalar loops over every entry."""
    l, c, b = data["l"], data["c"], data["b"]
    main = [x[4 * b * r:4 * b * (r + 1)] for r in range(2 * l)]
    w_in, w_out, b_out = x[8 * l * b:8 * l * b + b], x[8 * l * b + b:8 * l * b + 2 * b], \
        x[8 * l * b + 2 * b:]
    seq = data["sequence"]
    hid = [list(data["state"][2 * k]) for k in range(l)]
    cel = [list(data["state"][2 * k + 1]) for k in range(l)]

    def sig(v):
        return 1 / (1 + math.exp(-v))

    total, count = 0.0, 0
    for t in range(c - 1):
        inp = [seq[t][j] * w_in[j] for j in range(b)]
        for k in range(l):
            W, B = main[2 * k], main[2 * k + 1]
            for j in range(b):
                f = sig(inp[j] * W[j] + B[j])
                i = sig(hid[k][j] * W[b + j] + B[b + j])
                o = sig(inp[j] * W[2 * b + j] + B[2 * b + j])
                g = math.tanh(hid[k][j] * W[3 * b + j] + B[3 * b + j])
                cel[k][j] = cel[k][j] * f + i * g
                hid[k][j] = o * math.tanh(cel[k][j])
            inp = list(hid[k])
        y = [inp[j] * w_out[j] + b_out[j] for j in range(b)]
        lse = math.log(sum(math.exp(v) for v in y) + plus)   # ADBench's "+ 2"
        total += sum(seq[t + 1][j] * (y[j] - lse) for j in range(b))
        count += b
    return -total / count


@pytest.mark.parametrize("l,c,b", [(1, 2, 1), (2, 5, 3), (3, 4, 14)])
def test_lstm_objective_matches_loops(l, c, b):
    inst = instance("lstm", seed=c, l=l, c=c, b=b)
    assert inst.x.shape == (8 * l * b + 3 * b,)
    np.testing.assert_allclose(inst.f(inst.x), lstm_by_loops(inst.x, inst.data),
                               rtol=1e-12)


def test_lstm_plus_two_quirk_is_pinned():
    # A plain log-softmax (no "+ 2") gives another value: the comparison above can fail.
    inst = instance("lstm", l=1, c=3, b=2)
    assert np.isclose(inst.f(inst.x), lstm_by_loops(inst.x, inst.data))
    assert not np.isclose(inst.f(inst.x), lstm_by_loops(inst.x, inst.data, plus=0.0))


@pytest.mark.parametrize("l,c,b", [(1, 3, 2), (2, 4, 3)])
def test_lstm_gradient_both_modes_against_fd(l, c, b):
    check_against_fd(instance("lstm", l=l, c=c, b=b))


# ---------------------------------------------------------------- knobs


@pytest.mark.parametrize("name,params,message", [
    ("gmm", {"d": 2.5}, "integer"), ("gmm", {"K": 0}, ">= 1"),
    ("ba", {"O": -1}, ">= 1"), ("lstm", {"c": 1}, ">= 2"), ("lstm", {"q": 3}, "no parameter")])
def test_bad_knobs_are_usage_errors(name, params, message):
    with pytest.raises(UsageError, match=message):
        problems.get(name).size(params=params)


def test_defaults_are_small_and_seeded():
    for name in ("gmm", "ba", "lstm"):
        prob = problems.get(name)
        size = prob.size()
        assert prob.in_size(size) <= 500
        a, b = prob.instantiate(size, seed=4), prob.instantiate(size, seed=4)
        np.testing.assert_array_equal(a.x, b.x)
        assert np.array_equal(np.asarray(a.f(a.x)), np.asarray(b.f(b.x)))
        c = prob.instantiate(size, seed=5)
        assert not np.array_equal(a.x, c.x)


def test_generators_follow_the_documented_distributions():
    inst = instance("gmm", seed=1, d=3, K=200, N=2000)
    K, d = 200, 3
    mu = inst.x[K:K + K * d]
    assert 0 <= mu.min() and mu.max() <= 1                        # mu ~ U(0, 1)
    assert abs(inst.x[:K].mean()) < 0.3 and 0.8 < inst.x[:K].std() < 1.2   # alpha ~ N(0,1)
    assert abs(inst.data["points_t"].std() - 1) < 0.05
    inst = instance("ba", seed=1, C=200, P=300, O=400)
    cams = inst.x[:11 * 200].reshape(200, 11)
    assert 0 <= cams[:, 3:6].min() and cams[:, 3:6].max() <= 100  # centre ~ 100 U
    assert 0 <= cams[:, 6].min() and cams[:, 6].max() <= 1000     # f ~ 1000 U
    assert 0 <= cams[:, 9:].min() and cams[:, 9:].max() <= 0.1    # kappa ~ 0.1 U
    pts = inst.x[11 * 200:11 * 200 + 900]
    assert 0 <= pts.min() and pts.max() <= 10                     # X ~ 10 U
    w = inst.x[-400:]
    assert 0 <= w.min() and w.max() <= 1                          # w ~ U(0, 1)
