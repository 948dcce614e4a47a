"""scripts/benchmark_doc.py: docs/benchmark.md's tables are the committed summary's numbers."""

import json
import re

import pytest


@pytest.fixture(scope="module")
def doc(load_script):
    return load_script("benchmark_doc")


def test_the_committed_page_matches_its_summary(doc, capsys):
    assert doc.main(["--check"]) == 0, capsys.readouterr().err


def test_a_changed_number_is_found_and_rewritten(doc, tmp_path, capsys):
    summary = json.loads(doc.SUMMARY.read_text())
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- benchmark_doc:final -->\nold\n<!-- /benchmark_doc:final -->\n"
                    "<!-- benchmark_doc:proxy -->\n<!-- /benchmark_doc:proxy -->\nend\n")
    src = tmp_path / "summary.json"
    src.write_text(json.dumps(summary))
    assert doc.main(["--check", "--summary", str(src), "--doc", str(page)]) == 1
    assert "stale blocks final, proxy" in capsys.readouterr().err
    assert doc.main(["--summary", str(src), "--doc", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("intro\n") and text.endswith("end\n") and "old" not in text
    # every agent appears once per table, in IQM order, with its own numbers
    ff = summary["final_fidelity"]["aggregates"]
    order = sorted(ff, key=lambda a: -ff[a]["IQM"]["value"])
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| agent")]
    final_rows = rows[:len(order)]
    assert [r.split(" | ")[0][2:] for r in final_rows] == [doc.name(a) for a in order]
    sac = next(r for r in final_rows if r.startswith("| SAC |"))
    assert doc.ci(ff["sac"]["IQM"]) in sac
    assert doc.main(["--check", "--summary", str(src), "--doc", str(page)]) == 0
    # the summary changes: the page is stale again
    summary["final_fidelity"]["aggregates"]["sac"]["IQM"]["value"] += 0.01
    src.write_text(json.dumps(summary))
    assert doc.main(["--check", "--summary", str(src), "--doc", str(page)]) == 1


def test_bad_inputs_are_refused(doc, tmp_path, capsys):
    page = tmp_path / "page.md"
    page.write_text("<!-- benchmark_doc:nonsense -->\n<!-- /benchmark_doc:nonsense -->\n")
    with pytest.raises(SystemExit, match="unknown block benchmark_doc:nonsense"):
        doc.main(["--doc", str(page)])
    proxy_only = tmp_path / "s.json"
    proxy_only.write_text(json.dumps({"aggregates": {}}))
    with pytest.raises(SystemExit):
        doc.main(["--summary", str(proxy_only), "--doc", str(page)])
    assert "no per-agent statistics or final fidelity" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        doc.main(["--doc", str(tmp_path / "missing.md")])
    assert "no such file" in capsys.readouterr().err
    assert page.read_text().count("nonsense") == 2  # nothing written


def test_best_sd_rescales_a_population_sd_from_an_old_summary(doc):
    import math

    best_sd = doc.best_sd
    assert best_sd({"runs": 3, "best_std": 1.0, "best_std_ddof": 1}) == 1.0
    assert math.isclose(best_sd({"runs": 3, "best_std": math.sqrt(2 / 3)}), 1.0)  # [1, 2, 3]


def test_the_gold_block_follows_the_gold_report(doc, tmp_path, capsys):
    page = tmp_path / "page.md"
    page.write_text("<!-- benchmark_doc:gold -->\n<!-- /benchmark_doc:gold -->\n")
    per = [{"iters": k, "vs_last": {"tau": t, "lo": t - 0.3, "hi": t + 0.2}} for k, t in ((1000, 0.25), (2000, 1.0))]
    gold = tmp_path / "gold.json"
    gold.write_text(json.dumps({"budget": 2000, "n": 12, "partial": True, "metrics": {"score": {"per_checkpoint": per}}}))
    assert doc.main(["--doc", str(page), "--gold", str(gold)]) == 0
    text = page.read_text()
    assert "at 1,000 iterations against its ranking at 2,000: Kendall tau 0.25 [-0.05, 0.45] over 12 " \
           "architectures so far" in text
    per[0]["iters"] = 500  # no checkpoint at the v1 budget: said, not guessed
    gold.write_text(json.dumps({"budget": 2000, "n": 12, "metrics": {"score": {"per_checkpoint": per}}}))
    with pytest.raises(SystemExit, match="no checkpoint at 1000 iterations"):
        doc.main(["--doc", str(page), "--gold", str(gold)])
    with pytest.raises(SystemExit, match="no gold report was found"):
        doc.main(["--doc", str(page), "--gold", str(tmp_path / "missing.json")])


def test_v2_blocks_come_from_the_baselines_digest(doc, tmp_path, capsys):
    """The v2 benchmark's tables (scripts/baselines.py's digest): one row per agent, IQM order."""
    digest = json.loads((doc.ROOT / "docs/benchmark/baselines/baselines.json").read_text())
    src = tmp_path / "v2.json"
    src.write_text(json.dumps(digest))
    page = tmp_path / "page.md"
    page.write_text("".join(f"<!-- benchmark_doc:{b} -->\n<!-- /benchmark_doc:{b} -->\n"
                            for b in ("v2-run", "v2-proxy", "v2-final")))
    assert doc.main(["--v2", str(src), "--doc", str(page)]) == 0
    text = page.read_text()
    for obj, head in (("proxy", "final: measured |"), ("final", "| rescored: measured |")):
        agents = digest["objectives"][obj]["agents"]
        order = sorted(agents, key=lambda a: -agents[a]["IQM"]["value"])
        block = text.split(f"<!-- benchmark_doc:v2-{obj} -->\n")[1].split("<!--")[0].splitlines()
        ms = digest["objectives"][obj].get("measured_seeds")
        assert block[2 + len(order):] == (["", doc.measured_seeds_line(ms)] if ms is not None else [])
        assert block[0].endswith(head) and all(r.startswith("| ") for r in block[2:2 + len(order)])
        assert [r.split(" | ")[0][2:] for r in block[2:]] == [doc.name(a) for a in order]
        assert doc.ci(agents[order[0]]["IQM"]) in block[2]
    assert "`gan-nas benchmark --algos random,re,ls,tpe" in text and " s; normalised with 0 =" in text
    assert "Re-analysed against the table" not in text  # runs made, not re-analysed
    final = digest["objectives"]["final"]["agents"]
    best = max(final, key=lambda a: final[a]["IQM"]["value"])
    rescored = final[best].get("final_fidelity_IQM")
    assert (doc.ci(rescored) if rescored else "| - |") in text.split("<!-- benchmark_doc:v2-final -->")[1]
    # a re-analysis (baselines.py --analyse) names the runs' command and its own
    again = {**digest, "run_provenance": digest["provenance"],
             "provenance": {**digest["provenance"], "git_sha": "abcdef0123",
                            "command": ["python", "scripts/baselines.py", "--analyse"]}}
    src.write_text(json.dumps(again))
    assert doc.main(["--v2", str(src), "--doc", str(page)]) == 0
    text = page.read_text()
    assert "`gan-nas benchmark --algos random,re,ls,tpe" in text
    assert "Re-analysed against the table at `abcdef0` (its final rows and surrogate) by " \
           "`python scripts/baselines.py --analyse`" in text
    # since the seed-by-seed build order: the seeds at which every agent's best is measured
    seeds = {**digest, "objectives": {o: {**r, "measured_seeds": {"seeds": [0], "of": 10}}
                                      for o, r in digest["objectives"].items()}}
    src.write_text(json.dumps(seeds))
    assert doc.main(["--v2", str(src), "--doc", str(page)]) == 0
    assert page.read_text().count("every agent's best is measured at 1 of 10 seeds (0)") == 2
    src.write_text(json.dumps(digest))
    assert doc.main(["--v2", str(src), "--doc", str(page)]) == 0
    assert doc.main(["--check", "--v2", str(src), "--doc", str(page)]) == 0
    with pytest.raises(SystemExit, match="no v2 benchmark was found"):
        doc.main(["--v2", str(tmp_path / "none.json"), "--doc", str(page)])


def test_the_speed_and_surrogate_blocks_follow_their_reports(doc, tmp_path, capsys):
    """The step time comes from the table facts, the v2 surrogate's fit from the validity report."""
    page = tmp_path / "page.md"
    page.write_text("<!-- benchmark_doc:speed -->\n<!-- /benchmark_doc:speed -->\n"
                    "<!-- benchmark_doc:v2-surrogate -->\n<!-- /benchmark_doc:v2-surrogate -->\n")
    facts, validity = tmp_path / "facts.json", tmp_path / "validity.json"
    facts.write_text(json.dumps({"step_ms_median": 0.0812, "step_ms_p95": 0.2, "step_count": 3000,
                                 "provenance": {"machine": {"cpu": "CPU-X", "cores": 4}}}))
    validity.write_text(json.dumps({"v2": {"final_surrogate": {
        "n": 77, "folds": 5, "kind": "gradient_boosting", "score_spearman": 0.613, "score_kendall": 0.4,
        "score_mae": 0.15, "score_mae_mean_predictor": 0.19}}}))
    assert doc.main(["--doc", str(page), "--facts", str(facts), "--validity", str(validity)]) == 0
    text = page.read_text()
    assert "median 0.081 ms, p95 0.200 ms over 3,000 steps (CPU-X, 4 cores" in text
    assert "fitted on the 77 architectures with v2 rows; 5-fold out-of-fold Spearman 0.61" in text
    assert doc.main(["--check", "--doc", str(page), "--facts", str(facts), "--validity", str(validity)]) == 0
    facts.write_text(json.dumps({"step_ms_median": 0.09, "step_ms_p95": 0.2,
                                 "provenance": {"machine": {"cpu": "CPU-X", "cores": 4}}}))
    assert doc.main(["--check", "--doc", str(page), "--facts", str(facts), "--validity", str(validity)]) == 1


def test_the_v2_verdict_groups_methods_by_their_interval_against_random(doc):
    """A method is ahead of random search when its interval of P(> random) lies above 0.5,
    behind when below, not separated when it holds 0.5, at each objective and at the final fidelity."""
    def agent(iqm, final_p, share):
        return {"IQM": {"value": iqm, "ci": [iqm, iqm]}, "final_fidelity_p_vs_random": final_p,
                "final_fidelity_measured_share": share}

    p = lambda v, lo, hi: {"value": v, "ci": [lo, hi]}  # noqa: E731
    r = {"agents": {"tpe": agent(0.9, p(0.3, 0.1, 0.45), 0.6), "sac": agent(0.5, p(0.55, 0.3, 0.8), 0.0),
                    "random": agent(0.4, None, 0.1)},
         "probability_of_improvement": {"tpe,random": p(0.9, 0.7, 1.0), "sac,random": p(0.6, 0.4, 0.8)}}
    text = doc.v2_verdict_block({"v2": {"objectives": {"proxy": r, "final": r}}})
    first, later = text.splitlines()[:2]
    assert "ahead of random search: TPE (Optuna) 0.90 [0.70, 1.00]; not separated from it: SAC 0.60" in first
    assert "behind it: TPE (Optuna) 0.30 [0.10, 0.45]" in later and "not separated from it: SAC 0.55" in later
    assert "measured rows for 0-60% of each method's bests" in later
    assert text.count("**Rewarded by the") == 2 and "random search 0." not in text
    for a in r["agents"].values():  # once every best is measured the surrogate is not named
        a["final_fidelity_measured_share"] = 1.0
    later = doc.v2_verdict_block({"v2": {"objectives": {"proxy": r, "final": r}}}).splitlines()[1]
    assert "(every method's bests measured)" in later and "surrogate" not in later


def test_the_reading_it_prose_is_checked_against_the_v2_digest(doc, tmp_path, capsys):
    """--check fails when a refresh turns a sentence of the hand-written bullets false, or the
    page stops saying one that CLAIMS checks; the committed page and digest pass."""
    v2 = json.loads(doc.V2.read_text())
    page = doc.DOC.read_text()
    assert doc.false_claims(page, v2) == []
    # SAC moves ahead of random search at the proxy: the first claim is now false
    moved = json.loads(json.dumps(v2))
    moved["objectives"]["proxy"]["probability_of_improvement"]["sac,random"]["ci"] = [0.6, 0.9]
    wrong = doc.false_claims(page, moved)
    assert len(wrong) == 2 and "SAC is the one method the proxy does not separate" in wrong[0]
    assert "TPE, local search, QR-DQN and regularized evolution all beat random search" in wrong[1]
    # a method's rescored interval leaves 0.5 upwards: "no method stays ahead" is false, and so
    # is the verdict that no method beats random search at the final fidelity
    moved = json.loads(json.dumps(v2))
    moved["objectives"]["final"]["agents"]["re"]["final_fidelity_p_vs_random"]["ci"] = [0.55, 0.9]
    wrong = doc.false_claims(page, moved)
    assert any("no method stays ahead" in w for w in wrong)
    assert any("At the final fidelity, no method beats random search" in w for w in wrong)
    # another method overtakes QR-DQN and local search in the rescored comparison
    passed = json.loads(json.dumps(v2))
    passed["objectives"]["final"]["agents"]["sac"]["final_fidelity_p_vs_random"]["value"] = 0.99
    assert any("QR-DQN and local search come closest" in w for w in doc.false_claims(page, passed))
    # a best without its measured row: the verdict's premise is false
    unmeasured = json.loads(json.dumps(v2))
    unmeasured["objectives"]["proxy"]["agents"]["ls"]["final_fidelity_measured_share"] = 0.9
    assert any("trained at 10 seeds" in w for w in doc.false_claims(page, unmeasured))
    # the objective stops mattering for one method
    flat = json.loads(json.dumps(v2))
    flat["objective_effect"]["sac"]["p_final_over_proxy"]["ci"] = [0.3, 0.8]
    assert any("Every method trains into better GANs" in w for w in doc.false_claims(page, flat))
    # a method's proxy bests fall behind random search's at the final fidelity
    behind = json.loads(json.dumps(v2))
    behind["objectives"]["proxy"]["agents"]["re"]["final_fidelity_p_vs_random"]["ci"] = [0.1, 0.4]
    assert any("none is behind them either" in w for w in doc.false_claims(page, behind))
    # a sentence rewritten away is reported too (CLAIMS would otherwise check nothing)
    gone = re.sub(r"none\s+is\s+behind\s+them\s+either", "none is far behind them", page)  # any line break
    assert gone != page
    assert any("no longer says" in w and "none is behind them either" in w for w in doc.false_claims(gone, v2))
    src, out = tmp_path / "v2.json", tmp_path / "page.md"
    src.write_text(json.dumps(moved))
    out.write_text(page)
    assert doc.main(["--v2", str(src), "--doc", str(out), "--check"]) == 1
    assert (f"prose: 'rescored, no method stays ahead of random search' is no longer true of {src}"
            in capsys.readouterr().err)


def test_the_all_agents_prose_is_checked_against_its_summary(doc, tmp_path, capsys):
    """SUMMARY_CLAIMS: the "Every algorithm" bullets whose facts move with the final rows."""
    summary = json.loads(doc.SUMMARY.read_text())
    page = doc.DOC.read_text()
    assert doc.false_claims(page, None, summary) == []
    moved = json.loads(json.dumps(summary))
    moved["final_fidelity"]["probability_of_improvement"]["sac,random"]["ci"] = [0.55, 0.9]
    wrong = doc.false_claims(page, None, moved, tmp_path / "summary.json")
    assert wrong == [f"'SAC, the E2GAN agent, is not separated from random search at either fidelity' is no "
                     f"longer true of {tmp_path / 'summary.json'}: rewrite it"]
    src = tmp_path / "summary.json"
    src.write_text(json.dumps(moved))
    out = tmp_path / "page.md"
    out.write_text(page)
    assert doc.main(["--summary", str(src), "--doc", str(out), "--check"]) == 1
    assert "prose: 'SAC, the E2GAN agent, is not separated" in capsys.readouterr().err


def test_the_objective_block_and_its_claims_follow_the_digest(doc):
    """v2-objective: one row per method, best final-rewarded mean first; the verdict's two claims
    about the objective hold only while every interval is above 0.5 / random search's final-rewarded
    mean tops every proxy-rewarded one."""
    p = lambda v, lo, hi: {"value": v, "ci": [lo, hi]}  # noqa: E731
    eff = {"random": {"seeds": 10, "of": 10, "mean_proxy": -0.2, "mean_final": 0.2, "p_final_over_proxy": p(0.8, 0.6, 1.0)},
           "ls": {"seeds": 10, "of": 10, "mean_proxy": -0.1, "mean_final": 0.6, "p_final_over_proxy": p(0.9, 0.7, 1.0)}}
    v2 = {"objective_effect": eff}
    rows = doc.v2_objective_block({"v2": v2}).splitlines()[2:]
    assert rows[0].startswith("| local search | 10 of 10 | -0.100 | 0.600 | 0.90 [0.70, 1.00]")
    assert rows[1].startswith("| random |")
    assert doc._objective_wins_everywhere(v2) and doc._random_by_final_beats_all_by_proxy(v2)
    assert doc._objective_beats_method(v2)  # gains 0.4 and 0.7 against spreads 0.1 and 0.4
    eff["random"]["mean_final"] = 0.1  # random's gain 0.3 < the final-rewarded spread 0.5
    assert not doc._objective_beats_method(v2)
    eff["random"]["mean_final"] = 0.2
    eff["ls"]["p_final_over_proxy"] = p(0.7, 0.45, 0.9)  # an interval that holds 0.5
    assert not doc._objective_wins_everywhere(v2)
    eff["ls"]["mean_proxy"] = 0.3  # a proxy-rewarded method above final-rewarded random search
    assert not doc._random_by_final_beats_all_by_proxy(v2)
    eff["ls"] = {"seeds": 1, "of": 10}  # too few measured seeds: a dash, and the claim does not hold
    assert "| local search | 1 of 10 | - | - | - |" in doc.v2_objective_block({"v2": v2})
    assert not doc._objective_wins_everywhere(v2)
    assert "no objective effect" in doc.v2_objective_block({"v2": {"objectives": {}}})


def test_the_final_measured_block_is_the_summarys_measured_seeds_line(doc):
    """Under the all-agents final table: the agents compared on measured bests only."""
    summary = json.loads(doc.SUMMARY.read_text())
    ms = summary["final_fidelity"]["measured_seeds"]
    block = doc.final_measured_block(summary)
    assert block == doc.measured_seeds_line(ms) + "\n"
    if len(ms["seeds"]) >= 2:  # every agent named once, highest mean first
        named = re.findall(r"(?:: normalised mean final objective |; )([a-z_0-9]+) -?\d", block)
        assert named == sorted(ms["mean"], key=lambda a: -ms["mean"][a])
    fewer = {**summary, "final_fidelity": {**summary["final_fidelity"],
                                           "measured_seeds": {"seeds": [3], "of": 10}}}
    assert "measured at 1 of 10 seeds (3); a comparison without the surrogate needs two or more" in \
        doc.final_measured_block(fewer)
    older = {**summary, "final_fidelity": {k: v for k, v in summary["final_fidelity"].items()
                                           if k != "measured_seeds"}}
    assert "not recorded" in doc.final_measured_block(older)
