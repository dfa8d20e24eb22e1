"""Typed arguments of a WoveBatchCluster, and their parsing from stack config.

Each argument is a frozen dataclass whose fields carry their default and a one-line doc.
`parse_cluster_args` turns the plain mapping under `wove-batch:cluster` (or one built in
Python) into these dataclasses, collecting every shape error instead of stopping at the first.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import math
import sys
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Union

from .errors import SpecError

ComputeEnvironmentType = Literal["EC2", "SPOT", "FARGATE", "FARGATE_SPOT"]
State = Literal["ENABLED", "DISABLED"]
AllocationStrategy = Literal[
    "BEST_FIT", "BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"
]
CpuArchitecture = Literal["x86_64", "arm64"]

ResultsMode = Literal["callback", "exchange"]
# AWS takes evaluateOnExit's action in any case ("not case sensitive"); it is sent upper case.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_EvaluateOnExit.html
RetryAction = Literal["RETRY", "EXIT"]
CASE_INSENSITIVE_LITERALS = (RetryAction,)

# The worker every job definition runs by default: it runs a plain Wove payload exactly as
# `python -m wove.backend_worker` does, and also payloads and results in the exchange bucket.
WOVE_WORKER_COMMAND: tuple[str, ...] = ("python", "-m", "wove_batch.worker")


def _doc(text: str, **kwargs: Any) -> Any:
    """A dataclass field with its documentation kept in metadata (for the README reference)."""
    return field(metadata={"doc": text}, **kwargs)


def default_python_version() -> str:
    """The deploying interpreter's major.minor: cloudpickle needs the worker to match it."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass(frozen=True)
class NetworkArgs:
    """Where the compute environments run. Default: the region's default VPC and its subnets."""

    assign_public_ip: Optional[bool] = _doc(
        "Fargate jobs get a public IP (needed to reach ECR without a NAT). Default: true in the default VPC, else false.",
        default=None,
    )
    vpc_id: Optional[str] = _doc("VPC of the security group. Default: the subnets' VPC, or the default VPC.", default=None)
    subnet_ids: tuple[str, ...] = _doc("Subnets of the compute environments. Default: all subnets of the VPC.", default=())
    security_group_ids: tuple[str, ...] = _doc(
        "Security groups of the instances. Default: one egress-only group is created.", default=()
    )


@dataclass(frozen=True)
class ImageArgs:
    """The worker image: built from `context` and pushed to ECR, or a prebuilt `uri`."""

    context: str = _doc(
        "Build context, relative to the project directory: the project itself, so the image installs this "
        "package from the same source as the application.",
        default=".",
    )
    dockerfile: str = _doc("Dockerfile, relative to the project directory.", default="worker_image/Dockerfile")
    python_version: str = _doc(
        "Python major.minor of the image; must match the submitting process.", default_factory=default_python_version
    )
    uri: Optional[str] = _doc("Prebuilt image (multi-architecture if the cluster has both); no build then.", default=None)


@dataclass(frozen=True)
class UpdatePolicyArgs:
    """How Batch treats running jobs when an environment's infrastructure is updated."""

    terminate_jobs_on_update: bool = _doc("Terminate running jobs on an update.", default=False)
    job_execution_timeout_minutes: int = _doc("Minutes running jobs get to finish during an update (1-360).", default=30)


@dataclass(frozen=True)
class ComputeEnvironmentArgs:
    """One managed compute environment."""

    type: ComputeEnvironmentType = _doc("EC2, SPOT, FARGATE or FARGATE_SPOT.")
    max_vcpus: int = _doc("Most vCPUs the environment scales to (>= 1).")
    instance_types: tuple[str, ...] = _doc(
        "EC2/SPOT only, required there: types, families or optimal/default_x86_64/default_arm64.", default=()
    )
    min_vcpus: int = _doc("vCPUs kept running when idle; 0 scales to zero.", default=0)
    desired_vcpus: Optional[int] = _doc("Initial vCPUs (EC2/SPOT); ignored after creation, Batch moves it.", default=None)
    allocation_strategy: Optional[AllocationStrategy] = _doc("EC2/SPOT only; SPOT_* on SPOT only. Default: BEST_FIT.", default=None)
    bid_percentage: Optional[int] = _doc("SPOT only: most % of the On-Demand price (1-100). Default: 100.", default=None)
    ami_id: Optional[str] = _doc("EC2/SPOT only: custom AMI. Default: the ECS-optimized AMI.", default=None)
    state: State = _doc("ENABLED or DISABLED.", default="ENABLED")
    root_volume_gib: Optional[int] = _doc(
        "EC2/SPOT only: encrypted gp3 root volume of each instance, GiB (30-16384). Default: 30, 100 for GPU types.",
        default=None,
    )
    update_policy: UpdatePolicyArgs = _doc(
        "What running jobs get during an infrastructure update; only for EC2/SPOT environments with "
        "BEST_FIT_PROGRESSIVE or SPOT_* allocation (the only ones Batch updates in place).",
        default_factory=UpdatePolicyArgs,
    )


