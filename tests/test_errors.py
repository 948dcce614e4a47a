"""Errors that tell the truth: only a UserError is bad input (exit 2, one line); the rest propagate."""

import json
import subprocess
import sys

import pytest

from gan_nas_env.cli import app, main
from gan_nas_env.config import ConfigError
from gan_nas_env.data.images import DataError
from gan_nas_env.devices import DeviceError, resolve_device
from gan_nas_env.errors import MissingFileError, UserError
from gan_nas_env.evaluators.store import ResultsStoreError
from gan_nas_env.evaluators.tabular import Table, TableError
from gan_nas_env.metrics.scorer import MetricsError
from gan_nas_env.registry import Registry, UnknownNameError
from gan_nas_env.run_folder import RunFolderError
from gan_nas_env.space import Architecture, ArchitectureError
from gan_nas_env.training.retrain import CheckpointError, ResumeError, RetrainDiverged

BAD_INPUTS = [
    (["search", "--config", "nope"], "unknown config preset 'nope'"),
    (["search", "--config", "tiny", "--set", "train.lr=1"], "unknown config key 'train.lr'"),
    (["search", "--config", "tiny", "--set", "train.n_critic"], "must look like key=value"),
    (["search", "--config", "tiny", "--algo", "sacc"], "unknown algorithm 'sacc'"),
    (["retrain", "--arch", "0 1 0 1 0 1 2 1 0 0 1 0 1 9"], "cell 3 skip=9 is out of range"),
    (["retrain", "--arch", "0 1 x"], "must be integers separated by spaces"),
    (["retrain", "--arch", "0 1 0 1"], "retraining needs a complete 3-cell architecture"),
    (["retrain", "--arch", "best"], "unknown architecture name 'best'"),
    (["retrain", "--arch", "e2gan", "--device", "bogus"], "device='bogus' is not a torch device"),
    (["evaluate", "--checkpoint", "missing.pt"], "checkpoint missing.pt does not exist"),
    (["benchmark", "--env-kwargs", json.dumps({"table": "missing.npz"}), "--algos", "random",
      "--seeds", "1", "--episodes", "1"], "missing.npz does not exist; build one with"),
    (["benchmark", "--env-kwargs", "[1]"], "--env-kwargs must be a JSON object"),
    (["benchmark", "--env", "NoSuchEnv-v0"], "--env 'NoSuchEnv-v0'"),
    (["toy", "--generators", "0"], "--generators must be >= 1, got 0"),
    (["toy", "--lr", "-1"], "--lr must be > 0"),
    (["toy", "--batch", "1", "--generators", "2", "--steps", "1"], "batch >= num_generators"),
]


@pytest.mark.parametrize(("argv", "needle"), BAD_INPUTS, ids=[" ".join(a)[:60] for a, _ in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths (missing.npz, runs/...) resolve here
    rc = main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith(f"gan-nas {argv[0]}: error: "), err
    assert needle in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_input_in_a_process_exits_2_without_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "gan_nas_env.cli", "retrain", "--arch", "0 1 x",
                        "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("gan-nas retrain: error: architecture string '0 1 x'"), r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()


def _patch_toy(monkeypatch, exc: BaseException) -> None:
    app._load_command_modules()  # registered before the patch, so the import does not undo it
    add_args, _ = app.SUBCOMMANDS["toy"]

    def boom(args):
        """Fail like a bug would."""
        raise exc

    monkeypatch.setitem(app.SUBCOMMANDS, "toy", (add_args, boom))


@pytest.mark.parametrize("exc", [RuntimeError("boom"), ValueError("boom"), KeyError("boom"),
                                 FileNotFoundError("boom"), TypeError("boom")])
def test_other_errors_propagate(exc, monkeypatch, capsys):
    """A bug (any exception but a UserError) is not turned into exit 2: it keeps its traceback."""
    _patch_toy(monkeypatch, exc)
    with pytest.raises(type(exc), match="boom"):
        main(["toy"])
    assert "error:" not in capsys.readouterr().err


def test_a_user_error_raised_anywhere_exits_2(monkeypatch, capsys):
    _patch_toy(monkeypatch, UserError("fix me"))
    assert main(["toy"]) == 2
    assert capsys.readouterr().err == "gan-nas toy: error: fix me\n"


def test_a_bug_in_a_process_exits_1_with_its_traceback(tmp_path):
    code = "\n".join([
        "import sys",
        "from gan_nas_env.cli import app",
        "app._load_command_modules()",
        "def boom(args):",
        "    '''Fail like a bug would.'''",
        "    raise RuntimeError('boom')",
        "app.SUBCOMMANDS['toy'] = (app.SUBCOMMANDS['toy'][0], boom)",
        "sys.exit(app.main(['toy']))",
    ])
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                       cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "Traceback" in r.stderr and "RuntimeError: boom" in r.stderr
    assert "error: boom" not in r.stderr


def test_retrain_divergence_exits_3_not_2(monkeypatch, capsys, tmp_path):
    """A diverged training is not bad input: one line, exit status 3 (documented in --help)."""
    import gan_nas_env.training.retrain as retrain_mod

    def diverge(*args, **kwargs):
        raise RetrainDiverged("non-finite loss at generator iteration 5; Last good checkpoint: none")

    monkeypatch.setattr(retrain_mod, "retrain", diverge)
    rc = main(["retrain", "--arch", "e2gan", "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 3
    assert err == ("gan-nas retrain: diverged: non-finite loss at generator iteration 5; "
                   "Last good checkpoint: none\n")
    assert not issubclass(RetrainDiverged, UserError) and issubclass(RetrainDiverged, RuntimeError)
    with pytest.raises(SystemExit):
        main(["retrain", "--help"])
    assert "3 the training diverged" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (ConfigError, ValueError),
        (UnknownNameError, KeyError),
        (UnknownNameError, ValueError),
        (TableError, ValueError),
        (ResultsStoreError, RuntimeError),
        (DataError, RuntimeError),
        (ResumeError, ValueError),
        (CheckpointError, ValueError),
        (MetricsError, RuntimeError),
        (ArchitectureError, ValueError),
        (DeviceError, RuntimeError),
        (RunFolderError, ValueError),
        (MissingFileError, FileNotFoundError),
    ],
)
def test_error_classes_are_user_errors_and_keep_their_builtin_base(cls, builtin):
    assert issubclass(cls, UserError)
    assert issubclass(cls, builtin)  # code that catches the builtin keeps working
    assert str(cls("message")) == "message"


def test_user_errors_at_their_raise_sites():
    with pytest.raises(ArchitectureError, match="cell 1 conv=2 is out of range"):
        Architecture.from_vector([2, 0, 0, 0])
    with pytest.raises(ArchitectureError, match="expected one of"):
        Architecture.from_vector([0, 0])
    reg = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(UnknownNameError, match="unknown thing 'b'; known: a"):
        reg.get("b")
    with pytest.raises(DeviceError, match="not a torch device"):
        resolve_device("bogus")
    with pytest.raises(TableError, match="does not exist"):
        Table.load("missing.npz")


def test_internal_invariants_stay_builtin():
    """Misuse by code, not by the user, is not a UserError (it must show its traceback)."""
    reg = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(ValueError, match="already registered") as err:
        reg.register("a", 2)
    assert not isinstance(err.value, UserError)
    with pytest.raises(ValueError, match="prefix depth") as err:
        Architecture.parse("0 1 0 1").prefix(2)
    assert not isinstance(err.value, UserError)
