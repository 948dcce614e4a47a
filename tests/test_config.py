from pathlib import Path

import pytest

from gan_nas_env.config import ConfigError, load_config, preset_names

ROOT = Path(__file__).resolve().parents[1]


def test_presets_load():
    names = preset_names()
    for required in ("tiny", "quickstart", "fashion-mnist", "paper-cifar10", "paper-stl10"):
        assert required in names
    for n in names:
        load_config(n)


def test_paper_presets_match_spec():
    c = load_config("paper-cifar10")
    assert (c.model.gf, c.model.df, c.model.latent_dim, c.model.bottom_width) == (128, 64, 128, 4)
    assert (c.train.loss, c.train.n_critic, c.train.g_lr, c.train.beta1, c.train.beta2) == ("hinge", 5, 2e-4, 0.0, 0.9)
    assert (c.train.g_batch_size, c.train.d_batch_size) == (128, 64)
    assert (c.metrics.num_samples, c.env.alpha, c.search.episodes) == (5000, 0.01, 100)
    assert (c.retrain.gf, c.retrain.df, c.retrain.g_iters, c.retrain.ema_decay) == (256, 128, 150000, 0.999)
    s = load_config("paper-stl10")
    assert (s.data.name, s.data.image_size, s.model.bottom_width, s.train.g_lr) == ("stl10", 48, 6, 5e-5)
    # released STL-10 retraining (eval/exps/derive_stl.sh)
    rt = s.retrain.train_config(s.train)
    assert (rt.g_batch_size, rt.d_batch_size, rt.g_lr, rt.d_lr, s.retrain.g_iters) == (32, 16, 5e-5, 5e-5, 600_000)
    assert (s.retrain.gf, s.retrain.df) == (256, 128)
    # CIFAR-10 retraining uses the search's batch sizes and lr (eval/exps/derive.sh)
    rt = c.retrain.train_config(c.train)
    assert (rt.g_batch_size, rt.d_batch_size, rt.g_lr) == (128, 64, 2e-4)


def test_paper_presets_run_fp32_and_the_bf16_preset_differs_only_in_precision():
    for name in ("paper-cifar10", "paper-stl10", "fashion-mnist"):
        c = load_config(name)
        assert not c.train.amp and not c.retrain.amp, name
        assert c.metrics.reference == "final", name
    fast, paper = load_config("paper-cifar10-bf16"), load_config("paper-cifar10")
    assert fast.train.amp and fast.retrain.amp
    a, b = fast.to_dict(), paper.to_dict()
    a["train"].pop("amp"), b["train"].pop("amp"), a["retrain"].pop("amp"), b["retrain"].pop("amp")
    a.pop("name"), b.pop("name")
    assert a == b


def test_overrides_dotted_and_list():
    c = load_config("tiny", {"train.loss": "ns", "seed": 3})
    assert c.train.loss == "ns" and c.seed == 3
    c = load_config("tiny", ["train.n_critic=3", "metrics.kid=false"])
    assert c.train.n_critic == 3 and c.metrics.kid is False


def test_int_accepted_for_float():
    assert load_config("tiny", {"train.g_lr": 1}).train.g_lr == 1.0


@pytest.mark.parametrize(
    "overrides, needle",
    [
        ({"train.lr": 1e-3}, "unknown config key 'train.lr'"),
        ({"bogus": 1}, "unknown config key 'bogus'"),
        ({"train.n_critic": "five"}, "'train.n_critic' must be int"),
        ({"metrics.kid": "yes"}, "'metrics.kid' must be bool"),
        ({"train.n_critic": 0}, "train.n_critic must be > 0"),
        ({"search.episodes": -5}, "search.episodes must be > 0"),
        ({"data.channels": 2}, "data.channels must be 1 or 3"),
        ({"metrics.features": "clip"}, "metrics.features must be 'domain' or 'inception'"),
        ({"data.image_size": 30}, "must be 8 x model.bottom_width"),
    ],
)
def test_bad_values_are_named(overrides, needle):
    with pytest.raises(ConfigError) as exc:
        load_config("tiny", overrides)
    assert needle in str(exc.value)
    assert "tiny.yaml" in str(exc.value)


def test_unknown_key_in_file_names_file(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("train:\n  los: hinge\n")
    with pytest.raises(ConfigError, match=r"mine\.yaml: unknown config key 'train.los'"):
        load_config(p)


def test_unknown_preset_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="unknown config preset 'nope'; presets:"):
        load_config("nope")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "x.yaml")


def test_proxy_hash_tracks_proxy_settings_only():
    a = load_config("tiny")
    assert a.proxy_hash() == load_config("tiny", {"search.episodes": 50}).proxy_hash()
    assert a.proxy_hash() != load_config("tiny", {"train.n_critic": 2}).proxy_hash()


def test_the_shipped_hashes_are_pinned():
    """The committed final rows, learning curves and table are keyed by these hashes."""
    assert load_config("final-fmnist").final_hash() == "final-2819575176489e49"
    v2 = load_config("final-fmnist-v2")
    assert v2.curve_hash() == "curve-71106a1a081b2a17"
    assert v2.final_hash() == "final-f1a360ffc62fee57"  # g_iters 8,500 (the gold subset's choice)
    assert load_config("table-fmnist").proxy_hash() == "baad47089c3fa6e3"


