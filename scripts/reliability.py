#!/usr/bin/env python
"""docs/reliability.md: hostile cases by class, what each gets now, kill / Ctrl-C / full-disk recovery.

Every case runs ``gan-nas`` as a user would: a fresh process (``python -m gan_nas_env.cli``)
in a fresh folder, on the ``tiny`` config with real training (no fake evaluator). Parts::

    bad-input    every bad command line of tests/test_bad_inputs.py (the one catalogue),
                 here as a separate process: exit status, the message, a traceback or not,
                 files written or changed; and its Python-API cases, by class (action
                 wrappers, benchmark tables, threads, checkpoint settings, ...)
    run-folder   finished results kept, runs keyed by their id, no mixed results, one writer
    determinism  two processes with one seed, and tests/training/test_determinism.py
    kills        SIGKILL at store events, Ctrl-C (SIGINT) at store events and a full disk
                 (a small tmpfs; needs root), each resumed and compared bit for bit with an
                 uninterrupted run

    python scripts/reliability.py                      # every part (about 18 min on 2 busy cores)
    python scripts/reliability.py --parts bad-input    # one part again (about 9 min); the others are kept
    python scripts/reliability.py --report             # docs/reliability.md from the JSON only

Each finished part is written to ``docs/reliability/reliability.json`` at once (with the
machine, version, git SHA and command), so a stopped run keeps what it measured.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_nas_env.evaluators.store import read_rows  # noqa: E402
from gan_nas_env.provenance import provenance  # noqa: E402

DOCS = ROOT / "docs" / "reliability"
JSON_PATH = DOCS / "reliability.json"
MD_PATH = ROOT / "docs" / "reliability.md"
KILL_AT_ENV = "GAN_NAS_ENV_TEST_KILL_AT"
EPISODES = 5  # 3 steps each: 15 steps, a checkpoint at every episode boundary
TINY = ["--config", "tiny", "--set", "search.learning_starts=4", "--set", "search.explore_fraction=0.6",
        "--no-progress"]


# -- running gan-nas as a user does --------------------------------------------------------
def gan_nas(args: list[str], cwd: Path, kill_at: str | None = None) -> subprocess.CompletedProcess:
    """``python -m gan_nas_env.cli ARGS`` in ``cwd``, one torch thread, optionally killed at an event."""
    env = {k: v for k, v in os.environ.items() if k != KILL_AT_ENV}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    if kill_at:
        env[KILL_AT_ENV] = kill_at
    return subprocess.run([sys.executable, "-m", "gan_nas_env.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1800)


def search(out: Path, *extra: str, episodes: int = EPISODES, kill_at: str | None = None,
           ) -> subprocess.CompletedProcess:
    """A tiny search into ``out``."""
    return gan_nas(["search", *TINY, "--episodes", str(episodes), "--out", str(out), *extra],
                   out.parent, kill_at)


def message(r: subprocess.CompletedProcess) -> str:
    """The last line of stderr (the one-line message), without progress-bar noise."""
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def snapshot(root: Path, ignore: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file and folder under ``root`` with a hash of its content (the tests' helper)."""
    return _bad_inputs_module().snapshot(root, ignore)


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Paths created, deleted or changed between two snapshots."""
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def results(out: Path) -> dict[str, list[tuple]]:
    """What a search run holds: its step rows and its evaluations (bit for bit)."""
    db = out / "results.sqlite"
    return {"steps": read_rows(db, 'SELECT episode, step, arch, reward, "IS", FID FROM steps ORDER BY id'),
            "evaluations": read_rows(db, "SELECT arch, seed, metrics, representation FROM evaluations "
                                     "ORDER BY arch, seed")}


def outcome(r: subprocess.CompletedProcess) -> dict[str, Any]:
    """Exit status, the message and whether a traceback was printed."""
    return {"rc": r.returncode, "message": message(r), "traceback": "Traceback" in r.stderr}


# -- bad input ------------------------------------------------------------------------------
@functools.cache
def _bad_inputs_module() -> Any:
    spec = importlib.util.spec_from_file_location("bad_inputs", ROOT / "tests" / "test_bad_inputs.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _catalogue() -> Any:
    """The bad-input catalogue (the tests' module; a test of this script replaces it)."""
    return _bad_inputs_module()


def bad_input(tmp: Path, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """Each bad command line in its own process and folder; then the Python-API cases."""
    cat = _catalogue()
    cases: list[dict[str, Any]] = []
    for group, items in cat.CLI_GROUPS.items():
        for name, (argv, fragment, *setup) in items.items():
            progress(f"bad input: {name}")
            folder = tmp / f"cli-{len(cases)}"
            folder.mkdir()
            cat.make_files(folder)
            if setup:
                cat.prepare(folder, setup[0])  # a finished run to evaluate, or one damaged
            before = snapshot(folder)
            r = gan_nas(argv, folder)
            got = outcome(r)
            lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
            # argparse's own errors print its usage block, then the one error line
            one_line = len(lines) == 1 or (len(lines) > 1 and lines[0].startswith("usage:") and ": error: " in lines[-1]
                                           and not any(": error: " in ln for ln in lines[:-1]))
            got["written"] = changed(before, snapshot(folder))
            got["one_line"] = one_line
            ok = (got["rc"] == 2 and fragment.lower() in r.stderr.lower() and not got["traceback"]
                  and one_line and not got["written"])
            cases.append({"class": f"bad input: {group}", "case": name,
                          "command": "gan-nas " + " ".join(argv),
                          "expected": "exit 2, one line naming what is wrong, nothing written",
                          **got, "ok": ok})
    groups = cat.api_groups() if hasattr(cat, "api_groups") else {"Python API": cat.api_cases()}
    for group, items in groups.items():
        for name, (fn, exc_type, fragment) in items.items():
            progress(f"bad input (API): {name}")
            cases.append(_api_case(cat, tmp / f"api-{len(cases)}", group, name, fn, exc_type, fragment))
    return cases


def _api_case(cat: Any, folder: Path, group: str, name: str, fn: Callable[[Path], Any],
              exc_type: type[BaseException] | None, fragment: str) -> dict[str, Any]:
    """One Python-API case in ``folder``: what it raised (or that it must not raise), files written."""
    folder.mkdir()
    cat.make_files(folder)
    before = snapshot(folder)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        fn(folder)
        got: dict[str, Any] = {"raised": None, "message": "returned"}
    except Exception as exc:  # what it raises is what is measured
        got = {"raised": type(exc).__name__, "message": _first_line(exc)}
        got["ok_type"] = exc_type is not None and isinstance(exc, exc_type)
    finally:
        os.chdir(cwd)
    written = changed(before, snapshot(folder))
    if exc_type is None:
        expected, ok = "runs without an error, nothing written", got["raised"] is None and not written
    else:
        expected = f"{exc_type.__name__} naming what is wrong, nothing written"
        ok = bool(got.get("ok_type")) and fragment.lower() in got["message"].lower() and not written
    return {"class": f"bad input: {group}", "case": name, "expected": expected, **got,
            "written": written, "ok": ok}


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (a KeyError's own, not its quoted repr)."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return text.splitlines()[0] if text else ""


# -- run folders ------------------------------------------------------------------------------
def run_folder(tmp: Path, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """Finished results kept, runs keyed by their id, no mixed results, one writer at a time."""
    from gan_nas_env.run_folder import RunLock, previous_run

    progress("run folders: a finished 3-episode search and a 2-iteration retraining")
    ref = tmp / "finished"
    r = search(ref, episodes=3)
    if r.returncode != 0:
        raise RuntimeError(f"the reference search failed:\n{r.stderr}")
    ref_results = results(ref)
    rt = tmp / "retrain"
    r = gan_nas(["retrain", "--config", "tiny", "--arch", "e2gan", "--iters", "2", "--no-progress",
                 "--out", str(rt)], tmp)
    if r.returncode != 0:
        raise RuntimeError(f"the reference retraining failed:\n{r.stderr}")
    cases: list[dict[str, Any]] = []

    def case(cls: str, name: str, expected: str, folder: Path, run: Callable[[Path], Any],
             check: Callable[[subprocess.CompletedProcess, Path, list[str]], bool],
             ignore: tuple[str, ...] = ()) -> None:
        progress(f"run folders: {name}")
        work = tmp / f"case-{len(cases)}"
        shutil.copytree(folder, work, ignore=shutil.ignore_patterns(*ignore))
        before = snapshot(work, ignore=("run.lock",))
        r = run(work)
        written = changed(before, snapshot(work, ignore=("run.lock",)))
        got = {**outcome(r), "written": written}
        cases.append({"class": cls, "case": name, "expected": expected, **got,
                      "ok": bool(check(r, work, written))})

    refused = "exit 2, one line, the run unchanged"

    def is_refused(r: subprocess.CompletedProcess, _: Path, written: list[str]) -> bool:
        return r.returncode == 2 and not written and "Traceback" not in r.stderr

    def same_results(r: subprocess.CompletedProcess, work: Path, _: list[str]) -> bool:
        return r.returncode == 0 and results(work) == ref_results

    lost = "finished results kept"
    case(lost, "search onto a finished run without --resume", refused, ref,
         lambda w: search(w, episodes=3), is_refused)
    case(lost, "retrain --out onto a search run", refused, ref,
         lambda w: gan_nas(["retrain", "--config", "tiny", "--arch", "e2gan", "--iters", "2",
                            "--no-progress", "--out", str(w)], tmp), is_refused)
    case(lost, "search --out onto a retraining run", refused, rt,
         lambda w: search(w, episodes=3), is_refused)
    case(lost, "search --overwrite onto a retraining run", refused, rt,
         lambda w: search(w, "--overwrite", episodes=3), is_refused)
    def aside_intact(r: subprocess.CompletedProcess, work: Path, _: list[str]) -> bool:
        aside = previous_run(work)
        return (r.returncode == -9 and aside.is_dir() and results(aside) == ref_results
                and (aside / "top_architectures.json").is_file())

    case(lost, "search --overwrite killed (SIGKILL) at its first step",
         "killed there; the finished run whole in OUT.overwritten", ref,
         lambda w: search(w, "--overwrite", episodes=3, kill_at="step:1"), aside_intact)
    case(lost, "--resume of a finished run without --episodes (preset says 4, run had 3)",
         "exit 0, the run's own 3 episodes, every row unchanged", ref,
         lambda w: gan_nas(["search", "--out", str(w), "--resume", "--no-progress"], tmp), same_results)
    keyed = "runs keyed by their id, not their folder name"
    case(keyed, "--resume of a renamed run folder", "exit 0, same rows and top list", ref,
         lambda w: gan_nas(["search", "--out", str(w), "--resume", "--no-progress"], tmp),
         lambda r, w, _: same_results(r, w, _) and "1. " in r.stdout)
    case(keyed, "--resume of a copy made without results.sqlite-wal and -shm",
         "exit 0, same rows", ref,
         lambda w: gan_nas(["search", "--out", str(w), "--resume", "--no-progress"], tmp), same_results,
         ignore=("results.sqlite-wal", "results.sqlite-shm"))
    mixed = "no mixed results"
    case(mixed, "--resume --set train.g_lr=0.001 (a proxy change)", refused, ref,
         lambda w: gan_nas(["search", "--out", str(w), "--resume", "--set", "train.g_lr=0.001"], tmp),
         is_refused)
    case(mixed, "--resume --algo ppo (another agent)", refused, ref,
         lambda w: gan_nas(["search", "--out", str(w), "--resume", "--algo", "ppo"], tmp), is_refused)
    case(mixed, "--resume --config quickstart (another config)", refused, ref,
         lambda w: gan_nas(["search", "--out", str(w), "--resume", "--config", "quickstart"], tmp),
         is_refused)

    def second_writer(w: Path) -> subprocess.CompletedProcess:
        lock = RunLock(w).acquire()  # as a running search holds it
        try:
            return gan_nas(["search", "--out", str(w), "--resume", "--no-progress"], tmp)
        finally:
            lock.release()

    case(mixed, "a second search on a run folder another process is writing",
         "exit 2, one line naming the other pid, the run unchanged", ref, second_writer,
         lambda r, w, written: is_refused(r, w, written) and "another gan-nas process" in r.stderr)
    for command in (["search", *TINY, "--episodes", "1"],
                    ["retrain", "--config", "tiny", "--arch", "e2gan", "--iters", "2", "--no-progress"]):
        cases.append(_read_only_out(tmp, command, progress))
    return cases


def _read_only_out(tmp: Path, command: list[str], progress: Callable[[str], None]) -> dict[str, Any]:
    """``--out`` on a read-only tmpfs (mounting needs root; reported as not run otherwise)."""
    name = f"{command[0]} --out on a read-only file system"
    progress(f"run folders: {name}")
    mnt = tmp / f"ro-{command[0]}"
    mnt.mkdir()
    expected = "exit 2, one line, nothing written"
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1024k,ro", "tmpfs", str(mnt)],
                       check=True, capture_output=True, text=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        return {"class": "unwritable output", "case": name, "expected": expected, "rc": None,
                "traceback": False, "message": f"not run: cannot mount a tmpfs here ({exc})", "ok": None}
    try:
        r = gan_nas([*command, "--out", str(mnt / "run")], tmp)
        got = outcome(r)
        return {"class": "unwritable output", "case": name, "expected": expected, **got,
                "ok": r.returncode == 2 and not got["traceback"] and "read-only" in got["message"]
                and not any(mnt.iterdir())}
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


# -- determinism ------------------------------------------------------------------------------
def determinism(tmp: Path, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """Two processes with one seed, bit for bit; then the global-RNG tests over every loss and K."""
    progress("determinism: two processes, one seed")
    a, b = search(tmp / "a", episodes=2), search(tmp / "b", episodes=2)
    same = a.returncode == b.returncode == 0 and results(tmp / "a") == results(tmp / "b")
    cases = [{"class": "determinism", "case": "two searches in two processes with one seed",
              "expected": "the same step rows and evaluations, bit for bit",
              "rc": max(a.returncode, b.returncode), "message": "identical" if same else "different",
              "traceback": False, "ok": same}]
    progress("determinism: tests/training/test_determinism.py")
    xml = tmp / "determinism.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    str(ROOT / "tests" / "training" / "test_determinism.py"), f"--junitxml={xml}"],
                   cwd=ROOT, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    import xml.etree.ElementTree as ET

    for tc in ET.parse(xml).getroot().iter("testcase"):
        failed = [c.tag for c in tc if c.tag in ("failure", "error", "skipped")]
        cases.append({"class": "determinism", "case": tc.get("name"),
                      "expected": "passes (local generators only; global RNG neither read nor changed)",
                      "rc": 0 if not failed else 1, "message": failed[0] if failed else "passed",
                      "traceback": False, "ok": not failed})
    return cases


# -- kills, Ctrl-C, full disk -----------------------------------------------------------------
SIGKILLS = ["step:1", "step:2", "step:3", "step:4", "step:8", "step:12", "step:15",
            "evaluation:1", "evaluation:6", "evaluation:12",
            "checkpoint:1", "checkpoint:2", "checkpoint:4",
            "checkpoint-swap:1", "checkpoint-swap:2", "checkpoint-swap:4"]
TWICE = [("step:4", "step:3"), ("checkpoint:2", "checkpoint-swap:1")]  # killed again on resume
SIGINTS = ["step:5:INT", "evaluation:8:INT", "checkpoint:2:INT"]
DISKS_KIB = [1800, 1100, 120]  # fills mid-checkpoint 2, at checkpoint 1, before the first episode


def _resume(out: Path) -> tuple[bool, str]:
    """``gan-nas search --out OUT --resume``: finished or not, and its message if not."""
    r = gan_nas(["search", "--out", str(out), "--resume", "--no-progress"], out.parent)
    return r.returncode == 0, message(r) if r.returncode else ""


def kills(tmp: Path, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    """Kill, interrupt or fill the disk under a 5-episode search; resume; compare with no kill."""
    progress("kills: the uninterrupted reference")
    ref = tmp / "ref"
    r = search(ref)
    if r.returncode != 0:
        raise RuntimeError(f"the reference search failed:\n{r.stderr}")
    ref_results = results(ref)
    cases = []

    def record(cls: str, name: str, expected: str, out: Path, killed_ok: bool,
               got: dict[str, Any]) -> None:
        resumed, err = _resume(out)
        same = resumed and results(out) == ref_results
        leftovers = [n for n in ("checkpoint.tmp", "checkpoint.old") if (out / n).exists()]
        cases.append({"class": cls, "case": name, "expected": expected, **got,
                      "resumed": resumed, "resume_error": err, "identical": same,
                      "leftovers": leftovers, "ok": bool(killed_ok and same and not leftovers)})

    for at in SIGKILLS:
        progress(f"kills: SIGKILL at {at}")
        out = tmp / f"kill-{at.replace(':', '-')}"
        r = search(out, kill_at=at)
        got = outcome(r)
        record("kill -9", f"SIGKILL at {at}", "killed there; --resume ends identical to no kill",
               out, r.returncode == -9 and f"killed at {at}" in r.stderr, got)
    for first, second in TWICE:
        progress(f"kills: SIGKILL at {first}, then at {second} of the resumed process")
        out = tmp / f"twice-{first.replace(':', '-')}"
        r1 = search(out, kill_at=first)
        r2 = gan_nas(["search", "--out", str(out), "--resume", "--no-progress"], tmp, kill_at=second)
        got = {"rc": r2.returncode, "message": f"killed at {first}, resumed, killed at {second}",
               "traceback": False}
        record("kill -9", f"SIGKILL at {first}, then at {second} of the resumed run",
               "killed twice; --resume ends identical to no kill", out,
               r1.returncode == -9 and r2.returncode == -9, got)
    for at in SIGINTS:
        progress(f"kills: Ctrl-C at {at}")
        out = tmp / f"int-{at.replace(':', '-')}"
        r = search(out, kill_at=at)
        got = outcome(r)
        clean = r.returncode == 130 and not got["traceback"] and "--resume" in got["message"]
        record("Ctrl-C (SIGINT)", f"SIGINT at {at.rsplit(':', 1)[0]}",
               "exit 130, one line with the --resume command; --resume ends identical", out, clean, got)
    for kib in DISKS_KIB:
        progress(f"kills: disk full ({kib} KiB tmpfs)")
        mnt = tmp / f"disk-{kib}"
        mnt.mkdir()
        try:
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(mnt)],
                           check=True, capture_output=True, text=True)
        except (subprocess.CalledProcessError, FileNotFoundError) as exc:
            cases.append({"class": "disk full", "case": f"{kib} KiB free", "ok": None,
                          "expected": "exit 4, one line; --resume after freeing space ends identical",
                          "rc": None, "traceback": False,
                          "message": f"not run: cannot mount a tmpfs here ({exc})"})
            continue
        try:
            out = mnt / "run"
            r = search(out)
            got = outcome(r)
            got["where"] = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
            subprocess.run(["mount", "-o", "remount,size=65536k", str(mnt)], check=True)
            clean = r.returncode == 4 and not got["traceback"] and "--resume" in got["message"]
            record("disk full", f"search on a {kib} KiB file system",
                   "exit 4, one line with the --resume command; --resume after freeing space "
                   "ends identical", out, clean, got)
        finally:
            subprocess.run(["umount", str(mnt)], check=False)
    return cases


PARTS: dict[str, Callable[[Path, Callable[[str], None]], list[dict[str, Any]]]] = {
    "bad-input": bad_input, "run-folder": run_folder, "determinism": determinism, "kills": kills}


# -- report -----------------------------------------------------------------------------------
TMP_RE = re.compile(r"/tmp/(?:reliability-[a-z-]+|gan-nas-bad-inputs)-[A-Za-z0-9_]+")  # temporary folders


def _cell(text: Any, limit: int = 0) -> str:
    text = TMP_RE.sub("$TMP", str(text))  # the temporary folder the case ran in
    if limit and len(text) > limit:
        text = text[:limit] + " ..."
    return text.replace("|", "\\|").replace("\n", " ")


def report(data: dict[str, Any]) -> str:
    """docs/reliability.md from reliability.json."""
    lines = ["# Reliability: hostile cases and what each gets", "",
             "Generated by `python scripts/reliability.py` from `docs/reliability/reliability.json`;",
             "do not edit by hand. Every case runs `gan-nas` as a separate process in a fresh folder",
             "on the `tiny` config with real training; a kill, Ctrl-C or full disk is injected at an",
             "exact store event (`GAN_NAS_ENV_TEST_KILL_AT`) or by a small tmpfs, never by a timer.", ""]
    allc = [c for p in data["parts"].values() for c in p["cases"]]
    lines += ["## Summary", "", "| class | cases | as expected | not as expected | not run |",
              "|---|---|---|---|---|"]
    classes: dict[str, list[dict[str, Any]]] = {}
    for c in allc:
        classes.setdefault(c["class"], []).append(c)
    for cls, cs in classes.items():
        ok = sum(c["ok"] is True for c in cs)
        bad = sum(c["ok"] is False for c in cs)
        lines.append(f"| {cls} | {len(cs)} | {ok} | {bad} | {len(cs) - ok - bad} |")
    tot_ok = sum(c["ok"] is True for c in allc)
    tot_bad = sum(c["ok"] is False for c in allc)
    lines += [f"| **all** | **{len(allc)}** | **{tot_ok}** | **{tot_bad}** | "
              f"**{len(allc) - tot_ok - tot_bad}** |", ""]
    for name, part in data["parts"].items():
        prov = part["provenance"]
        m = prov["machine"]
        lines += [f"## {name}", "",
                  f"{len(part['cases'])} cases in {part['wall_s']:.0f} s on {m['cpu']} ({m['cores']} cores"
                  f"{', ' + m['gpu'] if m.get('gpu') else ', no GPU'}), gan-nas-env {prov['version']}, "
                  f"git {prov['git_sha'][:12]}, {prov['date']}; `{' '.join(prov['command'])}`.", ""]
        if name == "kills":
            lines += ["| class | case | expected | exit | message | resumed identical | ok |",
                      "|---|---|---|---|---|---|---|"]
            for c in part["cases"]:
                lines.append(f"| {c['class']} | {_cell(c['case'])} | {_cell(c['expected'])} | {c['rc']} | "
                             f"{_cell(c['message'], 200)} | {c.get('identical', '-')} | {_mark(c['ok'])} |")
        else:
            lines += ["| class | case | expected | got | message | ok |", "|---|---|---|---|---|---|"]
            for c in part["cases"]:
                got = (f"raised {c.get('raised')}" if c.get("raised") else "returned" if "raised" in c
                       else f"exit {c.get('rc')}")
                if c.get("traceback"):
                    got += ", traceback"
                if c.get("written"):
                    got += f", wrote {', '.join(c['written'][:3])}"
                lines.append(f"| {c['class']} | {_cell(c['case'])} | {_cell(c['expected'])} | {_cell(got)} | "
                             f"{_cell(c['message'], 200)} | {_mark(c['ok'])} |")
        lines.append("")
    return "\n".join(lines)


def _mark(ok: bool | None) -> str:
    return {True: "yes", False: "**NO**", None: "not run"}[ok]


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts, keep the others from the JSON, write the report."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated: {', '.join(PARTS)}")
    p.add_argument("--report", action="store_true", help="only write docs/reliability.md from the JSON")
    args = p.parse_args(argv)
    parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    unknown = [x for x in parts if x not in PARTS]
    if unknown:
        p.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    data = json.loads(JSON_PATH.read_text()) if JSON_PATH.exists() else {"parts": {}}
    if not args.report:
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in parts:
            t0, prov = time.perf_counter(), provenance()  # the code the part runs: at its start
            with tempfile.TemporaryDirectory(prefix=f"reliability-{name}-") as tmp:
                cases = PARTS[name](Path(tmp), lambda s: print(f"[reliability] {s}", flush=True))
            data["parts"][name] = {"cases": cases, "wall_s": time.perf_counter() - t0,
                                   "provenance": prov}
            data["parts"] = {k: data["parts"][k] for k in PARTS if k in data["parts"]}
            tmp_json = JSON_PATH.with_suffix(".tmp")
            tmp_json.write_text(json.dumps(data, indent=1, default=str))
            tmp_json.replace(JSON_PATH)  # a stopped run keeps every finished part
            bad = [c["case"] for c in cases if c["ok"] is False]
            print(f"[reliability] {name}: {len(cases)} cases, {len(bad)} not as expected"
                  + (f": {'; '.join(bad)}" if bad else ""), flush=True)
    MD_PATH.write_text(report(data) + "\n")
    print(f"[reliability] wrote {MD_PATH.relative_to(ROOT)} and {JSON_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
