"""The eager engines' fast paths compute what the general paths compute.

Each shortcut taken for speed (the speed issue) has a general path it must agree with:

* a one-shot tape keeps only the values its reverse rules read (``adcore.liveness``), and
  its sweep computes cotangents into buffers it owns: for every registered op and
  composite example, that sweep equals the sweep of a tape that keeps every value and
  reuses no buffer, bit for bit; a rule that read a dropped value would raise;
* matmul's structural zeros read off directly equal those of the indicator run
  (``rules._structural_*`` with the ``sz_rules`` removed), on every registered matmul/dot
  example and random masks;
* the operators' direct route (``x * c``) returns what the ufunc route returns;
* NumPy's floating-point warnings are silenced for a whole derivative call (one
  ``np.errstate`` per call, not per op), and restored after it.
"""
import dataclasses
import warnings

import numpy as np
import pytest

import dualnum
import tapes
from adcore import rules
from adcore.tracing import Placeholder, value_of
from tapes.api import record_call, sweep

from cases import registry_cases, sample_inputs

CASES = registry_cases()


def _sweeps(fn, args, keep_values):
    """Input cotangents of a sum of all outputs' entries, for a tape keeping all values or not."""
    nums = tuple(range(len(args)))
    tape, out, out_index = record_call(fn, list(args), nums, keep_values=keep_values)
    if out_index is None:
        return tape, None
    w = np.cos(np.arange(np.size(value_of(out)))).reshape((1,) + np.shape(value_of(out)))
    return tape, sweep(tape, out, out_index, w.astype(np.result_type(value_of(out), np.float32)))


