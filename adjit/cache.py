"""Where fwdrev's compiled code is cached: the user's cache directory, never a package.

numba's ``cache=True`` writes next to a function's source file (``__pycache__``) by
default. For an installed fwdrev that is ``site-packages/{adjit,bench}``:
read-only on a system install, and a left-behind ``__pycache__`` folder shadows the real
package after a later editable install (``import bench`` then finds a namespace package).
:func:`install` puts a cache locator in front of numba's own for the functions of
fwdrev's packages and of the modules it generates, and only those: a user's own
``cache=True`` functions keep numba's defaults.

The directory is ``$FWDREV_CACHE_DIR`` if set, else the platform's user cache directory
(``platformdirs.user_cache_dir("fwdrev")``, e.g. ``~/.cache/fwdrev``), else a per-user
temporary directory when neither is writable. Compiled code lives in its ``numba/``
subfolder, generated kernel sources in ``generated/``; deleting the folder is always safe.
"""
from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import threading

# fwdrev's packages whose files may hold cache=True functions (siblings of this one):
# adjit, the compiled tier itself, and bench's problems' @njit forms among them
_PACKAGES = ("adcore", "adjit", "dualnum", "tapes", "bench")
_lock = threading.Lock()
_installed = False


def _writable(path: str) -> bool:
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".probe{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
        return True
    except OSError:
        return False


@functools.lru_cache(maxsize=None)
def _resolve(env: str | None) -> str:
    import platformdirs
    candidates = (env, platformdirs.user_cache_dir("fwdrev", appauthor=False),
                  os.path.join(tempfile.gettempdir(), f"fwdrev-{os.getuid()}"))
    for cand in candidates:
        if cand and _writable(cand):
            return os.path.abspath(cand)
    raise OSError("no writable cache directory for fwdrev's compiled code; set "
                  "FWDREV_CACHE_DIR to a writable folder")


def cache_dir(sub: str = "") -> str:
    """The cache directory (or its subfolder ``sub``), created if missing."""
    root = _resolve(os.environ.get("FWDREV_CACHE_DIR") or None)
    path = os.path.join(root, sub) if sub else root
    os.makedirs(path, exist_ok=True)
    return path


def _package_roots() -> tuple:
    here = os.path.dirname(os.path.abspath(__file__))
    parent = os.path.dirname(here)
    return tuple(os.path.join(parent, p) + os.sep for p in _PACKAGES)


def is_ours(py_file: str) -> bool:
    """True for a source file of fwdrev's packages or of a module fwdrev generated."""
    path = os.path.abspath(py_file)
    return path.startswith(_package_roots()) or path.startswith(cache_dir() + os.sep)


def install() -> None:
    """Route numba's on-disk cache of fwdrev's functions to :func:`cache_dir` (idempotent;
    imports numba)."""
    global _installed
    with _lock:
        if _installed:
            return
        from numba.core import caching

        class FwdrevCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
            """fwdrev's functions: cached under ``cache_dir('numba')``, keyed by source path."""

            def __init__(self, py_func, py_file):
                self._py_file = py_file
                self._lineno = py_func.__code__.co_firstlineno
                source_dir = os.path.dirname(os.path.abspath(py_file))
                digest = hashlib.sha1(source_dir.encode()).hexdigest()[:16]
                self._cache_path = os.path.join(
                    cache_dir("numba"), f"{os.path.basename(source_dir)}_{digest}")

            def get_cache_path(self):
                return self._cache_path

            @classmethod
            def from_function(cls, py_func, py_file):
                if not is_ours(py_file):
                    return None
                return super().from_function(py_func, py_file)

        caching.CacheImpl._locator_classes.insert(0, FwdrevCacheLocator)
        _tolerate_stale_indexes(caching)
        _installed = True


def _tolerate_stale_indexes(caching) -> None:
    """An index numba cannot unpickle is a cache miss, not an error.

    A cached function compiled on fwdrev's AD types (a user's ``@njit(cache=True)``
    function differentiated by dualnum or tapes, or bench's problems) pickles those types
    into its index. After fwdrev moves or renames a module (``dualnum.numba_dual`` became
    ``adjit.dual``), unpickling that index raises ImportError, and numba would propagate it
    from the first call. A miss instead: numba compiles again and rewrites the index. (The
    AD types' names carry :func:`adjit.scalar_rules.code_tag`, so a stale entry never
    matches a new signature anyway.)"""
    original = caching.IndexDataCacheFile._load_index
    if getattr(original, "_fwdrev_tolerant", False):
        return

    import pickle

    def _load_index(self):
        try:
            return original(self)
        except (ImportError, AttributeError, EOFError, pickle.UnpicklingError):
            return {}

    _load_index._fwdrev_tolerant = True
    caching.IndexDataCacheFile._load_index = _load_index
