"""The data path end to end on moto (S3 and Batch, strict): payloads inline or through the
exchange bucket, results by callback or through the bucket, with the real Wove executor and
the worker run as a process."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import wove

from batch_emulator import JobRunner, MotoServer, RanJob, deploy
from conftest import physical
from test_e2e import environments, moto, stack  # noqa: F401 - fixtures
from wove_batch.aws.limits import CONTAINER_OVERRIDES_MAX_CHARS, INLINE_OVERRIDES_BUDGET
from wove_batch.client import ExchangeError, close_environments, wove_environments
from wove_batch.client.batch import overrides_length
from wove_batch.tools.plan import Plan

FIVE_MB = 5 * 1024 * 1024


def runner(moto: MotoServer, stack: Plan, worker_venv: Path, app_dir: Path, **options: Any) -> JobRunner:
    return JobRunner(moto, list(stack.outputs["job_queues"].values()), worker_venv / "bin", app_dir, **options)


def record_submits(environments: dict[str, Any]) -> list[dict[str, Any]]:
    """Every SubmitJob request any environment's boto3 client sends, as sent."""
    sent: list[dict[str, Any]] = []
    for environment in environments.values():
        batch = environment["executor_config"]["client"]._client
        batch.meta.events.register("provide-client-params.batch.SubmitJob", lambda params, **_: sent.append(params))
    return sent


def bucket_keys(moto: MotoServer, stack: Plan) -> list[str]:
    listed = moto.client("s3").list_objects_v2(Bucket=stack.outputs["exchange_bucket"])
    return sorted(item["Key"] for item in listed.get("Contents", []))


def length_of_a_20_kb_blob() -> Any:
    """A weave whose Batch task takes an argument too large to go inline."""
    with wove.weave() as w:
        @w.do
        def blob() -> str:
            return "x" * 20_000

        @w.do(environment="batch_exchange", delivery_timeout=60)
        def length(blob: str) -> int:
            return len(blob)
    return w


def variables(job: RanJob) -> set[str]:
    return {name for name in job.environment if name.startswith("WOVE_")}


