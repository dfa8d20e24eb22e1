"""Many short tasks: one task per Batch job against N tasks per job, in one run.

A map of `--tasks` tasks of `--task-ms` each goes through Wove's real executor and the helper
to the stand-in Batch (tests/standin_aws.py: SubmitJob 80 ms, 50 calls a second, 64 jobs at a
time running Wove's real worker in this process, callback results). Each job first waits
`--start-seconds`, standing in for what AWS spends scheduling a job and starting its
container (seconds: see README "Container start"); the stand-in has no such cost of its own.

Reported: Batch jobs started (plain jobs and array children), seconds to the last result,
and the submitter's CPU seconds (the process's CPU minus what the in-process jobs' threads
used, measured per job with time.thread_time).

    .venv/bin/python benchmarks/chunks.py [--tasks 10000] [--per-job 1 100] [--start-seconds 0.5]
"""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import wove  # noqa: E402

from batch_emulator import free_port  # noqa: E402
from standin_aws import StandInBatch, StandInS3, run_worker_in_process, standin_outputs  # noqa: E402
from wove_batch.client import close_environments, wove_environments  # noqa: E402


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class TimedJobs:
    """The compute environment: waits `start_seconds`, runs the worker, and adds up the CPU
    its thread used."""

    def __init__(self, s3: Any, start_seconds: float) -> None:
        self.worker = run_worker_in_process(s3)
        self.start_seconds = start_seconds
        self.cpu = 0.0
        self.started = 0
        self._lock = threading.Lock()

    def __call__(self, environment: dict[str, str]) -> int:
        time.sleep(self.start_seconds)
        before = time.thread_time()
        try:
            return self.worker(environment)
        finally:
            with self._lock:
                self.cpu += time.thread_time() - before
                self.started += 1


def run(tasks: int, per_job: int, task_seconds: float, start_seconds: float) -> dict[str, Any]:
    s3 = StandInS3(latency=0.02)
    jobs = TimedJobs(s3, start_seconds)
    batch = StandInBatch(jobs, latency=0.08, tps=50)
    environments = wove_environments(standin_outputs(free_port()), client_factory=lambda **_: batch,
                                     s3_factory=lambda **_: s3, tasks_per_job=per_job, array_window_seconds=0.5)
    wove.config(environments=environments)
    cpu_before, started = process_cpu(), time.monotonic()
    with wove.weave() as w:
        @w.do(range(tasks), environment="batch")
        def mapped(item: int) -> int:
            time.sleep(task_seconds)
            return item
    results = w.result.mapped
    seconds, cpu = time.monotonic() - started, process_cpu() - cpu_before
    close_environments(environments)
    wove.config(environments={"batch": None})
    batch.close()
    assert results == list(range(tasks)), "results lost or out of order"
    return {"jobs": jobs.started, "seconds": seconds, "submitter_cpu": cpu - jobs.cpu,
            "submit_calls": batch.calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--per-job", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--task-ms", type=float, default=50)
    parser.add_argument("--start-seconds", type=float, default=0.5)
    args = parser.parse_args()
    print(f"{args.tasks:,} tasks of {args.task_ms:g} ms, {args.start_seconds:g} s to start each job, 64 jobs at a time")
    print("| tasks per job | Batch jobs started | SubmitJob calls | seconds to the last result | submitter CPU s |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for per_job in args.per_job:
        row = run(args.tasks, per_job, args.task_ms / 1000, args.start_seconds)
        print(f"| {per_job} | {row['jobs']:,} | {row['submit_calls']:,} | {row['seconds']:.1f} | "
              f"{row['submitter_cpu']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
