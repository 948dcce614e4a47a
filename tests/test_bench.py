"""The benchmark API (gan_nas_env.bench) on tiny synthetic tables."""

import numpy as np
import pytest

from gan_nas_env import bench as bench_mod
from gan_nas_env import generator_costs
from gan_nas_env.bench import GANBench
from gan_nas_env.errors import UserError
from gan_nas_env.evaluators.final import CheckpointError, FinalRows
from gan_nas_env.evaluators.tabular import Table, export_table
from gan_nas_env.generator_costs import Widths, generator_cost
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
    (lambda b: b.arch(1.5), "an architecture index is a whole number, not 1.5"),  # was index 1
    (lambda b: b.arch(True), "an architecture index is a whole number, not True"),
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
    assert all(d["noise"] == "stored seed" and d["noise_sd"] is None for d in draws)
    assert bench.query(a, "final")["noise"] is None and bench.query(a, "final", seed=1)["noise"] is None
    other = _unmeasured(bench.table)[0]  # a prediction: the value plus the model's noise
    pred, noisy = bench.query(other), bench.query(other, "final", seed="random", rng=np.random.default_rng(0))
    assert noisy["noise"] == "model" and noisy["FID"] != pred["FID"] and np.isnan(noisy["KID"])
    assert noisy["noise_sd"] == bench.seed_noise()["sd"] and noisy["measured"] is False
    # the proxy has one row per prefix (fixed GAN seed): "random" answers it and says it has no noise
    proxy = bench.query(a, "proxy", seed="random")
    assert proxy["noise"] == "unavailable" and {**proxy, "noise": None} == bench.query(a, "proxy")
    assert bench.seed_noise("proxy") == {
        "fidelity": "proxy", "iters": None, "available": False, "n_archs": 0, "n_rows": 0, "dof": 0,
        "sd": None, "corr_IS_FID": None, "cov": None, "why": "the proxy table holds one GAN seed (0)"}


# -- the seed-noise model --------------------------------------------------------------------

ALPHA = 0.01  # the tiny config's env.alpha


def _noise_rows(archs, multi=True):
    """Final rows by hand: A has seeds 0, 1, 2; B seeds 0 and 1 (seed 1 twice); the rest one seed.

    ``multi=False``: every architecture one row.
    """
    a, b = str(archs[0]), str(archs[1])
    rows = [{"arch": a, "seed": 0, "IS": 1.0, "FID": 10.0, "KID": 0.10, "train_s": 10.0},
            {"arch": b, "seed": 0, "IS": 2.0, "FID": 20.0, "KID": 0.20, "train_s": 10.0}]
    if multi:
        rows += [{"arch": a, "seed": 1, "IS": 1.3, "FID": 12.0, "KID": 0.10, "train_s": 10.0},
                 {"arch": a, "seed": 2, "IS": 1.2, "FID": 14.0, "KID": 0.13, "train_s": 10.0},
                 # seed 1 of B twice: one seed, counted once as the mean (IS 2.2, FID 22, KID 0.22)
                 {"arch": b, "seed": 1, "IS": 2.1, "FID": 21.0, "KID": 0.21, "train_s": 10.0},
                 {"arch": b, "seed": 1, "IS": 2.3, "FID": 23.0, "KID": 0.23, "train_s": 10.0}]
    rows += [{"arch": str(arch), "seed": 0, "IS": 1.5, "FID": 15.0 + i, "KID": 0.15, "train_s": 10.0}
             for i, arch in enumerate(archs[2:12])]
    return rows


@pytest.fixture(scope="module")
def noise_benches(tmp_path_factory, make_small_store):
    """Benches over the hand-made rows: with multi-seed rows, and with one row per architecture."""
    d = tmp_path_factory.mktemp("noise")
    store, cfg, archs = make_small_store(d)
    out = {}
    for multi in (True, False):
        finals = FinalRows.from_records(_noise_rows(archs, multi), "noise-test", {"seed": 0})
        export_table(store, cfg, d / f"{multi}.npz", finals=finals, surrogate=False)
        out[multi] = GANBench(Table.load(d / f"{multi}.npz"))
    assert out[True].alpha == ALPHA
    return out, archs