@pytest.mark.parametrize("case_id, op, fn, shapes, domains", CASES, ids=[c[0] for c in CASES])
def test_a_tape_that_drops_unread_values_sweeps_the_same(case_id, op, fn, shapes, domains,
                                                         monkeypatch):
    if getattr(fn, "raises", None):
        pytest.skip("an example whose derivative is refused")
    args = sample_inputs(shapes, domains, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setattr(tapes.tape, "CONSUME_MIN", 1 << 62)  # no buffer reused
        full_tape, full = _sweeps(fn, args, keep_values=True)
        # drop at every size the examples use, and reuse every cotangent's buffer
        monkeypatch.setattr(tapes.tape, "DROP_MIN", 0)
        monkeypatch.setattr(tapes.tape, "CONSUME_MIN", 0)
        lean_tape, lean = _sweeps(fn, args, keep_values=False)
    assert not any(type(v) is Placeholder for v in full_tape.out_of + full_tape.args)
    if full is None:
        assert lean is None
        return
    for a, b in zip(full, lean):
        np.testing.assert_array_equal(a, b)


def test_the_lean_tape_drops_what_no_rule_reads(monkeypatch):
    monkeypatch.setattr(tapes.tape, "DROP_MIN", 0)
    # d(x - y)/d. reads nothing; (x * 3.0)'s partial is 3.0; exp's reads its output
    x = np.linspace(0.1, 1.0, 5)
    tape, out, i = record_call(lambda v: np.sum(np.exp(v * 3.0 - v)), [x], (0,), keep_values=False)
    kinds = {tape.op_of[n].name: type(tape.out_of[n]) for n in range(len(tape.op_of))
             if tape.op_of[n] is not None}
    assert kinds["multiply"] is Placeholder  # read by no rule: subtract's partials are 1, -1
    assert kinds["subtract"] is Placeholder
    assert kinds["exp"] is np.ndarray  # exp's partial is its output
    assert tape.nbytes < record_call(lambda v: np.sum(np.exp(v * 3.0 - v)), [x], (0,))[0].nbytes


def test_a_rule_reading_a_dropped_value_raises_not_computes():
    p = Placeholder.of(np.ones(3))
    assert p.shape == (3,) and p.dtype == np.float64
    with pytest.raises(AssertionError, match="liveness"):
        np.multiply(p, 2.0)
    with pytest.raises(AssertionError):
        np.asarray(p)


def test_liveness_reads_code_conservatively():
    from adcore import liveness
    assert liveness._mentioned(lambda o, x, y: y, 0, 3) == (False, False, True)
    assert liveness._mentioned(lambda o, x, y: [x for _ in range(2)], 0, 3) == (False, True, False)
    assert liveness._mentioned(lambda o, *xs: xs[0], 0, 3) is None  # *args: all read
    assert liveness._mentioned(np.exp, 0, 2) is None  # no Python code to read: all read


# ------------------------------------------------------------------ direct structural zeros
def _nodes_of(op_names, cases):
    """Tape nodes of the given ops, recorded from the registry examples."""
    for case_id, op, fn, shapes, domains in cases:
        if getattr(op, "name", None) not in op_names or getattr(fn, "raises", None):
            continue
        args = sample_inputs(shapes, domains, seed=1)
        tape, _, _ = record_call(fn, list(args), tuple(range(len(args))))
        for n in tape.nodes:
            if n.op is not None and n.op.name in op_names:
                yield case_id, n


def _mask(sz, shape):
    return np.broadcast_to(False if sz is None else sz, shape)


def _without_direct(op):
    return dataclasses.replace(op, sz_rules=None)


@pytest.mark.parametrize("seed", range(4))
def test_matmul_structural_zeros_read_directly_equal_the_indicator_run(seed):
    rng = np.random.default_rng(seed)
    seen = 0
    for case_id, node in _nodes_of({"matmul", "dot"}, CASES):
        k = 3
        out = value_of(node.out)
        needed = tuple(p >= 0 for p in node.parents)
        # whole rows/columns structurally zero sometimes, so both rules have zeros to find
        g = rng.standard_normal((k,) + np.shape(out))
        gsz = rng.random((k,) + np.shape(out)) < 0.7
        if gsz.ndim >= 2:
            gsz[:, ..., 0] = True
        with np.errstate(all="ignore"):
            _, direct = rules.vjp(node.op, g, needed, node.out, node.primals, node.params, gsz)
            _, general = rules.vjp(_without_direct(node.op), g, needed, node.out, node.primals,
                                   node.params, gsz)
        for d, e, x in zip(direct, general, node.primals):
            shape = (k,) + np.shape(value_of(x))
            np.testing.assert_array_equal(_mask(d, shape), _mask(e, shape), err_msg=case_id)
        ts, szs = [], []
        for x, need in zip(node.primals, needed):
            shape = (k,) + np.shape(value_of(x))
            ts.append(rng.standard_normal(shape) if need else None)
            szs.append(rng.random(shape) < 0.7 if need else None)
        with np.errstate(all="ignore"):
            _, d = rules.jvp(node.op, node.out, node.primals, ts, node.params, k, szs)
            _, e = rules.jvp(_without_direct(node.op), node.out, node.primals, ts, node.params,
                             k, szs)
        shape = (k,) + np.shape(out)
        np.testing.assert_array_equal(_mask(d, shape), _mask(e, shape), err_msg=case_id)
        seen += 1
    assert seen >= 10


# ------------------------------------------------------------------ operators
OPERANDS = [2.5, 3, np.float64(-1.5), np.float32(0.5), np.array([1.0, -2.0, 0.5]),
            np.array([1, 2, 3]), True, [1.0, 2.0, 3.0]]


@pytest.mark.parametrize("engine", [tapes, dualnum])
@pytest.mark.parametrize("other", OPERANDS, ids=[repr(o) for o in OPERANDS])
def test_operators_take_the_direct_route_to_the_same_result(engine, other):
    x = np.array([0.3, 0.7, 1.1])
    forms = [lambda v: v + other, lambda v: other + v, lambda v: v - other,
             lambda v: other - v, lambda v: v * other, lambda v: other * v,
             lambda v: v / other, lambda v: v ** 2, lambda v: 2.0 ** v]
    ufuncs = [lambda v: np.add(v, other), lambda v: np.add(other, v),
              lambda v: np.subtract(v, other), lambda v: np.subtract(other, v),
              lambda v: np.multiply(v, other), lambda v: np.multiply(other, v),
              lambda v: np.divide(v, other), lambda v: np.power(v, 2), lambda v: np.power(2.0, v)]
    for op_form, ufunc_form in zip(forms, ufuncs):
        got = engine.jacobian(op_form)(x)
        want = engine.jacobian(ufunc_form)(x)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.asarray(op_form(x)), ufunc_form(x))


