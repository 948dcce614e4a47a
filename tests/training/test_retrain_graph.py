"""The retraining iteration as a CUDA graph: the same numbers as the plain loop.

On CPU: the graphed iteration's work, run eagerly, draws and trains exactly as
:func:`~gan_nas_env.training.retrain.train_iteration` (bit for bit), and its warm-up, capture
and replay bookkeeping runs every iteration once. On a GPU (``-m gpu``): the captured graph
trains like eager CUDA.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
import torch
from graph_fakes import RecordedGraph, Stream

from gan_nas_env.config import Config, load_config
from gan_nas_env.training import retrain as retrain_module
from gan_nas_env.training import retrain_graph
from gan_nas_env.training.retrain import build_run, train_iteration
from gan_nas_env.training.retrain_graph import WARMUP_ITERS, GraphedIteration

# the final protocol v2's switches on the tiny config: bf16 autocast, NHWC, EMA warm-up, n_critic 2
V2_LIKE = {"retrain.amp": True, "retrain.channels_last": True, "retrain.ema_warmup": True, "train.n_critic": 2}


def _run(tmp_path: Path, name: str, device: str = "cpu", **over: object):
    cfg: Config = load_config("tiny", {**V2_LIKE, "device": device, "metrics.cache_dir": str(tmp_path / "cache"),
                                       **over})
    run = build_run(cfg, "e2gan", tmp_path / name, torch.device(device), None, time.perf_counter())
    t = cfg.retrain.train_config(cfg.train)
    return run, t, int(run.ema.module.resolution), cfg.model.latent_dim


def _state(run) -> list[torch.Tensor]:
    return [*run.G.state_dict().values(), *run.D.state_dict().values(), *run.ema.module.state_dict().values()]


def _same(a, b) -> None:
    for x, y in zip(_state(a), _state(b), strict=True):
        assert torch.equal(x, y)
    assert torch.equal(a.gen.get_state(), b.gen.get_state())
    assert a.ema.num_updates == b.ema.num_updates


def test_graphed_work_run_eagerly_trains_like_the_plain_loop(tmp_path):
    plain, t, res, latent = _run(tmp_path, "plain")
    assert plain.graphed is None  # CPU: the plain loop
    graphed, *_ = _run(tmp_path, "graphed")
    graphed.graphed = GraphedIteration(graphed, t, res, latent, capture=False)
    for _ in range(5):
        losses = [train_iteration(run, t, res, latent) for run in (plain, graphed)]
        assert all(torch.equal(a, b) for a, b in zip(*losses, strict=True))
    _same(plain, graphed)


def test_warmup_capture_and_replays_run_every_iteration_once(tmp_path, monkeypatch):
    """Eager warm-up iterations, one capture (which records without running), then replays:
    the same training as the plain loop. The capture itself needs CUDA; here it records."""
    plain, t, res, latent = _run(tmp_path, "plain")
    graphed, *_ = _run(tmp_path, "graphed")
    it = graphed.graphed = GraphedIteration(graphed, t, res, latent, capture=False)
    captured = []

    def capture() -> None:
        captured.append(it.warmup_left)
        it.graph = RecordedGraph(it.work)

    monkeypatch.setattr(it, "_capture", capture)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: Stream())
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    it.capture, it.side = True, Stream()
    n = WARMUP_ITERS + 4
    for _ in range(n):
        assert all(torch.equal(a, b) for a, b in zip(
            train_iteration(plain, t, res, latent), train_iteration(graphed, t, res, latent), strict=True))
    assert captured == [0] and it.graph.replays == n - WARMUP_ITERS
    _same(plain, graphed)


def test_a_failed_capture_falls_back_to_eager_with_a_warning(tmp_path, monkeypatch, caplog):
    plain, t, res, latent = _run(tmp_path, "plain")
    graphed, *_ = _run(tmp_path, "graphed")
    it = graphed.graphed = GraphedIteration(graphed, t, res, latent, capture=False)

    class _Failing:
        def __init__(self, *a, **k) -> None:
            pass

        def __enter__(self):
            raise RuntimeError("operation not permitted when stream is capturing")

        def __exit__(self, *exc) -> None:
            return None

    monkeypatch.setattr(torch.cuda, "CUDAGraph", lambda: object())
    monkeypatch.setattr(retrain_graph.torch.cuda, "graph", _Failing)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: Stream())
    monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
    it.capture, it.side = True, Stream()
    with caplog.at_level("WARNING"):
        for _ in range(WARMUP_ITERS + 2):
            train_iteration(plain, t, res, latent)
            train_iteration(graphed, t, res, latent)
    assert not it.capture and it.graph is None
    assert "capture of the retraining iteration failed" in caplog.text
    _same(plain, graphed)


def test_a_checkpoint_resumes_in_the_other_mode(tmp_path):
    """Adam's ``capturable`` follows the resuming run, not the checkpoint's (the step counts move)."""
    run, *_ = _run(tmp_path, "a")
    p = next(run.D.parameters())
    run.opt_d.state[p] = {"step": torch.tensor(7.0), "exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
    saved = run.opt_d.state_dict()
    for capturable in (True, False):
        opt = torch.optim.Adam(run.D.parameters(), lr=1e-4)
        opt.load_state_dict(saved)
        retrain_module._set_capturable(opt, capturable)
        assert all(g["capturable"] is capturable for g in opt.param_groups)
        assert opt.state[p]["step"].item() == 7.0 and opt.state[p]["step"].device == p.device


# -- GPU: the captured graph trains like eager CUDA ------------------------------------
def cuda_only(test):
    """A GPU test (``-m gpu``), skipped where there is no CUDA."""
    return pytest.mark.gpu(pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")(test))


@pytest.fixture
def deterministic_cudnn():
    """Deterministic cuDNN kernels and no autotuning (restored after): only the capture may differ."""
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


@cuda_only
@pytest.mark.usefixtures("deterministic_cudnn")
def test_cuda_graphed_retraining_matches_eager(tmp_path):
    runs = {}
    for graphs in (False, True):
        run, t, res, latent = _run(tmp_path, f"g{graphs}", device="cuda", **{"train.cuda_graphs": graphs})
        assert (run.graphed is not None) is graphs
        losses = [train_iteration(run, t, res, latent) for _ in range(40)]
        runs[graphs] = (run, torch.stack([torch.stack(x) for x in losses]))
    assert runs[True][0].graphed.graph is not None  # captured, not fallen back
    # The same kernels on the same numbers; only capturable Adam's bias correction (float32 on
    # the device, float64 on the host in plain Adam) differs, by about 1e-7 a step. A replay
    # that reused stale inputs or skipped an update would be off by orders of magnitude more.
    assert torch.allclose(runs[True][1], runs[False][1], rtol=1e-3, atol=1e-3)
    for a, b in zip(_state(runs[False][0]), _state(runs[True][0]), strict=True):
        assert torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-4)


@cuda_only
@pytest.mark.usefixtures("deterministic_cudnn")
def test_cuda_graphed_retrain_end_to_end_scores_like_eager(tmp_path):
    """``retrain`` itself with graphs (scorings and checkpoints between replays) against eager."""
    from gan_nas_env.training.retrain import retrain

    metrics = {}
    for graphs in (False, True):
        cfg = load_config("tiny", {**V2_LIKE, "device": "cuda", "train.cuda_graphs": graphs, "retrain.g_iters": 12,
                                   "retrain.eval_every": 6, "metrics.cache_dir": str(tmp_path / "cache")})
        metrics[graphs] = retrain(cfg, "e2gan", tmp_path / f"r{graphs}", progress=False).final_metrics
    for key in ("IS", "FID"):
        assert metrics[True][key] == pytest.approx(metrics[False][key], rel=1e-2), key
