"""Metrics on the real Fashion-MNIST test split, pinned against torch-fidelity itself."""

from __future__ import annotations

import gzip
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity
from torch.utils.data import Dataset

from gan_nas_env.config import MetricsConfig
from gan_nas_env.data.imageops import resize_uint8, to_float
from gan_nas_env.metrics import fmnist_extractor as fmnist
from gan_nas_env.metrics import scorer as metrics
from gan_nas_env.metrics.scorer import (
    FeatureScorer,
    MetricsError,
    fid_from_statistics_torch,
    sqrtm_psd,
)

FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
N_HALF = 1000
KID_SUBSETS = 10
KID_SUBSET_SIZE = 500


def _read_idx(path: Path) -> np.ndarray:
    data = gzip.open(path, "rb").read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


@pytest.fixture(scope="module")
def fmnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    """The 10,000 test images at 32 px (uint8 [N, 1, 32, 32]) and their labels."""
    images = FMNIST_DIR / "t10k-images-idx3-ubyte.gz"
    if not images.is_file():
        pytest.skip("Fashion-MNIST files of the Debian package dataset-fashion-mnist are missing")
    x = torch.from_numpy(_read_idx(images).copy()).unsqueeze(1)
    y = torch.from_numpy(_read_idx(FMNIST_DIR / "t10k-labels-idx1-ubyte.gz").astype(np.int64))
    return resize_uint8(x, 32), y