@dataclass(frozen=True)
class FairShareArgs:
    """A fair-share scheduling policy for a queue (a queue cannot drop one once it has it)."""

    share_decay_seconds: int = _doc("Window of past usage that counts (0-604800).", default=0)
    compute_reservation: int = _doc("% of vCPUs held back for share identifiers not yet seen (0-99).", default=0)
    shares: Mapping[str, float] = _doc("Weight per share identifier (0.0001-999.9999); lower gets more.", default_factory=dict)


@dataclass(frozen=True)
class JobQueueArgs:
    """A job queue over 1 to 3 compute environments, tried in the given order."""

    compute_environments: tuple[str, ...] = _doc("Names of compute environments, in order of preference.")
    priority: int = _doc("Higher runs first among queues sharing an environment (>= 0).", default=1)
    state: State = _doc("ENABLED or DISABLED.", default="ENABLED")
    fair_share: Optional[FairShareArgs] = _doc("Fair-share scheduling policy. Default: none (first in, first out).", default=None)
    runnable_timeout_seconds: Optional[int] = _doc(
        "Cancel jobs stuck RUNNABLE this long (600-86400), e.g. fitting no instance. Default: never.", default=None
    )


@dataclass(frozen=True)
class RetryRuleArgs:
    """One evaluateOnExit rule: RETRY or EXIT when the job's exit matches all patterns given."""

    action: RetryAction = _doc("RETRY or EXIT (any case, as AWS takes it).")
    on_status_reason: Optional[str] = _doc("Pattern on the job's status reason, e.g. 'Host EC2*'.", default=None)
    on_reason: Optional[str] = _doc("Pattern on the container's reason.", default=None)
    on_exit_code: Optional[str] = _doc("Pattern on the exit code: digits, optionally ending in '*'.", default=None)


@dataclass(frozen=True)
class TmpfsArgs:
    """A tmpfs mount in the container (EC2 only)."""

    container_path: str = _doc("Absolute path of the mount in the container.")
    size_mib: int = _doc("Size of the tmpfs in MiB.")
    mount_options: tuple[str, ...] = _doc("Mount options, e.g. noexec, nosuid.", default=())


@dataclass(frozen=True)
class UlimitArgs:
    """A ulimit of the container, e.g. nofile."""

    soft: int = _doc("Soft limit.")
    hard: int = _doc("Hard limit (at least soft).")


@dataclass(frozen=True)
class EfsVolumeArgs:
    """An EFS file system mounted into the job's container."""

    file_system_id: str = _doc("The file system: fs-0123456789abcdef0.")
    container_path: str = _doc("Absolute path of the mount in the container.")
    root_directory: str = _doc("Directory of the file system to mount (must be / with an access point).", default="/")
    access_point_id: Optional[str] = _doc("An access point (fsap-...), which sets the directory and user.", default=None)
    transit_encryption: bool = _doc("TLS between the container and EFS (needed by IAM authorization and access points).",
                                    default=True)
    iam_authorization: bool = _doc("Mount with the job role's identity; the job role gets elasticfilesystem:Client* on "
                                   "this file system only.", default=True)
    read_only: bool = _doc("Mount read-only (no ClientWrite grant).", default=False)


