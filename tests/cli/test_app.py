import json
import subprocess
import sys

import pytest

from gan_nas_env.cli import main


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gan_nas_env.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_search_subprocess_smoke(tmp_path):
    out = tmp_path / "run"
    r = run_cli("search", "--config", "tiny", "--episodes", "2", "--out", str(out),
                "--set", "search.learning_starts=3", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "best architecture:" in r.stdout
    top = json.loads((out / "top_architectures.json").read_text())
    assert len(top[0]["arch"].split()) == 14
    for name in ("best_grid.png", "rewards.png", "results.sqlite", "model.zip"):
        assert (out / name).exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["search", "--config", "nope"], "unknown config preset 'nope'"),
        (["search", "--config", "tiny", "--algo", "sacc"], "unknown algorithm 'sacc'"),
        (["search", "--config", "tiny", "--set", "train.lr=1"], "unknown config key 'train.lr'"),
        (["search", "--config", "tiny", "--episodes", "0"], "--episodes must be > 0"),
        (["search", "--config", "tiny", "--set", "train.loss=foo"], "train.loss: unknown loss 'foo'"),
        (["search", "--config", "tiny", "--set", "data.name=imagenet"], "unknown dataset 'imagenet'"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, needle, capsys, tmp_path):
    rc = main([*args, "--out", str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert needle in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()  # nothing half-written
