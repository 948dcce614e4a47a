"""The one place where the package's Gymnasium env ids are registered."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

ENV_IDS = {
    "GANCellSearch-v0": "gan_nas_env.envs.search_env:GANCellSearchEnv",
    "GANCellSearchBench-v0": "gan_nas_env.envs.bench_env:make_bench_env",
}


def register_envs() -> None:
    """Register every env id once (importing the package twice is harmless)."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, max_episode_steps=3, nondeterministic=True)
