"""scripts/evaluator_study.py: candidate evaluators against a final ranking, on synthetic inputs."""

import json

import numpy as np
import pytest

from gan_nas_env.evaluators.final import FinalRows
from gan_nas_env.evaluators.tabular import load_table
from gan_nas_env.generator_costs import Widths
from gan_nas_env.space import Architecture


@pytest.fixture(scope="module")
def study(load_script):
    return load_script("evaluator_study")


def _reference(study, n=12, final_s=100.0):
    score = np.linspace(0.0, 1.0, n)
    return study.Reference("v1", [f"a{i}" for i in range(n)], score, np.full(n, final_s), {})


@pytest.mark.parametrize("sign, tau", [(1.0, 1.0), (-1.0, -1.0)])
def test_a_perfect_candidate_gets_tau_one_and_a_reversed_one_minus_one(study, sign, tau):
    y = np.random.default_rng(0).normal(size=15)
    s = study.rank_stats(np.exp(sign * y), y, reps=200)  # any monotone transform ranks alike
    assert s["n"] == 15
    assert s["kendall"]["value"] == pytest.approx(tau) and s["spearman"]["value"] == pytest.approx(tau)
    assert s["kendall"]["ci"] == pytest.approx([tau, tau])


def test_bootstrap_interval_contains_a_noisy_tau_and_is_seeded(study):
    rng = np.random.default_rng(1)
    y = rng.normal(size=40)
    x = y + rng.normal(size=40)
    a, b = study.rank_stats(x, y, reps=300, seed=3), study.rank_stats(x, y, reps=300, seed=3)
    lo, hi = a["kendall"]["ci"]
    assert 0 < lo < a["kendall"]["value"] < hi < 1
    assert a == b
    assert study.rank_stats(x, y, reps=300, seed=4)["kendall"]["ci"] != a["kendall"]["ci"]


def test_three_architectures_give_values_without_intervals(study):
    s = study.rank_stats(np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 2.0]), reps=50)
    assert s["kendall"]["value"] == pytest.approx(-1 / 3) and s["kendall"]["ci"] is None


def test_values_that_could_not_be_computed_rank_last(study):
    v, failed = study.rank_last(np.array([0.5, np.nan, -2.0, -np.inf]))
    assert failed == 2 and v[1] < -2.0 and v[3] < -2.0 and v[0] == 0.5


def test_results_table_cost_fraction_goal_and_order(study):
    ref = _reference(study)
    n = len(ref.archs)
    cands = [
        study.Candidate("reversed", "zero-cost", -ref.score, np.zeros(n)),
        study.Candidate("perfect but costly", "early training", ref.score * 3, np.full(n, 50.0)),
        study.Candidate("perfect and cheap", "proxy", ref.score + 1, np.full(n, 5.0)),
        study.Candidate("noise", "proxy", np.random.default_rng(0).normal(size=n), np.full(n, 1.0)),
    ]
    res = study.evaluate(ref, cands, reps=100)
    by = {r["name"]: r for r in res}
    assert [r["name"] for r in res] == ["reversed", "noise", "perfect and cheap", "perfect but costly"]
    assert [r["id"] for r in res] == [1, 2, 3, 4]
    assert by["reversed"]["kendall"]["value"] == pytest.approx(-1.0)
    assert by["perfect and cheap"]["kendall"]["value"] == pytest.approx(1.0)
    assert by["perfect and cheap"]["cost_fraction"] == pytest.approx(0.05)
    assert by["perfect and cheap"]["meets_goal"] and by["perfect and cheap"]["ci_clears_goal"]
    assert not by["perfect but costly"]["meets_goal"]  # 50% of a final row
    assert not by["reversed"]["meets_goal"] and not by["noise"]["meets_goal"]
    text = study.verdict(res)
    assert "Reach it: perfect and cheap" in text and "costly" not in text


