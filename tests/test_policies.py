"""The policy pack, offline: every policy passes on every resource of the example stacks'
plans, and fails a crafted violation with its message. Run through pulumi-policy's own
validate callbacks, as `pulumi preview --policy-pack policy` runs them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy

from conftest import MINIMAL, REPO, plan_of
from wove_batch.policies import RESOURCE_POLICIES, policy_pack_policies
from wove_batch.tools.plan import Plan, run_stack
from wove_batch.tools.stack_config import load_stack_file

POLICIES = {policy.name: policy for policy in policy_pack_policies()}


def example_plans() -> dict[str, Plan]:
    spot_fargate = {**MINIMAL,
                    "compute_environments": {"fg": {"type": "FARGATE_SPOT", "max_vcpus": 16}},
                    "network": {"subnet_ids": ["subnet-0a0a0a0a"], "security_group_ids": ["sg-0a0a0a0a"]},
                    "job_queues": {"main": {"compute_environments": ["fg"]}},
                    "job_definitions": {"worker": {"vcpus": 1, "memory": 2048}}}
    return {"Pulumi.dev.yaml": run_stack(load_stack_file(REPO / "Pulumi.dev.yaml")),
            "minimal": plan_of(MINIMAL), "fargate spot": plan_of(spot_fargate)}


PLANS = example_plans()


def violations(policy_name: str, resource_type: str, props: dict[str, Any]) -> list[str]:
    policy = POLICIES[policy_name]
    assert isinstance(policy, ResourceValidationPolicy)
    found: list[str] = []
    args = ResourceValidationArgs(resource_type, props, f"urn:pulumi:test::p::{resource_type}::r", "r", None, None)
    policy.validate(args, lambda message, urn=None: found.append(message))  # type: ignore[misc, operator]
    return found


def stack_violations(resources: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    policy = POLICIES["buckets-complete"]
    assert isinstance(policy, StackValidationPolicy)

    class Resource:
        def __init__(self, resource_type: str, name: str, props: dict[str, Any]) -> None:
            self.resource_type, self.name, self.props = resource_type, name, props

    class Args:
        pass

    args = Args()
    args.resources = [Resource(*resource) for resource in resources]  # type: ignore[attr-defined]
    found: list[str] = []
    policy.validate(args, lambda message, urn=None: found.append(message))  # type: ignore[misc, operator, arg-type]
    return found


def test_the_pack_has_every_policy_with_its_level() -> None:
    assert sorted(POLICIES) == sorted([*RESOURCE_POLICIES, "buckets-complete"])
    assert {name: policy.enforcement_level for name, policy in POLICIES.items()} == {
        **{name: EnforcementLevel.MANDATORY for name in POLICIES}, "scale-to-zero": EnforcementLevel.ADVISORY}


@pytest.mark.parametrize("example", sorted(PLANS))
def test_every_policy_passes_on_every_resource_of_the_example_stacks(example: str) -> None:
    plan = PLANS[example]
    for name in RESOURCE_POLICIES:
        for resource in plan.resources:
            assert violations(name, resource.type, resource.inputs) == [], (name, resource.name)
    assert stack_violations([(r.type, r.name, r.inputs) for r in plan.resources]) == []


def test_spot_backed_definitions_carry_the_tag_the_policy_reads() -> None:
    tagged = {r.name: r.inputs["tags"].get("wove-batch:spot-backed") for r in PLANS["Pulumi.dev.yaml"].resources
              if r.type == "aws:batch/jobDefinition:JobDefinition"}
    assert tagged == {"wove-dev-jobdef-small": None, "wove-dev-jobdef-large": "true"}


LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


@pytest.mark.parametrize(
    ("policy", "resource_type", "props", "expected"),
    [
        ("imdsv2-required", LAUNCH_TEMPLATE, {"metadataOptions": {"httpTokens": "optional", "httpPutResponseHopLimit": 2}},
         ["metadataOptions.httpTokens is 'optional'; IMDSv2 needs 'required'",
          "metadataOptions.httpPutResponseHopLimit is 2; 1 keeps containers from the instance's credentials"]),
        ("encrypted-volumes", LAUNCH_TEMPLATE,
         {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]},
         ["blockDeviceMappings[0] (/dev/xvda) is not encrypted"]),
        ("no-wildcard-iam-actions", "aws:iam/rolePolicy:RolePolicy",
         {"policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": ["s3:*", "s3:GetObject"], "Resource": "*"},
                                              {"Effect": "Deny", "Action": "*", "Resource": "*"},
                                              {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]})},
         ["Statement[0] allows 's3:*': name the actions instead", "Statement[2] allows NotAction: everything but a list"]),
        ("scale-to-zero", "aws:batch/computeEnvironment:ComputeEnvironment",
         {"computeResources": {"type": "EC2", "minVcpus": 4}},
         ["computeResources.minVcpus is 4: instances keep running (and billing) while idle"]),
        ("spot-retried-on-interruption", "aws:batch/jobDefinition:JobDefinition",
         {"tags": {"wove-batch:spot-backed": "true"}, "retryStrategy": {"attempts": 3, "evaluateOnExits": [
             {"action": "RETRY", "onExitCode": "1"}]}},
         ["served by a Spot queue, but not retried when Spot reclaims its capacity (retryStrategy: attempts >= 2 and a "
          "RETRY rule on the interruption's status reason)"]),
        ("log-retention-set", "aws:cloudwatch/logGroup:LogGroup", {},
         ["retentionInDays is not set: logs are kept forever"]),
        ("ecr-scan-on-push", "aws:ecr/repository:Repository", {"imageScanningConfiguration": {"scanOnPush": False}},
         ["imageScanningConfiguration.scanOnPush is not true"]),
        ("ecr-immutable-tags", "aws:ecr/repository:Repository", {"imageTagMutability": "MUTABLE"},
         ["imageTagMutability is 'MUTABLE'; tags can be moved"]),
        ("exchange-bucket-private-and-encrypted", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
         {"blockPublicAcls": True, "blockPublicPolicy": False, "ignorePublicAcls": True},
         ["blockPublicPolicy is not true", "restrictPublicBuckets is not true"]),
        ("exchange-bucket-private-and-encrypted",
         "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
         {"rules": []}, ["no default encryption rule"]),
        ("exchange-bucket-tls-only", "aws:s3/bucketPolicy:BucketPolicy",
         {"policy": json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]})},
         ["no statement denies requests without TLS (aws:SecureTransport false)"]),
    ],
)
def test_each_policy_fails_a_crafted_violation(policy: str, resource_type: str, props: dict[str, Any],
                                               expected: list[str]) -> None:
    assert violations(policy, resource_type, props) == expected


def test_a_bucket_without_its_settings_fails_the_stack_policy() -> None:
    plan = PLANS["minimal"]
    resources = [(r.type, r.name, r.inputs) for r in plan.resources
                 if r.type not in ("aws:s3/bucketPolicy:BucketPolicy",
                                   "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")]
    assert stack_violations(resources) == ["bucket wove-test-exchange has no default encryption",
                                           "bucket wove-test-exchange has no TLS-only bucket policy"]


def test_the_pack_program_names_the_package_policies() -> None:
    program = (REPO / "policy" / "__main__.py").read_text()
    assert "policy_pack_policies()" in program
    assert (REPO / "policy" / "requirements.txt").read_text().splitlines()[-1] == "-e ..[policy]"
