"""The fused compiled replay (tapes.record(..., compiled="fused")) against the eager engines.

Generated from the registry: every op's cases are recorded once, lowered to fused kernels
and eager steps (adjit.lowering), and replayed at *another* input; the value, the VJP, the
JVP and the full Jacobians (both modes) must equal the eager engines', and the dot-product
test must hold. Then the named kinds: singular points (0 * inf stays the engines' answer),
guards (never the wrong branch), stale arguments, float32, nesting, the on-disk kernel cache.
"""
import os
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

import adcore
import dualnum
import tapes
from adcore import GuardError
from cases import registry_cases, sample_inputs
from tapes.fused_replay import FusedRecording

def _seed(case_id):
    return zlib.crc32(case_id.encode())


# every case; the quick run takes every structural op's and a third of the elementwise
# shapes (each shape is another kernel to compile), the slow run the rest
CASES = [pytest.param(c, id=c[0], marks=() if getattr(c[1], "kind", None) != adcore.ELEMENTWISE
                      or _seed(c[0]) % 3 == 0 else pytest.mark.slow)
         for c in registry_cases() if not getattr(c[2], "raises", None)]


def _real(fn):
    def g(*xs):
        out = fn(*xs)
        return np.real(out) if np.iscomplexobj(out) else out
    return g


def _close(a, b, what):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=1e-9, atol=1e-11, err_msg=what)


@pytest.mark.parametrize("case", CASES)
def test_every_op_replays_fused_like_the_eager_engines(case):
    case_id, op, fn, shapes, domains = case
    args = sample_inputs(shapes, domains, _seed(case_id))
    again = sample_inputs(shapes, domains, _seed(case_id) + 1)
    g = _real(fn)
    if not isinstance(g(*args), (np.ndarray, np.generic, float)):
        pytest.skip("the example returns a tuple")
    nums = tuple(range(len(args)))
    rec = FusedRecording(g, args, argnums=nums)
    out = g(*again)
    _close(rec.value(*again), out, "value")
    rng = np.random.default_rng(_seed(case_id))
    w = rng.standard_normal(np.shape(out))
    v = tuple(rng.standard_normal(np.shape(a)) for a in again)
    _, cot = rec.vjp(again, w)
    eager = tapes.vjp(g, *again)[1](w)
    for c, e in zip(cot, eager):
        _close(c, e, "VJP")
    _, tan = rec.jvp(again, v)
    _close(tan, dualnum.jvp(g, again, v)[1], "JVP")
    # the dot-product test: <w, J v> = <J^T w, v>
    lhs = float(np.sum(w * tan))
    rhs = float(sum(np.sum(c * t) for c, t in zip(cot, v)))
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-10)
    if _seed(case_id) % 4 == 0:  # a spread of cases: full Jacobians, k directions per sweep
        fwd = rec.jacobian(*again, mode="forward")
        rev = rec.jacobian(*again, mode="reverse")
        for a, b in zip(fwd, rev):
            _close(a, b, "Jacobian forward = reverse")


SPECIAL = [(name, inputs) for name, op in sorted(adcore.registered_ops().items())
           for inputs, _ in op.special]


@pytest.mark.parametrize("name,inputs", SPECIAL, ids=[f"{n}{i}" for n, i in SPECIAL])
def test_kinks_and_singular_points_give_the_engines_derivative(name, inputs):
    """Kinks, zeros, infinities: the fused kernels evaluate the same partials and
    structural zeros as the engines -- bit for bit, NaN where they give NaN."""
    op = adcore.get_op(name)
    n = len(inputs)
    fn = lambda *xs: np.sum(adcore.apply(op, *xs))  # noqa: E731
    args = tuple(np.full(3, float(v)) for v in inputs)
    nums = tuple(range(n))
    rec = FusedRecording(fn, tuple(np.full(3, 0.5) + i for i in range(n)), argnums=nums)
    got = rec.gradient(*args)
    want = tapes.grad(fn, argnums=nums)(*args)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def rosen(x):
    head, tail = x[:-1], x[1:]
    return np.sum(100.0 * (tail - head ** 2) ** 2 + (1.0 - head) ** 2)


