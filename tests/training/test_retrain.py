"""Retraining on the tiny config: run folder, resume, NaN handling, load/evaluate, CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gan_nas_env
import gan_nas_env.training.losses
from gan_nas_env import cli
from gan_nas_env.cli import retrain as cli_retrain  # noqa: F401  (cli_retrain registers its subcommands)
from gan_nas_env.config import Config, load_config, save_config
from gan_nas_env.data.imageops import make_grid_uint8
from gan_nas_env.space import E2GAN_ARCH
from gan_nas_env.training import retrain as retrain_module
from gan_nas_env.training.checkpoint_eval import evaluate_checkpoint
from gan_nas_env.training.retrain import (
    GRID_SAMPLES,
    ResumeError,
    RetrainDiverged,
    RetrainStopped,
    ema_horizon_warning,
    load_generator,
    retrain,
    sample_images,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stats-cache")


def tiny(cache_dir: Path, **overrides: object) -> Config:
    return load_config("tiny", {"metrics.cache_dir": str(cache_dir), **overrides})


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """An uninterrupted 6-iteration run (eval at 3 and 6, checkpoints at 2, 4, 6)."""
    out = tmp_path_factory.mktemp("straight")
    retrain(tiny(cache_dir), "e2gan", out, progress=False)
    return out


class _FailingLoss:
    """Wraps a loss; the generator loss fails on call ``at`` (raise or NaN)."""

    def __init__(self, inner: object, at: int, mode: str) -> None:
        self.inner, self.at, self.mode, self.calls = inner, at, mode, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def generator_loss(self, d_fake: torch.Tensor, d_real: torch.Tensor | None = None) -> torch.Tensor:
        self.calls += 1
        loss = self.inner.generator_loss(d_fake, d_real)
        if self.calls == self.at:
            if self.mode == "kill":
                raise KeyboardInterrupt("simulated kill")
            return loss * float("nan")
        return loss


def _patch_loss(monkeypatch: pytest.MonkeyPatch, at: int, mode: str) -> None:
    real_get = gan_nas_env.training.losses.get_loss
    monkeypatch.setattr(
        gan_nas_env.training.losses, "get_loss", lambda *a, **k: _FailingLoss(real_get(*a, **k), at, mode)
    )


def _ckpt(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _resume_matches_straight(out: Path, straight: Path, cache_dir: Path) -> tuple[dict, dict]:
    """Resume the run in ``out``; its losses, curve and weights equal the uninterrupted run's."""
    retrain(tiny(cache_dir), "e2gan", out, resume=True, progress=False)
    assert (out / "losses.csv").read_text() == (straight / "losses.csv").read_text()
    assert _metric_rows(out / "metrics.csv") == _metric_rows(straight / "metrics.csv")
    a, b = _ckpt(out / "checkpoint.pt"), _ckpt(straight / "checkpoint.pt")
    for part in ("G", "D"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), (part, key)
    return a, b


def _metric_rows(path: Path) -> list[list[str]]:
    """metrics.csv rows without the wall-clock column."""
    return [line.split(",")[:-1] for line in path.read_text().splitlines()]


def test_run_folder(straight: Path) -> None:
    for name in ("checkpoint.pt", "best.pt", "losses.csv", "metrics.csv", "report.md",
                 "report.json", "config.yaml", "meta.json"):
        assert (straight / name).is_file(), name
    assert not list(straight.glob(".*.tmp")), "temporary checkpoint files left behind"
    assert list((straight / "tb").glob("events.out.tfevents.*"))
    ck = _ckpt(straight / "checkpoint.pt")
    assert ck["step"] == 6 and ck["arch"] == str(E2GAN_ARCH)
    assert ck["version"] == gan_nas_env.__version__
    assert {"G", "D", "ema", "opt_g", "opt_d", "rng", "best", "config"} <= set(ck)
    assert ck["config"]["retrain"]["g_iters"] == 6
    losses = (straight / "losses.csv").read_text().splitlines()
    assert losses[0] == "iter,d_loss,g_loss" and [int(r.split(",")[0]) for r in losses[1:]] == list(range(1, 7))
    metrics = _metric_rows(straight / "metrics.csv")
    assert [r[0] for r in metrics[1:]] == ["3", "6"]
    for it in (3, 6):
        grid = Image.open(straight / "samples" / f"iter_{it:06d}.png")
        assert grid.size == (8 * 18 + 2, 8 * 18 + 2)  # 8 x 8 tiles of 16 px, 2 px padding
    report = json.loads((straight / "report.json").read_text())
    assert report["architecture"] == str(E2GAN_ARCH) and report["iterations"] == 6
    assert report["gpu_memory_peak"] == "n/a (CPU)"
    best = _ckpt(straight / "best.pt")
    assert best["step"] == report["best_iter"]
    assert report["best_metrics"]["FID"] == min(float(r[3]) for r in metrics[1:])
    assert set(report["final_metrics"]) >= {"IS", "FID", "KID"}
    md = (straight / "report.md").read_text()
    assert "![final samples](samples/iter_000006.png)" in md and str(E2GAN_ARCH) in md
    assert "cell 3:" in md and "n/a (CPU)" in md


