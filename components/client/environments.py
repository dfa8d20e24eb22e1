"""From the stack's outputs to what `wove.config(environments=...)` takes."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from .batch import WatchedBatchClient
from .chunks import TARGET_JOBS
from .exchange import Exchange
from .submitting import SubmitSettings, Submitter

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
    submit_rate: float = SubmitSettings.rate,
    submit_concurrency: int = SubmitSettings.concurrency,
    submit_max_attempts: int = SubmitSettings.max_attempts,
    array_jobs: Optional[bool] = None,
    array_window_seconds: float = 0.1,
    max_task_bytes: Optional[int] = None,
    tasks_per_job: Union[int, str, None] = None,
    target_jobs: int = TARGET_JOBS,
) -> dict[str, dict[str, Any]]:
    """The stack's `wove_environments`, each with a WatchedBatchClient injected.

    `client_factory(**client_options)` makes the boto3 Batch client and `s3_factory(**client_options)`
    the S3 client of the exchange bucket (default: `boto3.client("batch"|"s3", **client_options)`,
    the Batch client without botocore's own retries: a SubmitJob retried blindly after a lost
    answer could run a task twice, so the submitter retries it itself). `poll_seconds`: how
    often unfinished jobs are described; `results_poll_seconds`: how often the exchange bucket is
    listed while exchange-mode tasks are outstanding. `pickle_by_value`: module names shipped with
    each payload (ship_by_value).

    Submitting: `submit_rate` SubmitJob calls a second at most (default 45, under AWS's 50 per
    account and region; shared by all environments of a region), `submit_concurrency` calls in
    flight, `submit_max_attempts` tries of each. `array_jobs`: tasks of one environment that
    arrive within `array_window_seconds` go as one array job; None keeps each environment's
    stack setting (`array_jobs`, default on), True/False overrides it for all.

    `max_task_bytes`: a task whose payload is larger is refused before anything is uploaded
    (PayloadTooLargeError), and in exchange mode a result that pickles larger becomes the
    task's TaskTooLargeError in the worker, before it uploads anything. None: no limit.

    `tasks_per_job`: up to this many tasks of one group (a map's tasks that arrived together)
    run one after another in each array child, each still its own Wove task; "auto" spreads a
    group over `target_jobs` jobs; None keeps each environment's stack setting
    (`tasks_per_job`, default 1).

    The result sets no default environment: `local` stays Wove's default, and tasks go to Batch
    only where a task says so with `@w.do(environment=...)`.
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
    settings_for_submits = SubmitSettings(rate=submit_rate, concurrency=submit_concurrency,
                                          max_attempts=submit_max_attempts)
    ship_by_value(pickle_by_value)
    if client_factory is None or s3_factory is None:
        import boto3
        from botocore.config import Config

        no_retries = Config(retries={"mode": "standard", "total_max_attempts": 1})
        client_factory = client_factory or (lambda **options: boto3.client("batch", config=no_retries, **options))
        s3_factory = s3_factory or (lambda **options: boto3.client("s3", **options))
    submitters: dict[Any, Submitter] = {}  # one per region: the SubmitJob quota is per region
    result: dict[str, dict[str, Any]] = {}
    for name, environment in environments.items():
        config = dict(environment["executor_config"])
        options = dict(config.get("client_options") or {})
        settings = dict(environment.get(SETTINGS_KEY) or {})
        bucket = settings.get("exchange_bucket")
        exchange = Exchange(s3_factory(**options), bucket) if bucket else None
        region = options.get("region_name") or settings.get("region")
        submitter = submitters.setdefault(region, Submitter(settings_for_submits))
        config["client"] = WatchedBatchClient(
            client_factory(**options),
            exchange=exchange,
            results=settings.get("results", "callback"),
            poll_seconds=poll_seconds,
            results_poll_seconds=results_poll_seconds,
            submitter=submitter,
            array_jobs=settings.get("array_jobs", True) if array_jobs is None else array_jobs,
            array_window_seconds=array_window_seconds,
            max_task_bytes=max_task_bytes,
            tasks_per_job=settings.get("tasks_per_job", 1) if tasks_per_job is None else tasks_per_job,
            target_jobs=target_jobs,
        )
        result[name] = {**environment, "executor_config": config}
    return result


def close_environments(environments: Mapping[str, Mapping[str, Any]]) -> None:
    """Stop the watchers, pollers and submit threads of environments made by `wove_environments`."""
    submitters = {}
    for environment in environments.values():
        client = environment.get("executor_config", {}).get("client")
        if isinstance(client, WatchedBatchClient):
            client.close()
            submitters[id(client.submitter)] = client.submitter
    for submitter in submitters.values():
        submitter.close()
