"""The tabular benchmark: answer proxy evaluations from a table of real ones.

A table holds, for every prefix of every evaluated architecture, the metrics,
the progressive representation and the measured train/score seconds, together
with the config that made it (and its proxy hash). Prefixes not in the table
are answered by a surrogate fitted on the table (:mod:`gan_nas_env.evaluators.surrogate`).

``GANCellSearchBench-v0`` (:mod:`gan_nas_env.envs.bench_env`) is
:class:`~gan_nas_env.envs.search_env.GANCellSearchEnv` with a :class:`TabularEvaluator`. Like NATS-Bench it runs a simulated clock: every step
reports in ``info["timings"]``

| key | meaning |
|---|---|
| ``simulated_s`` | seconds the real proxy took for this step (train + score) |
| ``simulated_train_s`` / ``simulated_score_s`` | the two parts |
| ``simulated_total_s`` | simulated seconds of every step of this evaluator so far |

Surrogate answers report the table's mean seconds at that depth.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gan_nas_env.config import MODEL_CODE_VERSION, Config, load_config
from gan_nas_env.errors import UserError
from gan_nas_env.evaluators.base import Evaluation, Evaluator
from gan_nas_env.evaluators.store import ResultsStore
from gan_nas_env.metrics.score import (
    FID,
    FID_COL,
    IS,
    IS_COL,
    KID,
    KID_COL,
    METRIC_KEYS,
    SCORE_KEYS,
    score_columns,
    score_of,
)
from gan_nas_env.resources import ASSET_DIR
from gan_nas_env.space import CELL_WIDTHS, NUM_CELLS, SPACE, Architecture, ArchitectureError, Cell

if TYPE_CHECKING:
    from gan_nas_env.evaluators.final import FinalRows
    from gan_nas_env.evaluators.surrogate import Surrogate

DEFAULT_TABLE = ASSET_DIR / "table_fmnist_v2.npz"
TABLE_FORMAT = 1


class TableError(UserError, ValueError):
    """A table that cannot be used (missing, another proxy, malformed)."""


class NotInTableError(TableError, KeyError):
    """An architecture (prefix) that the table stores no row of; the message says what answers it."""

    def __str__(self) -> str:  # KeyError quotes its message; this one is a sentence
        return str(self.args[0])


META_KEYS = {
    "format": "the table format",
    "config": "the config the table was made with",
    "proxy_hash": "the hash of its proxy settings",
    "gan_seed": "the GAN seed of its evaluations",
    "metrics": "the names of its metric columns",
}
"""What every table's metadata holds (:func:`export_table` writes them, :meth:`Table.load` checks them)."""


def sampling_order(seed: int, n: int) -> list[Architecture]:
    """The first ``n`` draws of the tables' seeded uniform sampler (repeats included).

    ``scripts/build_table.py`` evaluates architectures in this order (a larger ``n``
    extends a table without changing its start) and ``scripts/build_finals.py`` trains
    its final rows in it.
    """
    rng = np.random.default_rng(seed)
    return [SPACE.sample(rng) for _ in range(n)]


_DEPTH_OF_LENGTH = {0: 0, **{n: d + 1 for d, n in enumerate(itertools.accumulate(CELL_WIDTHS))}}


def prefix_depth(arch: str) -> int:
    """Cells in a canonical prefix string (0 for the empty baseline)."""
    n = len(arch.split())
    if n not in _DEPTH_OF_LENGTH:
        raise ArchitectureError(f"{arch!r} is not a canonical prefix string (4, 9 or 14 integers)")
    return _DEPTH_OF_LENGTH[n]


