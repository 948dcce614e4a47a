"""benchmarks/final_rows_gpu.py: a GPU window's rows and its workers' progress from their logs."""

import io
import json
import tarfile

import pytest

from benchmarks import final_rows_gpu as frg

BAR = "\rworker 0:   0%|          | 0/9 [{}<?, ?it/s]"


def _log(points, stop=None):
    """A builder's log as tqdm and the retraining write it: the bar redrawn after each scoring."""
    out = BAR.format("00:00")
    for elapsed, it in points:
        out += f"\r{' ' * 40}\r[retrain] iter {it}: IS=1.5 FID=20.0\n" + BAR.format(elapsed)
    if stop:
        out += f"\npaused: SIGTERM: stopped at generator iteration {stop}, saved in x\n"
    return out


def test_worker_progress_counts_finished_rows_and_the_row_cut_short():
    # one row finished (500, 1000), then a second cut short at 730 after its scoring at 500
    w = frg.worker_progress(_log([("00:50", 500), ("01:40", 1000), ("02:30", 500)], stop=730))
    assert w["iters"] == 1000 + 730 and w["scorings"] == 3 and w["rows"] == 2
    assert w["iters_per_s"] == pytest.approx((1000 - 500) / (100 - 50))  # the finished row's scorings
    assert frg.worker_progress("")["iters_per_s"] is None


def test_a_resumed_row_counts_from_where_it_resumed():
    log = ("\n[row] 0 1 2 0 0 1 2 0 0 1 1 2 0 0 seed 0: from iteration 5478\n"
           + _log([("00:20", 5500), ("01:10", 6000), ("03:40", 8500)])
           + "\n[row] 1 1 2 0 0 1 2 0 0 1 1 2 0 0 seed 0: from iteration 0\n"
           + _log([("04:30", 500)], stop=612))
    w = frg.worker_progress(log)
    assert w["rows"] == 2 and w["iters"] == (8500 - 5478) + 612
    assert w["iters_per_s"] == pytest.approx((8500 - 5500) / (220 - 20))


def test_window_and_progress_make_a_report(tmp_path):
    before = {"rows": [{"arch": "a", "seed": 0, "train_s": 1000.0, "cpu": "CPU X"}]}
    after = {"rows": [*before["rows"], {"arch": "b", "seed": 0, "train_s": 300.0, "device": "GPU Y"}]}
    (tmp_path / "b.json").write_text(json.dumps(before))
    (tmp_path / "a.json").write_text(json.dumps(after))
    run = frg.window(tmp_path / "b.json", tmp_path / "a.json", 2, 5, 0, 600, "--rows-from x")
    assert run["rows_made"] == 1 and run["rows"] == [["b", 0]] and run["rows_per_hour"] == 6.0
    logs = tmp_path / "logs.tar.gz"
    with tarfile.open(logs, "w:gz") as tar:
        for i, pts in enumerate(([("01:00", 500), ("02:00", 1000)], [("01:00", 500), ("03:00", 1000)])):
            data = _log(pts, stop=1200).encode()
            info = tarfile.TarInfo(f"logs/finals_w{i}.log")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    prog = frg.progress(run, logs, sent_sha="abc123")
    assert prog["iters_total"] == 2400 and prog["iters_per_s_total"] == pytest.approx(500 / 60 + 500 / 120)
    assert prog["sent_git_sha"] == "abc123"
    md = frg.report([prog], ["p.json"], after["rows"])
    assert "| 2 | 600 s | 1 | 2400 |" in md and "abc123" in md
    assert "1000 s (median of 1 committed rows)" in md  # the GPU row is not a CPU row


