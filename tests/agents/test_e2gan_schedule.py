"""The SB3 search schedule reproduces E2GAN's released search/search.py.

Released code, per env step: push the transition; once the memory holds >= 64,
``update_time`` updates (1 exploring, 10 exploiting) on ``min(len, 256)`` distinct
transitions; after each 3-step episode one more update on the whole memory. Actions
come from the policy from the first step (no uniform random warm-up).
"""

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import StopTrainingOnMaxEpisodes

from agents.algorithms import ALGOS, algo_class, make_agent, wrap_for_algo
from agents.callbacks import E2GANSchedule
from agents.hyperparams import resolve_class
from agents.replay import WithoutReplacementReplayBuffer
from agents.search import run_search
from gan_nas_env.config import ConfigError, load_config
from gan_nas_env.envs.search_env import GANCellSearchEnv
from gan_nas_env.evaluators import FakeEvaluator

OFF_POLICY = [a for a in ALGOS.names() if ALGOS.get(a).off_policy]


def env_for(algo):
    return wrap_for_algo(GANCellSearchEnv("tiny", evaluator=FakeEvaluator(8)), algo)


def filled_buffer(n, n_envs=1, buffer_size=1000, **kw):
    """A buffer whose transition i (of env e) has action [i, e]: ids to check samples by."""
    buf = WithoutReplacementReplayBuffer(
        buffer_size, spaces.Box(-1, 1, (2,), np.float32), spaces.Box(-1e6, 1e6, (2,), np.float32),
        device="cpu", n_envs=n_envs, **kw)
    for i in range(n):
        obs = np.full((n_envs, 2), i, np.float32)
        act = np.array([[i, e] for e in range(n_envs)], np.float32)
        buf.add(obs, obs + 1, act, np.zeros(n_envs), np.zeros(n_envs), [{}] * n_envs)
    return buf


def ids(samples):
    return sorted(map(tuple, samples.actions.numpy().astype(int).tolist()))


# -- (a) the buffer -------------------------------------------------------------------------------
@pytest.mark.parametrize("n_envs", [1, 2])
def test_buffer_samples_every_transition_once(n_envs):
    buf = filled_buffer(7, n_envs=n_envs)
    every = sorted((i, e) for i in range(7) for e in range(n_envs))
    assert buf.n_transitions() == 7 * n_envs
    assert ids(buf.sample(7 * n_envs)) == every
    assert ids(buf.sample(256)) == every  # min(batch, stored), E2GAN's min(len(memory), 256)
    for _ in range(20):
        got = ids(buf.sample(5))
        assert len(got) == 5 and len(set(got)) == 5  # without replacement
    s = buf.sample(7 * n_envs)  # rows stay aligned: next_obs = obs + 1, act[0] = obs
    np.testing.assert_array_equal(s.next_observations.numpy(), s.observations.numpy() + 1)
    np.testing.assert_array_equal(s.actions.numpy()[:, 0], s.observations.numpy()[:, 0])


def test_buffer_full_wraps_and_sb3_buffer_would_repeat():
    buf = filled_buffer(13, buffer_size=10)  # wrapped: transitions 3..12 left
    assert ids(buf.sample(100)) == [(i, 0) for i in range(3, 13)]
    opt = filled_buffer(13, buffer_size=10, optimize_memory_usage=True,
                        handle_timeout_termination=False)
    s = opt.sample(100)  # the position being overwritten is no transition (as in SB3)
    assert ids(s) == [(i, 0) for i in range(4, 13)]
    np.testing.assert_array_equal(s.next_observations.numpy(), s.observations.numpy() + 1)
    # the test can fail: SB3's own buffer draws with replacement
    sb3 = ReplayBuffer(1000, spaces.Box(-1, 1, (2,)), spaces.Box(-1e6, 1e6, (2,)), device="cpu")
    for i in range(7):
        sb3.add(np.zeros((1, 2)), np.zeros((1, 2)), np.array([[i, 0]]), np.zeros(1), np.zeros(1), [{}])
    np.random.seed(0)
    assert any(len(set(ids(sb3.sample(7)))) < 7 for _ in range(5))


