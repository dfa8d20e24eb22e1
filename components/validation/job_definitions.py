"""Job definitions: resources per platform, retries, timeouts, architecture, environment
variables and secrets."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from typing import Any

from ..aws import limits
from ..aws.container_properties import container_properties
from ..protocol import RESERVED_VARIABLES
from ..spec import JobDefinitionArgs, describe
from ..topology import spot_backed_definitions
from .context import Checks, fmt
from .image import IMAGE_REFERENCE
from .mounts import check_mounts
from .secrets import check_secret_sources

RESERVED_ENVIRONMENT = RESERVED_VARIABLES
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EXIT_CODE = re.compile(r"\d+\*?|\*")
_PLATFORM_VERSION = re.compile(r"LATEST|\d+\.\d+\.\d+")
_REASON = re.compile(limits.ON_REASON_PATTERN)
_VOLUME_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_FILE_SYSTEM = re.compile(r"fs-[0-9a-f]{8,40}")
_ACCESS_POINT = re.compile(r"fsap-[0-9a-f]{8,40}")
_PLATFORM_VERSION_DEFAULT = next(f.default for f in dataclasses.fields(JobDefinitionArgs) if f.name == "platform_version")


def check_job_definition(checks: Checks, name: str, jd: JobDefinitionArgs, platform: str) -> None:
    path = f"job_definitions.{name}"
    if platform == "EC2":
        if jd.vcpus < limits.EC2_VCPUS_MIN or not float(jd.vcpus).is_integer():
            checks.fail(
                f"{path}.vcpus",
                f"must be a whole number of at least {limits.EC2_VCPUS_MIN} on EC2, got {fmt(jd.vcpus)}",
            )
        if jd.memory < limits.EC2_MEMORY_MIN_MIB:
            checks.fail(f"{path}.memory", f"must be at least {limits.EC2_MEMORY_MIN_MIB} MiB on EC2, got {jd.memory}")
    else:
        fargate_resources(checks, path, jd)
    if jd.gpus < 0:
        checks.fail(f"{path}.gpus", f"must be at least 0, got {jd.gpus}")
    elif jd.gpus and platform == "FARGATE":
        checks.fail(f"{path}.gpus", f"GPUs are not available on Fargate, got {jd.gpus}")
    if jd.retry_attempts is not None and not limits.RETRY_ATTEMPTS_MIN <= jd.retry_attempts <= limits.RETRY_ATTEMPTS_MAX:
        checks.fail(
            f"{path}.retry_attempts",
            f"must be within {limits.RETRY_ATTEMPTS_MIN}..{limits.RETRY_ATTEMPTS_MAX}, got {jd.retry_attempts}",
        )
    if jd.timeout_seconds is not None and jd.timeout_seconds < limits.TIMEOUT_SECONDS_MIN:
        checks.fail(f"{path}.timeout_seconds", f"must be at least {limits.TIMEOUT_SECONDS_MIN}, got {jd.timeout_seconds}")
    if not jd.command:
        checks.fail(f"{path}.command", "must not be empty")
    retry_rules(checks, path, jd)
    if jd.evaluate_on_exit and jd.retry_attempts is None and name not in spot_backed_definitions(checks.args):
        checks.fail(
            f"{path}.retry_attempts",
            "required with evaluate_on_exit: AWS takes retry rules only together with a number of attempts (1..10)",
        )
    if platform == "FARGATE" and not _PLATFORM_VERSION.fullmatch(jd.platform_version):
        checks.fail(f"{path}.platform_version", f"expected LATEST or a version like 1.4.0, got {jd.platform_version!r}")
    elif platform == "EC2" and jd.platform_version != _PLATFORM_VERSION_DEFAULT:
        checks.fail(f"{path}.platform_version", f"applies to Fargate definitions only; this one serves EC2 queues, "
                                                f"got {describe(jd.platform_version)}")
    check_document_size(checks, path, name, jd, platform)
    check_container_extras(checks, path, jd, platform)
    check_fargate_ulimits(checks, path, jd, platform)
    check_efs_volumes(checks, path, jd, platform)
    check_mounts(checks, path, jd)
    check_architecture(checks, path, jd, platform)
    check_environment_variables(checks, path, jd)


def retry_rules(checks: Checks, path: str, jd: JobDefinitionArgs) -> None:
    rules = jd.evaluate_on_exit
    if len(rules) > limits.EVALUATE_ON_EXIT_MAX:
        checks.fail(f"{path}.evaluate_on_exit", f"at most {limits.EVALUATE_ON_EXIT_MAX} rules, got {len(rules)}")
    for i, rule in enumerate(rules):
        rule_path = f"{path}.evaluate_on_exit[{i}]"
        patterns = {"on_status_reason": rule.on_status_reason, "on_reason": rule.on_reason, "on_exit_code": rule.on_exit_code}
        if all(value is None for value in patterns.values()):
            checks.fail(rule_path, "needs at least one of on_status_reason, on_reason, on_exit_code")
        for key, value in patterns.items():
            if value is not None and len(value) > limits.EXIT_PATTERN_MAX:
                checks.fail(f"{rule_path}.{key}", f"at most {limits.EXIT_PATTERN_MAX} characters, got {len(value)}")
        if rule.on_exit_code is not None and not _EXIT_CODE.fullmatch(rule.on_exit_code):
            checks.fail(f"{rule_path}.on_exit_code", f"expected digits, optionally ending in '*', got {rule.on_exit_code!r}")
        for key in ("on_status_reason", "on_reason"):
            value = patterns[key]
            if value is not None and not _REASON.fullmatch(value):
                checks.fail(f"{rule_path}.{key}", "AWS takes letters, digits, periods, colons and spaces, optionally "
                                                  f"ending in '*', got {describe(value)}")


def fargate_resources(checks: Checks, path: str, jd: JobDefinitionArgs) -> None:
    table = limits.FARGATE_MEMORY_BY_VCPU
    memories = table.get(float(jd.vcpus))
    if memories is None:
        choices = ", ".join(fmt(v) for v in table)
        checks.fail(f"{path}.vcpus", f"Fargate takes {choices} vCPUs, got {fmt(jd.vcpus)}")
    elif jd.memory not in memories:
        step = memories[1] - memories[0]
        checks.fail(
            f"{path}.memory",
            f"Fargate with {fmt(jd.vcpus)} vCPU takes {memories[0]}-{memories[-1]} MiB in steps of {step}, got {jd.memory}",
        )


def check_architecture(checks: Checks, path: str, jd: JobDefinitionArgs, platform: str) -> None:
    archs = checks.architectures
    if jd.architecture is None:
        if len(archs) > 1:
            checks.fail(f"{path}.architecture", "required: the cluster has both arm64 and x86_64 compute environments")
    elif platform == "EC2" and jd.architecture not in archs:
        checks.fail(
            f"{path}.architecture",
            f"the cluster has no {jd.architecture} compute environment (it has {', '.join(sorted(archs))})",
        )


def check_environment_variables(checks: Checks, path: str, jd: JobDefinitionArgs) -> None:
    for section, names in (("environment", jd.environment), ("secrets", jd.secrets)):
        for key in names:
            if not _ENV_NAME.fullmatch(key):
                checks.fail(f"{path}.{section}.{key}", f"{key!r} is not an environment variable name")
            elif key in RESERVED_ENVIRONMENT or key.startswith("AWS_BATCH_"):
                checks.fail(f"{path}.{section}.{key}", f"{key} is set by Wove or AWS Batch for each job")
    for key in sorted(set(jd.environment) & set(jd.secrets)):
        checks.fail(f"{path}.secrets.{key}", f"{key} is also in environment; set it in one place")
    check_secret_sources(checks, path, jd)


def check_document_size(checks: Checks, path: str, name: str, jd: JobDefinitionArgs, platform: str) -> None:
    """The job definition as registered, with the longest ARNs and image reference the
    component can give it, against AWS's 24 KiB."""
    account, region = "123456789012", "ap-southeast-3"
    role = f"arn:aws:iam::{account}:role/{checks.cluster}-execution-role-0000000"
    document = container_properties(
        jd, image=f"{account}.dkr.ecr.{region}.amazonaws.com/{checks.cluster}-worker-0000000@sha256:{'0' * 64}",
        job_role_arn=role, execution_role_arn=role, platform=platform, architecture=jd.architecture or "x86_64",
        assign_public_ip=False, log_group=f"/aws/batch/{checks.cluster}-0000000", region=region, stream_prefix=name,
    )
    rest = json.dumps([dataclasses.asdict(rule) for rule in jd.evaluate_on_exit]) + json.dumps(dict(checks.args.tags))
    size = len(document.encode()) + len(rest.encode()) + 512  # name, type, timeout, platform, own tags
    if size > limits.JOB_DEFINITION_MAX_BYTES:
        checks.fail(path, f"registers as about {size} bytes, over AWS's {limits.JOB_DEFINITION_MAX_BYTES} per job "
                          "definition; move large environment values into secrets, the image or the payload")


