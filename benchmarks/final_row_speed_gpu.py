#!/usr/bin/env python
"""A final protocol v2 row on one GPU: the retraining iteration eager against one CUDA graph.

Times :func:`gan_nas_env.training.retrain.train_iteration` of the final protocol (two
discriminator steps, a generator step, the EMA) for a few architectures of the table's
uniform sampling order, with ``train.cuda_graphs`` off (the plain loop) and on
(:mod:`gan_nas_env.training.retrain_graph`), in one process, round-robin, synchronising the
device around each timed block; then one scoring of the EMA generator. From those, the
seconds of one row (``retrain.g_iters`` iterations and a scoring every ``retrain.eval_every``)
by one worker. Also reports how far the two modes' losses are apart after the same
iterations (same seed: the graph replays the same numbers; only kernel-level noise differs).

    python -m benchmarks.final_row_speed_gpu --out out/final_row_speed_gpu.json --md out/final_row_speed_gpu.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from gan_nas_env.config import load_config
from gan_nas_env.evaluators.tabular import sampling_order
from gan_nas_env.provenance import provenance
from gan_nas_env.training.retrain import build_run, score_generator, train_iteration
from gan_nas_env.user_files import check_outputs


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_mode(cfg: Any, arch: Any, graphs: bool, iters: int, warmup: int, tmp: Path) -> dict[str, Any]:
    """Seconds per iteration of ``arch`` with graphs on or off, and the losses it made."""
    cfg = load_config(cfg, {"train.cuda_graphs": graphs})
    dev = torch.device(cfg.device)
    run = build_run(cfg, arch, tmp, dev, None, time.perf_counter())
    t = cfg.retrain.train_config(cfg.train)
    res, latent = int(run.G.resolution), cfg.model.latent_dim  # type: ignore[arg-type]
    losses = [train_iteration(run, t, res, latent) for _ in range(warmup)]
    _sync(dev)
    t0 = time.perf_counter()
    losses += [train_iteration(run, t, res, latent) for _ in range(iters)]
    _sync(dev)
    s = (time.perf_counter() - t0) / iters
    captured = bool(run.graphed is not None and run.graphed.graph is not None)
    return {"s_per_iter": s, "captured": captured,
            "losses": torch.stack([torch.stack(x) for x in losses]).cpu().tolist()}


def time_streams(cfg: Any, archs: list[Any], k: int, iters: int, warmup: int, tmp: Path) -> dict[str, Any]:
    """``k`` rows in one process, each replaying its graphed iteration on its own CUDA stream.

    One host thread steps the rows in turn (a replay returns at once), so their kernels can run
    side by side on the GPU: the in-process alternative to ``k`` builder processes, which the
    driver time-slices. Generator iterations per second over all ``k`` rows.
    """
    cfg = load_config(cfg, {"train.cuda_graphs": True})
    dev = torch.device(cfg.device)
    runs = [build_run(cfg, archs[i % len(archs)], tmp, dev, None, time.perf_counter()) for i in range(k)]
    t = cfg.retrain.train_config(cfg.train)
    res, latent = int(runs[0].G.resolution), cfg.model.latent_dim  # type: ignore[arg-type]
    streams = [torch.cuda.Stream(dev) for _ in runs]

    def step_all(n: int) -> None:
        for _ in range(n):
            for run, stream in zip(runs, streams, strict=True):
                with torch.cuda.stream(stream):
                    train_iteration(run, t, res, latent)

    step_all(warmup)  # the warm-up iterations and each row's capture
    _sync(dev)
    t0 = time.perf_counter()
    step_all(iters)
    _sync(dev)
    s = time.perf_counter() - t0
    return {"rows": k, "iters_per_s_total": k * iters / s, "iters_per_s_per_row": iters / s,
            "captured": sum(bool(r.graphed is not None and r.graphed.graph is not None) for r in runs)}


PICK_GAIN = 1.5  # rows in threads only when K streams beat one row's rate by this much


def pick_layout(result: dict[str, Any], rows: int) -> tuple[int, int]:
    """Builder processes x rows per process (``build_finals.py --threads``) for ``rows`` rows in
    flight, from this benchmark's stream timings: the stream count with the most iterations a
    second in all, when every row of it was captured and it beats one row by :data:`PICK_GAIN`;
    else one row per process (processes are what the eager windows measured)."""
    ok = [x for x in result.get("streams") or [] if "error" not in x and x.get("captured") == x["rows"]]
    one = next((x for x in ok if x["rows"] == 1), None)
    best = max(ok, key=lambda x: x["iters_per_s_total"], default=None)
    if one is None or best is None or best["rows"] == 1 or best["iters_per_s_total"] < PICK_GAIN * one["iters_per_s_total"]:
        return rows, 1
    threads = min(best["rows"], rows)
    return -(-rows // threads), threads


def pick_main(argv: list[str]) -> None:
    """``pick JSON --rows N``: print :func:`pick_layout`'s workers and threads (gpu_suite.sh THREADS=auto)."""
    q = argparse.ArgumentParser(prog="final_row_speed_gpu pick", description=pick_layout.__doc__)
    q.add_argument("json", type=Path, help="this benchmark's --out")
    q.add_argument("--rows", type=int, required=True, help="rows in flight (the window's WORKERS)")
    asked = q.parse_args(argv)
    if asked.rows < 1:
        q.error(f"--rows must be at least 1, got {asked.rows}")
    result = json.loads(asked.json.read_text()) if asked.json.is_file() else {}
    print(*pick_layout(result, asked.rows))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["pick"]:
        pick_main(argv[1:])
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="final-fmnist-v2")
    p.add_argument("--device", default="cuda")
    p.add_argument("--data-root", default=None, help="data.root override (the carried offline data)")
    p.add_argument("--archs", type=int, default=3)
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--streams", default="", metavar="K,K,...",
                   help="also time K rows in one process, one CUDA stream each (e.g. 1,4,16; CUDA only)")
    p.add_argument("--out", required=True)
    p.add_argument("--md", default=None)
    args = p.parse_args(argv)
    check_outputs(p, args, "--out", "--md")  # before the work, not after it
    try:
        stream_counts = [int(x) for x in args.streams.split(",") if x.strip()]
    except ValueError:
        p.error(f"--streams takes whole numbers separated by commas (e.g. 1,8), got {args.streams!r}")
    if any(k < 1 for k in stream_counts):
        p.error(f"--streams: each count must be at least 1, got {args.streams!r}")
    torch.set_num_threads(1)
    over: dict[str, Any] = {"device": args.device}
    if args.data_root:
        over["data.root"] = args.data_root
    cfg = load_config(args.config, over)
    archs = sampling_order(load_config("table-fmnist").seed, args.archs)
    tmp = Path("runs/bench_tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    modes = (False, True) if args.device.startswith("cuda") else (False,)
    per: dict[bool, list[float]] = {m: [] for m in modes}
    captured: dict[bool, bool] = {}
    gap: list[float] = []
    for rep in range(args.repeats):
        for arch in archs:
            got = {m: time_mode(cfg, arch, m, args.iters, args.warmup, tmp) for m in modes}
            for m in modes:
                per[m].append(got[m]["s_per_iter"])
                captured[m] = got[m]["captured"]
                print(f"rep {rep} {arch} graphs={m}: {1000 * got[m]['s_per_iter']:.2f} ms/iter"
                      f"{' (captured)' if got[m]['captured'] else ''}", flush=True)
            if len(modes) == 2:
                a, b = (torch.tensor(got[m]["losses"]) for m in modes)
                gap.append(float((a - b).abs().max()))
    streams = []
    if args.device.startswith("cuda"):
        for k in stream_counts:
            try:
                streams.append(time_streams(cfg, archs, k, args.iters, args.warmup, tmp))
            except RuntimeError as err:  # a first try on the device: keep the other numbers
                print(f"{k} rows on {k} streams failed: {err}", flush=True)
                streams.append({"rows": k, "error": str(err)[:500]})
                continue
            print(f"{k} rows on {k} streams: {streams[-1]['iters_per_s_total']:.0f} it/s in all "
                  f"({streams[-1]['iters_per_s_per_row']:.1f} per row)", flush=True)
    run = build_run(cfg, archs[0], tmp, torch.device(cfg.device), None, time.perf_counter())
    score_generator(run.ema.module, run.scorer, 250, cfg.model.latent_dim, 0, run.dev)  # warm
    _sync(run.dev)
    t0 = time.perf_counter()
    score_generator(run.ema.module, run.scorer, cfg.retrain.eval_samples, cfg.model.latent_dim, 0, run.dev)
    _sync(run.dev)
    scoring_s = time.perf_counter() - t0
    r = cfg.retrain
    scorings = r.g_iters // r.eval_every
    result = {
        "config": args.config, "device": args.device, "archs": [str(a) for a in archs],
        "iters": args.iters, "warmup": args.warmup, "repeats": args.repeats,
        "modes": {("graphs" if m else "eager"): {
            "ms_per_iter_median": 1000 * statistics.median(per[m]), "ms_per_iter_all": [1000 * x for x in per[m]],
            "captured": captured[m],
            "row_s": statistics.median(per[m]) * r.g_iters + scorings * scoring_s} for m in modes},
        "scoring_s": scoring_s, "scorings_per_row": scorings,
        "max_loss_gap_graphs_vs_eager": max(gap) if gap else None,
        "streams": streams,
        "provenance": provenance(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    if args.md:
        Path(args.md).write_text(render_md(result))
    print(json.dumps({k: v for k, v in result.items() if k != "provenance"}, indent=1))


def render_md(d: dict[str, Any]) -> str:
    """The JSON as a short Markdown table."""
    m = d["provenance"]["machine"]
    lines = [
        f"# A final row on one {m.get('gpu') or m.get('cpu')}: eager against one CUDA graph per iteration",
        "",
        f"`python -m benchmarks.final_row_speed_gpu` ({d['config']}, {len(d['archs'])} architectures x "
        f"{d['repeats']} repeats, {d['iters']} timed iterations each after {d['warmup']}; "
        f"git {d['provenance']['git_sha'][:12]}).",
        "",
        "| mode | ms per iteration (median) | captured | one row, one worker |",
        "|---|---|---|---|",
    ]
    for name, v in d["modes"].items():
        lines.append(f"| {name} | {v['ms_per_iter_median']:.2f} | {v['captured']} | {v['row_s']:.0f} s |")
    lines += ["", f"One scoring ({d['scorings_per_row']} a row): {d['scoring_s']:.2f} s. "
              f"Largest loss gap, graphs vs eager, same seed: {d['max_loss_gap_graphs_vs_eager']}.", ""]
    if d.get("streams"):
        lines += ["Several rows in one process, one CUDA stream each (graphed iterations, one host thread):", "",
                  "| rows | it/s in all | it/s per row | captured |", "|---|---|---|---|"]
        lines += [f"| {x['rows']} | {x['iters_per_s_total']:.0f} | {x['iters_per_s_per_row']:.1f} | {x['captured']} |"
                  if "error" not in x else f"| {x['rows']} | failed: {x['error'][:80]} | | |" for x in d["streams"]]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
