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
