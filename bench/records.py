"""The results file: JSON Lines, one header per run segment, one record per point.

Line kinds (field ``kind``):

- ``header`` -- written when a run starts (and again when ``--resume`` continues
  it): ``format`` (:data:`bench.FORMAT_VERSION`), ``machine``, ``platform``,
  ``cpu_count``, ``python``, ``numpy``, ``numba``, ``fwdrev``, ``argv``, ``started``.
- ``result`` -- one measured (problem, engine, settings, params, n, m, depth, seed):
  see :func:`bench.sweep.measure_job` for the fields.

The file is append-only and each line is flushed when written, so an interrupted
sweep keeps every finished record; ``--resume`` skips the records already present
(those without an ``error``).  Readers refuse a file whose header ``format`` differs
from this version's, or that has a malformed line.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import sys

from bench import FORMAT_VERSION
from bench.errors import UsageError

KEY_FIELDS = ("problem", "engine", "n", "m", "depth", "params", "settings", "seed")


def record_key(rec: dict) -> tuple:
    """Identity of a record: what ``--resume`` compares (dicts compared as sorted JSON)."""
    return tuple(json.dumps(rec.get(f), sort_keys=True) for f in KEY_FIELDS)


def _version(mod):
    try:
        return __import__(mod).__version__
    except Exception:          # noqa: BLE001 -- a broken optional import is just "absent"
        return None


def make_header(argv, timing=None) -> dict:
    """The header record for a run started with command line ``argv``.

    ``timing``: the measurement options (dict) the run uses, kept for the report.
    """
    from importlib import metadata
    try:
        fwdrev = metadata.version("fwdrev")
    except metadata.PackageNotFoundError:
        fwdrev = "source"
    return {
        "kind": "header",
        "format": FORMAT_VERSION,
        "machine": platform.machine(),
        "platform": platform.platform(),
        "processor": platform.processor() or _cpu_model(),
        "cpu_count": os.cpu_count(),
        # Other work on the machine skews timings: say how busy it was at the start.
        "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "numba": _version("numba"),
        "fwdrev": fwdrev,
        "argv": list(argv),
        "timing": timing or {},
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def read(path) -> tuple[list, list]:
    """Read a results file -> ``(headers, results)``.

    Raises ``UsageError`` (one line) if the file is missing, unreadable, has no header,
    has a malformed line, or was written by an incompatible format version.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read results file {path}: {exc.strerror or exc}") from None
    headers, results = [], []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            kind = rec["kind"]
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"{path}:{lineno}: not a results record (malformed JSON line)") from None
        if kind == "header":
            if rec.get("format") != FORMAT_VERSION:
                raise UsageError(f"{path}: results format {rec.get('format')!r} is not "
                                 f"{FORMAT_VERSION!r} (written by an incompatible version)")
            headers.append(rec)
        elif kind == "result":
            if not headers:
                raise UsageError(f"{path}:{lineno}: result before any header")
            results.append(rec)
    if not headers:
        raise UsageError(f"{path}: no header record (not a fwdrev results file)")
    return headers, results


def latest(results) -> list:
    """One record per key, the last one written (a resumed retry replaces a failure)."""
    by_key = {}
    for rec in results:
        by_key[record_key(rec)] = rec
    return list(by_key.values())


def check_output(path, *, resume=False, overwrite=False) -> set:
    """Validate ``path`` as a results destination before anything runs.

    Returns the keys already done (``resume``), else an empty set.  Raises
    ``UsageError`` if the directory is missing or unwritable, the path is a
    directory, or it holds results and neither ``resume`` nor ``overwrite`` is set.
    Nothing is created or changed here.
    """
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    if os.path.isdir(path):
        raise UsageError(f"output {path} is a directory")
    if not os.path.isdir(parent):
        raise UsageError(f"output directory {parent} does not exist")
    if not writable(path):
        raise UsageError(f"output {path} is not writable")
    if os.path.exists(path) and os.path.getsize(path) > 0:
        if resume:
            _, results = read(path)
            return {record_key(r) for r in results if not r.get("error")}
        if not overwrite:
            raise UsageError(f"{path} already holds results; pass --resume to complete it "
                             "or --overwrite to replace it")
    return set()


def writable(path) -> bool:
    """Whether ``path`` can be appended to (or created), tested by trying: permission
    bits say little for root or on special file systems.  Leaves nothing behind; an
    existing file is opened for append and closed unchanged."""
    import tempfile

    try:
        if os.path.exists(path):
            with open(path, "a", encoding="utf-8"):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=os.path.dirname(path), prefix=".fwdrev-probe-"):
                pass
    except OSError:
        return False
    return True


class Writer:
    """Append-only JSON Lines writer; every line is flushed to the OS when written."""

    def __init__(self, path, *, truncate=False):
        self.path = path
        self._fh = open(path, "w" if truncate else "a", encoding="utf-8")

    def write(self, rec: dict):
        # Strict JSON (readable by jq & co.): non-finite floats become null; the
        # record's ``ok``/``error`` fields say what went wrong.
        self._fh.write(json.dumps(_finite(rec), allow_nan=False) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self):
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def argv_string(argv=None) -> str:
    """The command line as one shell-like string, for headers and reports."""
    import shlex
    argv = sys.argv if argv is None else argv
    return " ".join(shlex.quote(a) for a in argv)
