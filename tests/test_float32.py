"""Float32 programs stay float32 end to end: the traced primal has NumPy's own dtype, and
no rule upcasts a tangent or a cotangent (the speed issue: float32 at float32 speed).

Every registry example is run on float32 inputs; the public results would be cast to the
input's dtype anyway, so the engines' raw (co)tangents are checked.
"""
import warnings

import numpy as np
import pytest

import dualnum
from adcore.tracing import value_of
from tapes.api import record_call, sweep

from cases import registry_cases, sample_inputs

CASES = registry_cases()


FLOAT32_CASES = [c for c in CASES if not getattr(c[2], "raises", None)]


@pytest.mark.parametrize("case_id, op, fn, shapes, domains", FLOAT32_CASES,
                         ids=[c[0] for c in FLOAT32_CASES])
def test_float32_values_keep_float32_tangents_and_cotangents(case_id, op, fn, shapes, domains):
    """No rule upcasts: every (co)tangent of a float32 program is float32 inside the engines
    (the public results are cast to the input's dtype anyway, which would hide it)."""
    args = [np.asarray(a, dtype=np.float32) for a in sample_inputs(shapes, domains, seed=5)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = fn(*args)
        except Exception:  # noqa: BLE001 - NumPy itself refuses float32 here
            pytest.skip("NumPy does not compute this example on float32")
        if np.result_type(out) != np.float32:
            pytest.skip(f"NumPy's own result is {np.result_type(out)}")
        tape, out, out_index = record_call(fn, list(args), tuple(range(len(args))))
        assert np.result_type(value_of(out)) == np.float32, "the traced primal is not NumPy's"
        if out_index is None:
            return
        seed = np.ones((1,) + np.shape(value_of(out)), dtype=np.float32)
        for a, cot in zip(args, sweep(tape, out, out_index, seed)):
            assert cot.dtype == np.float32, f"reverse: {cot.dtype}"
        for i in range(len(args)):
            seed = np.ones((1,) + np.shape(args[i]), dtype=np.float32)
            _, tangent = dualnum.api.push_forward(fn, list(args), i, seed)
            assert np.result_type(tangent) == np.float32, f"forward, input {i}: {tangent.dtype}"


