"""Launch templates of EC2/SPOT environments: IMDSv2, an encrypted root volume, an ECS agent
that runs a cached image without pulling it again and, when a job definition asks for swap, a
swap file (the ECS-optimized AMIs have none, and a container's maxSwap is only a limit on the
host's swap).

A compute environment freezes `$Latest` when it is created, so it references the template's
explicit version number: a new version then updates the environment (terraform-provider-aws
#15535, CDK #27054)."""

from __future__ import annotations

import base64

import pulumi_aws as aws

from ..aws.naming import COMPUTE_ENVIRONMENT_TAG, LAUNCH_TEMPLATE_INFIX
from .scope import Scope
from ..spec import ComputeEnvironmentArgs
from ..topology import root_volume_gib

# The ECS-optimized Amazon Linux 2023 AMIs boot from /dev/xvda.
ROOT_DEVICE = "/dev/xvda"
# IMDSv2 with a hop limit of 1: the ECS agent (host network) reaches instance metadata, and
# containers, one hop further behind Docker's bridge, cannot take the instance role's
# credentials. Jobs get their own role from the ECS credentials endpoint (169.254.170.2),
# which does not go through instance metadata, and their region from AWS_DEFAULT_REGION.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
METADATA_HOP_LIMIT = 1
SWAP_FILE = "/var/lib/wove-batch.swap"
_BOUNDARY = "==wove-batch=="


def user_data(swap_mib: int) -> str:
    """The instances' boot script, base64 as EC2 takes it, in the MIME multi-part form Batch
    requires (it merges the archive with its own).
    - Image tags are digest-pinned (image.py): a cached image is the right one, so the ECS agent
      starts a job's container from it instead of asking ECR first (`default` pulls every time).
    - swap_mib > 0: a swap file of that size, made before the ECS agent takes jobs.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-agent-config.html
    https://docs.aws.amazon.com/batch/latest/userguide/launch-templates.html
    https://repost.aws/knowledge-center/ec2-memory-swap-file"""
    lines = ["#!/bin/bash", "set -euo pipefail", "echo ECS_IMAGE_PULL_BEHAVIOR=prefer-cached >> /etc/ecs/ecs.config"]
    if swap_mib > 0:
        lines += [
            f"if ! swapon --show=NAME --noheadings | grep -qx {SWAP_FILE}; then",
            f"  dd if=/dev/zero of={SWAP_FILE} bs=1M count={swap_mib} status=none",
            f"  chmod 600 {SWAP_FILE}",
            f"  mkswap {SWAP_FILE}",
            f"  swapon {SWAP_FILE}",
            "fi",
        ]
    script = "\n".join(lines)
    document = (f'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="{_BOUNDARY}"\n\n'
                f'--{_BOUNDARY}\nContent-Type: text/x-shellscript; charset="us-ascii"\n\n{script}\n\n--{_BOUNDARY}--\n')
    return base64.b64encode(document.encode("ascii")).decode("ascii")


def create_launch_template(scope: Scope, name: str, ce: ComputeEnvironmentArgs, swap_mib: int = 0) -> aws.ec2.LaunchTemplate:
    tags = scope.tagged(**{COMPUTE_ENVIRONMENT_TAG: name})
    return aws.ec2.LaunchTemplate(
        scope.child(LAUNCH_TEMPLATE_INFIX, name),
        description=f"wove-batch {scope.name} compute environment {name}",
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            http_put_response_hop_limit=METADATA_HOP_LIMIT,
        ),
        user_data=user_data(swap_mib),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=ROOT_DEVICE,
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=root_volume_gib(ce),
                    volume_type="gp3",
                    encrypted="true",
                    delete_on_termination="true",
                ),
            )
        ],
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="volume", tags=tags),
        ],
        tags=tags,
        opts=scope.opts(),
    )


def template_reference(template: aws.ec2.LaunchTemplate) -> aws.batch.ComputeEnvironmentComputeResourcesLaunchTemplateArgs:
    """The template by id and explicit version number, never `$Latest`."""
    return aws.batch.ComputeEnvironmentComputeResourcesLaunchTemplateArgs(
        launch_template_id=template.id,
        version=template.latest_version.apply(lambda version: str(int(version))),
    )



