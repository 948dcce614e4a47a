#!/usr/bin/env python
r"""Final-fidelity rows of the benchmark table: complete architectures trained by the final protocol.

Each architecture is trained from scratch with ``gan-nas retrain``'s code under
``--config`` (default ``configs/final-fmnist.yaml``) and its final metrics are stored
in a SQLite results store, keyed by the config's :meth:`~gan_nas_env.config.Config.final_hash`,
the architecture and the training seed. The architectures are, in this order: the
first ``--archs`` of the table's own seeded sampling order (``scripts/build_table.py``),
then ``--extra`` ones (default: the published E2GAN and AutoGAN architectures).
Resumable at two levels: a stored row is never trained again, and a training killed
half-way resumes from its run folder's checkpoint. Several workers may share one store.

    OPENBLAS_NUM_THREADS=1 nohup python scripts/build_finals.py --worker 0 --workers 2 &
    OPENBLAS_NUM_THREADS=1 nohup python scripts/build_finals.py --worker 1 --workers 2 &
    python scripts/build_finals.py --seeds 0,1,2 --archs 5 --extra ""   # the noise floor
    python scripts/build_finals.py --export docs/validity/finals.json  # commit partial results
    # a fresh clone: the committed rows back into the store first, then the missing ones trained
    # (with --export instead of training: restore, export and exit)
    OPENBLAS_NUM_THREADS=1 nohup python scripts/build_finals.py --restore docs/validity/finals.json &
    # final protocol v2 (learning curves, keyed by the budget-free curve hash): the gold subset
    # to 10,000 iterations with every checkpoint's grid kept, then rows extended or added at
    # another budget (a row already past it is not trained again)
    OPENBLAS_NUM_THREADS=1 nohup python scripts/build_finals.py --config final-fmnist-v2 --archs 30 \
        --set retrain.g_iters=10000 --extra "" --store runs/finals_v2.sqlite --runs runs/finals_v2 \
        --keep checkpoint.pt,samples --worker 0 --workers 2 &
    # the v2 rows at the protocol's own budget (8,500): the uniform sample's first 100, the
    # published architectures (each list on its own core)
    ... --config final-fmnist-v2 --archs 100 --extra "" --store runs/finals_v2.sqlite ... &
    ... --config final-fmnist-v2 --archs 0 --extra e2gan,autogan --store runs/finals_v2.sqlite ... &
    # (what is left of the v2 build, one shared ordered list, scripts/rows_v2.txt: scripts/build_v2.sh)
    # then the gold subset's second seeds (its first 10 architectures, seed 1): the same with
    --archs 10 --seeds 1
    # (or both lists at once, one builder each on its own core: `--worker 0 --workers 1` for
    # each; a list's rows are trained in order, so the two never take the same row)
    python scripts/build_finals.py --config final-fmnist-v2 --set retrain.g_iters=3000 --archs 150 ...
    # before a session ends: stop the builders (`pkill -TERM -f build_finals.py`: each saves a
    # checkpoint at the iteration it is in and exits), export the rows and save the unfinished
    # trainings (commit both); the next session resumes them with the same --wip
    python scripts/build_finals.py --config final-fmnist-v2 --store runs/finals_v2.sqlite \
        --runs runs/finals_v2 --export docs/validity/finals_v2.json --wip state/finals_v2
    # many builders of one machine sharing one ordered list (a GPU's: benchmarks/gpu_suite.sh
    # finals): each takes the next row no live builder has claimed, and starts none that would
    # end after 8 minutes; the list file names a row per line (architecture, then seed)
    ... --rows-from scripts/rows_v2.txt --claim runs/claims --finish-by 8 --worker 3 --workers 10 &
    # the best architectures of the validity searches and of the benchmark runs in docs/:
    python scripts/build_finals.py --archs 0 --extra "" \
        --extra-from docs/validity/searches.json docs/benchmark/final/summary.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from gan_nas_env.config import Config, load_config  # noqa: E402
from gan_nas_env.errors import UserError  # noqa: E402
from gan_nas_env.evaluators.store import ResultsStore  # noqa: E402
from gan_nas_env.evaluators.tabular import sampling_order  # noqa: E402
from gan_nas_env.provenance import cpu_model  # noqa: E402
from gan_nas_env.run_folder import RunLock, RunLockedError  # noqa: E402
from gan_nas_env.space import Architecture, ArchitectureError, resolve_architecture  # noqa: E402
from gan_nas_env.training.retrain import RetrainStopped, read_checkpoint  # noqa: E402
from gan_nas_env.user_files import check_output_file, read_json_file  # noqa: E402

KEEP = ("report.json", "report.md", "metrics.csv", "meta.json", "config.yaml")


def distinct_order(table_config: str, n: int) -> list[Architecture]:
    """The distinct architectures among the first ``n`` of the table's sampling order."""
    out: list[Architecture] = []
    seen: set[str] = set()
    for arch in sampling_order(load_config(table_config).seed, n):
        if str(arch) not in seen:
            seen.add(str(arch))
            out.append(arch)
    return out


