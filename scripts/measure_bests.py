#!/usr/bin/env python
"""The best architectures of a benchmark run that the table has no measured final row for.

A published table should be 100% measured at the final fidelity: every run's best
architecture (by the value the run ranked by, proxy score or final objective) trained by
the final protocol, not predicted by the final surrogate. This script reads a finished
``gan-nas benchmark`` folder (its ``curves.json``), looks every run's best up in the table
(``GANBench.query(arch, fidelity="final")["measured"]``) and prints, per agent, the
measured share and the missing architectures. ``--out`` writes them as JSON in the form
``scripts/build_finals.py --extra-from`` reads (``rows[].best_arch``); ``--train`` runs
``scripts/build_finals.py`` on exactly those, by the final protocol the table holds (its
preset is found in ``configs/``; resumable like it; arguments after ``--`` go to it
unchanged, e.g. ``-- --workers 2 --worker 0 --minutes 60``). Afterwards
``bash scripts/refresh_finals.sh FOLDER`` puts the new rows into the table and re-analyses
the run.

    python scripts/measure_bests.py runs/bench                       # list what is missing
    python scripts/measure_bests.py runs/bench --out runs/bench/missing_bests.json
    python scripts/measure_bests.py runs/bench --rows-out scripts/rows_bests.txt   # a rows list
    python scripts/measure_bests.py runs/bench_v2/baselines_{final,proxy} --rows-out scripts/rows_v2_bests.txt
    OPENBLAS_NUM_THREADS=1 nohup python scripts/measure_bests.py runs/bench --train -- --minutes 600 &

Missing architectures are listed seed by seed (``--order seed``, the default: every agent's
seed-0 best, then every seed-1 best, ..., so that a build stopped part-way leaves every agent
measured at the same seeds) or agent by agent (``--order agent``); agents in the run's order
with ``random`` first (every P(agent > random) compares with it); each architecture once.
Several folders (a benchmark's two objectives) are listed as one, seed by seed across them.
Exit status: 0 when every best is measured, 1 when some are missing (after training, the
status of the listing made before it), 2 on bad input; build_finals.py's own status when
the training stopped early (128 + the signal's number when paused by one).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from agents.benchmark.final_scores import best_arch_curve
from agents.benchmark.report import RunLog
from gan_nas_env.bench import GANBench
from gan_nas_env.config import load_config, preset_names
from gan_nas_env.errors import UserError
from gan_nas_env.evaluators.tabular import DEFAULT_TABLE
from gan_nas_env.provenance import provenance
from gan_nas_env.user_files import check_output_file

BUILD_FINALS = Path(__file__).resolve().parent / "build_finals.py"


def run_bests(folder: Path) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The run's recorded settings and, per agent, each run's best architecture ('' if none)."""
    path = folder / "curves.json"
    if not path.is_file():
        raise UserError(f"{folder} holds no curves.json: not a finished gan-nas benchmark folder")
    data = json.loads(path.read_text())
    runs = data.pop("runs")
    return data, {a: [(best_arch_curve(RunLog(**r)) or [""])[-1] for r in rs] for a, rs in runs.items()}


ORDERS = ("seed", "agent")
"""How the missing bests are listed: seed by seed (every agent's seed-0 run before any seed 1,
so that a partial build leaves every agent measured at the same seeds) or agent by agent."""


