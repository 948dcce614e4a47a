"""benchmarks/fresh_setup.py: the report of a fresh set-up, and refusing a used work folder."""

import pytest

from benchmarks import fresh_setup as fs


def test_report_lists_each_step_with_packages_size_and_the_best():
    res = {"clone_head": "abcdef0123456789", "note": "idle", "pip_config": [], "steps": [
        {"step": "bash scripts/setup.sh", "wall_s": 120.4, "packages": 62, "venv_gb": 5.8},
        {"step": "gan-nas search --config quickstart --out runs/quickstart", "wall_s": 350.0,
         "best_arch": "0 1 0 1 0 2 1 0 1 1 0 1 0 3", "best_score": 1.2191},
        {"step": "bash scripts/setup.sh test", "wall_s": 70.0, "packages": 136, "venv_gb": 6.8}],
        "provenance": {"machine": {"cpu": "AMD EPYC", "cores": 2, "python": "3.11.7"},
                       "command": ["python", "-m", "benchmarks.fresh_setup", "--main"]}}
    md = fs.markdown(res)
    assert "| `bash scripts/setup.sh` | 120 | 62 | 5.8 |  |" in md
    assert "best `0 1 0 1 0 2 1 0 1 1 0 1 0 3` (1.219)" in md
    assert "| `bash scripts/setup.sh test` | 70 | 136 | 6.8 |" in md
    assert "Commit abcdef0123, AMD EPYC (2 cores)" in md and "load: idle" in md
    assert "Rerun: `python -m benchmarks.fresh_setup --main`" in md


def test_a_work_folder_that_is_not_empty_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "old").write_text("x")
    with pytest.raises(SystemExit):
        fs.main(["--keep", str(tmp_path)])
    assert [p.name for p in tmp_path.iterdir()] == ["old"]
