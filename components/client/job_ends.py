"""What WatchedBatchClient does when the watcher sees a job end, vanish or stall, and the exit
sweep (batch.py wires the watcher's callbacks here; reports.py builds what the task hears)."""

from __future__ import annotations

import logging
from typing import Any, Optional

from ..aws.limits import DESCRIBE_JOBS_MAX_IDS
from .chunks import ChunkSubmitted
from .watcher import Submitted, WatchedArray

log = logging.getLogger(__name__)

SILENT_CHILDREN_WITH_LOG = 10  # of an array's children reported at once, these get their log lines


class JobEnds:
    """A mixin of WatchedBatchClient: needs its _client, watcher, poller, exchange, reports,
    submitter, results, result_grace_seconds and the in-flight accounting of _send."""

    _client: Any
    watcher: Any
    poller: Any
    exchange: Any
    reports: Any
    submitter: Any
    results: str
    result_grace_seconds: float
    _flight: Any
    _in_flight: int
    _sweeping: bool
    _chunk_lock: Any
    _chunk_cancels: dict[str, Any]

    def _describe_one(self, job_id: str) -> Optional[dict[str, Any]]:
        try:
            jobs = self._client.describe_jobs(jobs=[job_id])["jobs"]
        except Exception:  # noqa: BLE001 - the report goes without the job's details
            log.info("could not describe job %s", job_id, exc_info=True)
            return None
        return jobs[0] if jobs else None

    @staticmethod
    def _tasks_of(submitted: Submitted) -> list[Submitted]:
        """A job's tasks: itself, or the tasks of a chunk (several tasks in one job: each is
        reported on its own, under the chunk's job; one that answered keeps its answer)."""
        if not isinstance(submitted, ChunkSubmitted):
            return [submitted]
        for task in submitted.tasks:
            task.job_id = submitted.job_id
        return list(submitted.tasks)

    def _job_failed(self, job: dict[str, Any], submitted: Submitted) -> None:
        for task in self._tasks_of(submitted):
            task.pending_report = self.reports.failed(job, task)

    def _job_succeeded(self, job: dict[str, Any], submitted: Submitted) -> None:
        for task in self._tasks_of(submitted):
            task.last_job = job
            if self.results != "exchange":
                # The worker posted before it exited; a late report is ignored if it did.
                self.watcher.later(self.result_grace_seconds, lambda task=task: self.reports.silent(task))

    def _job_unknown(self, job_id: str, submitted: Submitted) -> None:
        for task in self._tasks_of(submitted):
            task.last_job = {"jobId": task.job_id or job_id, "status": None}
            if self.results != "exchange":
                self.reports.silent(task)

    def _job_runnable(self, job: dict[str, Any], waited: float, target: Any) -> None:
        self.reports.runnable(job, waited, target, self._terminate_now)

    def _terminate_now(self, job_id: str, reason: str) -> None:
        try:
            self.submitter.call(self._client.terminate_job, jobId=job_id, reason=reason)
        except Exception:  # noqa: BLE001 - its task was told already
            log.warning("could not terminate stalled job %s", job_id, exc_info=True)

    def _job_ended(self, submitted: Submitted) -> None:
        if isinstance(submitted, ChunkSubmitted):
            for task in self._tasks_of(submitted):
                self._job_ended(task)
            with self._chunk_lock:
                for task_job_id in submitted.task_job_ids:
                    self._chunk_cancels.pop(task_job_id, None)
            if self.exchange is not None:
                self.exchange.delete_many([key for key in (submitted.cancel_key if submitted.cancelled else None,
                                                           submitted.pack_key) if key])
            return
        if self.poller is not None and self.results == "exchange":
            # Its last events may still be in the bucket: one more sweep, then a held failure or
            # a no-result error if no final event came.
            self.poller.retire(submitted.slot, if_silent=submitted.pending_report or (lambda: self.reports.silent(submitted)))
        elif submitted.payload_key is not None and self.exchange is not None:
            self.exchange.delete(submitted.payload_key)

    def _array_ended(self, array: WatchedArray, job: dict[str, Any]) -> None:
        if array.pack_key is not None and self.exchange is not None:
            self.exchange.delete(array.pack_key)
        if self.results != "exchange":
            silent = [task for child in array.children.values() for task in self._tasks_of(child) if not task.reported]
            self.watcher.later(self.result_grace_seconds, lambda: self._report_silent_children(silent))

    def _report_silent_children(self, children: list[Submitted]) -> None:
        """Callback results: which children answered only Wove knows, so each is told (Wove drops
        the report of one that answered), described 100 a call, log lines read for the first few."""
        for start in range(0, len(children), DESCRIBE_JOBS_MAX_IDS):
            chunk = children[start : start + DESCRIBE_JOBS_MAX_IDS]
            try:
                described = {job["jobId"]: job for job in
                             self._client.describe_jobs(jobs=[str(child.job_id) for child in chunk])["jobs"]}
            except Exception:  # noqa: BLE001 - reported without the details
                described = {}
            for child in chunk:
                child.last_job = described.get(str(child.job_id)) or {"jobId": child.job_id, "status": "SUCCEEDED"}
        for index, child in enumerate(children):
            self.reports.silent(child, with_log=index < SILENT_CHILDREN_WITH_LOG)

    # --- exit sweep ----------------------------------------------------------------------
    def sweep(self, reason: str = "The submitting process ended (wove-batch exit sweep).",
              wait_seconds: float = 15.0) -> list[str]:
        """Terminate this client's jobs still unfinished (plain jobs and array parents, whose
        children Batch ends with them) and delete their payloads; the job ids. Submits in
        flight are waited for (`wait_seconds` at most) and later ones refused."""
        with self._flight:
            self._sweeping = True
            self._flight.wait_for(lambda: self._in_flight == 0, timeout=wait_seconds)
        jobs, arrays = self.watcher.unfinished()
        ids = list(jobs) + list(arrays)
        for job_id in ids:
            try:
                self.submitter.call(self._client.terminate_job, jobId=job_id, reason=reason)
            except Exception:  # noqa: BLE001 - the README says how to clean up by name prefix
                log.warning("exit sweep: could not terminate job %s", job_id, exc_info=True)
        if self.exchange is not None:
            for key in [s.payload_key for s in jobs.values()] + [a.pack_key for a in arrays.values()]:
                if key is not None:
                    self.exchange.delete(key)
        return ids