def missing_bests(folder: Path, table: str | Path | None = None, order: str = "seed") -> dict[str, Any]:
    """Per agent: runs, measured share of their bests and the bests without a measured final row.

    :param table: the table to look them up in (default: the one the run used).
    :param order: of ``missing`` (:data:`ORDERS`); ``by_seed`` holds them seed by seed either way.
    """
    if order not in ORDERS:
        raise UserError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")
    info, bests = run_bests(folder)
    path = table or (info.get("table") or {}).get("path") or DEFAULT_TABLE
    bench = GANBench.load(path, alpha=info.get("alpha"))
    if bench.table.finals is None:
        raise UserError(f"table {path} has no final fidelity (proxy rows only): nothing is measured there")
    agents: dict[str, Any] = {}
    names = sorted(bests, key=lambda a: a != "random")
    for name in names:
        archs = [a for a in bests[name] if a]
        measured = {a: bool(bench.query(a, "final", cost=False)["measured"]) for a in set(archs)}
        lacking = list(dict.fromkeys(a for a in archs if not measured[a]))
        agents[name] = {"runs": len(bests[name]), "measured": sum(measured[a] for a in archs),
                        "measured_share": sum(measured[a] for a in archs) / max(1, len(bests[name])),
                        "missing": lacking}
    by_agent = list(dict.fromkeys(a for v in agents.values() for a in v["missing"]))
    by_seed = [list(dict.fromkeys(bests[name][i] for name in names if i < len(bests[name])
                                  and bests[name][i] in by_agent))
               for i in range(max((len(v) for v in bests.values()), default=0))]
    missing = list(dict.fromkeys(a for seed in by_seed for a in seed)) if order == "seed" else by_agent
    return {"folder": str(folder), "table": str(path), "final_hash": bench.table.finals.final_hash,
            "objective": info.get("objective", "proxy"), "order": order,
            "agents": agents, "missing": missing, "by_seed": by_seed,
            "rows": [{"best_arch": a} for a in missing]}  # what build_finals --extra-from reads


def merge(results: list[dict[str, Any]], order: str = "seed") -> dict[str, Any]:
    """Several runs' listings (:func:`missing_bests`, e.g. a benchmark's two objectives) as one:
    seed by seed across the runs (seed 0 of every run, then seed 1, ...) or run after run; each
    architecture once. One listing is returned as it is; runs of different tables are refused."""
    if len(results) == 1:
        return results[0]
    hashes = {r["final_hash"] for r in results}
    if len(hashes) > 1:
        raise UserError(f"the runs' tables hold other final protocols ({', '.join(sorted(hashes))}); "
                        "list them one by one")
    if order == "seed":
        n = max(len(r["by_seed"]) for r in results)
        merged = [a for i in range(n) for r in results for a in (r["by_seed"][i] if i < len(r["by_seed"]) else [])]
    else:
        merged = [a for r in results for a in r["missing"]]
    missing = list(dict.fromkeys(merged))
    return {"folder": ", ".join(r["folder"] for r in results), "table": results[0]["table"],
            "final_hash": results[0]["final_hash"], "order": order,
            "objective": "/".join(dict.fromkeys(r["objective"] for r in results)),
            "runs": results, "missing": missing, "rows": [{"best_arch": a} for a in missing]}


def rows_list(res: dict[str, Any]) -> str:
    """The missing bests as a ``build_finals.py --rows-from`` list: each at seed 0, in order."""
    table = Path(res["table"])
    if table.is_absolute() and table.is_relative_to(Path.cwd()):  # not this machine's folders
        table = table.relative_to(Path.cwd())
    head = (f"# The best architectures of {res['folder']} (objective {res['objective']}) without a measured\n"
            f"# final row in {table} ({res['final_hash']}), listed {res['order']} by {res['order']}, "
            "written by\n# scripts/measure_bests.py --rows-out: one row per line, "
            "an architecture then its seed.\n")
    return head + "".join(f"{a} 0\n" for a in res["missing"])


def protocol_preset(key: str) -> str | None:
    """The preset in ``configs/`` whose final protocol keys its rows by ``key``, if any."""
    for name in preset_names():
        try:
            if load_config(name).final_rows_key() == key:
                return name
        except UserError:  # a preset that does not load on its own has no rows to match
            continue
    return None


def build_finals_command(listing: Path, passthrough: list[str], table_key: str | None = None) -> list[str]:
    """``scripts/build_finals.py`` training only the architectures of ``listing``.

    Its ``--config`` is the preset of the table's final protocol (``table_key``), so that
    the new rows are of the protocol the table holds (build_finals' own default is v1's);
    a ``--config`` in ``passthrough`` wins.
    """
    config: list[str] = []
    if table_key is not None and not any(a == "--config" or a.startswith("--config=") for a in passthrough):
        name = protocol_preset(table_key)
        if name is None:
            raise UserError(f"the table's final rows are of protocol {table_key}, which no preset in "
                            "configs/ trains; name its config after --: -- --config YOUR.yaml")
        config = ["--config", name]
    return [sys.executable, str(BUILD_FINALS), "--archs", "0", "--extra", "", "--extra-from",
            str(listing), *config, *passthrough]


