"""bench.plots and bench.report on synthetic records with known answers: the PNGs are
real images, and the report's sentences follow the data (flip the data, flip the text)."""

import matplotlib.image as mpimg
import pytest

from bench import records
from bench.cli import main

NS = MS = (1, 4, 16, 64)


def rec(engine, n, m, t, depth=None, mem=None, **kw):
    t = t or 0.0
    r = {"kind": "result", "problem": "tanh-net", "engine": engine, "n": n, "m": m,
         "depth": depth, "params": {}, "settings": {"chunk": None}, "seed": 0, "in_size": n,
         "out_size": m, "scalar": False, "time_median_s": t, "time_min_s": t * 0.9,
         "time_spread": 0.1, "first_call_s": 2 * t, "fun_time_median_s": 1e-5,
         "grad_fun_ratio": t / 1e-5, "peak_mem_bytes": mem, "engine_sizes": {},
         "reference": "reverse", "max_rel_error": 1e-16, "tolerance": 1e-8, "ok": True,
         "error": None}
    r.update(kw)
    return r


def write(path, recs):
    with records.Writer(path) as w:
        w.write(records.make_header(["fwdrev", "run", "--synthetic"], timing={
            "min_sample_s": 0.02, "samples": 5}))
        for r in recs:
            w.write(r)
    return path


def textbook(tmp_path):
    """forward ~ n, reverse ~ m: crossover exactly at n = m; a depth study with a tape."""
    recs = []
    for n in NS:
        for m in MS:
            recs += [rec("forward", n, m, 1e-5 * n), rec("reverse", n, m, 1e-5 * m)]
    for depth in (10, 100, 1000):
        recs.append(rec("forward", 1, 1, 1e-5 * depth, depth=depth, problem="logistic-map",
                        mem=0))
        recs.append(rec("reverse", 1, 1, 2e-5 * depth, depth=depth, problem="logistic-map",
                        mem=4000 * depth, engine_sizes={"tape_len": 3 * depth,
                                                        "tape_bytes": 24 * depth}))
    return write(tmp_path / "textbook.jsonl", recs)


def test_plot_writes_readable_pngs_next_to_the_results(tmp_path, capsys):
    path = textbook(tmp_path)
    assert main(["plot", str(path)]) == 0
    written = capsys.readouterr().out.split()
    names = {p.rsplit("/", 1)[1] for p in written}
    for expected in ("textbook-time-vs-n-tanh-net.png", "textbook-time-vs-m-tanh-net.png",
                     "textbook-ratio-tanh-net.png", "textbook-time-vs-depth-logistic-map.png",
                     "textbook-memory-vs-depth-logistic-map.png", "textbook-grad-ratio.png"):
        assert expected in names
    for p in written:
        img = mpimg.imread(p)
        assert img.shape[0] > 300 and img.shape[1] > 500
        assert img.std() > 0.05            # not a blank canvas


def test_report_states_what_the_data_shows(tmp_path, capsys):
    path = textbook(tmp_path)
    outdir = tmp_path / "rep"
    assert main(["report", str(path), "--outdir", str(outdir), "--name", "tb"]) == 0
    md = (outdir / "tb.md").read_text()
    for m in (4, 16):
        assert f"at m = {m}: the modes cross near n ≈ {m} " in md
    assert "crossover n / m ranges 1–1" in md
    assert "**tanh-net / forward**: time grows like n^1.00; flat in m (within noise: m^0.00" in md
    assert "**tanh-net / reverse**: time flat in n (within noise: n^0.00" in md
    assert "; grows like m^1.00" in md
    assert "reverse < 256 KiB → 391 KiB → 3.81 MiB" in md     # 40 kB, 400 kB, 4 MB
    assert "forward < 256 KiB → < 256 KiB → < 256 KiB" in md
    assert "38 of 38 records agree" in md
    assert "`fwdrev run --synthetic`" in md
    # every image the report links exists
    for line in md.splitlines():
        if line.startswith("!["):
            assert (outdir / line.split("(")[1].rstrip(")")).exists()


