"""Small MLP GANs on the toy targets of :mod:`gan_nas_env.toy.data`.

:func:`train_toy` trains ``K`` MLP generators (separate weights; ``K = 1`` is
a plain GAN, ``K > 1`` the Stackelberg GAN) against one MLP discriminator
with any loss of :mod:`gan_nas_env.training.losses`, then scores a fixed number of
samples with :mod:`gan_nas_env.toy.metrics`. The generated distribution is
the uniform mixture of the generators: every batch (training and evaluation)
is split into ``K`` equal shares (``n // K`` or ``n // K + 1`` samples),
share ``j`` drawn by generator ``j``. :func:`plot_toy` draws the samples over
the target density.

The run is a pure function of its arguments: data, latents and the WGAN-GP
interpolation weights come from a local generator seeded with ``seed``; only module
initialisation draws from the global torch RNG, seeded inside
:func:`torch.random.fork_rng` and restored afterwards. The run uses
``threads`` torch threads (default 1; restored afterwards): these nets are
so small that more threads only add contention.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from gan_nas_env.config import ConfigError
from gan_nas_env.toy.data import TOY_TARGETS, ToySample, sample_target
from gan_nas_env.toy.metrics import QUALITY_STDS, modes_covered, toy_metrics
from gan_nas_env.toy.settings import ToyConfig
from gan_nas_env.training.losses import get_loss
from gan_nas_env.training.step import GANStep


def mlp(
    in_dim: int, out_dim: int, hidden: int, layers: int, act: Callable[[], nn.Module]
) -> nn.Sequential:
    """``layers`` hidden layers of width ``hidden`` with activation ``act``, linear output."""
    mods: list[nn.Module] = []
    d = in_dim
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), act()]
        d = hidden
    mods.append(nn.Linear(d, out_dim))
    return nn.Sequential(*mods)


def balanced_indices(n: int, k: int) -> Tensor:
    """Generator index per sample of a batch of ``n``: ``j % k``, equal shares."""
    return torch.arange(n) % k


class ToyGenerators(nn.Module):
    """``K`` MLP generators with separate weights; a batch is split among them.

    :param num_generators: ``K`` (>= 1).
    :param latent_dim: size of the Gaussian latent code.
    :param out_dim: dimension of the generated points.
    :param hidden: width of the hidden layers.
    :param layers: number of hidden layers.
    """

    def __init__(
        self, num_generators: int, latent_dim: int, out_dim: int, hidden: int = 64, layers: int = 3
    ) -> None:
        super().__init__()
        if num_generators < 1:
            raise ValueError(f"num_generators must be >= 1, got {num_generators}")
        self.latent_dim = latent_dim
        self.generators = nn.ModuleList(
            mlp(latent_dim, out_dim, hidden, layers, nn.ReLU) for _ in range(num_generators)
        )

    @property
    def num_generators(self) -> int:
        """Number of generators ``K``."""
        return len(self.generators)

    def forward(self, z: Tensor, indices: Tensor | None = None) -> Tensor:
        """Points ``[N, out_dim]``; sample ``i`` comes from generator ``indices[i]``.

        :param z: latent codes ``[N, latent_dim]``.
        :param indices: ``[N]`` generator indices; :func:`balanced_indices` when None.
        """
        if indices is None:
            indices = balanced_indices(z.shape[0], self.num_generators)
        last = cast(nn.Sequential, self.generators[0])[-1]
        out = z.new_empty(z.shape[0], cast(nn.Linear, last).out_features)
        for j, g in enumerate(self.generators):
            pos = (indices == j).nonzero(as_tuple=True)[0]
            if pos.numel():
                out = out.index_copy(0, pos, g(z.index_select(0, pos)))
        return out

    def sample(self, n: int, rng: torch.Generator) -> tuple[Tensor, Tensor]:
        """``n`` points of the uniform mixture and the generator index of each."""
        z = torch.randn(n, self.latent_dim, generator=rng)
        idx = balanced_indices(n, self.num_generators)
        return self(z, idx), idx


@dataclass
class ToyResult:
    """Outcome of one :func:`train_toy` run.

    :param config: the run's arguments.
    :param metrics: modes covered, number of modes, high-quality fraction, precision, recall.
    :param generator_modes: modes covered by each generator's own samples.
    :param samples: ``[n, d]`` evaluation samples of the mixture.
    :param generator_index: ``[n]`` generator of each sample.
    :param real: ``[n, d]`` target samples used for precision / recall.
    :param centres: ``[k, d]`` mode centres of the target.
    :param std: std of the target modes.
    :param losses: ``step``, ``d_loss``, ``g_loss`` logged every ``log_every`` steps (window means).
    :param diverged: a loss became non-finite (training stopped there).
    :param wall_s: wall-clock seconds of training and evaluation.
    """

    config: dict[str, Any]
    metrics: dict[str, float]
    generator_modes: list[int]
    samples: np.ndarray
    generator_index: np.ndarray
    real: np.ndarray
    centres: np.ndarray
    std: float
    losses: dict[str, list[float]] = field(default_factory=dict)
    diverged: bool = False
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the sample arrays)."""
        return {
            "config": self.config,
            "metrics": self.metrics,
            "generator_modes": self.generator_modes,
            "centres": self.centres.tolist(),
            "std": self.std,
            "losses": self.losses,
            "diverged": self.diverged,
            "wall_s": self.wall_s,
        }