def print_listing(runs: list[dict[str, Any]], res: dict[str, Any]) -> None:
    """Per run and agent the measured share, then the missing architectures in build order."""
    for run in runs:
        if len(runs) > 1:
            print(f"{run['folder']} (objective {run['objective']}):")
        for name, a in run["agents"].items():
            print(f"{name:>14}: {a['measured']}/{a['runs']} bests measured "
                  f"({100 * a['measured_share']:.0f}%), {len(a['missing'])} distinct missing")
    print(f"{len(res['missing'])} distinct best architectures lack a measured final row "
          f"(table {res['table']}, objective {res['objective']}), listed {res['order']} by {res['order']}")
    for arch in res["missing"]:
        print(f"  {arch}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, passthrough = argv[:at], argv[at + 1:]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", type=Path, nargs="+", metavar="FOLDER",
                   help="finished gan-nas benchmark folders (curves.json); several are listed as one "
                        "(e.g. a benchmark's two objectives)")
    p.add_argument("--order", choices=ORDERS, default="seed",
                   help="seed: every agent's (and folder's) seed-0 best first, then seed 1, ... (a "
                        "partial build leaves every agent measured at the same seeds); agent: agent by agent")
    p.add_argument("--table", default=None, help="table to look the bests up in (default: the run's)")
    p.add_argument("--out", type=Path, default=None,
                   help="write the listing as JSON (build_finals.py --extra-from reads it)")
    p.add_argument("--rows-out", type=Path, default=None,
                   help="write the missing bests as a rows list, seed 0 (build_finals.py --rows-from reads it; "
                        "benchmarks/gpu_suite.sh finals takes them through FINALS_ARGS)")
    p.add_argument("--train", action="store_true",
                   help="train the missing bests with scripts/build_finals.py (arguments after -- go to it)")
    p.add_argument("--dry-run", action="store_true", help="with --train: print its command only")
    args = p.parse_args(argv)
    if args.dry_run and not args.train:
        p.error("--dry-run goes with --train (it prints the training command instead of running it)")
    try:
        for flag, path in (("--out", args.out), ("--rows-out", args.rows_out)):
            check_output_file(path, flag)
        runs = [missing_bests(folder, args.table, args.order) for folder in args.folders]
        res = merge(runs, args.order)
        # checked before anything is written: a --train without its protocol fails here
        cmd = build_finals_command(args.out or args.folders[0] / "missing_bests.json", passthrough,
                                   res["final_hash"]) if args.train and res["missing"] else []
    except UserError as exc:
        print(f"measure_bests: {exc}", file=sys.stderr)
        return 2
    print_listing(runs, res)
    listing = args.out
    if args.train and listing is None:
        listing = args.folders[0] / "missing_bests.json"
    if listing is not None:
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text(json.dumps({**res, "provenance": provenance()}, indent=1))
        print(f"wrote {listing}")
    if args.rows_out is not None:
        args.rows_out.parent.mkdir(parents=True, exist_ok=True)
        args.rows_out.write_text(rows_list(res))
        print(f"wrote {args.rows_out}")
    if cmd:
        print("running: " + " ".join(repr(c) if not c or " " in c else c for c in cmd), flush=True)
        if not args.dry_run:
            rc = subprocess.run(cmd).returncode
            if rc:  # paused by a signal (128 + its number) or failed: its own output says which
                print(f"build_finals.py stopped with exit status {rc}; the same command resumes it",
                      file=sys.stderr)
                return rc
            for folder in args.folders:
                print(f"then: bash scripts/refresh_finals.sh {folder}")
    return 1 if res["missing"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
