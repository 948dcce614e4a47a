#!/usr/bin/env python
"""How much a real search slows down beside other CPU-bound processes.

Runs the README's main job (``gan-nas search --config quickstart``, a few episodes) in a
fresh process for every combination of

- **load**: 0, 1 or 2 other CPU-bound processes (each a one-thread torch convolution
  loop, like a training job) started before the search and stopped after it;
- **threads**: the search's torch intra-op threads (``train.threads``: 1 or 2);
- **wait policy**: OpenMP's ``OMP_WAIT_POLICY`` unset (libgomp spins a while before it
  sleeps) or ``PASSIVE`` (waiting threads sleep at once); it is read when torch loads, so
  only a fresh process can change it,

and reports the steady seconds per episode (the median over episodes 2.., from the run's
results store: episode 1 also computes the real-image statistics), the slow-down against
the same setting alone and against the best setting alone. It also checks whether the
searches' results are identical across settings (same architectures, same scores), since
a thread count that changed results could not be a free default. Rounds go round-robin
over the settings (``--repeats``), so that drift of the machine hits all of them alike::

    python -m benchmarks.contention --out docs/perf/contention_cpu.json --md docs/perf/contention_cpu.md
    python -m benchmarks.contention --episodes 2 --loads 0,1 --threads 1 --repeats 1   # a quick look
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gan_nas_env.user_files import check_outputs

POLICIES = {"spin": None, "passive": "PASSIVE"}  # name -> OMP_WAIT_POLICY (None: unset)


def burn() -> None:
    """A CPU-bound neighbour: one thread of torch convolutions, forever (stopped by the parent)."""
    import torch

    torch.set_num_threads(1)
    x, w = torch.randn(16, 32, 32, 32), torch.randn(32, 32, 3, 3)
    while True:
        torch.nn.functional.conv2d(x, w, padding=1)


def worker(config: str, episodes: int, threads: int, out: Path) -> None:
    """One timed search in this process; writes its per-episode times and results as JSON."""
    from agents.search import run_search
    from benchmarks.search_time import episode_times
    from gan_nas_env.config import load_config
    from gan_nas_env.evaluators.store import ResultsStore
    from gan_nas_env.run_folder import run_id

    cfg = load_config(config, {"device": "cpu", "train.threads": threads})
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = run_search(cfg, Path(tmp) / "run", episodes=episodes, progress=False)
        wall = time.perf_counter() - t0
        eps = episode_times(Path(tmp) / "run")
        with ResultsStore(Path(tmp) / "run" / "results.sqlite") as store:
            steps = [(s["episode"], s["arch"], s["IS"], s["FID"]) for s in store.steps(run_id(Path(tmp) / "run"))]
    # no torch.get_num_threads() here: the search has restored the process's own count by now,
    # so it would not be the threads it trained with (those are ``threads``, recorded by measure)
    out.write_text(json.dumps({"wall_s": wall, "episode_s": [e["step_s"] for e in eps],
                               "best_arch": res.best_arch,
                               "best_score": res.best_score, "steps": steps}))


def measure(config: str, episodes: int, threads: int, policy: str, load: int) -> dict[str, Any]:
    """One search in a fresh process beside ``load`` burners; its worker's JSON."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("OMP_NUM_THREADS", None)  # train.threads decides, as for a user
    wait_policy = POLICIES[policy]
    if wait_policy is not None:
        env["OMP_WAIT_POLICY"] = wait_policy
    burners = [subprocess.Popen([sys.executable, "-m", "benchmarks.contention", "--burn"],
                                env={**os.environ, "OMP_NUM_THREADS": "1"}) for _ in range(load)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "w.json"
            subprocess.run([sys.executable, "-m", "benchmarks.contention", "--worker", "--config", config,
                            "--episodes", str(episodes), "--threads", str(threads), "--result", str(out)],
                           env=env, check=True)
            return json.loads(out.read_text())
    finally:
        for b in burners:
            b.kill()
            b.wait()


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Steady episode seconds per setting, slow-downs, and whether results agree."""
    by: dict[tuple[int, int, str], list[float]] = {}
    walls: dict[tuple[int, int, str], list[float]] = {}
    for r in rows:
        by.setdefault((r["load"], r["threads"], r["policy"]), []).extend(r["episode_s"][1:])
        walls.setdefault((r["load"], r["threads"], r["policy"]), []).append(r["wall_s"])
    table = {k: statistics.median(v) for k, v in by.items()}
    alone = {k[1:]: v for k, v in table.items() if k[0] == 0}
    best_alone = min(alone.values()) if alone else float("nan")
    out = []
    for (load, threads, policy), s in sorted(table.items()):
        a = alone.get((threads, policy))
        out.append({"load": load, "threads": threads, "policy": policy, "episode_s": s,
                    "n_episodes": len(by[(load, threads, policy)]),
                    "search_wall_s": statistics.median(walls[(load, threads, policy)]),
                    "vs_same_alone": s / a if a else None, "vs_best_alone": s / best_alone})
    results = {json.dumps(r["steps"]) for r in rows}
    by_threads = {t: len({json.dumps(r["steps"]) for r in rows if r["threads"] == t})
                  for t in sorted({r["threads"] for r in rows})}
    return {"settings": out, "best_alone_s": best_alone, "identical_results": len(results) == 1,
            "distinct_results": len(results), "distinct_results_by_threads": by_threads}


def markdown(data: dict[str, Any]) -> str:
    """The report: one row per setting."""
    m, s = data["provenance"]["machine"], data["summary"]
    lines = [f"# The search beside other CPU-bound processes ({m.get('cpu', '?')}, {m.get('cores', '?')} cores)", "",
             f"`{data['provenance'].get('command', '')}`; git {data['provenance'].get('git_sha', '?')[:10]}, "
             f"gan-nas-env {data['provenance'].get('version', '?')}. Config `{data['config']}`, "
             f"{data['episodes']} episodes per search, {data['repeats']} round(s); steady seconds per episode "
             "= median over episodes 2.. of every round.", "",
             "| other CPU-bound processes | torch threads | OpenMP wait | s / episode | vs same setting alone "
             "| vs best alone | whole search s (set-up, agent) |", "|---|---|---|---|---|---|---|"]
    for r in s["settings"]:
        vs = f"{r['vs_same_alone']:.2f}x" if r["vs_same_alone"] else "-"
        lines.append(f"| {r['load']} | {r['threads']} | {r['policy']} | {r['episode_s']:.1f} | {vs} "
                     f"| {r['vs_best_alone']:.2f}x | {r['search_wall_s']:.0f} |")
    same = "yes" if s["identical_results"] else f"no, {s['distinct_results']} distinct"
    lines += ["", f"Results identical across all settings (same architectures and metrics): {same}; distinct results "
              "per thread count: " + ", ".join(f"{t} thread(s): {n}" for t, n in s["distinct_results_by_threads"].items())
              + " (1 = the same whatever the load and the wait policy).", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="quickstart", help="search config (the README's main job by default)")
    p.add_argument("--episodes", type=int, default=3, help="episodes per search (>= 2: the first is not steady)")
    p.add_argument("--loads", default="0,1,2", help="numbers of CPU-bound neighbours")
    p.add_argument("--threads", default="1,2", help="torch threads of the search (train.threads)")
    p.add_argument("--policies", default="spin,passive", help=f"OpenMP wait policies: {', '.join(POLICIES)}")
    p.add_argument("--repeats", type=int, default=2, help="round-robin rounds over all settings")
    p.add_argument("--out", default=None, help="JSON output")
    p.add_argument("--md", default=None, help="Markdown output")
    p.add_argument("--burn", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    check_outputs(p, args, "--out", "--md")  # before the work, not after it
    if args.burn:
        burn()
        return None
    if args.worker:
        worker(args.config, args.episodes, int(args.threads), Path(args.result))
        return None
    loads = [int(x) for x in args.loads.split(",")]
    threads = [int(x) for x in args.threads.split(",")]
    policies = args.policies.split(",")
    bad = [x for x in policies if x not in POLICIES]
    if bad or args.episodes < 2 or args.repeats < 1 or min(loads) < 0 or min(threads) < 1:
        p.error(f"need --episodes >= 2, --repeats >= 1, loads >= 0, threads >= 1 and policies in {sorted(POLICIES)}")
    from gan_nas_env.provenance import provenance

    rows = []
    for rep, load, t, pol in itertools.product(range(args.repeats), loads, threads, policies):
        r = measure(args.config, args.episodes, t, pol, load)
        rows.append({"round": rep, "load": load, "threads": t, "policy": pol, **r})
        print(f"round {rep} load {load} threads {t} {pol}: episodes "
              + ", ".join(f"{x:.1f}" for x in r["episode_s"]) + " s", flush=True)
    data = {"config": args.config, "episodes": args.episodes, "repeats": args.repeats, "rows": rows,
            "summary": summarise(rows), "provenance": provenance()}
    print(markdown(data))
    if args.out:
        Path(args.out).write_text(json.dumps(data, indent=1))
    if args.md:
        Path(args.md).write_text(markdown(data))
    return data


if __name__ == "__main__":
    main()
