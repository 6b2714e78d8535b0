"""The checker must catch a wrong rule — otherwise the generated tests prove nothing."""
import numpy as np
import pytest

import adcore
import dualnum
import tapes
from adcore.checking import check_grads, check_jacobians


@pytest.fixture
def temporary_ops():
    names = []
    yield names
    for name in names:
        adcore.unregister(name)


def _register(temporary_ops, name, **rules):
    op = adcore.defop(name, np.sin, **rules)
    temporary_ops.append(name)
    return lambda x: adcore.apply(op, x)


def test_correct_custom_rule_passes(temporary_ops):
    f = _register(temporary_ops, "test_sin_ok", partials=[lambda o, x: np.cos(x)])
    x = np.linspace(-1, 1, 5)
    assert check_grads(f, (x,), jvp=dualnum.jvp, vjp=tapes.vjp)
    assert check_jacobians(f, (x,), jacobian_fwd=dualnum.jacobian, jacobian_rev=tapes.jacobian)


def test_wrong_partial_is_caught_in_both_modes(temporary_ops):
    f = _register(temporary_ops, "test_sin_wrong", partials=[lambda o, x: np.sin(x)])
    x = np.linspace(-1, 1, 5)
    with pytest.raises(AssertionError, match="forward"):
        check_grads(f, (x,), jvp=dualnum.jvp, vjp=tapes.vjp)
    with pytest.raises(AssertionError, match="finite differences"):
        check_jacobians(f, (x,), jacobian_fwd=dualnum.jacobian, jacobian_rev=tapes.jacobian)


def test_vjp_that_is_not_the_transpose_of_the_jvp_is_caught(temporary_ops):
    """A structural op whose VJP is wrong while its JVP is right: the reverse check fails."""
    op = adcore.defop("test_double_badvjp", lambda x: 2.0 * x,
                      jvp=lambda ts, out, x: 2.0 * ts[0],
                      vjp=lambda g, needed, out, x: (3.0 * g,))
    temporary_ops.append(op.name)
    f = lambda x: adcore.apply(op, x)
    with pytest.raises(AssertionError, match="reverse"):
        check_grads(f, (np.ones(3),), jvp=dualnum.jvp, vjp=tapes.vjp)


def test_registration_without_a_mode_fails():
    with pytest.raises(adcore.RegistrationError, match="vjp"):
        adcore.defop("test_jvp_only", np.sin, jvp=lambda ts, out, x: ts[0])
    with pytest.raises(adcore.RegistrationError, match="jvp"):
        adcore.defop("test_vjp_only", np.sin, vjp=lambda g, needed, out, x: (g,))
    with pytest.raises(adcore.RegistrationError):
        adcore.defop("test_wrong_arity", np.add, partials=[lambda o, x, y: 1.0], nargs=2)
    assert "test_jvp_only" not in adcore.registered_ops()


def test_registering_twice_needs_replace(temporary_ops):
    _register(temporary_ops, "test_twice", partials=[lambda o, x: np.cos(x)])
    with pytest.raises(adcore.RegistrationError, match="already registered"):
        adcore.defop("test_twice", np.sin, partials=[lambda o, x: np.cos(x)])
