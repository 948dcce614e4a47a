#!/usr/bin/env python
"""Measure a real search of a few episodes and project the 100-episode search time.

Runs ``--episodes`` episodes of the real SAC search (``run_search``, as ``gan-nas
search`` does) on the preset's data, reads every step's proxy time from the run's
results store, then runs the whole ``--project-episodes`` schedule with the fake
evaluator (no GAN training) to measure what the agent itself costs over a full
search (SAC updates, the exploit phase's extra gradient steps, recording). The
projection is::

    setup + first-episode extra + N x (steady proxy time per episode) + agent time of N episodes

where the steady proxy time is the mean over episodes 2.. (episode 1 also pays for
cuDNN autotuning and the real-image statistics). Writes JSON and Markdown::

    python -m benchmarks.search_time --preset paper --episodes 10 --out docs/search_time_gpu.json --md docs/search_time_gpu.md
    python -m benchmarks.search_time --preset quickstart --episodes 4      # CPU-sized
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from agents.search import run_search  # noqa: E402
from benchmarks.presets import add_common_args, preset_config  # noqa: E402
from gan_nas_env.devices import resolve_device  # noqa: E402
from gan_nas_env.evaluators.store import ResultsStore  # noqa: E402
from gan_nas_env.provenance import provenance, provenance_line
from gan_nas_env.run_folder import run_id  # noqa: E402
from gan_nas_env.user_files import check_outputs  # noqa: E402


def episode_times(run_dir: Path) -> list[dict[str, float]]:
    """Per episode: summed env-step, proxy-train and scoring seconds from the results store."""
    per: dict[int, dict[str, float]] = {}
    with ResultsStore(run_dir / "results.sqlite") as store:
        for s in store.steps(run_id(run_dir)):
            e = per.setdefault(s["episode"], {"step_s": 0.0, "train_s": 0.0, "score_s": 0.0, "steps": 0})
            for key in ("step_s", "train_s", "score_s"):
                e[key] += float(s["timings"].get(key, 0.0))
            e["steps"] += 1
    return [per[k] for k in sorted(per)]


def timed_search(cfg, out: Path, episodes: int, evaluator: str, progress: bool) -> dict:
    """Run a search; its wall time and per-episode env time."""
    t0 = time.perf_counter()
    result = run_search(cfg, out, episodes=episodes, evaluator=evaluator, progress=progress)
    wall = time.perf_counter() - t0
    eps = episode_times(out)
    return {"wall_s": wall, "episodes": result.episodes, "env_s": sum(e["step_s"] for e in eps),
            "per_episode": eps, "best_arch": result.best_arch, "best_score": result.best_score}


def project(real: dict, fake_short: dict, fake_full: dict, n: int) -> dict:
    """Projected wall time of an ``n``-episode search from the measured parts."""
    eps = [e["step_s"] for e in real["per_episode"]]
    steady = statistics.fmean(eps[1:]) if len(eps) > 1 else eps[0]
    agent_short = fake_short["wall_s"] - fake_short["env_s"]
    agent_full = fake_full["wall_s"] - fake_full["env_s"]
    setup = max(real["wall_s"] - real["env_s"] - agent_short, 0.0)
    first_extra = eps[0] - steady
    total = setup + first_extra + n * steady + agent_full
    return {"episodes": n, "steady_episode_s": steady, "first_episode_extra_s": first_extra,
            "setup_s": setup, "agent_s": agent_full, "projected_s": total, "projected_min": total / 60}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--episodes", type=int, default=10, help="real episodes to measure")
    p.add_argument("--project-episodes", type=int, default=100, help="search length to project to")
    p.add_argument("--run-dir", default=None, help="keep the run folders here (default: a temp dir)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    check_outputs(p, args, "--out", "--md")  # before the work, not after it
    cfg = preset_config(args)
    dev = resolve_device(cfg.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.run_dir or tmp)
        progress = not args.no_progress
        real = timed_search(cfg, root / "real", args.episodes, "real", progress)
        fake_short = timed_search(cfg, root / "fake_short", args.episodes, "fake", progress)
        fake_full = timed_search(cfg, root / "fake_full", args.project_episodes, "fake", progress)
    result = {
        "provenance": provenance(),
        "preset": args.preset, "algo": cfg.search.algo, "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if dev.type == "cuda" else "CPU",
        "cpu_threads": torch.get_num_threads(), "amp": cfg.train.amp, "images": cfg.data.synthetic_images
        if cfg.data.name == "synthetic" else cfg.data.name,
        "real": real, "fake_short": fake_short, "fake_full": fake_full,
        "projection": project(real, fake_short, fake_full, args.project_episodes),
    }
    pr = result["projection"]
    print(f"{args.episodes} real episodes: {real['wall_s']:.1f} s wall; steady {pr['steady_episode_s']:.2f} s/episode;"
          f" projected {args.project_episodes} episodes: {pr['projected_min']:.1f} min")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    if args.md:
        Path(args.md).write_text(markdown(result))
    return result


def markdown(r: dict) -> str:
    """A Markdown summary of a measurement and its projection."""
    pr, real = r["projection"], r["real"]
    lines = [
        f"### Search time, `{r['preset']}` preset, {r['algo'].upper()} on {r['device']} "
        f"(torch {r['torch']}, bf16 {'on' if r['amp'] else 'off'})", "",
        "| episode | env steps | proxy train s | scoring s | env s |", "|---|---|---|---|---|",
    ]
    for i, e in enumerate(real["per_episode"], start=1):
        lines.append(f"| {i} | {e['steps']} | {e['train_s']:.2f} | {e['score_s']:.2f} | {e['step_s']:.2f} |")
    lines += [
        "", f"Measured: {real['episodes']} episodes in {real['wall_s']:.1f} s wall "
        f"({real['env_s']:.1f} s in env steps).", "",
        "| projection part | seconds |", "|---|---|",
        f"| set-up (data, models, agent) | {pr['setup_s']:.1f} |",
        f"| first episode's extra (autotuning, real statistics) | {pr['first_episode_extra_s']:.1f} |",
        f"| {pr['episodes']} x steady episode ({pr['steady_episode_s']:.2f} s) | "
        f"{pr['episodes'] * pr['steady_episode_s']:.1f} |",
        f"| agent over the full {pr['episodes']}-episode schedule (measured with the fake evaluator) | "
        f"{pr['agent_s']:.1f} |",
        f"| **projected {pr['episodes']}-episode search** | **{pr['projected_s']:.0f} s = "
        f"{pr['projected_min']:.1f} min** |",
    ]
    if r.get("provenance"):  # results before provenance was recorded have none
        lines[2:2] = [provenance_line(r["provenance"]), ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
