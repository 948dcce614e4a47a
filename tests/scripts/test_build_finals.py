"""scripts/build_finals.py: final rows trained once, resumable, exported with provenance."""

import json

import numpy as np
import pytest
import yaml

from gan_nas_env.config import load_config
from gan_nas_env.evaluators.store import ResultsStore


@pytest.fixture(scope="module")
def builder(load_script):
    return load_script("build_finals")


def _protocol(tmp_path, g_iters: int, eval_every: int, **over):
    """A final protocol of ``g_iters`` generator iterations on the tiny synthetic data, as a YAML file."""
    cfg = load_config("tiny", {"retrain.g_iters": g_iters, "retrain.eval_every": eval_every,
                               "retrain.checkpoint_every": 2, "retrain.eval_samples": 64, **over})
    path = tmp_path / "final-tiny.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    return path


@pytest.fixture
def protocol(tmp_path):
    """A final protocol of 2 generator iterations on the tiny synthetic data."""
    return _protocol(tmp_path, 2, 2)


def test_rows_are_trained_once_and_exported(builder, protocol, tmp_path, capsys):
    args = ["--config", str(protocol), "--table-config", "tiny", "--archs", "2", "--extra", "",
            "--store", str(tmp_path / "f.sqlite"), "--runs", str(tmp_path / "runs")]
    builder.main(args)
    key = load_config(str(protocol)).final_hash()
    store = ResultsStore(tmp_path / "f.sqlite")
    archs = [str(a) for a in builder.distinct_order("tiny", 2)]
    assert sorted(r["arch"] for r in store.evaluations(key)) == sorted(archs)
    folders = sorted((tmp_path / "runs" / key).iterdir())
    assert len(folders) == len(archs)
    for f in folders:  # checkpoints and logs pruned, the report and the samples kept
        assert {p.name for p in f.iterdir()} <= {*builder.KEEP, "final_grid.png"}
        assert (f / "report.json").exists() and (f / "final_grid.png").exists()
    stamps = {f: (f / "report.json").stat().st_mtime_ns for f in folders}
    capsys.readouterr()
    builder.main(args)  # everything stored: nothing is trained again
    assert f"{len(archs)} of {len(archs)} rows stored" in capsys.readouterr().out
    assert {f: (f / "report.json").stat().st_mtime_ns for f in folders} == stamps
    # killed between pruning a folder and storing its row: trained again from scratch
    extra = "0 0 0 0 0 0 0 0 0 0 0 0 0 0"
    left = tmp_path / "runs" / key / f"{extra.replace(' ', '')}-s0"
    left.mkdir()
    (left / "report.json").write_text("{}")
    capsys.readouterr()
    builder.main([*args[:-6], "--extra", extra, *args[-4:]])
    assert store.get_evaluation(key, extra, 0) is not None
    # what is left is costed from the stored rows' seconds
    median = float(np.median([r["timings"]["train_s"] for r in store.evaluations(key)][:len(archs)]))
    assert builder.row_seconds(store, key, 2)[1] == len(archs) + 1
    assert f"the 1 left: about {median / 3600:.1f} h at the median row of the {len(archs)} stored" \
        in capsys.readouterr().out
    assert json.loads((left / "report.json").read_text())  # the retrained report
    out = tmp_path / "finals.json"
    builder.main([*args, "--export", str(out)])
    data = json.loads(out.read_text())
    assert data["final_hash"] == key and len(data["rows"]) == len(archs) + 1
    assert {"IS", "FID", "KID", "train_s"} <= set(data["rows"][0])
    # each row says the CPU that trained it (a store may hold rows of several machines)
    assert {r["cpu"] for r in data["rows"]} == {data["provenance"]["machine"]["cpu"]}
    assert data["provenance"]["git_sha"] and data["config"]["retrain"]["g_iters"] == 2


