"""The zero convention in compiled code: ``@njit`` forward mode (dual numbers), ``@njit``
reverse mode (the tape recorded in compiled code) and the compiled replay of a Python
recording follow the rule tests/test_trust_zeros.py pins for the Python engines — a zero
*by the program's structure* contributes exactly 0 even against inf or NaN; a zero a rule
*computed* at this point does not (NaN, or the true value; never another finite number).

Every compiled result is compared with the Python engines (``dualnum.grad`` and
``tapes.grad`` of the same plain-Python function): NaN at the same places, equal finite
values. The kinds mirror test_trust_zeros.py; the structural-zero cases are generated from
the registry (``Op.szero``) as well as written out.
"""
import functools
import itertools
import math
import re

import numba
import numpy as np
import pytest

import adcore
import dualnum
import tapes
from njit_cases import cube_sum, logistic_step, positive, signs
from adjit import scalar_rules as nr
from adcore.errors import NonFloatInputError
from adcore.registry import ConstZero

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

COMPILED = ("njit-forward", "njit-reverse", "compiled-replay")


def honest(value, truth, what=""):
    """NaN (the chain rule met 0 * inf) or the true value -- never another finite number."""
    value = np.asarray(value, dtype=float)
    truth = np.broadcast_to(np.asarray(truth, dtype=float), value.shape)
    ok = np.isnan(value) | np.isclose(value, truth, rtol=1e-9, atol=1e-12)
    assert ok.all(), f"{what}: wrong finite derivative: got {value}, true {truth}"


def agree(got, want, what="", rtol=1e-12):
    """NaN exactly where ``want`` is NaN; the same finite (and infinite) values elsewhere."""
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want),
                                  err_msg=f"{what}: NaN at other places: {got} vs {want}")
    keep = ~np.isnan(want)
    np.testing.assert_allclose(got[keep], want[keep], rtol=rtol, atol=0,
                               err_msg=f"{what}: {got} vs {want}")


def python_grads(fp, x, argnums=0):
    with np.errstate(all="ignore"):
        return {"python-forward": dualnum.grad(fp, argnums=argnums)(*x),
                "python-reverse": tapes.grad(fp, argnums=argnums)(*x)}


def compiled_grads(fj, fp, x, argnums=0, record_at=None):
    """Gradients of ``fj`` (njit) forward and reverse, and of ``fp`` (plain Python) by a
    compiled replay recorded at ``record_at`` (default: x itself) and replayed at ``x``."""
    with np.errstate(all="ignore"):
        at = x if record_at is None else record_at
        rec = tapes.record(fp, *at, argnums=argnums, compiled="scalar")
        fused = tapes.record(fp, *at, argnums=argnums, compiled="fused")
        return {"njit-forward": dualnum.grad(fj, argnums=argnums)(*x),
                "njit-reverse": tapes.grad(fj, argnums=argnums)(*x),
                "compiled-replay": rec.gradient(*x), "fused-replay": fused.gradient(*x)}


def check_all(fj, fp, x, truth=None, argnums=0, record_at=None, exact=None):
    """Every engine on one point: the compiled ones agree with the Python ones; with
    ``truth`` all are honest; with ``exact`` all equal it exactly."""
    nums = (argnums,) if np.ndim(argnums) == 0 else tuple(argnums)
    x = tuple(np.asarray(v, dtype=float) if i in nums else v for i, v in enumerate(x))
    if record_at is not None:
        record_at = tuple(np.asarray(v, dtype=float) if i in nums else v
                          for i, v in enumerate(record_at))
    py = python_grads(fp, x, argnums)
    agree(py["python-reverse"], py["python-forward"], "python reverse vs forward")
    got = compiled_grads(fj, fp, x, argnums, record_at)
    for name, g in {**py, **got}.items():
        if name in got:
            agree(g, py["python-forward"], f"{name} vs python at {x}")
        if truth is not None:
            honest(g, truth, f"{name} at {x}")
        if exact is not None:
            np.testing.assert_array_equal(np.asarray(g, dtype=float), exact,
                                          err_msg=f"{name} at {x}")
    return got


