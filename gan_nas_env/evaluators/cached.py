"""A results store in front of another evaluator: record every evaluation, replay stored ones."""

from __future__ import annotations

from collections.abc import Callable

import torch

from gan_nas_env.evaluators.base import Evaluation, Evaluator
from gan_nas_env.evaluators.store import ResultsStore
from gan_nas_env.space import Architecture, Cell


class CachedEvaluator(Evaluator):
    """Records an inner evaluator's evaluations in a results store; can replay them.

    Every evaluation of the inner evaluator is recorded and, with ``replay=True``,
    answered from the store instead of training.

    Stored rows are keyed by (config hash, prefix, GAN seed). On a miss after
    replayed steps, the inner evaluator re-trains the earlier cells of the
    prefix first, so its GAN is the one a plain run would have (bit for bit on
    CPU). The inner evaluator is created only when first needed.

    :param make_inner: factory of the evaluator that really trains.
    :param store: a :class:`~gan_nas_env.evaluators.store.ResultsStore`.
    :param config_hash: :meth:`Config.proxy_hash` of the proxy settings.
    :param representation_dim: size of the representation (known without training).
    :param owns_store: close ``store`` in :meth:`close` (a store opened for this evaluator
        alone); a store left to the garbage collector checkpoints its ``-wal`` file into the
        results file whenever it is collected, changing a finished run's files later.
    """

    def __init__(
        self, make_inner: Callable[[], Evaluator], store: ResultsStore, config_hash: str,
        representation_dim: int, replay: bool = True, owns_store: bool = False,
    ) -> None:
        self._make_inner = make_inner
        self._inner: Evaluator | None = None
        self.store = store
        self.owns_store = owns_store
        self.config_hash = config_hash
        self.representation_dim = representation_dim
        self.replay = replay
        self.seed = 0
        self.arch: Architecture | None = None
        self._inner_depth = 0  # cells of self.arch the inner evaluator has trained
        self._inner_ready = False  # the inner evaluator is reset to this episode's seed

    @property
    def inner(self) -> Evaluator:
        """The real evaluator (created on first use)."""
        if self._inner is None:
            self._inner = self._make_inner()
        return self._inner

    def baseline(self) -> Evaluation:
        """The episode seed's baseline, from the store or else from the inner evaluator."""
        row = self.store.get_evaluation(self.config_hash, "", self.seed) if self.replay else None
        if row is not None:
            return _from_row(row)
        inner = self.inner
        inner.reset(self.seed)  # the baseline is the fresh generator of this episode's seed
        self._inner_ready = True
        ev = inner.baseline()
        self._put("", self.seed, ev)
        return ev

    def reset(self, seed: int) -> None:
        """Start an episode with ``seed`` (the inner evaluator is reset on the first miss)."""
        # the inner evaluator is reset lazily at the first miss, so sample() still shows
        # the last trained generator after an auto-reset
        self.seed, self.arch, self._inner_depth, self._inner_ready = int(seed), None, 0, False

    def step(self, cell: Cell) -> Evaluation:
        """Add ``cell``; replay its evaluation from the store or else evaluate and record it."""
        self.arch = Architecture((cell,)) if self.arch is None else self.arch.append(cell)
        key = str(self.arch)
        row = self.store.get_evaluation(self.config_hash, key, self.seed) if self.replay else None
        if row is not None:
            return _from_row(row)
        inner = self.inner
        if not self._inner_ready:
            inner.reset(self.seed)
            self._inner_ready = True
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
        """Close the inner evaluator, if one was made, and the store if this evaluator owns it."""
        try:
            if self._inner is not None:
                self._inner.close()
        finally:
            if self.owns_store:
                self.store.close()


def _from_row(row: dict) -> Evaluation:
    return Evaluation(
        arch=row["arch"], depth=row["depth"], metrics=row["metrics"],
        representation=row["representation"], diverged=row["diverged"], reason=row["reason"],
        timings=row["timings"], losses=row["losses"], cached=True,
    )
