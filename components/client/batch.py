"""From the stack's outputs to what `wove.config` takes, with the traps of Wove's `aws_batch`
executor closed. boto3 only: an application imports this without Pulumi installed.

    from components.wove_client import wove_environments
    wove.config(environments=wove_environments("wove-batch-outputs.json"))

Each environment gets a `client`: a wrapper of the boto3 Batch client that
- names jobs as AWS accepts (`[A-Za-z0-9_-]{1,128}`; Wove's run ids hold a `:`),
- refuses a task whose SubmitJob request exceeds Batch's 30 KiB before sending it,
- watches the jobs it submitted (DescribeJobs, 100 ids a call) and, when Batch reports one
  FAILED, posts a `task_error` frame for its task to Wove's callback URL with Batch's reason,
  so the caller gets an exception within seconds instead of waiting forever. Wove keeps the
  first frame of a task: if the worker already answered, the late error is ignored.
Polling runs only while submitted jobs are unfinished, and stops on `close()`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

from ..aws.limits import BATCH_NAME_MAX, DESCRIBE_JOBS_MAX_IDS, SUBMIT_JOB_MAX_BYTES

log = logging.getLogger(__name__)

_INVALID_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")
_TERMINAL = ("SUCCEEDED", "FAILED")


class PayloadTooLargeError(ValueError):
    """A task's SubmitJob request is over AWS Batch's limit; nothing was submitted."""


class BatchJobFailedError(RuntimeError):
    """AWS Batch reported the task's job FAILED before the worker answered."""


def batch_job_name(name: str) -> str:
    """A job name Batch accepts: invalid characters become `-`; a name over 128 characters is
    cut and ends in a hash of the whole, so it stays unique per run and deterministic."""
    valid = _INVALID_NAME_CHARACTERS.sub("-", name) or "wove"
    if len(valid) <= BATCH_NAME_MAX:
        return valid
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{valid[: BATCH_NAME_MAX - len(digest) - 1]}-{digest}"


def _task_of(params: Mapping[str, Any]) -> dict[str, Any]:
    """The Wove payload in the job's container overrides (run id, task id, callback URL)."""
    for variable in (params.get("containerOverrides") or {}).get("environment") or []:
        if variable.get("name") == "WOVE_BACKEND_PAYLOAD":
            return json.loads(base64.b64decode(variable["value"]))
    return {}