def pair(njit_src, py_src=None, scope=None):
    """(njit function, plain-Python function) from lambda sources (the Python engines
    refuse ``math.*`` on traced values, so the Python twin may be spelled with ``np.*``)."""
    env = {"np": np, "math": math, "adcore": adcore, **(scope or {})}
    return numba.njit(eval(njit_src, env)), eval(py_src or njit_src, env)


# ----------------------------------------------------------------- computed zeros vs inf
SMOOTH_THROUGH_A_SINGULARITY = [
    # (njit spelling, Python spelling, x, true derivative): f is smooth at x, but a rule's
    # partial is inf there -- the compiled engines used to give 0 for the first four
    ("lambda x: np.cbrt(x) ** 3", None, 0.0, 1.0),
    ("lambda x: (x ** (1.0 / 3.0)) ** 3", None, 0.0, 1.0),
    ("lambda x: math.sqrt(x) * math.sqrt(x)", "lambda x: np.sqrt(x) * np.sqrt(x)", 0.0, 1.0),
    ("lambda x: np.sqrt(x) * np.sqrt(x)", None, 0.0, 1.0),
    ("lambda x: np.cbrt(x ** 3)", None, 0.0, 1.0),
    ("lambda x: np.cbrt(x * x * x)", None, 0.0, 1.0),
    ("lambda x: math.pow(math.pow(x, 1.0 / 3.0), 3.0)", "lambda x: (x ** (1.0 / 3.0)) ** 3.0",
     0.0, 1.0),
    ("lambda x: np.sqrt(x ** 2) ** 2", None, 0.0, 0.0),
    ("lambda x: np.sqrt(x) ** 4", None, 0.0, 0.0),
    ("lambda x: np.arcsin(np.sin(x))", None, 0.3, 1.0),  # a regular point: the control
]


@pytest.mark.parametrize("case", range(len(SMOOTH_THROUGH_A_SINGULARITY)))
def test_a_computed_zero_does_not_cancel_an_infinity(case):
    njit_src, py_src, x, truth = SMOOTH_THROUGH_A_SINGULARITY[case]
    fj, fp = pair(njit_src, py_src)
    check_all(fj, fp, (x,), truth=truth, record_at=(x + 0.5,))
    check_all(fj, fp, (x,), truth=truth)  # recorded at the singular point itself
    with np.errstate(all="ignore"):
        honest(dualnum.derivative(fj)(x), truth, "dualnum.derivative")


def test_jvp_and_vjp_of_a_product_of_powers_at_zero():
    # f(t, t) = t, so the directional derivative along (1, 1) at 0 is 1 (or NaN)
    fj, fp = pair("lambda v: v[0] ** 0.3 * v[1] ** 0.7")
    with np.errstate(all="ignore"):
        _, t = dualnum.jvp(fj, (np.zeros(2),), (np.ones(2),))
        _, t_py = dualnum.jvp(fp, (np.zeros(2),), (np.ones(2),))
        _, pullback = tapes.vjp(fj, np.zeros(2))
        (g,) = pullback(np.float64(1.0))
    honest(t, 1.0, "jvp")
    agree(t, t_py, "njit jvp vs python jvp")
    honest(np.sum(g), 1.0, "vjp")


# A reached adjoint that is 0 is a computed zero: it multiplies the partials below it. The
# adjoint of sqrt(x0) * x1 is x2 = +-0: reached (by the register path of the sweep, and by
# its memory path when other entries sit in between), so d/dx0 = 0 * inf = NaN.
REACHED_ZERO = {
    "register": ("lambda x: (np.sqrt(x[0]) * x[1]) * x[2]", None),
    "memory": ("lambda x: chain(np.sqrt(x[0]) * x[1], x[1]) * x[2]", None),
}


def _chain(w, y):
    s = y * y
    for _ in range(5):
        s = s * y  # tape entries between w's slot and its consumer
    return w + s * 0.0


