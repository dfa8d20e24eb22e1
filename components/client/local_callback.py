"""Events handed to Wove's own callback server in this process: directly, never through a proxy.

The worker posts to the public callback URL (a job's only route back); the helper is on the
callback server's machine. Its failure reports and the exchange poller's hand-offs go to
127.0.0.1 on the port the server listens on, with no proxy (urllib would send them to
HTTPS_PROXY/HTTP_PROXY unless NO_PROXY covers the address), so that neither a submitting host
that cannot reach its own public URL nor a proxy in the way drops an event.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Optional
from urllib.parse import urlsplit, urlunsplit

LOOPBACK = "127.0.0.1"
WILDCARD_HOSTS = ("", "0.0.0.0", "::", LOOPBACK, "localhost")
POST_TIMEOUT_SECONDS = 10
EVENTS_PATH = "/wove/events/"

_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def local_url(callback_url: str, port: Optional[int], host: Optional[str] = None) -> str:
    """The callback server's own address for a payload's callback URL: the URL's path on
    `host` (loopback when it listens on every interface) and `port`; the URL as it is when the
    port is not known (Wove's server then listens on 127.0.0.1 and the URL names it)."""
    if port is None:
        return callback_url
    parts = urlsplit(callback_url)
    # A proxy's base URL may add a path before it; Wove's server itself serves /wove/events/<token>.
    path = parts.path[parts.path.find(EVENTS_PATH):] if EVENTS_PATH in parts.path else parts.path
    target = LOOPBACK if (host or "") in WILDCARD_HOSTS else str(host)
    if ":" in target:
        target = f"[{target}]"
    return urlunsplit(("http", f"{target}:{port}", path, parts.query, ""))


def post_body(url: str, body: bytes) -> None:
    """POST an event body as the worker would, without any proxy."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with _direct.open(request, timeout=POST_TIMEOUT_SECONDS) as response:
        response.read()


def post_frame(url: str, frame: dict[str, Any]) -> None:
    """A frame with a live exception in it, serialized as Wove's own post_event does."""
    from wove.backend import serialize_frame

    post_body(url, json.dumps(serialize_frame(frame), separators=(",", ":")).encode("utf-8"))