class WatchedBatchClient:
    """A boto3 Batch client for Wove's `aws_batch` adapter; every other call passes through."""

    def __init__(
        self,
        client: Any,
        *,
        poll_seconds: float = 2.0,
        post_event: Optional[Callable[[str, dict[str, Any]], None]] = None,
    ) -> None:
        self._client = client
        self._poll_seconds = poll_seconds
        self._post_event = post_event or _post_wove_event
        self._watched: dict[str, dict[str, Any]] = {}  # job id -> task of that job
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def submit_job(self, **params: Any) -> dict[str, Any]:
        task = _task_of(params)
        params["jobName"] = batch_job_name(str(params.get("jobName", "wove")))
        size = len(json.dumps(params, separators=(",", ":")).encode())
        if size > SUBMIT_JOB_MAX_BYTES:
            raise PayloadTooLargeError(
                f"task {task.get('task_name') or task.get('task_id') or params['jobName']!r}: its SubmitJob request is "
                f"{size} bytes, over AWS Batch's {SUBMIT_JOB_MAX_BYTES} (30 KiB); pass large arguments by "
                "reference (an S3 key, a database id) instead of by value"
            )
        response = self._client.submit_job(**params)
        if task.get("callback_url") and task.get("run_id"):
            with self._lock:
                self._watched[response["jobId"]] = {**task, "job_name": params["jobName"]}
                if self._thread is None:
                    self._stopped.clear()
                    self._thread = threading.Thread(target=self._watch, name="wove-batch-watch", daemon=True)
                    self._thread.start()
        return response

    def close(self) -> None:
        """Stop watching; jobs still running in Batch are not touched."""
        self._stopped.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._poll_seconds + 5)
        with self._lock:
            self._watched.clear()
            self._thread = None

    @property
    def is_watching(self) -> bool:
        """Whether a watcher thread is polling Batch now."""
        with self._lock:
            return self._thread is not None

    @property
    def watched_job_ids(self) -> list[str]:
        with self._lock:
            return list(self._watched)

    def _watch(self) -> None:
        while not self._stopped.wait(self._poll_seconds):
            with self._lock:
                job_ids = list(self._watched)
                if not job_ids:
                    # Nothing unfinished: the thread ends, and (under the same lock) the next
                    # submit sees no thread and starts another.
                    self._thread = None
                    return
            for start in range(0, len(job_ids), DESCRIBE_JOBS_MAX_IDS):
                self._check(job_ids[start : start + DESCRIBE_JOBS_MAX_IDS])

    def _check(self, job_ids: list[str]) -> None:
        try:
            jobs = self._client.describe_jobs(jobs=job_ids)["jobs"]
        except Exception:  # noqa: BLE001 - a failed poll is retried at the next tick
            log.warning("describe_jobs failed; retrying", exc_info=True)
            return
        for job in jobs:
            if job.get("status") not in _TERMINAL:
                continue
            with self._lock:
                task = self._watched.pop(job["jobId"], None)
            if task is not None and job["status"] == "FAILED":
                self._report_failure(job, task)

    def _report_failure(self, job: dict[str, Any], task: dict[str, Any]) -> None:
        reason = job.get("statusReason") or "no status reason given"
        container = job.get("container") or {}
        details = [f"exit code {container['exitCode']}"] if container.get("exitCode") is not None else []
        if container.get("reason"):
            details.append(str(container["reason"]))
        suffix = f" ({'; '.join(details)})" if details else ""
        error = BatchJobFailedError(
            f"AWS Batch job {task['job_name']} ({job['jobId']}) of task {task.get('task_id')!r} FAILED: {reason}{suffix}"
        )
        frame = {
            "type": "task_error",
            "run_id": task["run_id"],
            "task_id": task.get("task_id"),
            "exception": error,
            "error": {"type": "BatchJobFailedError", "message": str(error), "source": "aws_batch"},
        }
        try:
            self._post_event(task["callback_url"], frame)
        except Exception:  # noqa: BLE001 - the weave is gone: nobody to tell
            log.info("could not report failed job %s to %s", job["jobId"], task["callback_url"], exc_info=True)


def _post_wove_event(callback_url: str, frame: dict[str, Any]) -> None:
    from wove.backend import post_event

    post_event(callback_url, frame, timeout=10)


def load_outputs(outputs: Union[Mapping[str, Any], str, Path]) -> Mapping[str, Any]:
    """The parsed `pulumi stack output --json --show-secrets` document, or a path to it."""
    if isinstance(outputs, (str, Path)):
        return json.loads(Path(outputs).read_text(encoding="utf-8"))
    return outputs


def wove_environments(
    outputs: Union[Mapping[str, Any], str, Path],
    *,
    client_factory: Optional[Callable[..., Any]] = None,
    poll_seconds: float = 2.0,
) -> dict[str, dict[str, Any]]:
    """The stack's `wove_environments`, each with a WatchedBatchClient injected.

    `client_factory(**client_options)` makes the boto3 Batch client (default:
    `boto3.client("batch", **client_options)`). The result sets no default environment:
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
    if client_factory is None:
        import boto3

        client_factory = lambda **options: boto3.client("batch", **options)  # noqa: E731
    result: dict[str, dict[str, Any]] = {}
    for name, environment in environments.items():
        config = dict(environment["executor_config"])
        config["client"] = WatchedBatchClient(client_factory(**dict(config.get("client_options") or {})), poll_seconds=poll_seconds)
        result[name] = {**environment, "executor_config": config}
    return result


def close_environments(environments: Mapping[str, Mapping[str, Any]]) -> None:
    """Stop the watchers of environments made by `wove_environments`."""
    for environment in environments.values():
        client = environment.get("executor_config", {}).get("client")
        if isinstance(client, WatchedBatchClient):
            client.close()
