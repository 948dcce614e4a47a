"""Shared test setup: the default suite is CPU-only and single-threaded.

Tiny nets are launch-bound; on a 2-core CI box two intra-op threads only add
contention, so tests run torch single-threaded.
"""

import os
import tempfile

# no test writes to the user's ~/.cache: the default cache (real statistics, torchvision
# data) moves to a temporary folder for this session and its subprocesses
os.environ["GAN_NAS_ENV_CACHE"] = tempfile.mkdtemp(prefix="gan-nas-test-cache-")

# numpy's BLAS threads (FID eigvals, KID) contend like torch's on a 2-core box
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from gan_nas_env.config import load_config  # noqa: E402
from gan_nas_env.envs.search_env import GANCellSearchEnv  # noqa: E402
from gan_nas_env.evaluators import FakeEvaluator  # noqa: E402
from gan_nas_env.evaluators.store import ResultsStore  # noqa: E402
from gan_nas_env.evaluators.tabular import export_table  # noqa: E402
from gan_nas_env.space import SPACE, action_from_cell  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _single_thread_torch():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _small_store(d):
    """60 architectures evaluated by the real build path over the fake evaluator."""
    cfg = load_config("tiny", {"env.fixed_gan_seed": 0})
    store = ResultsStore(d / "t.sqlite")
    env = GANCellSearchEnv(cfg, evaluator=FakeEvaluator(16, seed_noise=0.5), mode="cached",
                           results_store=store)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    archs = [SPACE.sample(rng) for _ in range(60)]
    for arch in archs:
        env.reset()
        for cell in arch.cells:
            env.step(action_from_cell(cell))
    return store, cfg, archs


@pytest.fixture(scope="session")
def make_small_store():
    """:func:`_small_store`, for tests that export their own tables from it."""
    return _small_store


@pytest.fixture(scope="module")
def small_table(tmp_path_factory):
    """A table of 60 architectures built by the real build path over the fake evaluator."""
    d = tmp_path_factory.mktemp("table")
    store, cfg, archs = _small_store(d)
    n = export_table(store, cfg, d / "table.npz")
    assert n == 60
    return d / "table.npz", cfg, archs


def synthetic_final_rows(archs, seeds=(0, 1)):
    """Final rows of the first 40 of ``archs``: FID falls with the conv and norm choices, plus noise."""
    rng = np.random.default_rng(7)
    rows = []
    for arch in archs[:40]:
        v = np.array(arch.to_vector())
        for seed in seeds:
            fid = 30.0 - 4.0 * v[0] - 2.0 * v[1] - 3.0 * v[4] + rng.normal(0, 0.5)
            rows.append({"arch": str(arch), "seed": seed, "IS": 1.5 + 0.02 * v[2] + rng.normal(0, 0.01),
                         "FID": fid, "KID": fid / 100, "train_s": 100.0 + seed})
    return rows


@pytest.fixture(scope="session")
def synthetic_finals():
    """:func:`synthetic_final_rows`, for tests that check what the final table stored."""
    return synthetic_final_rows


@pytest.fixture(scope="module")
def final_table(tmp_path_factory):
    """``small_table`` with a second fidelity: synthetic final rows of 40 architectures x 2 seeds."""
    from gan_nas_env.evaluators.final import FinalRows

    d = tmp_path_factory.mktemp("final_table")
    store, cfg, archs = _small_store(d)
    finals = FinalRows.from_records(synthetic_final_rows(archs), "final-test", {"seed": 0})
    export_table(store, cfg, d / "table.npz", finals=finals)
    return d / "table.npz", cfg, archs
