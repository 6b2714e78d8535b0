"""Property tests: random compositions of registered ops — forward, reverse and finite
differences agree (hypothesis draws the program and the input)."""
import numpy as np
from hypothesis import given, settings, strategies as st

import adcore
import dualnum
import tapes
from adcore.checking import check_grads

M = np.array([[0.5, -0.3, 0.8, 0.1], [0.2, 0.9, -0.4, 0.6], [-0.7, 0.1, 0.3, 0.5],
              [0.4, -0.2, -0.6, 0.3]])

# steps on a value of shape (4,) that keep it in a range where every op is smooth
UNARY = [
    ("sin", np.sin), ("cos", np.cos), ("tanh", np.tanh), ("arctan", np.arctan),
    ("sigmoid", adcore.sigmoid), ("softplus", adcore.softplus),
    ("exp-scaled", lambda v: np.exp(0.3 * v)), ("square-scaled", lambda v: 0.5 * np.square(v)),
    ("negative", np.negative), ("matmul", lambda v: M @ v), ("cumsum", lambda v: 0.5 * np.cumsum(v)),
    ("reverse", lambda v: v[::-1]), ("reshape-T", lambda v: v.reshape(2, 2).T.ravel()),
    ("roll-concat", lambda v: np.concatenate([v[1:], v[:1]])),
    ("stack-mean", lambda v: np.mean(np.stack([v, v * v]), axis=0)),
    ("outer-sum", lambda v: np.sum(np.outer(v, v[::-1]), axis=1) * 0.25),
    ("logsumexp-shift", lambda v: v - adcore.logsumexp(v)),
    ("sqrt-softened", lambda v: np.sqrt(v * v + 1.0)),
    ("divide", lambda v: v / (2.0 + np.cos(v))),
    ("broadcast-sum", lambda v: np.sum(np.broadcast_to(v, (3, 4)) * M[:3], axis=0)),
    ("power", lambda v: np.power(1.5 + np.sin(v), 1.7)),
]
BINARY = [("add", np.add), ("multiply", np.multiply), ("subtract", np.subtract),
          ("hypot-like", lambda a, b: np.sqrt(a * a + b * b + 0.1))]


@st.composite
def programs(draw):
    steps = draw(st.lists(st.tuples(st.sampled_from(range(len(UNARY))), st.booleans(),
                                    st.sampled_from(range(len(BINARY)))), min_size=1, max_size=8))
    reduce_last = draw(st.booleans())

    def program(x):
        v, saved = x, x
        for u, combine, b in steps:
            v = UNARY[u][1](v)
            if combine:  # fan-out: combine with an earlier value, so gradients must add up
                v = BINARY[b][1](v, saved)
                saved = v
        return np.sum(v * v) if reduce_last else v
    program.description = " -> ".join(UNARY[u][0] + ("+" + BINARY[b][0] if c else "") for u, c, b in steps)
    return program


@settings(max_examples=60, deadline=None, derandomize=True)
@given(programs(), st.lists(st.floats(-1.5, 1.5), min_size=4, max_size=4))
def test_random_compositions_agree_in_both_modes_and_with_fd(program, x):
    x = np.array(x)
    check_grads(program, (x,), jvp=dualnum.jvp, vjp=tapes.vjp, rtol=1e-4, atol=1e-6)
    jf = dualnum.jacobian(program)(x)
    jr = tapes.jacobian(program)(x)
    np.testing.assert_allclose(jf, jr, rtol=1e-10, atol=1e-12, err_msg=program.description)