def train_toy(
    target: str = "ring8",
    loss: str = "ns",
    num_generators: int = 1,
    steps: int = 3000,
    batch: int = 256,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = False,
    **kwargs: Any,
) -> ToyResult:
    """Train a (multi-generator) MLP GAN on a toy target and score it.

    :param target: name in ``TOY_TARGETS`` (``clusters1d``, ``mog5``, ``ring8``).
    :param loss: name in ``gan_nas_env.training.losses.LOSSES`` (``hinge``, ``ns``, ``wgan-gp``, ``rpgan``).
    :param num_generators: ``K`` generators against one discriminator.
    :param steps: generator updates (one discriminator update before each).
    :param batch: real and generated points per update, split evenly among the ``K``.
    :param lr: Adam learning rate of both players (betas 0.5, 0.999).
    :param seed: seeds everything of the run.
    :param progress: show a tqdm bar of the steps with the mean losses of each log window.
    :param kwargs: other :class:`ToyConfig` fields (``latent_dim``, ``hidden``, ...).
    """
    cfg = ToyConfig(target, loss, num_generators, steps, batch, lr, seed, **kwargs)
    TOY_TARGETS.get(cfg.target)
    if cfg.steps < 0 or cfg.batch < cfg.num_generators:
        raise ConfigError(f"need steps >= 0 and batch >= num_generators, got {cfg}")
    t0 = time.perf_counter()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            result = _run(cfg, progress)
    finally:
        torch.set_num_threads(old_threads)
    result.wall_s = time.perf_counter() - t0
    return result


def _same(t: Tensor) -> Tensor:
    """``t`` itself (the generator output the G update trains through)."""
    return t


def _run(cfg: ToyConfig, progress: bool = False) -> ToyResult:
    gan_loss = get_loss(cfg.loss, gp_weight=cfg.gp_weight)
    rng = torch.Generator().manual_seed(cfg.seed)
    dim = sample_target(cfg.target, 0).dim
    G = ToyGenerators(cfg.num_generators, cfg.latent_dim, dim, cfg.hidden, cfg.layers)
    D = mlp(dim, 1, cfg.hidden, cfg.layers, lambda: nn.LeakyReLU(0.2))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    step_fn = GANStep(G, D, opt_g, opt_d, gan_loss)  # the one GAN step of the package
    idx = balanced_indices(cfg.batch, cfg.num_generators)
    log: dict[str, list[float]] = {"step": [], "d_loss": [], "g_loss": []}
    d_sum = g_sum = 0.0
    diverged = False
    bar = tqdm(total=cfg.steps, desc="toy", unit="step", disable=not progress)
    for step in range(1, cfg.steps + 1):
        real = sample_target(cfg.target, cfg.batch, rng).samples
        # one forward of G serves both updates (the D update sees it detached)
        fake = G(torch.randn(cfg.batch, cfg.latent_dim, generator=rng), idx)
        d_loss = step_fn.d_update(real, fake.detach, penalty_generator=rng)
        g_loss = step_fn.g_update(functools.partial(_same, fake), real)
        d_sum, g_sum = d_sum + float(d_loss.detach()), g_sum + float(g_loss.detach())
        if not (math.isfinite(d_sum) and math.isfinite(g_sum)):
            diverged = True
        if step % cfg.log_every == 0 or step == cfg.steps or diverged:
            window = (step - 1) % cfg.log_every + 1
            log["step"].append(float(step))
            log["d_loss"].append(d_sum / window)
            log["g_loss"].append(g_sum / window)
            d_sum = g_sum = 0.0
            bar.set_postfix(d=f"{log['d_loss'][-1]:.3f}", g=f"{log['g_loss'][-1]:.3f}")
        bar.update(1)
        if diverged:
            break
    bar.close()
    return _evaluate(cfg, G, log, diverged)


