"""tapes.record(..., compiled="scalar"): the flat tape swept by compiled loops, with guards.

Recorded on one side of a branch or kink and replayed on the other, a compiled replay
returns the correct gradient (re-recording when a guard changed) or, with
``on_guard_failure="raise"``, the documented GuardError — never the wrong branch's
gradient.
"""
import numpy as np
import pytest

import adcore
import dualnum
import tapes
from adcore import GuardError
from adjit import scalar_rules as nr
from adjit.flat_replay import ENTRY_BYTES
from tapes.compiled import CompiledRecording


def branchy(x):
    """An `if` on a traced value, an abs and a maximum kink, a clip and a where."""
    y = np.sum(x * x)
    if y > 1.0:
        return np.sum(np.abs(x) * np.maximum(x, 0.1)) + np.clip(x[0], -0.5, 0.5)
    return np.sum(np.sin(x)) + np.where(x[1] > 0, x[1] ** 2, -x[1])


INSIDE = np.array([0.3, 0.4, 0.5])      # y < 1, x[1] > 0
OTHER_WHERE = np.array([0.3, -0.4, 0.2])  # y < 1, x[1] < 0: the where guard changes
OUTSIDE = np.array([1.3, 0.4, 0.5])     # y > 1: the if guard changes
KINKS = np.array([1.3, -0.05, 0.1])     # y > 1, abs at -0.05, maximum tie-side of 0.1


def reference(f, x):
    return tapes.grad(f)(x)


def test_same_branch_replays_without_rerecording():
    rec = tapes.record(branchy, INSIDE, compiled="scalar")
    for z in (INSIDE, INSIDE * 0.9, np.array([0.1, 0.2, 0.3])):
        np.testing.assert_allclose(rec.gradient(z), reference(branchy, z), rtol=1e-12)
        assert rec.value(z) == pytest.approx(float(branchy(z)))
    assert rec.rerecords == 0


@pytest.mark.parametrize("start, other", [(INSIDE, OUTSIDE), (OUTSIDE, INSIDE),
                                          (INSIDE, OTHER_WHERE), (OUTSIDE, KINKS)])
def test_recorded_on_one_side_replayed_on_the_other(start, other):
    rec = tapes.record(branchy, start, compiled="scalar")
    np.testing.assert_allclose(rec.gradient(other), reference(branchy, other), rtol=1e-12)
    np.testing.assert_allclose(rec.gradient(start), reference(branchy, start), rtol=1e-12)


def test_a_changed_guard_raises_guard_error_when_asked():
    rec = tapes.record(branchy, INSIDE, compiled="scalar", on_guard_failure="raise")
    rec.gradient(INSIDE * 0.5)
    for z in (OUTSIDE, OTHER_WHERE):
        with pytest.raises(GuardError, match="different branch"):
            rec.gradient(z)
    rec = tapes.record(branchy, OUTSIDE, compiled="scalar", on_guard_failure="raise")
    # kinks inside registered ops need no guard: abs/maximum/clip partials are re-evaluated
    np.testing.assert_allclose(rec.gradient(KINKS), reference(branchy, KINKS), rtol=1e-12)


def test_kinks_follow_the_registry_conventions_at_the_kink():
    def f(x):
        return np.sum(np.abs(x) + np.maximum(x, 0.5) + adcore.relu(x) + np.clip(x, -1.0, 1.0))

    rec = tapes.record(f, np.array([0.3, -0.2, 2.0]), compiled="scalar", on_guard_failure="raise")
    at_kinks = np.array([0.0, 0.5, 1.0])  # abs at 0, a maximum tie, the clip bound
    np.testing.assert_allclose(rec.gradient(at_kinks), reference(f, at_kinks), rtol=1e-12)
    np.testing.assert_allclose(rec.gradient(at_kinks), dualnum.grad(f)(at_kinks), rtol=1e-12)


