"""scripts/gold_report.py: where the ranking settles, on synthetic learning curves."""

import json

import numpy as np
import pytest

from gan_nas_env.evaluators.tabular import sampling_order


@pytest.fixture(scope="module")
def gold(load_script):
    return load_script("gold_report")


def _export(path, n=8, two_seeds=4, budget=2000):
    """Curve rows: early checkpoints rank the architectures in reverse, late ones by ``quality``."""
    archs = list(dict.fromkeys(str(a) for a in sampling_order(0, 40)))[:n]
    rng = np.random.default_rng(0)
    rows = []
    for i, arch in enumerate(archs):
        quality = i / n  # the settled order: later architectures are better
        for seed in (0, 1) if i < two_seeds else (0,):
            curve = []
            for it in range(500, budget + 1, 500):
                w = it / budget  # the early ranking is the reverse, then it settles
                fid = 30.0 - 10 * w - 8 * (w * quality - (1 - w) * quality) + rng.normal(0, 0.05)
                curve.append({"iter": it, "IS": 1.0 + w + quality * w, "FID": fid, "KID": fid / 100,
                              "wall_s": it / 10.0})
            rows.append({"arch": arch, "seed": seed, **{k: curve[-1][k] for k in ("IS", "FID", "KID")},
                         "iters": budget, "curve": curve, "train_s": budget / 10})
    rows.append({"arch": archs[0], "seed": 2, "IS": 1.0, "FID": 30.0, "KID": 0.3, "iters": 500,
                 "curve": [{"iter": 500, "IS": 1.0, "FID": 30.0, "KID": 0.3, "wall_s": 50.0}]})
    path.write_text(json.dumps({"final_hash": "curve-test", "config": {}, "rows": rows}))
    return archs


def test_kendall_per_checkpoint_seed_noise_and_the_chosen_budget(gold, tmp_path):
    archs = _export(tmp_path / "f.json")
    gold.main(["--finals", str(tmp_path / "f.json"), "--n", "8", "--budget", "2000",
               "--docs", str(tmp_path / "docs"), "--runs", str(tmp_path / "none"), "--grids", "500,2000", "--reps", "100"])
    res = json.loads((tmp_path / "docs" / "gold.json").read_text())
    assert res["archs"] == archs and res["n_two_seeds"] == 4 and not res["partial"]
    assert res["checkpoints"] == [500, 1000, 1500, 2000]
    fid = res["metrics"]["FID"]["per_checkpoint"]
    assert fid[-1]["vs_last"]["tau"] == pytest.approx(1.0)
    assert fid[0]["vs_last"]["tau"] < 0  # the early ranking is the reverse of the settled one
    assert fid[0]["vs_last"]["lo"] <= fid[0]["vs_last"]["hi"] < 0
    assert res["metrics"]["FID"]["cheapest_tau_0.8"] in (1500, 2000)
    assert res["metrics"]["IS"]["cheapest_tau_0.8"] == 500  # IS ranks by quality from the start
    for m in ("FID", "IS"):  # settled: that checkpoint and every later one agree at >= 0.8
        per, settled = res["metrics"][m]["per_checkpoint"], res["metrics"][m]["settled_tau_0.8"]
        later = [r["vs_last"]["tau"] for r in per if r["iters"] >= settled]
        assert settled >= res["metrics"][m]["cheapest_tau_0.8"] and min(later) >= 0.8
    assert fid[-1]["seed_sd"] < fid[-1]["between_sd"]  # seeds differ by noise only
    # seed 0 against seed 1's last ranking (4 paired architectures): reversed early, agreeing late
    assert fid[0]["vs_other_seed_last"]["tau"] == pytest.approx(-1.0)
    assert fid[-1]["vs_other_seed_last"]["tau"] == pytest.approx(1.0)
    assert fid[-1]["vs_other_seed_last"]["n"] == 4
    assert res["wall_s_per_checkpoint"]["1000"] == pytest.approx(100.0)
    md = (tmp_path / "docs" / "gold.md").read_text()
    assert "| 2000 |" in md and "gold_kendall.png" in md
    # each column of the Kendall table holds its own metric's tau
    header = next(ln for ln in md.splitlines() if ln.startswith("| iterations | median s |"))
    row = next(ln for ln in md.splitlines() if ln.startswith("| 500 | "))
    cells = dict(zip((c.strip() for c in header.strip("|").split("|")),
                     (c.strip() for c in row.strip("|").split("|")), strict=True))
    for m in ("score", "FID", "IS", "KID"):
        assert cells[m].startswith(f"{res['metrics'][m]['per_checkpoint'][0]['vs_last']['tau']:.2f}")
    assert "Does a checkpoint predict another training's result?" in md
    # both metrics' seeds agree perfectly here: the score is kept (it ranks as stably as FID)
    d = res["decision"]
    assert d["metric"] == "score" and d["budget"] == res["metrics"]["score"]["settled_tau_0.8"]
    assert f"Budget: **{d['budget']} iterations**" in md and "Metric: **score**" in md
    assert (tmp_path / "docs" / "gold_curves.png").stat().st_size > 0


