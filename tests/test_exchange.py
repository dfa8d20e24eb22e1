"""The exchange bucket, its policies and the application's policy, as planned (exact inputs),
and the submitting side's pieces apart from the emulator: payload placement, the poller."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from conftest import ACCOUNT, MINIMAL, REGION, definition_name, physical, plan_of
from wove_batch.client.exchange import Exchange, Expected, ResultPoller

LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{physical('wove-test-logs')}"

BUCKET = physical("wove-test-exchange")
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
CLUSTER_TAG = {"wove-batch:cluster": "wove-test"}


def test_bucket_and_its_settings_exact_inputs() -> None:
    plan = plan_of({**MINIMAL, "exchange": {"retention_days": 3}})
    bucket = plan.named("wove-test-exchange")
    assert bucket.inputs == {"forceDestroy": True, "tags": CLUSTER_TAG}
    assert plan.named("wove-test-exchange-public-access").inputs == {
        "bucket": BUCKET,
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert plan.named("wove-test-exchange-ownership").inputs == {
        "bucket": BUCKET, "rule": {"objectOwnership": "BucketOwnerEnforced"}}
    assert plan.named("wove-test-exchange-encryption").inputs == {
        "bucket": BUCKET,
        # the AWS managed key (aws/s3): no key to pay for; the bucket key keeps KMS calls few
        "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}, "bucketKeyEnabled": True}]}
    assert plan.named("wove-test-exchange-lifecycle").inputs == {
        "bucket": BUCKET,
        "rules": [
            *({"id": f"expire-{name}", "status": "Enabled", "filter": {"prefix": f"{name}/"}, "expiration": {"days": 3}}
              for name in ("payloads", "results")),
            {"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {},
             "abortIncompleteMultipartUpload": {"daysAfterInitiation": 1}},
        ],
    }
    policy = plan.named("wove-test-exchange-tls-only")
    assert policy.inputs["bucket"] == BUCKET
    assert json.loads(policy.inputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [BUCKET_ARN, f"{BUCKET_ARN}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    }
    # S3 refuses a bucket policy while the public access block is applied: one after the other.
    assert plan.named("wove-test-exchange-public-access").urn in policy.depends_on
    # Jobs are registered only once the bucket is private and TLS-only.
    definition = plan.named("wove-test-jobdef-worker")
    for guard in ("public-access", "ownership", "encryption", "lifecycle", "tls-only"):
        assert plan.named(f"wove-test-exchange-{guard}").urn in definition.depends_on, guard


def test_job_role_reads_payloads_and_writes_results_only() -> None:
    plan = plan_of(MINIMAL)
    grant = plan.named("wove-test-job-role-exchange")
    assert grant.inputs["role"] == physical("wove-test-job-role")
    assert json.loads(grant.inputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadTaskPayloads", "Effect": "Allow", "Action": "s3:GetObject",
             "Resource": f"{BUCKET_ARN}/payloads/*"},
            {"Sid": "WriteTaskResults", "Effect": "Allow", "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
             "Resource": f"{BUCKET_ARN}/results/*"},
        ],
    }
    assert plan.named("wove-test-job-role-exchange").urn in plan.named("wove-test-jobdef-worker").depends_on
    # Nothing else anywhere mentions the bucket: the execution and instance roles get no access.
    for resource in plan.resources:
        if resource.type.startswith("aws:iam/") and resource.name not in ("wove-test-job-role-exchange", "wove-test-application"):
            assert BUCKET not in json.dumps(resource.inputs), resource.name


def test_application_policy_holds_exactly_what_a_submitter_needs() -> None:
    cluster = {**MINIMAL, "job_queues": {"main": {"compute_environments": ["cpu"]},
                                         "low": {"compute_environments": ["cpu"], "priority": 0}}}
    plan = plan_of(cluster)
    policy = plan.named("wove-test-application")
    assert policy.inputs["description"] == "What an application submitting Wove tasks to the wove-batch cluster wove-test needs"
    assert policy.inputs["tags"] == CLUSTER_TAG
    batch = f"arn:aws:batch:{REGION}:{ACCOUNT}"
    definition = f"{batch}:job-definition/{definition_name('wove-test-jobdef-worker')}"
    assert json.loads(policy.inputs["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "SubmitToClusterQueues", "Effect": "Allow", "Action": "batch:SubmitJob", "Resource": sorted([
                f"{batch}:job-queue/{physical('wove-test-queue-main')}",
                f"{batch}:job-queue/{physical('wove-test-queue-low')}",
            ]) + [definition, f"{definition}:*"]},
            {"Sid": "WatchJobs", "Effect": "Allow", "Action": ["batch:DescribeJobs", "batch:ListJobs"], "Resource": "*"},
            # TerminateJob only: the helper never calls CancelJob (issue 22, item 12).
            {"Sid": "CancelJobs", "Effect": "Allow", "Action": "batch:TerminateJob", "Resource": f"{batch}:job/*"},
            # A failed multipart upload of a payload pack can be aborted.
            {"Sid": "WritePayloads", "Effect": "Allow",
             "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
             "Resource": f"{BUCKET_ARN}/payloads/*"},
            {"Sid": "CollectResults", "Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject"],
             "Resource": f"{BUCKET_ARN}/results/*"},
            {"Sid": "ListResults", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET_ARN,
             "Condition": {"StringLike": {"s3:prefix": "results/*"}}},
            # Failure reports quote the job's last log lines: the cluster's log group only.
            {"Sid": "ReadJobLogs", "Effect": "Allow", "Action": "logs:GetLogEvents",
             "Resource": [LOG_GROUP_ARN, f"{LOG_GROUP_ARN}:*"]},
        ],
    }
    assert plan.outputs["application_policy_arn"] == f"arn:aws:iam::{ACCOUNT}:policy/{physical('wove-test-application')}"
    assert plan.outputs["exchange_bucket"] == BUCKET


@pytest.mark.parametrize(
    ("callback", "results", "expected"),
    [
        (None, None, "exchange"),
        ({"base_url": "http://10.0.0.5:8787"}, None, "callback"),
        ({"base_url": "http://10.0.0.5:8787"}, "exchange", "exchange"),
    ],
)
def test_each_environment_gets_its_results_mode(callback: Any, results: Any, expected: str) -> None:
    cluster: dict[str, Any] = {**MINIMAL, "wove_environments": {"batch": {"job_queue": "main", "job_definition": "worker"}}}
    if callback:
        cluster["callback"] = callback
    if results:
        cluster["wove_environments"]["batch"]["results"] = results
    environment = plan_of(cluster).outputs["wove_environments"]["batch"]
    assert environment["wove_batch"] == {"results": expected, "exchange_bucket": BUCKET, "region": REGION, "array_jobs": True,
                                         "log_group": physical("wove-test-logs")}
    # exchange results: no callback server reachable from outside; Wove listens on 127.0.0.1
    assert ("callback_url" in environment["executor_config"]) == (expected == "callback")


# --- the poller, against an in-memory S3 stand-in that fails on demand ----------------------


class FlakyBucket:
    """An S3 client for one bucket held in memory whose first `failures` listings raise, as a
    throttled or briefly unreachable S3 does."""

    def __init__(self, failures: int) -> None:
        self.objects: dict[str, bytes] = {}
        self.failures = failures
        self.deleted: list[str] = []

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803 - boto3's names
        self.objects[Key] = Body

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        return {"Body": io.BytesIO(self.objects[Key])}

    def delete_object(self, Bucket: str, Key: str) -> None:  # noqa: N803
        self.deleted.append(Key)
        self.objects.pop(Key, None)

    def delete_objects(self, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        for item in Delete["Objects"]:
            self.delete_object(Bucket=Bucket, Key=item["Key"])
        return {}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_objects_v2"
        bucket = self

        class Paginator:
            def paginate(self, Bucket: str, Prefix: str) -> Any:  # noqa: N803
                if bucket.failures:
                    bucket.failures -= 1
                    raise ConnectionError("S3 did not answer")
                return [{"Contents": [{"Key": k} for k in sorted(bucket.objects) if k.startswith(Prefix)]}]

        return Paginator()


def test_poller_survives_transient_failures_and_delivers_in_order_then_cleans_up() -> None:
    s3 = FlakyBucket(failures=2)
    exchange = Exchange(s3, "bucket")
    posted: list[tuple[str, dict]] = []
    poller = ResultPoller(exchange, poll_seconds=0.01, post=lambda url, body: posted.append((url, json.loads(body))))
    payload_key = exchange.put_payload("slot1", "cGF5bG9hZA==", task="t")
    prefix = f"results/{exchange.session}/slot1/"
    s3.put_object(Bucket="bucket", Key=prefix + "0002-task_result.json", Body=b'{"type":"task_result","run_id":"t:1","result_pickle":"x"}')
    s3.put_object(Bucket="bucket", Key=prefix + "0001-task_started.json", Body=b'{"type":"task_started","run_id":"t:1"}')
    s3.put_object(Bucket="bucket", Key=f"results/{exchange.session}/unknown/0001-task_started.json", Body=b"{}")
    poller.expect("slot1", Expected("t:1", "t", "http://127.0.0.1:1/wove/events/x", payload_key))
    deadline = time.monotonic() + 5
    while poller.is_polling and time.monotonic() < deadline:
        time.sleep(0.01)
    assert s3.failures == 0  # both failed listings were retried
    assert posted == [
        ("http://127.0.0.1:1/wove/events/x", {"type": "task_started", "run_id": "t:1", "task_id": "t"}),
        ("http://127.0.0.1:1/wove/events/x", {"type": "task_result", "run_id": "t:1", "result_pickle": "x", "task_id": "t"}),
    ]
    assert s3.objects == {}  # events delivered, the stray one dropped, the payload deleted
    assert payload_key in s3.deleted
    assert (poller.is_polling, poller.outstanding) == (False, 0)  # nothing outstanding: no polling


def test_poller_fills_in_whose_error_a_worker_without_its_payload_reports() -> None:
    s3 = FlakyBucket(failures=0)
    exchange = Exchange(s3, "bucket")
    posted: list[dict] = []
    poller = ResultPoller(exchange, poll_seconds=60, post=lambda url, body: posted.append(json.loads(body)))
    poller._expected["slot"] = Expected("job:9", "job", "http://x", None)
    s3.put_object(Bucket="bucket", Key=f"results/{exchange.session}/slot/0001-task_error.json",
                  Body=b'{"type":"task_error","error_pickle":"e"}')
    assert poller.poll_once() == 1
    assert posted == [{"type": "task_error", "error_pickle": "e", "run_id": "job:9", "task_id": "job"}]
    assert poller.outstanding == 0


def test_a_payload_that_cannot_be_written_raises_before_submit_with_access_denied() -> None:
    """botocore's own error for S3's AccessDenied, through a real client with a stubbed answer."""
    import boto3
    from botocore.stub import Stubber

    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(s3)
    stub.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
    stub.activate()
    exchange = Exchange(s3, "bucket")
    from wove_batch.client import ExchangeError

    with pytest.raises(ExchangeError, match=r"^task 'crunch': cannot write its payload to s3://bucket/payloads/[0-9a-f]{32}/s\.json "
                                            r"\(AccessDenied\); nothing was submitted\."):
        exchange.put_payload("s", "e30=", task="crunch")


def test_a_task_whose_own_overrides_are_too_large_is_refused_and_leaves_nothing_behind() -> None:
    """The payload goes to the bucket, but the environment's own overrides alone are past the
    budget: refused before SubmitJob, and the payload object is deleted again."""
    import base64

    from wove_batch.client import PayloadTooLargeError, WatchedBatchClient

    s3 = FlakyBucket(failures=0)
    submitted: list[dict] = []

    class Batch:
        def submit_job(self, **params: Any) -> dict:
            submitted.append(params)
            return {"jobId": "j"}

    client = WatchedBatchClient(Batch(), exchange=Exchange(s3, "bucket"), results="callback")
    task = {"run_id": "crunch:1", "task_id": "crunch", "task_name": "crunch", "callback_url": "http://x", "args": "a" * 9000}
    payload = base64.b64encode(json.dumps(task).encode()).decode()
    own = [{"name": "BIG", "value": "y" * 7200}]
    with pytest.raises(PayloadTooLargeError, match=(
            r"^task 'crunch': its containerOverrides are 7\d{3} characters without the payload, over the 7168 Batch "
            r"takes safely \(8192 at most\); shorten the environment's container_overrides$")):
        client.submit_job(jobName="wove-crunch:1", jobQueue="q", jobDefinition="d",
                          containerOverrides={"environment": own + [{"name": "WOVE_BACKEND_PAYLOAD", "value": payload}]})
    assert submitted == [] and s3.objects == {} and len(s3.deleted) == 1