def test_report_text_follows_the_data_not_a_script(tmp_path):
    # Reverse faster everywhere: no crossover may be claimed.
    recs = [rec("forward", n, m, 1e-3 * n) for n in NS for m in (1, 2)] + \
        [rec("reverse", n, m, 1e-6) for n in NS for m in (1, 2)]
    path = write(tmp_path / "rev.jsonl", recs)
    assert main(["report", str(path), "--outdir", str(tmp_path)]) == 0
    md = (tmp_path / "rev.md").read_text()
    assert "cross near" not in md
    assert "at m = 1: reverse is faster at every n from 1 to 64" in md
    assert "forward is faster at 0 of 8" in md


def test_report_flags_failed_records(tmp_path):
    recs = [rec("forward", n, 1, 1e-5 * n) for n in NS] + \
        [rec("reverse", 4, 1, None, error="NotImplementedError: no rule for 'foo'",
             ok=False, max_rel_error=None, time_median_s=None)]
    path = write(tmp_path / "bad.jsonl", recs)
    assert main(["report", str(path), "--outdir", str(tmp_path)]) == 0
    md = (tmp_path / "bad.md").read_text()
    assert "**FAILED**: tanh-net reverse n=4" in md
    assert "no rule for 'foo'" in md
    assert "4 of 5 records agree" in md


def test_report_name_is_checked(tmp_path, capsys):
    path = textbook(tmp_path)
    assert main(["report", str(path), "--outdir", str(tmp_path), "--name", "../evil"]) == 2
    assert not (tmp_path.parent / "evil.md").exists()


@pytest.mark.parametrize("value, text", [(1.5e-6, "1.5 µs"), (0.25, "250 ms"), (3.0, "3 s"),
                                         (0.9999, "1 s"), (2e-9, "2 ns")])
def test_time_format(value, text):
    from bench.report import fmt_time

    assert fmt_time(value) == text


@pytest.mark.parametrize("value, text", [(512, "512 B"), (4096, "4 KiB"), (1010 * 1024, "0.986 MiB"),
                                         (3 * 2**20, "3 MiB"), (2**31, "2 GiB")])
def test_bytes_format(value, text):
    from bench.report import fmt_bytes

    assert fmt_bytes(value) == text


def test_time_per_scalar_op_comes_from_the_problems_op_count():
    from bench.report import per_op_findings
    # logistic-loop declares 3 scalar ops per step: 1000 steps = 3000 ops
    recs = [dict(rec(e, 1, 1, t, depth=1000, problem="logistic-loop"), fun_time_median_s=3e-6)
            for e, t in (("forward-jit", 6e-6), ("reverse-jit", 1.2e-5))]
    (line,) = per_op_findings(recs)
    assert "3000 scalar ops" in line and "primal 1 ns per op" in line
    assert "forward-jit 2 ns (2× the primal)" in line and "reverse-jit 4 ns (4× the primal)" in line
    assert per_op_findings([dict(r, problem="tanh-net") for r in recs]) == []  # no op count


def test_noisy_records_are_flagged_with_the_load():
    from bench import report
    recs = [{"problem": "tanh-net", "engine": "forward", "n": 4, "m": 1, "depth": None,
             "time_median_s": 1e-3, "time_spread": s, "settings": {}} for s in (0.1, 0.9)]
    lines = report.noise_findings(recs, {"load_avg": [3.0, 2.0, 1.0], "cpu_count": 2})
    assert "1 of 2 records are noisy" in lines[0] and "busy machine" in lines[0]
    assert "90%" in lines[0]
    table = "\n".join(report.records_table(recs))
    assert table.count("⚠") == 1
    assert "All 1 timed" in report.noise_findings(recs[:1], {})[0]
