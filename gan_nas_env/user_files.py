"""Files a user names on a command line: JSON inputs, and outputs checked before the work.

A maintainer's script (``scripts/``, ``benchmarks/``) handed a path that does not exist, a
folder, or a file that is not JSON should stop with one line naming the option and the
file, not a ``FileNotFoundError`` or ``JSONDecodeError`` traceback; an output it cannot
write should be refused before a long run, not after it. All of these are
:class:`~gan_nas_env.errors.UserError` here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gan_nas_env.errors import MissingFileError, UserError


def read_json_file(path: str | Path, what: str) -> Any:
    """The JSON document at ``path``; ``what`` names it in errors (an option, e.g. ``--runs``).

    :raises MissingFileError: ``path`` does not exist.
    :raises UserError: ``path`` is a folder, cannot be read, or is not JSON.
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{what} {p}: no such file")
    if p.is_dir():
        raise UserError(f"{what} {p} is a folder; name a JSON file")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{what} {p}: cannot be read ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{what} {p} is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def run_main(main: Callable[[], int | None], prog: str) -> int:
    """A script's ``main()`` as its exit status.

    A :class:`UserError` is one line on stderr (``prog: error: message``) and status 2; any
    other exception keeps its traceback.
    """
    try:
        return int(main() or 0)
    except UserError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2


def check_output_file(path: str | Path | None, flag: str) -> None:
    """Refuse the output file that option ``flag`` names if it is a folder or unwritable.

    Called before a command does its work (``None``: nothing to check); the file's missing
    folders can then be created.
    """
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a folder; name a file")
    where = nearest_existing(path if path.exists() else path.parent)
    if where != path and not where.is_dir():
        raise UserError(f"cannot create {flag} {path}: {where} is a file, not a folder")
    if why := unwritable(where):
        raise UserError(f"cannot write {flag} {path}: {where} is on {why}")


def nearest_existing(path: Path) -> Path:
    """``path``, or while it does not exist its nearest existing parent."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def unwritable(where: Path, mode: int = os.W_OK) -> str | None:
    """Why ``where`` (an existing path) lacks the access ``mode``, or None when it has it."""
    if os.access(where, mode):  # also False on a read-only file system, even for root
        return None
    return "a read-only file system" if read_only_fs(where) else "no write permission"


def read_only_fs(path: Path) -> bool:
    """Whether ``path`` lies on a file system mounted read-only."""
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def check_outputs(parser: argparse.ArgumentParser, args: argparse.Namespace, *flags: str) -> None:
    """:func:`check_output_file` for each option in ``flags`` that ``args`` sets.

    ``flags`` are the options' spellings (``"--out", "--md"``); the first bad file is the
    parser's usage error (exit status 2), before the script does its work.
    """
    for flag in flags:
        try:
            check_output_file(getattr(args, flag.lstrip("-").replace("-", "_"), None), flag)
        except UserError as exc:
            parser.error(str(exc))
