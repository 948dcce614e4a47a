"""scripts/seed_noise.py on the synthetic final table (40 architectures x 2 seeds)."""

import json

import numpy as np
import pytest


def test_reports_the_pooled_seed_noise_and_what_it_rests_on(final_table, synthetic_finals, load_script, tmp_path):
    path, _, archs = final_table
    out = tmp_path / "noise.json"
    assert load_script("seed_noise").main(["--table", str(path), "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    rows = synthetic_finals(archs)
    pairs = {}
    for r in rows:
        pairs.setdefault(r["arch"], []).append(r)
    # two seeds per architecture: the pooled variance is the mean of (x0 - x1)^2 / 2
    var = {k: np.mean([(a[k] - b[k]) ** 2 / 2 for a, b in pairs.values()]) for k in ("IS", "FID", "KID")}
    final = rep["final"]
    assert (final["available"], final["n_archs"], final["n_rows"], final["dof"]) == (True, 40, 80, 40)
    assert final["sd"]["FID"] == pytest.approx(np.sqrt(var["FID"]))
    assert final["sd"]["IS"] == pytest.approx(np.sqrt(var["IS"]))
    assert final["sd"]["KID"] == pytest.approx(np.sqrt(var["KID"]))
    alpha = rep["alpha"]
    var_score = np.mean([((a["IS"] - alpha * a["FID"]) - (b["IS"] - alpha * b["FID"])) ** 2 / 2
                         for a, b in pairs.values()])
    assert final["sd"]["score"] == pytest.approx(np.sqrt(var_score))
    assert rep["final_rows"] == {"rows": 80, "architectures": 40, "architectures_by_rows": {"2": 40}}
    assert [m["arch"] for m in rep["multi_seed_architectures"]] == list(pairs)
    means = [np.mean([r["IS"] - alpha * r["FID"] for r in p]) for p in pairs.values()]
    assert rep["between_architecture_score_sd"] == pytest.approx(np.std(means, ddof=1))
    assert not rep["proxy"]["available"] and rep["proxy"]["why"] == "the proxy table holds one GAN seed (0)"
    assert rep["provenance"]["command"][:2] == ["python", "scripts/seed_noise.py"]
    assert rep["curve_iters"] is None and "final_checkpoints" not in rep  # rows without learning curves
    lo, hi = final["sd_ci95_factor"]  # chi-square, 40 degrees of freedom
    assert lo == pytest.approx(np.sqrt(40 / 59.341707), rel=1e-6) and hi == pytest.approx(np.sqrt(40 / 24.433039), rel=1e-6)


def test_the_page_block_is_written_from_the_report_and_checked(final_table, load_script, tmp_path, capsys):
    """``--doc``: the page's block carries the report's numbers; ``--check`` finds a stale one."""
    script = load_script("seed_noise")
    path, _, _ = final_table
    out, page = tmp_path / "noise.json", tmp_path / "page.md"
    page.write_text("intro\n<!-- seed_noise:final -->\nold\n<!-- /seed_noise:final -->\nend\n")
    assert script.main(["--table", str(path), "--out", str(out), "--doc", str(page)]) == 0
    rep, text = json.loads(out.read_text()), page.read_text()
    assert text.startswith("intro\n") and text.endswith("end\n") and "old" not in text
    final = rep["final"]
    assert f"| {final['sd']['IS']:.3f} | {final['sd']['FID']:.2f} |" in text
    assert "of the 80 final rows of 40 architectures, 40 architectures have several seeds" in text
    assert f"{final['dof']} degrees of freedom" in text and "no learning curves" in text
    assert script.main(["--out", str(out), "--doc", str(page), "--check"]) == 0
    rep["final"]["sd"]["IS"] += 0.01
    out.write_text(json.dumps(rep))
    assert script.main(["--out", str(out), "--doc", str(page), "--check"]) == 1
    assert "the seed_noise block is stale" in capsys.readouterr().err
    (tmp_path / "bare.md").write_text("no block\n")
    with pytest.raises(SystemExit):
        script.main(["--table", str(path), "--out", str(tmp_path / "n2.json"), "--doc", str(tmp_path / "bare.md")])
    assert not (tmp_path / "n2.json").exists()  # refused before anything is written


def test_the_committed_page_matches_the_committed_report(load_script):
    """docs/bench_api.md's seed-noise numbers are docs/benchmark/seed_noise.json's."""
    from gan_nas_env.provenance import ROOT

    assert load_script("seed_noise").main(["--out", str(ROOT / "docs/benchmark/seed_noise.json"),
                                           "--doc", str(ROOT / "docs/bench_api.md"), "--check"]) == 0
