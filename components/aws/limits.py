"""AWS Batch limits the validator enforces, each with the AWS document it comes from.

Kept in one place so that a change in AWS's limits is a one-line change here.
"""

from __future__ import annotations

# Names of compute environments, job queues and job definitions: "up to 128 letters
# (uppercase and lowercase), numbers, hyphens, and underscores".
# https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateComputeEnvironment.html
# https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateJobQueue.html
# https://docs.aws.amazon.com/batch/latest/APIReference/API_RegisterJobDefinition.html
BATCH_NAME_MAX = 128
BATCH_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]*"

# Pulumi auto-names a resource "<logical name>-<7 random hex>": 8 characters of suffix.
# https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming
AUTONAME_SUFFIX_LEN = 8

# IAM role names: at most 64 characters.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
IAM_ROLE_NAME_MAX = 64

# A job queue takes 1 to 3 compute environments, all of one kind (EC2/SPOT or
# FARGATE/FARGATE_SPOT) and one CPU architecture.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateJobQueue.html
QUEUE_MAX_COMPUTE_ENVIRONMENTS = 3

# Job retry strategy: 1 to 10 attempts, at most 5 evaluateOnExit rules.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_RetryStrategy.html
RETRY_ATTEMPTS_MIN = 1
RETRY_ATTEMPTS_MAX = 10
EVALUATE_ON_EXIT_MAX = 5

# Job timeout: attemptDurationSeconds is at least 60.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_JobTimeout.html
TIMEOUT_SECONDS_MIN = 60

# EC2 jobs: at least 1 vCPU (whole numbers) and at least 4 MiB of memory.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html
EC2_VCPUS_MIN = 1
EC2_MEMORY_MIN_MIB = 4

# Fargate: memory (MiB) allowed for each vCPU value.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ResourceRequirement.html
FARGATE_MEMORY_BY_VCPU: dict[float, tuple[int, ...]] = {
    0.25: (512, 1024, 2048),
    0.5: tuple(range(1024, 4096 + 1, 1024)),
    1.0: tuple(range(2048, 8192 + 1, 1024)),
    2.0: tuple(range(4096, 16384 + 1, 1024)),
    4.0: tuple(range(8192, 30720 + 1, 1024)),
    8.0: tuple(range(16384, 61440 + 1, 4096)),
    16.0: tuple(range(32768, 122880 + 1, 8192)),
}

# Spot bid percentage of the On-Demand price.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeResource.html
BID_PERCENTAGE_MIN = 1
BID_PERCENTAGE_MAX = 100

# Allocation strategies by compute environment type (none on Fargate).
# https://docs.aws.amazon.com/batch/latest/userguide/allocation-strategies.html
ALLOCATION_STRATEGIES: dict[str, tuple[str, ...]] = {
    "EC2": ("BEST_FIT", "BEST_FIT_PROGRESSIVE"),
    "SPOT": ("BEST_FIT", "BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"),
    "FARGATE": (),
    "FARGATE_SPOT": (),
}

# SPOT environments need a Spot fleet role with BEST_FIT, which is also the default strategy.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeResource.html (spotIamFleetRole)
SPOT_FLEET_ROLE_STRATEGIES = ("BEST_FIT", None)

# SubmitJob request body: at most 30 KiB, container overrides included.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html
SUBMIT_JOB_MAX_BYTES = 30 * 1024

# DescribeJobs takes at most 100 job ids a call.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_DescribeJobs.html
DESCRIBE_JOBS_MAX_IDS = 100

# Compute environment update policy: jobExecutionTimeoutMinutes 1 to 360.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_UpdatePolicy.html
UPDATE_TIMEOUT_MINUTES_MIN = 1
UPDATE_TIMEOUT_MINUTES_MAX = 360

# Root volume: the ECS-optimized AL2023 AMI's snapshot is 30 GiB; gp3 volumes go to 16 TiB.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-optimized_AMI.html
# https://docs.aws.amazon.com/ebs/latest/userguide/general-purpose.html
ROOT_VOLUME_GIB_MIN = 30
ROOT_VOLUME_GIB_MAX = 16384

# Fair-share scheduling policy bounds.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_FairsharePolicy.html
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ShareAttributes.html
SHARE_DECAY_SECONDS_MAX = 604800
COMPUTE_RESERVATION_MAX = 99
SHARES_MAX = 500
SHARE_WEIGHT_MIN = 0.0001
SHARE_WEIGHT_MAX = 999.9999

# Job state time limit actions: maxTimeSeconds 600 to 86400.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_JobStateTimeLimitAction.html
RUNNABLE_TIMEOUT_MIN = 600
RUNNABLE_TIMEOUT_MAX = 86400

# evaluateOnExit patterns: at most 512 characters.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_EvaluateOnExit.html
EXIT_PATTERN_MAX = 512

