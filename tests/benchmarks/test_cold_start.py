import pytest

from benchmarks.cold_start import markdown, measure


@pytest.mark.parametrize("env_id, extra", [("GANCellSearchBench-v0", {}),
                                           ("GANCellSearchBench-v1", {"objective": "final"})])
def test_cold_start_harness_times_fresh_processes(final_table, env_id, extra):
    res = measure(runs=1, steps=50, env_kwargs={"table": str(final_table[0]), **extra}, env_id=env_id)
    assert res["step_ms"]["steps"] == 50
    assert 0 < res["step_ms"]["median"] <= res["step_ms"]["p99"] <= res["step_ms"]["max"]
    assert res["cold_start_s"] >= res["import_s"] + res["make_s"]
    assert res["cold_start_s"] < res["cold_start_10_steps_s"] <= res["cold_start_10_steps_s_max"]
    assert not res["torch_imported"] and not res["sklearn_imported"]
    res["provenance"] = {"machine": {"cpu": "x", "cores": 2, "memory_gib": 1, "gpu": None},
                         "version": "0", "git_sha": "abc", "command": ["cold_start.py", "--runs", "1"]}
    res["env"] = env_id
    assert f"# {env_id} cold start" in markdown(res) and "**cold start**" in markdown(res)
    assert "(10 steps in all)" in markdown(res)
