"""The agent YAMLs drive rl-baselines3-zoo as shipped, and the project's loader reads them too.

rl-zoo (the ``zoo`` extra) runs as ``python -m rl_zoo3.train --algo ALGO --env
GANCellSearchBench-v0 --gym-packages gan_nas_env -conf configs/agents/ALGO.yaml``; the
tests that need it skip without it.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agents.algorithms import env_wrapper_class, make_agent, wrap_for_algo
from agents.hyperparams import (
    AGENT_CONFIG_DIR,
    ZOO_ONLY_KEYS,
    class_name,
    load_hyperparams,
    resolve_class,
)
from agents.registry import ALGOS
from agents.replay import WithoutReplacementReplayBuffer
from gan_nas_env.config import ConfigError
from gan_nas_env.envs.search_env import GANCellSearchEnv
from gan_nas_env.envs.wrappers import DiscreteToContinuousAction, FlatDiscreteAction
from gan_nas_env.evaluators import FakeEvaluator

REPO = Path(__file__).resolve().parents[2]
ENV_IDS = ("GANCellSearch-v0", "GANCellSearchBench-v0")
# the project's algorithms that rl-zoo (2.9) has too; maskable_ppo and random it has not
ZOO_ALGOS = ("sac", "td3", "ddpg", "tqc", "crossq", "ppo", "a2c", "dqn", "qrdqn")


def raw_entry(algo, env_id):
    """The env id's entry of the YAML as rl-zoo reads it (yaml.safe_load, no merging)."""
    return yaml.safe_load((AGENT_CONFIG_DIR / f"{algo}.yaml").read_text())[env_id]


def test_shipped_yamls_are_the_repositorys():
    assert AGENT_CONFIG_DIR.resolve() == (REPO / "configs" / "agents").resolve()
    assert {p.stem for p in AGENT_CONFIG_DIR.glob("*.yaml")} == set(ALGOS.names())


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("algo", ALGOS.names())
def test_every_yaml_loads_for_both_envs_and_has_n_timesteps(algo, env_id):
    entry = raw_entry(algo, env_id)
    assert isinstance(entry["n_timesteps"], int) and entry["n_timesteps"] > 0
    assert entry["n_timesteps"] % 3 == 0  # whole 3-step episodes
    hp = load_hyperparams(algo, env_id)
    assert hp and not ZOO_ONLY_KEYS & hp.keys()
    # everything else is the entry itself (SB3's arguments, E2GAN's values)
    assert hp == {k: (class_name(v) if k == "replay_buffer_class" else v)
                  for k, v in entry.items() if k not in ZOO_ONLY_KEYS}
    if "replay_buffer_class" in hp:
        assert hp["replay_buffer_class"] == "agents.replay.WithoutReplacementReplayBuffer"
        assert resolve_class(entry["replay_buffer_class"]) is WithoutReplacementReplayBuffer


def test_run_lengths():
    for algo in ALGOS.names():
        assert raw_entry(algo, "GANCellSearch-v0")["n_timesteps"] == 300  # 100 episodes
        assert raw_entry(algo, "GANCellSearchBench-v0")["n_timesteps"] == 3000


@pytest.mark.parametrize("algo", ALGOS.names())
def test_yaml_env_wrapper_is_what_wrap_for_algo_applies(algo):
    wrapped = wrap_for_algo(GANCellSearchEnv("tiny", evaluator=FakeEvaluator(8)), algo)
    expected = {"continuous": DiscreteToContinuousAction, "discrete": FlatDiscreteAction,
                "multidiscrete": None}[ALGOS.get(algo).action]
    assert env_wrapper_class(algo) is expected
    assert (type(wrapped) if expected else None) is expected
    for env_id in ENV_IDS:
        named = raw_entry(algo, env_id).get("env_wrapper")
        assert named == (f"{expected.__module__}.{expected.__qualname__}" if expected else None)


def test_a_wrong_env_wrapper_is_a_config_error(tmp_path, monkeypatch):
    for algo in ("sac", "dqn", "ppo"):
        table = yaml.safe_load((AGENT_CONFIG_DIR / f"{algo}.yaml").read_text())
        table["GANCellSearchBench-v0"]["env_wrapper"] = (
            "gan_nas_env.envs.wrappers.FlatDiscreteAction" if algo != "dqn"
            else "gan_nas_env.envs.wrappers.DiscreteToContinuousAction")
        (tmp_path / f"{algo}.yaml").write_text(yaml.safe_dump(table))
    monkeypatch.setattr("agents.hyperparams.AGENT_CONFIG_DIR", tmp_path)
    with pytest.raises(ConfigError, match=r"sac\.yaml \[GANCellSearchBench-v0\]: env_wrapper "
                                          r"'gan_nas_env\.envs\.wrappers\.FlatDiscreteAction'.*"
                                          r"DiscreteToContinuousAction"):
        load_hyperparams("sac", "GANCellSearchBench-v0")
    with pytest.raises(ConfigError, match="dqn.*write env_wrapper: .*FlatDiscreteAction"):
        load_hyperparams("dqn", "GANCellSearchBench-v0")
    with pytest.raises(ConfigError, match="ppo.*no env_wrapper"):
        load_hyperparams("ppo", "GANCellSearchBench-v0")
    assert load_hyperparams("sac", "GANCellSearch-v0")  # that entry is untouched


