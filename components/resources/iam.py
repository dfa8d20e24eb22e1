"""IAM roles of the cluster, each with only what its principal needs.

- instance role + profile: the ECS agent on EC2/SPOT instances (AWS's managed policy for it);
- Spot fleet role: only when a SPOT environment uses BEST_FIT (AWS requires one there);
- execution role: pulls the worker image from this cluster's repository (Fargate) and reads
  the job definitions' secrets; nothing else;
- job role: what the task code runs as; no permissions unless the stack grants them.
Batch itself uses its service-linked role, which AWS creates on first use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_aws as aws

from ..aws.partitions import partition_of
from ..aws.naming import EXECUTION_ROLE, INSTANCE_ROLE, JOB_ROLE, SPOT_FLEET_ROLE
from .scope import Scope
from ..spec import JobRoleArgs

# AWS managed policies, in the partition of the stack's region (arn:aws-cn:... in China).
ECS_INSTANCE_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
SPOT_FLEET_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonEC2SpotFleetTaggingRole"


def managed_policy_arn(template: str, region: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(region).apply(lambda r: template.format(partition=partition_of(r)))


def assume_role_policy(service: str) -> str:
    """Trust policy letting one AWS service assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


@dataclass
class ClusterRoles:
    instance_profile: Optional[aws.iam.InstanceProfile]
    spot_fleet_role: Optional[aws.iam.Role]
    execution_role: aws.iam.Role
    job_role: aws.iam.Role
    # Compute environments depend on these, so that Batch never sees a role without its policy.
    attachments: list[pulumi.Resource]


def _role(scope: Scope, name: str, service: str, description: str) -> aws.iam.Role:
    """A role one AWS service assumes."""
    return aws.iam.Role(
        scope.child(name),
        assume_role_policy=assume_role_policy(service),
        description=description,
        tags=scope.tagged(),
        opts=scope.opts(),
    )


def _attach(scope: Scope, name: str, role: aws.iam.Role, policy_arn: pulumi.Input[str]) -> aws.iam.RolePolicyAttachment:
    return aws.iam.RolePolicyAttachment(scope.child(name), role=role.name, policy_arn=policy_arn, opts=scope.opts())


def create_roles(scope: Scope, needs_instances: bool, needs_spot_fleet: bool,
                 region: pulumi.Input[str] = "us-east-1") -> ClusterRoles:
    attachments: list[pulumi.Resource] = []
    instance_profile = None
    if needs_instances:
        instance_role = _role(
            scope, INSTANCE_ROLE, "ec2.amazonaws.com", "ECS agent on the wove-batch cluster's EC2/SPOT instances"
        )
        attachments.append(_attach(scope, "instance-role-ecs", instance_role,
                                   managed_policy_arn(ECS_INSTANCE_POLICY, region)))
        instance_profile = aws.iam.InstanceProfile(
            scope.child("instance-profile"), role=instance_role.name, tags=scope.tagged(), opts=scope.opts()
        )
    spot_fleet_role = None
    if needs_spot_fleet:
        spot_fleet_role = _role(
            scope, SPOT_FLEET_ROLE, "spotfleet.amazonaws.com", "Spot fleet requests of the wove-batch cluster's SPOT environments"
        )
        attachments.append(_attach(scope, "spot-fleet-role-tagging", spot_fleet_role,
                                   managed_policy_arn(SPOT_FLEET_POLICY, region)))
    execution_role = _role(
        scope, EXECUTION_ROLE, "ecs-tasks.amazonaws.com", "Pulls the wove-batch worker image and reads its jobs' secrets"
    )
    job_role = _role(scope, JOB_ROLE, "ecs-tasks.amazonaws.com", "What Wove tasks on the wove-batch cluster run as")
    return ClusterRoles(instance_profile, spot_fleet_role, execution_role, job_role, attachments)


def grant_job_role(scope: Scope, job_role: aws.iam.Role, grants: JobRoleArgs) -> list[pulumi.Resource]:
    """Exactly what the stack config grants the task code: managed policies and statements."""
    granted: list[pulumi.Resource] = [
        _attach(scope, f"job-role-managed-{i}", job_role, arn) for i, arn in enumerate(grants.managed_policy_arns)
    ]
    if grants.policy_statements:
        granted.append(
            aws.iam.RolePolicy(
                scope.child("job-role-policy"),
                role=job_role.name,
                policy=json.dumps({"Version": "2012-10-17", "Statement": [dict(s) for s in grants.policy_statements]}),
                opts=scope.opts(),
            )
        )
    return granted


