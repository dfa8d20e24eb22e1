"""Frames the results poller decoded itself go straight into Wove's callback server when that
server runs in this process (it always does for the exchange mode: the poller exists because
no job can reach it).

Posting a 250 MB result to Wove's server costs about five copies of it on top of the poller's:
the server's handler reads the whole body, decodes it to str, parses it, encodes the base64
back to bytes and decodes it before unpickling. The poller already holds the unpickled frame
(transfer.read_frame), so it does what the handler does last: `call_soon_threadsafe(
queue.put_nowait, frame)` on the server's loop. Wove (==2.0.3, pinned) has no public way in,
so `install()` records each BackendCallbackServer by its callback URL when it starts and drops
it when it stops; the attributes read here are the handler's own (`_loop`, `_queue`).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

_servers: "weakref.WeakValueDictionary[str, Any]" = weakref.WeakValueDictionary()
_lock = threading.Lock()
_installed = False


def install() -> None:
    """Record Wove's callback servers as they start (idempotent)."""
    global _installed
    from wove.backend import BackendCallbackServer

    with _lock:
        if _installed:
            return
        start, stop = BackendCallbackServer.start, BackendCallbackServer.stop

        async def recorded_start(self: Any) -> None:
            await start(self)
            if self.callback_url:
                _servers[self.callback_url] = self

        async def forgotten_stop(self: Any) -> None:
            if self.callback_url:
                _servers.pop(self.callback_url, None)
            await stop(self)

        BackendCallbackServer.start, BackendCallbackServer.stop = recorded_start, forgotten_stop
        _installed = True


def hand_off(callback_url: str, frame: dict[str, Any]) -> bool:
    """Put `frame` on the queue of this process's server for `callback_url`; False when there
    is none here (the caller posts it instead)."""
    server = _servers.get(callback_url)
    loop, queue = (getattr(server, "_loop", None), getattr(server, "_queue", None)) if server else (None, None)
    if loop is None or queue is None or loop.is_closed():
        return False
    try:
        loop.call_soon_threadsafe(queue.put_nowait, frame)
    except RuntimeError:  # the loop closed meanwhile
        return False
    return True
