r"""Agent hyper-parameters: the rl-zoo style YAML files and ``--hp name:value`` overrides.

``configs/agents/<algo>.yaml`` holds one entry per env id plus a ``default`` entry;
precedence: ``default`` < the env id's entry < command-line overrides.

The same files drive rl-baselines3-zoo (``pip install .[zoo]``)::

    python -m rl_zoo3.train --algo sac --env GANCellSearchBench-v0 \
        --gym-packages gan_nas_env -conf configs/agents/sac.yaml

so they hold, besides SB3's constructor arguments, the keys rl-zoo reads itself
(:data:`ZOO_ONLY_KEYS`), which this loader checks and drops. rl-zoo runs ``eval`` on a
class-valued hyper-parameter (:data:`CLASS_PARAMS`) given as a string, so the files write
it as ``importlib.import_module('agents.replay').WithoutReplacementReplayBuffer``; this
loader reads that form, without ``eval``, as the dotted name
``agents.replay.WithoutReplacementReplayBuffer`` (which it takes too, e.g. in an override).
"""

from __future__ import annotations

import importlib
import math
import re
from typing import Any

import yaml

from agents.registry import ALGOS
from gan_nas_env.config import CONFIG_DIR, ConfigError, parse_scalar

AGENT_CONFIG_DIR = CONFIG_DIR / "agents"
CLASS_PARAMS = ("replay_buffer_class",)  # hyper-parameters that name a class (dotted path)

#: Keys of the agent YAMLs that rl-zoo's ExperimentManager consumes itself (it never passes
#: them to the SB3 class) and this loader drops: ``n_timesteps``, the run length of
#: ``rl_zoo3.train`` (the project's own commands count episodes: ``--episodes``,
#: ``search.episodes``); ``env_wrapper``, the action wrapper rl-zoo puts around the env,
#: which must name the one :func:`agents.algorithms.wrap_for_algo` applies (else a
#: :class:`ConfigError`). rl-zoo's other own keys (``normalize``, ``n_envs``,
#: ``frame_stack``, ``callback``, ...) are not reproduced here; a file that sets one fails
#: in :func:`agents.algorithms.make_agent` as an unknown hyper-parameter.
ZOO_ONLY_KEYS = frozenset({"n_timesteps", "env_wrapper"})

# rl-zoo's spelling of a class: an expression its ExperimentManager can eval (importlib is
# imported there); read here by this pattern, never eval'd.
_ZOO_CLASS = re.compile(r"""importlib\.import_module\(\s*(['"])([\w.]+)\1\s*\)\.(\w+)""")


