"""The beyond suite (``fwdrev run --suite beyond``, issue 14): a mini run writes every
section and picture, with mode='auto' beside both modes from the harness's records and the
colour counts and recomputation counts at their known optima. No timing assertions."""
import re

from bench.suites import Entry, Suite
from mini_suite import run_mini_suite

MINI = Suite(
    name="beyond", summary="mini",
    entries=(Entry(("tanh-net",), ("forward", "reverse", "auto"), n=[1, 16], m=[1, 16]),),
    report="bench.beyond:write_report",
    report_options=dict(hvp_ns=(16, 256), hessian_ns=(4, 8), banded_ns=(50, 200),
                        ba_sizes=((2, 4, 8),), scan_steps=40, scan_snapshots=(2, 5, 40),
                        chain_depths=(2, 4), chain_width=2000, max_time_s=0.05, samples=2))
SECTIONS = ("## 1. Second order", "## 2. Mode choice", "## 3. Sparse Jacobians and Hessians",
            "## 4. Checkpointing", "## 5. Pytrees")


def test_mini_beyond_suite_writes_every_section_and_picture(tmp_path, monkeypatch, capsys):
    outdir, md = run_mini_suite(MINI, tmp_path, monkeypatch, capsys, SECTIONS)
    # auto beside both modes in every cell of the grid
    assert len(re.findall(r"^\| (1|16) \| (1|16) \|", md, flags=re.M)) == 4
    # colour counts at their known optima; recomputations at the revolve optimum
    for row in ("| banded, half-bandwidth 1: columns | 3 | 3 |",
                "| banded, half-bandwidth 5: columns | 11 | 11 |",
                "| arrow Hessian (n = 200): star colouring | 2 | 2 |",
                "| scan, s = 2 | 2 | 200 | 200 |", "| scan, s = 5 | 5 | 92 | 92 |"):
        assert row in md, row
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    for name in ("beyond_hvp.png", "beyond_hessian.png", "beyond_auto.png", "beyond_sparse.png",
                 "beyond_checkpoint.png", "beyond_pytrees.png"):
        assert name in shown and (outdir / name).stat().st_size > 5_000, name
