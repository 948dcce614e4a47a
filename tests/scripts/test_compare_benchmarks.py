"""scripts/compare_benchmarks.py: which runs of a benchmark rerun ended with another best."""

import json

import pytest


@pytest.fixture(scope="module")
def cmp(load_script):
    return load_script("compare_benchmarks")


def summary(bests: dict[str, list[str]], cpu: str, iqm: float = 0.5, episodes: int = 100) -> dict:
    return {"episodes": episodes, "seeds": [0, 1], "alpha": 0.01, "env_id": "E", "env_kwargs": {},
            "table": {"proxy_hash": "p"}, "run": {"machine": {"cpu": cpu}},
            "aggregates": {a: {"IQM": {"value": iqm}} for a in bests},
            "final_fidelity": {"agents": {a: {"best_archs": b} for a, b in bests.items()}}}


def test_runs_with_another_best_are_named(cmp, tmp_path, capsys):
    first = tmp_path / "a.json"
    second = tmp_path / "b.json"
    first.write_text(json.dumps(summary({"sac": ["x", "y"], "td3": ["u", "v"]}, "Intel")))
    second.write_text(json.dumps(summary({"td3": ["u", "w"]}, "AMD", iqm=0.6)))  # a subset of the agents
    assert cmp.main([str(first), str(second), "--out", str(tmp_path / "r.json")]) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["runs"] == 2 and res["different_best"] == 1
    assert res["agents"] == {"td3": {"runs": 2, "different_best": [1], "proxy_iqm": [0.5, 0.6]}}
    assert res["provenance"]["git_sha"]
    assert "1 of 2 runs end with another best architecture (Intel vs AMD)" in capsys.readouterr().out


def test_other_setups_and_other_files_are_refused(cmp, tmp_path):
    first = tmp_path / "a.json"
    second = tmp_path / "b.json"
    first.write_text(json.dumps(summary({"sac": ["x"]}, "Intel")))
    second.write_text(json.dumps(summary({"sac": ["x"]}, "Intel", episodes=50)))
    with pytest.raises(SystemExit, match="different setups \\(episodes\\)"):
        cmp.main([str(first), str(second)])
    second.write_text(json.dumps(summary({"ppo": ["x"]}, "Intel")))
    with pytest.raises(SystemExit, match="share no agent"):
        cmp.main([str(first), str(second)])
    second.write_text(json.dumps({"aggregates": {}}))
    with pytest.raises(SystemExit, match="no gan-nas benchmark summary"):
        cmp.main([str(first), str(second)])
