"""StopRequest: a signal becomes a request, seen by the main thread's work and by threads'."""

import os
import signal
import threading

import pytest

from gan_nas_env.training import stop as stop_module
from gan_nas_env.training.stop import StopRequest


def test_a_signal_is_a_request_and_the_handlers_come_back(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(stop_module.time, "monotonic", lambda: clock[0])
    before = signal.getsignal(signal.SIGTERM)
    with StopRequest("the test") as stop:
        assert stop.requested is None
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested == "SIGTERM"
        clock[0] += stop_module.REPEAT_S / 2  # the same stop delivered twice (timeout: to the command and its group)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested == "SIGTERM"
        clock[0] += stop_module.REPEAT_S  # a second stop: out at once
        with pytest.raises(KeyboardInterrupt, match="second signal"):
            os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


def test_another_signal_soon_after_is_a_second_stop(monkeypatch):
    monkeypatch.setattr(stop_module.time, "monotonic", lambda: 5.0)
    with StopRequest("the test"):
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt, match="SIGINT .second signal"):
            os.kill(os.getpid(), signal.SIGINT)


def test_a_thread_sees_the_main_threads_request_while_it_is_active():
    seen: list[object] = []
    go, asked = threading.Event(), threading.Event()

    def work() -> None:
        with StopRequest("a thread's work") as mine:  # installs nothing outside the main thread
            seen.append(mine.requested)
            go.set()
            asked.wait(10)
            seen.append(mine.requested)

    with StopRequest("the threads") as main:
        t = threading.Thread(target=work)
        t.start()
        go.wait(10)
        os.kill(os.getpid(), signal.SIGINT)
        asked.set()
        t.join(10)
        assert main.requested == "SIGINT"
    assert seen == [None, "SIGINT"]
    with StopRequest("later work") as later:  # the request ended with the StopRequest that took it
        t = threading.Thread(target=lambda: seen.append(StopRequest().__enter__().requested))
        t.start()
        t.join(10)
        assert later.requested is None and seen[-1] is None
