"""The peers section of the report, from synthetic records (no peer library needed)."""

from bench import peers_report, report, suites


def rec(problem, engine, t, *, n=0, m=1, depth=None, params=None, ok=True, err=1e-16,
        in_size=30, out_size=1, sizes=None, fun=1e-3, first=None, mem=1000, version=None):
    return {"kind": "result", "problem": problem, "engine": engine, "n": n, "m": m,
            "depth": depth, "params": params or {}, "settings": {}, "seed": 0,
            "in_size": in_size, "out_size": out_size, "scalar": out_size == 1,
            "time_median_s": t, "time_min_s": t, "time_spread": 0.0, "repeats": 1,
            "samples_s": [t], "first_call_s": first if first is not None else t,
            "fun_time_median_s": fun, "grad_fun_ratio": t / fun, "peak_mem_bytes": mem,
            "mem_baseline_bytes": 0, "mem_method": "hwm-reset",
            "engine_sizes": sizes or {}, "engine_version": version,
            "reference": "reverse", "max_rel_error": err,
            "tolerance": 1e-8, "ok": ok, "error": None}


HEADER = {"kind": "header", "python": "3.11", "numpy": "2.4", "argv": ["fwdrev"],
          "timing": {}}

GMM = {"d": 2.0, "K": 5.0, "N": 1000.0}


def sample():
    return [
        rec("gmm", "forward", 40e-3, params=GMM, fun=2e-4),
        rec("gmm", "reverse", 4e-3, params=GMM, fun=2e-4),
        rec("gmm", "jax-jit-rev", 1e-3, params=GMM, fun=2e-4, first=1.5,
            sizes={"own_f_time_s": 1e-4}, version="jax 0.10.2"),
        rec("gmm", "torch-rev", 8e-3, params=GMM, fun=2e-4, sizes={"own_f_time_s": 4e-4},
            version="torch 2.13.0", mem=5000),
        rec("tanh-net", "forward", 2e-4, n=64, in_size=64),
        rec("tanh-net", "reverse", 1e-4, n=64, in_size=64),
        rec("tanh-net", "autograd-rev", 5e-4, n=64, in_size=64,
            sizes={"own_f_time_s": 1e-5}),
        rec("tanh-net", "forward", 3e-3, n=1024, in_size=1024),
        rec("tanh-net", "reverse", 2e-4, n=1024, in_size=1024),
        rec("tanh-net", "autograd-rev", 4e-4, n=1024, in_size=1024,
            sizes={"own_f_time_s": 1e-5}),
        *[rec("logistic-map", "symbolic", 1e-5 * k, n=1, m=1, depth=k,
              params={"r": 4.0}, sizes={"f_ops": 2 ** k, "df_ops": k * 4 ** k,
                                        "df_ops_cse": 20 * k})
          for k in (1, 2, 3)],
        *[rec("logistic-map", "reverse", 1e-4, n=1, m=1, depth=k, params={"r": 4.0},
              sizes={"tape_len": 4 * k}) for k in (1, 2, 3)],
    ]


def test_no_peers_no_section(tmp_path):
    records = [r for r in sample() if not peers_report.is_peer(r["engine"])]
    assert peers_report.section([HEADER], records, str(tmp_path), "x") == []


def test_wins_are_computed_from_the_records():
    wins = peers_report.wins(sample())
    jax = wins["jax-jit-rev"]
    assert len(jax) == 1 and abs(jax[0]["ratio"] - 4.0) < 1e-12      # 4 ms / 1 ms
    text = "\n".join(peers_report.win_sentences(sample()))
    assert "**jax-jit-rev** is faster than our best engine at 1 of 1 points" in text
    assert "**4×**" in text
    # torch-rev is slower than our reverse (8 ms vs 4 ms): ours leads by 2x.
    assert "**torch-rev** is faster than our best engine at 0 of 1" in text
    assert "ours leads by up to 2× (gmm" in text


