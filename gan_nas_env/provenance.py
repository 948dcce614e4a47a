"""Where a number came from: the machine, the package version, the git SHA and the command.

Every JSON report behind a number in ``docs/`` carries :func:`provenance`.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _git_state(limit: int = 50) -> tuple[str, list[str]]:
    """The commit (``+dirty`` with uncommitted changes) and the uncommitted tracked files.

    At most ``limit`` files, then ``"... N more"``; both from one ``git status``; ``('unknown', [])``
    without git. ``GAN_NAS_GIT_SHA``, when set, is taken as the commit, with no files: a GPU
    machine's copy of the working tree may carry an older ``.git`` than the commit it was sent from.
    """
    if sha := os.environ.get("GAN_NAS_GIT_SHA"):
        return sha, []
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, cwd=ROOT).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, check=True, cwd=ROOT).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown", []
    paths = [line[3:] for line in status.splitlines() if len(line) > 3]
    capped = paths[:limit] + ([f"... {len(paths) - limit} more"] if len(paths) > limit else [])
    return sha + ("+dirty" if paths else ""), capped


def git_sha() -> str:
    """The repository's commit (``+dirty`` with uncommitted changes), or 'unknown'."""
    return _git_state()[0]


def dirty_files(limit: int = 50) -> list[str]:
    """The tracked files with uncommitted changes (at most ``limit``, then ``"... N more"``).

    A refresh runs its steps one after the other, each writing committed results that the next
    step's provenance sees as uncommitted: the list tells such a "+dirty" (generated outputs
    only) from code that was changed by hand.
    """
    return _git_state(limit)[1]


def cpu_model() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """CPU model and cores, memory, GPU (if any) and the torch version."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        mem_gib = None
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "memory_gib": mem_gib, "gpu": gpu,
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version()}


def provenance(command: list[str] | None = None) -> dict[str, Any]:
    """Machine, package version, git SHA, command line and date of a measurement.

    With a "+dirty" SHA it also lists the files that were uncommitted (:func:`dirty_files`).
    """
    import gan_nas_env

    sha, dirty = _git_state()  # one git status for both
    return {"machine": machine(), "version": gan_nas_env.__version__, "git_sha": sha,
            **({"dirty_files": dirty} if dirty else {}),
            "command": list(sys.argv if command is None else command),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def provenance_line(prov: dict[str, Any], command: str | None = None) -> str:
    """One Markdown sentence naming a :func:`provenance` record's machine, version, SHA and command.

    ``command`` replaces the recorded one where a report names it better (``python -m ...``
    rather than the script path ``sys.argv`` saw).
    """
    m = prov["machine"]
    cmd = " ".join(str(c) for c in prov["command"]) if command is None else command
    return (f"Machine: {m['cpu']}, {m['cores']} cores, GPU: {m['gpu'] or 'none'}. gan-nas-env {prov['version']} "
            f"at {str(prov['git_sha'])[:12]}. Command: `{cmd}`.")
