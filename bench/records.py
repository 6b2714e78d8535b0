"""The results file: JSON Lines, one header per run segment, one record per point.

Line kinds (field ``kind``):

- ``header`` -- written when a run starts (and again when ``--resume`` continues
  it): ``format`` (:data:`bench.FORMAT_VERSION`), ``machine``, ``platform``,
  ``cpu_count``, ``python``, ``numpy``, ``numba``, ``fwdrev``, ``argv``, ``started``.
- ``result`` -- one measured (problem, engine, settings, params, n, m, depth, seed):
  see :func:`bench.sweep.measure_job` for the fields.

The file is append-only and each line is flushed when written, so an interrupted
sweep keeps every finished record; ``--resume`` skips the records already present
(those without an ``error``). One run writes a file at a time (:func:`lock`). Readers
skip a torn last line (reported), and refuse a file whose header ``format`` differs from
this version's, or that has a malformed line elsewhere (naming its line number).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import re
import stat
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


# The fields the plots and the report read, with the JSON types they may have.
_NUM = (int, float)
FIELD_TYPES = {
    "problem": (str,), "engine": (str,), "n": (int, type(None)), "m": (int, type(None)),
    "depth": (int, type(None)), "seed": (int, type(None)), "params": (dict, type(None)),
    "settings": (dict, type(None)), "ok": (bool, type(None)), "error": (str, type(None)),
    "time_median_s": _NUM + (type(None),), "time_min_s": _NUM + (type(None),),
    "time_spread": _NUM + (type(None),), "fun_time_median_s": _NUM + (type(None),),
    "grad_fun_ratio": _NUM + (type(None),), "peak_mem_bytes": _NUM + (type(None),),
    "max_rel_error": _NUM + (type(None),), "engine_sizes": (dict, list, type(None)),
    "in_size": (int, type(None)), "out_size": (int, type(None)),
}
# Engine-reported counts inside ``engine_sizes`` that the report reads, with their types.
# ``flops``: floating-point operations of one derivative call (the jacobian-chain engines,
# bench/engines/chain.py), recorded beside the times; absent in older files, which stay
# valid.
ENGINE_SIZE_TYPES = {"flops": (int, float, type(None))}
# names end up in file names and in the report: letters, digits and . _ - only
_NAME = re.compile(r"^[A-Za-z0-9][\w.+-]{0,80}$")


def _check_record(rec: dict, where: str):
    for field, types in FIELD_TYPES.items():
        if field in rec and (not isinstance(rec[field], types)
                             or (isinstance(rec[field], bool) and bool not in types)):
            raise UsageError(f"{where}: field {field!r} has the wrong type "
                             f"({type(rec[field]).__name__})")
    sizes = rec.get("engine_sizes")
    if isinstance(sizes, dict):
        for field, types in ENGINE_SIZE_TYPES.items():
            if field in sizes and (not isinstance(sizes[field], types)
                                   or isinstance(sizes[field], bool)):
                raise UsageError(f"{where}: engine_sizes field {field!r} has the wrong type "
                                 f"({type(sizes[field]).__name__})")
    for field in ("problem", "engine"):
        if not _NAME.match(str(rec.get(field, ""))):
            raise UsageError(f"{where}: {field} name {str(rec.get(field))[:40]!r} is not a "
                             "fwdrev name (letters, digits, '.', '_', '-')")


def _open_regular(path):
    """Open a results file for reading: a regular file only (a FIFO would block forever,
    a device is not a results file)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot read results file {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{path} is not a regular file (a results file is a JSON Lines file)")
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read results file {path}: {exc.strerror or exc}") from None


def read(path, warn=None) -> tuple[list, list]:
    """Read a results file -> ``(headers, results)``.

    A torn *last* line (a run killed mid-write, a full disk) is skipped and reported in
    one line through ``warn`` (default: standard error); every finished record is kept.
    Raises ``UsageError`` (one line, naming the line number where it applies) if the file
    is missing, not a regular file, not UTF-8, has no header, has a malformed line before
    the last, a record with a field of the wrong type, or was written by an incompatible
    format version.
    """
    data = _open_regular(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise UsageError(f"{path}:{line}: not UTF-8 text (not a fwdrev results file)") from None
    lines = text.split("\n")
    complete = text.endswith("\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    headers, results = [], []
    for index, line in enumerate(lines):
        lineno = index + 1
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            kind = rec["kind"]
        except (ValueError, KeyError, TypeError, RecursionError):
            if index == last and not complete:  # no newline after it: cut mid-write
                (warn or _stderr)(f"fwdrev: {path}:{lineno}: skipped a torn last line (an "
                                  "interrupted write); the records before it are kept")
                continue
            raise UsageError(f"{path}:{lineno}: not a results record (malformed JSON line)") from None
        if not isinstance(rec, dict):
            raise UsageError(f"{path}:{lineno}: not a results record")
        if kind == "header":
            if rec.get("format") != FORMAT_VERSION:
                raise UsageError(f"{path}: results format {rec.get('format')!r} is not "
                                 f"{FORMAT_VERSION!r} (written by an incompatible version)")
            headers.append(rec)
        elif kind == "result":
            if not headers:
                raise UsageError(f"{path}:{lineno}: result before any header")
            _check_record(rec, f"{path}:{lineno}")
            results.append(rec)
    if not headers:
        raise UsageError(f"{path}: no header record (not a fwdrev results file)")
    return headers, results


def _stderr(message):
    print(message, file=sys.stderr)


class Locked(UsageError):
    """Another fwdrev process holds the lock of a results file."""


def lock(path):
    """An exclusive, non-blocking lock on the results file ``path`` (held for the run).

    A second ``fwdrev run`` writing the same file (or the same suite into one --outdir) is
    refused at once with a one-line error (exit status 2) instead of interleaving its
    lines with the first one's. The lock is the OS's (``filelock``): a killed run releases
    it. The lock file ``.<name>.lock`` beside ``path`` is left in place, empty.
    """
    import filelock

    where = os.path.abspath(path)
    lock_path = os.path.join(os.path.dirname(where), "." + os.path.basename(where) + ".lock")
    lk = filelock.FileLock(lock_path, timeout=0)
    try:
        lk.acquire()
    except filelock.Timeout:
        raise Locked(f"{path} is being written by another fwdrev run (lock {lock_path}); "
                     "wait for it to finish, or write to another --out/--outdir") from None
    except OSError as exc:
        raise UsageError(f"cannot lock {path}: {exc.strerror or exc}") from None
    return lk


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
    if os.path.exists(path) and not stat.S_ISREG(os.stat(path).st_mode):
        raise UsageError(f"output {path} is not a regular file (a device or a pipe cannot "
                         "hold results that --resume, plot and report read back)")
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
        if not truncate:
            _drop_torn_tail(path)
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


def _drop_torn_tail(path):
    """Before appending (--resume): cut a torn last line, so the next record starts on a
    line of its own instead of gluing onto half a record."""
    try:
        with open(path, "rb+") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            if size == 0:
                return
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            fh.seek(0)
            data = fh.read()
            fh.truncate(data.rfind(b"\n") + 1)
    except OSError:
        pass  # not a regular file or not there yet: nothing to repair


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