@pytest.mark.parametrize("environment", ["batch_exchange", "batch"])
def test_a_5_mb_argument_and_a_5_mb_result_make_the_round_trip(
    environment: str, stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path
) -> None:
    sent = record_submits(environments)
    with runner(moto, stack, worker_venv, app_dir) as jobs:
        with wove.weave() as w:
            @w.do
            def data() -> bytes:
                return bytes(range(256)) * (FIVE_MB // 256)

            @w.do(environment=environment, delivery_timeout=60)
            def echoed(data: bytes) -> bytes:
                return data[::-1] + b"!"

        (job,) = jobs.wait_idle(1)
        served = list(jobs.credentials.requests)
    assert w.result.echoed == (bytes(range(256)) * (FIVE_MB // 256))[::-1] + b"!"
    # The job read its payload (and wrote its result) as the job role: the only credentials it
    # had came from the task credentials endpoint, for that role.
    assert served and set(served) == {f"/v2/credentials/{physical('e2e-job-role')}"}
    assert job.returncode == 0, job.output
    expected = {"WOVE_BATCH_PAYLOAD_URI"} | ({"WOVE_BATCH_RESULTS_URI"} if environment == "batch_exchange" else set())
    assert variables(job) == expected
    assert job.environment["WOVE_BATCH_PAYLOAD_URI"].startswith(f"s3://{stack.outputs['exchange_bucket']}/payloads/")
    (request,) = sent
    assert overrides_length(request["containerOverrides"]) <= INLINE_OVERRIDES_BUDGET
    client = environments[environment]["executor_config"]["client"]
    if environment == "batch":
        # Callback mode: the payload stays until Batch says the job ended (here moto ends it).
        assert [key.split("/")[0] for key in bucket_keys(moto, stack)] == ["payloads"]
        moto.let_moto_run_jobs()
    deadline = time.monotonic() + 15
    while (client.watched_job_ids or client.poller.outstanding) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert bucket_keys(moto, stack) == []  # delivered events and the payload are gone


def test_payloads_just_under_and_just_over_the_inline_limit_each_go_the_right_way(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path
) -> None:
    """Sizes found by measuring the real overrides Wove makes: the largest string that stays
    inline, and one byte more."""
    sent = record_submits(environments)

    def weave_of(text: str) -> Any:
        with wove.weave() as w:
            @w.do
            def text_() -> str:
                return text

            @w.do(environment="batch_exchange", delivery_timeout=60)
            def length(text_: str) -> int:
                return len(text_)
        return w

    with runner(moto, stack, worker_venv, app_dir) as jobs:
        low, high = 1, 8192
        while low < high:  # the largest argument whose job keeps its payload inline
            middle = (low + high + 1) // 2
            before = len(sent)
            weave_of("x" * middle)
            inline = "WOVE_BACKEND_PAYLOAD" in {v["name"] for v in sent[before]["containerOverrides"]["environment"]}
            low, high = (middle, high) if inline else (low, middle - 1)
        jobs_before = len(jobs.jobs)
        under, over = weave_of("x" * low), weave_of("x" * (low + 1))
        ran = jobs.wait_idle(jobs_before + 2)
    assert (under.result.length, over.result.length) == (low, low + 1)
    under_request, over_request = sent[-2], sent[-1]
    assert [v["name"] for v in under_request["containerOverrides"]["environment"]] == [
        "WOVE_BATCH_RESULTS_URI", "WOVE_BACKEND_PAYLOAD"]
    assert [v["name"] for v in over_request["containerOverrides"]["environment"]] == [
        "WOVE_BATCH_RESULTS_URI", "WOVE_BATCH_PAYLOAD_URI"]
    # One more byte of argument grows the doubly base64-encoded payload by up to 8 characters.
    assert INLINE_OVERRIDES_BUDGET - 8 <= overrides_length(under_request["containerOverrides"]) <= INLINE_OVERRIDES_BUDGET
    assert all(job.returncode == 0 for job in ran)
    # No request ever carried overrides Batch would fail the job for.
    assert max(len(json.dumps(r["containerOverrides"], separators=(",", ":"))) for r in sent) < CONTAINER_OVERRIDES_MAX_CHARS


def test_results_arrive_while_the_callback_url_is_unreachable(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path
) -> None:
    import wove_demo_tasks

    with runner(moto, stack, worker_venv, app_dir, unreachable_callback=True) as jobs:
        with wove.weave() as w:
            @w.do(range(5), environment="batch_exchange", delivery_timeout=60)
            def squares(item: int) -> int:
                return wove_demo_tasks.square(item)

        with wove.weave() as same_network:
            @same_network.do(environment="batch", delivery_timeout=8)
            def by_callback() -> int:  # callback mode: nothing can come back
                return 1

        ran = jobs.wait_idle(6)
    assert w.result.squares == [0, 1, 4, 9, 16]
    with pytest.raises(wove.DeliveryTimeoutError):
        same_network.result.by_callback
    callback_job = next(job for job in ran if "WOVE_BATCH_RESULTS_URI" not in job.environment)
    assert callback_job.returncode == 1, callback_job.output
    assert "Connection refused" in callback_job.output


def test_a_payload_gone_when_the_job_starts_is_the_tasks_error_and_the_job_fails(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path
) -> None:
    s3 = moto.client("s3")

    def delete_payload(job: RanJob) -> None:
        bucket, key = job.environment["WOVE_BATCH_PAYLOAD_URI"][5:].split("/", 1)
        s3.delete_object(Bucket=bucket, Key=key)

    with runner(moto, stack, worker_venv, app_dir, before_run=delete_payload) as jobs:
        w = length_of_a_20_kb_blob()
        (job,) = jobs.wait_idle(1)
    assert job.returncode == 1
    message = job.output.strip().splitlines()[-1]
    assert message.startswith(f"cannot read the task payload s3://{stack.outputs['exchange_bucket']}/payloads/")
    assert message.endswith(": NoSuchKey")
    with pytest.raises(RuntimeError, match=r"^cannot read the task payload s3://.*: NoSuchKey$"):
        w.result.length


def test_a_bucket_that_cannot_be_written_fails_the_task_before_any_submit(
    stack: Plan, moto: MotoServer
) -> None:
    outputs = {"wove_environments": json.loads(json.dumps(stack.outputs["wove_environments"]))}
    outputs["wove_environments"]["batch_exchange"]["wove_batch"]["exchange_bucket"] = "no-such-bucket-here"
    envs = wove_environments(outputs, client_factory=lambda **o: moto.client("batch", **o),
                             s3_factory=lambda **o: moto.client("s3", **o))
    wove.config(environments=envs)
    try:
        w = length_of_a_20_kb_blob()
        with pytest.raises(ExchangeError, match=(
            r"^task 'length': cannot write its payload to s3://no-such-bucket-here/payloads/[0-9a-f]{32}/[0-9a-f]{32}"
            r"\.json \(NoSuchBucket\); nothing was submitted\. The application's role needs the stack's application "
            r"policy \(application_policy_arn\)\.$")):
            w.result.length
    finally:
        close_environments(envs)
        wove.config(environments={name: None for name in envs})
    batch = moto.client("batch")
    for queue in stack.outputs["job_queues"].values():
        assert batch.list_jobs(jobQueue=queue, jobStatus="SUBMITTED")["jobSummaryList"] == []


def test_two_weaves_at_once_in_one_process_and_in_two_each_get_only_their_own_results(
    stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path
) -> None:
    """Two threads share this process's environments (one session); a second set of
    environments stands for a second process (its own session, as every process has)."""
    import wove_demo_tasks

    other_process = wove_environments(
        {"wove_environments": stack.outputs["wove_environments"]},
        client_factory=lambda **o: moto.client("batch", **o), s3_factory=lambda **o: moto.client("s3", **o),
        results_poll_seconds=0.2,
    )
    sessions = {envs["batch_exchange"]["executor_config"]["client"].exchange.session
                for envs in (environments, other_process)}
    assert len(sessions) == 2
    results: dict[str, Any] = {}

    def weave(label: str, offset: int, envs: dict[str, Any]) -> None:
        if envs is not environments:
            wove.config(environments={"batch_exchange_2": envs["batch_exchange"]})
        name = "batch_exchange" if envs is environments else "batch_exchange_2"
        with wove.weave() as w:
            @w.do(range(offset, offset + 6), environment=name)
            def squares(item: int) -> int:
                return wove_demo_tasks.square(item)
        results[label] = w.result.squares

    try:
        with runner(moto, stack, worker_venv, app_dir) as jobs:
            threads = [threading.Thread(target=weave, args=(label, offset, envs)) for label, offset, envs in (
                ("first", 0, environments), ("second", 100, environments), ("other process", 1000, other_process))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            jobs.wait_idle(18)
    finally:
        close_environments(other_process)
        wove.config(environments={"batch_exchange_2": None})
    assert results == {
        "first": [i * i for i in range(6)],
        "second": [i * i for i in range(100, 106)],
        "other process": [i * i for i in range(1000, 1006)],
    }


def test_the_exchange_bucket_is_deployed_as_planned(stack: Plan, moto: MotoServer) -> None:
    s3 = moto.client("s3")
    bucket = stack.outputs["exchange_bucket"]
    assert bucket == physical("e2e-exchange")
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert (rule["ApplyServerSideEncryptionByDefault"], rule["BucketKeyEnabled"]) == ({"SSEAlgorithm": "aws:kms"}, True)
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [(r["ID"], r["Filter"], r.get("Expiration"), r.get("AbortIncompleteMultipartUpload")) for r in rules] == [
        ("expire-payloads", {"Prefix": "payloads/"}, {"Days": 7}, None),
        ("expire-results", {"Prefix": "results/"}, {"Days": 7}, None),
        ("abort-incomplete-uploads", {"Prefix": ""}, None, {"DaysAfterInitiation": 1}),
    ]
    moto.reset()
    deployed = deploy(stack, moto)  # again, into a fresh emulator, to see what the harness did with the policy
    policy = json.loads(deployed.bucket_policies[bucket])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_task_code_shipped_by_value_runs_without_being_in_the_image(
    stack: Plan, moto: MotoServer, worker_venv: Path, app_dir: Path, tmp_path: Path
) -> None:
    """A module only the submitter has (not in the worker's app folder): by reference the job
    cannot import it; registered by value it travels in the payload."""
    import sys

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "wove_fresh_tasks.py").write_text("def triple(x):\n    return 3 * x\n")
    sys.path.insert(0, str(fresh))
    outputs = {"wove_environments": stack.outputs["wove_environments"]}
    factories = {"client_factory": lambda **o: moto.client("batch", **o), "s3_factory": lambda **o: moto.client("s3", **o),
                 "results_poll_seconds": 0.2}
    try:
        import wove_fresh_tasks

        def weave_on(envs: dict[str, Any]) -> Any:
            wove.config(environments=envs)
            try:
                with wove.weave() as w:
                    @w.do(environment="batch_exchange", delivery_timeout=60)
                    def tripled() -> int:
                        return wove_fresh_tasks.triple(14)
                return w
            finally:
                close_environments(envs)

        with runner(moto, stack, worker_venv, app_dir) as jobs:
            by_reference = weave_on(wove_environments(outputs, **factories))
            by_value = weave_on(wove_environments(outputs, pickle_by_value=["wove_fresh_tasks"], **factories))
            jobs.wait_idle(2)
        with pytest.raises(ModuleNotFoundError, match="No module named 'wove_fresh_tasks'"):
            by_reference.result.tripled
        assert by_value.result.tripled == 42
    finally:
        import cloudpickle

        cloudpickle.unregister_pickle_by_value(sys.modules["wove_fresh_tasks"])
        sys.path.remove(str(fresh))
        sys.modules.pop("wove_fresh_tasks", None)
        wove.config(environments={"batch_exchange": None})