def test_seed_noise_is_the_pooled_within_architecture_variance(noise_benches):
    benches, _ = noise_benches
    n = benches[True].seed_noise()
    # by hand, the deviations from each architecture's mean (C and the others: one row, none):
    # A: IS 1.0 1.3 1.2, mean 3.5/3 -> (-1/6, 2/15, 1/30); FID mean 12 -> (-2, 0, 2); KID mean .11 -> (-.01, -.01, .02)
    # B (seed 1 = its two rows' mean): IS (2.0, 2.2) -> (-.1, .1); FID (20, 22) -> (-1, 1); KID (-.01, .01)
    dof = (3 - 1) + (2 - 1)
    var_is = ((1 / 6) ** 2 + (2 / 15) ** 2 + (1 / 30) ** 2 + 0.1 ** 2 + 0.1 ** 2) / dof
    var_fid = (4 + 0 + 4 + 1 + 1) / dof
    var_kid = (0.01 ** 2 + 0.01 ** 2 + 0.02 ** 2 + 0.01 ** 2 + 0.01 ** 2) / dof
    cov_is_fid = ((-1 / 6) * -2 + (2 / 15) * 0 + (1 / 30) * 2 + (-0.1) * -1 + 0.1 * 1) / dof
    var_score = var_is + ALPHA ** 2 * var_fid - 2 * ALPHA * cov_is_fid  # Var(IS - alpha FID)
    assert (n["available"], n["n_archs"], n["n_rows"], n["dof"], n["why"]) == (True, 2, 5, 3, None)
    assert n["sd"] == pytest.approx({"IS": np.sqrt(var_is), "FID": np.sqrt(var_fid), "KID": np.sqrt(var_kid),
                                     "score": np.sqrt(var_score), "objective": np.sqrt(var_score)})
    assert n["corr_IS_FID"] == pytest.approx(cov_is_fid / np.sqrt(var_is * var_fid))
    assert n["cov"][0][1] == n["cov"][1][0] == pytest.approx(cov_is_fid)


def test_random_seed_adds_the_models_noise_to_a_single_row(noise_benches):
    benches, archs = noise_benches
    b = benches[True]
    c = str(archs[2])  # one row: IS 1.5, FID 15, KID 0.15
    mean = b.query(c, cost=False)
    assert (mean["IS"], mean["FID"], mean["KID"], mean["seed"], mean["noise"]) == (1.5, 15.0, 0.15, 0, None)
    assert b.query(c, seed=0, cost=False) == mean  # an int seed: that row, untouched
    draws = [b.query(c, seed="random", rng=np.random.default_rng(s), cost=False) for s in range(400)]
    assert draws == [b.query(c, seed="random", rng=np.random.default_rng(s), cost=False) for s in range(400)]
    assert len({d["FID"] for d in draws}) == 400 and len({d["IS"] for d in draws}) == 400
    sd = b.seed_noise()["sd"]
    for d in draws:
        assert d["noise"] == "model" and d["noise_sd"] == sd and d["seed"] is None and d["n_seeds"] == 1
        assert d["score"] == pytest.approx(d["IS"] - ALPHA * d["FID"]) and d["objective"] == d["score"]
    fid, is_ = np.array([d["FID"] for d in draws]), np.array([d["IS"] for d in draws])
    assert np.mean(fid) == pytest.approx(15.0, abs=4 * sd["FID"] / 20)  # 4 standard errors
    assert np.std(fid, ddof=1) == pytest.approx(sd["FID"], rel=0.15)
    assert np.std([d["score"] for d in draws], ddof=1) == pytest.approx(sd["score"], rel=0.15)
    assert np.corrcoef(is_, fid)[0, 1] == pytest.approx(b.seed_noise()["corr_IS_FID"], abs=0.15)  # jointly
    # several stored seeds: one of them, as before; the mean and an int seed are the rows'
    a = str(archs[0])
    assert b.query(a, cost=False)["FID"] == pytest.approx(12.0)
    assert b.query(a, seed=2, cost=False)["FID"] == 14.0
    stored = {b.query(a, seed="random", rng=np.random.default_rng(s), cost=False)["FID"] for s in range(30)}
    assert stored == {10.0, 12.0, 14.0}


