#!/usr/bin/env python
"""How to pack final rows onto this machine's cores: processes or threads?

A final row trains one small GAN (gf 16 / df 16): one torch thread runs it at a fraction of
the machine. This times the same work, two rows of ``--iters`` generator iterations of the
final protocol (two architectures of the table's sampling order, a scoring every
``retrain.eval_every`` as the protocol does), packed three ways:

- ``2 processes x 1 thread``: both rows at once, one process and one torch thread each (how
  ``scripts/build_finals.py --workers 2`` runs);
- ``1 process x 2 threads (rows in turn)``: one row after the other, two torch threads each;
- ``1 process x 1 thread (rows in turn)``: the reference (one core idle): what one row costs
  alone, so the first line's slowdown from sharing the machine shows.

Each packing is a whole ``gan-nas retrain`` process per row (start-up, data, training,
scoring), timed from outside; the packings take turns in rounds (rotated order) so a
drift of the machine's speed hits each alike. Throughput is rows per hour of the
machine. Run with nothing else on the CPU::

    python -m benchmarks.row_packing --out docs/perf/row_packing_cpu.json --md docs/perf/row_packing_cpu.md
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gan_nas_env.config import load_config
from gan_nas_env.evaluators.tabular import sampling_order
from gan_nas_env.provenance import provenance
from gan_nas_env.user_files import check_outputs

PACKINGS = {  # name -> (rows at once, torch threads per row)
    "2 processes x 1 thread": (2, 1),
    "1 process x 2 threads (rows in turn)": (1, 2),
    "1 process x 1 thread (rows in turn)": (1, 1),
}


def retrain_cmd(config: str, arch: str, iters: int, threads: int, out: Path,
                overrides: tuple[str, ...] = ()) -> list[str]:
    """One final row as its own process."""
    sets = [a for kv in (*overrides, f"train.threads={threads}") for a in ("--set", kv)]
    return [sys.executable, "-m", "gan_nas_env.cli", "retrain", "--config", config, "--arch", arch,
            "--iters", str(iters), "--out", str(out), "--no-progress", *sets]


def steady_s_per_iter(run: Path) -> float | None:
    """Seconds per generator iteration between the run's last two scorings (start-up excluded)."""
    import csv

    with open(run / "metrics.csv") as f:
        rows = [(int(r["iter"]), float(r["wall_s"])) for r in csv.DictReader(f)]
    if len(rows) < 2:
        return None
    (i0, w0), (i1, w1) = rows[-2], rows[-1]
    return (w1 - w0) / (i1 - i0)


