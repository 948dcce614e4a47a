import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import gan_nas_env  # noqa: F401
from gan_nas_env.envs.search_env import GANCellSearchEnv
from gan_nas_env.evaluators import FakeEvaluator
from gan_nas_env.evaluators.store import ResultsStore


def make(**kw):
    return GANCellSearchEnv("tiny", evaluator=kw.pop("evaluator", FakeEvaluator(8)), **kw)


@pytest.mark.parametrize("env_id", ["GANCellSearch-v0", "gan_nas_env:GANCellSearch-v0"])
def test_registered_under_both_ids(env_id):
    env = gym.make(env_id, config="tiny", evaluator="fake")
    assert env.spec.max_episode_steps == 3 and env.spec.nondeterministic
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    env.close()


def test_checkers_pass():
    gym_check_env(make(), skip_render_check=True)
    sb3_check_env(make(), warn=False)


def test_spaces_and_episode_shape():
    env = make()
    assert list(env.action_space.nvec) == [2, 3, 3, 2, 2, 2]
    obs, info = env.reset(seed=1)
    assert obs.shape == (3 + 8,) and obs[0] == 0 and info["arch"] == ""
    terms = []
    for _ in range(3):
        obs, r, term, trunc, info = env.step(env.action_space.sample())
        terms.append(term)
        assert not trunc
    assert terms == [False, False, True]
    assert obs[0] == 3 and len(info["arch"].split()) == 14
    assert {"IS", "FID", "KID", "timings", "score", "gan_seed"} <= set(info)


@pytest.mark.parametrize("alpha", [0.01, 0.0, 0.5])
def test_reward_telescopes_to_final_score_minus_baseline(alpha):
    env = make(overrides={"env.alpha": alpha})
    obs, _ = env.reset(seed=2)
    base = obs[1] - obs[2]  # IS_0 - alpha * FID_0
    total = 0.0
    for a in ([1, 1, 0, 1, 0, 0], [0, 2, 1, 0, 1, 0], [1, 0, 2, 1, 1, 1]):
        obs, r, term, _, info = env.step(np.array(a))
        total += r
    final = info["IS"] - alpha * info["FID"]
    assert total == pytest.approx(final - base, rel=1e-6, abs=1e-5)
    assert info["arch"] == "1 1 0 1 0 2 1 0 1 1 0 2 1 3"


