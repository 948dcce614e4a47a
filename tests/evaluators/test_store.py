"""ResultsStore: the kill hook of the resume tests."""

import os
import signal
import subprocess
import sys

import pytest

from gan_nas_env.evaluators.store import KILL_AT_ENV, kill_point


def test_kill_point_is_off_without_the_variable(monkeypatch):
    monkeypatch.delenv(KILL_AT_ENV, raising=False)
    for _ in range(3):
        kill_point("step")  # returns: nothing is counted or killed


@pytest.mark.parametrize("spec, event, n", [("evaluation:2", "evaluation", 2), ("3", "step", 3)])
def test_kill_point_kills_at_the_nth_event(spec, event, n):
    code = (
        "import sys\n"
        "from gan_nas_env.evaluators.store import kill_point\n"
        "for e in ['step', 'evaluation', 'checkpoint'] * 5:\n"
        "    kill_point(e)\n"
        "    print(e, flush=True)\n"
        "sys.exit(0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, KILL_AT_ENV: spec})
    assert r.returncode == -signal.SIGKILL, r
    assert r.stderr.endswith(f"{KILL_AT_ENV}: killed at {event}:{n}\n")
    printed = r.stdout.split()
    assert printed.count(event) == n - 1  # killed right at its n-th event, before printing it
    assert len(printed) == 3 * (n - 1) + ["step", "evaluation", "checkpoint"].index(event)
