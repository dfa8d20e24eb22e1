"""Several tasks per Batch job (client/chunks.py, worker/chunk.py): end to end with the real
Wove executor on moto's Batch and S3, the harness as the compute environment."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
import wove

from batch_emulator import JobRunner, MotoServer
from test_e2e import environments, moto, stack  # noqa: F401 - the e2e stack's fixtures
from wove_batch import protocol
from wove_batch.client import BatchJobFailedError, chunks
from wove_batch.client.chunks import check_tasks_per_job, tasks_per_child
from wove_batch.client.reports import TaskReports
from wove_batch.tools.plan import Plan
from wove_batch.worker.chunk import chunk_tasks


def finish_after(jobs: JobRunner, moto: MotoServer, count: int, timeout: float) -> threading.Thread:
    """Once `count` jobs ran, or after `timeout` seconds at most, moto ends them (FAILED: it has
    no Docker): a task that has not answered by then fails the weave instead of hanging it."""

    def finish() -> None:
        try:
            jobs.wait_idle(count, timeout=timeout)
        finally:
            moto.let_moto_run_jobs()

    thread = threading.Thread(target=finish)
    thread.start()
    return thread


def test_auto_spreads_a_group_over_the_target_number_of_jobs() -> None:
    assert [tasks_per_child("auto", n, 100) for n in (1, 100, 101, 10_000, 25_000)] == [1, 1, 2, 100, 250]
    assert tasks_per_child(7, 10_000) == 7


@pytest.mark.parametrize(("value", "target", "message"), [
    (0, 100, "tasks_per_job: 0 is not a number of tasks (1 or more) or 'auto'"),
    (True, 100, "tasks_per_job: True is not a number of tasks (1 or more) or 'auto'"),
    ("many", 100, "tasks_per_job: 'many' is not a number of tasks (1 or more) or 'auto'"),
    ("auto", 0, "target_jobs: 0 is not a number of jobs (1 or more)"),
])
def test_a_bad_setting_is_refused_naming_it(value: Any, target: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_tasks_per_job(value, target)


def test_child_c_runs_its_own_slice_and_the_last_child_the_rest() -> None:
    env = {protocol.TASKS_PER_CHILD_VARIABLE: "100", protocol.TASK_COUNT_VARIABLE: "250"}
    assert [chunk_tasks({**env, protocol.ARRAY_INDEX_VARIABLE: str(c)}) for c in range(3)] == [
        range(0, 100), range(100, 200), range(200, 250)]
    assert chunk_tasks(env) == range(0, 100)  # a plain job is child 0


@pytest.mark.parametrize("environments", [{"tasks_per_job": 100, "array_window_seconds": 5.0}], indirect=True)
def test_a_thousand_task_map_at_a_hundred_per_child_returns_every_result_in_order(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path  # noqa: F811
) -> None:
    import wove_demo_tasks

    with JobRunner(moto, list(stack.outputs["job_queues"].values()), worker_venv / "bin", app_dir) as jobs:
        finisher = finish_after(jobs, moto, 10, timeout=300)
        with wove.weave() as w:
            @w.do(range(1_000), environment="batch_exchange")
            def mapped(item: int) -> int:
                return wove_demo_tasks.square(item)
        finisher.join()
        ran = list(jobs.jobs.values())
    assert w.result.mapped == [i * i for i in range(1_000)]
    (parent,) = jobs.array_parents
    assert sorted(job.job_id for job in ran) == sorted(f"{parent}:{c}" for c in range(10))
    assert [job.returncode for job in ran] == [0] * 10, [job.output[-2000:] for job in ran]


@pytest.mark.parametrize("environments", [{"tasks_per_job": 5, "array_window_seconds": 2.0}], indirect=True)
def test_a_child_killed_mid_chunk_fails_exactly_its_unfinished_tasks(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ten tasks in two children of five; task 7 kills child 1's process. Once every child ran,
    moto ends both jobs FAILED (it has no Docker): child 0's tasks had all answered, so none of
    them fails; of child 1's, 5 and 6 had answered and keep their results; 7, 8, 9 fail."""
    import wove_demo_tasks

    failed: list[str] = []  # the tasks the client reported failed (by their index in the map)
    send = TaskReports.send

    def recorded(self: TaskReports, submitted: Any, frame_type: str, error: Any = None) -> None:
        if frame_type == "task_error":
            failed.append(submitted.slot.rsplit("/", 1)[1])
        send(self, submitted, frame_type, error)

    monkeypatch.setattr(TaskReports, "send", recorded)
    with JobRunner(moto, list(stack.outputs["job_queues"].values()), worker_venv / "bin", app_dir) as jobs:
        finisher = finish_after(jobs, moto, 2, timeout=120)
        with wove.weave() as w:
            @w.do(range(10), environment="batch_exchange")
            def mapped(item: int) -> int:
                return wove_demo_tasks.die(3) if item == 7 else wove_demo_tasks.square(item)
        finisher.join()
        ran = {job.job_id: job.returncode for job in jobs.jobs.values()}
    (parent,) = jobs.array_parents
    assert ran == {f"{parent}:0": 0, f"{parent}:1": 3}
    assert sorted(failed, key=int) == ["7", "8", "9"]
    with pytest.raises(BatchJobFailedError, match=rf"^AWS Batch job wove-mapped-x10-[0-9a-f]{{32}} \({parent}:1\) "
                                                   r"of task 'mapped' FAILED: "):
        w.result.mapped