@pytest.fixture(scope="module")
def halves(fmnist_test: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint sets of test images: the real reference and a 'perfect generator'."""
    x = fmnist_test[0]
    return x[:N_HALF], x[5000 : 5000 + N_HALF]


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> MetricsConfig:
    return MetricsConfig(
        features="domain",
        num_samples=N_HALF,
        batch_size=500,
        kid_subset_size=KID_SUBSET_SIZE,
        cache_dir=str(tmp_path_factory.mktemp("metrics_cache")),
    )


@pytest.fixture(scope="module")
def scorer(cfg: MetricsConfig, halves: tuple[torch.Tensor, torch.Tensor]) -> FeatureScorer:
    return FeatureScorer(cfg, halves[0], "fmnist-test", kid_subsets=KID_SUBSETS)


@pytest.fixture(scope="module")
def noise() -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (N_HALF, 1, 32, 32), generator=gen, dtype=torch.uint8)


class _UInt8Dataset(Dataset):
    """uint8 images as torch-fidelity wants them: 3-channel uint8 tensors."""

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i].expand(3, -1, -1).contiguous()


def test_classifier_accuracy(fmnist_test: tuple[torch.Tensor, torch.Tensor]) -> None:
    x, y = fmnist_test[0][:1000], fmnist_test[1][:1000]
    ext = fmnist.FeatureExtractorFMNIST(fmnist.NAME, ["logits"])
    with torch.no_grad():
        acc = (ext(x)[0].argmax(1) == y).float().mean().item()
        # 3-channel input gives the same answer as 1-channel
        acc_rgb = (ext(x.expand(-1, 3, -1, -1))[0].argmax(1) == y).float().mean().item()
    assert acc > 0.85
    assert acc_rgb == acc
    assert ext.test_accuracy > 0.85


@pytest.fixture(scope="module")
def real_scores(scorer: FeatureScorer, halves: tuple[torch.Tensor, torch.Tensor]) -> dict:
    """Scores of held-out real images (a perfect generator), with precision/recall."""
    return scorer.score_images(halves[1], prc=True)


def test_real_vs_real_and_noise(
    scorer: FeatureScorer, real_scores: dict[str, float], noise: torch.Tensor
) -> None:
    fake = scorer.score_images(noise)
    assert set(fake) == {"IS", "IS_std", "FID", "KID", "KID_std"}
    assert real_scores["FID"] < 2.0
    assert fake["FID"] > 50 * real_scores["FID"]
    assert fake["KID"] > 50 * abs(real_scores["KID"])
    assert real_scores["IS"] > 4.0 and real_scores["IS"] > 2.0 * fake["IS"]
    assert real_scores["precision"] > 0.7 and real_scores["recall"] > 0.7


def test_matches_torch_fidelity(
    real_scores: dict[str, float], halves: tuple[torch.Tensor, torch.Tensor]
) -> None:
    ours = real_scores
    ref = torch_fidelity.calculate_metrics(
        input1=_UInt8Dataset(halves[1]),
        input2=_UInt8Dataset(halves[0]),
        feature_extractor=fmnist.NAME,
        isc=True,
        fid=True,
        kid=True,
        prc=True,
        kid_subsets=KID_SUBSETS,
        kid_subset_size=KID_SUBSET_SIZE,
        batch_size=500,
        cuda=False,
        cache=False,
        save_cpu_ram=True,
        verbose=False,
    )
    pairs = {
        "IS": "inception_score_mean",
        "IS_std": "inception_score_std",
        "FID": "frechet_inception_distance",
        "KID": "kernel_inception_distance_mean",
        "KID_std": "kernel_inception_distance_std",
        "precision": "precision",
        "recall": "recall",
        "f_score": "f_score",
    }
    for ours_key, ref_key in pairs.items():
        assert ours[ours_key] == pytest.approx(ref[ref_key], rel=1e-4, abs=1e-7), ours_key


def test_stats_cache_written_reused_and_keyed_by_resolution(
    cfg: MetricsConfig, halves: tuple[torch.Tensor, torch.Tensor], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = halves[0][:600]
    first = FeatureScorer(cfg, real, "cache-test")
    s16 = first.real_statistics(16)
    s32 = first.real_statistics(32)
    assert first.cache_path(16) != first.cache_path(32)
    assert first.cache_path(16).is_file() and first.cache_path(32).is_file()
    assert not np.allclose(s16.mu, s32.mu)
    assert first.real_statistics(16) is s16  # in-memory cache

    second = FeatureScorer(cfg, real, "cache-test")

    def no_features(images: torch.Tensor) -> None:
        raise AssertionError("features recomputed instead of read from the cache")

    monkeypatch.setattr(second, "extract_features", no_features)
    loaded = second.real_statistics(16)
    np.testing.assert_array_equal(loaded.mu, s16.mu)
    np.testing.assert_array_equal(loaded.sigma, s16.sigma)
    assert torch.equal(loaded.features, s16.features)
    with pytest.raises(AssertionError, match="recomputed"):
        second.real_statistics(8)  # another resolution is another cache entry
    # a different real sample count is a different file too
    assert FeatureScorer(cfg, halves[0][:500], "cache-test").cache_path(16) != first.cache_path(16)


@pytest.mark.parametrize("resolution", [8, 16])
def test_lower_resolution_via_generator(
    cfg: MetricsConfig,
    halves: tuple[torch.Tensor, torch.Tensor],
    noise: torch.Tensor,
    resolution: int,
) -> None:
    """Against real images resized to the same size (``reference = stage``) a generator of
    real images scores near 0; against the full-size data (``final``) its lost detail counts."""
    import dataclasses

    fake = resize_uint8(halves[1], resolution)
    by_ref = {}
    for reference in ("stage", "final"):
        scorer = FeatureScorer(dataclasses.replace(cfg, reference=reference), halves[0], "fmnist-test",
                               kid_subsets=KID_SUBSETS)
        pos = 0

        def sample_fn(n: int) -> torch.Tensor:
            nonlocal pos
            pos += n
            return to_float(fake[pos - n : pos])

        from_generator = scorer.score_generator(sample_fn)
        assert pos == N_HALF
        assert from_generator == scorer.score_images(fake)
        assert np.isfinite(list(from_generator.values())).all()
        noisy = scorer.score_images(resize_uint8(noise, resolution))
        assert noisy["FID"] > 3 * from_generator["FID"]  # noise is far worse at any size
        by_ref[reference] = from_generator["FID"]
    assert by_ref["stage"] < 5.0
    assert by_ref["final"] > by_ref["stage"]


def test_torch_fid_agrees_with_numpy(
    scorer: FeatureScorer, halves: tuple[torch.Tensor, torch.Tensor], real_scores: dict[str, float]
) -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(500, 64, generator=gen, dtype=torch.float64)
    b = (
        torch.randn(500, 64, generator=gen, dtype=torch.float64)
        @ torch.randn(64, 64, generator=gen, dtype=torch.float64)
        * 0.3
        + 0.5
    )
    sa, sb = (
        metrics.fid_features_to_statistics(a),
        metrics.fid_features_to_statistics(b),
    )
    ref = metrics.fid_statistics_to_metric(sa, sb, verbose=False)["frechet_inception_distance"]
    ours = fid_from_statistics_torch(sa["mu"], sa["sigma"], sb["mu"], sb["sigma"])
    assert ours == pytest.approx(ref, rel=1e-6)
    # with the real side's square root precomputed (what the scorer caches per resolution)
    root_b = sqrtm_psd(torch.as_tensor(sb["sigma"], dtype=torch.float64))
    assert torch.allclose(root_b @ root_b, torch.as_tensor(sb["sigma"], dtype=torch.float64), atol=1e-8)
    assert fid_from_statistics_torch(sa["mu"], sa["sigma"], sb["mu"], sb["sigma"], root_b) == pytest.approx(
        ref, rel=1e-6)
    assert fid_from_statistics_torch(sa["mu"], sa["sigma"], sa["mu"], sa["sigma"]) == pytest.approx(
        0.0, abs=1e-8
    )

    # the scorer's GPU path (torch FID), here on CPU, agrees with the numpy path
    scorer.use_torch_fid = True
    try:
        torch_path = scorer.score_images(halves[1], prc=True)
    finally:
        scorer.use_torch_fid = False
    assert torch_path.pop("FID") == pytest.approx(real_scores["FID"], rel=1e-4)
    # everything else is bit-identical: scoring is deterministic on CPU
    assert torch_path == {k: v for k, v in real_scores.items() if k != "FID"}


def test_inception_offline_error(
    halves: tuple[torch.Tensor, torch.Tensor], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(metrics.tf_inception, "load_state_dict_from_url", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    cfg = MetricsConfig(features="inception", cache_dir=str(tmp_path))
    with pytest.raises(MetricsError) as err:
        FeatureScorer(cfg, halves[0][:10], "offline")
    msg = str(err.value)
    assert "weights-inception-2015-12-05-6726825d.pth" in msg
    assert str(tmp_path / "hub" / "checkpoints") in msg
    assert "features=domain" in msg


def test_missing_weights_error(
    halves: tuple[torch.Tensor, torch.Tensor], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fmnist, "WEIGHTS_PATH", tmp_path / "fmnist_classifier_v1.pt")
    with pytest.raises(MetricsError, match="scripts/train_feature_classifier.py"):
        FeatureScorer(MetricsConfig(cache_dir=str(tmp_path)), halves[0][:10], "missing")


def test_unknown_extractor_lists_known(halves: tuple[torch.Tensor, torch.Tensor]) -> None:
    with pytest.raises(KeyError, match="domain, inception"):
        FeatureScorer(MetricsConfig(features="vgg"), halves[0][:10], "x")


def test_rejects_float_images(
    scorer: FeatureScorer, halves: tuple[torch.Tensor, torch.Tensor]
) -> None:
    with pytest.raises(ValueError, match="uint8"):
        scorer.score_images(to_float(halves[1][:10]))


@pytest.mark.parametrize("reference", ["final", "stage"])
def test_fid_reference_final_or_stage(halves, cfg: MetricsConfig, reference: str) -> None:
    """final (released E2GAN): small images against the real data at 32 px; stage: resized real."""
    import dataclasses

    real, fake = halves
    scorer = FeatureScorer(dataclasses.replace(cfg, reference=reference, kid=False), real, "fmnist-test")
    small = resize_uint8(fake, 8)
    got = scorer.score_images(small)
    assert scorer.reference_resolution(8) == (32 if reference == "final" else 8)
    assert set(scorer._stats) == {scorer.reference_resolution(8)}
    logits, feats = scorer.extract_features(small)
    ref = scorer.real_statistics(scorer.reference_resolution(8))
    want = torch_fidelity.metric_fid.fid_statistics_to_metric(
        torch_fidelity.metric_fid.fid_features_to_statistics(feats), {"mu": ref.mu, "sigma": ref.sigma},
        verbose=False)["frechet_inception_distance"]
    assert got["FID"] == pytest.approx(want, rel=1e-9)


def test_building_the_scorer_and_extractor_leaves_the_global_rng() -> None:
    """The extractor's modules are initialised (then overwritten) without a trace."""
    torch.manual_seed(11)
    before = torch.get_rng_state()
    real = torch.randint(0, 256, (8, 1, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    FeatureScorer(MetricsConfig(num_samples=8, real_samples=8, batch_size=8), real, "rng-test")
    metrics.build_extractor(metrics.FEATURE_EXTRACTORS.get("domain"))
    fmnist.FeatureExtractorFMNIST(fmnist.NAME, ["128"])
    dummy = fmnist.FeatureExtractorFMNIST.get_dummy_input_for_compile()
    assert torch.equal(dummy, fmnist.FeatureExtractorFMNIST.get_dummy_input_for_compile())
    assert torch.equal(torch.get_rng_state(), before)
