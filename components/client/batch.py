"""The boto3 Batch client Wove's `aws_batch` adapter gets from `wove_environments`: it closes
the adapter's traps on AWS and carries the task's data.

- Job names: made valid for Batch (names.py).
- Payload placement: inline in `WOVE_BACKEND_PAYLOAD` while the job's `containerOverrides`
  stay within INLINE_OVERRIDES_BUDGET (Batch fails a job past 8192 characters after accepting
  it); otherwise the payload goes to the exchange bucket and the job gets its location. A
  payload that cannot be written raises ExchangeError before any SubmitJob.
- Results: in exchange mode the job gets a results location and the ResultPoller hands its
  events to Wove's callback server here; in callback mode the worker posts them itself.
- Failed jobs: DescribeJobs (100 ids a call) while any submitted job is unfinished; a job
  Batch reports FAILED becomes a `task_error` for its task with Batch's reason, so the caller
  gets an exception within seconds instead of waiting forever. Wove keeps the first frame of
  a task: if the worker already answered, the late error is ignored.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from .. import protocol
from ..aws.limits import DESCRIBE_JOBS_MAX_IDS, INLINE_OVERRIDES_BUDGET, SUBMIT_JOB_MAX_BYTES
from .background import OnDemandLoop
from .exchange import Exchange, Expected, ResultPoller
from .names import batch_job_name

log = logging.getLogger(__name__)

_TERMINAL = ("SUCCEEDED", "FAILED")


class PayloadTooLargeError(ValueError):
    """A task's SubmitJob request is over AWS Batch's limits even with its payload by
    reference (the environment's own overrides are too large); nothing was submitted."""


class BatchJobFailedError(RuntimeError):
    """AWS Batch reported the task's job FAILED before the worker answered."""


def overrides_length(overrides: Mapping[str, Any]) -> int:
    """containerOverrides as measured against Batch's 8192 (see limits.INLINE_OVERRIDES_BUDGET)."""
    return len(json.dumps(overrides))


@dataclass
class Submitted:
    """What the watcher knows of a submitted job."""

    task: dict[str, Any]  # the Wove payload's run_id, task_id, task_name, callback_url
    job_name: str
    slot: str
    payload_key: Optional[str]


class WatchedBatchClient:
    """A boto3 Batch client for Wove's `aws_batch` adapter; every other call passes through."""

    def __init__(
        self,
        client: Any,
        *,
        exchange: Optional[Exchange] = None,
        results: str = "callback",
        poll_seconds: float = 2.0,
        results_poll_seconds: float = 1.0,
        post_event: Optional[Callable[[str, dict[str, Any]], None]] = None,
    ) -> None:
        if results == "exchange" and exchange is None:
            raise ValueError("exchange results need the exchange bucket")
        self._client = client
        self.exchange = exchange
        self.results = results
        self.poller = ResultPoller(exchange, poll_seconds=results_poll_seconds) if exchange is not None else None
        self._post_event = post_event or _post_wove_event
        self._watched: dict[str, Submitted] = {}  # job id -> its task
        self._lock = threading.Lock()
        self._watcher = OnDemandLoop("wove-batch-watch", poll_seconds, lambda: bool(self._watched), self._watch_round,
                                     self._lock)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    # --- submitting ----------------------------------------------------------------------
    def submit_job(self, **params: Any) -> dict[str, Any]:
        overrides = dict(params.get("containerOverrides") or {})
        variables = list(overrides.get("environment") or [])
        inline = [v for v in variables if v.get("name") == protocol.INLINE_PAYLOAD_VARIABLE]
        others = [v for v in variables if v.get("name") != protocol.INLINE_PAYLOAD_VARIABLE]
        task = json.loads(base64.b64decode(inline[-1]["value"])) if inline else {}
        params["jobName"] = batch_job_name(str(params.get("jobName", "wove")))
        task_label = str(task.get("task_name") or task.get("task_id") or params["jobName"])
        slot = uuid.uuid4().hex

        if self.results == "exchange" and task:
            assert self.exchange is not None
            others.append({"name": protocol.RESULTS_URI_VARIABLE, "value": self.exchange.results_uri(slot)})
        payload_key: Optional[str] = None
        overrides["environment"] = others + inline[-1:]
        if inline and overrides_length(overrides) > INLINE_OVERRIDES_BUDGET:
            if self.exchange is None:
                raise PayloadTooLargeError(
                    f"task {task_label!r}: its containerOverrides are {overrides_length(overrides)} characters, over "
                    f"the {INLINE_OVERRIDES_BUDGET} sent inline, and this environment has no exchange bucket"
                )
            payload_key = self.exchange.put_payload(slot, inline[-1]["value"], task=task_label)
            overrides["environment"] = others + [
                {"name": protocol.PAYLOAD_URI_VARIABLE, "value": self.exchange.payload_uri(payload_key)}
            ]
        params["containerOverrides"] = overrides
        try:
            self._check_size(params, overrides, task_label)
            if self.results == "exchange" and task:
                assert self.poller is not None
                self.poller.expect(
                    slot, Expected(task["run_id"], task.get("task_id"), task["callback_url"], payload_key)
                )
            response = self._client.submit_job(**params)
        except Exception:
            self._abandon(slot, payload_key)  # nothing submitted: nothing left behind
            raise
        if task.get("callback_url") and task.get("run_id"):
            self._watch(response["jobId"], Submitted(task, params["jobName"], slot, payload_key))
        return response

    def _check_size(self, params: Mapping[str, Any], overrides: Mapping[str, Any], task_label: str) -> None:
        """What is left over once the payload is by reference: the environment's own overrides."""
        length = overrides_length(overrides)
        if length > INLINE_OVERRIDES_BUDGET:
            raise PayloadTooLargeError(
                f"task {task_label!r}: its containerOverrides are {length} characters without the payload, over "
                f"the {INLINE_OVERRIDES_BUDGET} Batch takes safely (8192 at most); shorten the environment's "
                "container_overrides"
            )
        size = len(json.dumps(params, separators=(",", ":")).encode())
        if size > SUBMIT_JOB_MAX_BYTES:
            raise PayloadTooLargeError(
                f"task {task_label!r}: its SubmitJob request is {size} bytes, over AWS Batch's {SUBMIT_JOB_MAX_BYTES} "
                "(30 KiB)"
            )

    def _abandon(self, slot: str, payload_key: Optional[str]) -> None:
        """A submit that failed leaves nothing behind: no expectation, no payload object."""
        if self.poller is not None:
            self.poller.forget(slot)
        if payload_key is not None and self.exchange is not None:
            self.exchange.delete(payload_key)

    # --- watching ------------------------------------------------------------------------
    def _watch(self, job_id: str, submitted: Submitted) -> None:
        with self._lock:
            self._watched[job_id] = submitted
            self._watcher.start()

    def close(self) -> None:
        """Stop watching and polling; jobs still running in Batch are not touched."""
        self._watcher.stop()
        with self._lock:
            self._watched.clear()
        if self.poller is not None:
            self.poller.close()

    @property
    def is_watching(self) -> bool:
        """Whether a watcher thread is polling Batch now."""
        return self._watcher.running

    @property
    def watched_job_ids(self) -> list[str]:
        with self._lock:
            return list(self._watched)

    def _watch_round(self) -> None:
        with self._lock:
            job_ids = list(self._watched)
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
                submitted = self._watched.pop(job["jobId"], None)
            if submitted is None:
                continue
            if job["status"] == "FAILED":
                self._report_failure(job, submitted)
            if self.poller is not None and self.results == "exchange":
                # Its last events may still be in the bucket: delivered by the next round, then dropped.
                self.poller.retire(submitted.slot)
            elif submitted.payload_key is not None and self.exchange is not None:
                self.exchange.delete(submitted.payload_key)

    def _report_failure(self, job: dict[str, Any], submitted: Submitted) -> None:
        task = submitted.task
        reason = job.get("statusReason") or "no status reason given"
        container = job.get("container") or {}
        details = [f"exit code {container['exitCode']}"] if container.get("exitCode") is not None else []
        if container.get("reason"):
            details.append(str(container["reason"]))
        suffix = f" ({'; '.join(details)})" if details else ""
        error = BatchJobFailedError(
            f"AWS Batch job {submitted.job_name} ({job['jobId']}) of task {task.get('task_id')!r} FAILED: {reason}{suffix}"
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
