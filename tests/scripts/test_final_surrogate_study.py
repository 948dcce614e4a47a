"""scripts/final_surrogate_study.py on the synthetic final table (40 architectures x 2 seeds, FID
additive in a few fields plus noise): every candidate scored out of fold, paired with the reference."""

import json

import numpy as np
import pytest


def test_scores_every_candidate_out_of_fold_against_the_reference(final_table, load_script, tmp_path):
    path, _, _ = final_table
    out, md = tmp_path / "s.json", tmp_path / "s.md"
    script = load_script("final_surrogate_study")
    assert script.main(["--table", str(path), "--kinds", "ridge,gaussian_process", "--reference", "ridge",
                        "--reps", "3", "--folds", "4", "--boot", "200", "--out", str(out), "--md", str(md)]) == 0
    res = json.loads(out.read_text())
    assert (res["n"], res["reps"], res["folds"], res["reference"]) == (40, 3, 4, "ridge")
    assert set(res["candidates"]) == {"ridge", "gaussian_process"}
    ridge, gp = res["candidates"]["ridge"], res["candidates"]["gaussian_process"]
    # the synthetic score is additive in the fields: an additive model ranks it almost perfectly
    assert ridge["spearman"]["mean"] > 0.9 and ridge["score_mae"]["mean"] < res["score_mae_mean_predictor"] / 2
    assert "vs_reference" not in ridge
    vs = gp["vs_reference"]
    lo, hi = vs["spearman_diff_ci"]
    assert lo <= hi and 0 <= vs["splits_better"] <= 3
    assert vs["spearman_diff_mean_over_splits"] == pytest.approx(gp["spearman"]["mean"] - ridge["spearman"]["mean"])
    assert res["provenance"]["git_sha"] and "final_surrogate_study" in " ".join(res["provenance"]["command"])
    text = md.read_text()
    assert "| `ridge` |" in text and "| `gaussian_process` |" in text and "(reference)" in text


def test_an_unknown_regressor_is_refused_before_anything_is_written(final_table, load_script, tmp_path, capsys):
    path, _, _ = final_table
    out = tmp_path / "s.json"
    with pytest.raises(SystemExit) as exc:
        load_script("final_surrogate_study").main(["--table", str(path), "--kinds", "ridge,xgboost", "--out", str(out)])
    assert exc.value.code == 2 and "unknown regressor 'xgboost'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("kind", ["ridge", "gaussian_process"])
def test_every_final_surrogate_kind_predicts_the_whole_space(final_table, kind):
    from gan_nas_env.evaluators.final import fit_final_surrogate, predict_final_grid
    from gan_nas_env.evaluators.tabular import Table
    from gan_nas_env.space import SPACE

    table = Table.load(final_table[0])
    model, report = fit_final_surrogate(table._finals, table.alpha, kind=kind)
    grid = predict_final_grid(model)
    assert report["kind"] == kind and report["n"] == 40 and report["score_spearman"] > 0.8
    assert grid.shape == (len(SPACE), 2) and np.isfinite(grid).all()
