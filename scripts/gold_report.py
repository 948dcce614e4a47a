#!/usr/bin/env python
"""The gold subset: where does the ranking of trained GANs settle? (docs/validity.md)

Reads the learning-curve rows of final protocol v2 (``scripts/build_finals.py --config
final-fmnist-v2 --export docs/validity/finals_v2.json``). The gold subset is the first
``--n`` distinct architectures of the table's uniform sampling order whose seed-0 row
reaches the gold budget (10,000 generator iterations). For each checkpoint it reports,
for the score ``IS - alpha FID``, FID, IS and KID separately:

- the curves' mean and spread over the architectures;
- Kendall tau (seeded bootstrap 95% interval over architectures) between that
  checkpoint's ranking and the last checkpoint's;
- the seed-to-seed spread (architectures with two seeds) against the spread between
  architectures, and how two seeds' rankings agree;
- with three or more two-seed architectures: Kendall tau between seed 0's ranking at each
  checkpoint and seed 1's at the last. A checkpoint is compared with the last one of
  *another* training, so the agreement late checkpoints owe to sharing one trajectory with
  the last does not count: at the last checkpoint it is the seed-to-seed ceiling, and a
  budget whose value is near that ceiling predicts a trained GAN as well as a full training;
- the cheapest checkpoint whose ranking agrees with the last at tau >= 0.8, and the first
  from which every later checkpoint agrees too (where the ranking has settled).

It copies the sample grids of the best and the worst architecture at three checkpoints
(from this machine's run folders, ``--runs``; committed grids are kept when the folders
are gone), appends ``gold_notes.md`` from the docs folder (hand-written: what someone who
opened the grids saw) and writes ``docs/validity/gold.json``, ``docs/validity/gold.md`` (included in
``docs/validity.md`` by ``scripts/validity.py report``) and two plots::

    python scripts/gold_report.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gan_nas_env.evaluators.final import CURVE_KEYS, WALL_COL, FinalRows
from gan_nas_env.evaluators.tabular import sampling_order
from gan_nas_env.metrics.score import FID, SIGN, metric_column
from gan_nas_env.provenance import provenance
from gan_nas_env.user_files import read_json_file, run_main

DOCS = Path("docs/validity")
METRICS = SIGN  # metric -> the sign that makes higher better
COLOURS = {"score": "C0", "IS": "C1", "FID": "C2", "KID": "C3"}  # one colour per metric in every plot
TARGET_TAU = 0.8
LAG = 2000  # iterations: how far on a checkpoint is compared with itself ("does the ranking still move?")
REPS = 2000


def metric_at(rows: FinalRows, iters: int, metric: str, alpha: float) -> np.ndarray:
    """Every row's ``metric`` at checkpoint ``iters`` (NaN where the row stops earlier)."""
    return metric_column(rows.at(iters), metric, alpha, CURVE_KEYS)


def kendall_ci(x: np.ndarray, y: np.ndarray, reps: int = REPS, seed: int = 0) -> dict[str, Any]:
    """Kendall tau of ``x`` and ``y`` with a seeded bootstrap 95% interval (resampling pairs)."""
    from scipy.stats import kendalltau

    tau = float(kendalltau(x, y).statistic)
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(reps):
        i = rng.integers(0, len(x), len(x))
        if len(set(i)) > 2:
            t = kendalltau(x[i], y[i]).statistic
            if np.isfinite(t):
                boots.append(t)
    lo, hi = (np.percentile(boots, [2.5, 97.5]) if boots else (np.nan, np.nan))
    return {"tau": tau, "lo": float(lo), "hi": float(hi), "n": len(x)}


def gold_archs(rows: FinalRows, n: int, budget: int, table_seed: int = 0) -> list[str]:
    """The first ``n`` of the uniform sampling order whose seed-0 row reaches ``budget``."""
    reach = {a for a, s, v in zip(rows.archs, rows.seeds, rows.at(budget)[:, 1])
             if s == 0 and np.isfinite(v)}
    order = dict.fromkeys(str(a) for a in sampling_order(table_seed, 4 * n + 200))
    return [a for a in order if a in reach][:n]


