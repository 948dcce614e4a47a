"""The ask/tell NAS baselines (agents/optimizers.py) and their place in the benchmark harness."""

import json

import numpy as np
import pytest

from agents.optimizers import (
    OPTIMIZERS,
    LocalSearch,
    Optimizer,
    RegularizedEvolution,
    best_of,
    make_optimizer,
    mutate,
    neighbours,
    optimize,
    optimizer_class,
)
from gan_nas_env.config import ConfigError
from gan_nas_env.registry import UnknownNameError
from gan_nas_env.space import E2GAN_ARCH, Architecture


def _toy(arch: Architecture) -> float:
    """A smooth objective with one optimum (every decision at 0)."""
    return -float(sum(arch.to_vector()))


OUTSIDE = '''
from agents.optimizers import Optimizer
from gan_nas_env.space import E2GAN_ARCH


class Mine(Optimizer):
    """An outside method: always the E2GAN architecture."""

    def ask(self):
        return E2GAN_ARCH

    def tell(self, arch, value):
        self.last = value
'''


@pytest.fixture
def outside(tmp_path, monkeypatch):
    """``my_nas_method:Mine``, an optimizer in a module of its own on sys.path."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "my_nas_method.py").write_text(OUTSIDE)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    return "my_nas_method:Mine"


def test_neighbours_differ_in_one_decision():
    nb = neighbours(E2GAN_ARCH)
    assert len(nb) == 22 and len({str(a) for a in nb}) == 22
    v = np.array(E2GAN_ARCH.to_vector())
    assert all((np.array(a.to_vector()) != v).sum() == 1 for a in nb)
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert str(mutate(E2GAN_ARCH, rng)) in {str(a) for a in nb}


@pytest.mark.parametrize("name", ["random", "re", "ls", "tpe"])
def test_every_baseline_is_seeded_and_asks_complete_architectures(name):
    if name == "tpe":
        pytest.importorskip("optuna")
    runs = [optimize(make_optimizer(name, seed=s), _toy, 30) for s in (0, 0, 1)]
    assert [str(a) for a, _ in runs[0]] == [str(a) for a, _ in runs[1]]  # same seed, same asks
    assert [str(a) for a, _ in runs[0]] != [str(a) for a, _ in runs[2]]
    assert all(a.is_complete for a, _ in runs[0])


def test_local_search_climbs_to_the_optimum_and_restarts():
    ls = LocalSearch(seed=0, num_init=3)
    history = optimize(ls, _toy, 300)
    arch, value = best_of(history)
    assert value == 0.0 and str(arch) == " ".join(["0"] * 14)
    # never asks a neighbour twice (known values are reused); only random restarts may repeat
    assert len({str(a) for a, _ in history}) >= 0.95 * len(history)
    assert ls.restarts >= 1  # the global optimum is a local optimum: it restarted from there


def test_regularized_evolution_keeps_its_population_and_beats_random():
    re_ = RegularizedEvolution(seed=0, population_size=5, sample_size=2)
    h = optimize(re_, _toy, 60)
    assert len(re_.population) == 5
    assert best_of(h)[1] > best_of(optimize(make_optimizer("random", seed=0), _toy, 60))[1]
    with pytest.raises(ConfigError, match="sample_size"):
        RegularizedEvolution(population_size=2, sample_size=3)


def test_diverged_values_rank_last():
    ls = LocalSearch(seed=0, num_init=2)
    a, b = ls.ask(), None
    ls.tell(a, float("nan"))
    b = ls.ask()
    ls.tell(b, -5.0)
    assert ls._centre is not None and str(ls._centre[0]) == str(b)


def test_names_parameters_and_outside_methods(outside):
    assert set(OPTIMIZERS.names()) == {"random", "re", "ls", "tpe"}
    with pytest.raises(UnknownNameError, match="known: ls, random, re, tpe"):
        optimizer_class("nope")
    with pytest.raises(ConfigError, match="takes no parameter population"):
        make_optimizer("ls", population=3)
    assert make_optimizer("re", seed=3, population_size=4).population_size == 4
    # a value of the wrong type is named, not a TypeError from inside the constructor
    with pytest.raises(ConfigError, match=r"optimizer re: population_size must be an integer \(like its default 10\), not 'abc'"):
        make_optimizer("re", population_size="abc")
    with pytest.raises(ConfigError, match="num_init must be an integer"):
        make_optimizer("ls", num_init=2.5)
    with pytest.raises(ConfigError, match="sample_size must be an integer"):
        make_optimizer("re", sample_size=True)
    cls = optimizer_class(outside)
    assert cls.__name__ == "Mine" and issubclass(cls, Optimizer)
    with pytest.raises(ConfigError, match="not a subclass"):
        optimizer_class("gan_nas_env.space:Architecture")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        optimizer_class("no_such_module:X")


def test_tpe_tells_failed_trials():
    pytest.importorskip("optuna")
    tpe = make_optimizer("tpe", seed=0)
    a = tpe.ask()
    tpe.tell(a, float("nan"))
    b = tpe.ask()
    tpe.tell(b, 1.0)
    states = [t.state.name for t in tpe.study.trials]
    assert states == ["FAIL", "COMPLETE"]


# -- in the benchmark harness -------------------------------------------------------------------

pytest.importorskip("rliable")


def test_random_optimizer_asks_what_the_sb3_random_agent_builds(small_table):
    import gymnasium as gym

    import gan_nas_env  # noqa: F401
    from agents.benchmark.run import run_one, run_optimizer

    path, _, _ = small_table

    def make_env():
        return gym.make("GANCellSearchBench-v0", table=str(path)).unwrapped

    for seed in (0, 1):
        from agents.algorithms import make_agent, wrap_for_algo
        from agents.benchmark.run import EpisodeScores
        from agents.callbacks import E2GANSchedule

        env = make_env()  # the SB3-style agent as run_one ran it before optimizers existed
        cb = EpisodeScores(12)
        make_agent("random", wrap_for_algo(env, "random"), seed=seed, env_id="GANCellSearchBench-v0").learn(
            36, callback=[E2GANSchedule(12, full_buffer_update=True), cb])
        mine = run_optimizer("random", seed, 12, make_env)
        assert mine.archs == cb.log.archs and mine.scores == cb.log.scores
        assert mine.proxy_s == pytest.approx(cb.log.proxy_s) and mine.surrogate == cb.log.surrogate
        assert run_one("random", seed, 12, make_env).archs == mine.archs  # 'random' runs the optimizer


@pytest.mark.parametrize("objective", ["proxy", "final"])
def test_benchmark_compares_baselines_and_rl_at_both_objectives(final_table, tmp_path, objective,
                                                               outside):
    from agents.benchmark.final_scores import final_reference, proxy_reference, uniform_proxy_sample
    from agents.benchmark.run import run_benchmark
    from gan_nas_env.bench import GANBench
    from gan_nas_env.evaluators.tabular import load_table

    pytest.importorskip("optuna")
    path, _, archs = final_table
    algos = ["random", "re", "ls", "tpe", "ppo", outside]
    res = run_benchmark(algos, [0, 1, 2], 8, tmp_path / "b", env_id="GANCellSearchBench-v1",
                        env_kwargs={"table": str(path), "objective": objective}, reps=30,
                        progress=False, timing_steps=10)
    table = load_table(path)
    assert uniform_proxy_sample(table) == list(dict.fromkeys(str(a) for a in archs))
    ref = (final_reference if objective == "final" else proxy_reference)(table)
    assert res["objective"] == objective and res["ref_mean"] == ref["mean"]
    assert set(res["aggregates"]) == set(algos)
    curves = json.loads((tmp_path / "b" / "curves.json").read_text())
    bench = GANBench(table)
    for name, runs in curves["runs"].items():
        assert len(runs) == 3 and all(len(r["archs"]) == 8 for r in runs)  # the same budget
        for r in runs:
            for arch, value, measured in zip(r["archs"], r["objective"], r["measured"]):
                rec = bench.query(arch, objective, cost=False)
                assert value == pytest.approx(rec["objective"], rel=1e-5)  # what the run ranked by
                if objective == "final":
                    assert measured == rec["measured"]
        share = res["agents"][name]["measured_share"]
        assert 0 <= share <= 1
    assert all(set(r["archs"]) == {str(E2GAN_ARCH)} for r in curves["runs"][outside])
    ff = res["final_fidelity"]
    assert ff["ranked_by"] == ("final objective" if objective == "final" else "proxy score")
    if objective == "final":  # the final section is the run's own result then
        for name in algos:
            assert ff["aggregates"][name] == res["aggregates"][name]
    report = (tmp_path / "b" / "report.md").read_text()
    assert f"objective: {objective}" in report and "| measured |" in report
    # at the final objective the header says what answers an unmeasured architecture
    sur = ff["surrogate"]
    said = f"answered by the final surrogate (out-of-fold Spearman {sur['score_spearman']:.3f} over {sur['n']} "
    assert (said in report) == (objective == "final") and "- proxy surrogate (" in report


def test_benchmark_cli_objective_and_optimizer_parameters(final_table, tmp_path, capsys):
    from gan_nas_env.cli import main

    path, _, _ = final_table
    rc = main(["benchmark", "--algos", "re,ls,random", "--objective", "final", "--seeds", "2",
               "--episodes", "5", "--env-kwargs", json.dumps({"table": str(path)}), "--out",
               str(tmp_path / "b"), "--reps", "20", "--timing-steps", "10", "--no-progress",
               "--hyperparams", "re:population_size:3", "re:sample_size:2", "ls:num_init:2"])
    assert rc == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["env_id"] == "GANCellSearchBench-v1" and summary["objective"] == "final"
    assert summary["env_kwargs"]["objective"] == "final"
    assert main(["benchmark", "--algos", "ls", "--hyperparams", "ls:population_size:3",
                 "--out", str(tmp_path / "c")]) == 2
    assert "takes no parameter population_size" in capsys.readouterr().err
    assert main(["benchmark", "--algos", "ls", "--objective", "final", "--env", "GANCellSearch-v0",
                 "--out", str(tmp_path / "d")]) == 2
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()