def test_a_table_without_multi_seed_rows_has_no_noise_model(noise_benches):
    benches, archs = noise_benches
    b = benches[False]
    n = b.seed_noise()
    assert not n["available"] and (n["n_archs"], n["n_rows"], n["sd"]) == (0, 0, None)
    assert n["why"] == "no architecture has final rows of two seeds"
    a = str(archs[0])
    r = b.query(a, seed="random", rng=np.random.default_rng(0))
    assert r["noise"] == "unavailable" and r["noise_sd"] is None
    assert {**r, "noise": None} == b.query(a)  # the value as it is, as before


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


def test_the_is_only_reward_leaves_the_final_objective_alone(bench, final_table):
    """alpha weighs the proxy objective and the score; the final objective is the benchmark's
    (the table's alpha), so final results of searches run with either reward compare."""
    is_only = GANBench(bench.table, alpha=0.0)
    measured, predicted = str(final_table[2][0]), _unmeasured(bench.table)[0]
    for a in (measured, predicted):
        ours, theirs = is_only.query(a, "final", cost=False), bench.query(a, "final", cost=False)
        assert ours["objective"] == pytest.approx(theirs["objective"]) == pytest.approx(theirs["score"])
        assert ours["score"] == pytest.approx(ours["IS"]) != pytest.approx(theirs["score"])
        proxy = is_only.query(a, "proxy", cost=False)
        assert proxy["objective"] == pytest.approx(proxy["IS"])
    assert is_only.find_best("final")["arch"] == bench.find_best("final")["arch"]
    # a prediction with seed noise: the model's sd of the objective is the benchmark's too
    ours, theirs = (b.query(predicted, "final", seed="random", rng=np.random.default_rng(0), cost=False)
                    for b in (is_only, bench))
    assert ours["noise"] == "model" and ours["noise_sd"]["objective"] == pytest.approx(theirs["noise_sd"]["objective"])
    assert ours["objective"] == pytest.approx(theirs["objective"])


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
    assert b.query(a, iters=1500.0) == late and b.query(a, iters=np.int64(1500)) == late
    for fraction in (1500.5, True):  # int() would answer the 1,500 (or 1) checkpoint silently
        with pytest.raises(UserError, match="iters is a whole number of generator iterations"):
            b.query(a, iters=fraction)
    with pytest.raises(UserError, match="no measured row reaching checkpoint 500"):
        b.query(str(archs[30]), iters=500)
    with pytest.raises(UserError, match="stores no final surrogate"):  # exported without one
        b.query(str(archs[30]))
    assert b.find_best(iters=1500)["arch"] == str(archs[0])  # the lowest FID at 1,500
    # seed noise per checkpoint: at 500 and 1,000 six architectures have both seeds, FID 1 apart
    for it in (500, 1000):
        n = b.seed_noise(iters=it)
        assert (n["iters"], n["n_archs"], n["n_rows"]) == (it, 6, 12)
        assert n["sd"]["FID"] == pytest.approx(np.sqrt(0.5)) and n["sd"]["IS"] == 0.0
        assert n["corr_IS_FID"] is None  # IS never varies
    assert b.seed_noise() == b.seed_noise(iters=1000)  # the budget
    assert b.seed_noise(iters=1500)["why"] == "no architecture has final rows of two seeds reaching checkpoint 1500"
    assert b.query(a, iters=1500, seed="random")["noise"] == "unavailable"
    noisy = b.query(a, iters=500, seed="random", rng=np.random.default_rng(1))  # two rows: one drawn
    assert noisy["noise"] == "stored seed"
    with pytest.raises(CheckpointError, match="stored ones are 500, 1000, 1500"):
        b.seed_noise(iters=750)
    with pytest.raises(UserError, match="measured_only=True"):
        b.find_best(iters=1500, measured_only=False)


# -- params and FLOPs ------------------------------------------------------------------------


def test_shipped_cost_terms_match_the_generator():
    """The committed asset is what scripts/build_generator_costs.py computes today."""
    import json
    import re

    asset = json.loads(generator_costs.COSTS_ASSET.read_text())
    assert asset["format"] == generator_costs.COSTS_FORMAT
    for key, terms in asset["widths"].items():
        lat, gf, bw, ch = (int(n) for n in re.findall(r"\d+", key))
        assert generator_costs.cell_cost_terms(Widths(lat, gf, bw, ch)) == terms, key


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
