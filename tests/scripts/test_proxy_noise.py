"""scripts/proxy_noise.py: test-retest of the proxy under other GAN seeds, on synthetic rows."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def pn(load_script):
    return load_script("proxy_noise")


def _rows(values_by_seed):
    return {s: {f"a{i}": {"IS": 2.0, "FID": -v, "score": v, "cost_s": 5.0 + s} for i, v in enumerate(vals)}
            for s, vals in values_by_seed.items()}


def test_test_retest_and_mean_of_seeds(pn):
    x = np.arange(8.0)
    rows = _rows({0: x, 1: x + 0.1, 2: x[::-1]})
    finals = {f"a{i}": float(v) for i, v in enumerate(x)}
    res = pn.analyse(rows, finals, reps=50)
    assert res["n"] == 8 and res["seeds"] == [0, 1, 2]
    assert res["pairs"]["0-1"]["score"]["spearman"]["value"] == pytest.approx(1.0)
    assert res["pairs"]["0-2"]["score"]["kendall"]["value"] == pytest.approx(-1.0)
    # FID is ranked as -FID against the final score: seed 0's FID = -x agrees perfectly
    assert res["vs_final"]["FID"]["seed_0"]["spearman"]["value"] == pytest.approx(1.0)
    # the mean over the seeds is (x + x + 0.1 + reversed x) / 3: constant plus x/3 -> still ranks like x
    assert res["vs_final"]["score"]["mean_of_seeds"]["spearman"]["value"] == pytest.approx(1.0)
    assert res["cost_s_per_arch_and_seed"]["median"] == pytest.approx(6.0)
    assert "| 0-1 |" in pn.markdown(res, {"machine": {"cpu": "x"}, "git_sha": "abc"})


def test_only_architectures_every_seed_holds(pn):
    rows = _rows({0: np.arange(6.0), 1: np.arange(6.0)})
    del rows[1]["a0"]
    res = pn.analyse(rows, {f"a{i}": float(i) for i in range(6)}, reps=20)
    assert res["n"] == 5 and "a0" not in res["archs"]


def test_prefixes_are_the_three_cells_in_turn(pn):
    assert pn.prefixes("1 1 2 1 1 0 0 1 1 1 0 0 1 3") == ["1 1 2 1", "1 1 2 1 1 0 0 1 1", "1 1 2 1 1 0 0 1 1 1 0 0 1 3"]


def test_seed_checks_reproduction_levels_and_pairs(pn):
    x = np.arange(6.0)
    own = {0: {f"a{i}": {"IS": 1.0 + v / 10, "FID": 100 - v, "score": 0.0, "cost_s": 1.0} for i, v in enumerate(x)}}
    rerun_own = {0: {f"a{i}": {"IS": 1.0 + v / 10 + 0.001, "FID": 100 - v, "score": 0.0, "cost_s": 1.0}
                     for i, v in enumerate(x[:4])}}
    fresh = {3: {f"a{i}": {"IS": 2.0 - v / 10, "FID": 80 - v, "score": 0.0, "cost_s": 1.0} for i, v in enumerate(x)}}
    chk = pn.summarise_checks(0, own, [rerun_own, fresh], [f"a{i}" for i in range(6)])
    assert chk["reproduction"]["n"] == 4
    assert chk["reproduction"]["max_abs_diff_IS"] == pytest.approx(0.001)
    assert chk["reproduction"]["max_abs_diff_FID"] == 0.0
    # the re-run of the own seed is not a seed of its own: seeds 0 (table) and 3
    assert chk["seeds"] == [0, 3] and chk["n"] == 6
    assert chk["levels"]["3"]["mean_FID"] == pytest.approx(77.5)
    assert chk["levels"]["0"]["sd_IS"] == pytest.approx(np.std(x / 10, ddof=1))
    assert chk["pairs"]["0-3"]["IS"]["spearman"]["value"] == pytest.approx(-1.0)
    assert chk["pairs"]["0-3"]["FID"]["spearman"]["value"] == pytest.approx(1.0)
    md = pn.checks_markdown(chk)
    assert any("at most 0.0010 in IS" in line for line in md) and "| 3 | 1.750 |" in "\n".join(md)
