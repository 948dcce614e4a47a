"""Bad input, across the CLI and the Python API: one clear line, exit 2, nothing written.

Every CLI case runs ``gan-nas`` in-process from an empty working folder (plus the files
the case needs, made before the snapshot) and asserts the exit status 2, a one-line
message naming what is wrong, no traceback, and that no file was created or changed.
Every API case asserts the exception type, the message and that nothing was written; an API
case whose exception type is None asserts that it runs without one (a check that the right
answer comes back, e.g. a table file replaced with the same modification time is read again).
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


@functools.cache
def _finished_retraining() -> Path:
    """A finished 2-iteration tiny retraining (16 px synthetic images, latent 16), made once per
    process, with two damaged copies of its best.pt: ``inconsistent.pt`` (its recorded latent
    size contradicts its config) and ``wrong_sizes.pt`` (sizes and config say gf 32, the
    weights are gf 16)."""
    import torch

    from gan_nas_env.config import load_config
    from gan_nas_env.training.retrain import retrain

    root = Path(tempfile.mkdtemp(prefix="gan-nas-bad-inputs-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    out = root / "trained"
    retrain(load_config("tiny", {"retrain.g_iters": 2, "retrain.eval_every": 2}), "e2gan", out,
            progress=False)
    (out / "run.lock").unlink(missing_ok=True)
    ckpt = torch.load(out / "best.pt", weights_only=True)
    torch.save({**ckpt, "model": {**ckpt["model"], "latent_dim": 32}}, out / "inconsistent.pt")
    cfg = ckpt["config"]
    torch.save({**ckpt, "model": {**ckpt["model"], "gf": 32},
                "config": {**cfg, "retrain": {**cfg["retrain"], "gf": 32}}}, out / "wrong_sizes.pt")
    return out


def prepare(root: Path, setup: str) -> None:
    """What a CLI case needs besides :func:`make_files`: ``retrained`` copies a finished retraining
    to ``root/trained``; anything else is a damage of a finished search (:func:`damaged_run`)."""
    if setup == "retrained":
        shutil.copytree(_finished_retraining(), root / "trained")
    else:
        damaged_run(root, setup)


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


def make_files(root: Path) -> None:
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
    for key in ("proxy_hash", "config", "metrics"):
        _table_file(root / f"no_{key}.npz", drop=key)
    _table_file(root / "swapped_metrics.npz", metrics=["FID", "IS", "KID"])
    _table_file(root / "small_table.npz")


def _table_file(path: Path, drop: str | None = None, **meta_change: object) -> None:
    """A two-row table of the tiny config (baseline and one cell) with its metadata changed."""
    import json

    from gan_nas_env.config import MODEL_CODE_VERSION, load_config
    from gan_nas_env.evaluators.tabular import TABLE_FORMAT

    cfg = load_config("tiny", {"env.fixed_gan_seed": 0})
    meta = {"config": cfg.to_dict(), "proxy_hash": cfg.proxy_hash(), "gan_seed": 0, "format": TABLE_FORMAT,
            "metrics": ["IS", "FID", "KID"], "model_code": MODEL_CODE_VERSION, **meta_change}
    meta.pop(drop or "", None)
    np.savez_compressed(path, arch=np.array(["", "0 0 0 0"]), metrics=np.array([[1.0, 300.0, 0.3], [1.5, 200.0, 0.2]]),
                        representation=np.zeros((2, 16), np.float16), seconds=np.ones((2, 2)),
                        diverged=np.zeros(2, bool), meta=np.array(json.dumps(meta)))


S = ["search", "--config", "tiny", "--episodes", "1", "--no-progress", "--out", "r"]
RESUME = ["search", "--out", "run", "--resume", "--no-progress"]
B = ["benchmark", "--seeds", "1", "--episodes", "2", "--no-progress", "--out", "b"]
T = ["toy", "--steps", "10", "--out", "t"]
R = ["retrain", "--config", "tiny", "--out", "rt", "--no-progress"]

P = ["pbt", "--population", "1", "--iterations", "1", "--out", "p"]
EV = ["evaluate", "--checkpoint", "trained/best.pt", "--out", "ev"]
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
        "benchmark no agent": ([*B, "--algos", " , "], "no agent to run"),
        "benchmark agent twice": ([*B, "--algos", "random,RANDOM"], "agent random given more than once"),
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
    "benchmark tables": {
        "table given as a number": ([*B, "--env-kwargs", '{"table": 3}'], "a table is the path of a .npz"),
        "table without proxy_hash": ([*B, "--env-kwargs", '{"table": "no_proxy_hash.npz"}'],
                                     "no_proxy_hash.npz: its metadata lacks the key 'proxy_hash'"),
        "table without config": ([*B, "--env-kwargs", '{"table": "no_config.npz"}'],
                                 "no_config.npz: its metadata lacks the key 'config'"),
        "table without metric names": ([*B, "--env-kwargs", '{"table": "no_metrics.npz"}'],
                                       "no_metrics.npz: its metadata lacks the key 'metrics'"),
        "table with swapped metric columns": ([*B, "--env-kwargs", '{"table": "swapped_metrics.npz"}'],
                                              "its metric columns are ['FID', 'IS', 'KID'], not ['IS', 'FID', 'KID']"),
    },
    "evaluate a checkpoint under other settings": {
        "another image size": ([*EV, "--set", "data.image_size=32", "--set", "model.bottom_width=4"],
                               "data.image_size=32, but it was trained with data.image_size=16", "retrained"),
        "another latent size": ([*EV, "--set", "model.latent_dim=32"],
                                "model.latent_dim=32, but it was trained with model.latent_dim=16", "retrained"),
        "other channels": ([*EV, "--set", "data.channels=3"],
                           "data.channels=3, but it was trained with data.channels=1", "retrained"),
        "another generator width": ([*EV, "--set", "retrain.gf=32"],
                                    "retrain.gf=32, but it was trained with retrain.gf=16", "retrained"),
        "another generator count": ([*EV, "--set", "model.num_generators=2"],
                                    "model.num_generators=2, but it was trained with model.num_generators=1",
                                    "retrained"),
        "another data set": ([*EV, "--set", "data.name=fashion-mnist"],
                             "data.name='fashion-mnist', but it was trained with data.name='synthetic'", "retrained"),
        "another image size, beside the checkpoint": (
            [*EV[:3], "--set", "data.image_size=32", "--set", "model.bottom_width=4"],
            "data.image_size=32, but it was trained with data.image_size=16", "retrained"),
        "a checkpoint contradicting itself": (["evaluate", "--checkpoint", "trained/inconsistent.pt", "--out", "ev"],
                                              "contradicts itself: model.latent_dim=16 in its stored config, 32 in "
                                              "its model sizes", "retrained"),
        "weights that do not fit their sizes": (["evaluate", "--checkpoint", "trained/wrong_sizes.pt", "--out", "ev"],
                                                "its weights do not fit the generator of the sizes it records",
                                                "retrained"),
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
[, what :func:`prepare` makes first: ``retrained`` (a finished retraining in ``trained``) or the
file of a finished search (folder ``run``) damaged: cut in half, or a page overwritten])."""
CLI_CASES = {case: v for group in CLI_GROUPS.values() for case, v in group.items()}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_bad_input(case, tmp_path, monkeypatch, capsys):
    argv, fragment, *damage = CLI_CASES[case]
    monkeypatch.chdir(tmp_path)
    make_files(tmp_path)
    if damage:
        prepare(tmp_path, damage[0])
    capsys.readouterr()  # what making the finished run printed is not the case's output
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