@pytest.mark.parametrize("path", sorted(REACHED_ZERO))
@pytest.mark.parametrize("x2", [0.0, -0.0], ids=["+0", "-0"])
def test_a_reached_zero_adjoint_multiplies(path, x2):
    src, _ = REACHED_ZERO[path]
    fj = numba.njit(eval(src, {"np": np, "chain": numba.njit(_chain)}))
    fp = eval(src, {"np": np, "chain": _chain})
    got = check_all(fj, fp, ([0.0, 1.0, x2],), record_at=([0.25, 1.0, 0.5],))
    for name in COMPILED:
        assert np.isnan(got[name][0]), (name, got[name])
        np.testing.assert_array_equal(got[name][1:], [0.0, 0.0])


# ----------------------------------------------------------------- structural zeros
@pytest.mark.parametrize("spelling", ["0.0 * x[0]", "x[0] * 0.0", "x[0] * c", "c * x[0]",
                                      "0 * x[0]"])
def test_a_constant_zero_factor_is_structural(spelling):
    """log(0 * x0 + x1) at (1, 0): d/dx0 is exactly 0 against log'(0) = inf."""
    src = f"lambda x, c: np.log({spelling} + x[1])"
    fj, fp = pair(src)
    check_all(fj, fp, ([1.0, 0.0], 0.0), exact=[0.0, np.inf], record_at=([1.0, 0.5], 0.0))


@numba.njit
def _held_constant(x, c):
    s = c  # a plain 0.0 held in a variable that also holds tape values / dual numbers:
    for i in range(len(x)):  # an AD-typed, untraced constant in the first iteration
        s = s * np.sqrt(x[i]) + x[i]
    return s


def _held_constant_py(x, c):
    s = c
    for i in range(len(x)):
        s = s * np.sqrt(x[i]) + x[i]
    return s


def test_a_constant_held_in_an_ad_typed_variable_is_still_a_constant():
    # Horner's scheme from 0: the first product is 0.0 * sqrt(x0), a constant zero factor
    check_all(_held_constant, _held_constant_py, ([0.0, 1.0], 0.0), exact=[1.0, 1.0])
    # at 1.0 instead of 0.0 it is an ordinary factor
    check_all(_held_constant, _held_constant_py, ([0.0, 1.0], 1.0))


@pytest.mark.parametrize("argnums", [(0, 1), 0, (1, 0)])
@pytest.mark.parametrize("shape", [(), (3,)], ids=["scalars", "arrays"])
def test_a_differentiated_argument_is_never_a_plain_constant(argnums, shape):
    """With several argnums every engine traces all of them (forward mode in every pass): a
    differentiated 0 is a computed zero; an argument left out of argnums is a plain
    constant, whose zero is structural."""
    if shape:
        fj, fp = pair("lambda x, c: c[0] * np.sqrt(x[0]) + c[1] * np.sqrt(x[1]) + c[2] * x[2]")
    else:
        fj, fp = pair("lambda x, c: c * np.sqrt(x)")
    x, c = (np.zeros(shape), np.zeros(shape)) if shape else (0.0, 0.0)
    nums = (argnums,) if np.ndim(argnums) == 0 else argnums
    args = tuple(np.asarray(v) if i in nums else v for i, v in enumerate((x, c)))
    got = check_all(fj, fp, args, argnums=argnums, record_at=(x + 1.0, c + 1.0))
    for name, g in got.items():
        gx = g if argnums == 0 else g[list(argnums).index(0)]
        if argnums == 0:  # c is a plain constant 0: d/dx exactly 0
            np.testing.assert_array_equal(gx, np.zeros(shape), err_msg=name)
        else:  # c is differentiated: 0 * inf is NaN
            assert np.isnan(np.ravel(gx)[0]), (name, g)
    with np.errstate(all="ignore"):
        j = dualnum.jacobian(fj, argnums=argnums)(*args)
        j_py = dualnum.jacobian(fp, argnums=argnums)(*args)
    for a, b in zip(j if argnums != 0 else (j,), j_py if argnums != 0 else (j_py,)):
        agree(a, b, f"jacobian argnums={argnums}")


@pytest.mark.parametrize("n", [1, 10])
def test_zero_times_sqrt_at_zero_is_zero(n):
    @numba.njit
    def f(x):
        out = np.empty_like(x)
        for i in range(len(x)):
            out[i] = 0.0 * np.sqrt(x[i])
        return out

    with np.errstate(all="ignore"):
        _, t = dualnum.jvp(f, (np.zeros(n),), (np.ones(n),))
        _, pullback = tapes.vjp(f, np.zeros(n))
        (g,) = pullback(np.ones(n))
    np.testing.assert_array_equal(t, np.zeros(n))
    np.testing.assert_array_equal(g, np.zeros(n))


