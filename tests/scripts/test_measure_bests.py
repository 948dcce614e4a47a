import json

import pytest

pytest.importorskip("rliable")


@pytest.fixture(scope="module")
def bench_run(final_table, tmp_path_factory):
    from agents.benchmark.run import run_benchmark

    out = tmp_path_factory.mktemp("bench")
    run_benchmark(["random", "ls"], [0, 1], 6, out, env_id="GANCellSearchBench-v1",
                  env_kwargs={"table": str(final_table[0]), "objective": "final"}, reps=20,
                  progress=False, timing_steps=10)
    return out


def test_lists_the_bests_without_a_measured_final_row(bench_run, final_table, load_script, capsys):
    from agents.benchmark.final_scores import best_arch_curve
    from agents.benchmark.report import RunLog
    from gan_nas_env.evaluators.tabular import load_table

    ms = load_script("measure_bests")
    res = ms.missing_bests(bench_run)
    table = load_table(final_table[0])
    runs = json.loads((bench_run / "curves.json").read_text())["runs"]
    summary = json.loads((bench_run / "summary.json").read_text())
    assert list(res["agents"]) == ["random", "ls"]
    for name, rs in runs.items():
        bests = [best_arch_curve(RunLog(**r))[-1] for r in rs]
        lacking = [b for b in bests if not table.final(b)["measured"]]
        assert res["agents"][name]["missing"] == list(dict.fromkeys(lacking))
        assert res["agents"][name]["measured_share"] == 1 - len(lacking) / len(bests)
        # the benchmark's own tables say the same share
        assert summary["final_fidelity"]["agents"][name]["measured_share"] == res["agents"][name]["measured_share"]
        assert summary["agents"][name]["measured_share"] == res["agents"][name]["measured_share"]
    assert len(res["missing"]) == len(set(res["missing"]))
    listing = bench_run / "missing.json"
    rc = ms.main([str(bench_run), "--out", str(listing)])
    assert rc == (1 if res["missing"] else 0)
    assert "bests measured" in capsys.readouterr().out
    # scripts/build_finals.py --extra-from reads exactly the missing ones
    assert load_script("build_finals").archs_named_in(listing) == res["missing"]
    assert json.loads(listing.read_text())["provenance"]["git_sha"]
    # and as a rows list, each at seed 0, which build_finals.py --rows-from reads
    rows = bench_run / "rows.txt"
    assert ms.main([str(bench_run), "--rows-out", str(rows)]) == (1 if res["missing"] else 0)
    assert [(str(a), s) for a, s in load_script("build_finals").read_rows_list(rows)] == [(a, 0) for a in res["missing"]]


def test_train_passes_the_listing_to_build_finals(bench_run, load_script, capsys):
    ms = load_script("measure_bests")
    rc = ms.main([str(bench_run), "--train", "--dry-run", "--", "--config", "my.yaml", "--minutes", "1"])
    out = capsys.readouterr().out
    if not ms.missing_bests(bench_run)["missing"]:
        assert rc == 0
        return
    assert rc == 1 and "build_finals.py --archs 0 --extra '' --extra-from" in out
    assert out.strip().splitlines()[-1].endswith("--config my.yaml --minutes 1")
    assert (bench_run / "missing_bests.json").exists()


def test_train_uses_the_tables_protocol_or_refuses(bench_run, load_script, capsys, tmp_path):
    from gan_nas_env.config import load_config

    ms = load_script("measure_bests")
    for name in ("final-fmnist-v2", "final-fmnist"):  # v2 keys rows by curve hash, v1 by final hash
        key = load_config(name).final_rows_key()
        assert ms.protocol_preset(key) == name
        cmd = ms.build_finals_command(tmp_path / "l.json", ["--minutes", "1"], key)
        assert cmd[-4:] == ["--config", name, "--minutes", "1"]
    assert load_config("final-fmnist-v2").final_rows_key().startswith("curve-")
    assert ms.protocol_preset("final-test") is None
    if not ms.missing_bests(bench_run)["missing"]:
        return
    # the synthetic table's protocol is no preset's: refused before anything is written
    listing = tmp_path / "missing.json"
    assert ms.main([str(bench_run), "--train", "--dry-run", "--out", str(listing)]) == 2
    assert "no preset in configs/ trains; name its config after --" in capsys.readouterr().err
    assert not listing.exists()