def test_adbench_ratio_uses_the_tools_own_f():
    recs = {r["engine"]: r for r in sample() if r["problem"] == "gmm"}
    assert peers_report.own_ratio(recs["jax-jit-rev"]) == 1e-3 / 1e-4
    assert peers_report.own_ratio(recs["reverse"]) == 4e-3 / 2e-4
    table = "\n".join(peers_report.adbench_tables(sample()))
    assert "| d=2 K=5 N=1000 (30 in) | 200 µs | 200 | 20 | 10 | 20 |" in table
    assert "4.88 KiB" in table                                    # torch-rev's memory


def test_section_flags_disagreement_and_draws(tmp_path):
    records = sample()
    records[3] = {**records[3], "ok": False, "max_rel_error": 1e-3}
    lines = peers_report.section([HEADER], records, str(tmp_path), "x")
    text = "\n".join(lines)
    assert "**DISAGREES** torch-rev on gmm" in text
    assert "(WRONG)" in text
    assert "| jax-jit-rev | jax 0.10.2 |" in text
    assert "| gmm | d=2 K=5 N=1000 (30 in) | jax-jit-rev | 1.5 s | 1 ms | 1.5e+03 |" in text
    pngs = sorted(p.name for p in tmp_path.iterdir())
    assert "x-cmp-time-vs-n-tanh-net.png" in pngs
    assert "x-cmp-jf-gmm.png" in pngs and "x-cmp-memory-gmm.png" in pngs
    assert "x-cmp-swell.png" in pngs
    for name in pngs:
        assert f"]({name})" in text


def test_swell_rows_and_sentence():
    rows = peers_report.swell_rows(sample())
    assert [r["k"] for r in rows] == [1, 2, 3]
    assert rows[-1]["tape_len"] == 12 and rows[-1]["df_ops"] == 3 * 64
    sentence = peers_report.swell_sentence(rows)[0]
    assert "grows from 4 to 192 operations (48×)" in sentence


def test_full_report_contains_the_peers_section(tmp_path):
    path = report.write_report([HEADER], sample(), str(tmp_path), "r", "r.jsonl")
    text = open(path, encoding="utf-8").read()
    assert "## Peers: fwdrev next to JAX" in text
    assert text.index("## Peers") < text.index("## Records")


def test_peers_suite_plans_every_peer_and_adbench_problem():
    jobs = suites.SUITES["peers"].plan()
    engines = {j.engine for j in jobs}
    for name in ("forward", "reverse", "fd", "fd-forward", "symbolic", "jax-fwd", "jax-rev",
                 "jax-jit-fwd", "jax-jit-rev", "torch-fwd", "torch-rev", "autograd-fwd",
                 "autograd-rev"):
        assert name in engines
    assert {"gmm", "ba", "lstm", "tanh-net", "logistic-map"} <= {j.problem for j in jobs}
    depths = sorted(j.size.depth for j in jobs
                    if j.problem == "logistic-map" and j.engine == "symbolic")
    assert depths == list(range(1, 9))
    assert len(jobs) <= 150                      # keeps the suite near ten minutes


def test_growth_along_an_adbench_parameter():
    records = [rec("lstm", e, t * c, params={"l": 2.0, "c": float(c), "b": 14.0},
                   in_size=266, sizes={"own_f_time_s": 1e-4} if e != "reverse" else None)
               for e, t in (("reverse", 1e-4), ("jax-jit-rev", 1e-6)) for c in (4, 8)]
    records += [rec("lstm", "jax-jit-rev", 1e-6 * 4 * 2 ** 6,
                    params={"l": 2.0, "c": 12.0, "b": 14.0}, in_size=266,
                    sizes={"own_f_time_s": 1e-4})]
    text = "\n".join(peers_report.growth_sentences(records))
    assert "**lstm**, time ~ c^slope:" in text
    assert "reverse 1.00 (c = 4..8" in text            # time = t c: linear in c
    assert "jax-jit-rev" in text and "c = 4..12" in text


def test_points_without_ours_are_not_in_the_wins_table():
    records = sample() + [rec("lstm", "jax-jit-rev", 1e-3, params={"c": 12.0},
                              sizes={"own_f_time_s": 1e-4})]
    table = "\n".join(peers_report.wins_table(records))
    assert "| lstm |" not in table and "| gmm |" in table
