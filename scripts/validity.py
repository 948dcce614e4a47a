#!/usr/bin/env python
"""docs/validity.md: does a better proxy score mean a better GAN, and does the search beat random?

Two steps. ``collect`` reads the results stores of this machine's runs (``runs/``)
and writes what the report needs as committed JSON; ``report`` reads only committed
files (the table, ``docs/validity/*.json``, and the sample grids it copies) and
writes ``docs/validity.md``, ``docs/validity/validity.json`` and the plots::

    python scripts/validity.py collect   # ladder.json from runs/table_v2.sqlite, runs/ladder.sqlite
    # (the committed rows are kept; the stores add architectures, such as the ladder extended with
    #  scripts/build_table.py --archs 100 --skip 62 --set train.d_iters_per_cell=256 --store runs/ladder.sqlite)
    python scripts/validity.py report

Inputs: ``finals.json`` (``scripts/build_finals.py --export``: final protocol v1 rows,
1,000 iterations), ``finals_v2.json`` (final protocol v2: learning curves; every finding is
recomputed against its checkpoint ``--v2-iters``, by default the last every row reaches),
``ladder.json`` (the proxy at 16, 64 and 256 discriminator steps per cell over the
first architectures of the table's sampling order, ``scripts/build_table.py --set``),
``searches.json`` (``scripts/validity_searches.py --export``: SAC and random searches
on the real proxy) and, optionally, ``cross_cpu.json`` (an export of final rows trained
again on another CPU model, compared row by row with the committed ones). Rank
correlations come with seeded bootstrap 95% intervals.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gan_nas_env.config import load_config
from gan_nas_env.evaluators.tabular import load_table, prefix_depth
from gan_nas_env.metrics.score import score_of
from gan_nas_env.provenance import provenance, provenance_line
from gan_nas_env.space import NUM_CELLS, Architecture

DOCS = Path("docs/validity")
BUDGETS = {16: ("runs/table_v2.sqlite", []), 64: ("runs/ladder.sqlite", ["train.d_iters_per_cell=64"]),
           256: ("runs/ladder.sqlite", ["train.d_iters_per_cell=256"])}
REPS = 2000
TABLE_BUDGET = "16"  # the shipped table's discriminator steps per cell
V1_FINALS, V2_FINALS = "finals.json", "finals_v2.json"  # final protocol v1 (1,000 iterations), v2 (curves)
UNIFORM_DRAWS = 150  # v1's uniform sample (scripts/build_finals.py --archs 150): its rows were built for these


# -- collect -------------------------------------------------------------------------
def ladder_rows(store_path: str, overrides: list[str]) -> dict[str, Any]:
    """Complete architectures of one proxy budget: score, IS, FID and cost from scratch."""
    from gan_nas_env.evaluators.store import ResultsStore

    cfg = load_config("table-fmnist", overrides)
    with ResultsStore(store_path) as store:
        evals = {e["arch"]: e for e in store.evaluations(cfg.proxy_hash())
                 if e["seed"] == cfg.env.fixed_gan_seed or not e["arch"]}
    cost = {a: e["timings"].get("train_s", 0.0) + e["timings"].get("score_s", 0.0) for a, e in evals.items()}
    rows = {}
    for arch, e in evals.items():
        if prefix_depth(arch) != NUM_CELLS:
            continue
        chain = [""] + [str(Architecture.parse(arch).prefix(d)) for d in range(1, NUM_CELLS + 1)]
        if not all(p in cost for p in chain):
            continue
        m = e["metrics"]
        rows[arch] = {"IS": m["IS"], "FID": m["FID"], "score": score_of(m, cfg.env.alpha),
                      "diverged": bool(e["diverged"]), "cost_s": float(sum(cost[p] for p in chain))}
    return {"proxy_hash": cfg.proxy_hash(), "d_iters_per_cell": cfg.train.d_iters_per_cell, "rows": rows}


def merge_ladder(committed: dict[str, Any] | None, fresh: dict[str, dict[str, Any]], cpu: str) -> dict[str, Any]:
    """The ladder's budgets: the committed rows kept, this machine's stores adding the missing ones.

    A fresh clone's stores hold only what was built since, so the committed rows must not be
    lost; a row measured again here does not replace the committed one. Every row names the CPU
    that measured it (the committed rows without one: the committed file's machine); a budget
    whose proxy hash changed is refused.
    """
    old_cpu = ((committed or {}).get("provenance") or {}).get("machine", {}).get("cpu", "not recorded")
    budgets: dict[str, Any] = {}
    for b in sorted({*((committed or {}).get("budgets") or {}), *fresh}, key=int):
        kept = ((committed or {}).get("budgets") or {}).get(b)
        new = fresh.get(b)
        if kept and new and kept["proxy_hash"] != new["proxy_hash"]:
            raise SystemExit(f"ladder budget {b}: the committed rows are of proxy {kept['proxy_hash']}, "
                             f"this machine's store of {new['proxy_hash']}; not merged")
        rows = {a: {**r, "cpu": cpu} for a, r in ((new or {}).get("rows") or {}).items()}
        rows.update({a: {"cpu": old_cpu, **r} for a, r in ((kept or {}).get("rows") or {}).items()})
        budgets[b] = {**(kept or new or {}), "rows": rows}
    return budgets


def collect(_: argparse.Namespace) -> None:
    """Update docs/validity/ladder.json from this machine's stores (the committed rows kept)."""
    path = DOCS / "ladder.json"
    prov = provenance()
    fresh = {str(b): ladder_rows(store, ov) for b, (store, ov) in BUDGETS.items() if Path(store).exists()}
    budgets = merge_ladder(json.loads(path.read_text()) if path.exists() else None, fresh, prov["machine"]["cpu"])
    data: dict[str, Any] = {"budgets": budgets, "command": " ".join(sys.argv), "provenance": prov}
    DOCS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    print("wrote docs/validity/ladder.json: " + ", ".join(
        f"{b} steps: {len(v['rows'])} architectures" for b, v in data["budgets"].items()))


# -- statistics ----------------------------------------------------------------------
def rank_corr(x: ArrayLike, y: ArrayLike, reps: int = REPS, seed: int = 0) -> dict[str, Any]:
    """Spearman and Kendall tau of ``x`` vs ``y`` with percentile-bootstrap 95% intervals."""
    from scipy.stats import kendalltau, spearmanr

    xs, ys = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    out: dict[str, Any] = {"n": int(len(xs))}
    if len(xs) < 4 or np.ptp(xs) == 0 or np.ptp(ys) == 0:  # too few rows, or a constant: undefined
        return out
    rng = np.random.default_rng(seed)
    boot: dict[str, list[float]] = {"spearman": [], "kendall": []}
    for _ in range(reps):
        i = rng.integers(0, len(xs), len(xs))
        if np.ptp(xs[i]) == 0 or np.ptp(ys[i]) == 0:
            continue
        boot["spearman"].append(spearmanr(xs[i], ys[i]).statistic)
        boot["kendall"].append(kendalltau(xs[i], ys[i]).statistic)
    for name, fn in (("spearman", spearmanr), ("kendall", kendalltau)):
        out[name] = {"value": float(fn(xs, ys).statistic),
                     "ci": [float(np.percentile(boot[name], 2.5)), float(np.percentile(boot[name], 97.5))]}
    return out


def paired_diff(x_base: ArrayLike, x_new: ArrayLike, y: ArrayLike, reps: int = REPS,
                seed: int = 0) -> dict[str, Any]:
    """Spearman(x_new, y) - Spearman(x_base, y) over the same rows, with a paired-bootstrap 95% CI."""
    from scipy.stats import spearmanr

    xb, xn, ys = np.asarray(x_base, float), np.asarray(x_new, float), np.asarray(y, float)
    ok = np.isfinite(xb) & np.isfinite(xn) & np.isfinite(ys)
    xb, xn, ys = xb[ok], xn[ok], ys[ok]
    if len(ys) < 4:
        return {"n": int(len(ys))}
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(reps):
        i = rng.integers(0, len(ys), len(ys))
        if min(np.ptp(xb[i]), np.ptp(xn[i]), np.ptp(ys[i])) == 0:
            continue
        boot.append(spearmanr(xn[i], ys[i]).statistic - spearmanr(xb[i], ys[i]).statistic)
    value = spearmanr(xn, ys).statistic - spearmanr(xb, ys).statistic
    return {"n": int(len(ys)), "value": float(value),
            "ci": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]}


