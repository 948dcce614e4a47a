#!/usr/bin/env python
"""How much of a final metric's seed-to-seed noise is evaluation noise? (docs/validity/)

The gold subset (``scripts/gold_report.py``) shows FID ranking architectures less stably
across training seeds than the score. A final row scores its EMA generator on 2,000
samples; part of that noise may come from the 2,000 samples, not from training. This
script separates the two, from the generators the gold rows kept (``checkpoint.pt`` at the
budget, in the build's run folders, ``--runs``):

1. **check**: the generator is re-scored exactly as its training scored it (its
   ``retrain.eval_samples`` on the training's latent codes) and compared with the last row
   of its ``metrics.csv`` (proof that the rebuilt generator and scorer are the row's own);
2. ``--samples`` (10,000) images on new latent codes, features extracted once, scored as a
   whole and as disjoint slices of ``eval_samples`` (five slices of 2,000): the spread over
   the slices is the evaluation noise of a 2,000-sample score.

The report sets the evaluation sd against the seed-to-seed and between-architecture sds,
and ranks the two-seed architectures by 2,000 and by 10,000 samples: if the seed-to-seed
agreement of FID rises with 10,000 samples, scoring the final checkpoint on more samples is
the cheap cure (a scoring of 10,000 is about 1.5% of a row's training).

Resumable: rows already in ``--out`` (same run folder, same iteration) are kept::

    python scripts/metric_noise.py            # docs/validity/metric_noise.{json,md}
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_finals import read_curve  # noqa: E402
from gold_report import kendall_ci, tau_ci  # noqa: E402

from gan_nas_env.config import DataConfig, MetricsConfig  # noqa: E402
from gan_nas_env.metrics.score import FID, IS, KID, SCORE, SIGN, score_of  # noqa: E402
from gan_nas_env.provenance import provenance  # noqa: E402
from gan_nas_env.user_files import check_outputs  # noqa: E402

DOCS = Path("docs/validity")


def run_folders(runs: Path, budget: int) -> list[Path]:
    """Run folders under ``runs`` (any curve hash) whose ``checkpoint.pt`` is at ``budget``."""
    out = []
    for ckpt in sorted(runs.glob("*/*/checkpoint.pt")):
        last = _last_curve_row(ckpt.parent)
        if last is not None and int(last["iter"]) == budget:
            out.append(ckpt.parent)
    return out


def _last_curve_row(folder: Path) -> dict[str, float] | None:
    """The last scoring of a run folder's learning curve (None before the first)."""
    curve = read_curve(folder) if (folder / "metrics.csv").exists() else []
    return curve[-1] if curve else None


@functools.cache
def _scorer(data: DataConfig, metrics: MetricsConfig, seed: int) -> Any:
    """The scorer of the rows' data and metric settings, built once for all their generators."""
    from gan_nas_env.data.images import dataset_key, load_images
    from gan_nas_env.metrics.scorer import FeatureScorer

    images = load_images(data, "train", device="cpu", seed=seed)
    return FeatureScorer(metrics, images[: metrics.real_samples], dataset_key(data, "train"), device="cpu")


