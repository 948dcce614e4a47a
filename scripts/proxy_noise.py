#!/usr/bin/env python
"""The proxy's own noise: how well does the table's proxy agree with itself under another GAN seed?

The shipped table trained every architecture's proxy with one GAN seed
(``env.fixed_gan_seed: 0``). ``scripts/build_table.py --set env.fixed_gan_seed=S`` trains
the same proxy with another seed into its own store; this script reads those stores and,
for the uniform architectures with a final row (``Table.final_uniform``) that every seed
holds, reports

- test-retest rank agreement of the proxy score (and FID, IS) between each pair of seeds
  (Spearman and Kendall tau, bootstrap 95% intervals): the ceiling of any ranking the proxy
  can give;
- the proxy averaged over the seeds, ranked against the table's final score (v1), beside
  the single seed-0 proxy: does averaging seeds help?
- the proxy's cost per architecture and seed (train + score seconds of its three cells).

Writes ``docs/validity/proxy_noise.json`` and ``.md`` (included in ``docs/validity.md`` by
``scripts/validity.py report``)::

    python scripts/build_table.py --archs 150 --set env.fixed_gan_seed=1 --store runs/proxy_seed1.sqlite
    python scripts/build_table.py --archs 150 --set env.fixed_gan_seed=2 --store runs/proxy_seed2.sqlite
    python scripts/proxy_noise.py --stores runs/proxy_seed1.sqlite runs/proxy_seed2.sqlite

``--checks`` adds short re-runs (say ``--archs 20``): the table's own seed again, to show
the shipped rows reproduce under today's code, and fresh seeds, to show whether the table's
seed is an outlier::

    python scripts/build_table.py --archs 20 --set env.fixed_gan_seed=0 --store runs/proxy_seed0_rerun.sqlite
    python scripts/build_table.py --archs 20 --set env.fixed_gan_seed=3 --store runs/proxy_seed3.sqlite
    python scripts/proxy_noise.py --stores runs/proxy_seed1.sqlite runs/proxy_seed2.sqlite \\
        --checks runs/proxy_seed0_rerun.sqlite runs/proxy_seed3.sqlite
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validity import rank_corr  # noqa: E402

from gan_nas_env.evaluators.store import ResultsStore  # noqa: E402
from gan_nas_env.evaluators.tabular import Table, load_table  # noqa: E402
from gan_nas_env.metrics.score import FID, IS, score  # noqa: E402
from gan_nas_env.provenance import provenance  # noqa: E402
from gan_nas_env.space import NUM_CELLS, resolve_architecture  # noqa: E402

DOCS = Path("docs/validity")
QUANTITIES = ("score", FID, IS)


def prefixes(arch: str) -> list[str]:
    """The 1-, 2- and 3-cell prefixes of an architecture (what the proxy trains in turn)."""
    a = resolve_architecture(arch)
    return [str(a.prefix(d)) for d in range(1, NUM_CELLS + 1)]


def seed_rows(table: Table, stores: list[Path], archs: list[str]) -> dict[int, dict[str, dict[str, float]]]:
    """Per GAN seed, per architecture: the complete prefix's IS, FID, score and proxy seconds.

    The table's own seed comes from the table; the others from the stores (only evaluations
    of the table's proxy hash; an architecture counts for a seed when its three prefixes are
    stored and it did not diverge). Seconds: train + score of the three cells.
    """
    alpha, key, own = table.alpha, str(table.meta["proxy_hash"]), int(table.meta["gan_seed"])
    out: dict[int, dict[str, dict[str, float]]] = {own: table_rows(table, archs)}
    for path in stores:
        for seed, rows in store_rows(path, key, archs, alpha).items():
            out.setdefault(seed, {}).update(rows)
    return out


def table_rows(table: Table, archs: list[str]) -> dict[str, dict[str, float]]:
    """The table's own proxy rows (its GAN seed) of ``archs``: IS, FID, score, seconds."""
    out = {}
    for a in archs:
        q = table.query(a)
        cost = sum(r["train_s"] + r["score_s"] for r in map(table.query, prefixes(a)))
        out[a] = {IS: float(q[IS]), FID: float(q[FID]), "score": float(q["score"]), "cost_s": cost}
    return out


def store_rows(path: Path, key: str, archs: list[str], alpha: float) -> dict[int, dict[str, dict[str, float]]]:
    """Per GAN seed held in the store at ``path``: the rows of ``archs`` whose three prefixes it holds."""
    out: dict[int, dict[str, dict[str, float]]] = {}
    with ResultsStore(path) as store:
        seeds = {int(e["seed"]) for e in store.evaluations(key)}
        for seed in sorted(seeds):
            for a in archs:
                got = [store.get_evaluation(key, p, seed) for p in prefixes(a)]
                evs = [e for e in got if e is not None]
                if len(evs) < NUM_CELLS or evs[-1]["diverged"]:
                    continue
                m = evs[-1]["metrics"]
                cost = sum(float(e["timings"].get(k, 0.0)) for e in evs for k in ("train_s", "score_s"))
                out.setdefault(seed, {})[a] = {IS: float(m[IS]), FID: float(m[FID]),
                                               "score": float(score(m[IS], m[FID], alpha)), "cost_s": cost}
    return out


