"""The table's second fidelity: final metrics of complete architectures, and their surrogate.

A final row is a complete architecture trained from scratch by the final protocol
(``configs/final-fmnist.yaml``: ``gan-nas retrain`` at the proxy's widths for a budget
far above the proxy's) and scored on more samples. :class:`FinalRows` holds them with
the protocol's hash; :func:`fit_final_surrogate` learns the final IS and FID from the
architecture's one-hot encoding and reports its out-of-fold rank correlation, and
:func:`predict_final_grid` predicts every complete architecture for the tabular
benchmark's reporting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gan_nas_env.errors import UserError
from gan_nas_env.metrics.score import FID_COL, METRIC_KEYS, SCORE_KEYS, score_columns
from gan_nas_env.space import NUM_CELLS, SPACE, Architecture

GRID_KEYS = SCORE_KEYS  # what the final surrogate predicts (the score needs both)
CURVE_KEYS = (*METRIC_KEYS, "wall_s")  # one learning-curve checkpoint (wall_s: seconds so far)
WALL_COL = CURVE_KEYS.index("wall_s")  # its seconds column (the metrics' columns come first)


class CheckpointError(UserError, KeyError):
    """A learning-curve checkpoint that the final rows do not hold."""

    def __str__(self) -> str:  # KeyError quotes its message; this one is a sentence
        return str(self.args[0])


@dataclass
class FinalRows:
    """Final-protocol rows: one per (architecture, training seed).

    Rows of a protocol with learning curves (final protocol v2) also hold ``curves``:
    the metrics of every scoring at the iterations ``curve_iters`` (NaN past the
    iterations a row was trained for). ``metrics`` are then those at ``budget``, the
    protocol's final checkpoint (NaN for a row that does not reach it).
    """

    archs: list[str]
    seeds: np.ndarray  # [m] int
    metrics: np.ndarray  # [m, 3] METRIC_KEYS
    train_s: np.ndarray  # [m] seconds of one final training
    final_hash: str
    config: dict[str, Any]
    curve_iters: np.ndarray | None = None  # [k] int, ascending
    curves: np.ndarray | None = None  # [m, k, 4] CURVE_KEYS
    budget: int | None = None  # the checkpoint that ``metrics`` holds

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], final_hash: str,
                     config: dict[str, Any], budget: int | None = None) -> FinalRows:
        """From ``scripts/build_finals.py --export`` rows (``arch``, ``seed``, metrics, ``train_s``).

        Rows with a ``curve`` (a list of ``{"iter": ..., "IS": ..., ...}``) give curves;
        ``budget`` (default: the last checkpoint every row reaches) is then the one whose
        metrics are the rows' final metrics.
        """
        if not records:
            raise ValueError(f"no final rows of protocol {final_hash}")
        rows = cls(
            [str(Architecture.parse(r["arch"])) for r in records],
            np.array([int(r["seed"]) for r in records]),
            np.array([[float(r.get(k, np.nan)) for k in METRIC_KEYS] for r in records]),
            np.array([float(r.get("train_s") or np.nan) for r in records]),
            final_hash, config,
        )
        if any(r.get("curve") for r in records):
            iters = sorted({int(c["iter"]) for r in records for c in r.get("curve") or []})
            col = {it: j for j, it in enumerate(iters)}
            curves = np.full((len(records), len(iters), len(CURVE_KEYS)), np.nan)
            for i, r in enumerate(records):
                for c in r.get("curve") or []:
                    curves[i, col[int(c["iter"])]] = [float(c.get(k, np.nan)) for k in CURVE_KEYS]
            rows.curve_iters, rows.curves = np.array(iters, dtype=np.int64), curves
            rows.set_budget(budget)
        return rows

    def set_budget(self, budget: int | None = None) -> None:
        """Make the checkpoint at ``budget`` iterations the rows' final metrics.

        :param budget: a stored checkpoint; None: the last one that every row reaches.
        :raises CheckpointError: no such checkpoint (or rows without curves).
        """
        if self.curves is None or self.curve_iters is None:
            raise CheckpointError("these final rows have no learning curves")
        if budget is None:
            reached = ~np.isnan(self.curves[:, :, FID_COL])
            common = np.flatnonzero(reached.all(0))
            budget = int(self.curve_iters[common[-1]]) if len(common) else int(self.curve_iters[-1])
        self.metrics = self.at(budget)[:, : len(METRIC_KEYS)]
        self.budget = int(budget)

    def checkpoint(self, iters: int) -> int:
        """The column of checkpoint ``iters``; :class:`CheckpointError` naming the stored ones."""
        if self.curve_iters is None:
            raise CheckpointError("these final rows have no learning curves: only their final "
                                  "metrics can be queried")
        hit = np.flatnonzero(self.curve_iters == int(iters))
        if not len(hit):
            raise CheckpointError(
                f"no checkpoint at {iters} iterations; the stored ones are "
                f"{', '.join(str(int(i)) for i in self.curve_iters)}")
        return int(hit[0])

    def at(self, iters: int) -> np.ndarray:
        """Every row's ``[IS, FID, KID, wall_s]`` at checkpoint ``iters`` (NaN: not reached)."""
        col = self.checkpoint(iters)
        assert self.curves is not None  # checkpoint() raised otherwise
        return self.curves[:, col]

    def by_arch(self) -> dict[str, np.ndarray]:
        """Architecture -> its rows' metrics ``[seeds, 3]``."""
        out: dict[str, list[np.ndarray]] = {}
        for arch, m in zip(self.archs, self.metrics):
            if not np.isnan(m[FID_COL]):  # a curve row not trained to the budget has no final metrics
                out.setdefault(arch, []).append(m)
        return {a: np.stack(v) for a, v in out.items()}

    def mean_metrics(self) -> tuple[list[str], np.ndarray]:
        """Distinct architectures (in first-row order) and their metrics averaged over seeds."""
        groups = self.by_arch()
        archs = list(groups)
        return archs, np.stack([groups[a].mean(0) for a in archs])


