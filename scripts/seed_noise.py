#!/usr/bin/env python
"""The seed-noise model of a benchmark table: what ``GANBench.seed_noise`` estimates from it.

``bench.query(arch, seed="random", rng=g)`` answers an architecture with one stored row, or
a prediction, with the value plus a draw of this model (docs/bench_api.md). The script
writes, per fidelity (and per learning-curve checkpoint when the final rows have curves),
the pooled within-architecture sd of IS, FID, KID, the score and the objective, what it
rests on (architectures with >= 2 seeds, their rows, degrees of freedom, which ones), the
95% interval of the sds (as factors, chi-square with those degrees of freedom), and for scale
the sd across measured architectures of their seed-mean final score.

    python scripts/seed_noise.py --out docs/benchmark/seed_noise.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from gan_nas_env.bench import GANBench
from gan_nas_env.evaluators.tabular import DEFAULT_TABLE
from gan_nas_env.provenance import ROOT, provenance
from gan_nas_env.user_files import check_outputs, run_main


def noise_report(bench: GANBench) -> dict[str, Any]:
    """The model at the proxy and at the final fidelity (the budget, then every checkpoint)."""
    path = Path(bench.table.path or "(in memory)").resolve()
    table = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    out: dict[str, Any] = {"table": table, "alpha": bench.alpha,
                           "proxy": bench.seed_noise("proxy")}
    finals = bench.table.finals
    if finals is None:
        out["final"] = None
        return out
    out["final_hash"] = finals.final_hash
    out["final"] = _with_interval(bench.seed_noise("final"))
    out["curve_iters"] = None if finals.curve_iters is None else [int(i) for i in finals.curve_iters]
    if finals.curve_iters is not None:
        out["final_checkpoints"] = [_with_interval(bench.seed_noise("final", iters=int(i)))
                                    for i in finals.curve_iters]
    groups = finals.by_arch()  # the budget's rows of each architecture
    by_rows = Counter(len(g) for g in groups.values())
    out["final_rows"] = {"rows": int(sum(by_rows[k] * k for k in by_rows)), "architectures": len(groups),
                         "architectures_by_rows": {str(k): v for k, v in sorted(by_rows.items())}}
    out["multi_seed_architectures"] = [{"arch": a, "rows": len(g)} for a, g in groups.items() if len(g) >= 2]
    means = [bench.query(a, "final", cost=False)["score"] for a in groups]
    out["between_architecture_score_sd"] = float(np.std(means, ddof=1)) if len(means) > 1 else None
    return out


def _with_interval(model: dict[str, Any]) -> dict[str, Any]:
    """``model`` and ``sd_ci95_factor``: the 95% interval of a pooled sd over the estimate.

    With Gaussian noise, ``dof * s^2 / sigma^2`` is chi-square with ``dof`` degrees of
    freedom, so ``sigma`` lies in ``[s * sqrt(dof / q_975), s * sqrt(dof / q_025)]``.
    """
    from scipy.stats import chi2

    dof = model["dof"]
    factor = [float(np.sqrt(dof / chi2.ppf(q, dof))) for q in (0.975, 0.025)] if dof > 0 else None
    return {**model, "sd_ci95_factor": factor}


def main(argv: list[str] | None = None) -> int:
    """Print the report; ``--out`` also writes it as JSON with provenance."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", default=str(DEFAULT_TABLE), help="the table file (default: the shipped one)")
    p.add_argument("--out", default=None, help="also write the report as JSON here")
    args = p.parse_args(argv)
    check_outputs(p, args, "--out")  # before the work, not after it
    report = noise_report(GANBench.load(args.table))
    report["provenance"] = provenance(["python", "scripts/seed_noise.py",
                                       *(sys.argv[1:] if argv is None else argv)])
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, "seed_noise"))
