"""The tabular benchmark: answer proxy evaluations from a table of real ones.

A table holds, for every prefix of every evaluated architecture, the metrics,
the progressive representation and the measured train/score seconds, together
with the config that made it (and its proxy hash). Prefixes not in the table
are answered by a surrogate fitted on the table (:mod:`gan_nas_env.surrogate`).
``GANCellSearchBench-v0`` is :class:`~gan_nas_env.env.GANCellSearchEnv` with a
:class:`TabularEvaluator`; its steps report the simulated seconds the real
proxy would have taken in ``info["timings"]["simulated_s"]``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gan_nas_env.config import Config, load_config
from gan_nas_env.evaluators import Evaluation, Evaluator
from gan_nas_env.results_store import ResultsStore
from gan_nas_env.search_space import Architecture, Cell

ASSET_DIR = Path(__file__).resolve().parent / "assets"
DEFAULT_TABLE = ASSET_DIR / "table_fmnist_v1.npz"
METRIC_KEYS = ("IS", "FID", "KID")


class TableError(ValueError):
    """A table that cannot be used (missing, another proxy, malformed)."""


def export_table(store: ResultsStore, cfg: Config, path: str | Path) -> int:
    """Write every stored evaluation of ``cfg``'s proxy to a compressed ``.npz`` table.

    Only prefixes whose full chain was evaluated are kept. Returns the number of
    complete (3-cell) architectures.
    """
    rows = store.evaluations(cfg.proxy_hash())
    seed = cfg.env.fixed_gan_seed
    rows = [r for r in rows if r["seed"] == seed or r["depth"] == 0]
    if not rows:
        raise TableError(f"no evaluations of proxy {cfg.proxy_hash()} in {store.path}")
    archs = [r["arch"] for r in rows]
    metrics = np.array([[r["metrics"].get(k, np.nan) for k in METRIC_KEYS] for r in rows], np.float64)
    reps = np.stack([r["representation"] for r in rows]).astype(np.float16)
    secs = np.array([[r["timings"].get("train_s", 0.0), r["timings"].get("score_s", 0.0)] for r in rows])
    diverged = np.array([r["diverged"] for r in rows], bool)
    meta = {"config": cfg.to_dict(), "proxy_hash": cfg.proxy_hash(), "gan_seed": seed,
            "format": 1}
    buf = io.BytesIO()
    np.savez_compressed(
        buf, arch=np.array(archs), metrics=metrics, representation=reps, seconds=secs,
        diverged=diverged, meta=np.array(json.dumps(meta)),
    )
    tmp = Path(str(path) + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    return sum(len(a.split()) == 14 for a in archs)


@dataclass
class Table:
    """An in-memory table: prefix string -> row index."""

    archs: list[str]
    metrics: np.ndarray  # [n, 3] IS, FID, KID
    representation: np.ndarray  # [n, R]
    seconds: np.ndarray  # [n, 2] train_s, score_s
    diverged: np.ndarray
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path = DEFAULT_TABLE, expect_hash: str | None = None) -> Table:
        """Load a table file; ``expect_hash`` refuses a table made with another proxy."""
        path = Path(path)
        if not path.exists():
            raise TableError(f"table file {path} does not exist; build one with scripts/build_table.py")
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            table = cls([str(a) for a in z["arch"]], z["metrics"], z["representation"].astype(np.float32),
                        z["seconds"], z["diverged"], meta)
        if expect_hash is not None and meta["proxy_hash"] != expect_hash:
            raise TableError(
                f"table {path} was made with proxy {meta['proxy_hash']}, not {expect_hash}: "
                "tables made with different proxy settings are never mixed"
            )
        table.index = {a: i for i, a in enumerate(table.archs)}
        return table

    @property
    def config(self) -> Config:
        """The config the table was made with."""
        return load_config(None, {k: v for k, v in self.meta["config"].items()})

    def complete(self) -> list[str]:
        """Full (3-cell) architectures in the table."""
        return [a for a in self.archs if len(a.split()) == 14]

    def score(self, arch: str, alpha: float) -> float:
        """``IS - alpha * FID`` of a stored prefix."""
        m = self.metrics[self.index[arch]]
        return float(m[0] - alpha * m[1])


class TabularEvaluator(Evaluator):
    """Answers from a :class:`Table`, and from a surrogate for unseen prefixes.

    :param table: the loaded table.
    :param surrogate: fitted :class:`~gan_nas_env.surrogate.Surrogate` (fitted on demand if None).
    """

    def __init__(self, table: Table, surrogate: Any | None = None) -> None:
        self.table = table
        self._surrogate = surrogate
        self.representation_dim = table.representation.shape[1]
        self.arch: Architecture | None = None
        self.lookups = 0
        self.surrogate_calls = 0

    @property
    def surrogate(self) -> Any:
        """The surrogate model (fitted on first use)."""
        if self._surrogate is None:
            from gan_nas_env.surrogate import Surrogate

            self._surrogate = Surrogate.fit(self.table)
        return self._surrogate

    def baseline(self) -> Evaluation:
        return self._row("")

    def reset(self, seed: int) -> None:
        self.arch = None

    def step(self, cell: Cell) -> Evaluation:
        self.arch = Architecture((cell,)) if self.arch is None else self.arch.append(cell)
        key = str(self.arch)
        if key in self.table.index:
            self.lookups += 1
            return self._row(key)
        self.surrogate_calls += 1
        return self.surrogate.predict(self.arch)

    def _row(self, key: str) -> Evaluation:
        i = self.table.index[key]
        m = self.table.metrics[i]
        train_s, score_s = self.table.seconds[i]
        return Evaluation(
            arch=key, depth=0 if not key else len(Architecture.parse(key).cells),
            metrics={k: float(v) for k, v in zip(METRIC_KEYS, m)},
            representation=self.table.representation[i].copy(),
            diverged=bool(self.table.diverged[i]),
            timings={"simulated_s": float(train_s + score_s)}, cached=True,
        )


def make_bench_env(table: str | Path = DEFAULT_TABLE, render_mode: str | None = None,
                   overrides: dict[str, Any] | None = None) -> Any:
    """``GANCellSearchBench-v0``: the search env answered from a table."""
    from gan_nas_env.env import GANCellSearchEnv

    tab = Table.load(table)
    cfg = load_config(tab.config, overrides) if overrides else tab.config
    return GANCellSearchEnv(cfg, evaluator=TabularEvaluator(tab), render_mode=render_mode)
