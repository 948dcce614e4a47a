#!/usr/bin/env python
"""Write ``gan_nas_env/assets/generator_costs.json``: the per-cell params/FLOPs terms of a table.

:class:`gan_nas_env.bench.GANBench` answers ``cost["params"]`` and ``cost["flops"]`` as a
sum of one term per cell plus the stem (``gan_nas_env/bench.py``). This script computes
the terms with torch for the generator widths of a table's proxy and of its final protocol
and stores them, so that queries need no torch. Widths not in the file are computed when
first asked (about a second, with torch). ``--check`` compares the file with a fresh
computation and exits 1 on a difference::

    python scripts/build_generator_costs.py            # the shipped table
    python scripts/build_generator_costs.py --check
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gan_nas_env.config import load_config
from gan_nas_env.evaluators.tabular import DEFAULT_TABLE, Table
from gan_nas_env.generator_costs import COSTS_ASSET, COSTS_FORMAT, Widths, cell_cost_terms
from gan_nas_env.user_files import check_outputs

NOTE = ("params: trainable parameters of one generator (times model.num_generators); flops: "
        "multiply-accumulates of generating one image (Linear, Conv2d, ConvTranspose2d). Per widths "
        "key: stem_* per depth 0..3, cell_* per position in SPACE.cells(position) order. Written by "
        "scripts/build_generator_costs.py")


def table_widths(table: Table) -> list[Widths]:
    """The widths of the table's proxy generator and of its final protocol's."""
    out = [Widths.of(table.config, final=False)]
    if table.finals is not None:
        out.append(Widths.of(load_config(None, dict(table.finals.config)), final=True))
    return out


def build(tables: list[Path]) -> dict[str, object]:
    """The asset's content for every widths of ``tables``."""
    widths = {w.key(): w for t in tables for w in table_widths(Table.load(t))}
    return {"format": COSTS_FORMAT, "note": NOTE,
            "widths": {k: cell_cost_terms(widths[k]) for k in sorted(widths)}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", action="append", default=None,
                   help="table file (repeatable; default: the shipped one)")
    p.add_argument("--out", default=str(COSTS_ASSET))
    p.add_argument("--check", action="store_true", help="compare --out with a fresh computation")
    args = p.parse_args()
    check_outputs(p, args, "--out")  # before the work, not after it
    content = build([Path(t) for t in args.table or [DEFAULT_TABLE]])
    text = json.dumps(content, indent=1) + "\n"
    if args.check:
        if Path(args.out).read_text() != text:
            print(f"{args.out} differs from a fresh computation; rerun {sys.argv[0]} without --check")
            sys.exit(1)
        print(f"{args.out} is up to date")
        return
    Path(args.out).write_text(text)
    print(f"wrote {args.out}: widths {', '.join(content['widths'])}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
