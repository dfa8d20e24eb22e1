"""The stack program on Pulumi's mocks engine: exact inputs, parents and outputs."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from wove_batch.errors import ClusterSpecError
from conftest import ACCOUNT, MINIMAL, REGION, REPO, definition_name, make_stack, physical, plan_of
from wove_batch.resources.build_context import context_digest
from wove_batch.tools.plan import DEFAULT_SUBNET_IDS, DEFAULT_VPC_ID, SECRET_MARKER, run_stack

CLUSTER_TAG = {"wove-batch:cluster": "wove-test"}
ECS_TASKS_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)

# The ECS agent runs a cached (digest-pinned) image without pulling it again; Batch merges a
# MIME multi-part archive with its own user data.
USER_DATA = b"""MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==wove-batch=="

--==wove-batch==
Content-Type: text/x-shellscript; charset="us-ascii"

#!/bin/bash
set -euo pipefail
echo ECS_IMAGE_PULL_BEHAVIOR=prefer-cached >> /etc/ecs/ecs.config

--==wove-batch==--
"""


def arn(kind: str, logical: str) -> str:
    return {
        "role": f"arn:aws:iam::{ACCOUNT}:role/{physical(logical)}",
        "profile": f"arn:aws:iam::{ACCOUNT}:instance-profile/{physical(logical)}",
        "ce": f"arn:aws:batch:{REGION}:{ACCOUNT}:compute-environment/{physical(logical)}",
        "repo": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{physical(logical)}",
    }[kind]


REPO_URL = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{physical('wove-test-worker')}"
LOG_GROUP = physical("wove-test-logs")
LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP}"


def logs_statement(*prefixes: str) -> dict:
    return {
        "Sid": "WriteJobLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [f"{LOG_GROUP_ARN}:log-stream:{prefix}/*" for prefix in prefixes],
    }


def test_minimal_cluster_registers_exactly_these_children_under_the_component() -> None:
    plan = plan_of(MINIMAL)
    names = sorted((r.type, r.name) for r in plan.resources)
    assert names == [
        ("aws:batch/computeEnvironment:ComputeEnvironment", "wove-test-ce-cpu"),
        ("aws:batch/jobDefinition:JobDefinition", "wove-test-jobdef-worker"),
        ("aws:batch/jobQueue:JobQueue", "wove-test-queue-main"),
        ("aws:cloudwatch/logGroup:LogGroup", "wove-test-logs"),
        ("aws:ec2/launchTemplate:LaunchTemplate", "wove-test-lt-cpu"),
        ("aws:ec2/securityGroup:SecurityGroup", "wove-test-sg"),
        ("aws:ecr/lifecyclePolicy:LifecyclePolicy", "wove-test-worker-lifecycle"),
        ("aws:ecr/repository:Repository", "wove-test-worker"),
        ("aws:iam/instanceProfile:InstanceProfile", "wove-test-instance-profile"),
        ("aws:iam/policy:Policy", "wove-test-application"),
        ("aws:iam/role:Role", "wove-test-execution-role"),
        ("aws:iam/role:Role", "wove-test-instance-role"),
        ("aws:iam/role:Role", "wove-test-job-role"),
        ("aws:iam/rolePolicy:RolePolicy", "wove-test-execution-role-policy"),
        ("aws:iam/rolePolicy:RolePolicy", "wove-test-job-role-exchange"),
        ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "wove-test-instance-role-ecs"),
        ("aws:s3/bucket:Bucket", "wove-test-exchange"),
        ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "wove-test-exchange-lifecycle"),
        ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "wove-test-exchange-ownership"),
        ("aws:s3/bucketPolicy:BucketPolicy", "wove-test-exchange-tls-only"),
        ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "wove-test-exchange-public-access"),
        ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "wove-test-exchange-encryption"),
        ("docker:index/image:Image", "wove-test-worker-x86_64"),
        ("wove-batch:index:WoveBatchCluster", "wove-test"),
    ]
    component = plan.named("wove-test")
    assert component.parent_urn == "urn:pulumi:test::wove-batch::pulumi:pulumi:Stack::wove-batch-test"
    for resource in plan.resources:
        if resource is not component:
            assert resource.parent_urn == component.urn, resource.name


def test_minimal_cluster_iam_inputs() -> None:
    plan = plan_of(MINIMAL)
    assert plan.named("wove-test-instance-role").inputs == {
        "assumeRolePolicy": json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            }
        ),
        "description": "ECS agent on the wove-batch cluster's EC2/SPOT instances",
        "tags": CLUSTER_TAG,
    }
    assert plan.named("wove-test-instance-role-ecs").inputs == {
        "role": physical("wove-test-instance-role"),
        "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
    }
    assert plan.named("wove-test-instance-profile").inputs == {"role": physical("wove-test-instance-role"), "tags": CLUSTER_TAG}
    assert plan.named("wove-test-job-role").inputs == {
        "assumeRolePolicy": ECS_TASKS_TRUST,
        "description": "What Wove tasks on the wove-batch cluster run as",
        "tags": CLUSTER_TAG,
    }
    assert plan.named("wove-test-execution-role").inputs == {
        "assumeRolePolicy": ECS_TASKS_TRUST,
        "description": "Pulls the wove-batch worker image and reads its jobs' secrets",
        "tags": CLUSTER_TAG,
    }
    policy = plan.named("wove-test-execution-role-policy").inputs
    assert policy["role"] == physical("wove-test-execution-role")
    assert json.loads(policy["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [
            logs_statement("worker"),
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Sid": "PullWorkerImage",
                "Effect": "Allow",
                "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Resource": arn("repo", "wove-test-worker"),
            },
        ],
    }


def test_minimal_cluster_network_and_image_inputs() -> None:
    plan = plan_of(MINIMAL)
    assert plan.named("wove-test-sg").inputs == {
        "description": "wove-batch compute environments: egress only",
        "vpcId": DEFAULT_VPC_ID,
        "egress": [
            {
                "description": "Batch jobs call ECR, CloudWatch and the Wove callback URL",
                "protocol": "-1",
                "fromPort": 0,
                "toPort": 0,
                "cidrBlocks": ["0.0.0.0/0"],
                "ipv6CidrBlocks": ["::/0"],
            }
        ],
        "tags": CLUSTER_TAG,
    }
    assert plan.named("wove-test-worker").inputs == {
        "forceDelete": True,
        "imageScanningConfiguration": {"scanOnPush": True},
        "encryptionConfigurations": [{"encryptionType": "KMS"}],  # the AWS managed key, aws/ecr
        # build tags may be pushed again (issue 22, item 1); any other tag is immutable
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [{"filter": "*arm64-*", "filterType": "WILDCARD"},
                                               {"filter": "*x86_64-*", "filterType": "WILDCARD"}],
        "tags": CLUSTER_TAG,
    }
    lifecycle = plan.named("wove-test-worker-lifecycle").inputs
    assert lifecycle["repository"] == physical("wove-test-worker")
    assert json.loads(lifecycle["policy"])["rules"] == [
        {
            "rulePriority": 1,
            "description": "Keep the 10 most recent x86_64 worker images",
            "selection": {"tagStatus": "tagged", "tagPrefixList": ["x86_64-"], "countType": "imageCountMoreThan",
                          "countNumber": 10},
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "Expire untagged images after a day",
            "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1},
            "action": {"type": "expire"},
        },
    ]
    digest = context_digest(REPO, REPO / "worker_image/Dockerfile", {"PYTHON_VERSION": "3.11"}, "linux/amd64")
    assert plan.named("wove-test-worker-x86_64").inputs == {
        "build": {
            "context": ".",
            "dockerfile": "worker_image/Dockerfile",
            "platform": "linux/amd64",
            "args": {"PYTHON_VERSION": "3.11"},
        },
        "imageName": f"{REPO_URL}:x86_64-{digest}",  # immutable: one tag per build
        "registry": SECRET_MARKER,  # carries the ECR password
        "buildOnPreview": False,
        "skipPush": False,
    }


def test_minimal_cluster_batch_inputs() -> None:
    plan = plan_of(MINIMAL)
    ce = plan.named("wove-test-ce-cpu")
    assert ce.inputs == {
        "type": "MANAGED",
        "state": "ENABLED",
        "computeResources": {
            "type": "EC2",
            "instanceTypes": ["m6i.large"],
            "minVcpus": 0,
            "maxVcpus": 16,
            "instanceRole": arn("profile", "wove-test-instance-profile"),
            "subnets": DEFAULT_SUBNET_IDS,
            "securityGroupIds": [plan.named("wove-test-sg").state["id"]],
            "ec2Configurations": [{"imageType": "ECS_AL2023"}],
            "launchTemplate": {"launchTemplateId": plan.named("wove-test-lt-cpu").state["id"], "version": "1"},
            "tags": {**CLUSTER_TAG, "wove-batch:compute-environment": "cpu"},
        },
        # BEST_FIT: Batch replaces instead of updating, so no update policy is sent
        "tags": CLUSTER_TAG,
    }
    ce_tags = {**CLUSTER_TAG, "wove-batch:compute-environment": "cpu"}
    assert plan.named("wove-test-lt-cpu").inputs == {
        "description": "wove-batch wove-test compute environment cpu",
        "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1},
        "userData": base64.b64encode(USER_DATA).decode(),
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "ebs": {"volumeSize": 30, "volumeType": "gp3", "encrypted": "true", "deleteOnTermination": "true"},
            }
        ],
        "tagSpecifications": [{"resourceType": "volume", "tags": ce_tags}],
        "tags": ce_tags,
    }
    assert plan.named("wove-test-logs").inputs == {"retentionInDays": 30, "tags": CLUSTER_TAG}
    assert ce.ignore_changes == ["computeResources.desiredVcpus"]
    assert plan.named("wove-test-instance-role-ecs").urn in ce.depends_on
    assert plan.named("wove-test-queue-main").inputs == {
        "priority": 1,
        "state": "ENABLED",
        "computeEnvironmentOrders": [{"order": 0, "computeEnvironment": arn("ce", "wove-test-ce-cpu")}],
        "tags": CLUSTER_TAG,
    }
    definition = plan.named("wove-test-jobdef-worker")
    properties = json.loads(definition.inputs.pop("containerProperties"))
    assert definition.inputs == {
        "name": definition_name("wove-test-jobdef-worker"),  # never an auto-name: replacements keep it
        "type": "container",
        "platformCapabilities": ["EC2"],
        "propagateTags": True,
        "deregisterOnNewRevision": False,  # queued jobs keep their revision
        "tags": CLUSTER_TAG,
    }
    assert properties == {
        "image": plan.outputs["images"]["x86_64"],
        "command": ["python", "-m", "wove_batch.worker"],
        "jobRoleArn": arn("role", "wove-test-job-role"),
        "executionRoleArn": arn("role", "wove-test-execution-role"),
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
        "environment": [{"name": "AWS_DEFAULT_REGION", "value": REGION}],  # jobs cannot ask instance metadata
        "secrets": [],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {"awslogs-group": LOG_GROUP, "awslogs-region": REGION, "awslogs-stream-prefix": "worker"},
        },
    }
    assert plan.outputs["images"]["x86_64"].startswith(f"{REPO_URL}@sha256:")
    assert plan.named("wove-test-execution-role-policy").urn in definition.depends_on


def test_minimal_cluster_outputs() -> None:
    plan = plan_of(MINIMAL)
    queue, definition = physical("wove-test-queue-main"), definition_name("wove-test-jobdef-worker")
    assert plan.outputs == {
        "job_queues": {"main": queue},
        "job_definitions": {"worker": definition},
        "compute_environments": {"cpu": arn("ce", "wove-test-ce-cpu")},
        "images": {"x86_64": plan.named("wove-test-worker-x86_64").state["repoDigest"]},
        "repository_url": REPO_URL,
        "region": REGION,
        "wove_environments": {
            "main": {
                "executor": "aws_batch",
                "executor_config": {
                    "job_queue": queue,
                    "job_definition": definition,
                    "client_options": {"region_name": REGION},
                },
                # no callback: results come back through the exchange bucket
                "wove_batch": {"results": "exchange", "exchange_bucket": physical("wove-test-exchange"), "region": REGION,
                               "array_jobs": True, "log_group": LOG_GROUP},
            }
        },
        "exchange_bucket": physical("wove-test-exchange"),
        "application_policy_arn": f"arn:aws:iam::{ACCOUNT}:policy/{physical('wove-test-application')}",
        "log_group": LOG_GROUP,
    }
    assert plan.secret_outputs == set()


def test_callback_behind_a_proxy_gives_each_environment_its_own_token_and_port() -> None:
    import hashlib
    import hmac

    cluster = {
        **MINIMAL,
        "job_queues": {"main": {"compute_environments": ["cpu"]}, "low": {"compute_environments": ["cpu"], "priority": 0}},
        "callback": {"base_url": "https://runner.example.com/", "port": 9000},
    }
    plan = plan_of(cluster)
    token_resource = plan.named("wove-test-callback-token")
    assert token_resource.type == "random:index/randomPassword:RandomPassword"
    assert token_resource.inputs == {"length": 32, "special": False}
    secret = token_resource.state["result"]
    main_token = hmac.new(secret.encode(), b"main", hashlib.sha256).hexdigest()[:32]
    low_token = hmac.new(secret.encode(), b"low", hashlib.sha256).hexdigest()[:32]
    environments = plan.outputs["wove_environments"]
    assert environments["main"]["executor_config"] == {
        "job_queue": physical("wove-test-queue-main"),
        "job_definition": definition_name("wove-test-jobdef-worker"),
        "client_options": {"region_name": REGION},
        "callback_url": f"https://runner.example.com/wove/events/{main_token}",
        "callback_token": main_token,
        "callback_host": "0.0.0.0",
        "callback_port": 9000,
    }
    low = environments["low"]["executor_config"]
    assert (low["callback_url"], low["callback_token"], low["callback_port"]) == (
        f"https://runner.example.com/wove/events/{low_token}",
        low_token,
        9001,
    )
    assert main_token != low_token
    assert plan.secret_outputs == {"wove_environments"}


def test_direct_callback_url_names_each_environments_own_port() -> None:
    cluster = {
        **MINIMAL,
        "job_queues": {"main": {"compute_environments": ["cpu"]}, "low": {"compute_environments": ["cpu"]}},
        "callback": {"base_url": "http://10.0.1.5:8787", "port": 8787},
    }
    environments = plan_of(cluster).outputs["wove_environments"]
    for name, port in (("main", 8787), ("low", 8788)):
        config = environments[name]["executor_config"]
        assert config["callback_port"] == port
        assert config["callback_url"] == f"http://10.0.1.5:{port}/wove/events/{config['callback_token']}"


def test_spot_best_fit_gets_a_spot_fleet_role_and_other_strategies_do_not() -> None:
    cluster = {
        **MINIMAL,
        "compute_environments": {
            "spot": {"type": "SPOT", "instance_types": ["c6i"], "max_vcpus": 8},
            "spot-pco": {
                "type": "SPOT",
                "instance_types": ["c6i"],
                "max_vcpus": 8,
                "allocation_strategy": "SPOT_PRICE_CAPACITY_OPTIMIZED",
                "bid_percentage": 60,
            },
        },
        "job_queues": {"main": {"compute_environments": ["spot", "spot-pco"]}},
    }
    plan = plan_of(cluster)
    assert plan.named("wove-test-spot-fleet-role-tagging").inputs == {
        "role": physical("wove-test-spot-fleet-role"),
        "policyArn": "arn:aws:iam::aws:policy/service-role/AmazonEC2SpotFleetTaggingRole",
    }
    best_fit = plan.named("wove-test-ce-spot").inputs["computeResources"]
    assert best_fit["spotIamFleetRole"] == arn("role", "wove-test-spot-fleet-role")
    assert "allocationStrategy" not in best_fit
    pco = plan.named("wove-test-ce-spot-pco").inputs["computeResources"]
    assert "spotIamFleetRole" not in pco
    assert (pco["allocationStrategy"], pco["bidPercentage"]) == ("SPOT_PRICE_CAPACITY_OPTIMIZED", 60)
    assert plan.named("wove-test-spot-fleet-role-tagging").urn in plan.named("wove-test-ce-spot-pco").depends_on


def test_no_spot_fleet_role_without_spot_best_fit() -> None:
    plan = plan_of(MINIMAL)
    assert [r for r in plan.resources if "spot-fleet" in r.name] == []


def test_mixed_architectures_build_one_image_each_and_definitions_pick_theirs() -> None:
    cluster = {
        "image": {"python_version": "3.12"},
        "compute_environments": {
            "x86": {"type": "EC2", "instance_types": ["m6i"], "max_vcpus": 16},
            "arm": {"type": "EC2", "instance_types": ["m7g", "c7g"], "max_vcpus": 16, "desired_vcpus": 2},
        },
        "job_queues": {"x86": {"compute_environments": ["x86"]}, "arm": {"compute_environments": ["arm"]}},
        "job_definitions": {
            "x86": {"architecture": "x86_64"},
            "arm": {"architecture": "arm64", "gpus": 0},
        },
        "wove_environments": {"x86": {"job_queue": "x86", "job_definition": "x86"}, "arm": {"job_queue": "arm", "job_definition": "arm"}},
    }
    plan = plan_of(cluster)
    builds = {r.name: r.inputs["build"] for r in plan.of_type("docker:index/image:Image")}
    assert builds == {
        "wove-test-worker-arm64": {
            "context": ".",
            "dockerfile": "worker_image/Dockerfile",
            "platform": "linux/arm64",
            "args": {"PYTHON_VERSION": "3.12"},
        },
        "wove-test-worker-x86_64": {
            "context": ".",
            "dockerfile": "worker_image/Dockerfile",
            "platform": "linux/amd64",
            "args": {"PYTHON_VERSION": "3.12"},
        },
    }
    images = plan.outputs["images"]
    assert set(images) == {"arm64", "x86_64"} and images["arm64"] != images["x86_64"]
    for arch, definition in (("arm64", "arm"), ("x86_64", "x86")):
        properties = json.loads(plan.named(f"wove-test-jobdef-{definition}").inputs["containerProperties"])
        assert properties["image"] == images[arch]
    assert plan.named("wove-test-ce-arm").inputs["computeResources"]["desiredVcpus"] == 2


def test_fargate_cluster_needs_no_instance_role_and_sets_network_and_platform() -> None:
    cluster = {
        "image": {"python_version": "3.11"},
        "compute_environments": {"fg": {"type": "FARGATE_SPOT", "max_vcpus": 32}},
        "job_queues": {"fg": {"compute_environments": ["fg"]}},
        "job_definitions": {"small": {"vcpus": 0.5, "memory": 1024, "architecture": "arm64"}},
    }
    plan = plan_of(cluster)
    assert [r for r in plan.resources if "instance" in r.name] == []
    ce = plan.named("wove-test-ce-fg")
    assert ce.inputs["computeResources"] == {
        "type": "FARGATE_SPOT",
        "maxVcpus": 32,
        "subnets": DEFAULT_SUBNET_IDS,
        "securityGroupIds": [plan.named("wove-test-sg").state["id"]],
    }
    assert ce.ignore_changes == []
    definition = plan.named("wove-test-jobdef-small")
    assert definition.inputs["platformCapabilities"] == ["FARGATE"]
    properties = json.loads(definition.inputs["containerProperties"])
    assert properties["resourceRequirements"] == [{"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "1024"}]
    assert properties["networkConfiguration"] == {"assignPublicIp": "ENABLED"}  # default VPC: public subnets
    assert properties["fargatePlatformConfiguration"] == {"platformVersion": "LATEST"}
    assert properties["runtimePlatform"] == {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"}
    assert properties["image"] == plan.outputs["images"]["arm64"]


def test_given_network_is_used_as_is_and_creates_no_security_group() -> None:
    network = {"vpc_id": "vpc-0abc0abc", "subnet_ids": ["subnet-01010101", "subnet-02020202"], "security_group_ids": ["sg-0a0a0a0a"]}
    plan = plan_of({**MINIMAL, "network": network})
    assert plan.of_type("aws:ec2/securityGroup:SecurityGroup") == []
    resources = plan.named("wove-test-ce-cpu").inputs["computeResources"]
    assert (resources["subnets"], resources["securityGroupIds"]) == (["subnet-01010101", "subnet-02020202"], ["sg-0a0a0a0a"])


def test_subnets_without_groups_put_the_created_group_in_the_subnets_vpc() -> None:
    plan = plan_of({**MINIMAL, "network": {"subnet_ids": ["subnet-01010101"]}})
    assert plan.named("wove-test-sg").inputs["vpcId"] == "vpc-0f5ub7e7"  # the mocks' answer for getSubnet


def test_prebuilt_image_uri_skips_repository_and_build() -> None:
    uri = "public.ecr.aws/acme/wove-worker@sha256:" + "a" * 64
    plan = plan_of({**MINIMAL, "image": {"uri": uri, "python_version": "3.11"}})
    assert plan.of_type("docker:index/image:Image") == []
    assert plan.of_type("aws:ecr/repository:Repository") == []
    policy = plan.named("wove-test-execution-role-policy")  # nothing to pull from ECR: logs only
    assert json.loads(policy.inputs["policy"])["Statement"] == [logs_statement("worker")]
    assert plan.outputs["images"] == {"x86_64": uri}
    assert plan.outputs["repository_url"] is None
    assert json.loads(plan.named("wove-test-jobdef-worker").inputs["containerProperties"])["image"] == uri


def test_job_definition_options_reach_the_resource() -> None:
    definition = {
        "vcpus": 2,
        "memory": 4096,
        "gpus": 1,
        "command": ["python", "-m", "myapp.worker"],
        "environment": {"B": "2", "A": "1"},
        "secrets": {"DB_PASSWORD": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf", "API_KEY": "/app/api-key"},
        "retry_attempts": 3,
        "timeout_seconds": 600,
    }
    cluster = {
        **MINIMAL,
        "compute_environments": {"gpu": {"type": "EC2", "instance_types": ["g5.xlarge"], "max_vcpus": 8}},
        "job_queues": {"main": {"compute_environments": ["gpu"], "priority": 5, "state": "DISABLED"}},
        "job_definitions": {"worker": definition},
    }
    plan = plan_of(cluster)
    resource = plan.named("wove-test-jobdef-worker")
    assert resource.inputs["retryStrategy"] == {"attempts": 3}
    assert resource.inputs["timeout"] == {"attemptDurationSeconds": 600}
    properties = json.loads(resource.inputs["containerProperties"])
    assert properties["command"] == ["python", "-m", "myapp.worker"]
    assert properties["resourceRequirements"] == [
        {"type": "VCPU", "value": "2"},
        {"type": "MEMORY", "value": "4096"},
        {"type": "GPU", "value": "1"},
    ]
    assert properties["environment"] == [
        {"name": "A", "value": "1"}, {"name": "AWS_DEFAULT_REGION", "value": REGION}, {"name": "B", "value": "2"}]
    assert properties["secrets"] == [
        {"name": "API_KEY", "valueFrom": "/app/api-key"},
        {"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"},
    ]
    assert plan.named("wove-test-ce-gpu").inputs["computeResources"]["ec2Configurations"] == [{"imageType": "ECS_AL2023_NVIDIA"}]
    queue = plan.named("wove-test-queue-main").inputs
    assert (queue["priority"], queue["state"]) == (5, "DISABLED")
    statements = json.loads(plan.named("wove-test-execution-role-policy").inputs["policy"])["Statement"]
    assert statements[3:] == [
        {
            "Sid": "ReadJobSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"],
        },
        {
            "Sid": "ReadJobParameters",
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/api-key"],
        },
    ]


def test_queue_keeps_the_given_environment_order() -> None:
    cluster = {
        **MINIMAL,
        "compute_environments": {
            name: {"type": "EC2", "instance_types": ["m6i"], "max_vcpus": 4} for name in ("c", "a", "b")
        },
        "job_queues": {"main": {"compute_environments": ["b", "c", "a"]}},
    }
    orders = plan_of(cluster).named("wove-test-queue-main").inputs["computeEnvironmentOrders"]
    assert orders == [
        {"order": 0, "computeEnvironment": arn("ce", "wove-test-ce-b")},
        {"order": 1, "computeEnvironment": arn("ce", "wove-test-ce-c")},
        {"order": 2, "computeEnvironment": arn("ce", "wove-test-ce-a")},
    ]


def test_cluster_name_and_tags_come_from_config() -> None:
    plan = plan_of({**MINIMAL, "tags": {"team": "ml"}}, name="analytics")
    assert plan.named("analytics").type == "wove-batch:index:WoveBatchCluster"
    assert plan.named("analytics-queue-main").inputs["tags"] == {"team": "ml", "wove-batch:cluster": "analytics"}


def test_invalid_spec_raises_before_any_resource_is_registered() -> None:
    broken = {**MINIMAL, "job_queues": {"main": {"compute_environments": ["gpu"]}}}
    with pytest.raises(ClusterSpecError) as raised:
        run_stack(make_stack(broken))
    assert [str(e) for e in raised.value.errors] == [
        "job_queues.main.compute_environments[0]: no compute environment named 'gpu'; defined: cpu"
    ]


def test_dev_stack_outputs_feed_the_real_wove_config(dev_plan: Any) -> None:
    """wove.config takes the output as is, and Wove's own aws_batch adapter builds its boto3
    client for the stack's region from it."""
    import asyncio

    import wove
    from wove.integrations.aws_batch import AWSBatchAdapter
    from wove.runtime import runtime

    environments = dev_plan.outputs["wove_environments"]
    assert set(environments) == {"batch", "batch_bulk"}
    saved = runtime.snapshot()
    try:
        wove.config(environments=environments)
        for name, expected in environments.items():
            settings = runtime.resolve_environment_settings(name)
            assert settings["executor"] == "aws_batch"
            assert settings["executor_config"] == expected["executor_config"]
            adapter = AWSBatchAdapter(
                name="aws_batch",
                config=settings["executor_config"],
                callback_url=settings["executor_config"]["callback_url"],
                run_config={},
            )
            asyncio.run(adapter.start())
            assert adapter._client.meta.region_name == "us-east-1"
            assert adapter._client.meta.service_model.service_name == "batch"
    finally:
        wove.config(environments={name: None for name in environments})
        assert runtime.snapshot()["environments"] == saved["environments"]


def test_a_program_whose_folder_has_no_dockerfile_is_told_so(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pulumi runs the program in its folder; the image is built from paths relative to it."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ClusterSpecError) as raised:
        plan_of(MINIMAL)
    assert str(raised.value) == (
        "wove-batch:cluster has 1 error(s):\n"
        f"  image.dockerfile: 'worker_image/Dockerfile' does not exist in {tmp_path}"
    )
