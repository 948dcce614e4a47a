"""The README's Python snippets: they parse, train with a progress bar, and its dependencies ship."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _snippets() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_python_snippets_parse():
    snippets = _snippets()
    assert snippets, "README.md has no python snippets"
    for code in snippets:
        ast.parse(code)


def test_readme_training_calls_show_progress():
    """Every ``.learn(...)`` in the README passes ``progress_bar=True`` (minutes of silence otherwise)."""
    calls = [node for code in _snippets() for node in ast.walk(ast.parse(code))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "learn"]
    assert calls, "no .learn(...) call in the README"
    for call in calls:
        kw = {k.arg: k.value for k in call.keywords}
        assert isinstance(kw.get("progress_bar"), ast.Constant) and kw["progress_bar"].value is True, ast.unparse(call)


def test_progress_bar_dependencies_are_core_dependencies():
    """SB3's progress bar needs tqdm and rich: both are core dependencies and importable."""
    deps = (ROOT / "pyproject.toml").read_text().split("dependencies = [", 1)[1].split("]", 1)[0]
    for name in ("tqdm", "rich"):
        assert re.search(rf'"{name}[><=]', deps), f"{name} is not a core dependency"
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.callbacks import ProgressBarCallback

    ProgressBarCallback()  # raises ImportError without tqdm/rich


def test_every_preset_is_in_the_readmes_configuration_table():
    """A preset that ships in configs/ is listed (in backticks) in a row of the README's
    preset table, so that a user can find what it is for."""
    from gan_nas_env.config import preset_names

    text = (ROOT / "README.md").read_text()
    table = text.split("| preset | use |", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"`([a-z0-9-]+)`", "\n".join(r.split("|")[1] for r in table.splitlines()[2:])))
    assert set(preset_names()) <= listed, sorted(set(preset_names()) - listed)
