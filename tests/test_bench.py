"""The benchmark API (gan_nas_env.bench) on tiny synthetic tables."""

import numpy as np
import pytest

from gan_nas_env import bench as bench_mod
from gan_nas_env.bench import GANBench, Widths, generator_cost
from gan_nas_env.errors import UserError
from gan_nas_env.evaluators.final import CheckpointError, FinalRows
from gan_nas_env.evaluators.tabular import Table, export_table
from gan_nas_env.space import SPACE, Architecture


def _unmeasured(table, n=1, seed=5):
    """``n`` complete architectures with neither a proxy nor a final row."""
    rng = np.random.default_rng(seed)
    finals = set(table.finals.archs) if table.finals is not None else set()
    out = []
    while len(out) < n:
        a = str(SPACE.sample(rng))
        if a not in table.index and a not in finals and a not in out:
            out.append(a)
    return out


@pytest.fixture(scope="module")
def bench(final_table):
    return GANBench(Table.load(final_table[0]))


def test_any_architecture_at_either_fidelity_says_whether_it_was_measured(bench, final_table):
    _, _, archs = final_table
    table = bench.table
    a = str(archs[0])
    final = bench.query(a, fidelity="final")
    assert final["measured"] and final["n_seeds"] == 2 and final["seed"] is None  # the mean of two
    assert {k: final[k] for k in ("IS", "FID", "score")} == pytest.approx(
        {k: table.final(a)[k] for k in ("IS", "FID", "score")})
    assert final["objective"] == pytest.approx(final["score"])  # FINAL_OBJECTIVE = "score"
    assert final["index"] == SPACE.index(archs[0]) and final["iters"] is None
    assert set(final["cost"]) == {"train_s", "params", "flops"}
    assert final["cost"]["train_s"] == pytest.approx(100.5)  # rows of seed 0 and 1: 100 s, 101 s

    proxy = bench.query(a, fidelity="proxy")
    q = table.query(a)
    assert proxy["measured"] and proxy["n_seeds"] == 1
    assert (proxy["IS"], proxy["FID"], proxy["KID"]) == (q["IS"], q["FID"], q["KID"])
    assert proxy["objective"] == pytest.approx(q["score"])
    assert proxy["cost"]["train_s"] == pytest.approx(q["cumulative_s"])

    other = _unmeasured(table)[0]
    pred = bench.query(other, fidelity="final")
    assert not pred["measured"] and pred["n_seeds"] == 0 and np.isnan(pred["KID"])
    assert pred["score"] == pytest.approx(table.final(other)["score"])
    assert pred["cost"]["train_s"] == pytest.approx(100.5)  # the mean measured row
    pp = bench.query(other, fidelity="proxy")
    assert not pp["measured"] and pp["n_seeds"] == 0
    assert pp["IS"] == table.surrogate().predict(Architecture.parse(other)).metrics["IS"]

    prefix = bench.query(str(Architecture.parse(other).prefix(2)), fidelity="proxy")
    assert prefix["depth"] == 2 and prefix["index"] is None and np.isfinite(prefix["objective"])
    assert prefix["cost"]["train_s"] <= pp["cost"]["train_s"]  # the fake evaluator takes no time
    assert prefix["cost"]["params"] < pp["cost"]["params"]


def test_strings_lists_architectures_and_indices_are_the_same_query(bench, final_table):
    arch = final_table[2][3]
    forms = [str(arch), arch.to_vector(), tuple(arch.to_vector()), np.array(arch.to_vector()), arch,
             SPACE.index(arch), " ".join(map(str, arch.to_vector())).replace(" ", ", ")]
    records = [bench.query(f, fidelity="final") for f in forms]
    assert all(r == records[0] for r in records)
    assert bench.query("e2gan", fidelity="proxy")["arch"] == "0 1 0 1 0 1 2 1 0 0 1 0 1 2"


def test_index_and_arch_are_inverse_over_the_whole_space(bench):
    assert len(bench) == len(SPACE) == 373_248
    for i in (0, 1, 12_345, len(bench) - 1):
        assert bench.index(bench.arch(i)) == i
    assert bench.arch(0) == "0 0 0 0 0 0 0 0 0 0 0 0 0 0"