def test_step_after_termination_and_bad_actions():
    env = make()
    with pytest.raises(RuntimeError, match="call reset"):
        env.step([0, 0, 0, 0, 0, 0])
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside the action space"):
        env.step([0, 3, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="outside the action space"):
        env.step([0, 0, 0])
    for _ in range(3):
        env.step([0, 0, 0, 0, 0, 0])
    with pytest.raises(RuntimeError, match="call reset"):
        env.step([0, 0, 0, 0, 0, 0])


def test_divergence_ends_episode_with_penalty():
    env = make(evaluator=FakeEvaluator(8, diverge_at={"0 0 0 0 1 1 1 1 0"}),
               overrides={"env.diverged_penalty": -7.0})
    env.reset(seed=0)
    env.step([0, 0, 0, 0, 0, 0])
    obs, r, term, _, info = env.step([1, 1, 1, 1, 0, 0])
    assert term and info["diverged"] and r == -7.0
    assert np.all(np.isfinite(obs))


def test_render_modes():
    env = make(render_mode="ansi")
    env.reset(seed=0)
    env.step([1, 2, 2, 1, 0, 0])
    assert "cell 1: pre-act, in, deconv, shortcut" in env.render()
    env = make(render_mode="rgb_array")
    env.reset(seed=0)
    env.step([1, 2, 2, 1, 0, 0])
    img = env.render()
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    images = env.sample_images(4)  # what rgb_array renders, as tensors
    assert images.shape[0] == 4 and float(images.min()) >= -1 and float(images.max()) <= 1
    with pytest.raises(ValueError, match="render_mode"):
        make(render_mode="human")


def test_cached_mode_replays_bit_for_bit(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    first = FakeEvaluator(8, seed_noise=1.0)
    env = make(evaluator=first, mode="cached", results_store=store,
               overrides={"env.fixed_gan_seed": 5})
    env.reset(seed=0)
    out1 = [env.step([1, 0, 1, 0, 1, 1]) for _ in range(3)]
    assert first.calls == 3
    second = FakeEvaluator(8, seed_noise=1.0)
    env2 = make(evaluator=second, mode="cached", results_store=store,
                overrides={"env.fixed_gan_seed": 5})
    env2.reset(seed=123)
    out2 = [env2.step([1, 0, 1, 0, 1, 1]) for _ in range(3)]
    assert second.calls == 0
    for a, b in zip(out1, out2):
        assert np.array_equal(a[0], b[0]) and a[1] == b[1]
        assert b[4]["cached"]


def test_cached_miss_after_hits_retrains_prefix(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    env = make(evaluator=FakeEvaluator(8), mode="cached", results_store=store,
               overrides={"env.fixed_gan_seed": 1})
    env.reset(seed=0)
    for _ in range(3):
        env.step([0, 0, 0, 0, 0, 0])
    inner = FakeEvaluator(8)
    env2 = make(evaluator=inner, mode="cached", results_store=store,
                overrides={"env.fixed_gan_seed": 1})
    env2.reset(seed=0)
    env2.step([0, 0, 0, 0, 0, 0])
    env2.step([0, 0, 0, 0, 0, 0])
    _, _, _, _, info = env2.step([1, 1, 1, 1, 1, 1])
    assert inner.calls == 3  # two replayed cells re-trained, then the new one
    assert info["arch"] == "0 0 0 0 0 0 0 0 0 1 1 1 1 3" and not info["cached"]


def test_close_closes_the_store_the_env_opened_and_no_other(tmp_path):
    """A store given as a path is the env's own: closed with it (an unclosed one would checkpoint
    its -wal file into the results file whenever it is garbage-collected). A store object stays
    open for whoever handed it over."""
    env = make(evaluator=FakeEvaluator(8), mode="record", results_store=tmp_path / "own.sqlite")
    env.reset(seed=0)
    env.step([0, 0, 0, 0, 0, 0])
    assert (tmp_path / "own.sqlite-wal").exists()  # the step's row, not yet checkpointed
    env.close()
    assert not (tmp_path / "own.sqlite-wal").exists()  # closed: checkpointed into own.sqlite
    assert ResultsStore(tmp_path / "own.sqlite").count_evaluations() >= 1
    shared = ResultsStore(tmp_path / "shared.sqlite")
    env = make(evaluator=FakeEvaluator(8), mode="record", results_store=shared)
    env.reset(seed=0)
    env.step([0, 0, 0, 0, 0, 0])
    env.close()
    assert shared.count_evaluations() >= 1  # still open


def test_mode_needs_store():
    with pytest.raises(ValueError, match="results_store"):
        make(mode="cached")


def test_action_masks_follow_depth():
    env = make()
    env.reset(seed=0)
    m = env.action_masks()
    assert m.shape == (14,) and m[:10].all()
    assert m[10:].tolist() == [True, False, True, False]
    env.step([0, 0, 0, 0, 0, 0])
    assert env.action_masks()[10:].tolist() == [True, True, True, False]
    env.step([0, 0, 0, 0, 0, 0])
    assert env.action_masks().all()


class _HeldEvaluator(FakeEvaluator):
    """Stops inside ``step`` until released, so another thread finds the env busy."""

    def __init__(self):
        import threading

        super().__init__(8)
        self.inside, self.release = threading.Event(), threading.Event()

    def step(self, cell):
        self.inside.set()
        assert self.release.wait(30), "the test never released the step"
        return super().step(cell)


@pytest.mark.parametrize("env_cls", ["search", "bench-v1"])
def test_a_second_thread_inside_the_env_is_refused(env_cls, small_table):
    """Not thread-safe, and says so: step/reset/render from a second thread while one steps."""
    import copy
    import threading

    from gan_nas_env.envs.bench_env import GANCellSearchBenchEnv
    from gan_nas_env.envs.search_env import ConcurrentUseError
    from gan_nas_env.errors import UserError

    held = _HeldEvaluator()
    if env_cls == "search":
        env = GANCellSearchEnv("tiny", evaluator=held, render_mode="ansi")
    else:
        env = GANCellSearchBenchEnv(small_table[0], render_mode="ansi")
        held.representation_dim = env.evaluator.representation_dim
        env.evaluator = held
    env.reset(seed=0)
    results = []
    worker = threading.Thread(target=lambda: results.append(env.step([0, 0, 0, 0, 0, 0])), name="stepper")
    worker.start()
    try:
        assert held.inside.wait(30)
        for call in (lambda: env.step([1, 0, 0, 0, 0, 0]), lambda: env.reset(), env.render):
            with pytest.raises(ConcurrentUseError, match="thread 'stepper' is inside the same env") as info:
                call()
            assert isinstance(info.value, UserError)
    finally:
        held.release.set()
        worker.join(30)
    assert results and results[0][4]["depth"] == 1  # the first thread's step was not disturbed
    assert env.step([0, 0, 0, 0, 0, 0])[4]["depth"] == 2  # free again once it returned
    plain = GANCellSearchEnv("tiny", evaluator=FakeEvaluator(8))
    plain.reset(seed=0)
    assert copy.deepcopy(plain).step([0, 0, 0, 0, 0, 0])[4]["depth"] == 1  # the guard copies


def test_is_only_evaluator_is_rewarded_by_the_change_in_is_alone():
    """The IS-only evaluator (env.alpha 0) on the real proxy (tiny config): rewards are
    changes in IS, the FID channel of the observation is 0, the score is IS. That it trains
    exactly as the E2GAN score does is its proxy hash (tests/test_config.py)."""
    env = GANCellSearchEnv("tiny", evaluator="real", overrides={"env.alpha": 0.0, "env.fixed_gan_seed": 3})
    obs, _ = env.reset(seed=0)
    prev_is = obs[1]
    for a in ([1, 1, 0, 1, 0, 0], [0, 2, 1, 0, 1, 0]):
        obs, r, _, _, info = env.step(np.array(a))
        assert np.isfinite(info["FID"]) and info["FID"] > 0 and obs[2] == 0.0
        assert r == pytest.approx(info["IS"] - prev_is, abs=1e-6) and info["score"] == pytest.approx(info["IS"])
        prev_is = info["IS"]
    env.close()
