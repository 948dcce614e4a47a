"""Metrics of generated point sets against a Gaussian-mixture target (pure functions).

* **High-quality sample**: a point within ``3 std`` (Euclidean distance) of
  some mode centre. For an exact isotropic Gaussian mode this holds for
  99.73 % of its samples in 1-D and ``1 - exp(-4.5)`` = 98.89 % in 2-D.
* **Mode covered**: at least ``min_count`` high-quality points are nearest to
  that mode; by default ``min_count = max(1, ceil(min_fraction * n))`` with
  ``min_fraction = 0.01`` (1 % of the ``n`` generated points; a uniform
  mixture of ``k`` modes puts ``n / k`` there).
* **Precision / recall** (Kynkäänniemi et al., 2019, "Improved precision and
  recall metric for assessing generative models"): the real manifold is the
  union of balls around each real point with radius its distance to its
  ``k``-th nearest real neighbour; precision is the fraction of generated
  points inside it, recall the fraction of real points inside the manifold
  built the same way from the generated points. Exact, via ``torch.cdist``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

QUALITY_STDS = 3.0
DEFAULT_MIN_FRACTION = 0.01
PRC_NEIGHBOURS = 3


def _points(x: Tensor) -> Tensor:
    x = torch.as_tensor(x, dtype=torch.float64)
    return x[:, None] if x.dim() == 1 else x


def nearest_mode(points: Tensor, centres: Tensor) -> tuple[Tensor, Tensor]:
    """Index of the nearest centre and the distance to it, each ``[n]``."""
    d = torch.cdist(_points(points), _points(centres))
    dist, idx = d.min(dim=1)
    return idx, dist


def high_quality_mask(
    points: Tensor, centres: Tensor, std: float, num_stds: float = QUALITY_STDS
) -> Tensor:
    """``[n]`` bool: the point lies within ``num_stds * std`` of some centre."""
    _, dist = nearest_mode(points, centres)
    return dist <= num_stds * std


def mode_counts(
    points: Tensor, centres: Tensor, std: float, num_stds: float = QUALITY_STDS
) -> Tensor:
    """``[k]`` int64: number of high-quality points nearest to each mode."""
    idx, dist = nearest_mode(points, centres)
    good = dist <= num_stds * std
    return torch.bincount(idx[good], minlength=_points(centres).shape[0])


def coverage_threshold(n: int, min_fraction: float = DEFAULT_MIN_FRACTION) -> int:
    """Points a mode needs to count as covered: ``max(1, ceil(min_fraction * n))``."""
    return max(1, math.ceil(min_fraction * n - 1e-9))


def covered_modes(
    points: Tensor,
    centres: Tensor,
    std: float,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    min_count: int | None = None,
) -> Tensor:
    """``[k]`` bool: which modes are covered (see the module docstring).

    :param min_count: absolute threshold; overrides ``min_fraction`` when given.
    """
    n = _points(points).shape[0]
    need = coverage_threshold(n, min_fraction) if min_count is None else int(min_count)
    return mode_counts(points, centres, std) >= need


def modes_covered(
    points: Tensor,
    centres: Tensor,
    std: float,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    min_count: int | None = None,
) -> int:
    """Number of covered modes."""
    return int(covered_modes(points, centres, std, min_fraction, min_count).sum())


def high_quality_fraction(
    points: Tensor, centres: Tensor, std: float, num_stds: float = QUALITY_STDS
) -> float:
    """Fraction of points within ``num_stds * std`` of some mode (0 for no points)."""
    mask = high_quality_mask(points, centres, std, num_stds)
    return float(mask.double().mean()) if mask.numel() else 0.0


def knn_radii(points: Tensor, k: int = PRC_NEIGHBOURS) -> Tensor:
    """``[n]`` distance of each point to its ``k``-th nearest other point."""
    x = _points(points)
    if x.shape[0] <= k:
        raise ValueError(f"need more than k={k} points for k-NN radii, got {x.shape[0]}")
    d = torch.cdist(x, x)
    return d.topk(k + 1, dim=1, largest=False).values[:, k]  # column 0 is the point itself


def manifold_coverage(reference: Tensor, queries: Tensor, k: int = PRC_NEIGHBOURS) -> float:
    """Fraction of ``queries`` inside the k-NN manifold of ``reference``."""
    ref, q = _points(reference), _points(queries)
    radii = knn_radii(ref, k)
    inside = (torch.cdist(q, ref) <= radii[None, :]).any(dim=1)
    return float(inside.double().mean())


def precision_recall(real: Tensor, fake: Tensor, k: int = PRC_NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of ``fake`` vs ``real``."""
    return manifold_coverage(real, fake, k), manifold_coverage(fake, real, k)


def toy_metrics(
    fake: Tensor,
    real: Tensor,
    centres: Tensor,
    std: float,
    min_fraction: float = DEFAULT_MIN_FRACTION,
    k: int = PRC_NEIGHBOURS,
) -> dict[str, float]:
    """All toy metrics of ``fake`` points: modes covered, quality, precision, recall."""
    precision, recall = precision_recall(real, fake, k)
    return {
        "modes_covered": float(modes_covered(fake, centres, std, min_fraction)),
        "num_modes": float(_points(centres).shape[0]),
        "high_quality_fraction": high_quality_fraction(fake, centres, std),
        "precision": precision,
        "recall": recall,
    }
