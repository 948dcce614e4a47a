"""IS / FID / KID / precision-recall of generated images through torch-fidelity.

:class:`FeatureScorer` owns one torch-fidelity feature extractor and the real
images of one data set. One pass of the extractor over a batch yields both the
logits (Inception Score) and the penultimate features (FID, KID, precision /
recall); the numbers themselves come from torch-fidelity's own metric
functions, so they equal ``torch_fidelity.calculate_metrics`` on the same
images. By default (``metrics.reference = final``, as the released E2GAN code)
every generated image, whatever its stage's resolution, is scored against the
real images at their full resolution: the extractor resizes the generated images
to its input size. With ``reference = stage`` the real images are first resized
to the generated images' resolution with
:func:`~gan_nas_env.data.imageops.resize_uint8`. Real statistics are computed once per
resolution and cached in memory and on disk.

Feature extractors (``MetricsConfig.features``):

============  ======================  ===========  ==================
name          torch-fidelity name     IS feature   FID/KID/PRC feature
============  ======================  ===========  ==================
domain        fmnist-classifier-v1    logits (10)  ``128``
inception     inception-v3-compat     logits_unb.  ``2048``
============  ======================  ===========  ==================
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch_fidelity.feature_extractor_inceptionv3 as tf_inception
from torch_fidelity.defaults import DEFAULTS as TF_DEFAULTS
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.metric_fid import (
    KEY_METRIC_FID,
    fid_features_to_statistics,
    fid_statistics_to_metric,
)
from torch_fidelity.metric_isc import (
    KEY_METRIC_ISC_MEAN,
    KEY_METRIC_ISC_STD,
    isc_features_to_metric,
)
from torch_fidelity.metric_kid import (
    KEY_METRIC_KID_MEAN,
    KEY_METRIC_KID_STD,
    kid_features_to_metric,
)
from torch_fidelity.metric_prc import (
    KEY_METRIC_F_SCORE,
    KEY_METRIC_PRECISION,
    KEY_METRIC_RECALL,
    prc_features_to_metric,
)
from torch_fidelity.utils import create_feature_extractor

from gan_nas_env.config import MetricsConfig
from gan_nas_env.data.imageops import resize_uint8, to_uint8
from gan_nas_env.devices import isolated_global_rng
from gan_nas_env.errors import UserError
from gan_nas_env.metrics import fmnist_extractor as fmnist
from gan_nas_env.metrics.score import FID, IS, IS_STD, KID, KID_STD
from gan_nas_env.registry import Registry
from gan_nas_env.resources import cache_path as resolve_cache_path

RNG_SEED: int = TF_DEFAULTS["rng_seed"]  # 2020, torch-fidelity's default for shuffles and subsets
ISC_SPLITS: int = TF_DEFAULTS["isc_splits"]  # 10
KID_SUBSETS: int = TF_DEFAULTS["kid_subsets"]  # 100
PRC_NEIGHBORHOOD: int = TF_DEFAULTS["prc_neighborhood"]  # 3


class MetricsError(UserError, RuntimeError):
    """A feature extractor cannot be set up (missing weights, offline, ...).

    A :class:`~gan_nas_env.errors.UserError`: like a missing data set, the user fixes it
    (create or download the weights, or pick the other extractor); the message says how.
    """


@dataclass(frozen=True)
class ExtractorSpec:
    """A torch-fidelity feature extractor and the features the metrics use.

    :param name: name registered with torch-fidelity.
    :param isc_feature: feature for the Inception Score (logits).
    :param fid_feature: feature for FID, KID and precision/recall.
    :param rgb: whether the extractor needs 3-channel input.
    """

    name: str
    isc_feature: str
    fid_feature: str
    rgb: bool


FEATURE_EXTRACTORS: Registry[ExtractorSpec] = Registry("feature extractor")
FEATURE_EXTRACTORS.register(
    "domain", ExtractorSpec(fmnist.NAME, "logits_unbiased", str(fmnist.FEATURE_DIM), rgb=False)
)
FEATURE_EXTRACTORS.register(
    "inception", ExtractorSpec("inception-v3-compat", "logits_unbiased", "2048", rgb=True)
)


def inception_weights_file() -> Path:
    """Where torch-fidelity (through ``torch.hub``) looks for the Inception-v3 weights."""
    file_name = os.path.basename(tf_inception.URL_INCEPTION_V3)
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def extractor_version(spec: ExtractorSpec) -> str:
    """A version string of the extractor's weights, part of every statistics cache key."""
    if spec.name == fmnist.NAME:
        return f"{fmnist.VERSION}-{fmnist.weights_digest()}"
    if spec.name == "inception-v3-compat":
        return Path(tf_inception.URL_INCEPTION_V3).stem.rsplit("-", 1)[-1]
    return "unversioned"


