"""scripts/numerics_check.py: a numerics change is judged against a second seed."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def check(load_script):
    return load_script("numerics_check")


def test_a_variant_as_close_as_a_seed_is_adopted_and_a_random_one_is_not(check):
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, 30)
    seed = ref + rng.normal(0, 0.3, 30)
    close = check.not_worse_than_a_seed(ref, seed, ref + rng.normal(0, 0.3, 30), reps=300)
    assert close["adopt"]
    assert close["abs_diff_minus_seed_ci"][0] <= 0 <= close["abs_diff_minus_seed_ci"][1]
    unrelated = check.not_worse_than_a_seed(ref, seed, rng.normal(0, 1, 30), reps=300)
    assert not unrelated["adopt"] and unrelated["abs_diff_minus_seed_ci"][0] > 0


def test_analyse_refuses_a_missing_or_empty_store_without_making_one(check, tmp_path, monkeypatch, capsys):
    from gan_nas_env.evaluators.store import ResultsStore

    monkeypatch.setattr(check, "check_archs", lambda n, cpu: ["0 0 0 0 0 0 0 0 0 0 0 0 0 0"] * 3)
    missing, out = tmp_path / "typo.sqlite", tmp_path / "report.json"
    with pytest.raises(SystemExit) as exc:
        check.main(["--analyse", "--store", str(missing), "--out", str(out)])
    assert exc.value.code == 2 and "no such store" in capsys.readouterr().err
    assert not missing.exists() and not out.exists()
    ResultsStore(tmp_path / "empty.sqlite").close()
    with pytest.raises(SystemExit) as exc:
        check.main(["--analyse", "--store", str(tmp_path / "empty.sqlite"), "--out", str(out)])
    assert exc.value.code == 2 and "nothing to compare" in capsys.readouterr().err and not out.exists()