def archs_named_in(path: Path) -> list[str]:
    """Best architectures named by a search export or a benchmark summary (JSON).

    A benchmark's are ordered agent by agent so that a partial build answers the most
    useful questions first: random search (every P(agent > random) compares with it), then
    the agents with the best final-fidelity IQM (the claims that most need measuring).
    """
    data = json.loads(path.read_text())
    found = [r["best_arch"] for r in data.get("rows", []) if r.get("best_arch")]  # validity_searches
    ff = data.get("final_fidelity") or {}  # gan-nas benchmark
    agents = ff.get("agents", {})
    iqm = {a: (ff.get("aggregates", {}).get(a, {}).get("IQM") or {}).get("value", 0.0) for a in agents}
    for name in sorted(agents, key=lambda a: (a != "random", -iqm[a])):
        found += [a for a in agents[name].get("best_archs", []) if a]
    if not found and "rows" not in data and "final_fidelity" not in data:
        raise SystemExit(f"{path}: neither a search export (rows) nor a benchmark summary (final_fidelity)")
    return found


def protocol_config(name: str, overrides: list[str] | None = None, seed: int | None = None) -> Config:
    """The final protocol's config: preset or YAML ``name``, ``--set`` overrides, the seed."""
    cfg = load_config(name, list(overrides or []))
    return load_config(cfg, {"seed": seed}) if seed is not None else cfg


def protocol_key(cfg: Config) -> str:
    """The store key of a protocol's rows (:meth:`Config.final_rows_key`: its curve hash
    when it records a learning curve, v2; its final hash when scored only at its end, v1)."""
    return cfg.final_rows_key()


