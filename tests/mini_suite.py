"""Running a shrunken suite end to end in a test (the lecture and beyond suites' reports)."""
from bench import suites
from bench.cli import main


def run_mini_suite(suite, tmp_path, monkeypatch, capsys, sections):
    """Run ``suite`` (registered under its name for the test) fast, check that it exits 0 and
    that its report has every heading in ``sections``; returns ``(outdir, markdown)``."""
    monkeypatch.setitem(suites.SUITES, suite.name, suite)
    outdir = tmp_path / "reports"
    status = main(["run", "--suite", suite.name, "--outdir", str(outdir), "--no-memory",
                   "--min-time", "0.001", "--samples", "2"])
    err = capsys.readouterr().err
    assert status == 0, err
    md = (outdir / f"{suite.name}.md").read_text(encoding="utf-8")
    for heading in sections:
        assert heading in md, heading
    return outdir, md
