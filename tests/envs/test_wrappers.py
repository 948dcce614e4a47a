import numpy as np
import pytest
from stable_baselines3.common.env_checker import check_env

from gan_nas_env.envs.search_env import GANCellSearchEnv
from gan_nas_env.envs.wrappers import DiscreteToContinuousAction, FlatDiscreteAction
from gan_nas_env.evaluators import FakeEvaluator


def base():
    return GANCellSearchEnv("tiny", evaluator=FakeEvaluator(8))


def test_continuous_wrapper_decodes_argmax_per_group():
    env = DiscreteToContinuousAction(base())
    assert env.action_space.shape == (14,)
    logits = np.full(14, -1.0, np.float32)
    # groups (2,3,3,2,2,2): choose conv=1, norm=2, up=0, shortcut=1, bit0=0, bit1=1
    for pos in (1, 2 + 2, 5 + 0, 8 + 1, 10 + 0, 12 + 1):
        logits[pos] = 1.0
    assert env.action(logits).tolist() == [1, 2, 0, 1, 0, 1]
    with pytest.raises(ValueError, match="expected 14 logits"):
        env.action(np.zeros(6))


def test_continuous_wrapper_covers_every_choice():
    env = DiscreteToContinuousAction(base())
    rng = np.random.default_rng(0)
    seen = {tuple(env.action(rng.uniform(-1, 1, 14))) for _ in range(3000)}
    assert len(seen) == 144


def test_flat_discrete_round_trip():
    env = FlatDiscreteAction(base())
    assert env.action_space.n == 144
    decoded = {tuple(env.action(i)) for i in range(144)}
    assert len(decoded) == 144
    assert env.action(0).tolist() == [0, 0, 0, 0, 0, 0]
    assert env.action(143).tolist() == [1, 2, 2, 1, 1, 1]


@pytest.mark.parametrize("wrapper", [DiscreteToContinuousAction, FlatDiscreteAction])
def test_wrapped_envs_pass_sb3_checker(wrapper):
    check_env(wrapper(base()), warn=False)


CONTINUOUS_BAD = {
    "NaN logits": np.full(14, np.nan),
    "one NaN logit": np.r_[np.nan, np.zeros(13)],
    "infinite logit": np.r_[np.inf, np.zeros(13)],
    "logit outside the box": np.r_[5.0, np.zeros(13)],
    "strings": ["1"] * 14,
    "booleans": [True] * 14,
    "complex": np.zeros(14, complex),
    "a (2, 7) array": np.zeros((2, 7)),
    "6 discrete choices": np.zeros(6, np.int64),
}
FLAT_BAD = {
    "float 3.7": 3.7, "integral float 3.0": 3.0, "float32 array": np.float32(3.0), "NaN": float("nan"),
    "True": True, "string": "3", "a (1,) array": np.array([3]), "past the end": 144, "negative": -1,
    "huge": 2**70,
}


@pytest.mark.parametrize(("wrapper", "action"),
                         [(DiscreteToContinuousAction, a) for a in CONTINUOUS_BAD.values()]
                         + [(FlatDiscreteAction, a) for a in FLAT_BAD.values()],
                         ids=[f"continuous-{k}" for k in CONTINUOUS_BAD] + [f"flat-{k}" for k in FLAT_BAD])
def test_wrappers_refuse_what_is_outside_their_space(wrapper, action):
    """Never truncated (3.7 -> 3) or decided by a NaN: an ActionError before the env steps."""
    from gan_nas_env.envs.search_env import ActionError
    from gan_nas_env.errors import UserError

    env = wrapper(base())
    env.reset(seed=0)
    with pytest.raises(ActionError, match="outside the action space") as info:
        env.step(action)
    assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)
    assert len(str(info.value).splitlines()) == 1  # numpy's repr of 14 logits spans lines
    assert env.unwrapped.architecture is None  # nothing was built


@pytest.mark.parametrize(("wrapper", "action"), [
    (DiscreteToContinuousAction, np.zeros(14, np.float32)), (DiscreteToContinuousAction, [1.0] + [-1.0] * 13),
    (DiscreteToContinuousAction, np.ones(14, np.int64)),
    (FlatDiscreteAction, 5), (FlatDiscreteAction, np.int64(5)), (FlatDiscreteAction, np.array(5)),
])
def test_wrappers_accept_their_space(wrapper, action):
    env = wrapper(base())
    env.reset(seed=0)
    assert env.step(action)[4]["depth"] == 1


@pytest.mark.parametrize("wrapper", [DiscreteToContinuousAction, FlatDiscreteAction])
def test_wrapped_envs_pass_gymnasium_checker_and_rebuild_from_their_spec(wrapper):
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env as gym_check_env

    import gan_nas_env  # noqa: F401  (registers the ids)

    env = wrapper(gym.make("GANCellSearch-v0", config="tiny", evaluator="fake"))
    gym_check_env(env, skip_render_check=True)
    assert env.spec.additional_wrappers[-1].kwargs == {}  # RecordConstructorArgs: rebuildable
    again = gym.make(env.spec)
    assert type(again) is wrapper and again.action_space == env.action_space
    for space in (env.action_space, again.action_space):
        assert all(space.contains(space.sample()) for _ in range(20))
