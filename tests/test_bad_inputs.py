"""Bad input, across the CLI and the Python API: one clear line, exit 2, nothing written.

Every CLI case runs ``gan-nas`` in-process from an empty working folder (plus the files
the case needs, made before the snapshot) and asserts the exit status 2, a one-line
message naming what is wrong, no traceback, and that no file was created or changed.
Every API case asserts the exception type, the message and that nothing was written.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from gan_nas_env.cli import main
from gan_nas_env.errors import UserError


def snapshot(root: Path, ignore: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file and folder under ``root`` (but names in ``ignore``) with a hash of its content."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.name in ignore:
            continue
        rel = str(p.relative_to(root))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@functools.cache
def _finished_search() -> Path:
    """A finished 2-episode tiny search (fake evaluator), made once per process."""
    from agents.search import run_search
    from gan_nas_env.config import load_config
    from gan_nas_env.evaluators import FakeEvaluator

    root = Path(tempfile.mkdtemp(prefix="gan-nas-bad-inputs-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    run_search(load_config("tiny", {"search.learning_starts": 2}), root / "run", algo="sac",
               episodes=2, evaluator=FakeEvaluator(16), progress=False)
    return root / "run"


def damaged_run(root: Path, damage: str) -> None:
    """``root/run``: a finished search whose file ``damage`` is cut in half (``:truncate``) or,
    for ``results.sqlite``, has its third page overwritten."""
    shutil.copytree(_finished_search(), root / "run")
    name, _, how = damage.partition(":")
    path = root / "run" / name
    data = bytearray(path.read_bytes())
    if name == "results.sqlite" and how != "truncate":
        data[8192:12288] = b"Z" * 4096  # a b-tree page: the header still opens
    else:
        data = data[: len(data) // 2]
    path.write_bytes(bytes(data))


def _files(root: Path) -> None:
    (root / "a_file").write_text("not a folder")
    (root / "garbage.npz").write_bytes(b"this is not a table")
    (root / "garbage.pt").write_bytes(b"this is not a checkpoint")
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"arch": "0 " * 14, "model": {"w": torch.zeros(1000)}}, buf)
    (root / "truncated.pt").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    (root / "search").mkdir()
    (root / "search" / "top_architectures.json").write_text("{not json")
    (root / "utf16.yaml").write_text("train:\n  n_critic: 2\n", encoding="utf-16")
    (root / "twice.yaml").write_text("train:\n  n_critic: 2\ntrain:\n  g_lr: 0.001\n")
    (root / "key_twice.yaml").write_text("train:\n  n_critic: 2\n  n_critic: 3\n")


S = ["search", "--config", "tiny", "--episodes", "1", "--no-progress", "--out", "r"]
RESUME = ["search", "--out", "run", "--resume", "--no-progress"]
B = ["benchmark", "--seeds", "1", "--episodes", "2", "--no-progress", "--out", "b"]
T = ["toy", "--steps", "10", "--out", "t"]
R = ["retrain", "--config", "tiny", "--out", "rt", "--no-progress"]

P = ["pbt", "--population", "1", "--iterations", "1", "--out", "p"]
SEED_RANGE = "must be in [0, 2**32 - 1]"

CLI_GROUPS: dict[str, dict[str, tuple]] = {
    "config values": {
        "unknown preset": ([*S[:1], "--config", "nope", *S[3:]], "unknown config preset 'nope'"),
        "zero budget": ([*S, "--set", "train.n_critic=0"], "train.n_critic must be > 0"),
        "wrong type": ([*S, "--set", "train.n_critic=abc"], "must be int"),
        "unknown key": ([*S, "--set", "train.nope=1"], "unknown config key 'train.nope'"),
        "unknown section": ([*S, "--set", "nope.x=1"], "unknown config key 'nope'"),
        "section not a mapping": ([*S, "--set", "train=1"], "section train must be a mapping"),
        "override without =": ([*S, "--set", "train.n_critic"], "must look like key=value"),
        "nan learning rate": ([*S, "--set", "train.g_lr=nan"], "must be a finite number"),
        "inf learning rate": ([*S, "--set", "train.d_lr=inf"], "must be a finite number"),
        "nan diverged penalty": ([*S, "--set", "env.diverged_penalty=nan"], "must be a finite number"),
        "negative alpha": ([*S, "--set", "env.alpha=-1"], "env.alpha must be >= 0"),
        "explore fraction > 1": ([*S, "--set", "search.explore_fraction=2"], "explore_fraction must be in [0, 1]"),
        "top_k 0": ([*S, "--set", "search.top_k=0"], "search.top_k must be > 0"),
        "negative learning_starts": ([*S, "--set", "search.learning_starts=-3"], "learning_starts must be >= 0"),
        "ema decay 1": ([*S, "--set", "retrain.ema_decay=1"], "ema_decay must be in (0, 1)"),
        "beta1 1.5": ([*S, "--set", "train.beta1=1.5"], "train.beta1 must be in [0, 1)"),
        "negative gp weight": ([*S, "--set", "train.gp_weight=-1"], "gp_weight must be >= 0"),
        "grad clip 0": ([*S, "--set", "train.grad_clip=0"], "grad_clip must be > 0"),
        "unknown dataset": ([*S, "--set", "data.name=nope"], "unknown dataset 'nope'"),
        "unknown loss": ([*S, "--set", "train.loss=nope"], "unknown loss 'nope'"),
        "unknown features": ([*S, "--set", "metrics.features=nope"], "metrics.features must be"),
        "unknown FID reference": ([*S, "--set", "metrics.reference=nope"], "metrics.reference must be one of"),
        "2 channels": ([*S, "--set", "data.channels=2"], "data.channels must be 1 or 3"),
        "image size vs bottom width": ([*S, "--set", "model.bottom_width=5"], "must be 8 x model.bottom_width"),
        "seed not an int": ([*S, "--set", "seed=abc"], "'seed' must be int"),
    },
    "search options": {
        "unknown algorithm": ([*S, "--algo", "nope"], "unknown algorithm 'nope'"),
        "gamma 2": ([*S, "--hyperparams", "gamma:2"], "gamma of sac must be in [0, 1]"),
        "buffer size 0": ([*S, "--hyperparams", "buffer_size:0"], "buffer_size of sac must be > 0"),
        "negative learning rate": ([*S, "--hyperparams", "learning_rate:-1"], "learning_rate of sac must be > 0"),
        "nan tau": ([*S, "--hyperparams", "tau:nan"], "must be a finite number"),
        "unknown hyper-parameter": ([*S, "--hyperparams", "not_a_param:1"], "bad hyper-parameter for sac"),
        "hyper-parameter without colon": ([*S, "--hyperparams", "gamma"], "must look like name:value"),
        "episodes 0": ([*S, "--episodes", "0"], "episodes"),
        "device bogus": ([*S, "--device", "bogus"], "bogus"),
        "workers 0": ([*S, "--workers", "0"], "workers"),
        "resume nothing": ([*S, "--resume"], "nothing to resume"),
        "out is a file": ([*S[:-1], "a_file"], "a_file"),
        "out under a file": ([*S[:-1], "a_file/run"], "a_file is a file, not a folder"),
    },
    "retrain and evaluate": {
        "unknown architecture name": ([*R, "--arch", "nope"], "nope"),
        "short architecture": ([*R, "--arch", "0 1"], "architecture vector has 2 integers"),
        "architecture field out of range": ([*R, "--arch", "9 0 0 0 0 0 0 0 0 0 0 0 0 0"], "conv"),
        "architecture not integers": ([*R, "--arch", "a b c d"], "unknown architecture name"),
        "incomplete architecture": ([*R, "--arch", "0 0 0 0"], "3-cell"),
        "from-search missing": ([*R, "--from-search", "missing"], "missing"),
        "from-search bad json": ([*R, "--from-search", "search"], "top_architectures.json"),
        "retrain resume nothing": ([*R, "--arch", "e2gan", "--resume"], "resume"),
        "retrain iters 0": ([*R, "--arch", "e2gan", "--iters", "0"], "must be > 0"),
        "evaluate missing checkpoint": (["evaluate", "--checkpoint", "missing.pt"], "missing.pt"),
        "evaluate corrupt checkpoint": (["evaluate", "--checkpoint", "garbage.pt"], "is not a readable checkpoint"),
        "evaluate samples 0": (["evaluate", "--checkpoint", "missing.pt", "--num-samples", "0"], "missing.pt"),
    },
    "benchmark": {
        "benchmark unknown agent": ([*B, "--algos", "nope"], "unknown agent 'nope'"),
        "benchmark seeds 0": ([*B[:1], "--seeds", "0", *B[3:]], "--seeds and --episodes must be > 0"),
        "benchmark episodes 0": ([*B[:3], "--episodes", "0", *B[5:]], "--seeds and --episodes must be > 0"),
        "env kwargs not json": ([*B, "--env-kwargs", "{nope"], "--env-kwargs is not valid JSON"),
        "env kwargs not an object": ([*B, "--env-kwargs", "[1]"], "must be a JSON object"),
        "env kwargs misspelt key": ([*B, "--env-kwargs", '{"tabel": "x.npz"}'], "takes no keyword 'tabel'"),
        "missing table": ([*B, "--env-kwargs", '{"table": "missing.npz"}'], "does not exist"),
        "corrupt table": ([*B, "--env-kwargs", '{"table": "garbage.npz"}'], "is not a benchmark table"),
        "unknown env id": ([*B, "--env", "Nope-v0"], "Nope"),
        "benchmark bad hyper-parameter": ([*B, "--algos", "sac", "--hyperparams", "sac:gamma:2"], "gamma of sac"),
        "benchmark hyper-parameter format": ([*B, "--hyperparams", "sac"], "agent:name:value"),
    },
    "toy": {
        "toy unknown target": ([*T, "--target", "nope"], "nope"),
        "toy unknown loss": ([*T, "--loss", "nope"], "nope"),
        "toy generators 0": ([*T, "--generators", "0"], "generators"),
        "toy steps 0": ([*T[:1], "--steps", "0", *T[3:]], "steps"),
        "toy lr 0": ([*T, "--lr", "0"], "lr"),
    },
    "config files": {
        "config is a folder": ([*S[:1], "--config", "search", *S[3:]], "is a folder, not a YAML file"),
        "config in UTF-16": ([*S[:1], "--config", "utf16.yaml", *S[3:]], "not UTF-8 text"),
        "section given twice": ([*S[:1], "--config", "twice.yaml", *S[3:]], "key 'train' is given twice"),
        "key given twice": ([*S[:1], "--config", "key_twice.yaml", *S[3:]], "key 'n_critic' is given twice"),
    },
    "numbers out of range": {
        "negative seed": ([*S, "--seed", "-1"], f"seed {SEED_RANGE}"),
        "seed past 2**32": ([*S, "--seed", str(2**32)], f"seed {SEED_RANGE}"),
        "negative fixed GAN seed": ([*S, "--set", "env.fixed_gan_seed=-1"], f"env.fixed_gan_seed {SEED_RANGE}"),
        "log interval 0": ([*R, "--arch", "e2gan", "--set", "retrain.log_every=0"], "retrain.log_every must be > 0"),
        "KID subset 0": ([*S, "--set", "metrics.kid_subset_size=0"], "metrics.kid_subset_size must be > 0"),
        "real samples 0": ([*S, "--set", "metrics.real_samples=0"], "metrics.real_samples must be > 0"),
        "one sample for FID": ([*S, "--set", "metrics.num_samples=1"], "metrics.num_samples must be >= 2"),
        "one evaluation sample": ([*R, "--arch", "e2gan", "--set", "retrain.eval_samples=1"],
                                  "retrain.eval_samples must be >= 2"),
        "benchmark reps 0": ([*B, "--reps", "0"], "--reps and --timing-steps must be > 0"),
        "benchmark timing steps 0": ([*B, "--timing-steps", "0"], "--reps and --timing-steps must be > 0"),
        "pbt perturbation interval 0": ([*P, "--perturbation-interval", "0"], "--perturbation-interval"),
        "pbt cpus per member 0": ([*P, "--cpus-per-member", "0"], "--cpus-per-member must be > 0"),
        "pbt negative seed": ([*P, "--seed", "-1"], f"--seed {SEED_RANGE}"),
        "toy negative seed": ([*T, "--seed", "-1"], f"--seed {SEED_RANGE}"),
    },
    "cache folder": {
        "cache folder is a file": ([*S, "--set", "metrics.cache_dir=a_file"], "a_file is a file, not a folder"),
        "cache folder under a file": ([*S, "--set", "metrics.cache_dir=a_file/c"], "a_file is a file"),
    },
    "settings a command ignores": {
        "benchmark given search episodes": ([*B, "--env-kwargs", '{"overrides": {"search.episodes": 3}}'],
                                            "does not use search.episodes (use --episodes)"),
        "pbt given the E2GAN schedule": ([*P, "--env-kwargs", '{"overrides": ["search.explore_fraction=0.5"]}'],
                                         "does not use search.explore_fraction"),
    },
    "resume a damaged run": {
        "truncated model.zip": (RESUME, "checkpoint/model.zip cannot be read", "checkpoint/model.zip"),
        "truncated replay buffer": (RESUME, "replay_buffer.npz cannot be read", "checkpoint/replay_buffer.npz"),
        "truncated rng states": (RESUME, "rng.pkl cannot be read", "checkpoint/rng.pkl"),
        "truncated state.json": (RESUME, "state.json cannot be read", "checkpoint/state.json"),
        "store with a corrupt page": (RESUME, "results.sqlite cannot be used (quick_check", "results.sqlite"),
        "truncated store": (RESUME, "results.sqlite cannot be used", "results.sqlite:truncate"),
    },
}
"""Bad command lines by what they get wrong: case -> (argv, a fragment of the one-line message
[, the file of a finished run (folder ``run``) damaged first: cut in half, or a page overwritten])."""
CLI_CASES = {case: v for group in CLI_GROUPS.values() for case, v in group.items()}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_bad_input(case, tmp_path, monkeypatch, capsys):
    argv, fragment, *damage = CLI_CASES[case]
    monkeypatch.chdir(tmp_path)
    _files(tmp_path)
    if damage:
        damaged_run(tmp_path, damage[0])
    before = snapshot(tmp_path)
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's own errors (choices, types) exit 2 too
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert fragment.lower() in err.lower(), err
    assert "Traceback" not in err
    if not err.startswith("usage:"):  # argparse prints usage + one error line
        assert len(err.splitlines()) == 1, err
    assert snapshot(tmp_path) == before, "bad input wrote or changed files"


def _env():
    from gan_nas_env.envs.search_env import GANCellSearchEnv

    env = GANCellSearchEnv("tiny", evaluator="fake")
    env.reset(seed=0)
    return env


def _api_cases() -> dict[str, tuple]:
    from gan_nas_env.config import load_config
    from gan_nas_env.space import Architecture

    return {
        "config nan": (lambda p: load_config("tiny", {"train.g_lr": float("nan")}), UserError, "finite"),
        "config inf penalty": (lambda p: load_config("tiny", {"env.diverged_penalty": float("-inf")}),
                               UserError, "finite"),
        "architecture string": (lambda p: Architecture.parse("a b c"), UserError, "must be integers"),
        "float action": (lambda p: _env().step([0.5] * 6), ValueError, "outside the action space"),
        "truncatable float action": (lambda p: _env().step([1.9, 0, 0, 0, 0, 0]), ValueError,
                                     "outside the action space"),
        "integral float action": (lambda p: _env().step(np.zeros(6)), ValueError, "outside the action space"),
        "negative float action": (lambda p: _env().step([-0.5] * 6), ValueError, "outside the action space"),
        "string action": (lambda p: _env().step(["0"] * 6), ValueError, "outside the action space"),
        "short action": (lambda p: _env().step([0] * 5), ValueError, "outside the action space"),
        "missing table": (lambda p: _bench(p / "missing.npz"), UserError, "does not exist"),
        "corrupt table": (lambda p: _bench(p / "garbage.npz"), UserError, "is not a benchmark table"),
        "agent gamma": (lambda p: _agent({"gamma": 2}), UserError, "gamma of sac must be in [0, 1]"),
        "agent buffer": (lambda p: _agent({"buffer_size": 0}), UserError, "buffer_size of sac must be > 0"),
        "incomplete retrain": (lambda p: _retrain(p / "out", "0 0 0 0"), UserError, "3-cell"),
        "corrupt store": (lambda p: _store(p / "garbage.npz"), UserError, "garbage.npz"),
        "store is a folder": (lambda p: _store(p / "search"), UserError, "check that it is a writable file"),
        "corrupt checkpoint": (lambda p: _load_generator(p / "garbage.pt"), UserError,
                               "is not a readable checkpoint"),
        "truncated checkpoint": (lambda p: _load_generator(_truncated(p)), UserError,
                                 "is not a readable checkpoint"),
    }


def _bench(path):
    import gymnasium as gym

    import gan_nas_env  # noqa: F401

    return gym.make("GANCellSearchBench-v0", table=str(path))


def _agent(overrides):
    from agents.algorithms import make_agent, wrap_for_algo

    return make_agent("sac", wrap_for_algo(_env(), "sac"), overrides=overrides)


def _retrain(out, arch):
    from gan_nas_env.config import load_config
    from gan_nas_env.training.retrain import retrain

    return retrain(load_config("tiny"), arch, out, progress=False)


def _load_generator(path):
    from gan_nas_env.training.retrain import load_generator

    return load_generator(path)


def _truncated(root):
    # a real torch checkpoint cut in half, as a kill or a full disk leaves it (made before the snapshot)
    return root / "truncated.pt"


def _store(path):
    from gan_nas_env.evaluators.store import ResultsStore

    return ResultsStore(path)


API_CASES = list(_api_cases())


@pytest.mark.parametrize("case", API_CASES)
def test_api_bad_input(case, tmp_path, monkeypatch):
    fn, exc_type, fragment = _api_cases()[case]
    monkeypatch.chdir(tmp_path)
    _files(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(exc_type) as info:
        fn(tmp_path)
    assert fragment.lower() in str(info.value).lower()
    assert snapshot(tmp_path) == before


def test_there_are_at_least_60_distinct_bad_inputs():
    assert len(CLI_CASES) + len(API_CASES) >= 60
    # no case twice: a distinct command line, or a distinct damage to the run it resumes
    assert len({(tuple(a), *damage) for a, _, *damage in CLI_CASES.values()}) == len(CLI_CASES)


def test_user_error_is_the_base_of_what_exits_2():
    from gan_nas_env.config import ConfigError

    assert issubclass(ConfigError, UserError) and os.environ.get("GAN_NAS_ENV_CACHE")
