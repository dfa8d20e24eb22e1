"""A weave's Batch work as it happens: tasks submitted, runnable, running, done, failed, retried.

The watcher hands every job it describes to `observe`, the submitting side counts submitted
tasks. Where stderr is a terminal the counts are a live line drawn by rich (the `progress`
extra); elsewhere (CI, a log file), or without rich, they go to the `wove_batch.progress`
logger every `log_seconds` while they change.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

log = logging.getLogger("wove_batch.progress")

WAITING = ("SUBMITTED", "PENDING", "RUNNABLE")
RUNNING = ("STARTING", "RUNNING")


def _has_rich() -> bool:
    import importlib.util

    return importlib.util.find_spec("rich") is not None


@dataclass
class Counts:
    submitted: int = 0
    runnable: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    retried: int = 0

    def line(self) -> str:
        return (f"AWS Batch: {self.submitted} submitted, {self.runnable} runnable, {self.running} running, "
                f"{self.done} done, {self.failed} failed, {self.retried} retried")


class Progress:
    """Counts of one client's tasks; `live`: draw them on stderr (default: when it is a terminal)."""

    def __init__(self, *, live: Optional[bool] = None, log_seconds: float = 10.0, stream: Any = None) -> None:
        self._stream = stream or sys.stderr
        self.live = (self._stream.isatty() and _has_rich()) if live is None else live
        self.log_seconds = log_seconds
        self._status: dict[str, str] = {}  # job id -> last status seen
        self._attempts: dict[str, int] = {}
        self._submitted = 0
        self._lock = threading.Lock()
        self._display: Any = None
        self._logged: Optional[str] = None
        self._logged_at = float("-inf")  # the first counts are logged at once

    def submitted(self, tasks: int) -> None:
        with self._lock:
            self._submitted += tasks
        self._show()

    def observe(self, job: dict[str, Any], children: int = 1) -> None:
        """A job (or array parent, counted by its children's summary) as DescribeJobs gives it."""
        with self._lock:
            summary = (job.get("arrayProperties") or {}).get("statusSummary")
            if summary:
                for status, count in summary.items():
                    self._status[f"{job['jobId']}#{status}"] = f"{status}:{count}"
            else:
                self._status[job["jobId"]] = str(job.get("status"))
                self._attempts[job["jobId"]] = len(job.get("attempts") or [])
        self._show()

    def counts(self) -> Counts:
        with self._lock:
            counts = Counts(submitted=self._submitted)
            for value in self._status.values():
                status, _, many = value.partition(":")
                n = int(many) if many else 1
                if status in WAITING:
                    counts.runnable += n if status == "RUNNABLE" else 0
                elif status in RUNNING:
                    counts.running += n
                elif status == "SUCCEEDED":
                    counts.done += n
                elif status == "FAILED":
                    counts.failed += n
            # An attempt beyond a job's first, while the job is still on its way, is a retry.
            counts.retried = sum(max(0, a - 1) for job_id, a in self._attempts.items())
            return counts

    def _show(self) -> None:
        line = self.counts().line()
        if self.live:
            if self._display is None:
                from rich.console import Console
                from rich.live import Live

                self._display = Live(line, console=Console(file=self._stream), refresh_per_second=4, transient=False)
                self._display.start()
            self._display.update(line)
            return
        now = time.monotonic()
        if line != self._logged and now - self._logged_at >= self.log_seconds:
            self._logged, self._logged_at = line, now
            log.info("%s", line)

    def close(self) -> None:
        """The last counts: the live line's final state, or one last log record."""
        line = self.counts().line()
        if self._display is not None:
            self._display.update(line)
            self._display.stop()
            self._display = None
        elif line != self._logged:
            log.info("%s", line)
