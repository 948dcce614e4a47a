"""GANCellSearchBench-v1: the tabular env rewarding the proxy or the final score."""

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import gan_nas_env  # noqa: F401
from gan_nas_env.bench import GANBench
from gan_nas_env.envs.bench_env import tabular_evaluator
from gan_nas_env.envs.search_env import GANCellSearchEnv
from gan_nas_env.errors import UserError
from gan_nas_env.evaluators.tabular import Table
from gan_nas_env.space import SPACE, action_from_cell


def _episode(env, arch):
    env.reset(seed=0)
    return [env.step(action_from_cell(c)) for c in arch.cells]


@pytest.mark.parametrize("objective", ["proxy", "final"])
def test_v1_passes_the_env_checker_and_never_truncates(final_table, objective):
    env = gym.make("GANCellSearchBench-v1", table=str(final_table[0]), objective=objective)
    assert env.spec.max_episode_steps is None
    check_env(env.unwrapped, skip_render_check=True)
    rng = np.random.default_rng(0)
    for _ in range(5):
        steps = _episode(env, SPACE.sample(rng))
        assert [s[2] for s in steps] == [False, False, True]  # terminated
        assert not any(s[3] for s in steps)  # truncated
        assert steps[-1][4]["objective"] == pytest.approx(sum(s[1] for s in steps)
                                                          if objective == "final" else steps[-1][4]["score"])


def test_final_objective_return_is_the_benchmark_objective(final_table):
    path, _, archs = final_table
    env = gym.make("GANCellSearchBench-v1", table=str(path), objective="final")
    bench = GANBench(Table.load(path))
    rng = np.random.default_rng(1)
    for arch in [archs[0], archs[5], *(SPACE.sample(rng) for _ in range(3))]:  # measured, then predicted
        steps = _episode(env, arch)
        rec = bench.query(arch, fidelity="final")
        assert [s[1] for s in steps[:2]] == [0.0, 0.0]
        assert sum(s[1] for s in steps) == rec["objective"]
        assert steps[-1][4]["measured"] == rec["measured"]


def test_proxy_objective_is_v0(final_table):
    path = str(final_table[0])
    v0 = gym.make("GANCellSearchBench-v0", table=path)
    v1 = gym.make("GANCellSearchBench-v1", table=path, objective="proxy")
    rng = np.random.default_rng(2)
    for _ in range(3):
        arch = SPACE.sample(rng)
        old, new = _episode(v0, arch), _episode(v1, arch)
        for a, b in zip(old, new):
            assert np.array_equal(a[0], b[0]) and a[1] == b[1] and a[2] == b[2]
        # v1 ends by termination alone; v0's registered time limit also truncates the last
        # step, unless rl_zoo3 was imported in this process (tests/agents/test_rl_zoo.py does):
        # its gym_patches replaces gymnasium's TimeLimit by one that never truncates a
        # terminated step
        assert old[-1][2] and new[-1][2] and not new[-1][3]
        assert old[-1][3] is ("rl_zoo3.gym_patches" not in sys.modules)
        bench = GANBench(Table.load(path))
        assert new[-1][4]["objective"] == pytest.approx(bench.query(arch, "proxy")["objective"])
        assert new[-1][4]["measured"] == bench.query(arch, "proxy", cost=False)["measured"]


def test_tabular_evaluator_is_found_through_the_wrappers(small_table):
    env = gym.make("GANCellSearchBench-v0", table=str(small_table[0]))
    ev = tabular_evaluator(env)
    assert ev is not None and ev is tabular_evaluator(env.unwrapped) and ev.table.path
    env.reset(seed=0)
    env.step(action_from_cell(SPACE.sample(np.random.default_rng(0)).cells[0]))
    assert ev.lookups + ev.surrogate_calls == 1
    assert env.unwrapped.sample_images(4) is None  # a table has no generator
    assert tabular_evaluator(GANCellSearchEnv("tiny", evaluator="fake")) is None


def test_bad_objectives_and_tables(final_table, small_table):
    with pytest.raises(UserError, match="unknown objective 'fid'; use one of proxy, final"):
        gym.make("GANCellSearchBench-v1", table=str(final_table[0]), objective="fid")
    with pytest.raises(UserError, match="has no final rows"):
        gym.make("GANCellSearchBench-v1", table=str(small_table[0]), objective="final")
    with pytest.raises(UserError, match="change the proxy"):
        gym.make("GANCellSearchBench-v1", table=str(final_table[0]), overrides={"train.n_critic": 7})


def test_v1_cold_start_imports_neither_torch_nor_sklearn(final_table):
    code = f"""
import json, sys, time
t0 = time.perf_counter()
import gymnasium as gym
import gan_nas_env
env = gym.make("GANCellSearchBench-v1", table={str(final_table[0])!r}, objective="final")
env.reset(seed=0)
env.action_space.seed(0)
for _ in range(10):
    if env.step(env.action_space.sample())[2]:
        env.reset()
print(json.dumps({{"s": time.perf_counter() - t0, "torch": "torch" in sys.modules,
                   "sklearn": "sklearn" in sys.modules}}))
"""
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout.strip().splitlines()[-1])
    assert not out["torch"] and not out["sklearn"]
