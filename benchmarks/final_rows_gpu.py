#!/usr/bin/env python
"""Throughput of final protocol v2 rows built many at once on one GPU (``gpu_suite.sh finals``).

Three steps:

- ``window`` (on the GPU machine, at the end of the finals part): the rows made in one
  window (the export after it, less the rows restored before it), each row's training
  seconds, the window and the workers, with that machine's provenance (``finals_run.json``);
- ``progress`` (here): adds what the workers' logs (the part's ``logs.tar.gz``) say about the
  rows still training when the window closed: each worker's generator iterations and their
  rate, so that a window too short for a whole row still measures the throughput;
- ``report`` (here): one or more such JSON files as a Markdown page, beside the CPU's cost
  per row from the committed rows (``docs/validity/finals_v2.json``)::

    python benchmarks/final_rows_gpu.py progress --run finals_run.json --logs logs.tar.gz \\
        --out docs/perf/final_rows_gpu_w10.json   # + --wip finals_wip.tar.gz after THREADS > 1
    python benchmarks/final_rows_gpu.py report --runs docs/perf/final_rows_gpu_w*.json \\
        --md docs/perf/final_rows_gpu.md
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tarfile
from pathlib import Path
from typing import Any

BUDGET = 8500  # final protocol v2's generator iterations per row
_ELAPSED = re.compile(r"\[(?:(\d+):)?(\d+):(\d+)<")  # tqdm's "[mm:ss<" or "[h:mm:ss<"
_ITER = re.compile(r"\[retrain\] iter (\d+):")
_STOPPED = re.compile(r"stopped at generator iteration (\d+)")
_ROW = re.compile(r"\[row\] .* from iteration (\d+)")


def _rows(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["rows"]


def window(before: Path, after: Path, workers: int, finish_by: float, t_start: int, t_end: int,
           rows_args: str) -> dict[str, Any]:
    """The rows made between ``before`` and ``after`` (two exports) and the throughput."""
    from gan_nas_env.provenance import provenance

    had = {(r["arch"], r["seed"]) for r in _rows(before)}
    made = [r for r in _rows(after) if (r["arch"], r["seed"]) not in had]
    secs = sorted(float(r["train_s"]) for r in made if r.get("train_s"))
    span = max(t_end - t_start, 1)
    return {
        "workers": workers, "finish_by_minutes": finish_by, "window_s": span,
        "rows_before": len(had), "rows_made": len(made),
        "rows_per_hour": round(len(made) * 3600 / span, 1),
        "row_train_s": {"median": statistics.median(secs) if secs else None,
                        "min": secs[0] if secs else None, "max": secs[-1] if secs else None,
                        "all": secs},
        "devices": sorted({str(r.get("device")) for r in made}),
        "rows": [[r["arch"], r["seed"]] for r in made],
        "rows_args": rows_args, "provenance": provenance(),
    }


def worker_progress(log: str) -> dict[str, Any]:
    """One worker's log: the generator iterations it ran in the window and their rate.

    Each row is a segment: from the iteration ``build_finals.py`` says it starts at (``[row] ...
    from iteration N``: 0, or where a paused training resumes; logs without that line start
    each row at 0) to where it stopped (``stopped at generator iteration N``) or its last
    scoring. tqdm redraws the bar after each scoring line; its ``[mm:ss<`` is the worker's
    time, so the rate is the iterations between a row's scorings over the time between them.
    """
    segments: list[dict[str, Any]] = []
    pending = None
    for line in log.replace("\r", "\n").splitlines():
        m_el = _ELAPSED.findall(line)
        if m_el and pending is not None:  # the bar redrawn after a scoring: that moment
            h, mnt, sec = m_el[-1]
            segments[-1]["points"].append((int(h or 0) * 3600 + int(mnt) * 60 + int(sec), pending))
            pending = None
        if m_row := _ROW.search(line):
            segments.append({"start": int(m_row.group(1)), "end": int(m_row.group(1)), "points": []})
        elif m_iter := _ITER.search(line):
            it = int(m_iter.group(1))
            if not segments or it <= segments[-1]["end"]:  # a row whose start was not logged
                segments.append({"start": 0, "end": 0, "points": []})
            segments[-1]["end"] = pending = it
        elif m_stop := _STOPPED.search(line):
            if segments:
                segments[-1]["end"] = int(m_stop.group(1))
    iters = sum(s["end"] - s["start"] for s in segments)
    ran = [(s["points"][-1][1] - s["points"][0][1], s["points"][-1][0] - s["points"][0][0])
           for s in segments if len(s["points"]) >= 2]
    secs = sum(t for _, t in ran)
    return {"iters": iters, "iters_per_s": sum(i for i, _ in ran) / secs if secs > 0 else None,
            "scorings": sum(len(s["points"]) for s in segments), "rows": len(segments)}


def gpu_busy(logs: Path) -> float | None:
    """The median share of time the GPU ran a kernel (``nvidia-smi dmon -s u``'s ``sm`` %) over
    the window's samples from the first busy one; None where the logs have no ``dmon.txt``."""
    with tarfile.open(logs) as tar:
        member = next((m for m in tar.getmembers() if Path(m.name).name == "dmon.txt"), None)
        f = tar.extractfile(member) if member else None
        text = f.read().decode(errors="replace") if f else ""
    sm = [int(c[1]) for c in (line.split() for line in text.splitlines() if not line.startswith("#"))
          if len(c) > 1 and c[1].isdigit()]
    first = next((i for i, v in enumerate(sm) if v > 0), None)
    return float(statistics.median(sm[first:])) if first is not None else None


def _folder_row(name: str) -> tuple[str, int]:
    """A run folder's row: ``0120...-s1`` -> (``"0 1 2 0 ..."``, 1) (``build_finals._folder_name``)."""
    digits, seed = name.rsplit("-s", 1)
    return " ".join(digits), int(seed)


def rows_progress(run: dict[str, Any], logs: Path, wip: Path, threads: int) -> dict[str, Any]:
    """A window's iterations counted row by row: each row from where its ``[row]`` line says it
    started to the budget (a row made) or to its paused checkpoint's step (``wip``: the window's
    ``finals_wip.tar.gz``); the rate is those over the window, for ``workers x threads`` rows at
    once (a slot idle at the end makes it an underestimate)."""
    import io

    import torch

    starts: dict[tuple[str, int], int] = {}
    with tarfile.open(logs) as tar:
        for member in tar.getmembers():
            if re.fullmatch(r"finals_w\d+\.log", Path(member.name).name) and (f := tar.extractfile(member)):
                for m in re.finditer(r"\[row\] ([\d ]+?) seed (\d+): from iteration (\d+)", f.read().decode(errors="replace")):
                    starts.setdefault((m.group(1), int(m.group(2))), int(m.group(3)))
    ends = {(arch, int(seed)): BUDGET for arch, seed in run["rows"]}
    with tarfile.open(wip) as tar:
        for member in tar.getmembers():
            if Path(member.name).name == "checkpoint.pt" and (f := tar.extractfile(member)):
                step = torch.load(io.BytesIO(f.read()), map_location="cpu", weights_only=True)["step"]
                ends[_folder_row(Path(member.name).parent.name)] = int(step)
    iters = sum(ends[row] - start for row, start in starts.items() if row in ends)
    slots = run["workers"] * threads
    total_rate = iters / max(run["window_s"], 1)
    return {"threads": threads, "rows_counted": sum(row in ends for row in starts), "iters_total": iters,
            "iters_per_s_per_worker": total_rate / slots, "iters_per_s_total": total_rate,
            "row_s_one_worker": BUDGET * slots / total_rate if total_rate else None,
            "rows_per_hour_equivalent": total_rate * 3600 / BUDGET}


def progress(run: dict[str, Any], logs: Path, sent_sha: str | None = None, wip: Path | None = None) -> dict[str, Any]:
    """``run`` (a ``window`` JSON) with each worker's iterations and rate from ``logs``
    (:func:`rows_progress` from ``wip`` too when the workers ran rows in threads).

    ``sent_sha``: the commit the window's working tree was sent from, where the GPU machine's
    provenance names another (its copy's ``.git`` can be older than the tree it runs).
    """
    from gan_nas_env.provenance import provenance

    threads = re.search(r"--threads (\d+)", run.get("rows_args", ""))
    if threads and int(threads.group(1)) > 1:  # the logs interleave rows: count them row by row
        if wip is None:
            raise SystemExit("progress: this window ran several rows per worker (--threads > 1), whose log "
                             "lines interleave: pass its finals_wip.tar.gz (--wip) to count the rows instead")
        return {**run, **rows_progress(run, logs, wip, int(threads.group(1))), "gpu_busy_pct": gpu_busy(logs),
                **({"sent_git_sha": sent_sha} if sent_sha else {}), "analysed": provenance()}
    per_worker = {}
    with tarfile.open(logs) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if re.fullmatch(r"finals_w\d+\.log", name):
                f = tar.extractfile(member)
                per_worker[name] = worker_progress(f.read().decode(errors="replace") if f else "")
    rates = [w["iters_per_s"] for w in per_worker.values() if w["iters_per_s"]]
    total_rate = sum(rates)
    return {**run, "workers_progress": per_worker,
            "iters_total": sum(w["iters"] for w in per_worker.values()),
            "iters_per_s_per_worker": statistics.median(rates) if rates else None,
            "iters_per_s_total": total_rate,
            "row_s_one_worker": BUDGET / statistics.median(rates) if rates else None,
            "rows_per_hour_equivalent": total_rate * 3600 / BUDGET, "gpu_busy_pct": gpu_busy(logs),
            **({"sent_git_sha": sent_sha} if sent_sha else {}), "analysed": provenance()}


def _slots(run: dict[str, Any]) -> str:
    """The workers of a window, and their threads when each trained several rows at once."""
    threads = run.get("threads", 1)
    return f"{run['workers']} x {threads} threads" if threads > 1 else str(run["workers"])


def report(runs: list[dict[str, Any]], paths: list[str], rows: list[dict[str, Any]]) -> str:
    """Markdown: each GPU window's throughput beside the CPU rows' cost."""
    cpu = [float(r["train_s"]) * BUDGET / int(r.get("iters", BUDGET)) for r in rows
           if r.get("train_s") and r.get("device", "cpu") == "cpu"]
    cpu_med = statistics.median(cpu)
    m = runs[0]["provenance"]["machine"]
    lines = [
        "# Final protocol v2 rows on one GPU",
        "",
        f"`benchmarks/gpu_suite.sh finals` on one {m.get('gpu')} ({m.get('cpu')}, {m.get('cores')} "
        f"cores, torch {m.get('torch')}): N builder processes (one torch thread each) share the GPU "
        f"and one list of rows (`build_finals.py --claim`); a row is {BUDGET} generator iterations "
        "with a scoring every 500. "
        + ("No window yet has finished a row: " if not any(r["rows_made"] for r in runs) else "")
        + "the workers' logs give their iterations, and the rate below counts those. The first two windows (one call each) lost "
        "their unfinished trainings; later ones (`finals-detach` then `finals-collect`, one window "
        "over two calls) return them, to commit under `state/finals_v2_gpu` and resume in the next "
        "window. Sources: "
        + ", ".join(f"`{p}`" for p in paths) + " (`benchmarks/final_rows_gpu.py progress`).",
        "",
        "| workers | window | rows finished | iterations (all workers) | it/s per worker | it/s, all workers "
        "| one row, one worker | rows per hour (equivalent) | GPU busy | git |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    runs = sorted(runs, key=lambda r: (r["workers"] * r.get("threads", 1), r["window_s"]))
    for r in runs:
        busy = r.get("gpu_busy_pct")
        lines.append(
            f"| {_slots(r)} | {r['window_s']} s | {r['rows_made']} | {r['iters_total']} | "
            f"{r['iters_per_s_per_worker']:.1f} | {r['iters_per_s_total']:.1f} | "
            f"{r['row_s_one_worker']:.0f} s | {r['rows_per_hour_equivalent']:.1f} | "
            f"{'' if busy is None else f'{busy:.0f}%'} | {r.get('sent_git_sha', r['provenance']['git_sha'])[:12]} |")
    cpu_rate = BUDGET / cpu_med
    lines += [
        f"| CPU box: 2 builders, one {rows_cpu_model(rows)} core each | | | | {cpu_rate:.1f} | "
        f"{2 * cpu_rate:.1f} | {cpu_med:.0f} s (median of {len(cpu)} committed rows) | "
        f"{2 * 3600 / cpu_med:.1f} | | |",
        "",
    ]
    lines += ["What it shows:", "", *findings(runs, cpu_med), ""]
    return "\n".join(lines)


def findings(runs: list[dict[str, Any]], cpu_med: float) -> list[str]:
    """The report's bullets, from the windows (sorted by rows at once)."""
    per_worker = [r["iters_per_s_per_worker"] for r in runs]
    row_s = [r["row_s_one_worker"] for r in runs]
    best = max(runs, key=lambda r: r["iters_per_s_total"])
    busy = [r["gpu_busy_pct"] for r in runs if r.get("gpu_busy_pct") is not None]
    out = [
        f"- One worker runs {min(per_worker):.1f}-{max(per_worker):.1f} generator iterations a second "
        f"(about {1000 / max(per_worker):.0f}-{1000 / min(per_worker):.0f} ms an iteration of a gf 16 / "
        "df 16 GAN at batch 32). The throughput by rows at once: "
        + ", ".join(f"{r['iters_per_s_total']:.0f} it/s with {_slots(r)}" for r in runs) + ".",
    ]
    if any(r["workers"] * r.get("threads", 1) > best["workers"] * best.get("threads", 1) for r in runs):
        out.append(
            f"- It stops growing at about {best['iters_per_s_total']:.0f} it/s ({_slots(best)}): more "
            "processes share the same GPU time"
            + (f" (the GPU ran a kernel {min(busy):.0f}-{max(busy):.0f}% of the time, `nvidia-smi dmon`)" if busy else "")
            + ". Kernels of separate processes do not run at once (time-slicing), and an iteration "
            "is thousands of tiny kernels, so the GPU is held by launches, not by arithmetic: fewer, "
            "larger launches (the iteration as one CUDA graph, several rows' "
            "graphs on their own streams in one process: `--threads`) are the way past it, not more "
            "processes.")
    out += [
        f"- {_slots(best)}{' workers' if best.get('threads', 1) == 1 else ''} make the equivalent of {best['rows_per_hour_equivalent']:.0f} rows an hour, "
        f"{best['rows_per_hour_equivalent'] / (2 * 3600 / cpu_med):.1f}x this 2-core box, but one row takes "
        f"{min(row_s):.0f}-{max(row_s):.0f} s of one worker there: more than one device call (10 "
        "minutes) and about a whole session's device time (15 minutes, the machine's start-up "
        "included), so a row finishes in the window after the one that started it.",
        "- So each GPU window should finish the last window's paused rows first (they are taken "
        "first) and start no more new ones than it can take on; a checkpoint resumes only on the "
        "same kind of device.",
    ]
    return out


def rows_cpu_model(rows: list[dict[str, Any]]) -> str:
    """The most common CPU model of the committed rows."""
    models = [str(r.get("cpu")) for r in rows if r.get("cpu")]
    return max(set(models), key=models.count) if models else "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("window", help="the rows one GPU window made (on the GPU machine)")
    w.add_argument("--before", type=Path, required=True)
    w.add_argument("--after", type=Path, required=True)
    w.add_argument("--workers", type=int, required=True)
    w.add_argument("--finish-by", type=float, required=True)
    w.add_argument("--t-start", type=int, required=True)
    w.add_argument("--t-end", type=int, required=True)
    w.add_argument("--rows-args", default="")
    w.add_argument("--out", type=Path, required=True)
    g = sub.add_parser("progress", help="add the workers' iterations from their logs (here)")
    g.add_argument("--run", type=Path, required=True, help="finals_run.json of one window")
    g.add_argument("--logs", type=Path, required=True, help="that window's logs.tar.gz")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--sent-sha", default=None, help="the commit the window's tree was sent from")
    g.add_argument("--wip", type=Path, default=None,
                   help="that window's finals_wip.tar.gz (needed when its workers ran rows in threads)")
    r = sub.add_parser("report", help="the Markdown page (here)")
    r.add_argument("--runs", type=Path, nargs="+", required=True, help="progress JSON files")
    r.add_argument("--rows", type=Path, default=Path("docs/validity/finals_v2.json"))
    r.add_argument("--md", type=Path, required=True)
    a = p.parse_args(argv)
    from gan_nas_env.errors import UserError

    try:
        return _run(a)
    except UserError as exc:
        print(f"final_rows_gpu {a.cmd}: error: {exc}", file=sys.stderr)
        return 2


def _run(a: argparse.Namespace) -> int:
    """The subcommand ``a.cmd``; bad input (a missing or broken file) is a UserError before any write."""
    from gan_nas_env.errors import MissingFileError, UserError
    from gan_nas_env.user_files import check_output_file, read_json_file

    check_output_file(a.md if a.cmd == "report" else a.out, "--md" if a.cmd == "report" else "--out")
    for flag in ("logs", "wip", "before", "after"):
        path = getattr(a, flag, None)
        if path is not None and not path.is_file():
            raise MissingFileError(f"--{flag} {path}: no such file")
    if a.cmd == "window":
        out = window(a.before, a.after, a.workers, a.finish_by, a.t_start, a.t_end, a.rows_args)
        a.out.write_text(json.dumps(out, indent=1) + "\n")
        print(f"finals: {out['rows_made']} rows made by {a.workers} workers in {out['window_s']} s "
              f"({out['rows_per_hour']} rows per hour; median row {out['row_train_s']['median']} s)")
    elif a.cmd == "progress":
        try:
            out = progress(read_json_file(a.run, "--run"), a.logs, a.sent_sha, a.wip)
        except tarfile.ReadError:
            named = f"--logs {a.logs}" + (f" or --wip {a.wip}" if a.wip else "")
            raise UserError(f"{named}: not a tar archive") from None
        a.out.write_text(json.dumps(out, indent=1) + "\n")
        print(f"{a.out}: {out['iters_total']} iterations, {out['iters_per_s_total']:.1f} it/s over "
              f"{out['workers']} workers ({out['rows_per_hour_equivalent']:.1f} rows per hour)")
    else:
        runs = [read_json_file(x, "--runs") for x in a.runs]
        export = read_json_file(a.rows, "--rows")
        rows = export.get("rows") if isinstance(export, dict) else None
        if not isinstance(rows, list):
            raise UserError(f"--rows {a.rows}: no 'rows' list (a build_finals.py --export file)")
        a.md.write_text(report(runs, [str(x) for x in a.runs], rows))
        print(f"wrote {a.md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