def check_container_extras(checks: Checks, path: str, jd: JobDefinitionArgs, platform: str) -> None:
    """Shared memory, tmpfs, swap, ulimits, scratch disk, image, priority: AWS's bounds, and
    which platform takes which."""
    ec2_only = {"shared_memory_mib": jd.shared_memory_mib, "tmpfs": list(jd.tmpfs) or None,
                "max_swap_mib": jd.max_swap_mib, "swappiness": jd.swappiness}
    if platform == "FARGATE":
        for key, value in ec2_only.items():
            if value is not None:
                checks.fail(f"{path}.{key}", "not available on Fargate (EC2 queues only)")
    elif jd.ephemeral_storage_gib is not None:
        checks.fail(f"{path}.ephemeral_storage_gib", "Fargate only; on EC2 the scratch disk is the compute "
                                                     "environment's root_volume_gib, shared by the jobs on an instance")
    if jd.shared_memory_mib is not None and not 1 <= jd.shared_memory_mib <= jd.memory:
        checks.fail(f"{path}.shared_memory_mib", f"must be within 1..{jd.memory} (the job's memory), got "
                                                 f"{jd.shared_memory_mib}")
    for i, mount in enumerate(jd.tmpfs):
        mount_path = f"{path}.tmpfs[{i}]"
        if not mount.container_path.startswith("/"):
            checks.fail(f"{mount_path}.container_path", f"must be an absolute path, got {describe(mount.container_path)}")
        if mount.size_mib < 1:
            checks.fail(f"{mount_path}.size_mib", f"must be at least 1, got {mount.size_mib}")
        for j, option in enumerate(mount.mount_options):
            if option.split("=", 1)[0] not in limits.TMPFS_MOUNT_OPTIONS:
                checks.fail(f"{mount_path}.mount_options[{j}]", f"{describe(option)} is not a mount option AWS takes "
                                                                f"({', '.join(limits.TMPFS_MOUNT_OPTIONS[:6])}, ...)")
    if jd.max_swap_mib is not None and jd.max_swap_mib < 0:
        checks.fail(f"{path}.max_swap_mib", f"must be at least 0, got {jd.max_swap_mib}")
    if jd.swappiness is not None:
        if not 0 <= jd.swappiness <= limits.SWAPPINESS_MAX:
            checks.fail(f"{path}.swappiness", f"must be within 0..{limits.SWAPPINESS_MAX}, got {jd.swappiness}")
        elif jd.max_swap_mib is None and platform != "FARGATE":
            checks.fail(f"{path}.swappiness", "needs max_swap_mib: without it Batch ignores swappiness")
    for key, limit in jd.ulimits.items():
        if key not in ulimit_names():
            checks.fail(f"{path}.ulimits.{key}", f"not a ulimit; expected one of {', '.join(ulimit_names())}")
        elif limit.soft < 0 or limit.soft > limit.hard:
            checks.fail(f"{path}.ulimits.{key}", f"soft {limit.soft} must be within 0..hard {limit.hard}")
    if jd.ephemeral_storage_gib is not None and platform == "FARGATE" and not (
            limits.EPHEMERAL_STORAGE_GIB_MIN <= jd.ephemeral_storage_gib <= limits.EPHEMERAL_STORAGE_GIB_MAX):
        checks.fail(f"{path}.ephemeral_storage_gib", f"must be within {limits.EPHEMERAL_STORAGE_GIB_MIN}.."
                                                     f"{limits.EPHEMERAL_STORAGE_GIB_MAX} GiB, got {jd.ephemeral_storage_gib}")
    if jd.scheduling_priority is not None and not 0 <= jd.scheduling_priority <= limits.SCHEDULING_PRIORITY_MAX:
        checks.fail(f"{path}.scheduling_priority", f"must be within 0..{limits.SCHEDULING_PRIORITY_MAX}, got "
                                                   f"{jd.scheduling_priority}")
    if jd.image_uri is not None and jd.image_context is not None:
        checks.fail(f"{path}.image_context", "give image_uri (prebuilt) or image_context (built here), not both")
    if jd.image_dockerfile is not None and jd.image_context is None:
        checks.fail(f"{path}.image_dockerfile", "needs image_context (the folder it builds)")
    if jd.image_context is not None:
        dockerfile = jd.image_dockerfile or f"{jd.image_context.rstrip('/')}/Dockerfile"
        checks.require_in_project({f"{path}.image_context": jd.image_context, f"{path}.image_dockerfile": dockerfile})
    if jd.image_uri is not None and not IMAGE_REFERENCE.fullmatch(jd.image_uri):
        checks.fail(f"{path}.image_uri", f"expected an image reference like registry/worker:1.0 or "
                                         f"...@sha256:<digest>, got {describe(jd.image_uri)}")


