"""The `wove_environments` stack output: a map `wove.config(environments=...)` takes as is."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .spec import CallbackArgs, WoveEnvironmentArgs

# Wove's callback server must listen on every interface for Batch jobs to reach it.
CALLBACK_HOST = "0.0.0.0"


def callback_url(base_url: str, token: str) -> str:
    """Where the worker posts its events: Wove's server accepts `/wove/events/<token>` only."""
    return f"{base_url.rstrip('/')}/wove/events/{token}"


def render_wove_environments(
    environments: Mapping[str, WoveEnvironmentArgs],
    *,
    queue_names: Mapping[str, str],
    definition_names: Mapping[str, str],
    region: str,
    callback: Optional[CallbackArgs],
    token: Optional[str],
) -> dict[str, dict[str, Any]]:
    rendered: dict[str, dict[str, Any]] = {}
    for name, env in environments.items():
        executor_config: dict[str, Any] = {
            "job_queue": queue_names[env.job_queue],
            "job_definition": definition_names[env.job_definition],
            "client_options": {"region_name": region},
        }
        if callback is not None and token is not None:
            executor_config.update(
                callback_url=callback_url(callback.base_url, token),
                callback_token=token,
                callback_host=CALLBACK_HOST,
                callback_port=callback.port,
            )
        rendered[name] = {"executor": "aws_batch", "executor_config": executor_config}
    return rendered