def seed_checks(table: Table, stores: list[Path], archs: list[str],
                rows: dict[int, dict[str, dict[str, float]]]) -> dict[str, Any]:
    """Is the table's own seed an outlier, and does it reproduce?

    ``stores`` hold short re-runs: the table's own GAN seed again under today's code
    (reproduction: largest difference from the table) and fresh seeds. On the architectures
    every seed holds: each seed's mean IS and FID (a seed shared by every architecture moves
    them all: one training data order and latent stream per seed) and the IS rank agreement
    of every pair of seeds.
    """
    alpha, key, own = table.alpha, str(table.meta["proxy_hash"]), int(table.meta["gan_seed"])
    reruns: list[dict[int, dict[str, dict[str, float]]]] = [store_rows(path, key, archs, alpha) for path in stores]
    return summarise_checks(own, rows, reruns, archs)


def summarise_checks(own: int, rows: dict[int, dict[str, dict[str, float]]],
                     reruns: list[dict[int, dict[str, dict[str, float]]]], archs: list[str]) -> dict[str, Any]:
    """The seed checks from rows in memory (see :func:`seed_checks`): ``reruns`` per store."""
    every = {s: dict(r) for s, r in rows.items()}
    repro: dict[str, Any] = {}
    for got_by_seed in reruns:
        for seed, got in got_by_seed.items():
            if seed == own:
                diffs = {q: [abs(got[a][q] - rows[own][a][q]) for a in got] for q in (IS, FID)}
                repro = {"n": len(got), **{f"max_abs_diff_{q}": float(max(d)) for q, d in diffs.items()}}
            else:
                every.setdefault(seed, {}).update(got)
    seeds = sorted(every)
    common = [a for a in archs if all(a in every[s] for s in seeds)]
    levels = {str(s): {f"mean_{q}": float(np.mean([every[s][a][q] for a in common])) for q in (IS, FID)}
              | {f"sd_{q}": float(np.std([every[s][a][q] for a in common], ddof=1)) for q in (IS, FID)}
              for s in seeds} if len(common) > 1 else {}
    pairs = {f"{s}-{t}": {q: rank_corr([every[s][a][q] for a in common], [every[t][a][q] for a in common], 1000)
                          for q in (IS, FID)}
             for s, t in itertools.combinations(seeds, 2)} if len(common) >= 4 else {}
    return {"n": len(common), "seeds": seeds, "reproduction": repro, "levels": levels, "pairs": pairs}


def analyse(rows: dict[int, dict[str, dict[str, float]]], finals: dict[str, float], reps: int) -> dict[str, Any]:
    """Test-retest agreement per pair of seeds, and single vs seed-averaged proxy against the final."""
    seeds = sorted(rows)
    common = [a for a in rows[seeds[0]] if all(a in rows[s] for s in seeds)]
    res: dict[str, Any] = {"seeds": seeds, "n": len(common), "archs": common, "pairs": {}, "vs_final": {}}
    for s, t in itertools.combinations(seeds, 2):
        res["pairs"][f"{s}-{t}"] = {q: rank_corr([rows[s][a][q] for a in common], [rows[t][a][q] for a in common], reps)
                                    for q in QUANTITIES}
    fin = [finals.get(a, float("nan")) for a in common]
    for q in QUANTITIES:
        sign = -1.0 if q == FID else 1.0  # lower FID is better: ranked as -FID against the final score
        single = [sign * rows[seeds[0]][a][q] for a in common]
        mean = [sign * float(np.mean([rows[s][a][q] for s in seeds])) for a in common]
        res["vs_final"][q] = {"seed_0": rank_corr(single, fin, reps), "mean_of_seeds": rank_corr(mean, fin, reps)}
    cost = [rows[s][a]["cost_s"] for s in seeds for a in common]
    res["cost_s_per_arch_and_seed"] = {"median": float(np.median(cost)), "mean": float(np.mean(cost))} if cost else {}
    return res


def _ci(r: dict[str, Any], key: str) -> str:
    v = r.get(key)
    return "n/a" if not v else f"{v['value']:.2f} [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}]"


