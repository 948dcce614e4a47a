"""Image data sets, loaded once into one uint8 tensor on the training device.

Data sets are looked up by name in :data:`DATASETS` (``fashion-mnist``, ``mnist``,
``cifar10``, ``stl10``, ``synthetic``). A loader returns ``(images, labels)``: uint8
``[N, C, H, W]`` at the data set's native size and channels, and int64 ``[N]``.
:func:`load_images` converts channels, resizes once to ``DataConfig.image_size`` and
moves the result to the device; :class:`ImageBank` keeps it there and serves
float batches in ``[-1, 1]`` at each stage resolution without a DataLoader.

Offline (no internet), Fashion-MNIST comes from the Debian package
``dataset-fashion-mnist`` (idx gzip files under ``/usr/share/datasets/fashion-mnist``)
and is *resized* bilinearly (antialiased) from 28 to 32 px, not zero-padded, so the
garment fills the frame as in the original. With internet, torchvision's downloaders
provide the other data sets. ``synthetic`` needs no files at all.
"""

from __future__ import annotations

import gzip
import math
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gan_nas_env.config import DataConfig
from gan_nas_env.data.imageops import resize_uint8, to_float
from gan_nas_env.errors import UserError
from gan_nas_env.registry import Registry
from gan_nas_env.resources import cache_path as resolve_cache_path

Loader = Callable[[DataConfig, str, int], tuple[torch.Tensor, torch.Tensor]]
"""``loader(cfg, split, seed) -> (uint8 [N, C, H, W], int64 [N])``; ``seed`` is used by
procedurally generated sets only."""

DATASETS: Registry[Loader] = Registry("dataset")
SPLITS = ("train", "test")

DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where the Debian package ``dataset-fashion-mnist`` installs its idx files."""

DEFAULT_ROOT = "~/.cache/gan_nas_env/data"
"""torchvision root used when ``DataConfig.root`` is not set."""

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luminance weights
_RESIZE_CHUNK = 4096  # images resized at once (bounds the float temporary)


class DataError(UserError, RuntimeError):
    """A data set that cannot be found, downloaded or parsed; says how to fix it."""


# ----------------------------------------------------------------------------- idx files

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_FIX = (
    "Reinstall the Debian package (`sudo apt-get install --reinstall dataset-fashion-mnist`) "
    "or delete the file so that it can be downloaded again."
)


def read_idx(path: str | Path, expect_ndim: int | None = None) -> np.ndarray:
    """Parse an idx file (gzip-compressed when the name ends in ``.gz``).

    :param path: the idx file.
    :param expect_ndim: if given, the number of dimensions the file must have.
    :return: the array, in native byte order.
    :raises DataError: the file is unreadable, truncated or has a bad header.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataError(f"{path}: corrupt or truncated idx file ({exc}). {_IDX_FIX}") from exc

    def bad(detail: str) -> DataError:
        return DataError(f"{path}: corrupt or truncated idx file ({detail}). {_IDX_FIX}")

    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise bad(f"bad magic number {raw[:4].hex() or '<empty>'}")
    ndim = raw[3]
    if expect_ndim is not None and ndim != expect_ndim:
        raise bad(f"expected {expect_ndim} dimensions, header says {ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise bad(f"header cut short at {len(raw)} bytes")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[raw[2]]
    expected = math.prod(dims) * dtype.itemsize
    if len(raw) - header != expected:
        raise bad(f"{len(raw) - header} data bytes, header {dims} needs {expected}")
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def _fashion_mnist_dirs(cfg: DataConfig) -> list[Path]:
    dirs = []
    if cfg.root:
        root = Path(cfg.root).expanduser()
        dirs += [root, root / "fashion-mnist", root / "FashionMNIST" / "raw"]
    dirs.append(DEBIAN_FASHION_MNIST_DIR)
    return dirs


# ----------------------------------------------------------------------------- loaders


@DATASETS.register("fashion-mnist")
def load_fashion_mnist(
    cfg: DataConfig, split: str, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST from idx files (Debian package or ``cfg.root``), else torchvision."""
    prefix = "train" if split == "train" else "t10k"
    searched = _fashion_mnist_dirs(cfg)
    for folder in searched:
        img_path = _find_idx(folder, f"{prefix}-images-idx3-ubyte")
        lbl_path = _find_idx(folder, f"{prefix}-labels-idx1-ubyte")
        if img_path is None or lbl_path is None:
            continue
        images = read_idx(img_path, expect_ndim=3)
        labels = read_idx(lbl_path, expect_ndim=1)
        if len(images) != len(labels):
            raise DataError(
                f"{img_path} holds {len(images)} images but {lbl_path} holds {len(labels)} "
                f"labels. {_IDX_FIX}"
            )
        return (
            torch.from_numpy(images.astype(np.uint8, copy=False)).unsqueeze(1),
            torch.from_numpy(labels.astype(np.int64)),
        )

    root = resolve_cache_path(cfg.root or DEFAULT_ROOT)
    try:
        from torchvision.datasets import FashionMNIST

        ds = FashionMNIST(str(root), train=split == "train", download=cfg.download)
    except Exception as exc:  # noqa: BLE001 - any torchvision failure means "not available"
        where = ", ".join(str(d) for d in searched)
        raise DataError(
            f"Fashion-MNIST not found (searched {where}) and torchvision could not provide "
            f"it at {root} ({type(exc).__name__}: {exc}). Fix it either way:\n"
            "  1. offline: `sudo apt-get install dataset-fashion-mnist` "
            "(or `bash scripts/setup.sh`), which installs /usr/share/datasets/fashion-mnist;\n"
            "  2. torchvision download: set data.download=true on a machine with internet, "
            "or point data.root at a folder holding the idx files "
            "(train-images-idx3-ubyte.gz, ... or FashionMNIST/raw/)."
        ) from exc
    return ds.data.unsqueeze(1).contiguous(), ds.targets.long()


def _torchvision_or_error(name: str, cfg: DataConfig, build: Callable[[str], object]) -> object:
    root = resolve_cache_path(cfg.root or DEFAULT_ROOT)
    try:
        return build(str(root))
    except Exception as exc:  # noqa: BLE001 - any torchvision failure means "not available"
        how = "download failed" if cfg.download else "downloads disabled by data.download=false"
        raise DataError(
            f"data set {name!r} could not be found at {root} nor downloaded ({how}; "
            f"{type(exc).__name__}: {exc}). Fix: run with internet access and "
            "data.download=true, or point data.root at a folder that holds the torchvision "
            f"files of {name!r}. Offline, use data.name=fashion-mnist "
            "(`sudo apt-get install dataset-fashion-mnist`) or data.name=synthetic."
        ) from exc


@DATASETS.register("mnist")
def load_mnist(cfg: DataConfig, split: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST through torchvision (28 px, 1 channel)."""
    from torchvision.datasets import MNIST

    ds = _torchvision_or_error(
        "mnist", cfg, lambda r: MNIST(r, train=split == "train", download=cfg.download)
    )
    return ds.data.unsqueeze(1).contiguous(), ds.targets.long()  # type: ignore[attr-defined]


@DATASETS.register("cifar10")
def load_cifar10(cfg: DataConfig, split: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 through torchvision (32 px, 3 channels)."""
    from torchvision.datasets import CIFAR10

    ds = _torchvision_or_error(
        "cifar10", cfg, lambda r: CIFAR10(r, train=split == "train", download=cfg.download)
    )
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # type: ignore[attr-defined]
    return images, torch.as_tensor(ds.targets, dtype=torch.int64)  # type: ignore[attr-defined]


@DATASETS.register("stl10")
def load_stl10(cfg: DataConfig, split: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """STL-10 through torchvision (96 px, 3 channels).

    ``train`` is the unlabeled + train splits (105k images, as in E2GAN/AutoGAN; the
    unlabeled images have label -1); ``test`` is the labelled test split.
    """
    from torchvision.datasets import STL10

    tv_split = "train+unlabeled" if split == "train" else "test"
    ds = _torchvision_or_error(
        "stl10", cfg, lambda r: STL10(r, split=tv_split, download=cfg.download)
    )
    images = torch.from_numpy(ds.data)  # type: ignore[attr-defined]
    return images, torch.as_tensor(ds.labels, dtype=torch.int64)  # type: ignore[attr-defined]


SYNTHETIC_CLASSES = 10
_PALETTE = torch.tensor(  # one colour per class for 3-channel synthetic images
    [
        [1.00, 0.35, 0.35],
        [0.35, 1.00, 0.35],
        [0.35, 0.35, 1.00],
        [1.00, 1.00, 0.35],
        [1.00, 0.35, 1.00],
        [0.35, 1.00, 1.00],
        [1.00, 0.65, 0.20],
        [0.65, 0.35, 1.00],
        [0.60, 1.00, 0.70],
        [0.95, 0.95, 0.95],
    ]
)


@DATASETS.register("synthetic")
def load_synthetic(cfg: DataConfig, split: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Procedural class-structured images; no files, deterministic in ``(seed, split)``.

    Class ``c`` of 10 draws a bar at angle ``c * 18`` degrees through the centre plus a
    blob at angle ``(3c mod 10) * 36`` degrees on a ring, each with random jitter of position,
    angle, width and contrast, plus pixel noise. With 3 channels the strokes take a
    class colour. ``cfg.synthetic_images`` images at ``cfg.image_size`` px.
    """
    n, s, k = cfg.synthetic_images, cfg.image_size, SYNTHETIC_CLASSES
    g = torch.Generator().manual_seed(2 * seed + SPLITS.index(split))

    def jitter(scale: float) -> torch.Tensor:
        return torch.randn(n, 1, 1, generator=g) * scale

    labels = (torch.arange(n) % k)[torch.randperm(n, generator=g)]
    c = labels.float().view(n, 1, 1)
    coords = (torch.arange(s, dtype=torch.float32) + 0.5) / s * 2 - 1
    y, x = coords.view(1, s, 1), coords.view(1, 1, s)

    theta = c * math.pi / k + jitter(0.06)
    dx, dy = x - jitter(0.08), y - jitter(0.08)
    across = dx * torch.sin(theta) - dy * torch.cos(theta)
    along = dx * torch.cos(theta) + dy * torch.sin(theta)
    width = 0.10 * (1 + jitter(0.15)).clamp_min(0.5)
    bar = torch.exp(-0.5 * (across / width) ** 2) * torch.sigmoid((0.75 - along.abs()) / 0.05)

    phi = 2 * math.pi * ((3 * c) % k) / k  # neighbouring bar angles get distant blobs
    bx, by = 0.55 * torch.cos(phi) + jitter(0.05), 0.55 * torch.sin(phi) + jitter(0.05)
    blob = torch.exp(-0.5 * ((x - bx) ** 2 + (y - by) ** 2) / 0.16**2)

    contrast = 0.85 + 0.15 * torch.rand(n, 1, 1, generator=g)
    img = (contrast * (0.7 * bar + 0.9 * blob)).unsqueeze(1)  # [n, 1, s, s]
    if cfg.channels == 3:
        img = img * _PALETTE[labels].view(n, 3, 1, 1)
    img = img + 0.04 * torch.randn(img.shape, generator=g)
    return img.clamp_(0, 1).mul_(255).round_().to(torch.uint8), labels.long()


# ----------------------------------------------------------------------------- loading


def convert_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 ``[N, C, H, W]`` to ``channels`` (1 -> 3 by repeat, 3 -> 1 by BT.601 luminance)."""
    have = images.shape[1]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if have == 3 and channels == 1:
        w = torch.tensor(_LUMA, device=images.device).view(1, 3, 1, 1)
        return (images.float() * w).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)
    raise DataError(f"cannot convert {have}-channel images to {channels} channels")


def _resize_to(
    images: torch.Tensor, size: int, channels: int, device: torch.device
) -> torch.Tensor:
    """Move, convert channels and resize in chunks (bounds the float temporaries)."""
    out = []
    for chunk in images.split(_RESIZE_CHUNK):
        chunk = chunk.to(device, non_blocking=True)
        if channels < chunk.shape[1]:  # reduce channels before resizing, expand after
            out.append(resize_uint8(convert_channels(chunk, channels), size))
        else:
            out.append(convert_channels(resize_uint8(chunk, size), channels))
    if not out:
        return torch.empty(0, channels, size, size, dtype=torch.uint8, device=device)
    return torch.cat(out) if len(out) > 1 else out[0].contiguous()


def load_labeled(
    cfg: DataConfig, split: str = "train", device: str | torch.device = "cpu", seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Like :func:`load_images`, also returning the int64 labels (on ``device``)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    if cfg.channels not in (1, 3):
        raise DataError(f"data.channels must be 1 or 3, got {cfg.channels}")
    loader = DATASETS.get(cfg.name)
    images, labels = loader(cfg, split, seed)
    if cfg.max_images is not None:
        images, labels = images[: cfg.max_images], labels[: cfg.max_images]
    dev = torch.device(device)
    return _resize_to(images, cfg.image_size, cfg.channels, dev), labels.to(dev)


def load_images(
    cfg: DataConfig, split: str = "train", device: str | torch.device = "cpu", seed: int = 0
) -> torch.Tensor:
    """Load a data set as uint8 ``[N, cfg.channels, cfg.image_size, cfg.image_size]``.

    :param cfg: which data set, where, at which size and channels, how many images.
    :param split: ``"train"`` or ``"test"``.
    :param device: where the returned tensor lives (resizing happens there too).
    :param seed: seed of procedurally generated sets (``synthetic``); ignored otherwise.
    :raises UnknownNameError: unknown ``cfg.name`` (the message lists the known ones).
    :raises DataError: the data set cannot be found, downloaded or parsed.
    """
    return load_labeled(cfg, split, device, seed)[0]


def dataset_key(cfg: DataConfig, split: str, seed: int = 0) -> str:
    """Short stable string naming exactly these images (cache key of real statistics)."""
    n = "all" if cfg.max_images is None else str(cfg.max_images)
    key = f"{cfg.name}-{split}-{cfg.image_size}px-c{cfg.channels}-n{n}"
    if cfg.name == "synthetic":
        key += f"-g{cfg.synthetic_images}-s{seed}"
    return key


# ----------------------------------------------------------------------------- image bank


class ImageBank:
    """All training images as one uint8 tensor on the training device.

    Batches are drawn by indexing on the device (no DataLoader, no host sync). Each
    stage resolution is resized once and cached.

    :param images_uint8: uint8 ``[N, C, H, W]``, on the device batches should live on.
    """

    def __init__(self, images_uint8: torch.Tensor) -> None:
        if images_uint8.dtype != torch.uint8 or images_uint8.dim() != 4:
            raise ValueError(
                f"ImageBank wants uint8 [N, C, H, W], got {images_uint8.dtype} "
                f"{tuple(images_uint8.shape)}"
            )
        if len(images_uint8) == 0:
            raise ValueError("ImageBank needs at least one image")
        self.images = images_uint8
        self._by_res: dict[int, torch.Tensor] = {images_uint8.shape[-1]: images_uint8}

    @classmethod
    def from_config(
        cls, cfg: DataConfig, device: str | torch.device = "cpu", seed: int = 0
    ) -> ImageBank:
        """Load the training split of ``cfg`` onto ``device``."""
        return cls(load_images(cfg, "train", device, seed))

    @property
    def device(self) -> torch.device:
        """Device of the images (and of the batches)."""
        return self.images.device

    @property
    def channels(self) -> int:
        """Channels per image."""
        return self.images.shape[1]

    def __len__(self) -> int:
        return self.images.shape[0]

    def at_resolution(self, res: int) -> torch.Tensor:
        """uint8 images at ``res x res`` px, resized once and cached."""
        if res not in self._by_res:
            self._by_res[res] = _resize_to(self.images, res, self.channels, self.device)
        return self._by_res[res]

    def batch(self, res: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """``batch_size`` random images (with replacement) as float ``[-1, 1]``.

        :param generator: a generator on :attr:`device` (a CUDA generator for CUDA banks).
        """
        images = self.at_resolution(res)
        idx = torch.randint(0, len(images), (batch_size,), generator=generator, device=self.device)
        return to_float(images[idx])
