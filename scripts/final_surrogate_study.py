#!/usr/bin/env python
"""Which regressor should the final surrogate be? Out-of-fold rank quality on the final rows.

The final surrogate answers the final fidelity for every architecture without a measured row:
the env's reward at ``objective="final"``, and the rescored bests of a benchmark until they are
measured. This script fits each candidate regressor (``gan_nas_env.evaluators.surrogate.MODELS``,
all on the one-hot architecture, all predicting the seed-mean final ``[IS, FID]``) in
``--folds``-fold cross-validation, ``--reps`` times with a new split, and reports per candidate
the out-of-fold Spearman and Kendall correlation and the mean absolute error of the score
``IS - alpha FID`` (mean and sample sd over the splits). Against ``--reference`` (the kind in use)
it reports the paired difference in Spearman: the mean over splits, and a 95% bootstrap interval
over architectures of the difference between the two split-averaged out-of-fold predictions
(the architectures, not the splits, are the sample).

    python scripts/final_surrogate_study.py --out docs/validity/final_surrogate_study.json \\
        --md docs/validity/final_surrogate_study.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from gan_nas_env.evaluators.final import (
    FINAL_SURROGATE_KIND,
    GRID_KEYS,
    final_training_set,
    out_of_fold,
)
from gan_nas_env.evaluators.surrogate import MODELS
from gan_nas_env.evaluators.tabular import DEFAULT_TABLE, Table
from gan_nas_env.metrics.score import score_columns
from gan_nas_env.provenance import provenance, provenance_line
from gan_nas_env.user_files import check_outputs, run_main


def paired_interval(pred: np.ndarray, ref: np.ndarray, true: np.ndarray, boot: int, seed: int = 0
                    ) -> tuple[float, float]:
    """95% bootstrap interval (over architectures) of Spearman(pred) - Spearman(ref)."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(seed)
    n = len(true)
    diffs = np.empty(boot)
    for b in range(boot):
        i = rng.integers(0, n, n)
        diffs[b] = spearmanr(pred[i], true[i]).statistic - spearmanr(ref[i], true[i]).statistic
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    return float(lo), float(hi)


