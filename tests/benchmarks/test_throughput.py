"""benchmarks/throughput.py runs N envs concurrently end to end at tiny sizes (numbers not checked)."""

import json
from pathlib import Path

import pytest


def load_throughput():
    from benchmarks import throughput

    return throughput


def check(r: dict, out: Path, md: Path, backend: str) -> None:
    assert json.loads(out.read_text()) == json.loads(json.dumps(r))
    assert {"provenance", "device", "torch", "preset", "backend", "steps_per_env", "results"} <= r.keys()
    assert r["preset"] == "tiny" and r["backend"] == backend and r["device"].startswith("CPU")
    assert [x["envs"] for x in r["results"]] == [1, 2]
    for x in r["results"]:
        assert x["vec_steps"] == 3 and x["env_steps"] == 3 * x["envs"]
        assert x["env_steps_per_min"] > 0 and x["s_per_vec_step"] > 0 and x["speedup"] > 0
        assert x["env_steps_per_min"] == pytest.approx(x["env_steps"] / x["elapsed_s"] * 60)
        assert x["env_step_s_mean"] > 0 and x["gpu_mem_used_mib"] is None
    assert r["results"][0]["speedup"] == pytest.approx(1.0)
    text = md.read_text()
    assert "| envs |" in text and "\n| 2 |" in text
    assert "Machine: " in text and r["provenance"]["command"]


# thread in the default run; the process backends (30-80 s each on 2 busy cores) in the slow run
@pytest.mark.parametrize("backend", ["thread", pytest.param("subproc", marks=pytest.mark.slow),
                                     pytest.param("ray", marks=pytest.mark.slow)])
def test_throughput_measures_each_number_of_envs(tmp_path, backend):
    if backend == "ray":
        pytest.importorskip("ray")
    out, md = tmp_path / "t.json", tmp_path / "t.md"
    r = load_throughput().main(["--preset", "tiny", "--envs", "1,2", "--steps-per-env", "3",
                                "--backend", backend, "--device", "cpu", "--out", str(out), "--md", str(md)])
    check(r, out, md, backend)
