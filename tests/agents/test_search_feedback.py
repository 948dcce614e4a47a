"""What a search tells its user: counts of this run's work, per-cell progress, TensorBoard points.

Searches run the fake evaluator on the tiny config (a few episodes, seconds).
"""

from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import agents.search
from agents.search import SearchResult, done_message, run_search
from gan_nas_env import cli
from gan_nas_env.config import load_config
from gan_nas_env.evaluators import FakeEvaluator

SETS = {"search.learning_starts": 4, "search.explore_fraction": 0.5}
CLI_SETS = [x for k, v in SETS.items() for x in ("--set", f"{k}={v}")]


def result(episodes, new=None):
    return SearchResult(Path("out"), None, None, [], episodes, 205.8, new_episodes=new)


def test_done_message_counts_what_this_run_did():
    assert done_message(result(13, 1)) == "1 new episode (13 in all) in 205.8 s"
    assert done_message(result(13, 4)) == "4 new episodes (13 in all) in 205.8 s"
    assert done_message(result(13, 13)) == "13 episodes in 205.8 s"
    assert done_message(result(13)) == "13 episodes in 205.8 s"
    assert done_message(result(1, 1)) == "1 episode in 205.8 s"


@pytest.fixture
def fake_cli(monkeypatch):
    """``gan-nas search`` with the fake evaluator (the command itself always asks for 'real')."""
    real = agents.search.run_search
    monkeypatch.setattr(agents.search, "run_search", lambda *a, **k: real(*a, **{**k, "evaluator": "fake"}))


def test_a_resumed_search_says_how_many_episodes_it_ran(tmp_path, fake_cli, capsys):
    out = tmp_path / "run"
    base = ["search", "--no-progress", "--out", str(out)]
    assert cli.main([*base, "--config", "tiny", *CLI_SETS, "--episodes", "1"]) == 0
    printed = capsys.readouterr().out
    assert "[gan-nas] 1 episode in " in printed and "1 episodes" not in printed
    assert cli.main([*base, "--resume", "--episodes", "2"]) == 0
    printed = capsys.readouterr().out
    assert "[gan-nas] 1 new episode (2 in all) in " in printed, printed
    assert cli.main([*base, "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "has done its 2 episodes: nothing to run" in printed and "new episode" not in printed


def test_progress_per_cell_and_a_tensorboard_point_per_episode(tmp_path, capsys):
    out = tmp_path / "run"
    res = run_search(load_config("tiny", SETS), out, algo="sac", episodes=3,
                     evaluator=FakeEvaluator(16), progress=True)
    assert res.episodes == res.ran == 3
    err = capsys.readouterr().err
    assert "cell=3/3" in err and "cell_s=" in err, err  # the bar's postfix after each cell
    (events,) = (out / "tb").rglob("events.out.tfevents.*")
    acc = EventAccumulator(str(events.parent))
    acc.Reload()
    returns = acc.Scalars("search/episode_return")
    assert [e.step for e in returns] == [3, 6, 9]  # every episode, at its env step
    assert [e.value for e in acc.Scalars("search/episodes_done")] == [1, 2, 3]
    assert len(acc.Scalars("proxy/IS_stage1")) == 3
