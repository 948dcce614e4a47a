"""The AutoGAN / E2GAN generator search space: architectures as data.

An architecture is 1 to 3 cells; the full one is the canonical 14-integer
vector ``conv norm up shortcut`` (cell 1) then ``conv norm up shortcut skip``
(cells 2 and 3). Its canonical string is the vector joined by spaces, e.g.
``"0 1 0 1 0 1 2 1 0 0 1 0 1 2"``; that string is the cache key and log label.

Skip of cell ``t`` is a bit mask over earlier cells: bit ``k`` (value ``2**k``)
links the first-conv output of cell ``t - 1 - k``. So cell 2 skip 1 = from
cell 1; cell 3 skip 1 = from cell 2, 2 = from cell 1, 3 = both.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from gan_nas_env.errors import UserError

NUM_CELLS = 3
CONV_CHOICES = ("post", "pre")
NORM_CHOICES = ("none", "bn", "in")
UP_CHOICES = ("bilinear", "nearest", "deconv")
SHORTCUT_CHOICES = ("no", "yes")
CELL_FIELDS = ("conv", "norm", "up", "shortcut", "skip")
_FIELD_SIZES = {"conv": len(CONV_CHOICES), "norm": len(NORM_CHOICES), "up": len(UP_CHOICES),
                "shortcut": len(SHORTCUT_CHOICES)}
ACTION_NVEC: tuple[int, ...] = (*_FIELD_SIZES.values(), 2, 2)
"""Choices of each integer of one env action: conv, norm, up, shortcut, skip bit 0, skip bit 1
(:func:`cell_from_action` decodes it)."""
CELL_WIDTHS = (4, 5, 5)  # integers per cell in the 14-vector


class ArchitectureError(UserError, ValueError):
    """A malformed architecture: a bad string, vector, name, field value or number of cells."""


def skip_choices(cell_index: int) -> int:
    """Number of skip values of the 0-based cell ``cell_index`` (1, 2, 4)."""
    return 2**cell_index


@dataclass(frozen=True)
class Cell:
    """One generator cell; each field is an index into its ``*_CHOICES`` tuple."""

    conv: int
    norm: int
    up: int
    shortcut: int
    skip: int = 0

    def skip_sources(self, cell_index: int) -> tuple[int, ...]:
        """0-based indices of earlier cells whose first-conv output is added here."""
        return tuple(cell_index - 1 - k for k in range(cell_index) if self.skip >> k & 1)

    def describe(self, cell_index: int) -> str:
        """Human-readable one-liner, e.g. ``cell 2: pre-act, bn, nearest, shortcut, skip<-[1]``."""
        parts = [
            f"{CONV_CHOICES[self.conv]}-act",
            NORM_CHOICES[self.norm],
            UP_CHOICES[self.up],
            "shortcut" if self.shortcut else "no shortcut",
        ]
        if cell_index > 0:
            src = [s + 1 for s in self.skip_sources(cell_index)]
            parts.append(f"skip<-{src}" if src else "no skip")
        return f"cell {cell_index + 1}: " + ", ".join(parts)


def _check(field: str, value: object, size: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArchitectureError(f"{where} {field}={value!r} is not an integer; allowed 0..{size - 1}")
    if not 0 <= int(value) < size:
        raise ArchitectureError(f"{where} {field}={value} is out of range; allowed 0..{size - 1}")
    return int(value)


@dataclass(frozen=True)
class Architecture:
    """An immutable architecture prefix of 1 to 3 cells.

    Build one with :meth:`from_vector` / :meth:`parse`; the constructor validates.
    """

    cells: tuple[Cell, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.cells) <= NUM_CELLS:
            raise ArchitectureError(f"an architecture has 1..{NUM_CELLS} cells, got {len(self.cells)}")
        for i, cell in enumerate(self.cells):
            where = f"cell {i + 1}"
            for field, size in _FIELD_SIZES.items():
                _check(field, getattr(cell, field), size, where)
            _check("skip", cell.skip, skip_choices(i), where)

    @property
    def depth(self) -> int:
        """Number of cells (1..3)."""
        return len(self.cells)

    @property
    def is_complete(self) -> bool:
        """True for a full 3-cell architecture."""
        return self.depth == NUM_CELLS

    def prefix(self, depth: int) -> Architecture:
        """The first ``depth`` cells."""
        if not 1 <= depth <= self.depth:
            raise ValueError(f"prefix depth must be 1..{self.depth}, got {depth}")
        return Architecture(self.cells[:depth])

    def append(self, cell: Cell) -> Architecture:
        """A new architecture with ``cell`` added at the end."""
        return Architecture((*self.cells, cell))

    def to_vector(self) -> list[int]:
        """The integer vector (4 + 5 + 5 for a full architecture)."""
        out: list[int] = []
        for i, c in enumerate(self.cells):
            out += [c.conv, c.norm, c.up, c.shortcut] + ([c.skip] if i > 0 else [])
        return out

    def __str__(self) -> str:
        return " ".join(map(str, self.to_vector()))

    def describe(self) -> str:
        """Multi-line human-readable description."""
        return "\n".join(c.describe(i) for i, c in enumerate(self.cells))

    @classmethod
    def from_vector(cls, vector: Sequence[int]) -> Architecture:
        """Decode a 4-, 9- or 14-integer vector; raises ArchitectureError naming the bad field."""
        values = list(vector)
        prefix_lengths = list(itertools.accumulate(CELL_WIDTHS))
        if len(values) not in prefix_lengths:
            raise ArchitectureError(
                f"architecture vector has {len(values)} integers; expected one of "
                f"{prefix_lengths} (1, 2 or 3 cells)"
            )
        cells, pos = [], 0
        for i, width in enumerate(CELL_WIDTHS[: prefix_lengths.index(len(values)) + 1]):
            chunk = values[pos : pos + width]
            pos += width
            where = f"cell {i + 1}"
            names = CELL_FIELDS[:width]
            for name, v in zip(names, chunk):
                size = skip_choices(i) if name == "skip" else _FIELD_SIZES[name]
                _check(name, v, size, where)
            cells.append(Cell(*(int(v) for v in chunk)))
        return cls(tuple(cells))

    @classmethod
    def parse(cls, text: str) -> Architecture:
        """Parse the canonical string (spaces or commas between integers)."""
        tokens = text.replace(",", " ").replace("[", " ").replace("]", " ").split()
        try:
            values = [int(t) for t in tokens]
        except ValueError:
            raise ArchitectureError(
                f"architecture string {text!r} must be integers separated by spaces, "
                'e.g. "0 1 0 1 0 1 2 1 0 0 1 0 1 2"'
            ) from None
        return cls.from_vector(values)


E2GAN_ARCH = Architecture.parse("0 1 0 1 0 1 2 1 0 0 1 0 1 2")
AUTOGAN_ARCH = Architecture.parse("1 0 1 1 1 0 0 1 1 1 0 1 0 3")
NAMED_ARCHITECTURES = {"e2gan": E2GAN_ARCH, "autogan": AUTOGAN_ARCH}


def resolve_architecture(spec: str | Sequence[int] | Architecture) -> Architecture:
    """Accept an Architecture, a vector, a canonical string or a name (``e2gan``, ``autogan``)."""
    if isinstance(spec, Architecture):
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in NAMED_ARCHITECTURES:
            return NAMED_ARCHITECTURES[key]
        if not any(ch.isdigit() for ch in key):
            raise ArchitectureError(
                f"unknown architecture name {spec!r}; known: {', '.join(NAMED_ARCHITECTURES)} "
                "or a 14-integer string"
            )
        return Architecture.parse(spec)
    return Architecture.from_vector(spec)


class SearchSpace:
    """The set of full architectures: size, uniform sampling, enumeration, index."""

    def cell_sizes(self, cell_index: int) -> tuple[int, ...]:
        """Choice counts of the fields of cell ``cell_index`` (0-based)."""
        sizes = tuple(_FIELD_SIZES.values())
        return sizes + ((skip_choices(cell_index),) if cell_index > 0 else ())

    def radices(self) -> list[int]:
        """Choice counts of the 14 decisions of a full architecture, in vector order."""
        return [n for i in range(NUM_CELLS) for n in self.cell_sizes(i)]

    def cells(self, cell_index: int) -> Iterator[Cell]:
        """All cells allowed at ``cell_index``."""
        for values in itertools.product(*(range(n) for n in self.cell_sizes(cell_index))):
            yield Cell(*values)

    def __len__(self) -> int:
        return int(np.prod([np.prod(self.cell_sizes(i)) for i in range(NUM_CELLS)]))

    def __iter__(self) -> Iterator[Architecture]:
        for combo in itertools.product(*(list(self.cells(i)) for i in range(NUM_CELLS))):
            yield Architecture(tuple(combo))

    def sample(self, rng: np.random.Generator, depth: int = NUM_CELLS) -> Architecture:
        """Uniformly sample an architecture prefix of ``depth`` cells."""
        cells = []
        for i in range(depth):
            cells.append(Cell(*(int(rng.integers(n)) for n in self.cell_sizes(i))))
        return Architecture(tuple(cells))

    def index(self, arch: Architecture) -> int:
        """Mixed-radix index of a full architecture in ``range(len(self))``."""
        if not arch.is_complete:
            raise ValueError("only full 3-cell architectures have an index")
        idx = 0
        for i, cell in enumerate(arch.cells):
            for v, n in zip(_cell_values(cell, i), self.cell_sizes(i)):
                idx = idx * n + v
        return idx

    def from_index(self, index: int) -> Architecture:
        """Inverse of :meth:`index`."""
        if not 0 <= index < len(self):
            raise ValueError(f"index {index} out of range 0..{len(self) - 1}")
        digits = []
        for n in reversed(self.radices()):
            digits.append(index % n)
            index //= n
        return Architecture.from_vector(list(reversed(digits)))


def _cell_values(cell: Cell, cell_index: int) -> list[int]:
    vals = [cell.conv, cell.norm, cell.up, cell.shortcut]
    return vals + ([cell.skip] if cell_index > 0 else [])


def cell_from_action(action: Sequence[int], cell_index: int) -> Cell:
    """Decode one env action ``(conv, norm, up, shortcut, bit0, bit1)`` for cell ``cell_index``.

    The first skip bit links the immediately preceding cell, the second the cell
    before that; bits that do not apply at this depth are ignored (README.md, "The environment").
    """
    conv, norm, up, shortcut, b0, b1 = (int(a) for a in action)
    skip = 0
    if cell_index >= 1:
        skip += b0
    if cell_index >= 2:
        skip += 2 * b1
    return Cell(conv, norm, up, shortcut, skip)


def action_from_cell(cell: Cell) -> list[int]:
    """The env action that :func:`cell_from_action` decodes back to ``cell``."""
    return [cell.conv, cell.norm, cell.up, cell.shortcut, cell.skip & 1, cell.skip >> 1 & 1]


SPACE = SearchSpace()
