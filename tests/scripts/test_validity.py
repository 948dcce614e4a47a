"""scripts/validity.py: rank correlations, placement and the report, on synthetic final rows."""

import json
from pathlib import Path

import numpy as np
import pytest

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
    again = {**rows[0], "IS": rows[0]["IS"] + 0.02, "cpu": "AMD"}  # the first row trained on another CPU
    (docs / "cross_cpu.json").write_text(json.dumps({"final_hash": "final-x", "rows": [again]}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(validity, "DOCS", Path("docs/validity"))
    validity.report(type("A", (), {"runs": str(tmp_path / "none")})())
    res = json.loads((docs / "validity.json").read_text())
    assert res["n_uniform"] == len(archs) == 12
    assert res["rows_by_cpu"]["Intel"]["rows"] == 14 and res["rows_by_cpu"]["not recorded"]["rows"] == 2
    assert res["cross_cpu"]["mean_abs_diff"] == pytest.approx(0.02)
    assert res["proxy_vs_final"]["score"]["spearman"]["value"] == pytest.approx(1.0)
    assert "spearman" not in res["proxy_vs_final"]["FID"]  # every final FID is 15
    assert res["noise_floor"]["archs"] == [archs[0]]
    sac, rnd = res["searches"]
    assert sac["final_measured"] and "percentile" in sac and not rnd["final_measured"]
    text = (tmp_path / "docs" / "validity.md").read_text()
    assert "| sac | 0 |" in text and "not trained yet" in text
    assert "## Across CPU models" in text and "100 s on Intel (14 rows)" in text
    assert (docs / "proxy_vs_final.png").exists()
    e2, auto = res["published"]
    assert e2["name"] == "E2GAN" and e2["percentile"] == 100.0 and e2["final_measured"]
    assert np.isfinite(e2["proxy_score"]) and not auto["final_measured"]
    assert 0 <= e2["proxy_percentile"] <= 100
    assert "| E2GAN | `0 1 0 1 0 1 2 1 0 0 1 0 1 2` |" in text and "| AutoGAN |" in text


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
