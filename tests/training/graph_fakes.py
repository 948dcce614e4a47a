"""Stand-ins for CUDA streams and graphs, so that the graph-mode bookkeeping runs on CPU.

A capture records work without running it; :class:`RecordedGraph` does the same, and its
replay runs the recorded callable. The tests of :mod:`gan_nas_env.training.stage` and
:mod:`gan_nas_env.training.retrain_graph` check with them that no step is lost or run twice
around the warm-up and the capture.
"""

from __future__ import annotations

from collections.abc import Callable


class Stream:
    """A CUDA stream that orders nothing (CPU work is already in order)."""

    def wait_stream(self, other: object) -> None:
        pass


class RecordedGraph:
    """Stands in for a captured CUDA graph: replay runs the recorded work."""

    def __init__(self, work: Callable[[], None]) -> None:
        self.work, self.replays = work, 0

    def replay(self) -> None:
        self.replays += 1
        self.work()