def test_benchmark_bests_come_random_first_then_by_final_iqm(builder, tmp_path):
    def agent(*archs):
        return {"best_archs": list(archs)}

    summary = {"final_fidelity": {
        "agents": {"sac": agent("a1"), "ppo": agent("b1", "b2"), "random": agent("r1", "")},
        "aggregates": {"sac": {"IQM": {"value": 0.2}}, "ppo": {"IQM": {"value": 0.7}},
                       "random": {"IQM": {"value": 0.1}}}}}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    assert builder.archs_named_in(path) == ["r1", "b1", "b2", "a1"]
    path.write_text(json.dumps({"rows": [{"best_arch": "x"}, {"best_arch": ""}]}))  # a search export
    assert builder.archs_named_in(path) == ["x"]
    path.write_text(json.dumps({"aggregates": {}}))
    with pytest.raises(SystemExit, match="neither a search export"):
        builder.archs_named_in(path)


def test_bad_worker_index_is_refused(builder, capsys):
    with pytest.raises(SystemExit) as exc:
        builder.main(["--worker", "2", "--workers", "2"])
    assert exc.value.code == 2 and "--worker must be in 0..1" in capsys.readouterr().err


def test_committed_rows_restore_a_lost_store(builder, protocol, tmp_path, capsys):
    args = ["--config", str(protocol), "--table-config", "tiny", "--archs", "2", "--extra", ""]
    first = [*args, "--store", str(tmp_path / "a.sqlite"), "--runs", str(tmp_path / "runs")]
    builder.main(first)
    builder.main([*first, "--export", str(tmp_path / "finals.json")])
    capsys.readouterr()
    # a fresh clone: the export but no store; nothing is trained again
    builder.main([*args, "--store", str(tmp_path / "b.sqlite"), "--runs", str(tmp_path / "runs_b"),
                  "--restore", str(tmp_path / "finals.json")])
    out = capsys.readouterr().out
    assert "restored 2 of 2 rows" in out and "2 of 2 rows stored" in out
    assert not (tmp_path / "runs_b").exists()
    builder.main([*args, "--store", str(tmp_path / "b.sqlite"), "--export", str(tmp_path / "again.json")])
    assert json.loads((tmp_path / "again.json").read_text())["rows"] == \
        json.loads((tmp_path / "finals.json").read_text())["rows"]
    # rows of another protocol are refused before a store is created
    with pytest.raises(SystemExit, match="not of"):
        builder.main(["--config", "tiny", "--table-config", "tiny", "--archs", "1", "--extra", "",
                      "--store", str(tmp_path / "c.sqlite"), "--restore", str(tmp_path / "finals.json")])
    assert not (tmp_path / "c.sqlite").exists()


def test_rows_exported_before_the_cpu_was_recorded_get_the_exporters(builder, protocol, tmp_path):
    args = ["--config", str(protocol), "--table-config", "tiny", "--archs", "1", "--extra", ""]
    builder.main([*args, "--store", str(tmp_path / "a.sqlite"), "--runs", str(tmp_path / "runs")])
    builder.main([*args, "--store", str(tmp_path / "a.sqlite"), "--export", str(tmp_path / "new.json")])
    data = json.loads((tmp_path / "new.json").read_text())
    for row in data["rows"]:  # an export of an earlier version: no cpu per row
        del row["cpu"]
    data["provenance"]["machine"]["cpu"] = "Old CPU"
    (tmp_path / "old.json").write_text(json.dumps(data))
    builder.main([*args, "--store", str(tmp_path / "b.sqlite"), "--restore", str(tmp_path / "old.json"),
                  "--export", str(tmp_path / "again.json")])
    rows = json.loads((tmp_path / "again.json").read_text())["rows"]
    assert [r["cpu"] for r in rows] == ["Old CPU"] and "cpu" not in ResultsStore(tmp_path / "b.sqlite") \
        .evaluations(load_config(str(protocol)).final_hash())[0]["metrics"]


