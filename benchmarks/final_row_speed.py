#!/usr/bin/env python
"""Cost of a final row on CPU: seconds per generator iteration and per scoring, by technique.

Times the final protocol's own training iteration (``gan_nas_env.training.retrain.train_iteration``:
``n_critic`` discriminator steps, a generator step, the EMA update) for a few
architectures of the table's uniform sampling order, under each variant:

- ``fp32``: the protocol as it runs today (contiguous NCHW, fp32, eager);
- ``channels_last``: NHWC models and batches;
- ``bf16``: CPU bf16 autocast of the forward passes (oneDNN bf16 kernels where the CPU has them);
- ``bf16+channels_last``;
- ``compile``, ``compile+channels_last``: ``torch.compile`` of G (inductor; the compile
  time shows in the warm-up). D cannot be compiled here: its two forward passes before
  one backward fail inductor's in-place check.

Each variant is timed in the same process, one torch thread, after a warm-up, in
round-robin repeats so that a change of machine load hits every variant alike.
Also times one scoring of the EMA generator (``retrain.eval_samples`` samples) and
reports what a row costs at each budget with a scoring every ``--eval-every`` iterations.

    python -m benchmarks.final_row_speed --out docs/perf/final_row_speed_cpu.json \\
        --md docs/perf/final_row_speed_cpu.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from gan_nas_env.config import load_config
from gan_nas_env.errors import UserError
from gan_nas_env.evaluators.tabular import sampling_order
from gan_nas_env.provenance import provenance
from gan_nas_env.training.retrain import build_run, score_generator, train_iteration
from gan_nas_env.user_files import check_outputs, read_json_file

VARIANTS = ("fp32", "channels_last", "bf16", "bf16+channels_last", "compile", "compile+channels_last",
            "compile+bf16+channels_last")


def _prepare(cfg: Any, arch: Any, variant: str, tmp: Path) -> Any:
    """A fresh run of ``arch`` set up for ``variant``."""
    run = build_run(cfg, arch, tmp, torch.device("cpu"), None, time.perf_counter())
    if "channels_last" in variant:
        run.G.to(memory_format=torch.channels_last)
        run.D.to(memory_format=torch.channels_last)
        batch = run.bank.batch
        run.bank.batch = lambda *a, **k: batch(*a, **k).contiguous(memory_format=torch.channels_last)
    if "bf16" in variant:
        run.gan_step.amp = True
        run.gan_step.device_type = "cpu"
    if variant.startswith("compile"):
        # D's two forward passes before one backward trip inductor's in-place check
        # (aot_autograd's version counter), so only G is compiled; the EMA reads the eager G
        g_eager = run.G
        run.G = run.gan_step.G = cast(nn.Module, torch.compile(run.G))  # an OptimizedModule
        ema_update = run.ema.update
        # this run's EMA averages the eager G whatever it is handed (a benchmark-only patch)
        run.ema.update = lambda _m: ema_update(g_eager)  # type: ignore[method-assign,assignment]
    return run


def time_iterations(cfg: Any, arch: Any, variant: str, iters: int, warmup: int, tmp: Path) -> dict[str, float]:
    """Median seconds per training iteration of ``arch`` under ``variant`` (and warm-up time)."""
    run = _prepare(cfg, arch, variant, tmp)
    t = cfg.retrain.train_config(cfg.train)
    res, latent = run.ema.module.resolution, cfg.model.latent_dim
    t0 = time.perf_counter()
    for _ in range(warmup):
        train_iteration(run, t, res, latent)
    warm_s = time.perf_counter() - t0
    times = []
    for _ in range(iters):
        t1 = time.perf_counter()
        d, g = train_iteration(run, t, res, latent)
        float(d), float(g)  # the loop syncs once per log interval; here once per iteration (CPU: free)
        times.append(time.perf_counter() - t1)
    return {"s_per_iter": statistics.median(times), "warmup_s": warm_s}


def time_scoring(cfg: Any, arch: Any, tmp: Path) -> float:
    """Seconds of one scoring of the EMA generator on ``retrain.eval_samples`` samples."""
    run = _prepare(cfg, arch, "fp32", tmp)
    score_generator(run.ema.module, run.scorer, 250, cfg.model.latent_dim, 0, run.dev)  # warm
    t0 = time.perf_counter()
    score_generator(run.ema.module, run.scorer, cfg.retrain.eval_samples, cfg.model.latent_dim, 0, run.dev)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="final-fmnist")
    p.add_argument("--archs", type=int, default=3, help="architectures of the table's sampling order")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--iters", type=int, default=20, help="timed iterations per variant and repeat")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=2, help="round-robin repeats over the variants")
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--out", default=None)
    p.add_argument("--md", default=None)
    p.add_argument("--render", default=None, metavar="JSON", help="write --md from a run's JSON and exit")
    p.add_argument("--note", default=None,
                   help="the load the run was timed under, kept in the JSON and shown in the report "
                        "(with --render: added to that JSON)")
    args = p.parse_args(argv)
    check_outputs(p, args, "--out", "--md")  # before the work, not after it
    if args.render:
        if not args.md:
            p.error("--render needs --md")
        try:
            data = read_json_file(args.render, "--render")
        except UserError as exc:
            p.error(str(exc))
        if args.note:
            data["note"] = args.note
            Path(args.render).write_text(json.dumps(data, indent=1))
        Path(args.md).write_text(render_md(data))
        return
    torch.set_num_threads(1)
    cfg = load_config(args.config)
    archs = sampling_order(load_config("table-fmnist").seed, args.archs)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        p.error(f"unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}")
    tmp = Path("runs/bench_tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    per: dict[str, dict[str, list[float]]] = {v: {} for v in variants}
    warm: dict[str, list[float]] = {v: [] for v in variants}
    for rep in range(args.repeats):
        for arch in archs:
            for v in variants:
                r = time_iterations(cfg, arch, v, args.iters, args.warmup, tmp)
                per[v].setdefault(str(arch), []).append(r["s_per_iter"])
                warm[v].append(r["warmup_s"])
                print(f"rep {rep} {arch} {v:20s} {1000 * r['s_per_iter']:.1f} ms/iter "
                      f"(warm-up {r['warmup_s']:.1f} s)", flush=True)
    scoring_s = time_scoring(cfg, archs[0], tmp)
    rows = []
    base = {a: min(ts) for a, ts in per["fp32"].items()} if "fp32" in per else None
    for v in variants:
        best = {a: min(ts) for a, ts in per[v].items()}
        mean_s = statistics.mean(best.values())
        row = {"variant": v, "ms_per_iter": {a: 1000 * s for a, s in best.items()},
               "mean_ms_per_iter": 1000 * mean_s, "warmup_s_max": max(warm[v])}
        if base:
            row["speedup_vs_fp32"] = statistics.mean(base[a] / best[a] for a in best)
        rows.append(row)
    per_k = {k: {r["variant"]: k * r["mean_ms_per_iter"] / 1000 + (k // args.eval_every) * scoring_s
                 for r in rows} for k in (1000, 3000, 5000, 10000)}
    data = {"config": args.config, "archs": [str(a) for a in archs], "iters": args.iters,
            "repeats": args.repeats, "threads": 1, "rows": rows, "scoring_s": scoring_s,
            "eval_samples": cfg.retrain.eval_samples, "eval_every": args.eval_every,
            "row_s_by_budget": per_k, "note": args.note, "provenance": provenance()}
    print(json.dumps({k: v for k, v in data.items() if k != "provenance"}, indent=1))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(data, indent=1))
    if args.md:
        Path(args.md).write_text(render_md(data))


def render_md(data: dict[str, Any]) -> str:
    """The Markdown report of a run's JSON (``--render`` redraws it without timing again)."""
    m, prov = data["provenance"]["machine"], data["provenance"]
    lines = [f"# Cost of a final row on CPU ({m.get('cpu')}, {m.get('cores', '?')} cores, 1 thread per row)", "",
             f"`{' '.join(prov['command'])}` at git {prov['git_sha'][:12]}, gan-nas-env {prov['version']}; "
             f"{len(data['archs'])} architectures of the table's sampling order, each variant timed in "
             f"the same process, round-robin, best of {data['repeats']} x {data['iters']} iterations."
             + (f" {data['note']}" if data.get("note") else ""), ""]
    # speed-up against fp32 when it was timed, else against the first variant (per architecture)
    base = next((r for r in data["rows"] if r["variant"] == "fp32"), data["rows"][0])
    lines += [f"| variant | ms / generator iteration | speed-up vs {base['variant']} |", "|---|---|---|"]
    for r in data["rows"]:
        up = statistics.mean(base["ms_per_iter"][a] / r["ms_per_iter"][a] for a in r["ms_per_iter"])
        lines.append(f"| {r['variant']} | {r['mean_ms_per_iter']:.1f} | {up:.2f}x |")
    lines += ["", f"One scoring of the EMA generator ({data['eval_samples']} samples): "
              f"{data['scoring_s']:.1f} s.", "",
              f"Seconds of one core per final row, by budget (training + a scoring every "
              f"{data['eval_every']} iterations):", "",
              "| budget | " + " | ".join(r["variant"] for r in data["rows"]) + " |",
              "|---|" + "---|" * len(data["rows"])]
    for k, per in data["row_s_by_budget"].items():
        lines.append(f"| {k} | " + " | ".join(f"{per[r['variant']]:.0f}" for r in data["rows"]) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