def analyse(rows: FinalRows, archs: list[str], budget: int, alpha: float, reps: int = REPS,
            lag: int = LAG) -> dict[str, Any]:
    """Per checkpoint: curves, Kendall vs the last checkpoint, seed noise; the chosen budget."""
    assert rows.curve_iters is not None
    checkpoints = [int(i) for i in rows.curve_iters if i <= budget]
    s0 = {a: i for i, (a, s) in enumerate(zip(rows.archs, rows.seeds)) if s == 0}
    s1 = {a: i for i, (a, s) in enumerate(zip(rows.archs, rows.seeds)) if s == 1}
    idx0 = np.array([s0[a] for a in archs])
    paired = [a for a in archs if a in s1 and np.isfinite(rows.at(budget)[s1[a], 1])]
    out: dict[str, Any] = {"n": len(archs), "archs": archs, "budget": budget, "alpha": alpha,
                           "checkpoints": checkpoints, "n_two_seeds": len(paired),
                           "two_seed_archs": paired, "metrics": {}}
    idx0_paired = np.array([s0[a] for a in paired], int)
    idx1_paired = np.array([s1[a] for a in paired], int)
    for metric, sign in METRICS.items():
        at_budget = sign * metric_at(rows, budget, metric, alpha)
        last, other_last = at_budget[idx0], at_budget[idx1_paired]
        per: list[dict[str, Any]] = []
        for k in checkpoints:
            v = metric_at(rows, k, metric, alpha)
            x = v[idx0]
            rec: dict[str, Any] = {"iters": k, "mean": float(np.mean(x)), "sd": float(np.std(x, ddof=1)),
                                   "min": float(np.min(x)), "max": float(np.max(x)),
                                   "vs_last": kendall_ci(sign * x, last, reps)}
            if k + lag in checkpoints:
                # does the ranking still move? a settled one agrees with itself ``lag`` iterations on
                rec["vs_lag"] = kendall_ci(x, metric_at(rows, k + lag, metric, alpha)[idx0], reps)
            if paired:
                a0, a1 = v[idx0_paired], v[idx1_paired]
                rec["seed_sd"] = float(np.sqrt(np.mean((a0 - a1) ** 2) / 2))  # within-arch sd
                rec["between_sd"] = float(np.std((a0 + a1) / 2, ddof=1)) if len(paired) > 1 else None
                if len(paired) > 2:
                    rec["seed_vs_seed"] = kendall_ci(a0, a1, reps)
                    # seed 0 here against seed 1 at the last checkpoint: another training's result
                    rec["vs_other_seed_last"] = kendall_ci(sign * a0, other_last, reps)
            per.append(rec)
        first_ok = next((r["iters"] for r in per if r["vs_last"]["tau"] >= TARGET_TAU), None)
        # a single checkpoint can agree by luck (the curves cross and uncross): where the
        # ranking has settled is the first checkpoint from which every later one agrees too
        settled = next((r["iters"] for i, r in enumerate(per)
                        if all(q["vs_last"]["tau"] >= TARGET_TAU for q in per[i:])), None)
        out["metrics"][metric] = {"per_checkpoint": per, "cheapest_tau_0.8": first_ok,
                                  "settled_tau_0.8": settled}
    out["lag"] = lag
    wall = rows.at(budget)[idx0, WALL_COL]
    out["wall_s_at_budget"] = {"median": float(np.median(wall)), "max": float(np.max(wall))}
    out["wall_s_per_checkpoint"] = {
        k: float(np.median(rows.at(k)[idx0, WALL_COL])) for k in checkpoints}
    return out


