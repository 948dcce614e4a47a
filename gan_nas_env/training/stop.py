"""Stop a long training at its next safe point on SIGINT or SIGTERM.

A retraining killed between two checkpoints loses the iterations since the last one (up
to ``retrain.checkpoint_every``: minutes on a CPU, more at the paper's sizes). Under
:class:`StopRequest` the first SIGINT (Ctrl-C) or SIGTERM (``kill``, a job scheduler, a
session ending) only sets :attr:`StopRequest.requested`; the training loop finishes the
iteration it is in, saves a checkpoint there and stops (the run resumes from it as if never
interrupted). A second signal stops at once, as Python does by default.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StoppedOnRequest(KeyboardInterrupt):
    """Work stopped at a safe point after SIGINT or SIGTERM; its message says where.

    A :class:`KeyboardInterrupt`, so whatever handles Ctrl-C handles it; the ``gan-nas``
    command prints its message (a plain Ctrl-C has none worth printing).
    """


class StopRequest:
    """SIGINT and SIGTERM turned into a request honoured at the next safe point.

    Handlers are installed on entry and the previous ones restored on exit, in the main
    thread only (Python delivers signals there); elsewhere it is a no-op and
    :attr:`requested` stays None.

    :param what: how the message printed at the first signal names the work.
    """

    def __init__(self, what: str = "the training") -> None:
        self.what = what
        self.requested: str | None = None  # the signal's name, once one arrived
        self._old: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.requested is not None:  # the second signal: out now
            raise KeyboardInterrupt(f"{name} (second signal)")
        self.requested = name
        print(f"\n{name}: stopping {self.what} after the current iteration (a checkpoint is "
              "saved there); send it again to stop at once", file=sys.stderr, flush=True)