@pytest.mark.parametrize("call, match", [
    (lambda b: b.query("0 1 x", "final"), "must be integers separated by spaces"),
    (lambda b: b.query("0 1 0 1 0 1 2 1 0 0 1 0 1 9", "final"), "cell 3 skip=9 is out of range"),
    (lambda b: b.query([0, 1, 0], "proxy"), "has 3 integers"),
    (lambda b: b.query([0.0, 1, 0, 1], "proxy"), "is not an integer"),
    (lambda b: b.query({"conv": 0}, "proxy"), "not dict"),
    (lambda b: b.query("best", "final"), "unknown architecture name 'best'"),
    (lambda b: b.query(len(SPACE), "final"), "index 373248 is out of range"),
    (lambda b: b.query("0 1 0 1", "final"), "complete 3-cell architectures; '0 1 0 1' has 1 cell"),
    (lambda b: b.query("e2gan", "full"), "unknown fidelity 'full'"),
    (lambda b: b.query("e2gan", "final", seed="noisy"), "seed must be None, 'random'"),
    (lambda b: b.query("e2gan", "final", seed="random", rng=3), "rng must be a numpy.random.Generator"),
    (lambda b: b.query("e2gan", "proxy", iters=1000), "the proxy has none"),
    (lambda b: b.query("e2gan", "proxy", seed=4), "one GAN seed (0)"),
    (lambda b: b.query("e2gan", "final", iters=1000), "no learning curves"),
    (lambda b: b.index("0 1 0 1"), "only complete 3-cell architectures have an index"),
    (lambda b: b.arch(-1), "index -1 is out of range"),
    (lambda b: b.find_best("full"), "unknown fidelity 'full'"),
])
def test_invalid_queries_are_one_line_user_errors(bench, call, match):
    with pytest.raises(UserError, match=match.replace("(", r"\(").replace(")", r"\)")) as e:
        call(bench)
    assert "\n" not in str(e.value)


def test_seed_noise_draws_one_stored_row(bench, final_table, synthetic_finals):
    _, _, archs = final_table
    a = str(archs[1])
    rows = {r["seed"]: r for r in synthetic_finals(archs) if r["arch"] == a}
    draws = [bench.query(a, "final", seed="random", rng=np.random.default_rng(s)) for s in range(20)]
    assert {d["seed"] for d in draws} == {0, 1} and all(d["n_seeds"] == 2 for d in draws)
    for d in draws:
        assert d["FID"] == pytest.approx(rows[d["seed"]]["FID"])
        assert d["cost"]["train_s"] == rows[d["seed"]]["train_s"]
    again = [bench.query(a, "final", seed="random", rng=np.random.default_rng(s)) for s in range(20)]
    assert again == draws  # reproducible from the generator
    assert bench.query(a, "final", seed=1)["FID"] == pytest.approx(rows[1]["FID"])
    with pytest.raises(UserError, match="no final row of seed 5; its seeds: 0, 1"):
        bench.query(a, "final", seed=5)
    other = _unmeasured(bench.table)[0]  # a prediction has no noise
    assert bench.query(other, "final", seed="random", rng=np.random.default_rng(0)) == bench.query(other)
    # the proxy has one row per prefix (fixed GAN seed): "random" answers it
    assert bench.query(a, "proxy", seed="random") == bench.query(a, "proxy")


def test_find_best_ranks_measured_rows_unless_told_otherwise(bench):
    table = bench.table
    measured = dict.fromkeys(table.finals.archs)
    best = bench.find_best("final")
    assert best["measured"] and best["arch"] == max(measured, key=lambda a: table.final(a)["score"])
    anywhere = bench.find_best("final", measured_only=False)
    grid = table.final_grid()
    top = grid[:, 0] - table.alpha * grid[:, 1]
    assert anywhere["objective"] >= best["objective"]
    assert anywhere["objective"] == pytest.approx(max(best["objective"], top.max()))
    proxy = bench.find_best("proxy")
    assert proxy["arch"] == max(table.complete(), key=table.score) and proxy["measured"]
    assert bench.find_best("proxy", measured_only=False)["objective"] >= proxy["objective"]


def test_simulated_clock(bench, final_table):
    _, _, archs = final_table
    bench.reset_time()
    assert bench.used_time == 0.0
    a, b = str(archs[0]), _unmeasured(bench.table)[0]
    spent = [bench.simulate(a)["cost"]["train_s"], bench.simulate(b, fidelity="proxy")["cost"]["train_s"],
             bench.simulate(a)["cost"]["train_s"]]  # asked twice, paid twice
    assert bench.used_time == pytest.approx(sum(spent)) and spent[0] == spent[2] > 0
    bench.query(a)  # a query is free
    assert bench.used_time == pytest.approx(sum(spent))
    bench.reset_time()
    assert bench.used_time == 0.0


def test_the_final_objective_is_one_switch(bench, final_table, monkeypatch):
    a = str(final_table[2][0])
    before = bench.query(a, "final", cost=False)
    monkeypatch.setattr(bench_mod, "FINAL_OBJECTIVE", "neg_FID")
    after = bench.query(a, "final", cost=False)
    assert after["objective"] == -after["FID"] and after["score"] == before["score"]
    assert bench.query(a, "proxy", cost=False)["objective"] == pytest.approx(bench.query(a, "proxy")["score"])
    assert bench_mod.FINAL_OBJECTIVE in bench_mod.FINAL_OBJECTIVES


