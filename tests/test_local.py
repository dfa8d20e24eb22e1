"""The local backend (wove_batch.local): the example stack planned offline, moto's server as
AWS, each Batch job the job definition's real command run on this machine; the real Wove
executor and the helper submit, watch and collect, in both results modes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import wove

from conftest import REPO
from wove_batch.client import BatchJobFailedError, wove_environments
from wove_batch.local import LocalCluster, local_outputs
from wove_batch.local import example
from wove_batch.tools.plan import run_stack
from wove_batch.tools.stack_config import load_stack_file

STACK = REPO / "Pulumi.dev.yaml"
FIVE_MB = 5 * 1024 * 1024
SUCCEEDED_PATH = ["RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"]


@pytest.fixture(scope="module", params=["callback", "exchange"])
def cluster(request: pytest.FixtureRequest) -> Iterator[LocalCluster]:
    """The example stack on the local backend, jobs as processes of this interpreter's worker."""
    with LocalCluster(STACK, results=request.param, image=False, slots=8) as running:
        yield running


@pytest.fixture
def configured(cluster: LocalCluster) -> Iterator[LocalCluster]:
    wove.config(environments=cluster.wove_environments)
    before = set(cluster.compute.jobs)
    # The weave's jobs, once each has ended (at most 60 s after its task's result arrived).
    cluster.new_jobs = lambda: [j for j in cluster.wait_idle(60) if j.job_id not in before]  # type: ignore[attr-defined]
    try:
        yield cluster
    finally:
        wove.config(environments={name: None for name in cluster.wove_environments})


def test_the_readme_example_weave_runs_locally(configured: LocalCluster) -> None:
    """README "From stack outputs to wove.config": rows here, crunch as a Batch job."""
    with wove.weave() as w:
        @w.do
        def rows() -> list[int]:
            return list(range(1, 101))

        @w.do(environment="batch", delivery_timeout=120)
        def crunch(rows: list[int]) -> int:
            return example.crunch(rows)

    assert w.result.crunch == 338350
    (job,) = configured.new_jobs()
    mode = configured.wove_environments["batch"]["wove_batch"]["results"]
    assert job.current_status() == "SUCCEEDED" and job.exit_code == 0
    assert job.command == ["python", "-m", "wove_batch.worker"]
    assert job.job_queue.endswith("/" + configured.plan.outputs["job_queues"]["interactive"])
    assert job.environment["AWS_DEFAULT_REGION"] == "us-east-1"
    assert ("WOVE_BATCH_RESULTS_URI" in job.environment) == (mode == "exchange")
    assert len(job.attempts) == 1 and job.attempts[0]["statusReason"] == "Essential container in task exited"


