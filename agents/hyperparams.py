"""Agent hyper-parameters: the rl-zoo style YAML files and ``--hp name:value`` overrides.

``configs/agents/<algo>.yaml`` holds one entry per env id plus a ``default`` entry;
precedence: ``default`` < the env id's entry < command-line overrides.
"""

from __future__ import annotations

import importlib
from typing import Any

import yaml

from agents.registry import ALGOS
from gan_nas_env.config import CONFIG_DIR, ConfigError, parse_scalar

AGENT_CONFIG_DIR = CONFIG_DIR / "agents"
CLASS_PARAMS = ("replay_buffer_class",)  # hyper-parameters that name a class (dotted path)


def load_hyperparams(name: str, env_id: str = "GANCellSearch-v0") -> dict[str, Any]:
    """Hyper-parameters of ``name`` for ``env_id`` from ``configs/agents/<name>.yaml``.

    Every algorithm in :data:`~agents.registry.ALGOS` has its file; a missing one is a
    broken install or checkout (a :class:`ConfigError`), never a silent fall-back to
    SB3's defaults.
    """
    ALGOS.get(name.lower())  # unknown name: the registry's error, listing the algorithms
    path = AGENT_CONFIG_DIR / f"{name.lower()}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"hyper-parameter file {str(path)!r} for algorithm {name.lower()!r} is missing; "
            f"every algorithm in ALGOS needs configs/agents/{name.lower()}.yaml (with a "
            "'default' entry). Restore it from the checkout, or reinstall the package "
            "(pip install . ships configs/ as gan_nas_env/configs)."
        )
    table = yaml.safe_load(path.read_text()) or {}
    params = dict(table.get("default", {}))
    params.update(table.get(env_id, {}))
    return params


def parse_hyperparams(items: list[str]) -> dict[str, Any]:
    """``["learning_rate:1e-3", "batch_size:32"]`` -> dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        if ":" not in item:
            raise ConfigError(f"hyper-parameter {item!r} must look like name:value")
        key, raw = item.split(":", 1)
        out[key.strip()] = parse_scalar(raw)
    return out


def resolve_class(value: Any, key: str = "class") -> Any:
    """``"agents.replay.WithoutReplacementReplayBuffer"`` -> that class (classes pass through)."""
    if not isinstance(value, str):
        return value
    module, _, attr = value.rpartition(".")
    if not module:
        raise ConfigError(f"{key} {value!r} must be a dotted name, e.g. "
                          "agents.replay.WithoutReplacementReplayBuffer")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"unknown {key} {value!r}: {exc}") from None
    if not isinstance(obj, type):
        raise ConfigError(f"{key} {value!r} is not a class")
    return obj