def test_proxy_only_table_refuses_the_final_fidelity(tmp_path, make_small_store):
    store, cfg, archs = make_small_store(tmp_path)
    export_table(store, cfg, tmp_path / "t.npz", surrogate=False)
    b = GANBench(Table.load(tmp_path / "t.npz"))
    with pytest.raises(UserError, match="has no final fidelity"):
        b.query(str(archs[0]), "final")
    with pytest.raises(UserError, match="has no final fidelity"):
        b.find_best("final")
    assert b.query(str(archs[0]), "proxy")["measured"]


def _curve_rows(archs):
    """Rows with learning curves: seed 0 reaches 1,500 iterations, seed 1 stops at 1,000."""
    rows = []
    for i, arch in enumerate(archs[:6]):
        for seed in (0, 1):
            curve = [{"iter": it, "IS": 1.0 + it / 1000, "FID": 40.0 - it / 100 + i + seed, "KID": 0.1,
                      "wall_s": it / 10} for it in (500, 1000, 1500) if seed == 0 or it <= 1000]
            rows.append({"arch": str(arch), "seed": seed, **{k: curve[-1][k] for k in ("IS", "FID", "KID")},
                         "curve": curve, "train_s": curve[-1]["wall_s"]})
    return rows


def test_learning_curve_checkpoints(tmp_path, make_small_store):
    store, cfg, archs = make_small_store(tmp_path)
    finals = FinalRows.from_records(_curve_rows(archs), "curve-test", {"seed": 0})
    export_table(store, cfg, tmp_path / "t.npz", finals=finals, surrogate=False)
    b = GANBench(Table.load(tmp_path / "t.npz"))
    a = str(archs[2])
    at_budget = b.query(a)  # the budget: the last checkpoint every row reaches (1,000)
    assert at_budget["iters"] == 1000 and at_budget["n_seeds"] == 2
    assert at_budget["FID"] == pytest.approx(40.0 - 10 + 2 + 0.5)
    assert at_budget["cost"]["train_s"] == pytest.approx(100.0)  # wall_s at 1,000, not the row's 150 s
    assert b.query(a, iters=1000) == at_budget
    late = b.query(a, iters=1500)  # only seed 0 reaches it
    assert late["n_seeds"] == 1 and late["seed"] == 0 and late["KID"] == pytest.approx(0.1)
    assert late["cost"]["train_s"] == pytest.approx(150.0)
    same = b.table.final(a, iters=1500)
    assert {k: late[k] for k in ("IS", "FID", "KID", "score")} == {k: same[k] for k in ("IS", "FID", "KID", "score")}
    with pytest.raises(CheckpointError, match="stored ones are 500, 1000, 1500"):
        b.query(a, iters=750)
    with pytest.raises(UserError, match="no measured row reaching checkpoint 500"):
        b.query(str(archs[30]), iters=500)
    with pytest.raises(UserError, match="stores no final surrogate"):  # exported without one
        b.query(str(archs[30]))
    assert b.find_best(iters=1500)["arch"] == str(archs[0])  # the lowest FID at 1,500
    with pytest.raises(UserError, match="measured_only=True"):
        b.find_best(iters=1500, measured_only=False)


# -- params and FLOPs ------------------------------------------------------------------------


def test_shipped_cost_terms_match_the_generator():
    """The committed asset is what scripts/build_generator_costs.py computes today."""
    import json
    import re

    asset = json.loads(bench_mod.COSTS_ASSET.read_text())
    assert asset["format"] == bench_mod.COSTS_FORMAT
    for key, terms in asset["widths"].items():
        lat, gf, bw, ch = (int(n) for n in re.findall(r"\d+", key))
        assert bench_mod.cell_cost_terms(Widths(lat, gf, bw, ch)) == terms, key


@pytest.mark.parametrize("widths", [Widths(32, 16, 4, 1), Widths(16, 24, 2, 3, num_generators=2)])
def test_params_and_flops_are_the_generators(widths):
    """Sums of per-cell terms equal torch's parameter count and FLOP counter (FLOPs = 2 MACs)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from gan_nas_env.models.generator import build_generator

    rng = np.random.default_rng(3)
    for depth in (1, 2, 3, 3, 3):
        arch = SPACE.sample(rng, depth)
        g = build_generator(arch, widths.latent_dim, widths.gf, widths.bottom_width, widths.channels,
                            widths.num_generators)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            g(torch.zeros(1, widths.latent_dim))
        params, flops = generator_cost(arch, widths)
        assert params == sum(p.numel() for p in g.parameters())
        assert 2 * flops == counter.get_total_flops()


def test_costs_of_the_shipped_table_need_no_torch():
    import subprocess
    import sys

    code = ("import sys; from gan_nas_env.bench import GANBench; b = GANBench.load(); "
            "c = b.query('e2gan', 'final')['cost']; print(c['params'], c['flops'], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    params, flops, torch_loaded = out.stdout.split()
    assert int(params) > 0 and int(flops) > 0 and torch_loaded == "False"
