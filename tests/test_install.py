"""The install stays clean: compiled code is cached in the user's cache directory (never in
an installed package), FWDREV_CACHE_DIR overrides it, and oversized results are refused
before memory fills."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import adcore
import adjit
import dualnum
import tapes
from adjit import cache

PACKAGES = [os.path.dirname(os.path.abspath(m.__file__)) for m in (adcore, adjit, dualnum, tapes)]


def _numba_cache_files(root):
    found = []
    for dirpath, _, files in os.walk(root):
        found += [os.path.join(dirpath, f) for f in files if f.endswith((".nbi", ".nbc"))]
    return found


def test_packages_and_generated_modules_are_ours_user_code_is_not(tmp_path):
    assert cache.is_ours(adcore.__file__)
    assert cache.is_ours(os.path.join(PACKAGES[1], "dual.py"))
    assert cache.is_ours(os.path.join(PACKAGES[1], "tape.py"))
    assert not cache.is_ours(str(tmp_path / "user_code.py"))
    assert not cache.is_ours(__file__)


@pytest.mark.slow  # exhaustive: CI runs it in its own step (pytest -m slow)
def test_compiled_code_is_cached_outside_the_packages(tmp_path):
    """A fresh process with its own cache directory compiles fwdrev's cached kernels: the
    files land there, and not one appears inside a package."""
    before = {p: set(_numba_cache_files(p)) for p in PACKAGES}
    script = textwrap.dedent("""
        import numpy as np, numba, dualnum, tapes
        from bench.problems import rosenbrock_loop  # cache=True functions of a package
        @numba.njit
        def f(x):
            s = 0.0
            for i in range(x.shape[0]):
                s += np.sin(x[i]) * x[i]
            return s
        x = np.linspace(0.1, 1.0, 5)
        assert np.allclose(dualnum.grad(f)(x), tapes.grad(f)(x))
        rosenbrock_loop.ext_rosenbrock(np.ones(4))
    """)
    env = dict(os.environ, FWDREV_CACHE_DIR=str(tmp_path))
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=600)
    assert _numba_cache_files(tmp_path / "numba"), "nothing was cached in FWDREV_CACHE_DIR"
    for p in PACKAGES:
        assert set(_numba_cache_files(p)) == before[p], f"numba cache files written into {p}"


def test_cache_dir_honours_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("FWDREV_CACHE_DIR", str(tmp_path / "c"))
    assert cache.cache_dir() == str(tmp_path / "c")
    assert os.path.isdir(cache.cache_dir("numba"))


@pytest.mark.parametrize("jacobian", [dualnum.jacobian, tapes.jacobian],
                         ids=["forward", "reverse"])
def test_a_jacobian_that_cannot_fit_is_refused_with_the_estimate(jacobian):
    # 1e8 outputs x 1e5 inputs: about 145 TiB; refused at once (NumPy's own MemoryError
    # for the first forward pass, fwdrev's estimate before any sweep in reverse mode)
    f = lambda x: np.broadcast_to(x, (1000, x.size)).ravel() * 2.0  # noqa: E731
    with pytest.raises(MemoryError, match="GiB|TiB"):
        jacobian(f)(np.ones(10 ** 5))


def test_ad_type_names_carry_the_code_tag():
    """numba's on-disk cache keys on type names: a cached derivative of a user's
    ``cache=True`` function must not survive a change of fwdrev's rules or generators."""
    from adjit import dual, scalar_rules as nr, tape
    tag = nr.code_tag()
    assert len(tag) == 10 and int(tag, 16) >= 0
    assert tag in dual.DualType(3).name and tag in dual.DualArrayType(3).name
    assert tag in tape.ActiveType().name and tag in tape.ActiveArrayType().name


def test_an_index_naming_a_module_that_moved_is_a_cache_miss(tmp_path):
    """After an upgrade that moved a module (dualnum.numba_dual -> adjit.dual), a cached
    index pickled with the old types must read as empty (numba recompiles), not raise."""
    import pickle
    import sys
    import types

    import numba
    from numba.core import caching

    from adjit import scalar_rules  # noqa: F401  (installs the locator and the tolerance)
    gone = types.ModuleType("fwdrev_gone_module")
    exec("class Old:\n    pass\n", gone.__dict__)
    gone.Old.__module__ = "fwdrev_gone_module"
    sys.modules["fwdrev_gone_module"] = gone
    try:
        payload = pickle.dumps((("stamp",), {("sig",): gone.Old()}))
    finally:
        del sys.modules["fwdrev_gone_module"]
    cache = caching.IndexDataCacheFile(str(tmp_path), "f-1.py311", ("stamp",))
    with open(cache._index_path, "wb") as fh:
        pickle.dump(numba.__version__, fh, protocol=-1)
        fh.write(payload)
    assert cache._load_index() == {}
