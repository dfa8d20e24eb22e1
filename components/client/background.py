"""A background loop that exists only while there is work: the failed-job watcher and the
results poller each run one, so that an idle application polls nothing."""

from __future__ import annotations

import threading
from typing import Callable, Optional


class OnDemandLoop:
    """Calls `tick()` every `interval` seconds on a thread of its own while `has_work()` says
    so. The thread ends when there is no work left, and `start()` (under the caller's lock,
    with the work already recorded) starts another."""

    def __init__(self, name: str, interval: float, has_work: Callable[[], bool], tick: Callable[[], None],
                 lock: threading.Lock) -> None:
        self.name = name
        self.interval = interval
        self._has_work = has_work
        self._tick = tick
        self._lock = lock  # the owner's: guards its work and this loop's thread together
        self._stopped = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """Start the thread unless it runs; call with the owner's lock held."""
        if self._thread is None:
            self._stopped.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def stop(self, grace: float = 5.0) -> None:
        self._stopped.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.interval + grace)
        with self._lock:
            self._thread = None

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            with self._lock:
                if not self._has_work():
                    # Nothing left: the thread ends, and (under the same lock) the next start()
                    # sees no thread and starts another.
                    self._thread = None
                    return
            self._tick()
