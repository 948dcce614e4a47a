"""The performance benchmarks run end to end at tiny sizes (their numbers are not checked)."""

import importlib
import json

import pytest


def load(name: str):
    """``benchmarks.NAME``, imported as a package module (no sys.path tricks)."""
    return importlib.import_module(f"benchmarks.{name}")


def test_step_time_reports_both_paths_speedup_and_ablations(tmp_path):
    step_time = load("step_time")
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    r = step_time.main(["--preset", "tiny", "--ablate", "--no-warmup", "--out", str(out), "--md", str(md)])
    assert json.loads(out.read_text())["paths"].keys() == {"reference", "default"}
    for path in ("reference", "default"):
        steps = r["paths"][path]["steps"]
        assert [s["stage"] for s in steps] == [1, 2, 3] and [s["res"] for s in steps] == [4, 8, 16]
        assert all(s["step_s"] == pytest.approx(s["train_s"] + s["score_s"]) and s["step_s"] > 0 for s in steps)
    assert set(r["speedup"]) == {1, 2, 3} and r["speedup_episode"] > 0
    # CPU: only the techniques that act on CPU are ablated (bf16 is off in the tiny preset)
    assert set(r["ablations"]) == {"no host sync (one added per step, no graphs)", "channels_last", "cached real statistics"}
    text = md.read_text()
    assert "| default | episode (3 steps) |" in text and "| channels_last |" in text
    prov = json.loads(out.read_text())["provenance"]  # the machine, version, SHA and command
    assert prov["machine"]["cores"] and prov["git_sha"] and prov["command"]
    assert f"Machine: {prov['machine']['cpu']}" in text


def test_flops_only_counts_each_stage_without_timing(tmp_path):
    step_time = load("step_time")
    out, md = tmp_path / "f.json", tmp_path / "f.md"
    r = step_time.main(["--preset", "tiny", "--flops-only", "--out", str(out), "--md", str(md)])
    saved = json.loads(out.read_text())
    assert set(saved["flops_per_stage"]) == {"1", "2", "3"} and "paths" not in saved
    stages = list(r["flops_per_stage"].values())
    assert 0 < stages[0] < stages[1] < stages[2] and r["flops_episode"] == pytest.approx(sum(stages))
    assert "| episode |" in md.read_text() and saved["provenance"]["git_sha"]


def test_search_time_measures_episodes_and_projects(tmp_path):
    search_time = load("search_time")
    r = search_time.main(["--preset", "tiny", "--episodes", "2", "--project-episodes", "5", "--no-progress",
                          "--run-dir", str(tmp_path / "runs"), "--md", str(tmp_path / "s.md")])
    assert r["real"]["episodes"] == 2 and len(r["real"]["per_episode"]) == 2
    assert all(e["steps"] == 3 and e["train_s"] > 0 and e["score_s"] > 0 for e in r["real"]["per_episode"])
    assert r["fake_full"]["episodes"] == 5
    pr = r["projection"]
    parts = pr["setup_s"] + pr["first_episode_extra_s"] + 5 * pr["steady_episode_s"] + pr["agent_s"]
    assert pr["projected_s"] == pytest.approx(parts) and pr["projected_s"] > r["real"]["env_s"]
    assert (tmp_path / "runs" / "real" / "results.sqlite").exists()
    assert "projected 5-episode search" in (tmp_path / "s.md").read_text()
    assert f"at {r['provenance']['git_sha'][:12]}" in (tmp_path / "s.md").read_text()
