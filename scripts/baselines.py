#!/usr/bin/env python
"""The classic NAS baselines alone on the shipped table, at both objectives (docs/benchmark/baselines/).

A check of the harness, not the benchmark of docs/benchmark.md (no RL agents): for each
objective, ``gan-nas benchmark --algos random,re,ls,tpe`` (10 seeds x 100 architectures by
default; a few seconds each on the tabular env) into ``runs/baselines_<objective>``, the
listing of its bests without a measured final row (``scripts/measure_bests.py``), and the
shipped copy in ``docs/benchmark/baselines/<objective>/`` (summary, report, plots, meta,
gzipped curves). ``baselines.json`` gathers per agent the IQM, the optimality gap, the mean
and sample standard deviation (ddof 1) of the raw bests and the measured shares, with the
provenance of this script::

    python scripts/baselines.py                 # needs the baselines extra (Optuna, for tpe)
    python scripts/baselines.py --analyse --runs runs/bench_v2 --ship docs/benchmark/v2

``--analyse`` scores the runs that ``--ship``'s ``baselines.json`` records again, against
today's table (more final rows, a refitted final surrogate), without running them again: the
runs and their best architectures stay put while ``scripts/measure_bests.py`` trains the
missing ones (a fresh clone unpacks them from the shipped ``curves.json.gz``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from gan_nas_env.errors import UserError
from gan_nas_env.provenance import ROOT, provenance
from gan_nas_env.run_folder import check_writable
from gan_nas_env.user_files import read_json_file

SHIPPED = ROOT / "docs/benchmark/baselines"
CLASSIC = {"random", "re", "ls", "tpe"}  # agents/optimizers.py
COPIED = ("summary.json", "report.md", "sample_efficiency.png", "performance_profile.png", "meta.json",
          "missing_bests.json")


def unpack_shipped(out: Path, ship: Path) -> None:
    """Make ``out`` a benchmark folder to re-analyse from its shipped copy (curves, meta), unless
    it holds its own curves; a SystemExit when neither exists."""
    if (out / "curves.json").exists():
        return
    if not (ship / "curves.json.gz").exists():
        raise SystemExit(f"baselines --analyse: neither {out}/curves.json nor {ship}/curves.json.gz: "
                         "no run to re-analyse; run without --analyse first")
    out.mkdir(parents=True, exist_ok=True)
    (out / "curves.json").write_bytes(gzip.decompress((ship / "curves.json.gz").read_bytes()))
    shutil.copy2(ship / "meta.json", out / "meta.json")
    print(f"baselines: {out} unpacked from {ship}/curves.json.gz")


def run_objective(objective: str, algos: str, seeds: int, episodes: int, runs: Path, shipped: Path,
                  table: str | None = None, ran: list[str] | None = None) -> dict[str, Any]:
    """One benchmark at ``objective``, its missing-bests listing and shipped copy; its digest.

    ``ran``: the command of runs made before (from the shipped ``baselines.json``): they are
    re-analysed against today's table (``gan-nas benchmark --analyse``) instead of run again.
    Their trajectories stay as they were, so the set of best architectures to measure stays
    put while their rows are built (a run again, rewarded by a surrogate that every new row
    refits, would name other bests each time).
    """
    out = runs / f"baselines_{objective}"
    if ran is None:
        cmd = ["gan-nas", "benchmark", "--algos", algos, "--seeds", str(seeds), "--episodes", str(episodes),
               "--objective", objective, "--out", str(out), "--no-progress", "--overwrite"]
        if table:
            cmd += ["--env-kwargs", json.dumps({"table": table})]
        rc = subprocess.run(cmd).returncode
    else:
        cmd = ran
        unpack_shipped(out, shipped / objective)
        rc = subprocess.run(["gan-nas", "benchmark", "--analyse", "--out", str(out)]).returncode
    if rc:  # its own message (bad input, a failure) is above
        raise SystemExit(f"baselines: gan-nas benchmark --objective {objective} stopped with exit status {rc}")
    # exit status 1 only says that some bests lack a measured row: the listing is the point
    rc = subprocess.run([sys.executable, str(ROOT / "scripts/measure_bests.py"), str(out),
                         "--out", str(out / "missing_bests.json")], stdout=subprocess.DEVNULL).returncode
    if rc not in (0, 1):
        raise SystemExit(f"baselines: measure_bests.py {out} failed with exit code {rc}")
    ship = shipped / objective
    ship.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        shutil.copy2(out / name, ship / name)
    with gzip.GzipFile(ship / "curves.json.gz", "wb", mtime=0) as f:  # mtime 0: same curves, same bytes
        f.write((out / "curves.json").read_bytes())
    summary = json.loads((out / "summary.json").read_text())
    missing = json.loads((out / "missing_bests.json").read_text())
    ff = summary.get("final_fidelity") or {}
    agents = {}
    for algo, st in summary["agents"].items():
        agg = summary["aggregates"][algo]
        agents[algo] = {"IQM": agg["IQM"], "optimality_gap": agg["optimality_gap"],
                        "raw_best_mean": st["best_mean"], "raw_best_sd": st["best_std"],
                        "bests_measured_share": st["measured_share"],
                        "final_fidelity_IQM": (ff.get("aggregates") or {}).get(algo, {}).get("IQM"),
                        "final_fidelity_p_vs_random": (ff.get("probability_of_improvement") or {}).get(f"{algo},random"),
                        "final_fidelity_measured_share": (ff.get("agents") or {}).get(algo, {}).get("measured_share")}
    return {"command": cmd, "wall_s": summary["wall_s"], "reference": {"mean": summary["ref_mean"],
            "best": summary["ref_best"], "best_arch": summary["ref_best_arch"]}, "agents": agents,
            "probability_of_improvement": summary["probability_of_improvement"],
            "missing_bests": len(missing["missing"]), "measured_seeds": ff.get("measured_seeds")}


def objective_effect(runs: Path, reps: int = 2000) -> dict[str, Any] | None:
    """Per method, its bests at the final fidelity when rewarded by the proxy against when rewarded
    by the final objective (the runs in ``runs/baselines_{proxy,final}``); None without both.

    Only measured final rows enter: each method's seeds at which both of its runs' bests are
    measured. Per method: those seeds, the normalised mean final objective of either run's
    bests (0 = the uniform sample's mean, 1 = its best) and P(rewarded by the final objective >
    rewarded by the proxy) with its 95% interval (rliable, as every P of the benchmark).
    """
    from agents.benchmark.final_scores import normalised_at
    from agents.benchmark.report import probability_of_improvement

    ff = {}
    for objective in ("proxy", "final"):
        f = runs / f"baselines_{objective}" / "summary.json"
        ff[objective] = (json.loads(f.read_text()).get("final_fidelity") or {}) if f.is_file() else {}
    if not all(ff[o].get("agents") for o in ff):
        return None
    ref = ff["proxy"]["reference"]
    out: dict[str, Any] = {}
    for algo, by_proxy in ff["proxy"]["agents"].items():
        by_final = ff["final"]["agents"].get(algo)
        if not by_final:
            continue
        both = [i for i, (a, b) in enumerate(zip(by_proxy["measured"], by_final["measured"])) if a and b]
        entry: dict[str, Any] = {"seeds": len(both), "of": min(len(by_proxy["measured"]), len(by_final["measured"]))}
        if len(both) >= 2:
            x = {o: normalised_at(r["final_score"], ref, both) for o, r in (("proxy", by_proxy), ("final", by_final))}
            entry.update({"mean_proxy": float(x["proxy"].mean()), "mean_final": float(x["final"].mean()),
                          "p_final_over_proxy": probability_of_improvement(x["final"], x["proxy"], reps)})
        out[algo] = entry
    return out


def _provenance(argv: list[str] | None) -> dict[str, Any]:
    """This script's provenance; taken before anything is written, since the shipped copies land
    in the repository and would mark the commit "+dirty"."""
    return {**provenance(), "command": ["python", "scripts/baselines.py", *(argv or sys.argv[1:])]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algos", default="random,re,ls,tpe")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--runs", type=Path, default=Path("runs"), help="where the benchmark folders go")
    p.add_argument("--table", default=None, help="table file (default: the shipped one)")
    p.add_argument("--ship", type=Path, default=SHIPPED, help="where the reports and baselines.json go")
    p.add_argument("--analyse", action="store_true",
                   help="re-analyse the runs that --ship's baselines.json records against today's table "
                        "(new final rows, a refitted surrogate) instead of running them again; "
                        "--algos/--seeds/--episodes/--table come from those runs")
    p.add_argument("--rerun", action="store_true",
                   help="run again over finished runs in --runs (their folders are overwritten)")
    args = p.parse_args(argv)
    if args.analyse:
        return reanalyse(p, args, argv)
    finished = [f for o in ("proxy", "final") if (f := args.runs / f"baselines_{o}" / "curves.json").exists()]
    if finished and not args.rerun:  # a rerun rewarded by a refitted surrogate names other bests
        p.error(f"{finished[0].parent} holds a finished run: re-score it against today's table with --analyse, "
                "or pass --rerun to run it again (its folder is overwritten)")
    if args.seeds < 2 or args.episodes < 1:
        p.error("need --seeds >= 2 (a standard deviation) and --episodes >= 1")
    algos = args.algos.split(",")
    from agents.benchmark.run import check_agent  # the harness's own names, checked before any run

    try:
        for algo in algos:
            check_agent(algo)
    except UserError as exc:
        p.error(str(exc))
    for flag, folder in (("--runs", args.runs), ("--ship", args.ship)):
        try:
            check_writable(folder)
        except UserError as exc:
            p.error(str(exc).replace("--out", flag))
    prov = _provenance(argv)
    rl = [a for a in algos if a not in CLASSIC]
    what = (f"RL agents ({', '.join(rl)}) and classic NAS baselines" if rl else
            "classic NAS baselines (agents/optimizers.py)")
    res = {"what": f"{what} on the {'shipped table' if not args.table else args.table}, {args.seeds} seeds x "
                   f"{args.episodes} architectures each, at both objectives"
                   + ("" if rl else "; a check of the harness, not the benchmark of docs/benchmark.md (no RL agents here)"),
           "algos": algos, "seeds": args.seeds, "episodes": args.episodes,
           "objectives": {o: run_objective(o, args.algos, args.seeds, args.episodes, args.runs, args.ship,
                                           args.table) for o in ("proxy", "final")},
           "objective_effect": objective_effect(args.runs),
           "provenance": prov}
    (args.ship / "baselines.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {args.ship / 'baselines.json'}")
    return 0


def run_settings(shipped: dict[str, Any]) -> dict[str, Any]:
    """``algos``, ``seeds`` and ``episodes`` of a shipped ``baselines.json``.

    Files written before those keys were recorded (``docs/benchmark/baselines``) keep them in
    each objective's ``gan-nas benchmark`` command, where they are read instead.
    """
    if all(k in shipped for k in ("algos", "seeds", "episodes")):
        return {k: shipped[k] for k in ("algos", "seeds", "episodes")}
    runs: dict[str, Any] = shipped.get("objectives") or {}
    first: dict[str, Any] = next(iter(runs.values()), {})
    cmd: list[str] = first.get("command", [])
    flags = dict(zip(cmd, cmd[1:]))  # each flag and the token after it
    try:
        return {"algos": flags["--algos"].split(","), "seeds": int(flags["--seeds"]),
                "episodes": int(flags["--episodes"])}
    except (KeyError, ValueError):
        raise SystemExit("baselines --analyse: the shipped baselines.json records neither the runs' "
                         "algos, seeds and episodes nor a gan-nas benchmark command holding them; "
                         "run without --analyse") from None


def reanalyse(p: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str] | None) -> int:
    """``--analyse``: the shipped runs scored again by today's table; their commands kept."""
    try:
        before = read_json_file(args.ship / "baselines.json", "--ship")
        check_writable(args.runs)
    except UserError as exc:
        p.error(str(exc).replace("--out", "--runs"))
    prov = _provenance(argv)
    res = {"what": before.get("what", ""), **run_settings(before)}
    res["objectives"] = {o: run_objective(o, ",".join(res["algos"]), res["seeds"], res["episodes"],
                                          args.runs, args.ship, ran=r["command"])
                         for o, r in before["objectives"].items()}
    for o, r in res["objectives"].items():  # the runs' own wall time, not the analysis's
        r["wall_s"] = before["objectives"][o]["wall_s"]
    res["objective_effect"] = objective_effect(args.runs)
    res["run_provenance"] = before.get("run_provenance") or before["provenance"]
    res["provenance"] = prov
    (args.ship / "baselines.json").write_text(json.dumps(res, indent=1))
    print(f"wrote {args.ship / 'baselines.json'} (the runs of {' '.join(res['run_provenance']['command'])}, "
          "re-analysed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
