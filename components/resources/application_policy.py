"""The managed IAM policy a submitting application attaches to its own role: exactly what the
helper (client/) calls, on this cluster's resources.

Two actions take no narrower resource than "*" (AWS supports no resource-level permissions
for them): batch:DescribeJobs and batch:ListJobs. Job ids are only known at run time, so
TerminateJob (the only cancellation the helper calls) names this account's and region's jobs
(`job/*`). A pack of array payloads goes up as a multipart upload: s3:AbortMultipartUpload
lets a failed one be cleaned up. Failure reports quote a job's last log lines: GetLogEvents
on the cluster's log group only (its streams: `<group ARN>:*`); nothing filters logs.
"""

from __future__ import annotations

import json
from typing import Sequence

import pulumi
import pulumi_aws as aws

from ..protocol import PAYLOADS_PREFIX, RESULTS_PREFIX
from ..aws.partitions import partition_of
from .scope import Scope

# batch:DescribeJobs and batch:ListJobs support no resource-level permissions.
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbatch.html
ACCOUNT_WIDE_ACTIONS = ("batch:DescribeJobs", "batch:ListJobs")


def application_policy_document(
    *, queue_arns: Sequence[str], definition_arns: Sequence[str], bucket_arn: str, log_group_arn: str, region: str,
    account: str,
) -> str:
    """SubmitJob on these queues and definitions (any revision), job status and termination,
    the exchange objects the submitter writes (payloads), reads and deletes (results), and the
    cluster's job logs."""
    group = log_group_arn[: -len(":*")] if log_group_arn.endswith(":*") else log_group_arn
    definitions = sorted({arn for base in definition_arns for arn in (base, f"{base}:*")})
    statements = [
        {
            "Sid": "SubmitToClusterQueues",
            "Effect": "Allow",
            "Action": "batch:SubmitJob",
            "Resource": sorted(queue_arns) + definitions,
        },
        {"Sid": "WatchJobs", "Effect": "Allow", "Action": list(ACCOUNT_WIDE_ACTIONS), "Resource": "*"},
        {
            "Sid": "CancelJobs",
            "Effect": "Allow",
            "Action": "batch:TerminateJob",
            "Resource": f"arn:{partition_of(region)}:batch:{region}:{account}:job/*",
        },
        {
            "Sid": "WritePayloads",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": f"{bucket_arn}/{PAYLOADS_PREFIX}*",
        },
        {
            "Sid": "CollectResults",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:DeleteObject"],
            "Resource": f"{bucket_arn}/{RESULTS_PREFIX}*",
        },
        {
            "Sid": "ListResults",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": f"{RESULTS_PREFIX}*"}},
        },
        {
            "Sid": "ReadJobLogs",
            "Effect": "Allow",
            "Action": "logs:GetLogEvents",
            "Resource": [group, f"{group}:*"],
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def create_application_policy(
    scope: Scope,
    *,
    queue_arns: list[pulumi.Output[str]],
    definition_names: list[pulumi.Output[str]],
    bucket_arn: pulumi.Output[str],
    log_group_arn: pulumi.Output[str],
    region: pulumi.Output[str],
    account: pulumi.Output[str],
) -> aws.iam.Policy:
    document = pulumi.Output.all(
        pulumi.Output.all(*queue_arns), pulumi.Output.all(*definition_names), bucket_arn, region, account, log_group_arn
    ).apply(
        lambda values: application_policy_document(
            queue_arns=values[0],
            definition_arns=[f"arn:{partition_of(values[3])}:batch:{values[3]}:{values[4]}:job-definition/{name}"
                             for name in values[1]],
            bucket_arn=values[2],
            log_group_arn=values[5],
            region=values[3],
            account=values[4],
        )
    )
    return aws.iam.Policy(
        scope.child("application"),
        description=f"What an application submitting Wove tasks to the wove-batch cluster {scope.name} needs",
        policy=document,
        tags=scope.tagged(),
        opts=scope.opts(),
    )
