"""Fan-out: SubmitJob off Wove's loop, paced and retried; array jobs. Against the stand-in
Batch client (SubmitJob's latency and quota, which moto has neither of), with Wove's real
executor and its real worker answering in process. The same on moto: test_e2e.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Iterator

import pytest
import wove
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from batch_emulator import free_port
from standin_aws import StandInBatch, StandInS3, client_error, run_worker_in_process, standin_outputs
from wove_batch.client import BatchJobFailedError, SubmitJobError, close_environments, wove_environments
from wove_batch.client.submitting import (
    NOT_SENT,
    REFUSED,
    THROTTLED,
    UNKNOWN,
    SubmitSettings,
    Submitter,
    TokenBucket,
    classify,
)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_token_bucket_lets_a_burst_through_then_paces_at_its_rate() -> None:
    fake = FakeTime()
    bucket = TokenBucket(45, 9, clock=fake.clock, sleep=fake.sleep)
    for _ in range(9 + 90):
        bucket.acquire()
    assert fake.slept[:1] == [pytest.approx(1 / 45)] and len(fake.slept) == 90
    assert fake.now == pytest.approx(90 / 45)  # 9 at once, then 45 a second


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (client_error("TooManyRequestsException", "Too Many Requests", 400, "SubmitJob"), THROTTLED),
        (client_error("SomethingNew", "slow down", 429, "SubmitJob"), THROTTLED),
        (client_error("ServerException", "internal error", 500, "SubmitJob"), UNKNOWN),
        (ReadTimeoutError(endpoint_url="https://batch"), UNKNOWN),
        (ConnectionClosedError(endpoint_url="https://batch"), UNKNOWN),
        (EndpointConnectionError(endpoint_url="https://batch"), NOT_SENT),
        (client_error("ClientException", "Job queue q does not exist", 400, "SubmitJob"), REFUSED),
        (ValueError("a bug"), REFUSED),
    ],
)
def test_errors_are_classified_by_what_they_say_about_the_job(error: BaseException, kind: str) -> None:
    assert classify(error) == kind


def test_settings_refuse_what_cannot_work_all_at_once() -> None:
    with pytest.raises(ValueError) as raised:
        SubmitSettings(rate=0, concurrency=0, max_attempts=1.5)  # type: ignore[arg-type]
    assert str(raised.value) == (
        "submit_rate: 0 is not above 0; submit_concurrency: 0 is not a whole number of at least 1; "
        "submit_max_attempts: 1.5 is not a whole number of at least 1"
    )


# --- the submitter against the stand-in ------------------------------------------------------
PARAMS = {"jobName": "wove-t-0123", "jobQueue": "queue", "jobDefinition": "worker"}


def after_create(error: BaseException) -> Callable[[dict[str, Any]], BaseException]:
    error.after_create = True  # type: ignore[attr-defined]
    return lambda params: error


def quick(**settings: Any) -> Submitter:
    return Submitter(SubmitSettings(**{"rate": 1000.0, "backoff_base": 0.001, "lookup_delays": (0.01, 0.01), **settings}))


def test_a_lost_answer_after_aws_created_the_job_adopts_that_job() -> None:
    batch = StandInBatch(latency=0.001)
    batch.faults.append(after_create(ReadTimeoutError(endpoint_url="https://batch")))
    submitter = quick()
    response = submitter.submit(batch, PARAMS)
    (job,) = batch.jobs.values()  # exactly one job: not submitted twice
    assert response == {"jobId": job.job_id, "jobName": "wove-t-0123", "jobArn": None}
    assert (batch.calls, submitter.stats.lookups, submitter.stats.adopted) == (1, 1, 1)


def test_an_unknown_outcome_where_aws_created_nothing_is_submitted_again() -> None:
    batch = StandInBatch(latency=0.001)
    batch.faults.append(lambda params: client_error("ServerException", "internal error", 500, "SubmitJob"))
    submitter = quick()
    response = submitter.submit(batch, PARAMS)
    (job,) = batch.jobs.values()
    assert response["jobId"] == job.job_id
    assert (batch.calls, submitter.stats.lookups, submitter.stats.adopted) == (2, 2, 0)


def test_an_unknown_outcome_that_listjobs_cannot_settle_fails_without_a_second_submit() -> None:
    batch = StandInBatch(latency=0.001)
    batch.faults.append(after_create(ConnectionClosedError(endpoint_url="https://batch")))
    batch.list_jobs = lambda **_: (_ for _ in ()).throw(EndpointConnectionError(endpoint_url="https://batch"))  # type: ignore[method-assign]
    with pytest.raises(SubmitJobError) as raised:
        quick().submit(batch, PARAMS)
    assert str(raised.value) == (
        "SubmitJob of 'wove-t-0123': the answer was lost (Connection was closed before we received a valid response "
        "from endpoint URL: \"https://batch\".) and ListJobs could not tell whether AWS created the job; not submitted "
        "again, so that the task cannot run twice"
    )
    assert batch.calls == 1


def test_throttling_on_every_attempt_ends_in_one_clear_error() -> None:
    batch = StandInBatch(latency=0.0, tps=50)
    batch.faults.extend([lambda params: client_error("TooManyRequestsException", "Too Many Requests", 400, "SubmitJob")] * 3)
    with pytest.raises(SubmitJobError, match=r"^SubmitJob of 'wove-t-0123': throttled on all 3 attempts over [0-9.]+ s "
                       r"\(last: An error occurred \(TooManyRequestsException\) when calling the SubmitJob operation: Too "
                       r"Many Requests\); nothing was submitted: lower submit_rate, or ask AWS for a higher SubmitJob "
                       r"quota$"):
        quick(max_attempts=3).submit(batch, PARAMS)
    assert (batch.calls, batch.jobs) == (3, {})


def test_a_refused_submit_is_not_retried() -> None:
    batch = StandInBatch(latency=0.0)
    with pytest.raises(ClientError, match="Job name should match valid pattern"):
        quick().submit(batch, dict(PARAMS, jobName="wove-t:0123"))
    assert batch.calls == 1


# --- Wove's executor against the stand-in -------------------------------------------------------
@pytest.fixture
def standin() -> Iterator[tuple[StandInBatch, StandInS3]]:
    s3 = StandInS3()
    batch = StandInBatch(run_worker_in_process(s3), latency=0.001)
    yield batch, s3
    batch.close()


def configure(batch: Any, s3: StandInS3, **options: Any) -> dict[str, Any]:
    environments = wove_environments(standin_outputs(free_port()), client_factory=lambda **_: batch,
                                      s3_factory=lambda **_: s3, poll_seconds=0.1, **options)
    wove.config(environments=environments)
    return environments


@pytest.fixture
def configured() -> Iterator[list[dict[str, Any]]]:
    made: list[dict[str, Any]] = []
    yield made
    for environments in made:
        close_environments(environments)
    wove.config(environments={"batch": None})


def square(item: int) -> int:
    return item * item


def test_a_burst_past_the_quota_loses_nothing(standin: tuple[StandInBatch, StandInS3], configured: list) -> None:
    """200 tasks, one job each, submitted at 500 a second into a quota of 50: the throttled
    ones are sent again until Batch takes them; every task runs exactly once."""
    batch, s3 = standin
    configured.append(configure(batch, s3, array_jobs=False, submit_rate=500.0))
    with wove.weave() as w:
        @w.do(range(200), environment="batch")
        def mapped(item: int) -> int:
            return square(item)
    assert w.result.mapped == [i * i for i in range(200)]
    assert batch.throttled > 0
    assert (len(batch.jobs), batch.calls - batch.throttled) == (200, 200)  # none lost, none twice


def test_the_event_loop_keeps_serving_while_1000_submits_are_in_flight(configured: list) -> None:
    """1,000 SubmitJob calls of 80 ms each: while they are in flight, a coroutine on Wove's loop
    keeps running, nine times in ten within half of one call's time (submits that blocked the
    loop would hold it for all 80 s: it would not run at all), and results come in through the
    callback server before the last submit returns. Single long gaps are Wove's own work (it
    pickles the payloads in its loop), not the submits."""
    s3 = StandInS3()
    batch = StandInBatch(run_worker_in_process(s3), latency=0.08, tps=100_000)
    configured.append(configure(batch, s3, array_jobs=False, submit_rate=10_000.0))
    gaps: list[float] = []

    try:
        with wove.weave() as w:
            @w.do(range(1000), environment="batch")
            def mapped(item: int) -> float:
                return time.monotonic()

            @w.do
            async def ticker() -> None:
                last = time.monotonic()
                while len(batch.jobs) < 1000:
                    await asyncio.sleep(0.005)
                    now = time.monotonic()
                    gaps.append(now - last)
                    last = now
    finally:
        batch.close()
    ninetieth = sorted(gaps)[int(len(gaps) * 0.9)] if gaps else None
    assert len(gaps) > 50 and ninetieth is not None and ninetieth < 0.04, (len(gaps), ninetieth, max(gaps, default=None))
    assert min(w.result.mapped) < batch.last_accepted_at


def test_a_map_goes_as_one_array_job_and_a_lone_task_as_a_plain_job(
    standin: tuple[StandInBatch, StandInS3], configured: list
) -> None:
    batch, s3 = standin
    environments = configure(batch, s3)
    configured.append(environments)
    with wove.weave() as w:
        @w.do(range(25), environment="batch")
        def mapped(item: int) -> int:
            return square(item)

    with wove.weave() as lone:
        @lone.do(environment="batch")
        def single() -> int:
            return 7

    assert (w.result.mapped, lone.result.single) == ([i * i for i in range(25)], 7)
    parents = [job for job in batch.jobs.values() if job.size]
    plain = [job for job in batch.jobs.values() if not job.size and ":" not in job.job_id]
    assert [job.size for job in parents] == [25] and len(plain) == 1 and batch.calls == 2
    assert parents[0].name.startswith("wove-mapped-x25-")
    assert "WOVE_BACKEND_PAYLOAD" in plain[0].environment  # small: inline
    client = environments["batch"]["executor_config"]["client"]
    deadline = time.monotonic() + 5
    while client.watched_job_ids and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (client.watched_job_ids, s3.objects) == ([], {})  # both ended: the pack is deleted


def test_a_child_that_fails_fails_its_own_task_only(configured: list) -> None:
    """Child 3 dies without answering (its process killed: Batch marks it FAILED); the error
    names it, and every sibling ran and answered."""
    s3 = StandInS3()
    worker = run_worker_in_process(s3)
    batch = StandInBatch(lambda env: 137 if env.get("AWS_BATCH_JOB_ARRAY_INDEX") == "3" else worker(env), latency=0.001)
    configured.append(configure(batch, s3))
    try:
        with wove.weave() as w:
            @w.do(range(8), environment="batch")
            def mapped(item: int) -> int:
                return item

        with pytest.raises(BatchJobFailedError) as raised:
            w.result.mapped
    finally:
        batch.close()
    (parent,) = [job for job in batch.jobs.values() if job.size]
    assert str(raised.value) == (
        f"AWS Batch job {parent.name} ({parent.job_id}:3) of task 'mapped' FAILED: Essential container in task exited "
        "(exit code 137)\n"
        # The stand-in keeps no attempts or logs; the outputs name no log group (issue 21's details).
        "attempts: 0 (0 Spot reclaims)\nlog stream: none\n"
        f"console: https://us-east-1.console.aws.amazon.com/batch/home?region=us-east-1#jobs/detail/{parent.job_id}%3A3\n"
        "last log lines (20 at most):\n  (the log group is not known: pass the stack outputs' wove_batch settings)"
    )
    statuses = {index: batch.jobs[f"{parent.job_id}:{index}"].status for index in range(8)}
    assert statuses == {**{index: "SUCCEEDED" for index in range(8)}, 3: "FAILED"}


def test_tasks_cancelled_while_waiting_for_their_array_are_never_submitted(standin: tuple[StandInBatch, StandInS3]) -> None:
    """The batcher drops a task Wove cancelled before its group closed; the others go."""
    batch, s3 = standin
    environments = wove_environments(standin_outputs(free_port()), client_factory=lambda **_: batch,
                                     s3_factory=lambda **_: s3, array_window_seconds=0.2)
    client = environments["batch"]["executor_config"]["client"]

    async def scenario() -> list[Any]:
        from wove.backend import payload_to_b64

        futures = []
        for index in range(3):
            payload = payload_to_b64({"run_id": f"t:{index}", "task_id": "t", "callback_url": "http://127.0.0.1:1/x",
                                      "callable_pickle": "", "args_pickle": ""})
            futures.append(client.submit_job(jobName=f"wove-t:{index}", jobQueue="queue", jobDefinition="worker",
                                             containerOverrides={"environment": [{"name": "WOVE_BACKEND_PAYLOAD", "value": payload}]}))
        futures[1].cancel()
        return await asyncio.gather(*futures, return_exceptions=True)

    try:
        responses = asyncio.run(scenario())
    finally:
        close_environments(environments)
    (parent,) = [job for job in batch.jobs.values() if job.size]
    assert parent.size == 2
    assert isinstance(responses[1], asyncio.CancelledError)
    assert [responses[0]["jobId"], responses[2]["jobId"]] == [f"{parent.job_id}:0", f"{parent.job_id}:1"]


def test_the_worker_posts_again_after_a_connection_error_but_not_after_an_http_answer() -> None:
    import urllib.error

    from wove_batch.worker import post_with_retries

    calls: list[str] = []
    outcomes: list[BaseException | None] = [ConnectionResetError(104, "reset"),
                                            urllib.error.URLError(ConnectionRefusedError(111, "refused")), None]

    def post(url: str, frame: dict, *, timeout: float | None = None) -> None:
        calls.append(url)
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    slept: list[float] = []
    post_with_retries(post, sleep=slept.append)("http://submitter/wove/events/t", {"type": "task_result"})
    assert (len(calls), len(slept)) == (3, 2)

    answered = urllib.error.HTTPError("http://submitter", 404, "Not Found", {}, None)  # type: ignore[arg-type]
    outcomes[:] = [answered]
    with pytest.raises(urllib.error.HTTPError):
        post_with_retries(post, sleep=slept.append)("http://submitter/wove/events/t", {})
    outcomes[:] = [ConnectionResetError(104, "reset")] * 3
    with pytest.raises(ConnectionResetError):
        post_with_retries(post, attempts=3, sleep=slept.append)("http://submitter/wove/events/t", {})
    assert len(calls) == 3 + 1 + 3
