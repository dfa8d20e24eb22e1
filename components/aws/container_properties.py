"""The containerProperties document Batch takes for a job definition: rendered by the
component, and measured by validation against AWS's 24 KiB per job definition (pure Python)."""

from __future__ import annotations

import json
from typing import Any

from ..spec import JobDefinitionArgs

CPU_ARCHITECTURES = {"x86_64": "X86_64", "arm64": "ARM64"}


def container_properties(
    jd: JobDefinitionArgs,
    *,
    image: str,
    job_role_arn: str,
    execution_role_arn: str,
    platform: str,
    architecture: str,
    assign_public_ip: bool,
    log_group: str,
    region: str,
    stream_prefix: str,
) -> str:
    """The containerProperties JSON Batch takes, with stable key order (no spurious diffs)."""
    requirements = [
        {"type": "VCPU", "value": _number(jd.vcpus)},
        {"type": "MEMORY", "value": str(jd.memory)},
    ]
    if jd.gpus:
        requirements.append({"type": "GPU", "value": str(jd.gpus)})
    properties: dict[str, Any] = {
        "image": image,
        "command": list(jd.command),
        "jobRoleArn": job_role_arn,
        "executionRoleArn": execution_role_arn,
        "resourceRequirements": requirements,
        # The region for the job's AWS SDKs, which cannot ask instance metadata (hop limit 1).
        "environment": [{"name": k, "value": v} for k, v in sorted({"AWS_DEFAULT_REGION": region, **jd.environment}.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(jd.secrets.items())],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": log_group, "awslogs-region": region, "awslogs-stream-prefix": stream_prefix},
        },
    }
    linux = _linux_parameters(jd)
    if linux:
        properties["linuxParameters"] = linux
    if jd.ulimits:
        properties["ulimits"] = [{"name": name, "softLimit": limit.soft, "hardLimit": limit.hard}
                                 for name, limit in sorted(jd.ulimits.items())]
    if jd.efs_volumes:
        properties["volumes"] = [{"name": name, "efsVolumeConfiguration": _efs(volume)}
                                 for name, volume in sorted(jd.efs_volumes.items())]
        properties["mountPoints"] = [{"sourceVolume": name, "containerPath": volume.container_path,
                                      "readOnly": volume.read_only} for name, volume in sorted(jd.efs_volumes.items())]
    if jd.ephemeral_storage_gib is not None:
        properties["ephemeralStorage"] = {"sizeInGiB": jd.ephemeral_storage_gib}
    if platform == "FARGATE":
        properties["networkConfiguration"] = {"assignPublicIp": "ENABLED" if assign_public_ip else "DISABLED"}
        properties["fargatePlatformConfiguration"] = {"platformVersion": jd.platform_version}
        properties["runtimePlatform"] = {
            "operatingSystemFamily": "LINUX",
            "cpuArchitecture": CPU_ARCHITECTURES[architecture],
        }
    return json.dumps(properties)


def _linux_parameters(jd: JobDefinitionArgs) -> dict[str, Any]:
    linux: dict[str, Any] = {}
    if jd.shared_memory_mib is not None:
        linux["sharedMemorySize"] = jd.shared_memory_mib
    if jd.tmpfs:
        linux["tmpfs"] = [{"containerPath": mount.container_path, "size": mount.size_mib,
                           **({"mountOptions": list(mount.mount_options)} if mount.mount_options else {})}
                          for mount in jd.tmpfs]
    if jd.max_swap_mib is not None:
        linux["maxSwap"] = jd.max_swap_mib
    if jd.swappiness is not None:
        linux["swappiness"] = jd.swappiness
    if jd.init_process:
        linux["initProcessEnabled"] = True
    return linux


def _efs(volume: Any) -> dict[str, Any]:
    configuration: dict[str, Any] = {"fileSystemId": volume.file_system_id}
    if volume.access_point_id is None:
        configuration["rootDirectory"] = volume.root_directory
    configuration["transitEncryption"] = "ENABLED" if volume.transit_encryption else "DISABLED"
    authorization = {}
    if volume.access_point_id is not None:
        authorization["accessPointId"] = volume.access_point_id
    if volume.iam_authorization:
        authorization["iam"] = "ENABLED"
    if authorization:
        configuration["authorizationConfig"] = authorization
    return configuration


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