def decide(res: dict[str, Any]) -> dict[str, Any]:
    """Final protocol v2's metric and budget, by a rule written down at 23 of 30 gold rows.

    - **Metric**: FID (the field's standard) unless the score ``IS - alpha FID`` ranks at
      least as stably across training seeds: its seed 0 vs seed 1 Kendall tau at the gold
      budget is at least FID's (the ground-truth issue: "if the score is kept, show that it
      ranks as stably as FID").
    - **Budget**: the first checkpoint from which the chosen metric's ranking agrees with the
      last at tau >= 0.8 at every later checkpoint (where it has settled), else the gold budget.
    """
    budget = res["budget"]
    at_budget = {m: res["metrics"][m]["per_checkpoint"][-1] for m in ("score", FID)}
    taus = {m: (r.get("seed_vs_seed") or {}).get("tau") for m, r in at_budget.items()}
    if taus["score"] is None or taus[FID] is None:
        metric, why = FID, "fewer than three two-seed architectures: the field's standard"
    elif taus["score"] >= taus[FID]:
        metric, why = "score", "its two seeds agree at least as well as FID's"
    else:
        metric, why = FID, "its two seeds agree better than the score's"
    settled = res["metrics"][metric].get("settled_tau_0.8")
    chosen = settled if settled is not None else budget
    rec = next(r for r in res["metrics"][metric]["per_checkpoint"] if r["iters"] == chosen)
    return {"metric": metric, "metric_reason": why, "seed_tau_at_budget": taus, "budget": chosen,
            "budget_reason": ("settled (tau >= 0.8 with the last from here on)" if settled is not None
                              else "the ranking never settles before the gold budget: the longest affordable"),
            "cost_share": res["wall_s_per_checkpoint"][chosen] / res["wall_s_per_checkpoint"][budget],
            "vs_other_seed_last": rec.get("vs_other_seed_last"),
            "ceiling": at_budget[metric].get("vs_other_seed_last")}


def copy_grids(res: dict[str, Any], rows: FinalRows, runs: Path, key: str, shown: list[int],
               docs: Path = DOCS) -> dict[str, str]:
    """Grids of the best and the worst architecture (by the last checkpoint's FID) at ``shown``."""
    fid = {a: res_fid for a, res_fid in zip(res["archs"], _last_fid(res, rows))}
    pick = {"best": min(fid, key=fid.__getitem__), "worst": max(fid, key=fid.__getitem__)}
    out = {}
    (docs / "gold").mkdir(parents=True, exist_ok=True)
    for label, arch in pick.items():
        for k in shown:
            src = runs / key / f"{arch.replace(' ', '')}-s0" / "samples" / f"iter_{k:06d}.png"
            dst = docs / "gold" / f"{label}_{k:06d}.png"
            if src.exists():
                shutil.copy(src, dst)
            if dst.exists():
                out[f"{label}_{k}"] = str(dst.relative_to(docs.parent))
    out.update({f"{label}_arch": arch for label, arch in pick.items()})
    return out


def _last_fid(res: dict[str, Any], rows: FinalRows) -> list[float]:
    s0 = {a: i for i, (a, s) in enumerate(zip(rows.archs, rows.seeds)) if s == 0}
    at = rows.at(res["budget"])[:, CURVE_KEYS.index(FID)]
    return [float(at[s0[a]]) for a in res["archs"]]


