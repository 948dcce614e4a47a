import csv
import json

import numpy as np
import pytest

pytest.importorskip("rliable")

from agents.benchmark.run import analyse, best_so_far, rliable_summary, run_benchmark  # noqa: E402
from gan_nas_env.cli import main  # noqa: E402
from gan_nas_env.config import ConfigError  # noqa: E402


def test_best_so_far_ignores_diverged_episodes():
    assert best_so_far([1.0, float("nan"), 0.5, 2.0]).tolist() == [1.0, 1.0, 1.0, 2.0]


def test_benchmark_two_algos_two_seeds_on_the_tabular_env(small_table, tmp_path):
    path, _, _ = small_table
    res = run_benchmark(["ppo", "random"], [0, 1], 6, tmp_path, env_kwargs={"table": str(path)},
                        reps=50, progress=False, timing_steps=50)
    for name in ("report.md", "summary.json", "curves.json", "curves.csv", "sample_efficiency.png",
                 "performance_profile.png"):
        assert (tmp_path / name).exists(), name
    assert set(res["aggregates"]) == {"ppo", "random"}
    assert "ppo,random" in res["probability_of_improvement"]
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert len(curves["runs"]["random"]) == 2 and len(curves["runs"]["random"][0]["scores"]) == 6
    rows = list(csv.DictReader((tmp_path / "curves.csv").open()))
    assert len(rows) == 2 * 2 * 6 and {r["agent"] for r in rows} == {"ppo", "random"}
    iqm = np.array(res["curves"]["random"]["iqm"])
    assert np.all(np.diff(iqm) >= -1e-9)  # best-so-far curves never go down
    report = (tmp_path / "report.md").read_text()
    assert "| ppo |" in report and "env step: median" in report
    again = analyse(tmp_path, reps=50)  # re-analysis of the folder gives the same statistics
    assert again["aggregates"] == res["aggregates"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["run"]["command"] == json.loads((tmp_path / "meta.json").read_text())["command"]
    for name, runs in curves["runs"].items():  # per-agent statistics of the runs, as in the report
        stats = summary["agents"][name]
        assert stats["runs"] == 2 and stats["distinct"] == np.mean([len(set(r["archs"])) for r in runs])
        assert stats["best_mean"] == pytest.approx(np.mean([np.nanmax(r["scores"]) for r in runs]))
        assert f"| {name} | {stats['best_mean']:.4f} +- " in report
    from gan_nas_env.run_folder import RunFolderError, RunLock, RunLockedError

    with RunLock(tmp_path).acquire(), pytest.raises(RunLockedError):  # never beside a writer
        analyse(tmp_path, reps=50)
    with pytest.raises(RunFolderError, match="not a finished benchmark folder"):
        analyse(tmp_path / "nothing", reps=50)


def test_benchmark_reports_the_final_fidelity(final_table, small_table, tmp_path):
    from agents.benchmark.final_scores import best_arch_curve
    from gan_nas_env.evaluators.tabular import load_table

    path, _, _ = final_table
    res = run_benchmark(["random"], [0, 1, 2], 8, tmp_path, env_kwargs={"table": str(path)},
                        reps=50, progress=False, timing_steps=20)
    ff = res["final_fidelity"]
    table = load_table(path)
    assert ff["reference"]["n"] == 40 and ff["reference"]["best"] >= ff["reference"]["mean"]
    curves = json.loads((tmp_path / "curves.json").read_text())
    from agents.benchmark.report import RunLog

    for run, score in zip(curves["runs"]["random"], ff["agents"]["random"]["final_score"]):
        best = best_arch_curve(RunLog(**run))[-1]
        assert score == pytest.approx(table.final(best)["score"])  # measured or predicted
    share = ff["agents"]["random"]["measured_share"]
    assert 0 <= share <= 1
    assert set(ff["aggregates"]) == {"random"} and "IQM" in ff["aggregates"]["random"]
    flags = ff["agents"]["random"]["measured"]
    assert len(flags) == 3 and share == pytest.approx(np.mean(flags))
    assert ff["measured_seeds"]["seeds"] == [s for s, m in zip([0, 1, 2], flags) if m]
    report = (tmp_path / "report.md").read_text()
    assert "## At the final fidelity" in report and "Measured bests only" in report
    # a proxy-only table reports no final fidelity
    res = run_benchmark(["random"], [0], 4, tmp_path / "p", env_kwargs={"table": str(small_table[0])},
                        reps=20, progress=False, timing_steps=10)
    assert res["final_fidelity"] == {}
    assert "final fidelity" not in (tmp_path / "p" / "report.md").read_text()


@pytest.mark.parametrize("algos, seeds, episodes, fragment", [
    ([], [0], 5, "no agent to run"),
    (["random"], [], 5, "at least one seed"),
    (["random"], [0], 0, "at least one seed and one episode"),
    (["random", "re", "random"], [0], 5, "agent random given more than once"),
    (["random"], [0, 1, 0], 5, "seed 0 given more than once"),
])
def test_a_benchmark_that_would_run_nothing_or_twice_is_refused_before_writing(
        algos, seeds, episodes, fragment, tmp_path):
    out = tmp_path / "b"
    with pytest.raises(ConfigError, match=fragment):
        run_benchmark(algos, seeds, episodes, out, progress=False)
    assert not out.exists()


def test_measured_seeds_compare_only_bests_that_every_agent_has_measured():
    from agents.benchmark.final_scores import measured_seeds
    from agents.benchmark.report import measured_seeds_line

    ref = {"mean": 1.0, "best": 3.0}
    per_agent = {"random": {"final_score": [1.0, 2.0, 9.0, 1.5], "measured": [True, True, False, True]},
                 "ls": {"final_score": [3.0, 2.0, 3.0, 8.0], "measured": [True, True, True, False]}}
    ms = measured_seeds(per_agent, ref, [10, 11, 12, 13], reps=50)
    assert ms["seeds"] == [10, 11] and ms["of"] == 4  # seed 12: random's is predicted; 13: ls's
    assert ms["mean"] == {"random": pytest.approx(0.25), "ls": pytest.approx(0.75)}  # (x - 1) / 2
    assert set(ms["p_vs_random"]) == {"ls"} and ms["p_vs_random"]["ls"]["value"] == pytest.approx(0.875)  # ties count half
    line = measured_seeds_line(ms)
    assert line.startswith("Measured bests only, at the 2 of 4 seeds") and "ls 0.750 (P > random 0.875" in line
    one = measured_seeds({a: {**v, "measured": [True, False, False, False]} for a, v in per_agent.items()},
                         ref, [10, 11, 12, 13])
    assert one == {"seeds": [10], "of": 4}
    assert "at 1 of 4 seeds (10); a comparison without the surrogate needs two" in measured_seeds_line(one)
    assert "not recorded" in measured_seeds_line(None)


def test_intervals_are_seeded_and_per_agent():
    rng = np.random.default_rng(0)
    final = {"a": rng.random((8, 1)), "b": rng.random((8, 1))}
    curves = {k: np.repeat(v[:, :, None], 3, axis=2) for k, v in final.items()}
    both = rliable_summary(final, curves, reps=100)
    alone = rliable_summary({"a": final["a"]}, {"a": curves["a"]}, reps=100)
    assert both["aggregates"]["a"] == alone["aggregates"]["a"]
    assert rliable_summary(final, curves, reps=100) == both


def test_benchmark_cli(small_table, tmp_path, capsys):
    path, _, _ = small_table
    rc = main(["benchmark", "--algos", "sac,random", "--seeds", "2", "--episodes", "4",
               "--env-kwargs", json.dumps({"table": str(path)}), "--out", str(tmp_path),
               "--reps", "50", "--timing-steps", "20", "--no-progress", "--hyperparams", "sac:learning_starts:4"])
    assert rc == 0 and "IQM" in capsys.readouterr().out
    assert main(["benchmark", "--algos", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "known: a2c" in capsys.readouterr().err
    before = json.loads((tmp_path / "summary.json").read_text())
    (tmp_path / "report.md").unlink()
    assert main(["benchmark", "--analyse", "--out", str(tmp_path), "--reps", "50"]) == 0  # runs nothing
    after = json.loads((tmp_path / "summary.json").read_text())
    assert after["aggregates"] == before["aggregates"] and (tmp_path / "report.md").exists()
    assert after["run"] == before["run"]  # the run's own provenance is kept
    assert main(["benchmark", "--analyse", "--out", str(tmp_path / "none")]) == 2
    assert "not a finished benchmark folder" in capsys.readouterr().err


def test_agent_hyperparams_parse():
    from gan_nas_env.cli.benchmark import parse_agent_hyperparams

    assert parse_agent_hyperparams(["sac:learning_starts:8", "SAC:tau:0.01", "dqn:gamma:0.9"]) == {
        "sac": {"learning_starts": 8, "tau": 0.01}, "dqn": {"gamma": 0.9}}
    with pytest.raises(ValueError, match="agent:name:value"):
        parse_agent_hyperparams(["learning_starts:8"])


def test_benchmark_on_an_env_without_table_reports_raw_scores(tmp_path):
    res = run_benchmark(["random"], [0, 1], 3, tmp_path, env_id="GANCellSearch-v0",
                        env_kwargs={"config": "tiny", "evaluator": "fake"}, reps=20, progress=False)
    assert not res["normalised"] and res["table"] == {}
    assert "raw scores" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "performance_profile.png").exists()


def test_sample_sd_is_ddof_one_over_finite_values():
    """'+-' in the reports is the sample sd (ddof 1), NaN-safe; one value has none."""
    import math

    from agents.benchmark.report import sample_sd

    assert sample_sd([1.0, 2.0, 3.0]) == 1.0  # the population sd would be 0.816
    assert sample_sd([1.0, float("nan"), 3.0]) == math.sqrt(2.0)
    assert math.isnan(sample_sd([5.0]))
