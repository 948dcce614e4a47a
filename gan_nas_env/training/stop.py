"""Stop a long training at its next safe point on SIGINT or SIGTERM.

A retraining killed between two checkpoints loses the iterations since the last one (up
to ``retrain.checkpoint_every``: minutes on a CPU, more at the paper's sizes). Under
:class:`StopRequest` the first SIGINT (Ctrl-C) or SIGTERM (``kill``, a job scheduler, a
session ending) only sets :attr:`StopRequest.requested`; the training loop finishes the
iteration it is in, saves a checkpoint there and stops (the run resumes from it as if never
interrupted). A second signal stops at once, as Python does by default; the same signal again
within :data:`REPEAT_S` is the first one delivered twice, not a second.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# the same signal again within this many seconds is one stop delivered twice: `timeout` sends its
# SIGTERM to the command and to the command's process group, a terminal's Ctrl-C reaches every
# process of the foreground group (a wrapper may forward it too)
REPEAT_S = 1.0
# the signal a main-thread StopRequest received, while it is active: what the StopRequests of
# other threads (which cannot install handlers) report, so that work in threads stops too
_PROCESS_REQUEST: list[str] = []


class StoppedOnRequest(KeyboardInterrupt):
    """Work stopped at a safe point after SIGINT or SIGTERM; its message says where.

    A :class:`KeyboardInterrupt`, so whatever handles Ctrl-C handles it; the ``gan-nas``
    command prints its message (a plain Ctrl-C has none worth printing).
    """


class StopRequest:
    """SIGINT and SIGTERM turned into a request honoured at the next safe point.

    Handlers are installed on entry and the previous ones restored on exit, in the main
    thread only (Python delivers signals there). In another thread it installs nothing and
    :attr:`requested` reports the signal that an active main-thread :class:`StopRequest`
    received (``build_finals.py --threads``: rows trained in threads stop together).

    :param what: how the message printed at the first signal names the work.
    """

    def __init__(self, what: str = "the training") -> None:
        self.what = what
        self._requested: str | None = None  # the signal's name, once one arrived
        self._at = 0.0  # when it arrived (time.monotonic)
        self._main = False
        self._old: dict[int, Any] = {}

    @property
    def requested(self) -> str | None:
        """The name of the signal that asked to stop (this thread's, or the main thread's), or None."""
        if self._requested is None and not self._main and _PROCESS_REQUEST:
            return _PROCESS_REQUEST[0]
        return self._requested

    def __enter__(self) -> StopRequest:
        self._main = threading.current_thread() is threading.main_thread()
        if self._main:
            for sig in SIGNALS:
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
        if self._main and self._requested is not None:
            _PROCESS_REQUEST.clear()  # handled: a later StopRequest starts afresh

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._requested is not None:
            if name == self._requested and time.monotonic() - self._at < REPEAT_S:
                return  # the same stop delivered twice (to a process and to its group), not a second one
            raise KeyboardInterrupt(f"{name} (second signal)")  # the second signal: out now
        self._requested, self._at = name, time.monotonic()
        _PROCESS_REQUEST[:] = [name]
        print(f"\n{name}: stopping {self.what} after the current iteration (a checkpoint is "
              "saved there); send it again to stop at once", file=sys.stderr, flush=True)
