"""Surrogate of the proxy for prefixes the table does not hold (scikit-learn).

Metrics (IS, FID, KID) are predicted by one regressor per prefix depth on the
one-hot encoding of the prefix (default: gradient-boosted trees of depth 4,
which capture the interactions between a cell's fields and beat a random
forest and extra trees on held-out rank correlation of the shipped table); the representation is the one of the nearest
stored prefix of the same depth (Hamming distance on the one-hot), and the
simulated seconds are the table's mean at that depth.

Before the final fit on all rows, each depth's regressor is fitted on 80% of
the rows and scored on the other 20% (``holdout``): mean absolute error per
metric, the error of always predicting the training mean (for scale), and the
error and Spearman rank correlation of the combined score ``IS - alpha FID``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from gan_nas_env.evaluators.base import Evaluation
from gan_nas_env.metrics.score import METRIC_KEYS, score_columns
from gan_nas_env.space import NUM_CELLS, SPACE, Architecture, Cell

if TYPE_CHECKING:  # scikit-learn loads when a surrogate is fitted, not when one is loaded
    from sklearn.base import RegressorMixin


class Rows(Protocol):
    """What :meth:`Surrogate.fit` reads of a :class:`~gan_nas_env.evaluators.tabular.Table`.

    The table builds its surrogate, so this module does not import it.
    """

    archs: list[str]
    metrics: np.ndarray  # [n, 3] METRIC_KEYS
    representation: np.ndarray  # [n, R]
    seconds: np.ndarray  # [n, 2] train_s, score_s
    diverged: np.ndarray  # [n] bool

    @property
    def alpha(self) -> float:
        """The ``alpha`` of the score ``IS - alpha FID``."""

    def depths(self) -> np.ndarray:
        """Depth of each row's architecture."""


MIN_HOLDOUT_ROWS = 10


def _random_forest(seed: int) -> RegressorMixin:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=100, min_samples_leaf=2, random_state=seed, n_jobs=1)


def _extra_trees(seed: int) -> RegressorMixin:
    from sklearn.ensemble import ExtraTreesRegressor

    return ExtraTreesRegressor(n_estimators=100, min_samples_leaf=2, random_state=seed, n_jobs=1)


def _gradient_boosting(seed: int) -> RegressorMixin:
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.multioutput import MultiOutputRegressor

    return MultiOutputRegressor(GradientBoostingRegressor(
        n_estimators=300, max_depth=4, learning_rate=0.03, subsample=0.8, random_state=seed))


def _ridge(seed: int) -> RegressorMixin:
    """An additive model: one weight per field value (regularisation chosen by leave-one-out)."""
    from sklearn.linear_model import RidgeCV

    return RidgeCV(alphas=np.logspace(-2, 3, 21), alpha_per_target=True)


def _gaussian_process(seed: int) -> RegressorMixin:
    """A Gaussian process on the one-hot encoding.

    An RBF kernel there is a function of the Hamming distance, so nearby architectures share
    information without the landscape being additive; the white-noise term absorbs the seed
    noise of the rows.
    """
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    return GaussianProcessRegressor(ConstantKernel() * RBF(length_scale=3.0) + WhiteKernel(),
                                    normalize_y=True, random_state=seed)


MODELS = {"random_forest": _random_forest, "extra_trees": _extra_trees,
          "gradient_boosting": _gradient_boosting, "ridge": _ridge, "gaussian_process": _gaussian_process}


def cell_one_hot(cell: Cell, cell_index: int) -> np.ndarray:
    """One-hot encoding of every field of one cell (the skip field from cell 2 on)."""
    values = [cell.conv, cell.norm, cell.up, cell.shortcut] + ([cell.skip] if cell_index else [])
    return np.concatenate([np.eye(n)[v] for v, n in zip(values, SPACE.cell_sizes(cell_index))])


def one_hot(arch: Architecture) -> np.ndarray:
    """Concatenated one-hot encoding of every field of every cell of a prefix."""
    return np.concatenate([cell_one_hot(c, i) for i, c in enumerate(arch.cells)]).astype(np.float32)


_CELL_POS = [{c: j for j, c in enumerate(SPACE.cells(i))} for i in range(NUM_CELLS)]
_CELL_ONE_HOT = [np.stack([cell_one_hot(c, i) for c in SPACE.cells(i)]) for i in range(NUM_CELLS)]


