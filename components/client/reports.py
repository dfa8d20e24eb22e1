"""The helper's own events to Wove for tasks whose jobs ended without (or before) an answer.

- FAILED: a `task_error` (failures.failed_message). With exchange results it waits for one
  last sweep of the task's results prefix: a result written before the failure wins.
- SUCCEEDED without a result: after `result_grace_seconds` (callback results) or the last
  sweep (exchange results), a `task_error` saying so and what to check.
- Unknown to Batch: the same, once DescribeJobs has left the job out long enough.
- Cancelled by Wove (its cancel_job): Wove's own `task_cancelled`, not an error.
- RUNNABLE past `stall_log_seconds`: Batch's status reason in the caller's log at once (and
  again when it changes); past `runnable_timeout_seconds` (off by default) the job is
  terminated and the task fails with that reason.

Wove keeps the first final frame of a task: a late report for a task that already answered is
ignored, so a report is safe to send whenever the helper cannot know.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

from . import failures
from .failures import LogSource
from .watcher import Submitted, WatchedArray

log = logging.getLogger(__name__)


class TaskReports:
    def __init__(self, post: Callable[[str, dict[str, Any]], None], describe: Callable[[str], Optional[dict[str, Any]]],
                 *, log_source: Optional[LogSource],
                 results: str, result_grace_seconds: float, stall_log_seconds: float,
                 runnable_timeout_seconds: Optional[float]) -> None:
        self._post = post
        self._describe = describe  # DescribeJobs of one job id; None when it fails
        self.log_source = log_source
        self.results = results
        self.result_grace_seconds = result_grace_seconds
        self.stall_log_seconds = stall_log_seconds
        self.runnable_timeout_seconds = runnable_timeout_seconds
        self.cancelled: set[str] = set()  # job ids Wove cancelled
        self._told: dict[str, str] = {}  # job id -> the RUNNABLE reason last logged
        # Callback URLs a report could not reach: the weave is gone (its server stopped), so the
        # rest of its reports are not sent, each of which could wait POST_TIMEOUT_SECONDS.
        self._gone: set[str] = set()
        self._lock = threading.Lock()

    def cancelling(self, job_id: str) -> None:
        with self._lock:
            self.cancelled.add(job_id)

    def _was_cancelled(self, submitted: Submitted) -> bool:
        job_id = submitted.job_id or ""
        with self._lock:
            return job_id in self.cancelled or job_id.rsplit(":", 1)[0] in self.cancelled

    def send(self, submitted: Submitted, frame_type: str, error: Optional[BaseException] = None) -> None:
        task = submitted.task
        frame: dict[str, Any] = {"type": frame_type, "run_id": task["run_id"], "task_id": task.get("task_id")}
        if error is not None:
            frame.update(exception=error, error={"type": type(error).__name__, "message": str(error),
                                                 "source": "aws_batch"})
        submitted.reported = True
        url = task["callback_url"]
        with self._lock:
            if url in self._gone:
                return
        try:
            self._post(url, frame)
        except Exception:  # noqa: BLE001 - the weave is gone: nobody to tell
            log.info("could not report job %s to %s; no more reports go there", submitted.job_id, url, exc_info=True)
            with self._lock:
                self._gone.add(url)

    def failed(self, job: dict[str, Any], submitted: Submitted) -> Optional[Callable[[], None]]:
        """The report of a FAILED job: sent now, or (exchange) returned to send after the sweep."""
        if submitted.reported:
            return None
        if self._was_cancelled(submitted):
            report = lambda: self.send(submitted, "task_cancelled")  # noqa: E731
        else:
            job = {**job, "jobId": submitted.job_id or job["jobId"]}
            report = lambda: self.send(submitted, "task_error", failures.BatchJobFailedError(  # noqa: E731
                failures.failed_message(self._full(job), submitted.job_name, submitted.task.get("task_id"),
                                        self.log_source)))
        if self.results == "exchange":
            return report
        report()
        return None

    def silent(self, submitted: Submitted, *, with_log: bool = True) -> None:
        """The job ended (or vanished) and no final event came: a no-result error."""
        if submitted.reported:
            return
        if self._was_cancelled(submitted):
            self.send(submitted, "task_cancelled")
            return
        job = submitted.last_job or self._describe(str(submitted.job_id)) or {"jobId": submitted.job_id, "status": None}
        self.send(submitted, "task_error", failures.BatchJobNoResultError(failures.no_result_message(
            job, submitted.job_name, submitted.task.get("task_id"), self.result_grace_seconds,
            self.log_source if with_log or self.log_source is None
            else LogSource(None, self.log_source.group, self.log_source.region), self.results)))

    def runnable(self, job: dict[str, Any], waited: float, target: Any,
                 terminate: Callable[[str, str], None]) -> None:
        """A job seen RUNNABLE for `waited` seconds: tell, and end it past the timeout."""
        reason = job.get("statusReason") or "no status reason given"
        name = target.job_name
        if waited >= self.stall_log_seconds:
            with self._lock:
                new = self._told.get(job["jobId"]) != reason
                self._told[job["jobId"]] = reason
            if new:
                log.warning("AWS Batch job %s (%s) has been RUNNABLE for %.0f s: %s", name, job["jobId"], waited, reason)
        limit = self.runnable_timeout_seconds
        if limit is None or waited < limit:
            return
        children = list(target.children.values()) if isinstance(target, WatchedArray) else [target]
        if all(child.reported for child in children):
            return
        for child in children:
            if not child.reported:
                self.send(child, "task_error", failures.BatchJobStalledError(failures.stalled_message(
                    {**job, "jobId": child.job_id}, name, child.task.get("task_id"), waited, self.log_source)))
        terminate(job["jobId"], f"RUNNABLE for {waited:.0f} s, over runnable_timeout_seconds ({limit:g}): {reason}")

    def _full(self, job: dict[str, Any]) -> dict[str, Any]:
        """ListJobs' summary of a failed child has no attempts or log stream: described then."""
        if "attempts" in job:
            return job
        return self._describe(job["jobId"]) or job
