#!/usr/bin/env python
"""Throughput of final protocol v2 rows built many at once on one GPU (``gpu_suite.sh finals``).

Two steps, one on each machine:

- ``window`` (on the GPU machine, at the end of the finals part): the rows made in one
  window (the export after it, less the rows restored before it), each row's training
  seconds, rows per hour, the window and the workers, with the machine's provenance;
- ``report`` (here): that JSON, committed as ``docs/perf/final_rows_gpu.json``, as a Markdown
  page beside the CPU's cost per row from the committed rows (``docs/validity/finals_v2.json``)::

    python benchmarks/final_rows_gpu.py report --run docs/perf/final_rows_gpu.json \\
        --rows docs/validity/finals_v2.json --md docs/perf/final_rows_gpu.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any


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


def report(run: dict[str, Any], rows: list[dict[str, Any]], run_path: str) -> str:
    """Markdown: the GPU window's throughput beside the CPU rows' cost."""
    cpu = [float(r["train_s"]) * 8500 / int(r.get("iters", 8500)) for r in rows
           if r.get("train_s") and r.get("device", "cpu") == "cpu"]
    cpu_med = statistics.median(cpu) if cpu else float("nan")
    m = run["provenance"]["machine"]
    med = run["row_train_s"]["median"]
    lines = [
        "# Final protocol v2 rows on one GPU",
        "",
        f"`benchmarks/gpu_suite.sh finals` on {m.get('gpu')} ({m.get('cpu')}, {m.get('cores')} cores), "
        f"git {run['provenance']['git_sha']}, {run['provenance']['date']}: {run['workers']} builder "
        f"processes (one torch thread each) sharing the GPU and one list of rows (`{run['rows_args']}`), "
        f"each starting a row only when it should end within {run['finish_by_minutes']:g} minutes. "
        f"Source: `{run_path}`.",
        "",
        "| | value |",
        "|---|---|",
        f"| window | {run['window_s']} s |",
        f"| rows made | {run['rows_made']} |",
        f"| rows per hour | {run['rows_per_hour']} |",
        f"| one row's training (median, min-max) | {med if med is None else round(med)} s "
        f"({run['row_train_s']['min'] and round(run['row_train_s']['min'])}-"
        f"{run['row_train_s']['max'] and round(run['row_train_s']['max'])}) |",
        f"| CPU: one row on one core (median of {len(cpu)} committed rows) | {cpu_med:.0f} s |",
        f"| CPU: rows per hour, 2-core box (2 builders) | {2 * 3600 / cpu_med:.1f} |",
        "",
    ]
    return "\n".join(lines)


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
    r = sub.add_parser("report", help="the Markdown page (here)")
    r.add_argument("--run", type=Path, required=True)
    r.add_argument("--rows", type=Path, default=Path("docs/validity/finals_v2.json"))
    r.add_argument("--md", type=Path, required=True)
    a = p.parse_args(argv)
    if a.cmd == "window":
        out = window(a.before, a.after, a.workers, a.finish_by, a.t_start, a.t_end, a.rows_args)
        a.out.write_text(json.dumps(out, indent=1) + "\n")
        print(f"finals: {out['rows_made']} rows made by {a.workers} workers in {out['window_s']} s "
              f"({out['rows_per_hour']} rows per hour; median row {out['row_train_s']['median']} s)")
    else:
        a.md.write_text(report(json.loads(a.run.read_text()), _rows(a.rows), str(a.run)))
        print(f"wrote {a.md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