def test_verdict_names_the_best_cheap_one_when_none_reaches_the_goal(study):
    ref = _reference(study)
    half = np.where(np.arange(len(ref.archs)) % 2, ref.score, -ref.score)
    res = study.evaluate(ref, [study.Candidate("weak", "zero-cost", ref.score + half, np.zeros(len(ref.archs)))],
                         reps=50)
    assert not res[0]["meets_goal"]
    assert study.verdict(res).startswith("No candidate reaches it. The best at <= 10%") and "weak" in study.verdict(res)
    rule = study.Candidate("rule", "baseline", ref.score + 0.9 * half, np.zeros(len(ref.archs)))
    text = study.verdict(study.evaluate(ref, [rule, study.Candidate("weak", "zero-cost", ref.score + half,
                                                                     np.zeros(len(ref.archs)))], reps=50))
    assert "best at <= 10% of a final row's cost: rule" in text
    assert "not a hand-made baseline: weak" in text


def test_too_few_architectures_are_not_judged(study):
    ref = _reference(study, n=5)
    res = study.evaluate(ref, [study.Candidate("perfect", "proxy", ref.score, np.zeros(5))], reps=50)
    assert res[0]["kendall"]["value"] == pytest.approx(1.0) and not res[0]["meets_goal"]
    assert study.verdict(res).startswith("Not judged: 5 architectures")


def test_power_law_extrapolation_recovers_an_exact_curve(study):
    t = np.arange(500, 3001, 500, dtype=float)
    fid = 4.0 + 300.0 * (t / 1000) ** -1.2 / 10
    true = 4.0 + 300.0 * (10.0) ** -1.2 / 10
    assert study.power_law_extrapolate(t, fid, 10_000) == pytest.approx(true, rel=1e-3)
    assert np.isnan(study.power_law_extrapolate(t[:2], fid[:2], 10_000))
    # with the exponent fixed, two points determine a and b exactly
    y = 3.0 + 40.0 * (t / 10_000) ** -0.5
    assert study.power_law_extrapolate(t[:2], y[:2], 10_000, c=0.5) == pytest.approx(43.0)
    assert np.isnan(study.power_law_extrapolate(t[:1], y[:1], 10_000, c=0.5))


def test_the_rule_counts_cells_without_instance_norm(study):
    archs = ["0 2 0 0 0 2 0 0 0 0 2 0 0 0", "0 1 0 0 0 2 0 0 0 0 0 0 0 0", "0 0 0 0 0 1 0 0 0 0 0 0 0 0"]
    assert study.rule_candidate(archs).values.tolist() == [0, 2, 3]


def test_surrogate_never_trains_on_a_held_out_architecture(study, monkeypatch):
    from gan_nas_env.evaluators import surrogate

    archs = list(dict.fromkeys(str(Architecture.parse(a)) for a in load_table().uniform_sample(150)))[:12]
    extra = list(dict.fromkeys(str(Architecture.parse(a)) for a in load_table().complete()))
    extra = [a for a in extra if a not in archs][:5]
    train = {a: np.array([1.0 + i, 10.0]) for i, a in enumerate(archs + extra)}
    seen = []

    class Recorder:
        def fit(self, x, y):
            self.x = x
            return self

        def predict(self, x):
            seen.append((self.x, x))
            return np.zeros((len(x), 2))

    from gan_nas_env.evaluators.final import FINAL_SURROGATE_KIND

    monkeypatch.setitem(surrogate.MODELS, FINAL_SURROGATE_KIND, lambda seed: Recorder())
    values, secs = study.surrogate_oof(train, archs, study.Objective(0.01), folds=4)
    assert values.shape == (12,) and len(seen) == 4 and secs >= 0
    seen.clear()
    study.surrogate_oof(train, archs, study.Objective(0.01), folds=4, repeats=3)
    assert len(seen) == 12  # 3 splits of 4 folds
    assert len({tuple(map(tuple, xte)) for _, xte in seen}) > 4  # the splits differ
    for xtr, xte in seen:
        assert len(xtr) == len(train) - len(xte)  # every other architecture, the extra ones too
        assert not any((xtr == row).all(1).any() for row in xte)