UNUSED = [
    # an intermediate computed at a singular point and never used: the output does not
    # depend on it, its partials are never multiplied
    "lambda x: unused(x) + x[1]",
    "lambda x: x[0] * x[1] + 0.0 * unused(x)",
]


def _unused_j(x):
    a = math.sqrt(x[0])
    b = a * x[1]  # a tape entry (two tape operands), never read
    c = np.sqrt(b) * x[0]
    return x[0] + 0.0 * x[1] + (c - c) * 0.0


def _unused_py(x):
    a = np.sqrt(x[0])
    b = a * x[1]
    c = np.sqrt(b) * x[0]
    return x[0] + 0.0 * x[1] + (c - c) * 0.0


@pytest.mark.parametrize("case", range(len(UNUSED)))
def test_unused_intermediates_at_singular_points(case):
    fj = numba.njit(eval(UNUSED[case], {"np": np, "unused": numba.njit(_unused_j)}))
    fp = eval(UNUSED[case], {"np": np, "unused": _unused_py})
    for x in ([0.0, 0.0], [0.0, 2.0], [4.0, 0.0]):
        check_all(fj, fp, (x,), record_at=([1.0, 1.0],))


def test_an_unused_sqrt_does_not_touch_the_gradient():
    @numba.njit
    def f(x):
        a = np.sqrt(x[0])  # computed, unused  # noqa: F841
        t = x[0] * x[1]
        u = np.sqrt(t)  # unused, and its input is a tape entry  # noqa: F841
        return x[0] + 2.0 * x[1]

    def fp(x):
        a = np.sqrt(x[0])  # noqa: F841
        t = x[0] * x[1]
        u = np.sqrt(t)  # noqa: F841
        return x[0] + 2.0 * x[1]
    check_all(f, fp, ([0.0, 0.0],), exact=[1.0, 2.0])


def test_seed_directions_are_structural():
    """A Jacobian's off-diagonal entries do not depend on the inputs at all: exactly 0,
    even where the diagonal is inf -- in every chunk width, also k > 64 (mask words)."""
    @numba.njit
    def roots(x):
        out = np.empty_like(x)
        for i in range(len(x)):
            out[i] = np.sqrt(x[i])
        return out

    with np.errstate(all="ignore"):
        for chunk in (None, 1, 2):
            j = dualnum.jacobian(roots, chunk=chunk)(np.array([0.0, 1.0]))
            np.testing.assert_array_equal(j, [[np.inf, 0.0], [0.0, 0.5]])
        np.testing.assert_array_equal(tapes.jacobian(roots)(np.array([0.0, 1.0])),
                                      [[np.inf, 0.0], [0.0, 0.5]])
        n = 200
        x = np.zeros(n)
        x[1::2] = 4.0
        want = np.diag(np.where(x == 0, np.inf, 0.25))
        for chunk in (63, 64, 65, 130, 200):
            np.testing.assert_array_equal(dualnum.jacobian(roots, chunk=chunk)(x), want,
                                          err_msg=f"chunk {chunk}")
        np.testing.assert_array_equal(tapes.jacobian(roots)(x), want)
    fj, fp = pair("lambda x: np.sqrt(x[0]) + x[1]")
    check_all(fj, fp, ([0.0, 2.0],), exact=[np.inf, 1.0], record_at=([1.0, 2.0],))


