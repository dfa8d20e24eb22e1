"""Issue 21, the application side: every job's end, stall, log and progress reaches the caller.

End to end on moto (Batch, S3, CloudWatch Logs) with the real Wove executor: the harness runs
each job as a process, writes its output to the job's awslogs stream and (report_status) tells
moto how the job ended, as the ECS agent tells Batch. Each wait is bounded: a test's weave
ends within its grace period plus one poll, and `delivery_timeout` (where given) only stops a
regression from hanging the suite.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import wove

from batch_emulator import REGION, JobRunner, MotoServer
from test_e2e import moto, stack  # noqa: F401 - the session's moto and a fresh stack per test
from wove_batch.client import close_environments, wove_environments
from wove_batch.client.failures import (
    BatchJobFailedError,
    BatchJobNoResultError,
    BatchJobStalledError,
    attempts_line,
)
from wove_batch.tools.plan import Plan

GRACE = 1.0
POLL = 0.5
CONSOLE = re.escape(f"https://{REGION}.console.aws.amazon.com/batch/home?region={REGION}#jobs/detail/")


@contextlib.contextmanager
def configured(stack: Plan, moto: MotoServer, **options: Any) -> Iterator[dict[str, Any]]:  # noqa: F811
    settings = {"poll_seconds": POLL, "results_poll_seconds": 0.2, "result_grace_seconds": GRACE,
                "progress": False, "exit_sweep_jobs": False, **options}
    envs = wove_environments({"wove_environments": stack.outputs["wove_environments"]},
                             client_factory=lambda **o: moto.client("batch", **o),
                             s3_factory=lambda **o: moto.client("s3", **o),
                             logs_factory=lambda **o: moto.client("logs", **o), **settings)
    wove.config(environments=envs)
    try:
        yield envs
    finally:
        close_environments(envs)
        wove.config(environments={name: None for name in envs})


def running(moto: MotoServer, stack: Plan, worker_venv: Path, app_dir: Path, **options: Any) -> JobRunner:  # noqa: F811
    return JobRunner(moto, list(stack.outputs["job_queues"].values()), worker_venv / "bin", app_dir,
                     report_status=True, **options)


def log_group(stack: Plan) -> str:
    return stack.outputs["wove_environments"]["batch"]["wove_batch"]["log_group"]


def details(stack: Plan, job_id: str, lines: list[str], attempts: int = 1) -> str:
    """The lines every report carries after its first, as a regular expression."""
    return "\n".join([
        rf"attempts: {attempts} \(0 Spot reclaims\)",
        rf"log stream: {re.escape(log_group(stack))}/worker/default/[0-9a-f]{{32}}",
        rf"console: {CONSOLE}{re.escape(job_id.replace(':', '%3A'))}",
        r"last log lines \(20 at most\):",
        *(f"  {line}" for line in lines),
    ])


def write_app_module(app_dir: Path) -> None:
    (app_dir / "liveness_tasks.py").write_text(
        "import os, sys, time\n\n\n"
        "def say_and_die(message, code):\n    print(message, file=sys.stderr, flush=True)\n    os._exit(code)\n\n\n"
        # The worker flushes stdout on its way out, after the result is written: the process dies
        # there (atexit handlers never run: the worker ends with os._exit, as a container's main does).
        "class _CrashOnFlush:\n    def write(self, text):\n        return len(text)\n\n"
        "    def flush(self):\n        os._exit(1)\n\n\n"
        "def answer_then_crash_at_exit(value):\n    sys.stdout = _CrashOnFlush()\n    return value\n\n\n"
        "def nap(seconds):\n    time.sleep(seconds)\n    return seconds\n"
    )


# --- 1: a job that SUCCEEDED without a result -----------------------------------------------
@pytest.mark.parametrize("environment", ["batch", "batch_exchange"])
def test_a_job_that_succeeded_without_a_result_fails_its_task_after_the_grace_period(
    stack: Plan, moto: MotoServer, worker_venv: Path, app_dir: Path, environment: str  # noqa: F811
) -> None:
    write_app_module(app_dir)
    import liveness_tasks

    with configured(stack, moto), running(moto, stack, worker_venv, app_dir) as jobs:
        started = time.monotonic()
        with wove.weave() as w:
            @w.do(environment=environment, delivery_timeout=30)
            def quits() -> None:
                liveness_tasks.say_and_die("leaving early", 0)
        elapsed = time.monotonic() - started
        (job,) = jobs.wait_idle(1)
        with pytest.raises(BatchJobNoResultError) as raised:
            w.result.quits
    where = ("in its results prefix of the exchange bucket" if environment == "batch_exchange"
             else "at the callback server")
    assert re.fullmatch(
        rf"AWS Batch job wove-quits-[0-9a-f]{{32}} \({job.job_id}\) of task 'quits' SUCCEEDED but no result arrived "
        rf"{where} within 1 s\. Check that the job definition's command runs the worker \(python -m "
        r"wove_batch\.worker\) and that the task does not end its process itself \(sys\.exit, os\._exit\)\n"
        + details(stack, job.job_id, ["leaving early"]),
        str(raised.value)), str(raised.value)
    assert job.returncode == 0
    # The job's own run (a worker process start, some 3 s here), then the grace period (callback)
    # or the next listing (exchange), plus a poll each; far from the delivery timeout.
    assert elapsed < 12, elapsed


def test_an_array_child_that_succeeded_without_a_result_fails_only_its_own_task(
    stack: Plan, moto: MotoServer, worker_venv: Path, app_dir: Path  # noqa: F811
) -> None:
    write_app_module(app_dir)
    import liveness_tasks
    import wove_demo_tasks

    with configured(stack, moto), running(moto, stack, worker_venv, app_dir) as jobs:
        with wove.weave() as w:
            @w.do(range(4), environment="batch", delivery_timeout=30)
            def mapped(item: int) -> int:
                return liveness_tasks.say_and_die("child quits", 0) if item == 2 else wove_demo_tasks.square(item)
        jobs.wait_idle(4)
        with pytest.raises(BatchJobNoResultError) as raised:
            w.result.mapped
    (parent,) = jobs.array_parents
    assert re.fullmatch(rf"AWS Batch job wove-mapped-x4-[0-9a-f]{{32}} \({parent}:2\) of task 'mapped' SUCCEEDED "
                        r"but no result arrived at the callback server within 1 s\. (.|\n)+"
                        + details(stack, f"{parent}:2", ["child quits"]), str(raised.value)), str(raised.value)


def test_a_definition_whose_command_is_not_the_worker_fails_the_task_with_its_log(
    stack: Plan, moto: MotoServer, worker_venv: Path, app_dir: Path  # noqa: F811
) -> None:
    batch = moto.client("batch")
    (definition,) = batch.describe_job_definitions(
        jobDefinitionName=stack.outputs["job_definitions"]["worker"])["jobDefinitions"]
    properties = dict(definition["containerProperties"], command=["python", "-c", "print('hello from not the worker')"])
    batch.register_job_definition(jobDefinitionName="not-the-worker", type="container",
                                  containerProperties=properties)
    with configured(stack, moto) as envs, running(moto, stack, worker_venv, app_dir) as jobs:
        config = dict(envs["batch"]["executor_config"], job_definition="not-the-worker")
        wove.config(environments={"other": {"executor": "aws_batch", "executor_config": config}})
        with wove.weave() as w:
            @w.do(environment="other", delivery_timeout=30)
            def anything() -> int:
                return 1
        (job,) = jobs.wait_idle(1)
        with pytest.raises(BatchJobNoResultError) as raised:
            w.result.anything
        wove.config(environments={"other": None})
    assert str(raised.value).endswith("last log lines (20 at most):\n  hello from not the worker"), str(raised.value)
    assert f"({job.job_id}) of task 'anything' SUCCEEDED but no result arrived" in str(raised.value)


def test_a_result_deleted_before_the_poller_read_it_fails_the_task_after_the_last_sweep(
    stack: Plan, moto: MotoServer, worker_venv: Path, app_dir: Path  # noqa: F811
) -> None:
    import wove_demo_tasks

    s3 = moto.client("s3")

    def delete_results(job: Any) -> None:
        bucket, _, prefix = job.environment["WOVE_BATCH_RESULTS_URI"][len("s3://"):].partition("/")
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])

    # The first listing comes 8 s after the submit: after the job's process ended (and the
    # harness deleted what it wrote).
    with configured(stack, moto, results_poll_seconds=8.0), \
            running(moto, stack, worker_venv, app_dir, after_run=delete_results) as jobs:
        started = time.monotonic()
        with wove.weave() as w:
            @w.do(environment="batch_exchange", delivery_timeout=30)
            def squared() -> int:
                return wove_demo_tasks.square(3)
        elapsed = time.monotonic() - started
        (job,) = jobs.wait_idle(1)
        with pytest.raises(BatchJobNoResultError, match=r"SUCCEEDED but no result arrived in its results prefix"):
            w.result.squared
    assert job.returncode == 0
    # The first listing (8 s) found nothing; the job ended before it, so the second listing is
    # the last sweep: 16 s, plus the watcher's poll and the round's own time.
    assert elapsed < 2 * 8.0 + POLL + 3.0, elapsed


def test_a_job_batch_no_longer_knows_fails_its_task(stack: Plan, moto: MotoServer) -> None:  # noqa: F811
    batch = moto.client("batch")
    queue = stack.outputs["job_queues"]["high"]

    def forget_once_submitted() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            listed = batch.list_jobs(jobQueue=queue, jobStatus="SUBMITTED")["jobSummaryList"]
            if listed:
                moto.report_job(listed[0]["jobId"], "FORGET")
                return
            time.sleep(0.1)

    forgetter = threading.Thread(target=forget_once_submitted)
    with configured(stack, moto, unknown_after_seconds=1.0):
        forgetter.start()
        with wove.weave() as w:
            @w.do(environment="batch", delivery_timeout=30)
            def lost() -> int:
                return 1
        forgetter.join()
    with pytest.raises(BatchJobNoResultError) as raised:
        w.result.lost
    assert re.fullmatch(r"AWS Batch job wove-lost-[0-9a-f]{32} \([0-9a-f-]{36}\) of task 'lost' is no longer known to "
                        r"AWS Batch \(DescribeJobs does not return it\) and no result arrived\n"
                        r"attempts: 0 \(0 Spot reclaims\)\nlog stream: none\nconsole: .+\n"
                        r"last log lines \(20 at most\):\n  \(no log stream: the job's container never started\)",
                        str(raised.value)), str(raised.value)


# --- 9: a result written before a failure wins --------------------------------------------
def test_a_result_written_before_the_job_failed_is_delivered_and_nothing_is_left_in_the_bucket(
    stack: Plan, moto: MotoServer, worker_venv: Path, app_dir: Path  # noqa: F811
) -> None:
    """The worker writes its result, then the process exits 1 (a crash at shutdown): Batch says
    FAILED long before the poller (results_poll_seconds 3 > poll_seconds 0.5) lists the result."""
    write_app_module(app_dir)
    import liveness_tasks

    with configured(stack, moto, results_poll_seconds=3.0) as envs, running(moto, stack, worker_venv, app_dir) as jobs:
        with wove.weave() as w:
            @w.do(environment="batch_exchange", delivery_timeout=30)
            def answered() -> int:
                return liveness_tasks.answer_then_crash_at_exit(42)
        (job,) = jobs.wait_idle(1)
        client = envs["batch_exchange"]["executor_config"]["client"]
        assert w.result.answered == 42
        deadline = time.monotonic() + 3.0 + 2 * POLL + 3.0
        while client.poller.outstanding and time.monotonic() < deadline:
            time.sleep(0.1)
        session = client.exchange.session
    assert job.returncode == 1
    (described,) = moto.client("batch").describe_jobs(jobs=[job.job_id])["jobs"]
    assert described["status"] == "FAILED"
    s3 = moto.client("s3")
    bucket = stack.outputs["exchange_bucket"]
    left = [item["Key"] for prefix in (f"results/{session}/", f"payloads/{session}/")
            for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    assert left == []


# --- 2: RUNNABLE stalls -------------------------------------------------------------------
STALL_REASON = ("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is "
                "higher than that can be met by the CE(s) attached to the job queue.")


def test_a_runnable_stall_is_logged_at_once_and_fails_the_task_after_the_timeout(
    stack: Plan, moto: MotoServer, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    batch = moto.client("batch")
    queue = stack.outputs["job_queues"]["high"]

    def stall_once_submitted() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            listed = batch.list_jobs(jobQueue=queue, jobStatus="SUBMITTED")["jobSummaryList"]
            if listed:
                moto.report_job(listed[0]["jobId"], "RUNNABLE", reason=STALL_REASON)
                return
            time.sleep(0.1)

    staller = threading.Thread(target=stall_once_submitted)
    caplog.set_level(logging.WARNING, logger="wove_batch.client.reports")
    with configured(stack, moto, stall_log_seconds=0, runnable_timeout_seconds=2):
        staller.start()
        started = time.monotonic()
        with wove.weave() as w:
            @w.do(environment="batch", delivery_timeout=30)
            def stuck() -> int:
                return 1
        elapsed = time.monotonic() - started
        staller.join()
    with pytest.raises(BatchJobStalledError) as raised:
        w.result.stuck
    assert elapsed < 2 + 2 * POLL + 3
    (job,) = batch.list_jobs(jobQueue=queue, jobStatus="FAILED")["jobSummaryList"]
    assert re.fullmatch(rf"AWS Batch job wove-stuck-[0-9a-f]{{32}} \({job['jobId']}\) of task 'stuck' was RUNNABLE for "
                        rf"[23] s \(runnable_timeout_seconds\) and was terminated: {re.escape(STALL_REASON)}\n(.|\n)+",
                        str(raised.value)), str(raised.value)
    assert re.fullmatch(r"RUNNABLE for [23] s, over runnable_timeout_seconds \(2\): " + re.escape(STALL_REASON),
                        job["statusReason"])
    told = [r.getMessage() for r in caplog.records if r.name == "wove_batch.client.reports"]
    assert told and re.fullmatch(rf"AWS Batch job wove-stuck-[0-9a-f]{{32}} \({job['jobId']}\) has been RUNNABLE for "
                                 rf"[0-9] s: {re.escape(STALL_REASON)}", told[0]), told
    assert len(told) == 1  # told again only when the reason changes


# --- 3/4/5: failure reports, directly to the local callback server ----------------------------
def test_a_failure_report_reaches_the_caller_with_its_log_past_a_proxy_that_refuses_everything(
    stack: Plan, moto: MotoServer, worker_venv: Path, app_dir: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """HTTP_PROXY names a closed port and NO_PROXY does not cover 127.0.0.1: a report posted
    through urllib's defaults (or to the public URL through the proxy) would be dropped."""
    from batch_emulator import free_port

    write_app_module(app_dir)
    import liveness_tasks

    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with configured(stack, moto), running(moto, stack, worker_venv, app_dir) as jobs:
        with wove.weave() as w:
            @w.do(environment="batch", delivery_timeout=30)
            def dies() -> None:
                liveness_tasks.say_and_die("disk is full", 3)
        (job,) = jobs.wait_idle(1)
        with pytest.raises(BatchJobFailedError) as raised:
            w.result.dies
    assert re.fullmatch(
        rf"AWS Batch job wove-dies-[0-9a-f]{{32}} \({job.job_id}\) of task 'dies' FAILED: Essential container in task "
        r"exited \(exit code 3\)\n" + details(stack, job.job_id, ["disk is full"]), str(raised.value)), str(raised.value)


