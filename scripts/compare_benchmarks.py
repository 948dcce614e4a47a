#!/usr/bin/env python
"""Does a benchmark rerun reproduce another? Two ``gan-nas benchmark`` summaries, run by run.

The same command, agent, seed and table give the same architectures on one machine; on
another CPU model the floating-point kernels differ in the last digits, and an agent whose
next action sits near a boundary of the discrete-to-continuous mapping can take another
path. This script says which runs did: for every agent, the runs whose best architecture
differs and the proxy IQM of both, with both runs' machines, commands and git SHAs.

    git show 7e45b02:docs/benchmark/final/summary.json > /tmp/before.json
    python scripts/compare_benchmarks.py /tmp/before.json docs/benchmark/final/summary.json \\
        --out docs/benchmark/reproducibility.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_nas_env.provenance import provenance  # noqa: E402
from gan_nas_env.user_files import check_outputs  # noqa: E402

SAME_SETUP = ("episodes", "seeds", "alpha", "env_id", "env_kwargs")  # the agents may be a subset


def read_summary(path: Path) -> dict[str, Any]:
    """A benchmark summary with per-run best architectures, or a clear exit."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"compare_benchmarks: cannot read {path}: {exc}") from None
    if not (data.get("final_fidelity") or {}).get("agents"):
        raise SystemExit(f"compare_benchmarks: {path} is no gan-nas benchmark summary with per-run "
                         "best architectures (final_fidelity.agents)")
    return data


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Run-by-run agreement of two summaries of the same benchmark setup."""
    differ = [k for k in SAME_SETUP if a.get(k) != b.get(k)]
    if differ:
        raise SystemExit(f"compare_benchmarks: the summaries are of different setups ({', '.join(differ)}); "
                         "only reruns of one command can be compared")
    if a["table"].get("proxy_hash") != b["table"].get("proxy_hash"):
        raise SystemExit("compare_benchmarks: the summaries used tables of different proxies")
    common = [x for x in a["final_fidelity"]["agents"] if x in b["final_fidelity"]["agents"]]
    if not common:
        raise SystemExit("compare_benchmarks: the summaries share no agent")
    agents: dict[str, Any] = {}
    for algo in common:
        best_a, best_b = (s["final_fidelity"]["agents"][algo]["best_archs"] for s in (a, b))
        agents[algo] = {
            "runs": len(best_a),
            "different_best": [i for i, (x, y) in enumerate(zip(best_a, best_b)) if x != y],
            "proxy_iqm": [a["aggregates"][algo]["IQM"]["value"], b["aggregates"][algo]["IQM"]["value"]],
        }
    runs = sum(v["runs"] for v in agents.values())
    changed = sum(len(v["different_best"]) for v in agents.values())
    return {"runs": runs, "different_best": changed,
            "first": a.get("run", {}), "second": b.get("run", {}), "agents": agents}


def markdown(res: dict[str, Any]) -> str:
    """The comparison as a Markdown table."""
    cpu = [(res[k].get("machine") or {}).get("cpu", "?") for k in ("first", "second")]
    lines = [f"{res['different_best']} of {res['runs']} runs end with another best architecture "
             f"({cpu[0]} vs {cpu[1]}).", "",
             "| agent | runs with another best | proxy IQM (first) | proxy IQM (second) |", "|---|---|---|---|"]
    for algo, v in res["agents"].items():
        lines.append(f"| {algo} | {len(v['different_best'])} of {v['runs']} | {v['proxy_iqm'][0]:.4f} "
                     f"| {v['proxy_iqm'][1]:.4f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("first", type=Path, help="a benchmark summary.json")
    p.add_argument("second", type=Path, help="a rerun's summary.json")
    p.add_argument("--out", type=Path, default=None, help="also write the comparison as JSON")
    args = p.parse_args(argv)
    check_outputs(p, args, "--out")  # before the work, not after it
    res = compare(read_summary(args.first), read_summary(args.second))
    print(markdown(res))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({**res, "provenance": provenance()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
