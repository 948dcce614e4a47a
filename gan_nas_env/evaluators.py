"""Evaluators: "given this architecture prefix, train it by the proxy and score it".

The env orchestrates and an evaluator computes. :class:`RealEvaluator` runs the
progressive proxy trainer; :class:`FakeEvaluator` is a deterministic stand-in
for fast tests. Cached and tabular evaluators build on the same interface.
"""

from __future__ import annotations

import dataclasses
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from gan_nas_env.config import Config
from gan_nas_env.results_store import ResultsStore
from gan_nas_env.search_space import Architecture, Cell


@dataclass
class Evaluation:
    """The result of one proxy step (or of the fixed pre-first-cell baseline)."""

    arch: str  # canonical prefix string ("" for the baseline)
    depth: int
    metrics: dict[str, float]  # IS, FID and, when computed, KID, IS_std, KID_std
    representation: np.ndarray  # float32 [representation_dim]
    diverged: bool = False
    reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    losses: dict[str, float] = field(default_factory=dict)
    cached: bool = False


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; a clear error for cuda without a GPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={device!r} was requested but no CUDA GPU is available; "
            "use device='cpu' or device='auto'"
        )
    return dev


class Evaluator(ABC):
    """Trains and scores architecture prefixes for the env, one cell at a time."""

    representation_dim: int

    @abstractmethod
    def baseline(self) -> Evaluation:
        """The fixed reference before the first cell (depth 0)."""

    @abstractmethod
    def reset(self, seed: int) -> None:
        """Start a new episode: forget the current GAN; ``seed`` fixes its initialisation."""

    @abstractmethod
    def step(self, cell: Cell) -> Evaluation:
        """Add ``cell`` to the current prefix, train by the proxy, return its evaluation."""

    def sample(self, n: int) -> torch.Tensor | None:
        """``n`` images in [-1, 1] from the current generator, or None if there is none."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release resources."""


class RealEvaluator(Evaluator):
    """Progressive proxy training on real data, scored with torch-fidelity features.

    The baseline is, as in the released E2GAN code, the score of the episode's
    freshly initialised generator before its first cell (the bottom-width Linear
    output through the shared head, scored against the real data like every
    stage), with its progressive state: it depends on the episode's GAN seed.
    """

    def __init__(self, cfg: Config, device: str | torch.device | None = None) -> None:
        from gan_nas_env.data import ImageBank, dataset_key, load_images
        from gan_nas_env.metrics import FeatureScorer
        from gan_nas_env.proxy_trainer import ProxyTrainer

        self.cfg = cfg
        self.device = resolve_device(str(device or cfg.device))
        images = load_images(cfg.data, "train", device=self.device, seed=cfg.seed)
        self.bank = ImageBank(images)
        # the FID reference set is independent of the training subset (data.max_images)
        ref_cfg = dataclasses.replace(cfg.data, max_images=cfg.metrics.real_samples)
        real = images if ref_cfg == cfg.data else load_images(ref_cfg, "train", self.device, cfg.seed)
        self.scorer = FeatureScorer(
            cfg.metrics, real, dataset_key(ref_cfg, "train", cfg.seed), device=self.device
        )
        self.trainer = ProxyTrainer(cfg, self.bank, self.scorer, self.device)
        self.representation_dim = self.trainer.representation_dim

    def baseline(self) -> Evaluation:
        r = self.trainer.baseline()
        return Evaluation(arch="", depth=0, metrics=r.metrics, representation=r.representation,
                          timings=r.timings)

    def reset(self, seed: int) -> None:
        self.trainer.reset(seed)

    def step(self, cell: Cell) -> Evaluation:
        r = self.trainer.add_cell(cell)
        return Evaluation(
            arch=str(r.arch), depth=r.arch.depth, metrics=r.metrics,
            representation=r.representation, diverged=r.diverged, reason=r.reason,
            timings=r.timings, losses=r.losses,
        )

    def sample(self, n: int) -> torch.Tensor | None:
        return None if self.trainer.G is None else self.trainer.sample(n)


def _hash_floats(key: str, n: int) -> np.ndarray:
    digest = hashlib.sha256(key.encode()).digest()
    seed = int.from_bytes(digest[:8], "little")
    return np.random.default_rng(seed).random(n)