def markdown(res: dict[str, Any], prov: dict[str, Any]) -> str:
    """The report (included in docs/validity.md)."""
    m = prov["machine"]
    c = res["cost_s_per_arch_and_seed"]
    lines = ["# The proxy's own noise: the same proxy under other GAN seeds", "",
             f"{res['n']} uniform architectures with a final row, each trained by the table's proxy "
             f"(`configs/table-fmnist.yaml`) with GAN seeds {', '.join(map(str, res['seeds']))}; "
             + (f"proxy cost {c['median']:.1f} s per architecture and seed (median, train + score of its "
                "three cells). " if c else "")
             + f"Written by `scripts/proxy_noise.py` ({m['cpu']}, git {str(prov['git_sha'])[:10]}); numbers in "
             "`docs/validity/proxy_noise.json`.", "",
             "Test-retest: the proxy under one seed against another (Spearman / Kendall tau, bootstrap 95% "
             "intervals over architectures):", "",
             "| seeds | score Spearman | score Kendall | FID Spearman | IS Spearman |", "|---|---|---|---|---|"]
    for pair, r in res["pairs"].items():
        lines.append(f"| {pair} | {_ci(r['score'], 'spearman')} | {_ci(r['score'], 'kendall')} "
                     f"| {_ci(r[FID], 'spearman')} | {_ci(r[IS], 'spearman')} |")
    lines += ["", "Against the final score (v1, early training): the seed-0 proxy and the proxy averaged "
              f"over {len(res['seeds'])} seeds:", "",
              "| proxy quantity | seed 0: Spearman | seed 0: Kendall | mean of seeds: Spearman | mean of seeds: Kendall |",
              "|---|---|---|---|---|"]
    for q, r in res["vs_final"].items():
        lines.append(f"| {q} | {_ci(r['seed_0'], 'spearman')} | {_ci(r['seed_0'], 'kendall')} "
                     f"| {_ci(r['mean_of_seeds'], 'spearman')} | {_ci(r['mean_of_seeds'], 'kendall')} |")
    lines += checks_markdown(res.get("checks") or {})
    return "\n".join(lines) + "\n"


def checks_markdown(chk: dict[str, Any]) -> list[str]:
    """The seed checks' section (empty without ``--checks`` stores)."""
    if not chk.get("levels"):
        return []
    rep = chk["reproduction"]
    lines = ["", f"## Is the table's seed an outlier? ({chk['n']} architectures held by every seed, "
             "from short re-runs with `--checks`)", ""]
    if rep:
        lines += [f"Reproduction: the table's own seed re-run under today's code on {rep['n']} architectures "
                  f"differs from the shipped rows by at most {rep['max_abs_diff_IS']:.4f} in IS and "
                  f"{rep['max_abs_diff_FID']:.3f} in FID (float-level: the table is not stale).", ""]
    lines += ["Each seed's level (mean and sample sd over the architectures): one GAN seed is one training "
              "data order and latent stream shared by every architecture, so it moves them all together.", "",
              "| seed | mean IS | sd IS | mean FID | sd FID |", "|---|---|---|---|---|"]
    lines += [f"| {s} | {v['mean_IS']:.3f} | {v['sd_IS']:.3f} | {v['mean_FID']:.1f} | {v['sd_FID']:.1f} |"
              for s, v in chk["levels"].items()]
    first = min(chk["levels"], key=int)
    ref = chk["levels"][first]
    lines += ["", f"Within one seed, 0.01 FID varies with sd {0.01 * ref['sd_FID']:.2f} and IS with sd "
              f"{ref['sd_IS']:.3f} (seed {first}): the proxy's score ranks like its "
              "FID; its IS barely leaves 1, so its IS ranking is mostly noise where a seed's IS is low.",
              "", "| seeds | IS Spearman | FID Spearman |", "|---|---|---|"]
    lines += [f"| {pair} | {_ci(r[IS], 'spearman')} | {_ci(r[FID], 'spearman')} |" for pair, r in chk["pairs"].items()]
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", default=None, help="table file (default: the shipped one)")
    p.add_argument("--stores", nargs="+", type=Path, required=True, help="stores of the same proxy under other GAN seeds")
    p.add_argument("--reps", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--checks", nargs="*", type=Path, default=[],
                   help="short re-run stores: the table's own seed again (reproduction) and fresh seeds")
    p.add_argument("--docs", type=Path, default=DOCS, help="output folder of proxy_noise.json / .md")
    args = p.parse_args(argv)
    missing = [str(s) for s in [*args.stores, *args.checks] if not s.is_file()]
    if missing:
        p.error(f"no such store: {', '.join(missing)}")
    table = load_table(args.table) if args.table else Table.load()
    archs = table.final_uniform()
    if not archs:
        p.error("the table has no uniform final rows to compare with")
    finals = {a: float(f["score"]) for a in archs if (f := table.final(a)) is not None}
    rows = seed_rows(table, args.stores, archs)
    if len(rows) < 2:
        p.error(f"the stores hold no evaluation of the table's proxy ({table.meta['proxy_hash']}) under another seed")
    res = analyse(rows, finals, args.reps)
    if res["n"] < 4:
        p.error(f"only {res['n']} architectures are stored under every seed {res['seeds']}: too few")
    if args.checks:
        res["checks"] = seed_checks(table, args.checks, archs, rows)
    prov = provenance()
    args.docs.mkdir(parents=True, exist_ok=True)
    (args.docs / "proxy_noise.json").write_text(json.dumps({**res, "rows": {str(k): v for k, v in rows.items()},
                                                            "provenance": prov}, indent=1))
    (args.docs / "proxy_noise.md").write_text(markdown(res, prov))
    print(f"wrote {args.docs / 'proxy_noise.json'}, {args.docs / 'proxy_noise.md'} ({res['n']} architectures, "
          f"seeds {res['seeds']})")
    return res


if __name__ == "__main__":
    main()
