"""The fwdrev CLI end to end: help, list, bad input (exit 2, nothing written), missing
and wrong engines, resume, and the smoke suite CI relies on."""

import json
import subprocess
import sys

import numpy as np
import pytest

from bench import FORMAT_VERSION, engines, records
from bench.cli import main
from bench.engines.fd import FiniteDifferenceEngine

TINY = ["--no-memory", "--min-time", "0.001", "--samples", "3"]


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("sub", [[], ["run"], ["plot"], ["report"], ["list"]])
def test_help_on_every_subcommand(sub, capsys):
    assert main([*sub, "--help"]) == 0
    assert "usage: fwdrev" in capsys.readouterr().out


def test_python_dash_m_bench_is_the_cli():
    proc = subprocess.run([sys.executable, "-m", "bench", "list"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in ("tanh-net", "logistic-map", "homework", "forward", "reverse", "fd",
                 "default", FORMAT_VERSION):
        assert name in proc.stdout


BAD_RUNS = [
    (["--problem", "nope"], "unknown problem 'nope'"),
    (["--problem", "tanh-net", "--engine", "forward,nope"], "unknown engine 'nope'"),
    (["--problem", "tanh-net", "--n", "0"], "must be >= 1"),
    (["--problem", "tanh-net", "--n", "-3"], "not a positive integer"),
    (["--problem", "tanh-net", "--n", "1.5"], "not a positive integer"),
    (["--problem", "tanh-net", "--n", "abc"], "not a positive integer"),
    (["--problem", "tanh-net", "--n", "1,,4"], "malformed list"),
    (["--problem", "tanh-net", "--m", ""], "malformed list"),
    (["--problem", "tanh-net", "--engine", "forward,"], "malformed list"),
    (["--problem", "rosenbrock", "--depth", "3"], "'depth' knob"),
    (["--problem", "rosenbrock", "--n", "1"], "n >= 2"),
    (["--problem", "rosenbrock", "--param", "r=4"], "parameter 'r'"),
    (["--problem", "logistic-map", "--param", "r=abc"], "not a number"),
    (["--problem", "logistic-map", "--param", "=3"], "malformed --param"),
    (["--problem", "tanh-net", "--engine", "fd", "--chunk", "2"], "chunk setting"),
    (["--problem", "tanh-net", "--resume", "--overwrite"], "exclude each other"),
    (["--suite", "nope"], "unknown suite"),
    (["--n", "4"], "need --problem"),
    (["--problem", "layer-chain", "--n", "200000", "--depth", "50"], "estimated"),
    (["--problem", "tanh-net", "--samples", "0"], "must be >= 1"),
    (["--problem", "tanh-net", "--samples", "3,4"], "single positive integer"),
    (["--out", "{tmp}/no-such-dir/r.jsonl"], "does not exist"),
    (["--problem", "tanh-net", "--min-time", "-1"], "positive number"),
]


@pytest.mark.parametrize("args, message", BAD_RUNS)
def test_bad_run_input_is_one_line_exit_2_and_writes_nothing(args, message, tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    args = [a.format(tmp=tmp_path) for a in args]
    if "--out" not in args:
        args += ["--out", str(out)]
    status, _, err = run(capsys, "run", *args)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_memory_refusal_names_the_estimate(tmp_path, capsys):
    status, _, err = run(capsys, "run", "--problem", "tanh-net", "--n", "400000",
                         "--m", "400000", "--out", str(tmp_path / "r.jsonl"))
    assert status == 2
    assert "refusing tanh-net" in err and "GiB" in err and "available" in err


@pytest.mark.parametrize("out", ["/proc/fwdrev.jsonl", "{tmp}/missing-dir/r.jsonl", "{tmp}"])
def test_unusable_output_paths(out, tmp_path, capsys):
    status, _, err = run(capsys, "run", "--problem", "lecture", "--out",
                         out.format(tmp=tmp_path))
    assert status == 2 and len(err.strip().splitlines()) == 1


def _tiny_run(capsys, out, *extra):
    return run(capsys, "run", "--problem", "tanh-net", "--engine", "forward,reverse",
               "--n", "1,2", "--m", "1,2", "--out", str(out), *TINY, *extra)


def test_existing_results_are_never_overwritten_silently(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert _tiny_run(capsys, out)[0] == 0
    before = out.read_bytes()
    status, _, err = _tiny_run(capsys, out)
    assert status == 2 and "--resume" in err
    assert out.read_bytes() == before
    # an incompatible file is refused for --resume, and left alone
    out.write_text(json.dumps({"kind": "header", "format": "fwdrev-bench/0"}) + "\n")
    before = out.read_bytes()
    status, _, err = _tiny_run(capsys, out, "--resume")
    assert status == 2 and "incompatible" in err
    assert out.read_bytes() == before


def test_plot_and_report_refuse_bad_files(tmp_path, capsys):
    bad = tmp_path / "old.jsonl"
    bad.write_text(json.dumps({"kind": "header", "format": "fwdrev-bench/0"}) + "\n")
    for cmd in (["plot", str(bad)], ["report", str(bad), "--outdir", str(tmp_path / "rep")],
                ["report", str(tmp_path / "missing.jsonl")]):
        status, _, err = run(capsys, *cmd)
        assert status == 2 and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.jsonl"]


def test_resume_completes_an_interrupted_run(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert _tiny_run(capsys, out)[0] == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + 8                       # header + 2 n x 2 m x 2 engines
    out.write_text("\n".join(lines[:-3]) + "\n")      # as if killed after 5 records
    status, stdout, _ = _tiny_run(capsys, out, "--resume")
    assert status == 0
    assert "wrote 3 records" in stdout and "5 already done" in stdout
    headers, results = records.read(out)
    assert len(headers) == 2 and len(results) == 8
    assert len({records.record_key(r) for r in results}) == 8
    # nothing left to do: a second resume writes no record
    status, stdout, _ = _tiny_run(capsys, out, "--resume")
    assert status == 0 and "wrote 0 records" in stdout


class _Ghost(FiniteDifferenceEngine):
    name = "ghost"
    requires = ("no_such_module_for_fwdrev_tests",)


class _Broken(FiniteDifferenceEngine):
    """Finite differences, but 1% off: the correctness check must catch it."""

    name = "broken"
    exact = True

    def build(self, f, x, scalar, settings):
        inner = super().build(f, x, scalar, settings)
        return lambda v: 1.01 * inner(v)


def test_missing_engine_is_skipped_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(engines.ENGINES, "ghost", _Ghost())
    out = tmp_path / "r.jsonl"
    status, _, err = run(capsys, "run", "--problem", "lecture", "--engine", "ghost,forward",
                         "--out", str(out), *TINY)
    assert status == 0
    assert [line for line in err.strip().splitlines() if not line.startswith("[")] == [
        "fwdrev: skipping engine 'ghost': no_such_module_for_fwdrev_tests is not installed "
        "(No module named 'no_such_module_for_fwdrev_tests')"]
    _, results = records.read(out)
    assert [r["engine"] for r in results] == ["forward"]
    # only missing engines: nothing to run is bad input
    status, _, err = run(capsys, "run", "--problem", "lecture", "--engine", "ghost",
                         "--out", str(tmp_path / "s.jsonl"), *TINY)
    assert status == 2 and "nothing to run" in err


def test_a_wrong_engine_is_flagged_in_records_report_and_exit_status(monkeypatch, tmp_path,
                                                                      capsys):
    monkeypatch.setitem(engines.ENGINES, "broken", _Broken())
    out = tmp_path / "r.jsonl"
    status, _, err = run(capsys, "run", "--problem", "tanh-net", "--engine", "broken,forward",
                         "--n", "3", "--m", "2", "--out", str(out), *TINY)
    assert status == 1
    assert "WRONG result" in err
    _, results = records.read(out)
    by = {r["engine"]: r for r in results}
    assert by["broken"]["ok"] is False and by["broken"]["reference"] == "reverse"
    assert by["broken"]["max_rel_error"] == pytest.approx(0.01, rel=1e-3)
    assert by["forward"]["ok"] is True
    status, stdout, _ = run(capsys, "report", str(out), "--outdir", str(tmp_path))
    md = (tmp_path / "r.md").read_text()
    assert "**WRONG**: tanh-net broken" in md
    assert "1 of 2 records agree" in md


def test_engine_failure_becomes_a_flagged_record(monkeypatch, tmp_path, capsys):
    class Crashing(FiniteDifferenceEngine):
        name = "crashing"

        def build(self, f, x, scalar, settings):
            raise RuntimeError("no rule for this op\nsecond line")

    monkeypatch.setitem(engines.ENGINES, "crashing", Crashing())
    out = tmp_path / "r.jsonl"
    status, _, err = run(capsys, "run", "--problem", "lecture", "--engine", "crashing",
                         "--out", str(out), *TINY)
    assert status == 1 and "Traceback" not in err
    _, (rec,) = records.read(out)
    assert rec["error"] == "RuntimeError: no rule for this op" and rec["ok"] is False


@pytest.mark.slow  # exhaustive: CI runs it in its own step (pytest -m slow)
def test_smoke_suite_runs_end_to_end(tmp_path, capsys):
    """The CI smoke run: every problem and engine on a tiny grid, with memory."""
    outdir = tmp_path / "reports"
    status, stdout, err = run(capsys, "run", "--suite", "smoke", "--outdir", str(outdir),
                              "--min-time", "0.002", "--samples", "3")
    assert status == 0, err
    assert "\r" not in err                             # plain progress lines off a TTY
    headers, results = records.read(outdir / "smoke.jsonl")
    assert headers[0]["argv"][:2] == ["fwdrev", "run"]
    engines_seen = {r["engine"] for r in results}
    assert engines_seen == {"forward", "reverse", "fd", "forward-fused", "reverse-fused"}
    assert {r["problem"] for r in results} == {
        "tanh-net", "rosenbrock", "logreg", "mlp-loss", "logistic-map", "layer-chain",
        "lecture", "homework"}
    for r in results:
        assert r["ok"] is True, r
        assert r["time_median_s"] > 0 and r["first_call_s"] > 0
        assert r["peak_mem_bytes"] is not None and r["mem_method"] == "hwm-reset"
        for field in ("problem", "engine", "n", "m", "depth", "time_min_s", "max_rel_error"):
            assert field in r
    assert any("tape_bytes" in r["engine_sizes"] for r in results)
    md = (outdir / "smoke.md").read_text()
    assert "## Findings" in md and "smoke-ratio-tanh-net.png" in md
    assert (outdir / "smoke-ratio-tanh-net.png").stat().st_size > 10_000
    # re-running the suite replaces its own results (a fresh clone has them committed)
    status, _, _ = run(capsys, "run", "--suite", "smoke", "--outdir", str(outdir),
                       "--no-memory", "--min-time", "0.001", "--samples", "1", "--no-report")
    assert status == 0
    headers, results2 = records.read(outdir / "smoke.jsonl")
    assert len(headers) == 1 and len(results2) == len(results)


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_elsewhere():
    import io

    from bench.progress import Progress

    log = io.StringIO()
    p = Progress(3, stream=log)  # not a terminal: one plain line per record, no \r
    p.update(0, "tanh-net forward n=4")
    p.update(1, "tanh-net reverse n=4")
    p.close()
    lines = log.getvalue().splitlines()
    assert [line.split("] ")[1] for line in lines] == ["tanh-net forward n=4",
                                                       "tanh-net reverse n=4"]
    assert lines[0].startswith("[1/3 0:00]") and "ETA" in lines[1] and "\r" not in log.getvalue()
    tty = io.StringIO()
    p = Progress(3, stream=tty, enabled=True)
    p.update(1, "tanh-net forward n=4")
    assert "\r" in tty.getvalue() and "tanh-net forward n=4" in tty.getvalue()
    assert "1/3" in tty.getvalue()
    p.close()


def test_chunk_sweep_and_params_are_record_settings(tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    status, _, _ = run(capsys, "run", "--problem", "tanh-net,logistic-map", "--engine",
                       "forward,fd", "--n", "3", "--chunk", "1,3", "--param", "r=3,3.5",
                       "--depth", "4", "--out", str(out), *TINY)
    assert status == 0
    _, results = records.read(out)
    fwd_tanh = [r for r in results if r["problem"] == "tanh-net" and r["engine"] == "forward"]
    assert sorted(r["settings"]["chunk"] for r in fwd_tanh) == [1, 3]
    assert {r["engine_sizes"]["passes"] for r in fwd_tanh} == {3, 1}
    maps = [r for r in results if r["problem"] == "logistic-map"]
    assert sorted({r["params"]["r"] for r in maps}) == [3.0, 3.5]
    assert all(r["settings"] == {} for r in results if r["engine"] == "fd")
    assert all(np.isfinite(r["max_rel_error"]) for r in results)


def test_an_interrupted_run_keeps_its_records_and_resumes(monkeypatch, tmp_path, capsys):
    from bench import sweep

    real = sweep.measure_job
    calls = {"n": 0}

    def interrupt_after_three(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "measure_job", interrupt_after_three)
    out = tmp_path / "r.jsonl"
    status, _, err = _tiny_run(capsys, out)
    assert status == 130 and "--resume" in err
    _, results = records.read(out)
    assert len(results) == 3                          # every finished record is on disk
    monkeypatch.setattr(sweep, "measure_job", real)
    status, stdout, _ = _tiny_run(capsys, out, "--resume")
    assert status == 0 and "wrote 5 records" in stdout and "3 already done" in stdout