def rebuild_verdict(ladder: dict[str, Any], table_budget: str) -> dict[str, Any]:
    """Rebuild the table at a larger budget only if it ranks clearly better: its Spearman's CI
    excludes 0 and so does its paired difference against the table's budget."""
    better = [b for b, v in ladder.items() if b != table_budget
              and (v.get("spearman") or {}).get("ci", [0])[0] > 0
              and (v.get("vs_table") or {}).get("ci", [0])[0] > 0]
    best = min(better, key=lambda b: ladder[b]["cost_s_median"] or 0.0) if better else None
    return {"rule": "a budget whose Spearman 95% CI and whose paired difference against the "
                    f"table's {table_budget} steps both exclude 0", "rebuild_at": best}


def placement(score: float, uniform: np.ndarray, reps: int = REPS, seed: int = 0) -> dict[str, Any]:
    """Percentile of ``score`` among the uniform sample; P(score > a random architecture) with CI."""
    rng = np.random.default_rng(seed)
    p = float(np.mean(uniform < score) + 0.5 * np.mean(uniform == score))
    boot = [np.mean(rng.choice(uniform, len(uniform)) < score) for _ in range(reps)]
    return {"score": float(score), "percentile": 100 * p, "p_better": p,
            "p_better_ci": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]}


def cross_cpu(finals: dict, check: dict, alpha: float, seed_std: float | None) -> dict[str, Any]:
    """The same final rows trained again on another CPU model (``cross_cpu.json``), side by side.

    ``check`` is a ``build_finals.py --export`` of a separate store; each of its rows is paired
    with the committed row of the same architecture and seed trained on another CPU.
    """
    committed = {(r["arch"], int(r["seed"])): r for r in finals["rows"]}
    pairs = []
    for r in check.get("rows", []):
        c = committed.get((r["arch"], int(r["seed"])))
        if c is None or not c.get("cpu") or c.get("cpu") == r.get("cpu"):
            continue
        a, b = (score_of(x, alpha) for x in (c, r))
        pairs.append({"arch": r["arch"], "seed": int(r["seed"]), "cpus": [c["cpu"], r.get("cpu")],
                      "scores": [a, b], "FID": [c["FID"], r["FID"]], "IS": [c["IS"], r["IS"]]})
    diffs = [abs(p["scores"][1] - p["scores"][0]) for p in pairs]
    return {"pairs": pairs, "mean_abs_diff": float(np.mean(diffs)) if diffs else None, "seed_std": seed_std}


# -- report ----------------------------------------------------------------------------
def load_inputs() -> tuple[dict, dict, dict, dict]:
    """finals.json (v1), finals_v2.json, ladder.json and searches.json (all but v1 may be missing: {})."""
    read = lambda n: json.loads((DOCS / n).read_text()) if (DOCS / n).exists() else {}  # noqa: E731
    finals = read(V1_FINALS)
    if not finals:
        raise SystemExit("docs/validity/finals.json is missing: run scripts/build_finals.py --export first")
    return finals, read(V2_FINALS), read("ladder.json"), search_rows(read)


#: the searches' exports (scripts/validity_searches.py --export), one per evaluator
SEARCH_FILES = ("searches.json", "searches_is.json", "searches_d256.json")


def search_rows(read: Any) -> dict[str, Any]:
    """Every search export's rows in one list, each naming its evaluator (``proxy``: the E2GAN
    score, the default of the exports that predate the field)."""
    rows = [{"evaluator": "proxy", **r} for name in SEARCH_FILES for r in (read(name) or {}).get("rows", [])]
    return {"rows": rows} if rows else {}