def test_a_direction_s_exact_zeros_are_structural():
    """A jvp tangent's or a vjp cotangent's exact zeros do not move anything."""
    @numba.njit
    def roots(x):
        out = np.empty_like(x)
        for i in range(len(x)):
            out[i] = np.sqrt(x[i]) + x[0] * 0.5
        return out

    x = np.array([0.0, 1.0])
    with np.errstate(all="ignore"):
        for v in ([0.0, 1.0], [1.0, 0.0]):
            _, t = dualnum.jvp(roots, (x,), (np.array(v),))
            _, t_py = dualnum.jvp(lambda x: np.sqrt(x) + x[0] * 0.5, (x,), (np.array(v),))
            agree(t, t_py, f"jvp along {v}")
        np.testing.assert_array_equal(dualnum.jvp(roots, (x,), (np.array([0.0, 1.0]),))[1],
                                      [0.0, 0.5])
        _, pullback = tapes.vjp(roots, x)
        np.testing.assert_array_equal(pullback(np.array([0.0, 1.0]))[0], [0.5, 0.5])
        np.testing.assert_array_equal(pullback(np.array([1.0, 0.0]))[0], [np.inf, 0.0])
        _, pb_py = tapes.vjp(lambda x: np.sqrt(x) + x[0] * 0.5, x)
        for w in ([0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [1.0, -1.0]):
            agree(pullback(np.array(w))[0], pb_py(np.array(w))[0], f"vjp with {w}")


LOSERS = [
    # (njit spelling, Python spelling, x, exact gradient)
    ("lambda x: np.maximum(np.sqrt(x), 2.0)", None, 0.0, 0.0),
    ("lambda x: np.maximum(np.sqrt(x), 2.0)", None, 9.0, 1.0 / 6.0),
    ("lambda x: np.minimum(-np.sqrt(x), -2.0)", None, 0.0, 0.0),
    ("lambda x: np.fmax(np.sqrt(x), 2.0)", None, 0.0, 0.0),
    ("lambda x: np.fmin(-np.sqrt(x), -2.0)", None, 0.0, 0.0),
    ("lambda x: adcore.relu(np.sqrt(x) - 1.0)", None, 0.0, 0.0),
    ("lambda x: adcore.relu(np.sqrt(x) - 1.0)", None, 4.0, 0.25),
    ("lambda x: np.clip(np.sqrt(x), 1.0, 2.0)", None, 0.0, 0.0),
    ("lambda x: np.clip(np.sqrt(x), 1.0, 2.0)", None, 2.25, 1.0 / 3.0),
    ("lambda x: np.clip(np.sqrt(x), 1.0, 2.0)", None, 9.0, 0.0),
    ("lambda x: np.clip(2.0, np.sqrt(x), 3.0)", None, 0.0, 0.0),
    ("lambda x: np.sign(np.sqrt(x) + 1.0)", None, 0.0, 0.0),
    ("lambda x: np.maximum(np.sqrt(x), 0.0)", None, 0.0, np.inf),  # a tie: 1/2 * inf
]


@pytest.mark.parametrize("case", range(len(LOSERS)))
def test_the_loser_of_a_maximum_is_structural_the_tie_is_not(case):
    njit_src, py_src, x, want = LOSERS[case]
    fj, fp = pair(njit_src, py_src)
    check_all(fj, fp, (x,), exact=want, record_at=(x + 0.5,))


@pytest.mark.parametrize("x", [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [4.0, 1.0, 0.0]])
def test_selection_between_two_tape_values(x):
    """Both operands on the tape: the loser is dropped (one left: no tape entry)."""
    fj, fp = pair("lambda x: np.maximum(np.sqrt(x[0]), x[1]) + np.minimum(x[2], np.sqrt(x[0]))"
                  " + np.clip(x[1], np.sqrt(x[0]), np.sqrt(x[0]) + 1.0)")
    check_all(fj, fp, (x,), record_at=([1.0, 0.5, 0.25],))


# ----------------------------------------------------------------- from the registry
def _grid(op):
    vals = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, -np.inf, np.inf]
    return [p for p in itertools.product(vals, repeat=op.nargs)]


