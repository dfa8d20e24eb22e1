"""The exit sweep: jobs of this process still queued or running are terminated when it ends.

A weave interrupted by Ctrl-C or SIGTERM (or a script that returns while tasks are still out)
would leave its jobs running for nobody. `install()` registers, once per process, an atexit
hook and SIGINT/SIGTERM handlers (on the main thread only, chaining to the handlers found)
that call `sweep()` of every live client: TerminateJob of each unfinished plain job and array
parent, and deletion of their payloads. A SIGKILL runs nothing: README says how to find such
jobs by their name prefix.
"""

from __future__ import annotations

import atexit
import logging
import signal
import threading
import weakref
from typing import Any

log = logging.getLogger(__name__)

_clients: "weakref.WeakSet[Any]" = weakref.WeakSet()
_installed = False
_lock = threading.Lock()


def register(client: Any) -> None:
    """Sweep this client (a WatchedBatchClient) at exit; installs the hooks once."""
    global _installed
    with _lock:
        _clients.add(client)
        if _installed:
            return
        _installed = True
    atexit.register(sweep_all)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            _chain(signum)


def unregister(client: Any) -> None:
    with _lock:
        _clients.discard(client)


def sweep_all() -> int:
    """Sweep every registered client; how many jobs were terminated."""
    with _lock:
        clients = list(_clients)
    terminated = 0
    for client in clients:
        try:
            terminated += len(client.sweep())
        except Exception:  # noqa: BLE001 - the other clients are still swept
            log.warning("exit sweep failed for a client", exc_info=True)
    if terminated:
        log.warning("wove-batch exit sweep: terminated %d unfinished AWS Batch job(s)", terminated)
    return terminated


def _chain(signum: int) -> None:
    previous = signal.getsignal(signum)

    def handler(number: int, frame: Any) -> None:
        sweep_all()
        if callable(previous):
            previous(number, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(number, signal.SIG_DFL)
            signal.raise_signal(number)

    signal.signal(signum, handler)
