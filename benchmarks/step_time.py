#!/usr/bin/env python
"""Time a full GANCellSearch env step per stage: E2GAN-style reference vs the project's default.

One env step = 1 epoch of proxy training at the stage resolution + scoring the
samples (docs/performance.md). Both paths train the same models from the same
initialisation on synthetic data of the chosen shape (timing does not depend
on the pixels):

- **reference** (as E2GAN does it): fp32, a torch ``DataLoader`` over a dataset
  with per-sample torchvision transforms (ToTensor, Resize, Normalize), default
  (non-fused) Adam, scoring by generating all images and running
  ``torch_fidelity.calculate_metrics`` on them;
- **default**: the project's ``ProxyTrainer`` + ``FeatureScorer`` (uint8 data
  resident on the device and resized once per stage, one feature pass for IS,
  FID and KID, cached real statistics, ``train.amp`` on CUDA).

Writes a JSON file and a Markdown table (``--md``). Examples::

    python -m benchmarks.step_time --preset paper --out docs/step_time_gpu.json --md docs/performance.md
    python -m benchmarks.step_time --preset quickstart            # CPU-sized
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.presets import add_common_args, preset_config  # noqa: E402
from gan_nas_env.config import load_config
from gan_nas_env.data.images import ImageBank, load_images
from gan_nas_env.devices import resolve_device
from gan_nas_env.metrics.scorer import FeatureScorer
from gan_nas_env.models.discriminator import Discriminator
from gan_nas_env.models.generator import build_generator
from gan_nas_env.provenance import provenance, provenance_line
from gan_nas_env.space import E2GAN_ARCH, NUM_CELLS
from gan_nas_env.training.losses import get_loss
from gan_nas_env.training.proxy import ProxyTrainer
from gan_nas_env.training.step import GANStep
from gan_nas_env.user_files import check_outputs

# One row per technique of the default path: the default with that technique turned off.
# (label, config overrides, benchmark-side change, applies on CPU)
ABLATIONS = [
    ("CUDA graphs", {"train.cuda_graphs": False}, None, False),
    ("no host sync (one added per step, no graphs)", {"train.cuda_graphs": False}, "host_sync", True),
    ("bf16 autocast", {"train.amp": False}, None, True),
    ("channels_last", {"train.channels_last": False}, None, True),
    ("fused Adam", {"train.fused_adam": False}, None, False),
    ("cuDNN autotuning", {"train.cudnn_benchmark": False}, None, False),
    ("cached real statistics", {}, "fresh_stats", True),
]
PEAK_TFLOPS = {"H100": {"bf16": 989.0, "fp32": 67.0}, "H200": {"bf16": 989.0, "fp32": 67.0}}


class TransformDataset(Dataset):
    """uint8 HWC images with per-sample torchvision transforms (the reference's loader)."""

    def __init__(self, images: np.ndarray, res: int) -> None:
        import torchvision.transforms as T

        self.images = images
        self.tf = T.Compose([T.ToTensor(), T.Resize(res, antialias=True),
                             T.Normalize([0.5] * images.shape[-1], [0.5] * images.shape[-1])])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.tf(self.images[i])


class UInt8Dataset(Dataset):
    """Images as torch-fidelity wants them: uint8 [3, H, W]."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def reference_episode(cfg, images: torch.Tensor, dev: torch.device) -> list[dict]:
    """E2GAN-style proxy: DataLoader + transforms, fp32, non-fused Adam, torch-fidelity scoring."""
    import torch_fidelity

    from gan_nas_env.data.imageops import to_uint8

    m, t = cfg.model, cfg.train
    loss = get_loss(t.loss, t.gp_weight)
    hwc = images.permute(0, 2, 3, 1).cpu().numpy()
    gen = torch.Generator(device=dev).manual_seed(0)
    out = []
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(0)
        G = build_generator(None, m.latent_dim, m.gf, m.bottom_width, cfg.data.channels).to(dev)
        D = Discriminator(m.df, cfg.data.channels, m.bottom_width, stage=1).to(dev)
    # one Adam each per episode, across the stages, as the released E2GAN search
    opt_g = torch.optim.Adam(G.parameters(), t.g_lr, (t.beta1, t.beta2), foreach=False)
    opt_d = torch.optim.Adam(D.parameters(), t.d_lr, (t.beta1, t.beta2), foreach=False)
    step = GANStep(G, D, opt_g, opt_d, loss)  # the package's one GAN step, fp32, eager
    for depth, cell in enumerate(E2GAN_ARCH.cells, start=1):
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            torch.manual_seed(depth)
            opt_g.add_param_group({"params": G.grow(cell)})
            if depth > 1:
                D.grow()
        res = G.resolution
        loader = DataLoader(TransformDataset(hwc, res), batch_size=t.d_batch_size, shuffle=True,
                            drop_last=True, num_workers=2 if dev.type == "cuda" else 0)
        sync(dev)
        t0 = time.perf_counter()
        for it, real in enumerate(loader):
            real = real.to(dev)
            z = torch.randn(t.d_batch_size, m.latent_dim, device=dev, generator=gen)
            d_loss = step.d_update(real, functools.partial(G, z), penalty_generator=gen)
            if (it + 1) % t.n_critic == 0:
                z = torch.randn(t.g_batch_size, m.latent_dim, device=dev, generator=gen)
                step.g_update(functools.partial(G, z), real)
            float(d_loss.detach())  # the reference logs every iteration: a host sync
        sync(dev)
        t1 = time.perf_counter()
        with torch.no_grad():
            G.eval()
            fakes = torch.cat([to_uint8(G(torch.randn(250, m.latent_dim, device=dev))).cpu()
                               for _ in range(cfg.metrics.num_samples // 250)])
            G.train()
        # scored against the real data at the final resolution, as released
        real = images[: cfg.metrics.real_samples].cpu()
        metrics = torch_fidelity.calculate_metrics(
            input1=UInt8Dataset(fakes), input2=UInt8Dataset(real), isc=True, fid=True,
            feature_extractor="fmnist-classifier-v1", feature_layer_isc="logits_unbiased",
            feature_layer_fid="128", cuda=dev.type == "cuda", verbose=False, cache=False)
        sync(dev)
        t2 = time.perf_counter()
        out.append({"stage": depth, "res": res, "train_s": t1 - t0, "score_s": t2 - t1,
                    "IS": metrics["inception_score_mean"], "FID": metrics["frechet_inception_distance"]})
    return out


def default_episode(cfg, images: torch.Tensor, dev: torch.device, change: str | None = None) -> list[dict]:
    """The project's proxy step (what GANCellSearchEnv runs); ``change`` undoes one technique."""
    from gan_nas_env.data.images import dataset_key
    from gan_nas_env.training import stage as stage_trainer

    scorer = FeatureScorer(cfg.metrics, images[: cfg.metrics.real_samples], dataset_key(cfg.data, "train"), dev)
    trainer = ProxyTrainer(cfg, ImageBank(images), scorer, dev)
    resolutions = sorted({scorer.reference_resolution(cfg.model.bottom_width * 2**depth)
                          for depth in range(1, NUM_CELLS + 1)})
    for res in resolutions:
        scorer.real_statistics(res)  # cached on disk in a real search: not part of a step
    trainer.reset(0)
    out = []
    # what a per-iteration loss log costs: the ablation instruments the stage's private
    # discriminator step (the library has, on purpose, no per-step sync to switch on)
    d_step = stage_trainer.StageTrainer._d_step
    host_sync = mock.patch.object(stage_trainer.StageTrainer, "_d_step",
                                  lambda self: (d_step(self), float(self._d_sum))[0])
    with host_sync if change == "host_sync" else contextlib.nullcontext():
        for cell in E2GAN_ARCH.cells:
            if change == "fresh_stats":  # statistics of the real images recomputed per step
                scorer.clear_memory_cache()
                for res in resolutions:
                    scorer.cache_path(res).unlink(missing_ok=True)
            sync(dev)
            out.append(_timed_step(trainer, cell))
    return out


def _timed_step(trainer: ProxyTrainer, cell) -> dict:
    r = trainer.add_cell(cell)
    assert r.arch is not None and trainer.G is not None  # a cell was added
    return {"stage": r.arch.depth, "res": trainer.G.resolution, **r.timings,
            "IS": r.metrics["IS"], "FID": r.metrics["FID"]}


def count_flops(cfg, dev: torch.device) -> dict[int, float]:
    """Model FLOPs (forward + backward) of one proxy epoch per stage, counted with FlopCounterMode."""
    m, t = cfg.model, cfg.train
    n_d = cfg.data.synthetic_images // t.d_batch_size
    n_g = n_d // t.n_critic
    flops = {}
    G = build_generator(E2GAN_ARCH.prefix(1), m.latent_dim, m.gf, m.bottom_width, cfg.data.channels).to(dev)
    D = Discriminator(m.df, cfg.data.channels, m.bottom_width, stage=1).to(dev)
    for depth, cell in enumerate(E2GAN_ARCH.cells, start=1):
        if depth > 1:
            G.grow(cell)
            D.grow()
        real = torch.randn(t.d_batch_size, cfg.data.channels, G.resolution, G.resolution, device=dev)
        with FlopCounterMode(display=False) as fc:
            with torch.no_grad():
                fake = G(torch.randn(t.d_batch_size, m.latent_dim, device=dev))
            (D(real).mean() + D(fake).mean()).backward()
        d_step = fc.get_total_flops()
        with FlopCounterMode(display=False) as fc:
            D(G(torch.randn(t.g_batch_size, m.latent_dim, device=dev))).mean().backward()
        flops[depth] = float(n_d * d_step + n_g * fc.get_total_flops())
    return flops


def run_path(name: str, cfg, images: torch.Tensor, dev: torch.device, flops: dict[int, float],
             repeats: int, change: str | None = None) -> dict:
    """Median over ``repeats`` episodes of one path's per-stage times, plus peak memory."""
    episode: Callable[..., list[dict]] = reference_episode if name == "reference" else default_episode
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    runs = [episode(cfg, images, dev) if change is None else episode(cfg, images, dev, change)
            for _ in range(repeats)]
    steps = []
    for stage_runs in zip(*runs):
        s = dict(stage_runs[0])
        for key in ("train_s", "score_s"):
            s[key] = float(np.median([r[key] for r in stage_runs]))
        s["step_s"] = s["train_s"] + s["score_s"]
        s["train_tflops_per_s"] = flops[s["stage"]] / s["train_s"] / 1e12
        steps.append(s)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"steps": steps, "wall_s": time.perf_counter() - t0, "peak_mem_mib": peak}


