"""COVERAGE.md is the registry's own list, current with the code."""
from pathlib import Path

import numpy as np
import pytest

import adcore
from adcore import coverage

ROOT = Path(__file__).resolve().parent.parent


def test_coverage_file_is_current():
    if not (ROOT / "COVERAGE.md").exists():
        pytest.skip("not a source checkout")
    text = (ROOT / "COVERAGE.md").read_text()
    body = lambda t: t.split("\n", 5)[5]  # noqa: E731 - the NumPy version line may differ
    assert body(text) == body(coverage.render()), "run: python -m adcore.coverage"


def test_every_listed_name_is_a_numpy_name():
    for name in adcore.numpy_entry_points():
        obj = np
        for part in name.split(".")[1:]:
            obj = getattr(obj, part)
        assert callable(obj), name


@pytest.mark.parametrize("name", sorted(adcore.errors.ALTERNATIVES))
def test_an_alternative_is_given_for_what_is_not_covered(name):
    assert name not in adcore.numpy_entry_points()
    assert "Closest supported" in str(adcore.UnsupportedOpError(name))