# The regressor of the final surrogate (a key of gan_nas_env.evaluators.surrogate.MODELS), chosen by
# scripts/final_surrogate_study.py (docs/validity/final_surrogate_study.md): with ~150 measured
# architectures the additive ridge and the Gaussian process rank held-out architectures alike and
# better than gradient boosting (deep trees overfit so few rows); of the two, the Gaussian process
# does not force the landscape to be additive, which would make the best architecture the per-field
# argmax and the final objective trivial for coordinate-wise search.
FINAL_SURROGATE_KIND = "gaussian_process"


def final_training_set(rows: FinalRows) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct architectures, their one-hot encodings and seed-mean final ``[IS, FID]``: what the final surrogate learns."""
    from gan_nas_env.evaluators.surrogate import one_hot

    archs, metrics = rows.mean_metrics()
    return archs, np.stack([one_hot(Architecture.parse(a)) for a in archs]), metrics[:, : len(GRID_KEYS)]


def out_of_fold(kind: str, x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """``folds``-fold out-of-fold predictions of ``y`` by regressor ``kind`` (split and model seeded by ``seed``)."""
    from sklearn.model_selection import KFold

    from gan_nas_env.evaluators.surrogate import MODELS

    pred = np.zeros_like(y)
    for tr, te in KFold(folds, shuffle=True, random_state=seed).split(x):
        pred[te] = MODELS[kind](seed).fit(x[tr], y[tr]).predict(x[te])
    return pred


def fit_final_surrogate(rows: FinalRows, alpha: float, kind: str = FINAL_SURROGATE_KIND,
                        seed: int = 0, folds: int = 5) -> tuple[Any, dict[str, Any]]:
    """Fit a regressor of final ``[IS, FID]`` on the seed-averaged rows; report it out of fold.

    :return: the model fitted on every row, and ``n``, ``folds``, ``score_spearman``,
        ``score_kendall`` and ``score_mae`` of its ``folds``-fold out-of-fold predictions
        (with ``score_mae_mean_predictor`` for scale).
    """
    from scipy.stats import kendalltau, spearmanr

    from gan_nas_env.evaluators.surrogate import MODELS

    archs, x, y = final_training_set(rows)
    report: dict[str, Any] = {"n": len(archs), "folds": folds, "kind": kind}
    if len(archs) >= 2 * folds:
        pred = out_of_fold(kind, x, y, folds, seed)
        true_s, pred_s = score_columns(y, alpha, GRID_KEYS), score_columns(pred, alpha, GRID_KEYS)
        report.update(
            score_spearman=float(spearmanr(pred_s, true_s).statistic),
            score_kendall=float(kendalltau(pred_s, true_s).statistic),
            score_mae=float(np.abs(pred_s - true_s).mean()),
            score_mae_mean_predictor=float(np.abs(true_s - true_s.mean()).mean()),
        )
    return MODELS[kind](seed).fit(x, y), report


def predict_final_grid(model: Any) -> np.ndarray:
    """Predicted final ``[IS, FID]`` of every complete architecture, in ``SPACE.index`` order."""
    from gan_nas_env.evaluators.surrogate import prefix_features

    return np.concatenate([model.predict(prefix_features(NUM_CELLS, c)) for c in SPACE.cells(0)])
