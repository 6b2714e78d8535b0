"""Results files survive concurrency, full disks and kills; the CLI answers bad input in
one line (exit 2), never a traceback; reports escape what they quote."""
import json
import os
import subprocess
import sys

import pytest

from bench import cli, records
from bench.errors import UsageError

FAST = ["--problem", "tanh-net", "--engine", "forward", "--n", "2", "--m", "1",
        "--samples", "1", "--min-time", "0.001", "--max-time", "0.01", "--no-memory"]


def _run(*argv):
    return cli.main(list(argv))


def _results(tmp_path, n_records=2):
    path = tmp_path / "r.jsonl"
    assert _run("run", *FAST, "--out", str(path)) == 0
    return path


def _with_first_record(path, **fields):
    """Rewrite a results file as its header and its first record with ``fields`` changed."""
    lines = path.read_text().splitlines()
    rec = {**json.loads(lines[1]), **fields}
    path.write_text("\n".join([lines[0], json.dumps(rec)]) + "\n")
    return path


def test_a_torn_last_line_is_skipped_and_reported(tmp_path, capsys):
    path = _results(tmp_path)
    _, before = records.read(path)
    with open(path, "a") as fh:
        fh.write('{"kind": "result", "problem": "tanh-ne')  # a killed write
    capsys.readouterr()
    _, after = records.read(path)
    assert len(after) == len(before)
    assert "torn last line" in capsys.readouterr().err
    # --resume repairs the tail and appends on a line of its own
    assert _run("run", *FAST, "--out", str(path), "--resume") == 0
    headers, results = records.read(path)
    assert len(headers) == 2 and len(results) == len(before)


def test_an_invalid_line_before_the_end_names_its_line(tmp_path):
    path = _results(tmp_path)
    lines = path.read_text().splitlines()
    lines.insert(1, "{oops")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UsageError, match=r"r.jsonl:2:"):
        records.read(path)


@pytest.mark.parametrize("content", [b"\xff\xfe not utf8\n", b"[" * 100000 + b"\n",
                                     b'{"kind": "header"}\n'])
def test_garbage_files_are_one_line_errors(tmp_path, capsys, content):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    for command in ("plot", "report"):
        assert _run(command, str(path), "--outdir", str(tmp_path / "o")) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_records_with_wrong_field_types_are_refused(tmp_path, capsys):
    path = _with_first_record(_results(tmp_path), time_median_s="fast")
    assert _run("report", str(path), "--outdir", str(tmp_path / "o")) == 2
    assert "wrong type" in capsys.readouterr().err


@pytest.mark.parametrize("target", ["/dev/null", "fifo"])
def test_special_files_are_refused(tmp_path, capsys, target):
    if target == "fifo":
        target = str(tmp_path / "fifo")
        os.mkfifo(target)
    assert _run("report", target, "--outdir", str(tmp_path / "o")) == 2
    assert _run("run", *FAST, "--out", target, "--overwrite") == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_full_disk_is_a_one_line_error(tmp_path, capsys):
    assert _run("run", *FAST, "--out", "/dev/full", "--overwrite") == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    held = records.lock(str(path))
    try:
        assert _run("run", *FAST, "--out", str(path)) == 2
        assert "another fwdrev run" in capsys.readouterr().err
    finally:
        held.release()
    assert _run("run", *FAST, "--out", str(path)) == 0


def test_two_processes_never_interleave_lines(tmp_path):
    path = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "bench", "run", *FAST, "--n", "2,3,4", "--out", str(path),
           "--overwrite"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    codes = sorted(p.wait(timeout=600) for p in procs)
    assert codes in ([0, 0], [0, 2]), codes  # the second is refused, or ran after the first
    headers, results = records.read(path)  # every line whole
    keys = [records.record_key(r) for r in results]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("option,value", [("--min-time", "1e9"), ("--samples", "100000"),
                                          ("--max-time", "1e6")])
def test_measurement_options_are_bounded(option, value, capsys):
    assert _run("run", *FAST, option, value) == 2
    assert "outside" in capsys.readouterr().err


