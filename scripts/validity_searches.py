#!/usr/bin/env python
r"""Real searches for docs/validity.md: SAC and random search, several seeds, on the table's proxy.

Each search is ``gan-nas search --config table-fmnist`` (real training of every
architecture, not the table) with ``--episodes`` episodes, in its own run folder under
``--runs``; a killed search resumes from its checkpoint when this script is run again,
and a finished one is not run again. ``--export`` writes every finished search's best
architecture (and its proxy score, episodes, wall time) as JSON;
``scripts/build_finals.py --extra-from`` then trains those architectures by the final
protocol, and ``scripts/validity.py`` places them among the uniform sample.

    OMP_NUM_THREADS=1 nohup python scripts/validity_searches.py --seeds 0,1,2,3,4 \
        --skip-exported docs/validity/searches.json &
    python scripts/validity_searches.py --seeds 0,1,2,3,4 --export docs/validity/searches.json
    # the IS-only proxy evaluator (E2GAN's alpha = 0 variant, the preset search-fmnist-is),
    # in its own run folders and export (scripts/validity.py reads both exports)
    python scripts/validity_searches.py --config search-fmnist-is --tag is --seeds 0,1,2,3,4
    python scripts/validity_searches.py --config search-fmnist-is --tag is --seeds 0,1,2,3,4 \
        --export docs/validity/searches_is.json
    # the 256-step proxy (the preset search-fmnist-d256; about an hour of one core a search)
    python scripts/validity_searches.py --config search-fmnist-d256 --tag d256 --seeds 0,1,2,3,4
    python scripts/validity_searches.py --config search-fmnist-d256 --tag d256 --seeds 0,1,2,3,4 \
        --export docs/validity/searches_d256.json --rows-out scripts/rows_v2_d256.txt
    # --rows-out: the distinct bests as a rows list, which scripts/build_v2.sh trains by v2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path


def run_dir(runs: Path, algo: str, seed: int, tag: str = "") -> Path:
    """The run folder of one search (``tag``: the evaluator variant, e.g. ``is``)."""
    return runs / f"{algo}{'-' + tag if tag else ''}-s{seed}"


def finished(out: Path) -> bool:
    """A search that wrote its final report."""
    return (out / "top_architectures.json").exists() and (out / "model.zip").exists()


def variant_overrides(overrides: list[str] | None) -> list[str]:
    """The overrides that make a variant of the evaluator: all but those of settings that do not
    change results (``Config``'s SAME_RESULT_KEYS: the device, where the data is, the speed-only
    switches). A GPU's searches join the CPU's: like another CPU model, another draw of the same one."""
    from gan_nas_env.config import SAME_RESULT_KEYS

    return [o for o in overrides or [] if o.split("=", 1)[0].strip() not in SAME_RESULT_KEYS]


def kept_rows(args: argparse.Namespace, path: Path) -> dict[tuple[str, int], dict]:
    """The searches an earlier export at ``path`` already holds, keyed by (algo, seed).

    Run folders are scratch (a new machine has none), the export is what is committed: a
    search exported once is kept when its folder is gone. An export of another variant is
    refused rather than merged.
    """
    if not path.exists():
        return {}
    old = json.loads(path.read_text())
    mine = {"config": args.config, "overrides": variant_overrides(args.overrides), "episodes": args.episodes}
    theirs = {"config": old.get("config"), "overrides": variant_overrides(old.get("overrides")),
              "episodes": old.get("episodes")}
    if theirs != mine:
        diff = ", ".join(f"{k} {theirs[k]!r} (asked: {mine[k]!r})" for k in mine if theirs[k] != mine[k])
        sys.exit(f"error: {path} holds other searches ({diff}); name a file of the same searches")
    return {(r["algo"], int(r["seed"])): r for r in old.get("rows", [])}


def export(args: argparse.Namespace, path: Path) -> None:
    """Best architecture of every finished search, with provenance, as JSON.

    Searches in an earlier export at ``path`` whose run folders are gone are kept.
    """
    from gan_nas_env.provenance import provenance

    kept = kept_rows(args, path)
    rows = []
    for algo in args.algos.split(","):
        for seed in args.seeds:
            out = run_dir(Path(args.runs), algo, seed, args.tag)
            if not finished(out):
                continue
            kept.pop((algo, seed), None)
            top = json.loads((out / "top_architectures.json").read_text())
            meta = json.loads((out / "meta.json").read_text())
            rows.append({"algo": algo, "seed": seed, "evaluator": args.tag or "proxy", "best_arch": top[0]["arch"] if top else None,
                         "best_proxy_score": top[0]["score"] if top else None,
                         "top": top, "episodes": meta.get("episodes"), "run": str(out)})
    rows += kept.values()
    algos = args.algos.split(",")
    rows.sort(key=lambda r: (algos.index(r["algo"]) if r["algo"] in algos else len(algos), r["algo"], r["seed"]))
    data = {"config": args.config, "overrides": args.overrides, "episodes": args.episodes, "rows": rows,
            "command": args.command, "provenance": provenance()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    print(f"wrote {path}: {len(rows)} finished searches ({len(kept)} kept from the earlier export)")
    if args.rows_out:
        write_rows_list(rows, Path(args.rows_out), args.command)


def write_rows_list(rows: list[dict], path: Path, command: str) -> None:
    """The searches' distinct best architectures as a ``build_finals.py --rows-from`` list (seed 0)
    for the builders (``scripts/build_v2.sh``): seed by seed (every algorithm's seed-0 best, then
    seed 1, ...), so that a build stopped part-way can already compare the algorithms."""
    seed_major = sorted(rows, key=lambda r: int(r["seed"]))  # stable: the export's algorithm order
    bests = list(dict.fromkeys(r["best_arch"] for r in seed_major if r.get("best_arch")))
    head = [f"# The best architectures of the searches, written by: {command}",
            "# one row per line: the architecture, then the final protocol's training seed"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*head, *(f"{a} 0" for a in bests)]) + "\n")
    print(f"wrote {path}: {len(bests)} distinct best architectures")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="table-fmnist", help="proxy preset of the searches")
    p.add_argument("--algos", default="sac,random", help="comma-separated algorithms")
    p.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--runs", default="runs/validity", help="folder of the search run folders")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override of every search (env.alpha=0: E2GAN's IS-only reward)")
    p.add_argument("--tag", default="", help="names the variant in the run folders and the export "
                                             "(required with --set or another --config)")
    p.add_argument("--export", default=None, help="write the finished searches as JSON and exit "
                                                  "(searches of an earlier export there are kept)")
    p.add_argument("--rows-out", default=None, metavar="FILE",
                   help="with --export: also write the distinct best architectures as a rows list "
                        "(build_finals.py --rows-from; seed 0)")
    p.add_argument("--skip-exported", default=None, metavar="JSON",
                   help="do not run the searches this export already holds (a new machine has no run folders)")
    args = p.parse_args(argv)
    args.command = " ".join(["scripts/validity_searches.py", *(sys.argv[1:] if argv is None else argv)])
    if (variant_overrides(args.overrides) or args.config != "table-fmnist") and not args.tag:
        p.error("--set or another --config needs --tag (the variant's run folders must not be the plain searches')")
    if args.rows_out and not args.export:
        p.error("--rows-out needs --export (the list is written from the export's rows)")
    from gan_nas_env.errors import UserError
    from gan_nas_env.user_files import check_output_file

    if args.export:
        try:
            check_output_file(args.export, "--export")
            check_output_file(args.rows_out, "--rows-out")
        except UserError as exc:
            p.error(str(exc))
        export(args, Path(args.export))
        return
    from gan_nas_env.config import load_config

    try:  # a bad preset or override is refused here, not by the first search's process
        load_config(args.config, args.overrides)
    except UserError as exc:
        p.error(str(exc))
    exported = kept_rows(args, Path(args.skip_exported)) if args.skip_exported else {}
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    for seed in args.seeds:  # seed-major: a partial run has both algorithms for its seeds
        for algo in args.algos.split(","):
            out = run_dir(Path(args.runs), algo, seed, args.tag)
            if finished(out) or (algo, seed) in exported:
                print(f"{out}: finished" if finished(out) else f"{algo} seed {seed}: in {args.skip_exported}")
                continue
            cmd = [sys.executable, "-m", "gan_nas_env.cli", "search", "--config", args.config,
                   "--algo", algo, "--set", f"seed={seed}", "--episodes", str(args.episodes),
                   "--out", str(out), "--no-progress", *(x for o in args.overrides for x in ("--set", o))]
            if (out / "checkpoint").exists() or (out / "checkpoint.old").exists():
                cmd.append("--resume")
            print(" ".join(cmd), flush=True)
            rc = subprocess.run(cmd, env=env).returncode
            if rc:  # its own message is above; the finished searches stay, and a rerun resumes
                raise SystemExit(f"validity_searches: {algo} seed {seed} stopped with exit status {rc}")


if __name__ == "__main__":
    main()
