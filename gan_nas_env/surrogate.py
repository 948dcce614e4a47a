"""Surrogate of the proxy for prefixes the table does not hold (scikit-learn).

Metrics (IS, FID, KID) are predicted by one random forest per prefix depth on
the one-hot encoding of the prefix; the representation is the one of the
nearest stored prefix of the same depth (Hamming distance on the one-hot).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.model_selection import train_test_split

from gan_nas_env.evaluators import Evaluation
from gan_nas_env.search_space import SPACE, Architecture


def one_hot(arch: Architecture) -> np.ndarray:
    """Concatenated one-hot encoding of every field of every cell of a prefix."""
    parts = []
    for i, cell in enumerate(arch.cells):
        values = [cell.conv, cell.norm, cell.up, cell.shortcut] + ([cell.skip] if i else [])
        for v, n in zip(values, SPACE.cell_sizes(i)):
            parts.append(np.eye(n)[v])
    return np.concatenate(parts).astype(np.float32)


@dataclass
class Surrogate:
    """Per-depth regressors and nearest-neighbour representations.

    ``holdout_mae`` holds the mean absolute error on a 20% held-out split, per
    depth and metric, measured before refitting on all rows.
    """

    models: dict[int, RandomForestRegressor]
    features: dict[int, np.ndarray]
    representations: dict[int, np.ndarray]
    holdout_mae: dict[int, dict[str, float]]
    _memo: dict[str, Evaluation] = field(default_factory=dict)

    @classmethod
    def fit(cls, table, seed: int = 0) -> Surrogate:  # noqa: ANN001 - Table (avoid cycle)
        """Fit on a :class:`~gan_nas_env.tabular.Table` (non-diverged rows)."""
        from gan_nas_env.tabular import METRIC_KEYS

        models, feats, reps, maes = {}, {}, {}, {}
        for depth in (1, 2, 3):
            idx = [i for i, a in enumerate(table.archs)
                   if a and len(Architecture.parse(a).cells) == depth and not table.diverged[i]]
            if not idx:
                continue
            x = np.stack([one_hot(Architecture.parse(table.archs[i])) for i in idx])
            y = table.metrics[idx]
            if len(idx) >= 10:
                xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=seed)
                m = RandomForestRegressor(n_estimators=40, random_state=seed, n_jobs=1).fit(xtr, ytr)
                err = np.abs(m.predict(xte) - yte).mean(0)
                maes[depth] = {k: float(e) for k, e in zip(METRIC_KEYS, err)}
            models[depth] = RandomForestRegressor(n_estimators=40, random_state=seed, n_jobs=1).fit(x, y)
            feats[depth], reps[depth] = x, table.representation[idx]
        return cls(models, feats, reps, maes)

    def predict(self, arch: Architecture) -> Evaluation:
        """Predicted evaluation of a prefix (``cached`` is False: not a measured row)."""
        key = str(arch)
        if key not in self._memo:
            self._memo[key] = self._predict(arch)
        ev = self._memo[key]
        return Evaluation(ev.arch, ev.depth, dict(ev.metrics), ev.representation.copy(),
                          timings=dict(ev.timings), reason=ev.reason)

    def _predict(self, arch: Architecture) -> Evaluation:
        from gan_nas_env.tabular import METRIC_KEYS

        d = arch.depth
        if d not in self.models:
            raise ValueError(f"the table has no prefixes of depth {d}; cannot predict {arch}")
        x = one_hot(arch)
        m = self.models[d].predict(x[None])[0]
        nearest = int(np.argmin(np.abs(self.features[d] - x).sum(1)))
        return Evaluation(
            arch=str(arch), depth=d, metrics={k: float(v) for k, v in zip(METRIC_KEYS, m)},
            representation=self.representations[d][nearest].copy(),
            timings={"simulated_s": 0.0}, reason="surrogate",
        )
