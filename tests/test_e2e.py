"""End to end: the stack's outputs drive the real Wove aws_batch executor against moto's
AWS Batch emulator (strict mode), with this harness as the compute environment."""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest
import wove
from botocore.exceptions import ClientError

from batch_emulator import REGION, JobRunner, MotoServer, deploy, free_port, submitter_address
from wove_batch.tools.plan import Plan
from wove_batch.client import (
    BatchJobFailedError,
    close_environments,
    wove_environments,
)
from conftest import physical, plan_of

JOB_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def stack(moto: MotoServer) -> Plan:
    """A fresh emulator holding what the stack program declares: two queues of different
    priority over one EC2 environment, one job definition, three Wove environments (two with
    callback results, one with exchange results)."""
    moto.reset()
    moto.hold_jobs()
    port = free_port(consecutive=2)
    cluster = {
        "image": {"python_version": "3.11"},
        "compute_environments": {"cpu": {"type": "EC2", "instance_types": ["m6i.large"], "max_vcpus": 16}},
        "job_queues": {
            "high": {"priority": 10, "compute_environments": ["cpu"]},
            "low": {"priority": 1, "compute_environments": ["cpu"], "runnable_timeout_seconds": 3600,
                    "fair_share": {"share_decay_seconds": 600, "shares": {"bulk": 1.0}}},
        },
        "job_definitions": {"worker": {"vcpus": 1, "memory": 2048, "retry_attempts": 2, "timeout_seconds": 600}},
        "wove_environments": {
            "batch": {"job_queue": "high", "job_definition": "worker"},
            "batch_low": {"job_queue": "low", "job_definition": "worker", "share_identifier": "bulk"},
            "batch_exchange": {"job_queue": "high", "job_definition": "worker", "results": "exchange"},
        },
        "callback": {"base_url": f"http://{submitter_address()}:{port}", "port": port},
    }
    plan = plan_of(cluster, name="e2e", region=REGION)
    deploy(plan, moto)
    return plan