def api_groups() -> dict[str, dict[str, tuple]]:
    """Python-API cases by what they get wrong: case -> (function of the case folder, the
    exception type (None: must not raise), a fragment of its message)."""
    from gan_nas_env.config import load_config
    from gan_nas_env.space import Architecture

    return {"Python API": {
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
        "table given as a number": (lambda p: _bench_env(table=3), UserError, "a table is the path of a .npz table file"),
        "table given as None": (lambda p: _bench_api(None), UserError, "a table is the path"),
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
    }, "action wrappers": {
        "flat index 3.7": (lambda p: _wrapped("flat").step(3.7), UserError, "outside the action space Discrete(144)"),
        "flat index 3.0": (lambda p: _wrapped("flat").step(3.0), UserError, "outside the action space Discrete(144)"),
        "flat index True": (lambda p: _wrapped("flat").step(True), UserError, "outside the action space Discrete(144)"),
        "flat index '3'": (lambda p: _wrapped("flat").step("3"), UserError, "outside the action space Discrete(144)"),
        "NaN logits": (lambda p: _wrapped("continuous").step(np.full(14, np.nan)), UserError,
                       "a NaN or infinite logit"),
        "infinite logit": (lambda p: _wrapped("continuous").step(np.r_[np.inf, np.zeros(13)]), UserError,
                           "a NaN or infinite logit"),
        "logit outside [-1, 1]": (lambda p: _wrapped("continuous").step(np.r_[5.0, np.zeros(13)]), UserError,
                                  "a logit outside [-1, 1]"),
        "logits of shape (2, 7)": (lambda p: _wrapped("continuous").step(np.zeros((2, 7))), UserError,
                                   "shape (2, 7)"),
        "wrapped envs pass gymnasium's check_env and rebuild from their spec": (
            lambda p: _check_wrapped_envs(), None, ""),
    }, "benchmark tables": {
        "table without proxy_hash": (lambda p: _bench(p / "no_proxy_hash.npz"), UserError,
                                     "lacks the key 'proxy_hash'"),
        "table without config": (lambda p: _bench(p / "no_config.npz"), UserError, "lacks the key 'config'"),
        "table without metric names": (lambda p: _table(p / "no_metrics.npz"), UserError,
                                       "lacks the key 'metrics'"),
        "table with swapped metric columns": (lambda p: _table(p / "swapped_metrics.npz"), UserError,
                                              "metric columns are ['FID', 'IS', 'KID']"),
        "query of a prefix not stored": (lambda p: _table(p / "small_table.npz").query("1 1 1 1"), UserError,
                                         "stores no row of '1 1 1 1'"),
        "table replaced with the same modification time": (lambda p: _replaced_table(), None, ""),
    }, "threads": {
        "a second thread steps an env another thread is in": (lambda p: _two_threads(), UserError,
                                                               "an env is not thread-safe"),
    }, "evaluate a checkpoint under other settings": {
        "another image size": (lambda p: _evaluate({"data.image_size": 32, "model.bottom_width": 4}, p),
                               UserError, "data.image_size=32, but it was trained with data.image_size=16"),
        "another latent size": (lambda p: _evaluate({"model.latent_dim": 32}, p), UserError,
                                "model.latent_dim=32, but it was trained with model.latent_dim=16"),
    }}


