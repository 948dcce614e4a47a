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
from gan_nas_env.metrics.score import score_of  # noqa: E402
from gan_nas_env.provenance import cpu_model, provenance  # noqa: E402
from gan_nas_env.user_files import check_outputs  # noqa: E402

REFERENCE = Path("docs/validity/finals.json")
# (label, overrides, seed): the reference is fp32 seed 0 from REFERENCE
VARIANTS = [
    ("fp32 seed 1", [], 1),
    ("bf16+channels_last", ["retrain.channels_last=true", "retrain.amp=true"], 0),
    # trained only when the fastest one is refused (--variants), so that a check costs less
    ("channels_last", ["retrain.channels_last=true"], 0),
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
        for label, sets, seed in VARIANTS:
            if label not in args.variants:
                continue
            argv = ["--archs", "0", "--extra", chunk, "--seeds", str(seed), "--store", args.store,
                    "--runs", args.runs, "--worker", str(args.worker), "--workers", str(args.workers)]
            for s in sets:
                argv += ["--set", s]
            if build_finals.main(argv):  # paused by a signal: the next variants wait for the next run
                return


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
    """Per variant: its and a second fp32 seed's difference from fp32 seed 0, and the verdict.

    Each variant is compared on the architectures that have the reference, the second
    seed and the variant's row.
    """
    ref = {r["arch"]: r for r in json.loads(REFERENCE.read_text())["rows"] if r["seed"] == 0}
    store = ResultsStore(args.store)
    got: dict[str, dict[str, dict]] = {}
    for label, sets, seed in VARIANTS:
        key = build_finals.protocol_key(build_finals.protocol_config("final-fmnist", sets))
        got[label] = {a: r["metrics"] for a in archs
                      if (r := store.get_evaluation(key, a, seed)) is not None}
    out: dict = {"reference": str(REFERENCE), "candidates": archs, "variants": {}}
    for label, _sets, _seed in VARIANTS[1:]:
        common = [a for a in archs if a in ref and a in got["fp32 seed 1"] and a in got[label]]
        if len(common) < 3:
            continue

        def vec(rows: dict[str, dict], metric: str, common: list[str] = common) -> np.ndarray:
            if metric == "score":
                return np.array([score_of(rows[a], ALPHA) for a in common])
            return np.array([rows[a][metric] for a in common])

        rec: dict = {"n": len(common), "archs": common, "metrics": {}}
        for metric in ("score", "FID", "IS"):
            base, seed1, var = vec(ref, metric), vec(got["fp32 seed 1"], metric), vec(got[label], metric)
            rec["metrics"][metric] = {
                "variant_mean_abs_diff": float(np.abs(var - base).mean()),
                "seed_mean_abs_diff": float(np.abs(seed1 - base).mean()),
                "variant_spearman": _spearman(var, base), "seed_spearman": _spearman(seed1, base),
                **not_worse_than_a_seed(base, seed1, var)}
        rec["adopt"] = rec["metrics"]["score"]["adopt"]
        out["variants"][label] = rec
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
    p.add_argument("--variants", default="fp32 seed 1,bf16+channels_last",
                   type=lambda v: [x.strip() for x in v.split(",")],
                   help=f"comma-separated runs to train, of: {', '.join(v[0] for v in VARIANTS)}")
    p.add_argument("--analyse", action="store_true", help="compare what is stored and exit")
    p.add_argument("--out", default=None, help="with --analyse: JSON report")
    p.add_argument("--md", default=None, help="with --analyse: Markdown report")
    args = p.parse_args(argv)
    check_outputs(p, args, "--out", "--md")  # before the work, not after it
    archs = check_archs(args.n, args.cpu or cpu_model())
    if not archs:
        p.error(f"no committed reference rows trained on {args.cpu or cpu_model()!r} in {REFERENCE}")
    if not args.analyse:
        run(args, archs)
        return
    if not Path(args.store).is_file():  # --analyse reads: an empty store made here would hide the typo
        p.error(f"--store {args.store}: no such store; train the variants first (without --analyse)")
    report = analyse(args, archs)
    if not report["variants"]:
        p.error(f"--store {args.store}: no variant has rows for 3 of the {len(archs)} architectures beside "
                "the second fp32 seed; nothing to compare (train them first, without --analyse)")
    print(json.dumps({k: v for k, v in report.items() if k != "provenance"}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    if args.md:
        Path(args.md).write_text(markdown(report))


def markdown(rep: dict) -> str:
    """The report as Markdown: per variant and metric, its and a second seed's distance from fp32."""
    prov = rep["provenance"]
    lines = ["# Faster numerics of the final training, judged against seed noise", "",
             f"`{' '.join(prov['command'])}` ({prov['machine'].get('cpu')}, git {prov['git_sha'][:12]}). "
             "The v1 final protocol (1,000 iterations, `configs/final-fmnist.yaml`); reference: the "
             "architectures' committed fp32 seed-0 rows trained on this CPU model. A variant (seed 0) "
             "is adopted when neither paired-bootstrap 95% interval over the architectures says it is "
             "further from the reference than a second fp32 seed is: its mean |difference| minus the "
             "seed's (lower end <= 0), its Spearman correlation minus the seed's (upper end >= 0). "
             "The verdict is on the score.", ""]
    for label, rec in rep["variants"].items():
        verdict = ("too few architectures to judge (20 needed)" if rec["n"] < 20
                   else "adopted" if rec["adopt"] else "not adopted")
        lines += [f"## {label} ({rec['n']} architectures): {verdict}", "",
                  "| metric | mean abs. diff: variant | : fp32 seed 1 | Spearman: variant | : fp32 seed 1 "
                  "| abs. diff minus seed's [95%] | Spearman minus seed's [95%] |",
                  "|---|---|---|---|---|---|---|"]
        for metric, v in rec["metrics"].items():
            a, r = v["abs_diff_minus_seed_ci"], v["spearman_minus_seed_ci"]
            lines.append(f"| {metric} | {v['variant_mean_abs_diff']:.4f} | {v['seed_mean_abs_diff']:.4f} | "
                         f"{v['variant_spearman']:.3f} | {v['seed_spearman']:.3f} | "
                         f"[{a[0]:.4f}, {a[1]:.4f}] | [{r[0]:.3f}, {r[1]:.3f}] |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
