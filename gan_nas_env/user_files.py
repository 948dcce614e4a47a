"""JSON files a user names on a command line, read with an error that says what is wrong.

A maintainer's script (``scripts/``, ``benchmarks/``) handed a path that does not exist, a
folder, or a file that is not JSON should stop with one line naming the option and the
file, not a ``FileNotFoundError`` or ``JSONDecodeError`` traceback: both are
:class:`~gan_nas_env.errors.UserError` here.
"""

from __future__ import annotations

import json
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