@torch.no_grad()
def _evaluate(
    cfg: ToyConfig, G: ToyGenerators, log: dict[str, list[float]], diverged: bool
) -> ToyResult:
    eval_rng = torch.Generator().manual_seed(cfg.seed * 1000003 + 1)
    real: ToySample = sample_target(cfg.target, cfg.eval_samples, eval_rng)
    fake, idx = G.sample(cfg.eval_samples, eval_rng)
    if bool(torch.isfinite(fake).all()):
        metrics = toy_metrics(fake, real.samples, real.centres, real.std)
        per_gen = [
            modes_covered(fake[idx == j], real.centres, real.std) for j in range(cfg.num_generators)
        ]
    else:
        diverged = True
        nan = float("nan")
        metrics = {
            "modes_covered": 0.0,
            "num_modes": float(real.num_modes),
            "high_quality_fraction": 0.0,
            "precision": nan,
            "recall": nan,
        }
        per_gen = [0] * cfg.num_generators
    return ToyResult(
        config=asdict(cfg),
        metrics=metrics,
        generator_modes=per_gen,
        samples=fake.numpy(),
        generator_index=idx.numpy(),
        real=real.samples.numpy(),
        centres=real.centres.numpy(),
        std=real.std,
        losses=log,
        diverged=diverged,
    )


def mixture_density(points: np.ndarray, centres: np.ndarray, std: float) -> np.ndarray:
    """Density of the uniform isotropic Gaussian mixture at ``points`` ``[n, d]``."""
    d = centres.shape[1]
    sq = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    norm = (2.0 * math.pi * std**2) ** (d / 2)
    return np.exp(-0.5 * sq / std**2).mean(1) / norm


def plot_toy(result: ToyResult, path: str | Path, title: str | None = None) -> Path:
    """Draw the generated samples over the target density; write a PNG to ``path``.

    1-D: histogram of the samples over the target density curve. 2-D: target
    density (grey), the ``3 std`` high-quality circles, samples coloured by generator.
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    c, std, x = result.centres, result.std, result.samples
    m = result.metrics
    fig = Figure(figsize=(5.5, 5.0) if c.shape[1] == 2 else (6.5, 3.5), dpi=110)
    ax = fig.add_subplot()
    finite = x[np.isfinite(x).all(1)]
    lo = float(min(c.min(), finite.min() if len(finite) else c.min())) - 0.3
    hi = float(max(c.max(), finite.max() if len(finite) else c.max())) + 0.3
    lo, hi = max(lo, float(c.min()) - 3.0), min(hi, float(c.max()) + 3.0)
    if c.shape[1] == 1:
        grid = np.linspace(lo, hi, 2000)[:, None]
        ax.plot(
            grid[:, 0], mixture_density(grid, c, std), color="0.4", lw=1, label="target density"
        )
        ax.hist(
            finite[:, 0],
            bins=200,
            range=(lo, hi),
            density=True,
            alpha=0.6,
            color="C0",
            label="generated",
        )
        ax.set_xlabel("x")
        ax.legend(loc="upper center", fontsize=8)
    else:
        n = 400
        gx = np.linspace(lo, hi, n)
        xx, yy = np.meshgrid(gx, gx)
        dens = mixture_density(np.stack([xx.ravel(), yy.ravel()], 1), c, std).reshape(n, n)
        ax.imshow(
            np.sqrt(dens),
            extent=(lo, hi, lo, hi),
            origin="lower",
            cmap="Greys",
            interpolation="bilinear",
        )
        for cx, cy in c:
            ax.add_patch(_circle(cx, cy, QUALITY_STDS * std))
        k = int(result.generator_index.max()) + 1 if len(result.generator_index) else 1
        for j in range(k):
            pts = x[result.generator_index == j]
            ax.scatter(
                pts[:, 0],
                pts[:, 1],
                s=3,
                alpha=0.5,
                color=f"C{j % 10}",
                label=f"G{j + 1}" if k > 1 else "generated",
            )
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        if k > 1:
            ax.legend(loc="upper right", fontsize=7, markerscale=3, ncol=2)
    cfg = result.config
    ax.set_title(
        title
        or (
            f"{cfg['target']} | {cfg['loss']} | K={cfg['num_generators']} | seed {cfg['seed']}\n"
            f"modes {m['modes_covered']:.0f}/{m['num_modes']:.0f}, "
            f"high quality {m['high_quality_fraction']:.2f}, "
            f"P {m['precision']:.2f} R {m['recall']:.2f}"
        ),
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path)
    return path


def _circle(x: float, y: float, r: float) -> Any:
    from matplotlib.patches import Circle

    return Circle((x, y), r, fill=False, color="C3", lw=0.6)


def write_toy_outputs(
    result: ToyResult, out: str | Path, extra: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write ``metrics.json`` (plus ``extra`` fields) and ``samples.png`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    payload = {**result.to_dict(), **(extra or {})}
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
    return {"metrics": metrics_path, "plot": plot_toy(result, out / "samples.png")}