def test_bad_folder_and_proxy_only_table(tmp_path, small_table, bench_run, load_script, capsys):
    ms = load_script("measure_bests")
    assert ms.main([str(tmp_path)]) == 2
    assert "not a finished gan-nas benchmark folder" in capsys.readouterr().err
    assert ms.main([str(bench_run), "--table", str(small_table[0])]) == 2
    assert "no final fidelity" in capsys.readouterr().err


def test_bad_output_paths_are_refused_before_anything_is_written(tmp_path, bench_run, load_script, capsys):
    ms = load_script("measure_bests")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    assert ms.main([str(bench_run), "--rows-out", str(tmp_path)]) == 2
    assert f"--rows-out {tmp_path} is a folder" in capsys.readouterr().err
    listing = tmp_path / "listing.json"
    assert ms.main([str(bench_run), "--out", str(listing), "--rows-out", str(a_file / "rows.txt")]) == 2
    assert f"cannot create --rows-out {a_file / 'rows.txt'}: {a_file} is a file" in capsys.readouterr().err
    assert not listing.exists()  # the good --out was not written either
    with pytest.raises(SystemExit):
        ms.main([str(bench_run), "--dry-run"])
    assert "--dry-run goes with --train" in capsys.readouterr().err
    nested = tmp_path / "new" / "dir" / "rows.txt"  # missing folders are made
    rc = ms.main([str(bench_run), "--rows-out", str(nested)])
    assert rc in (0, 1) and nested.is_file()


def test_seed_order_lists_every_agents_seed_0_first(bench_run, load_script, capsys):
    """A build stopped part-way leaves every agent measured at the same seeds."""
    from agents.benchmark.final_scores import best_arch_curve
    from agents.benchmark.report import RunLog

    ms = load_script("measure_bests")
    by_seed, by_agent = ms.missing_bests(bench_run), ms.missing_bests(bench_run, order="agent")
    assert sorted(by_seed["missing"]) == sorted(by_agent["missing"])
    runs = json.loads((bench_run / "curves.json").read_text())["runs"]
    bests = {name: [best_arch_curve(RunLog(**r))[-1] for r in rs] for name, rs in runs.items()}
    lacking = set(by_seed["missing"])
    expected = [bests[name][i] for i in range(2) for name in ("random", "ls") if bests[name][i] in lacking]
    assert by_seed["missing"] == list(dict.fromkeys(expected))
    assert by_agent["missing"] == list(dict.fromkeys(
        [b for name in ("random", "ls") for b in bests[name] if b in lacking]))
    # two folders (here the same one twice) are listed as one, each architecture once
    rows = bench_run / "rows_two.txt"
    assert ms.main([str(bench_run), str(bench_run), "--rows-out", str(rows)]) == (1 if lacking else 0)
    assert [str(a) for a, _ in load_script("build_finals").read_rows_list(rows)] == by_seed["missing"]
    assert "listed seed by seed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        ms.main([str(bench_run), "--order", "alphabetical"])
    assert "invalid choice: 'alphabetical'" in capsys.readouterr().err


def test_several_folders_are_merged_seed_by_seed(load_script):
    ms = load_script("measure_bests")

    def listing(folder, by_seed, final_hash="h"):
        missing = list(dict.fromkeys(a for s in by_seed for a in s))
        return {"folder": folder, "table": "t.npz", "final_hash": final_hash, "objective": folder,
                "missing": missing, "by_seed": by_seed}

    final = listing("final", [["a", "b"], ["c"], ["d"]])
    proxy = listing("proxy", [["e", "a"], ["f"]])
    merged = ms.merge([final, proxy])
    assert merged["missing"] == ["a", "b", "e", "c", "f", "d"]  # seed 0 of both, then seed 1, ...
    assert merged["rows"] == [{"best_arch": a} for a in merged["missing"]]
    assert merged["objective"] == "final/proxy" and merged["runs"] == [final, proxy]
    assert ms.merge([final, proxy], order="agent")["missing"] == ["a", "b", "c", "d", "e", "f"]
    assert ms.merge([final]) is final
    with pytest.raises(ms.UserError, match="other final protocols"):
        ms.merge([final, listing("proxy", [["e"]], final_hash="other")])
