"""scripts/build_v2.sh: the v2 build's lists in order, stopping at a paused builder.

``python`` is replaced by a stub on PATH that records its arguments and exits with a status
from the environment, so the chain is tested without training anything.
"""

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


def test_both_lists_in_order_with_this_workers_share(tmp_path):
    r, calls = _run(tmp_path, "1", "2")
    assert r.returncode == 0, r.stderr
    assert len(calls) == 2
    for call in calls:
        assert call.startswith("scripts/build_finals.py --config final-fmnist-v2 ")
        assert "--worker 1 --workers 2" in call and "--wip state/finals_v2" in call
        assert "--restore docs/validity/finals_v2.json" in call
    assert calls[0].endswith("--archs 100 --extra  --seeds 0")  # the uniform sample first
    assert calls[1].endswith("--archs 30 --extra  --seeds 1")  # then the second seeds


def test_a_paused_builder_stops_the_chain(tmp_path):
    r, calls = _run(tmp_path, "0", statuses="143")
    assert r.returncode == 143 and len(calls) == 1


def test_a_worker_is_required(tmp_path):
    r, calls = _run(tmp_path)
    assert r.returncode != 0 and "usage: build_v2.sh WORKER" in r.stderr and not calls