def rows_at(finals: dict, iters: int | None = None) -> dict:
    """A learning-curve export (v2) with each row's metrics and cost at checkpoint ``iters``.

    ``iters`` defaults to the last checkpoint every row reaches; rows without that checkpoint
    are left out. ``train_s`` becomes the row's wall seconds up to that checkpoint.
    """
    from gan_nas_env.evaluators.final import FinalRows

    rows = [r for r in finals.get("rows", []) if r.get("curve")]
    if not rows:
        return {**finals, "rows": [], "budget": None}
    # the table's own rule for the default checkpoint, and its error naming the stored ones
    iters = FinalRows.from_records(rows, finals.get("final_hash", ""), finals.get("config") or {},
                                   budget=iters).budget
    out = []
    for r in rows:
        point = next((c for c in r["curve"] if int(c["iter"]) == iters), None)
        if point is None:
            continue
        out.append({**r, **{k: v for k, v in point.items() if k not in ("iter", "wall_s")},
                    "iters": iters, "train_s": point.get("wall_s", r.get("train_s"))})
    return {**finals, "rows": out, "budget": iters}


def protocol_of(finals: dict) -> dict[str, Any]:
    """What a final row is: preset, widths, iterations, samples (from the export's config)."""
    cfg = finals.get("config") or {}
    rt, mt = cfg.get("retrain") or {}, cfg.get("metrics") or {}
    return {"name": cfg.get("name", "?"), "gf": rt.get("gf"), "df": rt.get("df"),
            "iters": finals.get("budget") or rt.get("g_iters"), "eval_samples": rt.get("eval_samples"),
            "real_samples": mt.get("real_samples"), "curve": bool(finals.get("budget")),
            "g_iters": rt.get("g_iters"), "eval_every": rt.get("eval_every")}


def _n(x: Any) -> str:
    """A count with thousands separators; "?" where the export did not record it."""
    return f"{x:,}" if isinstance(x, (int, float)) else "?"


def final_table(finals: dict, alpha: float) -> dict[str, dict[str, Any]]:
    """Architecture -> final score of its seed-0 row and the scores of all its seeds."""
    out: dict[str, dict[str, Any]] = {}
    for r in finals["rows"]:
        s = score_of(r, alpha)
        d = out.setdefault(r["arch"], {"seeds": {}})
        d["seeds"][int(r["seed"])] = {"score": s, "IS": r["IS"], "FID": r["FID"]}
    for d in out.values():
        first = d["seeds"].get(0) or next(iter(d["seeds"].values()))
        d.update(first)
    return out


def rows_by_cpu(rows: list[dict]) -> dict[str, dict[str, Any]]:
    """CPU model -> its final rows' count and median training seconds (the cost of a row there)."""
    out: dict[str, list[float]] = {}
    for r in rows:
        out.setdefault(r.get("cpu") or "not recorded", []).append(float(r.get("train_s") or np.nan))
    return {cpu: {"rows": len(t), "train_s_median": float(np.nanmedian(t)) if np.isfinite(t).any() else None}
            for cpu, t in sorted(out.items(), key=lambda kv: -len(kv[1]))}


def analyse(finals: dict, ladder: dict, searches: dict) -> dict[str, Any]:
    """Every number of docs/validity.md."""
    table = load_table()
    alpha = table.alpha
    fin = final_table(finals, alpha)
    tab_final = table.meta.get("final") or {}
    own = tab_final.get("final_hash") == finals["final_hash"]  # the table holds this protocol's rows
    # the uniform sample: the first draws of the table's sampling order, not agents' bests; as
    # many as the table records for the protocol it holds (v2: 100), v1's own 150 otherwise
    drawn = table.uniform_sample(UNIFORM_DRAWS) if own else table.uniform_sample(draws=UNIFORM_DRAWS)
    uniform = [a for a in drawn if a in fin and a in table.index]
    proxy = np.array([table.score(a) for a in uniform])
    final = np.array([fin[a]["score"] for a in uniform])
    res: dict[str, Any] = {
        "alpha": alpha, "final_hash": finals["final_hash"], "protocol": protocol_of(finals), "table_proxy_hash": table.meta["proxy_hash"],
        "n_uniform": len(uniform),
        "n_uniform_drawn": len(drawn),  # distinct, measured or not
        "proxy_vs_final": {
            "score": rank_corr(proxy, final),
            "FID": rank_corr([table.query(a)["FID"] for a in uniform], [fin[a]["FID"] for a in uniform]),
            "IS": rank_corr([table.query(a)["IS"] for a in uniform], [fin[a]["IS"] for a in uniform]),
        },
        "final_score": {"mean": float(final.mean()), "std": float(final.std()),
                        "min": float(final.min()), "max": float(final.max())} if len(final) else {},
        "final_spread": {"IS_std": float(np.std([fin[a]["IS"] for a in uniform])),
                         "FID_range": [float(min(fin[a]["FID"] for a in uniform)),
                                       float(max(fin[a]["FID"] for a in uniform))] if uniform else [],
                         "alpha_FID_std": float(alpha * np.std([fin[a]["FID"] for a in uniform]))},
        "train_s_per_row": float(np.median([r["train_s"] for r in finals["rows"] if r.get("train_s")]))
        if any(r.get("train_s") for r in finals["rows"]) else None,
        "rows_by_cpu": rows_by_cpu(finals["rows"]),
        "points": {a: {"proxy": table.score(a), "final": fin[a]["score"]} for a in uniform},
        "final_surrogate": tab_final.get("surrogate", {}) if own else {},  # fitted on this protocol's rows
        "table_final_hash": tab_final.get("final_hash"),
    }
    res["ladder"] = {}
    budgets = ladder.get("budgets") or {}
    base = budgets.get(TABLE_BUDGET)
    # every budget is ranked over the same architectures: the uniform ones every budget holds
    common = [a for a in uniform if all(a in d["rows"] and not d["rows"][a]["diverged"]
                                        for d in budgets.values())]
    for budget, data in budgets.items():
        archs = common
        res["ladder"][budget] = {
            **rank_corr([data["rows"][a]["score"] for a in archs], [fin[a]["score"] for a in archs]),
            "cost_s_median": float(np.median([data["rows"][a]["cost_s"] for a in archs])) if archs else None,
            "proxy_hash": data["proxy_hash"]}
        if base is not None and budget != TABLE_BUDGET:  # the table's budget holds ``common`` too
            res["ladder"][budget]["vs_table"] = paired_diff(
                [base["rows"][a]["score"] for a in archs], [data["rows"][a]["score"] for a in archs],
                [fin[a]["score"] for a in archs])
    if base is not None:
        res["rebuild"] = rebuild_verdict(res["ladder"], TABLE_BUDGET)
    multi = {a: d for a, d in fin.items() if len(d["seeds"]) >= 2}
    if multi:
        per = [[s["score"] for _, s in sorted(d["seeds"].items())][:3] for d in multi.values()]
        both = np.array([p[:2] for p in per])
        res["noise_floor"] = {
            "archs": list(multi), "scores": per,
            "seed_std_mean": float(np.mean([np.std(p, ddof=1) for p in per])),
            "between_arch_std": float(final.std(ddof=1)) if len(final) > 1 else None,
            "rank_corr_seed0_vs_seed1": rank_corr(both[:, 0], both[:, 1]) if len(both) >= 4 else {"n": len(both)},
        }
    res["searches"] = []
    for row in searches.get("rows", []):
        arch = row["best_arch"]
        entry = {**{k: row[k] for k in ("evaluator", "algo", "seed", "best_arch", "best_proxy_score", "episodes")},
                 "final_measured": arch in fin}
        if arch in fin and len(final):
            entry.update(placement(fin[arch]["score"], final))
        res["searches"].append(entry)
    res["search_summary"] = search_summary(res["searches"])
    res["published"] = published(table, fin, final, proxy)
    return res