def test_a_time_budget_stops_starting_records(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    assert _run("run", *FAST, "--n", "2,3,4,5,6,7", "--out", str(path),
                "--time-budget", "0.0001") == 0
    assert "time budget" in capsys.readouterr().err
    _, results = records.read(path)
    assert len(results) < 6


def test_report_escapes_strings_from_the_results(tmp_path):
    path = _results(tmp_path)
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    header["processor"] = "<script>alert(1)</script> | x"
    path.write_text("\n".join([json.dumps(header)] + lines[1:]) + "\n")
    assert _run("report", str(path), "--outdir", str(tmp_path / "o"), "--name", "r") == 0
    md = (tmp_path / "o" / "r.md").read_text()
    assert "<script>" not in md and "&lt;script&gt;" in md


def test_engine_names_that_are_not_names_are_refused(tmp_path, capsys):
    path = _with_first_record(_results(tmp_path), engine="../../etc/passwd")
    assert _run("plot", str(path), "--outdir", str(tmp_path / "o")) == 2


def test_the_report_folder_holds_only_this_reports_plots(tmp_path):
    path = _results(tmp_path)
    out = tmp_path / "o"
    out.mkdir()
    (out / "r-stale-plot.png").write_bytes(b"old")
    (out / "other-plot.png").write_bytes(b"another report's")
    assert _run("report", str(path), "--outdir", str(out), "--name", "r") == 0
    assert not (out / "r-stale-plot.png").exists()
    assert (out / "other-plot.png").exists()


def test_a_disk_that_fills_mid_run_keeps_the_finished_records(tmp_path, capsys, monkeypatch):
    import errno
    path = tmp_path / "r.jsonl"
    real_write = records.Writer.write
    calls = {"n": 0}

    def filling(self, rec):
        calls["n"] += 1
        if calls["n"] == 3:  # header, one record, then the disk is full mid-line
            self._fh.write(json.dumps(rec)[:20])
            self._fh.flush()
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, rec)

    monkeypatch.setattr(records.Writer, "write", filling)
    assert _run("run", *FAST, "--n", "2,3,4", "--out", str(path)) == 2
    err = capsys.readouterr().err
    assert "No space left" in err and "Traceback" not in err
    monkeypatch.setattr(records.Writer, "write", real_write)
    _, results = records.read(path)
    assert len(results) == 1
    assert _run("run", *FAST, "--n", "2,3,4", "--out", str(path), "--resume") == 0
    _, results = records.read(path)
    assert len(records.latest(results)) == 3


def test_several_missing_engines_are_one_line(tmp_path, capsys, monkeypatch):
    from bench import engines

    from bench.engines.fd import FiniteDifferenceEngine

    def ghost(engine_name):
        return type("Ghost", (FiniteDifferenceEngine,),
                    {"name": engine_name, "requires": (f"no_such_module_{engine_name[-1]}",)})()

    for name in ("ghost-a", "ghost-b"):
        monkeypatch.setitem(engines.ENGINES, name, ghost(name))
    assert _run("run", *FAST[:2], "--engine", "ghost-a,ghost-b,forward",
                *FAST[4:], "--out", str(tmp_path / "r.jsonl")) == 0
    skips = [line for line in capsys.readouterr().err.splitlines() if "skipping" in line]
    assert len(skips) == 1 and "ghost-a" in skips[0] and "ghost-b" in skips[0]


def test_each_engine_is_compared_with_the_primal_of_its_own_tier(tmp_path):
    pytest.importorskip("numba")
    path = tmp_path / "r.jsonl"
    assert _run("run", "--problem", "logistic-loop", "--engine", "forward,forward-jit",
                "--depth", "2000", "--samples", "2", "--min-time", "0.001", "--max-time",
                "0.05", "--no-memory", "--out", str(path)) == 0
    _, results = records.read(path)
    by = {r["engine"]: r for r in results}
    assert by["forward-jit"]["fun_tier"] == "compiled" and by["forward"]["fun_tier"] == "python"
    # the Python engine is divided by the (slower) Python loop, not by the kernel
    py, jit = by["forward"], by["forward-jit"]
    assert py["fun_time_median_s"] > jit["fun_time_median_s"]
    assert py["grad_fun_ratio"] == pytest.approx(py["time_median_s"] / py["fun_time_median_s"])
    assert jit["grad_fun_ratio"] == pytest.approx(jit["time_median_s"] / jit["fun_time_median_s"])
