import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff not installed (pip install -e '.[test]')")
def test_ruff_clean():
    r = subprocess.run(["ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="mypy not installed (pip install -e '.[test]')")
@pytest.mark.slow  # ~30 s: mypy over every package, script and benchmark (CI runs it in the slow step)
def test_mypy_clean():
    """``mypy`` over the files configured in pyproject.toml ([tool.mypy]: packages, scripts, benchmarks)."""
    r = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
