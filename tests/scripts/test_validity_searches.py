"""scripts/validity_searches.py: variant run folders and the export, without running a search."""

import json

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
