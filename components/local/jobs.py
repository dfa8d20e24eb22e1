"""A local job as AWS Batch keeps one: its state, its attempts, and how DescribeJobs and
ListJobs show it. The rules are Batch's (AWS Batch User Guide, "Job states", "Automated job
retries", "Job timeouts", "Array jobs"):

- SUBMITTED -> RUNNABLE (no dependencies here, so PENDING is skipped) -> STARTING -> RUNNING ->
  SUCCEEDED (exit 0) or FAILED.
- A non-zero exit is an attempt with `statusReason` "Essential container in task exited"; the
  job goes back to RUNNABLE while the definition's `retryStrategy.attempts` allow and the first
  `evaluateOnExit` rule that matches says RETRY (no rule matches: retried).
- A job over its `attemptDurationSeconds` is terminated and not retried.
- TerminateJob fails a job in any unfinished state with the caller's reason, never retried.
- An array parent runs as its children; it is PENDING until a child starts, then RUNNING, and
  SUCCEEDED or FAILED (any child failed) once every child is.
"""

from __future__ import annotations

import fnmatch
import time
from dataclasses import dataclass, field
from typing import Any, Optional

STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
TERMINAL = ("SUCCEEDED", "FAILED")
ESSENTIAL_CONTAINER_EXITED = "Essential container in task exited"
ATTEMPT_TIMED_OUT = "Job attempt duration exceeded timeout"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class LocalJob:
    """One job (or array child, or array parent) submitted to the local cluster."""

    job_id: str
    job_arn: str
    job_name: str
    job_queue: str  # the queue's ARN
    priority: int  # the queue's
    compute_environment: str  # the queue's first compute environment's name
    definition: dict[str, Any]  # as DescribeJobDefinitions gives it
    command: list[str]
    environment: dict[str, str]
    timeout_seconds: Optional[int] = None
    retry_strategy: dict[str, Any] = field(default_factory=dict)
    array_index: Optional[int] = None  # a child's
    children: list["LocalJob"] = field(default_factory=list)  # a parent's
    status: str = "SUBMITTED"
    status_reason: Optional[str] = None
    created_at: int = field(default_factory=now_ms)
    started_at: Optional[int] = None
    stopped_at: Optional[int] = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    terminate_reason: Optional[str] = None
    output: str = ""  # the last attempt's log, also in CloudWatch Logs

    @property
    def is_parent(self) -> bool:
        return bool(self.children)

    @property
    def attempts_allowed(self) -> int:
        return int(self.retry_strategy.get("attempts") or 1)

    @property
    def exit_code(self) -> Optional[int]:
        return self.attempts[-1]["container"].get("exitCode") if self.attempts else None

    def current_status(self) -> str:
        if not self.is_parent:
            return self.status
        statuses = [child.status for child in self.children]
        if all(status in TERMINAL for status in statuses):
            return "FAILED" if "FAILED" in statuses else "SUCCEEDED"
        return "RUNNING" if any(s in ("STARTING", "RUNNING", *TERMINAL) for s in statuses) else "PENDING"

    def should_retry(self, attempt: dict[str, Any]) -> bool:
        """After a failed attempt that was not terminated: Batch's retry rules."""
        if len(self.attempts) >= self.attempts_allowed:
            return False
        for rule in self.retry_strategy.get("evaluateOnExit") or []:
            if _rule_matches(rule, attempt):
                return str(rule.get("action", "")).upper() == "RETRY"
        return True

    def summary(self) -> dict[str, Any]:
        """A ListJobs entry."""
        status = self.current_status()
        summary: dict[str, Any] = {"jobArn": self.job_arn, "jobId": self.job_id, "jobName": self.job_name,
                                   "createdAt": self.created_at, "status": status,
                                   "jobDefinition": self.definition["jobDefinitionArn"]}
        if self.status_reason and not self.is_parent:
            summary["statusReason"] = self.status_reason
        for key, value in (("startedAt", self._started_at()), ("stoppedAt", self._stopped_at())):
            if value is not None:
                summary[key] = value
        if self.array_index is not None:
            summary["arrayProperties"] = {"index": self.array_index}
        elif self.is_parent:
            summary["arrayProperties"] = {"size": len(self.children)}
        if self.exit_code is not None and status in TERMINAL:
            summary["container"] = {"exitCode": self.exit_code}
        return summary

    def describe(self) -> dict[str, Any]:
        """A DescribeJobs entry."""
        described = {**self.summary(), "jobQueue": self.job_queue, "attempts": list(self.attempts),
                     "dependsOn": [], "parameters": {}, "retryStrategy": self.retry_strategy,
                     "container": self._container()}
        if self.timeout_seconds:
            described["timeout"] = {"attemptDurationSeconds": self.timeout_seconds}
        if self.is_parent:
            counts = {status: 0 for status in STATUSES}
            for child in self.children:
                counts[child.status] += 1
            described["arrayProperties"] = {"statusSummary": counts, "size": len(self.children)}
        return described

    def _container(self) -> dict[str, Any]:
        properties = self.definition.get("containerProperties") or {}
        container: dict[str, Any] = {
            "image": properties.get("image"), "command": list(self.command),
            "environment": [{"name": k, "value": v} for k, v in self.environment.items()],
            "jobRoleArn": properties.get("jobRoleArn"), "executionRoleArn": properties.get("executionRoleArn"),
            "resourceRequirements": properties.get("resourceRequirements", []),
            "logConfiguration": properties.get("logConfiguration"),
        }
        if self.attempts:
            container.update({k: v for k, v in self.attempts[-1]["container"].items() if k != "taskArn"})
        return {k: v for k, v in container.items() if v is not None}

    def _started_at(self) -> Optional[int]:
        if self.is_parent:
            started = [c.started_at for c in self.children if c.started_at is not None]
            return min(started) if started else None
        return self.started_at

    def _stopped_at(self) -> Optional[int]:
        if self.is_parent:
            if self.current_status() not in TERMINAL:
                return None
            return max((c.stopped_at or 0) for c in self.children)
        return self.stopped_at


def _rule_matches(rule: dict[str, Any], attempt: dict[str, Any]) -> bool:
    """Every pattern the rule names matches (each may end in `*`)."""
    container = attempt.get("container") or {}
    values = {"onStatusReason": attempt.get("statusReason", ""), "onReason": container.get("reason", ""),
              "onExitCode": str(container.get("exitCode", ""))}
    named = [key for key in values if rule.get(key) is not None]
    return bool(named) and all(fnmatch.fnmatchcase(values[key], str(rule[key])) for key in named)
