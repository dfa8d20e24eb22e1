"""The offline plan as a Terraform plan document (`terraform show -json`'s planned_values), so
that scanners written for Terraform (checkov's `terraform_plan` framework) read the AWS
resources the stack declares.

pulumi-aws is bridged from the Terraform AWS provider: its resources are Terraform's, with
camelCase names, plural names for repeated blocks, and objects where Terraform has blocks.
This undoes that: `aws:batch/jobQueue:JobQueue` becomes `aws_batch_job_queue`, `maxVcpus`
becomes `max_vcpus`, an object becomes a one-block list, `ec2Configurations` becomes
`ec2_configuration`. Maps (tags) and JSON documents stay as they are. Non-AWS resources
(the component itself, the Docker build, the random token) have no Terraform AWS counterpart
and are left out.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from .plan import Plan

# Types whose Terraform name is not `aws_<module>_<resource>`.
TERRAFORM_TYPES = {
    "aws:ec2/launchTemplate:LaunchTemplate": "aws_launch_template",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
}
# Pulumi's plural names of Terraform's singular repeated blocks.
SINGULAR_BLOCKS = {
    "ec2Configurations": "ec2_configuration",
    "encryptionConfigurations": "encryption_configuration",
    "computeEnvironmentOrders": "compute_environment_order",
    "evaluateOnExits": "evaluate_on_exit",
    "jobStateTimeLimitActions": "job_state_time_limit_action",
    "shareDistributions": "share_distribution",
    "rules": "rule",
}
# Attributes that are maps (or JSON) in Terraform, not blocks.
MAP_ATTRIBUTES = {"tags", "tagsAll", "parameters", "args"}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def terraform_type(pulumi_type: str) -> str | None:
    if pulumi_type in TERRAFORM_TYPES:
        return TERRAFORM_TYPES[pulumi_type]
    match = re.fullmatch(r"aws:(?P<module>[a-zA-Z0-9]+)/(?P<resource>[a-zA-Z0-9]+):[A-Za-z0-9]+", pulumi_type)
    if match is None:
        return None
    return f"aws_{snake(match['module'])}_{snake(match['resource'])}"


def terraform_values(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key in MAP_ATTRIBUTES:
            return dict(value)
        return [{SINGULAR_BLOCKS.get(k, snake(k)): terraform_values(v, k) for k, v in value.items()}]
    if isinstance(value, list):
        items = [terraform_values(item, key) for item in value]
        # a list of objects is a repeated block: each item is its block, not a list of one
        return [item[0] if isinstance(item, list) and len(item) == 1 and isinstance(item[0], dict) else item
                for item in items]
    return value


def terraform_plan(plan: Plan) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for resource in plan.resources:
        kind = terraform_type(resource.type)
        if kind is None:
            continue
        values = {SINGULAR_BLOCKS.get(k, snake(k)): terraform_values(v, k) for k, v in resource.inputs.items()}
        name = re.sub(r"[^A-Za-z0-9_]", "_", resource.name)
        resources.append({"address": f"{kind}.{name}", "mode": "managed", "type": kind, "name": name,
                          "provider_name": "registry.terraform.io/hashicorp/aws", "values": values})
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.0",
        "planned_values": {"root_module": {"resources": resources}},
        "resource_changes": [{"address": r["address"], "mode": "managed", "type": r["type"], "name": r["name"],
                              "change": {"actions": ["create"], "before": None, "after": r["values"]}}
                             for r in resources],
        "configuration": {"root_module": {"resources": [
            {"address": r["address"], "mode": "managed", "type": r["type"], "name": r["name"],
             "expressions": _references(r, resources)} for r in resources]}},
    }


def _references(resource: dict[str, Any], resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Settings resources of a bucket name it (`bucket`): Terraform's configuration says which
    bucket resource that is, and checkov's graph joins them by it."""
    bucket = resource["values"].get("bucket")
    if resource["type"] == "aws_s3_bucket" or not isinstance(bucket, str):
        return {}
    for other in resources:
        if other["type"] == "aws_s3_bucket" and bucket.startswith(other["name"].replace("_", "-") + "-"):
            return {"bucket": {"references": [f"{other['address']}.id", other["address"]]}}
    return {}