# ------------------------------------------------------------------ floating-point state
@pytest.mark.parametrize("derivative", [tapes.grad, dualnum.grad])
def test_floating_point_warnings_are_off_inside_a_derivative_call_and_restored(derivative):
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning would fail the call
        g = derivative(lambda v: np.sum(np.sqrt(v) + np.log(v)))(np.array([0.0, 1.0]))
    assert np.isinf(g[0]) and np.isfinite(g[1])
    assert np.geterr() == before
    with pytest.raises(RuntimeWarning), warnings.catch_warnings():
        warnings.simplefilter("error")
        np.log(np.array([0.0]))  # outside a derivative call NumPy warns as usual


# ------------------------------------------------------------------ the scalar lane
SCALAR_CASES = [c for c in CASES if all(s == () for s in c[3]) and not getattr(c[2], "raises", None)]
SPECIAL = [0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-300, 2.0]


@pytest.mark.parametrize("case_id, op, fn, shapes, domains", SCALAR_CASES,
                         ids=[c[0] for c in SCALAR_CASES])
def test_the_scalar_lane_sweeps_what_the_array_lane_sweeps(case_id, op, fn, shapes, domains,
                                                          monkeypatch):
    """Float64 scalar programs are swept with Python floats (rules.scalar_vjp): the same
    numbers, NaN where the array sweep has NaN, exact zeros where it has structural ones --
    at ordinary points, at singular ones (0, inf, NaN) and with a constant 0 factor."""
    rng = np.random.default_rng(7)
    points = [sample_inputs(shapes, domains, seed=1)]
    points += [[rng.choice(SPECIAL) for _ in shapes] for _ in range(12)]

    def scaled(*xs):  # the op between scalar ops
        return fn(*[x * 1.0 for x in xs]) * 2.0 - xs[0] * 0.5

    def zeroed(*xs):  # times a constant 0: a structural zero that meets the op's partials
        return fn(*xs) * 0.0

    for program, point in [(p, q) for p in (scaled, zeroed) for q in points]:
        point = [np.float64(p) for p in point]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                lane = tapes.grad(program, argnums=tuple(range(len(point))))(*point)
            except Exception as exc:  # noqa: BLE001 - a refusal must be the same below
                lane = type(exc)
            monkeypatch.setattr(rules, "scalar_vjp", lambda *a: None)
            try:
                arrays = tapes.grad(program, argnums=tuple(range(len(point))))(*point)
            except Exception as exc:  # noqa: BLE001
                arrays = type(exc)
            monkeypatch.undo()
        if isinstance(lane, type) or isinstance(arrays, type):
            assert lane == arrays, (case_id, point)
            continue
        np.testing.assert_array_equal(np.asarray(lane), np.asarray(arrays),
                                      err_msg=f"{case_id} at {point}")


def test_the_in_place_paths_are_on_for_this_interpreter():
    """The sweep's buffer reuse reads sys.getrefcount; tapes.tape checks at import that this
    interpreter counts as expected (else it turns the reuse off). Here it must be on."""
    assert tapes.tape._IN_PLACE


def test_a_point_wise_zero_switch_stays_in_its_own_thread():
    import threading
    f = lambda x: np.sum(np.sqrt(np.maximum(x, 0.0)))  # noqa: E731  loser's zero meets inf
    assert tapes.grad(f)(np.array([-1.0]))[0] == 0.0
    results, stop = [], threading.Event()

    def other():
        while not stop.is_set():
            results.append(tapes.grad(f)(np.array([-1.0]))[0])
    t = threading.Thread(target=other)
    t.start()
    try:
        with rules.dependencies_only():
            for _ in range(200):
                assert np.isnan(tapes.grad(f)(np.array([-1.0]))[0])  # here: off
    finally:
        stop.set()
        t.join()
    assert results and all(r == 0.0 for r in results)  # there: on, throughout