def test_naswot_is_deterministic_and_finite_on_a_tiny_generator(study):
    w = Widths(latent_dim=8, gf=4, bottom_width=4, channels=1)
    a = Architecture.parse("0 0 0 0 0 1 0 0 0 0 2 0 0 0")
    s = study.naswot(a, w, (0, 1), batch=16)
    assert np.isfinite(s) and s == study.naswot(a, w, (0, 1), batch=16)
    assert s != study.naswot(Architecture.parse("1 2 2 1 1 2 2 1 1 1 2 2 1 3"), w, (0, 1), batch=16)


def _curve_rows(archs, budget=3000):
    """v2 curve rows: the ranking at 1000 iterations is the final one, at 500 its reverse."""
    rows = []
    for i, arch in enumerate(archs):
        q = i / len(archs)
        curve = [{"iter": it, "IS": 1.0 + q * (1 if it >= 1000 else -1) + it / 1000, "FID": 30.0 - it / 200,
                  "KID": 0.1, "wall_s": it / 10} for it in range(500, budget + 1, 500)]
        rows.append({"arch": arch, "seed": 0, **{k: curve[-1][k] for k in ("IS", "FID", "KID")},
                     "train_s": budget / 10, "curve": curve})
    return rows


def test_curve_candidates_score_at_k_and_extrapolate(study):
    table = load_table()
    archs = table.uniform_sample(150)[:6]
    rows = FinalRows.from_records(_curve_rows(archs), "curve-test", {})
    ref = study.reference_v2(table, rows, 3000, study.Objective(table.alpha))
    assert ref.archs == archs and ref.cost_s.tolist() == [300.0] * 6
    cands = {c.name: c for c in study.curve_candidates(rows, ref, study.Objective(table.alpha),
                                                       (500, 1000, 2000, 3000))}
    assert list(cands) == ["train 500 iterations", "train 1000 iterations", "extrapolate from 1000 iterations",
                           "train 2000 iterations", "extrapolate from 2000 iterations"]  # 3000 is the budget
    assert "c fixed" in cands["extrapolate from 1000 iterations"].note  # two checkpoints: exponent fixed
    assert "c fixed" not in cands["extrapolate from 2000 iterations"].note
    res = {r["name"]: r for r in study.evaluate(ref, list(cands.values()), reps=50)}
    assert res["train 500 iterations"]["kendall"]["value"] == pytest.approx(-1.0)
    assert res["train 1000 iterations"]["kendall"]["value"] == pytest.approx(1.0)
    assert res["train 1000 iterations"]["cost_s"] == pytest.approx(100.0)
    assert res["extrapolate from 2000 iterations"]["failed"] == 0
    assert res["train 1000 iterations"]["values"] == pytest.approx(cands["train 1000 iterations"].values.tolist())
    left = study.omitted(ref, rows, (500, 1000, 2000, 3000))
    assert [x.split(":")[0] for x in left] == ["surrogate on v2 final rows", "extrapolate from 500 iterations",
                                               "train 3000 iterations"]
    assert study.omitted(ref, None) == []


def test_fid_target_ranks_by_fid_alone(study):
    """Against FID the reference and the checkpoints rank by FID (lower better), not the score."""
    table = load_table()
    archs = table.uniform_sample(150)[:6]
    rows = _curve_rows(archs)
    for i, r in enumerate(rows):  # FID reversed against IS: the score follows IS, FID the other way
        for c in r["curve"]:
            c["FID"] = 10.0 + (i if c["iter"] >= 1000 else -i)
        r["FID"] = r["curve"][-1]["FID"]
    fr = FinalRows.from_records(rows, "curve-test", {})
    obj = study.Objective(table.alpha, "FID")
    ref = study.reference_v2(table, fr, 3000, obj)
    assert ref.score.tolist() == [-(10.0 + i) for i in range(6)]  # oriented: higher is better
    assert study.Objective(table.alpha).of(np.array([[2.0, 10.0]]), ("IS", "FID"))[0] == pytest.approx(
        2.0 - table.alpha * 10.0)
    assert study.Objective(table.alpha, "IS").of(np.array([[2.0, 10.0]]), ("IS", "FID"))[0] == 2.0
    cands = {c.name: c for c in study.curve_candidates(fr, ref, obj, (500, 1000))}
    res = {r["name"]: r for r in study.evaluate(ref, list(cands.values()), reps=50)}
    assert res["train 1000 iterations"]["kendall"]["value"] == pytest.approx(1.0)
    assert res["train 500 iterations"]["kendall"]["value"] == pytest.approx(-1.0)