def test_exchange_hand_offs_are_not_sent_through_a_proxy(
    stack: Plan, moto: MotoServer, worker_venv: Path, app_dir: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from batch_emulator import free_port
    import wove_demo_tasks

    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with configured(stack, moto), running(moto, stack, worker_venv, app_dir) as jobs:
        with wove.weave() as w:
            @w.do(environment="batch_exchange", delivery_timeout=20)
            def squared() -> int:
                return wove_demo_tasks.square(5)
        jobs.wait_idle(1)
    assert w.result.squared == 25


# --- 6: a task Wove cancelled hears task_cancelled --------------------------------------------
def test_a_job_wove_cancelled_is_reported_as_task_cancelled_not_as_a_failure(stack: Plan, moto: MotoServer) -> None:  # noqa: F811
    from wove_batch.client import WatchedBatchClient

    posted: list[dict[str, Any]] = []
    client = WatchedBatchClient(moto.client("batch"), poll_seconds=0.2, post_event=lambda url, frame: posted.append(frame))
    payload = "eyJydW5faWQiOiAiYTpiIiwgInRhc2tfaWQiOiAiYSIsICJjYWxsYmFja191cmwiOiAiaHR0cDovLzEyNy4wLjAuMToxLyJ9"
    try:
        response = client.submit_job(jobName="wove-a:b", jobQueue=stack.outputs["job_queues"]["high"],
                                     jobDefinition=stack.outputs["job_definitions"]["worker"],
                                     containerOverrides={"environment": [{"name": "WOVE_BACKEND_PAYLOAD", "value": payload}]})
        client.cancel_job(jobId=response["jobId"])
        deadline = time.monotonic() + 0.2 * 3 + 2
        while not posted and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.close()
    assert posted == [{"type": "task_cancelled", "run_id": "a:b", "task_id": "a"}]


# --- 7: the exit sweep --------------------------------------------------------------------
SWEEP_SCRIPT = """
import json, sys, wove
from wove_batch.client import wove_environments
sys.path.insert(0, {tests!r})
from batch_emulator import MotoServer
outputs = json.load(open({outputs!r}))
endpoint, certificate = {endpoint!r}, {certificate!r}
import boto3
def client(service, **options):
    return boto3.client(service, endpoint_url=endpoint, verify=certificate, aws_access_key_id="testing",
                        aws_secret_access_key="testing", **options)
import logging
logging.basicConfig(level=logging.INFO)
wove.config(environments=wove_environments(outputs, client_factory=lambda **o: client("batch", **o),
            s3_factory=lambda **o: client("s3", **o), logs_factory=lambda **o: client("logs", **o), progress=False))
with wove.weave() as w:
    @w.do(range(500), environment="batch")
    def mapped(item):
        return item
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_map_of_500_tasks_leaves_no_job_unfinished(
    stack: Plan, moto: MotoServer, tmp_path: Path, signum: int  # noqa: F811
) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"wove_environments": stack.outputs["wove_environments"]}))
    script = tmp_path / "weave.py"
    script.write_text(SWEEP_SCRIPT.format(tests=str(Path(__file__).parent), outputs=str(outputs),
                                          endpoint=moto.endpoint, certificate=str(moto.certificate)))
    batch = moto.client("batch")
    queue = stack.outputs["job_queues"]["high"]
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        parents: list[str] = []
        while not parents and time.monotonic() < deadline and process.poll() is None:
            parents = [j["jobId"] for j in batch.list_jobs(jobQueue=queue, jobStatus="SUBMITTED")["jobSummaryList"]
                       if ":" not in j["jobId"]]
            time.sleep(0.2)
        assert parents, process.stdout.read().decode() if process.poll() is not None else "no array submitted"
        os.kill(process.pid, signum)
        # Wove cancels the 500 children first (TerminateJob each, paced at 45/s), then the sweep
        # terminates what is left: measured 20-60 s on moto; at most 180 s here.
        process.wait(timeout=180)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    (parent,) = parents
    children = [f"{parent}:{index}" for index in range(500)]
    statuses: dict[str, int] = {}
    for start in range(0, 500, 100):
        for job in batch.describe_jobs(jobs=children[start:start + 100])["jobs"]:
            statuses[job["status"]] = statuses.get(job["status"], 0) + 1
    (parent_job,) = batch.describe_jobs(jobs=[parent])["jobs"]
    output = process.stdout.read().decode() if process.stdout else ""
    assert statuses == {"FAILED": 500}, output
    assert parent_job["status"] == "FAILED"
    assert parent_job["statusReason"] in ("The submitting process ended (wove-batch exit sweep).", "Cancelled by Wove.")


# --- 5: Spot reclaims are counted -----------------------------------------------------------
def test_attempts_count_spot_reclaims() -> None:
    job = {"attempts": [{"statusReason": "Host EC2 (instance i-0123456789abcdef0) terminated."},
                        {"statusReason": "Essential container in task exited"}]}
    assert attempts_line(job) == "attempts: 2 (1 Spot reclaim)"
    assert attempts_line({}) == "attempts: 0 (0 Spot reclaims)"


# --- 8: submit retries bounded by time ------------------------------------------------------
class FakeClock:
    """Time that passes only when the submitter sleeps: a storm of any length runs at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def storm(clock: FakeClock, seconds: float) -> Any:
    from standin_aws import client_error

    def fault(params: dict[str, Any]) -> Any:
        return client_error("TooManyRequestsException", "Too Many Requests", 400, "SubmitJob") if clock.now < seconds else None

    return fault


STORM_PARAMS = {"jobName": "wove-t-0123", "jobQueue": "q", "jobDefinition": "d"}


def test_a_twenty_second_throttling_storm_no_longer_fails_the_submit() -> None:
    from standin_aws import StandInBatch
    from wove_batch.client.submitting import SubmitSettings, Submitter

    clock = FakeClock()
    batch = StandInBatch(latency=0.0)
    batch.faults.extend([storm(clock, 20.0)] * 1000)
    # Jitter at its mean: eight attempts back off 16.2 s in all, short of the storm.
    submitter = Submitter(SubmitSettings(), sleep=clock.sleep, clock=clock, jitter=lambda: 0.5)
    response = submitter.submit(batch, STORM_PARAMS)
    (job,) = batch.jobs.values()
    assert response["jobId"] == job.job_id
    assert clock.now >= 20.0 and submitter.stats.throttled == submitter.stats.calls - 1 == 8  # 9 calls: past the old 8


def test_a_storm_past_the_retry_time_fails_with_the_time_it_tried() -> None:
    from standin_aws import StandInBatch
    from wove_batch.client import SubmitJobError
    from wove_batch.client.submitting import SubmitSettings, Submitter

    clock = FakeClock()
    batch = StandInBatch(latency=0.0)
    batch.faults.extend([storm(clock, 1e9)] * 1000)
    submitter = Submitter(SubmitSettings(), sleep=clock.sleep, clock=clock, jitter=lambda: 1.0)
    with pytest.raises(SubmitJobError, match=r"^SubmitJob of 'wove-t-0123': throttled on all [0-9]+ attempts over "
                       r"1[0-9]{2}\.[0-9] s, the submit_retry_seconds limit \(180 s\) \(last: .+\); nothing was "
                       r"submitted: lower submit_rate, or ask AWS for a higher SubmitJob quota$"):
        submitter.submit(batch, STORM_PARAMS)
    assert clock.now <= 180.0 and batch.jobs == {}


# --- 10: progress -------------------------------------------------------------------------
def test_progress_counts_a_weaves_jobs_live_on_a_terminal_and_by_logging_elsewhere(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import io

    from wove_batch.client.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def feed(progress: Progress) -> None:
        progress.submitted(5)
        progress.observe({"jobId": "a", "status": "RUNNABLE"})
        progress.observe({"jobId": "p", "arrayProperties": {"statusSummary": {"RUNNING": 2, "SUCCEEDED": 1}}})
        progress.observe({"jobId": "b", "status": "FAILED", "attempts": [{}, {}]})
        progress.close()

    screen = Terminal()
    live = Progress(stream=screen)
    feed(live)
    assert live.live
    final = "AWS Batch: 5 submitted, 1 runnable, 2 running, 1 done, 1 failed, 1 retried"
    drawn = [line.strip() for line in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue()).splitlines()]
    assert [line for line in drawn if line][-1] == final, drawn
    caplog.set_level(logging.INFO, logger="wove_batch.progress")
    logged = Progress(stream=io.StringIO(), log_seconds=3600)
    feed(logged)
    assert not logged.live
    assert [r.getMessage() for r in caplog.records if r.name == "wove_batch.progress"] == [
        "AWS Batch: 5 submitted, 0 runnable, 0 running, 0 done, 0 failed, 0 retried", final]


# --- 3/4: the local address of the callback server --------------------------------------------
def test_reports_go_to_the_callback_servers_own_address() -> None:
    from wove_batch.client.local_callback import local_url

    assert local_url("https://runner.example.com/ci/wove/events/abc", 8787, "0.0.0.0") == \
        "http://127.0.0.1:8787/wove/events/abc"
    assert local_url("http://10.0.1.5:8788/wove/events/abc", 8788, "10.0.1.5") == "http://10.0.1.5:8788/wove/events/abc"
    # Exchange environments: Wove's server is on 127.0.0.1 and the payload's URL names it.
    assert local_url("http://127.0.0.1:40123/wove/events/abc", None) == "http://127.0.0.1:40123/wove/events/abc"


def test_reports_stop_going_to_a_weave_whose_server_is_gone() -> None:
    """After an interrupt Wove's callback server stops while the watcher still reports hundreds
    of cancelled children: one failed POST marks the weave gone, so the rest are not sent (each
    could wait POST_TIMEOUT_SECONDS, and the process would not end)."""
    from wove_batch.client.reports import TaskReports
    from wove_batch.client.watcher import Submitted

    posted: list[str] = []

    def post(url: str, frame: dict[str, Any]) -> None:
        posted.append(url)
        if url.endswith("/gone"):
            raise ConnectionRefusedError("connection refused")

    reports = TaskReports(post, lambda job_id: None, log_source=None, results="callback", result_grace_seconds=0,
                          stall_log_seconds=60, runnable_timeout_seconds=None)
    for url in ("http://127.0.0.1:1/gone", "http://127.0.0.1:1/gone", "http://127.0.0.1:2/live", "http://127.0.0.1:2/live"):
        reports.send(Submitted({"run_id": "r", "task_id": "t", "callback_url": url}, "job", "slot", None),
                     "task_cancelled")
    assert posted == ["http://127.0.0.1:1/gone", "http://127.0.0.1:2/live", "http://127.0.0.1:2/live"]
