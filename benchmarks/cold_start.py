#!/usr/bin/env python
"""Cold start and step times of ``GANCellSearchBench-v0`` (or ``--env``) in fresh processes.

Each of ``--runs`` fresh Python processes times, with ``time.perf_counter``:
``import`` (gymnasium + gan_nas_env), ``gym.make("GANCellSearchBench-v0")``, the first
``reset`` + ``step`` (an architecture the table does not hold, so the surrogate
answers), and then ``--steps`` uniformly random steps (resets included). Reports the
median over runs of each phase, the cold start (import + make + first step), the cold
start with 10 steps in all (the two first steps and the next eight: issue 26's figure) and the
step-time distribution (median, p99, max over every step of every run); also whether
torch and scikit-learn were imported. Writes JSON (with the machine, version, git
SHA and command) and Markdown::

    python -m benchmarks.cold_start --out docs/perf/cold_start_cpu.json --md docs/perf/cold_start_cpu.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import gymnasium as gym
import numpy as np
import gan_nas_env
from gan_nas_env.space import SPACE, action_from_cell
t1 = time.perf_counter()
env = gym.make(sys.argv[4], **json.loads(sys.argv[2]))
t2 = time.perf_counter()
from gan_nas_env.envs.bench_env import tabular_evaluator  # loaded by gym.make already
table = tabular_evaluator(env).table
rng = np.random.default_rng(int(sys.argv[3]))
arch = SPACE.sample(rng)
while str(arch.prefix(2)) in table.index:  # a prefix the table lacks: the surrogate answers
    arch = SPACE.sample(rng)
env.reset(seed=0)
for cell in arch.cells[:2]:
    env.step(action_from_cell(cell))
t3 = time.perf_counter()
times = []
env.action_space.seed(int(sys.argv[3]))
for _ in range(int(sys.argv[1])):
    t = time.perf_counter()
    _, _, term, trunc, _ = env.step(env.action_space.sample())
    if term or trunc:
        env.reset()
    times.append(1000 * (time.perf_counter() - t))
print(json.dumps({"import_s": t1 - t0, "make_s": t2 - t1, "first_steps_s": t3 - t2,
                  "cold_start_s": t3 - t0, "step_ms": times,
                  "torch_imported": "torch" in sys.modules,
                  "sklearn_imported": "sklearn" in sys.modules}))
"""


def measure(runs: int, steps: int, env_kwargs: dict[str, Any],
            env_id: str = "GANCellSearchBench-v0") -> dict[str, Any]:
    """Run the child ``runs`` times; medians of the phases and the pooled step distribution."""
    import numpy as np

    results = []
    for i in range(runs):
        out = subprocess.run([sys.executable, "-c", CHILD, str(steps), json.dumps(env_kwargs), str(i), env_id],
                             capture_output=True, text=True, check=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    steps_ms = np.concatenate([r["step_ms"] for r in results])
    for r in results:  # import + make + reset + 10 steps: the two first steps and the next eight
        r["cold_start_10_steps_s"] = r["cold_start_s"] + sum(r["step_ms"][:8]) / 1000
    phases = ("import_s", "make_s", "first_steps_s", "cold_start_s", "cold_start_10_steps_s")
    return {
        **{k: statistics.median(r[k] for r in results) for k in phases},
        "cold_start_s_max": max(r["cold_start_s"] for r in results),
        "cold_start_10_steps_s_max": max(r["cold_start_10_steps_s"] for r in results),
        "step_ms": {"median": float(np.median(steps_ms)), "p99": float(np.percentile(steps_ms, 99)),
                    "max": float(steps_ms.max()), "steps": int(len(steps_ms))},
        "torch_imported": any(r["torch_imported"] for r in results),
        "sklearn_imported": any(r["sklearn_imported"] for r in results),
        "runs": runs,
    }


def markdown(res: dict[str, Any]) -> str:
    """The report table."""
    from gan_nas_env.provenance import provenance_line

    s, prov = res["step_ms"], res["provenance"]
    return "\n".join([
        f"# {res.get('env', 'GANCellSearchBench-v0')} cold start"
        + (f" ({json.dumps(res['env_kwargs'])})" if res.get("env_kwargs") else ""), "",
        provenance_line(prov, command=f"python -m benchmarks.cold_start {' '.join(prov['command'][1:])}".rstrip()), "",
        f"| phase (median of {res['runs']} fresh processes) | seconds |", "|---|---|",
        f"| import gymnasium + gan_nas_env | {res['import_s']:.3f} |",
        f"| gym.make | {res['make_s']:.3f} |",
        f"| reset + first two steps (surrogate answers) | {res['first_steps_s']:.3f} |",
        f"| **cold start** (all three) | **{res['cold_start_s']:.3f}** (max {res['cold_start_s_max']:.3f}) |",
        f"| cold start + 8 more steps (10 steps in all) | {res['cold_start_10_steps_s']:.3f} "
        f"(max {res['cold_start_10_steps_s_max']:.3f}) |",
        "", f"Step time over {s['steps']} random steps: median {s['median']:.3f} ms, "
        f"p99 {s['p99']:.3f} ms, max {s['max']:.2f} ms. torch imported: {res['torch_imported']}; "
        f"scikit-learn imported: {res['sklearn_imported']}.", "",
    ])


def main() -> None:
    from gan_nas_env.provenance import provenance

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5, help="fresh processes")
    p.add_argument("--steps", type=int, default=2000, help="random steps per process")
    p.add_argument("--table", default=None, help="table file (default: the shipped one)")
    p.add_argument("--env", default="GANCellSearchBench-v0", help="env id (GANCellSearchBench-v0 or -v1)")
    p.add_argument("--env-kwargs", default="{}", help='more gym.make arguments as JSON, e.g. \'{"objective": "final"}\'')
    p.add_argument("--out", default=None, help="JSON report")
    p.add_argument("--md", default=None, help="Markdown report")
    args = p.parse_args()
    from gan_nas_env.user_files import check_outputs

    check_outputs(p, args, "--out", "--md")  # before the work, not after it
    if args.runs < 1 or args.steps < 1:
        p.error("--runs and --steps must be >= 1")
    kwargs = {**json.loads(args.env_kwargs), **({"table": args.table} if args.table else {})}
    res = {**measure(args.runs, args.steps, kwargs, args.env), "env": args.env, "env_kwargs": kwargs,
           "provenance": provenance()}
    text = json.dumps(res, indent=1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    if args.md:
        Path(args.md).write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
