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


def _cuda_losses(tmp_path: Path, name: str, capture: bool, iters: int, nudge: float = 0.0, **over: object):
    """``iters`` iterations of a CUDA run whose optimisers are capturable (as a graphed run's):
    captured and replayed, or the same work run eagerly; its losses, one row per iteration.
    ``nudge``: first scale each generator weight by ``1 + nudge * N(0, 1)`` (a last-bit change)."""
    run, t, res, latent = _run(tmp_path, name, device="cuda", **{"train.cuda_graphs": True, **over})
    if nudge:
        g = torch.Generator(device="cuda").manual_seed(1)
        with torch.no_grad():
            for p in run.G.parameters():
                p.mul_(1 + nudge * torch.randn(p.shape, generator=g, device=p.device))
    run.graphed = GraphedIteration(run, t, res, latent, capture=capture)
    losses = torch.stack([torch.stack(train_iteration(run, t, res, latent)) for _ in range(iters)])
    return run, losses


@cuda_only
@pytest.mark.usefixtures("deterministic_cudnn")
def test_cuda_graph_replays_the_eager_iteration(tmp_path):
    """The replayed graph against the same work run eagerly, with the same (capturable) Adam, in
    float32: they may differ only as much as a last-bit change of the weights moves the losses.

    GAN training amplifies any difference, and eager CUDA need not repeat itself bit for bit
    (bilinear upsampling's backward adds with atomics; cuBLAS may pick another kernel inside a
    capture). The yardstick is therefore an eager run whose generator weights were changed in
    their last bits (1e-7 relative): on CPU that moves the float32 losses of the tiny config by
    at most about 1e-5 over these 11 iterations (1e-4 by the 16th). A replay that reused stale
    inputs or skipped an update would be off by 1e-2 or more. (Under bf16 autocast the same
    change flips bf16 roundings and the trajectories part within 3 iterations, so bf16 is
    checked by how the graphed run trains, below, not by its trajectory.)
    """
    over = {"retrain.amp": False}
    iters = WARMUP_ITERS + 8
    graphed, c = _cuda_losses(tmp_path, "graph", True, iters, **over)
    assert graphed.graphed.graph is not None  # captured, not fallen back
    _, b = _cuda_losses(tmp_path, "eager", False, iters, **over)
    _, b2 = _cuda_losses(tmp_path, "nudged", False, iters, nudge=1e-7, **over)
    floor = (b2 - b).abs().amax(dim=1)  # per iteration: what a last-bit change does
    gap = (c - b).abs().amax(dim=1)
    assert torch.isfinite(c).all()
    ok = gap <= 10 * floor + 1e-4
    assert ok.all(), f"graph vs eager {gap.tolist()}; eager vs nudged eager {floor.tolist()}"


@cuda_only
@pytest.mark.usefixtures("deterministic_cudnn")
def test_cuda_graphed_retraining_trains_like_plain_eager(tmp_path):
    """40 graphed iterations against the plain loop (plain Adam, no graph) at the v2 switches
    (bf16 autocast): the trajectories part within a few iterations (see above; on CPU a
    last-bit change of the weights moves single losses by up to 0.5 by the 40th iteration), so
    this checks that the graphed run trains to losses and weights of the plain run's size (the
    same CPU experiment: the last ten losses' means within 2%, the weights' total movement
    within 0.1%), not that it gives the same numbers."""
    runs = {}
    for graphs in (False, True):
        run, t, res, latent = _run(tmp_path, f"g{graphs}", device="cuda", **{"train.cuda_graphs": graphs})
        assert (run.graphed is not None) is graphs
        before = [x.detach().clone() for x in _state(run)]
        losses = torch.stack([torch.stack(train_iteration(run, t, res, latent)) for _ in range(40)])
        moved = sum(float((a.float() - b.float()).abs().sum()) for a, b in zip(_state(run), before, strict=True))
        runs[graphs] = (losses, moved)
    assert runs[True][0].isfinite().all()
    # the last ten iterations' mean losses within 25% of each other, and the weights moved as far
    tail = [runs[g][0][-10:].mean(dim=0) for g in (False, True)]
    assert torch.allclose(tail[True], tail[False], rtol=0.25, atol=0.05), tail
    assert runs[True][1] == pytest.approx(runs[False][1], rel=0.25)


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