def plots(res: dict[str, Any], rows: FinalRows, docs: Path = DOCS) -> list[str]:
    """Learning curves of every gold architecture, and Kendall vs the last checkpoint."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s0 = {a: i for i, (a, s) in enumerate(zip(rows.archs, rows.seeds)) if s == 0}
    ks = res["checkpoints"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, metric in zip(axes, ("FID", "IS", "score")):
        vals = np.stack([metric_at(rows, k, metric, res["alpha"]) for k in ks], 1)
        for a in res["archs"]:
            ax.plot(ks, vals[s0[a]], color="grey", alpha=0.4, lw=0.8)
        ax.plot(ks, [r["mean"] for r in res["metrics"][metric]["per_checkpoint"]], color="k", lw=2,
                label="mean")
        ax.set_xlabel("generator iterations")
        ax.set_title(f"{metric} ({res['n']} architectures, seed 0)")
    axes[0].legend()
    fig.tight_layout()
    curves = docs / "gold_curves.png"
    fig.savefig(curves, dpi=100)
    plt.close(fig)
    cross = res["n_two_seeds"] > 2  # seed 0 against seed 1's last ranking: another training
    fig, axes = plt.subplots(1, 2 if cross else 1, figsize=(12 if cross else 6, 4), squeeze=False)
    ax = axes[0, 0]
    for metric in METRICS:
        per = res["metrics"][metric]["per_checkpoint"]
        ax.errorbar(ks, [r["vs_last"]["tau"] for r in per],
                    # a percentile interval need not contain the point estimate: clip at 0
                    yerr=[[max(0.0, r["vs_last"]["tau"] - r["vs_last"]["lo"]) for r in per],
                          [max(0.0, r["vs_last"]["hi"] - r["vs_last"]["tau"]) for r in per]],
                    label=metric, capsize=2, alpha=0.8, color=COLOURS[metric])
    ax.axhline(TARGET_TAU, color="k", ls=":", lw=1)
    ax.set_xlabel("checkpoint (generator iterations)")
    ax.set_ylabel(f"Kendall tau with the ranking at {res['budget']}")
    ax.set_title(f"the same training's last checkpoint ({res['n']} architectures)")
    ax.legend()
    if cross:
        ax = axes[0, 1]
        for metric in ("score", "FID", "IS"):
            per = res["metrics"][metric]["per_checkpoint"]
            ax.plot(ks, [r["vs_other_seed_last"]["tau"] for r in per], marker=".", label=metric,
                    color=COLOURS[metric])
            ax.fill_between(ks, [r["vs_other_seed_last"]["lo"] for r in per],
                            [r["vs_other_seed_last"]["hi"] for r in per], color=COLOURS[metric], alpha=0.12)
        ax.axhline(TARGET_TAU, color="k", ls=":", lw=1)
        ax.set_xlabel("checkpoint of seed 0 (generator iterations)")
        ax.set_ylabel(f"Kendall tau with seed 1's ranking at {res['budget']}")
        ax.set_title(f"another training's result ({res['n_two_seeds']} two-seed architectures)")
        ax.legend()
    fig.tight_layout()
    tau = docs / "gold_kendall.png"
    fig.savefig(tau, dpi=100)
    plt.close(fig)
    return [str(curves.relative_to(docs.parent)), str(tau.relative_to(docs.parent))]


def tau_ci(v: dict[str, Any] | None) -> str:
    """A :func:`kendall_ci` result as ``tau [lo, hi]`` (``-`` when there is none)."""
    if not v:
        return "-"
    return f"{v['tau']:.2f} [{v['lo']:.2f}, {v['hi']:.2f}]"


def _f2(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def markdown(res: dict[str, Any], figs: list[str], grids: dict[str, str], prov: dict[str, Any]) -> str:
    """The gold-subset section of docs/validity.md (links relative to ``docs/``, where that file is)."""
    m = prov["machine"]
    lines = [
        "## Gold subset: where the ranking of trained GANs settles (final protocol v2)", "",
        f"{res['n']} architectures, the first of the table's uniform sampling order, trained by "
        f"`configs/final-fmnist-v2.yaml` to {res['budget']} generator iterations (seed 0), "
        f"{res['n_two_seeds']} of them with a second seed; the EMA generator scored every "
        f"{res['checkpoints'][1] - res['checkpoints'][0] if len(res['checkpoints']) > 1 else '-'} "
        f"iterations on 2,000 samples. Median cost of a row to {res['budget']}: "
        f"{res['wall_s_at_budget']['median']:.0f} s of one core (rows' own CPUs; "
        f"`docs/validity/finals_v2.json` names each). Written by `scripts/gold_report.py` "
        f"({m.get('cpu')}, git {prov['git_sha'][:10]}); numbers in `docs/validity/gold.json`.", "",
        f"![learning curves]({figs[0]})", "",
        f"![Kendall tau with the last checkpoint]({figs[1]})", "",
        f"Kendall tau (bootstrap 95% interval over architectures) between each checkpoint's "
        f"ranking and the ranking at {res['budget']}:", "",
        "| iterations | median s | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS),
    ]
    for j, k in enumerate(res["checkpoints"]):
        cells = [tau_ci(res["metrics"][mt]["per_checkpoint"][j]["vs_last"]) for mt in METRICS]
        lines.append(f"| {k} | {res['wall_s_per_checkpoint'][k]:.0f} | " + " | ".join(cells) + " |")
    lines += ["", "Cheapest checkpoint whose ranking agrees with the last at tau >= 0.8: "
              + ", ".join(f"{mt} {res['metrics'][mt]['cheapest_tau_0.8'] or 'none'}" for mt in METRICS)
              + ". First checkpoint from which every later one agrees at tau >= 0.8 (where the ranking "
              "has settled): "
              + ", ".join(f"{mt} {res['metrics'][mt].get('settled_tau_0.8') or 'none'}" for mt in METRICS)
              + ".", ""]
    d = res.get("decision")
    if d:
        taus = d["seed_tau_at_budget"]
        lines += [
            ("**Provisional (the gold subset is not complete):** " if res.get("partial") else "")
            + "**Final protocol v2, chosen from these rows** by a rule written down when the committed export "
            "held 23 of the 30 gold rows and 7 of the 10 second seeds (`decide` in `scripts/gold_report.py`): the final metric is FID unless the score "
            "ranks at least as stably across training seeds; the budget is the first checkpoint from which "
            "that metric's ranking agrees with the last at tau >= 0.8 for good, else the gold budget.", "",
            f"- Metric: **{d['metric']}**: {d['metric_reason']} (seed 0 vs seed 1 Kendall tau at "
            f"{res['budget']}: score {_f2(taus['score'])}, FID {_f2(taus[FID])}; "
            f"{res['n_two_seeds']} two-seed architectures).",
            f"- Budget: **{d['budget']} iterations**: {d['budget_reason']}; {100 * d['cost_share']:.0f}% "
            f"of the cost of {res['budget']}. There, seed 0's ranking predicts seed 1's at {res['budget']} at "
            f"tau {tau_ci(d['vs_other_seed_last'])} (a full training's own: {tau_ci(d['ceiling'])}).", ""]
    lag = res.get("lag")
    if lag:
        lines += [f"Does the ranking still move? Kendall tau between each checkpoint's ranking and the one "
                  f"{lag:,} iterations later: a ranking that has settled agrees with itself later on, "
                  "whatever the last checkpoint is.", "",
                  f"| iterations | vs +{lag:,}: score | FID | IS |", "|---|---|---|---|"]
        for j, k in enumerate(res["checkpoints"]):
            recs = [res["metrics"][mt]["per_checkpoint"][j] for mt in ("score", "FID", "IS")]
            if all("vs_lag" in r for r in recs):
                lines.append(f"| {k} | " + " | ".join(tau_ci(r["vs_lag"]) for r in recs) + " |")
        lines.append("")
    if res["n_two_seeds"]:
        lines += [f"Seed noise ({res['n_two_seeds']} architectures with two seeds): the within-"
                  "architecture (seed-to-seed) standard deviation against the standard deviation "
                  "between architectures, and how the two seeds' rankings agree:", "",
                  "| iterations | score seed sd | score between sd | FID seed sd | FID between sd | "
                  "seed 0 vs seed 1 tau (score) | (FID) |", "|---|---|---|---|---|---|---|"]
        for j, k in enumerate(res["checkpoints"]):
            sc, fd = (res["metrics"][mt]["per_checkpoint"][j] for mt in ("score", "FID"))
            lines.append(f"| {k} | {sc.get('seed_sd', float('nan')):.3f} | {sc.get('between_sd') or float('nan'):.3f} "
                         f"| {fd.get('seed_sd', float('nan')):.2f} | {fd.get('between_sd') or float('nan'):.2f} "
                         f"| {tau_ci(sc.get('seed_vs_seed'))} | {tau_ci(fd.get('seed_vs_seed'))} |")
        lines.append("")
    if res["n_two_seeds"] > 2:
        lines += [f"Does a checkpoint predict another training's result? Kendall tau between seed 0's ranking "
                  f"at each checkpoint and seed 1's at {res['budget']} ({res['n_two_seeds']} architectures "
                  "with two seeds). Unlike the comparison with the last checkpoint of the same training, a "
                  "late checkpoint gains nothing here from sharing its trajectory with the reference; at "
                  f"{res['budget']} it is the seed-to-seed ceiling:", "",
                  "| iterations | score | FID | IS |", "|---|---|---|---|"]
        for j, k in enumerate(res["checkpoints"]):
            recs = [res["metrics"][mt]["per_checkpoint"][j] for mt in ("score", "FID", "IS")]
            lines.append(f"| {k} | " + " | ".join(tau_ci(r.get("vs_other_seed_last")) for r in recs) + " |")
        lines.append("")
    lines += ["Mean (sd) over the architectures at each checkpoint:", "",
              "| iterations | FID | IS | score |", "|---|---|---|---|"]
    for j, k in enumerate(res["checkpoints"]):
        c = [res["metrics"][mt]["per_checkpoint"][j] for mt in ("FID", "IS", "score")]
        lines.append(f"| {k} | " + " | ".join(f"{r['mean']:.3f} ({r['sd']:.3f})" for r in c) + " |")
    lines.append("")
    shown = sorted({int(k.split("_")[1]) for k in grids if k.split("_")[1].isdigit()})
    if shown:
        lines += [f"Samples of the best (`{grids['best_arch']}`) and the worst (`{grids['worst_arch']}`) "
                  f"architecture by FID at {res['budget']}, at {', '.join(map(str, shown))} iterations:", ""]
        for label in ("best", "worst"):
            lines.append(" ".join(f"![{label} {k}]({grids[f'{label}_{k}']})" for k in shown
                                  if f"{label}_{k}" in grids))
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--finals", default=str(DOCS / "finals_v2.json"), help="curve rows (build_finals --export)")
    p.add_argument("--n", type=int, default=30, help="gold architectures")
    p.add_argument("--budget", type=int, default=10_000, help="the gold budget (last checkpoint)")
    p.add_argument("--alpha", type=float, default=0.01, help="the score's FID weight")
    p.add_argument("--runs", default="runs/finals_v2", help="run folders of the curve rows (for grids)")
    p.add_argument("--grids", default="1000,3000,10000", help="checkpoints whose grids are shown")
    p.add_argument("--reps", type=int, default=REPS, help="bootstrap resamples")
    p.add_argument("--lag", type=int, default=LAG, help="iterations on at which a checkpoint is compared with itself")
    p.add_argument("--docs", default=str(DOCS), help="folder of gold.json, gold.md, the plots and grids")
    args = p.parse_args(argv)
    data = read_json_file(args.finals, "--finals")
    rows = FinalRows.from_records(data["rows"], data["final_hash"], data["config"])
    archs = gold_archs(rows, args.n, args.budget)
    if len(archs) < 3:
        raise SystemExit(f"{args.finals}: only {len(archs)} architectures reach {args.budget} iterations; "
                         "the report needs at least 3")
    res = analyse(rows, archs, args.budget, args.alpha, args.reps, args.lag)
    res["partial"] = len(archs) < args.n
    res["decision"] = decide(res)
    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    grids = copy_grids(res, rows, Path(args.runs), data["final_hash"],
                       [int(k) for k in args.grids.split(",") if k.strip()], docs)
    figs = plots(res, rows, docs)
    prov = provenance()
    (docs / "gold.json").write_text(json.dumps({**res, "grids": grids, "provenance": prov}, indent=1))
    md = markdown(res, figs, grids, prov)
    if res["partial"]:
        md = md.replace("\n\n", f"\n\n**Partial: {len(archs)} of {args.n} gold architectures so far.**\n\n", 1)
    notes = docs / "gold_notes.md"  # hand-written: what the grids show, by someone who opened them
    if notes.exists():
        md = md.rstrip("\n") + "\n\n" + notes.read_text().strip() + "\n"
    (docs / "gold.md").write_text(md)
    print(f"wrote {docs / 'gold.json'}, {docs / 'gold.md'} ({len(archs)} architectures)")


if __name__ == "__main__":
    sys.exit(run_main(main, "gold_report"))