def published(table: Any, fin: dict[str, dict[str, Any]], uniform_final: np.ndarray,
              uniform_proxy: np.ndarray) -> list[dict[str, Any]]:
    """The published E2GAN and AutoGAN architectures: proxy and final score, placed at both."""
    from gan_nas_env.space import AUTOGAN_ARCH, E2GAN_ARCH

    out = []
    for name, vec in (("E2GAN", E2GAN_ARCH), ("AutoGAN", AUTOGAN_ARCH)):
        arch = str(vec)
        proxy, measured = table.proxy_score(vec)
        entry = {"name": name, "arch": arch, "proxy_score": proxy, "proxy_measured": measured,
                 "final_measured": arch in fin,
                 "proxy_percentile": 100 * float(np.mean(uniform_proxy < proxy)) if len(uniform_proxy) else None}
        if arch in fin:
            entry.update({"IS": fin[arch]["IS"], "FID": fin[arch]["FID"]})
            if len(uniform_final):
                entry.update(placement(fin[arch]["score"], uniform_final))
        out.append(entry)
    return out


def search_summary(searches: list[dict[str, Any]], reps: int = 2000) -> dict[str, Any]:
    """Per evaluator: per algorithm the mean P(best > a random architecture) and the runs;
    per ordered pair of algorithms, rliable's P(A's best > B's best) over the seeds with a
    stratified-bootstrap 95% interval (``{"value", "ci"}``; no interval under 2 runs each)."""
    from agents.benchmark.report import probability_of_improvement

    out: dict[str, Any] = {}
    for ev in dict.fromkeys(s.get("evaluator", "proxy") for s in searches):
        by: dict[str, list[dict[str, Any]]] = {}
        for s in searches:
            if s.get("evaluator", "proxy") == ev and "score" in s:
                by.setdefault(s["algo"], []).append(s)
        if not by:
            continue
        pairs = {}
        for a in by:
            for b in by:
                if a == b:
                    continue
                x, y = (np.array([[r["score"]] for r in by[k]]) for k in (a, b))
                pairs[f"{a}>{b}"] = (probability_of_improvement(x, y, reps) if min(len(x), len(y)) >= 2
                                     else {"value": float(np.mean([u > v for u in x[:, 0] for v in y[:, 0]])),
                                           "ci": None})
        out[ev] = {"mean_p_better": {a: float(np.mean([r["p_better"] for r in v])) for a, v in by.items()},
                   "median_percentile": {a: float(np.median([r["percentile"] for r in v])) for a, v in by.items()},
                   "top_quarter": {a: sum(r["percentile"] >= 75 for r in v) for a, v in by.items()},
                   "runs": {a: len(v) for a, v in by.items()}, "p_improvement": pairs}
    return out


