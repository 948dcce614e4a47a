"""Generated blocks of the Markdown pages: ``<!-- FAMILY:NAME -->`` ... ``<!-- /FAMILY:NAME -->``.

A page in ``docs/`` mixes prose with numbers that a script writes from a committed JSON
report; the script owns only the text between its markers, so a refresh rewrites the numbers
and keeps the prose. ``FAMILY`` names the writing script (``benchmark_doc``, ``seed_noise``,
``seed_comparison``), ``NAME`` the block. One implementation for every writer, so that each
``--check`` (is the page current?) and each rewrite agree on where a block starts and ends.
"""

from __future__ import annotations

import re
from collections.abc import Callable


def block_pattern(family: str) -> re.Pattern[str]:
    """The blocks of ``family``: groups ``name`` (without the family) and ``body`` (ends with a newline)."""
    return re.compile(rf"(<!-- {re.escape(family)}:(?P<name>[\w-]+) -->\n)(?P<body>.*?)"
                      rf"(<!-- /{re.escape(family)}:(?P=name) -->)", re.S)


def render_blocks(text: str, family: str, render: Callable[[str], str]) -> tuple[str, list[str]]:
    """``text`` with each ``family`` block's body replaced by ``render(name)``; the names that changed.

    A body that does not end with a newline gets one, so that the closing marker stays on its
    own line.
    """
    changed: list[str] = []

    def sub(m: re.Match[str]) -> str:
        body = render(m["name"])
        if not body.endswith("\n"):
            body += "\n"
        if body != m["body"]:
            changed.append(m["name"])
        return m.group(1) + body + m.group(4)

    return block_pattern(family).sub(sub, text), changed


def has_block(text: str, family: str, name: str | None = None) -> bool:
    """Whether ``text`` holds a ``family`` block (named ``name``, when given)."""
    return any(name is None or m["name"] == name for m in block_pattern(family).finditer(text))