def test_python_if_on_a_scalar_is_a_compiled_guard():
    def f(x):
        if x > 0.5:
            return x * x
        return -x

    rec = tapes.record(f, np.float64(0.7), compiled="scalar", on_guard_failure="raise")
    assert rec.flat.guard_entries == 1 and not rec.flat.pyguards
    assert float(rec.gradient(np.float64(0.9))) == pytest.approx(1.8)
    with pytest.raises(GuardError):
        rec.gradient(np.float64(0.2))
    rec = tapes.record(f, np.float64(0.7), compiled="scalar")
    assert float(rec.gradient(np.float64(0.2))) == pytest.approx(-1.0)
    assert rec.rerecords == 1


def test_non_elementwise_guards_are_checked_after_the_compiled_sweep():
    def f(x):
        i = int(np.argmax(x))
        return x[i] * 2.0 + np.sum(x)

    x = np.array([0.1, 0.9, 0.3])
    rec = tapes.record(f, x, compiled="scalar", on_guard_failure="raise")
    assert rec.flat.pyguards  # argmax is checked in Python on the replayed values
    np.testing.assert_allclose(rec.gradient(x * 2), reference(f, x * 2))
    with pytest.raises(GuardError):
        rec.gradient(np.array([0.9, 0.1, 0.3]))


def test_jacobian_and_values_of_structural_ops():
    def f(x):
        a = np.reshape(x, (2, 3)).T
        b = np.concatenate([a[:, 0], np.array([1.0]), np.cumsum(x)[::2]])
        c = np.stack([np.mean(a, axis=1), np.sum(a, axis=1)])
        return np.concatenate([b * np.sin(b), np.ravel(c), np.broadcast_to(x[0], (2,))])

    x = np.linspace(-1, 1, 6)
    rec = tapes.record(f, x, compiled="scalar")
    z = x[::-1] * 0.7
    np.testing.assert_allclose(rec.value(z), f(z), rtol=1e-12)
    np.testing.assert_allclose(rec.jacobian(z), tapes.jacobian(f)(z), rtol=1e-12, atol=1e-15)


def test_several_inputs_and_argnums():
    def f(x, w, c):
        return np.sum(np.tanh(x * w) * c) + w[0] * x[-1]

    x, w, c = np.linspace(0, 1, 4), np.linspace(1, 2, 4), 3.0
    rec = tapes.record(f, x, w, c, argnums=(0, 1), compiled="scalar")
    g = rec.gradient(x + 0.1, w - 0.2, c)
    ref = tapes.grad(f, argnums=(0, 1))(x + 0.1, w - 0.2, c)
    for a, b in zip(g, ref):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    rec.gradient(x, w, 4.0)  # a changed non-differentiated argument re-records
    assert rec.rerecords == 1


def test_size_and_layout():
    def f(x):
        v = x
        for _ in range(100):
            v = 3.0 * v * (1.0 - v)
        return v

    rec = tapes.record(f, np.float64(0.3), compiled="scalar")
    assert len(rec) == 300  # three scalar ops per step
    assert rec.nbytes == ENTRY_BYTES * rec.entries
    assert rec.nbytes / len(rec) <= 40
    assert rec.flat.op.dtype == np.int16 and rec.flat.arg.dtype == np.int32


def test_unsupported_ops_are_named():
    def f(x):
        return np.max(x) * 2.0

    with pytest.raises(nr.JitUnsupportedError, match="'max'"):
        tapes.record(f, np.ones(3), compiled="scalar")

    def g(x):
        return np.sum(np.reshape(x, (2, 2)) @ np.ones(2))

    with pytest.raises(nr.JitUnsupportedError, match="'matmul'"):
        tapes.record(g, np.ones(4), compiled="scalar")


def test_compiled_recording_inside_another_derivative_is_refused():
    def inner(x):
        rec = tapes.record(lambda z: np.sin(z) * x, np.float64(1.0), compiled="scalar")
        return rec.value(np.float64(1.0))

    with pytest.raises(nr.JitUnsupportedError, match="nested"):
        dualnum.derivative(inner)(np.float64(0.5))


def test_is_a_compiled_recording():
    assert isinstance(tapes.record(np.sin, np.float64(0.2), compiled="scalar"), CompiledRecording)
    assert not isinstance(tapes.record(np.sin, np.float64(0.2)), CompiledRecording)