def load_hyperparams(name: str, env_id: str = "GANCellSearch-v0") -> dict[str, Any]:
    """Hyper-parameters of ``name`` for ``env_id`` from ``configs/agents/<name>.yaml``.

    Every algorithm in :data:`~agents.registry.ALGOS` has its file; a missing one is a
    broken install or checkout (a :class:`ConfigError`), never a silent fall-back to
    SB3's defaults. rl-zoo's own keys are checked and dropped (:func:`drop_zoo_keys`) and
    class names come back dotted (:func:`class_name`).
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
    for key in CLASS_PARAMS:
        if isinstance(params.get(key), str):
            params[key] = class_name(params[key])
    return drop_zoo_keys(name, params, f"{path.name} [{env_id}]")


def drop_zoo_keys(name: str, params: dict[str, Any], where: str = "hyper-parameters") -> dict[str, Any]:
    """``params`` without :data:`ZOO_ONLY_KEYS`, once ``env_wrapper`` is checked.

    ``env_wrapper`` (a dotted class name, or a list of one, as rl-zoo takes it) must be
    the wrapper :func:`agents.algorithms.wrap_for_algo` applies for ``name``; an
    algorithm on the native MultiDiscrete space takes none (absent or null).
    """
    if "env_wrapper" in params:
        wrapper = params["env_wrapper"]
        if isinstance(wrapper, list) and len(wrapper) == 1:
            wrapper = wrapper[0]
        expected = ALGOS.get(name.lower()).env_wrapper
        if wrapper != expected:
            want = f"env_wrapper: {expected}" if expected else "no env_wrapper (the native MultiDiscrete space)"
            raise ConfigError(
                f"{where}: env_wrapper {params['env_wrapper']!r} is not the wrapper gan-nas "
                f"applies for {name.lower()!r}; rl-zoo and gan-nas must drive the same action "
                f"space, so write {want}"
            )
    return {k: v for k, v in params.items() if k not in ZOO_ONLY_KEYS}


def _unit(x: float) -> bool:
    return 0.0 <= x <= 1.0


# range rules of SB3 hyper-parameters that SB3 itself does not check (it trains with them)
_RULES: dict[str, tuple[Any, str]] = {
    "gamma": (_unit, "in [0, 1]"),
    "gae_lambda": (_unit, "in [0, 1]"),
    "tau": (lambda x: 0.0 < x <= 1.0, "in (0, 1]"),
    "learning_rate": (lambda x: x > 0, "> 0"),
    "buffer_size": (lambda x: x > 0, "> 0"),
    "batch_size": (lambda x: x > 0, "> 0"),
    "n_steps": (lambda x: x > 0, "> 0"),
    "n_epochs": (lambda x: x > 0, "> 0"),
    "learning_starts": (lambda x: x >= 0, ">= 0"),
    "gradient_steps": (lambda x: x >= -1, ">= -1 (-1: as many as env steps)"),
    "train_freq": (lambda x: x > 0, "> 0"),
    "target_update_interval": (lambda x: x > 0, "> 0"),
    "ent_coef": (lambda x: x >= 0, ">= 0 (or 'auto')"),
    "vf_coef": (lambda x: x >= 0, ">= 0"),
    "clip_range": (lambda x: x > 0, "> 0"),
    "max_grad_norm": (lambda x: x > 0, "> 0"),
    "exploration_fraction": (_unit, "in [0, 1]"),
    "exploration_initial_eps": (_unit, "in [0, 1]"),
    "exploration_final_eps": (_unit, "in [0, 1]"),
}


def check_hyperparams(name: str, params: dict[str, Any]) -> None:
    """Refuse non-finite numbers and out-of-range values of the common SB3 hyper-parameters.

    SB3 accepts ``gamma: 2`` or ``buffer_size: 0`` and fails later, or trains on nonsense;
    this names the key and the allowed range before anything is built or written.
    """
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # schedules, strings ('auto'), tuples, dicts: SB3 checks those
        if not math.isfinite(value):
            raise ConfigError(f"hyper-parameter {key} of {name} must be a finite number, got {value!r}")
        rule = _RULES.get(key)
        if rule is not None and not rule[0](value):
            raise ConfigError(f"hyper-parameter {key} of {name} must be {rule[1]}, got {value!r}")


def parse_hyperparams(items: list[str]) -> dict[str, Any]:
    """``["learning_rate:1e-3", "batch_size:32"]`` -> dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        if ":" not in item:
            raise ConfigError(f"hyper-parameter {item!r} must look like name:value")
        key, raw = item.split(":", 1)
        out[key.strip()] = parse_scalar(raw)
    return out


def class_name(value: str) -> str:
    """The dotted name of a class written as a dotted name or in rl-zoo's eval-able form.

    ``"importlib.import_module('agents.replay').WithoutReplacementReplayBuffer"`` ->
    ``"agents.replay.WithoutReplacementReplayBuffer"``; any other string is returned as is.
    """
    match = _ZOO_CLASS.fullmatch(value.strip())
    return f"{match.group(2)}.{match.group(3)}" if match else value


def resolve_class(value: Any, key: str = "class") -> Any:
    """``"agents.replay.WithoutReplacementReplayBuffer"`` -> that class (classes pass through).

    rl-zoo's form ``"importlib.import_module('agents.replay').WithoutReplacementReplayBuffer"``
    names the same class (see :func:`class_name`).
    """
    if not isinstance(value, str):
        return value
    value = class_name(value)
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
