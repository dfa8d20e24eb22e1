"""Compute environments: capacity bounds, instance types and architecture, allocation
strategies, and what Fargate environments must leave unset."""

from __future__ import annotations

import difflib
import re

from ..aws import limits
from ..aws.instance_types import (
    KEYWORD_ARCHITECTURES,
    architecture_of,
    botocore_version,
    ec2_families,
    ec2_instance_types,
    is_known,
    is_well_formed,
    nvidia_ami_problem,
)
from ..spec import describe
from ..spec import ComputeEnvironmentArgs, UpdatePolicyArgs
from ..topology import platform_of_environment, takes_update_policy
from .context import Checks
from .instance_launch import check_launchable

_AMI = re.compile(r"ami-[0-9a-f]{8,17}")


def check_compute_environment(checks: Checks, path: str, ce: ComputeEnvironmentArgs) -> None:
    if ce.max_vcpus < 1:
        checks.fail(f"{path}.max_vcpus", f"must be at least 1, got {ce.max_vcpus}")
    if ce.min_vcpus < 0:
        checks.fail(f"{path}.min_vcpus", f"must be at least 0, got {ce.min_vcpus}")
    elif ce.min_vcpus > ce.max_vcpus:
        checks.fail(f"{path}.min_vcpus", f"min_vcpus {ce.min_vcpus} is greater than max_vcpus {ce.max_vcpus}")
    if ce.desired_vcpus is not None and not ce.min_vcpus <= ce.desired_vcpus <= ce.max_vcpus:
        checks.fail(
            f"{path}.desired_vcpus",
            f"desired_vcpus {ce.desired_vcpus} is outside min_vcpus {ce.min_vcpus} .. max_vcpus {ce.max_vcpus}",
        )
    if platform_of_environment(ce) == "FARGATE":
        fargate_environment(checks, path, ce)
    else:
        ec2_environment(checks, path, ce)


def fargate_environment(checks: Checks, path: str, ce: ComputeEnvironmentArgs) -> None:
    for key, value, unset in (
        ("instance_types", ce.instance_types, ()),
        ("min_vcpus", ce.min_vcpus, 0),
        ("desired_vcpus", ce.desired_vcpus, None),
        ("allocation_strategy", ce.allocation_strategy, None),
        ("bid_percentage", ce.bid_percentage, None),
        ("ami_id", ce.ami_id, None),
        ("root_volume_gib", ce.root_volume_gib, None),
    ):
        if value != unset:
            shown = list(value) if isinstance(value, tuple) else value
            checks.fail(f"{path}.{key}", f"not allowed for {ce.type} environments, got {shown!r}")
    update_policy(checks, path, ce)


