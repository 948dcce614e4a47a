import json

import gymnasium as gym
import numpy as np
import pytest

import gan_nas_env  # noqa: F401
from gan_nas_env.config import load_config
from gan_nas_env.envs.bench_env import make_bench_env
from gan_nas_env.evaluators import FakeEvaluator
from gan_nas_env.evaluators.tabular import (
    DEFAULT_TABLE,
    Table,
    TableError,
    TabularEvaluator,
    load_table,
)
from gan_nas_env.space import SPACE


def test_table_answers_stored_prefixes_exactly(small_table):
    path, cfg, archs = small_table
    table = Table.load(path, expect_hash=cfg.proxy_hash())
    fake = FakeEvaluator(16, seed_noise=0.5)
    fake.reset(0)
    ev = TabularEvaluator(table)
    ev.reset(0)
    for cell in archs[3].cells:
        want, got = fake.step(cell), ev.step(cell)
        assert got.metrics["IS"] == want.metrics["IS"] and got.metrics["FID"] == want.metrics["FID"]
        assert got.cached
    assert ev.lookups == 3 and ev.surrogate_calls == 0


def test_tables_of_other_proxies_are_refused(small_table):
    path, _, _ = small_table
    other = load_config("tiny", {"train.n_critic": 3})
    with pytest.raises(TableError, match="never mixed"):
        Table.load(path, expect_hash=other.proxy_hash())
    with pytest.raises(TableError, match="does not exist"):
        Table.load(path.parent / "missing.npz")


def test_surrogate_answers_unseen_prefixes(small_table):
    path, _, archs = small_table
    table = load_table(path)
    ev = TabularEvaluator(table)
    seen = {str(a) for a in archs}
    rng = np.random.default_rng(1)
    unseen = next(a for a in (SPACE.sample(rng) for _ in range(100)) if str(a) not in seen)
    ev.reset(0)
    out = [ev.step(c) for c in unseen.cells]
    assert ev.surrogate_calls >= 1
    assert all(np.isfinite(o.metrics["IS"]) for o in out)
    assert out[-1].representation.shape == (16,)
    assert set(ev.surrogate.holdout_mae) == {1, 2, 3}
    hold = ev.surrogate.holdout[3]
    assert set(hold["mae"]) == {"IS", "FID", "KID"} and -1 <= hold["score_spearman"] <= 1
    mean_s = table.seconds[table.depths() == 3].sum(1).mean()  # the table's mean cost at that depth
    assert out[-1].timings["simulated_s"] == pytest.approx(mean_s)


def test_chunked_surrogate_predictions_match_the_model(small_table):
    from gan_nas_env.evaluators.surrogate import Surrogate, one_hot

    table = load_table(small_table[0])
    stored, fitted = table.surrogate(), Surrogate.fit(table)  # the file's grids; a fresh fit
    assert not stored.models and fitted.models
    rng = np.random.default_rng(3)
    for arch in (SPACE.sample(rng) for _ in range(5)):
        for d in (1, 2, 3):
            want = fitted.models[d].predict(one_hot(arch.prefix(d))[None])[0]
            got = fitted.predict(arch.prefix(d)).metrics
            np.testing.assert_allclose([got["IS"], got["FID"], got["KID"]], want, rtol=1e-6)
            got = stored.predict(arch.prefix(d)).metrics  # uint16-packed: 1/65535 of the range
            np.testing.assert_allclose([got["IS"], got["FID"], got["KID"]], want, rtol=1e-4, atol=1e-4)


def test_simulated_clock_and_query(small_table):
    path, _, archs = small_table
    table = Table.load(path)
    ev = TabularEvaluator(table)
    ev.reset(0)
    outs = [ev.step(c) for c in archs[0].cells]
    steps = [o.timings["simulated_s"] for o in outs]
    assert outs[-1].timings["simulated_total_s"] == pytest.approx(sum(steps))
    q = table.query(str(archs[0]))
    assert q["cumulative_s"] == pytest.approx(sum(steps))
    assert q["score"] == pytest.approx(q["IS"] - table.alpha * q["FID"])


def test_envs_share_one_loaded_table_and_refuse_proxy_overrides(small_table):
    path, _, _ = small_table
    assert load_table(path) is load_table(str(path))
    env = make_bench_env(path, overrides={"env.alpha": 0.0})
    assert env.alpha == 0.0
    with pytest.raises(TableError, match="change the proxy"):
        make_bench_env(path, overrides={"train.n_critic": 7})


def test_bench_env_registered_and_checkable(small_table):
    path, _, _ = small_table
    env = gym.make("GANCellSearchBench-v0", table=str(path))
    assert env.spec.max_episode_steps == 3
    from gymnasium.utils.env_checker import check_env

    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        obs, r, term, _, info = env.step(env.action_space.sample())
    assert term and "simulated_s" in info["timings"]


@pytest.mark.skipif(not DEFAULT_TABLE.exists(), reason="shipped table not built yet")
def test_shipped_table_loads_and_matches_its_preset():
    table = Table.load(DEFAULT_TABLE, expect_hash=load_config("table-fmnist").proxy_hash())
    assert len(table.complete()) >= 100
    assert DEFAULT_TABLE.stat().st_size < 20 * 2**20


