"""The one score function and the metric keys (gan_nas_env/metrics/score.py)."""

import numpy as np
import pytest

from gan_nas_env.evaluators.final import CURVE_KEYS, GRID_KEYS, WALL_COL
from gan_nas_env.metrics.score import (
    FID,
    FID_COL,
    IS,
    IS_COL,
    KID_COL,
    METRIC_KEYS,
    SCORE_KEYS,
    SCORER_KEYS,
    SIGN,
    metric_column,
    score,
    score_columns,
    score_of,
)


@pytest.mark.parametrize("is_, fid, alpha, expected", [(1.5, 20.0, 0.01, 1.3), (3.0, 0.0, 0.5, 3.0),
                                                        (2.0, 10.0, 0.0, 2.0)])
def test_score_of_floats(is_, fid, alpha, expected):
    assert score(is_, fid, alpha) == pytest.approx(expected)
    assert score_of({IS: is_, FID: fid, "KID": 0.1}, alpha) == pytest.approx(expected)
    assert isinstance(score_of({IS: np.float64(is_), FID: np.float64(fid)}, alpha), float)


def test_score_of_arrays_is_elementwise_and_bit_identical_to_the_formula():
    rng = np.random.default_rng(0)
    m = rng.uniform(0, 50, size=(7, len(METRIC_KEYS)))
    want = m[:, 0] - 0.01 * m[:, 1]
    assert np.array_equal(score(m[:, IS_COL], m[:, FID_COL], 0.01), want)
    assert np.array_equal(score_columns(m, 0.01), want)
    assert np.array_equal(score_columns(m[:, : len(GRID_KEYS)], 0.01, GRID_KEYS), want)
    curves = rng.uniform(0, 50, size=(3, 4, len(CURVE_KEYS)))
    assert np.array_equal(score_columns(curves, 0.01, CURVE_KEYS), curves[..., 0] - 0.01 * curves[..., 1])


def test_metric_keys_are_defined_once_and_agree():
    assert METRIC_KEYS == ("IS", "FID", "KID")
    assert (IS_COL, FID_COL, KID_COL) == (0, 1, 2)
    assert SCORE_KEYS == METRIC_KEYS[:2] == GRID_KEYS  # the score reads the first two columns
    assert set(METRIC_KEYS) <= set(SCORER_KEYS)
    assert CURVE_KEYS[: len(METRIC_KEYS)] == METRIC_KEYS and CURVE_KEYS[WALL_COL] == "wall_s"


def test_metric_column_names_the_score_or_a_column_and_sign_orients_it():
    rng = np.random.default_rng(1)
    curves = rng.uniform(0, 50, size=(3, 4, len(CURVE_KEYS)))
    assert np.array_equal(metric_column(curves, "score", 0.01, CURVE_KEYS), score_columns(curves, 0.01, CURVE_KEYS))
    assert np.array_equal(metric_column(curves, FID, 0.01, CURVE_KEYS), curves[..., CURVE_KEYS.index(FID)])
    m = np.array([[2.0, 10.0, 0.1], [3.0, 5.0, 0.05]])  # the second row is better by every metric
    for name in ("score", *METRIC_KEYS):
        oriented = SIGN[name] * metric_column(m, name, 0.01)
        assert oriented[1] > oriented[0], name
    with pytest.raises(ValueError):
        metric_column(m, "precision", 0.01)