def ec2_environment(checks: Checks, path: str, ce: ComputeEnvironmentArgs) -> None:
    if not ce.instance_types:
        checks.fail(f"{path}.instance_types", f"required for {ce.type} environments")
    for i, instance_type in enumerate(ce.instance_types):
        if not is_well_formed(instance_type):
            keywords = ", ".join(KEYWORD_ARCHITECTURES)
            checks.fail(
                f"{path}.instance_types[{i}]",
                f"{describe(instance_type)} is not an instance type (m6g.large), family (m6g) or one of {keywords}",
            )
        elif not is_known(instance_type):
            known = list(ec2_instance_types()) if "." in instance_type else list(ec2_families())
            close = difflib.get_close_matches(instance_type, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            checks.fail(
                f"{path}.instance_types[{i}]",
                f"{instance_type!r} is no EC2 instance {'type' if '.' in instance_type else 'family'} "
                f"(botocore {botocore_version()} lists {len(ec2_instance_types())} types){hint}",
            )
    by_arch: dict[str, list[str]] = {}
    for instance_type in ce.instance_types:
        by_arch.setdefault(architecture_of(instance_type), []).append(instance_type)
    if len(by_arch) > 1:
        checks.fail(
            f"{path}.instance_types",
            f"mixes arm64 ({', '.join(by_arch['arm64'])}) and x86_64 ({', '.join(by_arch['x86_64'])}) "
            "instance types; an environment takes one architecture",
        )
    strategy = ce.allocation_strategy
    allowed = limits.ALLOCATION_STRATEGIES[ce.type]
    if strategy is not None and strategy not in allowed:
        checks.fail(
            f"{path}.allocation_strategy",
            f"{strategy} is for SPOT environments; {ce.type} takes {', '.join(allowed)}",
        )
    if ce.bid_percentage is not None:
        if ce.type != "SPOT":
            checks.fail(f"{path}.bid_percentage", f"only SPOT environments take a bid percentage, got {ce.bid_percentage} on {ce.type}")
        elif not limits.BID_PERCENTAGE_MIN <= ce.bid_percentage <= limits.BID_PERCENTAGE_MAX:
            checks.fail(
                f"{path}.bid_percentage",
                f"must be within {limits.BID_PERCENTAGE_MIN}..{limits.BID_PERCENTAGE_MAX}, got {ce.bid_percentage}",
            )
    if ce.ami_id is not None and not _AMI.fullmatch(ce.ami_id):
        checks.fail(f"{path}.ami_id", f"expected an AMI id like 'ami-0123456789abcdef0', got {ce.ami_id!r}")
    if ce.root_volume_gib is not None and not limits.ROOT_VOLUME_GIB_MIN <= ce.root_volume_gib <= limits.ROOT_VOLUME_GIB_MAX:
        checks.fail(
            f"{path}.root_volume_gib",
            f"must be within {limits.ROOT_VOLUME_GIB_MIN}..{limits.ROOT_VOLUME_GIB_MAX}, got {ce.root_volume_gib}",
        )
    if any(t.startswith("a1.") or t == "a1" for t in ce.instance_types) and ce.ami_id is None:
        checks.fail(f"{path}.instance_types", "a1 instances cannot run Amazon Linux 2023 (ECS_AL2023); use m6g, c6g or t4g, or set ami_id")
    if ce.ami_id is None:
        for i, instance_type in enumerate(ce.instance_types):
            problem = nvidia_ami_problem(instance_type)
            if problem is not None:
                checks.fail(
                    f"{path}.instance_types[{i}]",
                    f"{instance_type!r}: {problem}; use g4dn, g5, g6 or p4d/p5, or set ami_id to an AMI that runs it",
                )
    check_launchable(checks, path, ce)
    update_policy(checks, path, ce)


def update_policy(checks: Checks, path: str, ce: ComputeEnvironmentArgs) -> None:
    """An update policy acts only where Batch updates infrastructure in place; elsewhere a
    user's policy would be dropped in silence (or refused by Batch on Fargate)."""
    if ce.update_policy != UpdatePolicyArgs() and not takes_update_policy(ce):
        strategy = ce.allocation_strategy or "BEST_FIT (the default)"
        where = f"a {ce.type} environment" if platform_of_environment(ce) == "FARGATE" else f"{ce.type} with {strategy}"
        checks.fail(
            f"{path}.update_policy",
            f"applies only to EC2/SPOT environments with allocation_strategy "
            f"{', '.join(limits.INFRASTRUCTURE_UPDATE_STRATEGIES)} (the only ones Batch updates in place), not {where}",
        )
    timeout = ce.update_policy.job_execution_timeout_minutes
    if not limits.UPDATE_TIMEOUT_MINUTES_MIN <= timeout <= limits.UPDATE_TIMEOUT_MINUTES_MAX:
        checks.fail(
            f"{path}.update_policy.job_execution_timeout_minutes",
            f"must be within {limits.UPDATE_TIMEOUT_MINUTES_MIN}..{limits.UPDATE_TIMEOUT_MINUTES_MAX}, got {timeout}",
        )