def holdout_report(model: RegressorMixin, x: np.ndarray, y: np.ndarray, alpha: float,
                   seed: int = 0) -> dict[str, Any]:
    """Fit ``model`` on 80% of ``(x, y)`` and score it on the other 20%.

    :param y: ``[n, 3]`` IS, FID, KID.
    :return: ``n_test``, ``mae`` and ``mae_mean_predictor`` per metric, ``score_mae``
        and ``score_spearman`` of ``IS - alpha FID``.
    """
    from scipy.stats import spearmanr
    from sklearn.model_selection import train_test_split

    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=seed)
    pred = model.fit(xtr, ytr).predict(xte)
    score = lambda m: score_columns(m, alpha)  # noqa: E731
    rho = spearmanr(score(pred), score(yte)).statistic if len(yte) > 2 else float("nan")
    return {
        "n_test": len(yte),
        "mae": {k: float(e) for k, e in zip(METRIC_KEYS, np.abs(pred - yte).mean(0))},
        "mae_mean_predictor": {k: float(e) for k, e in
                               zip(METRIC_KEYS, np.abs(ytr.mean(0) - yte).mean(0))},
        "score_mae": float(np.abs(score(pred) - score(yte)).mean()),
        "score_mae_mean_predictor": float(np.abs(score(ytr).mean() - score(yte)).mean()),
        "score_spearman": float(rho),
    }


@dataclass
class Surrogate:
    """Per-depth regressors, nearest-neighbour representations and mean step seconds.

    ``holdout`` (see :func:`holdout_report`) is measured per depth before
    refitting on all rows; ``holdout_mae`` is its per-metric MAE.
    """

    models: dict[int, RegressorMixin]
    features: dict[int, np.ndarray]
    representations: dict[int, np.ndarray]
    seconds: dict[int, tuple[float, float]]
    holdout: dict[int, dict[str, Any]]
    kind: str = "gradient_boosting"
    _chunks: dict[tuple[int, Cell | None], np.ndarray] = field(default_factory=dict, repr=False)
    _reps: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def holdout_mae(self) -> dict[int, dict[str, float]]:
        """Held-out mean absolute error per depth and metric."""
        return {d: h["mae"] for d, h in self.holdout.items()}

    @classmethod
    def fit(cls, table: Rows, kind: str = "gradient_boosting", seed: int = 0) -> Surrogate:
        """Fit on the non-diverged rows of a :class:`~gan_nas_env.evaluators.tabular.Table`.

        :param kind: one of ``MODELS`` (random_forest, extra_trees, gradient_boosting).
        """
        if kind not in MODELS:
            raise ValueError(f"unknown surrogate {kind!r}; known: {', '.join(MODELS)}")
        models, hold = {}, {}
        feats, reps, secs = _rows_by_depth(table)
        for depth, x in feats.items():
            y = table.metrics[_row_index(table, depth)]
            if len(x) >= MIN_HOLDOUT_ROWS:
                hold[depth] = holdout_report(MODELS[kind](seed), x, y, table.alpha, seed)
            models[depth] = MODELS[kind](seed).fit(x, y)
        return cls(models, feats, reps, secs, hold, kind)

    @classmethod
    def from_grids(cls, table: Rows, grids: dict[int, np.ndarray], holdout: dict[int, dict[str, Any]],
                   kind: str = "gradient_boosting") -> Surrogate:
        """A surrogate that answers from precomputed :meth:`grids` (no fitting, no scikit-learn).

        This is how a table file with its fitted surrogate loads in milliseconds.
        """
        feats, reps, secs = _rows_by_depth(table)
        sur = cls({}, feats, reps, secs, holdout, kind)
        for depth, grid in grids.items():
            if depth == 1:
                sur._chunks[(1, None)] = grid
                continue
            per_first = grid.reshape(len(_CELL_POS[0]), -1, grid.shape[-1])
            for j, first in enumerate(SPACE.cells(0)):
                sur._chunks[(depth, first)] = per_first[j]
        return sur

    def grids(self) -> dict[int, np.ndarray]:
        """Predicted metrics of every prefix of each depth (row-major in the cells' positions)."""
        out = {}
        for depth in sorted(self.seconds):
            out[depth] = (self._chunk(1, None) if depth == 1 else
                          np.concatenate([self._chunk(depth, c) for c in SPACE.cells(0)]))
        return out

    def predict(self, arch: Architecture) -> Evaluation:
        """Predicted evaluation of a prefix (``cached`` is False: not a measured row).

        Metrics are predicted in chunks (every prefix of the same depth and first
        cell at once, at most 1 + 36 chunks) and kept, so that after a chunk's
        first query an env step costs an array lookup.
        """
        d = arch.depth
        if d not in self.seconds:
            raise ValueError(f"the table has no prefixes of depth {d}; cannot predict {arch}")
        key = str(arch)
        if key not in self._reps:
            x = one_hot(arch)
            self._reps[key] = self.representations[d][int(np.argmin(np.abs(self.features[d] - x).sum(1)))]
        first = arch.cells[0] if d > 1 else None
        pos = [_CELL_POS[i][c] for i, c in enumerate(arch.cells[1:] if first else arch.cells,
                                                        start=1 if first else 0)]
        shape = [len(_CELL_POS[i]) for i in range(1 if first else 0, d)]
        m = self._chunk(d, first)[np.ravel_multi_index(pos, shape)]
        train_s, score_s = self.seconds[d]
        return Evaluation(
            arch=key, depth=d, metrics={k: float(v) for k, v in zip(METRIC_KEYS, m)},
            representation=self._reps[key].copy(),
            timings={"simulated_s": train_s + score_s, "simulated_train_s": train_s,
                     "simulated_score_s": score_s},
            reason="surrogate",
        )

    def predict_all(self) -> np.ndarray:
        """Predicted ``[IS, FID, KID]`` of every full architecture, in ``SPACE.index`` order."""
        return np.concatenate([self._chunk(NUM_CELLS, c) for c in SPACE.cells(0)])

    def _chunk(self, depth: int, first: Cell | None) -> np.ndarray:
        if (depth, first) not in self._chunks:
            self._chunks[(depth, first)] = self._predict_chunk(depth, first)
        return self._chunks[(depth, first)]

    def _predict_chunk(self, depth: int, first: Cell | None) -> np.ndarray:
        """Predicted metrics of every prefix of ``depth`` starting with ``first`` (row-major)."""
        return self.models[depth].predict(prefix_features(depth, first))


