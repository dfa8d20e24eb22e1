"""Managed compute environments: EC2 and SPOT instance pools, FARGATE and FARGATE_SPOT."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_aws as aws

from .iam import ClusterRoles
from .launch_templates import create_launch_template, template_reference
from .network import ClusterNetwork
from ..aws.naming import CE_INFIX, COMPUTE_ENVIRONMENT_TAG
from .scope import Scope
from ..spec import ComputeEnvironmentArgs
from ..topology import has_gpu_types, needs_spot_fleet_role, platform_of_environment, takes_update_policy

# Batch moves desiredVcpus between min and max as the queue demands; diffing it would make
# every `pulumi up` after scaling try to set it back (terraform-provider-aws #8549).
IGNORED_AFTER_CREATION = ["computeResources.desiredVcpus"]


def image_type(ce: ComputeEnvironmentArgs) -> str:
    """Amazon Linux 2023 ECS AMI (Batch creates no AL2 environments any more), the NVIDIA
    variant for GPU families; validation refuses the GPU families it cannot run."""
    return "ECS_AL2023_NVIDIA" if has_gpu_types(ce) else "ECS_AL2023"


def create_compute_environment(
    scope: Scope,
    name: str,
    ce: ComputeEnvironmentArgs,
    roles: ClusterRoles,
    network: ClusterNetwork,
    swap_mib: int = 0,
) -> aws.batch.ComputeEnvironment:
    resources = _compute_resources(scope, name, ce, roles, network, swap_mib)
    return aws.batch.ComputeEnvironment(
        scope.child(CE_INFIX, name),
        type="MANAGED",
        state=ce.state,
        compute_resources=resources,
        # Only where Batch updates infrastructure in place: Fargate refuses one on update, and on
        # BEST_FIT it is inert (changes replace the environment).
        update_policy=aws.batch.ComputeEnvironmentUpdatePolicyArgs(
            terminate_jobs_on_update=ce.update_policy.terminate_jobs_on_update,
            job_execution_timeout_minutes=ce.update_policy.job_execution_timeout_minutes,
        )
        if takes_update_policy(ce)
        else None,
        tags=scope.tagged(),
        opts=scope.opts(
            depends_on=roles.attachments,
            ignore_changes=IGNORED_AFTER_CREATION if platform_of_environment(ce) == "EC2" else None,
        ),
    )


def _compute_resources(
    scope: Scope, name: str, ce: ComputeEnvironmentArgs, roles: ClusterRoles, network: ClusterNetwork, swap_mib: int = 0
) -> aws.batch.ComputeEnvironmentComputeResourcesArgs:
    if platform_of_environment(ce) == "FARGATE":
        return aws.batch.ComputeEnvironmentComputeResourcesArgs(
            type=ce.type,
            max_vcpus=ce.max_vcpus,
            subnets=network.subnet_ids,
            security_group_ids=network.security_group_ids,
        )
    assert roles.instance_profile is not None
    spot_fleet_role: Optional[pulumi.Output[str]] = None
    if needs_spot_fleet_role(ce):
        assert roles.spot_fleet_role is not None
        spot_fleet_role = roles.spot_fleet_role.arn
    return aws.batch.ComputeEnvironmentComputeResourcesArgs(
        type=ce.type,
        instance_types=list(ce.instance_types),
        min_vcpus=ce.min_vcpus,
        max_vcpus=ce.max_vcpus,
        desired_vcpus=ce.desired_vcpus,
        allocation_strategy=ce.allocation_strategy,
        bid_percentage=ce.bid_percentage,
        spot_iam_fleet_role=spot_fleet_role,
        instance_role=roles.instance_profile.arn,
        launch_template=template_reference(create_launch_template(scope, name, ce, swap_mib)),
        subnets=network.subnet_ids,
        security_group_ids=network.security_group_ids,
        ec2_configurations=[
            aws.batch.ComputeEnvironmentComputeResourcesEc2ConfigurationArgs(
                image_type=image_type(ce), image_id_override=ce.ami_id
            )
        ],
        tags=scope.tagged(**{COMPUTE_ENVIRONMENT_TAG: name}),
    )
