"""What a caller reads when a task's Batch job ended without its result: enough to act on.

Every such error names the job (name and id), its attempts (and how many were Spot
reclaims), its log stream, a console link, and the last lines of the job's CloudWatch log
(read with logs:GetLogEvents, which the stack's application policy grants on the cluster's
log group only). Reading the log is best effort: a missing grant or stream is said, not raised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import quote

from ..errors import WoveBatchError

log = logging.getLogger(__name__)

LOG_LINES = 20  # last lines of the job's log in each failure
SPOT_RECLAIM_PREFIX = "Host EC2"  # Batch's reason for an attempt whose instance was reclaimed


class BatchJobFailedError(WoveBatchError, RuntimeError):
    """AWS Batch reported the task's job FAILED before the worker answered."""


class BatchJobNoResultError(WoveBatchError, RuntimeError):
    """The task's job ended SUCCEEDED (or Batch forgot it) and no result ever arrived."""


class BatchJobStalledError(WoveBatchError, RuntimeError):
    """The task's job stayed RUNNABLE past `runnable_timeout_seconds`; it was terminated."""


@dataclass(frozen=True)
class LogSource:
    """Where the jobs' logs are: the cluster's log group, read with this logs client."""

    client: Any
    group: Optional[str]
    region: Optional[str]


def attempts_line(job: dict[str, Any]) -> str:
    attempts = job.get("attempts") or []
    reclaimed = sum(1 for a in attempts if str(a.get("statusReason") or "").startswith(SPOT_RECLAIM_PREFIX))
    return f"attempts: {len(attempts)} ({reclaimed} Spot reclaim{'' if reclaimed == 1 else 's'})"


def console_url(job_id: str, region: Optional[str]) -> str:
    region = region or "us-east-1"
    return f"https://{region}.console.aws.amazon.com/batch/home?region={region}#jobs/detail/{quote(job_id, safe='')}"


def log_stream_of(job: dict[str, Any]) -> Optional[str]:
    container = job.get("container") or {}
    if container.get("logStreamName"):
        return str(container["logStreamName"])
    for attempt in reversed(job.get("attempts") or []):
        stream = (attempt.get("container") or {}).get("logStreamName")
        if stream:
            return str(stream)
    return None


def last_log_lines(source: Optional[LogSource], stream: Optional[str]) -> list[str]:
    if source is None or source.group is None:
        return ["(the log group is not known: pass the stack outputs' wove_batch settings)"]
    if stream is None:
        return ["(no log stream: the job's container never started)"]
    if source.client is None:
        return ["(left out: many jobs were reported at once; read the log stream)"]
    try:
        events = source.client.get_log_events(logGroupName=source.group, logStreamName=stream,
                                              limit=LOG_LINES, startFromHead=False)["events"]
    except Exception as exc:  # noqa: BLE001 - the failure is still reported, without its log
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        return [f"(could not read the log: {code}; the application policy grants logs:GetLogEvents on {source.group})"]
    return [str(event.get("message", "")).rstrip() for event in events] or ["(the log stream is empty)"]


def job_details(job: dict[str, Any], source: Optional[LogSource]) -> str:
    """The lines after an error's first: attempts, log stream, console link, last log lines."""
    stream = log_stream_of(job)
    group = source.group if source is not None else None
    lines = [
        attempts_line(job),
        f"log stream: {group}/{stream}" if stream and group else f"log stream: {stream or 'none'}",
        f"console: {console_url(job['jobId'], source.region if source is not None else None)}",
        f"last log lines ({LOG_LINES} at most):",
        *(f"  {line}" for line in last_log_lines(source, stream)),
    ]
    return "\n".join(lines)


def failed_message(job: dict[str, Any], job_name: str, task_id: Any, source: Optional[LogSource]) -> str:
    reason = job.get("statusReason") or "no status reason given"
    container = job.get("container") or {}
    details = [f"exit code {container['exitCode']}"] if container.get("exitCode") is not None else []
    if container.get("reason"):
        details.append(str(container["reason"]))
    suffix = f" ({'; '.join(details)})" if details else ""
    return (f"AWS Batch job {job_name} ({job['jobId']}) of task {task_id!r} FAILED: {reason}{suffix}\n"
            + job_details(job, source))


def no_result_message(job: dict[str, Any], job_name: str, task_id: Any, grace: float,
                      source: Optional[LogSource], results: str) -> str:
    if job.get("status") is None:
        head = (f"AWS Batch job {job_name} ({job['jobId']}) of task {task_id!r} is no longer known to AWS Batch "
                "(DescribeJobs does not return it) and no result arrived")
    else:
        where = "in its results prefix of the exchange bucket" if results == "exchange" else "at the callback server"
        head = (f"AWS Batch job {job_name} ({job['jobId']}) of task {task_id!r} SUCCEEDED but no result arrived "
                f"{where} within {grace:g} s. Check that the job definition's command runs the worker "
                "(python -m wove_batch.worker) and that the task does not end its process itself "
                "(sys.exit, os._exit)")
    return head + "\n" + job_details(job, source)


def stalled_message(job: dict[str, Any], job_name: str, task_id: Any, waited: float,
                    source: Optional[LogSource]) -> str:
    reason = job.get("statusReason") or "no status reason given"
    return (f"AWS Batch job {job_name} ({job['jobId']}) of task {task_id!r} was RUNNABLE for {waited:.0f} s "
            f"(runnable_timeout_seconds) and was terminated: {reason}\n" + job_details(job, source))
