"""Shared test setup: the default suite is CPU-only and single-threaded.

Tiny nets are launch-bound; on a 2-core CI box two intra-op threads only add
contention, so tests run torch single-threaded.
"""

import os

# numpy's BLAS threads (FID eigvals, KID) contend like torch's on a 2-core box
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _single_thread_torch():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
