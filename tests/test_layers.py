"""The package layers (docs/architecture.md) hold: import-linter's contracts in pyproject.toml."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = {"layers", "acyclic", "library-without-agents", "light-package-init"}
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"

def _contracts() -> dict[str, dict]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in cfg["contracts"]}


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    pytest.importorskip("importlinter", reason="import-linter not installed (pip install -e '.[test]')")
    env = {**os.environ, "PYTHONPATH": str(cwd)}  # the tree in cwd, not an installed copy
    return subprocess.run([sys.executable, "-c", LINT, "--no-cache", "--no-logo"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_contracts_declared_and_every_module_placed():
    contracts = _contracts()
    assert CONTRACTS <= set(contracts)
    placed = {m.strip() for layer in contracts["layers"]["layers"] for m in layer.split("|")}
    top = {f"gan_nas_env.{p.stem}" for p in (ROOT / "gan_nas_env").glob("*.py") if p.stem != "__init__"}
    top |= {f"gan_nas_env.{p.parent.name}" for p in (ROOT / "gan_nas_env").glob("*/__init__.py")}
    assert top | {"agents"} == placed, "a new module or subpackage must be placed in a layer"


def test_lint_imports_passes():
    r = _lint(ROOT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert f"{len(_contracts())} kept, 0 broken" in out


def test_lint_imports_catches_bad_imports(tmp_path):
    for pkg in ("gan_nas_env", "agents"):
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "assets"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / "gan_nas_env" / "config.py", "a") as f:  # bottom -> middle, and a cycle
        f.write("\nfrom gan_nas_env.training import losses  # noqa\n")
    with open(tmp_path / "gan_nas_env" / "space.py", "a") as f:  # the library -> agents
        f.write("\nimport agents  # noqa\n")
    r = _lint(tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert f"0 kept, {len(_contracts())} broken" in out, out
    assert "gan_nas_env.config -> gan_nas_env.training.losses" in out
    assert "gan_nas_env.space -> agents" in out


def test_config_names_match_the_registries():
    """config keeps the loss and data set names (it may not import the layers that implement them)."""
    from gan_nas_env.config import DATASET_NAMES, LOSS_NAMES
    from gan_nas_env.data.images import DATASETS
    from gan_nas_env.training.losses import LOSSES

    assert sorted(LOSS_NAMES) == LOSSES.names()
    assert sorted(DATASET_NAMES) == DATASETS.names()
