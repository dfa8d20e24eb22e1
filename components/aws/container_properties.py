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
    if platform == "FARGATE":
        properties["networkConfiguration"] = {"assignPublicIp": "ENABLED" if assign_public_ip else "DISABLED"}
        properties["fargatePlatformConfiguration"] = {"platformVersion": jd.platform_version}
        properties["runtimePlatform"] = {
            "operatingSystemFamily": "LINUX",
            "cpuArchitecture": CPU_ARCHITECTURES[architecture],
        }
    return json.dumps(properties)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