def test_curve_rows_hold_every_checkpoint_and_extend_to_a_larger_budget(builder, tmp_path):
    # a protocol scored more than once per run is keyed by its curve hash (no budget), so a
    # row trained to 4 iterations extends to 6 from its kept checkpoint without retraining
    base = load_config("tiny", {"retrain.g_iters": 4, "retrain.eval_every": 2,
                                "retrain.checkpoint_every": 2, "retrain.eval_samples": 64})
    path = tmp_path / "curve-tiny.yaml"
    path.write_text(yaml.safe_dump(base.to_dict()))
    args = ["--config", str(path), "--table-config", "tiny", "--archs", "1", "--extra", "",
            "--store", str(tmp_path / "f.sqlite"), "--runs", str(tmp_path / "runs"),
            "--keep", "checkpoint.pt,samples"]
    builder.main(args)
    key = builder.protocol_key(base)
    assert key == base.curve_hash() and key.startswith("curve-")
    assert key == load_config(base, {"retrain.g_iters": 6}).curve_hash()  # the budget is not in it
    store = ResultsStore(tmp_path / "f.sqlite")
    (row,) = store.evaluations(key)
    assert row["metrics"]["iters"] == 4
    assert [c["iter"] for c in row["metrics"]["curve"]] == [2, 4]
    assert row["metrics"]["FID"] == row["metrics"]["curve"][-1]["FID"]
    assert all(c["wall_s"] > 0 for c in row["metrics"]["curve"])
    folder = tmp_path / "runs" / key / f"{row['arch'].replace(' ', '')}-s0"
    assert (folder / "checkpoint.pt").exists() and len(list((folder / "samples").iterdir())) == 2
    first = row["metrics"]["curve"]
    builder.main([*args, "--set", "retrain.g_iters=6"])  # extended, not retrained
    (row,) = store.evaluations(key)
    assert [c["iter"] for c in row["metrics"]["curve"]] == [2, 4, 6] and row["metrics"]["iters"] == 6
    assert row["metrics"]["curve"][:2] == first
    out = tmp_path / "curves.json"
    builder.main([*args, "--export", str(out)])
    exported = json.loads(out.read_text())
    assert exported["final_hash"] == key and len(exported["rows"][0]["curve"]) == 3


def test_unfinished_trainings_are_saved_and_resumed_across_sessions(builder, tmp_path):
    key, arch = "curve-x", "0 1 0 1 0 1 2 1 0 0 1 0 1 2"
    runs, wip = tmp_path / "runs", tmp_path / "state"
    store = ResultsStore(tmp_path / "f.sqlite")
    unfinished = runs / key / f"{arch.replace(' ', '')}-s1"
    (unfinished / "tb").mkdir(parents=True)
    (unfinished / "checkpoint.pt").write_bytes(b"state")
    (unfinished / "run.lock").write_text("123")
    (unfinished / "samples").mkdir()
    (unfinished / "samples" / "iter_000500.png").write_bytes(b"png")
    finished = runs / key / f"{arch.replace(' ', '')}-s0"
    finished.mkdir()
    (finished / "checkpoint.pt").write_bytes(b"done")
    store.put_evaluation(key, arch, 0, 3, {"FID": 1.0, "iters": 10}, np.zeros(0, np.float32))
    assert builder.save_wip(runs, wip, key, store, budget=10) == 1  # the stored row is not saved
    saved = wip / key / unfinished.name
    assert sorted(p.name for p in saved.iterdir()) == ["checkpoint.pt", "samples"]  # no stale lock, no logs
    assert builder.save_wip(runs, wip, key, store, budget=10, keep=()) == 1  # grids not kept: not saved
    assert sorted(p.name for p in saved.iterdir()) == ["checkpoint.pt"]
    fresh = tmp_path / "fresh_runs"  # the next session: nothing under runs/
    assert builder.load_wip(fresh, wip, key) == 1
    assert (fresh / key / unfinished.name / "checkpoint.pt").read_bytes() == b"state"
    assert builder.load_wip(fresh, wip, key) == 0  # a folder already there is never overwritten
    store.put_evaluation(key, arch, 1, 3, {"FID": 1.0, "iters": 10}, np.zeros(0, np.float32))
    assert builder.save_wip(fresh, wip, key, store, budget=10) == 0  # finished: nothing left to save
    assert not (wip / key).exists()