def read_curve(folder: Path) -> list[dict]:
    """The learning curve of a retraining run folder: one dict per scoring (``metrics.csv``)."""
    lines = (folder / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    curve = []
    for line in lines[1:]:
        if not line.strip():
            continue
        vals = dict(zip(header, line.split(","), strict=True))
        curve.append({k: (int(v) if k == "iter" else float(v)) for k, v in vals.items() if v != ""})
    return curve


def train_one(cfg: Config, arch: Architecture, folder: Path, keep: tuple[str, ...] = ()) -> dict:
    """Train ``arch`` by the final protocol ``cfg`` in ``folder`` (resuming it) and return its record.

    A folder whose checkpoint is at a smaller budget (a curve row being extended) resumes
    from it to ``cfg.retrain.g_iters``. ``keep`` names what else survives the pruning
    (``checkpoint.pt`` to extend later, ``samples`` for the grids of every checkpoint).
    """
    from gan_nas_env.training.retrain import retrain

    resume = (folder / "checkpoint.pt").exists()
    # no checkpoint but files: killed between pruning the folder and storing its row (or the
    # store was rebuilt); that row is not stored, so the training is redone from scratch
    result = retrain(cfg, arch, folder, resume=resume, progress=False,
                     overwrite=not resume and folder.exists())
    grid = result.final_grid
    if grid is not None and grid.exists():  # keep the final samples next to the report
        shutil.copy(grid, folder / "final_grid.png")
    curve = read_curve(folder)
    for item in folder.iterdir():  # checkpoints and logs are large: keep the reports only
        if item.name not in (*KEEP, "final_grid.png", *keep):
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    metrics: dict[str, Any] = dict(result.final_metrics)  # with the curve, when there is one
    if cfg.retrain.eval_every < cfg.retrain.g_iters:
        metrics.update(iters=result.iterations, curve=curve)
    return {"metrics": metrics, "wall_s": result.wall_s}


def export_rows(store: ResultsStore, key: str, args: argparse.Namespace, path: Path) -> None:
    """The stored final rows of protocol ``key`` as JSON, with the protocol and provenance."""
    from gan_nas_env.provenance import provenance

    rows = [{"arch": r["arch"], "seed": r["seed"], **r["metrics"], "train_s": r["timings"].get("train_s"),
             "cpu": r["timings"].get("cpu"), **({"device": r["timings"]["device"]}
                                               if "device" in r["timings"] else {})}
            for r in store.evaluations(key)]
    data = {"final_hash": key, "config": protocol_config(args.config, args.overrides).to_dict(), "rows": rows,
            "provenance": provenance()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)
    print(f"wrote {path}: {len(rows)} final rows")


def read_export(path: Path, key: str) -> list[dict]:
    """The rows of an export (``--export``) of protocol ``key``; another protocol's are refused.

    A row without its ``cpu`` (exported before rows recorded it) gets the exporting
    machine's: such exports were made where their rows were trained.
    """
    try:
        data = read_json_file(path, "--restore")
    except UserError as exc:
        raise SystemExit(str(exc)) from None
    if data.get("final_hash") != key:
        raise SystemExit(f"{path}: rows of protocol {data.get('final_hash')!r}, not of {key!r}; "
                         "restore them with the --config they were trained by")
    exporter = ((data.get("provenance") or {}).get("machine") or {}).get("cpu")
    return [{**r, "cpu": r.get("cpu") or exporter} for r in data["rows"]]


def restore_rows(store: ResultsStore, key: str, rows: list[dict]) -> int:
    """Store exported ``rows`` of protocol ``key`` that the store lacks; return how many.

    A fresh clone has the committed rows but not the store they came from: restoring them
    keeps the builder from training them again.
    """
    new = 0
    for row in rows:
        if store.get_evaluation(key, row["arch"], row["seed"]) is not None:
            continue  # the store's own row wins: it is at least as fresh as the export
        metrics = {k: v for k, v in row.items() if k not in ("arch", "seed", "train_s", "cpu", "device")}
        store.put_evaluation(key, row["arch"], row["seed"], 3, metrics, np.zeros(0, np.float32),
                             timings={"train_s": row.get("train_s") or 0.0, "cpu": row.get("cpu"),
                                      **({"device": row["device"]} if "device" in row else {})})
        new += 1
    return new


WIP_SKIP = ("run.lock", "tb")  # a lock of a process that is gone; logs a resume can do without


def save_wip(runs: Path, wip: Path, key: str, store: ResultsStore, budget: int,
             keep: tuple[str, ...] = ("samples",)) -> int:
    """Copy the run folders of rows still training (a checkpoint, no finished row) to ``wip``.

    Run folders are not committed and a session's processes end with it: the committed
    copy lets the next session resume these trainings instead of starting them again.
    The sample grids of the checkpoints so far go too only when ``keep`` names ``samples``
    (rows that keep them when finished; the others' grids are half of a paused row's size).
    Returns how many folders were saved (``wip/<key>`` is replaced as a whole).
    """
    src, dst = runs / key, wip / key
    folders = [f for f in sorted(src.iterdir()) if (f / "checkpoint.pt").exists()] if src.exists() else []
    folders = [f for f in folders if not _done(store.get_evaluation(key, *_row_key(f)), budget)]
    tmp = wip / f".{key}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for f in folders:
        skip = WIP_SKIP if "samples" in keep else (*WIP_SKIP, "samples")
        shutil.copytree(f, tmp / f.name, ignore=shutil.ignore_patterns(*skip))
    shutil.rmtree(dst, ignore_errors=True)
    if folders:
        tmp.replace(dst)
    return len(folders)


def load_wip(runs: Path, wip: Path, key: str) -> int:
    """Copy saved run folders (:func:`save_wip`) that ``runs`` lacks back; return how many."""
    src = wip / key
    n = 0
    for f in sorted(src.iterdir()) if src.exists() else []:
        if not (runs / key / f.name).exists():
            shutil.copytree(f, runs / key / f.name)
            n += 1
    return n


def complete_architecture(spec: str) -> Architecture:
    """``spec`` as an architecture a final row can train: all three cells (a UserError if not),
    so that a partial one in a list is refused before the store is opened, not mid-build."""
    arch = resolve_architecture(spec)
    if not arch.is_complete:
        raise ArchitectureError(f"a final row needs a complete 3-cell architecture (14 integers), got {str(arch)!r}")
    return arch


def rows_of(args: argparse.Namespace) -> list[tuple[Architecture, int]]:
    """The rows ``--archs``, ``--extra``, ``--extra-from`` and ``--seeds`` name, in order:
    architecture by architecture, or seed by seed with ``--seed-major``."""
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    archs = distinct_order(args.table_config, args.archs)
    named = [a for f in args.extra_from for a in archs_named_in(Path(f))]
    for spec in [*(s.strip() for s in args.extra.split(",")), *named]:
        if spec:
            try:
                arch = complete_architecture(spec)
            except UserError as exc:
                raise SystemExit(f"--extra {spec!r}: {exc}") from None
            if str(arch) not in {str(a) for a in archs}:
                archs.append(arch)
    if args.seed_major:
        return [(a, s) for s in seeds for a in archs]
    return [(a, s) for a in archs for s in seeds]


def read_rows_list(path: Path) -> list[tuple[Architecture, int]]:
    """``--rows-from``: one row per line, an architecture (14 integers, spaced or not, or a
    name) then its seed; blank lines and ``#`` comments are skipped; a row listed twice once."""
    rows: list[tuple[Architecture, int]] = []
    seen: set[tuple[str, int]] = set()
    if not path.is_file():
        raise SystemExit(f"{path}: no such rows list (one row per line: an architecture, then its seed)")
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        *spec, seed = line.split()
        if not spec or not seed.isdigit():
            raise SystemExit(f"{path}:{n}: expected an architecture then a seed, got {line!r}")
        if len(spec) == 1 and spec[0].isdigit():  # 14 digits written without spaces
            spec = list(spec[0])
        try:
            row = (complete_architecture(" ".join(spec)), int(seed))
        except UserError as exc:
            raise SystemExit(f"{path}:{n}: {exc}") from None
        if (str(row[0]), row[1]) not in seen:
            seen.add((str(row[0]), row[1]))
            rows.append(row)
    return rows


_HELD: dict[Path, RunLock] = {}  # the claims this process holds: claim file -> its held lock


def claim_row(folder: Path, key: str, arch: str, seed: int) -> bool:
    """Claim the row ``(arch, seed)`` of ``key`` for this process (``--claim``); False when another
    live process (or another thread's claim) holds it. The claim is a :class:`RunLock` on the file
    ``folder/key/<row>`` (an exclusive :func:`fcntl.flock`), held until :func:`release_row` or the
    process's end: the kernel drops it when its holder dies, however it dies, so a claim is never
    stale and no takeover (a check-then-act race between two builders) is needed. The file keeps
    the holder's PID for the reader. Locks are this machine's: share ``folder`` on it only."""
    path = folder / key / _folder_name(arch, seed)
    if path in _HELD:
        return True
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _HELD[path] = RunLock(path.parent, path.name).acquire()
    except RunLockedError:
        return False
    return True


def release_row(folder: Path, key: str, arch: str, seed: int) -> None:
    """Give up this process's claim on a row (idempotent): it is stored, or it was paused."""
    lock = _HELD.pop(folder / key / _folder_name(arch, seed), None)
    if lock is not None:
        lock.release()


def saved_step(checkpoint: Path) -> int:
    """The generator iteration a retraining checkpoint was saved at."""
    return int(read_checkpoint(checkpoint)["step"])


def _folder_name(arch: Architecture | str, seed: int) -> str:
    """A row's run folder name, ``<14 digits>-s<seed>`` (:func:`_row_key` reads it back)."""
    return f"{str(arch).replace(' ', '')}-s{seed}"


def _row_key(folder: Path) -> tuple[str, int]:
    """``(arch, seed)`` of a run folder named ``<14 digits>-s<seed>``."""
    digits, seed = folder.name.rsplit("-s", 1)
    return " ".join(digits), int(seed)


def _done(row: dict | None, budget: int) -> bool:
    """A stored row that reaches ``budget`` (a v1 row, which has no ``iters``, always does)."""
    return row is not None and int(row["metrics"].get("iters", budget)) >= budget


def row_seconds(store: ResultsStore, key: str, budget: int) -> tuple[float, int] | None:
    """Median seconds of one row at ``budget`` over the stored rows of ``key`` (a row stored
    at another budget scaled by its iterations), and how many rows that is; None when none."""
    per_row = [r["timings"]["train_s"] * budget / int(r["metrics"].get("iters", budget))
               for r in store.evaluations(key) if r["timings"].get("train_s")]
    return (float(np.median(per_row)), len(per_row)) if per_row else None


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done (or the --minutes are up), 128 + the signal's number when paused by one."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="final-fmnist", help="final-protocol preset or YAML")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="config override on top of --config (repeatable); changes the protocol's hash")
    p.add_argument("--keep", default="",
                   help="comma-separated run-folder entries kept besides the reports "
                        "(checkpoint.pt: extend the row later; samples: every checkpoint's grid; with "
                        "--export --wip: the paused rows' grids are saved only with samples)")
    p.add_argument("--table-config", default="table-fmnist", help="preset whose sampling order to follow")
    p.add_argument("--archs", type=int, default=150, help="architectures of the sampling order")
    p.add_argument("--extra", default="e2gan,autogan",
                   help="comma-separated names or 14-integer strings trained after them")
    p.add_argument("--extra-from", nargs="*", default=[], metavar="JSON",
                   help="also train the best architectures named in these files "
                        "(scripts/validity_searches.py --export, gan-nas benchmark summary.json)")
    p.add_argument("--seeds", default="0", help="comma-separated training seeds")
    p.add_argument("--store", default="runs/finals.sqlite", help="SQLite results store")
    p.add_argument("--runs", default="runs/finals", help="folder of the per-architecture run folders")
    p.add_argument("--worker", type=int, default=0, help="this worker's index")
    p.add_argument("--workers", type=int, default=1, help="workers sharing the store")
    p.add_argument("--minutes", type=float, default=None, help="stop after this long")
    p.add_argument("--finish-by", type=float, default=None, metavar="MINUTES",
                   help="start a row only when it should end within MINUTES of the start (by this "
                        "process's slowest row so far; the first row always starts): a builder "
                        "that a timeout stops at MINUTES loses no row it began")
    p.add_argument("--claim", default=None, metavar="DIR",
                   help="share the rows dynamically instead of by --worker/--workers: every worker "
                        "walks the whole list in order and trains the next row no live worker has "
                        "claimed (a file per row in DIR, locked by its trainer while it lives), so that the "
                        "rows are made in the list's order whatever each one costs")
    p.add_argument("--rows-from", action="append", default=None, metavar="FILE",
                   help="train these rows, in this order, instead of --archs/--extra/--seeds: one "
                        "per line, an architecture (14 integers or a name) then the seed; given "
                        "twice, the second file's rows follow the first's (a row listed twice once)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="train N rows at once in this process, one thread each (and on a GPU one CUDA "
                        "stream each, so that the small GANs' kernels run side by side); they share "
                        "the list, and a signal pauses them all")
    p.add_argument("--skip-rows-from", default=None, metavar="FILE",
                   help="never train the rows this file lists (same format as --rows-from): another "
                        "machine's share, e.g. the GPU's scripts/rows_v2_gpu.txt for the CPU builders")
    p.add_argument("--seed-major", action="store_true",
                   help="order the rows seed by seed (every architecture's seed 0 before any seed 1) "
                        "instead of architecture by architecture")
    p.add_argument("--export", default=None, help="write the stored rows as JSON and exit")
    p.add_argument("--wip", default=None, metavar="DIR",
                   help="saved run folders of unfinished rows: copied into --runs first (resumed, "
                        "not started again); with --export, the unfinished ones are saved there too")
    p.add_argument("--restore", default=None, metavar="JSON",
                   help="first store the rows of an export that the store lacks (a fresh clone's "
                        "committed rows), then train the missing ones; with --export, export "
                        "them all instead of training")
    args = p.parse_args(argv)
    if not 0 <= args.worker < args.workers:
        p.error(f"--worker must be in 0..{args.workers - 1}, got {args.worker}")
    if args.threads < 1:
        p.error(f"--threads must be at least 1, got {args.threads}")
    cfg = protocol_config(args.config, args.overrides)
    if args.rows_from:
        listed = [row for f in args.rows_from for row in read_rows_list(Path(f))]
        ordered = list({(str(a), s): (a, s) for a, s in listed}.values())  # first place kept
    else:
        ordered = rows_of(args)
    if args.skip_rows_from:
        others = {(str(a), s) for a, s in read_rows_list(Path(args.skip_rows_from))}
        ordered = [(a, s) for a, s in ordered if (str(a), s) not in others]
    jobs = ordered if args.claim else ordered[args.worker :: args.workers]
    key = protocol_key(cfg)
    restored = read_export(Path(args.restore), key) if args.restore else []  # refused before writing
    try:
        check_output_file(Path(args.export) if args.export else None, "--export")
    except UserError as exc:
        raise SystemExit(str(exc)) from None
    store = ResultsStore(args.store)
    if args.restore:
        print(f"restored {restore_rows(store, key, restored)} of {len(restored)} rows from {args.restore}")
    if args.wip and not args.export:
        print(f"resuming {load_wip(Path(args.runs), Path(args.wip), key)} unfinished trainings from {args.wip}")
    if args.export:
        export_rows(store, key, args, Path(args.export))
        if args.wip:
            n = save_wip(Path(args.runs), Path(args.wip), key, store, cfg.retrain.g_iters, kept(args))
            print(f"saved {n} unfinished trainings to {args.wip}")
        return 0
    torch.set_num_threads(1)
    budget = cfg.retrain.g_iters
    todo = [(a, s) for a, s in jobs if not _done(store.get_evaluation(key, str(a), s), budget)]
    # trainings already under way first (a paused row, one resumed from --wip): finished sooner
    todo.sort(key=lambda job: not (Path(args.runs) / key / _folder_name(*job) / "checkpoint.pt").exists())
    cost = row_seconds(store, key, budget)
    eta = (f"; the {len(todo)} left: about {len(todo) * cost[0] / 3600:.1f} h at the median row of the "
           f"{cost[1]} stored ({cost[0]:.0f} s, their CPUs)" if todo and cost else "")
    print(f"final protocol {args.config} ({key}, {budget} iterations): "
          f"{len(jobs) - len(todo)} of {len(jobs)} rows stored{eta}")
    t0 = time.time()
    rows = iter(todo)
    lock = threading.Lock()

    def next_row() -> tuple[Architecture, int] | None:
        with lock:  # the threads of this process share the list
            return next(rows, None)

    bar = tqdm(total=len(todo), desc=f"worker {args.worker}", mininterval=30)
    if args.threads == 1:
        status = build_rows(args, cfg, key, next_row, store, t0, bar)
    else:
        status = _build_in_threads(args, cfg, key, next_row, t0, bar)
    bar.close()
    if status:
        return status
    print(f"stored final rows: {store.count_evaluations(key)}")
    return 0


def kept(args: argparse.Namespace) -> tuple[str, ...]:
    """``--keep``'s entries: what a finished row's folder keeps besides the reports."""
    return tuple(k.strip() for k in args.keep.split(",") if k.strip())


def build_rows(args: argparse.Namespace, cfg: Config, key: str, next_row: Any, store: ResultsStore,
               t0: float, bar: Any) -> int:
    """Train the rows ``next_row()`` hands out until it has none (or a deadline); 0, or 128 +
    the signal's number when a signal paused the training (a chain of builders stops there)."""
    budget = cfg.retrain.g_iters
    cpu = cpu_model()
    device = torch.cuda.get_device_name() if cfg.device.startswith("cuda") else "cpu"
    keep = kept(args)
    slowest = 0.0  # this thread's slowest row (for --finish-by)
    while (row := next_row()) is not None:
        arch, seed = row
        bar.update(1)
        if args.minutes is not None and time.time() - t0 > 60 * args.minutes:
            break
        if args.finish_by is not None and time.time() - t0 + slowest > 60 * args.finish_by:
            print(f"stopping: another row ({slowest:.0f} s at the slowest so far) would not end "
                  f"within --finish-by {args.finish_by:g} minutes")
            break
        if _done(store.get_evaluation(key, str(arch), seed), budget):  # another process made it
            continue
        if args.claim:
            if not claim_row(Path(args.claim), key, str(arch), seed):
                continue  # a live worker is training it
            if _done(store.get_evaluation(key, str(arch), seed), budget):  # stored since the check above
                release_row(Path(args.claim), key, str(arch), seed)
                continue
        folder = Path(args.runs) / key / _folder_name(arch, seed)
        start = saved_step(folder / "checkpoint.pt") if (folder / "checkpoint.pt").exists() else 0
        tqdm.write(f"[row] {arch} seed {seed}: from iteration {start}")  # for the logs' readers
        t_row = time.time()
        try:
            rec = train_one(protocol_config(args.config, args.overrides, seed), arch, folder, keep)
            # the CPU with the time: a row's seconds (and, in the last digits, its metrics) depend on it
            store.put_evaluation(key, str(arch), seed, 3, rec["metrics"], np.zeros(0, np.float32),
                                 timings={"train_s": rec["wall_s"], "cpu": cpu, "device": device})
        except RetrainStopped as stopped:  # SIGTERM/SIGINT: saved where it was, resumed next time
            print(f"paused: {stopped}; the same command resumes it")
            return 128 + int(getattr(signal, stopped.signame))
        except RunLockedError as exc:  # a builder without --claim (or of another claims folder) has it
            tqdm.write(f"[row] {arch} seed {seed}: skipped, {exc}")
            continue
        finally:  # stored or paused: the claim has done its work (kept until the row is stored)
            if args.claim:
                release_row(Path(args.claim), key, str(arch), seed)
        slowest = max(slowest, time.time() - t_row)
    return 0


def _build_in_threads(args: argparse.Namespace, cfg: Config, key: str, next_row: Any, t0: float, bar: Any) -> int:
    """``--threads N``: N :func:`build_rows` at once, each with its own store connection and, on
    a GPU, its own CUDA stream, so that the small GANs' kernels can run side by side. The main
    thread takes SIGINT/SIGTERM; every thread's training then pauses at its next iteration."""
    from gan_nas_env.training.stop import StopRequest

    statuses: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        stream: contextlib.AbstractContextManager[Any] = (
            torch.cuda.stream(torch.cuda.Stream()) if cfg.device.startswith("cuda") else contextlib.nullcontext())
        try:
            with stream:
                statuses.append(build_rows(args, cfg, key, next_row, ResultsStore(args.store), t0, bar))
        except BaseException as exc:  # re-raised in the main thread, with its traceback
            errors.append(exc)

    threads = [threading.Thread(target=run, name=f"rows-{i}", daemon=True) for i in range(args.threads)]
    with StopRequest("the builder's threads"):
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(timeout=1.0)  # wakes for signals
    if errors:
        raise errors[0]
    return max(statuses, default=0)


if __name__ == "__main__":
    raise SystemExit(main())