@pytest.mark.parametrize("reference", ["v1", "v2"])
def test_main_writes_json_markdown_and_plot(study, tmp_path, reference):
    table = load_table()
    archs = table.uniform_sample(150)[:12]
    # v1: the final score is the reverse of the proxy's; v2: the order of the 1000-iteration checkpoint
    v1 = [{"arch": a, "seed": 0, "IS": 2.0 - table.score(a), "FID": 0.0, "KID": 0.1, "train_s": 200.0}
          for a in archs]
    (tmp_path / "v1.json").write_text(json.dumps({"final_hash": "f1", "config": {}, "rows": v1}))
    (tmp_path / "v2.json").write_text(json.dumps({"final_hash": "f2", "config": {}, "rows": _curve_rows(archs)}))
    argv = ["--reference", reference, "--finals-v1", str(tmp_path / "v1.json"), "--finals-v2",
            str(tmp_path / "v2.json"), "--proxy-noise", str(tmp_path / "none.json"), "--reps", "30",
            "--init-seeds", "1", "--folds", "3",
            "--out", str(tmp_path / "out" / f"ev_{reference}")]
    study.main(argv)
    res = json.loads((tmp_path / "out" / f"ev_{reference}.json").read_text())
    by = {r["name"]: r for r in res["results"]}
    assert res["reference"]["n"] == 12 and res["reference"]["archs"] == archs
    assert res["provenance"]["command"][1:] == argv and res["provenance"]["git_sha"]
    if reference == "v1":
        assert by["proxy score (IS - alpha FID)"]["kendall"]["value"] == pytest.approx(-1.0)
        assert res["reference"]["final_cost_s_mean"] == pytest.approx(200.0)
        assert not any(r["family"] == "early training" for r in res["results"])
    else:
        assert by["train 1000 iterations"]["kendall"]["value"] == pytest.approx(1.0)
        assert res["reference"]["budget"] == 3000
    md = (tmp_path / "out" / f"ev_{reference}.md").read_text()
    assert "n = 12 architectures" in md and "Rerun (one command): `python scripts/evaluator_study.py" in md
    assert "| cells without instance norm (hand-made rule) | baseline |" in md
    assert (tmp_path / "out" / f"ev_{reference}.png").stat().st_size > 0


def test_seed_averaged_proxy_costs_every_seed_and_fails_where_a_seed_diverged(study, tmp_path):
    rows = {"0": {"a": {"score": 1.0, "IS": 1.5, "cost_s": 5.0}, "b": {"score": 0.0, "IS": 1.0, "cost_s": 5.0},
                  "c": {"score": 2.0, "IS": 2.0, "cost_s": 5.0}},
            "1": {"a": {"score": 3.0, "IS": 2.5, "cost_s": 6.0}, "b": {"score": 1.0, "IS": 3.0, "cost_s": 6.0}}}  # c diverged under seed 1
    path = tmp_path / "proxy_noise.json"
    path.write_text(json.dumps({"rows": rows}))
    score, is_ = study.seed_mean_candidates(path, ["a", "b", "c"])
    assert score.name == "proxy score, mean of 2 GAN seeds" and score.family == "proxy"
    assert is_.name == "proxy IS, mean of 2 GAN seeds"
    assert score.values[:2].tolist() == [2.0, 0.5] and np.isnan(score.values[2])
    assert is_.values[:2].tolist() == [2.0, 2.0] and np.isnan(is_.values[2])
    assert score.cost_s.tolist() == [11.0, 11.0, 11.0]  # c: the mean cost (its failure still cost a proxy)
    assert study.seed_mean_candidates(tmp_path / "none.json", ["a"]) == []
    path.write_text(json.dumps({"rows": {"0": rows["0"]}}))
    assert study.seed_mean_candidates(path, ["a"]) == []  # one seed: nothing to average