@dataclass(frozen=True)
class JobDefinitionArgs:
    """A container job definition running the worker image."""

    vcpus: float = _doc("vCPUs per job (whole numbers on EC2; Fargate: 0.25-16).", default=1)
    memory: int = _doc("MiB per job.", default=2048)
    gpus: int = _doc("GPUs per job (EC2 only).", default=0)
    architecture: Optional[CpuArchitecture] = _doc(
        "x86_64 or arm64; needed only when the cluster has both. Default: the cluster's.", default=None
    )
    command: tuple[str, ...] = _doc("Container command.", default=WOVE_WORKER_COMMAND)
    environment: Mapping[str, str] = _doc("Plain environment variables.", default_factory=dict)
    secrets: Mapping[str, str] = _doc("Environment variables from a Secrets Manager or SSM parameter ARN.", default_factory=dict)
    retry_attempts: Optional[int] = _doc(
        "Attempts per job (1-10). Default: 3 when a Spot queue serves it, else 1.", default=None
    )
    evaluate_on_exit: tuple[RetryRuleArgs, ...] = _doc(
        "Up to 5 retry rules. Default with Spot: retry on 'Host EC2*' (reclaimed), exit on anything else.", default=()
    )
    timeout_seconds: Optional[int] = _doc("Attempt timeout (>= 60). Default: none.", default=None)
    platform_version: str = _doc("Fargate only: platform version.", default="LATEST")
    image_uri: Optional[str] = _doc(
        "A prebuilt image for this definition only (any registry; it must run the worker command for Wove tasks). "
        "Default: the cluster's worker image.", default=None)
    image_context: Optional[str] = _doc(
        "Build this definition's own image from this folder (relative to the project), pushed to the cluster's "
        "repository; it must install wove-batch and run the worker command for Wove tasks.", default=None)
    image_dockerfile: Optional[str] = _doc("The Dockerfile of image_context. Default: its Dockerfile.", default=None)
    shared_memory_mib: Optional[int] = _doc(
        "EC2 only: size of /dev/shm in MiB (Docker's default is 64; PyTorch data loaders want more).", default=None)
    tmpfs: tuple[TmpfsArgs, ...] = _doc("EC2 only: tmpfs mounts.", default=())
    max_swap_mib: Optional[int] = _doc("EC2 only: swap the container may use, in MiB (0: none). Default: none set.",
                                       default=None)
    swappiness: Optional[int] = _doc("EC2 only: 0-100, with max_swap_mib. Default: none set (60).", default=None)
    ulimits: Mapping[str, UlimitArgs] = _doc("Ulimits by name (nofile, nproc, memlock, ...).", default_factory=dict)
    init_process: bool = _doc("Run an init process that reaps zombie processes and forwards signals.", default=False)
    ephemeral_storage_gib: Optional[int] = _doc(
        "Fargate only: scratch disk in GiB (21-200; default 20). On EC2 the disk is the compute environment's "
        "root_volume_gib, shared by the jobs on an instance.", default=None)
    efs_volumes: Mapping[str, EfsVolumeArgs] = _doc("EFS file systems to mount, by volume name.", default_factory=dict)
    deregister_on_new_revision: bool = _doc(
        "Deregister the previous revision when this definition changes. Default false: jobs already queued against "
        "it still run (Wove names the definition when it submits).", default=False)
    scheduling_priority: Optional[int] = _doc("Priority of its jobs on a fair-share queue (0-9999).", default=None)
    propagate_tags: bool = _doc("Copy the definition's tags to each job's ECS task.", default=True)


@dataclass(frozen=True)
class WoveEnvironmentArgs:
    """One entry of the exported `wove_environments`: a queue and a job definition."""

    job_queue: str = _doc("Name of a job queue of this cluster.")
    job_definition: str = _doc("Name of a job definition of this cluster.")
    share_identifier: Optional[str] = _doc(
        "Fair-share identifier of its jobs; required exactly when the queue has fair_share.", default=None
    )
    results: Optional[ResultsMode] = _doc(
        "How results come back: callback (jobs post to callback.base_url) or exchange (through the exchange "
        "bucket, no inbound route needed). Default: callback when the stack has a callback, else exchange.",
        default=None,
    )
    array_jobs: bool = _doc(
        "Whether tasks arriving together (a map) go to Batch as one array job, one child per task; off: one job "
        "per task.",
        default=True,
    )


@dataclass(frozen=True)
class CallbackArgs:
    """Where Batch jobs reach the submitting process (Wove's callback server)."""

    base_url: str = _doc("http(s) URL of the submitting process as jobs see it.")
    port: int = _doc("Port the callback server listens on (1-65535).", default=8787)


@dataclass(frozen=True)
class ExchangeArgs:
    """The exchange bucket: task payloads too large for the job's overrides, and results."""

    retention_days: int = _doc("Days before exchange objects left behind expire (1-3650).", default=7)