def warm_up(cfg, images: torch.Tensor, dev: torch.device, paths: list[str]) -> None:
    """One short untimed episode per path: CUDA context, cuDNN autotuning, lazy imports."""
    short = load_config(cfg, {"train.d_iters_per_cell": 2 * cfg.train.n_critic * 4})
    for name in paths:
        (reference_episode if name == "reference" else default_episode)(short, images, dev)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--paths", default="reference,default")
    p.add_argument("--ablate", action="store_true",
                   help="also time the default path with each technique turned off, one at a time")
    p.add_argument("--repeats", type=int, default=1, help="timed episodes per path (median)")
    p.add_argument("--no-warmup", action="store_true", help="skip the short untimed warm-up episode")
    p.add_argument("--flops-only", action="store_true",
                   help="only count the model FLOPs of one epoch per stage (no data, no timing; any device)")
    args = p.parse_args(argv)
    check_outputs(p, args, "--out", "--md")  # before the work, not after it
    cfg = preset_config(args)
    dev = resolve_device(cfg.device)
    if args.flops_only:
        return save_flops({"provenance": provenance(), "preset": args.preset, "torch": torch.__version__,
                           "flops_per_stage": count_flops(cfg, dev)}, args.out, args.md)
    images = load_images(cfg.data, "train", device=dev, seed=cfg.seed)
    flops = count_flops(cfg, dev)
    paths = args.paths.split(",")
    result = {"provenance": provenance(), "preset": args.preset,
              "device": torch.cuda.get_device_name() if dev.type == "cuda"
              else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
              "torch": torch.__version__, "images": len(images), "amp": cfg.train.amp,
              "repeats": args.repeats, "flops_per_stage": flops, "paths": {}, "ablations": {}}
    if not args.no_warmup:
        warm_up(cfg, images, dev, paths)
    for path in paths:
        result["paths"][path] = run_path(path, cfg, images, dev, flops, args.repeats)
        print(f"{path}: " + ", ".join(f"stage {s['stage']} {s['step_s']:.2f} s"
                                      for s in result["paths"][path]["steps"]))
        save(result, args.out, args.md)
    if {"reference", "default"} <= set(result["paths"]):
        ref, dflt = (result["paths"][k]["steps"] for k in ("reference", "default"))
        result["speedup"] = {s["stage"]: r["step_s"] / s["step_s"] for r, s in zip(ref, dflt)}
        result["speedup_episode"] = sum(r["step_s"] for r in ref) / sum(s["step_s"] for s in dflt)
        print("speed-up:", {k: round(v, 2) for k, v in result["speedup"].items()},
              f"episode {result['speedup_episode']:.2f}x")
    if args.ablate:
        with tempfile.TemporaryDirectory() as tmp:
            for label, overrides, change, on_cpu in ABLATIONS:
                if dev.type != "cuda" and not on_cpu:
                    continue
                if overrides.get("train.amp") is False and not cfg.train.amp:
                    continue  # bf16 is off already
                variant = load_config(cfg, {**overrides, "metrics.cache_dir": tmp} if change else overrides)
                result["ablations"][label] = run_path("default", variant, images, dev, flops, args.repeats, change)
                print(f"without {label}: " + ", ".join(
                    f"stage {s['stage']} {s['step_s']:.2f} s" for s in result["ablations"][label]["steps"]))
                save(result, args.out, args.md)
    save(result, args.out, args.md)
    return result


