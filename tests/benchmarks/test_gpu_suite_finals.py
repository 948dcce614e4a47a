"""benchmarks/gpu_suite.sh finals-detach / finals-collect: one window of final rows over two calls.

``python3`` is replaced by a stub on PATH that records its arguments; a worker (a
``build_finals.py --worker`` call) waits until it is signalled, as a training would. So the
chain is tested without a GPU or any training: the first call must return while its workers
run on in their own process sessions, and the second must stop them and return the files.
"""

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_suite.sh"

pytestmark = [
    pytest.mark.skipif(shutil.which("bash") is None or shutil.which("setsid") is None, reason="needs bash and setsid"),
    pytest.mark.skipif(not (Path("/usr/share/datasets/fashion-mnist").is_dir() or (ROOT / ".gpu_data").is_dir()),
                       reason="the finals parts check for the offline Fashion-MNIST first"),
]

# a worker waits for its signal (exec: the signal reaches it, not a shell); every call is logged
STUB = """#!/usr/bin/env bash
echo "$*" >> "$CALLS"
case "$*" in
  *"--worker "*) exec sleep 600 ;;
esac
exit 0
"""


def _env(tmp_path: Path) -> dict[str, str]:
    stub = tmp_path / "bin" / "python3"
    stub.parent.mkdir(exist_ok=True)
    stub.write_text(STUB)
    stub.chmod(0o755)
    return {**os.environ, "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}", "CALLS": str(tmp_path / "calls.txt"),
            "OUT": str(tmp_path / "out"), "WORK": str(tmp_path / "work"), "WIP": str(tmp_path / "no-wip"),
            "WORKERS": "2", "MINUTES": "5", "GRAPH_CHECK": "0", "FINALS_DEVICE": "cpu"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


def test_detach_returns_with_its_workers_running_and_collect_stops_them(tmp_path):
    env = _env(tmp_path)
    pids: list[int] = []
    try:
        # CALL_S=0: return at once; a worker left holding the call's output would block run() here
        # THREADS=auto without a graph check: one row per worker
        r = subprocess.run(["bash", str(SCRIPT), "finals-detach"], env={**env, "CALL_S": "0", "THREADS": "auto"},
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        pids = [int(p) for p in (tmp_path / "work" / "pids").read_text().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        assert all(os.getsid(p) == p for p in pids)  # each leads its own session: it outlives the call
        calls = (tmp_path / "calls.txt").read_text().splitlines()
        workers = [c for c in calls if "--worker " in c]
        assert len(workers) == 2 and all("--claim" in c and "--rows-from scripts/rows_v2_gpu.txt --rows-from scripts/rows_v2_bests_gpu.txt "
                                         "--rows-from scripts/rows_v2_gpu_next.txt" in c and "--threads 1 " in c + " " for c in workers)
        assert (tmp_path / "work" / "src" / "gan_nas_env").is_dir()  # the workers' own copy of the code
        assert "finals-collect" in r.stdout

        # collect takes the window's own layout, whatever WORKERS it is given
        r = subprocess.run(["bash", str(SCRIPT), "finals-collect"], env={**env, "STOP_IN": "0", "WORKERS": "7"},
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "stopping 2 workers" in r.stdout
        assert not any(_alive(p) for p in pids)
        assert {"finals_wip.tar.gz", "logs.tar.gz"} <= {f.name for f in (tmp_path / "out").iterdir()}
        after = (tmp_path / "calls.txt").read_text().splitlines()[len(calls):]
        assert any("--export" in c and "--wip" in c for c in after)  # the paused trainings saved
        assert any("final_rows_gpu.py window" in c and "--workers 2 " in c for c in after)
    finally:
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)


def test_collect_without_a_detached_window_says_so(tmp_path):
    r = subprocess.run(["bash", str(SCRIPT), "finals-collect"], env=_env(tmp_path), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "run finals-detach first" in r.stderr


def test_a_bad_threads_value_is_refused_before_anything_is_written(tmp_path):
    r = subprocess.run(["bash", str(SCRIPT), "finals-detach"], env={**_env(tmp_path), "THREADS": "many"},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "THREADS must be a whole number >= 1 or auto (got 'many')" in r.stderr
    assert not (tmp_path / "work").exists()