def test_buffer_is_deterministic_under_numpy_seed():
    buf = filled_buffer(50)
    np.random.seed(3)
    a = buf.sample(10).actions
    np.random.seed(3)
    assert torch.equal(a, buf.sample(10).actions)


def test_replay_buffer_class_from_yaml_name():
    assert resolve_class("agents.replay.WithoutReplacementReplayBuffer") is WithoutReplacementReplayBuffer
    model = make_agent("sac", env_for("sac"))
    assert type(model.replay_buffer) is WithoutReplacementReplayBuffer
    assert model.batch_size == 256 and model.learning_starts == 63
    with pytest.raises(ConfigError, match="unknown replay_buffer_class 'agents.replay.Nope'"):
        make_agent("sac", env_for("sac"), overrides={"replay_buffer_class": "agents.replay.Nope"})
    with pytest.raises(ConfigError, match="dotted name"):
        make_agent("sac", env_for("sac"), overrides={"replay_buffer_class": "Nope"})
    with pytest.raises(ConfigError, match="not an SB3 ReplayBuffer"):
        make_agent("sac", env_for("sac"), overrides={"replay_buffer_class": "agents.callbacks.E2GANSchedule"})


# -- (b) no uniform warm-up -----------------------------------------------------------------------
def _forbid_uniform_actions(model, monkeypatch):
    def boom(*_a, **_k):
        raise AssertionError("uniform random action (action_space.sample) taken")

    monkeypatch.setattr(model.action_space, "sample", boom)


def test_sac_acts_with_its_policy_from_the_first_step(monkeypatch):
    model = make_agent("sac", env_for("sac"), seed=0)  # YAML: learning_starts 63
    assert model.random_warmup is False
    _forbid_uniform_actions(model, monkeypatch)
    calls = []
    orig = model.policy.predict
    monkeypatch.setattr(model.policy, "predict", lambda *a, **k: calls.append(1) or orig(*a, **k))
    model.learn(total_timesteps=6)
    assert len(calls) == 6 and model.num_timesteps == 6


def test_random_warmup_option_keeps_sb3_behaviour(monkeypatch):
    model = make_agent("sac", env_for("sac"), seed=0, overrides={"random_warmup": True})
    _forbid_uniform_actions(model, monkeypatch)
    with pytest.raises(AssertionError, match="uniform random action"):
        model.learn(total_timesteps=3)


@pytest.mark.parametrize("algo", OFF_POLICY)
def test_every_off_policy_algo_acts_from_policy_and_trains(algo, monkeypatch):
    over = {"learning_starts": 3}
    if algo in ("dqn", "qrdqn"):  # epsilon-greedy is DQN's own exploration (kept); off here
        over.update(exploration_initial_eps=0.0, exploration_final_eps=0.0)
    model = make_agent(algo, env_for(algo), seed=0, overrides=over)
    assert isinstance(model, algo_class(algo)) and type(model).__name__ == algo_class(algo).__name__
    _forbid_uniform_actions(model, monkeypatch)
    sched = E2GANSchedule(4, explore_fraction=0.5, full_buffer_update=True)
    model.learn(total_timesteps=12, callback=[sched, StopTrainingOnMaxEpisodes(4)])
    assert sched.episodes_done == 4 and model._n_updates > 0
    assert model.replay_buffer.size() == 12  # the last step stored too


def test_dqn_keeps_epsilon_exploration():
    model = make_agent("dqn", env_for("dqn"), seed=0)
    assert model.random_warmup is False and model.exploration_initial_eps == 1.0


def test_runner_passes_random_warmup_and_saves_it(tmp_path):
    cfg = load_config("tiny", {"search.random_warmup": True})
    run_search(cfg, tmp_path / "run", algo="sac", episodes=1, evaluator=FakeEvaluator(16),
               progress=False)
    model = algo_class("sac").load(tmp_path / "run" / "model.zip")
    assert model.random_warmup is True
    assert model.replay_buffer_class is WithoutReplacementReplayBuffer


