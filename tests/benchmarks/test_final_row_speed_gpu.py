"""benchmarks/final_row_speed_gpu.py on CPU: the eager mode only, its JSON and its page."""

import json

from benchmarks import final_row_speed_gpu as frs


def test_cpu_run_writes_the_eager_mode_and_a_row_estimate(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # its scratch runs/bench_tmp goes here
    out, md = tmp_path / "speed.json", tmp_path / "speed.md"
    frs.main(["--config", "tiny", "--device", "cpu", "--archs", "1", "--iters", "2", "--warmup", "1",
              "--repeats", "1", "--streams", "1,4", "--out", str(out), "--md", str(md)])
    d = json.loads(out.read_text())
    assert set(d["modes"]) == {"eager"}  # no graphs on CPU
    eager = d["modes"]["eager"]
    assert eager["ms_per_iter_median"] > 0 and not eager["captured"]
    assert d["streams"] == []  # CUDA only
    # one row: the tiny preset's 6 iterations and its scorings (every 3)
    assert d["scorings_per_row"] == 2
    assert abs(eager["row_s"] - (eager["ms_per_iter_median"] / 1000 * 6 + 2 * d["scoring_s"])) < 1e-6
    assert "| eager |" in md.read_text() and d["provenance"]["git_sha"]


def test_pick_layout_takes_threads_only_when_streams_pay():
    from benchmarks.final_row_speed_gpu import pick_layout

    def streams(*rates):
        return {"streams": [{"rows": k, "iters_per_s_total": r, "captured": k} for k, r in rates]}

    assert pick_layout(streams((1, 50.0), (8, 300.0)), 14) == (2, 8)  # 16 rows in flight: 2 x 8
    assert pick_layout(streams((1, 50.0), (8, 60.0)), 14) == (14, 1)  # streams barely help: processes
    assert pick_layout(streams((1, 50.0), (8, 300.0)), 4) == (1, 4)   # never more rows than asked
    broken = streams((1, 50.0), (8, 300.0))
    broken["streams"][1]["captured"] = 5  # some rows fell back to eager: not a graphed layout
    assert pick_layout(broken, 14) == (14, 1)
    assert pick_layout({"streams": [{"rows": 1, "iters_per_s_total": 50.0, "captured": 1},
                                    {"rows": 8, "error": "out of memory"}]}, 14) == (14, 1)
    assert pick_layout({}, 14) == (14, 1)  # the benchmark wrote nothing


def test_pick_on_the_command_line(tmp_path, capsys):
    import json

    from benchmarks.final_row_speed_gpu import main

    out = tmp_path / "speed.json"
    out.write_text(json.dumps({"streams": [{"rows": 1, "iters_per_s_total": 50.0, "captured": 1},
                                           {"rows": 8, "iters_per_s_total": 300.0, "captured": 8}]}))
    main(["pick", str(out), "--rows", "14"])
    main(["pick", str(tmp_path / "missing.json"), "--rows", "14"])  # the benchmark wrote nothing
    assert capsys.readouterr().out.split("\n")[:2] == ["2 8", "14 1"]
