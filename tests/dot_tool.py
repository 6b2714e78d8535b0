"""Graphviz's dot program for the rendering tests: CI installs it (.ci/run), so there a
missing dot is a failure; elsewhere the rendering tests skip."""
import os
import shutil

import pytest


def need_dot():
    if shutil.which("dot") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Graphviz (.ci/run does)")
        pytest.skip("Graphviz's dot program is not installed")