def check_fargate_ulimits(checks: Checks, path: str, jd: JobDefinitionArgs, platform: str) -> None:
    """Batch: ulimits "shouldn't be provided" for jobs on Fargate resources (ContainerProperties)."""
    if platform == "FARGATE" and jd.ulimits:
        checks.fail(f"{path}.ulimits", f"not available on Fargate (EC2 queues only), got {', '.join(sorted(jd.ulimits))}")


def check_efs_volumes(checks: Checks, path: str, jd: JobDefinitionArgs, platform: str) -> None:
    for name, volume in jd.efs_volumes.items():
        volume_path = f"{path}.efs_volumes.{name}"
        if not _VOLUME_NAME.fullmatch(name):
            checks.fail(volume_path, f"volume names take letters, digits, '-' and '_' (at most 255), got {describe(name)}")
        if not _FILE_SYSTEM.fullmatch(volume.file_system_id):
            checks.fail(f"{volume_path}.file_system_id", f"expected an id like fs-0123456789abcdef0, got "
                                                         f"{describe(volume.file_system_id)}")
        if volume.access_point_id is not None and not _ACCESS_POINT.fullmatch(volume.access_point_id):
            checks.fail(f"{volume_path}.access_point_id", f"expected an id like fsap-0123456789abcdef0, got "
                                                          f"{describe(volume.access_point_id)}")
        if not volume.container_path.startswith("/"):
            checks.fail(f"{volume_path}.container_path", f"must be an absolute path, got {describe(volume.container_path)}")
        if not volume.root_directory.startswith("/"):
            checks.fail(f"{volume_path}.root_directory", f"must be an absolute path, got {describe(volume.root_directory)}")
        elif volume.access_point_id is not None and volume.root_directory != "/":
            checks.fail(f"{volume_path}.root_directory", "must be / with an access point (the access point sets the "
                                                         f"directory), got {describe(volume.root_directory)}")
        if not volume.transit_encryption and (volume.iam_authorization or volume.access_point_id is not None):
            checks.fail(f"{volume_path}.transit_encryption", "required by IAM authorization and by access points")
        if platform == "FARGATE" and jd.platform_version != "LATEST" and _PLATFORM_VERSION.fullmatch(jd.platform_version):
            version = tuple(int(part) for part in jd.platform_version.split("."))
            if version < limits.EFS_FARGATE_PLATFORM_MIN:
                checks.fail(f"{path}.platform_version", f"EFS volumes need Fargate platform version 1.4.0 or later, "
                                                        f"got {jd.platform_version}")


