"""Full retraining of a found architecture (E2GAN's protocol: docs/results.md, "Protocol").

:func:`retrain` trains the full-size GAN (``retrain.gf`` / ``retrain.df``, the
discriminator at its final stage) with the configured loss, ``n_critic``, Adam
betas and constant learning rates for ``retrain.g_iters`` generator iterations,
keeps an :class:`~gan_nas_env.models.ema.EMA` of the generator (BatchNorm statistics
included) and evaluates the EMA generator every ``retrain.eval_every``
iterations. The run folder holds:

======================  =======================================================
``checkpoint.pt``       everything needed to resume (written atomically)
``best.pt``             the EMA generator with the lowest FID so far
``losses.csv``          ``iter,d_loss,g_loss`` for every generator iteration
``metrics.csv``         IS / FID / KID of each evaluation
``samples/``            ``iter_XXXXXX.png`` sample grid of each evaluation
``tb/``                 TensorBoard scalars
``report.md/.json``     architecture, final and best metrics, time, memory
``config.yaml``         resolved config (+ ``meta.json``: kind, id, command, version, SHA)
``run.lock``            held while a process writes the folder (:mod:`~gan_nas_env.run_folder`)
======================  =======================================================

Determinism: batches, latent codes, the gradient penalty's interpolation weights and
a multi-generator's split come from one local ``torch.Generator`` seeded with
``cfg.seed``, whose state is checkpointed (the global RNG is only used, under
``fork_rng``, to initialise the weights, and is left as it was), so on CPU a killed run
resumed from its checkpoint reproduces the uninterrupted run's losses bit for bit,
whatever the caller did with the global RNG. Evaluation uses a fixed set of latent codes
(and split) and does not touch that generator.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import pickle
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

import gan_nas_env
from gan_nas_env.config import Config
from gan_nas_env.devices import isolated_global_rng
from gan_nas_env.errors import MissingFileError, UserError
from gan_nas_env.metrics.score import SCORER_KEYS
from gan_nas_env.models.ema import EMA
from gan_nas_env.models.generator import generate
from gan_nas_env.run_folder import check_folder, flat_keys, may_differ_on_resume, prepare_run
from gan_nas_env.space import NUM_CELLS, Architecture, ArchitectureError, resolve_architecture
from gan_nas_env.training.retrain_graph import GraphedIteration
from gan_nas_env.training.stage import use_graphs
from gan_nas_env.training.step import GANStep
from gan_nas_env.training.stop import StoppedOnRequest, StopRequest

CHECKPOINT_FORMAT = "gan-nas-retrain-v1"
MODEL_SIZE_KEYS = {"latent_dim": "model.latent_dim", "gf": "retrain.gf", "df": "retrain.df",
                   "bottom_width": "model.bottom_width", "channels": "data.channels",
                   "num_generators": "model.num_generators"}
"""A checkpoint's ``model`` sizes (what its tensors were built with) and the config key of each."""
GRID_SAMPLES = 64
_EVAL_SALT, _GRID_SALT = 3, 5  # seeds of the fixed evaluation / grid latents (seed * 7919 + salt)


class ResumeError(UserError, ValueError):
    """A checkpoint that cannot be resumed with this config / architecture / version."""


class CheckpointError(UserError, ValueError):
    """A file given as a retraining checkpoint that is not one (no architecture, model or config)."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """``torch.load`` of a retraining checkpoint; a missing, truncated or corrupt file is a UserError."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError, KeyError, ValueError, IndexError,
            zipfile.BadZipFile) as exc:  # what torch.load raises for a non-checkpoint or a cut one
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc}); it is truncated or "
            "corrupt: restore it from a copy, or start the run again with --overwrite"
        ) from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} is not a gan-nas retraining checkpoint (not a dict)")
    return ckpt


class RetrainDiverged(RuntimeError):
    """A loss became non-finite; the last good checkpoint is kept.

    Not a :class:`~gan_nas_env.errors.UserError`: the input was valid, the training was not
    stable. ``gan-nas retrain`` reports it on one line and exits with status 3.
    """


class RetrainStopped(StoppedOnRequest):
    """A retraining stopped on SIGINT or SIGTERM after saving ``checkpoint.pt`` at ``step``.

    A :class:`KeyboardInterrupt`, so whatever handles Ctrl-C handles it (``gan-nas retrain``
    says how to continue); ``--resume`` goes on from ``step`` as if never interrupted.
    """

    def __init__(self, signame: str, folder: Path, step: int) -> None:
        super().__init__(f"{signame}: stopped at generator iteration {step}, saved in "
                         f"{folder / 'checkpoint.pt'}")
        self.signame, self.folder, self.step = signame, folder, step


