"""The job watcher: every task whose job ended hears of it, instead of waiting forever for a
worker that never ran, died, or ended without answering.

A FAILED job or child goes to `on_failed`, a SUCCEEDED plain job to `on_succeeded` (its
result may be missing), a job DescribeJobs stops returning for `unknown_after_seconds` to
`on_unknown`, and a RUNNABLE one to `on_runnable` at every round (with how long it has been
RUNNABLE, so that stalls are told and bounded). `later(delay, work)` runs work on the
watcher's thread after a delay (grace periods), keeping the thread alive until then.

It runs only while submitted jobs are unfinished. Plain jobs are described 100 ids a call
(DescribeJobs' limit). An array job is one id however many children it has: its
`statusSummary` says how many children failed, and only when that number grows are the failed
children listed (ListJobs arrayJobId + FAILED), so that each failure goes to its own task and
its siblings carry on.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

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
    job_id: Optional[str] = None  # set once submitted (a child's: `<arrayJobId>:<index>`)
    last_job: Optional[dict[str, Any]] = None  # the job as last described, once it ended
    pending_report: Optional[Callable[[], None]] = None  # a failure held until its results were swept
    reported: bool = False  # an error, cancellation or stall was sent for it


@dataclass
class WatchedArray:
    """An array job: its children by index, and which of them were reported failed."""

    job_name: str
    children: dict[int, Submitted]
    pack_key: Optional[str]
    reported: set[int] = field(default_factory=set)


Watched = Union[Submitted, WatchedArray]


def _ignore(*_: Any) -> None:
    return None


class JobWatcher:
    """`on_failed(job, submitted)` for a FAILED job or child (`job` as DescribeJobs or ListJobs
    gives it); `on_ended(submitted)` once each job or child ended (or is unknown);
    `on_array_ended(array, job)` once every child of an array did."""

    def __init__(self, client: Any, poll_seconds: float, *, on_failed: Callable[[dict[str, Any], Submitted], None],
                 on_ended: Callable[[Submitted], None], on_array_ended: Callable[..., None],
                 on_succeeded: Callable[[dict[str, Any], Submitted], None] = _ignore,
                 on_unknown: Callable[[str, Submitted], None] = _ignore,
                 on_runnable: Callable[[dict[str, Any], float, Watched], None] = _ignore,
                 on_observed: Callable[[dict[str, Any]], None] = _ignore,
                 unknown_after_seconds: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._on_failed, self._on_ended, self._on_array_ended = on_failed, on_ended, on_array_ended
        self._on_succeeded, self._on_unknown, self._on_runnable = on_succeeded, on_unknown, on_runnable
        self._on_observed = on_observed
        self.unknown_after_seconds = unknown_after_seconds
        self._clock = clock
        self._jobs: dict[str, Submitted] = {}  # job id -> its task
        self._arrays: dict[str, WatchedArray] = {}  # parent job id -> its children
        self._missing_since: dict[str, float] = {}  # job id -> when DescribeJobs first left it out
        self._runnable_since: dict[str, float] = {}  # job id -> when it was first seen RUNNABLE
        self._later: list[tuple[float, Callable[[], None]]] = []
        self._lock = threading.Lock()
        self._loop = OnDemandLoop("wove-batch-watch", poll_seconds,
                                  lambda: bool(self._jobs or self._arrays or self._later), self._round, self._lock)

    def later(self, delay: float, work: Callable[[], None]) -> None:
        """`work()` on the watcher's thread once `delay` seconds have passed (at a round's end)."""
        with self._lock:
            self._later.append((self._clock() + delay, work))
            self._loop.start()

    def watch(self, job_id: str, submitted: Submitted) -> None:
        submitted.job_id = job_id
        with self._lock:
            self._jobs[job_id] = submitted
            self._loop.start()

    def watch_array(self, job_id: str, array: WatchedArray) -> None:
        for index, child in array.children.items():
            child.job_id = f"{job_id}:{index}"
        with self._lock:
            self._arrays[job_id] = array
            self._loop.start()

    def close(self) -> None:
        self._loop.stop()
        with self._lock:
            self._jobs.clear()
            self._arrays.clear()
            self._later.clear()

    def unfinished(self) -> tuple[dict[str, Submitted], dict[str, WatchedArray]]:
        """The plain jobs and arrays not seen ended yet (what an exit sweep terminates)."""
        with self._lock:
            return dict(self._jobs), dict(self._arrays)

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
        now = self._clock()
        with self._lock:
            due = [work for at, work in self._later if at <= now]
            self._later = [(at, work) for at, work in self._later if at > now]
        for work in due:
            try:
                work()
            except Exception:  # noqa: BLE001 - one report's failure stops no other
                log.warning("a delayed job report failed", exc_info=True)

    def _check(self, job_ids: list[str]) -> None:
        try:
            jobs = self._client.describe_jobs(jobs=job_ids)["jobs"]
        except Exception:  # noqa: BLE001 - a failed poll is retried at the next tick
            log.warning("describe_jobs failed; retrying", exc_info=True)
            return
        self._check_missing(set(job_ids) - {job["jobId"] for job in jobs})
        for job in jobs:
            self._missing_since.pop(job["jobId"], None)
            self._on_observed(job)
            with self._lock:
                array = self._arrays.get(job["jobId"])
            target: Optional[Watched] = array if array is not None else self._jobs.get(job["jobId"])
            if job.get("status") == "RUNNABLE" and target is not None:
                since = self._runnable_since.setdefault(job["jobId"], self._clock())
                self._on_runnable(job, self._clock() - since, target)
            else:
                self._runnable_since.pop(job["jobId"], None)
            if array is not None:
                self._check_array(job, array)
            elif job.get("status") in TERMINAL:
                with self._lock:
                    submitted = self._jobs.pop(job["jobId"], None)
                if submitted is not None:
                    if job["status"] == "FAILED":
                        self._on_failed(job, submitted)
                    else:
                        self._on_succeeded(job, submitted)
                    self._on_ended(submitted)

    def _check_missing(self, missing: set[str]) -> None:
        """A job DescribeJobs leaves out (just submitted, or long gone): unknown once it has been
        left out for `unknown_after_seconds`."""
        now = self._clock()
        for job_id in missing:
            since = self._missing_since.setdefault(job_id, now)
            if now - since < self.unknown_after_seconds:
                continue
            self._missing_since.pop(job_id, None)
            with self._lock:
                submitted = self._jobs.pop(job_id, None)
                array = self._arrays.pop(job_id, None)
            for child in [submitted] if submitted is not None else list((array.children if array else {}).values()):
                self._on_unknown(job_id, child)
                self._on_ended(child)
            if array is not None:
                self._on_array_ended(array, {"jobId": job_id})

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
            self._on_array_ended(array, job)

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