def measure(folder: Path, samples: int, alpha: float) -> dict[str, Any]:
    """The check and the sliced scoring of one run folder's final generator."""
    import torch

    from gan_nas_env.config import load_config
    from gan_nas_env.data.imageops import to_uint8
    from gan_nas_env.models.generator import generate
    from gan_nas_env.training.checkpoint_eval import EVALUATE_SALT
    from gan_nas_env.training.retrain import (
        load_generator,
        read_checkpoint,
        score_generator,
    )

    t0 = time.perf_counter()
    ckpt = read_checkpoint(folder / "checkpoint.pt")
    cfg = load_config(None, ckpt["config"])
    dev = torch.device("cpu")
    G, arch = load_generator(folder / "checkpoint.pt", dev)
    scorer = _scorer(cfg.data, cfg.metrics, cfg.seed)
    n, latent = cfg.retrain.eval_samples, cfg.model.latent_dim
    if samples % n:
        raise SystemExit(f"--samples {samples} is not a multiple of the rows' eval_samples {n}")
    check = score_generator(G, scorer, n, latent, cfg.seed, dev)
    # new latent codes, one stream for all batches (the evaluate command's seed)
    gen = torch.Generator(device=dev).manual_seed(cfg.seed * 7919 + EVALUATE_SALT)
    with torch.no_grad():
        fakes = [to_uint8(generate(G, torch.randn(min(cfg.metrics.batch_size, samples - i), latent,
                                                  generator=gen), gen))
                 for i in range(0, samples, cfg.metrics.batch_size)]
    logits, feats = scorer.extract_features(torch.cat(fakes))
    res = int(fakes[0].shape[-2])
    whole = scorer.score_features(logits, feats, res)
    slices = [scorer.score_features(logits[i:i + n], feats[i:i + n], res) for i in range(0, samples, n)]
    curve = _last_curve_row(folder)
    assert curve is not None
    pick = (IS, FID, KID)
    return {
        "folder": folder.name, "curve_hash": folder.parent.name, "arch": str(arch),
        "seed": int(cfg.seed), "iter": int(ckpt["step"]), "eval_samples": n, "samples": samples,
        "curve": {k: curve[k] for k in pick}, "check": {k: check[k] for k in pick},
        "whole": {k: whole[k] for k in pick}, "slices": [{k: s[k] for k in pick} for s in slices],
        "alpha": alpha, "wall_s": time.perf_counter() - t0,
        "torch_threads": torch.get_num_threads(),
    }


def _with_score(m: dict[str, float], alpha: float) -> dict[str, float]:
    return {**m, SCORE: score_of(m, alpha)}


def analyse(rows: list[dict[str, Any]], reps: int = 2000) -> dict[str, Any]:
    """Evaluation, seed and between-architecture sds; two-seed and 2k-vs-10k rankings."""
    alpha = rows[0]["alpha"]
    check_err = max(abs(r["check"][k] - r["curve"][k]) / abs(r["curve"][k])
                    for r in rows for k in (IS, FID))
    by_key = {(r["arch"], r["seed"]): r for r in rows}
    s0 = sorted(a for a, s in by_key if s == 0)
    pairs = [a for a in s0 if (a, 1) in by_key]
    out: dict[str, Any] = {"n_rows": len(rows), "n_seed0": len(s0), "n_pairs": len(pairs),
                           "check_max_rel_err": check_err, "alpha": alpha,
                           "eval_samples": rows[0]["eval_samples"], "samples": rows[0]["samples"],
                           "metrics": {}}
    for m, sign in SIGN.items():
        def val(r: dict[str, Any], which: str, m: str = m) -> float:
            return _with_score(r[which], alpha)[m]

        eval_sd = [np.std([_with_score(s, alpha)[m] for s in r["slices"]], ddof=1) for r in rows]
        d: dict[str, Any] = {"eval_sd_2k": float(np.mean(eval_sd)),
                             "eval_sd_whole": float(np.mean(eval_sd) / np.sqrt(len(rows[0]["slices"])))}
        for which in ("curve", "whole"):
            x = np.array([val(by_key[(a, 0)], which) for a in s0])
            d[f"between_sd_{which}"] = float(np.std(x, ddof=1))
            if len(pairs) >= 3:
                a0 = np.array([val(by_key[(a, 0)], which) for a in pairs])
                a1 = np.array([val(by_key[(a, 1)], which) for a in pairs])
                d[f"seed_sd_{which}"] = float(np.sqrt(np.mean((a0 - a1) ** 2) / 2))
                d[f"seed_tau_{which}"] = kendall_ci(sign * a0, sign * a1, reps)
        x2 = np.array([val(by_key[(a, 0)], "curve") for a in s0])
        x10 = np.array([val(by_key[(a, 0)], "whole") for a in s0])
        d["tau_2k_vs_whole"] = kendall_ci(sign * x2, sign * x10, reps)
        out["metrics"][m] = d
    return out


