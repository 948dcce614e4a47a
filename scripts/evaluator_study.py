#!/usr/bin/env python
"""Candidate evaluators, measured side by side against a final ranking (issue 28, item 2).

Every candidate scores the same architectures: the table's uniform sample with a final row
of the reference protocol. Each is reported with its cost in seconds per architecture (and
as a fraction of a final row's) and with Kendall tau and Spearman against the reference
ranking (seeded bootstrap 95% intervals, resampling architectures; the same resamples for
every candidate). The goal: Kendall tau >= 0.6 at <= 10% of a final row's cost.

References (``--reference``), each ranked by the seed-0 row's ``--target``: the score
``IS - alpha FID`` (default), FID alone (lower is better) or IS alone:

- ``v1``: the 1,000-iteration final (``configs/final-fmnist.yaml``,
  ``docs/validity/finals.json``); a row's cost is its ``train_s``.
- ``v2``: the last checkpoint of the learning curves of final protocol v2
  (``configs/final-fmnist-v2.yaml``, ``docs/validity/finals_v2.json``), for the
  architectures whose row reaches it; a row's cost is its ``wall_s`` there.

Candidates (each value oriented so that higher predicts better; a value that cannot be
computed ranks last):

- the table's progressive proxy, the complete 3-cell prefix's row, by the score, FID, IS
  and KID; cost: train + score seconds of its three cells;
- zero-cost: the generator's parameters and FLOPs (``gan_nas_env.generator_costs.generator_cost`` at
  the final protocol's widths; more is predicted better), and NASWOT (Mellor et al. 2021)
  at initialisation: log|K| of the ReLU activation patterns of a batch of latent codes,
  averaged over init seeds (its seconds measured here);
- the hand-made rule "cells without instance norm" (the count; a baseline, not a method);
- a surrogate (the table's final-surrogate regressor, ``FINAL_SURROGATE_KIND``, on the one-hot
  encoding, predicting final IS and FID) scored out of fold: no held-out architecture's rows are in its training
  set; it costs nothing per new architecture but needs its training rows;
- v2 only: the score after K iterations of the same training (the curves' early
  checkpoints; cost: the curve's ``wall_s`` at K) and a power-law fit (exponent fixed at 0.5
  when only two checkpoints precede K)
  ``y(t) = a + b t^-c`` of IS and FID on the checkpoints up to K, extrapolated to the last.

With ``--target FID`` or ``IS`` the candidates built from a final row's IS and FID (early
checkpoints, extrapolations, surrogates) predict that metric; the proxy's candidates and the
zero-cost ones are the same for every target.

Writes ``docs/validity/evaluators_<reference>[_<target>].json`` (with provenance), ``.md`` and the
cost/rank frontier ``.png``::

    python scripts/evaluator_study.py --reference v1
    python scripts/evaluator_study.py --reference v2   # rerun as v2 rows arrive
    python scripts/evaluator_study.py --reference v2 --target FID
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validity import rank_corr  # noqa: E402

from gan_nas_env.config import load_config  # noqa: E402
from gan_nas_env.evaluators.final import CURVE_KEYS, GRID_KEYS, WALL_COL, FinalRows  # noqa: E402
from gan_nas_env.evaluators.tabular import Table, load_table  # noqa: E402
from gan_nas_env.generator_costs import Widths, generator_cost  # noqa: E402
from gan_nas_env.metrics.score import FID, IS, KID, SCORE, SIGN, metric_column  # noqa: E402
from gan_nas_env.provenance import provenance  # noqa: E402
from gan_nas_env.space import NORM_CHOICES, Architecture  # noqa: E402
from gan_nas_env.user_files import read_json_file, run_main  # noqa: E402

DOCS = Path("docs/validity")
GOAL_TAU = 0.6
GOAL_FRACTION = 0.10
UNIFORM_DRAWS = 150  # the final rows' uniform sample (scripts/validity.py)
EARLY_ITERS = (500, 1000, 2000, 3000, 5000)
MIN_FIT_POINTS = 3  # a + b t^-c has three parameters
FIXED_EXPONENT = 0.5  # with two checkpoints only: a + b t^-0.5
MIN_SURROGATE_ROWS = 10
MIN_JUDGED = 10  # fewer reference architectures: point estimates only, no goal verdict
INSTANCE_NORM = NORM_CHOICES.index("in")
REPS = 2000
LABELS = {"v1": "against v1 (early training): the 1,000-iteration final, configs/final-fmnist.yaml",
          "v2": "against v2: the learning curves at the protocol's final checkpoint, configs/final-fmnist-v2.yaml"}


TARGETS = (SCORE, FID, IS)
# the env settings that search with a proxy candidate, by (D steps per cell, what scores a
# prefix): the presets are the table's proxy (16 steps) or the ladder's rungs with that reward
SEARCH_WITH = {("16", "score"): "`--config table-fmnist` (E2GAN's reward, the table's proxy)",
               ("16", IS): "`--config search-fmnist-is`",
               ("64", "score"): "`--config table-fmnist --set train.d_iters_per_cell=64`",
               ("64", IS): "`--config table-fmnist --set train.d_iters_per_cell=64 --set env.alpha=0`",
               ("256", "score"): "`--config search-fmnist-d256`",
               ("256", IS): "`--config search-fmnist-d256 --set env.alpha=0`"}


@dataclass(frozen=True)
class Objective:
    """What the reference ranks by: the score ``IS - alpha FID``, FID or IS (higher: better)."""

    alpha: float
    target: str = "score"

    def of(self, rows: np.ndarray, keys: tuple[str, ...] | list[str]) -> np.ndarray:
        """The target of every row of a ``[..., len(keys)]`` metric array, oriented higher-better."""
        return SIGN[self.target] * metric_column(rows, self.target, self.alpha, keys)

    def label(self) -> str:
        """How the report names the target."""
        return {"score": f"the score IS - {self.alpha} FID", FID: "FID (lower is better)", IS: "IS"}[self.target]


@dataclass
class Reference:
    """The reference ranking: architectures, their final score and a final row's seconds."""

    name: str
    archs: list[str]
    score: np.ndarray  # higher is better
    cost_s: np.ndarray  # seconds of each architecture's final row
    detail: dict[str, Any]