def test_a_sigterm_pauses_the_builder_at_the_iteration_it_is_in(builder, tmp_path, monkeypatch, capsys):
    """The session-end stop: the row is saved where it was and the next run finishes it as one."""
    import os
    import signal

    from gan_nas_env.training import retrain as retrain_module

    protocol = _protocol(tmp_path, 6, 3)
    key = builder.protocol_key(load_config(str(protocol)))  # a curve protocol: the curve hash

    def args(name):
        return ["--config", str(protocol), "--table-config", "tiny", "--archs", "1", "--extra", "",
                "--store", str(tmp_path / f"{name}.sqlite"), "--runs", str(tmp_path / name)]

    builder.main(args("straight"))
    real, calls = retrain_module.train_iteration, [0]

    def sigterm_in_the_fifth(*a, **k):
        calls[0] += 1
        if calls[0] == 5:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(*a, **k)

    with monkeypatch.context() as m:
        m.setattr(retrain_module, "train_iteration", sigterm_in_the_fifth)
        assert builder.main(args("paused")) == 128 + signal.SIGTERM  # no traceback, no row
    assert "paused: SIGTERM: stopped at generator iteration 5" in capsys.readouterr().out
    assert ResultsStore(tmp_path / "paused.sqlite").count_evaluations(key) == 0
    assert builder.main(args("paused")) == 0
    (a,), (b,) = (ResultsStore(tmp_path / f"{n}.sqlite").evaluations(key) for n in ("paused", "straight"))
    assert a["arch"] == b["arch"] and _no_clock(a["metrics"]) == _no_clock(b["metrics"])
    assert [c["iter"] for c in a["metrics"]["curve"]] == [3, 6]


def test_row_seconds_scale_each_row_to_the_budget(builder, tmp_path):
    """A row stored at another budget counts at its per-iteration rate; rows without seconds
    are left out; no row: no estimate."""
    store = ResultsStore(tmp_path / "s.sqlite")
    assert builder.row_seconds(store, "k", 10) is None
    for arch, iters, secs in (("a", 10, 100.0), ("b", 5, 20.0), ("c", 10, None)):
        store.put_evaluation("k", arch, 0, 3, {"IS": 1.0, "iters": iters}, np.zeros(0, np.float32),
                             timings={"train_s": secs} if secs else {})
    assert builder.row_seconds(store, "k", 10) == (pytest.approx(70.0), 2)  # median of 100 and 2 x 20
    assert builder.row_seconds(store, "other", 10) is None


