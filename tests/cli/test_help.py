"""``gan-nas --help`` and every subcommand's ``--help``: no torch import, no Sphinx markup.

The check is on the import graph (``sys.modules`` of a fresh interpreter after the help was
printed), not on the clock: importing torch is most of a slow ``--help``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gan_nas_env.cli.app import SUBCOMMANDS, build_parser

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "torchvision", "stable_baselines3", "sklearn", "matplotlib", "ray")
# reStructuredText roles (:class:`x`), literals (``x``) and references (`x`_)
SPHINX = re.compile(r":[a-z]+:`|``|`_\b")

HELP_SCRIPT = """
import contextlib, io, json, sys
from gan_nas_env.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(sys.argv[1:] + ["--help"])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _commands() -> list[list[str]]:
    build_parser()  # registers every subcommand
    return [[]] + [[name] for name in SUBCOMMANDS]


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "gan-nas")
def test_help_imports_no_torch_and_reads_as_plain_text(command: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", HELP_SCRIPT, *command], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["code"] == 0 and res["help"].startswith("usage: gan-nas"), res
    heavy = sorted({m.split(".")[0] for m in res["modules"]} & set(HEAVY))
    assert not heavy, f"gan-nas {' '.join(command)} --help imports {heavy}: import them where the " \
                      "command runs, not where its arguments are declared"
    assert not SPHINX.findall(res["help"]), res["help"]


def test_toy_target_names_match_the_registry() -> None:
    from gan_nas_env.toy.data import TOY_TARGETS
    from gan_nas_env.toy.settings import TOY_TARGET_NAMES

    assert sorted(TOY_TARGET_NAMES) == TOY_TARGETS.names()
