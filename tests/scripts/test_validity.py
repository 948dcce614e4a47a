"""scripts/validity.py: rank correlations, placement and the report, on synthetic final rows."""

import json
from pathlib import Path

import numpy as np
import pytest

from gan_nas_env.evaluators.final import CheckpointError
from gan_nas_env.evaluators.tabular import load_table, sampling_order


@pytest.fixture(scope="module")
def validity(load_script):
    return load_script("validity")


def test_rank_corr_and_placement(validity):
    x = np.arange(20.0)
    assert validity.rank_corr(x, 2 * x + 1)["spearman"]["value"] == pytest.approx(1.0)
    anti = validity.rank_corr(x, -x, reps=200)
    assert anti["kendall"]["value"] == pytest.approx(-1.0) and anti["spearman"]["ci"][1] <= -0.99
    assert validity.rank_corr(x[:3], x[:3]) == {"n": 3}
    assert validity.rank_corr(x, np.ones(20)) == {"n": 20}  # constant: undefined, not an error
    p = validity.placement(10.5, x, reps=200)
    assert p["percentile"] == pytest.approx(55.0) and p["p_better_ci"][0] <= 0.55 <= p["p_better_ci"][1]
    assert "positive" in validity.reading({"value": 0.5, "ci": [0.1, 0.8]}, "x")
    assert "cannot" not in validity.reading({"value": 0.1, "ci": [-0.2, 0.4]}, "x")


def test_rows_are_costed_per_cpu(validity):
    rows = [{"cpu": "A", "train_s": 100.0}, {"cpu": "A", "train_s": 300.0}, {"cpu": "B", "train_s": 50.0},
            {"train_s": 70.0}]
    by = validity.rows_by_cpu(rows)
    assert by == {"A": {"rows": 2, "train_s_median": 200.0}, "B": {"rows": 1, "train_s_median": 50.0},
                  "not recorded": {"rows": 1, "train_s_median": 70.0}}
    text = validity.cost_by_cpu({"rows_by_cpu": by, "train_s_per_row": 85.0})
    assert text == "200 s on A (2 rows), 50 s on B (1 row), 70 s on an unrecorded CPU (1 row)"


def test_rows_trained_again_on_another_cpu_are_paired(validity):
    finals = {"rows": [{"arch": "a", "seed": 0, "IS": 1.5, "FID": 10.0, "cpu": "Intel"},
                       {"arch": "b", "seed": 0, "IS": 1.4, "FID": 20.0, "cpu": "Intel"}]}
    check = {"rows": [{"arch": "a", "seed": 0, "IS": 1.6, "FID": 12.0, "cpu": "AMD"},
                      {"arch": "b", "seed": 0, "IS": 1.0, "FID": 20.0, "cpu": "Intel"},  # same CPU: no pair
                      {"arch": "c", "seed": 0, "IS": 1.0, "FID": 20.0, "cpu": "AMD"}]}  # not committed
    res = validity.cross_cpu(finals, check, alpha=0.01, seed_std=0.05)
    assert [(p["arch"], p["cpus"]) for p in res["pairs"]] == [("a", ["Intel", "AMD"])]
    assert res["pairs"][0]["scores"] == pytest.approx([1.4, 1.48])
    assert res["mean_abs_diff"] == pytest.approx(0.08) and res["seed_std"] == 0.05
    assert validity.cross_cpu(finals, {}, 0.01, None)["mean_abs_diff"] is None


