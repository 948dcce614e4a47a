"""scripts/build_v2.sh: the v2 build's one shared list, and the list itself.

``python`` is replaced by a stub on PATH that records its arguments and exits with a status
from the environment, so the chain is tested without training anything.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_v2.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _run(tmp_path, *args, statuses=""):
    stub = tmp_path / "bin" / "python"
    stub.parent.mkdir(exist_ok=True)
    log = tmp_path / "calls.txt"
    # each call appends its arguments; the n-th call exits with the n-th of $STATUSES (else 0)
    stub.write_text('#!/usr/bin/env bash\necho "$*" >> "$CALLS"\nn=$(wc -l < "$CALLS")\n'
                    'set -- $STATUSES\nshift $((n - 1)) 2>/dev/null || exit 0\nexit "${1:-0}"\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}", "CALLS": str(log),
           "STATUSES": statuses}
    r = subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True)
    calls = log.read_text().splitlines() if log.exists() else []
    return r, calls


def test_one_shared_ordered_list(tmp_path):
    r, calls = _run(tmp_path, "1", "2")
    assert r.returncode == 0, r.stderr
    assert len(calls) == 1
    call = calls[0]
    assert call.startswith("scripts/build_finals.py --config final-fmnist-v2 ")
    assert "--worker 1 --workers 2" in call and "--wip state/finals_v2" in call
    assert "--restore docs/validity/finals_v2.json" in call
    assert ("--rows-from scripts/rows_v2_seeds_cpu.txt --rows-from scripts/rows_v2_d256.txt "
            "--rows-from scripts/rows_v2_bests.txt --rows-from scripts/rows_v2_bests_all.txt "
            "--rows-from scripts/rows_v2.txt "
            "--skip-rows-from scripts/rows_v2_gpu.txt --claim runs/claims") in call


def test_the_gpus_bests_are_the_cpus_from_the_other_end(load_script):
    """The CPU builders take the v2 benchmark's unmeasured bests from the front, the GPU from the last back."""
    builder = load_script("build_finals")
    cpu = [(str(a), s) for a, s in builder.read_rows_list(SCRIPT.parent / "rows_v2_bests.txt")]
    gpu = [(str(a), s) for a, s in builder.read_rows_list(SCRIPT.parent / "rows_v2_bests_gpu.txt")]
    assert cpu and gpu == cpu[::-1]


def test_the_list_puts_the_first_100_before_the_second_seeds(load_script):
    """scripts/rows_v2.txt: the uniform sample's first 100 at seed 0, then seed 1 of its first 30."""
    builder = load_script("build_finals")
    rows = [(str(a), s) for a, s in builder.read_rows_list(SCRIPT.parent / "rows_v2.txt")]
    uniform = [str(a) for a in builder.distinct_order("table-fmnist", 100)]
    assert rows[:100] == [(a, 0) for a in uniform]
    assert rows[100:130] == [(a, 1) for a in uniform[:30]]


def test_the_d256_list_is_the_searches_bests(load_script):
    """scripts/rows_v2_d256.txt: what validity_searches.py --rows-out writes from the committed export."""
    builder = load_script("build_finals")
    rows = [(str(a), s) for a, s in builder.read_rows_list(SCRIPT.parent / "rows_v2_d256.txt")]
    export = json.loads((SCRIPT.parents[1] / "docs" / "validity" / "searches_d256.json").read_text())
    seed_major = sorted(export["rows"], key=lambda r: r["seed"])
    bests = list(dict.fromkeys(str(builder.complete_architecture(r["best_arch"])) for r in seed_major))
    assert rows and rows == [(a, 0) for a in bests]


def test_a_paused_builder_says_so(tmp_path):
    r, calls = _run(tmp_path, "0", statuses="143")
    assert r.returncode == 143 and len(calls) == 1


def test_a_worker_is_required(tmp_path):
    r, calls = _run(tmp_path)
    assert r.returncode != 0 and "usage: build_v2.sh WORKER" in r.stderr and not calls
