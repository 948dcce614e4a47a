"""The one place where the package's Gymnasium env ids are registered."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

ENV_IDS = {
    "GANCellSearch-v0": "gan_nas_env.envs.search_env:GANCellSearchEnv",
    "GANCellSearchBench-v0": "gan_nas_env.envs.bench_env:make_bench_env",
    "GANCellSearchBench-v1": "gan_nas_env.envs.bench_env:GANCellSearchBenchEnv",
}
# Every episode ends by itself after 3 cells. The v0 ids keep the time limit they were
# published with (it truncates the third step, together with termination); later versions
# register none, so a finished episode is terminated and never truncated.
# Importing rl_zoo3 (as `python -m rl_zoo3.train` does) replaces gymnasium's TimeLimit by one
# that never truncates a terminated step, so in such a process v0 ends as v1 does.
MAX_EPISODE_STEPS: dict[str, int | None] = {"GANCellSearch-v0": 3, "GANCellSearchBench-v0": 3,
                                            "GANCellSearchBench-v1": None}


def register_envs() -> None:
    """Register every env id once (importing the package twice is harmless)."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, max_episode_steps=MAX_EPISODE_STEPS[env_id],
                     nondeterministic=True)
