"""adjit.array_kernels: one-pass numba kernels for elementwise rules give NumPy's numbers."""
import numpy as np
import pytest

import adcore
import dualnum
import tapes
from adcore import rules
from adjit import array_kernels

N = array_kernels.MIN_SIZE + 3
FUSED = array_kernels.FUSED_JVP | array_kernels.FUSED_VJP
OPS = [op for op in adcore.registered_ops().values()
       if op.kind == adcore.ELEMENTWISE and op.name in FUSED]
# Correctly rounded operations only: the kernel computes exactly what NumPy computes.
EXACT_NAMES = {"np", "sqrt", "sign", "_LOG2", "_LOG10"}


@pytest.fixture
def numpy_only():
    saved = array_kernels.enabled
    yield
    array_kernels.enabled = saved


def _both(fn):
    array_kernels.enabled = True
    a = fn()
    array_kernels.enabled = False
    b = fn()
    array_kernels.enabled = True
    return a, b


def test_fused_ops_use_only_correctly_rounded_operations():
    for op in OPS:
        for p in op.partials:
            names = set(p.__code__.co_names)
            assert names <= EXACT_NAMES, f"{op.name}: partial uses {names - EXACT_NAMES}"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_fused_rules_equal_numpy_rules(op, numpy_only):
    rng = np.random.default_rng(7)
    xs = [op.domain(j).sample(rng, (N,)) for j in range(op.nargs)]
    xs[0][:3] = [0.0, 1.0, -1.0] if op.name not in ("log", "log2", "log10", "sqrt", "cbrt") \
        else [0.0, 1.0, 2.0]  # kinks and singular points: inf partials
    with np.errstate(all="ignore"):
        out = np.asarray(op.primal(*xs), dtype=float)
    ts = [rng.standard_normal(N)[None] for _ in xs]
    ts[0][0, 1] = 0.0
    g = rng.standard_normal(N)[None]
    for mask in range(1, 1 << op.nargs):
        tans = [t if mask >> j & 1 else None for j, t in enumerate(ts)]
        needed = tuple(bool(mask >> j & 1) for j in range(op.nargs))
        with np.errstate(all="ignore"):
            a, b = _both(lambda: rules.jvp(op, out, xs, tans, {}, 1)[0])
            np.testing.assert_array_equal(a, b)
            a, b = _both(lambda: rules.vjp(op, g, needed, out, xs, {})[0])
            for u, v in zip(a, b):
                assert (u is None) == (v is None)
                if u is not None:
                    np.testing.assert_array_equal(u, v)


def test_integer_powers_are_fused_and_exact(numpy_only):
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, N)
    x[:2] = [0.0, -0.0]
    t, g = rng.standard_normal((1, N)), rng.standard_normal((1, N))
    op = adcore.get_op("power")
    for y in range(6):
        out = x ** y
        a, b = _both(lambda: rules.jvp(op, out, (x, y), (t, None), {}, 1)[0])
        np.testing.assert_array_equal(a, b)
        a, b = _both(lambda: rules.vjp(op, g, (True, False), out, (x, y), {})[0])
        np.testing.assert_array_equal(a[0], b[0])


def test_engines_agree_with_and_without_fused_kernels(numpy_only):
    def f(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2
                      + np.tanh(x[1:]) / np.sqrt(1.0 + x[1:] ** 2))
    x = np.random.default_rng(0).uniform(-1.5, 1.5, N)
    v = np.random.default_rng(1).standard_normal(N)
    a, b = _both(lambda: tapes.grad(f)(x))
    np.testing.assert_array_equal(a, b)
    a, b = _both(lambda: dualnum.jvp(f, (x,), (v,))[1])
    np.testing.assert_array_equal(a, b)


def test_small_arrays_traced_values_and_broadcasting_fall_back_to_numpy():
    op = adcore.get_op("sqrt")
    big = np.linspace(0.1, 1, N)
    t = np.ones((1, N))
    assert array_kernels.jvp(op, np.sqrt(big), (big,), (t,)) is not None
    small = np.linspace(0.1, 1, 100)
    assert array_kernels.jvp(op, np.sqrt(small), (small,), (np.ones((1, 100)),)) is None
    assert array_kernels.jvp(op, np.sqrt(big), (big,), (np.ones((2, N)),)) is None  # k = 2
    seen = []

    def spy(z):
        out = np.sqrt(z)
        seen.append(out)
        return np.sum(out)
    dualnum.derivative(lambda s: tapes.grad(spy)(big * s)[0])(np.float64(1.0))
    traced = [o for o in seen if isinstance(o, adcore.Traced)]
    assert traced and all(array_kernels.vjp(op, np.ones((1, N)), (True,), o, (o,)) is None
                          for o in traced)
    div = adcore.get_op("divide")
    # the scalar input's cotangent needs a sum: NumPy's unbroadcast
    assert array_kernels.vjp(div, np.ones((1, N)), (True, True), big / 2.0,
                             (big, np.float64(2.0))) is None
