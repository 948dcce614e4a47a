"""The project's offline feature extractor: a small Fashion-MNIST classifier.

Registered with torch-fidelity as ``fmnist-classifier-v1``. It plays the role
Inception-v3 plays for natural images: ``logits_unbiased`` feed the Inception
Score and the 128-d penultimate features (``"128"``) feed FID, KID and
precision/recall. Weights ship as package data
(``gan_nas_env/assets/fmnist_classifier_v1.pt``) and are produced by
``scripts/train_feature_classifier.py``.

Input follows torch-fidelity's convention: a uint8 ``[N, C, H, W]`` batch in
``[0, 255]``. Any ``C`` (1 or 3) and any ``H, W`` are accepted: the channels are
averaged to grayscale (exact for replicated gray images) and the image is
resized (bilinear, antialiased) to 32 x 32.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from gan_nas_env.devices import isolated_global_rng
from gan_nas_env.resources import ASSET_DIR

NAME = "fmnist-classifier-v1"
VERSION = "v1"
INPUT_SIZE = 32
FEATURE_DIM = 128
WEIGHTS_PATH = ASSET_DIR / "fmnist_classifier_v1.pt"
TRAIN_SCRIPT = "scripts/train_feature_classifier.py"
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
NUM_CLASSES = len(CLASSES)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class FMNISTClassifier(nn.Module):
    """Conv net for 32 x 32 grayscale images in ``[-1, 1]``.

    Three conv blocks (32-64-128 channels, each followed by 2x2 max pooling),
    a 128-channel conv at 4 x 4, global average pooling to the 128-d feature
    vector, and a bias-free linear head to 10 logits.
    """

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _block(1, 32),
            nn.MaxPool2d(2),
            _block(32, 64),
            nn.MaxPool2d(2),
            _block(64, 128),
            nn.MaxPool2d(2),
            _block(128, FEATURE_DIM),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.fc = nn.Linear(FEATURE_DIM, NUM_CLASSES, bias=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate ``[N, 128]`` features of a ``[N, 1, 32, 32]`` float batch."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, 10]`` of a ``[N, 1, 32, 32]`` float batch in ``[-1, 1]``."""
        return self.fc(self.body(x))


def preprocess_uint8(x: torch.Tensor) -> torch.Tensor:
    """uint8 ``[N, C, H, W]`` -> float ``[N, 1, 32, 32]`` in ``[-1, 1]`` (gray, resized)."""
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected a [N, 1|3, H, W] batch, got shape {tuple(x.shape)}")
    if x.dtype != torch.uint8:
        raise ValueError(f"expected dtype torch.uint8, got {x.dtype}")
    x = x.float().mean(dim=1, keepdim=True)
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(
            x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False
        )
    return x.div(127.5).sub(1.0)


def load_checkpoint(path: str | Path | None = None) -> dict[str, Any]:
    """Load the weights file (a dict with ``state_dict``, ``version``, ``test_accuracy``, ``seed``).

    :param path: weights file; ``None`` uses the packaged ``fmnist_classifier_v1.pt``.
    :raises FileNotFoundError: the file is missing; the message names the training script.
    """
    path = Path(path) if path is not None else WEIGHTS_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"weights of the {NAME} feature extractor not found at {path}; create them with "
            f"`python {TRAIN_SCRIPT}` (trains on the Fashion-MNIST files in "
            "/usr/share/datasets/fashion-mnist/, a few minutes on a CPU)"
        )
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if ckpt.get("version") != VERSION:
        raise ValueError(f"{path} holds version {ckpt.get('version')!r}, expected {VERSION!r}")
    return ckpt


def weights_digest(path: str | Path | None = None) -> str:
    """First 8 hex digits of the SHA-256 of the weights file (part of cache keys)."""
    path = Path(path) if path is not None else WEIGHTS_PATH
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


class FeatureExtractorFMNIST(FeatureExtractorBase):
    """torch-fidelity feature extractor wrapping :class:`FMNISTClassifier`.

    Provided features: ``"128"`` (penultimate, for FID/KID/PRC),
    ``"logits_unbiased"`` (for IS) and ``"logits"`` (identical: the head has no bias).

    :param name: registered name (``fmnist-classifier-v1``).
    :param features_list: requested feature names.
    :param feature_extractor_weights_path: weights file; ``None`` uses the packaged one.
    """

    def __init__(
        self,
        name: str,
        features_list: list[str] | tuple[str, ...],
        feature_extractor_weights_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, list(features_list))
        with isolated_global_rng():  # the random init is overwritten: leave no trace of it
            self.net = FMNISTClassifier()
        ckpt = load_checkpoint(feature_extractor_weights_path)
        self.net.load_state_dict(ckpt["state_dict"])
        self.test_accuracy = float(ckpt.get("test_accuracy", float("nan")))
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Requested features of a uint8 ``[N, C, H, W]`` batch, in ``features_list`` order."""
        feats = self.net.features(preprocess_uint8(x))
        out = {"128": feats}
        if "logits" in self.features_list or "logits_unbiased" in self.features_list:
            logits = self.net.fc(feats)
            out["logits"] = out["logits_unbiased"] = logits
        return tuple(out[name] for name in self.features_list)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        """Names of the features this extractor can produce."""
        return "128", "logits_unbiased", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        """Default feature for a torch-fidelity metric (isc, fid, kid, prc)."""
        return {"isc": "logits_unbiased", "fid": "128", "kid": "128", "prc": "128"}[metric]

    @staticmethod
    def can_be_compiled() -> bool:
        """Whether torch-fidelity may wrap the extractor with ``torch.compile``."""
        return True

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        """A dummy uint8 input for compilation (from a local RNG: the global one is untouched)."""
        gen = torch.Generator().manual_seed(0)
        return (torch.rand([1, 1, INPUT_SIZE, INPUT_SIZE], generator=gen) * 255).to(torch.uint8)


if NAME not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(NAME, FeatureExtractorFMNIST)