def export_table(store: ResultsStore, cfg: Config, path: str | Path,
                 finals: FinalRows | None = None, surrogate: bool = True,
                 uniform_draws: int | None = None) -> int:
    """Write every stored evaluation of ``cfg``'s proxy to a compressed ``.npz`` table.

    Only evaluations with ``cfg.env.fixed_gan_seed`` are kept (plus the baseline),
    and only prefixes whose shorter prefixes are stored too. Returns the number
    of complete (3-cell) architectures.

    :param finals: final-protocol rows (the table's second fidelity), stored with
        their protocol's hash and config.
    :param uniform_draws: the final rows' uniform sample is the first ``uniform_draws`` of
        the sampling order (the rest of ``finals``, such as agents' best architectures, is
        not uniform and must not set the reference a benchmark normalises against). None:
        every table architecture with a final row counts as uniform.
    :param surrogate: fit the surrogates now and store their predictions of every
        prefix (and, with ``finals``, every complete architecture's final metrics),
        so that the bench env starts without fitting anything.
    """
    seed = cfg.env.fixed_gan_seed
    if seed is None:
        raise TableError("a table needs env.fixed_gan_seed: evaluations must be a function of the prefix")
    rows = [r for r in store.evaluations(cfg.proxy_hash()) if r["seed"] == seed or not r["arch"]]
    have = {r["arch"] for r in rows}
    rows = [r for r in rows if all(str(Architecture.parse(r["arch"]).prefix(d)) in have
                                   for d in range(1, prefix_depth(r["arch"])))]
    if not rows or "" not in have:
        raise TableError(f"no evaluations of proxy {cfg.proxy_hash()} in {store.path}")
    metrics = np.array([[r["metrics"].get(k, np.nan) for k in METRIC_KEYS] for r in rows], np.float64)
    secs = np.array([[r["timings"].get("train_s", 0.0), r["timings"].get("score_s", 0.0)] for r in rows])
    meta = {"config": cfg.to_dict(), "proxy_hash": cfg.proxy_hash(), "gan_seed": seed,
            "format": TABLE_FORMAT, "metrics": list(METRIC_KEYS), "model_code": MODEL_CODE_VERSION}
    arrays: dict[str, np.ndarray] = dict(
        arch=np.array([r["arch"] for r in rows]), metrics=metrics,
        representation=np.stack([r["representation"] for r in rows]).astype(np.float16),
        seconds=secs, diverged=np.array([r["diverged"] for r in rows], bool),
    )
    if finals is not None:
        arrays.update(final_arch=np.array(finals.archs), final_seed=finals.seeds,
                      final_metrics=finals.metrics, final_train_s=finals.train_s)
        final_meta: dict[str, Any] = {"final_hash": finals.final_hash, "config": finals.config,
                                      "uniform_draws": uniform_draws}
        if finals.curves is not None and finals.curve_iters is not None:
            arrays.update(final_curve_iters=finals.curve_iters, final_curves=finals.curves)
            final_meta["budget"] = finals.budget
        meta["final"] = final_meta
    if surrogate:
        table = Table(list(arrays["arch"]), metrics, arrays["representation"].astype(np.float32),
                      secs, arrays["diverged"], meta)
        table._finals = finals
        arrays.update(_surrogate_arrays(table, meta))
    buf = io.BytesIO()
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    tmp = Path(str(path) + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    return sum(prefix_depth(r["arch"]) == NUM_CELLS for r in rows)


def restore_store(table: Table, store: ResultsStore) -> int:
    """Store a table's proxy rows that ``store`` lacks (the inverse of :func:`export_table`).

    A fresh clone has the committed table but not the store it was exported from: with
    its rows restored, :func:`export_table` (say with more final rows) writes the same
    proxy arrays again without re-training anything. Returns how many rows were new.
    """
    key, seed = table.meta["proxy_hash"], int(table.meta["gan_seed"])
    new = 0
    for i, arch in enumerate(table.archs):
        if store.get_evaluation(key, arch, seed) is not None:
            continue  # the store's own row wins: it has what the table drops (losses, other metrics)
        metrics = {k: float(v) for k, v in zip(METRIC_KEYS, table.metrics[i]) if not np.isnan(v)}
        store.put_evaluation(key, arch, seed, prefix_depth(arch), metrics, table.representation[i],
                             diverged=bool(table.diverged[i]),
                             timings={"train_s": float(table.seconds[i, 0]), "score_s": float(table.seconds[i, 1])})
        new += 1
    return new


def _pack(a: np.ndarray) -> dict[str, np.ndarray]:
    """``a`` (``[n, k]`` floats) as uint16 with a per-column offset and step (1/65535 of its range)."""
    lo, hi = a.min(0), a.max(0)
    step = np.where(hi > lo, (hi - lo) / 65535.0, 1.0)
    return {"q": np.round((a - lo) / step).astype(np.uint16), "lo": lo, "step": step}


def _unpack(z: Any, prefix: str) -> np.ndarray:
    return (z[f"{prefix}_q"] * z[f"{prefix}_step"] + z[f"{prefix}_lo"]).astype(np.float32)


def _surrogate_arrays(table: Table, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """Fit the table's surrogates; their predictions as packed arrays (and their reports in ``meta``)."""
    import sklearn

    from gan_nas_env.evaluators.final import fit_final_surrogate, predict_final_grid

    sur = table.surrogate()
    out: dict[str, np.ndarray] = {}
    for depth, grid in sur.grids().items():
        out.update({f"grid{depth}_{k}": v for k, v in _pack(grid).items()})
    meta["surrogate"] = {"kind": sur.kind, "holdout": {str(d): h for d, h in sur.holdout.items()},
                         "sklearn": sklearn.__version__}
    if table._finals is not None:
        model, report = fit_final_surrogate(table._finals, table.alpha)
        out.update({f"final_grid_{k}": v for k, v in _pack(predict_final_grid(model)).items()})
        meta["final"]["surrogate"] = report
    return out


def _check_meta(meta: Any, files: list[str], path: Path) -> None:
    """Refuse table metadata that lacks a key (or names other metric columns), naming it and the file."""
    if not isinstance(meta, dict):
        raise TableError(f"{path}: its metadata is a {type(meta).__name__}, not a JSON object; rebuild "
                         "it with scripts/build_table.py --export")
    need = dict(META_KEYS)
    if "final_arch" in files:
        need["final"] = "the final protocol of its final_* arrays"
    if any(f.startswith("grid") and f.endswith("_q") for f in files):
        need["surrogate"] = "the surrogate of its grid arrays"
    missing = [k for k in need if k not in meta]
    if missing:
        raise TableError(
            f"{path}: its metadata lacks the key{'s' if len(missing) > 1 else ''} "
            + ", ".join(f"{k!r} ({need[k]})" for k in missing)
            + "; the file is damaged or was not written by export_table: rebuild it with "
            "scripts/build_table.py --export"
        )
    if list(meta["metrics"]) != list(METRIC_KEYS):
        raise TableError(
            f"{path}: its metric columns are {list(meta['metrics'])}, not {list(METRIC_KEYS)}: the "
            "columns would be read as the wrong metrics; rebuild it with scripts/build_table.py --export"
        )
    try:
        load_config(None, dict(meta["config"]))
    except (UserError, TypeError, ValueError) as exc:
        raise TableError(f"{path}: the config stored in the table is not valid ({exc})") from None


@dataclass
class Table:
    """An in-memory table of proxy evaluations, indexed by canonical prefix string."""

    archs: list[str]
    metrics: np.ndarray  # [n, 3] IS, FID, KID
    representation: np.ndarray  # [n, R] float32
    seconds: np.ndarray  # [n, 2] train_s, score_s
    diverged: np.ndarray  # [n] bool
    meta: dict[str, Any]
    path: str = ""
    index: dict[str, int] = field(init=False, repr=False)
    _surrogate: Surrogate | None = field(default=None, init=False, repr=False)
    _finals: FinalRows | None = field(default=None, init=False, repr=False)
    _final_grid: np.ndarray | None = field(default=None, init=False, repr=False)
    _final_groups: dict[str, np.ndarray] | None = field(default=None, init=False, repr=False)
    _depths: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {a: i for i, a in enumerate(self.archs)}

    @classmethod
    def load(cls, path: str | Path = DEFAULT_TABLE, expect_hash: str | None = None) -> Table:
        """Load a table file; ``expect_hash`` refuses a table made with another proxy."""
        path = table_path(path)
        if not path.exists():
            raise TableError(f"table file {path} does not exist; build one with scripts/build_table.py")
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                _check_meta(meta, z.files, path)
                table = cls([str(a) for a in z["arch"]], z["metrics"],
                            z["representation"].astype(np.float32), z["seconds"], z["diverged"], meta,
                            str(path))
                table._check_shapes()
                table._load_extras(z)
        except TableError:
            raise
        except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise TableError(f"{path} is not a benchmark table ({type(exc).__name__}: {exc}); "
                             "rebuild it with scripts/build_table.py --export") from None
        if meta.get("format") != TABLE_FORMAT or "" not in table.index:
            raise TableError(f"{path}: unsupported table format {meta.get('format')!r}")
        code = meta.get("model_code", 1)  # tables from before the version was recorded: v1
        if code != MODEL_CODE_VERSION:
            raise TableError(
                f"table {path} was made by model code v{code}; this version of gan-nas-env uses "
                f"model code v{MODEL_CODE_VERSION} (docs/fidelity.md): its numbers do not describe "
                "these models. Rebuild it with scripts/build_table.py"
            )
        if expect_hash is not None and meta["proxy_hash"] != expect_hash:
            raise TableError(
                f"table {path} was made with proxy {meta['proxy_hash']}, not {expect_hash}: "
                "tables made with different proxy settings are never mixed"
            )
        return table

    def _check_shapes(self) -> None:
        """One row per architecture in every array, one column per metric name."""
        n = len(self.archs)
        want = {"metrics": (n, len(METRIC_KEYS)), "representation": (n, None), "seconds": (n, 2),
                "diverged": (n,)}
        for name, shape in want.items():
            got = getattr(self, name).shape
            if len(got) != len(shape) or any(w is not None and g != w for g, w in zip(got, shape)):
                raise TableError(
                    f"{self.path}: array {name!r} has shape {got}, not {shape} ({n} architectures); "
                    "the file is damaged: rebuild it with scripts/build_table.py --export"
                )

    def _load_extras(self, z: Any) -> None:
        """The optional parts of a table file: final rows and the stored surrogate predictions."""
        from gan_nas_env.evaluators.final import FinalRows

        if "final_arch" in z:
            final = self.meta["final"]
            self._finals = FinalRows([str(a) for a in z["final_arch"]], z["final_seed"],
                                     z["final_metrics"], z["final_train_s"], final["final_hash"],
                                     final["config"])
            if "final_curves" in z:
                self._finals.curve_iters, self._finals.curves = z["final_curve_iters"], z["final_curves"]
                self._finals.budget = final.get("budget")
        if "final_grid_q" in z:
            self._final_grid = _unpack(z, "final_grid")
        depths = [d for d in range(1, NUM_CELLS + 1) if f"grid{d}_q" in z]
        if depths:
            from gan_nas_env.evaluators.surrogate import Surrogate

            info = self.meta["surrogate"]
            self._surrogate = Surrogate.from_grids(
                self, {d: _unpack(z, f"grid{d}") for d in depths},
                {int(d): h for d, h in info["holdout"].items()}, info["kind"])

    @property
    def finals(self) -> FinalRows | None:
        """The final-protocol rows (second fidelity), or None for a proxy-only table."""
        return self._finals

    def final(self, arch: str, iters: int | None = None) -> dict[str, Any] | None:
        """Final metrics of a complete architecture: measured (seed mean) or surrogate-predicted.

        :param iters: a checkpoint of the learning curves (tables of final protocol v2):
            the metrics after that many generator iterations, measured rows only. None:
            the protocol's budget.
        :return: ``IS``, ``FID``, ``score`` (``IS - alpha FID``), ``measured`` and
            ``seeds`` (rows averaged; with ``iters`` also ``KID``, ``wall_s`` and ``iters``);
            None when the table has no final fidelity, or, with ``iters``, no row of
            ``arch`` reaching that checkpoint.
        :raises CheckpointError: ``iters`` is not a stored checkpoint (the message lists them).
        """
        if self._finals is None:
            return None
        if iters is not None:
            return self._final_at(arch, iters)
        rows = self._final_by_arch().get(arch)
        if rows is not None:
            m = rows.mean(0)
            return {IS: float(m[IS_COL]), FID: float(m[FID_COL]),
                    "score": float(score_columns(m, self.alpha)), "measured": True, "seeds": len(rows)}
        if self._final_grid is None:
            return None
        m = self._final_grid[SPACE.index(Architecture.parse(arch))]  # SCORE_KEYS columns
        return {IS: float(m[IS_COL]), FID: float(m[FID_COL]),
                "score": float(score_columns(m, self.alpha, SCORE_KEYS)), "measured": False, "seeds": 0}

    def _final_at(self, arch: str, iters: int) -> dict[str, Any] | None:
        """Measured metrics of ``arch`` at checkpoint ``iters`` (seed mean of the rows reaching it)."""
        from gan_nas_env.evaluators.final import CURVE_KEYS, WALL_COL

        assert self._finals is not None
        at = self._finals.at(iters)  # CheckpointError names the stored checkpoints
        mine = np.array([a == arch for a in self._finals.archs]) & ~np.isnan(at[:, FID_COL])
        if not mine.any():
            return None
        m = at[mine].mean(0)  # CURVE_KEYS columns
        return {IS: float(m[IS_COL]), FID: float(m[FID_COL]), KID: float(m[KID_COL]),
                "score": float(score_columns(m, self.alpha, CURVE_KEYS)), "wall_s": float(m[WALL_COL]),
                "measured": True, "seeds": int(mine.sum()), "iters": int(iters)}

    def uniform_sample(self, default_draws: int | None = None, draws: int | None = None) -> list[str]:
        """The distinct architectures of the final rows' uniform sample, in sampling order.

        They are the first ``uniform_draws`` of the table's sampling order (recorded at
        export; ``default_draws`` when the table has no record). Without either, every
        complete architecture of the table. ``draws`` overrides the record (another
        protocol's sample: v1's rows were built for the first 150).
        """
        draws = draws or (self.meta.get("final") or {}).get("uniform_draws") or default_draws
        if draws is None:
            return self.complete()
        return list(dict.fromkeys(str(a) for a in sampling_order(self.config.seed, int(draws))))

    def final_uniform(self) -> list[str]:
        """The uniformly sampled architectures with a final row, in sampling order.

        Agents' best architectures trained beside them are not among them
        (:meth:`uniform_sample`).
        """
        if self._finals is None:
            return []
        have = self._final_by_arch()
        return [a for a in self.uniform_sample() if a in have]

    def final_grid(self) -> np.ndarray | None:
        """The final surrogate's ``[IS, FID]`` of every complete architecture, in ``SPACE.index`` order.

        The predictions stored in the table file (measured architectures included: these are
        predictions, not their rows); None when the table stores none.
        """
        return self._final_grid

    def _final_by_arch(self) -> dict[str, np.ndarray]:
        if self._final_groups is None:
            self._final_groups = self._finals.by_arch() if self._finals is not None else {}
        return self._final_groups

    @property
    def config(self) -> Config:
        """The config the table was made with."""
        return load_config(None, dict(self.meta["config"]))

    @property
    def alpha(self) -> float:
        """The FID weight of the score, from the table's config."""
        return float(self.meta["config"]["env"]["alpha"])

    def depths(self) -> np.ndarray:
        """Depth of every row."""
        if self._depths is None:
            self._depths = np.array([prefix_depth(a) for a in self.archs])
        return self._depths

    def complete(self) -> list[str]:
        """Full (3-cell) architectures in the table."""
        return [a for a in self.archs if prefix_depth(a) == NUM_CELLS]

    def row(self, arch: str) -> int:
        """The row of a stored prefix; :class:`NotInTableError` (a ``KeyError``) for any other."""
        i = self.index.get(arch) if isinstance(arch, str) else None
        if i is None:
            raise NotInTableError(
                f"table {self.path or '(in memory)'} stores no row of {arch!r} (a canonical prefix "
                f"string: 0, 4, 9 or 14 integers); Table.query and Table.score answer its "
                f"{len(self.archs)} stored prefixes ({len(self.complete())} complete "
                "architectures, Table.complete()); GANBench.query (gan_nas_env.bench) answers any "
                "architecture, from the table's surrogate where it has no row"
            )
        return i

    def score(self, arch: str, alpha: float | None = None) -> float:
        """``IS - alpha * FID`` of a stored prefix (NaN if it diverged).

        :raises NotInTableError: ``arch`` is not stored (a ``KeyError``).
        """
        i = self.row(arch)
        if self.diverged[i]:
            return float("nan")
        return float(score_columns(self.metrics[i], self.alpha if alpha is None else alpha))

    def proxy_score(self, arch: Architecture) -> tuple[float, bool]:
        """``IS - alpha * FID`` of any prefix at the proxy, and whether it was measured.

        The table's row when it holds the prefix, the surrogate's prediction otherwise.
        """
        if str(arch) in self.index:
            return self.score(str(arch)), True
        return score_of(self.surrogate().predict(arch).metrics, self.alpha), False

    def query(self, arch: str) -> dict[str, Any]:
        """NATS-Bench style record of a stored prefix: metrics, score and cost.

        The cost of a prefix is what the real proxy spent on its last cell; the
        cost of reaching it from scratch (``cumulative_s``) adds its shorter prefixes.

        :raises NotInTableError: ``arch`` is not stored (a ``KeyError``; the message names
            what answers any architecture: :meth:`gan_nas_env.bench.GANBench.query`).
        """
        i = self.row(arch)
        chain = [str(Architecture.parse(arch).prefix(d)) for d in range(1, prefix_depth(arch) + 1)]
        final = self.final(arch) if prefix_depth(arch) == NUM_CELLS else None
        return {**({"final": final} if final is not None else {}),
            "arch": arch, **{k: float(v) for k, v in zip(METRIC_KEYS, self.metrics[i])},
            "score": self.score(arch), "diverged": bool(self.diverged[i]),
            "train_s": float(self.seconds[i, 0]), "score_s": float(self.seconds[i, 1]),
            "cumulative_s": float(sum(self.seconds[self.index[p]].sum() for p in chain)),
        }

    def surrogate(self) -> Surrogate:
        """The surrogate fitted on this table (fitted once, on first use)."""
        if self._surrogate is None:
            from gan_nas_env.evaluators.surrogate import Surrogate

            self._surrogate = Surrogate.fit(self)
        return self._surrogate


def landscape(table: Table) -> np.ndarray:
    """Score ``IS - alpha FID`` of every full architecture, in ``SPACE.index`` order.

    Scores are as the bench env answers them: table rows where measured, surrogate
    predictions elsewhere.
    """
    from gan_nas_env.space import SPACE

    pred = table.surrogate().predict_all()
    scores = score_columns(pred, table.alpha)
    for arch in table.complete():
        scores[SPACE.index(Architecture.parse(arch))] = table.score(arch)
    return scores


_LOADED: dict[tuple[str, str | None], tuple[tuple[Any, ...], Table]] = {}


def file_stamp(path: Path) -> tuple[Any, ...] | None:
    """What identifies the content of a table file (None: not a readable zip).

    Its inode, size and modification time, and the name, CRC-32 and size of every array in
    its zip directory.

    A file replaced by another with the same modification time (``cp -p``, ``rsync -t``, an
    unpacked archive) has other CRCs, so it is never answered from the old one's cache.
    """
    try:
        st = path.stat()
        with zipfile.ZipFile(path) as zf:
            members = tuple((i.filename, i.CRC, i.file_size) for i in zf.infolist())
    except (OSError, zipfile.BadZipFile):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, members)


def table_path(path: object) -> Path:
    """``path`` as a :class:`~pathlib.Path`; anything but a string or path is a :class:`TableError`.

    ``gym.make(..., table=3)`` or ``GANBench.load(None)`` would otherwise end in the
    ``TypeError`` of :class:`~pathlib.Path`, deep in the env's creator.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise TableError(f"a table is the path of a .npz table file, not {path!r}")
    return Path(path)


def load_table(path: str | Path = DEFAULT_TABLE, expect_hash: str | None = None) -> Table:
    """:meth:`Table.load`, shared between envs of one process (so the surrogate is fitted once).

    The shared copy is used while :func:`file_stamp` of the file is unchanged; a file that
    changed is loaded again.
    """
    p = table_path(path).resolve()
    stamp, key = file_stamp(p), (str(p), expect_hash)
    hit = _LOADED.get(key)
    if stamp is not None and hit is not None and hit[0] == stamp:
        return hit[1]
    table = Table.load(p, expect_hash)  # a missing or unreadable file raises its TableError here
    if stamp is not None:
        _LOADED[key] = (stamp, table)
    return table


class TabularEvaluator(Evaluator):
    """Answers from a :class:`Table`, and from its surrogate for unseen prefixes.

    :param table: the loaded table.
    :param surrogate: a fitted :class:`~gan_nas_env.evaluators.surrogate.Surrogate` (default:
        the table's own, fitted on first use).
    """

    def __init__(self, table: Table, surrogate: Surrogate | None = None) -> None:
        self.table = table
        self._surrogate = surrogate
        self.representation_dim = table.representation.shape[1]
        self.arch: Architecture | None = None
        self.lookups = 0
        self.surrogate_calls = 0
        self.clock_s = 0.0

    @property
    def surrogate(self) -> Surrogate:
        """The surrogate model answering prefixes the table lacks."""
        if self._surrogate is None:
            self._surrogate = self.table.surrogate()
        return self._surrogate

    def baseline(self) -> Evaluation:
        """The table's row for the empty architecture."""
        return self._row("")

    def reset(self, seed: int) -> None:
        """Start an episode (the table does not depend on the seed)."""
        self.arch = None

    def step(self, cell: Cell) -> Evaluation:
        """Add ``cell``; answer from the table, or from the surrogate for an unseen prefix."""
        self.arch = Architecture((cell,)) if self.arch is None else self.arch.append(cell)
        key = str(self.arch)
        if key in self.table.index:
            self.lookups += 1
            ev = self._row(key)
        else:
            self.surrogate_calls += 1
            ev = self.surrogate.predict(self.arch)
        self.clock_s += ev.timings["simulated_s"]
        ev.timings["simulated_total_s"] = self.clock_s
        return ev

    def _row(self, key: str) -> Evaluation:
        i = self.table.index[key]
        train_s, score_s = (float(s) for s in self.table.seconds[i])
        return Evaluation(
            arch=key, depth=prefix_depth(key),
            metrics={k: float(v) for k, v in zip(METRIC_KEYS, self.table.metrics[i])},
            representation=self.table.representation[i].copy(),
            diverged=bool(self.table.diverged[i]), reason="diverged" if self.table.diverged[i] else "",
            timings={"simulated_s": train_s + score_s, "simulated_train_s": train_s,
                     "simulated_score_s": score_s},
            cached=True,
        )
