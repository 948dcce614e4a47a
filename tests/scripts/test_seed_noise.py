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