def _set(key, value):
    return {key: value}


def test_one_list_of_settings_that_do_not_change_results():
    """SAME_RESULT_KEYS is what the hashes leave out and what every resume accepts."""
    from gan_nas_env.config import SAME_RESULT_KEYS, SPEED_ONLY_TRAIN_KEYS
    from gan_nas_env.run_folder import may_differ_on_resume

    assert {f"train.{k}" for k in SPEED_ONLY_TRAIN_KEYS} <= set(SAME_RESULT_KEYS)
    base = load_config("tiny")
    changed = {"name": "other", "device": "cuda", "data.root": "/elsewhere", "data.download": False,
               "metrics.cache_dir": "/tmp/c", "metrics.batch_size": 7, "train.cuda_graphs": False,
               "train.channels_last": False, "train.fused_adam": True, "train.cudnn_benchmark": False,
               "train.threads": 1,
               "retrain.checkpoint_every": 3, "retrain.log_every": 3}
    assert set(changed) == set(SAME_RESULT_KEYS)
    for key, value in changed.items():
        cfg = load_config("tiny", _set(key, value))
        assert cfg != base, key
        assert (cfg.proxy_hash(), cfg.final_hash(), cfg.curve_hash()) == (
            base.proxy_hash(), base.final_hash(), base.curve_hash()), key
        assert may_differ_on_resume("search", key) and may_differ_on_resume("retrain", key), key
    # everything else of the proxy and of full training is in the hashes and refused on resume
    for key, value in (("train.n_critic", 2), ("metrics.num_samples", 9), ("data.max_images", 5),
                       ("model.gf", 8), ("retrain.channels_last", True), ("retrain.amp", True),
                       ("retrain.ema_decay", 0.9), ("retrain.eval_every", 12345)):
        cfg = load_config("tiny", _set(key, value))
        assert cfg.final_hash() != base.final_hash(), key
        assert not may_differ_on_resume("retrain", key), key


def test_the_suite_does_not_write_to_the_users_cache(monkeypatch, tmp_path):
    from pathlib import Path

    from gan_nas_env.metrics.scorer import FeatureScorer  # noqa: F401 - uses cache_path
    from gan_nas_env.resources import DEFAULT_CACHE, cache_path

    assert not str(cache_path(DEFAULT_CACHE + "/stats")).startswith(str(Path.home() / ".cache"))
    monkeypatch.setenv("GAN_NAS_ENV_CACHE", str(tmp_path))
    assert cache_path(DEFAULT_CACHE + "/data") == tmp_path / "data"
    assert cache_path("/elsewhere/x") == Path("/elsewhere/x")  # an explicit path is kept
    monkeypatch.delenv("GAN_NAS_ENV_CACHE")
    assert cache_path(DEFAULT_CACHE) == Path.home() / ".cache" / "gan_nas_env"


def test_yaml_1_1_scientific_notation_is_a_number(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  g_lr: 1e-4\n  d_lr: 3E-5\n")
    cfg = load_config(path)
    assert (cfg.train.g_lr, cfg.train.d_lr) == (1e-4, 3e-5)


def test_train_threads_range_and_scope():
    """train.threads: 0 or more; a bad value is refused; the evaluator restores the caller's threads."""
    import torch

    from gan_nas_env.config import ConfigError
    from gan_nas_env.devices import torch_threads

    with pytest.raises(ConfigError, match="train.threads must be >= 0"):
        load_config("tiny", {"train.threads": -1})
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(0):  # 0 leaves them as they are
        assert torch.get_num_threads() == before


def _flat(d, pre=""):
    return {k2: v2 for k, v in d.items()
            for k2, v2 in (_flat(v, f"{pre}{k}.").items() if isinstance(v, dict) else {f"{pre}{k}": v}.items())}


def _differ(a, b):
    from dataclasses import asdict

    fa, fb = _flat(asdict(a)), _flat(asdict(b))
    return {k for k in fa if fa[k] != fb[k]}


def test_is_only_search_preset_is_the_table_proxy_scored_by_is_alone():
    """The shipped IS-only evaluator: the table's proxy (so the table and its stores serve
    it), with FID's weight 0; nothing else of the proxy differs."""
    is_only, table = load_config("search-fmnist-is"), load_config("table-fmnist")
    assert is_only.env.alpha == 0.0 and table.env.alpha > 0
    assert is_only.proxy_hash() == table.proxy_hash()
    differ = _differ(is_only, table)
    assert differ == {"name", "env.alpha", "train.threads"}, differ


def test_d256_search_preset_is_the_ladders_256_step_rung():
    """The 256-step evaluator differs from the table's proxy only in its budget, and its proxy
    hash is the one the ladder's committed 256-step rows were measured under (so the
    evaluator study's numbers for that rung are about this preset)."""
    import json

    d256, table = load_config("search-fmnist-d256"), load_config("table-fmnist")
    assert d256.train.d_iters_per_cell == 256 and d256.env.alpha == table.env.alpha
    assert _differ(d256, table) == {"name", "train.d_iters_per_cell", "train.threads"}
    ladder = json.loads((ROOT / "docs/validity/ladder.json").read_text())["budgets"]
    assert ladder["256"]["proxy_hash"] == d256.proxy_hash() != table.proxy_hash()
    assert ladder["16"]["proxy_hash"] == table.proxy_hash()
