"""Score a trained generator: IS, FID, KID and precision/recall from a checkpoint.

:func:`evaluate_checkpoint` rebuilds the EMA generator of a ``best.pt`` or
``checkpoint.pt`` (:func:`load_generator`), draws ``num_samples`` images on
fixed latent codes (their own seed, distinct from the codes of the periodic
evaluations during training) and scores them against the training images
named by the config stored in the file, with the domain classifier or
Inception features. It writes ``evaluation.json`` and ``evaluation.md``: into a run folder
of kind ``evaluate`` (``out``; :mod:`gan_nas_env.run_folder`), or next to the checkpoint,
in its retraining run folder (under that folder's lock). Neither is overwritten without
``overwrite``; ``evaluation.json`` carries the evaluation's provenance (kind, id, command,
seed, version, git SHA, machine).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from gan_nas_env.config import Config, ConfigError, load_config
from gan_nas_env.errors import MissingFileError
from gan_nas_env.run_folder import flat_keys, prepare_addition, prepare_run
from gan_nas_env.training.retrain import (
    MODEL_SIZE_KEYS,
    CheckpointError,
    load_generator,
    read_checkpoint,
    score_generator,
)

__all__ = ["EVALUATE_SALT", "FIXED_BY_CHECKPOINT", "check_checkpoint_settings", "evaluate_checkpoint",
           "load_generator"]

EVALUATE_SALT = 11
"""Salt of the latent-code seed (``seed * 7919 + salt``) used by :func:`evaluate_checkpoint`."""

FIXED_BY_CHECKPOINT = ("data.name", "data.image_size", *MODEL_SIZE_KEYS.values())
"""Settings an evaluation takes from the checkpoint and may not change: the sizes its model
was built with (its tensors) and the data it learnt (images of another size or set give
plausible-looking, meaningless numbers)."""


def check_checkpoint_settings(ckpt: dict[str, Any], cfg: Config, path: Path) -> None:
    """Raise :class:`CheckpointError` naming every setting of ``cfg`` the checkpoint was not trained with.

    The trained values are the checkpoint's recorded model sizes (what its tensors were built
    with) and, for the data, its stored config; each mismatch is named with both values. A
    file whose stored config disagrees with its own model sizes is refused as damaged.
    """
    stored = flat_keys(ckpt["config"])
    trained = {key: stored[key] for key in FIXED_BY_CHECKPOINT if key in stored}
    sizes = ckpt.get("model") or {}
    trained.update({key: sizes[size] for size, key in MODEL_SIZE_KEYS.items() if size in sizes})
    torn = [f"{key}={stored[key]!r} in its stored config, {value!r} in its model sizes"
            for key, value in trained.items() if stored.get(key, value) != value]
    if torn:
        raise CheckpointError(f"{path} contradicts itself: " + "; ".join(torn) + "; the file is "
                              "damaged or was not written by gan-nas retrain")
    now = flat_keys(cfg.to_dict())
    wrong = [f"{key}={now.get(key)!r}, but it was trained with {key}={value!r}"
             for key, value in trained.items() if now.get(key) != value]
    if wrong:
        raise CheckpointError(
            f"cannot evaluate {path} with these settings: " + "; ".join(wrong) + " (a generator is "
            "scored on the data and at the sizes it was trained with; change metrics.*, the seed "
            "or the device instead)"
        )


def evaluate_checkpoint(
    path: str | Path,
    cfg_overrides: dict[str, Any] | list[str] | None = None,
    num_samples: int | None = None,
    features: str | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """IS, FID, KID and precision/recall of the generator stored in ``path``.

    :param path: a ``best.pt`` or ``checkpoint.pt`` written by :func:`~gan_nas_env.training.retrain.retrain`.
    :param cfg_overrides: changes to the stored config (``["metrics.real_samples=10000"]``,
        ``{"device": "cpu"}``).
    :param num_samples: generated images (default: the config's ``retrain.eval_samples``).
    :param features: ``domain`` or ``inception`` (default: the config's ``metrics.features``).
    :param out: run folder of the evaluation (``config.yaml``, ``meta.json``,
        ``evaluation.json`` / ``evaluation.md``); default: the two files next to ``path``.
    :param overwrite: replace an earlier evaluation (the files next to ``path``, or the
        ``out`` run folder).
    :return: the JSON record (checkpoint, architecture, iteration, settings, ``metrics``,
        ``provenance``).
    :raises RunFolderError: an earlier evaluation there (without ``overwrite``), a folder of
        another kind, or one another process writes.
    :raises CheckpointError: ``cfg_overrides`` change a setting the checkpoint fixes
        (:data:`FIXED_BY_CHECKPOINT`), or the file is not a retraining checkpoint; raised
        before anything is written.
    """
    from gan_nas_env.data.images import dataset_key, load_images
    from gan_nas_env.devices import resolve_device
    from gan_nas_env.metrics.scorer import FeatureScorer

    t0 = time.perf_counter()
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"checkpoint {path} does not exist")
    ckpt = read_checkpoint(path)
    if "config" not in ckpt:
        raise CheckpointError(f"{path} is not a gan-nas retraining checkpoint (no stored config)")
    cfg = load_config(load_config(None, ckpt["config"]), cfg_overrides)
    if features is not None:
        cfg = load_config(cfg, {"metrics.features": features})
    n = num_samples if num_samples is not None else cfg.retrain.eval_samples
    if n <= 0:
        raise ConfigError(f"num_samples must be > 0, got {n}")
    check_checkpoint_settings(ckpt, cfg, path)
    dev = resolve_device(cfg.device)
    G, arch = load_generator(path, dev)  # weights that do not fit: said before anything is written
    files = ("evaluation.json", "evaluation.md")
    plan = prepare_run(out, "evaluate", cfg, overwrite=overwrite) if out is not None else None
    beside = None if plan else prepare_addition(path.parent, "evaluate", files, ("retrain",), overwrite)
    images = load_images(cfg.data, "train", device=dev, seed=cfg.seed)
    real = images if cfg.metrics.real_samples is None else images[: cfg.metrics.real_samples]
    scorer = FeatureScorer(cfg.metrics, real, dataset_key(cfg.data, "train"), device=dev)
    if plan is not None:
        with plan.open({"checkpoint": str(path.resolve())}) as run:
            prov = {k: run.meta[k] for k in ("kind", "id", "command", "seed", "version", "git_sha",
                                             "machine", "started")}
            return _evaluate(G, arch, scorer, real, n, cfg, dev, path, ckpt, run.path, prov, t0)
    assert beside is not None
    with beside.open():
        return _evaluate(G, arch, scorer, real, n, cfg, dev, path, ckpt, beside.folder,
                         beside.provenance(cfg.seed), t0)


def _evaluate(
    G: Any, arch: Any, scorer: Any, real: torch.Tensor, n: int, cfg: Config, dev: torch.device,
    path: Path, ckpt: dict[str, Any], folder: Path, prov: dict[str, Any], t0: float,
) -> dict[str, Any]:
    """Score ``G``; write ``evaluation.json`` and ``evaluation.md`` into ``folder``; the record."""
    metrics = score_generator(
        G, scorer, n, cfg.model.latent_dim, cfg.seed, dev, prc=True, salt=EVALUATE_SALT
    )
    record = {
        "checkpoint": str(path), "architecture": str(arch), "iteration": int(ckpt.get("step", -1)),
        "dataset": cfg.data.name, "features": cfg.metrics.features, "num_samples": n,
        "real_samples": len(real), "device": str(dev), "wall_s": time.perf_counter() - t0,
        "metrics": metrics, "provenance": prov,
    }
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