def test_tables_of_older_model_code_are_refused(small_table, tmp_path):
    """A table made by other model code is refused with a message saying so, never mixed."""
    path, cfg, _ = small_table
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    assert meta["model_code"] == 2
    for old in (None, 1):
        if old is None:
            meta.pop("model_code")
        else:
            meta["model_code"] = old
        arrays["meta"] = np.array(json.dumps(meta))
        np.savez_compressed(tmp_path / "old.npz", **arrays)
        with pytest.raises(TableError, match="made by model code v1.*Rebuild"):
            Table.load(tmp_path / "old.npz")


def test_restored_store_exports_the_same_table(small_table, tmp_path):
    from gan_nas_env.evaluators.store import ResultsStore
    from gan_nas_env.evaluators.tabular import export_table, restore_store

    path, cfg, _ = small_table
    table = Table.load(path, expect_hash=cfg.proxy_hash())
    store = ResultsStore(tmp_path / "restored.sqlite")
    assert restore_store(table, store) == len(table.archs)
    assert restore_store(table, store) == 0  # rows already stored are kept
    export_table(store, cfg, tmp_path / "again.npz", surrogate=False)
    want, got = np.load(path), np.load(tmp_path / "again.npz")
    for key in ("arch", "metrics", "representation", "seconds", "diverged"):
        assert np.array_equal(want[key], got[key]), key
    assert json.loads(str(got["meta"]))["proxy_hash"] == cfg.proxy_hash()


def _rewrite(src, dst, meta_change=None, **arrays_change):
    """``src``'s arrays and metadata, changed, written to ``dst``."""
    with np.load(src, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    if meta_change:
        meta_change(meta)
    arrays.update(arrays_change, meta=np.array(json.dumps(meta)))
    np.savez_compressed(dst, **arrays)
    return dst


@pytest.mark.parametrize("key", ["format", "config", "proxy_hash", "gan_seed", "metrics", "surrogate",
                                 "final"])
def test_incomplete_metadata_is_refused_naming_the_key_and_the_file(key, final_table, tmp_path):
    """Before: a table without 'config' or 'proxy_hash' loaded, then failed with a bare KeyError
    when an env used it; one without 'gan_seed' or 'metrics' loaded silently."""
    path = _rewrite(final_table[0], tmp_path / "damaged.npz", lambda m: m.pop(key))
    for load in (Table.load, make_bench_env):
        with pytest.raises(TableError, match=f"{path}: its metadata lacks the key '{key}'"):
            load(path)


def test_metric_columns_other_than_ours_are_refused(small_table, tmp_path):
    """Before: columns named FID, IS, KID were read as IS, FID, KID (a silent wrong answer)."""
    path = _rewrite(small_table[0], tmp_path / "swapped.npz",
                    lambda m: m.update(metrics=["FID", "IS", "KID"]))
    with pytest.raises(TableError, match=r"metric columns are \['FID', 'IS', 'KID'\], not \['IS', 'FID', 'KID'\]"):
        Table.load(path)


def test_an_array_of_the_wrong_shape_is_refused(small_table, tmp_path):
    with np.load(small_table[0]) as z:
        seconds = z["seconds"][:, :1]
    path = _rewrite(small_table[0], tmp_path / "cut.npz", seconds=seconds)
    with pytest.raises(TableError, match=r"array 'seconds' has shape \(\d+, 1\), not \(\d+, 2\)"):
        Table.load(path)


def test_a_table_replaced_with_the_same_modification_time_is_loaded_again(small_table, tmp_path):
    """Before: the cache was keyed on the modification time alone and served the old table."""
    import os
    import shutil

    path = tmp_path / "table.npz"
    shutil.copy(small_table[0], path)
    old = load_table(path)
    assert load_table(path) is old  # unchanged: shared
    st = path.stat()
    with np.load(path) as z:
        _rewrite(path, path, metrics=z["metrics"] + 1.0)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # as cp -p or rsync -t leave it
    assert path.stat().st_mtime_ns == st.st_mtime_ns
    new = load_table(path)
    assert new is not old
    np.testing.assert_array_equal(new.metrics, old.metrics + 1.0)


def test_query_of_an_architecture_not_stored_names_it_and_what_answers_it(small_table):
    """Before: a bare KeyError('1 1 1 ...')."""
    from gan_nas_env.bench import GANBench
    from gan_nas_env.errors import UserError
    from gan_nas_env.evaluators.tabular import NotInTableError

    table = load_table(small_table[0])
    arch = next(str(a) for a in SPACE if str(a) not in table.index)
    for ask in (table.query, table.score):
        with pytest.raises(NotInTableError) as info:
            ask(arch)
        assert isinstance(info.value, KeyError) and isinstance(info.value, UserError)
        msg = str(info.value)
        assert msg.startswith(f"table {small_table[0]} stores no row of '{arch}'") and "GANBench.query" in msg
    assert GANBench(table).query(arch, fidelity="proxy")["arch"] == arch  # what the message points to