def prefix_features(depth: int, first: Cell | None = None) -> np.ndarray:
    """One-hot features of every prefix of ``depth`` (starting with ``first`` if given), row-major."""
    blocks = [_CELL_ONE_HOT[i] for i in range(depth)]
    if first is not None:
        blocks[0] = cell_one_hot(first, 0)[None]
    grids = np.meshgrid(*[np.arange(len(b)) for b in blocks], indexing="ij")
    return np.concatenate([b[g.ravel()] for b, g in zip(blocks, grids)], axis=1).astype(np.float32)


def one_hot_rows(archs: list[str], depth: int) -> np.ndarray:
    """:func:`one_hot` of many canonical prefix strings of one ``depth`` at once (not validated)."""
    sizes = [n for i in range(depth) for n in SPACE.cell_sizes(i)]
    values = np.array([a.split() for a in archs], dtype=np.int64).reshape(len(archs), len(sizes))
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.zeros((len(archs), sum(sizes)), np.float32)
    out[np.arange(len(archs))[:, None], offsets + values] = 1.0
    return out


def _row_index(table: Rows, depth: int) -> np.ndarray:
    """Rows of ``depth`` that did not diverge."""
    return np.flatnonzero((table.depths() == depth) & ~table.diverged)


def _rows_by_depth(table: Rows) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray],
                                          dict[int, tuple[float, float]]]:
    """Per depth: one-hot features, representations and mean (train, score) seconds of the rows."""
    feats, reps, secs = {}, {}, {}
    for depth in range(1, NUM_CELLS + 1):
        idx = _row_index(table, depth)
        if len(idx) == 0:
            continue
        feats[depth] = one_hot_rows([table.archs[i] for i in idx], depth)
        reps[depth] = table.representation[idx]
        train_s, score_s = table.seconds[idx].mean(0)
        secs[depth] = (float(train_s), float(score_s))
    return feats, reps, secs
