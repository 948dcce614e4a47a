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


def _continued_lines_in_plain_docstrings(path: Path) -> list[int]:
    """Lines of ``path`` where a non-raw docstring ends a line with one backslash.

    Python joins such a line with the next, so a usage example's shell continuation
    vanishes from ``--help`` (seen in build_table.py); ``r\"\"\"`` keeps it.
    """
    import ast
    import re

    src = path.read_text()
    found = []
    for node in ast.walk(ast.parse(src)):
        body = getattr(node, "body", None)
        if not (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            continue
        seg = ast.get_source_segment(src, body[0]) or ""
        if seg.lstrip()[:1] in "rR":
            continue
        for m in re.finditer(r"(?<!\\)(?:\\\\)*\\\n", seg):
            found.append(body[0].lineno + seg.count("\n", 0, m.start()))
    return found


def test_no_docstring_swallows_a_shell_line_continuation():
    files = [p for d in ("gan_nas_env", "agents", "scripts", "benchmarks") for p in sorted((ROOT / d).rglob("*.py"))]
    bad = {str(p.relative_to(ROOT)): lines for p in files if (lines := _continued_lines_in_plain_docstrings(p))}
    assert not bad, f"use r\"\"\" for docstrings with a trailing backslash: {bad}"
