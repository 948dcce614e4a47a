"""The benchmark API: what training any architecture would score and cost, at either fidelity.

NATS-Bench style, with the fidelity as a parameter::

    from gan_nas_env.bench import GANBench
    bench = GANBench.load()                                   # the shipped table (or a path)
    r = bench.query("0 1 0 1 0 1 2 1 0 0 1 0 1 2", fidelity="final")
    r["objective"], r["measured"], r["n_seeds"], r["cost"]["train_s"]
    bench.query(arch, fidelity="proxy")                       # any complete architecture or prefix
    bench.query(arch, fidelity="final", iters=1000)           # a stored checkpoint of the curves
    bench.query(arch, fidelity="final", seed="random", rng=np.random.default_rng(0))
    bench.seed_noise(fidelity="final")                        # the seed-noise model's sd per metric
    len(bench); bench.arch(i); bench.index(arch)
    bench.find_best(fidelity="final")                         # measured rows only unless told
    bench.simulate(arch, fidelity="final"); bench.used_time; bench.reset_time()

A record (:meth:`GANBench.query`):

| key | meaning |
|---|---|
| ``arch`` | canonical string |
| ``index`` | position in ``range(len(bench))`` (None for a prefix) |
| ``fidelity`` | ``proxy`` or ``final`` |
| ``depth`` | cells (1..3; the final fidelity: 3) |
| ``iters`` | final: the learning-curve checkpoint answered (the protocol's budget by default; None for rows without curves); proxy: None |
| ``IS``, ``FID``, ``KID`` | metrics (seed mean unless one row was asked for); KID is NaN where the surrogate predicts (the final surrogate predicts IS and FID only) |
| ``score`` | ``IS - alpha * FID`` |
| ``objective`` | what the benchmark ranks by at that fidelity, higher is better (:func:`objective`) |
| ``measured`` | True: a stored row; False: predicted by the table's surrogate |
| ``n_seeds`` | stored rows (training seeds) of the architecture at this fidelity/checkpoint; 0 when predicted |
| ``seed`` | the training seed of the row answered when it is one stored row, None for a mean, a prediction or a noisy value |
| ``noise`` | how ``seed="random"`` was answered: ``"stored seed"`` (one of several stored rows, drawn), ``"model"`` (the value plus a draw from the seed-noise model, :meth:`GANBench.seed_noise`), ``"unavailable"`` (no model: the value as it is); None when no noise was asked for |
| ``noise_sd`` | with ``noise="model"``: the model's sd of ``IS``, ``FID``, ``KID``, ``score``, ``objective``; else None |
| ``diverged`` | the proxy row diverged (its score and objective are NaN) |
| ``cost`` | ``train_s``, ``params``, ``flops`` (below) |

``cost``: ``train_s`` is the simulated seconds of obtaining the record from scratch. At the
proxy: train + score seconds of every cell of the prefix (the table's measured seconds; a
prefix it lacks costs the table's mean at that depth). At the final fidelity: the row's
seconds to the checkpoint (``wall_s`` of the curves, or the row's ``train_s`` for rows
without curves; the mean of the rows answered); a predicted architecture costs the mean of
every measured row. ``params`` and ``flops`` describe the generator at that fidelity's
widths (the proxy's config, or the final protocol's ``retrain.gf``): ``params`` counts its
trainable parameters (``num_generators`` copies), ``flops`` the multiply-accumulates of
generating one image (``Linear``, ``Conv2d`` and ``ConvTranspose2d`` layers; norms,
activations and interpolation are not counted), as NATS-Bench and ``thop`` count FLOPs.

Both are sums of one term per cell plus the stem and head (a cell's layers depend only on
its own choices and position), so ``assets/generator_costs.json`` stores the per-cell terms
of the shipped table's widths (written by ``scripts/build_generator_costs.py``; the tests
check it against the generator). Queries need no torch; for other widths the terms are
computed once with torch on the meta device (no weights, no arithmetic).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gan_nas_env.config import load_config
from gan_nas_env.errors import UserError
from gan_nas_env.evaluators.final import WALL_COL, FinalRows
from gan_nas_env.evaluators.tabular import DEFAULT_TABLE, Table, TableError, load_table
from gan_nas_env.generator_costs import Widths, generator_cost
from gan_nas_env.metrics.score import FID_COL, IS_COL, METRIC_KEYS, score
from gan_nas_env.seed_noise import SeedNoise, pooled_noise
from gan_nas_env.space import (
    SPACE,
    Architecture,
    ArchitectureError,
    resolve_architecture,
)

FIDELITIES = ("proxy", "final")

FINAL_OBJECTIVE = "score"
"""What the final fidelity ranks by; :func:`objective` is the one place that reads it.