def test_report_from_synthetic_finals(validity, tmp_path, monkeypatch):
    # final score = a monotone function of the table's proxy score: Spearman must be 1
    table = load_table()
    archs = list(dict.fromkeys(str(a) for a in sampling_order(table.config.seed, 12)))  # the uniform sample
    rows = []
    for a in archs:
        s = table.score(a)
        for seed in ((0, 1, 2) if a == archs[0] else (0,)):
            rows.append({"arch": a, "seed": seed, "IS": 1.5 + s + 0.001 * seed, "FID": 15.0, "train_s": 100.0,
                         "cpu": "Intel"})
    # an agent's best that happens to be in the table, but outside the uniform draws: not uniform
    first = {str(a) for a in sampling_order(table.config.seed, validity.UNIFORM_DRAWS)}
    agents_best = next(a for a in table.complete() if a not in first)
    rows.append({"arch": agents_best, "seed": 0, "IS": 9.0, "FID": 1.0, "train_s": 100.0})
    e2gan = "0 1 0 1 0 1 2 1 0 0 1 0 1 2"  # the published architecture, above every uniform one
    rows.append({"arch": e2gan, "seed": 0, "IS": 8.0, "FID": 1.0, "train_s": 100.0})
    docs = tmp_path / "docs" / "validity"
    docs.mkdir(parents=True)
    (docs / "finals.json").write_text(json.dumps({"final_hash": "final-x", "rows": rows}))
    (docs / "searches.json").write_text(json.dumps({"rows": [
        {"algo": "sac", "seed": 0, "best_arch": archs[3], "best_proxy_score": 0.1, "episodes": 100},
        {"algo": "random", "seed": 0, "best_arch": "0 0 0 0 0 0 0 0 0 0 0 0 0 0",
         "best_proxy_score": 0.0, "episodes": 100}]}))
    by_final = sorted(archs, key=table.score)  # the synthetic final score rises with it
    (docs / "searches_is.json").write_text(json.dumps({"rows": [
        {"evaluator": "is", "algo": algo, "seed": seed, "best_arch": by_final[i], "best_proxy_score": 1.0,
         "episodes": 100} for algo, seed, i in (("sac", 0, 0), ("sac", 1, 1), ("random", 0, -1), ("random", 1, -2))]}))
    again = {**rows[0], "IS": rows[0]["IS"] + 0.02, "cpu": "AMD"}  # the first row trained on another CPU
    (docs / "cross_cpu.json").write_text(json.dumps({"final_hash": "final-x", "rows": [again]}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(validity, "DOCS", Path("docs/validity"))
    validity.report(type("A", (), {"runs": str(tmp_path / "none"), "v2_iters": None})())
    res = json.loads((docs / "validity.json").read_text())
    assert res["n_uniform"] == len(archs) == 12
    assert res["rows_by_cpu"]["Intel"]["rows"] == 14 and res["rows_by_cpu"]["not recorded"]["rows"] == 2
    assert res["cross_cpu"]["mean_abs_diff"] == pytest.approx(0.02)
    assert res["proxy_vs_final"]["score"]["spearman"]["value"] == pytest.approx(1.0)
    assert "spearman" not in res["proxy_vs_final"]["FID"]  # every final FID is 15
    assert res["noise_floor"]["archs"] == [archs[0]]
    sac, rnd, *is_only = res["searches"]
    assert sac["final_measured"] and "percentile" in sac and not rnd["final_measured"]
    assert sac["evaluator"] == "proxy" and {s["evaluator"] for s in is_only} == {"is"}
    summary = res["search_summary"]
    assert set(summary) == {"proxy", "is"} and summary["proxy"]["runs"] == {"sac": 1}
    # IS-only: SAC's bests are the two lowest final scores, random's the two highest: every
    # seed pair favours random, and rliable's interval is a point at 0
    p = summary["is"]["p_improvement"]["sac>random"]
    assert p["value"] == 0.0 and p["ci"] == [0.0, 0.0]
    assert summary["is"]["p_improvement"]["random>sac"]["value"] == 1.0
    text = (tmp_path / "docs" / "validity.md").read_text()
    assert "| proxy | sac | 0 |" in text and "not trained yet" in text
    assert "| is | random | 1 |" in text and "P(sac > random) 0.00 [0.00, 0.00]" in text
    # the verdict is written from the numbers: random's IS-only bests are the uniform sample's
    # top two, SAC's its bottom two, and the interval [0, 0] is below 0.5
    assert summary["is"]["top_quarter"] == {"sac": 0, "random": 2}
    assert summary["is"]["median_percentile"]["sac"] < 25 < 75 < summary["is"]["median_percentile"]["random"]
    assert ("2 of the 4 trained bests reach the uniform sample's top quarter" in text
            and "random search's bests beat SAC's" in text)
    assert text.count("**What it shows:**") == 2  # the proxy's too: SAC's one trained best, no pair
    # what the searches maximised against what it bought (trained bests of both algorithms only)
    final_random = np.mean([1.5 + table.score(by_final[i]) - 0.01 * 15.0 for i in (-1, -2)])
    assert (f"The bests' mean proxy value (what the search maximised): random 1.000, sac 1.000; "
            f"their mean final score: random {final_random:.3f}, sac ") in text
    assert text.count("The bests' mean proxy value") == 1  # not for the proxy's: random's best has no row
    assert "## Across CPU models" in text and "100 s on Intel (14 rows)" in text
    assert (docs / "proxy_vs_final.png").exists()
    e2, auto = res["published"]
    assert e2["name"] == "E2GAN" and e2["percentile"] == 100.0 and e2["final_measured"]
    assert np.isfinite(e2["proxy_score"]) and not auto["final_measured"]
    assert 0 <= e2["proxy_percentile"] <= 100
    assert "| E2GAN | `0 1 0 1 0 1 2 1 0 0 1 0 1 2` |" in text and "| AutoGAN |" in text


def test_search_verdict_is_written_from_the_interval(validity):
    base = {"runs": {"sac": 5, "random": 5}, "median_percentile": {"sac": 30.0, "random": 20.0},
            "top_quarter": {"sac": 1, "random": 0}}
    mixed = validity._verdict({**base, "p_improvement": {"sac>random": {"value": 0.6, "ci": [0.2, 0.9]}}})
    assert "1 of the 10 trained bests" in mixed and "median percentile sac 30, random 20" in mixed
    assert "not separated" in mixed
    ahead = validity._verdict({**base, "p_improvement": {"sac>random": {"value": 0.9, "ci": [0.7, 1.0]}}})
    assert "SAC's bests beat random search's" in ahead
    one = validity._verdict({**base, "p_improvement": {"sac>random": {"value": 1.0, "ci": None}}})
    assert one.endswith("too few runs for an interval.")


def test_paired_difference_and_the_rebuild_rule(validity):
    rng = np.random.default_rng(0)
    final = np.arange(40.0)
    good = final + rng.normal(0, 2, 40)  # ranks like the final score
    noise = rng.permutation(40).astype(float)  # does not
    d = validity.paired_diff(noise, good, final, reps=300)
    assert d["n"] == 40 and d["value"] > 0.5 and d["ci"][0] > 0
    assert validity.paired_diff(good, good, final, reps=50)["value"] == 0.0
    assert validity.paired_diff(good[:3], good[:3], final[:3]) == {"n": 3}
    ladder = {"16": {**validity.rank_corr(noise, final, reps=300), "cost_s_median": 5.0},
              "256": {**validity.rank_corr(good, final, reps=300), "cost_s_median": 30.0, "vs_table": d},
              "64": {**validity.rank_corr(noise, final, reps=300), "cost_s_median": 9.0,
                     "vs_table": validity.paired_diff(noise, noise, final, reps=50)}}
    assert validity.rebuild_verdict(ladder, "16")["rebuild_at"] == "256"
    ladder["256"]["vs_table"] = {"n": 40, "value": 0.3, "ci": [-0.1, 0.6]}  # not clearly better
    assert validity.rebuild_verdict(ladder, "16")["rebuild_at"] is None


def test_grids_are_shown_under_their_own_architecture_only(validity, tmp_path, monkeypatch):
    monkeypatch.setattr(validity, "DOCS", tmp_path / "docs")
    validity.DOCS.mkdir()
    res = {"final_hash": "final-x", "points": {"1 1": {"final": 2.0}, "0 0": {"final": 1.0}}}
    runs = tmp_path / "runs"
    (runs / "final-x" / "11-s0").mkdir(parents=True)
    (runs / "final-x" / "11-s0" / "final_grid.png").write_bytes(b"best")
    assert validity.copy_grids(res, runs) == {"best": "1 1"}  # worst: not on this machine
    assert (validity.DOCS / "grid_best.png").read_bytes() == b"best"
    # another machine: no run folders; the committed grid of the same best stays
    assert validity.copy_grids(res, tmp_path / "none", {"best": "1 1"}) == {"best": "1 1"}
    # a new best trained elsewhere: the old grid is not shown under its name
    res["points"]["2 2"] = {"final": 3.0}
    assert validity.copy_grids(res, tmp_path / "none", {"best": "1 1"}) == {}
    assert not (validity.DOCS / "grid_best.png").exists()


def _curve_row(arch, seed, finals_at, iters=(500, 1000)):
    """A v2 row whose checkpoint k has score finals_at[k] (FID fixed at 10)."""
    curve = [{"iter": it, "IS": finals_at[it] + 0.1, "FID": 10.0, "KID": 0.1, "wall_s": 0.1 * it} for it in iters]
    return {"arch": arch, "seed": seed, "IS": curve[-1]["IS"], "FID": 10.0, "iters": iters[-1],
            "curve": curve, "train_s": 0.1 * iters[-1] + 5, "cpu": "AMD"}


def test_rows_at_a_checkpoint_of_the_curves(validity):
    a, b = "0 1 0 1 0 1 2 1 0 0 1 0 1 2", "1 0 1 1 1 0 0 1 1 1 0 1 0 3"
    v2 = {"final_hash": "curve-x", "config": {"name": "final-fmnist-v2", "retrain": {"g_iters": 1000}},
          "rows": [_curve_row(a, 0, {500: 1.0, 1000: 2.0}), _curve_row(b, 0, {500: 3.0}, iters=(500,))]}
    last = validity.rows_at(v2)  # the last checkpoint every row reaches: 500
    assert last["budget"] == 500 and [r["IS"] for r in last["rows"]] == [1.1, 3.1]
    assert last["rows"][0]["train_s"] == 50.0  # the wall seconds up to that checkpoint
    at = validity.rows_at(v2, 1000)  # b never got there: left out, not scored at 500
    assert [r["arch"] for r in at["rows"]] == [a] and at["rows"][0]["IS"] == 2.1
    assert validity.protocol_of(at)["iters"] == 1000 and validity.protocol_of(at)["curve"]
    assert validity.rows_at({"rows": []})["rows"] == []
    with pytest.raises(CheckpointError, match="no checkpoint at 700 iterations; the stored ones are 500, 1000"):
        validity.rows_at(v2, 700)


def test_report_recomputes_every_finding_against_v2(validity, tmp_path, monkeypatch):
    table = load_table()
    archs = list(dict.fromkeys(str(a) for a in sampling_order(table.config.seed, 8)))
    v1 = [{"arch": a, "seed": 0, "IS": 1.5 + table.score(a), "FID": 15.0, "train_s": 100.0} for a in archs]
    # v2: the last checkpoint ranks against the proxy (Spearman -1), the earlier one with it
    v2 = [_curve_row(a, s, {500: table.score(a) + 0.01 * s, 1000: -table.score(a) + 0.01 * s})
          for a in archs for s in ((0, 1) if a in archs[:4] else (0,))]
    docs = tmp_path / "docs" / "validity"
    docs.mkdir(parents=True)
    (docs / "finals.json").write_text(json.dumps({"final_hash": "final-x", "rows": v1}))
    (docs / "finals_v2.json").write_text(json.dumps({
        "final_hash": "curve-x", "rows": v2,
        "config": {"name": "final-fmnist-v2", "retrain": {"gf": 16, "df": 16, "g_iters": 1000, "eval_every": 500,
                                                          "eval_samples": 2000}, "metrics": {"real_samples": 10000}}}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(validity, "DOCS", Path("docs/validity"))
    args = type("A", (), {"runs": str(tmp_path / "none"), "v2_iters": None})()
    validity.report(args)
    res = json.loads((docs / "validity.json").read_text())
    assert res["proxy_vs_final"]["score"]["spearman"]["value"] == pytest.approx(1.0)  # v1
    assert res["v2"]["proxy_vs_final"]["score"]["spearman"]["value"] == pytest.approx(-1.0)
    assert res["v2"]["n_uniform"] == 8 and res["v2"]["protocol"]["iters"] == 1000
    nf = res["v2"]["noise_floor"]  # 4 architectures with two seeds: 0.01 apart
    assert len(nf["archs"]) == 4 and nf["seed_std_mean"] == pytest.approx(0.01 / np.sqrt(2))
    assert "noise_floor" not in res  # v1 has one seed
    text = (tmp_path / "docs" / "validity.md").read_text()
    v2_part, v1_part = text.split("# v1: 1,000 iterations (early training)")
    assert "# Against trained GANs: final protocol v2 (8 of" in v2_part and "1,000 generator iterations" in v2_part
    assert "| seed 0 | seed 1 |" in v2_part and "proxy_vs_final_v2.png" in v2_part
    assert "proxy_vs_final.png" not in v1_part  # compact: no plots for v1 once v2 exists
    assert (docs / "proxy_vs_final_v2.png").exists()
    validity.report(type("A", (), {"runs": str(tmp_path / "none"), "v2_iters": 500})())
    res = json.loads((docs / "validity.json").read_text())
    assert res["v2"]["proxy_vs_final"]["score"]["spearman"]["value"] == pytest.approx(1.0)


def test_an_unstored_v2_checkpoint_is_refused_before_anything_is_written(validity, tmp_path, monkeypatch):
    a = "0 1 0 1 0 1 2 1 0 0 1 0 1 2"
    docs = tmp_path / "docs" / "validity"
    docs.mkdir(parents=True)
    (docs / "finals.json").write_text(json.dumps({"final_hash": "final-x", "rows": [
        {"arch": a, "seed": 0, "IS": 1.5, "FID": 15.0, "train_s": 100.0}]}))
    (docs / "finals_v2.json").write_text(json.dumps({"final_hash": "curve-x", "config": {},
                                                     "rows": [_curve_row(a, 0, {500: 1.0, 1000: 2.0})]}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(validity, "DOCS", Path("docs/validity"))
    with pytest.raises(SystemExit, match="--v2-iters: no checkpoint at 700 iterations"):
        validity.report(type("A", (), {"runs": str(tmp_path / "none"), "v2_iters": 700})())
    assert sorted(p.name for p in docs.iterdir()) == ["finals.json", "finals_v2.json"]


def test_ladder_merge_keeps_committed_rows_and_adds_the_stores(validity):
    """A fresh clone's stores lack the committed ladder rows: they are kept (with the committed
    file's CPU), the stores add what is missing, a re-measured row does not replace the
    committed one, and a budget whose proxy changed is refused."""
    row = lambda s: {"IS": s, "FID": 1.0, "score": s, "diverged": False, "cost_s": 1.0}  # noqa: E731
    committed = {"budgets": {"256": {"proxy_hash": "h256", "d_iters_per_cell": 256,
                                     "rows": {"a": row(1.0), "b": row(2.0)}}},
                 "provenance": {"machine": {"cpu": "Intel"}}}
    fresh = {"256": {"proxy_hash": "h256", "d_iters_per_cell": 256, "rows": {"b": row(9.0), "c": row(3.0)}},
             "64": {"proxy_hash": "h64", "d_iters_per_cell": 64, "rows": {"c": row(4.0)}}}
    out = validity.merge_ladder(committed, fresh, "AMD")
    assert list(out) == ["64", "256"]
    rows = out["256"]["rows"]
    assert {a: (r["score"], r["cpu"]) for a, r in rows.items()} == {"a": (1.0, "Intel"), "b": (2.0, "Intel"),
                                                                     "c": (3.0, "AMD")}
    assert out["256"]["proxy_hash"] == "h256" and out["64"]["rows"]["c"]["cpu"] == "AMD"
    assert validity.merge_ladder(None, fresh, "AMD")["256"]["rows"]["b"]["score"] == 9.0
    with pytest.raises(SystemExit, match="budget 256.*not merged"):
        validity.merge_ladder(committed, {"256": {**fresh["256"], "proxy_hash": "other"}}, "AMD")
