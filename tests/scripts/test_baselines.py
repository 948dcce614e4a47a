"""scripts/baselines.py: the classic baselines at both objectives, shipped with sample sds."""

import json

import numpy as np
import pytest

pytest.importorskip("rliable")


@pytest.mark.slow  # four gan-nas processes and its own tiny table: CI runs it in the slow step
def test_baselines_script_runs_both_objectives_and_ships_sample_sds(final_table, tmp_path, load_script):
    path, _, _ = final_table
    script = load_script("baselines")
    assert script.main(["--table", str(path), "--algos", "random,re", "--seeds", "2", "--episodes", "3",
                        "--runs", str(tmp_path / "runs"), "--ship", str(tmp_path / "ship")]) == 0
    res = json.loads((tmp_path / "ship" / "baselines.json").read_text())
    assert set(res["objectives"]) == {"proxy", "final"} and res["provenance"]["git_sha"]
    for objective, digest in res["objectives"].items():
        ship = tmp_path / "ship" / objective
        for name in ("summary.json", "report.md", "missing_bests.json", "curves.json.gz"):
            assert (ship / name).exists(), (objective, name)
        assert f"objective: {objective}" in (ship / "report.md").read_text()
        runs = json.loads((tmp_path / "runs" / f"baselines_{objective}" / "curves.json").read_text())["runs"]
        for name in ("random", "re"):
            bests = [np.nanmax(r["objective"]) for r in runs[name]]  # what each run ranked by
            assert digest["agents"][name]["raw_best_sd"] == pytest.approx(np.std(bests, ddof=1))
    with pytest.raises(SystemExit):
        script.main(["--seeds", "1"])  # a standard deviation needs two seeds
    # --analyse: the shipped runs scored again (a fresh clone: unpacked from curves.json.gz), not made again
    import shutil

    shutil.rmtree(tmp_path / "runs")
    assert script.main(["--analyse", "--runs", str(tmp_path / "runs"), "--ship", str(tmp_path / "ship")]) == 0
    again = json.loads((tmp_path / "ship" / "baselines.json").read_text())
    assert again["run_provenance"] == res["provenance"] and "--analyse" in again["provenance"]["command"]
    for objective, digest in again["objectives"].items():
        before = res["objectives"][objective]
        assert digest["command"] == before["command"] and digest["wall_s"] == before["wall_s"]
        assert {a: d["raw_best_mean"] for a, d in digest["agents"].items()} == \
            {a: d["raw_best_mean"] for a, d in before["agents"].items()}  # the same runs


def test_bad_agents_and_folders_are_refused_before_any_run(tmp_path, load_script, capsys):
    script = load_script("baselines")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    runs = tmp_path / "runs"
    for argv, says in ((["--algos", "random,foo"], "unknown agent 'foo'; known: "),
                       (["--ship", str(a_file / "ship")], "a_file is a file, not a folder; choose another --ship"),
                       (["--runs", str(a_file)], "choose another --runs")):
        with pytest.raises(SystemExit) as exc:
            script.main(["--seeds", "2", "--episodes", "1", "--runs", str(runs), *argv])
        assert exc.value.code == 2 and says in capsys.readouterr().err
    assert not runs.exists()  # nothing ran
    (runs / "baselines_final").mkdir(parents=True)
    (runs / "baselines_final" / "curves.json").write_text("{}")
    with pytest.raises(SystemExit) as exc:
        script.main(["--seeds", "2", "--episodes", "1", "--runs", str(runs)])
    assert exc.value.code == 2 and "holds a finished run: re-score it" in capsys.readouterr().err
    assert (runs / "baselines_final" / "curves.json").read_text() == "{}"  # left alone


def test_analyse_without_shipped_runs_says_so(tmp_path, load_script, capsys):
    script = load_script("baselines")
    with pytest.raises(SystemExit) as exc:
        script.main(["--analyse", "--runs", str(tmp_path / "runs"), "--ship", str(tmp_path / "ship")])
    assert exc.value.code == 2 and "baselines.json: no such file" in capsys.readouterr().err


