"""The failed-job watcher: a task whose job Batch marks FAILED gets an error within seconds,
instead of waiting forever for a worker that never ran (or died).

It runs only while submitted jobs are unfinished. Plain jobs are described 100 ids a call
(DescribeJobs' limit). An array job is one id however many children it has: its
`statusSummary` says how many children failed, and only when that number grows are the failed
children listed (ListJobs arrayJobId + FAILED), so that each failure goes to its own task and
its siblings carry on.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..aws.limits import DESCRIBE_JOBS_MAX_IDS
from .background import OnDemandLoop

log = logging.getLogger(__name__)

TERMINAL = ("SUCCEEDED", "FAILED")


@dataclass
class Submitted:
    """A submitted task: what the watcher and the results poller know of it."""

    task: dict[str, Any]  # the Wove payload's run_id, task_id, task_name, callback_url
    job_name: str
    slot: str
    payload_key: Optional[str]


@dataclass
class WatchedArray:
    """An array job: its children by index, and which of them were reported failed."""

    job_name: str
    children: dict[int, Submitted]
    pack_key: Optional[str]
    reported: set[int] = field(default_factory=set)


class JobWatcher:
    """`on_failed(job, submitted)` for a FAILED job or child (`job` as DescribeJobs or ListJobs
    gives it); `on_ended(submitted)` once each job or child is SUCCEEDED or FAILED;
    `on_array_ended(array)` once every child of an array is."""

    def __init__(self, client: Any, poll_seconds: float, *, on_failed: Callable[[dict[str, Any], Submitted], None],
                 on_ended: Callable[[Submitted], None], on_array_ended: Callable[[WatchedArray], None]) -> None:
        self._client = client
        self._on_failed, self._on_ended, self._on_array_ended = on_failed, on_ended, on_array_ended
        self._jobs: dict[str, Submitted] = {}  # job id -> its task
        self._arrays: dict[str, WatchedArray] = {}  # parent job id -> its children
        self._lock = threading.Lock()
        self._loop = OnDemandLoop("wove-batch-watch", poll_seconds, lambda: bool(self._jobs or self._arrays),
                                  self._round, self._lock)

    def watch(self, job_id: str, submitted: Submitted) -> None:
        with self._lock:
            self._jobs[job_id] = submitted
            self._loop.start()

    def watch_array(self, job_id: str, array: WatchedArray) -> None:
        with self._lock:
            self._arrays[job_id] = array
            self._loop.start()

    def close(self) -> None:
        self._loop.stop()
        with self._lock:
            self._jobs.clear()
            self._arrays.clear()

    @property
    def running(self) -> bool:
        return self._loop.running

    @property
    def job_ids(self) -> list[str]:
        """Watched plain jobs and array parents."""
        with self._lock:
            return list(self._jobs) + list(self._arrays)

    def _round(self) -> None:
        job_ids = self.job_ids
        for start in range(0, len(job_ids), DESCRIBE_JOBS_MAX_IDS):
            self._check(job_ids[start : start + DESCRIBE_JOBS_MAX_IDS])

    def _check(self, job_ids: list[str]) -> None:
        try:
            jobs = self._client.describe_jobs(jobs=job_ids)["jobs"]
        except Exception:  # noqa: BLE001 - a failed poll is retried at the next tick
            log.warning("describe_jobs failed; retrying", exc_info=True)
            return
        for job in jobs:
            with self._lock:
                array = self._arrays.get(job["jobId"])
            if array is not None:
                self._check_array(job, array)
            elif job.get("status") in TERMINAL:
                with self._lock:
                    submitted = self._jobs.pop(job["jobId"], None)
                if submitted is not None:
                    if job["status"] == "FAILED":
                        self._on_failed(job, submitted)
                    self._on_ended(submitted)

    def _check_array(self, job: dict[str, Any], array: WatchedArray) -> None:
        properties = job.get("arrayProperties") or {}
        summary = properties.get("statusSummary") or {}
        size = properties.get("size") or len(array.children)
        failed = int(summary.get("FAILED", 0))
        ended = job.get("status") in TERMINAL or int(summary.get("SUCCEEDED", 0)) + failed >= size
        if failed > len(array.reported) and not self._report_failed_children(job["jobId"], array):
            return  # ListJobs failed: asked again next round, before the array may be dropped
        if ended:
            with self._lock:
                self._arrays.pop(job["jobId"], None)
            for child in array.children.values():
                self._on_ended(child)
            self._on_array_ended(array)

    def _report_failed_children(self, parent_id: str, array: WatchedArray) -> bool:
        params: dict[str, Any] = {"arrayJobId": parent_id, "jobStatus": "FAILED"}
        failed: list[dict[str, Any]] = []
        try:
            while True:
                page = self._client.list_jobs(**params)
                failed.extend(page.get("jobSummaryList", []))
                if not page.get("nextToken"):
                    break
                params["nextToken"] = page["nextToken"]
        except Exception:  # noqa: BLE001 - retried at the next tick
            log.warning("list_jobs of array %s failed; retrying", parent_id, exc_info=True)
            return False
        for summary in failed:
            index = (summary.get("arrayProperties") or {}).get("index")
            if index is None:
                index = int(summary["jobId"].rsplit(":", 1)[1])
            child = array.children.get(index)
            if child is not None and index not in array.reported:
                array.reported.add(index)
                self._on_failed(summary, child)
        return True
