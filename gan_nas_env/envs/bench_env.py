"""``GANCellSearchBench-v0``: the search env answered from the benchmark table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gan_nas_env.config import load_config
from gan_nas_env.envs.search_env import GANCellSearchEnv
from gan_nas_env.evaluators.tabular import DEFAULT_TABLE, TableError, TabularEvaluator, load_table


def make_bench_env(table: str | Path = DEFAULT_TABLE, render_mode: str | None = None,
                   overrides: dict[str, Any] | None = None) -> Any:
    """``GANCellSearchBench-v0``: the search env answered from a table.

    :param table: path of a table file (default: the shipped Fashion-MNIST table).
    :param overrides: config overrides; only settings outside the proxy (such as
        ``env.alpha``) may change, since the table answers for its own proxy.
    """
    tab = load_table(table)
    cfg = load_config(tab.config, overrides) if overrides else tab.config
    if cfg.proxy_hash() != tab.meta["proxy_hash"]:
        raise TableError(f"overrides {overrides} change the proxy of table {table}; build a table "
                         "for that proxy with scripts/build_table.py --config ...")
    return GANCellSearchEnv(cfg, evaluator=TabularEvaluator(tab), render_mode=render_mode)
