"""Subnets and security groups of the compute environments.

Defaults to the region's default VPC and all its subnets; with no security group given,
creates one that allows all egress and no ingress (Batch jobs only call out: to ECR, to
CloudWatch and to Wove's callback URL)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .scope import Scope
from ..spec import NetworkArgs


@dataclass
class ClusterNetwork:
    subnet_ids: pulumi.Output[list[str]]
    security_group_ids: pulumi.Output[list[str]]
    # Default-VPC subnets are public: Fargate tasks there need a public IP to reach ECR.
    uses_default_vpc: bool


def resolve_network(scope: Scope, network: NetworkArgs) -> ClusterNetwork:
    invoke = pulumi.InvokeOutputOptions(parent=scope.parent)
    uses_default_vpc = network.vpc_id is None and not network.subnet_ids
    if network.vpc_id is not None:
        vpc_id: pulumi.Output[str] = pulumi.Output.from_input(network.vpc_id)
    elif network.subnet_ids:
        vpc_id = aws.ec2.get_subnet_output(id=network.subnet_ids[0], opts=invoke).vpc_id
    else:
        vpc_id = aws.ec2.get_vpc_output(default=True, opts=invoke).id

    if network.subnet_ids:
        subnet_ids = pulumi.Output.from_input(list(network.subnet_ids))
    else:
        subnet_ids = aws.ec2.get_subnets_output(
            filters=[aws.ec2.GetSubnetsFilterArgs(name="vpc-id", values=[vpc_id])], opts=invoke
        ).ids.apply(sorted)

    if network.security_group_ids:
        security_group_ids = pulumi.Output.from_input(list(network.security_group_ids))
    else:
        group = aws.ec2.SecurityGroup(
            scope.child("sg"),
            description="wove-batch compute environments: egress only",
            vpc_id=vpc_id,
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    description="Batch jobs call ECR, CloudWatch and the Wove callback URL",
                    protocol="-1",
                    from_port=0,
                    to_port=0,
                    cidr_blocks=["0.0.0.0/0"],
                    ipv6_cidr_blocks=["::/0"],
                )
            ],
            tags=scope.tagged(),
            opts=scope.opts(),
        )
        security_group_ids = group.id.apply(lambda group_id: [group_id])
    return ClusterNetwork(subnet_ids, security_group_ids, uses_default_vpc)