def plots(res: dict[str, Any], suffix: str = "") -> list[str]:
    """Scatter of proxy vs final score, and rank correlation vs proxy cost (the ladder).

    ``suffix`` tells the protocols' files apart (``proxy_vs_final_v2.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    pts = np.array([[p["proxy"], p["final"]] for p in res["points"].values()]).reshape(-1, 2)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter(pts[:, 0], pts[:, 1], s=14, alpha=0.7, label="uniform sample")
    labelled: set[str] = set()
    for s in res["searches"]:
        if "score" in s:
            name = f"{s['algo']}, {s.get('evaluator', 'proxy')}"
            label = None if name in labelled else f"{name} search's best (final)"
            labelled.add(name)
            ax.axhline(s["score"], lw=0.8, ls="--" if s["algo"] == "random" else "-",
                       color=("tab:gray" if s["algo"] == "random" else "tab:red")
                       if s.get("evaluator", "proxy") == "proxy" else
                       ("tab:olive" if s["algo"] == "random" else "tab:purple"), label=label)
    ax.legend(fontsize=8, loc="lower left")
    sc = res["proxy_vs_final"]["score"]
    rho = sc.get("spearman", {}).get("value", float("nan"))
    ax.set_xlabel("proxy score (table, 16 D steps per cell)")
    ax.set_ylabel(f"final score ({_n(res['protocol']['iters'])} G iterations)")
    ax.set_title(f"n = {sc['n']}, Spearman {rho:.2f}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(DOCS / f"proxy_vs_final{suffix}.png", dpi=120)
    plt.close(fig)
    names.append(f"proxy_vs_final{suffix}.png")
    if res["ladder"]:
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        for b, v in sorted(res["ladder"].items(), key=lambda kv: int(kv[0])):
            if "spearman" not in v:
                continue
            lo, hi = v["spearman"]["ci"]
            ax.errorbar(v["cost_s_median"], v["spearman"]["value"],
                        yerr=[[v["spearman"]["value"] - lo], [hi - v["spearman"]["value"]]], fmt="o", capsize=4)
            ax.annotate(f"{b} D steps/cell\n(n={v['n']})", (v["cost_s_median"], v["spearman"]["value"]),
                        textcoords="offset points", xytext=(8, -4), fontsize=8)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        costs = [v["cost_s_median"] for v in res["ladder"].values() if v.get("cost_s_median")]
        ax.set_xlim(min(costs) / 1.5, max(costs) * 3)
        ax.set_xlabel("proxy seconds per architecture (median, one CPU core)")
        ax.set_ylabel("Spearman(proxy, final) [95% CI]")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(DOCS / f"ladder{suffix}.png", dpi=120)
        plt.close(fig)
        names.append(f"ladder{suffix}.png")
    return names


def copy_grids(res: dict[str, Any], runs: Path, shown: dict[str, str] | None = None) -> dict[str, str]:
    """The final sample grids of the best and worst final architectures.

    Copied from this machine's run folders; where this machine lacks one (the row was
    trained elsewhere), the committed grid is kept only if ``shown`` (the last report's
    ``grids``) says it is of the same architecture, so a grid is never shown under
    another architecture's name.
    """
    pts = res["points"]
    if not pts:
        return {}
    ranked = sorted(pts, key=lambda a: pts[a]["final"])
    out = {}
    for label, arch in (("best", ranked[-1]), ("worst", ranked[0])):
        src = runs / res["final_hash"] / f"{arch.replace(' ', '')}-s0" / "final_grid.png"
        dst = DOCS / f"grid_{label}.png"
        if src.exists():
            shutil.copy(src, dst)
        elif dst.exists() and (shown or {}).get(label) != arch:
            dst.unlink()  # another architecture's samples
        if dst.exists():
            out[label] = arch
    return out


def reading(v: dict[str, Any] | None, what: str) -> str:
    """One plain sentence on a rank correlation and its interval."""
    if not v:
        return f"{what}: too few rows to say."
    lo, hi = v["ci"]
    if lo > 0:
        return f"{what}: a positive rank correlation (Spearman {v['value']:.2f}, interval above 0)."
    if hi < 0:
        return f"{what}: a negative rank correlation (Spearman {v['value']:.2f}, interval below 0)."
    return (f"{what}: no rank correlation that these rows can tell from zero (Spearman "
            f"{v['value']:.2f}, interval {lo:.2f} to {hi:.2f}).")


def _ci(v: dict[str, Any] | None) -> str:
    if not v or "value" not in v:
        return "n/a"
    return f"{v['value']:.3f} [{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]"


def published_lines(pub: list[dict[str, Any]]) -> list[str]:
    """The report's section on the published architectures (nothing without them)."""
    if not pub:
        return []
    lines = ["## The published architectures", "",
              "E2GAN's and AutoGAN's published generators, trained by the same final protocol (at the "
              "proxy's widths, not the papers' 256 channels) and placed among the uniform sample's "
              "final scores. Their proxy score is the table's surrogate prediction when the table "
              "does not hold them; both percentiles are among the same uniform architectures, by "
              "proxy score and by final score.", "",
              "| architecture | cells | proxy score (percentile) | final IS | final FID | final score | "
              "percentile | P(> random arch) [95% CI] |", "|---|---|---|---|---|---|---|---|"]
    for e in pub:
        proxy = (f"{e['proxy_score']:.4f}" + ("" if e["proxy_measured"] else " predicted")
                 + (f" ({e['proxy_percentile']:.0f})" if e.get("proxy_percentile") is not None else ""))
        if "score" in e:
            lines.append(f"| {e['name']} | `{e['arch']}` | {proxy} | {e['IS']:.3f} | {e['FID']:.2f} | "
                         f"{e['score']:.4f} | {e['percentile']:.0f} | {e['p_better']:.2f} "
                         f"[{e['p_better_ci'][0]:.2f}, {e['p_better_ci'][1]:.2f}] |")
        else:
            lines.append(f"| {e['name']} | `{e['arch']}` | {proxy} | not trained yet | | | | |")
    lines.append("")
    return lines


def cost_by_cpu(res: dict[str, Any]) -> str:
    """"235 s on CPU A (173 rows), 130 s on CPU B (40 rows)": the rows' machines with their cost."""
    by = res.get("rows_by_cpu") or {"not recorded": {"rows": None, "train_s_median": res["train_s_per_row"]}}
    def where(cpu: str) -> str:
        return "an unrecorded CPU" if cpu == "not recorded" else cpu

    def rows(n: int | None) -> str:
        return f" ({n} row{'s' if n != 1 else ''})" if n else ""

    return ", ".join(f"{v['train_s_median']:.0f} s on {where(cpu)}{rows(v['rows'])}"
                     for cpu, v in by.items() if v["train_s_median"] is not None)


def cross_cpu_md(xc: dict[str, Any]) -> list[str]:
    """The "Across CPU models" section (none without rows trained again elsewhere)."""
    if not xc.get("pairs"):
        return []
    lines = ["## Across CPU models", "",
             "The same architecture, seed, code and protocol trained again on another CPU model "
             "(`scripts/build_finals.py --store runs/xcpu.sqlite ... --export "
             "docs/validity/cross_cpu.json`): their floating-point kernels differ in the last "
             "digits; this measures how far that moves a final score.", "",
             "| architecture | seed | CPU (committed row) | score | CPU (again) | score |",
             "|---|---|---|---|---|---|"]
    for q in xc["pairs"]:
        lines.append(f"| `{q['arch']}` | {q['seed']} | {q['cpus'][0]} | {q['scores'][0]:.4f} "
                     f"| {q['cpus'][1]} | {q['scores'][1]:.4f} |")
    note = (f", against a mean seed-to-seed std of {xc['seed_std']:.4f} (noise floor)"
            if xc.get("seed_std") else "")
    lines += ["", f"Mean absolute difference of the final score over {len(xc['pairs'])} rows: "
              f"{xc['mean_abs_diff']:.4f}{note}.", ""]
    return lines


