"""Instance types EC2 has but Batch cannot launch: Mac instances (Dedicated Hosts only) and
previous-generation families that boot only paravirtual AMIs (Batch boots the HVM
ECS-optimized AMIs). botocore lists them all, so `is_known` alone lets them through."""

from __future__ import annotations

from ..aws import limits
from ..spec import ComputeEnvironmentArgs, describe
from .context import Checks


def launch_problem(instance_type: str) -> str | None:
    family = instance_type.split(".", 1)[0]
    if family.startswith(limits.MAC_FAMILY_PREFIX):
        return "Mac instances run only on Dedicated Hosts, which Batch's compute environments do not use"
    if family in limits.PV_ONLY_FAMILIES:
        return ("a previous-generation family that boots only paravirtual AMIs; Batch boots the HVM ECS-optimized "
                "AMIs (use a current family such as m6i, c6i or t3)")
    return None


def check_launchable(checks: Checks, path: str, ce: ComputeEnvironmentArgs) -> None:
    for i, instance_type in enumerate(ce.instance_types):
        problem = launch_problem(instance_type)
        if problem is not None:
            checks.fail(f"{path}.instance_types[{i}]", f"{describe(instance_type)}: Batch cannot launch it: {problem}")