def test_claims_are_locks_that_die_with_their_holder(builder, tmp_path):
    """``--claim``: one live holder per row (another process, or another open of the file in this
    one); the claim of a killed holder is free at once, with no staleness guess to race on."""
    import fcntl
    import os
    import subprocess
    import sys

    assert builder.claim_row(tmp_path, "k", "0 1", 0)
    assert builder.claim_row(tmp_path, "k", "0 1", 0)  # this process's own claim
    assert builder.claim_row(tmp_path, "k", "0 1", 1)  # another seed: another row
    assert (tmp_path / "k" / "01-s0").read_text() == f"{os.getpid()}\n"  # for the reader
    other = os.open(tmp_path / "k" / "01-s2", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)  # held through another descriptor, as another builder would
    assert not builder.claim_row(tmp_path, "k", "0 1", 2)
    os.close(other)
    assert builder.claim_row(tmp_path, "k", "0 1", 2)
    # a live holder in another process refuses the row; once it is killed the row is free
    holder = subprocess.Popen(  # what another builder's claim_row does: an flock it keeps
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()", str(tmp_path / "k" / "01-s3")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert not builder.claim_row(tmp_path, "k", "0 1", 3)
    finally:
        holder.kill()
        holder.wait()
    assert builder.claim_row(tmp_path, "k", "0 1", 3)
    # a claim file left with any text (an older builder's "PID boot" format) is no lock
    (tmp_path / "k" / "01-s4").write_text("1 another-boot")
    assert builder.claim_row(tmp_path, "k", "0 1", 4)
    builder.release_row(tmp_path, "k", "0 1", 4)
    builder.release_row(tmp_path, "k", "0 1", 4)  # idempotent
    other = os.open(tmp_path / "k" / "01-s4", os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released: another can take it
    os.close(other)


def test_rows_from_a_list_in_its_order_with_claims_and_a_deadline(builder, protocol, tmp_path, monkeypatch, capsys):
    """``--rows-from`` trains the listed rows in order (a duplicate once); ``--claim`` skips a row
    a live process holds; ``--finish-by`` starts no row that would end after the deadline."""
    import fcntl
    import os

    archs = [str(a) for a in builder.distinct_order("tiny", 3)]
    rows = tmp_path / "rows.txt"
    rows.write_text(f"# comment\n{archs[2]} 1\n\n{archs[0].replace(' ', '')} 0\n{archs[2]} 1\n{archs[1]} 0\n")
    assert [(str(a), s) for a, s in builder.read_rows_list(rows)] == [(archs[2], 1), (archs[0], 0), (archs[1], 0)]
    with pytest.raises(SystemExit, match="missing.txt: no such rows list"):
        builder.read_rows_list(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    for text, says in (("0 1 2 x\n", "expected an architecture then a seed"), ("1 2 3 0\n", "bad.txt:1: architecture vector"),
                       ("0 1 0 1 0\n", "bad.txt:1: a final row needs a complete 3-cell architecture")):
        bad.write_text(text)
        with pytest.raises(SystemExit, match=says):
            builder.read_rows_list(bad)
    with pytest.raises(SystemExit, match="--extra '0 1 0 1': a final row needs a complete"):
        builder.main(["--config", str(protocol), "--table-config", "tiny", "--archs", "0", "--extra", "0 1 0 1",
                      "--store", str(tmp_path / "partial.sqlite"), "--runs", str(tmp_path / "runs")])
    assert not (tmp_path / "partial.sqlite").exists()  # refused before the store is opened
    key = builder.protocol_key(load_config(str(protocol)))
    claims = tmp_path / "claims"
    (claims / key).mkdir(parents=True)
    held = os.open(claims / key / f"{archs[0].replace(' ', '')}-s0", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)  # a live builder's claim
    trained = []
    real = builder.train_one

    def record(cfg, arch, folder, keep=()):
        trained.append((str(arch), cfg.seed))
        return real(cfg, arch, folder, keep)

    monkeypatch.setattr(builder, "train_one", record)
    base = ["--config", str(protocol), "--table-config", "tiny", "--store", str(tmp_path / "f.sqlite"),
            "--runs", str(tmp_path / "runs"), "--rows-from", str(rows), "--claim", str(claims)]
    clock = iter([0.0, 0.0, 50.0, 100.0, 10_000.0])  # t0, row 1 start / end, then past the deadline
    monkeypatch.setattr(builder.time, "time", lambda: next(clock, 10_000.0))
    assert builder.main([*base, "--finish-by", "2"]) == 0  # row 1 took 50 s: 100 + 50 > 120
    assert trained == [(archs[2], 1)]
    assert "would not end within --finish-by 2 minutes" in capsys.readouterr().out
    monkeypatch.undo()
    monkeypatch.setattr(builder, "train_one", record)
    assert builder.main(base) == 0
    assert trained == [(archs[2], 1), (archs[1], 0)]  # the claimed row is left to its holder
    os.close(held)


def test_a_row_whose_run_folder_is_locked_is_skipped_not_fatal(builder, protocol, tmp_path, monkeypatch, capsys):
    """A builder outside the claims (no ``--claim``, or another folder) training a row: the run
    lock refuses it here; the builder says so, frees its claim and goes on to the next row."""
    import fcntl
    import os

    from gan_nas_env.run_folder import RunLockedError

    archs = [str(a) for a in builder.distinct_order("tiny", 2)]
    rows = tmp_path / "rows.txt"
    rows.write_text(f"{archs[0]} 0\n{archs[1]} 0\n")
    trained = []

    def train(cfg, arch, folder, keep=()):
        if str(arch) == archs[0]:
            raise RunLockedError(f"another gan-nas process is writing {folder} (pid 1)")
        trained.append(str(arch))
        return {"metrics": {"IS": 1.0, "FID": 1.0}, "wall_s": 1.0}

    monkeypatch.setattr(builder, "train_one", train)
    claims = tmp_path / "claims"
    assert builder.main(["--config", str(protocol), "--store", str(tmp_path / "f.sqlite"), "--runs",
                         str(tmp_path / "runs"), "--rows-from", str(rows), "--claim", str(claims)]) == 0
    assert trained == [archs[1]]
    assert "skipped, another gan-nas process is writing" in capsys.readouterr().out
    for claim in (claims / builder.protocol_key(load_config(str(protocol)))).iterdir():
        fd = os.open(claim, os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # every claim released
        os.close(fd)


def test_skip_rows_from_leaves_another_machines_share(builder, protocol, tmp_path, monkeypatch):
    """``--skip-rows-from``: the rows another list names (the GPU's share) are never trained here,
    whatever their spelling there (spaced or not)."""
    trained = []
    monkeypatch.setattr(builder, "train_one", lambda cfg, arch, folder, keep=(): trained.append(
        (str(arch), cfg.seed)) or {"metrics": {"IS": 1.0, "FID": 1.0}, "wall_s": 1.0})
    archs = [str(a) for a in builder.distinct_order("tiny", 3)]
    mine, theirs = tmp_path / "cpu.txt", tmp_path / "gpu.txt"
    mine.write_text("".join(f"{a} {s}\n" for a in archs for s in (0, 1)))
    theirs.write_text(f"# the GPU's\n{archs[1].replace(' ', '')} 1\n{archs[2]} 0\n")
    builder.main(["--config", str(protocol), "--store", str(tmp_path / "f.sqlite"), "--runs", str(tmp_path / "runs"),
                  "--rows-from", str(mine), "--skip-rows-from", str(theirs)])
    assert trained == [(archs[0], 0), (archs[0], 1), (archs[1], 0), (archs[2], 1)]
    # two lists: the second's rows after the first's, a row of both once (at its first place)
    trained.clear()
    builder.main(["--config", str(protocol), "--store", str(tmp_path / "g.sqlite"), "--runs", str(tmp_path / "runs"),
                  "--rows-from", str(theirs), "--rows-from", str(mine)])
    assert trained == [(archs[1], 1), (archs[2], 0), (archs[0], 0), (archs[0], 1), (archs[1], 0), (archs[2], 1)]


def test_the_gpus_share_is_part_of_the_cpus_list(builder):
    """scripts/rows_v2_gpu.txt only takes rows of scripts/rows_v2.txt (the list the issue asks for)."""
    from pathlib import Path

    scripts = Path(__file__).resolve().parents[2] / "scripts"
    cpu = {(str(a), s) for a, s in builder.read_rows_list(scripts / "rows_v2.txt")}
    gpu = [(str(a), s) for a, s in builder.read_rows_list(scripts / "rows_v2_gpu.txt")]
    assert gpu and all(row in cpu for row in gpu)


def test_seed_major_orders_every_first_seed_before_any_second(builder, protocol, tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(builder, "train_one", lambda cfg, arch, folder, keep=(): trained.append(
        (str(arch), cfg.seed)) or {"metrics": {"IS": 1.0, "FID": 1.0}, "wall_s": 1.0})
    base = ["--config", str(protocol), "--table-config", "tiny", "--archs", "2", "--extra", "", "--seeds", "0,1",
            "--store", str(tmp_path / "f.sqlite"), "--runs", str(tmp_path / "runs")]
    builder.main([*base, "--seed-major"])
    archs = [str(a) for a in builder.distinct_order("tiny", 2)]
    assert trained == [(archs[0], 0), (archs[1], 0), (archs[0], 1), (archs[1], 1)]


def test_trainings_under_way_come_first(builder, protocol, tmp_path, monkeypatch, capsys):
    """A row with a checkpoint in its run folder (paused, or resumed from --wip) is trained
    before the list's others, and the log says where it resumes."""
    trained = []
    monkeypatch.setattr(builder, "train_one", lambda cfg, arch, folder, keep=(): trained.append(
        (str(arch), cfg.seed)) or {"metrics": {"IS": 1.0, "FID": 1.0}, "wall_s": 1.0})
    monkeypatch.setattr(builder, "saved_step", lambda path: 7)
    archs = [str(a) for a in builder.distinct_order("tiny", 3)]
    key = builder.protocol_key(load_config(str(protocol)))
    under_way = tmp_path / "runs" / key / builder._folder_name(archs[2], 0)
    under_way.mkdir(parents=True)
    (under_way / "checkpoint.pt").write_bytes(b"")
    builder.main(["--config", str(protocol), "--table-config", "tiny", "--archs", "3", "--extra", "",
                  "--store", str(tmp_path / "f.sqlite"), "--runs", str(tmp_path / "runs")])
    assert trained == [(archs[2], 0), (archs[0], 0), (archs[1], 0)]
    out = capsys.readouterr().out
    assert f"[row] {archs[2]} seed 0: from iteration 7" in out and f"[row] {archs[0]} seed 0: from iteration 0" in out


def _no_clock(m):  # the curve's wall seconds differ between any two runs
    return {**m, "curve": [{k: v for k, v in c.items() if k != "wall_s"} for c in m["curve"]]}


def test_rows_in_threads_are_the_rows_of_one_thread(builder, tmp_path):
    """``--threads 2``: the same rows, bit for bit on CPU (each row has its own generator, and its
    weights are drawn under the global RNG lock)."""
    protocol = _protocol(tmp_path, 6, 3)
    key = builder.protocol_key(load_config(str(protocol)))

    def args(name, threads):
        return ["--config", str(protocol), "--table-config", "tiny", "--archs", "3", "--extra", "",
                "--store", str(tmp_path / f"{name}.sqlite"), "--runs", str(tmp_path / name), "--threads", threads]

    assert builder.main(args("one", "1")) == 0
    assert builder.main(args("two", "2")) == 0
    one, two = ({r["arch"]: _no_clock(r["metrics"]) for r in ResultsStore(tmp_path / f"{n}.sqlite").evaluations(key)}
                for n in ("one", "two"))
    assert len(one) == 3 and one == two


def test_a_signal_pauses_every_thread(builder, tmp_path, monkeypatch, capsys):
    """SIGTERM reaches the main thread only; each thread's training pauses at its next iteration
    with a checkpoint, and the builder exits 128 + SIGTERM without a row or a traceback."""
    import os
    import signal
    import threading

    from gan_nas_env.training import retrain as retrain_module

    protocol = _protocol(tmp_path, 6, 3)
    key = builder.protocol_key(load_config(str(protocol)))
    real, calls, lock = retrain_module.train_iteration, [0], threading.Lock()

    def sigterm_in_the_fifth(*a, **k):
        with lock:
            calls[0] += 1
            if calls[0] == 5:
                os.kill(os.getpid(), signal.SIGTERM)
        return real(*a, **k)

    monkeypatch.setattr(retrain_module, "train_iteration", sigterm_in_the_fifth)
    status = builder.main(["--config", str(protocol), "--table-config", "tiny", "--archs", "2", "--extra", "",
                           "--store", str(tmp_path / "f.sqlite"), "--runs", str(tmp_path / "runs"), "--threads", "2"])
    assert status == 128 + signal.SIGTERM
    assert capsys.readouterr().out.count("paused: SIGTERM") == 2
    assert ResultsStore(tmp_path / "f.sqlite").count_evaluations(key) == 0
    assert len(list((tmp_path / "runs" / key).glob("*/checkpoint.pt"))) == 2  # both rows resume from there


@pytest.mark.gpu
@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs CUDA")
def test_rows_in_threads_on_cuda_with_graphs(builder, tmp_path):
    """Four rows at once on one GPU, one stream each, each iteration a CUDA graph after its
    warm-up: every row is stored with finite metrics (a capture in one thread must not break the
    others' work)."""
    import math

    protocol = _protocol(tmp_path, 12, 6, **{"retrain.amp": True, "retrain.ema_warmup": True})
    key = builder.protocol_key(load_config(str(protocol)))
    assert builder.main(["--config", str(protocol), "--set", "device=cuda", "--table-config", "tiny", "--archs", "4",
                         "--extra", "", "--store", str(tmp_path / "f.sqlite"), "--runs", str(tmp_path / "runs"),
                         "--threads", "4"]) == 0
    rows = ResultsStore(tmp_path / "f.sqlite").evaluations(key)
    assert len(rows) == 4 and all(math.isfinite(r["metrics"]["FID"]) for r in rows)


def test_a_bad_restore_or_export_file_is_refused_before_the_store_opens(builder, protocol, tmp_path):
    store = tmp_path / "f.sqlite"
    not_json = tmp_path / "notes.txt"
    not_json.write_text("no rows\n")
    base = ["--config", str(protocol), "--table-config", "tiny", "--archs", "1", "--store", str(store),
            "--runs", str(tmp_path / "runs")]
    for extra, says in ((["--restore", str(not_json)], "--restore .*notes.txt is not JSON"),
                        (["--restore", str(tmp_path / "none.json")], "--restore .*none.json: no such file"),
                        (["--export", str(tmp_path)], "--export .* is a folder; name a file"),
                        (["--export", str(not_json / "rows.json")], "notes.txt is a file, not a folder")):
        with pytest.raises(SystemExit, match=says):
            builder.main([*base, *extra])
        assert not store.exists()


def test_a_row_stored_between_the_check_and_the_claim_is_not_trained_again(builder, protocol, tmp_path, monkeypatch):
    """Claims are released once a row is stored, so a worker may win the claim of a row another
    one has just finished: it looks at the store again after claiming and moves on."""
    import fcntl
    import os

    archs = [str(a) for a in builder.distinct_order("tiny", 2)]
    rows = tmp_path / "rows.txt"
    rows.write_text(f"{archs[0]} 0\n{archs[1]} 0\n")
    key = builder.protocol_key(load_config(str(protocol)))
    real_claim, trained = builder.claim_row, []

    def claim_after_another_finished(folder, k, arch, seed):
        if arch == archs[0]:  # the other worker stores it and lets its claim go just before ours
            ResultsStore(tmp_path / "f.sqlite").put_evaluation(k, arch, seed, 3, {"IS": 2.0, "FID": 9.0},
                                                               np.zeros(0, np.float32))
        return real_claim(folder, k, arch, seed)

    monkeypatch.setattr(builder, "claim_row", claim_after_another_finished)
    monkeypatch.setattr(builder, "train_one", lambda cfg, arch, folder, keep=(): trained.append(str(arch)) or
                        {"metrics": {"IS": 1.0, "FID": 1.0}, "wall_s": 1.0})
    claims = tmp_path / "claims"
    assert builder.main(["--config", str(protocol), "--store", str(tmp_path / "f.sqlite"), "--runs",
                         str(tmp_path / "runs"), "--rows-from", str(rows), "--claim", str(claims)]) == 0
    assert trained == [archs[1]]
    fd = os.open(claims / key / f"{archs[0].replace(' ', '')}-s0", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # its claim was released
    os.close(fd)
