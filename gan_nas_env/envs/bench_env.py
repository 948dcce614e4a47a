"""The search env answered from the benchmark table: ``GANCellSearchBench-v0`` and ``-v1``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from gan_nas_env.bench import GANBench
from gan_nas_env.config import Config, load_config
from gan_nas_env.envs.search_env import GANCellSearchEnv, one_thread
from gan_nas_env.errors import UserError
from gan_nas_env.evaluators.tabular import (
    DEFAULT_TABLE,
    Table,
    TableError,
    TabularEvaluator,
    load_table,
)

OBJECTIVES = ("proxy", "final")


def _table_config(tab: Table, table: str | Path, overrides: dict[str, Any] | None) -> Config:
    """The table's config with ``overrides``, refused when they change the proxy."""
    cfg = load_config(tab.config, overrides) if overrides else tab.config
    if cfg.proxy_hash() != tab.meta["proxy_hash"]:
        raise TableError(f"overrides {overrides} change the proxy of table {table}; build a table "
                         "for that proxy with scripts/build_table.py --config ...")
    return cfg


def tabular_evaluator(env: gym.Env) -> TabularEvaluator | None:
    """The evaluator answering a tabular env (``GANCellSearchBench-v0`` / ``-v1``) from its table.

    :param env: the env, made by ``gym.make`` or not, wrapped or not.
    :return: its :class:`TabularEvaluator` (``.table``, ``.surrogate``, the ``lookups`` and
        ``surrogate_calls`` counters), or None when another evaluator answers the env.
    """
    evaluator = getattr(env.unwrapped, "evaluator", None)
    return evaluator if isinstance(evaluator, TabularEvaluator) else None


def make_bench_env(table: str | Path = DEFAULT_TABLE, render_mode: str | None = None,
                   overrides: dict[str, Any] | None = None) -> Any:
    """``GANCellSearchBench-v0``: the search env answered from a table.

    :param table: path of a table file (default: the shipped Fashion-MNIST table).
    :param overrides: config overrides; only settings outside the proxy (such as
        ``env.alpha``) may change, since the table answers for its own proxy.
    """
    tab = load_table(table)
    return GANCellSearchEnv(_table_config(tab, table, overrides), evaluator=TabularEvaluator(tab),
                            render_mode=render_mode)


class GANCellSearchBenchEnv(GANCellSearchEnv):
    """``GANCellSearchBench-v1``: the tabular search env, rewarding the proxy or the final score.

    Spaces, observation, episode and ``info`` are those of
    :class:`~gan_nas_env.envs.search_env.GANCellSearchEnv` (its docstring has the tables),
    answered from the table as ``GANCellSearchBench-v0``: the observation is always the
    proxy's (depth, IS, alpha * FID, progressive state of the partial GAN), since the
    final fidelity only describes complete architectures.

    **Reward** by ``objective``:

    | objective | cells 1 and 2 | cell 3 | episode return |
    |---|---|---|---|
    | ``proxy`` | change in proxy ``IS - alpha FID`` | the same | proxy score of the architecture minus the baseline's (as v0) |
    | ``final`` | 0 | ``bench.query(arch, fidelity="final")["objective"]`` | that objective |

    With ``final`` the return is exactly the benchmark's final objective of the built
    architecture (:mod:`gan_nas_env.bench`: measured when the table holds a final row, the
    final surrogate's prediction otherwise); nothing is shaped in between, because the
    final fidelity has no value for a prefix. A diverged proxy step ends the episode with
    ``env.diverged_penalty`` under both objectives, as in v0 (the shipped table has none).

    **End**: ``terminated=True`` after cell 3 (or on divergence). The id is registered
    without a time limit, so ``truncated`` is always False.

    **info** adds, at the last cell: ``objective`` (the value of the ``objective`` fidelity
    that ranks the architecture) and ``measured`` (whether a stored row gave it).

    :param table: path of a table file (default: the shipped Fashion-MNIST table).
    :param objective: ``proxy`` or ``final`` (the table needs final rows).
    :param render_mode: ``ansi`` or ``rgb_array``.
    :param overrides: config overrides outside the proxy (``env.alpha`` weighs FID in the
        proxy reward and the ``score`` info; 0 is the IS-only reward. The ``final``
        objective is the benchmark's own, at the table's alpha, whatever the override).

    **Version History**

    * v1: ``objective="proxy"|"final"``: the final score can be the reward. No time limit
      in the registration (v0's ``max_episode_steps=3`` set ``truncated=True`` together with
      ``terminated=True`` at the last cell). ``info["objective"]`` and ``info["measured"]``.
      With ``objective="proxy"`` rewards and observations equal v0's.
    * v0: the proxy reward of ``GANCellSearch-v0`` answered from the table.
    """

    def __init__(self, table: str | Path = DEFAULT_TABLE, objective: str = "proxy",
                 render_mode: str | None = None, overrides: dict[str, Any] | None = None) -> None:
        if objective not in OBJECTIVES:
            raise UserError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
        tab = load_table(table)
        if objective == "final" and tab.finals is None:
            raise TableError(f"table {table} has no final rows: objective='final' needs them")
        cfg = _table_config(tab, table, overrides)
        super().__init__(cfg, evaluator=TabularEvaluator(tab), render_mode=render_mode)
        self.objective = objective
        self.bench = GANBench(tab, alpha=cfg.env.alpha)

    @one_thread  # the table query after the base step belongs to the same caller
    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Add a cell (see the class docstring for the reward)."""
        obs, reward, terminated, truncated, info = super().step(action)
        if info["diverged"]:
            return obs, reward, terminated, truncated, info
        if self.objective == "final":
            reward = 0.0
            if terminated:
                assert self.architecture is not None
                rec = self.bench.query(self.architecture, fidelity="final", cost=False)
                reward = info["objective"] = rec["objective"]
                info["measured"] = rec["measured"]
        elif terminated:
            info["objective"], info["measured"] = info["score"], bool(info["cached"])
        return obs, reward, terminated, truncated, info
