"""Shared test setup: the default suite is CPU-only and single-threaded.

Tiny nets are launch-bound; on a 2-core CI box two intra-op threads only add
contention, so tests run torch single-threaded.
"""

import os

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


@pytest.fixture(scope="module")
def small_table(tmp_path_factory):
    """A table of 60 architectures built by the real build path over the fake evaluator."""
    d = tmp_path_factory.mktemp("table")
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
    n = export_table(store, cfg, d / "table.npz")
    assert n == 60
    return d / "table.npz", cfg, archs
