"""Every planned Batch, EC2, IAM, ECR, S3 and CloudWatch Logs resource of representative
stacks, as the API requests that create it, against AWS's own models (botocore: members,
types, required, enums, min/max, patterns) and CloudFormation's resource schemas (cfn-lint)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aws_models import request_problems
from batch_emulator import REGION, ApiRequest, MotoServer, deploy
from conftest import REPO, plan_of
from test_e2e import moto  # noqa: F401 - fixture
from wove_batch.tools.plan import run_stack
from wove_batch.tools.stack_config import load_stack_file

NETWORK = {"subnet_ids": ["subnet-0a1b2c3d"], "security_group_ids": ["sg-0a1b2c3d"]}

STACKS: dict[str, dict[str, Any]] = {
    "fargate-only": {
        "image": {"python_version": "3.11"},
        "network": {**NETWORK, "assign_public_ip": False},
        "compute_environments": {"fg": {"type": "FARGATE", "max_vcpus": 64},
                                 "fgs": {"type": "FARGATE_SPOT", "max_vcpus": 256}},
        "job_queues": {"main": {"compute_environments": ["fgs", "fg"], "runnable_timeout_seconds": 1800}},
        "job_definitions": {"worker": {"vcpus": 2, "memory": 8192, "platform_version": "1.4.0", "init_process": True,
                                       "ephemeral_storage_gib": 120,
                                       "efs_volumes": {"shared": {"file_system_id": "fs-0123456789abcdef0",
                                                                  "container_path": "/mnt/shared",
                                                                  "access_point_id": "fsap-0123456789abcdef0"}}}},
    },
    "gpu": {
        "image": {"python_version": "3.11"},
        "compute_environments": {"gpu": {"type": "EC2", "instance_types": ["g5.xlarge", "g5.2xlarge"], "max_vcpus": 32,
                                         "allocation_strategy": "BEST_FIT_PROGRESSIVE"}},
        "job_queues": {"train": {"compute_environments": ["gpu"]}},
        "job_definitions": {"trainer": {"vcpus": 4, "memory": 15000, "gpus": 1, "timeout_seconds": 7200}},
    },
    "every-option": {
        "image": {"python_version": "3.12"},
        "network": NETWORK,
        "compute_environments": {
            "spot": {"type": "SPOT", "instance_types": ["m7g.large", "c7g"], "min_vcpus": 0, "desired_vcpus": 4, "max_vcpus": 128,
                     "allocation_strategy": "SPOT_PRICE_CAPACITY_OPTIMIZED", "bid_percentage": 60, "state": "ENABLED",
                     "root_volume_gib": 80, "ami_id": "ami-0123456789abcdef0",
                     "update_policy": {"terminate_jobs_on_update": True, "job_execution_timeout_minutes": 15}},
            "fleet": {"type": "SPOT", "instance_types": ["m7g"], "max_vcpus": 16},
        },
        "job_queues": {
            "fair": {"compute_environments": ["spot", "fleet"], "priority": 5, "state": "ENABLED", "runnable_timeout_seconds": 600,
                     "fair_share": {"share_decay_seconds": 3600, "compute_reservation": 10, "shares": {"teamA": 0.5, "teamB": 2}}},
        },
        "job_definitions": {"custom": {
            "vcpus": 2, "memory": 4096, "architecture": "arm64", "command": ["python", "-m", "wove_batch.worker"],
            "environment": {"MODE": "prod"}, "secrets": {"TOKEN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:tok-AbCdEf",
                                                        "DB": "/prod/db"},
            "retry_attempts": 5, "evaluate_on_exit": [{"action": "RETRY", "on_exit_code": "137"}, {"action": "EXIT", "on_reason": "*"}],
            "timeout_seconds": 600, "shared_memory_mib": 1024, "max_swap_mib": 512, "swappiness": 20, "init_process": True,
            "tmpfs": [{"container_path": "/scratch", "size_mib": 256, "mount_options": ["noexec", "mode=1777"]}],
            "ulimits": {"nofile": {"soft": 65536, "hard": 65536}},
            "efs_volumes": {"models": {"file_system_id": "fs-0123456789abcdef0", "container_path": "/mnt/models",
                                       "root_directory": "/models", "read_only": True, "iam_authorization": False}},
            "deregister_on_new_revision": True, "scheduling_priority": 10, "propagate_tags": False,
        }},
        "wove_environments": {"batch": {"job_queue": "fair", "job_definition": "custom", "share_identifier": "teamA",
                                        "results": "exchange"}},
        "callback": {"base_url": "https://runner.example.com", "port": 9000},
        "exchange": {"retention_days": 3},
        "logs": {"retention_days": 90},
        "job_role": {"managed_policy_arns": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
                     "policy_statements": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"}]},
        "tags": {"team": "ml", "cost-center": "42"},
    },
}

# The calls that create each kind of resource the component plans.
CREATING_CALLS = {
    ("batch", "CreateComputeEnvironment"), ("batch", "UpdateComputeEnvironment"), ("batch", "CreateJobQueue"),
    ("batch", "RegisterJobDefinition"), ("ec2", "CreateLaunchTemplate"), ("ec2", "CreateSecurityGroup"),
    ("iam", "CreateRole"), ("iam", "PutRolePolicy"), ("iam", "AttachRolePolicy"), ("iam", "CreatePolicy"),
    ("ecr", "CreateRepository"), ("ecr", "PutLifecyclePolicy"), ("s3", "CreateBucket"), ("s3", "PutBucketPolicy"),
    ("s3", "PutPublicAccessBlock"), ("s3", "PutBucketOwnershipControls"), ("s3", "PutBucketEncryption"),
    ("s3", "PutBucketLifecycleConfiguration"), ("logs", "CreateLogGroup"), ("logs", "PutRetentionPolicy"),
}


def requests_of(plan: Any, moto: MotoServer) -> list[ApiRequest]:
    moto.reset()
    sent: list[ApiRequest] = []
    deploy(plan, moto, requests=sent)
    return sent


@pytest.fixture(scope="module")
def planned() -> dict[str, Any]:
    plans = {name: plan_of(cluster, name=f"models-{name}", region=REGION) for name, cluster in STACKS.items()}
    plans["example"] = run_stack(load_stack_file(REPO / "Pulumi.dev.yaml"))
    return plans


@pytest.mark.parametrize("stack", ["example", "fargate-only", "gpu", "every-option"])
def test_every_request_that_creates_the_stack_fits_aws_models(stack: str, planned: dict[str, Any], moto: MotoServer) -> None:
    sent = requests_of(planned[stack], moto)
    problems = [problem for request in sent for problem in request_problems(request.service, request.operation, request.params)]
    assert problems == []
    calls = {(r.service, r.operation) for r in sent}
    expected = CREATING_CALLS - ({("ec2", "CreateLaunchTemplate")} if stack == "fargate-only" else set())
    if stack in ("fargate-only", "every-option"):
        expected -= {("ec2", "CreateSecurityGroup")}  # given security groups: none created
    if stack == "fargate-only":
        # no instances: no instance role to attach AWS's ECS policy to; no update policy on Fargate
        expected -= {("iam", "AttachRolePolicy"), ("batch", "UpdateComputeEnvironment")}
    assert expected <= calls, sorted(expected - calls)


def test_the_model_check_catches_what_aws_would_refuse() -> None:
    """A crafted request with what the models forbid: each problem named with its path."""
    params = {
        "jobDefinitionName": "bad name!",
        "type": "container",
        "platformCapabilities": ["EC2"],
        "retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "MAYBE", "onExitCode": "1"}]},
        "containerProperties": {"image": "x", "resourceRequirements": [{"type": "CPU", "value": "1"}], "unknownKey": 1},
    }
    assert request_problems("batch", "RegisterJobDefinition", params) == [
        "batch:RegisterJobDefinition.retryStrategy.evaluateOnExit[0].action: 'MAYBE' is not one of RETRY, EXIT",
        "batch:RegisterJobDefinition.containerProperties.resourceRequirements[0].type: 'CPU' is not one of GPU, VCPU, MEMORY",
        "batch:RegisterJobDefinition.containerProperties.unknownKey: not a member of ContainerProperties",
    ]
    assert request_problems("logs", "PutRetentionPolicy", {"logGroupName": "g" * 600, "retentionInDays": 30}) == [
        "logs:PutRetentionPolicy.logGroupName: 600 characters, over the maximum 512"]
    assert request_problems("logs", "PutRetentionPolicy", {"logGroupName": "a b", "retentionInDays": 30}) == [
        "logs:PutRetentionPolicy.logGroupName: 'a b' does not match [\\.\\-_/#A-Za-z0-9]+"]
    assert request_problems("batch", "CreateJobQueue", {"jobQueueName": "q", "priority": "1", "computeEnvironmentOrder": []}) == [
        "batch:CreateJobQueue.priority: expected an integer, got '1'"]


def test_planned_resources_pass_cfn_lint_with_cloudformations_schemas(planned: dict[str, Any]) -> None:
    """cfn-lint over a template of the planned job definitions, launch templates and the
    exchange bucket: CloudFormation's schemas add what botocore's models lack (the allowed log
    drivers, case-insensitive enums, the bucket's settings as one resource)."""
    from cfnlint.api import lint

    for stack, plan in planned.items():
        resources: dict[str, Any] = {}
        for resource in plan.of_type("aws:batch/jobDefinition:JobDefinition"):
            inputs = resource.inputs
            properties = {"Type": inputs["type"], "PlatformCapabilities": inputs["platformCapabilities"],
                          "ContainerProperties": _cfn(json.loads(inputs["containerProperties"])),
                          "PropagateTags": inputs["propagateTags"], "Tags": inputs["tags"]}
            for key in ("retryStrategy", "timeout"):
                if key in inputs:
                    properties[key[0].upper() + key[1:]] = _cfn(inputs[key])
            resources[_logical(resource.name)] = {"Type": "AWS::Batch::JobDefinition", "Properties": properties}
        for resource in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate"):
            data = _cfn({key: resource.inputs[key] for key in ("metadataOptions", "blockDeviceMappings", "userData")})
            for mapping in data["BlockDeviceMappings"]:
                mapping["Ebs"] = {**mapping["Ebs"], "Encrypted": True, "DeleteOnTermination": True}  # the provider's "true"
            data["TagSpecifications"] = [{"ResourceType": spec["resourceType"], "Tags": _tags(spec["tags"])}
                                         for spec in resource.inputs["tagSpecifications"]]
            resources[_logical(resource.name)] = {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": data}}
        bucket = {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"]},
                 "BucketKeyEnabled": rule["bucketKeyEnabled"]}
                for rule in plan.of_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")[0]
                .inputs["rules"]]},
            "PublicAccessBlockConfiguration": {k[0].upper() + k[1:]: v for k, v in plan.of_type(
                "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0].inputs.items() if k != "bucket"},
            "OwnershipControls": {"Rules": [_cfn(plan.of_type("aws:s3/bucketOwnershipControls:BucketOwnershipControls")[0].inputs["rule"])]},
            "LifecycleConfiguration": {"Rules": [
                {"Id": rule["id"], "Status": rule["status"],
                 **({"Prefix": rule["filter"]["prefix"]} if rule["filter"].get("prefix") else {}),
                 **({"ExpirationInDays": rule["expiration"]["days"]} if "expiration" in rule else {}),
                 **({"AbortIncompleteMultipartUpload": {
                     "DaysAfterInitiation": rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"]}}
                    if "abortIncompleteMultipartUpload" in rule else {})}
                for rule in plan.of_type("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")[0].inputs["rules"]]},
        }
        resources["ExchangeBucket"] = {"Type": "AWS::S3::Bucket", "Properties": bucket}
        template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}
        problems = [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in lint(json.dumps(template))]
        assert problems == [], stack
    crafted = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Jd": {"Type": "AWS::Batch::JobDefinition", "Properties": {
        "Type": "container", "ContainerProperties": {"Image": "x", "LogConfiguration": {"LogDriver": "nope"}}}}}}
    assert [m.rule.id for m in lint(json.dumps(crafted))] == ["E3030"]  # it does check what it holds


def _logical(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _cfn(value: Any) -> Any:
    """API member names (camelCase) as CloudFormation's (PascalCase); the provider's
    evaluateOnExits list is CloudFormation's EvaluateOnExit."""
    if isinstance(value, dict):
        renamed = {}
        for key, item in value.items():
            key = "evaluateOnExit" if key == "evaluateOnExits" else key
            renamed[key[0].upper() + key[1:]] = item if key == "options" else _cfn(item)
        return renamed
    if isinstance(value, list):
        return [_cfn(item) for item in value]
    return value