# -- (c, d) update schedule -----------------------------------------------------------------------
def released_schedule(episodes, switch_episode, start=64, cap=256, steps=3):
    """(kind, updates, stored, batch) of every update call of E2GAN's search.py."""
    calls, stored = [], 0
    for ep in range(episodes):
        update_time = 10 if ep >= switch_episode else 1  # search_iter > 69 with 100 episodes
        for _ in range(steps):
            stored += 1
            if stored >= start:
                calls.append(("regular", update_time, stored, min(stored, cap)))
        calls.append(("whole", 1, stored, stored))
    return calls


@pytest.fixture(scope="module")
def recorded_search():
    """SAC with the YAML defaults and E2GANSchedule, every train() call recorded."""
    episodes, switch = 24, 22  # the 64th transition is the 1st step of episode 22
    model = make_agent("sac", env_for("sac"), seed=0)
    buf = model.replay_buffer
    calls = []
    orig_train, orig_sample = model.train, buf.sample

    def sample(batch_size, env=None):
        s = orig_sample(batch_size, env)
        calls[-1]["batches"].append(s)
        return s

    def train(gradient_steps, batch_size):
        kind = "regular" if batch_size == model.batch_size else "whole"
        calls.append({"kind": kind, "steps": gradient_steps, "stored": buf.size(), "batches": [],
                      "t": model.num_timesteps, "stored_actions": buf.actions[: buf.size(), 0].copy()})
        return orig_train(gradient_steps=gradient_steps, batch_size=batch_size)

    model.train, buf.sample = train, sample
    sched = E2GANSchedule(episodes, explore_fraction=switch / episodes, full_buffer_update=True)
    model.learn(total_timesteps=3 * episodes, callback=[sched, StopTrainingOnMaxEpisodes(episodes)])
    return calls, released_schedule(episodes, switch), sched


def test_schedule_matches_released_search(recorded_search):
    calls, expected, sched = recorded_search
    got = [(c["kind"], c["steps"], c["stored"], len(c["batches"][0].actions)) for c in calls]
    assert got == expected
    assert all(len(c["batches"]) == c["steps"] for c in calls)
    assert sched.exploiting


def test_whole_buffer_update_after_episode_k_sees_3k_transitions(recorded_search):
    calls, _, _ = recorded_search
    whole = [c for c in calls if c["kind"] == "whole"]
    assert [c["stored"] for c in whole] == [3 * k for k in range(1, 25)]  # episode 1 included
    for c in whole:
        (batch,) = c["batches"]
        got = np.sort(batch.actions.numpy(), axis=0)
        np.testing.assert_array_equal(got, np.sort(c["stored_actions"], axis=0))  # each once
        last = c["stored_actions"][-1]  # the episode's last transition
        assert (batch.actions.numpy() == last).all(axis=1).sum() == 1


def test_first_regular_update_with_64_transitions(recorded_search):
    calls, _, _ = recorded_search
    regular = [c for c in calls if c["kind"] == "regular"]
    assert regular[0]["stored"] == 64 and regular[0]["t"] == 64
    assert len(regular[0]["batches"][0].actions) == 64
    assert all(c["stored"] >= 64 for c in regular)


# -- (e) resume -----------------------------------------------------------------------------------
def _steps(out):
    import sqlite3

    con = sqlite3.connect(out / "results.sqlite")
    rows = con.execute('SELECT episode, step, arch, reward FROM steps ORDER BY id').fetchall()
    con.close()
    return rows