def test_a_5_mb_argument_and_result_take_the_exchange_bucket_and_back(configured: LocalCluster) -> None:
    data = bytes(range(256)) * (FIVE_MB // 256)
    with wove.weave() as w:
        @w.do
        def blob() -> bytes:
            return data

        @w.do(environment="batch", delivery_timeout=180)
        def echoed(blob: bytes) -> bytes:
            return example.echo(blob)

    assert w.result.echoed == data[::-1]
    (job,) = configured.new_jobs()
    assert job.environment["WOVE_BATCH_PAYLOAD_URI"].startswith(f"s3://{configured.plan.outputs['exchange_bucket']}/payloads/")
    assert "WOVE_BACKEND_PAYLOAD" not in job.environment


def test_a_map_of_200_items_runs_as_one_array_job(configured: LocalCluster) -> None:
    with wove.weave() as w:
        @w.do(range(200), environment="batch", delivery_timeout=300)
        def squares(item: int) -> int:
            return example.square(item)

    assert w.result.squares == [i * i for i in range(200)]
    (parent,) = [j for j in configured.new_jobs() if j.children]
    assert re.fullmatch(r"wove-squares-x200-[0-9a-f]{32}", parent.job_name)
    assert [c.job_id for c in parent.children] == [f"{parent.job_id}:{i}" for i in range(200)]
    assert {c.status for c in parent.children} == {"SUCCEEDED"}
    described = configured.batch_client(region_name="us-east-1").describe_jobs(jobs=[parent.job_id])["jobs"][0]
    assert described["status"] == "SUCCEEDED"
    assert described["arrayProperties"]["size"] == 200
    assert described["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 200


def test_a_failing_task_raises_its_error_where_its_result_is_read(configured: LocalCluster) -> None:
    with wove.weave() as w:
        @w.do(environment="batch", delivery_timeout=120)
        def failing() -> None:
            example.explode("disk full")

    with pytest.raises(ValueError, match="^disk full$"):
        w.result.failing
    (job,) = configured.new_jobs()
    # The worker reported the error and exited 0: the job succeeded, as on Batch.
    assert job.current_status() == "SUCCEEDED" and job.exit_code == 0


def test_a_task_that_dies_fails_its_job_after_the_definitions_attempts(configured: LocalCluster) -> None:
    """`small` has retry_attempts 2 and no evaluate_on_exit rules: Batch runs it twice. The
    watcher turns FAILED into the task's BatchJobFailedError; each attempt has its own log stream."""
    started = time.monotonic()
    with wove.weave() as w:
        @w.do(environment="batch")
        def dies() -> None:
            example.die(3)

    with pytest.raises(BatchJobFailedError) as raised:
        w.result.dies
    (job,) = configured.new_jobs()
    group = configured.outputs["wove_environments"]["batch"]["wove_batch"]["log_group"]
    assert re.fullmatch(rf"AWS Batch job wove-dies-[0-9a-f]+ \({job.job_id}\) of task 'dies' FAILED: "
                        r"Essential container in task exited \(exit code 3\)\n"
                        r"attempts: 2 \(0 Spot reclaims\)\n"
                        rf"log stream: {re.escape(group)}/small/default/[0-9a-f]{{32}}\n"
                        rf"console: https://us-east-1\.console\.aws\.amazon\.com/batch/home\?region=us-east-1#jobs/detail/{job.job_id}\n"
                        r"last log lines \(20 at most\):\n  \(the log stream is empty\)", str(raised.value)), str(raised.value)
    assert job.status == "FAILED" and job.status_reason == "Essential container in task exited"
    assert [a["container"]["exitCode"] for a in job.attempts] == [3, 3]
    streams = [a["container"]["logStreamName"] for a in job.attempts]
    assert all(re.fullmatch(r"small/default/[0-9a-f]{32}", s) for s in streams) and len(set(streams)) == 2
    assert time.monotonic() - started < 60


def test_spot_definitions_exit_on_an_application_failure_without_retrying(configured: LocalCluster) -> None:
    """`large` (Spot-backed) has 3 attempts but the rules RETRY on "Host EC2*", EXIT on "*":
    a dying worker is not run again."""
    with wove.weave() as w:
        @w.do(environment="batch_bulk")
        def dies() -> None:
            example.die(5)

    with pytest.raises(BatchJobFailedError):
        w.result.dies
    (job,) = configured.new_jobs()
    assert job.retry_strategy["attempts"] == 3
    assert [a["container"]["exitCode"] for a in job.attempts] == [5]


def test_job_states_logs_and_terminate_behave_as_batchs(cluster: LocalCluster) -> None:
    """Observed through DescribeJobs: SUBMITTED → RUNNABLE → STARTING → RUNNING → SUCCEEDED;
    the output in CloudWatch Logs; TerminateJob fails a running job with the reason given."""
    batch = cluster.batch_client(region_name="us-east-1")
    queue, definition = (cluster.plan.outputs[k][v] for k, v in (("job_queues", "interactive"), ("job_definitions", "small")))
    command = ["python", "-c", "import time; print('hello from', 'the job'); time.sleep(1.5)"]
    job_id = batch.submit_job(jobName="states", jobQueue=queue, jobDefinition=definition,
                              containerOverrides={"command": command})["jobId"]
    seen = [batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]]
    deadline = time.monotonic() + 30  # at most 30 s
    while seen[-1] not in ("SUCCEEDED", "FAILED") and time.monotonic() < deadline:
        status = batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]
        if status != seen[-1]:
            seen.append(status)
        time.sleep(0.01)
    assert seen[-1] == "SUCCEEDED" and set(seen) <= {"SUBMITTED", *SUCCEEDED_PATH}
    assert "RUNNING" in seen and seen == sorted(seen, key=["SUBMITTED", *SUCCEEDED_PATH].index)
    (job,) = [j for j in cluster.jobs if j.job_id == job_id]
    assert cluster.log_lines(job) == ["hello from the job"]

    sleeper = batch.submit_job(jobName="terminated", jobQueue=queue, jobDefinition=definition,
                               containerOverrides={"command": ["python", "-c", "import time; time.sleep(60)"]})["jobId"]
    assert wait_status(batch, sleeper, "RUNNING", 30)
    batch.terminate_job(jobId=sleeper, reason="stopped by the test")
    assert wait_status(batch, sleeper, "FAILED", 30)
    described = batch.describe_jobs(jobs=[sleeper])["jobs"][0]
    assert described["statusReason"] == "stopped by the test" and len(described["attempts"]) == 1
    assert sleeper in [s["jobId"] for s in batch.list_jobs(jobQueue=queue, jobStatus="FAILED")["jobSummaryList"]]
    assert sleeper not in [s["jobId"] for s in batch.list_jobs(jobQueue=queue)["jobSummaryList"]]  # RUNNING only


