"""What every run folder records: the resolved config and ``meta.json`` (command, seed, version, SHA, machine)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from gan_nas_env.config import Config, save_config
from gan_nas_env.errors import UserError
from gan_nas_env.provenance import provenance


class RunFolderError(UserError, ValueError):
    """A run folder the user named that lacks what the command reads from it."""


def write_run_metadata(out: Path, cfg: Config, extra: dict[str, Any]) -> None:
    """Write ``config.yaml`` and ``meta.json`` (command line, seed, version, git SHA, machine)."""
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    prov = provenance()
    meta = {
        "command": prov["command"], "seed": cfg.seed, "version": prov["version"],
        "git_sha": prov["git_sha"], "machine": prov["machine"],
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
