"""scripts/metric_noise.py: evaluation noise against seed noise, on synthetic measurements."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def mn(load_script):
    return load_script("metric_noise")


def _row(arch, seed, fid, is_, slice_fids, whole_fid=None):
    m = {"IS": is_, "FID": fid, "KID": fid / 100}
    whole = {**m, "FID": fid if whole_fid is None else whole_fid}
    return {"folder": f"{arch}-s{seed}", "curve_hash": "curve-x", "arch": arch, "seed": seed,
            "iter": 10000, "eval_samples": 2000, "samples": 6000, "alpha": 0.01,
            "curve": m, "check": dict(m), "whole": whole,
            "slices": [{**m, "FID": f, "KID": f / 100} for f in slice_fids]}


def test_the_evaluation_seed_and_between_sds_and_the_rankings(mn):
    archs = [f"a{i}" for i in range(6)]
    rows = []
    for i, a in enumerate(archs):
        # slices spread by +-0.1 around the value: sd 0.1 exactly
        rows.append(_row(a, 0, 10.0 + i, 2.0, [9.9 + i, 10.0 + i, 10.1 + i]))
        if i < 4:  # seed 1: FID 0.5 higher everywhere, the same ranking
            rows.append(_row(a, 1, 10.5 + i, 2.0, [10.4 + i, 10.5 + i, 10.6 + i]))
    res = mn.analyse(rows, reps=50)
    fid = res["metrics"]["FID"]
    assert (res["n_rows"], res["n_seed0"], res["n_pairs"]) == (10, 6, 4)
    assert fid["eval_sd_2k"] == pytest.approx(0.1)
    assert fid["seed_sd_curve"] == pytest.approx(0.5 / np.sqrt(2))
    assert fid["between_sd_curve"] == pytest.approx(np.std(np.arange(6), ddof=1))
    assert fid["seed_tau_curve"]["tau"] == pytest.approx(1.0)
    assert fid["tau_2k_vs_whole"]["tau"] == pytest.approx(1.0)
    assert res["check_max_rel_err"] == 0.0
    # IS is constant: no spread anywhere
    assert res["metrics"]["IS"]["eval_sd_2k"] == 0.0


def test_a_ranking_that_more_samples_reverse_is_seen(mn):
    rows = [_row(f"a{i}", 0, 10.0 + i, 2.0, [10.0 + i] * 3, whole_fid=20.0 - i) for i in range(5)]
    res = mn.analyse(rows, reps=50)
    assert res["metrics"]["FID"]["tau_2k_vs_whole"]["tau"] == pytest.approx(-1.0)
    assert "seed_tau_curve" not in res["metrics"]["FID"]  # no two-seed architectures
    text = mn.markdown(res, {"machine": {"cpu": "test"}, "git_sha": "0" * 40})
    assert "| FID | 0 |" in text and "-1.00" in text


def test_only_generators_at_the_budget_are_found(mn, tmp_path):
    for name, last in (("a-s0", 10000), ("b-s0", 9500)):
        d = tmp_path / "curve-x" / name
        d.mkdir(parents=True)
        (d / "checkpoint.pt").write_bytes(b"")
        (d / "metrics.csv").write_text(f"iter,IS,FID\n500,1,20\n{last},2,5\n")
    (tmp_path / "curve-x" / "c-s0").mkdir()  # no checkpoint: not a finished row
    assert [f.name for f in mn.run_folders(tmp_path, 10000)] == ["a-s0"]
