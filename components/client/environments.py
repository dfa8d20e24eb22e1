"""From the stack's outputs to what `wove.config(environments=...)` takes."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from .batch import WatchedBatchClient
from .exchange import Exchange

# Settings of ours in each `wove_environments` entry; Wove ignores the key.
SETTINGS_KEY = "wove_batch"


def load_outputs(outputs: Union[Mapping[str, Any], str, Path]) -> Mapping[str, Any]:
    """The parsed `pulumi stack output --json --show-secrets` document, or a path to it."""
    if isinstance(outputs, (str, Path)):
        return json.loads(Path(outputs).read_text(encoding="utf-8"))
    return outputs


def ship_by_value(modules: Iterable[str]) -> None:
    """Pickle these modules' functions by value (cloudpickle.register_pickle_by_value), so that
    changed task code reaches Batch with the payload instead of with a new image. The module
    must be importable here; what it imports must still be installed in the image."""
    import cloudpickle

    for name in modules:
        cloudpickle.register_pickle_by_value(importlib.import_module(name))


def wove_environments(
    outputs: Union[Mapping[str, Any], str, Path],
    *,
    client_factory: Optional[Callable[..., Any]] = None,
    s3_factory: Optional[Callable[..., Any]] = None,
    poll_seconds: float = 2.0,
    results_poll_seconds: float = 1.0,
    pickle_by_value: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """The stack's `wove_environments`, each with a WatchedBatchClient injected.

    `client_factory(**client_options)` makes the boto3 Batch client and `s3_factory(**client_options)`
    the S3 client of the exchange bucket (default: `boto3.client("batch"|"s3", **client_options)`).
    `poll_seconds`: how often unfinished jobs are described; `results_poll_seconds`: how often the
    exchange bucket is listed while exchange-mode tasks are outstanding. `pickle_by_value`: module
    names shipped with each payload (ship_by_value). The result sets no default environment:
    `local` stays Wove's default, and tasks go to Batch only where a task says so with
    `@w.do(environment=...)`.
    """
    document = load_outputs(outputs)
    if "wove_environments" not in document:
        raise KeyError("the stack outputs have no 'wove_environments' (was the stack deployed with wove-batch?)")
    environments = document["wove_environments"]
    if not isinstance(environments, Mapping):
        raise TypeError(
            "'wove_environments' is not a mapping: export it with --show-secrets "
            "(pulumi stack output --json --show-secrets)"
        )
    ship_by_value(pickle_by_value)
    if client_factory is None or s3_factory is None:
        import boto3

        client_factory = client_factory or (lambda **options: boto3.client("batch", **options))
        s3_factory = s3_factory or (lambda **options: boto3.client("s3", **options))
    result: dict[str, dict[str, Any]] = {}
    for name, environment in environments.items():
        config = dict(environment["executor_config"])
        options = dict(config.get("client_options") or {})
        settings = dict(environment.get(SETTINGS_KEY) or {})
        bucket = settings.get("exchange_bucket")
        exchange = Exchange(s3_factory(**options), bucket) if bucket else None
        config["client"] = WatchedBatchClient(
            client_factory(**options),
            exchange=exchange,
            results=settings.get("results", "callback"),
            poll_seconds=poll_seconds,
            results_poll_seconds=results_poll_seconds,
        )
        result[name] = {**environment, "executor_config": config}
    return result


def close_environments(environments: Mapping[str, Mapping[str, Any]]) -> None:
    """Stop the watchers and pollers of environments made by `wove_environments`."""
    for environment in environments.values():
        client = environment.get("executor_config", {}).get("client")
        if isinstance(client, WatchedBatchClient):
            client.close()