@dataclass
class Candidate:
    """A candidate evaluator's value of every reference architecture (higher: predicted better)."""

    name: str
    family: str
    values: np.ndarray
    cost_s: np.ndarray  # seconds per architecture
    note: str = ""
    # which of the reference's architectures it measured (None: all); the others are left out
    # of its ranking (a non-finite value of a measured one is a failure, ranked last)
    judged: np.ndarray | None = None
    # how GANCellSearch-v0 searches with this evaluator (a preset and overrides); "" for one
    # that is not an env setting (a surrogate, a zero-cost score, a longer training)
    search_with: str = ""


# -- statistics ---------------------------------------------------------------------------
def rank_last(values: np.ndarray) -> tuple[np.ndarray, int]:
    """``values`` with every non-finite value below the smallest finite one; and their count."""
    v = np.asarray(values, float).copy()
    bad = ~np.isfinite(v)
    if bad.any():
        v[bad] = (np.min(v[~bad]) - 1.0) if (~bad).any() else 0.0
    return v, int(bad.sum())


def rank_stats(x: np.ndarray, y: np.ndarray, reps: int = REPS, seed: int = 0) -> dict[str, Any]:
    """Kendall tau and Spearman of ``x`` vs ``y``: values from 3 rows, bootstrap intervals from 4.

    The intervals are :func:`validity.rank_corr`'s (resampling architectures, seeded: every
    candidate of one reference gets the same resamples).
    """
    from scipy.stats import kendalltau, spearmanr

    out = rank_corr(x, y, reps, seed)
    for name, fn in (("kendall", kendalltau), ("spearman", spearmanr)):
        if name not in out and len(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
            out[name] = {"value": float(fn(x, y).statistic), "ci": None}
    return out


def _finite(a: np.ndarray) -> list[float | None]:
    """A JSON list: non-finite values as null."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(a, float)]


def evaluate(ref: Reference, cands: list[Candidate], reps: int = REPS, seed: int = 0) -> list[dict[str, Any]]:
    """One result row per candidate: cost, fraction of a final row's cost, tau, Spearman, goal.

    The rows are in order of cost, numbered ``id`` from 1 (the plot's labels).
    """
    final_s = float(np.mean(ref.cost_s))
    rows: list[dict[str, Any]] = []
    for c in cands:
        m = np.ones(len(ref.archs), bool) if c.judged is None else np.asarray(c.judged, bool)
        values, failed = rank_last(c.values[m])
        stats = rank_stats(values, ref.score[m], reps, seed)
        cost = float(np.mean(c.cost_s[m]))
        tau = stats.get("kendall", {}).get("value")
        ci = stats.get("kendall", {}).get("ci")
        rows.append({"name": c.name, "family": c.family, "note": c.note, "n": len(values),
                     "values": _finite(c.values), "costs_s": _finite(c.cost_s),
                     "failed": failed, "cost_s": cost, "search_with": c.search_with, "cost_fraction": cost / final_s,
                     "kendall": stats.get("kendall"), "spearman": stats.get("spearman"),
                     "meets_goal": bool(tau is not None and tau >= GOAL_TAU and len(values) >= MIN_JUDGED
                                        and cost / final_s <= GOAL_FRACTION),
                     "ci_clears_goal": bool(ci is not None and ci[0] >= GOAL_TAU
                                            and cost / final_s <= GOAL_FRACTION)})
    rows.sort(key=lambda r: r["cost_s"])
    for i, r in enumerate(rows, 1):
        r["id"] = i
    return rows


# -- references ---------------------------------------------------------------------------
def _seed0(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["arch"]: r for r in rows if int(r["seed"]) == 0}


def reference_v1(table: Table, finals: dict[str, Any], obj: Objective, draws: int = UNIFORM_DRAWS) -> Reference:
    """The uniform sample's seed-0 rows of the 1,000-iteration final."""
    f0 = _seed0(finals["rows"])
    archs = [a for a in table.uniform_sample(draws) if a in f0 and a in table.index]
    metrics = np.array([[float(f0[a][k]) for k in GRID_KEYS] for a in archs]).reshape(len(archs), len(GRID_KEYS))
    return Reference("v1", archs, obj.of(metrics, GRID_KEYS),
                     np.array([float(f0[a]["train_s"]) for a in archs]),
                     {"final_hash": finals["final_hash"], "cpus": sorted({str(f0[a].get("cpu")) for a in archs})})


def reference_v2(table: Table, rows: FinalRows, budget: int, obj: Objective,
                 draws: int = UNIFORM_DRAWS) -> Reference:
    """The uniform sample's seed-0 curves that reach ``budget``, scored there."""
    at = rows.at(budget)
    reach = {a: i for i, (a, s) in enumerate(zip(rows.archs, rows.seeds))
             if s == 0 and np.isfinite(at[i, CURVE_KEYS.index(FID)])}
    archs = [a for a in table.uniform_sample(draws) if a in reach and a in table.index]
    idx = [reach[a] for a in archs]
    return Reference("v2", archs, obj.of(at[idx], CURVE_KEYS), at[idx, WALL_COL],
                     {"final_hash": rows.final_hash, "budget": budget, "rows_in_file": len(rows.archs),
                      "row_index": idx})


# -- candidates ---------------------------------------------------------------------------
def proxy_candidates(table: Table, archs: list[str]) -> list[Candidate]:
    """The table's progressive proxy (complete prefix) by score, FID, IS and KID."""
    q = [table.query(a) for a in archs]
    cost = np.array([r["cumulative_s"] for r in q])
    get = lambda k: np.array([np.nan if r["diverged"] else r[k] for r in q])  # noqa: E731
    note = "the table's row of the 3-cell prefix; cost: train + score s of its 3 cells"
    return [Candidate("proxy score (IS - alpha FID)", "proxy", get("score"), cost, note,
                      search_with=SEARCH_WITH[("16", "score")]),
            Candidate("proxy FID", "proxy", -get(FID), cost, note),
            Candidate("proxy IS", "proxy", get(IS), cost, note, search_with=SEARCH_WITH[("16", IS)]),
            Candidate("proxy KID", "proxy", -get(KID), cost, note)]


def seed_mean_candidates(path: Path, archs: list[str]) -> list[Candidate]:
    """The table's proxy score and IS averaged over its GAN seeds (``scripts/proxy_noise.py``'s rows).

    Cost: the proxy of every seed. An architecture that some seed did not hold (it diverged
    there) counts as a failure. None without the report or with a single seed.
    """
    if not path.exists():
        return []
    rows = json.loads(path.read_text()).get("rows") or {}
    if len(rows) < 2:
        return []
    held = [a for a in archs if all(a in r for r in rows.values())]
    cost = np.array([sum(r[a]["cost_s"] for r in rows.values()) if a in held else np.nan for a in archs])
    cost[~np.isfinite(cost)] = np.nanmean(cost) if np.isfinite(cost).any() else 0.0
    note = f"seeds {', '.join(sorted(rows))} (`docs/validity/proxy_noise.json`); cost: the proxy of every seed"
    return [Candidate(f"proxy {label}, mean of {len(rows)} GAN seeds", "proxy",
                      np.array([np.mean([r[a][key] for r in rows.values()]) if a in held else np.nan for a in archs]),
                      cost, note)
            for key, label in (("score", "score"), (IS, "IS"))]


def ladder_candidates(path: Path, archs: list[str], table_budget: str = "16") -> list[Candidate]:
    """The proxy at the ladder's other budgets (discriminator steps per cell), by score and IS.

    ``docs/validity/ladder.json`` (``scripts/validity.py collect``) holds the proxy of the
    uniform sample's first architectures at 64 and 256 steps; an architecture it lacks is
    left out of that candidate's ranking (``judged``), one that diverged counts as a failure.
    """
    if not path.exists():
        return []
    out = []
    for budget, data in sorted((json.loads(path.read_text()).get("budgets") or {}).items(), key=lambda kv: int(kv[0])):
        if budget == table_budget:
            continue
        rows = data["rows"]
        judged = np.array([a in rows for a in archs])
        if not judged.any():
            continue
        cost = np.array([rows[a]["cost_s"] if a in rows else np.nan for a in archs])
        note = (f"`docs/validity/ladder.json`, proxy hash {data['proxy_hash']}; judged on the {judged.sum()} "
                f"architectures it holds; cost: train + score s of its 3 cells")
        for key, label in (("score", "score"), (IS, "IS")):
            vals = np.array([np.nan if a not in rows else (-np.inf if rows[a]["diverged"] else rows[a][key])
                             for a in archs])
            out.append(Candidate(f"proxy {label}, {budget} D steps per cell", "proxy", vals, cost, note, judged,
                                 SEARCH_WITH.get((budget, key), "")))
    return out


def naswot(arch: Architecture, widths: Widths, seeds: tuple[int, ...], batch: int = 64) -> float:
    """NASWOT log|K_H| of the generator at init, mean over ``seeds``.

    Every ReLU of the generator reads the output of a norm layer (``n1``, ``n2`` of each
    cell, the head's BatchNorm): their signs are the activation pattern. ``K_H[i, j]``
    counts the units where latents ``i`` and ``j`` agree (Mellor et al. 2021). The model is
    in training mode (batch statistics), as when training starts; the latents are fixed.
    """
    import torch

    from gan_nas_env.models.generator import Generator, GeneratorCell

    z = torch.randn(batch, widths.latent_dim, generator=torch.Generator().manual_seed(12345))
    codes: list[torch.Tensor] = []

    def keep(module: torch.nn.Module, inputs: Any, output: torch.Tensor) -> None:
        codes.append((output > 0).flatten(1).double())

    scores = []
    for s in seeds:
        torch.manual_seed(s)
        g = Generator(arch, widths.latent_dim, widths.gf, widths.bottom_width, widths.channels)
        cells = [cell for cell in g.cells if isinstance(cell, GeneratorCell)]
        layers: list[torch.nn.Module] = [m for cell in cells for m in (cell.n1, cell.n2)] + [g.to_rgb[0]]
        hooks = [m.register_forward_hook(keep) for m in layers]
        codes.clear()
        with torch.no_grad():
            g(z)
        for h in hooks:
            h.remove()
        c = torch.cat(codes, 1)
        k = c @ c.T + (1 - c) @ (1 - c).T
        sign, logdet = torch.linalg.slogdet(k)
        scores.append(float(logdet) if sign > 0 else float("-inf"))
    return float(np.mean(scores))


def zero_cost_candidates(table: Table, archs: list[str], seeds: tuple[int, ...]) -> list[Candidate]:
    """Parameters, FLOPs and NASWOT of the final protocol's generator, with measured seconds."""
    widths = Widths.of(load_config(None, dict(table.finals.config)) if table.finals else table.config,
                       final=table.finals is not None)
    parsed = [Architecture.parse(a) for a in archs]
    t0 = time.perf_counter()
    costs = np.array([generator_cost(a, widths) for a in parsed], float)
    lookup = (time.perf_counter() - t0) / len(archs)
    secs, values = [], []
    for a in parsed:
        t0 = time.perf_counter()
        values.append(naswot(a, widths, seeds))
        secs.append(time.perf_counter() - t0)
    size = f"gf {widths.gf}, latent {widths.latent_dim}"
    return [Candidate("parameters", "zero-cost", costs[:, 0], np.full(len(archs), lookup),
                      f"generator at {size}; more predicted better"),
            Candidate("FLOPs", "zero-cost", costs[:, 1], np.full(len(archs), lookup),
                      f"MACs of one image at {size}; more predicted better"),
            Candidate(f"NASWOT at init ({len(seeds)} seeds)", "zero-cost", np.array(values),
                      np.array(secs), f"log|K_H| of ReLU patterns, 64 latents, {size}")]


def rule_candidate(archs: list[str]) -> Candidate:
    """The hand-made baseline: how many cells have no instance norm."""
    count = [sum(c.norm != INSTANCE_NORM for c in Architecture.parse(a).cells) for a in archs]
    return Candidate("cells without instance norm (hand-made rule)", "baseline", np.array(count, float),
                     np.zeros(len(archs)), "read off the v1 finals (in sample against v1): a baseline, not a method")


def surrogate_oof(train: dict[str, np.ndarray], archs: list[str], obj: Objective, folds: int = 5,
                  seed: int = 0, repeats: int = 1) -> tuple[np.ndarray, float]:
    """Out-of-fold predicted score of ``archs`` and the prediction seconds per architecture.

    ``archs`` are split in ``folds``; each fold is predicted by a regressor fitted on the
    ``train`` rows (architecture -> ``[IS, FID]``) of every other architecture. With
    ``repeats`` > 1 the split is redrawn that many times and each architecture's out-of-fold
    predictions are averaged: with a few dozen rows one split's luck moves tau by about 0.1.
    """
    from sklearn.model_selection import KFold

    from gan_nas_env.evaluators.final import FINAL_SURROGATE_KIND
    from gan_nas_env.evaluators.surrogate import MODELS, one_hot

    x = {a: one_hot(Architecture.parse(a)) for a in set(train) | set(archs)}
    pred = np.zeros((len(archs), len(GRID_KEYS)))
    secs = 0.0
    for r in range(repeats):
        for _, test in KFold(min(folds, len(archs)), shuffle=True, random_state=seed + r).split(archs):
            held = {archs[i] for i in test}
            fit = [a for a in train if a not in held]
            model = MODELS[FINAL_SURROGATE_KIND](seed).fit(np.stack([x[a] for a in fit]),
                                                            np.stack([train[a] for a in fit]))
            t0 = time.perf_counter()
            pred[test] += model.predict(np.stack([x[archs[i]] for i in test])) / repeats
            secs += time.perf_counter() - t0
    return obj.of(pred, GRID_KEYS), secs / (len(archs) * repeats)


def train_rows(records: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Architecture -> seed-mean ``[IS, FID]`` of final rows (rows without them left out)."""
    out: dict[str, list[list[float]]] = {}
    for r in records:
        m = [float(r.get(k, np.nan)) for k in GRID_KEYS]
        if np.all(np.isfinite(m)):
            out.setdefault(str(Architecture.parse(r["arch"])), []).append(m)
    return {a: np.mean(v, 0) for a, v in out.items()}


def surrogate_candidate(label: str, train: dict[str, np.ndarray], archs: list[str], obj: Objective,
                        row_cost_s: float, folds: int, seed: int, repeats: int = 1) -> Candidate:
    values, secs = surrogate_oof(train, archs, obj, folds, seed, repeats)
    split = f"{folds}-fold out of fold" + (f", mean of {repeats} splits" if repeats > 1 else "")
    return Candidate(f"surrogate on {label} ({split})", "surrogate", values,
                     np.full(len(archs), secs),
                     f"needs {len(train)} training architectures' final rows ({label}; about "
                     f"{len(train) * row_cost_s:.0f} s of training); per new architecture: a prediction")


def power_law_extrapolate(t: np.ndarray, y: np.ndarray, t_at: float, c: float | None = None) -> float:
    """Fit ``y = a + b t^-c`` (``0 < c <= 3``) to the points; its value at ``t_at`` (NaN: no fit).

    With ``c`` given the exponent is fixed and ``a``, ``b`` are a linear least-squares fit, so
    two points suffice (the early checkpoints, 500 and 1,000 iterations).
    """
    from scipy.optimize import curve_fit

    ok = np.isfinite(y)
    t, y = t[ok] / t_at, y[ok]
    if c is not None:
        if len(t) < 2:
            return float("nan")
        (a, b), *_ = np.linalg.lstsq(np.stack([np.ones_like(t), t ** (-c)], axis=1), y, rcond=None)
        return float(a + b)
    if len(t) < MIN_FIT_POINTS:
        return float("nan")
    f = lambda s, a, b, c: a + b * s ** (-c)  # noqa: E731
    p0 = (y[-1], (y[0] - y[-1]) * t[0] ** 0.5 / max(1.0 - (t[0] / t[-1]) ** 0.5, 1e-3), 0.5)
    try:
        (a, b, c), _ = curve_fit(f, t, y, p0=p0, bounds=([-np.inf, -np.inf, 1e-3], [np.inf, np.inf, 3.0]),
                                 maxfev=20000)
    except (RuntimeError, ValueError):
        return float("nan")
    return float(a + b) if np.isfinite(a + b) else float("nan")


def curve_candidates(rows: FinalRows, ref: Reference, obj: Objective,
                     iters: tuple[int, ...] = EARLY_ITERS) -> list[Candidate]:
    """The target after K iterations, and from IS and FID extrapolated from the checkpoints up to K."""
    assert rows.curves is not None and rows.curve_iters is not None
    idx, budget = ref.detail["row_index"], ref.detail["budget"]
    out = []
    for k in [k for k in iters if k < budget and k in set(rows.curve_iters.tolist())]:
        at = rows.at(k)[idx]
        cost = at[:, WALL_COL]
        out.append(Candidate(f"train {k} iterations", "early training",
                             obj.of(at, CURVE_KEYS), cost,
                             "the v2 curve's checkpoint; cost: its wall_s there"))
        upto = rows.curve_iters <= k
        if upto.sum() < 2:
            continue
        # three or more checkpoints: the exponent is fitted too; two: fixed at 0.5
        c = None if upto.sum() >= MIN_FIT_POINTS else FIXED_EXPONENT
        t = rows.curve_iters[upto].astype(float)
        ext = np.array([[power_law_extrapolate(t, rows.curves[i, upto, CURVE_KEYS.index(m)], budget, c)
                         for m in GRID_KEYS] for i in idx]).reshape(len(idx), len(GRID_KEYS))
        form = "a + b t^-c" if c is None else f"a + b t^-{c} (c fixed: two points)"
        out.append(Candidate(f"extrapolate from {k} iterations", "extrapolation",
                             obj.of(ext, GRID_KEYS), cost,
                             f"IS and FID fitted {form} on {int(upto.sum())} checkpoints, "
                             f"predicted at {budget}"))
    return out


def omitted(ref: Reference, curves: FinalRows | None, iters: tuple[int, ...] = EARLY_ITERS) -> list[str]:
    """The candidates of this reference that cannot be computed yet, each with the reason."""
    if curves is None or curves.curve_iters is None:
        return []
    out = []
    if len(ref.archs) < MIN_SURROGATE_ROWS:
        out.append(f"surrogate on v2 final rows: needs {MIN_SURROGATE_ROWS} architectures with a row "
                   f"(has {len(ref.archs)})")
    stored = curves.curve_iters.tolist()
    for k in iters:
        if k >= ref.detail["budget"] or k not in stored:
            out.append(f"train {k} iterations: not a stored checkpoint before the last ({ref.detail['budget']})")
        elif sum(i <= k for i in stored) < 2:
            out.append(f"extrapolate from {k} iterations: {sum(i <= k for i in stored)} checkpoint, "
                       "the fit needs 2")
    return out


# -- report -------------------------------------------------------------------------------
def _ci(v: dict[str, Any] | None) -> str:
    if not v:
        return "-"
    if not v.get("ci"):
        return f"{v['value']:.2f} [n too small]"
    return f"{v['value']:.2f} [{v['ci'][0]:.2f}, {v['ci'][1]:.2f}]"


def _pct(fraction: float) -> str:
    return "<0.01" if 0 < fraction < 1e-4 else f"{100 * fraction:.3g}"


def verdict(results: list[dict[str, Any]]) -> str:
    """Which candidates reach the goal, or that none does and the best found."""
    n = min((r["n"] for r in results), default=0)
    if n < MIN_JUDGED:
        return (f"Not judged: {n} architectures are too few (at least {MIN_JUDGED}); the values below "
                "are point estimates.")
    meet = [r for r in results if r["meets_goal"]]
    cheap = [r for r in results if r["cost_fraction"] <= GOAL_FRACTION and r["kendall"]]
    if meet:
        text = "Reach it: " + "; ".join(
            f"{r['name']} (tau {_ci(r['kendall'])}, {_pct(r['cost_fraction'])}% of a final row"
            + (", interval above 0.6" if r["ci_clears_goal"] else ", interval not all above 0.6")
            + (", given its training rows" if r["family"] == "surrogate" else "") + ")" for r in meet) + "."
    else:
        text = "No candidate reaches it."
    if cheap and not meet:
        best = max(cheap, key=lambda r: r["kendall"]["value"])
        text += (f" The best at <= {100 * GOAL_FRACTION:.0f}% of a final row's cost: {best['name']}, "
                 f"tau {_ci(best['kendall'])} at {_pct(best['cost_fraction'])}%.")
        methods = [r for r in cheap if r["family"] != "baseline"]
        if best["family"] == "baseline" and methods:
            m = max(methods, key=lambda r: r["kendall"]["value"])
            text += (f" The best that is not a hand-made baseline: {m['name']}, tau {_ci(m['kendall'])} "
                     f"at {_pct(m['cost_fraction'])}%.")
    usable = [r for r in cheap if r.get("search_with")]
    if usable:
        u = max(usable, key=lambda r: r["kendall"]["value"])
        text += (f" The best that a search can use (a GANCellSearch-v0 setting): {u['name']}, "
                 f"tau {_ci(u['kendall'])} at {_pct(u['cost_fraction'])}%, searched with {u['search_with']}.")
    return text


def markdown(res: dict[str, Any], command: str, plot: str) -> str:
    """The report: setup, goal verdict, the table of results, how to rerun."""
    ref, prov = res["reference"], res["provenance"]
    by = "" if res["target"] == "score" else f", ranked by {res['target']}"
    lines = [f"# Candidate evaluators {LABELS[ref['name']]}{by}", "",
             f"n = {ref['n']} architectures (the table's uniform sample with a {ref['name']} final "
             f"row; seed-0 rows), ranked by {Objective(res['alpha'], res['target']).label()}. A final row costs "
             f"{ref['final_cost_s_mean']:.0f} s on average (median {ref['final_cost_s_median']:.0f} s; "
             f"the rows' own CPUs). Kendall tau and Spearman with seeded bootstrap 95% intervals "
             f"({res['reps']} resamples of the architectures, the same for every candidate judged on all of them). Written by "
             f"`scripts/evaluator_study.py` ({prov['machine']['cpu']}, git {prov['git_sha'][:10]}); "
             f"numbers in `{Path(res['files']['json']).name}`.", "",
             f"**Goal: Kendall tau >= {GOAL_TAU} at <= {100 * GOAL_FRACTION:.0f}% of a final row's cost.** "
             + verdict(res["results"]), ""]
    if ref["n"] < 10:
        lines += [f"**Only {ref['n']} architectures so far: the numbers below say almost nothing yet.**", ""]
    lines += [f"![cost/rank frontier]({plot})", "",
              "| # | candidate | family | cost s/arch | % of a final row | Kendall tau [95% CI] | "
              "Spearman [95% CI] | goal | note |", "|---|---|---|---|---|---|---|---|---|"]
    for r in res["results"]:
        goal = "yes" if r["meets_goal"] else ("-" if r["n"] < MIN_JUDGED else "no")
        fail = f" ({r['failed']} not computed, ranked last)" if r["failed"] else ""
        lines.append(f"| {r['id']} | {r['name']} | {r['family']} | {r['cost_s']:.3g} | {_pct(r['cost_fraction'])} | "
                     f"{_ci(r['kendall'])} | {_ci(r['spearman'])} | {goal} | {r['note']}{fail} |")
    if res["omitted"]:
        lines += ["", "Not computed: " + "; ".join(res["omitted"]) + "."]
    lines += ["", "Costs: the proxy's and the final rows' seconds are those stored with them (their "
              "CPUs); zero-cost seconds were measured by this run on one core beside other jobs. "
              "A surrogate costs a prediction per new architecture, after its training rows. "
              "Every candidate's value is oriented so that higher predicts better.", "",
              f"Rerun (one command): `{command}`", ""]
    return "\n".join(lines)


def frontier_plot(res: dict[str, Any], path: Path) -> None:
    """Kendall tau (95% CI) against cost per architecture, log scale, with the goal region."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    final_s, floor = res["reference"]["final_cost_s_mean"], 1e-4
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.fill_between([floor / 2, GOAL_FRACTION * final_s], GOAL_TAU, 1.05, color="g", alpha=0.08,
                    label=f"goal: tau >= {GOAL_TAU} at <= {100 * GOAL_FRACTION:.0f}%")
    ax.axhline(GOAL_TAU, color="g", ls=":", lw=1)
    ax.axvline(GOAL_FRACTION * final_s, color="g", ls=":", lw=1)
    ax.axvline(final_s, color="k", ls="--", lw=1)
    colours = {f: f"C{i}" for i, f in enumerate(dict.fromkeys(r["family"] for r in res["results"]))}
    labels: dict[tuple[float, float], list[str]] = {}
    for r in res["results"]:
        if not r["kendall"]:
            continue
        x, tau, ci = max(r["cost_s"], floor), r["kendall"]["value"], r["kendall"]["ci"]
        err = [[max(0.0, tau - ci[0])], [max(0.0, ci[1] - tau)]] if ci else None
        ax.errorbar([x], [tau], yerr=err, fmt="o", color=colours[r["family"]], capsize=2, ms=4)
        labels.setdefault((round(float(np.log10(x)), 1), round(tau, 2)), []).append(str(r["id"]))
    for (logx, tau), ids in labels.items():  # candidates drawn at one place share a label
        ax.annotate(",".join(ids), (10**logx, tau), fontsize=7, xytext=(3, 2), textcoords="offset points")
    for f, c in colours.items():
        ax.plot([], [], "o", color=c, label=f)
    ax.set_xscale("log")
    ax.set_xlim(floor / 2, final_s * 2)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel(f"cost per architecture, s (<= {floor:g} drawn at {floor:g}; dashed: a final row)")
    ax.set_ylabel(f"Kendall tau vs {res['reference']['name']} (95% CI)")
    top = ax.secondary_xaxis("top", functions=(lambda s: s / final_s, lambda f: f * final_s))
    top.set_xlabel("fraction of a final row's cost")
    ax.set_title(f"{LABELS[res['reference']['name']].split(':')[0]} (n = {res['reference']['n']}; "
                 "numbers: the report's table)", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- main ---------------------------------------------------------------------------------
def candidates(args: argparse.Namespace, table: Table, ref: Reference, obj: Objective,
               curves: FinalRows | None = None) -> list[Candidate]:
    """Every candidate for ``ref``'s architectures (``curves``: the v2 rows, for a v2 reference)."""
    seeds = tuple(range(args.init_seeds))
    v1 = read_json_file(args.finals_v1, "--finals-v1")
    v1_cost = float(np.mean([r["train_s"] for r in v1["rows"] if r.get("train_s")]))
    out = [*proxy_candidates(table, ref.archs), *zero_cost_candidates(table, ref.archs, seeds),
           rule_candidate(ref.archs),
           surrogate_candidate("v1 final rows", train_rows(v1["rows"]), ref.archs, obj, v1_cost,
                               min(args.folds, len(ref.archs)), args.seed, args.repeats)]
    out += seed_mean_candidates(Path(args.proxy_noise), ref.archs)
    out += ladder_candidates(Path(args.ladder), ref.archs)
    if curves is not None:
        if len(ref.archs) >= MIN_SURROGATE_ROWS:
            out.append(surrogate_candidate(
                "v2 final rows", dict(zip(ref.archs, ref.detail["metrics"])), ref.archs, obj,
                float(np.mean(ref.cost_s)), min(args.folds, len(ref.archs)), args.seed, args.repeats))
        out += curve_candidates(curves, ref, obj)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", choices=("v1", "v2"), default="v1", help="the final ranking to match")
    p.add_argument("--target", choices=TARGETS, default="score",
                   help="what the reference ranks by (and the final-row candidates predict)")
    p.add_argument("--table", default=None, help="table file (default: the shipped one)")
    p.add_argument("--finals-v1", default=str(DOCS / "finals.json"), help="v1 final rows")
    p.add_argument("--finals-v2", default=str(DOCS / "finals_v2.json"), help="v2 curve rows")
    p.add_argument("--proxy-noise", default=str(DOCS / "proxy_noise.json"),
                   help="the proxy under several GAN seeds (scripts/proxy_noise.py), for the seed-averaged proxy")
    p.add_argument("--ladder", default=str(DOCS / "ladder.json"),
                   help="the proxy at more discriminator steps per cell (scripts/validity.py collect)")
    p.add_argument("--budget", type=int, default=None, help="v2: the last checkpoint (default: the last stored)")
    p.add_argument("--limit", type=int, default=None, help="only the first N reference architectures (smoke tests)")
    p.add_argument("--init-seeds", type=int, default=3, help="init seeds of the NASWOT score")
    p.add_argument("--folds", type=int, default=5, help="folds of the out-of-fold surrogates")
    p.add_argument("--repeats", type=int, default=5,
                   help="splits of the out-of-fold surrogates, their predictions averaged")
    p.add_argument("--reps", type=int, default=REPS, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap and the folds")
    p.add_argument("--out", default=None,
                   help="output stem (default: docs/validity/evaluators_<reference>, _<target> added "
                        "for a target other than the score)")
    args = p.parse_args(argv)
    table = load_table(args.table) if args.table else load_table()
    obj = Objective(table.alpha, args.target)
    curves = None
    if args.reference == "v1":
        ref = reference_v1(table, read_json_file(args.finals_v1, "--finals-v1"), obj)
    else:
        data = read_json_file(args.finals_v2, "--finals-v2")
        curves = FinalRows.from_records(data["rows"], data["final_hash"], data["config"])
        assert curves.curve_iters is not None
        budget = args.budget or int(curves.curve_iters[-1])
        ref = reference_v2(table, curves, budget, obj)
        ref.detail["metrics"] = curves.at(budget)[ref.detail["row_index"]][:, : len(GRID_KEYS)]
    if args.limit:
        ref = Reference(ref.name, ref.archs[: args.limit], ref.score[: args.limit], ref.cost_s[: args.limit],
                        {k: (v[: args.limit] if k in ("row_index", "metrics") else v) for k, v in ref.detail.items()})
    if len(ref.archs) < 3:
        raise SystemExit(f"only {len(ref.archs)} architectures have a {ref.name} final row; the study needs 3")
    results = evaluate(ref, candidates(args, table, ref, obj, curves), args.reps, args.seed)
    suffix = "" if args.target == "score" else f"_{args.target.lower()}"
    stem = Path(args.out or DOCS / f"evaluators_{ref.name}{suffix}")
    stem.parent.mkdir(parents=True, exist_ok=True)
    files = {"json": str(stem) + ".json", "md": str(stem) + ".md", "png": str(stem) + ".png"}
    detail = {k: v for k, v in ref.detail.items() if k not in ("row_index", "metrics")}
    res = {"reference": {"name": ref.name, "label": LABELS[ref.name], "n": len(ref.archs), "archs": ref.archs,
                         "score": ref.score.tolist(), "cost_s": ref.cost_s.tolist(),
                         "final_cost_s_mean": float(np.mean(ref.cost_s)),
                         "final_cost_s_median": float(np.median(ref.cost_s)), **detail},
           "alpha": table.alpha, "target": args.target, "goal": {"kendall_tau": GOAL_TAU, "cost_fraction": GOAL_FRACTION},
           "reps": args.reps, "seed": args.seed, "results": results, "verdict": verdict(results),
           "omitted": omitted(ref, curves),
           "files": files}
    argv = sys.argv[1:] if argv is None else argv
    res["provenance"] = provenance(["scripts/evaluator_study.py", *argv])
    command = " ".join(["python scripts/evaluator_study.py", *argv])
    frontier_plot(res, Path(files["png"]))
    Path(files["json"]).write_text(json.dumps(res, indent=1))
    Path(files["md"]).write_text(markdown(res, command.strip(), Path(files["png"]).name))
    print(f"wrote {files['json']}, {files['md']}, {files['png']} (n = {len(ref.archs)}): {res['verdict']}")


if __name__ == "__main__":
    sys.exit(run_main(main, "evaluator_study"))
