"""The callback: a URL Batch jobs can post to, and a port for every Wove environment."""

from __future__ import annotations

from urllib.parse import urlsplit

from ..topology import wove_environments
from .context import Checks

def check_callback(checks: Checks) -> None:
    callback = checks.args.callback
    if callback is None:
        return
    url = urlsplit(callback.base_url)
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        checks.fail("callback.base_url", f"expected an http:// or https:// URL with a host, got {callback.base_url!r}")
    if not 1 <= callback.port <= 65535:
        checks.fail("callback.port", f"must be within 1..65535, got {callback.port}")
    else:
        count = len(wove_environments(checks.args))
        if callback.port + count - 1 > 65535:
            checks.fail(
                "callback.port",
                f"{count} Wove environments listen on ports {callback.port}..{callback.port + count - 1}, past 65535",
            )
