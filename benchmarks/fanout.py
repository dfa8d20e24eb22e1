"""Fan-out at the SubmitJob quota: N mapped tasks through Wove's real executor and the helper,
against the stand-in Batch client (tests/standin_aws.py: SubmitJob takes 80 ms and the account
quota of 50 calls a second is enforced as AWS does, TooManyRequestsException past it), with
Wove's real worker answering every job in process (64 at a time) and an in-memory S3 that
takes 20 ms a request.

Modes, measured in one run:
- baseline: the helper as it was (each SubmitJob inside Wove's event loop, one after
  another, no retry);
- one job per task: paced submits (default 45 a second) on the submitter's threads;
- array jobs: tasks arriving together go as array jobs (the default).

For each: seconds until every task was submitted (the last SubmitJob accepted), seconds until
every result arrived (the weave ended), SubmitJob calls, throttled calls, tasks lost.

    .venv/bin/python benchmarks/fanout.py [--sizes 100 1000 10000] [--baseline-sizes 100 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import wove  # noqa: E402

from batch_emulator import free_port  # noqa: E402
from standin_aws import StandInBatch, StandInS3, run_worker_in_process, standin_outputs  # noqa: E402
from wove_batch.client import close_environments, wove_environments  # noqa: E402


class SerialAsBefore:
    """The helper as it was: SubmitJob in Wove's event loop, blocking it, no retry."""

    def __init__(self, helper: Any) -> None:
        self.helper = helper

    def submit_job(self, **params: Any) -> dict[str, Any]:
        return self.helper.submit_blocking(**params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.helper, name)


def square(item: int) -> int:
    return item * item


def run(mode: str, size: int, latency: float) -> dict[str, Any]:
    s3 = StandInS3(latency=0.02)
    batch = StandInBatch(run_worker_in_process(s3), latency=latency, tps=50)
    options: dict[str, Any] = {"array_jobs": mode == "array jobs"}
    if mode == "baseline":
        options.update(submit_max_attempts=1, submit_rate=1e9)  # no pacing, no retry
    environments = wove_environments(standin_outputs(free_port()), client_factory=lambda **_: batch,
                                     s3_factory=lambda **_: s3, **options)
    config = environments["batch"]["executor_config"]
    if mode == "baseline":
        config["client"] = SerialAsBefore(config["client"])
    wove.config(environments=environments)
    started = time.monotonic()
    error = None
    try:
        with wove.weave() as w:
            @w.do(range(size), environment="batch")
            def mapped(item: int) -> int:
                return square(item)
        results = w.result.mapped
    except Exception as exc:  # noqa: BLE001 - reported as the row's outcome
        results, error = [], f"{type(exc).__name__}"
    ended = time.monotonic()
    lost = size - sum(1 for index, value in enumerate(results) if value == index * index)
    row = {
        "mode": mode, "tasks": size, "latency_ms": round(latency * 1000),
        "submitted_s": round(batch.last_accepted_at - started, 2) if batch.jobs else None,
        "results_s": round(ended - started, 2),
        "submit_calls": batch.calls, "throttled": batch.throttled, "lost": lost,
        # tasks Batch accepted (plain jobs and array children) per second until the last was
        "tasks_per_s": round(sum(1 for job in batch.jobs.values() if not job.size)
                             / max(batch.last_accepted_at - started, 1e-9)) if batch.jobs else None,
        "error": error,
    }
    close_environments(environments)
    wove.config(environments={"batch": None})
    batch.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--baseline-sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--plain-sizes", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    plan = [("baseline", size, 0.08) for size in args.baseline_sizes]
    plan += [("one job per task", size, 0.08) for size in args.plain_sizes]
    plan += [("array jobs", size, 0.08) for size in args.sizes]
    plan += [("baseline", 200, 0.001), ("one job per task", 200, 0.001)]  # a fast network: the quota bites
    print("| mode | tasks | SubmitJob latency | all submitted (s) | all results (s) | SubmitJob calls | throttled | "
          "tasks submitted/s | tasks lost |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for mode, size, latency in plan:
        row = run(mode, size, latency)
        lost = f"{row['lost']}" + (f" ({row['error']})" if row["error"] else "")
        print(f"| {row['mode']} | {row['tasks']:,} | {row['latency_ms']} ms | {row['submitted_s']} | {row['results_s']} | "
              f"{row['submit_calls']:,} | {row['throttled']:,} | {row['tasks_per_s']} | {lost} |", flush=True)


if __name__ == "__main__":
    main()
