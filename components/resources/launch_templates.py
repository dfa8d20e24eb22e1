"""Launch templates of EC2/SPOT environments: IMDSv2 and an encrypted root volume.

A compute environment freezes `$Latest` when it is created, so it references the template's
explicit version number: a new version then updates the environment (terraform-provider-aws
#15535, CDK #27054)."""

from __future__ import annotations

import pulumi_aws as aws

from ..aws.naming import LAUNCH_TEMPLATE_INFIX
from .scope import Scope
from ..spec import ComputeEnvironmentArgs

# The ECS-optimized Amazon Linux 2023 AMIs boot from /dev/xvda.
ROOT_DEVICE = "/dev/xvda"
# Containers are one network hop behind the instance: IMDSv2 tokens need a hop limit of 2.
METADATA_HOP_LIMIT = 2


def create_launch_template(scope: Scope, name: str, ce: ComputeEnvironmentArgs) -> aws.ec2.LaunchTemplate:
    tags = scope.tagged(**{"wove-batch:compute-environment": name})
    return aws.ec2.LaunchTemplate(
        scope.child(LAUNCH_TEMPLATE_INFIX, name),
        description=f"wove-batch {scope.name} compute environment {name}",
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            http_put_response_hop_limit=METADATA_HOP_LIMIT,
        ),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=ROOT_DEVICE,
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=ce.root_volume_gib,
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