def execution_policy_document(
    repository_arns: list[str], secret_arns: list[str], log_group_arn: str, stream_prefixes: list[str]
) -> str:
    """What the execution role may do: pull from these repositories (the worker image's, and
    those of definitions' own ECR images), write the job definitions' streams of this log group,
    read exactly these secrets."""
    statements: list[dict] = [
        {
            "Sid": "WriteJobLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            # Stream names end in the ECS task id, unknown before the job runs: a trailing
            # wildcard after each job definition's own stream prefix.
            "Resource": [f"{log_group_arn}:log-stream:{prefix}/*" for prefix in sorted(stream_prefixes)],
        }
    ]
    repositories = sorted(set(repository_arns))
    if repositories:
        statements += [
            # GetAuthorizationToken is account-wide: AWS accepts no resource but "*" for it.
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PullWorkerImage",
                "Effect": "Allow",
                "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": repositories[0] if len(repositories) == 1 else repositories,
            },
        ]
    secrets_manager = sorted(a for a in secret_arns if ":secretsmanager:" in a)
    parameters = sorted(a for a in secret_arns if ":ssm:" in a)
    if secrets_manager:
        statements.append(
            {"Sid": "ReadJobSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": secrets_manager}
        )
    if parameters:
        statements.append(
            {"Sid": "ReadJobParameters", "Effect": "Allow", "Action": "ssm:GetParameters", "Resource": parameters}
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def secret_arns(source: str, *, region: str, account: str) -> list[str]:
    """The ARNs IAM needs for a job secret's `valueFrom`. An SSM parameter name becomes its ARN
    (AWS's public parameters under /aws/service/ have no account in theirs); a parameter under
    /aws/reference/secretsmanager/ also needs the secret it names (its ARN ends in `-` and six
    characters AWS picks: `-??????`); a Secrets Manager reference loses its
    `:json-key:version-stage:version-id` tail.
    https://docs.aws.amazon.com/systems-manager/latest/userguide/integration-ps-secretsmanager.html
    https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html"""
    if source.startswith("arn:"):
        return [":".join(source.split(":")[:7]) if ":secretsmanager:" in source else source]
    partition, name = partition_of(region), source.lstrip("/")
    if name.startswith("aws/service/"):
        return [f"arn:{partition}:ssm:{region}::parameter/{name}"]
    arns = [f"arn:{partition}:ssm:{region}:{account}:parameter/{name}"]
    if name.startswith(REFERENCE_PREFIX):
        arns.append(f"arn:{partition}:secretsmanager:{region}:{account}:secret:{name[len(REFERENCE_PREFIX):]}-??????")
    return arns


REFERENCE_PREFIX = "aws/reference/secretsmanager/"


def create_execution_policy(
    scope: Scope,
    execution_role: aws.iam.Role,
    *,
    repository_arns: list[pulumi.Input[Optional[str]]],
    log_group: aws.cloudwatch.LogGroup,
    secret_sources: list[str],
    stream_prefixes: list[str],
    region: pulumi.Output[str],
    account: pulumi.Output[str],
) -> aws.iam.RolePolicy:
    """The execution role's only permissions (execution_policy_document), as its inline policy."""
    document = pulumi.Output.all(pulumi.Output.all(*repository_arns), account, region, log_group.arn).apply(
        lambda values: execution_policy_document(
            [arn for arn in values[0] if arn],
            [arn for source in secret_sources for arn in secret_arns(source, region=values[2], account=values[1])],
            values[3],
            stream_prefixes,
        )
    )
    return aws.iam.RolePolicy(scope.child("execution-role-policy"), role=execution_role.name, policy=document, opts=scope.opts())


def efs_client_document(volumes: list[tuple[str, Optional[str], bool]], *, region: str, account: str) -> str:
    """The job role mounts exactly these file systems (id, access point, read-only) with IAM
    authorization: ClientMount, and ClientWrite unless read-only, each scoped to its file
    system (and to its access point when one is given)."""
    statements = []
    efs = f"arn:{partition_of(region)}:elasticfilesystem:{region}:{account}"
    for index, (file_system_id, access_point_id, read_only) in enumerate(sorted(volumes, key=str)):
        statement: dict = {
            "Sid": f"MountEfs{index}",
            "Effect": "Allow",
            "Action": ["elasticfilesystem:ClientMount"] + ([] if read_only else ["elasticfilesystem:ClientWrite"]),
            "Resource": f"{efs}:file-system/{file_system_id}",
        }
        if access_point_id is not None:
            statement["Condition"] = {"StringEquals": {
                "elasticfilesystem:AccessPointArn": f"{efs}:access-point/{access_point_id}"}}
        statements.append(statement)
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def grant_job_role_efs(scope: Scope, job_role: aws.iam.Role, volumes: list[tuple[str, Optional[str], bool]], *,
                       region: pulumi.Output[str], account: pulumi.Output[str]) -> aws.iam.RolePolicy:
    document = pulumi.Output.all(region, account).apply(
        lambda values: efs_client_document(volumes, region=values[0], account=values[1]))
    return aws.iam.RolePolicy(scope.child("job-role-efs"), role=job_role.name, policy=document, opts=scope.opts())