def test_rosenbrock_is_one_fused_kernel_and_exact():
    x = np.random.default_rng(1).uniform(-1, 1, 1001)
    rec = FusedRecording(rosen, (x,))
    plan = rec.plan
    assert plan.eager_ops == 0 and plan.view_ops == 2
    assert sum(type(s).__name__ == "Fused" for s in plan.steps) == 1
    y = x[::-1].copy()
    np.testing.assert_allclose(rec.gradient(y), tapes.grad(rosen)(y), rtol=1e-12)
    assert rec.value(y) == pytest.approx(rosen(y), rel=1e-12)
    v = np.random.default_rng(2).standard_normal(y.size)
    assert rec.jvp((y,), v)[1] == pytest.approx(np.dot(tapes.grad(rosen)(y), v), rel=1e-10)


def test_mlp_with_matmul_softmax_and_indexing():
    rng = np.random.default_rng(0)
    xb, yb = rng.standard_normal((8, 6)), rng.integers(0, 4, 8)
    ws = [rng.standard_normal(s) / 3 for s in ((6, 5), (5,), (5, 4))]

    def loss(w1, b1, w2):
        h = np.tanh(xb @ w1 + b1)
        z = h @ w2
        z = z - np.max(z, axis=1, keepdims=True)
        return np.mean(np.log(np.sum(np.exp(z), axis=1)) - z[np.arange(8), yb])

    rec = FusedRecording(loss, ws, argnums=(0, 1, 2))
    assert rec.plan.eager_names.get("matmul") == 2
    new = [w * 1.1 for w in ws]
    for a, b in zip(rec.gradient(*new), tapes.grad(loss, argnums=(0, 1, 2))(*new)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    jf = rec.jacobian(*new, mode="forward")
    for a, b in zip(jf, tapes.grad(loss, argnums=(0, 1, 2))(*new)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


def test_zero_times_inf_across_a_group_boundary_is_the_engines_answer():
    """sqrt at 0 has an infinite partial; where's untaken branch and a later eager op must not
    turn the structural zero into NaN (unreached cotangents travel as -0.0)."""
    def f(x):
        r = np.sqrt(x)
        s = np.where(x > 0, r, 0.0)
        m = s.reshape(2, 2) @ np.eye(2)
        return np.sum(m * m)

    x0 = np.array([0.5, 1.0, 2.0, 3.0])
    rec = FusedRecording(f, (x0,))
    at = np.array([0.0, 1.0, 0.0, 2.0])
    np.testing.assert_array_equal(rec.gradient(at), tapes.grad(f)(at))
    assert np.all(np.isfinite(rec.gradient(at)))


def branchy(x):
    y = np.sum(x * x)
    if y > 1.0:
        return np.sum(np.abs(x) * np.maximum(x, 0.1)) + np.clip(x[0], -0.5, 0.5)
    return np.sum(np.sin(x)) + np.where(x[1] > 0, x[1] ** 2, -x[1])


INSIDE, OTHER_WHERE = np.array([0.3, 0.4, 0.5]), np.array([0.3, -0.4, 0.2])
OUTSIDE, KINKS = np.array([1.3, 0.4, 0.5]), np.array([1.3, -0.05, 0.1])


@pytest.mark.parametrize("start, other, changes", [
    (INSIDE, OUTSIDE, True), (OUTSIDE, INSIDE, True), (INSIDE, OTHER_WHERE, True),
    (OUTSIDE, KINKS, False)])  # kinks inside registered ops need no guard
def test_a_changed_guard_rerecords_never_the_wrong_branch(start, other, changes):
    rec = FusedRecording(branchy, (start,))
    np.testing.assert_allclose(rec.gradient(other), tapes.grad(branchy)(other), rtol=1e-12)
    np.testing.assert_allclose(rec.gradient(start), tapes.grad(branchy)(start), rtol=1e-12)
    assert (rec.rerecords >= 1) == changes


def test_a_changed_guard_raises_when_asked():
    rec = FusedRecording(branchy, (INSIDE,), on_guard_failure="raise")
    rec.gradient(INSIDE * 0.5)
    for z in (OUTSIDE, OTHER_WHERE):
        with pytest.raises(GuardError, match="different branch"):
            rec.gradient(z)


def test_a_non_differentiated_argument_changed_in_place_rerecords():
    c = np.array([1.0, 2.0, 3.0])

    def f(x, c):
        return np.sum(np.exp(x) * c)

    rec = FusedRecording(f, (np.zeros(3), c))
    c[:] = 5.0
    np.testing.assert_allclose(rec.gradient(np.zeros(3), c), np.full(3, 5.0))
    assert rec.rerecords == 1


def test_float32_in_float32_out():
    x = np.linspace(0.1, 1.0, 7, dtype=np.float32)
    rec = FusedRecording(lambda x: np.sum(np.sin(x) * x), (x,))
    g = rec.gradient(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=1e-5)


def test_inside_another_derivative_the_python_replay_answers():
    rec = FusedRecording(lambda x: np.sum(np.sin(x) ** 2), (np.ones(3),))
    outer = dualnum.grad(lambda x: rec.value(x))(np.array([0.1, 0.2, 0.3]))
    np.testing.assert_allclose(outer, np.sin(2 * np.array([0.1, 0.2, 0.3])), rtol=1e-12)


def test_summary_names_the_groups_and_the_eager_ops():
    rec = FusedRecording(lambda a, b: np.sum(np.tanh(a @ b) ** 2), (np.ones((2, 3)), np.ones((3, 2))),
                         argnums=(0, 1))
    text = str(rec)
    assert "fused" in text and "eager matmul" in text


def test_a_second_process_loads_the_kernels_from_disk(tmp_path):
    """Kernels are keyed by the program's structure: another process, same program, no
    compilation (numba's cache hits, no misses)."""
    script = textwrap.dedent("""
        import numpy as np
        from tapes.fused_replay import FusedRecording
        def f(x):
            return np.sum(np.log1p(x[1:] ** 2) * np.cos(x[:-1]))
        rec = FusedRecording(f, (np.linspace(0, 1, 50),))
        rec.gradient(np.linspace(0, 2, 50))
        from adjit import fusion
        stats = [m.forward.stats for m in fusion._modules.values()]
        stats += [m.reverse1.stats for m in fusion._modules.values()]
        print(sum(sum(s.cache_misses.values()) for s in stats),
              sum(sum(s.cache_hits.values()) for s in stats))
    """)
    env = dict(os.environ, FWDREV_CACHE_DIR=str(tmp_path))
    run = lambda: subprocess.run([sys.executable, "-c", script], env=env, check=True,  # noqa: E731
                                 capture_output=True, text=True).stdout.split()
    first = run()
    second = run()
    assert int(first[0]) > 0
    assert int(second[0]) == 0 and int(second[1]) > 0
    assert any(p.name.startswith("_fwdrev_fused_") for p in (tmp_path / "generated").iterdir())


@pytest.mark.parametrize("sa, sb", [((3, 4), (4, 2)), ((3, 4), (4,)), ((4,), (4, 2)),
                                    ((4,), (4,))])
@pytest.mark.parametrize("active", [(0, 1), (0,), (1,)])
def test_matmul_of_matrices_and_vectors_in_both_modes(sa, sb, active):
    """The BLAS paths (written into the buffers) for every kind of operand: k directions."""
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)

    def f(a, b):
        return np.tanh(np.exp(a) @ b)  # fused ops on both sides of the matmul

    rec = FusedRecording(f, (a, b), argnums=active)
    a2, b2 = a * 0.7, b + 0.1
    want = tapes.jacobian(f, argnums=active)(a2, b2)
    for mode in ("forward", "reverse"):
        got = rec.jacobian(a2, b2, mode=mode)
        got = got if isinstance(got, tuple) else (got,)
        want_t = want if isinstance(want, tuple) else (want,)
        for x, y in zip(got, want_t):
            np.testing.assert_allclose(x, y, rtol=1e-11, atol=1e-13, err_msg=mode)


def test_compiled_true_picks_the_layout_by_what_was_recorded():
    from tapes.compiled import CompiledRecording
    scalar = tapes.record(lambda x: x * np.sin(x), np.float64(0.3), compiled=True)
    arrays = tapes.record(lambda x: np.sum(x @ x.T), np.ones((2, 2)), compiled=True)
    assert isinstance(scalar, CompiledRecording) and isinstance(arrays, FusedRecording)
    assert isinstance(tapes.record(lambda x: x * x, np.float64(1.0), compiled="fused"),
                      FusedRecording)
    with pytest.raises(ValueError, match="compiled must be"):
        tapes.record(lambda x: x, 1.0, compiled="yes")


def test_a_constant_output_and_nesting_in_every_method():
    const = FusedRecording(lambda x: np.ones(2), (np.ones(3),))
    np.testing.assert_array_equal(const.jvp((np.ones(3),), np.ones(3))[1], np.zeros(2))
    np.testing.assert_array_equal(const.vjp((np.ones(3),), np.ones(2))[1], np.zeros(3))
    np.testing.assert_array_equal(const.jacobian(np.ones(3)), np.zeros((2, 3)))
    rec = FusedRecording(lambda x: np.sin(x) * x, (np.ones(3),))
    x = np.array([0.1, 0.2, 0.3])
    outer = tapes.grad(lambda z: np.sum(rec.jvp((z,), np.ones(3))[1]))(x)
    np.testing.assert_allclose(outer, 2 * np.cos(x) - x * np.sin(x), rtol=1e-12)
    outer = dualnum.grad(lambda z: np.sum(rec.vjp((z,), np.ones(3))[1]))(x)
    np.testing.assert_allclose(outer, 2 * np.cos(x) - x * np.sin(x), rtol=1e-12)


def test_a_guard_on_the_last_reduction_is_checked_before_the_gradient():
    """A decision on the output's own value (the last fused group's reduction): the
    gradient may not skip that group's forward, or the guard would read a stale value."""
    def f(x):
        s = np.sum(x * x)
        if s > 1.0:
            return s
        return np.sum(np.sin(x))

    rec = FusedRecording(f, (np.array([1.0, 1.0]),), on_guard_failure="raise")
    np.testing.assert_allclose(rec.gradient(np.array([2.0, 1.0])), [4.0, 2.0])
    with pytest.raises(GuardError):
        rec.gradient(np.array([0.1, 0.2]))


# ------------------------------------------------ kinds found by hunting (one test per kind)
def test_matmul_next_to_structural_zeros_and_infinities_in_both_modes():
    """BLAS knows nothing of unreached (co)tangents: with any in the buffer, matmul takes
    the eager rule and its structural zeros; 0 * inf never becomes NaN where the engines
    give a number."""
    W, M = np.eye(2), np.array([[-1.0, 0.0], [0.0, 1.0]])
    cases = [
        (lambda x, y: np.sum(np.sqrt(x @ W)) + np.sum(y * y), (np.array([0.0, 4.0]), np.array([1.0, 2.0])), (0, 1)),
        (lambda x: np.sum(M @ np.sqrt(x) * 0.0), (np.array([0.0, 1.0]),), (0,)),
        (lambda A, v: (A @ v)[0], (np.ones((2, 2)), np.array([np.inf, 1.0])), (0,)),
        (lambda y: np.clip(y @ y, -0.5, 0.7), (np.array([1.0, np.inf]),), (0,)),
    ]
    for f, args, nums in cases:
        rec = tapes.record(f, *args, argnums=nums, compiled="fused")
        for mode, engine in (("forward", dualnum.jacobian), ("reverse", tapes.jacobian)):
            want = engine(f, argnums=nums)(*args)  # each mode against its eager engine
            got = rec.jacobian(*args, mode=mode)
            for a, b in zip(got if isinstance(got, tuple) else (got,),
                            want if isinstance(want, tuple) else (want,)):
                np.testing.assert_array_equal(a, b, err_msg=mode)


def test_complex_programs_follow_the_engines_conventions():
    f = lambda z: np.abs(z) ** 2 * np.arange(1.0, 4.0)  # noqa: E731
    z = np.array([1 + 2j])
    np.testing.assert_allclose(tapes.record(f, z, compiled="fused").jacobian(z),
                               tapes.jacobian(f)(z))
    g = lambda x: np.exp(1j * x) * x  # noqa: E731
    x, w = np.array([0.3, 1.2]), np.array([1 + 2j, -1j])
    np.testing.assert_allclose(tapes.record(g, x, compiled="fused").vjp((x,), w)[1],
                               tapes.vjp(g, x)[1](w)[0])
    with pytest.raises(NotImplementedError, match="dualnum.jvp"):
        tapes.record(g, x, compiled="fused").jvp((x,), np.array([1j, 1.0]))


def test_a_float32_operand_broadcast_accumulates_in_float64():
    X = np.linspace(0.0, 1.0, 300_000)
    f = lambda b: np.sum(X * 1.0 + b)  # noqa: E731
    b = np.array([0.5], np.float32)
    got = tapes.record(f, b, compiled="fused").gradient(b)
    assert got.dtype == np.float32 and got[0] == np.float32(X.size)


def test_wrong_shapes_of_seeds_are_errors_and_odd_dtypes_run_eagerly():
    A = np.ones((2, 3))
    rec = tapes.record(lambda a: np.sin(a) * a, A, compiled="fused")
    with pytest.raises(ValueError, match="cotangent has shape"):
        rec.vjp((A,), np.ones((3, 2)))
    with pytest.raises(ValueError, match="tangents of shapes"):
        rec.jvp((A,), np.ones((3, 2)))
    f = lambda x: np.sum(np.sin(x * np.ones(3)) * x)  # noqa: E731
    x16 = np.array([0.5, 1.0, 1.5], np.float16)
    np.testing.assert_allclose(tapes.record(f, x16, compiled="fused").gradient(x16),
                               tapes.grad(f)(x16), rtol=1e-3)


def test_decisions_replay_on_numpys_own_values():
    """A guard reads values computed by NumPy's primals, not the kernels' (whose exp may
    differ from NumPy's SIMD exp in the last bit): the branch is the one f takes."""
    from adjit.scalar_rules import scalar_rule
    compiled_exp = scalar_rule(adcore.get_op("exp")).primal
    xs = np.random.default_rng(0).uniform(0.5, 3.0, 4000)
    differ = [x for x in xs if compiled_exp(x) != np.exp(np.array([x]))[0]]
    if not differ:
        pytest.skip("numba's exp and NumPy's agree on this machine: nothing to tell apart")
    xv = differ[0]
    T = min(compiled_exp(xv), np.exp(np.array([xv]))[0])
    f = lambda x: np.sum(np.where(np.exp(x) > T, x ** 2, x ** 3))  # noqa: E731
    rec = tapes.record(f, np.array([3.0]), compiled="fused")
    x = np.array([xv])
    assert rec.gradient(x)[0] == tapes.grad(f)(x)[0]
    assert rec.value(x) == f(x)


def test_fused_sums_are_compensated():
    x = np.array([1e16, 1, 1, 1, 1, 1, 1, 1, -1e16])
    f = lambda x: np.log(np.sum(x * 1.0)) * x[1]  # noqa: E731
    rec = tapes.record(f, x + 1.0, compiled="fused")
    assert np.isfinite(rec.gradient(x)).all()
    assert rec.value(x) == pytest.approx(np.log(7.0))  # exact sum 7 (NumPy's pairwise: 6)
    big = np.random.default_rng(0).normal(1e8, 1.0, 100_000)
    g = lambda v: np.mean((v - 1e8) * (v - 1e8))  # noqa: E731
    assert tapes.record(g, big, compiled="fused").value(big) == pytest.approx(g(big), rel=1e-12)


@pytest.mark.parametrize("name,inputs", SPECIAL, ids=[f"{n}{i}" for n, i in SPECIAL])
def test_kinks_and_singular_points_in_forward_mode(name, inputs):
    """The same points in forward mode, with negative and zero seeds, after an eager step
    (the guard's cone runs in NumPy) so marks cross a step boundary: as dualnum.jvp."""
    op = adcore.get_op(name)
    n = len(inputs)

    def fn(*xs):
        ys = [x * x if x.dtype == np.float64 else x for x in xs]  # eager: a guard reads it
        if np.all(ys[0] < 1e300):
            pass
        return adcore.apply(op, *[np.sign(x) * np.sqrt(y) for x, y in zip(xs, ys)])

    args = tuple(np.full(3, float(v)) for v in inputs)
    seeds = tuple(np.array([-1.0, 0.0, 1.0]) for _ in range(n))
    rec = FusedRecording(fn, tuple(np.full(3, 0.5) + i for i in range(n)),
                         argnums=tuple(range(n)))
    got = rec.jvp(args, seeds)[1]
    want = dualnum.jvp(fn, args, seeds)[1]
    np.testing.assert_array_equal(got, want)


def test_complex_intermediates_in_a_real_program():
    f = lambda x: np.real(np.sqrt(x + 0j)) * 1.0  # noqa: E731
    x = np.array([0.0, 1.0])
    rec = tapes.record(f, x + 1.0, compiled="fused")
    np.testing.assert_array_equal(rec.jacobian(x, mode="reverse"), tapes.jacobian(f)(x))
    np.testing.assert_array_equal(rec.jacobian(x, mode="forward"), dualnum.jacobian(f)(x))


def test_mixed_precision_derivatives_have_the_engines_dtypes():
    w = np.linspace(0.5, 1.5, 3)
    f = lambda x: np.tanh(x * w)  # float32 in, float64 out  # noqa: E731
    x = np.array([0.1, 0.2, 0.3], np.float32)
    rec = tapes.record(f, x, compiled="fused")
    assert rec.jacobian(x).dtype == tapes.jacobian(f)(x).dtype == np.float64
    assert rec.vjp((x,), np.ones(3))[1].dtype == tapes.vjp(f, x)[1](np.ones(3))[0].dtype
    g = lambda x: np.sum(np.tanh(x * w))  # noqa: E731
    assert tapes.record(g, x, compiled="fused").gradient(x).dtype == np.float32


def test_compiled_true_on_a_scalar_program_with_matmul_is_fused():
    W = np.array([[2.0]])
    f = lambda x: np.sum(x.reshape(1, 1) @ W) * x[0]  # noqa: E731
    rec = tapes.record(f, np.array([1.5]), compiled=True)
    np.testing.assert_allclose(rec.gradient(np.array([3.0])), [12.0])
    with pytest.raises(adcore.UnsupportedOpError, match="matmul"):
        tapes.record(f, np.array([1.5]), compiled="scalar")


def test_inputs_rebound_at_every_call_and_partial_chunks():
    """Buffers and kernel arguments are reused across calls: a, b, a non-contiguous
    array, then a again must each give their own answer; chunks that do not divide the
    directions (7 = 3 + 3 + 1) use the k = 1 and k > 1 kernels side by side."""
    def f(x):
        return np.tanh(x[:-1] * x[1:]) * np.exp(x[0])

    rng = np.random.default_rng(5)
    a, b = rng.standard_normal(8), rng.standard_normal(8)
    c = rng.standard_normal(16)[::2]
    rec = tapes.record(f, a, compiled="fused")
    for x in (a, b, c, a, c, b):
        want = tapes.jacobian(f)(x)
        for mode in ("forward", "reverse"):
            np.testing.assert_allclose(rec.jacobian(x, mode=mode, chunk=3), want,
                                       rtol=1e-12, atol=1e-14)
        s = lambda x: np.sum(f(x))  # noqa: E731
        value, grad = tapes.record(s, a, compiled="fused").value_and_gradient(x)
        assert value == pytest.approx(s(x), rel=1e-13)
        np.testing.assert_allclose(grad, tapes.grad(s)(x), rtol=1e-12)