def gold_section() -> list[str]:
    """The gold subset's section (``scripts/gold_report.py`` writes it), when there is one."""
    path = DOCS / "gold.md"
    return [path.read_text().rstrip(), ""] if path.exists() else []


def included_report(name: str) -> list[str]:
    """A report written beside this page's JSON (``docs/validity/<name>``), one heading level
    down and with its images' paths relative to ``docs/``; empty when it does not exist."""
    path = DOCS / name
    if not path.exists():
        return []
    text = re.sub(r"^(#+) ", r"#\1 ", path.read_text().rstrip(), flags=re.M)
    text = re.sub(r"\]\((?!https?:|/|validity/)([^)]+\.png)\)", r"](validity/\1)", text)
    return [text, ""]


def protocol_line(res: dict[str, Any]) -> str:
    """The final protocol in one bullet: preset, widths, budget, samples, cost per row."""
    pr = res["protocol"]
    budget = (f"{_n(pr['iters'])} generator iterations (a checkpoint of learning curves "
              f"to {_n(pr['g_iters'])}, a scoring every {_n(pr['eval_every'])})" if pr["curve"]
              else f"{_n(pr['iters'])} generator iterations")
    cost = cost_by_cpu(res) if res.get("train_s_per_row") else "not recorded"
    return (f"- **Final** (`{res['final_hash']}`): `configs/{pr['name']}.yaml`, the architecture trained from "
            f"scratch at the proxy's widths (gf {pr['gf']} / df {pr['df']}) for {budget}, EMA generator "
            f"scored on {_n(pr['eval_samples'])} samples against {_n(pr['real_samples'])} real images, seed 0. "
            f"Cost per row (median, one core): {cost} (`scripts/build_finals.py`, resumable).")


def ranking_lines(res: dict[str, Any], suffix: str, compact: bool) -> list[str]:
    """How well the proxy ranks: the table, a plain reading and (in full) the scatter plot."""
    pv = res["proxy_vs_final"]
    lines = [f"Over the {res['n_uniform']} architectures with a final row of the "
             f"{res.get('n_uniform_drawn', res['n_uniform'])} distinct ones that the table's uniform sampling "
             "order draws first (its own seeded order, `scripts/build_table.py`):", "",
             "| proxy quantity vs final | n | Spearman [95% CI] | Kendall tau [95% CI] |", "|---|---|---|---|"]
    for k in ("score", "FID", "IS"):
        v = pv[k]
        lines.append(f"| {k} | {v['n']} | {_ci(v.get('spearman'))} | {_ci(v.get('kendall'))} |")
    fs = res["final_score"]
    if fs:
        lines += ["", f"Final scores of these architectures: mean {fs['mean']:.3f}, std {fs['std']:.3f}, "
                  f"range {fs['min']:.3f} to {fs['max']:.3f}.", ""]
    lines += ["What this shows: " + reading(pv["score"].get("spearman"), "proxy score vs final score")
              + " " + reading(pv["FID"].get("spearman"), "Proxy FID vs final FID")
              + " " + reading(pv["IS"].get("spearman"), "Proxy IS vs final IS"), ""]
    if not compact:
        spread = res["final_spread"]
        if spread["FID_range"]:
            lines += ["Why the score and FID differ: at the proxy, IS stays near 1 and the score's spread "
                      "comes mostly from alpha FID; after final training FID is "
                      f"{spread['FID_range'][0]:.1f}-{spread['FID_range'][1]:.1f} and the final score's "
                      f"spread is final IS std {spread['IS_std']:.3f} against alpha FID std "
                      f"{spread['alpha_FID_std']:.3f}.", ""]
        lines += [f"![proxy vs final](validity/proxy_vs_final{suffix}.png)", ""]
    return lines


def ladder_lines(res: dict[str, Any], suffix: str, compact: bool) -> list[str]:
    """The fidelity ladder: proxy budgets against their rank correlation with the final."""
    if not res["ladder"]:
        return []
    lines = ["The same architectures (first of the table's sampling order) under three proxy "
             "budgets, each ranked against the final scores:", "",
             "| D steps per cell | proxy | n | Spearman [95% CI] | Kendall tau [95% CI] | "
             f"Spearman minus the table's ({TABLE_BUDGET}) [paired 95% CI] | "
             "proxy s per architecture (median) |", "|---|---|---|---|---|---|---|"]
    for b, v in sorted(res["ladder"].items(), key=lambda kv: int(kv[0])):
        cost = f"{v['cost_s_median']:.1f}" if v.get("cost_s_median") else "n/a"
        diff = _ci(v["vs_table"]) if "vs_table" in v else "-"
        lines.append(f"| {b} | `{v['proxy_hash']}` | {v['n']} | {_ci(v.get('spearman'))} | "
                     f"{_ci(v.get('kendall'))} | {diff} | {cost} |")
    lines.append("")
    if not compact:
        lines += [f"![ladder](validity/ladder{suffix}.png)", ""]
    rb = res.get("rebuild")
    if rb:
        lines += [f"Rule for rebuilding the table at a larger budget: {rb['rule']}. "
                  + (f"**{rb['rebuild_at']} steps per cell meets it: the table should be rebuilt there.**"
                     if rb["rebuild_at"] else
                     "No budget meets it on these rows, so the shipped table keeps its proxy."), ""]
    return lines