@dataclass
class RetrainResult:
    """What a retraining run produced."""

    out_dir: Path
    arch: str
    iterations: int
    final_metrics: dict[str, float]
    best_metrics: dict[str, float]
    best_iter: int | None
    wall_s: float
    gpu_memory_peak_mib: float | None
    final_grid: Path | None


# ----------------------------------------------------------------------------- the loop


@dataclass
class RetrainRun:
    """Everything one retraining run holds while it trains (built by :func:`build_run`)."""

    cfg: Config
    arch: Architecture
    out: Path
    dev: torch.device
    G: nn.Module
    D: nn.Module
    ema: EMA
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    gan_step: GANStep
    bank: Any
    scorer: Any
    gen: torch.Generator
    header: dict[str, Any]
    t_start: float
    best: dict[str, Any] = field(default_factory=lambda: {"FID": math.inf, "iter": None, "metrics": {}})
    last_eval: dict[str, Any] = field(default_factory=lambda: {"iter": None, "metrics": {}, "grid": None})
    wall_before: float = 0.0
    graphed: Any = None  # a GraphedIteration when the iterations are CUDA graphs (train.cuda_graphs)

    @property
    def ckpt_path(self) -> Path:
        """The resumable checkpoint."""
        return self.out / "checkpoint.pt"

    @property
    def best_path(self) -> Path:
        """The EMA generator with the lowest FID so far."""
        return self.out / "best.pt"

    def wall_s(self) -> float:
        """Seconds of training so far, earlier sessions of a resumed run included."""
        return self.wall_before + time.perf_counter() - self.t_start


def retrain(
    cfg: Config,
    arch: Architecture | str,
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    overwrite: bool = False,
) -> RetrainResult:
    """Train ``arch`` at full size, evaluate its EMA generator, write the run folder.

    :param cfg: resolved config; ``cfg.retrain`` holds sizes, budget and intervals,
        ``cfg.train`` the loss and optimiser settings, ``cfg.metrics`` the scorer.
    :param arch: a complete (3-cell) architecture, its string or a name (``e2gan``).
    :param out_dir: run folder (created), kind ``retrain`` of :mod:`gan_nas_env.run_folder`:
        checked before anything is written and locked while the run trains.
    :param resume: continue from ``out_dir/checkpoint.pt``.
    :param progress: show a tqdm progress bar.
    :param overwrite: delete the retraining run in ``out_dir`` and start again.
    :raises ResumeError: resuming a checkpoint of another config, architecture or version, or
        a fresh run onto a folder that holds a checkpoint (without ``overwrite``).
    :raises RunFolderError: a folder of another kind, or one another process writes.
    :raises RetrainDiverged: a loss became non-finite (``checkpoint.pt`` keeps the last good state).
    """
    from gan_nas_env.devices import resolve_device

    t_start = time.perf_counter()
    arch = resolve_architecture(arch)
    if not arch.is_complete:
        raise ArchitectureError(f"retraining needs a complete 3-cell architecture, got {str(arch)!r}")
    out, dev = Path(out_dir), resolve_device(cfg.device)
    # every check of the folder, the checkpoint and the config before anything is written
    ckpt = _check_run_folder(cfg, arch, out, dev, resume, overwrite)
    plan = prepare_run(out, "retrain", cfg, resume=resume, overwrite=overwrite)
    if warning := ema_horizon_warning(cfg):
        logging.getLogger(__name__).warning("warning: %s", warning)
    step = ckpt["step"] if ckpt else 0
    run = build_run(cfg, arch, out, dev, ckpt, t_start)
    with plan.open({"arch": str(arch)}, session={"at_step": step}):
        (out / "samples").mkdir(exist_ok=True)
        _start_csv(out / "losses.csv", ["iter", "d_loss", "g_loss"], step)
        _start_csv(out / "metrics.csv", ["iter", *SCORER_KEYS, "wall_s"], step)
        step = _train(run, step, progress)
        peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
        result = RetrainResult(
            out, str(arch), step, run.last_eval["metrics"], run.best["metrics"], run.best["iter"],
            run.wall_s(), peak, out / run.last_eval["grid"] if run.last_eval["grid"] else None,
        )
        write_report(result, cfg, arch, run.last_eval["iter"])
    return result


