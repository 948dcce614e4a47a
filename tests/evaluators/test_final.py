"""The table's second fidelity (final rows, final surrogate) and the fast cold start."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gan_nas_env.evaluators.final import FinalRows
from gan_nas_env.evaluators.tabular import Table
from gan_nas_env.space import SPACE


def test_final_rows_are_stored_and_averaged_over_seeds(final_table, synthetic_finals):
    path, cfg, archs = final_table
    table = Table.load(path)
    assert table.finals is not None and len(table.finals.archs) == 80
    assert table.meta["final"]["final_hash"] == "final-test"
    rows = [r for r in synthetic_finals(archs) if r["arch"] == str(archs[0])]
    got = table.final(str(archs[0]))
    assert got["measured"] and got["seeds"] == 2
    assert got["FID"] == pytest.approx(np.mean([r["FID"] for r in rows]))
    assert got["score"] == pytest.approx(got["IS"] - table.alpha * got["FID"])
    assert table.query(str(archs[0]))["final"] == got
    assert "final" not in table.query(str(archs[0].prefix(2)))  # prefixes have no final fidelity


def test_final_surrogate_predicts_unmeasured_architectures_and_reports_its_rank(final_table):
    path, _, archs = final_table
    table = Table.load(path)
    report = table.meta["final"]["surrogate"]
    assert report["n"] == 40 and report["folds"] == 5
    assert report["score_spearman"] > 0.5  # the synthetic FID is a simple function of the cells
    measured = {str(a) for a in archs[:40]}
    rng = np.random.default_rng(5)
    other = next(str(a) for a in (SPACE.sample(rng) for _ in range(100)) if str(a) not in measured)
    pred = table.final(other)
    assert not pred["measured"] and pred["seeds"] == 0 and np.isfinite(pred["score"])


def test_proxy_only_table_has_no_final_fidelity(small_table):
    table = Table.load(small_table[0])
    assert table.finals is None and table.final(str(small_table[2][0])) is None


def test_final_rows_need_rows():
    with pytest.raises(ValueError, match="no final rows"):
        FinalRows.from_records([], "h", {})


def test_cold_start_fits_nothing_and_imports_neither_torch_nor_sklearn(final_table):
    # a fresh process: the stored surrogate predictions answer unseen prefixes
    path, _, archs = final_table
    code = f"""
import json, sys
import gymnasium as gym
import numpy as np
import gan_nas_env
from gan_nas_env.envs.bench_env import tabular_evaluator
from gan_nas_env.space import SPACE, action_from_cell
env = gym.make("GANCellSearchBench-v0", table={str(path)!r})
table = tabular_evaluator(env).table
rng = np.random.default_rng(0)
arch = next(a for a in (SPACE.sample(rng) for _ in range(200)) if str(a.prefix(1)) not in table.index)
env.reset(seed=0)
infos = [env.step(action_from_cell(c))[4] for c in arch.cells]
print(json.dumps({{"reasons": [i.get("reason") for i in infos], "IS": [i["IS"] for i in infos],
                   "torch": "torch" in sys.modules, "sklearn": "sklearn" in sys.modules}}))
