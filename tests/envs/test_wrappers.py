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