def run_packing(name: str, archs: list[str], config: str, iters: int, tmp: Path,
                overrides: tuple[str, ...] = ()) -> tuple[float, list[float | None]]:
    """Wall seconds to train every row of ``archs`` under packing ``name``, and each row's
    steady seconds per iteration (training and its scoring, after start-up)."""
    at_once, threads = PACKINGS[name]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    for i in range(0, len(archs), at_once):
        procs = []
        for j, arch in enumerate(archs[i:i + at_once]):
            out = tmp / f"row{i + j}"
            shutil.rmtree(out, ignore_errors=True)
            procs.append(subprocess.Popen(retrain_cmd(config, arch, iters, threads, out, overrides), env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
        for p in procs:
            _, err = p.communicate()
            if p.returncode != 0:
                raise RuntimeError(f"{name}: a row failed (exit {p.returncode}):\n{err[-2000:]}")
    wall = time.perf_counter() - t0
    return wall, [steady_s_per_iter(tmp / f"row{i}") for i in range(len(archs))]


def measure(config: str, iters: int, rounds: int, packings: list[str],
            overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    """Rounds of every packing (rotated order); the rows' wall seconds and throughput."""
    cfg = load_config(config, list(overrides))
    archs = list(dict.fromkeys(str(a) for a in sampling_order(cfg.seed, 4)))[:2]
    walls: dict[str, list[float]] = {p: [] for p in packings}
    steady: dict[str, list[float]] = {p: [] for p in packings}
    with tempfile.TemporaryDirectory(prefix="row_packing_") as d:
        for r in range(rounds):
            order = packings[r % len(packings):] + packings[:r % len(packings)]
            for name in order:
                wall, per_iter = run_packing(name, archs, config, iters, Path(d), overrides)
                walls[name].append(wall)
                steady[name] += [x for x in per_iter if x is not None]
                print(f"round {r + 1}/{rounds}: {name}: {wall:.1f} s, steady s/iteration per row: "
                      + ", ".join(f"{x:.3f}" for x in per_iter if x is not None), flush=True)
    res: dict[str, Any] = {"config": config, "overrides": list(overrides), "iters": iters, "rounds": rounds,
                           "archs": archs, "packings": {}}
    for name, w in walls.items():
        med = statistics.median(w)
        at_once = PACKINGS[name][0]
        pace: float | None = statistics.median(steady[name]) if steady[name] else None
        res["packings"][name] = {
            "wall_s": w, "wall_s_median": med, "rows_per_hour": 3600 * len(archs) / med,
            "steady_s_per_iter": steady[name], "steady_ms_per_iter_median": 1000 * pace if pace else None,
            # the machine's generator iterations per second once started: what a long row build sees
            "machine_iters_per_s": at_once / pace if pace else None}
    ref = res["packings"].get(packings[0])
    for v in res["packings"].values():
        v["throughput_vs_first"] = v["rows_per_hour"] / ref["rows_per_hour"] if ref else None
        v["steady_throughput_vs_first"] = (v["machine_iters_per_s"] / ref["machine_iters_per_s"]
                                           if ref and ref["machine_iters_per_s"] and v["machine_iters_per_s"] else None)
    return res


def markdown(res: dict[str, Any], prov: dict[str, Any]) -> str:
    """The report."""
    m = prov["machine"]
    lines = [f"# Packing final rows onto the cores ({m['cpu']}, {m['cores']} cores)", "",
             f"`{prov['command']}` at git {str(prov['git_sha'])[:12]}, gan-nas-env {prov['version']}. Two rows "
             f"of `configs/{res['config']}.yaml` for {res['iters']} generator iterations each (architectures "
             f"{', '.join(f'`{a}`' for a in res['archs'])}), each a whole `gan-nas retrain` process; "
             f"median of {res['rounds']} rounds, packings in rotated order, nothing else on the CPU.", "",
             "Steady: each row's seconds per iteration between its last two scorings (a 500-iteration "
             "window with its scoring, start-up excluded), the pace of a long build; whole: both rows' "
             "processes from start to end, start-up included.", "",
             "| packing | steady ms per iteration of a row (median) | machine iterations per s (steady) | "
             "steady throughput vs first | wall s for both rows, whole | whole throughput vs first |",
             "|---|---|---|---|---|---|"]
    for name, v in res["packings"].items():
        ms = v["steady_ms_per_iter_median"]
        lines.append(f"| {name} | {ms:.0f} | {v['machine_iters_per_s']:.2f} | {v['steady_throughput_vs_first']:.2f}x "
                     f"| {v['wall_s_median']:.1f} | {v['throughput_vs_first']:.2f}x |" if ms else
                     f"| {name} | n/a | n/a | n/a | {v['wall_s_median']:.1f} | {v['throughput_vs_first']:.2f}x |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="final-fmnist-v2", help="final protocol preset")
    p.add_argument("--iters", type=int, default=500, help="generator iterations per row")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--packings", default=",".join(PACKINGS), help="comma-separated, of: " + "; ".join(PACKINGS))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for every row (say retrain.eval_every=2 for a quick check)")
    p.add_argument("--out", type=Path, default=None, help="JSON report")
    p.add_argument("--md", type=Path, default=None, help="Markdown report")
    args = p.parse_args(argv)
    check_outputs(p, args, "--out", "--md")  # before the work, not after it
    packings = [s.strip() for s in args.packings.split(",") if s.strip()]
    unknown = [s for s in packings if s not in PACKINGS]
    if unknown:
        p.error(f"unknown packing {unknown[0]!r}: choose from {', '.join(PACKINGS)}")
    if args.iters < 1 or args.rounds < 1:
        p.error("--iters and --rounds must be at least 1")
    res = measure(args.config, args.iters, args.rounds, packings, tuple(args.set))
    prov = {**provenance(), "command": "python -m benchmarks.row_packing " + " ".join(argv or sys.argv[1:])}
    res["provenance"] = prov
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1))
    text = markdown(res, prov)
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(text)
    print(text)
    return res


if __name__ == "__main__":
    main()