# CloudWatch Logs retention values; 0 is ours for "never expire" (the log group then gets no
# retention policy, CloudWatch's default), as Pulumi's LogGroup documents retentionInDays 0.
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
# https://www.pulumi.com/registry/packages/aws/api-docs/cloudwatch/loggroup/#retentionindays_python
LOG_RETENTION_NEVER_EXPIRE = 0
LOG_RETENTION_DAYS = (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)

# EC2 Spot reclamation as Batch reports it in a job's status reason.
# https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html
SPOT_RECLAIMED_STATUS_REASON = "Host EC2*"
SPOT_DEFAULT_ATTEMPTS = 3

# A job whose containerOverrides are longer than 8192 characters is accepted by SubmitJob and
# then FAILS with "Container Overrides length must be at most 8192" (not in the API reference;
# reported in ASFHyP3/hyp3#3041, Netflix/metaflow#1482 and #977, convox/rack#1906). AWS does
# not say how it serializes them, so the helper measures them as `json.dumps` does with its
# default separators (", " and ": ", longer than the compact form) and keeps 1 KiB of margin:
# a payload is sent inline only while its overrides stay within INLINE_OVERRIDES_BUDGET.
CONTAINER_OVERRIDES_MAX_CHARS = 8192
INLINE_OVERRIDES_BUDGET = CONTAINER_OVERRIDES_MAX_CHARS - 1024

# S3 lifecycle expiration takes a positive number of days; exchange objects are transient,
# so ten years bounds what a typo can keep.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/intro-lifecycle-rules.html
EXCHANGE_RETENTION_DAYS_MIN = 1
EXCHANGE_RETENTION_DAYS_MAX = 3650
# Incomplete multipart uploads (a worker killed mid-upload of a large result) are aborted
# after this many days.
ABORT_INCOMPLETE_UPLOADS_DAYS = 1

# Batch applies infrastructure updates (and so an update policy) only to environments with
# these allocation strategies; with BEST_FIT (the default) a change replaces the environment,
# and Fargate environments take no update policy at all ("The following parameters can't be
# updated for Fargate compute environment: ... updatePolicy", aws-cdk#27054).
# https://docs.aws.amazon.com/batch/latest/userguide/infrastructure-updates.html
INFRASTRUCTURE_UPDATE_STRATEGIES = ("BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED")

# jobStateTimeLimitActions act only on jobs stuck RUNNABLE for one of these reasons; the
# reason is the trigger, not a message.
# https://docs.aws.amazon.com/batch/latest/userguide/job_stuck_in_runnable.html
RUNNABLE_TIMEOUT_REASONS = (
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
)

# How Fargate reports a reclaimed FARGATE_SPOT task in a job's status reason (nextflow#5786;
# ECS: "Your Spot Task was interrupted.").
FARGATE_SPOT_INTERRUPTED_STATUS_REASON = "Your Spot Task was interrupted*"

# GPU environments boot the ECS NVIDIA AMI, whose drivers and CUDA libraries make for a
# larger image than the CPU AMI's 30 GiB; give their instances room by default.
GPU_ROOT_VOLUME_GIB_DEFAULT = 100
ROOT_VOLUME_GIB_DEFAULT = 30

# SubmitJob: 50 calls a second per account and region (TooManyRequestsException past it).
# https://docs.aws.amazon.com/batch/latest/userguide/service_limits.html
SUBMIT_JOB_TPS = 50

# An array job has 2 to 10,000 children, each with AWS_BATCH_JOB_ARRAY_INDEX.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ArrayProperties.html
ARRAY_SIZE_MIN = 2
ARRAY_SIZE_MAX = 10_000

# Tags: at most 50 per resource; keys 1-128 and values 0-256 characters of letters, digits,
# spaces and _ . : / = + - @; the aws: prefix is AWS's. AWS's pattern is
# `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`: \p{Z} is Unicode's space separators (line and paragraph
# separators included), not line breaks or tabs, so `\s` is too wide.
# https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html (tag naming limits)
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_Tag.html (the pattern)
TAGS_MAX = 50
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
UNICODE_SPACE_SEPARATORS = "\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TAG_CHARACTERS = rf"[\w{UNICODE_SPACE_SEPARATORS}.:/=+\-@]*"

# Per account and region: at most 50 job queues and 50 compute environments (not adjustable).
# https://docs.aws.amazon.com/batch/latest/userguide/service_limits.html
JOB_QUEUES_MAX = 50
COMPUTE_ENVIRONMENTS_MAX = 50

# evaluateOnExit patterns: onStatusReason/onReason take letters, digits, periods, colons and
# white space, optionally ending in *; onExitCode digits, optionally ending in *; each up to 512.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_EvaluateOnExit.html
ON_REASON_PATTERN = r"[A-Za-z0-9.:\s]*\*?"

# A job definition (RegisterJobDefinition's request) takes at most 24 KiB.
# https://docs.aws.amazon.com/batch/latest/userguide/service_limits.html
JOB_DEFINITION_MAX_BYTES = 24 * 1024

# SSM parameter names: a name with a hierarchy begins with "/", and none may begin with
# "aws" or "ssm" (any case).
# https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html
SSM_RESERVED_PREFIXES = ("aws", "ssm")

