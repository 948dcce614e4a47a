"""Typed, frozen configuration loaded from YAML presets plus overrides.

Precedence: dataclass defaults < YAML file < ``overrides`` (``--set key=value``
on the command line, keyword arguments of ``gym.make``). Unknown keys and wrong
types raise :class:`ConfigError` naming the key and the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gan_nas_env.errors import UserError
from gan_nas_env.resources import CONFIG_DIR  # re-exported: agents read configs/agents here
from gan_nas_env.space import NUM_CELLS


class ConfigError(UserError, ValueError):
    """A bad configuration value or key."""


class _Loader(yaml.SafeLoader):
    """YAML as a config means it.

    ``1e-4`` is a float (YAML 1.2; PyYAML's 1.1 reads a string) and a key given twice in
    one mapping is an error (PyYAML keeps the last one silently).
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def yaml_load(text: str) -> Any:
    """``text`` parsed as a config's YAML (:class:`_Loader`: 1.2 floats, no repeated keys)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


SEED_MAX = 2**32 - 1
"""Largest seed every library underneath takes (``numpy.random.seed``, which SB3 calls)."""


@dataclass(frozen=True)
class DataConfig:
    """Which images to train on."""

    name: str = "fashion-mnist"  # fashion-mnist | mnist | cifar10 | stl10 | synthetic
    root: str | None = None  # folder holding (or receiving) torchvision data sets
    download: bool = True  # allow torchvision downloads when the files are missing
    image_size: int = 32  # final resolution (last stage)
    channels: int = 1  # image channels the GAN works in (1 or 3)
    max_images: int | None = None  # use only the first N training images
    synthetic_images: int = 2048  # size of the procedurally generated set


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the generator and discriminator."""

    latent_dim: int = 128
    gf: int = 128  # generator channels
    df: int = 64  # discriminator channels
    bottom_width: int = 4  # 4 for 32 px, 6 for 48 px
    num_generators: int = 1  # Stackelberg GAN: K generators vs one discriminator


# Version of the code that builds, trains and scores the proxy's models. It is part of the
# proxy hash, so results stores and tables made by other model code are never mixed with
# this one's. 1: the project's first models; 2: the released E2GAN models, baseline, state,
# optimiser lifetime and FID reference (docs/fidelity.md).
MODEL_CODE_VERSION = 2
FID_REFERENCES = ("final", "stage")
# The names a config may use for train.loss and data.name. Config sits below the layers that
# implement them, so it keeps the names and the registries (gan_nas_env.training.losses.LOSSES,
# gan_nas_env.data.images.DATASETS) hold the implementations; tests/test_layers.py checks that
# both list the same names. A new loss or data set is added to its registry and here.
LOSS_NAMES = ("hinge", "ns", "rpgan", "wgan-gp")
DATASET_NAMES = ("cifar10", "fashion-mnist", "mnist", "stl10", "synthetic")

SPEED_ONLY_TRAIN_KEYS = frozenset({"cuda_graphs", "channels_last", "fused_adam", "cudnn_benchmark", "threads"})
PROXY_SECTIONS = ("data", "model", "train", "metrics")
"""The config sections of a proxy evaluation (:meth:`Config.proxy_hash`)."""

SAME_RESULT_KEYS: tuple[str, ...] = (
    "name", "device", "data.root", "data.download", "metrics.cache_dir", "metrics.batch_size",
    *(f"train.{k}" for k in sorted(SPEED_ONLY_TRAIN_KEYS)),
    "retrain.checkpoint_every", "retrain.log_every",
)
"""The one list of settings that do not change results: the run's name, where the data and
caches are, the device, the scoring batch size, the proxy's speed-only switches and how often
full training logs and checkpoints. :meth:`Config.proxy_hash` and :meth:`Config.final_hash`
leave them out, and ``--resume`` of a search or a retraining accepts changes to them
(``gan_nas_env.run_folder.MAY_DIFFER_ON_RESUME``). ``retrain.channels_last`` and
``retrain.amp`` are not here: other kernels round differently, so they are part of the final
hash. (The device is here because a result's identity does not name the hardware; a
retraining resumes only on the same kind of device, for its RNG state.)"""


@dataclass(frozen=True)
class TrainConfig:
    """GAN training hyper-parameters shared by the proxy trainer and retraining."""

    loss: str = "hinge"  # hinge | ns | wgan-gp | rpgan
    gp_weight: float = 10.0  # wgan-gp gradient penalty weight
    n_critic: int = 5
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.9
    g_batch_size: int = 128
    d_batch_size: int = 64
    epochs_per_cell: float = 1.0  # proxy budget: epochs of the data set per cell
    d_iters_per_cell: int | None = None  # if set, overrides epochs_per_cell
    amp: bool = False  # bf16 autocast of the GAN's forward passes (any device; pays on CUDA)
    # Speed-only settings: they do not change what is computed beyond float rounding, so
    # they are left out of the proxy hash (SPEED_ONLY_TRAIN_KEYS).
    cuda_graphs: bool = True  # capture the proxy's D and G steps as CUDA graphs (CUDA only)
    channels_last: bool = True  # NHWC convolutions (1.4x faster at stage 3 on CPU too)
    fused_adam: bool | None = None  # fused Adam; None = on CUDA only
    cudnn_benchmark: bool = True  # cuDNN autotuning (CUDA; shapes are fixed within a stage)
    # torch intra-op threads of the proxy's training and scoring (0: torch's default, one per
    # core). One thread keeps a search at its fair share beside other CPU-bound processes
    # (docs/perf/contention_cpu.md).
    threads: int = 0
    grad_clip: float | None = None


@dataclass(frozen=True)
class MetricsConfig:
    """How IS / FID / KID are computed."""

    features: str = "domain"  # domain (project's classifier) | inception
    num_samples: int = 5000  # generated images scored per evaluation
    real_samples: int | None = None  # real images for statistics (None: all available)
    batch_size: int = 250
    kid: bool = True
    kid_subset_size: int = 1000
    cache_dir: str = "~/.cache/gan_nas_env"
    # FID/IS reference: "final" (released E2GAN) scores every stage against the real data at
    # data.image_size (the feature extractor resizes the generated images); "stage" scores it
    # against the real images resized down to the stage's resolution.
    reference: str = "final"


@dataclass(frozen=True)
class EnvConfig:
    """Reward and observation settings of GANCellSearch."""

    alpha: float = 0.01  # weight of FID in the reward (0 = IS-only variant)
    diverged_penalty: float = -1.0  # reward when a proxy step diverges
    collapse_std: float = 1e-3  # generated-image std below this counts as collapse
    fixed_gan_seed: int | None = None  # same GAN seed every episode (makes evaluations cacheable)


@dataclass(frozen=True)
class SearchConfig:
    """The RL search schedule."""

    algo: str = "sac"
    episodes: int = 100
    explore_fraction: float = 0.7  # first 70% stochastic, rest deterministic
    exploit_gradient_steps: int = 10
    full_buffer_update: bool = True  # E2GAN: one whole-replay-buffer update per episode
    learning_starts: int | None = None  # overrides the agent YAML (short searches)
    random_warmup: bool = False  # off-policy: SB3's uniform random actions before learning_starts
    top_k: int = 5
    grid_samples: int = 64


@dataclass(frozen=True)
class RetrainConfig:
    """Full training of a found architecture."""

    gf: int = 256
    df: int = 128
    g_iters: int = 150_000
    eval_every: int = 5000
    eval_samples: int = 50_000
    ema_decay: float = 0.999
    checkpoint_every: int = 1000
    log_every: int = 100
    amp: bool = False  # bf16 autocast in full training, CPU or CUDA (train.amp is the proxy's)
    # NHWC models and batches in full training: 1.3x faster on CPU (docs/perf/final_row_speed_cpu.md);
    # part of the final hash, since other convolution kernels round differently
    channels_last: bool = False
    # EMA decay warm-up min(ema_decay, (1 + t) / (10 + t)) (tf.train.ExponentialMovingAverage's
    # num_updates): the average never holds the initial weights for long, so early
    # checkpoints of a learning curve score a trained generator
    ema_warmup: bool = False
    # Full training's own batch sizes and learning rate (None: those of ``train``); the released
    # STL-10 retraining (eval/exps/derive_stl.sh) uses G/D batch 32/16 and lr 5e-5.
    g_batch_size: int | None = None
    d_batch_size: int | None = None
    lr: float | None = None

    def train_config(self, train: TrainConfig) -> TrainConfig:
        """``train`` with this retraining's batch sizes and learning rate applied."""
        return dataclasses.replace(
            train,
            g_batch_size=self.g_batch_size or train.g_batch_size,
            d_batch_size=self.d_batch_size or train.d_batch_size,
            g_lr=train.g_lr if self.lr is None else self.lr,
            d_lr=train.d_lr if self.lr is None else self.lr,
        )


# retrain keys added after the v1 final rows were built: left out of the final hash at
# these defaults, so that the v1 protocol's hash (and its committed rows) stays valid
RETRAIN_KEYS_SINCE_V1 = {"channels_last": False, "ema_warmup": False}


@dataclass(frozen=True)
class Config:
    """Everything a run needs; build with :func:`load_config`."""

    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    retrain: RetrainConfig = field(default_factory=RetrainConfig)
    name: str = "custom"  # preset name, for logs

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (YAML/JSON friendly)."""
        return dataclasses.asdict(self)

    def proxy_hash(self) -> str:
        """Short hash of everything that changes a proxy evaluation's result.

        Used as the cache key of the results store: evaluations under different
        data, model, training or metric settings are never mixed.
        """
        keep: dict[str, Any] = {
            section: {k: v for k, v in values.items() if f"{section}.{k}" not in SAME_RESULT_KEYS}
            for section, values in self.to_dict().items() if section in PROXY_SECTIONS
        }
        keep["model_code"] = MODEL_CODE_VERSION
        blob = json.dumps(keep, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def final_hash(self) -> str:
        """Short hash of everything that changes a full (final-fidelity) training's result.

        The proxy hash plus the retraining section, less its :data:`SAME_RESULT_KEYS` (the
        logging and checkpoint intervals); prefixed ``final-`` so final rows never mix with proxy rows in a store.
        The training seed is not part of it: stores key rows by seed.
        """
        return "final-" + self._retrain_digest(drop=())

    def curve_hash(self) -> str:
        """Short hash of a final training's learning curve: :meth:`final_hash` without the budget.

        A run's checkpoints do not depend on how long it goes on or how often it is scored
        (scoring reads the EMA copy and its own RNG), so runs of one training protocol
        with budgets of 3,000 and 10,000 iterations share their first 3,000 iterations:
        learning-curve rows (final protocol v2) are keyed by this hash, prefixed ``curve-``,
        and a budget is a checkpoint of the curve.
        """
        return "curve-" + self._retrain_digest(drop=("g_iters", "eval_every"))

    def final_rows_key(self) -> str:
        """The key of this final protocol's rows in a store, an export and a table.

        A protocol scored more than once per run (``retrain.eval_every < retrain.g_iters``)
        records a learning curve: its rows are keyed by :meth:`curve_hash`, which leaves
        the budget out, so that a row trained to 3,000 iterations can be extended to 10,000
        and each budget is a checkpoint of the same curve. A protocol scored only at its end
        (v1) is keyed by :meth:`final_hash`.
        """
        r = self.retrain
        return self.curve_hash() if r.eval_every < r.g_iters else self.final_hash()

    def _retrain_digest(self, drop: tuple[str, ...]) -> str:
        retrain = {k: v for k, v in dataclasses.asdict(self.retrain).items()
                   if k not in drop and f"retrain.{k}" not in SAME_RESULT_KEYS}
        for key, default in RETRAIN_KEYS_SINCE_V1.items():
            if retrain.get(key) == default:  # v1 rows keep their hash
                del retrain[key]
        blob = json.dumps({"proxy": self.proxy_hash(), "retrain": retrain}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def preset_names() -> list[str]:
    """Names of the YAML presets in ``configs/``."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config_path(config: str | Path) -> Path:
    """A preset name (``quickstart``) or a path to a YAML file."""
    path = Path(config).expanduser()
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.exists():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        return path
    candidate = CONFIG_DIR / f"{config}.yaml"
    if not candidate.exists():
        raise ConfigError(
            f"unknown config preset {str(config)!r}; presets: {', '.join(preset_names())} "
            "(or give a path to a YAML file)"
        )
    return candidate


def _type_ok(value: Any, hint: Any) -> tuple[bool, Any]:
    """Check ``value`` against a simple type hint; ints are accepted for floats."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            ok, v = _type_ok(value, arg)
            if ok:
                return True, v
        return False, value
    if hint is type(None):
        return value is None, value
    if hint is bool:
        return isinstance(value, bool), value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return True, float(value)
        return False, value
    if hint is str:
        return isinstance(value, str), value
    return True, value


def _build(cls: type, values: dict[str, Any], source: str, prefix: str = "") -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: section {prefix.rstrip('.') or '<top>'} must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(
                f"{source}: unknown config key {prefix + str(key)!r}; "
                f"known keys here: {', '.join(fields)}"
            )
        hint = hints[key]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, source, prefix + key + ".")
            continue
        ok, coerced = _type_ok(value, hint)
        if not ok:
            tname = getattr(hint, "__name__", str(hint))
            raise ConfigError(
                f"{source}: config key {prefix + key!r} must be {tname}, got {value!r}"
            )
        if isinstance(coerced, float) and not math.isfinite(coerced):
            raise ConfigError(f"{source}: config key {prefix + key!r} must be a finite number, got {value!r}")
        kwargs[key] = coerced
    return cls(**kwargs)


def _deep_update(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in updates.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_update(out[k], v)
        else:
            out[k] = v
    return out


def parse_scalar(raw: str) -> Any:
    """Parse a command-line value as YAML, also reading ``1e-3`` as a float."""
    try:
        value = yaml_load(raw) if raw.strip() != "" else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_override(item: str) -> dict[str, Any]:
    """Turn ``"train.g_lr=1e-4"`` into ``{"train": {"g_lr": 1e-4}}`` (value parsed as YAML)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key=value, e.g. train.n_critic=5")
    key, raw = item.split("=", 1)
    value = parse_scalar(raw)
    out: dict[str, Any] = {}
    cur = out
    parts = key.strip().split(".")
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value
    return out


def flatten_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """Expand dotted keys (``{"train.loss": "ns"}``) into nested dicts."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        nested: dict[str, Any] = {}
        cur = nested
        parts = key.split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = value
        out = _deep_update(out, nested)
    return out


def load_config(
    config: str | Path | Config | None = "quickstart",
    overrides: dict[str, Any] | list[str] | None = None,
) -> Config:
    """Load a preset name or YAML path, apply overrides, validate, return a frozen Config.

    :param config: preset name, YAML path, an existing Config, or None for defaults.
    :param overrides: nested or dotted dict, or a list of ``key=value`` strings.
    """
    if isinstance(config, Config):
        base: dict[str, Any] = config.to_dict()
        source = f"config {config.name!r}"
    elif config is None:
        base, source = {}, "defaults"
    else:
        path = resolve_config_path(config)
        source = str(path)
        if path.is_dir():
            raise ConfigError(f"config {source!r} is a folder, not a YAML file")
        try:
            base = yaml_load(path.read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                              "save it as UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"{source}: cannot be read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None
        if not isinstance(base, dict):
            raise ConfigError(f"{source}: top level must be a mapping of sections")
        base.setdefault("name", path.stem)
    upd: dict[str, Any] = {}
    if isinstance(overrides, list):
        for item in overrides:
            upd = _deep_update(upd, parse_override(item))
    elif overrides:
        upd = flatten_overrides(overrides)
    if upd:
        source += " (with overrides)"
    cfg = _build(Config, _deep_update(base, upd), source)
    validate(cfg, source)
    return cfg


def validate(cfg: Config, source: str = "config") -> None:
    """Range checks that types alone cannot express."""
    positive = {
        "model.latent_dim": cfg.model.latent_dim,
        "model.gf": cfg.model.gf,
        "model.df": cfg.model.df,
        "model.bottom_width": cfg.model.bottom_width,
        "model.num_generators": cfg.model.num_generators,
        "train.n_critic": cfg.train.n_critic,
        "train.g_batch_size": cfg.train.g_batch_size,
        "train.d_batch_size": cfg.train.d_batch_size,
        "train.g_lr": cfg.train.g_lr,
        "train.d_lr": cfg.train.d_lr,
        "train.epochs_per_cell": cfg.train.epochs_per_cell,
        "metrics.num_samples": cfg.metrics.num_samples,
        "metrics.batch_size": cfg.metrics.batch_size,
        "search.episodes": cfg.search.episodes,
        "retrain.g_iters": cfg.retrain.g_iters,
        "retrain.eval_samples": cfg.retrain.eval_samples,
        "retrain.eval_every": cfg.retrain.eval_every,
        "retrain.checkpoint_every": cfg.retrain.checkpoint_every,
        "retrain.log_every": cfg.retrain.log_every,
        "metrics.kid_subset_size": cfg.metrics.kid_subset_size,
        "data.synthetic_images": cfg.data.synthetic_images,
    }
    if cfg.metrics.real_samples is not None:
        positive["metrics.real_samples"] = cfg.metrics.real_samples
    if cfg.train.d_iters_per_cell is not None:
        positive["train.d_iters_per_cell"] = cfg.train.d_iters_per_cell
    if cfg.data.max_images is not None:
        positive["data.max_images"] = cfg.data.max_images
    for key in ("g_batch_size", "d_batch_size", "lr"):
        if getattr(cfg.retrain, key) is not None:
            positive[f"retrain.{key}"] = getattr(cfg.retrain, key)
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{source}: {key} must be > 0, got {value}")
    _validate_samples_and_seeds(cfg, source)
    if cfg.data.channels not in (1, 3):
        raise ConfigError(f"{source}: data.channels must be 1 or 3, got {cfg.data.channels}")
    if cfg.data.image_size != cfg.model.bottom_width * 2**NUM_CELLS:
        raise ConfigError(
            f"{source}: data.image_size ({cfg.data.image_size}) must be {2**NUM_CELLS} x "
            f"model.bottom_width ({cfg.model.bottom_width}) because each of the {NUM_CELLS} cells "
            "upsamples x2"
        )
    _validate_optimisation(cfg, source)
    if not 0.0 <= cfg.search.explore_fraction <= 1.0:
        raise ConfigError(f"{source}: search.explore_fraction must be in [0, 1]")
    if not 0.0 < cfg.retrain.ema_decay < 1.0:
        raise ConfigError(f"{source}: retrain.ema_decay must be in (0, 1)")
    if cfg.env.alpha < 0:
        raise ConfigError(f"{source}: env.alpha must be >= 0, got {cfg.env.alpha}")
    if cfg.train.threads < 0:
        raise ConfigError(f"{source}: train.threads must be >= 0 (0: one per core), got {cfg.train.threads}")
    _validate_choices(cfg, source)


def _validate_samples_and_seeds(cfg: Config, source: str) -> None:
    """Sample counts the metrics can use; seeds every library underneath takes."""
    for key, value in (("metrics.num_samples", cfg.metrics.num_samples),
                       ("retrain.eval_samples", cfg.retrain.eval_samples)):
        if value < 2:
            raise ConfigError(f"{source}: {key} must be >= 2 (FID needs a covariance), got {value}")
    for key, seed in (("seed", cfg.seed), ("env.fixed_gan_seed", cfg.env.fixed_gan_seed)):
        if seed is not None and not 0 <= seed <= SEED_MAX:
            raise ConfigError(f"{source}: {key} must be in [0, 2**32 - 1], got {seed}")


def _validate_optimisation(cfg: Config, source: str) -> None:
    """Ranges of the optimiser, penalty, collapse and search-schedule settings."""
    non_negative = {"train.gp_weight": cfg.train.gp_weight, "env.collapse_std": cfg.env.collapse_std,
                    "search.exploit_gradient_steps": cfg.search.exploit_gradient_steps}
    if cfg.search.learning_starts is not None:
        non_negative["search.learning_starts"] = cfg.search.learning_starts
    for key, value in non_negative.items():
        if value < 0:
            raise ConfigError(f"{source}: {key} must be >= 0, got {value}")
    for key, value in (("search.top_k", cfg.search.top_k), ("search.grid_samples", cfg.search.grid_samples)):
        if value <= 0:
            raise ConfigError(f"{source}: {key} must be > 0, got {value}")
    for key, value in (("train.beta1", cfg.train.beta1), ("train.beta2", cfg.train.beta2)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{source}: {key} must be in [0, 1), got {value}")
    if cfg.train.grad_clip is not None and cfg.train.grad_clip <= 0:
        raise ConfigError(f"{source}: train.grad_clip must be > 0 (or null for none), got {cfg.train.grad_clip}")


def _validate_choices(cfg: Config, source: str) -> None:
    """Names a config picks from a fixed set: feature extractor, FID reference, loss, data set."""
    if cfg.metrics.features not in ("domain", "inception"):
        raise ConfigError(
            f"{source}: metrics.features must be 'domain' or 'inception', got {cfg.metrics.features!r}"
        )
    if cfg.metrics.reference not in FID_REFERENCES:
        raise ConfigError(
            f"{source}: metrics.reference must be one of {', '.join(FID_REFERENCES)}, "
            f"got {cfg.metrics.reference!r}"
        )
    for key, name, kind, known in (("train.loss", cfg.train.loss, "loss", LOSS_NAMES),
                                   ("data.name", cfg.data.name, "dataset", DATASET_NAMES)):
        if name not in known:
            raise ConfigError(f"{source}: {key}: unknown {kind} {name!r}; known: {', '.join(sorted(known))}")


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