@dataclass(frozen=True)
class LogsArgs:
    """The cluster's CloudWatch log group (awslogs driver, one stream prefix per job definition)."""

    retention_days: int = _doc("Days CloudWatch keeps job logs (one of CloudWatch's values; 0: never expire).", default=30)


@dataclass(frozen=True)
class JobRoleArgs:
    """What task code may do in AWS. Default: nothing."""

    managed_policy_arns: tuple[str, ...] = _doc("IAM policy ARNs to attach.", default=())
    policy_statements: tuple[Mapping[str, Any], ...] = _doc(
        "IAM policy statements ({Effect, Action, Resource}) of an inline policy.", default=()
    )


@dataclass(frozen=True)
class WoveBatchClusterArgs:
    """Everything under `wove-batch:cluster`."""

    compute_environments: Mapping[str, ComputeEnvironmentArgs] = _doc("Compute environments by name (>= 1).")
    job_queues: Mapping[str, JobQueueArgs] = _doc("Job queues by name (>= 1).")
    job_definitions: Mapping[str, JobDefinitionArgs] = _doc("Job definitions by name (>= 1).")
    wove_environments: Mapping[str, WoveEnvironmentArgs] = _doc(
        "Wove environments by name. Default with one job definition: one per queue, named after it.",
        default_factory=dict,
    )
    network: NetworkArgs = _doc("Network placement.", default_factory=NetworkArgs)
    image: ImageArgs = _doc("Worker image.", default_factory=ImageArgs)
    callback: Optional[CallbackArgs] = _doc(
        "Where jobs post results directly. Default: none; results travel through the exchange bucket.", default=None
    )
    exchange: ExchangeArgs = _doc("The exchange bucket.", default_factory=ExchangeArgs)
    logs: LogsArgs = _doc("Job logs.", default_factory=LogsArgs)
    job_role: JobRoleArgs = _doc("Permissions of the task code.", default_factory=JobRoleArgs)
    tags: Mapping[str, str] = _doc("Tags on every taggable resource.", default_factory=dict)


@dataclass
class ParseResult:
    """The parsed arguments (None when a required section is unusable) and every shape error.

    `broken` holds `(section, name)` of map entries with a shape error: they exist, so
    references to them are not reported as undefined, and rules that combine entries skip
    them. `failed` holds the paths of the fields that failed, on which no rule reports again.
    """

    args: Optional[WoveBatchClusterArgs]
    errors: list[SpecError]
    broken: set[tuple[str, str]]
    failed: set[str]


def parse_cluster_args(raw: Any) -> ParseResult:
    """Parse the `wove-batch:cluster` mapping; every type and shape error is collected."""
    errors: list[SpecError] = []
    broken: set[tuple[str, str]] = set()
    failed: set[str] = set()
    if isinstance(raw, WoveBatchClusterArgs):
        raw = to_plain(raw)
    args = _Parser(errors, broken, failed).dataclass_value(WoveBatchClusterArgs, raw, "")
    return ParseResult(None if args is INVALID else args, errors, broken, failed)