def test_kill_and_resume_gives_same_losses(
    straight: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed inside iteration 6 (last checkpoint at 4), resumed: identical to the straight run."""
    with monkeypatch.context() as m:
        _patch_loss(m, at=6, mode="kill")
        with pytest.raises(KeyboardInterrupt):
            retrain(tiny(cache_dir), "e2gan", tmp_path, progress=False)
    assert _ckpt(tmp_path / "checkpoint.pt")["step"] == 4
    assert len((tmp_path / "losses.csv").read_text().splitlines()) == 1 + 5  # row 5 past the checkpoint
    a, b = _resume_matches_straight(tmp_path, straight, cache_dir)
    for key in a["ema"]["module"]:
        assert torch.equal(a["ema"]["module"][key], b["ema"]["module"][key]), key
    assert torch.equal(a["rng"]["train"], b["rng"]["train"])


def _signal_at(monkeypatch: pytest.MonkeyPatch, calls: dict[int, list[signal.Signals]]) -> None:
    """Send this process the given signals during the given generator iterations (1-based)."""
    real, n = retrain_module.train_iteration, [0]

    def sending(*args: object, **kwargs: object) -> object:
        n[0] += 1
        for sig in calls.get(n[0], []):
            os.kill(os.getpid(), sig)
        return real(*args, **kwargs)

    monkeypatch.setattr(retrain_module, "train_iteration", sending)


@pytest.mark.parametrize(("at", "sig"), [(3, signal.SIGTERM), (5, signal.SIGINT)])
def test_a_signal_stops_at_a_checkpoint_of_that_iteration_and_resumes_identically(
    straight: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, at: int,
    sig: signal.Signals,
) -> None:
    """SIGTERM in iteration 3 (an evaluation step), SIGINT in 5 (between checkpoints 4 and 6)."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with monkeypatch.context() as m:
        _signal_at(m, {at: [sig]})
        with pytest.raises(RetrainStopped, match=f"{sig.name}: stopped at generator iteration {at}") as info:
            retrain(tiny(cache_dir), "e2gan", tmp_path, progress=False)
    assert info.value.step == at and isinstance(info.value, KeyboardInterrupt)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before  # restored
    assert _ckpt(tmp_path / "checkpoint.pt")["step"] == at
    assert len((tmp_path / "losses.csv").read_text().splitlines()) == 1 + at
    assert [r[0] for r in _metric_rows(tmp_path / "metrics.csv")[1:]] == [str(i) for i in (3, 6) if i <= at]
    _resume_matches_straight(tmp_path, straight, cache_dir)


def test_a_second_signal_stops_at_once_and_keeps_the_last_checkpoint(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SIGTERM then SIGINT: the same signal twice within REPEAT_S is one stop delivered twice
    # (tests/training/test_stop.py), another one is a second stop
    _signal_at(monkeypatch, {5: [signal.SIGTERM, signal.SIGINT]})
    with pytest.raises(KeyboardInterrupt, match="second signal") as info:
        retrain(tiny(cache_dir), "e2gan", tmp_path, progress=False)
    assert not isinstance(info.value, RetrainStopped)
    assert _ckpt(tmp_path / "checkpoint.pt")["step"] == 4


def test_a_signal_in_the_last_iteration_finishes_the_run(
    straight: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _signal_at(monkeypatch, {6: [signal.SIGTERM]})
    assert retrain(tiny(cache_dir), "e2gan", tmp_path, progress=False).iterations == 6
    assert (tmp_path / "losses.csv").read_text() == (straight / "losses.csv").read_text()


def test_cli_retrain_stopped_by_sigterm_says_where_and_how_to_continue(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_path = tmp_path / "tiny.yaml"
    save_config(tiny(cache_dir), cfg_path)
    out = tmp_path / "run"
    _signal_at(monkeypatch, {5: [signal.SIGTERM]})
    assert cli.main(["retrain", "--config", str(cfg_path), "--arch", "e2gan", "--out", str(out),
                     "--no-progress"]) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"gan-nas retrain: interrupted (SIGTERM: stopped at generator iteration 5, saved in "
                   f"{out / 'checkpoint.pt'}); finished results in {out} are kept: continue with "
                   f"gan-nas retrain --out {out} --resume")


def test_extend_budget_on_resume_matches_straight(straight: Path, tmp_path: Path, cache_dir: Path) -> None:
    """Run 4 iterations, then resume with g_iters 6: same losses as 6 straight."""
    retrain(tiny(cache_dir, **{"retrain.g_iters": 4}), "e2gan", tmp_path, progress=False)
    assert _ckpt(tmp_path / "checkpoint.pt")["step"] == 4
    res = retrain(tiny(cache_dir), "e2gan", tmp_path, resume=True, progress=False)
    assert res.iterations == 6
    assert (tmp_path / "losses.csv").read_text() == (straight / "losses.csv").read_text()


def test_nan_stops_and_keeps_last_good_checkpoint(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patch_loss(monkeypatch, at=5, mode="nan")
    with pytest.raises(RetrainDiverged, match=r"iteration 5.*checkpoint\.pt \(iteration 4\)"):
        retrain(tiny(cache_dir), "e2gan", tmp_path, progress=False)
    assert _ckpt(tmp_path / "checkpoint.pt")["step"] == 4
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("overrides", "arch", "version", "expected"),
    [
        ({"train.g_lr": 1e-4}, "e2gan", None, "config train.g_lr: 0.0002 (checkpoint) != 0.0001"),
        ({"retrain.ema_decay": 0.99}, "e2gan", None, "retrain.ema_decay"),
        ({"data.synthetic_images": 128}, "e2gan", None, "data.synthetic_images"),
        ({"seed": 1}, "e2gan", None, "config seed"),
        ({}, "autogan", None, "architecture: '0 1 0 1 0 1 2 1 0 0 1 0 1 2' (checkpoint)"),
        ({}, "e2gan", "1.0.0", "package major version: 0.1.0 (checkpoint) != 1.0.0"),
    ],
)
def test_resume_refuses_a_different_run(
    straight: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
    overrides: dict, arch: str, version: str | None, expected: str,
) -> None:
    if version:
        monkeypatch.setattr(gan_nas_env, "__version__", version)
    before = (straight / "checkpoint.pt").stat().st_mtime_ns
    with pytest.raises(ResumeError, match="cannot resume") as err:
        retrain(tiny(cache_dir, **overrides), arch, straight, resume=True, progress=False)
    assert expected in str(err.value)
    assert (straight / "checkpoint.pt").stat().st_mtime_ns == before


def test_fresh_run_refuses_existing_checkpoint_and_resume_needs_one(
    straight: Path, tmp_path: Path, cache_dir: Path
) -> None:
    with pytest.raises(ResumeError, match="--resume"):
        retrain(tiny(cache_dir), "e2gan", straight, progress=False)
    with pytest.raises(FileNotFoundError, match="checkpoint.pt does not exist"):
        retrain(tiny(cache_dir), "e2gan", tmp_path, resume=True, progress=False)


@pytest.mark.parametrize(("name", "grid_iter"), [("best.pt", None), ("checkpoint.pt", 6)])
def test_load_generator_reproduces_the_saved_grid(straight: Path, name: str, grid_iter: int | None) -> None:
    """The reloaded EMA generator redraws, pixel for pixel, the grid written during training."""
    path = straight / name
    it = grid_iter or _ckpt(path)["step"]
    G, arch = load_generator(path)
    assert arch == E2GAN_ARCH and not G.training
    rng_before = torch.get_rng_state()
    cfg = tiny(Path("."))
    images = sample_images(G, GRID_SAMPLES, cfg.model.latent_dim, cfg.seed * 7919 + 5, torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), rng_before)
    saved = np.asarray(Image.open(straight / "samples" / f"iter_{it:06d}.png").convert("RGB"))
    assert np.array_equal(make_grid_uint8(images, nrow=8).numpy(), saved)


def test_load_generator_rejects_other_files(tmp_path: Path) -> None:
    torch.save({"weights": torch.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="not a gan-nas retraining checkpoint"):
        load_generator(tmp_path / "x.pt")


def test_evaluate_checkpoint_writes_json_and_md(straight: Path, tmp_path: Path) -> None:
    rec = evaluate_checkpoint(straight / "best.pt", num_samples=128, out=tmp_path)
    assert set(rec["metrics"]) >= {"IS", "FID", "KID", "precision", "recall"}
    assert rec["architecture"] == str(E2GAN_ARCH) and rec["num_samples"] == 128
    assert json.loads((tmp_path / "evaluation.json").read_text()) == rec
    md = (tmp_path / "evaluation.md").read_text()
    assert "| FID |" in md and "| precision |" in md


def test_evaluate_takes_data_and_sizes_from_the_checkpoint_and_other_settings_from_the_caller(
    straight: Path, tmp_path: Path
) -> None:
    """metrics.*, the seed and the device may change; data.* and model sizes are the checkpoint's."""
    from gan_nas_env.training.retrain import CheckpointError

    rec = evaluate_checkpoint(straight / "best.pt", {"metrics.real_samples": 128, "seed": 3}, num_samples=64,
                              out=tmp_path / "ok")
    assert rec["real_samples"] == 128
    with pytest.raises(CheckpointError, match=r"model.latent_dim=8, but it was trained with "
                                              r"model.latent_dim=16; retrain.gf=8, but it was trained with "
                                              r"retrain.gf=16 \(a generator is scored"):
        evaluate_checkpoint(straight / "best.pt", {"model.latent_dim": 8, "retrain.gf": 8}, out=tmp_path / "no")
    assert not (tmp_path / "no").exists()


def test_cli_retrain_from_search_resume_and_evaluate(
    tmp_path: Path, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    search = tmp_path / "search"
    search.mkdir()
    # no top_architectures.json: a clear error, exit code 2
    assert cli.main(["retrain", "--from-search", str(search), "--out", str(tmp_path / "x")]) == 2
    assert "top_architectures.json does not exist" in capsys.readouterr().err
    save_config(tiny(cache_dir), search / "config.yaml")
    top = [{"arch": "1 0 1 1 1 0 0 1 1 1 0 1 0 3", "score": 1.0}]
    (search / "top_architectures.json").write_text(json.dumps(top))
    out = tmp_path / "run"
    args = ["retrain", "--from-search", str(search), "--out", str(out), "--iters", "3", "--no-progress"]
    assert cli.main(args) == 0
    assert _ckpt(out / "checkpoint.pt")["arch"] == top[0]["arch"]
    # resume with no --arch/--config: both come from the run folder
    assert cli.main(["retrain", "--out", str(out), "--resume", "--iters", "4", "--no-progress"]) == 0
    assert _ckpt(out / "checkpoint.pt")["step"] == 4
    assert cli.main(["evaluate", "--checkpoint", str(out / "best.pt"), "--num-samples", "64"]) == 0
    assert "FID=" in capsys.readouterr().out
    assert json.loads((out / "evaluation.json").read_text())["num_samples"] == 64
    assert (out / "evaluation.md").is_file()


def test_multi_generator_retrains_and_reloads(tmp_path: Path, cache_dir: Path) -> None:
    cfg = tiny(cache_dir, **{"model.num_generators": 2, "retrain.g_iters": 2, "retrain.eval_every": 2})
    res = retrain(cfg, "autogan", tmp_path, progress=False)
    assert res.iterations == 2 and np.isfinite(res.final_metrics["FID"])
    G, _ = load_generator(tmp_path / "best.pt")
    assert G.num_generators == 2


def test_scripts_subprocess_smoke(tmp_path: Path, cache_dir: Path) -> None:
    out = tmp_path / "run"
    common = {"cwd": REPO, "capture_output": True, "text": True, "timeout": 120}
    proc = subprocess.run(
        [sys.executable, "scripts/retrain.py", "--arch", "0 1 0 1 0 1 2 1 0 0 1 0 1 2",
         "--config", "tiny", "--set", f"metrics.cache_dir={cache_dir}", "--iters", "2",
         "--out", str(out), "--no-progress"], **common,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "report.md").is_file()
    proc = subprocess.run(
        [sys.executable, "scripts/evaluate.py", "--checkpoint", str(out / "checkpoint.pt"),
         "--num-samples", "64"], **common,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "evaluation.json").is_file()


def test_resume_of_a_finished_run_only_rewrites_the_report(straight: Path, tmp_path: Path) -> None:
    """A copied run folder resumes to completion without training (budget already reached)."""
    dst = tmp_path / "copy"
    shutil.copytree(straight, dst)
    cfg = load_config(dst / "config.yaml")
    res = retrain(cfg, "e2gan", dst, resume=True, progress=False)
    assert res.iterations == 6
    assert (dst / "losses.csv").read_text() == (straight / "losses.csv").read_text()


@pytest.mark.parametrize(("overrides", "warns"), [
    ({"retrain.g_iters": 200, "retrain.ema_decay": 0.999}, True),  # horizon 1000 > 200
    ({"retrain.g_iters": 200, "retrain.ema_decay": 0.999, "retrain.ema_warmup": True}, False),
    ({"retrain.g_iters": 1000, "retrain.ema_decay": 0.99}, False),  # horizon 100
    ({"retrain.g_iters": 1000, "retrain.ema_decay": 0.999}, False),  # horizon 1000, not longer
])
def test_ema_horizon_warning_names_the_setting(cache_dir: Path, overrides: dict, warns: bool) -> None:
    msg = ema_horizon_warning(tiny(cache_dir, **overrides))
    if not warns:
        assert msg is None
        return
    assert msg and "retrain.ema_decay 0.999" in msg and "1000 iterations" in msg and "200" in msg
    assert "--set retrain.ema_warmup=true" in msg and "--set retrain.ema_decay=0.95" in msg


def test_short_retrain_warns_at_start_and_in_its_report(
    straight: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # tiny: 6 iterations at the default decay 0.999 (a ~1000-iteration EMA horizon)
    report = json.loads((straight / "report.json").read_text())
    assert len(report["warnings"]) == 1 and "retrain.ema_warmup" in report["warnings"][0]
    assert "**Warning:** retrain.ema_decay 0.999" in (straight / "report.md").read_text()

    def killed(*args: object) -> None:
        raise KeyboardInterrupt("killed in the first iteration")

    monkeypatch.setattr(retrain_module, "train_iteration", killed)
    with caplog.at_level("WARNING", logger=retrain_module.__name__), pytest.raises(KeyboardInterrupt):
        retrain(tiny(cache_dir), "e2gan", tmp_path / "r", progress=False)
    assert [r.getMessage() for r in caplog.records] == [f"warning: {report['warnings'][0]}"]

    caplog.clear()
    with caplog.at_level("WARNING", logger=retrain_module.__name__), pytest.raises(KeyboardInterrupt):
        retrain(tiny(cache_dir, **{"retrain.ema_warmup": True}), "e2gan", tmp_path / "w",
                progress=False)
    assert not caplog.records


def test_resume_check_accepts_what_does_not_change_results_and_refuses_the_rest() -> None:
    """The retraining's resume check and the run folder's use the one list (issue 27)."""
    import torch

    from gan_nas_env.config import load_config
    from gan_nas_env.space import resolve_architecture
    from gan_nas_env.training.retrain import CHECKPOINT_FORMAT, check_resume_compatible

    base = load_config("tiny")
    arch = resolve_architecture("e2gan")
    ckpt = {"format": CHECKPOINT_FORMAT, "arch": str(arch), "version": gan_nas_env.__version__,
            "config": base.to_dict(), "rng": {"device": "cpu"}}
    cpu, path = torch.device("cpu"), Path("checkpoint.pt")
    for ok in ({"train.channels_last": False}, {"train.cuda_graphs": False}, {"retrain.log_every": 3},
               {"retrain.checkpoint_every": 3}, {"retrain.g_iters": 99}, {"search.episodes": 9}):
        check_resume_compatible(ckpt, load_config("tiny", ok), arch, cpu, path)
    for bad in ({"retrain.channels_last": True}, {"retrain.amp": True}, {"train.n_critic": 2}):
        with pytest.raises(ResumeError, match=next(iter(bad))):
            check_resume_compatible(ckpt, load_config("tiny", bad), arch, cpu, path)