def noise_lines(res: dict[str, Any]) -> list[str]:
    """The noise floor: architectures trained with several seeds."""
    nf = res.get("noise_floor")
    if not nf:
        return []
    width, fewest = max(len(s) for s in nf["scores"]), min(len(s) for s in nf["scores"])
    n = len(nf["archs"])
    lines = [f"{n} architecture{'s' if n != 1 else ''} trained by the final protocol with "
             f"{width if width == fewest else f'{fewest}-{width}'} "
             f"seeds each: mean seed-to-seed std of the final score {nf['seed_std_mean']:.4f}, against a std "
             f"of {nf['between_arch_std']:.4f} between the uniform architectures."
             + (f" Seed 0 against seed 1: Spearman {_ci(nf['rank_corr_seed0_vs_seed1'].get('spearman'))}."
                if "spearman" in nf["rank_corr_seed0_vs_seed1"] else ""), "",
             "| architecture | " + " | ".join(f"seed {i}" for i in range(width)) + " |",
             "|---|" + "---|" * width]
    for a, sc in zip(nf["archs"], nf["scores"]):
        cells = [f"{x:.4f}" for x in sc] + [""] * (width - len(sc))
        lines.append(f"| `{a}` | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


EVALUATOR_NAMES = {"proxy": "E2GAN proxy score (`--config table-fmnist`)",
                   "is": "IS-only proxy (`--config search-fmnist-is`)",
                   "d256": "256-step proxy score (`--config search-fmnist-d256`)"}


def _proxy_vs_final(searches: list[dict[str, Any]], evaluator: str) -> str:
    """What the searches optimised against what it bought: the bests' mean proxy value and
    mean final score per algorithm (trained bests only), as a sentence."""
    trained = [s for s in searches if s.get("evaluator", "proxy") == evaluator and "score" in s]
    algos = sorted({s["algo"] for s in trained})
    if len(algos) < 2:
        return ""

    def mean(key: str, algo: str) -> float:
        return float(np.mean([s[key] for s in trained if s["algo"] == algo]))

    proxy = ", ".join(f"{a} {mean('best_proxy_score', a):.3f}" for a in algos)
    final = ", ".join(f"{a} {mean('score', a):.3f}" for a in algos)
    return f" The bests' mean proxy value (what the search maximised): {proxy}; their mean final score: {final}."


def _verdict(ss: dict[str, Any]) -> str:
    """What one evaluator's searches show, as a sentence written from the numbers: how many
    bests reach the uniform sample's top quarter, and whether SAC and random search separate
    (the interval of P(SAC > random search) excludes 0.5) or not."""
    tops, runs = sum(ss["top_quarter"].values()), sum(ss["runs"].values())
    median = ", ".join(f"{a} {m:.0f}" for a, m in ss["median_percentile"].items())
    text = (f" **What it shows:** {tops} of the {runs} trained bests reach the uniform "
            f"sample's top quarter (75th percentile or above); median percentile {median}")
    p = ss["p_improvement"].get("sac>random")
    if p is None:
        return text + "."
    if not p["ci"]:
        return text + "; SAC against random search: too few runs for an interval."
    lo, hi = p["ci"]
    if lo > 0.5:
        return text + "; SAC's bests beat random search's (the interval of P(sac > random) is above 0.5)."
    if hi < 0.5:
        return text + "; random search's bests beat SAC's (the interval of P(sac > random) is below 0.5)."
    return text + "; SAC and random search are not separated (the interval of P(sac > random) contains 0.5)."


def search_lines(res: dict[str, Any]) -> list[str]:
    """Search bests placed among the uniform sample's final scores, per evaluator."""
    if not res["searches"]:
        return []
    trained = [s for s in res["searches"] if "score" in s]
    intro = ("Each search: `gan-nas search` with real training (not the table) under one evaluator, "
             "its best architecture by that evaluator trained by the final protocol and placed among "
             "the uniform sample's final scores.")
    if not trained:
        return [intro + f" None of the {len(res['searches'])} search bests has a row of this protocol yet "
                "(`scripts/measure_bests.py` trains them).", ""]
    lines = [intro, "", "| evaluator | algorithm | seed | best architecture | its proxy value | final score | "
             "percentile | P(> random arch) [95% CI] |", "|---|---|---|---|---|---|---|---|"]
    for s in sorted(res["searches"], key=lambda s: (s.get("evaluator", "proxy"), s["algo"], s["seed"])):
        head = f"| {s.get('evaluator', 'proxy')} | {s['algo']} | {s['seed']} | `{s['best_arch']}` | {s['best_proxy_score']:.4f} "
        if "score" in s:
            lines.append(head + f"| {s['score']:.4f} | {s['percentile']:.0f} | {s['p_better']:.2f} "
                         f"[{s['p_better_ci'][0]:.2f}, {s['p_better_ci'][1]:.2f}] |")
        else:
            lines.append(head + "| not trained yet | | |")
    lines.append("")
    for ev, ss in (res.get("search_summary") or {}).items():
        parts = [f"{a}: mean P(> random architecture) {p:.2f} over {ss['runs'][a]} runs"
                 for a, p in ss["mean_p_better"].items()]
        pairs = [f"P({k.replace('>', ' > ')}) {v['value']:.2f}"
                 + (f" [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}]" if v["ci"] else " (no interval: one run)")
                 for k, v in ss["p_improvement"].items() if not k.startswith("random>")]
        lines += [f"- **{EVALUATOR_NAMES.get(ev, ev)}**: " + "; ".join(parts)
                  + (". Across seeds (rliable, final scores of the bests): " + "; ".join(pairs) if pairs else "")
                  + "." + _proxy_vs_final(res["searches"], ev) + _verdict(ss)]
    lines += ["", "With a handful of runs each, and a seed-to-seed spread of the final score that is a "
              "large share of the spread between architectures (noise floor), an interval that "
              "contains 0.5 is no separation.", ""]
    return lines


def findings(res: dict[str, Any], suffix: str, compact: bool) -> list[str]:
    """Every finding against one final protocol, each under a "##" heading."""
    lines = ["## Protocols", "",
             f"- **Proxy** (the shipped table, `{res['table_proxy_hash']}`): `configs/table-fmnist.yaml`, "
             "16 discriminator steps per cell, 500 scoring samples.",
             protocol_line(res), f"- Score = IS - {res['alpha']} FID for both.", "",
             "## How well the proxy ranks", "", *ranking_lines(res, suffix, compact)]
    if res["ladder"]:
        lines += ["## Fidelity ladder: proxy budget against rank correlation", "",
                  *ladder_lines(res, suffix, compact)]
    if res.get("noise_floor"):
        lines += ["## Noise floor", "", *noise_lines(res)]
    if res["searches"]:
        lines += ["## Does the search beat random search?", "", *search_lines(res)]
    pub = res.get("published") or []
    if any("score" in e for e in pub) or not compact:
        lines += published_lines(pub)
    return lines


def surrogate_lines(res: dict[str, Any], protocol: str) -> list[str]:
    """The table's final surrogate, under the protocol whose rows it was fitted on (else nothing)."""
    fsur = res.get("final_surrogate") or {}
    if fsur.get("score_spearman") is None:
        return []
    kind = str(fsur.get("kind", "gradient_boosting")).replace("_", " ")
    return [f"The table's final surrogate ({kind} on the one-hot architecture, fitted on "
            f"the {fsur['n']} architectures with {protocol} final rows in the shipped table): {fsur['folds']}-fold out-of-fold "
            f"Spearman {fsur['score_spearman']:.3f}, Kendall {fsur['score_kendall']:.3f}, score MAE "
            f"{fsur['score_mae']:.4f} (always predicting the mean: "
            f"{fsur['score_mae_mean_predictor']:.4f}). `gan-nas benchmark` uses it for best "
            "architectures without a final row; its regressor was chosen by `scripts/final_surrogate_study.py` "
            "([`validity/final_surrogate_study.md`](validity/final_surrogate_study.md)).", ""]


def markdown(res: dict[str, Any], grids: dict[str, str], prov: dict[str, Any],
             res_v2: dict[str, Any] | None = None) -> str:
    """docs/validity.md: the gold subset, every finding against v2 (when it has rows), then v1."""
    lines = [
        "# Validity: does the proxy rank like real training, and does the search beat random?", "",
        "Generated from the committed JSON in `docs/validity/` (all numbers: `docs/validity/validity.json`). "
        + provenance_line(prov, command="python scripts/validity.py report"), "",
        *gold_section(), *included_report("metric_noise.md")]
    if res_v2:
        n, drawn = res_v2["n_uniform"], res_v2.get("n_uniform_drawn", res_v2["n_uniform"])
        lines += [f"# Against trained GANs: final protocol v2 ({n} of {drawn} uniform architectures"
                  + (" so far)" if n < drawn else ")"), "",
                  "Every finding of this page recomputed against final protocol v2: GANs trained to "
                  f"{_n(res_v2['protocol']['iters'])} generator iterations, where the samples are garments "
                  "(grids of the gold subset above). "
                  + (f"**Partial: only {n} uniform architectures have a v2 row so far (the gold subset "
                     "is built first), so the intervals are wide; the rows grow with every session "
                     "of `scripts/build_finals.py`.** " if n < drawn else "")
                  + "The v1 numbers follow in their own section.", "",
                  *findings(res_v2, "_v2", compact=False), *surrogate_lines(res_v2, "v2")]
    lines += [*included_report("evaluators_v2.md"), *included_report("evaluators_v2_fid.md"),
              *included_report("proxy_noise.md"),
              "# v1: 1,000 iterations (early training)", "",
              "Measured against final protocol v1: 1,000 generator iterations, where the samples are "
              "still blobs and the ranking of architectures has not settled (the gold subset shows "
              "where it settles). Kept for the record; the v2 section above replaces them as its rows "
              "grow.", "", *findings(res, "", compact=bool(res_v2))]
    lines += surrogate_lines(res, "v1")
    lines += [*included_report("evaluators_v1.md"), *cross_cpu_md(res.get("cross_cpu") or {})]
    if grids:
        lines += ["## Samples (v1)", "",
                  f"Best v1 final architecture `{grids.get('best')}` and worst `{grids.get('worst')}` "
                  "(1,000 iterations: blobs; the gold subset's grids show trained GANs):", "",
                  "| best | worst |", "|---|---|",
                  "| ![best](validity/grid_best.png) | ![worst](validity/grid_worst.png) |", ""]
    return "\n".join(lines)


def report(args: argparse.Namespace) -> None:
    """Write docs/validity.md, docs/validity/validity.json and the plots."""
    from gan_nas_env.evaluators.final import CheckpointError

    finals, finals_v2, ladder, searches = load_inputs()
    try:  # a bad --v2-iters is refused before any file is written
        v2 = rows_at(finals_v2, args.v2_iters) if finals_v2 else {}
    except CheckpointError as exc:
        raise SystemExit(f"--v2-iters: {exc}") from None
    res = analyse(finals, ladder, searches)
    check = DOCS / "cross_cpu.json"  # optional: build_finals.py --export of a check store
    if check.exists():
        res["cross_cpu"] = cross_cpu(finals, json.loads(check.read_text()), res["alpha"],
                                     (res.get("noise_floor") or {}).get("seed_std_mean"))
    res["plots"] = plots(res)
    res_v2 = None
    if v2.get("rows"):
        res_v2 = analyse(v2, ladder, searches)
        res_v2["plots"] = plots(res_v2, "_v2")
    last = DOCS / "validity.json"
    shown = json.loads(last.read_text()).get("grids", {}) if last.exists() else {}
    grids = copy_grids(res, Path(args.runs), shown)
    prov = provenance()
    (DOCS / "validity.json").write_text(json.dumps({**res, "v2": res_v2, "grids": grids,
                                                    "command": " ".join(sys.argv), "provenance": prov}, indent=1))
    Path("docs/validity.md").write_text(markdown(res, grids, prov, res_v2))
    print(f"wrote docs/validity.md and docs/validity/validity.json ({res['n_uniform']} v1 final rows"
          + (f", {res_v2['n_uniform']} v2 rows at {res_v2['protocol']['iters']} iterations)" if res_v2 else ")"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("collect", help="stores in runs/ -> docs/validity/ladder.json")
    r = sub.add_parser("report", help="committed JSON -> docs/validity.md")
    r.add_argument("--runs", default="runs/finals", help="run folders of the final rows (sample grids)")
    r.add_argument("--v2-iters", type=int, default=None,
                   help="the v2 checkpoint that is the final (default: the last every v2 row reaches)")
    args = p.parse_args()
    {"collect": collect, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