def test_make_agent_ignores_zoo_keys_in_overrides():
    env = wrap_for_algo(GANCellSearchEnv("tiny", evaluator=FakeEvaluator(8)), "dqn")
    ok = {"n_timesteps": 5, "env_wrapper": ["gan_nas_env.envs.wrappers.FlatDiscreteAction"]}
    assert make_agent("dqn", env, overrides=ok).action_space.n == 144
    with pytest.raises(ConfigError, match="overrides: env_wrapper"):
        make_agent("dqn", env, overrides={"env_wrapper": None})


def test_class_name_reads_rl_zoos_form_without_eval():
    dotted = "agents.replay.WithoutReplacementReplayBuffer"
    assert class_name("importlib.import_module('agents.replay').WithoutReplacementReplayBuffer") == dotted
    assert class_name('importlib.import_module( "agents.replay" ).WithoutReplacementReplayBuffer') == dotted
    assert class_name(dotted) == dotted
    assert class_name("__import__('os').system('x')") == "__import__('os').system('x')"
    with pytest.raises(ConfigError, match="unknown"):
        resolve_class("importlib.import_module('agents.replay').Nope", "replay_buffer_class")


@pytest.mark.parametrize("algo", ZOO_ALGOS)
def test_rl_zoo_builds_every_algorithm_from_the_yaml(algo, tmp_path):
    pytest.importorskip("rl_zoo3")
    from rl_zoo3.exp_manager import ExperimentManager
    from rl_zoo3.utils import ALGOS as ZOO

    assert ZOO[algo].__name__ == ALGOS.get(algo).cls  # the same class as gan-nas's
    for env_id, kwargs in (("GANCellSearch-v0", {"evaluator": "fake"}), ("GANCellSearchBench-v0", {})):
        manager = ExperimentManager(
            argparse.Namespace(), algo, env_id, str(tmp_path / env_id), eval_freq=-1, seed=0,
            env_kwargs=kwargs, config=str(AGENT_CONFIG_DIR / f"{algo}.yaml"), verbose=0,
        )
        model, _ = manager.setup_experiment()
        assert manager.n_timesteps == raw_entry(algo, env_id)["n_timesteps"]
        wrapped = wrap_for_algo(GANCellSearchEnv("tiny", evaluator=FakeEvaluator(8)), algo)
        assert model.action_space == wrapped.action_space
        if ALGOS.get(algo).off_policy:
            assert model.replay_buffer_class is WithoutReplacementReplayBuffer
        assert model.policy_kwargs["net_arch"] == [128, 128]
        assert model.gamma == 1.0
        model.env.close()


@pytest.mark.parametrize("algo", ["sac", "ppo", "dqn"])
def test_rl_zoo_trains_from_the_shipped_yaml(algo, tmp_path):
    pytest.importorskip("rl_zoo3")
    logs = tmp_path / "logs"
    cmd = [sys.executable, "-m", "rl_zoo3.train", "--algo", algo, "--env", "GANCellSearchBench-v0",
           "--gym-packages", "gan_nas_env", "-conf", str(REPO / "configs" / "agents" / f"{algo}.yaml"),
           "-n", "300", "--log-folder", str(logs), "--seed", "0", "--eval-freq", "-1",
           "--verbose", "0", "--num-threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    # cwd tmp_path: nothing lands in the checkout
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = logs / algo / "GANCellSearchBench-v0_1"
    assert (run / "GANCellSearchBench-v0.zip").is_file()
    cls = getattr(__import__(ALGOS.get(algo).module, fromlist=["x"]), ALGOS.get(algo).cls)
    model = cls.load(run / "GANCellSearchBench-v0.zip", device="cpu")
    assert 300 <= model.num_timesteps < 300 + 24  # PPO: whole rollouts of n_steps 24
    monitor = (run / "0.monitor.csv").read_text().splitlines()  # a JSON line, the header, rows
    assert len(monitor) - 2 == model.num_timesteps // 3  # every episode 3 steps
    wrapped = wrap_for_algo(GANCellSearchEnv("tiny", evaluator=FakeEvaluator(8)), algo)
    assert model.action_space == wrapped.action_space