def _tar(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_rows_in_threads_are_counted_row_by_row(tmp_path):
    """``--threads``: interleaved logs; each row from its ``[row]`` start to the budget (made) or
    to its paused checkpoint's step; a row resumed from an earlier window counts from there."""
    import torch

    a, b, c = "0 1 2 0 0 1 2 0 0 1 1 2 0 0", "1 1 2 0 0 1 2 0 0 1 1 2 0 0", "0 0 0 0 0 0 0 0 0 0 0 0 0 1"
    log = (f"[row] {a} seed 0: from iteration 7000\n[row] {b} seed 1: from iteration 0\n[retrain] iter 7500: IS=1\n"
           f"[row] {c} seed 0: from iteration 0\n")
    _tar(tmp_path / "logs.tar.gz", {"logs/finals_w0.log": log.encode(), "logs/dmon.txt": b""})
    ckpt = io.BytesIO()
    torch.save({"step": 612}, ckpt)
    _tar(tmp_path / "wip.tar.gz", {"./key/11200120011200-s1/checkpoint.pt": ckpt.getvalue(),
                                   "./key/11200120011200-s1/metrics.csv": b"iter\n"})
    run = {"workers": 1, "window_s": 100, "rows": [[a, 0]], "rows_args": "--rows-from x --threads 2"}
    with pytest.raises(SystemExit, match="pass its finals_wip.tar.gz"):
        frg.progress(run, tmp_path / "logs.tar.gz")
    out = frg.progress(run, tmp_path / "logs.tar.gz", wip=tmp_path / "wip.tar.gz")
    # a: 7000 -> 8500 (made); b: 0 -> 612 (paused); c: started, neither made nor saved: not counted
    assert out["iters_total"] == 1500 + 612 and out["rows_counted"] == 2 and out["threads"] == 2
    assert out["iters_per_s_total"] == pytest.approx(21.12) and out["iters_per_s_per_worker"] == pytest.approx(10.56)


def test_gpu_busy_and_a_saturated_throughput_in_the_report(tmp_path):
    dmon = b"# gpu sm mem\n# Idx % %\n    0 0 0\n    0 90 0\n    0 100 1\n    0 100 0\n"
    _tar(tmp_path / "l.tar.gz", {"logs/dmon.txt": dmon})
    assert frg.gpu_busy(tmp_path / "l.tar.gz") == 100.0  # the samples from the first busy one
    _tar(tmp_path / "none.tar.gz", {"logs/finals_w0.log": b""})
    assert frg.gpu_busy(tmp_path / "none.tar.gz") is None

    def run(workers, rate, busy):
        return {"workers": workers, "iters_per_s_total": rate, "iters_per_s_per_worker": rate / workers,
                "row_s_one_worker": 8500 * workers / rate, "rows_per_hour_equivalent": rate * 3600 / 8500,
                "gpu_busy_pct": busy}

    grows = frg.findings([run(2, 28.0, None), run(6, 62.0, 99.0)], 1260.0)
    assert not any("stops growing" in b for b in grows)
    flat = frg.findings([run(2, 28.0, None), run(10, 105.0, 100.0), run(14, 102.0, 100.0)], 1260.0)
    assert any("stops growing at about 105 it/s (10)" in b and "100-100%" in b for b in flat)
    assert any(b.startswith("- 10 workers make the equivalent of 44 rows an hour") for b in flat)


def test_bad_files_are_one_line_errors_before_any_write(tmp_path, capsys):
    md = tmp_path / "page.md"
    not_json = tmp_path / "notes.txt"
    not_json.write_text("rows: none\n")
    cases = [
        (["report", "--runs", str(tmp_path / "none.json"), "--md", str(md)], "--runs .*none.json: no such file"),
        (["report", "--runs", str(not_json), "--md", str(md)], "is not JSON \\(line 1, column 1"),
        (["report", "--runs", str(not_json), "--md", str(tmp_path)], "--md .* is a folder"),
        (["report", "--runs", str(not_json), "--md", str(not_json / "page.md")], "notes.txt is a file, not a folder"),
        (["progress", "--run", str(not_json), "--logs", str(not_json), "--out", str(tmp_path / "p.json")],
         "--logs .*notes.txt: not a tar archive|is not JSON"),
        (["progress", "--run", str(not_json), "--logs", str(tmp_path / "no.tgz"), "--out", str(tmp_path / "p.json")],
         "--logs .*no.tgz: no such file"),
    ]
    import re

    for argv, says in cases:
        assert frg.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert re.search(says, err) and err.count("\n") == 1 and "Traceback" not in err, err
    assert not md.exists() and not (tmp_path / "p.json").exists()
