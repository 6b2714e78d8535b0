"""bench.records: the JSON Lines format, version checks, flushing and resume keys."""

import json

import pytest

from bench import FORMAT_VERSION, records
from bench.errors import UsageError


def result(**kw):
    rec = {"kind": "result", "problem": "tanh-net", "engine": "forward", "n": 4, "m": 2,
           "depth": None, "params": {}, "settings": {"chunk": None}, "seed": 0,
           "time_median_s": 1e-3, "error": None}
    rec.update(kw)
    return rec


def test_header_has_machine_and_versions():
    h = records.make_header(["fwdrev", "run"], timing={"samples": 5})
    for field in ("machine", "cpu_count", "python", "numpy", "numba", "argv", "format"):
        assert field in h
    assert h["format"] == FORMAT_VERSION and h["argv"] == ["fwdrev", "run"]
    assert h["timing"] == {"samples": 5}


def test_each_record_is_on_disk_as_soon_as_written(tmp_path):
    path = tmp_path / "r.jsonl"
    with records.Writer(path) as w:
        w.write(records.make_header([]))
        w.write(result())
        # read while the writer is still open: an interrupted run keeps this much
        headers, results = records.read(path)
        assert len(headers) == 1 and len(results) == 1


def test_non_finite_floats_become_null(tmp_path):
    path = tmp_path / "r.jsonl"
    with records.Writer(path) as w:
        w.write(records.make_header([]))
        w.write(result(max_rel_error=float("nan"), time_median_s=float("inf")))
    line = path.read_text().splitlines()[1]
    assert "NaN" not in line and "Infinity" not in line
    assert json.loads(line)["max_rel_error"] is None


def test_read_refuses_other_versions_and_malformed_lines(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"kind": "header", "format": "fwdrev-bench/0"}) + "\n")
    with pytest.raises(UsageError, match="incompatible"):
        records.read(path)
    path.write_text(json.dumps(records.make_header([])) + "\n{not json\n")
    with pytest.raises(UsageError, match=r"r.jsonl:2: .*malformed"):
        records.read(path)
    path.write_text(json.dumps(result()) + "\n")
    with pytest.raises(UsageError, match="before any header"):
        records.read(path)
    with pytest.raises(UsageError, match="cannot read"):
        records.read(tmp_path / "missing.jsonl")


def test_keys_ignore_measurements_and_latest_keeps_the_last():
    a, b = result(time_median_s=1.0), result(time_median_s=2.0)
    assert records.record_key(a) == records.record_key(b)
    assert records.record_key(a) != records.record_key(result(settings={"chunk": 4}))
    assert records.record_key(a) != records.record_key(result(params={"r": 4.0}))
    assert records.latest([a, b]) == [b]


def test_check_output(tmp_path):
    path = tmp_path / "r.jsonl"
    assert records.check_output(path) == set()          # new file: fine
    with records.Writer(path) as w:
        w.write(records.make_header([]))
        w.write(result())
        w.write(result(n=8, error="boom"))
    with pytest.raises(UsageError, match="--resume"):
        records.check_output(path)
    assert records.check_output(path, overwrite=True) == set()
    done = records.check_output(path, resume=True)
    assert done == {records.record_key(result())}       # the failed one is redone
    with pytest.raises(UsageError, match="does not exist"):
        records.check_output(tmp_path / "nodir" / "r.jsonl")
    with pytest.raises(UsageError, match="is a directory"):
        records.check_output(tmp_path)