WORKER_UID = 10001  # worker_image/Dockerfile: the user jobs run as


def efs_write_advisories(args: Any) -> list[str]:
    """Writable EFS volumes mounted without an access point: the worker (uid 10001) cannot
    write to a file system's root, which belongs to root, and IAM-authorized mounts squash
    root. Not refused (a file system whose directory is already the worker's works); said
    at every preview and up, with the fix."""
    return [
        f"job_definitions.{name}.efs_volumes.{volume_name}: writable without an access point; the worker runs as "
        f"uid {WORKER_UID} and {volume.file_system_id}'s root directory belongs to root, so its writes fail unless "
        f"{volume.root_directory} is writable by {WORKER_UID}. Fix: an access point with PosixUser {WORKER_UID}:"
        f"{WORKER_UID} and a root directory created for {WORKER_UID} (CreationInfo), as access_point_id, or read_only: true"
        for name, jd in args.job_definitions.items() for volume_name, volume in jd.efs_volumes.items()
        if not volume.read_only and volume.access_point_id is None
    ]


@functools.lru_cache(maxsize=1)
def ulimit_names() -> tuple[str, ...]:
    """The ulimit names ECS takes, from botocore's ECS model (Batch passes them to ECS)."""
    import botocore.session

    return tuple(botocore.session.get_session().get_service_model("ecs").shape_for("UlimitName").enum)