def _szero_cases():
    """(op, i, point): partial i of op is a structural zero at point (inputs other than i
    plain constants), from op.szero, a few points per entry."""
    cases = []
    for op in nr.elementwise_ops():
        if op.szero is None or op.name == "kink":
            continue
        for i, entry in enumerate(op.szero):
            if entry is None or (isinstance(entry, ConstZero) and entry.j == i):
                continue  # a ConstZero on input i itself never applies to a traced input i
            pred = entry.pred if isinstance(entry, ConstZero) else entry
            found = []
            with np.errstate(all="ignore"):
                for p in _grid(op):
                    xs = [np.float64(v) for v in p]
                    out = op.primal(*xs)
                    if bool(pred(out, *xs)) and np.isfinite(out):
                        found.append(p)
            assert found, f"{op.name}: no grid point where szero[{i}] holds"
            for p in found[:: max(1, len(found) // 4)][:4]:
                cases.append(pytest.param(op, i, p, id=f"{op.name}-{i}-{p}"))
    return cases


@functools.lru_cache(maxsize=None)
def _op_functions(op, i, held):
    """njit and Python ``f(t, *p) = op(..., p_i + sqrt(t), ...)`` with the other inputs plain
    constants (``held``: kept in variables the compiler types as AD values)."""
    names = [f"p{j}" for j in range(op.nargs)]
    args = [f"(p{j} + sqrt(t))" if j == i else (f"h{j}" if held else f"p{j}")
            for j in range(op.nargs)]
    lines = [f"def f(t, {', '.join(names)}):"]
    if held:
        for j in range(op.nargs):
            if j != i:
                lines += [f"    h{j} = p{j}", "    if t > 1e300:", f"        h{j} = t"]
    lines.append(f"    return entry({', '.join(args)})")
    src = "\n".join(lines) + "\n"
    scope_j = {"entry": nr.entry_points(op)[0][0], "sqrt": np.sqrt}
    scope_p = {"entry": lambda *a: adcore.apply(op, *a), "sqrt": np.sqrt}
    exec(src, scope_j)
    exec(src, scope_p)
    return numba.njit(scope_j["f"]), scope_p["f"]


@pytest.mark.slow  # exhaustive: CI runs it in its own step (pytest -m slow)
@pytest.mark.parametrize("op, i, point", _szero_cases())
def test_registry_structural_partials_contribute_exactly_zero(op, i, point):
    """Every Op.szero entry, compiled: an inf tangent of input i meets a structurally zero
    partial i and contributes exactly 0 -- with the other inputs plain constants, and held
    in AD-typed variables (still untraced constants)."""
    entry = op.szero[i]
    for held in ([False, True] if isinstance(entry, ConstZero) else [False]):
        fj, fp = _op_functions(op, i, held)
        args = (0.0,) + tuple(point)
        got = check_all(fj, fp, args, exact=0.0, record_at=(1.0,) + tuple(point))
        assert all(np.asarray(g) == 0.0 for g in got.values())


@pytest.mark.parametrize("op", [op for op in nr.elementwise_ops() if op.szero is not None],
                         ids=lambda op: op.name)
def test_structural_partials_evaluate_to_zero_or_nan(op):
    """The fast path of the compiled engines (like adcore.linear.masked_mul) keeps an IEEE
    product unless it is NaN: that is exact only if a structurally zero partial evaluates
    to 0 (or NaN), never to another number. Checked for every szero entry at every grid
    point where it holds and the output is a number."""
    rule = nr.scalar_rule(op)
    vals = [-2.0, -1.0, -0.5, 0.0, 1e-300, 0.5, 1.0, 2.0, -np.inf, np.inf, np.nan]
    for i, entry in enumerate(op.szero):
        if entry is None or (isinstance(entry, ConstZero) and entry.j == i):
            continue  # (a ConstZero on input i itself: input i is then not differentiated)
        pred = entry.pred if isinstance(entry, ConstZero) else entry
        for p in itertools.product(vals, repeat=op.nargs):
            with np.errstate(all="ignore"):
                out = float(op.primal(*map(np.float64, p)))
                if math.isnan(out) or not pred(out, *map(np.float64, p)):
                    continue  # (a NaN output has no derivative to protect)
                partial = rule.partials[i](out, *p)
            assert partial == 0.0 or math.isnan(partial), (op.name, i, p, partial)


# ----------------------------------------------------------------- random compositions
UNARY = ["np.sqrt(a)", "np.cbrt(a)", "np.abs(a)", "np.square(a)", "np.log(a)", "np.exp(a)",
         "np.sin(a)", "np.tanh(a)", "np.arctan(a)", "adcore.relu(a)", "np.sign(a)", "a ** 3",
         "0.0 * a", "a * 0.0 + 1.0", "np.log1p(a)", "np.expm1(a)", "np.clip(a, -1.0, 1.0)",
         "a ** 0.5"]
BINARY = ["a + b", "a - b", "a * b", "np.maximum(a, b)", "np.minimum(a, b)", "np.hypot(a, b)",
          "np.logaddexp(a, b)", "WHERE", "a / (1.0 + b * b)", "np.fmax(a, b)",
          "np.fmin(a, b)", "np.clip(a, b, b + 1.0)"]
SINGULAR = np.array([0.0, -0.0, 1.0, -1.0, 0.5, np.inf, -np.inf, 1e-300, 2.0])


def _interpreter_source():
    """One njit function running any program of UNARY/BINARY steps (compiled once per
    engine, not once per program): real control flow picks the step."""
    lines = ["def run(x, kinds, ops, first, second):",
             "    n = len(x)",
             "    vals = zeros(n + len(ops), like=x)",
             "    for i in range(n):",
             "        vals[i] = x[i]",
             "    for s in range(len(ops)):",
             "        a = vals[first[s]]",
             "        b = vals[second[s]]",
             "        k = ops[s]",
             "        if kinds[s] == 0:"]
    for k, expr in enumerate(UNARY):
        lines += [f"            {'elif' if k else 'if'} k == {k}:", f"                r = {expr}"]
    lines += ["            else:", "                r = a", "        else:"]
    for k, expr in enumerate(BINARY):
        expr = "a if a > 0.5 else b" if expr == "WHERE" else expr
        lines += [f"            {'elif' if k else 'if'} k == {k}:", f"                r = {expr}"]
    lines += ["            else:", "                r = a",
              "        vals[n + s] = r",
              "    return vals[n + len(ops) - 1] + 0.0 * x[0]"]
    return "\n".join(lines) + "\n"


_scope = {"np": np, "adcore": adcore, "zeros": nr.zeros}
exec(_interpreter_source(), _scope)
RUN = numba.njit(_scope["run"])


def _random_program(rng, n_in, depth):
    kinds, ops, first, second = [], [], [], []
    live = list(range(n_in))
    for _ in range(depth):
        if rng.random() < 0.5 or len(live) < 2:
            a = int(rng.choice(live))
            kinds.append(0), ops.append(int(rng.integers(len(UNARY)))), first.append(a)
            second.append(a)
        else:
            a, b = rng.choice(live, 2, replace=False)
            kinds.append(1), ops.append(int(rng.integers(len(BINARY)))), first.append(int(a))
            second.append(int(b))
        live.append(n_in + len(ops) - 1)
    return tuple(np.array(v, dtype=np.int64) for v in (kinds, ops, first, second))


def _python_program(prog):
    """The same program as plain Python (np.where for the selection)."""
    kinds, ops, first, second = (list(map(int, v)) for v in prog)
    env = {"np": np, "adcore": adcore}

    def f(x):
        vals = [x[i] for i in range(len(x))]
        for kind, k, i, j in zip(kinds, ops, first, second):
            a, b = vals[i], vals[j]
            expr = UNARY[k] if kind == 0 else BINARY[k]
            if expr == "WHERE":
                vals.append(np.where(a > 0.5, a, b))
            else:
                vals.append(eval(expr, env, {"a": a, "b": b}))  # noqa: S307 - fixed table
        return vals[-1] + 0.0 * x[0]
    return f


def _describe(prog):
    kinds, ops, first, second = prog
    return [re.sub(r"\bb\b", f"v{j}", re.sub(r"\ba\b", f"v{i}",
                                               UNARY[k] if kind == 0 else BINARY[k]))
            for kind, k, i, j in zip(kinds, ops, first, second)]


@pytest.mark.slow  # exhaustive: CI runs it in its own step (pytest -m slow)
@pytest.mark.parametrize("seed", range(150))
def test_random_compositions_at_singular_points_agree_everywhere(seed):
    """njit forward (one and three directions per pass), njit reverse and a compiled replay
    agree with the Python engines: NaN exactly where they give NaN, the same numbers
    elsewhere."""
    rng = np.random.default_rng(seed)
    n_in = 3
    prog = _random_program(rng, n_in, int(rng.integers(2, 8)))
    x = rng.choice(SINGULAR, n_in)
    fp = _python_program(prog)
    what = f"{_describe(prog)} at {x}"
    with np.errstate(all="ignore"):
        want = dualnum.grad(fp)(x)
        agree(tapes.grad(fp)(x), want, f"python reverse: {what}")
        got = {"njit-forward": dualnum.grad(RUN)(x, *prog),
               "njit-forward chunk=1": dualnum.grad(RUN, chunk=1)(x, *prog),
               "njit-reverse": tapes.grad(RUN)(x, *prog),
               "compiled-replay": tapes.record(fp, x + 0.25, compiled=True).gradient(x)}
    for name, g in got.items():
        agree(g, want, f"{name}: {what}")


def test_the_random_programs_reach_the_interesting_cases():
    """The property test above is not vacuous: its programs hit NaN, inf and structural
    zeros against inf."""
    seen = {"nan": 0, "inf": 0, "zero-vs-inf": 0}
    for seed in range(150):
        rng = np.random.default_rng(seed)
        prog = _random_program(rng, 3, int(rng.integers(2, 8)))
        x = rng.choice(SINGULAR, 3)
        with np.errstate(all="ignore"):
            g = dualnum.grad(_python_program(prog))(x)
        seen["nan"] += bool(np.isnan(g).any())
        seen["inf"] += bool(np.isinf(g).any())
        seen["zero-vs-inf"] += bool(np.any((g == 0) & (x == 0)))
    assert all(v >= 5 for v in seen.values()), seen


# ----------------------------------------------------------------- the njit APIs
_cube_sum, _scaled = cube_sum, logistic_step


def test_njit_forward_mode_returns_float32_for_float32():
    x = np.array([0.3, -1.2, 2.0, 0.5], dtype=np.float32)
    x64 = x.astype(np.float64)
    v, g = dualnum.value_and_grad(_cube_sum)(x)
    assert np.asarray(v).dtype == np.float32 and g.dtype == np.float32
    np.testing.assert_allclose(g, tapes.grad(_cube_sum)(x64), rtol=1e-6)
    j = dualnum.jacobian(_scaled)(x, 3.0)
    assert j.dtype == np.float32
    np.testing.assert_allclose(j, tapes.jacobian(_scaled)(x64, 3.0), rtol=1e-6)
    y, t = dualnum.jvp(_scaled, (x, np.float32(3.0)), (np.ones(4, np.float32), np.float32(1.0)))
    assert y.dtype == np.float32 and t.dtype == np.float32
    d = dualnum.derivative(numba.njit(lambda s: s * s * s))(np.float32(0.5))
    assert np.asarray(d).dtype == np.float32 and d == pytest.approx(0.75, rel=1e-6)
    # float64 stays float64
    assert dualnum.grad(_cube_sum)(x64).dtype == np.float64
    assert np.asarray(dualnum.derivative(numba.njit(lambda s: s * s))(0.5)).dtype == np.float64


def test_njit_jvp_validates_its_tangent():
    x = np.array([0.3, 0.7])
    for bad, named in ((np.ones(2) * 1j, "complex"), (np.ones(2, dtype=bool), "boolean"),
                       (None, "None"), ("ab", "str")):
        with pytest.raises(NonFloatInputError, match=named):
            dualnum.jvp(_scaled, (x, 3.0), (bad, 0.0))
    # integers are real directions
    _, t = dualnum.jvp(_scaled, (x, 3.0), (np.array([1, 0]), 0))
    np.testing.assert_allclose(t, dualnum.jacobian(_scaled)(x, 3.0)[:, 0])


def test_njit_forward_mode_refuses_a_boolean_output():
    x = np.array([0.5, -1.0])
    with pytest.raises(TypeError, match="bool"):
        dualnum.grad(positive)(x)
    with pytest.raises(TypeError, match="bool"):
        dualnum.jacobian(signs)(x)
    with pytest.raises(TypeError, match="bool"):
        dualnum.jvp(positive, (x,), (np.ones(2),))
