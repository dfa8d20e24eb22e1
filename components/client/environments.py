"""From the stack's outputs to what `wove.config(environments=...)` takes."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from . import exit_sweep
from .batch import WatchedBatchClient
from .chunks import TARGET_JOBS
from .exchange import Exchange
from .failures import LogSource
from .progress import Progress
from .settings import SETTINGS_KEY, check_helper_input, read_outputs
from .submitting import SubmitSettings, Submitter


def load_outputs(outputs: Union[Mapping[str, Any], str, Path]) -> Mapping[str, Any]:
    """The parsed `pulumi stack output --json --show-secrets` document, or a path to it (or to
    `plan --json --show-secrets`'s, or that JSON text); HelperSettingsError if unusable."""
    return read_outputs(outputs)[0]


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
    submit_max_attempts: Optional[int] = SubmitSettings.max_attempts,
    submit_retry_seconds: float = SubmitSettings.retry_seconds,
    array_jobs: Optional[bool] = None,
    array_window_seconds: float = 0.1,
    logs_factory: Optional[Callable[..., Any]] = None,
    result_grace_seconds: float = 5.0,
    stall_log_seconds: float = 60.0,
    runnable_timeout_seconds: Optional[float] = None,
    unknown_after_seconds: float = 30.0,
    progress: Optional[bool] = None,
    exit_sweep_jobs: bool = True,
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
    flight; a throttled or unanswered SubmitJob is retried for `submit_retry_seconds` (default 180)
    and, when given, at most `submit_max_attempts` times (default: no count, only the time).
    `array_jobs`: tasks of one environment that
    arrive within `array_window_seconds` go as one array job; None keeps each environment's
    stack setting (`array_jobs`, default on), True/False overrides it for all.

    Jobs that end without an answer (README "What the caller sees when a job fails"): a job
    that SUCCEEDED with no result fails its task after `result_grace_seconds` (callback results;
    exchange results after one last sweep of the bucket), one DescribeJobs no longer returns
    after `unknown_after_seconds`. A job RUNNABLE for `stall_log_seconds` gets Batch's status
    reason logged (logger `wove_batch.client.reports`); `runnable_timeout_seconds` (default
    off) terminates it past that time and fails its task with the reason. Failure messages
    carry the job's last log lines, read from the cluster's log group with
    `logs_factory(**client_options)` (default `boto3.client("logs", ...)`).

    `progress`: a live count of the weave's Batch work on stderr when it is a terminal (None,
    the default), through the `wove_batch.progress` logger otherwise; False turns it off.
    `exit_sweep_jobs` (default on): at exit, Ctrl-C and SIGTERM, jobs of this process still
    queued or running are terminated and their payloads deleted (exit_sweep.py).

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
    # Every setting and the outputs' shape, checked at once before anything starts (settings.py).
    checked, document = check_helper_input(
        outputs, poll_seconds=poll_seconds, results_poll_seconds=results_poll_seconds, submit_rate=submit_rate,
        submit_concurrency=submit_concurrency, submit_max_attempts=submit_max_attempts,
        submit_retry_seconds=submit_retry_seconds, array_jobs=array_jobs, array_window_seconds=array_window_seconds,
        pickle_by_value=pickle_by_value, result_grace_seconds=result_grace_seconds,
        stall_log_seconds=stall_log_seconds, runnable_timeout_seconds=runnable_timeout_seconds,
        unknown_after_seconds=unknown_after_seconds, progress=progress, exit_sweep_jobs=exit_sweep_jobs)
    environments = document["wove_environments"]
    settings_for_submits = checked.submit_settings()
    ship_by_value(checked.pickle_by_value)  # a generator given is read once, by the check
    if client_factory is None or s3_factory is None or logs_factory is None:
        import boto3
        from botocore.config import Config

        no_retries = Config(retries={"mode": "standard", "total_max_attempts": 1})
        client_factory = client_factory or (lambda **options: boto3.client("batch", config=no_retries, **options))
        s3_factory = s3_factory or (lambda **options: boto3.client("s3", **options))
        logs_factory = logs_factory or (lambda **options: boto3.client("logs", **options))
    submitters: dict[Any, Submitter] = {}  # one per region: the SubmitJob quota is per region
    shared_progress = Progress(live=progress) if progress is not False else None  # one display for all
    result: dict[str, dict[str, Any]] = {}
    for name, environment in environments.items():
        config = dict(environment["executor_config"])
        options = dict(config.get("client_options") or {})
        settings = dict(environment.get(SETTINGS_KEY) or {})
        bucket = settings.get("exchange_bucket")
        exchange = Exchange(s3_factory(**options), bucket) if bucket else None
        region = options.get("region_name") or settings.get("region")
        submitter = submitters.setdefault(region, Submitter(settings_for_submits))
        log_source = LogSource(logs_factory(**options), settings.get("log_group"), region)
        config["client"] = client = WatchedBatchClient(
            client_factory(**options),
            exchange=exchange,
            results=settings.get("results", "callback"),
            poll_seconds=poll_seconds,
            results_poll_seconds=results_poll_seconds,
            submitter=submitter,
            array_jobs=settings.get("array_jobs", True) if array_jobs is None else array_jobs,
            array_window_seconds=array_window_seconds,
            log_source=log_source,
            callback_port=config.get("callback_port"),
            callback_host=config.get("callback_host"),
            result_grace_seconds=result_grace_seconds,
            stall_log_seconds=stall_log_seconds,
            runnable_timeout_seconds=runnable_timeout_seconds,
            unknown_after_seconds=unknown_after_seconds,
            progress=shared_progress,
            max_task_bytes=max_task_bytes,
            tasks_per_job=settings.get("tasks_per_job", 1) if tasks_per_job is None else tasks_per_job,
            target_jobs=target_jobs,
        )
        if exit_sweep_jobs:
            exit_sweep.register(client)
        result[name] = {**environment, "executor_config": config}
    return result


def close_environments(environments: Mapping[str, Mapping[str, Any]]) -> None:
    """Stop the watchers, pollers and submit threads of environments made by `wove_environments`."""
    submitters = {}
    progresses = {}
    for environment in environments.values():
        client = environment.get("executor_config", {}).get("client")
        if isinstance(client, WatchedBatchClient):
            exit_sweep.unregister(client)
            client.close()
            if client.progress is not None:
                progresses[id(client.progress)] = client.progress
            submitters[id(client.submitter)] = client.submitter
    for submitter in submitters.values():
        submitter.close()
    for shown in progresses.values():
        shown.close()