class FakeEvaluator(Evaluator):
    """Deterministic, training-free scores for fast tests of envs and agents.

    IS grows and FID falls with a fixed hidden preference per cell field, plus a
    small hash-based term, so agents have something learnable. ``diverge_at``
    (a set of prefix strings) injects a divergence at those prefixes.
    """

    def __init__(
        self, representation_dim: int = 8, seed_noise: float = 0.0,
        diverge_at: set[str] | None = None,
    ) -> None:
        self.representation_dim = representation_dim
        self.seed_noise = seed_noise
        self.diverge_at = diverge_at or set()
        self.arch: Architecture | None = None
        self.seed = 0
        self.calls = 0

    def baseline(self) -> Evaluation:
        return Evaluation("", 0, {"IS": 1.0, "FID": 300.0, "KID": 0.3},
                          np.zeros(self.representation_dim, np.float32))

    def reset(self, seed: int) -> None:
        self.arch, self.seed = None, int(seed)
        self._fresh = True

    @staticmethod
    def quality(arch: Architecture) -> float:
        """Hidden ground-truth quality in [0, 1] of a prefix (best: all fields at their max)."""
        vec = arch.to_vector()
        score = 0.0
        for i, cell in enumerate(arch.cells):
            score += (cell.conv + cell.norm / 2 + cell.up / 2 + cell.shortcut) / 4
            if i > 0:
                score += 0.25 * (cell.skip > 0)
        return score / 3.0 + 0.02 * _hash_floats(" ".join(map(str, vec)), 1)[0]

    def step(self, cell: Cell) -> Evaluation:
        self.calls += 1
        self.arch = Architecture((cell,)) if self.arch is None else self.arch.append(cell)
        self.last_arch = self.arch
        key = str(self.arch)
        if key in self.diverge_at:
            return Evaluation(key, self.arch.depth, {"IS": float("nan"), "FID": float("nan")},
                              np.zeros(self.representation_dim, np.float32), diverged=True,
                              reason="injected divergence")
        q = self.quality(self.arch)
        noise = self.seed_noise * (_hash_floats(f"{key}|{self.seed}", 1)[0] - 0.5)
        is_ = 1.0 + 8.0 * q + noise
        fid = 250.0 * (1.0 - q) + 10.0 - 10 * noise
        rep = _hash_floats(key, self.representation_dim).astype(np.float32)
        return Evaluation(key, self.arch.depth, {"IS": is_, "FID": fid, "KID": fid / 1000},
                          rep, timings={"train_s": 0.0, "score_s": 0.0})

    def sample(self, n: int) -> torch.Tensor | None:
        arch = getattr(self, "last_arch", None)
        if arch is None:
            return None
        res = 4 * 2**arch.depth
        vals = torch.tensor(_hash_floats(str(arch), n * res * res), dtype=torch.float32)
        return vals.view(n, 1, res, res) * 2 - 1


class CachedEvaluator(Evaluator):
    """Records every evaluation of an inner evaluator in a results store and,
    with ``replay=True``, answers from the store instead of training.

    Stored rows are keyed by (config hash, prefix, GAN seed). On a miss after
    replayed steps, the inner evaluator re-trains the earlier cells of the
    prefix first, so its GAN is the one a plain run would have (bit for bit on
    CPU). The inner evaluator is created only when first needed.

    :param make_inner: factory of the evaluator that really trains.
    :param store: a :class:`~gan_nas_env.results_store.ResultsStore`.
    :param config_hash: :meth:`Config.proxy_hash` of the proxy settings.
    :param representation_dim: size of the representation (known without training).
    """

    def __init__(
        self, make_inner: Callable[[], Evaluator], store: ResultsStore, config_hash: str,
        representation_dim: int, replay: bool = True,
    ) -> None:
        self._make_inner = make_inner
        self._inner: Evaluator | None = None
        self.store = store
        self.config_hash = config_hash
        self.representation_dim = representation_dim
        self.replay = replay
        self.seed = 0
        self.arch: Architecture | None = None
        self._inner_depth = 0  # cells of self.arch the inner evaluator has trained
        self.hits = 0
        self.misses = 0

    @property
    def inner(self) -> Evaluator:
        """The real evaluator (created on first use)."""
        if self._inner is None:
            self._inner = self._make_inner()
        return self._inner

    def baseline(self) -> Evaluation:
        row = self.store.get_evaluation(self.config_hash, "", self.seed) if self.replay else None
        if row is not None:
            return _from_row(row)
        inner = self.inner
        inner.reset(self.seed)  # the baseline is the fresh generator of this episode's seed
        ev = inner.baseline()
        self._put("", self.seed, ev)
        return ev

    def reset(self, seed: int) -> None:
        # the inner evaluator is reset lazily at the first miss, so sample() still shows
        # the last trained generator after an auto-reset
        self.seed, self.arch, self._inner_depth = int(seed), None, 0

    def step(self, cell: Cell) -> Evaluation:
        self.arch = Architecture((cell,)) if self.arch is None else self.arch.append(cell)
        key = str(self.arch)
        row = self.store.get_evaluation(self.config_hash, key, self.seed) if self.replay else None
        if row is not None:
            self.hits += 1
            return _from_row(row)
        self.misses += 1
        inner = self.inner
        if self._inner_depth == 0:
            inner.reset(self.seed)
        for earlier in self.arch.cells[self._inner_depth : self.arch.depth - 1]:
            inner.step(earlier)  # catch up on replayed cells
        ev = inner.step(cell)
        self._inner_depth = self.arch.depth
        self._put(key, self.seed, ev)
        return ev

    def _put(self, key: str, seed: int, ev: Evaluation) -> None:
        self.store.put_evaluation(
            self.config_hash, key, seed, ev.depth, ev.metrics, ev.representation,
            ev.diverged, ev.reason, ev.timings, ev.losses,
        )

    def sample(self, n: int) -> torch.Tensor | None:
        """Samples of the most recently *trained* generator (None if all steps were replayed)."""
        return None if self._inner is None else self._inner.sample(n)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


def _from_row(row: dict) -> Evaluation:
    return Evaluation(
        arch=row["arch"], depth=row["depth"], metrics=row["metrics"],
        representation=row["representation"], diverged=row["diverged"], reason=row["reason"],
        timings=row["timings"], losses=row["losses"], cached=True,
    )