def test_ladder_rungs_are_judged_on_the_architectures_they_hold(study, tmp_path):
    ref = _reference(study, n=6)
    def row(i, diverged=False):
        return {"score": float(i), "IS": float(-i), "diverged": diverged, "cost_s": 10.0 + i}
    ladder = {"budgets": {"16": {"proxy_hash": "t", "rows": {}},  # the table's own budget: not a rung
                          "64": {"proxy_hash": "h64", "rows": {f"a{i}": row(i, diverged=i == 3) for i in range(5)}}}}
    path = tmp_path / "ladder.json"
    path.write_text(json.dumps(ladder))
    cands = study.ladder_candidates(path, ref.archs)
    assert [c.name for c in cands] == ["proxy score, 64 D steps per cell", "proxy IS, 64 D steps per cell"]
    score = cands[0]
    assert score.judged.tolist() == [True] * 5 + [False]
    assert score.values[3] == -np.inf and np.isnan(score.values[5])
    res = {r["name"]: r for r in study.evaluate(ref, cands, reps=50)}
    r = res["proxy score, 64 D steps per cell"]
    assert r["n"] == 5 and r["failed"] == 1  # a5 left out, a3 diverged: ranked last
    assert r["cost_s"] == pytest.approx(12.0)  # the mean over the judged ones only
    # a0..a4 in order but a3 ranked last: its pairs with a0..a2 disagree, 7 of 10 agree
    assert r["kendall"]["value"] == pytest.approx(0.4)
    # IS reversed, a3 last: only the pair (a3, a4) agrees
    assert res["proxy IS, 64 D steps per cell"]["kendall"]["value"] == pytest.approx(-0.8)
    assert study.ladder_candidates(tmp_path / "none.json", ref.archs) == []
    assert cands[0].search_with == study.SEARCH_WITH[("64", "score")]
    assert cands[1].search_with == study.SEARCH_WITH[("64", "IS")]


def test_verdict_names_the_best_evaluator_a_search_can_use(study):
    """A surrogate may rank best, but a search needs an env setting: the verdict also names
    the best candidate that has one, with how to search with it."""
    ref = _reference(study)
    n = len(ref.archs)
    half = np.where(np.arange(n) % 2, ref.score, -ref.score)
    cands = [study.Candidate("surrogate", "surrogate", ref.score + 0.5 * half, np.zeros(n)),
             study.Candidate("proxy a", "proxy", ref.score + 0.9 * half, np.ones(n), search_with="`--config a`"),
             study.Candidate("proxy b", "proxy", ref.score + 2.0 * half, np.ones(n), search_with="`--config b`")]
    text = study.verdict(study.evaluate(ref, cands, reps=50))
    best, usable = text.split("The best that a search can use")
    assert "surrogate" in best and "proxy" not in best
    assert usable.startswith(" (a GANCellSearch-v0 setting): proxy a,") and usable.endswith("`--config a`.")
    none = study.verdict(study.evaluate(ref, cands[:1], reps=50))
    assert "a search can use" not in none


@pytest.mark.parametrize("setting", ["16-score", "16-IS", "64-score", "64-IS", "256-score", "256-IS"])
def test_every_named_search_setting_is_a_preset_with_that_budget_and_reward(study, setting):
    """Each search setting the study names loads, trains its cells with that rung's budget
    and rewards IS alone exactly when the candidate is the IS one."""
    import shlex

    from gan_nas_env.config import load_config

    budget, key = setting.split("-")
    words = shlex.split(study.SEARCH_WITH[(budget, key)].split("`")[1])
    preset = words[words.index("--config") + 1]
    overrides = [w for w in words[words.index("--config") + 2:] if w != "--set"]  # KEY=VALUE, as --set
    cfg = load_config(preset, overrides=overrides)
    assert cfg.train.d_iters_per_cell == int(budget)
    assert (cfg.env.alpha == 0.0) is (key == "IS")