def api_cases() -> dict[str, tuple]:
    """Every API case of :func:`api_groups` by name."""
    return {case: v for group in api_groups().values() for case, v in group.items()}


def _wrapped(kind):
    from gan_nas_env.envs.wrappers import DiscreteToContinuousAction, FlatDiscreteAction

    env = (FlatDiscreteAction if kind == "flat" else DiscreteToContinuousAction)(_env())
    env.reset(seed=0)
    return env


def _check_wrapped_envs():
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env

    import gan_nas_env  # noqa: F401
    from gan_nas_env.envs.wrappers import DiscreteToContinuousAction, FlatDiscreteAction

    for wrapper in (DiscreteToContinuousAction, FlatDiscreteAction):
        env = wrapper(gym.make("GANCellSearch-v0", config="tiny", evaluator="fake"))
        check_env(env, skip_render_check=True)
        assert type(gym.make(env.spec)) is wrapper


def _table(path):
    from gan_nas_env.evaluators.tabular import Table

    return Table.load(path)


def _replaced_table():
    """A table file replaced by another with the same modification time is read again."""
    from gan_nas_env.evaluators.tabular import load_table

    root = Path(tempfile.mkdtemp(prefix="gan-nas-bad-inputs-"))
    try:
        path = root / "table.npz"
        _table_file(path)
        first = load_table(path)
        st = path.stat()
        _table_file(path, gan_seed=1)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        second = load_table(path)
        assert first.meta["gan_seed"] == 0 and second.meta["gan_seed"] == 1, "the old table was served"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _two_threads():
    """Step an env from a second thread while the first is inside its evaluator."""
    import threading

    from gan_nas_env.evaluators import FakeEvaluator

    class Held(FakeEvaluator):
        def step(self, cell):
            inside.set()
            assert release.wait(60)
            return super().step(cell)

    from gan_nas_env.envs.search_env import GANCellSearchEnv

    inside, release = threading.Event(), threading.Event()
    env = GANCellSearchEnv("tiny", evaluator=Held(16))
    env.reset(seed=0)
    worker = threading.Thread(target=env.step, args=([0] * 6,), name="first")
    worker.start()
    try:
        assert inside.wait(60)
        env.step([1, 0, 0, 0, 0, 0])
    finally:
        release.set()
        worker.join(60)


def _evaluate(overrides, root):
    from gan_nas_env.training.checkpoint_eval import evaluate_checkpoint

    return evaluate_checkpoint(_finished_retraining() / "best.pt", overrides, num_samples=64, out=root / "ev")


def _bench_api(path):
    from gan_nas_env.bench import GANBench

    return GANBench.load(path)


def _bench(path):
    return _bench_env(table=str(path))


def _bench_env(**kwargs):
    import gymnasium as gym

    import gan_nas_env  # noqa: F401

    return gym.make("GANCellSearchBench-v0", **kwargs)


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


API_CASES = list(api_cases())


@pytest.mark.parametrize("case", API_CASES)
def test_api_bad_input(case, tmp_path, monkeypatch):
    fn, exc_type, fragment = api_cases()[case]
    monkeypatch.chdir(tmp_path)
    make_files(tmp_path)
    before = snapshot(tmp_path)
    if exc_type is None:
        fn(tmp_path)
    else:
        with pytest.raises(exc_type) as info:
            fn(tmp_path)
        first = (str(info.value).splitlines() or [""])[0]  # what scripts/reliability.py judges too
        assert fragment.lower() in first.lower(), str(info.value)
    assert snapshot(tmp_path) == before


def test_there_are_at_least_60_distinct_bad_inputs():
    assert len(CLI_CASES) + len(API_CASES) >= 60
    # no case twice: a distinct command line, or a distinct damage to the run it resumes
    assert len({(tuple(a), *damage) for a, _, *damage in CLI_CASES.values()}) == len(CLI_CASES)


def test_user_error_is_the_base_of_what_exits_2():
    from gan_nas_env.config import ConfigError

    assert issubclass(ConfigError, UserError) and os.environ.get("GAN_NAS_ENV_CACHE")
