"""Train the Fashion-MNIST feature classifier used for offline IS/FID/KID.

Reads the Debian ``dataset-fashion-mnist`` idx files, brings the 28 x 28 images
to 32 x 32 (randomly resized or zero-padded, so both ways the data module may
present them are covered), trains :class:`FMNISTClassifier` with light
augmentation (random shifts of up to 2 px, horizontal flips), reports the test
accuracy and writes ``gan_nas_env/assets/fmnist_classifier_v1.pt``.

Fully seeded; a few minutes on 2 CPU cores::

    python scripts/train_feature_classifier.py [--epochs 6] [--seed 0] [--out PATH]
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gan_nas_env.data.imageops import resize_uint8
from gan_nas_env.metrics.fmnist_extractor import (
    INPUT_SIZE,
    VERSION,
    WEIGHTS_PATH,
    FMNISTClassifier,
)

FMNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass
class Args:
    """Hyper-parameters of the classifier training."""

    data_dir: str = str(FMNIST_DIR)
    out: str = str(WEIGHTS_PATH)
    seed: int = 0
    epochs: int = 6
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    threads: int = 2


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) idx file into a numpy array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    _, dtype_code, ndim = data[0] << 8 | data[1], data[2], data[3]
    if dtype_code != 0x08:
        raise ValueError(f"{path}: only unsigned-byte idx files are supported")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_split(data_dir: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images ``[N, 1, 28, 28]`` and int64 labels of ``train`` or ``t10k``."""
    images = read_idx(data_dir / f"{split}-images-idx3-ubyte.gz")
    labels = read_idx(data_dir / f"{split}-labels-idx1-ubyte.gz")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def to_32(images: torch.Tensor, pad: bool) -> torch.Tensor:
    """28 px uint8 -> 32 px uint8, by zero padding or by resizing."""
    if pad:
        p = (INPUT_SIZE - images.shape[-1]) // 2
        return F.pad(images, (p, p, p, p))
    return resize_uint8(images, INPUT_SIZE)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random shifts (up to 2 px, zero fill) and horizontal flips of a float batch."""
    n, _, h, w = x.shape
    padded = F.pad(x, (2, 2, 2, 2), value=-1.0)
    dx = torch.randint(0, 5, (n,), generator=gen)
    dy = torch.randint(0, 5, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None].expand(n, 1, h, w + 4)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :].expand(n, 1, h, w)
    out = out.gather(3, cols)
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


@torch.no_grad()
def accuracy(model: FMNISTClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` on uint8 32 px images."""
    model.eval()
    correct = 0
    for i in range(0, len(images), 1000):
        x = images[i : i + 1000].float().div(127.5).sub(1.0)
        correct += (model(x).argmax(1) == labels[i : i + 1000]).sum().item()
    return correct / len(images)


def main(args: Args) -> dict[str, float]:
    """Train, evaluate and save the classifier; returns the test accuracies."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    data_dir = Path(args.data_dir)
    x_train, y_train = load_split(data_dir, "train")
    x_test, y_test = load_split(data_dir, "t10k")
    train_resized, train_padded = to_32(x_train, pad=False), to_32(x_train, pad=True)

    model = FMNISTClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = len(x_train) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch
    )
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        use_pad = torch.rand(len(x_train), generator=gen) < 0.5
        total = 0.0
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch_size : (step + 1) * args.batch_size]
            pad = use_pad[idx, None, None, None]
            x = torch.where(pad, train_padded[idx], train_resized[idx]).float().div(127.5).sub(1.0)
            loss = F.cross_entropy(model(augment(x, gen)), y_train[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        acc = accuracy(model, to_32(x_test, pad=False), y_test)
        print(
            f"epoch {epoch + 1}/{args.epochs}  loss {total / steps_per_epoch:.4f}  "
            f"test acc (resized) {acc:.4f}  {time.time() - t0:.0f}s",
            flush=True,
        )

    result = {
        "test_accuracy": accuracy(model, to_32(x_test, pad=False), y_test),
        "test_accuracy_padded": accuracy(model, to_32(x_test, pad=True), y_test),
    }
    ckpt = {
        "state_dict": {k: v.clone() for k, v in model.state_dict().items()},
        "version": VERSION,
        "seed": args.seed,
        "args": asdict(args) | {"out": os.path.basename(args.out)},
        **result,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    os.close(fd)
    torch.save(ckpt, tmp)
    os.chmod(tmp, 0o644)  # package data: readable by all (mkstemp creates 0600)
    os.replace(tmp, out)
    print(
        f"test accuracy {result['test_accuracy']:.4f} (resized), "
        f"{result['test_accuracy_padded']:.4f} (padded); wrote {out} "
        f"({out.stat().st_size / 1e6:.2f} MB)"
    )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in asdict(Args()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    main(Args(**vars(parser.parse_args())))