def study(table: Table, kinds: list[str], reference: str, reps: int, folds: int, boot: int,
          progress: bool = True) -> dict[str, Any]:
    """Every candidate's out-of-fold quality, and its paired difference with ``reference``."""
    from scipy.stats import kendalltau, spearmanr

    if table._finals is None:
        raise SystemExit("the table has no final rows")
    archs, x, y = final_training_set(table._finals)
    true = score_columns(y, table.alpha, GRID_KEYS)
    if len(archs) < 2 * folds:
        raise SystemExit(f"{len(archs)} architectures with final rows: too few for {folds} folds")
    out: dict[str, Any] = {"n": len(archs), "folds": folds, "reps": reps, "boot": boot, "reference": reference,
                           "in_use": FINAL_SURROGATE_KIND,
                           "score_sd": float(true.std(ddof=1)), "candidates": {}}
    mean_pred: dict[str, np.ndarray] = {}
    per_split: dict[str, list[float]] = {}
    for kind in kinds:
        t0 = time.perf_counter()
        preds = [score_columns(out_of_fold(kind, x, y, folds, r), table.alpha, GRID_KEYS) for r in range(reps)]
        rho = [float(spearmanr(p, true).statistic) for p in preds]
        tau = [float(kendalltau(p, true).statistic) for p in preds]
        mae = [float(np.abs(p - true).mean()) for p in preds]
        mean_pred[kind], per_split[kind] = np.mean(preds, 0), rho
        out["candidates"][kind] = {
            "spearman": {"mean": float(np.mean(rho)), "sd": float(np.std(rho, ddof=1)) if reps > 1 else None},
            "kendall": {"mean": float(np.mean(tau)), "sd": float(np.std(tau, ddof=1)) if reps > 1 else None},
            "score_mae": {"mean": float(np.mean(mae)), "sd": float(np.std(mae, ddof=1)) if reps > 1 else None},
            "seconds": round(time.perf_counter() - t0, 1)}
        if progress:
            print(f"{kind}: Spearman {np.mean(rho):.3f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    out["score_mae_mean_predictor"] = float(np.abs(true - true.mean()).mean())
    for kind in kinds:
        if kind != reference:
            lo, hi = paired_interval(mean_pred[kind], mean_pred[reference], true, boot)
            out["candidates"][kind]["vs_reference"] = {
                "spearman_diff_mean_over_splits": float(np.mean(np.subtract(per_split[kind], per_split[reference]))),
                "splits_better": int(np.sum(np.greater(per_split[kind], per_split[reference]))),
                "spearman_diff_ci": [lo, hi]}
    return out


def markdown(res: dict[str, Any]) -> str:
    """The report: one row per candidate, best Spearman first."""
    ref = res["reference"]
    lines = ["# Which regressor for the final surrogate?", "",
             provenance_line(res["provenance"]), "",
             f"{res['n']} architectures with final rows (seed means), {res['folds']}-fold out-of-fold "
             f"predictions of `[IS, FID]` on the one-hot architecture, {res['reps']} splits; mean +- sample sd "
             f"over the splits. The difference with `{ref}` (the reference; the table was fitted with "
             f"`{res['in_use']}`): mean over the splits, and a 95% "
             f"bootstrap interval over architectures ({res['boot']} resamples) of the difference between the "
             "split-averaged predictions. Score sd across the architectures: "
             f"{res['score_sd']:.3f}; always predicting the mean: MAE {res['score_mae_mean_predictor']:.3f}.", "",
             "| regressor | Spearman | Kendall | score MAE | Spearman - reference [95% CI] | seconds to run |",
             "|---|---|---|---|---|---|"]
    cands = res["candidates"]
    for kind in sorted(cands, key=lambda k: -cands[k]["spearman"]["mean"]):
        c = cands[kind]
        ms = lambda v, f=".3f": f"{v['mean']:{f}}" + (f" +- {v['sd']:{f}}" if v["sd"] is not None else "")  # noqa: E731
        vs = c.get("vs_reference")
        diff = (f"{vs['spearman_diff_mean_over_splits']:+.3f} [{vs['spearman_diff_ci'][0]:+.3f}, "
                f"{vs['spearman_diff_ci'][1]:+.3f}]; higher in {vs['splits_better']} of {res['reps']} splits"
                if vs else "(reference)")
        lines.append(f"| `{kind}` | {ms(c['spearman'])} | {ms(c['kendall'])} | {ms(c['score_mae'], '.4f')} "
                     f"| {diff} | {c['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the study; print the Markdown report, and write it and the JSON where told."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", default=str(DEFAULT_TABLE), help="the table file (default: the shipped one)")
    p.add_argument("--kinds", default="gradient_boosting,random_forest,ridge,gaussian_process",
                   help=f"comma-separated regressors among {', '.join(MODELS)}")
    p.add_argument("--reference", default=FINAL_SURROGATE_KIND, help="the kind the others are compared with")
    p.add_argument("--reps", type=int, default=5, help="cross-validation splits (default 5)")
    p.add_argument("--folds", type=int, default=5, help="folds per split (default 5)")
    p.add_argument("--boot", type=int, default=2000, help="bootstrap resamples of the paired interval")
    p.add_argument("--out", default=None, help="write the results as JSON with provenance here")
    p.add_argument("--md", default=None, help="write the Markdown report here")
    args = p.parse_args(argv)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds + [args.reference] if k not in MODELS]
    if unknown:
        p.error(f"unknown regressor {unknown[0]!r}; known: {', '.join(MODELS)}")
    if args.reference not in kinds:
        kinds.insert(0, args.reference)
    if args.reps < 1 or args.folds < 2 or args.boot < 1:
        p.error("--reps and --boot must be >= 1 and --folds >= 2")
    check_outputs(p, args, "--out", "--md")  # before the work, not after it
    res = study(Table.load(args.table), kinds, args.reference, args.reps, args.folds, args.boot)
    res["provenance"] = provenance(["python", "scripts/final_surrogate_study.py",
                                    *(sys.argv[1:] if argv is None else argv)])
    md = markdown(res)
    print(md)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1) + "\n")
    if args.md:
        Path(args.md).write_text(md)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "final_surrogate_study.py"))
