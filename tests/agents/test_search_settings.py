"""The search section's settings reach the search, the benchmark and PBT, or are refused (issue 27)."""

import gymnasium as gym
import pytest
from PIL import Image

import gan_nas_env  # noqa: F401 - registers the env ids
from agents.callbacks import (
    E2GANSchedule,
    check_search_settings,
    episode_budget,
    search_hyperparams,
)
from agents.search import run_search
from gan_nas_env.config import ConfigError, load_config
from gan_nas_env.evaluators import FakeEvaluator
from gan_nas_env.space import NUM_CELLS


def test_episode_budget_is_what_the_episodes_take():
    assert episode_budget(5) == NUM_CELLS * 5
    # two envs in lockstep: the other's episode in flight when the last one ends
    assert episode_budget(4, n_envs=2) == NUM_CELLS * 5
    assert episode_budget(4, n_envs=2, restarts=3) == NUM_CELLS * 8


def test_search_hyperparams_given_ones_win():
    search = load_config("tiny", {"search.learning_starts": 7, "search.random_warmup": True}).search
    assert search_hyperparams(search, "sac") == {"learning_starts": 7, "random_warmup": True}
    assert search_hyperparams(search, "sac", {"learning_starts": 2})["learning_starts"] == 2
    assert search_hyperparams(search, "ppo") == {"learning_starts": 7}  # no warm-up on-policy


def test_schedule_from_the_search_section():
    search = load_config("tiny", {"search.explore_fraction": 0.5, "search.exploit_gradient_steps": 3,
                                  "search.full_buffer_update": False}).search
    sched = E2GANSchedule.from_search(search, 10)
    assert (sched.switch_episode, sched.exploit_gradient_steps, sched.full_buffer_update) == (5, 3, False)


@pytest.mark.parametrize("samples", [8, 16])
def test_search_grid_has_grid_samples_images(tmp_path, samples):
    cfg = load_config("tiny", {"search.grid_samples": samples, "search.learning_starts": 3})
    run_search(cfg, tmp_path / "run", algo="sac", episodes=2, evaluator=FakeEvaluator(16), progress=False)
    height = Image.open(tmp_path / "run" / "best_grid.png").height
    width = Image.open(tmp_path / "run" / "best_grid.png").width
    assert round(height / width * 8) == samples // 8  # nrow=8: one row of 8 per 8 images


def test_benchmark_run_takes_the_envs_search_section(monkeypatch):
    import agents.benchmark.run as bench_run

    seen = {}
    real_from_search, real_make_agent = E2GANSchedule.from_search.__func__, bench_run.make_agent

    def from_search(cls, search, total):
        seen["schedule"] = search
        return real_from_search(cls, search, total)

    def make_agent(algo, env, **kw):
        seen["overrides"] = kw["overrides"]
        return real_make_agent(algo, env, **kw)

    monkeypatch.setattr(E2GANSchedule, "from_search", classmethod(from_search))
    monkeypatch.setattr(bench_run, "make_agent", make_agent)
    over = {"search.explore_fraction": 0.25, "search.learning_starts": 2}
    log = bench_run.run_one("sac", 0, 2, lambda: gym.make(
        "GANCellSearch-v0", config="tiny", evaluator="fake", overrides=over).unwrapped)
    assert len(log.scores) == 2
    assert seen["schedule"].explore_fraction == 0.25
    assert seen["overrides"]["learning_starts"] == 2 and seen["overrides"]["random_warmup"] is False


def test_benchmark_refuses_search_settings_it_does_not_use(tmp_path):
    from agents.benchmark.run import run_benchmark

    kwargs = {"config": "tiny", "evaluator": "fake", "overrides": {"search.episodes": 3}}
    with pytest.raises(ConfigError, match=r"gan-nas benchmark does not use search.episodes \(use --episodes\)"):
        run_benchmark(["random"], [0], 2, tmp_path / "b", env_id="GANCellSearch-v0", env_kwargs=kwargs)
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(("kwargs", "refused"), [
    ({}, None),
    ({"config": "tiny"}, None),  # its search.episodes is the search command's
    ({"config": "paper-cifar10"}, None),  # the schedule at its defaults
    ({"overrides": {"search.learning_starts": 3, "search.random_warmup": True}}, None),
    ({"overrides": ["search.explore_fraction=0.5"]}, "search.explore_fraction (PBT's"),
    ({"overrides": {"search": {"full_buffer_update": False}}}, "search.full_buffer_update"),
    ({"config": "tiny", "overrides": {"search.episodes": 3}}, "search.episodes (use --iterations"),
    ({"overrides": {"search.top_k": 2}}, "search.top_k: remove it"),
])
def test_pbt_refuses_the_schedule_it_replaces(kwargs, refused):
    pytest.importorskip("ray")
    from agents.pbt import check_pbt_settings

    if refused is None:
        check_pbt_settings(kwargs)
    else:
        with pytest.raises(ConfigError, match="gan-nas pbt does not use") as err:
            check_pbt_settings(kwargs)
        assert refused in str(err.value)


def test_a_config_file_with_another_schedule_is_refused_too(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("search:\n  exploit_gradient_steps: 2\n")
    with pytest.raises(ConfigError, match="search.exploit_gradient_steps"):
        check_search_settings("gan-nas pbt", {"config": str(path)}, ("learning_starts",), {})