def test_resume_matches_uninterrupted_search(tmp_path):
    cfg = load_config("tiny", {"search.learning_starts": 4, "search.explore_fraction": 0.5})
    kw = dict(algo="sac", episodes=6, progress=False)
    run_search(cfg, tmp_path / "ref", evaluator=FakeEvaluator(16), **kw)
    with pytest.raises(KeyboardInterrupt):
        run_search(cfg, tmp_path / "run", evaluator=FakeEvaluator(16, interrupt_at=11), **kw)
    rb = tmp_path / "run" / "checkpoint" / "replay_buffer.npz"
    assert rb.exists() and rb.stat().st_size < 100_000  # the stored transitions, not the capacity
    run_search(cfg, tmp_path / "run", evaluator=FakeEvaluator(16), resume=True, **kw)
    assert _steps(tmp_path / "run") == _steps(tmp_path / "ref")
    ref = algo_class("sac").load(tmp_path / "ref" / "model.zip")
    res = algo_class("sac").load(tmp_path / "run" / "model.zip")
    for a, b in zip(ref.policy.parameters(), res.policy.parameters()):
        assert torch.equal(a, b)  # same updates, same batches, in the same order


def test_replay_buffer_save_and_load(tmp_path):
    model = make_agent("sac", env_for("sac"), seed=0)
    model.learn(total_timesteps=6)
    model.save_replay_buffer(tmp_path / "rb.pkl")
    other = make_agent("sac", env_for("sac"), seed=1)
    other.load_replay_buffer(tmp_path / "rb.pkl")
    assert type(other.replay_buffer) is WithoutReplacementReplayBuffer
    assert other.replay_buffer.size() == 6
    np.testing.assert_array_equal(np.sort(other.replay_buffer.sample(6).actions.numpy(), axis=0),
                                  np.sort(model.replay_buffer.actions[:6, 0], axis=0))


@pytest.mark.parametrize("algo", ["random", "ppo"])
def test_resume_matches_uninterrupted_search_without_replay_buffer(tmp_path, algo):
    # random search is an algorithm like the SB3 ones: `search --algo random` checkpoints
    # and resumes it exactly (its actions come from the checkpointed action-space RNG)
    cfg = load_config("tiny", {"search.explore_fraction": 0.5})
    kw = dict(algo=algo, episodes=6, progress=False, hyperparams={"n_steps": 6, "batch_size": 6}
              if algo == "ppo" else None)
    run_search(cfg, tmp_path / "ref", evaluator=FakeEvaluator(16), **kw)
    with pytest.raises(KeyboardInterrupt):
        run_search(cfg, tmp_path / "run", evaluator=FakeEvaluator(16, interrupt_at=11), **kw)
    assert (tmp_path / "run" / "checkpoint" / "model.zip").exists()
    run_search(cfg, tmp_path / "run", evaluator=FakeEvaluator(16), resume=True, **kw)
    ref, res = _steps(tmp_path / "ref"), _steps(tmp_path / "run")
    assert len(ref) == 18 and res == ref
    assert len({r[2] for r in ref if r[1] == 3}) > 1  # not one architecture repeated


@pytest.mark.parametrize("steps", [6, 13])  # part-filled, and wrapped around a capacity of 8
def test_checkpoint_replay_contents_round_trip(tmp_path, steps):
    from agents.checkpoint import load_replay_contents, save_replay_contents

    model = make_agent("sac", env_for("sac"), seed=0, overrides={"buffer_size": 8, "learning_starts": 100})
    model.learn(total_timesteps=steps)
    save_replay_contents(model.replay_buffer, tmp_path / "rb.npz")
    other = make_agent("sac", env_for("sac"), seed=1, overrides={"buffer_size": 8})
    load_replay_contents(other.replay_buffer, tmp_path / "rb.npz")
    a, b = model.replay_buffer, other.replay_buffer
    assert (a.pos, a.full) == (b.pos, b.full) and a.full == (steps > 8)
    for key in ("observations", "next_observations", "actions", "rewards", "dones"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    small = make_agent("sac", env_for("sac"), seed=1, overrides={"buffer_size": 4})
    with pytest.raises(ValueError, match="capacity 8"):
        load_replay_contents(small.replay_buffer, tmp_path / "rb.npz")