def test_too_few_gold_rows_is_a_clear_error(gold, tmp_path):
    _export(tmp_path / "f.json", n=2, two_seeds=0)
    with pytest.raises(SystemExit, match="only 2 architectures reach 2000"):
        gold.main(["--finals", str(tmp_path / "f.json"), "--budget", "2000", "--docs", str(tmp_path / "d")])


def test_the_ranking_is_compared_with_itself_lag_iterations_on(gold, tmp_path):
    _export(tmp_path / "f.json")
    gold.main(["--finals", str(tmp_path / "f.json"), "--n", "8", "--budget", "2000", "--lag", "1000",
               "--docs", str(tmp_path / "docs"), "--runs", str(tmp_path / "none"), "--reps", "50"])
    res = json.loads((tmp_path / "docs" / "gold.json").read_text())
    assert res["lag"] == 1000
    per_is = res["metrics"]["IS"]["per_checkpoint"]
    assert [("vs_lag" in r) for r in per_is] == [True, True, False, False]  # 500 -> 1500, 1000 -> 2000
    assert per_is[0]["vs_lag"]["tau"] == pytest.approx(1.0)  # IS ranks by quality at every checkpoint
    fid = res["metrics"]["FID"]["per_checkpoint"]
    assert fid[0]["vs_lag"]["tau"] < fid[1]["vs_lag"]["tau"]  # FID's early order flips, then holds
    md = (tmp_path / "docs" / "gold.md").read_text()
    assert "| iterations | vs +1,000: score | FID | IS |" in md and "\n| 1000 | " in md


def _res(score_seed_tau, fid_seed_tau, fid_settled):
    per = [{"iters": k, "seed_vs_seed": None, "vs_other_seed_last": {"tau": k / 1000, "lo": 0, "hi": 1, "n": 5}}
           for k in (500, 1000)]
    per_last = {**per[-1]}
    return {"budget": 1000, "n_two_seeds": 5, "wall_s_per_checkpoint": {500: 40.0, 1000: 100.0},
            "metrics": {
                "score": {"per_checkpoint": [per[0], {**per_last, "seed_vs_seed": {"tau": score_seed_tau}}],
                          "settled_tau_0.8": 1000},
                "FID": {"per_checkpoint": [per[0], {**per_last, "seed_vs_seed": {"tau": fid_seed_tau}}],
                        "settled_tau_0.8": fid_settled}}}


def test_the_decision_rule_prefers_fid_unless_the_score_ranks_as_stably(gold):
    d = gold.decide(_res(0.5, 0.7, 500))
    assert (d["metric"], d["budget"], d["cost_share"]) == ("FID", 500, 0.4)
    assert d["vs_other_seed_last"]["tau"] == 0.5 and d["ceiling"]["tau"] == 1.0
    assert gold.decide(_res(0.7, 0.7, 500))["metric"] == "score"  # a tie keeps the score
    never = gold.decide(_res(0.1, 0.7, None))  # never settles: the gold budget
    assert never["budget"] == 1000 and "longest affordable" in never["budget_reason"]