"""
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout.strip().splitlines()[-1])
    assert out["reasons"] == ["surrogate"] * 3 and all(np.isfinite(out["IS"]))
    assert not out["torch"] and not out["sklearn"]


def test_only_the_first_draws_of_the_sampling_order_are_the_uniform_final_sample(
        tmp_path, synthetic_finals, make_small_store):
    # agents' best architectures get final rows too; they must not move the reference that a
    # benchmark normalises its final scores against
    from agents.benchmark.final_scores import final_reference
    from gan_nas_env.evaluators.tabular import export_table, sampling_order

    store, cfg, archs = make_small_store(tmp_path)
    finals = FinalRows.from_records(synthetic_finals(archs), "final-test", {"seed": 0})
    export_table(store, cfg, tmp_path / "all.npz", finals=finals, surrogate=False)
    export_table(store, cfg, tmp_path / "u.npz", finals=finals, uniform_draws=15, surrogate=False)
    everything, first = Table.load(tmp_path / "all.npz"), Table.load(tmp_path / "u.npz")
    assert len(everything.final_uniform()) == len({str(a) for a in archs[:40]})
    order = list(dict.fromkeys(str(a) for a in sampling_order(first.config.seed, 15)))
    assert first.final_uniform() == [a for a in order if first.final(a)["measured"]]
    assert 0 < len(first.final_uniform()) <= 15
    # another protocol's sample (v1's 150 beside v2's 100): draws overrides the table's record
    assert first.uniform_sample(draws=20) == list(dict.fromkeys(str(a) for a in sampling_order(first.config.seed, 20)))
    assert first.uniform_sample(150) == order  # a default only applies without a record
    ref = final_reference(first)
    scores = [first.final(a)["score"] for a in first.final_uniform()]
    assert ref["n"] == len(scores) and ref["mean"] == pytest.approx(np.mean(scores))
    assert ref["best"] == pytest.approx(max(scores))
    assert final_reference(everything)["n"] == len(everything.final_uniform())


def _curve_records(archs, seeds=(0, 1), iters=(500, 1000, 1500)):
    """Synthetic curve rows: FID falls with the iterations; the second seed stops at 1,000."""
    rows = []
    for i, arch in enumerate(archs[:12]):
        for seed in seeds:
            reached = [it for it in iters if seed == 0 or it <= 1000]
            curve = [{"iter": it, "IS": 1.0 + it / 1000 + 0.01 * i, "FID": 40.0 - it / 100 + i + seed,
                      "KID": 0.1, "wall_s": it / 10} for it in reached]
            rows.append({"arch": str(arch), "seed": seed, **{k: curve[-1][k] for k in ("IS", "FID", "KID")},
                         "iters": reached[-1], "curve": curve, "train_s": reached[-1] / 10})
    return rows


def test_curves_are_stored_and_any_checkpoint_can_be_queried(tmp_path, make_small_store):
    from gan_nas_env.evaluators.final import CheckpointError
    from gan_nas_env.evaluators.tabular import export_table

    store, cfg, archs = make_small_store(tmp_path)
    finals = FinalRows.from_records(_curve_records(archs), "curve-test", {"seed": 0})
    assert list(finals.curve_iters) == [500, 1000, 1500]
    assert finals.budget == 1000  # the last checkpoint that every row reaches
    export_table(store, cfg, tmp_path / "t.npz", finals=finals, surrogate=False)
    table = Table.load(tmp_path / "t.npz")
    assert table.meta["final"]["budget"] == 1000
    a = str(archs[3])
    at1000 = table.final(a, iters=1000)
    assert at1000["seeds"] == 2 and at1000["iters"] == 1000
    assert at1000["FID"] == pytest.approx(40.0 - 10 + 3 + 0.5)  # the mean of seeds 0 and 1
    assert table.final(a) == {k: at1000[k] for k in ("IS", "FID", "score", "measured", "seeds")} | {
        "measured": True}
    at1500 = table.final(a, iters=1500)  # only seed 0 reaches it
    assert at1500["seeds"] == 1 and at1500["FID"] == pytest.approx(40.0 - 15 + 3)
    assert at1500["score"] == pytest.approx(at1500["IS"] - table.alpha * at1500["FID"])
    assert table.final(str(archs[30]), iters=500) is None  # no row of that architecture
    with pytest.raises(CheckpointError, match="stored ones are 500, 1000, 1500"):
        table.final(a, iters=750)
    finals.set_budget(1500)  # the second seed has no final metrics at 1,500: left out
    assert len(finals.by_arch()[a]) == 1


def test_rows_without_curves_refuse_a_checkpoint_query(final_table):
    from gan_nas_env.evaluators.final import CheckpointError

    path, _, archs = final_table
    with pytest.raises(CheckpointError, match="no learning curves"):
        Table.load(path).final(str(archs[0]), iters=1000)
