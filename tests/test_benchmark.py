import json

import numpy as np
import pytest

pytest.importorskip("rliable")

from agents.benchmark import best_so_far, run_benchmark  # noqa: E402
from gan_nas_env.cli import main  # noqa: E402


def test_best_so_far_ignores_diverged_episodes():
    assert best_so_far([1.0, float("nan"), 0.5, 2.0]).tolist() == [1.0, 1.0, 1.0, 2.0]


def test_benchmark_two_algos_two_seeds_on_the_tabular_env(small_table, tmp_path):
    path, _, _ = small_table
    res = run_benchmark(["ppo", "random"], [0, 1], 6, tmp_path, env_kwargs={"table": str(path)},
                        reps=50, progress=False)
    for name in ("report.md", "summary.json", "curves.json", "sample_efficiency.png",
                 "performance_profile.png"):
        assert (tmp_path / name).exists(), name
    assert set(res["aggregates"]) == {"ppo", "random"}
    assert "ppo,random" in res["probability_of_improvement"]
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert len(curves["raw_scores"]["random"]) == 2 and len(curves["raw_scores"]["random"][0]) == 6
    iqm = np.array(res["curves"]["random"]["iqm"])
    assert np.all(np.diff(iqm) >= -1e-9)  # best-so-far curves never go down
    assert "| ppo |" in (tmp_path / "report.md").read_text()


def test_benchmark_cli(small_table, tmp_path, capsys):
    path, _, _ = small_table
    rc = main(["benchmark", "--algos", "sac,random", "--seeds", "2", "--episodes", "4",
               "--env-kwargs", json.dumps({"table": str(path)}), "--out", str(tmp_path),
               "--reps", "50", "--no-progress"])
    assert rc == 0 and "IQM" in capsys.readouterr().out
    assert main(["benchmark", "--algos", "nope", "--out", str(tmp_path / "x")]) == 2
