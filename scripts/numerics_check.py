#!/usr/bin/env python
"""Is a faster numerics of the final training as good as fp32? Judged against seed noise.

GAN training is chaotic: another CPU model already acts like another seed. So a
numerics change (``retrain.channels_last``, CPU bf16 autocast ``retrain.amp``) is
adopted when, over at least 20 architectures, its differences from fp32 are no
larger than seed-to-seed differences and its ranking agrees with fp32's as well as
two fp32 seeds agree with each other: neither paired-bootstrap 95% interval
(:func:`not_worse_than_a_seed`) says it is worse than a second fp32 seed.

The reference is the committed v1 final rows (``docs/validity/finals.json``, fp32,
seed 0) trained on this CPU model; this script trains, for the same architectures
and the same v1 protocol (1,000 iterations), fp32 with seed 1 and each variant
with seed 0 (``scripts/build_finals.py`` into its own store, resumable, two workers)::

    OPENBLAS_NUM_THREADS=1 nohup python scripts/numerics_check.py --worker 0 --workers 2 &
    OPENBLAS_NUM_THREADS=1 nohup python scripts/numerics_check.py --worker 1 --workers 2 &
    python scripts/numerics_check.py --analyse --out docs/perf/numerics_check.json

The architectures are the committed rows trained on this CPU model, the uniform
sample's first, in the table's sampling order.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_finals  # noqa: E402

from gan_nas_env.evaluators.store import ResultsStore  # noqa: E402
from gan_nas_env.evaluators.tabular import sampling_order  # noqa: E402
from gan_nas_env.provenance import cpu_model, provenance  # noqa: E402

REFERENCE = Path("docs/validity/finals.json")
# (label, overrides, seed): the reference is fp32 seed 0 from REFERENCE
VARIANTS = [
    ("fp32 seed 1", [], 1),
    ("channels_last", ["retrain.channels_last=true"], 0),
    ("bf16+channels_last", ["retrain.channels_last=true", "retrain.amp=true"], 0),
]
ALPHA = 0.01


def check_archs(n: int, cpu: str) -> list[str]:
    """The first ``n`` committed seed-0 architectures trained on ``cpu``: uniform ones first."""
    rows = json.loads(REFERENCE.read_text())["rows"]
    mine = {r["arch"] for r in rows if r["seed"] == 0 and r.get("cpu") == cpu}
    order = [str(a) for a in sampling_order(0, 150)]
    uniform = [a for a in dict.fromkeys(order) if a in mine]
    rest = sorted(mine - set(uniform))
    return (uniform + rest)[:n]


def run(args: argparse.Namespace, archs: list[str]) -> None:
    """Train the variants, five architectures at a time, so a partial run compares all of them."""
    for i in range(0, len(archs), 5):
        chunk = ",".join(archs[i : i + 5])
        for _label, sets, seed in VARIANTS:
            argv = ["--archs", "0", "--extra", chunk, "--seeds", str(seed), "--store", args.store,
                    "--runs", args.runs, "--worker", str(args.worker), "--workers", str(args.workers)]
            for s in sets:
                argv += ["--set", s]
            build_finals.main(argv)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def not_worse_than_a_seed(ref: np.ndarray, seed: np.ndarray, variant: np.ndarray,
                          reps: int = 2000, rng_seed: int = 0) -> dict:
    """Is ``variant`` (another numerics, seed 0) as close to ``ref`` (fp32 seed 0) as a second seed is?

    Two paired bootstraps over the architectures: mean |variant - ref| minus mean |seed - ref|,
    and Spearman(variant, ref) minus Spearman(seed, ref). Adopted when neither 95%
    interval says the variant is worse (the first's lower end <= 0, the second's upper end >= 0):
    a chaotic training makes any numerics change another draw, so "not worse than a seed" is
    the test, not "identical".
    """
    rng = np.random.default_rng(rng_seed)
    d_abs, d_rho = [], []
    for _ in range(reps):
        i = rng.integers(0, len(ref), len(ref))
        d_abs.append(np.abs(variant[i] - ref[i]).mean() - np.abs(seed[i] - ref[i]).mean())
        rv, rs = _spearman(variant[i], ref[i]), _spearman(seed[i], ref[i])
        if np.isfinite(rv) and np.isfinite(rs):
            d_rho.append(rv - rs)
    abs_ci = [float(x) for x in np.percentile(d_abs, [2.5, 97.5])]
    rho_ci = [float(x) for x in np.percentile(d_rho, [2.5, 97.5])]
    return {"abs_diff_minus_seed_ci": abs_ci, "spearman_minus_seed_ci": rho_ci,
            "adopt": bool(abs_ci[0] <= 0 and rho_ci[1] >= 0)}


def analyse(args: argparse.Namespace, archs: list[str]) -> dict:
    """Differences from fp32 seed 0 and rank agreement, per variant, on the architectures all have."""
    ref = {r["arch"]: r for r in json.loads(REFERENCE.read_text())["rows"] if r["seed"] == 0}
    store = ResultsStore(args.store)
    got: dict[str, dict[str, dict]] = {}
    for label, sets, seed in VARIANTS:
        key = build_finals.protocol_key(build_finals.protocol_config("final-fmnist", sets))
        got[label] = {a: r["metrics"] for a in archs
                      if (r := store.get_evaluation(key, a, seed)) is not None}
    common = [a for a in archs if all(a in g for g in got.values())]
    out: dict = {"archs": common, "n": len(common), "reference": str(REFERENCE), "metrics": {}}

    def vec(rows: dict[str, dict], metric: str) -> np.ndarray:
        if metric == "score":
            return np.array([rows[a]["IS"] - ALPHA * rows[a]["FID"] for a in common])
        return np.array([rows[a][metric] for a in common])

    for metric in ("score", "FID", "IS"):
        base = vec(ref, metric)
        m: dict = {}
        for label, _sets, _seed in VARIANTS:
            v = vec(got[label], metric)
            m[label] = {"mean_abs_diff": float(np.abs(v - base).mean()),
                        "spearman_with_fp32_seed0": _spearman(v, base) if len(common) > 2 else None}
        out["metrics"][metric] = m
    if len(common) > 2:
        out["verdict"] = {label: not_worse_than_a_seed(vec(ref, "score"), vec(got["fp32 seed 1"], "score"),
                                                       vec(got[label], "score"))
                          for label, _s, _sd in VARIANTS[1:]}
    out["provenance"] = provenance()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=20, help="architectures")
    p.add_argument("--cpu", default=None, help="CPU model of the reference rows (default: this one)")
    p.add_argument("--store", default="runs/numerics.sqlite")
    p.add_argument("--runs", default="runs/numerics")
    p.add_argument("--worker", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--analyse", action="store_true", help="compare what is stored and exit")
    p.add_argument("--out", default=None, help="with --analyse: JSON report")
    p.add_argument("--md", default=None, help="with --analyse: Markdown report")
    args = p.parse_args(argv)
    archs = check_archs(args.n, args.cpu or cpu_model())
    if not archs:
        p.error(f"no committed reference rows trained on {args.cpu or cpu_model()!r} in {REFERENCE}")
    if not args.analyse:
        run(args, archs)
        return
    report = analyse(args, archs)
    print(json.dumps({k: v for k, v in report.items() if k != "provenance"}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    if args.md:
        Path(args.md).write_text(markdown(report))


def markdown(rep: dict) -> str:
    """The report as Markdown: per metric, each variant's difference from fp32 and rank agreement."""
    prov = rep["provenance"]
    lines = ["# Faster numerics of the final training, judged against seed noise", "",
             f"`{' '.join(prov['command'])}` ({prov['machine'].get('cpu')}, git {prov['git_sha'][:12]}). "
             f"{rep['n']} architectures, the v1 final protocol (1,000 iterations, "
             "`configs/final-fmnist.yaml`); reference: their committed fp32 seed-0 rows trained on "
             "this CPU model. A variant is adopted when its mean |difference| from the reference is "
             "no larger than a second fp32 seed's and its Spearman correlation with the reference is "
             "at least the second seed's.", ""]
    for metric, per in rep["metrics"].items():
        lines += [f"**{metric}**", "", "| run | mean abs. difference from fp32 seed 0 | Spearman with fp32 seed 0 |",
                  "|---|---|---|"]
        for label, v in per.items():
            sp = v["spearman_with_fp32_seed0"]
            lines.append(f"| {label} | {v['mean_abs_diff']:.4f} | {'-' if sp is None else f'{sp:.3f}'} |")
        lines.append("")
    if rep.get("verdict"):
        lines += ["Paired bootstrap over the architectures (score): the variant's mean |difference| "
                  "minus the second seed's, and its Spearman minus the second seed's (95% intervals):", "",
                  "| variant | abs. difference minus seed's | Spearman minus seed's | verdict |", "|---|---|---|---|"]
        for k, v in rep["verdict"].items():
            a, r = v["abs_diff_minus_seed_ci"], v["spearman_minus_seed_ci"]
            lines.append(f"| {k} | [{a[0]:.4f}, {a[1]:.4f}] | [{r[0]:.3f}, {r[1]:.3f}] | "
                         f"{'adopt' if v['adopt'] else 'do not adopt'} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
