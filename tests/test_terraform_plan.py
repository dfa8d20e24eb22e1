"""The plan as Terraform sees it (for checkov): types, attribute names and blocks as the
Terraform AWS provider (which pulumi-aws bridges) names them."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from conftest import MINIMAL, REPO, plan_of
from wove_batch.tools.terraform_plan import snake, terraform_plan, terraform_type


def test_types_are_terraforms() -> None:
    assert [terraform_type(t) for t in (
        "aws:batch/computeEnvironment:ComputeEnvironment", "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/securityGroup:SecurityGroup", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "docker:index/image:Image",
        "wove-batch:index:WoveBatchCluster")] == [
        "aws_batch_compute_environment", "aws_launch_template", "aws_security_group",
        "aws_s3_bucket_public_access_block", "aws_iam_role_policy_attachment", None, None]
    assert snake("httpPutResponseHopLimit") == "http_put_response_hop_limit"


def test_blocks_maps_and_plural_names_are_translated() -> None:
    document = terraform_plan(plan_of(MINIMAL))
    resources = {r["address"]: r["values"] for r in document["planned_values"]["root_module"]["resources"]}
    template = resources["aws_launch_template.wove_test_lt_cpu"]
    assert template["metadata_options"] == [{"http_endpoint": "enabled", "http_put_response_hop_limit": 1,
                                             "http_tokens": "required"}]
    assert template["block_device_mappings"][0]["ebs"][0]["encrypted"] == "true"
    environment = resources["aws_batch_compute_environment.wove_test_ce_cpu"]
    assert environment["compute_resources"][0]["ec2_configuration"] == [{"image_type": "ECS_AL2023"}]
    assert environment["tags"] == {"wove-batch:cluster": "wove-test"}  # a map stays a map
    definition = resources["aws_batch_job_definition.wove_test_jobdef_worker"]
    assert json.loads(definition["container_properties"])["command"] == ["python", "-m", "wove_batch.worker"]
    settings = {r["address"]: r["expressions"] for r in document["configuration"]["root_module"]["resources"]}
    assert settings["aws_s3_bucket_policy.wove_test_exchange_tls_only"]["bucket"]["references"][-1] == \
        "aws_s3_bucket.wove_test_exchange"


def test_the_cli_prints_it_and_every_skip_has_a_reason() -> None:
    result = subprocess.run([sys.executable, "-m", "wove_batch", "plan", "Pulumi.dev.yaml", "--terraform"],
                            capture_output=True, text=True, cwd=REPO, check=True)
    types = {r["type"] for r in json.loads(result.stdout)["planned_values"]["root_module"]["resources"]}
    assert {"aws_batch_compute_environment", "aws_s3_bucket", "aws_ecr_repository"} <= types
    skips = yaml.safe_load((REPO / "security" / "checkov-skips.yaml").read_text())
    assert all(len(reason.split()) >= 8 for reason in skips.values()), skips
