"""The search objective ``IS - alpha * FID`` and the names of the metrics, defined once.

Every module that scores an architecture, or stores metrics by column, imports them from
here (docs/architecture.md, "One fact, one place"): the env's reward telescopes to
:func:`score`, the benchmark table, its surrogates and the final rows store their metrics
in :data:`METRIC_KEYS` column order, and a retraining's ``metrics.csv`` has a column for
each of :data:`SCORER_KEYS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import overload

import numpy as np

IS = "IS"
"""Inception Score (higher is better)."""
IS_STD = "IS_std"
"""Standard deviation of the IS over its splits."""
FID = "FID"
"""Frechet Inception Distance (lower is better)."""
KID = "KID"
"""Kernel Inception Distance (lower is better; only when ``metrics.kid`` is on)."""
KID_STD = "KID_std"
"""Standard deviation of the KID over its subsets."""

METRIC_KEYS: tuple[str, ...] = (IS, FID, KID)
"""The metrics of a benchmark table row, a surrogate prediction and a final row, in column order."""
SCORER_KEYS: tuple[str, ...] = (IS, IS_STD, FID, KID, KID_STD)
"""What the scorer reports (KID only when asked), in the column order of ``metrics.csv``."""
SCORE_KEYS: tuple[str, ...] = (IS, FID)
"""The metrics :func:`score` reads: the first two columns of :data:`METRIC_KEYS`."""

IS_COL = METRIC_KEYS.index(IS)
"""Column of the IS in a ``[..., METRIC_KEYS]`` array."""
FID_COL = METRIC_KEYS.index(FID)
"""Column of the FID in a ``[..., METRIC_KEYS]`` array."""
KID_COL = METRIC_KEYS.index(KID)
"""Column of the KID in a ``[..., METRIC_KEYS]`` array."""
SCORE = "score"
"""The name of :func:`score` beside the metrics (reports, rankings, objectives)."""
SIGN: dict[str, float] = {SCORE: 1.0, IS: 1.0, FID: -1.0, KID: -1.0}
"""The sign that orients each of the score and the metrics so that higher is better."""


@overload
def score(is_: float, fid: float, alpha: float) -> float: ...


@overload
def score(is_: np.ndarray, fid: np.ndarray, alpha: float) -> np.ndarray: ...


def score(is_: float | np.ndarray, fid: float | np.ndarray, alpha: float) -> float | np.ndarray:
    """The combined score ``IS - alpha * FID``; higher is better.

    Works on floats (numpy scalars stay numpy scalars) and on numpy arrays alike.

    :param is_: Inception Score(s).
    :param fid: FID(s), the same shape as ``is_``.
    :param alpha: the weight of the FID (``env.alpha``).
    """
    return is_ - alpha * fid


def score_of(metrics: Mapping[str, float], alpha: float) -> float:
    """:func:`score` of a metrics dict (``IS`` and ``FID`` keys), as a Python float.

    :param metrics: e.g. an :class:`~gan_nas_env.evaluators.base.Evaluation`'s ``metrics``.
    :param alpha: the weight of the FID.
    """
    return float(score(metrics[IS], metrics[FID], alpha))


def score_columns(rows: np.ndarray, alpha: float, keys: Sequence[str] = METRIC_KEYS) -> np.ndarray:
    """:func:`score` of every row of a ``[..., len(keys)]`` metric array.

    :param rows: metrics by column, in ``keys`` order (the last axis).
    :param alpha: the weight of the FID.
    :param keys: the columns' metric names; :data:`METRIC_KEYS` unless told.
    """
    return score(rows[..., list(keys).index(IS)], rows[..., list(keys).index(FID)], alpha)


def metric_column(rows: np.ndarray, metric: str, alpha: float, keys: Sequence[str] = METRIC_KEYS) -> np.ndarray:
    """``metric`` (:data:`SCORE` or a column of ``keys``) of every row, as stored (not oriented).

    :param rows: metrics by column, in ``keys`` order (the last axis).
    :param metric: ``score`` (:func:`score_columns`) or one of ``keys``.
    :param alpha: the weight of the FID in the score.
    :param keys: the columns' metric names; :data:`METRIC_KEYS` unless told.
    """
    if metric == SCORE:
        return score_columns(rows, alpha, keys)
    return rows[..., list(keys).index(metric)]
