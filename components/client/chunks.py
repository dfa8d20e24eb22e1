"""Several tasks per Batch job: an array job of ceil(T/N) children for T tasks that arrived
together, child c running tasks c*N .. c*N+N-1 one after another (worker/chunk.py).

AWS Batch's best practices put a job's useful length at minutes: a job of a second spends
more time being scheduled and started than running. `tasks_per_job` packs N tasks into each
job; "auto" sizes N from the group's length and a target number of jobs. Each task stays its
own Wove task: its own result, error and heartbeat (its own frames), and its own submission id
(`<child id>#<task index>`), so that Wove cancels one task, not its siblings: the submitter
lists it in the child's cancel object (protocol.cancel_key), which the worker reads before
its tasks (worker/chunk.py Cancellations).
A child Batch marks FAILED fails only its tasks that had not answered: each task's failure is
held until the poller's last sweep of its results and sent only if no final event came
(job_ends.py).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from .watcher import Submitted

AUTO = "auto"
TARGET_JOBS = 100  # "auto": jobs a group of tasks is spread over, at most


def check_tasks_per_job(value: Any, target_jobs: Any = TARGET_JOBS) -> Union[int, str]:
    """The setting as given, or ValueError naming it."""
    if value != AUTO and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"tasks_per_job: {value!r} is not a number of tasks (1 or more) or {AUTO!r}")
    if not (isinstance(target_jobs, int) and not isinstance(target_jobs, bool) and target_jobs >= 1):
        raise ValueError(f"target_jobs: {target_jobs!r} is not a number of jobs (1 or more)")
    return value


def tasks_per_child(setting: Union[int, str], tasks: int, target_jobs: int = TARGET_JOBS) -> int:
    """N for a group of `tasks`: the setting, or with "auto" as many as spread them over
    `target_jobs` jobs."""
    if setting == AUTO:
        return max(1, math.ceil(tasks / target_jobs))
    return int(setting)


def child_count(tasks: int, per_child: int) -> int:
    return math.ceil(tasks / per_child)


@dataclass
class ChunkSubmitted(Submitted):
    """A job (or array child) that runs several tasks: what the watcher holds for it."""

    tasks: list[Submitted] = field(default_factory=list)
    cancel_key: Optional[str] = None  # the child's cancel object: deleted when the job ends
    cancelled: set[int] = field(default_factory=set)  # task indices listed in it
    lock: threading.Lock = field(default_factory=threading.Lock)  # one PUT of the object at a time
    task_job_ids: list[str] = field(default_factory=list)  # the tasks' submission ids
    pack_key: Optional[str] = None  # a plain job's own pack (an array's is the array's)
