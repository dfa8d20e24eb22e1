"""The exchange bucket: task payloads too large for a job's container overrides, and results
for submitters that jobs cannot reach. No always-on service: the submitter writes and polls it.

- SSE-S3 encryption at rest, all public access blocked, ACLs off (bucket owner enforced), a
  bucket policy refusing any request without TLS;
- objects expire after `exchange.retention_days` (what a crashed submitter left behind), and
  incomplete multipart uploads after a day; `force_destroy`, so `pulumi destroy` deletes it;
- the job role may read `payloads/*` and write `results/*`, nothing else; the application
  policy (application_policy.py) grants the submitting side the other half.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..aws import limits
from ..protocol import PAYLOADS_PREFIX, RESULTS_PREFIX
from ..spec import ExchangeArgs
from .scope import Scope


@dataclass
class ExchangeBucket:
    bucket: aws.s3.Bucket
    # Jobs must not start before the bucket refuses plain HTTP and public access.
    guards: list[pulumi.Resource]


def tls_only_policy(bucket_arn: str) -> str:
    """Refuse every request to the bucket or its objects that does not use TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def job_role_exchange_document(bucket_arn: str) -> str:
    """The job reads its payload and writes its events; it can neither list nor delete."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadTaskPayloads",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"{bucket_arn}/{PAYLOADS_PREFIX}*",
                },
                {
                    "Sid": "WriteTaskResults",
                    "Effect": "Allow",
                    # PutObject also covers multipart uploads of large results.
                    "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                    "Resource": f"{bucket_arn}/{RESULTS_PREFIX}*",
                },
            ],
        }
    )


def create_exchange_bucket(scope: Scope, exchange: ExchangeArgs) -> ExchangeBucket:
    bucket = aws.s3.Bucket(
        scope.child("exchange"),
        force_destroy=True,  # transient objects only: `pulumi destroy` must not stall on them
        tags=scope.tagged(),
        opts=scope.opts(),
    )
    on_bucket = scope.opts(depends_on=[bucket])
    public_access = aws.s3.BucketPublicAccessBlock(
        scope.child("exchange-public-access"),
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=on_bucket,
    )
    ownership = aws.s3.BucketOwnershipControls(
        scope.child("exchange-ownership"),
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=on_bucket,
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        scope.child("exchange-encryption"),
        bucket=bucket.id,
        rules=[
            # SSE-KMS with the account's AWS managed key (aws/s3): no key to pay for or manage,
            # usable through S3 by the account's principals that may use the bucket; the bucket
            # key keeps KMS requests (and their cost) to a few.
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms"
                ),
                bucket_key_enabled=True,
            )
        ],
        opts=on_bucket,
    )
    lifecycle = aws.s3.BucketLifecycleConfiguration(
        scope.child("exchange-lifecycle"),
        bucket=bucket.id,
        rules=[
            *(
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id=f"expire-{name}",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=prefix),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=exchange.retention_days),
                )
                for name, prefix in (("payloads", PAYLOADS_PREFIX), ("results", RESULTS_PREFIX))
            ),
            # Incomplete multipart uploads anywhere in the bucket (an empty filter: all of it).
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="abort-incomplete-uploads",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=limits.ABORT_INCOMPLETE_UPLOADS_DAYS
                ),
            ),
        ],
        opts=on_bucket,
    )
    # S3 refuses a bucket policy while the public access block is being applied: one after the other.
    policy = aws.s3.BucketPolicy(
        scope.child("exchange-tls-only"),
        bucket=bucket.id,
        policy=bucket.arn.apply(tls_only_policy),
        opts=scope.opts(depends_on=[public_access]),
    )
    return ExchangeBucket(bucket, [public_access, ownership, encryption, lifecycle, policy])


def grant_job_role_exchange(scope: Scope, job_role: aws.iam.Role, exchange: ExchangeBucket) -> aws.iam.RolePolicy:
    return aws.iam.RolePolicy(
        scope.child("job-role-exchange"),
        role=job_role.name,
        policy=exchange.bucket.arn.apply(job_role_exchange_document),
        opts=scope.opts(),
    )
