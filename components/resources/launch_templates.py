"""Launch templates of EC2/SPOT environments: IMDSv2, an encrypted root volume, and an ECS
agent that runs a cached image without pulling it again.

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
# Image tags are digest-pinned (image.py): a cached image is the right one, so the agent
# starts a job's container from it instead of asking ECR first (the default, `default`,
# pulls every time). Batch takes a launch template's user data only as a MIME multi-part
# archive, which it merges with its own.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-agent-config.html
# https://docs.aws.amazon.com/batch/latest/userguide/launch-templates.html
USER_DATA = """MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==WOVEBATCH=="

--==WOVEBATCH==
Content-Type: text/x-shellscript; charset="us-ascii"

#!/bin/bash
echo ECS_IMAGE_PULL_BEHAVIOR=prefer-cached >> /etc/ecs/ecs.config

--==WOVEBATCH==--
"""


def create_launch_template(scope: Scope, name: str, ce: ComputeEnvironmentArgs) -> aws.ec2.LaunchTemplate:
    tags = scope.tagged(**{COMPUTE_ENVIRONMENT_TAG: name})
    return aws.ec2.LaunchTemplate(
        scope.child(LAUNCH_TEMPLATE_INFIX, name),
        description=f"wove-batch {scope.name} compute environment {name}",
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            http_put_response_hop_limit=METADATA_HOP_LIMIT,
        ),
        user_data=base64.b64encode(USER_DATA.encode("ascii")).decode("ascii"),
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



