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

from gan_nas_env.space import SPACE, Architecture

FINAL_KEYS = ("IS", "FID", "KID")
GRID_KEYS = ("IS", "FID")  # what the final surrogate predicts (the score needs both)


@dataclass
class FinalRows:
    """Final-protocol rows: one per (architecture, training seed)."""

    archs: list[str]
    seeds: np.ndarray  # [m] int
    metrics: np.ndarray  # [m, 3] FINAL_KEYS
    train_s: np.ndarray  # [m] seconds of one final training
    final_hash: str
    config: dict[str, Any]

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], final_hash: str,
                     config: dict[str, Any]) -> FinalRows:
        """From ``scripts/build_finals.py --export`` rows (``arch``, ``seed``, metrics, ``train_s``)."""
        if not records:
            raise ValueError(f"no final rows of protocol {final_hash}")
        return cls(
            [str(Architecture.parse(r["arch"])) for r in records],
            np.array([int(r["seed"]) for r in records]),
            np.array([[float(r.get(k, np.nan)) for k in FINAL_KEYS] for r in records]),
            np.array([float(r.get("train_s") or np.nan) for r in records]),
            final_hash, config,
        )

    def by_arch(self) -> dict[str, np.ndarray]:
        """Architecture -> its rows' metrics ``[seeds, 3]``."""
        out: dict[str, list[np.ndarray]] = {}
        for arch, m in zip(self.archs, self.metrics):
            out.setdefault(arch, []).append(m)
        return {a: np.stack(v) for a, v in out.items()}

    def mean_metrics(self) -> tuple[list[str], np.ndarray]:
        """Distinct architectures (in first-row order) and their metrics averaged over seeds."""
        groups = self.by_arch()
        archs = list(groups)
        return archs, np.stack([groups[a].mean(0) for a in archs])


def final_score(metrics: np.ndarray, alpha: float) -> np.ndarray:
    """``IS - alpha FID`` of ``[..., >=2]`` metric rows (IS first, FID second)."""
    return metrics[..., 0] - alpha * metrics[..., 1]


def fit_final_surrogate(rows: FinalRows, alpha: float, kind: str = "gradient_boosting",
                        seed: int = 0, folds: int = 5) -> tuple[Any, dict[str, Any]]:
    """Fit a regressor of final ``[IS, FID]`` on the seed-averaged rows; report it out of fold.

    :return: the model fitted on every row, and ``n``, ``folds``, ``score_spearman``,
        ``score_kendall`` and ``score_mae`` of its ``folds``-fold out-of-fold predictions
        (with ``score_mae_mean_predictor`` for scale).
    """
    from scipy.stats import kendalltau, spearmanr
    from sklearn.model_selection import KFold

    from gan_nas_env.evaluators.surrogate import MODELS, one_hot

    archs, metrics = rows.mean_metrics()
    x = np.stack([one_hot(Architecture.parse(a)) for a in archs])
    y = metrics[:, : len(GRID_KEYS)]
    report: dict[str, Any] = {"n": len(archs), "folds": folds, "kind": kind}
    if len(archs) >= 2 * folds:
        pred = np.zeros_like(y)
        for tr, te in KFold(folds, shuffle=True, random_state=seed).split(x):
            pred[te] = MODELS[kind](seed).fit(x[tr], y[tr]).predict(x[te])
        true_s, pred_s = final_score(y, alpha), final_score(pred, alpha)
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

    return np.concatenate([model.predict(prefix_features(3, c)) for c in SPACE.cells(0)])
