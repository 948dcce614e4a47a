#!/usr/bin/env python
"""The seed-noise model of a benchmark table: what ``GANBench.seed_noise`` estimates from it.

``bench.query(arch, seed="random", rng=g)`` answers an architecture with one stored row, or
a prediction, with the value plus a draw of this model (docs/bench_api.md). The script
writes, per fidelity (and per learning-curve checkpoint when the final rows have curves),
the pooled within-architecture sd of IS, FID, KID, the score and the objective, what it
rests on (architectures with >= 2 seeds, their rows, degrees of freedom, which ones), the
95% interval of the sds (as factors, chi-square with those degrees of freedom), and for scale
the sd across measured architectures of their seed-mean final score.

    python scripts/seed_noise.py --out docs/benchmark/seed_noise.json --doc docs/bench_api.md

``--doc`` rewrites the page's ``<!-- seed_noise:final -->`` block from the report (``--check``:
change nothing, exit 1 when the block is stale), so the page's numbers are the JSON's.
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
from gan_nas_env.doc_blocks import has_block, render_blocks
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


def doc_block(report: dict[str, Any], source: str = "benchmark/seed_noise.json") -> str:
    """The page's paragraph on the final fidelity's model, from ``report`` (linked as ``source``)."""
    final, rows = report["final"], report.get("final_rows")
    if not final or not final["available"] or not rows:
        why = (final or {}).get("why") or "the table holds no final rows"
        return f"The table gives no seed-noise model at the final fidelity: {why}.\n"
    prov = report["provenance"]
    by_rows = rows["architectures_by_rows"]
    multi = ", ".join(f"{n} with {k} seeds" for k, n in by_rows.items() if int(k) >= 2)
    sd, dof = final["sd"], final["dof"]
    lo, hi = final["sd_ci95_factor"]
    between = report["between_architecture_score_sd"]
    lines = [
        f"On the shipped table (numbers from [`{source}`]({source}): `{' '.join(prov['command'])}` at "
        f"`{prov['git_sha'][:7]}`): of the {rows['rows']} final rows of {rows['architectures']} architectures, "
        f"{final['n_archs']} architectures have several seeds ({multi}) and {by_rows.get('1', 0)} one row, so the "
        f"model at the budget rests on {final['n_archs']} architectures, {final['n_rows']} rows, {dof} degrees of "
        "freedom. Its sds:", "",
        "| IS | FID | KID | score = objective | corr(IS, FID) |", "|---|---|---|---|---|",
        f"| {sd['IS']:.3f} | {sd['FID']:.2f} | {sd['KID']:.4f} | {sd['score']:.3f} | {final['corr_IS_FID']:.2f} |", "",
        f"For scale, the sd of the seed-mean score across the {rows['architectures']} measured architectures is "
        f"{between:.3f}: one seed's noise is {sd['score'] / between:.2f} of it, so a single-seed row ranks "
        f"architectures only roughly. With {dof} degrees of freedom each sd is uncertain: its 95% interval is "
        f"{lo:.2f}x to {hi:.2f}x the estimate (chi-square, Gaussian noise assumed).",
    ]
    checkpoints = [c for c in report.get("final_checkpoints") or [] if c["available"]]
    if checkpoints:
        steps = ", ".join(f"{c['iters']:,} {c['sd']['score']:.3f}" for c in checkpoints)
        lines += ["", "The final rows hold learning curves, so `bench.seed_noise(\"final\", iters=...)` gives a "
                  f"model per checkpoint (architectures with several seeds there: "
                  f"{min(c['n_archs'] for c in checkpoints)}-{max(c['n_archs'] for c in checkpoints)}). "
                  f"Score sd by generator iteration: {steps}."]
    else:
        lines += ["", "The final rows have no learning curves, so there is one model, at the budget."]
    return "\n".join(lines) + "\n"


def update_doc(doc: Path, report: dict[str, Any], check: bool) -> int:
    """Rewrite (or, with ``check``, compare) ``doc``'s block; 1 when ``check`` finds it stale."""
    text = doc.read_text()
    if not has_block(text, "seed_noise", "final"):
        raise SystemExit(f"{doc}: no <!-- seed_noise:final --> block")

    def body(name: str) -> str:
        if name != "final":
            raise SystemExit(f"{doc}: unknown block seed_noise:{name} (known: final)")
        return doc_block(report)

    new, changed = render_blocks(text, "seed_noise", body)
    if check:
        if changed:
            print(f"{doc}: the seed_noise block is stale; run python scripts/seed_noise.py "
                  "--out docs/benchmark/seed_noise.json --doc docs/bench_api.md", file=sys.stderr)
            return 1
        return 0
    doc.write_text(new)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Print the report; ``--out`` also writes it as JSON with provenance, ``--doc`` the page's block."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", default=str(DEFAULT_TABLE), help="the table file (default: the shipped one)")
    p.add_argument("--out", default=None, help="also write the report as JSON here")
    p.add_argument("--doc", type=Path, default=None, help="rewrite this page's <!-- seed_noise:final --> block")
    p.add_argument("--check", action="store_true",
                   help="with --doc and --out: compare the page with the committed report in --out, change nothing")
    args = p.parse_args(argv)
    if args.doc is not None and not args.doc.is_file():
        p.error(f"--doc {args.doc}: no such file")
    if args.check:
        if args.doc is None or args.out is None or not Path(args.out).is_file():
            p.error("--check needs --doc and an existing --out report")
        return update_doc(args.doc, json.loads(Path(args.out).read_text()), check=True)
    check_outputs(p, args, "--out")  # before the work, not after it
    if args.doc is not None and not has_block(args.doc.read_text(), "seed_noise", "final"):
        p.error(f"--doc {args.doc}: no <!-- seed_noise:final --> block")
    report = noise_report(GANBench.load(args.table))
    report["provenance"] = provenance(["python", "scripts/seed_noise.py",
                                       *(sys.argv[1:] if argv is None else argv)])
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if args.doc is not None:
        update_doc(args.doc, report, check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(main, "seed_noise"))
