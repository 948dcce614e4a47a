"""Score a trained generator: IS, FID, KID and precision/recall from a checkpoint.

:func:`evaluate_checkpoint` rebuilds the EMA generator of a ``best.pt`` or
``checkpoint.pt`` (:func:`load_generator`), draws ``num_samples`` images on
fixed latent codes (their own seed, distinct from the codes of the periodic
evaluations during training) and scores them against the training images
named by the config stored in the file, with the domain classifier or
Inception features. It writes ``evaluation.json`` and ``evaluation.md``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from gan_nas_env.config import ConfigError, load_config
from gan_nas_env.errors import MissingFileError
from gan_nas_env.training.retrain import CheckpointError, load_generator, score_generator

__all__ = ["EVALUATE_SALT", "evaluate_checkpoint", "load_generator"]

EVALUATE_SALT = 11
"""Salt of the latent-code seed (``seed * 7919 + salt``) used by :func:`evaluate_checkpoint`."""


def evaluate_checkpoint(
    path: str | Path,
    cfg_overrides: dict[str, Any] | list[str] | None = None,
    num_samples: int | None = None,
    features: str | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """IS, FID, KID and precision/recall of the generator stored in ``path``.

    :param path: a ``best.pt`` or ``checkpoint.pt`` written by :func:`~gan_nas_env.training.retrain.retrain`.
    :param cfg_overrides: changes to the stored config (``["metrics.real_samples=10000"]``,
        ``{"device": "cpu"}``).
    :param num_samples: generated images (default: the config's ``retrain.eval_samples``).
    :param features: ``domain`` or ``inception`` (default: the config's ``metrics.features``).
    :param out: folder for ``evaluation.json`` / ``evaluation.md`` (default: next to ``path``).
    :return: the JSON record (checkpoint, architecture, iteration, settings, ``metrics``).
    """
    from gan_nas_env.data.images import dataset_key, load_images
    from gan_nas_env.devices import resolve_device
    from gan_nas_env.metrics.scorer import FeatureScorer

    t0 = time.perf_counter()
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"checkpoint {path} does not exist")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "config" not in ckpt:
        raise CheckpointError(f"{path} is not a gan-nas retraining checkpoint (no stored config)")
    cfg = load_config(load_config(None, ckpt["config"]), cfg_overrides)
    if features is not None:
        cfg = load_config(cfg, {"metrics.features": features})
    n = num_samples if num_samples is not None else cfg.retrain.eval_samples
    if n <= 0:
        raise ConfigError(f"num_samples must be > 0, got {n}")
    dev = resolve_device(cfg.device)
    G, arch = load_generator(path, dev)
    images = load_images(cfg.data, "train", device=dev, seed=cfg.seed)
    real = images if cfg.metrics.real_samples is None else images[: cfg.metrics.real_samples]
    scorer = FeatureScorer(cfg.metrics, real, dataset_key(cfg.data, "train"), device=dev)
    metrics = score_generator(
        G, scorer, n, cfg.model.latent_dim, cfg.seed, dev, prc=True, salt=EVALUATE_SALT
    )
    record = {
        "checkpoint": str(path), "architecture": str(arch), "iteration": int(ckpt.get("step", -1)),
        "dataset": cfg.data.name, "features": cfg.metrics.features, "num_samples": n,
        "real_samples": len(real), "device": str(dev), "wall_s": time.perf_counter() - t0,
        "metrics": metrics,
    }
    folder = Path(out) if out is not None else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evaluation.json").write_text(json.dumps(record, indent=2))
    rows = "\n".join(f"| {k} | {v:.4g} |" for k, v in metrics.items())
    (folder / "evaluation.md").write_text(
        f"# Evaluation of `{path.name}`\n\n"
        f"- architecture: `{arch}` (generator iteration {record['iteration']}, EMA weights)\n"
        f"- data: {cfg.data.name} ({len(real)} real images), features: {cfg.metrics.features}\n"
        f"- generated samples: {n}; wall time {record['wall_s']:.1f} s on {dev}\n\n"
        f"| metric | value |\n|---|---|\n{rows}\n"
    )
    return record