def wait_status(batch: Any, job_id: str, status: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == status:
            return True
        time.sleep(0.05)
    return False


def test_plan_outputs_writes_what_pulumi_stack_output_writes(tmp_path: Path) -> None:
    """`plan --outputs FILE`: the outputs object itself, secrets in clear, as `pulumi stack
    output --json --show-secrets` prints it; the helper reads it as it reads a real stack's."""
    outputs = tmp_path / "outputs.json"
    done = subprocess.run([sys.executable, "-m", "wove_batch", "plan", str(STACK), "--outputs", str(outputs)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    written = json.loads(outputs.read_text())
    assert written == json.loads(json.dumps(run_stack(load_stack_file(STACK)).outputs))
    token = written["wove_environments"]["batch"]["executor_config"]["callback_token"]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    envs = wove_environments(outputs, client_factory=lambda **o: object(), s3_factory=lambda **o: object())
    assert set(envs) == {"batch", "batch_bulk"}


def test_the_quick_starts_first_command_runs_a_weave_and_prints_its_result() -> None:
    """`python -m wove_batch try Pulumi.dev.yaml`, as the README runs it (here with exchange
    results; the fresh-clone run in the README is the callback default)."""
    done = subprocess.run([sys.executable, "-m", "wove_batch", "try", "Pulumi.dev.yaml", "--results", "exchange"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == ("local cluster from Pulumi.dev.yaml: environment 'batch' (exchange results), "
                        "jobs as processes of the installed worker") or lines[0].endswith("jobs in the image wove-batch-worker:local")
    assert lines[1:3] == ["crunch = 338350", "squares = [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]"]
    assert re.fullmatch(r"12 Batch jobs \(1 array\), SUCCEEDED, in [0-9.]+ s", lines[3]), lines[3]


def test_local_outputs_move_callbacks_to_loopback_and_keep_the_stack_valid() -> None:
    """Locally a job reaches Wove's callback server on loopback; the stack file itself (whose
    validation refuses loopback callback URLs) is not changed."""
    outputs = run_stack(load_stack_file(STACK)).outputs
    local = local_outputs(outputs)
    for name, environment in local["wove_environments"].items():
        config = environment["executor_config"]
        token = outputs["wove_environments"][name]["executor_config"]["callback_token"]
        assert config["callback_host"] == "127.0.0.1" and config["callback_token"] == token
        assert config["callback_url"] == f"http://127.0.0.1:{config['callback_port']}/wove/events/{token}"
    assert outputs["wove_environments"]["batch"]["executor_config"]["callback_url"].startswith(
        "https://wove-runner.internal.example.com/")
    exchange = local_outputs(outputs, results="exchange")["wove_environments"]["batch"]
    assert exchange["wove_batch"]["results"] == "exchange" and "callback_url" not in exchange["executor_config"]


def test_the_pytest_plugin_gives_a_users_tests_a_local_cluster(tmp_path: Path) -> None:
    """The README's conftest snippet, in a project of its own, run by pytest as a user runs it."""
    import shutil

    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"):
        (tmp_path / name).write_text((REPO / name).read_text())
    shutil.copytree(REPO / "worker_image", tmp_path / "worker_image")
    (tmp_path / "pytest.ini").write_text("[pytest]\nwove_batch_stack = Pulumi.dev.yaml\nwove_batch_results = exchange\n")
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["wove_batch.local.pytest_plugin"]\n')
    (tmp_path / "test_user.py").write_text("""
import wove
from wove_batch.local import example

def test_my_weave(wove_local):
    with wove.weave() as w:
        @w.do(range(3), environment="batch", delivery_timeout=120)
        def squares(item):
            return example.square(item)
    assert w.result.squares == [0, 1, 4]
    assert wove_local.wove_environments["batch"]["wove_batch"]["results"] == "exchange"
""")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout


def test_in_the_real_worker_image(docker_engine: Any, worker_image: str) -> None:
    """Where Docker is available: every job `docker run` of the image built from this project,
    in both results modes: the example weave, 5 MB both ways, a 200-item map, a failing task
    and a dying one."""
    from docker_engine import docker_cli

    for results in ("callback", "exchange"):
        with LocalCluster(STACK, results=results, image=worker_image, docker_env=docker_engine.env,
                          docker_cli=docker_cli(), slots=8) as cluster:
            assert cluster.image == worker_image
            wove.config(environments=cluster.wove_environments)
            try:
                run_every_case(cluster)
            except Exception as exc:
                failed = [f"{j.job_name} {j.job_id} {j.current_status()} {j.status_reason} exit {j.exit_code}: {j.output[-800:]}"
                          for j in cluster.jobs if not j.children and j.exit_code not in (0, None)]
                raise AssertionError(f"{results}: {exc!r}; jobs that exited non-zero: {failed}") from exc
            finally:
                wove.config(environments={name: None for name in cluster.wove_environments})


def run_every_case(cluster: LocalCluster) -> None:
    data = bytes(range(256)) * (FIVE_MB // 256)
    with wove.weave() as w:
        @w.do
        def rows() -> list[int]:
            return list(range(1, 101))

        @w.do(environment="batch", delivery_timeout=300)
        def crunch(rows: list[int]) -> int:
            return example.crunch(rows)

        @w.do(environment="batch", delivery_timeout=300)
        def echoed() -> bytes:
            return example.echo(data)

        @w.do(range(200), environment="batch", delivery_timeout=600)
        def squares(item: int) -> int:
            return example.square(item)

    assert (w.result.crunch, w.result.echoed, w.result.squares) == (338350, data[::-1], [i * i for i in range(200)])
    with wove.weave() as w:
        @w.do(environment="batch", delivery_timeout=300)
        def failing() -> None:
            example.explode("disk full")

    with pytest.raises(ValueError, match="^disk full$"):
        w.result.failing
    with wove.weave() as w:  # its own weave: Wove stops a weave's other tasks once one fails
        @w.do(environment="batch_bulk")
        def dies() -> None:
            example.die(3)

    with pytest.raises(BatchJobFailedError, match=r"Essential container in task exited \(exit code 3\)"):
        w.result.dies
    ended = cluster.wait_idle(60)
    assert {j.current_status() for j in ended if j.job_name.startswith("wove-dies-")} == {"FAILED"}
    assert all(j.exit_code == 0 for j in ended if not j.job_name.startswith("wove-dies-") and not j.children)