def build_extractor(
    spec: ExtractorSpec, device: str | torch.device = "cpu"
) -> FeatureExtractorBase:
    """Create the torch-fidelity extractor of ``spec`` with its IS and FID features.

    Built under :func:`~gan_nas_env.devices.isolated_global_rng`: the modules' random
    initialisation (replaced by the loaded weights) leaves torch's global RNG as it was.

    :raises MetricsError: the weights are missing (domain classifier) or cannot be
        downloaded (Inception offline); the message says where to put them.
    """
    features = [spec.isc_feature, spec.fid_feature]
    try:
        with isolated_global_rng():
            extractor = create_feature_extractor(spec.name, features, cuda=False, verbose=False)
    except FileNotFoundError as e:
        raise MetricsError(str(e)) from e
    except Exception as e:
        if spec.name != "inception-v3-compat":
            raise
        raise MetricsError(
            f"cannot load the Inception-v3 weights for torch-fidelity ({type(e).__name__}: {e}). "
            f"Without internet, download {tf_inception.URL_INCEPTION_V3} elsewhere and place it "
            f"at {inception_weights_file()} (the torch hub checkpoints dir; TORCH_HOME moves it), "
            "or use the offline extractor with metrics.features=domain."
        ) from e
    return extractor.to(device)


def sqrtm_psd(sigma: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (eigendecomposition)."""
    w, v = torch.linalg.eigh(sigma)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def fid_from_statistics_torch(
    mu1: torch.Tensor | np.ndarray,
    sigma1: torch.Tensor | np.ndarray,
    mu2: torch.Tensor | np.ndarray,
    sigma2: torch.Tensor | np.ndarray,
    sqrt_sigma2: torch.Tensor | None = None,
) -> float:
    """FID from Gaussian statistics via symmetric eigendecompositions (runs on GPU).

    ``tr sqrt(S1 S2)`` is computed as the sum of square roots of the eigenvalues of
    ``A S B A`` with ``A = S^1/2`` of one side, in float64, on the device of ``sigma1``
    when it is a tensor. Pass ``sqrt_sigma2`` (:func:`sqrtm_psd` of the real
    statistics, computed once) to save one of the two eigendecompositions.
    """
    device = sigma1.device if torch.is_tensor(sigma1) else torch.device("cpu")
    m1, s1, m2, s2 = (
        torch.as_tensor(a).to(device=device, dtype=torch.float64)
        for a in (mu1, sigma1, mu2, sigma2)
    )
    if sqrt_sigma2 is None:
        root = sqrtm_psd(s1)
        m = root @ s2 @ root
    else:
        root = sqrt_sigma2.to(device=device, dtype=torch.float64)
        m = root @ s1 @ root
    tr_covmean = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum()
    diff = m1 - m2
    return float(diff.dot(diff) + s1.trace() + s2.trace() - 2 * tr_covmean)


@dataclass(frozen=True)
class RealStatistics:
    """Statistics of the real images at one resolution.

    :param mu: mean of the FID features (numpy, as torch-fidelity computes it).
    :param sigma: covariance of the FID features.
    :param features: ``[N, D]`` float32 FID features (for KID and precision/recall).
    """

    mu: np.ndarray
    sigma: np.ndarray
    features: torch.Tensor


class FeatureScorer:
    """Scores generated images against one data set's real images.

    :param cfg: metrics settings (extractor, sample counts, batch size, KID, cache dir).
    :param real_images: uint8 ``[N, C, H, W]`` real images at full resolution; the
        first ``cfg.real_samples`` (all when None) are used.
    :param dataset_key: names the data set in statistics cache files.
    :param device: where the extractor runs; on CUDA FID uses
        :func:`fid_from_statistics_torch`, on CPU torch-fidelity's numpy path.
    :param kid_subsets: number of KID subsets (torch-fidelity's default 100).
    """

    def __init__(
        self,
        cfg: MetricsConfig,
        real_images: torch.Tensor,
        dataset_key: str,
        device: str | torch.device = "cpu",
        kid_subsets: int = KID_SUBSETS,
    ) -> None:
        _check_uint8_batch(real_images, "real_images")
        self.cfg = cfg
        self.dataset_key = dataset_key
        self.device = torch.device(device)
        self.kid_subsets = kid_subsets
        n = (
            len(real_images)
            if cfg.real_samples is None
            else min(cfg.real_samples, len(real_images))
        )
        self.real_images = real_images[:n]
        self.final_resolution = int(real_images.shape[-1])
        self.spec = FEATURE_EXTRACTORS.get(cfg.features)
        self.extractor = build_extractor(self.spec, self.device)
        self.version = extractor_version(self.spec)
        self.use_torch_fid = self.device.type == "cuda"
        self._stats: dict[int, RealStatistics] = {}
        # per resolution, on the device: the real covariance and its square root
        self._real_sigma: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    # -- features -------------------------------------------------------------------------
    @torch.no_grad()
    def extract_features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and FID features (float32, CPU) of a uint8 batch, in one extractor pass."""
        logits, feats = [], []
        for i in range(0, len(images), self.cfg.batch_size):
            batch = images[i : i + self.cfg.batch_size].to(self.device)
            if self.spec.rgb and batch.shape[1] == 1:
                batch = batch.expand(-1, 3, -1, -1)
            out = self.extractor.convert_features_tuple_to_dict(self.extractor(batch))
            logits.append(out[self.spec.isc_feature].float())
            feats.append(out[self.spec.fid_feature].float())
        return torch.cat(logits).cpu(), torch.cat(feats).cpu()  # one device-to-host copy

    # -- real statistics --------------------------------------------------------------------
    def cache_path(self, resolution: int) -> Path:
        """Disk cache file of the real statistics at ``resolution``."""
        name = (
            f"{self.dataset_key}_{resolution}px_{self.spec.name}-{self.version}"
            f"_n{len(self.real_images)}.npz"
        )
        return resolve_cache_path(self.cfg.cache_dir) / "stats" / name

    def clear_memory_cache(self) -> None:
        """Forget the real statistics held in memory (the disk cache stays)."""
        self._stats.clear()
        self._real_sigma.clear()

    def reference_resolution(self, resolution: int) -> int:
        """Resolution of the real images that images of ``resolution`` are scored against.

        ``final`` (the released E2GAN code): the real data's own; ``stage``: ``resolution``.
        """
        return self.final_resolution if self.cfg.reference == "final" else resolution

    def real_statistics(self, resolution: int) -> RealStatistics:
        """FID mean/covariance and features of the real images resized to ``resolution``.

        Cached in memory and on disk (:meth:`cache_path`, written atomically).
        """
        if resolution in self._stats:
            return self._stats[resolution]
        path = self.cache_path(resolution)
        stats = _load_stats(path, len(self.real_images))
        if stats is None:
            feats = torch.cat(
                [
                    self.extract_features(resize_uint8(batch, resolution))[1]
                    for batch in self.real_images.split(self.cfg.batch_size)
                ]
            )
            fid_stats = fid_features_to_statistics(feats)
            stats = RealStatistics(fid_stats["mu"], fid_stats["sigma"], feats)
            _save_stats(path, stats)
        self._stats[resolution] = stats
        return stats

    # -- scoring ---------------------------------------------------------------------------
    def score_images(self, fake: torch.Tensor, prc: bool = False) -> dict[str, float]:
        """Metrics of uint8 ``[N, C, h, w]`` generated images against the real images.

        The real images are at full resolution (``reference = final``) or resized to
        ``h`` (``reference = stage``).

        Keys: IS, IS_std, FID, KID and KID_std (when ``cfg.kid``), precision, recall
        and f_score (when ``prc``).
        """
        _check_uint8_batch(fake, "fake")
        logits, feats = self.extract_features(fake)
        return self.score_features(logits, feats, fake.shape[-2], prc)

    def score_generator(
        self,
        sample_fn: Callable[[int], torch.Tensor],
        num_samples: int | None = None,
        prc: bool = False,
    ) -> dict[str, float]:
        """Metrics of ``num_samples`` (default ``cfg.num_samples``) images of a generator.

        :param sample_fn: ``sample_fn(n)`` returns ``n`` float images in ``[-1, 1]``;
            called in batches of ``cfg.batch_size`` under ``torch.no_grad``.
        """
        n = self.cfg.num_samples if num_samples is None else num_samples
        logits, feats, resolution = [], [], None
        with torch.no_grad():
            for start in range(0, n, self.cfg.batch_size):
                images = to_uint8(sample_fn(min(self.cfg.batch_size, n - start)))
                _check_uint8_batch(images, "sample_fn output")
                if resolution is None:
                    resolution = images.shape[-2]
                elif images.shape[-2] != resolution:
                    raise ValueError("sample_fn changed resolution between batches")
                batch_logits, batch_feats = self.extract_features(images)
                logits.append(batch_logits)
                feats.append(batch_feats)
        if resolution is None:
            raise ValueError("num_samples must be positive")
        return self.score_features(torch.cat(logits), torch.cat(feats), resolution, prc)

    def score_features(
        self, logits: torch.Tensor, feats: torch.Tensor, resolution: int, prc: bool = False
    ) -> dict[str, float]:
        """Metrics of generated images given their :meth:`extract_features` output.

        Scores subsets of one extraction (slices of ``logits`` and ``feats``) without
        extracting again; ``resolution`` is the generated images' height.
        """
        resolution = self.reference_resolution(resolution)
        real = self.real_statistics(resolution)
        isc = isc_features_to_metric(logits, splits=ISC_SPLITS, shuffle=True, rng_seed=RNG_SEED)
        out = {IS: isc[KEY_METRIC_ISC_MEAN], IS_STD: isc[KEY_METRIC_ISC_STD]}
        if self.use_torch_fid:
            f = feats.to(self.device, torch.float64)
            if resolution not in self._real_sigma:
                sigma = torch.as_tensor(real.sigma, device=self.device, dtype=torch.float64)
                self._real_sigma[resolution] = (sigma, sqrtm_psd(sigma))
            sigma, root = self._real_sigma[resolution]
            out[FID] = fid_from_statistics_torch(f.mean(0), torch.cov(f.T), real.mu, sigma, root)
        else:
            fake_stats = fid_features_to_statistics(feats)
            real_stats = {"mu": real.mu, "sigma": real.sigma}
            out[FID] = fid_statistics_to_metric(fake_stats, real_stats, verbose=False)[
                KEY_METRIC_FID
            ]
        if self.cfg.kid:
            subset = min(self.cfg.kid_subset_size, len(feats), len(real.features))
            kid = kid_features_to_metric(
                feats,
                real.features,
                kid_subsets=self.kid_subsets,
                kid_subset_size=subset,
                rng_seed=RNG_SEED,
                verbose=False,
            )
            out[KID], out[KID_STD] = kid[KEY_METRIC_KID_MEAN], kid[KEY_METRIC_KID_STD]
        if prc:
            # Equal-size sets as in Kynkaenniemi et al.: k-NN radii depend on the sample count.
            real_feats = real.features[: len(feats)]
            res = prc_features_to_metric(
                feats.to(self.device),
                real_feats.to(self.device),
                prc_neighborhood=PRC_NEIGHBORHOOD,
                prc_batch_size=TF_DEFAULTS["prc_batch_size"],
                save_cpu_ram=True,
                verbose=False,
            )
            out["precision"] = res[KEY_METRIC_PRECISION]
            out["recall"] = res[KEY_METRIC_RECALL]
            out["f_score"] = res[KEY_METRIC_F_SCORE]
        return {k: float(v) for k, v in out.items()}


def _check_uint8_batch(images: torch.Tensor, what: str) -> None:
    if not torch.is_tensor(images) or images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(f"{what} must be a uint8 [N, C, H, W] tensor")
    if images.shape[1] not in (1, 3):
        raise ValueError(f"{what} must have 1 or 3 channels, got {images.shape[1]}")


def _load_stats(path: Path, n: int) -> RealStatistics | None:
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            features = torch.from_numpy(data["features"].copy())
            stats = RealStatistics(data["mu"].copy(), data["sigma"].copy(), features)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None  # unreadable or partial: recompute and overwrite
    return stats if len(stats.features) == n else None


def _save_stats(path: Path, stats: RealStatistics) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, mu=stats.mu, sigma=stats.sigma, features=stats.features.numpy())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600 files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