@pytest.mark.parametrize("environments", [{"tasks_per_job": 10}], indirect=True)
def test_a_cancelled_task_inside_a_chunk_is_not_run(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Ten tasks in one job; the weave fails once it is in Batch and Wove cancels the ten: each
    gets a cancel marker (not TerminateJob, which would end its siblings too). When the job
    then runs, the worker reads the markers and runs none of them."""
    batch = moto.client("batch")
    queue = stack.outputs["job_queues"]["high"]
    ran_folder = tmp_path / "ran"
    ran_folder.mkdir()
    ran_folder.chmod(0o777)

    with wove.weave() as w:
        @w.do(range(10), environment="batch_exchange")
        def mapped(item: int) -> int:
            (ran_folder / str(item)).write_text("ran")
            return item

        @w.do
        async def fails_once_the_job_is_submitted() -> None:
            import asyncio

            while not batch.list_jobs(jobQueue=queue, jobStatus="SUBMITTED")["jobSummaryList"]:
                await asyncio.sleep(0.1)
            raise RuntimeError("stop the weave")

    with pytest.raises(RuntimeError, match="^stop the weave$"):
        w.result.fails_once_the_job_is_submitted
    (job,) = batch.list_jobs(jobQueue=queue, jobStatus="SUBMITTED")["jobSummaryList"]
    assert ":" not in job["jobId"] and "statusReason" not in batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]
    with JobRunner(moto, list(stack.outputs["job_queues"].values()), worker_venv / "bin", app_dir) as jobs:
        (done,) = jobs.wait_idle(1, timeout=60)
    assert done.returncode == 0, done.output[-2000:]
    assert sorted(ran_folder.iterdir()) == []


def test_the_cancel_list_is_read_first_and_then_at_most_once_a_second() -> None:
    from standin_aws import StandInS3

    from wove_batch.worker.chunk import Cancellations

    s3 = StandInS3()
    now = [100.0]
    cancelled = Cancellations(s3, "s3://exchange/payloads/s/b.cancel/0", clock=lambda: now[0])
    assert 3 not in cancelled and s3.requests == 1  # no object yet: nothing cancelled
    s3.put_object(Bucket="exchange", Key="payloads/s/b.cancel/0", Body=b"[3, 4]")
    now[0] += 0.5
    assert 3 not in cancelled and s3.requests == 2  # not read again within the second (1 was the PUT)
    now[0] += 0.5
    assert 3 in cancelled and 4 in cancelled and 5 not in cancelled and s3.requests == 3
