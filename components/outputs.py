"""The `wove_environments` stack output: a map `wove.config(environments=...)` takes as is."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

from .spec import CallbackArgs, WoveEnvironmentArgs

# Wove's callback server must listen on every interface for Batch jobs to reach it.
CALLBACK_HOST = "0.0.0.0"


def callback_url(base_url: str, token: str) -> str:
    """Where the worker posts its events: Wove's server accepts `/wove/events/<token>` only."""
    return f"{base_url.rstrip('/')}/wove/events/{token}"


def environment_token(secret: str, environment: str) -> str:
    """Each environment's own callback token, derived from the stack's generated secret, so a
    proxy in front of several environments can route `/wove/events/<token>` to the right one."""
    return hmac.new(secret.encode(), environment.encode(), hashlib.sha256).hexdigest()[:32]


def environment_base_url(base_url: str, configured_port: int, port: int) -> str:
    """A base URL that names the configured callback port directly reaches the callback
    server: each environment's URL then names that environment's port. Any other base URL
    (a proxy) is used as it is."""
    parts = urlsplit(base_url.rstrip("/"))
    if parts.port != configured_port:
        return base_url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return urlunsplit((parts.scheme, f"{host}:{port}", parts.path, "", ""))


def render_wove_environments(
    environments: Mapping[str, WoveEnvironmentArgs],
    *,
    queue_names: Mapping[str, str],
    definition_names: Mapping[str, str],
    region: str,
    callback: Optional[CallbackArgs],
    token: Optional[str],
    exchange_bucket: str,
    results: Mapping[str, str],
    log_group: Optional[str] = None,
) -> dict[str, dict[str, Any]]:
    """One `aws_batch` entry per environment. With callback results, environment number i (in
    the order given) listens on `callback.port + i`: each Wove environment runs its own
    callback server, and one weave may use several environments at once. Exchange results
    need no inbound route: Wove's callback server stays on 127.0.0.1 and the helper's poller
    hands it the events. `wove_batch` (which Wove ignores) tells the helper the mode, the
    bucket and the cluster's log group (whose last lines each failure report quotes)."""
    rendered: dict[str, dict[str, Any]] = {}
    for index, (name, env) in enumerate(environments.items()):
        executor_config: dict[str, Any] = {
            "job_queue": queue_names[env.job_queue],
            "job_definition": definition_names[env.job_definition],
            "client_options": {"region_name": region},
        }
        if env.share_identifier is not None:
            # Batch refuses a job without a share identifier on a fair-share queue.
            executor_config["submit_job_options"] = {"shareIdentifier": env.share_identifier}
        if results[name] == "callback" and callback is not None and token is not None:
            port = callback.port + index
            own_token = environment_token(token, name)
            executor_config.update(
                callback_url=callback_url(environment_base_url(callback.base_url, callback.port, port), own_token),
                callback_token=own_token,
                callback_host=CALLBACK_HOST,
                callback_port=port,
            )
        settings: dict[str, Any] = {"results": results[name], "exchange_bucket": exchange_bucket, "region": region,
                                    "array_jobs": env.array_jobs}
        if log_group is not None:
            settings["log_group"] = log_group
        rendered[name] = {"executor": "aws_batch", "executor_config": executor_config, "wove_batch": settings}
    return rendered