def to_plain(value: Any) -> Any:
    """Dataclasses to plain dicts and lists: the form stack config takes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    return value



# AWS Batch's numbers are 32-bit integers (the API's Integer).
INT32_MAX = 2**31 - 1

# Errors echo at most this much of a value: a 10 MB value must not become a 10 MB message.
DESCRIBE_MAX = 120


def describe(value: Any) -> str:
    """A value as an error message shows it, bounded."""
    shown = repr(value)
    if len(shown) <= DESCRIBE_MAX:
        return shown
    return f"{shown[:DESCRIBE_MAX]}… ({len(shown)} characters)"


INVALID: Any = type("Invalid", (), {"__repr__": lambda self: "INVALID"})()
"""Marks a value that failed to parse (its error is already recorded)."""

_TYPE_NAMES = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}


class _Parser:
    def __init__(self, errors: list[SpecError], broken: set[tuple[str, str]], failed: set[str]) -> None:
        self.errors = errors
        self.broken = broken
        self.failed = failed

    def fail(self, path: str, message: str) -> None:
        self.errors.append(SpecError(path, message))
        self.failed.add(path)

    def dataclass_value(self, cls: type, raw: Any, path: str) -> Any:
        if not isinstance(raw, Mapping):
            self.fail(path or "wove-batch:cluster", f"expected a mapping, got {describe(raw)}")
            return INVALID
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key in raw:
            if key not in fields:
                self.fail(_join(path, str(key)), f"unknown key; expected one of {', '.join(fields)}")
        values: dict[str, Any] = {}
        usable = True
        for name, f in fields.items():
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if name not in raw or (raw[name] is None and required):
                if required:
                    self.fail(_join(path, name), "required")
                    usable = False
                continue
            value = self.value(hints[name], raw[name], _join(path, name))
            if value is INVALID:
                # A bad optional field falls back to its default so that the entry's other
                # fields are still checked; its path is in `failed`, so no rule reports on it.
                usable = usable and not required
            else:
                values[name] = value
        return cls(**values) if usable else INVALID

    def value(self, hint: Any, raw: Any, path: str) -> Any:
        """The parsed value, or INVALID after recording why."""
        origin, params = typing.get_origin(hint), typing.get_args(hint)
        if hint is Any:
            return raw  # checked by the rules that use it
        if origin is Union:
            if raw is None:
                return None
            (inner,) = [p for p in params if p is not type(None)]
            return self.value(inner, raw, path)
        if origin is Literal:
            raw = raw.value if isinstance(raw, enum.Enum) else raw  # the provider's enums
            if raw in params:
                return raw
            if hint in CASE_INSENSITIVE_LITERALS and isinstance(raw, str) and raw.upper() in params:
                return raw.upper()
            self.fail(path, f"expected one of {', '.join(params)}, got {describe(raw)}")
            return INVALID
        if origin is tuple:
            if not isinstance(raw, (list, tuple)):
                self.fail(path, f"expected a list of {_name_of(params[0])}s, got {describe(raw)}")
                return INVALID
            items = tuple(self.value(params[0], item, f"{path}[{i}]") for i, item in enumerate(raw))
            if INVALID in items:
                self.failed.add(path)  # the list as a whole holds its default now
                return INVALID
            return items
        if origin in (collections.abc.Mapping, dict):
            return self.mapping(params[1], raw, path)
        if dataclasses.is_dataclass(hint):
            return self.dataclass_value(hint, raw, path)
        return self.scalar(hint, raw, path)

    def mapping(self, item_hint: Any, raw: Any, path: str) -> Any:
        """The entries that parse; the names of the others go to `broken`."""
        if not isinstance(raw, Mapping):
            self.fail(path, f"expected a mapping of names to {_name_of(item_hint)}s, got {describe(raw)}")
            return INVALID
        result: dict[str, Any] = {}
        for key, item in raw.items():
            item_path = _join(path, str(key))
            before = len(self.errors)
            value = self.value(item_hint, item, item_path)
            if not isinstance(key, str):
                self.fail(item_path, f"names must be strings, got {describe(key)}")
                continue
            if len(self.errors) > before:
                self.broken.add((path, key))  # exists, but cross-entry rules skip it
            if value is not INVALID:
                result[key] = value
        return result

    def scalar(self, hint: type, raw: Any, path: str) -> Any:
        if isinstance(raw, bool) and hint is not bool:
            pass
        elif hint in (int, float) and isinstance(raw, (int, float)) and not math.isfinite(raw):
            self.fail(path, f"expected a finite number, got {describe(raw)}")
            return INVALID
        elif hint in (int, float) and isinstance(raw, (int, float)) and abs(raw) > INT32_MAX:
            self.fail(path, f"{describe(raw)} is past AWS's 32-bit numbers (at most {INT32_MAX})")
            return INVALID
        elif hint is float and isinstance(raw, (int, float)):
            return raw
        elif hint is int and isinstance(raw, float) and raw.is_integer():
            return int(raw)  # Pulumi's wire format makes every number a float (pulumi/pulumi#21944)
        elif isinstance(raw, hint):
            return raw
        hint_text = " (quote it in YAML)" if hint is str and isinstance(raw, (int, float)) else ""
        self.fail(path, f"expected {_TYPE_NAMES[hint]}{hint_text}, got {describe(raw)}")
        return INVALID


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _name_of(hint: Any) -> str:
    if dataclasses.is_dataclass(hint):
        return "mapping"
    if typing.get_origin(hint) is Literal:
        return "string"
    if typing.get_origin(hint) in (collections.abc.Mapping, dict):
        return "mapping"
    return {str: "string", int: "whole number", float: "number"}.get(hint, "value")