def _train(run: RetrainRun, step: int, progress: bool) -> int:
    """Train ``run`` from generator iteration ``step`` to ``retrain.g_iters``; the last step."""
    from torch.utils.tensorboard import SummaryWriter

    cfg, out = run.cfg, run.out
    r = cfg.retrain
    t = r.train_config(cfg.train)
    res, latent = int(run.ema.module.resolution), cfg.model.latent_dim  # type: ignore[arg-type]
    writer = SummaryWriter(str(out / "tb"), purge_step=step + 1 if step else None)
    bar = tqdm(total=r.g_iters, initial=step, desc="retrain", unit="it", disable=not progress)
    pending: list[tuple[int, torch.Tensor, torch.Tensor]] = []  # losses not yet synced to host
    run.G.train()
    run.D.train()
    try:
        with StopRequest("the retraining") as stop:
            while step < r.g_iters:
                d_loss, g_loss = train_iteration(run, t, res, latent)
                step += 1
                bar.update(1)
                pending.append((step, d_loss, g_loss))

                do_eval = step % r.eval_every == 0 or step == r.g_iters
                do_ckpt = step % r.checkpoint_every == 0 or step == r.g_iters
                stop_by = stop.requested if step < r.g_iters else None  # SIGINT/SIGTERM arrived
                if not (do_eval or do_ckpt or stop_by or step % r.log_every == 0):
                    continue
                rows = _sync_losses(run, pending, writer, step)
                if do_eval:
                    _evaluate_ema(run, writer, step)
                bar.set_postfix(d=f"{rows[-1][1]:.3f}", g=f"{rows[-1][2]:.3f}", best_fid=f"{run.best['FID']:.2f}")
                if do_ckpt or stop_by:  # a stop saves where it is: the run resumes from here
                    _save_checkpoint(run, step)
                if stop_by:
                    raise RetrainStopped(stop_by, out, step)
    finally:
        bar.close()
        writer.close()
    return step


