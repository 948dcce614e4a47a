"""scripts/validity_searches.py: variant run folders and the export, without running a search."""

import json
import subprocess

import pytest


@pytest.fixture(scope="module")
def searches(load_script):
    return load_script("validity_searches")


@pytest.mark.parametrize("argv", [["--set", "env.alpha=0"], ["--config", "search-fmnist-is"]])
def test_a_variant_needs_its_own_tag(searches, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        searches.main([*argv, "--export", "unused.json"])
    assert exc.value.code == 2
    assert "needs --tag" in capsys.readouterr().err


def test_export_names_the_evaluator_and_skips_unfinished_searches(searches, tmp_path):
    runs = tmp_path / "runs"
    done = searches.run_dir(runs, "sac", 0, "is")
    assert done.name == "sac-is-s0" and searches.run_dir(runs, "sac", 0).name == "sac-s0"
    done.mkdir(parents=True)
    (done / "top_architectures.json").write_text(json.dumps([{"arch": "0 1 0 1 0 1 2 1 0 0 1 0 1 2", "score": 2.5}]))
    (done / "model.zip").write_bytes(b"")
    (done / "meta.json").write_text(json.dumps({"episodes": 100}))
    searches.run_dir(runs, "random", 0, "is").mkdir(parents=True)  # killed: no report yet
    out = tmp_path / "searches_is.json"
    searches.main(["--config", "search-fmnist-is", "--tag", "is", "--seeds", "0", "--runs", str(runs),
                   "--export", str(out)])
    data = json.loads(out.read_text())
    assert data["config"] == "search-fmnist-is" and len(data["rows"]) == 1
    assert data["command"].startswith("scripts/validity_searches.py --config search-fmnist-is --tag is")
    row = data["rows"][0]
    assert (row["evaluator"], row["algo"], row["best_arch"], row["best_proxy_score"]) == (
        "is", "sac", "0 1 0 1 0 1 2 1 0 0 1 0 1 2", 2.5)


def _finish(run, arch, score):
    run.mkdir(parents=True)
    (run / "top_architectures.json").write_text(json.dumps([{"arch": arch, "score": score}]))
    (run / "model.zip").write_bytes(b"")
    (run / "meta.json").write_text(json.dumps({"episodes": 100}))


def test_export_keeps_searches_whose_run_folders_are_gone(searches, tmp_path):
    out = tmp_path / "searches.json"
    first, second = tmp_path / "machine1", tmp_path / "machine2"
    _finish(searches.run_dir(first, "sac", 0), "0 1 0 1 0 1 2 1 0 0 1 0 1 2", 0.4)
    _finish(searches.run_dir(first, "random", 0), "1 1 0 1 0 1 2 1 0 0 1 0 1 2", 0.3)
    searches.main(["--seeds", "0", "--runs", str(first), "--export", str(out)])
    # a new machine: seed 0's folders are gone, seed 1 ran there, and sac-s0 ran again
    _finish(searches.run_dir(second, "sac", 1), "0 0 0 1 0 1 2 1 0 0 1 0 1 2", 0.5)
    _finish(searches.run_dir(second, "sac", 0), "0 2 0 1 0 1 2 1 0 0 1 0 1 2", 0.6)
    searches.main(["--seeds", "0,1", "--runs", str(second), "--export", str(out)])
    rows = {(r["algo"], r["seed"]): r for r in json.loads(out.read_text())["rows"]}
    assert sorted(rows) == [("random", 0), ("sac", 0), ("sac", 1)]
    assert rows[("random", 0)]["best_proxy_score"] == 0.3  # kept from the first export
    assert rows[("sac", 0)]["best_proxy_score"] == 0.6  # its folder wins over the old row
    assert [(r["algo"], r["seed"]) for r in json.loads(out.read_text())["rows"]] == [
        ("sac", 0), ("sac", 1), ("random", 0)]


def test_export_refuses_to_merge_another_variant(searches, tmp_path, capsys):
    out = tmp_path / "searches.json"
    out.write_text(json.dumps({"config": "table-fmnist", "episodes": 100, "rows": []}))
    before = out.read_text()
    with pytest.raises(SystemExit, match=r"holds other searches \(episodes 100 \(asked: 20\)\); name a file"):
        searches.main(["--episodes", "20", "--runs", str(tmp_path / "none"), "--export", str(out)])
    assert out.read_text() == before


def test_searches_in_an_export_are_not_run_again(searches, tmp_path, monkeypatch, capsys):
    done = tmp_path / "searches.json"
    done.write_text(json.dumps({"config": "table-fmnist", "episodes": 100,
                                "rows": [{"algo": "sac", "seed": 0, "best_arch": None}]}))
    ran = []
    monkeypatch.setattr(searches.subprocess, "run",
                        lambda cmd, **kw: ran.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    searches.main(["--seeds", "0,1", "--algos", "sac", "--runs", str(tmp_path / "runs"),
                   "--skip-exported", str(done)])
    assert "sac seed 0: in" in capsys.readouterr().out
    assert len(ran) == 1 and "seed=1" in ran[0]


def test_a_search_that_fails_stops_the_script_with_one_line(searches, tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(searches.subprocess, "run",
                        lambda cmd, **kw: ran.append(cmd) or subprocess.CompletedProcess(cmd, 2))
    with pytest.raises(SystemExit, match="validity_searches: sac seed 0 stopped with exit status 2"):
        searches.main(["--seeds", "0,1", "--algos", "sac,random", "--runs", str(tmp_path / "runs")])
    assert len(ran) == 1  # the later searches are not started
    with pytest.raises(SystemExit) as exc:
        searches.main(["--config", "no-such-preset", "--tag", "x", "--runs", str(tmp_path / "runs")])
    assert exc.value.code == 2 and not ran[1:]


def test_the_device_is_not_part_of_the_variant(searches, tmp_path):
    out = tmp_path / "searches.json"
    out.write_text(json.dumps({"config": "table-fmnist", "overrides": ["device=cpu"], "episodes": 100,
                               "rows": [{"algo": "sac", "seed": 0, "best_arch": None}]}))
    # a GPU's searches of the plain proxy: no tag needed, and the CPU's rows are kept
    searches.main(["--set", "device=cuda", "--runs", str(tmp_path / "none"), "--export", str(out)])
    data = json.loads(out.read_text())
    assert data["overrides"] == ["device=cuda"] and [r["seed"] for r in data["rows"]] == [0]
    # nor where the data is or the speed-only switches (a GPU machine's data folder, graphs off)
    searches.main(["--set", "device=cuda", "--set", "data.root=/x", "--set", "train.cuda_graphs=false",
                   "--runs", str(tmp_path / "none"), "--export", str(out)])
    assert [r["seed"] for r in json.loads(out.read_text())["rows"]] == [0]
    with pytest.raises(SystemExit, match="holds other searches"):
        searches.main(["--set", "env.alpha=0", "--tag", "is", "--runs", str(tmp_path / "none"), "--export", str(out)])


def test_rows_out_lists_the_distinct_bests_for_the_builders(searches, tmp_path):
    runs, out, rows = tmp_path / "runs", tmp_path / "searches.json", tmp_path / "lists" / "rows.txt"
    _finish(searches.run_dir(runs, "sac", 0), "0 1 0 1 0 1 2 1 0 0 1 0 1 2", 0.4)
    _finish(searches.run_dir(runs, "sac", 1), "0 1 0 1 0 1 2 1 0 0 1 0 1 2", 0.5)  # the same best
    _finish(searches.run_dir(runs, "random", 0), "1 1 0 1 0 1 2 1 0 0 1 0 1 2", 0.3)
    _finish(searches.run_dir(runs, "random", 1), "2 1 0 1 0 1 2 1 0 0 1 0 1 2", 0.3)
    searches.main(["--seeds", "0,1", "--runs", str(runs), "--export", str(out), "--rows-out", str(rows)])
    lines = [ln for ln in rows.read_text().splitlines() if not ln.startswith("#")]
    # seed by seed: sac 0, random 0, (sac 1: the same as sac 0), random 1
    assert lines == ["0 1 0 1 0 1 2 1 0 0 1 0 1 2 0", "1 1 0 1 0 1 2 1 0 0 1 0 1 2 0",
                     "2 1 0 1 0 1 2 1 0 0 1 0 1 2 0"]


def test_rows_out_needs_export_and_a_writable_file(searches, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        searches.main(["--rows-out", str(tmp_path / "rows.txt")])
    assert exc.value.code == 2 and "--rows-out needs --export" in capsys.readouterr().err
    out = tmp_path / "searches.json"
    with pytest.raises(SystemExit) as exc:
        searches.main(["--export", str(out), "--rows-out", str(tmp_path)])
    assert exc.value.code == 2 and "is a folder" in capsys.readouterr().err
    assert not out.exists()  # refused before anything is written
