"""The base class of errors the user can fix, and the file one of them.

:class:`UserError` marks bad input: a bad config value or key, a data set that cannot be
found, an unknown name, a checkpoint that does not match the run it should resume, a results
store or benchmark table that cannot be used, a run folder that lacks what a command needs,
a malformed architecture string, a file the user named that does not exist. Its message
says what is wrong and, where it can, how to fix it.

The ``gan-nas`` command (:func:`gan_nas_env.cli.main`) catches only :class:`UserError`: it
prints ``gan-nas <command>: error: <message>`` on one line and exits with status 2. Every
other exception is a bug or a failure of the machine (or, like a diverged training, an
outcome that is not bad input) and keeps its traceback and a non-2 exit status.

Each subclass also derives from the builtin exception it replaced (``ConfigError`` is a
``ValueError``, ``UnknownNameError`` a ``KeyError``, :class:`MissingFileError` a
``FileNotFoundError``, ...), so code that catches the builtin keeps working.

This module imports nothing of the package: it is the bottom layer (pyproject.toml,
``[tool.importlinter]``).
"""

from __future__ import annotations

import errno

EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3  # gan-nas retrain: the training diverged (not bad input)
EXIT_DISK_FULL = 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


class UserError(Exception):
    """Bad input the user can fix; the CLI prints its message on one line and exits 2."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named (a checkpoint, a run to resume) does not exist."""


_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_SQLITE_FULL = 13  # sqlite3.SQLITE_FULL


def disk_full(exc: BaseException) -> bool:
    """True if ``exc`` (or an exception it was raised from) says a write found no space.

    Covers ``OSError`` ENOSPC/EDQUOT/EFBIG (open, write, seek, rename), SQLite's
    SQLITE_FULL (``database or disk is full``) and torch's ``file write failed`` from
    ``torch.save``, which carries no errno.
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in _FULL_ERRNOS:
            return True
        if getattr(e, "sqlite_errorcode", None) == _SQLITE_FULL:
            return True
        if isinstance(e, RuntimeError) and "file write failed" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False
