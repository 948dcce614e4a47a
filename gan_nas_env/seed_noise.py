"""Seed noise of a benchmark table: the pooled within-architecture covariance of its metrics.

Rows of one architecture trained with different seeds differ only by the seed. Pooling
their deviations from each architecture's mean over every architecture with at least two
seeds gives the covariance of ``[IS, FID, KID]`` that one training seed adds::

    C = sum_a sum_i (x_ai - mean_a)(x_ai - mean_a)^T / sum_a (n_a - 1)

(the pooled sample covariance, ``dof = sum_a (n_a - 1)`` degrees of freedom; per metric
its diagonal is the pooled within-architecture sample variance). :class:`SeedNoise` holds
it and draws one noise vector for all metrics jointly, ``N(0, C)``, so that a score or
objective computed from the noisy metrics keeps their correlation; the sd of any linear
function ``w . x`` (:meth:`SeedNoise.sd_of`; the score ``IS - alpha * FID``, the objective) is ``sqrt(w C w)``.

Pure numpy; :class:`~gan_nas_env.bench.GANBench` groups the rows and asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gan_nas_env.metrics.score import METRIC_KEYS


@dataclass(frozen=True)
class SeedNoise:
    """The pooled within-architecture covariance of ``METRIC_KEYS`` and what it rests on.

    ``cov`` is NaN in the row and column of a metric missing (NaN) in some of the rows
    pooled; that metric's drawn noise is NaN, every other metric's is drawn jointly.
    ``n_archs`` is 0 (and ``cov`` all NaN) when no architecture has two seeds: the noise
    is then unavailable and :meth:`draw` refuses.
    """

    cov: np.ndarray  # [3, 3] METRIC_KEYS
    n_archs: int  # architectures with >= 2 seeds
    n_rows: int  # their rows (seeds)

    @property
    def available(self) -> bool:
        """True when at least one architecture has two seeds."""
        return self.n_archs > 0

    @property
    def dof(self) -> int:
        """Degrees of freedom of the estimate: rows minus architectures."""
        return self.n_rows - self.n_archs

    def sds(self) -> dict[str, float]:
        """The sd of each metric (NaN where it is missing or the noise unavailable)."""
        return {k: float(np.sqrt(self.cov[i, i])) for i, k in enumerate(METRIC_KEYS)}

    def sd_of(self, weights: Sequence[float] | np.ndarray) -> float:
        """The sd of the linear function ``weights . [IS, FID, KID]`` (``METRIC_KEYS`` order)."""
        w = np.asarray(weights, np.float64)
        used = w != 0  # a metric the function ignores may be missing
        return float(np.sqrt(w[used] @ self.cov[np.ix_(used, used)] @ w[used]))

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One joint noise vector ``[IS, FID, KID]`` from ``N(0, cov)`` (NaN for a missing metric)."""
        if not self.available:
            raise ValueError("no architecture has two seeds: seed noise is unavailable")
        ok = ~np.isnan(np.diag(self.cov))
        # cov = U diag(s) U^T, so U sqrt(s) z ~ N(0, cov); eigh also takes a singular cov
        s, u = np.linalg.eigh(self.cov[np.ix_(ok, ok)])
        out = np.full(len(METRIC_KEYS), np.nan)
        out[ok] = u @ (np.sqrt(np.clip(s, 0.0, None)) * rng.standard_normal(int(ok.sum())))
        return out


def pooled_noise(groups: Sequence[np.ndarray]) -> SeedNoise:
    """:class:`SeedNoise` of ``groups``: one ``[seeds, 3]`` metrics array per architecture.

    Groups of one row add nothing (no within-architecture deviation) and are not counted.
    """
    multi = [np.asarray(g, np.float64) for g in groups if len(g) >= 2]
    cov = np.full((len(METRIC_KEYS),) * 2, np.nan)
    if not multi:
        return SeedNoise(cov, 0, 0)
    dev = np.concatenate([g - g.mean(0) for g in multi])
    n_rows = len(dev)
    # elementwise, not a matmul: a metric missing in some row makes only its own entries NaN
    cov = (dev[:, :, None] * dev[:, None, :]).sum(0) / (n_rows - len(multi))
    return SeedNoise(cov, len(multi), n_rows)