@pytest.fixture
def environments(stack: Plan, moto: MotoServer, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The helper's environments, with only the boto3 client pointed at moto, in wove.config
    (with the helper's options a test gives as the fixture's indirect parameter)."""
    options = {"poll_seconds": 0.5, "results_poll_seconds": 0.2, **getattr(request, "param", {})}
    envs = wove_environments(
        {"wove_environments": stack.outputs["wove_environments"]},
        client_factory=lambda **options: moto.client("batch", **options),
        s3_factory=lambda **options: moto.client("s3", **options),
        logs_factory=lambda **options: moto.client("logs", **options),
        **options,
    )
    wove.config(environments=envs)
    try:
        yield envs
    finally:
        close_environments(envs)
        wove.config(environments={name: None for name in envs})


def runner(moto: MotoServer, stack: Plan, worker_venv: Path, app_dir: Path) -> JobRunner:
    return JobRunner(moto, list(stack.outputs["job_queues"].values()), worker_venv / "bin", app_dir)


def test_deployed_resources_match_the_plan(stack: Plan, moto: MotoServer) -> None:
    batch = moto.client("batch")
    queues = {q["jobQueueName"]: q for q in batch.describe_job_queues()["jobQueues"]}
    assert set(queues) == set(stack.outputs["job_queues"].values())
    high = queues[stack.outputs["job_queues"]["high"]]
    assert high["priority"] == 10
    assert [o["computeEnvironment"] for o in high["computeEnvironmentOrder"]] == [stack.outputs["compute_environments"]["cpu"]]
    low = queues[stack.outputs["job_queues"]["low"]]
    assert low["schedulingPolicyArn"].endswith(f":scheduling-policy/{physical('e2e-fair-share-low')}")
    (policy,) = batch.describe_scheduling_policies(arns=[low["schedulingPolicyArn"]])["schedulingPolicies"]
    assert policy["fairsharePolicy"]["shareDistribution"] == [{"shareIdentifier": "bulk", "weightFactor": 1.0}]
    (environment,) = batch.describe_compute_environments(computeEnvironments=[stack.outputs["compute_environments"]["cpu"]])["computeEnvironments"]
    template = environment["computeResources"]["launchTemplate"]
    assert template["version"] == "1" and template["launchTemplateId"].startswith("lt-")
    (definition,) = batch.describe_job_definitions(jobDefinitionName=stack.outputs["job_definitions"]["worker"])["jobDefinitions"]
    assert definition["containerProperties"]["command"] == ["python", "-m", "wove_batch.worker"]
    assert definition["retryStrategy"]["attempts"] == 2
    assert definition["timeout"] == {"attemptDurationSeconds": 600}
    assert definition["containerProperties"]["logConfiguration"]["logDriver"] == "awslogs"


def test_one_task_runs_as_a_batch_job_and_returns(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path
) -> None:
    import wove_demo_tasks

    with runner(moto, stack, worker_venv, app_dir) as jobs:
        with wove.weave() as w:
            @w.do(environment="batch")
            def squared() -> int:
                return wove_demo_tasks.square(7)

        (job,) = jobs.wait_idle(1)
    assert w.result.squared == 49
    assert JOB_NAME.fullmatch(job.job_name) and job.job_name.startswith("wove-squared-")
    assert job.job_queue.endswith(f"/{stack.outputs['job_queues']['high']}")
    assert job.job_definition.split("/")[-1].split(":")[0] == stack.outputs["job_definitions"]["worker"]
    assert job.command == ["python", "-m", "wove_batch.worker"]
    assert "WOVE_BACKEND_PAYLOAD" in job.environment and job.returncode == 0


@pytest.mark.parametrize("environments", [{"array_jobs": True}, {"array_jobs": False}], indirect=True,
                         ids=["array jobs", "one job per task"])
def test_fan_out_of_twenty_tasks_over_two_queues(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path
) -> None:
    """A map per queue: as one array job each (children `<arrayJobId>:<index>`), or, with
    array jobs off, one plain job per task."""
    import wove_demo_tasks

    with runner(moto, stack, worker_venv, app_dir) as jobs:
        with wove.weave() as w:
            @w.do(range(10), environment="batch")
            def urgent(item: int) -> int:
                return wove_demo_tasks.square(item)

            @w.do(range(10, 20), environment="batch_low")
            def bulk(item: int) -> int:
                return wove_demo_tasks.square(item)

        ran = jobs.wait_idle(20)
    assert w.result.urgent == [i * i for i in range(10)]
    assert w.result.bulk == [i * i for i in range(10, 20)]
    assert [job.returncode for job in ran] == [0] * 20
    by_queue = Counter(job.job_queue.rsplit("/", 1)[1] for job in ran)
    assert by_queue == {stack.outputs["job_queues"]["high"]: 10, stack.outputs["job_queues"]["low"]: 10}
    if environments["batch"]["executor_config"]["client"].batcher is None:
        assert len({job.job_name for job in ran}) == 20 and jobs.array_parents == set()
        assert all(JOB_NAME.fullmatch(job.job_name) and ":" not in job.job_id for job in ran)
        return
    assert len(jobs.array_parents) == 2
    for task in ("urgent", "bulk"):
        children = sorted((job for job in ran if job.job_name.startswith(f"wove-{task}-x10-")), key=lambda job: job.job_id)
        (parent,) = {job.job_id.rsplit(":", 1)[0] for job in children}
        assert parent in jobs.array_parents
        assert [job.job_id for job in children] == sorted(f"{parent}:{index}" for index in range(10))
        assert re.fullmatch(rf"wove-{task}-x10-[0-9a-f]{{32}}", children[0].job_name)


def test_task_error_reaches_the_caller(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path
) -> None:
    import wove_demo_tasks

    with runner(moto, stack, worker_venv, app_dir) as jobs:
        with wove.weave() as w:
            @w.do(environment="batch")
            def failing() -> None:
                wove_demo_tasks.explode("disk full")
        jobs.wait_idle(1)
    # Wove raises a task's error where its result is read, as it does for local tasks.
    with pytest.raises(ValueError, match="^disk full$"):
        w.result.failing


def test_worker_that_dies_is_reported_by_the_delivery_timeout(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path
) -> None:
    import wove_demo_tasks

    started = time.monotonic()
    with runner(moto, stack, worker_venv, app_dir) as jobs:
        with wove.weave() as w:
            @w.do(environment="batch", delivery_timeout=5)
            def dies() -> None:
                wove_demo_tasks.die(3)
        (job,) = jobs.wait_idle(1)
    with pytest.raises(wove.DeliveryTimeoutError, match=r"^Delivery timeout exceeded for task 'dies' \(5s\)\.$"):
        w.result.dies
    assert job.returncode == 3
    assert time.monotonic() - started < 30


def one_task_on(executor_config: dict[str, Any]) -> Any:
    """The result of a one-task weave on a temporary aws_batch environment with this config
    (Wove raises the task's error where its result is read)."""
    wove.config(environments={"temporary": {"executor": "aws_batch", "executor_config": executor_config}})
    try:
        with wove.weave() as w:
            @w.do(environment="temporary")
            def anything() -> int:
                return 1

        return w.result.anything
    finally:
        wove.config(environments={"temporary": None})


def test_unknown_job_definition_fails_the_submit_clearly(stack: Plan, environments: dict) -> None:
    config = dict(environments["batch"]["executor_config"], job_definition="no-such-definition")
    with pytest.raises(ClientError, match="Job definition no-such-definition does not exist"):
        one_task_on(config)


def test_without_the_helper_wove_job_names_are_rejected_by_batch(stack: Plan, moto: MotoServer) -> None:
    """Trap 1: Wove names jobs `<prefix>-<task>:<hex>`; AWS Batch (and moto, strict) refuse ':'."""
    raw = stack.outputs["wove_environments"]["batch"]
    with pytest.raises(ClientError, match="Job name should match valid pattern"):
        one_task_on(dict(raw["executor_config"], client=moto.client("batch")))


def test_job_batch_marks_failed_surfaces_as_an_exception_naming_it(
    stack: Plan, moto: MotoServer, environments: dict
) -> None:
    """Nobody runs this job: moto, left to itself without Docker, marks it FAILED."""
    moto.let_moto_run_jobs()
    started = time.monotonic()
    with wove.weave() as w:
        @w.do(environment="batch")
        def lost() -> int:
            return 1
    elapsed = time.monotonic() - started
    with pytest.raises(BatchJobFailedError) as raised:
        w.result.lost
    assert elapsed < 10
    message = str(raised.value)
    assert re.fullmatch(
        r"AWS Batch job wove-lost-[0-9a-f]{32} \(([0-9a-f-]{36})\) of task 'lost' FAILED: no status reason given\n"
        # moto ran no container: no attempt, no log stream (issue 21's details)
        r"attempts: [01] \(0 Spot reclaims\)\nlog stream: none\n"
        r"console: https://us-east-1\.console\.aws\.amazon\.com/batch/home\?region=us-east-1#jobs/detail/\1\n"
        r"last log lines \(20 at most\):\n  \(no log stream: the job's container never started\)", message
    ), message
    (summary,) = moto.client("batch").list_jobs(jobQueue=stack.outputs["job_queues"]["high"], jobStatus="FAILED")["jobSummaryList"]
    assert summary["jobName"] in message and summary["jobId"] in message
    client = environments["batch"]["executor_config"]["client"]
    deadline = time.monotonic() + 5
    while client.is_watching and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (client.is_watching, client.watched_job_ids) == (False, [])  # nothing left: polling stopped


def test_watcher_polls_in_batches_of_at_most_100_jobs(stack: Plan, moto: MotoServer, environments: dict) -> None:
    """150 submitted jobs, watched through the real boto3 client: DescribeJobs never gets
    more than 100 ids, and every job is asked about."""
    client = environments["batch"]["executor_config"]["client"]
    asked: list[int] = []
    client.meta.events.register("provide-client-params.batch.DescribeJobs", lambda params, **_: asked.append(len(params["jobs"])))
    payload = "eyJydW5faWQiOiAiYTpiIiwgImNhbGxiYWNrX3VybCI6ICJodHRwOi8vMTI3LjAuMC4xOjEvIn0="  # {"run_id": "a:b", "callback_url": ...}
    for i in range(150):
        client.submit_job(
            jobName=f"wove-load:{i}",
            jobQueue=stack.outputs["job_queues"]["low"],
            jobDefinition=stack.outputs["job_definitions"]["worker"],
            containerOverrides={"environment": [{"name": "WOVE_BACKEND_PAYLOAD", "value": payload}]},
        )
    submitted_at = len(asked)

    def full_round() -> bool:  # a round begun after the last submit asks about all 150
        later = asked[submitted_at:]
        return any(later[i : i + 2] == [100, 50] for i in range(len(later)))

    deadline = time.monotonic() + 10
    while not full_round() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert full_round(), asked
    assert max(asked) <= 100
    assert len(client.watched_job_ids) == 150  # held SUBMITTED: still watched
    client.close()
    assert client.watched_job_ids == []


@pytest.mark.parametrize(("environment", "size"), [("batch", 200), ("batch_exchange", 30)])
def test_a_map_runs_as_array_children_with_every_result_correct(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path, environment: str, size: int
) -> None:
    """Each child reads its own payload from the pack by AWS_BATCH_JOB_ARRAY_INDEX; with
    exchange results each writes under its own `<batch>/<index>/` prefix."""
    import wove_demo_tasks

    with JobRunner(moto, list(stack.outputs["job_queues"].values()), worker_venv / "bin", app_dir, workers=16) as jobs:
        with wove.weave() as w:
            @w.do(range(size), environment=environment)
            def mapped(item: int) -> int:
                return wove_demo_tasks.square(item)
        ran = jobs.wait_idle(size, timeout=120)
    assert w.result.mapped == [i * i for i in range(size)]
    assert [job.returncode for job in ran] == [0] * size
    children = Counter(job.job_id.rsplit(":", 1)[0] for job in ran)
    assert set(children) == jobs.array_parents and sum(children.values()) == size
    submits = moto.client("batch").list_jobs(jobQueue=stack.outputs["job_queues"]["high"],
                                              filters=[{"name": "JOB_NAME", "values": ["wove-mapped-x*"]}])
    assert {job["jobId"] for job in submits["jobSummaryList"] if ":" not in job["jobId"]} == jobs.array_parents


def test_a_child_that_dies_fails_its_own_task_while_its_siblings_succeed(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path
) -> None:
    """Child 4's process dies without answering; once the harness has run every child, moto is
    let to finish the jobs (it marks them FAILED, having no Docker): the watcher finds child 4
    among the array's failed children and fails its task. The siblings had answered: Wove keeps
    their results and ignores the late reports."""
    import threading

    import wove_demo_tasks

    with runner(moto, stack, worker_venv, app_dir) as jobs:
        finisher = threading.Thread(target=lambda: (jobs.wait_idle(6, timeout=60), moto.let_moto_run_jobs()))
        finisher.start()
        with wove.weave() as w:
            @w.do(range(6), environment="batch")
            def mapped(item: int) -> int:
                return wove_demo_tasks.die(3) if item == 4 else wove_demo_tasks.square(item)
        finisher.join()
        ran = {job.job_id: job for job in jobs.jobs.values()}
    (parent,) = jobs.array_parents
    assert {job_id: job.returncode for job_id, job in ran.items()} == {
        f"{parent}:{index}": 3 if index == 4 else 0 for index in range(6)
    }
    with pytest.raises(BatchJobFailedError) as raised:
        w.result.mapped
    assert re.fullmatch(rf"AWS Batch job wove-mapped-x6-[0-9a-f]{{32}} \({parent}:4\) of task 'mapped' FAILED: .+\n"
                        r"attempts: [0-9]+ \(0 Spot reclaims\)\nlog stream: .+\nconsole: .+%3A4\n"
                        r"last log lines \(20 at most\):(\n  .*)+",
                        str(raised.value)), str(raised.value)


def test_cancelling_a_weave_terminates_its_outstanding_children(stack: Plan, moto: MotoServer, environments: dict) -> None:
    """Nobody runs the jobs; once the array is in Batch, a local task fails, Wove cancels the
    map's 50 tasks, and each child is terminated with Wove's reason."""
    batch = moto.client("batch")
    queue = stack.outputs["job_queues"]["high"]

    with wove.weave() as w:
        @w.do(range(50), environment="batch")
        def mapped(item: int) -> int:
            return item

        @w.do
        async def fails_once_the_array_is_submitted() -> None:
            import asyncio

            while not [job for job in batch.list_jobs(jobQueue=queue, jobStatus="SUBMITTED")["jobSummaryList"]
                       if ":" not in job["jobId"]]:
                await asyncio.sleep(0.1)
            raise RuntimeError("stop the weave")

    with pytest.raises(RuntimeError, match="^stop the weave$"):
        w.result.fails_once_the_array_is_submitted
    (parent,) = [job["jobId"] for job in batch.list_jobs(jobQueue=queue, jobStatus="SUBMITTED")["jobSummaryList"]
                 if ":" not in job["jobId"]]
    children = batch.describe_jobs(jobs=[f"{parent}:{index}" for index in range(50)])["jobs"]
    assert sorted((job["jobId"], job.get("statusReason")) for job in children) == sorted(
        (f"{parent}:{index}", "Cancelled by Wove.") for index in range(50)
    )


def test_a_definition_with_efs_and_shared_memory_is_accepted_and_runs_a_task(
    moto: MotoServer, worker_venv: Path, app_dir: Path
) -> None:
    """A definition with an EFS volume (through an access point, IAM authorization) and 512 MiB
    of shared memory, registered in moto's strict Batch, runs a Wove task; moto keeps what the
    ECS agent would get (the harness runs the job as a process, so the mount itself is not made)."""
    import wove_demo_tasks

    moto.reset()
    moto.hold_jobs()
    volume = {"file_system_id": "fs-0123456789abcdef0", "container_path": "/mnt/data",
              "access_point_id": "fsap-0123456789abcdef0"}
    plan = plan_of({
        "image": {"python_version": "3.11"},
        "compute_environments": {"cpu": {"type": "EC2", "instance_types": ["m6i.large"], "max_vcpus": 16}},
        "job_queues": {"main": {"compute_environments": ["cpu"]}},
        "job_definitions": {"worker": {"shared_memory_mib": 512, "init_process": True, "efs_volumes": {"data": volume}}},
        "wove_environments": {"batch": {"job_queue": "main", "job_definition": "worker", "results": "exchange"}},
    }, name="efs", region=REGION)
    deploy(plan, moto)
    (registered,) = moto.client("batch").describe_job_definitions(
        jobDefinitionName=plan.outputs["job_definitions"]["worker"])["jobDefinitions"]
    container = registered["containerProperties"]
    assert container["linuxParameters"] == {"sharedMemorySize": 512, "initProcessEnabled": True}
    assert container["volumes"] == [{"name": "data", "efsVolumeConfiguration": {
        "fileSystemId": "fs-0123456789abcdef0", "transitEncryption": "ENABLED",
        "authorizationConfig": {"accessPointId": "fsap-0123456789abcdef0", "iam": "ENABLED"}}}]
    assert container["mountPoints"] == [{"sourceVolume": "data", "containerPath": "/mnt/data", "readOnly": False}]
    envs = wove_environments({"wove_environments": plan.outputs["wove_environments"]},
                             client_factory=lambda **options: moto.client("batch", **options),
                             s3_factory=lambda **options: moto.client("s3", **options),
                             poll_seconds=0.5, results_poll_seconds=0.2)
    wove.config(environments=envs)
    try:
        with JobRunner(moto, list(plan.outputs["job_queues"].values()), worker_venv / "bin", app_dir) as jobs:
            with wove.weave() as w:
                @w.do(environment="batch")
                def squared() -> int:
                    return wove_demo_tasks.square(12)
            (job,) = jobs.wait_idle(1)
    finally:
        close_environments(envs)
        wove.config(environments={name: None for name in envs})
    assert (job.returncode, w.result.squared) == (0, 144)