def test_analyse_reads_the_settings_of_an_older_baselines_json(load_script):
    # docs/benchmark/baselines/baselines.json predates the algos/seeds/episodes keys (a KeyError
    # once): its runs' settings are read from the gan-nas benchmark command it records
    script = load_script("baselines")
    cmd = ["gan-nas", "benchmark", "--algos", "random,re,ls,tpe", "--seeds", "10", "--episodes", "100",
           "--objective", "proxy", "--out", "runs/baselines_proxy"]
    old = {"what": "x", "objectives": {"proxy": {"command": cmd}}}
    assert script.run_settings(old) == {"algos": ["random", "re", "ls", "tpe"], "seeds": 10, "episodes": 100}
    new = {"algos": ["sac"], "seeds": 3, "episodes": 7, "objectives": {"proxy": {"command": cmd}}}
    assert script.run_settings(new) == {"algos": ["sac"], "seeds": 3, "episodes": 7}
    with pytest.raises(SystemExit, match="records neither"):
        script.run_settings({"objectives": {"proxy": {"command": ["gan-nas", "benchmark", "--seeds", "x"]}}})
    shipped = json.loads((script.SHIPPED / "baselines.json").read_text())
    assert script.run_settings(shipped)["algos"] == ["random", "re", "ls", "tpe"]


def _final_summary(folder, scores, measured, ref=(3.0, 4.0)):
    """A benchmark folder whose summary holds only what objective_effect reads."""
    folder.mkdir(parents=True)
    agents = {a: {"final_score": s, "measured": m} for (a, s), m in zip(scores.items(), measured)}
    (folder / "summary.json").write_text(json.dumps({"final_fidelity": {
        "reference": {"mean": ref[0], "best": ref[1]}, "agents": agents}}))


def test_objective_effect_compares_the_two_objectives_on_measured_bests_only(tmp_path, load_script):
    """Per method: the normalised means of its bests rewarded by either objective, over the seeds
    where both are measured, and P(by the final objective > by the proxy)."""
    script = load_script("baselines")
    runs = tmp_path / "runs"
    assert script.objective_effect(runs) is None  # no runs, no comparison
    _final_summary(runs / "baselines_proxy", {"ls": [3.0, 3.2, 3.4, 9.9], "re": [3.5, 3.5, 3.5, 3.5]},
                   [[True, True, True, False], [True, False, False, False]])
    assert script.objective_effect(runs) is None  # one objective alone
    _final_summary(runs / "baselines_final", {"ls": [3.6, 3.8, 4.0, 0.0], "re": [3.0, 3.0, 3.0, 3.0]},
                   [[True, True, True, True], [True, True, True, True]])
    eff = script.objective_effect(runs, reps=200)
    ls = eff["ls"]  # the unmeasured 4th seed (proxy side) is left out on both sides
    assert (ls["seeds"], ls["of"]) == (3, 4)
    assert ls["mean_proxy"] == pytest.approx(0.2) and ls["mean_final"] == pytest.approx(0.8)
    assert ls["p_final_over_proxy"]["value"] == pytest.approx(1.0)  # every final-rewarded best is higher
    assert eff["re"] == {"seeds": 1, "of": 4}  # one common measured seed: no comparison


def test_the_provenance_is_taken_before_anything_is_written(tmp_path, load_script, monkeypatch):
    """The shipped copies land in the repository: a provenance taken after them would record the
    commit as "+dirty" (it did once), so both paths take it before the first run or re-analysis."""
    script = load_script("baselines")
    calls = []
    monkeypatch.setattr(script, "provenance", lambda: calls.append("provenance") or {"git_sha": "x"})
    monkeypatch.setattr(script, "run_objective", lambda o, *a, **k: calls.append(o) or {"wall_s": 0.0, "command": [o]})
    monkeypatch.setattr(script, "objective_effect", lambda runs: None)
    (tmp_path / "ship").mkdir()  # the real run_objective makes it
    assert script.main(["--algos", "random", "--runs", str(tmp_path / "runs"), "--ship", str(tmp_path / "ship")]) == 0
    assert calls == ["provenance", "proxy", "final"]
    calls.clear()
    assert script.main(["--analyse", "--runs", str(tmp_path / "runs"), "--ship", str(tmp_path / "ship")]) == 0
    assert calls == ["provenance", "proxy", "final"]
    shipped = json.loads((tmp_path / "ship" / "baselines.json").read_text())
    assert shipped["provenance"]["git_sha"] == "x" and shipped["run_provenance"]["git_sha"] == "x"