def markdown(res: dict[str, Any], prov: dict[str, Any]) -> str:
    """docs/validity/metric_noise.md."""
    n, big = res["eval_samples"], res["samples"]

    def f(x: float | None, m: str) -> str:
        return "-" if x is None else (f"{x:.3f}" if m in (SCORE, IS) else f"{x:.4g}")

    lines = [
        f"## Evaluation noise of the final metrics ({n:,} against {big:,} samples)", "",
        f"{res['n_rows']} final generators of the gold subset (10,000 iterations; {res['n_seed0']} "
        f"seed-0 rows, {res['n_pairs']} architectures with two seeds), each scored on {big:,} new "
        f"samples (features extracted once) and on {big // n} disjoint slices of {n:,}. Written by "
        f"`scripts/metric_noise.py` ({prov['machine']['cpu']}, git {prov['git_sha'][:10]}); numbers "
        "in `docs/validity/metric_noise.json`.", "",
        f"Check: each generator re-scored as its training scored it reproduces its curve's last "
        f"value within {100 * res['check_max_rel_err']:.2g}% (IS and FID).", "",
        f"| metric | evaluation sd ({n:,}) | seed-to-seed sd ({n:,}) | between sd ({n:,}) | "
        f"seed-to-seed sd ({big:,}) | between sd ({big:,}) | seed 0 vs 1 tau ({n:,}) | "
        f"seed 0 vs 1 tau ({big:,}) | {n:,} vs {big:,} tau |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m, d in res["metrics"].items():
        lines.append(
            f"| {m} | {f(d['eval_sd_2k'], m)} | {f(d.get('seed_sd_curve'), m)} | "
            f"{f(d['between_sd_curve'], m)} | {f(d.get('seed_sd_whole'), m)} | "
            f"{f(d['between_sd_whole'], m)} | {tau_ci(d.get('seed_tau_curve'))} | "
            f"{tau_ci(d.get('seed_tau_whole'))} | {tau_ci(d['tau_2k_vs_whole'])} |")
    lines += ["", f"Evaluation sd: the sd (ddof 1) over the {big // n} slices, averaged over the "
              "generators. Seed-to-seed sd: from the two seeds' differences, sqrt(mean(d^2)/2). "
              f"Between sd: over the seed-0 rows. Last column: Kendall tau between the seed-0 rows' "
              f"{n:,}-sample ranking (their curve) and their {big:,}-sample ranking. Intervals: "
              "seeded bootstrap 95% over architectures.", "",
              "Rerun (resumes): `python scripts/metric_noise.py`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=Path, default=Path("runs/finals_v2"), help="the builder's run folders")
    p.add_argument("--budget", type=int, default=10000, help="iteration of the generators to score")
    p.add_argument("--samples", type=int, default=10000, help="images per generator (a multiple of eval_samples)")
    p.add_argument("--alpha", type=float, default=0.01, help="the score's FID weight")
    p.add_argument("--out", type=Path, default=DOCS / "metric_noise.json")
    p.add_argument("--limit", type=int, default=None, help="measure at most this many new rows")
    args = p.parse_args(argv)
    check_outputs(p, args, "--out")  # before the work, not after it
    if not args.runs.is_dir():
        raise SystemExit(f"no run folders at {args.runs} (the v2 builder's --runs)")
    done: dict[str, Any] = {}
    if args.out.exists():
        done = {f"{r['curve_hash']}/{r['folder']}": r for r in json.loads(args.out.read_text())["rows"]}
    todo = [f for f in run_folders(args.runs, args.budget) if f"{f.parent.name}/{f.name}" not in done]
    todo = todo[: args.limit] if args.limit is not None else todo
    prov = provenance()
    from tqdm.auto import tqdm

    for folder in tqdm(todo, desc="generators"):
        r = measure(folder, args.samples, args.alpha)
        done[f"{r['curve_hash']}/{r['folder']}"] = r
        _write(args.out, prov, list(done.values()))  # a kill keeps every finished generator
    if not done:
        raise SystemExit(f"no generator at iteration {args.budget} under {args.runs}")
    rows = list(done.values())
    res = analyse(rows)
    _write(args.out, prov, rows, res)
    args.out.with_suffix(".md").write_text(markdown(res, prov))
    print(args.out.with_suffix(".md").read_text())


def _write(path: Path, prov: dict[str, Any], rows: list[dict[str, Any]], res: dict[str, Any] | None = None) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"provenance": prov, "analysis": res, "rows": rows}, indent=1))
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
