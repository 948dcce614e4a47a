"""benchmarks/final_row_speed.py: the report's speed-ups (against fp32, else the first variant)."""

import pytest

from benchmarks.final_row_speed import VARIANTS, render_md


def _data(rows, note=None):
    prov = {"machine": {"cpu": "X", "cores": 2}, "command": ["final_row_speed.py"], "git_sha": "abcdef123456",
            "version": "0"}
    return {"archs": ["a", "b"], "repeats": 1, "iters": 5, "rows": rows, "eval_samples": 2000, "scoring_s": 4.0,
            "eval_every": 500, "row_s_by_budget": {"1000": {r["variant"]: 1.0 for r in rows}}, "note": note,
            "provenance": prov}


def _row(variant, a, b):
    return {"variant": variant, "ms_per_iter": {"a": a, "b": b}, "mean_ms_per_iter": (a + b) / 2}


def test_speed_up_is_against_fp32_when_timed():
    text = render_md(_data([_row("bf16", 100.0, 50.0), _row("fp32", 200.0, 200.0)]))
    assert "| variant | ms / generator iteration | speed-up vs fp32 |" in text
    assert "| bf16 | 75.0 | 3.00x |" in text  # mean over architectures of 2x and 4x


def test_speed_up_is_against_the_first_variant_without_fp32():
    text = render_md(_data([_row("bf16+channels_last", 100.0, 100.0), _row("compile+bf16+channels_last", 125.0, 100.0)],
                           note="Timed beside one builder."))
    assert "speed-up vs bf16+channels_last |" in text and "| compile+bf16+channels_last | 112.5 | 0.90x |" in text
    assert "Timed beside one builder." in text


@pytest.mark.parametrize("variant", ["compile+bf16+channels_last", "bf16+channels_last"])
def test_variants_are_known(variant):
    assert variant in VARIANTS
