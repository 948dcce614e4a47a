"""benchmarks/row_packing.py: the steady pace read off a run's metrics, commands and the report."""

import sys

import pytest

from benchmarks import row_packing as rp


def test_steady_pace_is_read_between_the_last_two_scorings(tmp_path):
    (tmp_path / "metrics.csv").write_text("iter,IS,FID,wall_s\n500,1.5,20,80.0\n1000,1.7,15,140.0\n1500,1.9,12,190.0\n")
    assert rp.steady_s_per_iter(tmp_path) == pytest.approx(0.1)  # (190 - 140) / 500
    (tmp_path / "metrics.csv").write_text("iter,IS,FID,wall_s\n500,1.5,20,80.0\n")
    assert rp.steady_s_per_iter(tmp_path) is None  # one scoring: start-up cannot be told apart


def test_each_row_is_a_retrain_process_with_its_threads(tmp_path):
    cmd = rp.retrain_cmd("final-fmnist-v2", "0 1 0 1 0 1 2 1 0 0 1 0 1 2", 1000, 2, tmp_path / "r",
                         ("retrain.eval_every=2",))
    assert cmd[:4] == [sys.executable, "-m", "gan_nas_env.cli", "retrain"]
    assert cmd[cmd.index("--iters") + 1] == "1000"
    sets = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"]
    assert sets == ["retrain.eval_every=2", "train.threads=2"]


def test_report_compares_each_packing_with_the_first():
    res = {"config": "final-fmnist-v2", "iters": 1000, "rounds": 1, "archs": ["a", "b"], "packings": {
        "2 processes x 1 thread": {"wall_s": [200.0], "wall_s_median": 200.0, "throughput_vs_first": 1.0,
                                   "steady_ms_per_iter_median": 150.0, "machine_iters_per_s": 2 / 0.15,
                                   "steady_throughput_vs_first": 1.0, "rows_per_hour": 36.0},
        "1 process x 2 threads (rows in turn)": {"wall_s": [250.0], "wall_s_median": 250.0,
                                                 "throughput_vs_first": 0.8, "steady_ms_per_iter_median": None,
                                                 "machine_iters_per_s": None, "steady_throughput_vs_first": None,
                                                 "rows_per_hour": 28.8}}}
    prov = {"machine": {"cpu": "X", "cores": 2}, "command": "python -m benchmarks.row_packing", "git_sha": "abc",
            "version": "0"}
    text = rp.markdown(res, prov)
    assert "| 2 processes x 1 thread | 150 | 13.33 | 1.00x | 200.0 | 1.00x |" in text
    assert "| 1 process x 2 threads (rows in turn) | n/a | n/a | n/a | 250.0 | 0.80x |" in text


def test_unknown_packing_is_refused_before_any_training(capsys):
    with pytest.raises(SystemExit):
        rp.main(["--packings", "4 processes"])
    assert "unknown packing '4 processes'" in capsys.readouterr().err