``"score"``: ``IS - alpha * FID`` (today's choice, the proxy's too); ``"neg_FID"``: ``-FID``.
The ground-truth issue (25) decides; switching is this one line (and a note in
``docs/bench_api.md``).
"""
FINAL_OBJECTIVES = ("score", "neg_FID")


class BenchError(UserError, ValueError):
    """A benchmark query that cannot be answered as asked (fidelity, seed, checkpoint, index)."""


def objective(is_: Any, fid: Any, alpha: float, fidelity: str) -> Any:
    """The value the benchmark ranks by at ``fidelity``; higher is better.

    Proxy: ``IS - alpha * FID`` (what the env's reward telescopes to). Final: by
    :data:`FINAL_OBJECTIVE`. Works on floats and on numpy arrays alike.
    """
    if fidelity == "final" and FINAL_OBJECTIVE == "neg_FID":
        return -fid
    return score(is_, fid, alpha)


def parse_arch(arch: str | Sequence[int] | Architecture | int) -> Architecture:
    """An :class:`Architecture` from a canonical string, a name, a list of integers or an index.

    :raises ArchitectureError: (a :class:`UserError`) naming what is wrong.
    """
    if isinstance(arch, Architecture):
        return arch
    if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
        if not 0 <= int(arch) < len(SPACE):
            raise ArchitectureError(f"architecture index {arch} is out of range 0..{len(SPACE) - 1}")
        return SPACE.from_index(int(arch))
    if isinstance(arch, str):
        return resolve_architecture(arch)
    if isinstance(arch, (list, tuple, np.ndarray)):
        return Architecture.from_vector(list(arch))
    raise ArchitectureError(f"an architecture is a string, a list of integers, an Architecture or an "
                            f"index, not {type(arch).__name__}")


def _whole_number(value: Any) -> int | None:
    """``value`` as an int when it is a whole number, else None.

    Whole: an int, a numpy integer, a float like 500.0 or a string of digits; not a
    fraction, a bool or anything else.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if float(value).is_integer() else None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


# -- the benchmark ---------------------------------------------------------------------------


class GANBench:
    """Any architecture of the space at the proxy or the final fidelity, with a simulated clock.

    :param table: the loaded table (:class:`~gan_nas_env.evaluators.tabular.Table`).
    :param alpha: FID weight of ``score`` and of the proxy objective (default: the table's
        ``env.alpha``; 0 is the IS-only reward). The final objective is the benchmark's own,
        at the table's ``env.alpha`` whatever ``alpha`` says, so that final results compare
        across the rewards a search was run with.
    """

    def __init__(self, table: Table, alpha: float | None = None) -> None:
        self.table = table
        self.alpha = table.alpha if alpha is None else float(alpha)
        self._used_s = 0.0
        self._rows: dict[str, list[int]] | None = None
        self._columns: dict[int | None, tuple[np.ndarray, np.ndarray]] = {}
        self._widths: dict[str, Widths] = {}
        self._noise: dict[int | None, SeedNoise] = {}

    @classmethod
    def load(cls, path: str | Path = DEFAULT_TABLE, alpha: float | None = None) -> GANBench:
        """The benchmark of a table file (default: the shipped one; loaded once per process)."""
        return cls(load_table(path), alpha)

    # -- index -----------------------------------------------------------------------------
    def __len__(self) -> int:
        """Complete architectures in the space (every one can be queried)."""
        return len(SPACE)

    def arch(self, index: int) -> str:
        """The canonical string of the architecture at ``index`` (``SPACE.index`` order)."""
        if _whole_number(index) is None or isinstance(index, str):
            raise ArchitectureError(f"an architecture index is a whole number, not {index!r}")
        return str(parse_arch(int(index)))

    def index(self, arch: str | Sequence[int] | Architecture) -> int:
        """The index of a complete architecture."""
        a = parse_arch(arch)
        if not a.is_complete:
            raise ArchitectureError(f"only complete 3-cell architectures have an index; {str(a)!r} "
                                    f"has {a.depth} cell(s)")
        return SPACE.index(a)

    # -- queries ---------------------------------------------------------------------------
    def query(self, arch: str | Sequence[int] | Architecture | int, fidelity: str = "final",
              iters: int | None = None, seed: int | str | None = None,
              rng: np.random.Generator | None = None, cost: bool = True) -> dict[str, Any]:
        """The record of ``arch`` at ``fidelity`` (keys in the module docstring).

        :param arch: a canonical string (or a name: ``e2gan``, ``autogan``), a list of
            integers, an :class:`Architecture` or an index. The final fidelity needs a
            complete architecture, the proxy takes any prefix.
        :param fidelity: ``proxy`` (the table's proxy) or ``final`` (the final protocol).
        :param iters: final only: a stored learning-curve checkpoint (measured rows only;
            the budget's checkpoint is also predicted). None: the protocol's budget.
        :param seed: None: the mean of the stored seeds; ``"random"``: seed noise, drawn with
            ``rng``: one stored seed's row when there are several, else (one row, or a
            prediction) the value plus a draw from :meth:`seed_noise`'s model, or the value as
            it is when the table has no model (``noise`` says which); an int: that seed's row.
        :param rng: the generator ``seed="random"`` draws from (None: a fresh unseeded one).
        :param cost: add ``cost`` (False skips it, as the env's step does).
        :raises UserError: an invalid architecture, fidelity, seed or checkpoint (one line).
        """
        a = parse_arch(arch)
        if fidelity not in FIDELITIES:
            raise BenchError(f"unknown fidelity {fidelity!r}; use one of {', '.join(FIDELITIES)}")
        if not (seed is None or seed == "random"
                or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool))):
            raise BenchError(f"seed must be None, 'random' or a stored training seed, not {seed!r}")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise BenchError(f"rng must be a numpy.random.Generator, not {type(rng).__name__}")
        if fidelity == "proxy":
            rec = self._proxy(a, iters, seed)
        else:
            rec = self._final(a, iters, seed, rng)
        if seed == "random" and rec["noise"] is None:  # one row or a prediction: the model's noise
            self._add_noise(rec, self._checkpoint(iters) if fidelity == "final" else None, rng)
        rec["objective"] = float(self._objective(rec["IS"], rec["FID"], fidelity))
        if rec["diverged"]:
            rec["objective"] = float("nan")
        if cost:
            params, flops = generator_cost(a, self._widths_of(fidelity))
            rec["cost"] = {"train_s": rec.pop("_train_s"), "params": params, "flops": flops}
        else:
            rec.pop("_train_s")
        return rec

    def _objective(self, is_: Any, fid: Any, fidelity: str) -> Any:
        """:func:`objective` at ``fidelity``, with the alpha that fidelity is defined with.

        The proxy's is this bench's ``alpha``; the final one's the table's (the benchmark's
        fixed definition).
        """
        return objective(is_, fid, self.alpha if fidelity == "proxy" else self.table.alpha, fidelity)

    def _record(self, a: Architecture, fidelity: str, m: Sequence[float], **extra: Any) -> dict[str, Any]:
        is_, fid, kid = (float(v) for v in m)
        return {"arch": str(a), "index": SPACE.index(a) if a.is_complete else None,
                "fidelity": fidelity, "depth": a.depth, "IS": is_, "FID": fid, "KID": kid,
                "score": score(is_, fid, self.alpha), "noise": None, "noise_sd": None, **extra}

    def _add_noise(self, rec: dict[str, Any], iters: int | None, rng: np.random.Generator | None) -> None:
        """Add one draw of the seed-noise model to ``rec``'s metrics; its score follows them.

        :meth:`query` computes the objective from the noisy metrics after. Without a model (no architecture with two seeds) ``rec`` keeps its value and says so.
        """
        fidelity = rec["fidelity"]
        model = self._noise_model(fidelity, iters)
        if not model.available:
            rec["noise"] = "unavailable"
            return
        g = rng if rng is not None else np.random.default_rng()
        noisy = np.array([rec[k] for k in METRIC_KEYS]) + model.draw(g)
        rec.update(zip(METRIC_KEYS, (float(v) for v in noisy), strict=True))
        rec["score"] = float(score(rec["IS"], rec["FID"], self.alpha))
        rec["seed"], rec["noise"], rec["noise_sd"] = None, "model", self._noise_sds(model, fidelity)

    def _proxy(self, a: Architecture, iters: int | None, seed: int | str | None) -> dict[str, Any]:
        if iters is not None:
            raise BenchError("iters names a checkpoint of the final fidelity's learning curves; "
                             "the proxy has none")
        gan_seed = int(self.table.meta["gan_seed"])
        if seed not in (None, "random") and seed != gan_seed:
            raise BenchError(f"the proxy table holds one GAN seed ({gan_seed}), not {seed}")
        t = self.table
        i = t.index.get(str(a))
        if i is not None:
            m, measured, diverged = t.metrics[i], True, bool(t.diverged[i])
        else:
            ev = t.surrogate().predict(a)
            m, measured, diverged = [ev.metrics[k] for k in METRIC_KEYS], False, False
        train_s = 0.0
        for d in range(1, a.depth + 1):
            j = t.index.get(str(a.prefix(d)))
            train_s += float(t.seconds[j].sum()) if j is not None else float(sum(t.surrogate().seconds[d]))
        rec = self._record(a, "proxy", m, iters=None, measured=measured, n_seeds=int(measured),
                           seed=gan_seed if measured else None, diverged=diverged, _train_s=train_s)
        if diverged:
            rec["score"] = float("nan")
        return rec

    def _final(self, a: Architecture, iters: int | None, seed: int | str | None,
               rng: np.random.Generator | None) -> dict[str, Any]:
        finals = self._finals()
        if not a.is_complete:
            raise ArchitectureError(f"the final fidelity answers complete 3-cell architectures; "
                                    f"{str(a)!r} has {a.depth} cell(s)")
        iters = self._checkpoint(iters)
        metrics, secs = self._final_columns(iters)  # CheckpointError names the stored ones
        answered = finals.budget if iters is None else iters
        key = str(a)
        rows = [r for r in self._final_rows().get(key, []) if not np.isnan(metrics[r, FID_COL])]
        if rows:
            chosen = self._choose(key, rows, finals.seeds, seed, rng)
            m = metrics[chosen].mean(0)
            one = len(chosen) == 1 or len({int(finals.seeds[r]) for r in chosen}) == 1
            return self._record(a, "final", m, iters=answered, measured=True, n_seeds=len(rows),
                                seed=int(finals.seeds[chosen[0]]) if one else None, diverged=False,
                                _train_s=float(np.nanmean(secs[chosen])),
                                noise="stored seed" if seed == "random" and len(rows) > 1 else None)
        if seed not in (None, "random"):
            raise BenchError(f"{key} has no measured final row (so no row of seed {seed})")
        if iters is not None:
            raise BenchError(f"{key} has no measured row reaching checkpoint {iters}; learning-curve "
                             "checkpoints are measured only (without iters the final surrogate "
                             "predicts the budget's metrics)")
        pred = self.table.final(key)
        if pred is None:
            raise TableError(f"table {self.table.path or '(in memory)'} stores no final surrogate; only "
                             f"architectures with a final row can be queried, and {key} has none")
        done = ~np.isnan(metrics[:, FID_COL])
        return self._record(a, "final", [pred["IS"], pred["FID"], np.nan], iters=answered,
                            measured=False, n_seeds=0, seed=None, diverged=False,
                            _train_s=float(np.nanmean(secs[done])))

    @staticmethod
    def _choose(key: str, rows: list[int], seeds: np.ndarray, seed: int | str | None,
                rng: np.random.Generator | None) -> list[int]:
        """The rows answered: all (the mean), one drawn at random, or those of one seed."""
        if seed is None or len(rows) == 1 and seed == "random":
            return rows
        if seed == "random":
            g = rng if rng is not None else np.random.default_rng()
            return [rows[int(g.integers(len(rows)))]]
        mine = [r for r in rows if int(seeds[r]) == int(seed)]
        if not mine:
            stored = ", ".join(str(int(seeds[r])) for r in rows)
            raise BenchError(f"{key} has no final row of seed {seed}; its seeds: {stored}")
        return mine

    # -- seed noise --------------------------------------------------------------------------
    def seed_noise(self, fidelity: str = "final", iters: int | None = None) -> dict[str, Any]:
        """The seed-noise model that ``seed="random"`` draws from for one row or a prediction.

        The pooled within-architecture covariance of ``[IS, FID, KID]`` over the
        architectures with at least two seeds at ``fidelity`` (at checkpoint ``iters`` of the
        learning curves; None: the budget), :mod:`gan_nas_env.seed_noise`. Rows of one
        architecture and seed count once (their mean). The proxy table holds one GAN seed,
        so the proxy has no model.

        :return: ``fidelity``, ``iters`` (the checkpoint; None for the proxy or rows without
            curves), ``available``, ``n_archs`` and ``n_rows`` (the architectures with >= 2
            seeds and their rows), ``dof`` (rows - architectures), ``sd`` (``IS``, ``FID``,
            ``KID``, ``score``, ``objective``; None when unavailable), ``corr_IS_FID`` (None
            also when IS or FID never varies),
            ``cov`` (``METRIC_KEYS`` order) and ``why`` (when unavailable, the reason).
        """
        if fidelity not in FIDELITIES:
            raise BenchError(f"unknown fidelity {fidelity!r}; use one of {', '.join(FIDELITIES)}")
        if fidelity == "proxy" and iters is not None:
            raise BenchError("iters names a checkpoint of the final fidelity's learning curves; "
                             "the proxy has none")
        checkpoint = self._checkpoint(iters) if fidelity == "final" else None
        model = self._noise_model(fidelity, checkpoint)
        answered = None
        if fidelity == "final":
            answered = self._finals().budget if checkpoint is None else checkpoint
        out: dict[str, Any] = {"fidelity": fidelity, "iters": answered, "available": model.available,
                               "n_archs": model.n_archs, "n_rows": model.n_rows, "dof": model.dof,
                               "sd": None, "corr_IS_FID": None, "cov": None, "why": None}
        if not model.available:
            out["why"] = (f"the proxy table holds one GAN seed ({self.table.meta['gan_seed']})"
                          if fidelity == "proxy" else "no architecture has final rows of two seeds"
                          + (f" reaching checkpoint {checkpoint}" if checkpoint is not None else ""))
            return out
        c = model.cov
        out["sd"] = self._noise_sds(model, fidelity)
        scale = float(np.sqrt(c[IS_COL, IS_COL] * c[FID_COL, FID_COL]))
        out["corr_IS_FID"] = float(c[IS_COL, FID_COL]) / scale if scale > 0 else None  # None: a constant
        out["cov"] = [[float(v) for v in row] for row in c]
        return out

    def _noise_model(self, fidelity: str, iters: int | None) -> SeedNoise:
        """The pooled seed noise of ``fidelity`` at checkpoint ``iters`` (None: the budget), cached."""
        if fidelity == "proxy":
            return pooled_noise([])  # one row per prefix, of one GAN seed
        if iters not in self._noise:
            finals = self._finals()
            metrics, _ = self._final_columns(iters)  # CheckpointError names the stored ones
            groups = []
            for rows in self._final_rows().values():
                by_seed: dict[int, list[int]] = {}
                for r in rows:
                    if not np.isnan(metrics[r, FID_COL]):
                        by_seed.setdefault(int(finals.seeds[r]), []).append(r)
                groups.append(np.stack([metrics[rs].mean(0) for rs in by_seed.values()])
                              if by_seed else np.empty((0, len(METRIC_KEYS))))
            self._noise[iters] = pooled_noise(groups)
        return self._noise[iters]

    def _noise_sds(self, model: SeedNoise, fidelity: str) -> dict[str, float]:
        """The model's sd of each metric, of the score and of the objective at ``fidelity``.

        The score and the objective are linear in ``(IS, FID)``; their weights are read off
        :func:`score` and :func:`objective` themselves.
        """
        sds = model.sds()
        for name, f in (("score", lambda i, d: score(i, d, self.alpha)),
                        ("objective", lambda i, d: self._objective(i, d, fidelity))):
            base = float(f(0.0, 0.0))
            w = np.zeros(len(METRIC_KEYS))
            w[IS_COL], w[FID_COL] = float(f(1.0, 0.0)) - base, float(f(0.0, 1.0)) - base
            sds[name] = model.sd_of(w)
        return sds

    def _finals(self) -> FinalRows:
        """The table's final rows; a :class:`TableError` for a proxy-only table."""
        if self.table.finals is None:
            raise TableError(f"table {self.table.path or '(in memory)'} has no final fidelity (proxy "
                             "rows only); query fidelity='proxy' or use a table with final rows")
        return self.table.finals

    def _checkpoint(self, iters: int | None) -> int | None:
        """``iters`` as an int, or None for the budget's checkpoint (the rows' final metrics)."""
        budget = self.table.finals.budget if self.table.finals is not None else None
        if iters is None:
            return None
        whole = _whole_number(iters)
        if whole is None:  # int(8500.7) would answer another checkpoint than the one asked
            raise BenchError(f"iters is a whole number of generator iterations, not {iters!r}")
        return None if whole == budget else whole

    def _final_rows(self) -> dict[str, list[int]]:
        """Architecture -> indices of its final rows (every seed, reaching the budget or not)."""
        if self._rows is None:
            self._rows = {}
            for i, arch in enumerate(self._finals().archs):
                self._rows.setdefault(arch, []).append(i)
        return self._rows

    def _final_columns(self, iters: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Every row's ``[IS, FID, KID]`` and seconds at checkpoint ``iters`` (None: the budget)."""
        if iters not in self._columns:
            finals = self._finals()
            if iters is not None:
                at = finals.at(int(iters))
                self._columns[iters] = at[:, : len(METRIC_KEYS)], at[:, WALL_COL]
            elif finals.curves is not None and finals.budget is not None:
                self._columns[iters] = finals.metrics, finals.at(finals.budget)[:, WALL_COL]
            else:
                self._columns[iters] = finals.metrics, finals.train_s
        return self._columns[iters]

    def _widths_of(self, fidelity: str) -> Widths:
        if fidelity not in self._widths:
            if fidelity == "final":
                cfg = load_config(None, dict(self._finals().config))
            else:
                cfg = self.table.config
            self._widths[fidelity] = Widths.of(cfg, final=fidelity == "final")
        return self._widths[fidelity]

    # -- search helpers ----------------------------------------------------------------------
    def find_best(self, fidelity: str = "final", measured_only: bool = True,
                  iters: int | None = None) -> dict[str, Any]:
        """The record of the complete architecture with the highest objective.

        :param measured_only: only architectures with stored rows (default); False: the whole
            space, predictions included (the surrogate's best may be no measured one).
        :param iters: final only: rank at that checkpoint (measured rows only).
        """
        if fidelity not in FIDELITIES:
            raise BenchError(f"unknown fidelity {fidelity!r}; use one of {', '.join(FIDELITIES)}")
        if fidelity == "proxy":
            measured = self.table.complete()
        else:
            self._finals()  # a TableError for a proxy-only table
            metrics, _ = self._final_columns(self._checkpoint(iters))
            measured = list(dict.fromkeys(a for a, r in self._final_rows().items()
                                          if any(not np.isnan(metrics[i, FID_COL]) for i in r)))
        best, value = None, -np.inf
        for arch in measured:
            v = self.query(arch, fidelity, iters=iters, cost=False)["objective"]
            if v > value:
                best, value = arch, v
        if not measured_only:
            grid = self._predicted_objectives(fidelity, iters)
            for arch in measured:
                grid[SPACE.index(Architecture.parse(arch))] = -np.inf  # their rows were ranked above
            j = int(np.nanargmax(grid))
            if grid[j] > value:
                best = str(SPACE.from_index(j))
        if best is None:
            raise BenchError(f"no measured architecture at the {fidelity} fidelity"
                             + (f" reaching checkpoint {iters}" if iters is not None else ""))
        return self.query(best, fidelity, iters=iters)

    def _predicted_objectives(self, fidelity: str, iters: int | None) -> np.ndarray:
        """The surrogate's objective of every complete architecture, in ``SPACE.index`` order."""
        if fidelity == "proxy":
            pred = self.table.surrogate().predict_all()
        else:
            if self._checkpoint(iters) is not None:
                raise BenchError("learning-curve checkpoints are measured only: find_best(iters=...) "
                                 "needs measured_only=True")
            grid = self.table.final_grid()
            if grid is None:
                raise TableError(f"table {self.table.path or '(in memory)'} stores no final surrogate; "
                                 "use measured_only=True")
            pred = grid
        return np.asarray(self._objective(pred[:, IS_COL], pred[:, FID_COL], fidelity), np.float64)

    # -- simulated clock -------------------------------------------------------------------
    def simulate(self, arch: str | Sequence[int] | Architecture | int, fidelity: str = "final",
                 iters: int | None = None, seed: int | str | None = None,
                 rng: np.random.Generator | None = None) -> dict[str, Any]:
        """:meth:`query`, and advance the simulated clock by its ``cost["train_s"]``.

        Every call costs again (as in NATS-Bench's ``simulate_train_eval``): a search that
        asks for the same architecture twice pays twice.
        """
        rec = self.query(arch, fidelity, iters=iters, seed=seed, rng=rng)
        self._used_s += rec["cost"]["train_s"]
        return rec

    @property
    def used_time(self) -> float:
        """Simulated seconds of every :meth:`simulate` since the last :meth:`reset_time`."""
        return self._used_s

    def reset_time(self) -> None:
        """Set the simulated clock back to 0."""
        self._used_s = 0.0