def save_flops(result: dict, out: str | None, md: str | None) -> dict:
    """Write ``--flops-only``'s count: per stage and per episode, with its provenance."""
    result["flops_episode"] = sum(result["flops_per_stage"].values())
    lines = [f"### Model FLOPs of one proxy epoch, `{result['preset']}` preset", "",
             provenance_line(result["provenance"]), "", "| stage | TFLOP |", "|---|---|",
             *(f"| {k} | {v / 1e12:.2f} |" for k, v in result["flops_per_stage"].items()),
             f"| episode | {result['flops_episode'] / 1e12:.1f} |", ""]
    if out:
        Path(out).write_text(json.dumps(result, indent=1))
    if md:
        Path(md).write_text("\n".join(lines))
    print("\n".join(lines))
    return result


def save(result: dict, out: str | None, md: str | None) -> None:
    """Write what is measured so far (called after every path: a cut-off run keeps it)."""
    if out:
        Path(out).write_text(json.dumps(result, indent=1))
    if md:
        Path(md).write_text(markdown(result))


def markdown(r: dict) -> str:
    """Markdown tables of a result: per path and stage, then one row per ablation."""
    gpu = next((k for k in PEAK_TFLOPS if k in r["device"]), None)
    lines = [f"### `{r['preset']}` preset on {r['device']} (torch {r['torch']}, bf16 {'on' if r['amp'] else 'off'}, "
             f"median of {r['repeats']})", "",
             "| path | stage | train s | score s | step s | model TFLOP/s | % of bf16 peak | speed-up |",
             "|---|---|---|---|---|---|---|---|"]
    for path, d in r["paths"].items():
        for s in d["steps"]:
            peak = f"{100 * s['train_tflops_per_s'] / PEAK_TFLOPS[gpu]['bf16']:.2f}" if gpu else "n/a"
            sp = f"{r['speedup'][s['stage']]:.2f}x" if path == "default" and "speedup" in r else ""
            lines.append(f"| {path} | {s['stage']} ({s['res']} px) | {s['train_s']:.2f} | "
                         f"{s['score_s']:.2f} | {s['step_s']:.2f} | {s['train_tflops_per_s']:.4f} | {peak} | {sp} |")
        total = sum(s["step_s"] for s in d["steps"])
        sp = f"{r['speedup_episode']:.2f}x" if path == "default" and "speedup_episode" in r else ""
        lines.append(f"| {path} | episode (3 steps) | | | {total:.2f} | | | {sp} |")
        lines.append(f"| {path} | peak memory | {d['peak_mem_mib']:.0f} MiB | | | | | |")
    if r["ablations"] and "default" in r["paths"]:
        base = sum(s["step_s"] for s in r["paths"]["default"]["steps"])
        lines += ["", "Ablation: the default path with one technique turned off (episode = 3 steps).", "",
                  "| turned off | stage 1 s | stage 2 s | stage 3 s | episode s | slower by |",
                  "|---|---|---|---|---|---|",
                  "| (nothing: default) | " + " | ".join(f"{s['step_s']:.2f}" for s in r["paths"]["default"]["steps"])
                  + f" | {base:.2f} | |"]
        for label, d in r["ablations"].items():
            total = sum(s["step_s"] for s in d["steps"])
            lines.append(f"| {label} | " + " | ".join(f"{s['step_s']:.2f}" for s in d["steps"])
                         + f" | {total:.2f} | {total / base:.2f}x |")
    if r.get("provenance"):  # results before provenance was recorded have none
        lines[2:2] = [provenance_line(r["provenance"]), ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
