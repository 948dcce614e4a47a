"""Shared test setup: the default suite is CPU-only and single-threaded.

Tiny nets are launch-bound; on a 2-core CI box two intra-op threads only add
contention, so tests run torch single-threaded.
"""

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _single_thread_torch():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