# Python minor versions released as of botocore's and this package's release (the image's
# base is the official `python:<version>-slim`): 3.15.0 came out in October 2026 (PEP 790).
PYTHON_MINORS_RELEASED = tuple(f"3.{minor}" for minor in range(0, 16))

# Job definition container extras.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_LinuxParameters.html (swappiness 0-100)
# https://docs.aws.amazon.com/batch/latest/APIReference/API_EphemeralStorage.html (21-200 GiB, Fargate)
# https://docs.aws.amazon.com/batch/latest/APIReference/API_RegisterJobDefinition.html (schedulingPriority 0-9999)
# https://docs.aws.amazon.com/batch/latest/APIReference/API_Tmpfs.html (mount options)
SWAPPINESS_MAX = 100
EPHEMERAL_STORAGE_GIB_MIN = 21
EPHEMERAL_STORAGE_GIB_MAX = 200
SCHEDULING_PRIORITY_MAX = 9999
TMPFS_MOUNT_OPTIONS = (
    "defaults", "ro", "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "sync", "async", "dirsync",
    "remount", "mand", "nomand", "atime", "noatime", "diratime", "nodiratime", "bind", "rbind", "unbindable",
    "runbindable", "private", "rprivate", "shared", "rshared", "slave", "rslave", "relatime", "norelatime",
    "strictatime", "nostrictatime", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol",
)
# EFS volumes on Fargate need platform version 1.4.0 or later.
# https://docs.aws.amazon.com/batch/latest/userguide/efs-volumes.html
EFS_FARGATE_PLATFORM_MIN = (1, 4, 0)

# S3 general purpose bucket names: the exchange bucket is auto-named `<cluster>-exchange-<suffix>`,
# so the cluster name may not begin with a prefix S3 reserves ("sthree-configurator" begins
# with "sthree-").
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
S3_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")

# Fair-share identifiers (a scheduling policy's shares, and SubmitJob's shareIdentifier): "limited
# to 255 alphanumeric characters, and can be followed by an asterisk (*)"; a trailing * in a
# policy weighs every identifier with that prefix, and "the list of fair share identifiers in a
# fair share policy can't overlap" (UserA* and UserA-1).
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ShareAttributes.html
# https://docs.aws.amazon.com/batch/latest/APIReference/API_SubmitJob.html (shareIdentifier)
SHARE_IDENTIFIER_PATTERN = r"[A-Za-z0-9]{1,255}\*?"

# IAM: at most 10 managed policies attached to a role (the default quota; AWS raises it to 20 on
# request), and an aggregate of 10,240 characters of inline policy per role, white space not
# counted. The job role's inline policies of the component's own take part of it: the exchange
# bucket's under 512, and under 450 per EFS volume (tests/test_validation.py measures them).
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
IAM_MANAGED_POLICIES_PER_ROLE = 10
IAM_ROLE_INLINE_POLICY_CHARS = 10_240
JOB_ROLE_EXCHANGE_POLICY_CHARS = 512
JOB_ROLE_EFS_POLICY_CHARS_PER_VOLUME = 450

# Instance types Batch cannot launch: Mac instances run only on Dedicated Hosts, which Batch's
# compute environments do not use; the previous-generation families below support only
# paravirtual (PV) AMIs, and every ECS-optimized AMI Batch boots is HVM.
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-mac-instances.html
# https://docs.aws.amazon.com/ec2/latest/instancetypes/previous-generation-instances.html
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/virtualization_types.html
MAC_FAMILY_PREFIX = "mac"
PV_ONLY_FAMILIES = ("t1", "m1", "m2", "c1")

# With BEST_FIT (the default) Batch never launches past max_vcpus; with the other strategies it
# "never exceeds maxvCpus by more than a single instance".
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeResource.html (maxvCpus)
STRICT_MAX_VCPUS_STRATEGIES = ("BEST_FIT", None)

# SSM parameter names: at most 15 levels of hierarchy; a-zA-Z0-9_.- and /. AWS-owned names under
# /aws/reference/ (a Secrets Manager secret read through Parameter Store) and /aws/service/
# (public parameters) are readable, though no one may create a name beginning with aws.
# https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-su-create.html
# https://docs.aws.amazon.com/systems-manager/latest/userguide/integration-ps-secretsmanager.html
# https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-public-parameters.html
SSM_HIERARCHY_MAX = 15
SSM_READABLE_AWS_PREFIXES = ("/aws/reference/", "/aws/service/")
# ARN partitions where Batch and ECS run.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
ARN_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")

# tmpfs mount options that take a value (`mode=1777`); every other option AWS takes is a flag.
# https://man7.org/linux/man-pages/man5/tmpfs.5.html
TMPFS_VALUE_OPTIONS = ("mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol")
# Docker mounts the container's shared memory at this path (LinuxParameters.sharedMemorySize).
SHARED_MEMORY_PATH = "/dev/shm"