def train_iteration(run: RetrainRun, t: Any, res: int, latent: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One generator iteration: ``n_critic`` discriminator steps, a generator step, the EMA.

    :return: the mean discriminator loss and the generator loss (device tensors, not synced).
    """
    if run.graphed is not None:  # the same numbers, replayed as one CUDA graph
        return run.graphed()
    dev = run.dev
    d_sum = torch.zeros((), device=dev)
    fmt = torch.channels_last if run.cfg.retrain.channels_last else torch.contiguous_format
    for _ in range(t.n_critic):
        real_batch = run.bank.batch(res, t.d_batch_size, run.gen).contiguous(memory_format=fmt)
        z = torch.randn(t.d_batch_size, latent, device=dev, generator=run.gen)
        d_loss = run.gan_step.d_update(
            real_batch, functools.partial(generate, run.G, z, run.gen), penalty_generator=run.gen
        )
        d_sum += d_loss.detach().float()
    z = torch.randn(t.g_batch_size, latent, device=dev, generator=run.gen)
    g_loss = run.gan_step.g_update(functools.partial(generate, run.G, z, run.gen), real_batch)
    run.ema.update(run.G)
    return d_sum / t.n_critic, g_loss.detach().float()


def _check_run_folder(
    cfg: Config, arch: Architecture, out: Path, dev: torch.device, resume: bool, overwrite: bool
) -> dict[str, Any] | None:
    """Check ``out``'s checkpoint against ``resume`` (writes nothing); the checkpoint to resume."""
    ckpt_path = out / "checkpoint.pt"
    check_folder(out, "retrain")  # another writer or another kind's folder: refused first
    if not resume:
        if ckpt_path.exists() and not overwrite:
            raise ResumeError(
                f"{out} already holds a retraining checkpoint; pass --resume to continue it, "
                "--overwrite to delete it and start again, or choose another --out"
            )
        return None
    if not ckpt_path.exists():
        raise MissingFileError(f"cannot resume: {ckpt_path} does not exist")
    ckpt = read_checkpoint(ckpt_path)
    check_resume_compatible(ckpt, cfg, arch, dev, ckpt_path)
    return ckpt


def build_run(
    cfg: Config, arch: Architecture, out: Path, dev: torch.device, ckpt: dict[str, Any] | None,
    t_start: float,
) -> RetrainRun:
    """Data, scorer, models (weights from ``cfg.seed``), optimisers, EMA; restored from ``ckpt``.

    :func:`retrain` builds its run with it; ``benchmarks/final_row_speed.py`` builds one to
    time :func:`train_iteration` under speed variants.

    :param out: the run folder (its checkpoint and best-generator paths; nothing is written there).
    :param ckpt: a checkpoint read by :func:`read_checkpoint` to resume from, or None.
    :param t_start: ``time.perf_counter()`` at the start of this session (for ``wall_s``).
    """
    from gan_nas_env.data.images import ImageBank, dataset_key, load_images
    from gan_nas_env.metrics.scorer import FeatureScorer
    from gan_nas_env.models.discriminator import Discriminator
    from gan_nas_env.models.generator import build_generator
    from gan_nas_env.training.losses import get_loss

    r, m = cfg.retrain, cfg.model
    t = r.train_config(cfg.train)
    images = load_images(cfg.data, "train", device=dev, seed=cfg.seed)
    bank = ImageBank(images)
    real = images if cfg.metrics.real_samples is None else images[: cfg.metrics.real_samples]
    scorer = FeatureScorer(cfg.metrics, real, dataset_key(cfg.data, "train"), device=dev)
    with isolated_global_rng(dev, seed=cfg.seed):
        G = build_generator(arch, m.latent_dim, r.gf, m.bottom_width, cfg.data.channels, m.num_generators).to(dev)
        D = Discriminator(r.df, cfg.data.channels, m.bottom_width, stage=NUM_CELLS).to(dev)
    if r.channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    ema = EMA(G, r.ema_decay, warmup=r.ema_warmup)
    loss_fn = get_loss(t.loss, gp_weight=t.gp_weight)
    graphs = use_graphs(t, dev, loss_fn, G)  # CUDA graphs need capturable optimisers
    opt_g = torch.optim.Adam(G.parameters(), lr=t.g_lr, betas=(t.beta1, t.beta2), capturable=graphs)
    opt_d = torch.optim.Adam(D.parameters(), lr=t.d_lr, betas=(t.beta1, t.beta2), capturable=graphs)
    gen = torch.Generator(device=dev).manual_seed(cfg.seed)
    flat = flat_keys(cfg.to_dict())
    model_sizes = {size: flat[key] for size, key in MODEL_SIZE_KEYS.items()}
    header = {"format": CHECKPOINT_FORMAT, "version": gan_nas_env.__version__, "arch": str(arch),
              "model": model_sizes, "config": cfg.to_dict(), "proxy_hash": cfg.proxy_hash()}
    # the one GAN step (also the proxy's); its penalty draws from ``gen`` (see _train)
    gan_step = GANStep(G, D, opt_g, opt_d, loss_fn, amp=r.amp, device_type=dev.type,
                       grad_clip=t.grad_clip, autocast_cache=not graphs)
    run = RetrainRun(cfg, arch, out, dev, G, D, ema, opt_g, opt_d, gan_step, bank, scorer, gen, header, t_start)
    if ckpt:
        G.load_state_dict(ckpt["G"])
        D.load_state_dict(ckpt["D"])
        ema.load_state_dict(ckpt["ema"])
        for opt, name in ((opt_g, "opt_g"), (opt_d, "opt_d")):
            opt.load_state_dict(ckpt[name])
            _set_capturable(opt, graphs)
        gen.set_state(ckpt["rng"]["train"])
        run.best, run.last_eval, run.wall_before = ckpt["best"], ckpt["last_eval"], ckpt["wall_s"]
        if run.best_path.exists():  # best.pt may be newer than the checkpoint: trust the file
            saved = torch.load(run.best_path, map_location="cpu", weights_only=True)
            run.best = {"FID": saved["metrics"]["FID"], "iter": saved["step"], "metrics": saved["metrics"]}
    if graphs:
        run.graphed = GraphedIteration(run, t, int(G.resolution), m.latent_dim)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    return run


def _set_capturable(opt: torch.optim.Optimizer, capturable: bool) -> None:
    """Make a loaded Adam capturable or not, whatever the checkpoint's run was.

    ``load_state_dict`` takes the saved groups' flag and leaves the step counts where the saved
    run kept them: a graphed run's (capturable) on the GPU, a plain run's on the host. A run
    resumed with the other mode needs both switched (same values).
    """
    for group in opt.param_groups:
        group["capturable"] = capturable
        for p in group["params"]:
            state = opt.state.get(p, {})
            if torch.is_tensor(state.get("step")):
                state["step"] = (state["step"].to(p.device, torch.float32) if capturable
                                 else state["step"].cpu())


def _sync_losses(
    run: RetrainRun, pending: list[tuple[int, torch.Tensor, torch.Tensor]], writer: Any, step: int
) -> list[tuple[int, float, float]]:
    """Bring the pending losses to the host (once per log interval), log them, stop on NaN/inf."""
    synced = torch.stack([torch.stack((dl, gl)) for _, dl, gl in pending]).cpu().tolist()
    rows = [(i, dl, gl) for (i, _, _), (dl, gl) in zip(pending, synced, strict=True)]
    pending.clear()
    _append_csv(run.out / "losses.csv", [[i, repr(dl), repr(gl)] for i, dl, gl in rows])
    bad = [row for row in rows if not (math.isfinite(row[1]) and math.isfinite(row[2]))]
    if bad:
        kept = f"{run.ckpt_path} (iteration {_saved_step(run.ckpt_path)})" if run.ckpt_path.exists() else "none"
        raise RetrainDiverged(
            f"non-finite loss at generator iteration {bad[0][0]} (d_loss={bad[0][1]}, "
            f"g_loss={bad[0][2]}); stopped without writing a checkpoint. Last good "
            f"checkpoint: {kept}. Try a lower learning rate, another loss or train.grad_clip."
        )
    writer.add_scalar("loss/d", sum(x[1] for x in rows) / len(rows), step)
    writer.add_scalar("loss/g", sum(x[2] for x in rows) / len(rows), step)
    return rows


def _evaluate_ema(run: RetrainRun, writer: Any, step: int) -> None:
    """Score the EMA generator on fixed latents, save a sample grid, keep the best by FID."""
    from PIL import Image

    from gan_nas_env.data.imageops import make_grid_uint8

    cfg, r, latent, dev = run.cfg, run.cfg.retrain, run.cfg.model.latent_dim, run.dev
    metrics = score_generator(run.ema.module, run.scorer, r.eval_samples, latent, cfg.seed, dev)
    grid = run.out / "samples" / f"iter_{step:06d}.png"
    grid_images = sample_images(run.ema.module, GRID_SAMPLES, latent, cfg.seed * 7919 + _GRID_SALT, dev)
    Image.fromarray(make_grid_uint8(grid_images, nrow=8).numpy()).save(grid)
    _append_csv(run.out / "metrics.csv",
                [[step, *(metrics.get(k, "") for k in SCORER_KEYS), f"{run.wall_s():.1f}"]])
    for key, value in metrics.items():
        writer.add_scalar(f"eval/{key}", value, step)
    run.last_eval = {"iter": step, "metrics": metrics, "grid": str(grid.relative_to(run.out))}
    if metrics["FID"] < run.best["FID"]:
        run.best = {"FID": metrics["FID"], "iter": step, "metrics": metrics}
        atomic_save({**run.header, "step": step, "metrics": metrics, "ema": run.ema.state_dict(),
                     "G": run.G.state_dict()}, run.best_path)
    tqdm.write(f"[retrain] iter {step}: " + " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))


def _save_checkpoint(run: RetrainRun, step: int) -> None:
    """Everything needed to resume at ``step``, written atomically."""
    atomic_save({
        **run.header, "step": step, "G": run.G.state_dict(), "D": run.D.state_dict(),
        "ema": run.ema.state_dict(), "opt_g": run.opt_g.state_dict(), "opt_d": run.opt_d.state_dict(),
        "rng": {"device": run.dev.type, "train": run.gen.get_state()}, "best": run.best,
        "last_eval": run.last_eval, "wall_s": run.wall_s(),
    }, run.ckpt_path)


# ----------------------------------------------------------------------------- helpers


@torch.no_grad()
def sample_images(G: nn.Module, n: int, latent_dim: int, seed: int, device: torch.device) -> torch.Tensor:
    """``n`` images of ``G`` (in eval mode) from latents seeded by ``seed``, float [-1, 1]."""
    gen = torch.Generator(device=device).manual_seed(seed)
    was_training = G.training
    G.eval()
    try:
        return generate(G, torch.randn(n, latent_dim, device=device, generator=gen), gen)
    finally:
        G.train(was_training)


def score_generator(
    G: nn.Module, scorer: Any, num_samples: int, latent_dim: int, seed: int,
    device: torch.device, prc: bool = False, salt: int = _EVAL_SALT,
) -> dict[str, float]:
    """IS / FID / KID (and precision/recall with ``prc``) of ``G`` on fixed latent codes.

    The codes depend only on ``seed`` and ``salt``, so evaluations at different
    iterations compare the generator on the same inputs.
    """
    gen = torch.Generator(device=device).manual_seed(seed * 7919 + salt)
    was_training = G.training
    G.eval()
    try:
        return scorer.score_generator(
            lambda n: generate(G, torch.randn(n, latent_dim, device=device, generator=gen), gen),
            num_samples, prc=prc,
        )
    finally:
        G.train(was_training)


def atomic_save(obj: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace``."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _saved_step(path: Path) -> int:
    return int(read_checkpoint(path)["step"])


def _start_csv(path: Path, header: list[str], step: int) -> None:
    """Create ``path`` with ``header``, or keep only its rows up to iteration ``step`` (resume)."""
    if step == 0 or not path.exists():
        path.write_text(",".join(header) + "\n")
        return
    lines = path.read_text().splitlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if ln and int(ln.split(",", 1)[0]) <= step]
    path.write_text("\n".join(kept) + "\n")


def _append_csv(path: Path, rows: list[list[Any]]) -> None:
    with path.open("a") as f:
        f.writelines(",".join(str(x) for x in row) + "\n" for row in rows)


def check_resume_compatible(
    ckpt: dict[str, Any], cfg: Config, arch: Architecture, device: torch.device, path: Path
) -> None:
    """Raise :class:`ResumeError` naming what differs between ``ckpt`` and this run.

    Compared: the architecture, the package major version, the seed and every
    config key of the proxy hash (data, model, train, metrics) and of the
    retrain section, except those that may differ on resume
    (:data:`~gan_nas_env.run_folder.MAY_DIFFER_ON_RESUME`: the settings that do not
    change results and ``retrain.g_iters``, since a run may be extended).
    """
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ResumeError(f"{path} is not a retraining checkpoint (format {ckpt.get('format')!r})")
    problems = []
    if ckpt["arch"] != str(arch):
        problems.append(f"architecture: {ckpt['arch']!r} (checkpoint) != {str(arch)!r} (now)")
    old_major, new_major = str(ckpt["version"]).split(".")[0], gan_nas_env.__version__.split(".")[0]
    if old_major != new_major:
        problems.append(
            f"package major version: {ckpt['version']} (checkpoint) != {gan_nas_env.__version__} (now)"
        )
    old, new = flat_keys(ckpt["config"]), flat_keys(cfg.to_dict())
    for key in sorted(set(old) | set(new)):
        if may_differ_on_resume("retrain", key):
            continue
        if old.get(key, "<missing>") != new.get(key, "<missing>"):
            problems.append(f"config {key}: {old.get(key, '<missing>')!r} (checkpoint) != "
                            f"{new.get(key, '<missing>')!r} (now)")
    if ckpt["rng"]["device"] != device.type:
        problems.append(f"device type: {ckpt['rng']['device']} (checkpoint) != {device.type} (now); "
                        "the RNG state only resumes on the same kind of device")
    if problems:
        raise ResumeError(f"cannot resume {path}: it was written by a different run:\n  "
                          + "\n  ".join(problems))


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, Architecture]:
    """Load the EMA generator (else the raw one) of a ``best.pt`` / ``checkpoint.pt``.

    The generator is rebuilt from the architecture and model sizes stored in the
    file and returned in eval mode on ``device``; the caller's RNG is untouched.

    :return: ``(generator, architecture)``.
    """
    from gan_nas_env.models.generator import build_generator

    ckpt = read_checkpoint(path)
    if "arch" not in ckpt or "model" not in ckpt:
        raise CheckpointError(f"{path} is not a gan-nas retraining checkpoint (no 'arch'/'model' entries)")
    arch, s = Architecture.parse(ckpt["arch"]), ckpt["model"]
    with isolated_global_rng():
        G = build_generator(arch, s["latent_dim"], s["gf"], s["bottom_width"], s["channels"],
                            s["num_generators"])
    try:
        G.load_state_dict(ckpt["ema"]["module"] if "ema" in ckpt else ckpt["G"])
    except RuntimeError as exc:  # missing, unexpected or other-shaped tensors
        first = str(exc).strip().splitlines()
        raise CheckpointError(
            f"{path}: its weights do not fit the generator of the sizes it records ({s}): "
            f"{' '.join(ln.strip() for ln in first[:3])}; the file is damaged or was written by "
            "other model code"
        ) from None
    return G.to(device).eval(), arch


def _fmt(metrics: dict[str, float], key: str) -> str:
    return f"{metrics[key]:.4g}" if key in metrics else "-"


def ema_horizon_warning(cfg: Config) -> str | None:
    """Why the EMA generator of this retraining would still be near its initialisation, or None.

    The EMA averages over about ``1 / (1 - ema_decay)`` generator iterations; a run shorter
    than that scores and samples a generator that is mostly its initial weights (grey grids,
    IS 1). ``retrain.ema_warmup`` ramps the decay up from 0.1, so it never holds them long.
    """
    r = cfg.retrain
    horizon = 1.0 / (1.0 - r.ema_decay)
    if r.ema_warmup or horizon <= r.g_iters:
        return None
    fix = "--set retrain.ema_warmup=true"
    if r.g_iters >= 100:  # a decay whose horizon is a tenth of the run: e^-10 of the start left
        fix += f" or --set retrain.ema_decay={1 - 10 / r.g_iters:.3g}"
    return (f"retrain.ema_decay {r.ema_decay:g} averages the generator over about {horizon:.0f} "
            f"iterations, more than this run's {r.g_iters} (retrain.g_iters): the EMA generator "
            f"that is scored and sampled will still be mostly its initial weights; use {fix}")


def write_report(result: RetrainResult, cfg: Config, arch: Architecture, final_iter: int | None) -> None:
    """``report.json`` and ``report.md`` (architecture, metrics, time, memory, final grid)."""
    out = result.out_dir
    r = cfg.retrain
    warning = ema_horizon_warning(cfg)
    t = r.train_config(cfg.train)
    mem = f"{result.gpu_memory_peak_mib:.0f} MiB" if result.gpu_memory_peak_mib is not None else "n/a (CPU)"
    grid = str(result.final_grid.relative_to(out)) if result.final_grid else None
    data = {
        "architecture": result.arch, "description": arch.describe(), "config": cfg.name,
        "dataset": cfg.data.name, "iterations": result.iterations, "g_iters": r.g_iters,
        "final_iter": final_iter, "final_metrics": result.final_metrics, "best_iter": result.best_iter,
        "best_metrics": result.best_metrics, "eval_samples": r.eval_samples,
        "features": cfg.metrics.features, "wall_s": result.wall_s, "gpu_memory_peak": mem,
        "final_grid": grid, "version": gan_nas_env.__version__,
        "warnings": [warning] if warning else [],
    }
    (out / "report.json").write_text(json.dumps(data, indent=2))
    f, b = result.final_metrics, result.best_metrics
    rows = "\n".join(f"| {k} | {_fmt(f, k)} | {_fmt(b, k)} |" for k in ("IS", "IS_std", "FID", "KID"))
    warn_md = f"**Warning:** {warning}\n\n" if warning else ""
    md = f"""# Retraining report

{warn_md}- architecture: `{result.arch}`
- config: `{cfg.name}` (data {cfg.data.name}, {cfg.data.image_size} px, {cfg.data.channels} ch)
- model: gf {r.gf}, df {r.df}, latent {cfg.model.latent_dim}; loss {t.loss}, n_critic {t.n_critic},
  lr G/D {t.g_lr:g}/{t.d_lr:g}, betas ({t.beta1:g}, {t.beta2:g}), batch G/D {t.g_batch_size}/{t.d_batch_size},
  EMA decay {r.ema_decay:g}{" (warm-up)" if r.ema_warmup else ""}
- generator iterations: {result.iterations} of {r.g_iters}
- wall time: {result.wall_s:.1f} s
- GPU memory peak: {mem}
- metrics: {cfg.metrics.features} features, {r.eval_samples} generated samples, EMA generator

```
{arch.describe()}
```

| metric | final (iter {final_iter}) | best by FID (iter {result.best_iter}) |
|---|---|---|
{rows}

"""
    md += f"![final samples]({grid})\n" if grid else "No evaluation was run.\n"
    (out / "report.md").write_text(md)
