#!/usr/bin/env python
"""What the README's set-up costs on a fresh machine, and whether its main job runs.

A fresh clone of this repository's committed HEAD and a fresh virtual environment (no
system site packages), then the README's commands in order, each timed from outside:

1. ``bash scripts/setup.sh`` (the main job's dependencies);
2. with ``--main``: ``gan-nas search --config quickstart --out runs/quickstart`` (the main
   job; its best architecture and wall seconds are recorded);
3. ``bash scripts/setup.sh test`` (the test tools on top).

After each set-up step: the installed packages (``pip list``) and the venv's size on disk.
Package downloads come from whatever index pip is configured with (``pip config list`` is
recorded); ``--note`` says what else ran on the machine (the wall seconds depend on it)::

    python -m benchmarks.fresh_setup --main --out docs/perf/fresh_setup_cpu.json --md docs/perf/fresh_setup_cpu.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gan_nas_env.provenance import ROOT, provenance
from gan_nas_env.user_files import check_outputs


def _du_bytes(path: Path) -> int:
    """Bytes on disk under ``path`` (files only, links not followed)."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _timed(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    """Run ``cmd``, its output appended to ``log``; its wall seconds (a failure raises, log named)."""
    t0 = time.perf_counter()
    with log.open("a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        rc = subprocess.run(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT).returncode
    if rc != 0:
        raise SystemExit(f"fresh_setup: {' '.join(cmd)} failed with exit code {rc}; its output: {log}")
    return time.perf_counter() - t0


def _installed(python: Path, venv: Path) -> dict[str, Any]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"], capture_output=True,
                         text=True, check=True).stdout
    return {"packages": len(json.loads(out)), "venv_gb": round(_du_bytes(venv) / 1e9, 2)}


def measure(work: Path, main: bool, log: Path) -> dict[str, Any]:
    """Clone, make the venv, run the README's steps; one record per step."""
    clone, venv = work / "clone", work / "venv"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True,
                          check=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {**os.environ, "PYTHON": str(python), "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
           "VIRTUAL_ENV": str(venv)}
    env.pop("PYTHONPATH", None)
    steps: list[dict[str, Any]] = []
    wall = _timed(["bash", "scripts/setup.sh"], clone, env, log)
    steps.append({"step": "bash scripts/setup.sh", "wall_s": round(wall, 1), **_installed(python, venv)})
    if main:
        wall = _timed(["gan-nas", "search", "--config", "quickstart", "--out", "runs/quickstart"], clone, env, log)
        top = json.loads((clone / "runs/quickstart/top_architectures.json").read_text())
        steps.append({"step": "gan-nas search --config quickstart --out runs/quickstart", "wall_s": round(wall, 1),
                      "best_arch": top[0]["arch"], "best_score": top[0]["score"]})
    wall = _timed(["bash", "scripts/setup.sh", "test"], clone, env, log)
    steps.append({"step": "bash scripts/setup.sh test", "wall_s": round(wall, 1), **_installed(python, venv)})
    pip_cfg = subprocess.run([str(python), "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    return {"clone_head": head, "steps": steps, "pip_config": pip_cfg.splitlines()}


def markdown(res: dict[str, Any]) -> str:
    """The report's table."""
    prov = res["provenance"]
    lines = ["# Fresh set-up: the README's commands in a fresh clone and venv", "",
             f"Commit {res['clone_head'][:10]}, {prov['machine']['cpu']} ({prov['machine']['cores']} cores), "
             f"Python {prov['machine']['python']}; load: {res['note'] or 'nothing else noted'}.", "",
             "| step | wall s | packages | venv GB | result |", "|---|---|---|---|---|"]
    for s in res["steps"]:
        result = f"best `{s['best_arch']}` ({s['best_score']:.3f})" if s.get("best_arch") else ""
        lines.append(f"| `{s['step']}` | {s['wall_s']:.0f} | {s.get('packages', '')} | "
                     f"{s.get('venv_gb', '')} | {result} |")
    lines += ["", "Packages come from the index pip is configured with (`pip_config` in the JSON).",
              "", f"Rerun: `{shlex.join(prov['command'])}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--main", action="store_true", help="also run the README's main job (a quickstart search)")
    p.add_argument("--note", default="", help="what else ran on the machine meanwhile")
    p.add_argument("--keep", type=Path, help="work here and keep it (default: a temporary folder, removed)")
    p.add_argument("--out", type=Path, help="JSON report")
    p.add_argument("--md", type=Path, help="Markdown report")
    args = p.parse_args(argv)
    check_outputs(p, args, "--out", "--md")  # before the work, not after it
    if shutil.which("git") is None:
        p.error("git is needed to clone the repository")
    work = args.keep or Path(tempfile.mkdtemp(prefix="fresh-setup-"))
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        p.error(f"--keep {args.keep} is not empty")
    work.mkdir(parents=True, exist_ok=True)
    try:
        res = measure(work, args.main, work.parent / f"{work.name}.log")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    res["note"] = args.note
    res["provenance"] = {**provenance(),
                         "command": ["python", "-m", "benchmarks.fresh_setup", *(argv or sys.argv[1:])]}
    text = json.dumps(res, indent=1)
    if args.out:
        args.out.write_text(text)
    if args.md:
        args.md.write_text(markdown(res))
    print(markdown(res))
    return res


if __name__ == "__main__":
    main()
