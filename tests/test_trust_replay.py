"""A replayed tape is never stale: tapes.record (Recording, CompiledRecording, NjitRecording)
answers every call with the derivative of what ``f`` does at *that* call's arguments.

Each test builds a situation in which a replay could silently return the old tape's answer
— a re-recording that raised, a non-differentiated array changed in place, another input
dtype, a caller mutating a returned array, two threads, NaN reaching a guard — and checks
the answer against a fresh derivative of ``f`` (the other engine or finite differences).
The njit tests check that ``f`` runs exactly once per call however long its tape grows.
"""
import sys
import threading

import numba
import numpy as np
import pytest

import dualnum
import tapes
from njit_cases import branchy_sum
from adcore import GuardError
from adjit import scalar_rules as nr, tape as njit_tape
from tapes.compiled import CompiledRecording

X = np.array([0.3, -0.7, 1.1, 0.5])
KINDS = [pytest.param(False, id="python"), pytest.param(True, id="compiled")]


def fd_grad(f, x, *rest, h=1e-6):
    """Central differences of a scalar f with respect to its first argument."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (float(f(x + e, *rest)) - float(f(x - e, *rest))) / (2 * h)
    return g


# ------------------------------------------------------------ a failed re-record is not kept
@pytest.mark.parametrize("compiled", KINDS)
def test_a_rerecording_that_raises_is_never_answered_by_the_old_tape(compiled):
    runs = []

    def f(x, c):
        runs.append(c)
        if c < 0:
            raise ValueError("c must be non-negative")
        return np.sum(np.sin(x) * c)

    rec = tapes.record(f, X, 1.0, compiled=compiled)
    for _ in range(2):  # the second identical call must run f again, not replay c = 1
        before = len(runs)
        with pytest.raises(ValueError, match="non-negative"):
            rec.gradient(X, -1.0)
        assert len(runs) == before + 1
    np.testing.assert_allclose(rec.gradient(X, 2.0), dualnum.grad(f)(X, 2.0), rtol=1e-12)
    np.testing.assert_allclose(rec.value(X, 2.0), f(X, 2.0), rtol=1e-12)


def test_a_compiled_rerecording_that_cannot_be_lowered_is_not_kept():
    def f(x, use_matmul):
        if use_matmul:
            return np.sum(np.reshape(x, (2, 2)) @ np.array([1.0, 2.0]))
        return np.sum(x * x)

    rec = tapes.record(f, X, False, compiled="scalar")
    for _ in range(2):  # the new tape has no compiled lowering: never the old flat tape
        with pytest.raises(nr.JitUnsupportedError, match="matmul"):
            rec.gradient(X, True)
    np.testing.assert_allclose(rec.gradient(X * 2, False), 4 * X, rtol=1e-12)


# ---------------------------------------------- non-differentiated arguments compared by value
@pytest.mark.parametrize("compiled", KINDS)
def test_a_non_differentiated_array_changed_in_place_rerecords(compiled):
    def f(x, c):
        return np.sum(np.sin(x) * c) + np.sum(c * c)

    c = np.array([1.0, 2.0, 3.0, 4.0])
    rec = tapes.record(f, X, c, compiled=compiled)
    c[:] = 5.0  # the same object, new values
    np.testing.assert_allclose(rec.gradient(X, c), tapes.grad(f)(X, c), rtol=1e-12)
    np.testing.assert_allclose(rec.gradient(X, c), 5.0 * np.cos(X), rtol=1e-12)
    assert rec.value(X, c) == pytest.approx(float(f(X, c)))
    assert rec.rerecords == 1


@pytest.mark.parametrize("compiled", KINDS)
def test_an_equal_copy_after_the_recorded_array_changed_in_place_rerecords(compiled):
    """The tape's constants may be the recorded array itself: after ``c[:] = 5`` a copy of
    the *old* values must not make the (now changed) constants look valid."""
    def f(x, c):
        return np.sum(x * c)

    c = np.array([1.0, 2.0, 3.0, 4.0])
    old = c.copy()
    rec = tapes.record(f, X, c, compiled=compiled)
    c[:] = 5.0
    np.testing.assert_allclose(rec.gradient(X, old), old, rtol=1e-12)
    np.testing.assert_allclose(rec.gradient(X, c), c, rtol=1e-12)


@pytest.mark.parametrize("compiled", KINDS)
def test_arrays_inside_a_tuple_argument_are_compared_by_value(compiled):
    def f(x, params):
        w, b = params
        return np.sum(np.tanh(x * w + b))

    w, b = np.linspace(0.5, 1.5, 4), np.zeros(4)
    rec = tapes.record(f, X, (w, b), compiled=compiled)
    b += 0.25  # in place, inside the tuple
    np.testing.assert_allclose(rec.gradient(X, (w, b)), tapes.grad(f)(X, (w, b)), rtol=1e-12)


@pytest.mark.parametrize("compiled", KINDS)
def test_a_non_differentiated_array_of_another_dtype_rerecords(compiled):
    def f(x, c):
        scale = 2.0 if np.issubdtype(c.dtype, np.integer) else 3.0
        return np.sum(x * c) * scale

    rec = tapes.record(f, X, np.array([1.0, 2.0, 3.0, 4.0]), compiled=compiled)
    c_int = np.array([1, 2, 3, 4])  # equal values, another dtype: f takes the other branch
    np.testing.assert_allclose(rec.gradient(X, c_int), tapes.grad(f)(X, c_int), rtol=1e-12)


@pytest.mark.parametrize("compiled", KINDS)
def test_nan_in_a_non_differentiated_array_is_unchanged(compiled):
    def f(x, c):
        return np.sum(x * np.nan_to_num(c, nan=2.0))

    c = np.array([1.0, np.nan, 3.0, np.nan])
    rec = tapes.record(f, X, c, compiled=compiled)
    for z in (X, 2 * X):
        np.testing.assert_allclose(rec.gradient(z, c.copy()), tapes.grad(f)(z, c), rtol=1e-12)
    assert rec.rerecords == 0


# --------------------------------------------------------------- dtype of differentiated inputs
def branches_on_dtype(x):
    if x.dtype == np.float32:
        return np.sum(np.sin(x)) * 2.0
    return np.sum(x * x)


@pytest.mark.parametrize("compiled", KINDS)
def test_a_replay_at_another_dtype_rerecords(compiled):
    rec = tapes.record(branches_on_dtype, X, compiled=compiled)
    x32 = X.astype(np.float32)
    np.testing.assert_allclose(rec.gradient(x32), tapes.grad(branches_on_dtype)(x32),
                               rtol=1e-6)
    np.testing.assert_allclose(rec.gradient(X), 2 * X, rtol=1e-12)
    assert rec.rerecords == 2


@pytest.mark.parametrize("compiled", KINDS)
def test_a_replay_at_another_dtype_raises_when_asked(compiled):
    rec = tapes.record(branches_on_dtype, X, compiled=compiled, on_guard_failure="raise")
    with pytest.raises(GuardError, match="dtype"):
        rec.gradient(X.astype(np.float32))
    np.testing.assert_allclose(rec.gradient(X * 0.5), X, rtol=1e-12)


# ---------------------------------------------------------- returned arrays are the caller's
def _kinds_of_recording(f, *args):
    njit_f = numba.njit(f) if not isinstance(f, tuple) else f[1]
    py_f = f if not isinstance(f, tuple) else f[0]
    return [tapes.record(py_f, *args), tapes.record(py_f, *args, compiled="scalar"),
            tapes.record(py_f, *args, compiled="fused"), tapes.record(njit_f, *args)]


def test_value_of_a_constant_output_is_a_copy():
    def f(x):
        return np.ones(3)

    for rec in (tapes.record(f, X), tapes.record(f, X, compiled="scalar"),
                tapes.record(f, X, compiled="fused")):
        v = rec.value(X)
        v[:] = 9.0
        np.testing.assert_array_equal(rec.value(X), np.ones(3))
        np.testing.assert_array_equal(rec.jacobian(X), np.zeros((3, 4)))


def test_results_of_every_recording_kind_can_be_mutated_by_the_caller():
    def f_py(x):
        return x * 2.0

    @numba.njit
    def f_nb(x):
        out = np.empty_like(x)
        for i in range(len(x)):
            out[i] = x[i] * 2.0
        return out

    for rec in _kinds_of_recording((f_py, f_nb), X):
        z = X.copy()
        for result in (rec.value(z), rec.jacobian(z)):
            result[...] = -1.0
        np.testing.assert_array_equal(z, X)  # the caller's input untouched
        np.testing.assert_allclose(rec.value(z), 2 * X, rtol=1e-12)
        np.testing.assert_allclose(rec.jacobian(z), 2 * np.eye(4), rtol=1e-12)

    def s_py(x):
        return np.sum(x * x)

    @numba.njit
    def s_nb(x):
        s = 0.0
        for i in range(len(x)):
            s += x[i] * x[i]
        return s

    for rec in _kinds_of_recording((s_py, s_nb), X):
        g = rec.gradient(X)
        g[:] = 0.0
        np.testing.assert_allclose(rec.gradient(X), 2 * X, rtol=1e-12)


def test_value_of_the_identity_is_not_the_callers_array():
    rec = tapes.record(lambda x: x, X)
    z = X.copy()
    v = rec.value(z)
    v[0] = 100.0
    assert z[0] == X[0]


# ------------------------------------------------------------------------------------ threads
def branchy(x):
    if x[0] > 0:
        return np.sum(np.sin(x) * x)
    return np.sum(np.exp(x) * 3.0) + x[1] * x[2]


@pytest.mark.parametrize("compiled", KINDS)
def test_one_recording_used_from_two_threads(compiled):
    """Two threads on opposite branches force a re-recording almost every call; each must
    get its own input's gradient, never the other thread's tape (or an IndexError)."""
    a, b = X.copy(), -X[::-1].copy()
    want = {0: tapes.grad(branchy)(a), 1: tapes.grad(branchy)(b)}
    rec = tapes.record(branchy, a, compiled=compiled)
    errors, wrong = [], []
    start = threading.Barrier(2)

    def worker(k, z):
        start.wait()
        try:
            for _ in range(150):
                g = rec.gradient(z)
                if not np.allclose(g, want[k], rtol=1e-12):
                    wrong.append((k, g))
                if not np.isclose(rec.value(z), branchy(z), rtol=1e-12):
                    wrong.append((k, "value"))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker, args=(0, a)),
                   threading.Thread(target=worker, args=(1, b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors[:3]
    assert not wrong, wrong[:3]


def test_one_njit_recording_used_from_two_threads():
    f = branchy_sum

    a, b = X.copy(), -X.copy()
    want = {0: dualnum.grad(f)(a), 1: dualnum.grad(f)(b)}
    rec = tapes.record(f, a)
    wrong, errors = [], []

    def worker(k, z):
        try:
            for _ in range(300):
                if not np.allclose(rec.gradient(z), want[k], rtol=1e-12):
                    wrong.append(k)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k, z)) for k, z in ((0, a), (1, b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not wrong


# ------------------------------------------------- njit: f runs once, however long its tape
def _counting_chain():
    """A fresh njit function (a fresh driver, so the tape starts at its initial capacity)
    that increments ``counter[0]`` and uses it: a second run would show in both."""
    @numba.njit
    def f(x, counter):
        counter[0] += 1.0
        s = 0.0
        for i in range(len(x) - 1):
            s += x[i + 1] * x[i] * counter[0]
        return s
    return f


def _chain_grad(x, k):
    g = np.zeros_like(x)
    g[:-1] += x[1:] * k
    g[1:] += x[:-1] * k
    return g


BIG = np.random.default_rng(1).uniform(-1, 1, 30000)  # ~60000 entries: grows several times


def test_njit_grad_runs_f_once_while_its_tape_grows():
    f = _counting_chain()
    counter = np.zeros(1)
    g = tapes.grad(f)(BIG, counter)
    assert counter[0] == 1.0
    np.testing.assert_allclose(g, _chain_grad(BIG, 1.0), rtol=1e-12, atol=1e-15)
    small = BIG[:50]
    np.testing.assert_allclose(tapes.grad(f)(small, counter), _chain_grad(small, 2.0),
                               rtol=1e-12)
    assert counter[0] == 2.0


def test_njit_jacobian_vjp_and_recording_run_f_once_while_the_tape_grows():
    @numba.njit
    def f(x, counter):
        counter[0] += 1.0
        out = np.empty_like(x)
        acc = 0.0
        for i in range(len(x)):
            acc = acc + x[i] * x[i]
            out[i] = acc * counter[0]
        return out

    counter = np.zeros(1)
    x = BIG[:4000]  # two entries per element: beyond the initial 4096
    J = tapes.jacobian(f)(x, counter)
    assert counter[0] == 1.0
    np.testing.assert_allclose(J[::97], (np.tril(np.ones((4000, 4000))) * 2 * x)[::97],
                               rtol=1e-12)
    # vjp differentiates every argument (the counter too, on a private copy): y and w^T J
    # of a counting call at counter = 1
    y, vjp_fn = tapes.vjp(f, x, np.ones(1))
    np.testing.assert_allclose(y, 2.0 * np.cumsum(x * x), rtol=1e-12)
    w = np.linspace(-1, 1, x.size)
    gx, gc = vjp_fn(w)
    np.testing.assert_allclose(gx, 2.0 * 2 * x * np.cumsum(w[::-1])[::-1], rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(gc, [w @ np.cumsum(x * x)], rtol=1e-10)

    g = _counting_chain()
    c2 = np.zeros(1)
    rec = tapes.record(g, BIG, c2)
    assert c2[0] == 1.0
    np.testing.assert_allclose(rec.gradient(BIG, c2), _chain_grad(BIG, 2.0), rtol=1e-12,
                               atol=1e-15)
    assert c2[0] == 2.0


def test_a_memory_error_while_growing_leaves_the_function_usable(monkeypatch):
    f = _counting_chain()
    counter = np.zeros(1)
    real = njit_tape._Buffers.allocate

    def failing(rows):
        if rows > 5000:
            raise MemoryError("test: no memory for the tape")
        return real(rows)

    monkeypatch.setattr(njit_tape._Buffers, "allocate", staticmethod(failing))
    with pytest.raises(MemoryError, match="could not grow"):
        tapes.grad(f)(BIG, counter)
    assert counter[0] == 1.0  # f ran once, to its end
    small = BIG[:100]  # fits the old storage: still works while growing fails
    np.testing.assert_allclose(tapes.grad(f)(small, counter), _chain_grad(small, 2.0),
                               rtol=1e-12)
    monkeypatch.setattr(njit_tape._Buffers, "allocate", staticmethod(real))
    np.testing.assert_allclose(tapes.grad(f)(BIG, counter), _chain_grad(BIG, 3.0),
                               rtol=1e-12, atol=1e-15)
    assert counter[0] == 3.0


def test_a_tape_beyond_the_slot_limit_raises_and_the_function_stays_usable(monkeypatch):
    f = _counting_chain()
    counter = np.zeros(1)
    monkeypatch.setattr(njit_tape, "MAX_ENTRIES", 10000)
    with pytest.raises(MemoryError, match="tape slots"):
        tapes.grad(f)(BIG, counter)
    assert counter[0] == 1.0
    monkeypatch.setattr(njit_tape, "MAX_ENTRIES", 2**31 - 1)
    np.testing.assert_allclose(tapes.grad(f)(BIG, counter), _chain_grad(BIG, 2.0),
                               rtol=1e-12, atol=1e-15)


def test_an_njit_recording_whose_f_raises_runs_f_again():
    @numba.njit
    def f(x, c):
        if c < 0:
            raise ValueError("negative c")
        s = 0.0
        for i in range(len(x)):
            s += x[i] * x[i] * c
        return s

    rec = tapes.record(f, X, 1.0)
    for _ in range(2):
        with pytest.raises(ValueError):
            rec.gradient(X, -1.0)
    np.testing.assert_allclose(rec.gradient(X, 3.0), 6 * X, rtol=1e-12)


# --------------------------------------------------------------------- NaN reaching a guard
def floors(x):
    return np.sum(x * np.floor(x)) + np.sum(np.round(x) * x * x)


NAN_X = np.array([np.nan, 1.25, -0.5, 2.5])


@pytest.mark.parametrize("compiled", KINDS)
def test_nan_at_a_floor_or_round_guard_replays_at_its_own_input(compiled):
    rec = tapes.record(floors, NAN_X, compiled=compiled, on_guard_failure="raise")
    want = tapes.grad(floors)(NAN_X)
    np.testing.assert_allclose(rec.gradient(NAN_X), want, rtol=1e-12)  # NaN == NaN here
    np.testing.assert_allclose(rec.gradient(NAN_X.copy()), want, rtol=1e-12)
    assert np.isnan(rec.value(NAN_X))
    rec = tapes.record(floors, NAN_X, compiled=compiled)
    for _ in range(3):
        rec.gradient(NAN_X.copy())
    assert rec.rerecords == 0
    finite = np.array([0.3, 1.25, -0.7, 2.2])  # floor and round change with the NaN gone
    np.testing.assert_allclose(rec.gradient(finite), fd_grad(floors, finite), rtol=1e-6)


# ------------------------------------------- compiled float64 sweep of a float32 decision
def test_a_float32_decision_at_its_own_input_is_never_a_guard_error():
    """0.1f * 3 > 0.3 is False in float32 but True when the compiled sweep recomputes it
    in float64: at the recording's own input the recorded branch is the answer."""
    def f(x):
        if x * 3 > 0.3:
            return x * x
        return -5.0 * x

    x = np.float32(0.1)
    assert not (np.asarray(x) * 3 > 0.3)  # the premise: f takes the second branch
    for mode in ("raise", "rerecord"):
        rec = tapes.record(f, x, compiled=True, on_guard_failure=mode)
        for _ in range(2):
            g = rec.gradient(x)
            assert g == pytest.approx(float(tapes.grad(f)(x)), rel=1e-6)
            assert g == pytest.approx(float(dualnum.derivative(f)(x)), rel=1e-6)
            assert np.asarray(g).dtype == np.float32
        assert rec.rerecords == 0
    assert isinstance(rec, CompiledRecording)
