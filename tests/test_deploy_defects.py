"""What a real `pulumi up` and the first jobs would have hit (issue: deploys as planned): one
test per defect, on the exact planned inputs or the exact validation message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import ACCOUNT, MINIMAL, REGION, physical, plan_of
from wove_batch.validation import validate_cluster

FARGATE_NETWORK = {"subnet_ids": ["subnet-0a0a0a0a"], "security_group_ids": ["sg-0a0a0a0a"]}


def fargate(env_type: str = "FARGATE", **definition: Any) -> dict[str, Any]:
    return {
        **MINIMAL,
        "network": FARGATE_NETWORK,
        "compute_environments": {"fg": {"type": env_type, "max_vcpus": 8}},
        "job_queues": {"main": {"compute_environments": ["fg"]}},
        "job_definitions": {"worker": {"vcpus": 1, "memory": 2048, **definition}},
    }


def errors_of(cluster: dict[str, Any]) -> list[str]:
    return [str(e) for e in validate_cluster(cluster, "wove-test")[1]]


def retry(plan: Any, name: str = "worker") -> Any:
    return plan.named(f"wove-test-jobdef-{name}").inputs.get("retryStrategy")


# 1 and 10a: an update policy only where Batch updates infrastructure in place -------------
@pytest.mark.parametrize("env_type", ["FARGATE", "FARGATE_SPOT"])
def test_fargate_environments_get_no_update_policy(env_type: str) -> None:
    inputs = plan_of(fargate(env_type)).named("wove-test-ce-fg").inputs
    assert "updatePolicy" not in inputs


def test_best_fit_environments_get_no_update_policy_and_progressive_ones_do() -> None:
    cluster = {**MINIMAL, "compute_environments": {
        "cpu": {"type": "EC2", "instance_types": ["m6i.large"], "max_vcpus": 16},
        "prog": {"type": "EC2", "instance_types": ["m6i.large"], "max_vcpus": 16, "allocation_strategy": "BEST_FIT_PROGRESSIVE",
                 "update_policy": {"terminate_jobs_on_update": True, "job_execution_timeout_minutes": 5}}}}
    plan = plan_of(cluster)
    assert "updatePolicy" not in plan.named("wove-test-ce-cpu").inputs
    assert plan.named("wove-test-ce-prog").inputs["updatePolicy"] == {"terminateJobsOnUpdate": True, "jobExecutionTimeoutMinutes": 5}


def test_an_update_policy_where_batch_would_ignore_or_refuse_it_is_refused() -> None:
    cluster = fargate()
    cluster["compute_environments"]["fg"]["update_policy"] = {"job_execution_timeout_minutes": 10}
    assert errors_of(cluster) == [
        "compute_environments.fg.update_policy: applies only to EC2/SPOT environments with allocation_strategy "
        "BEST_FIT_PROGRESSIVE, SPOT_CAPACITY_OPTIMIZED, SPOT_PRICE_CAPACITY_OPTIMIZED (the only ones Batch updates in "
        "place), not a FARGATE environment"
    ]
    cluster = {**MINIMAL, "compute_environments": {"cpu": {"type": "EC2", "instance_types": ["m6i.large"], "max_vcpus": 16,
                                                           "update_policy": {"terminate_jobs_on_update": True}}}}
    assert errors_of(cluster) == [
        "compute_environments.cpu.update_policy: applies only to EC2/SPOT environments with allocation_strategy "
        "BEST_FIT_PROGRESSIVE, SPOT_CAPACITY_OPTIMIZED, SPOT_PRICE_CAPACITY_OPTIMIZED (the only ones Batch updates in "
        "place), not EC2 with BEST_FIT (the default)"
    ]


# 2: the RUNNABLE timeout's reasons are the triggers AWS acts on ----------------------------
def test_runnable_timeout_acts_on_each_reason_aws_knows() -> None:
    cluster = {**MINIMAL, "job_queues": {"main": {"compute_environments": ["cpu"], "runnable_timeout_seconds": 900}}}
    actions = plan_of(cluster).named("wove-test-queue-main").inputs["jobStateTimeLimitActions"]
    assert [a["reason"] for a in actions] == [
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
    ]
    assert {(a["action"], a["state"], a["maxTimeSeconds"]) for a in actions} == {("CANCEL", "RUNNABLE", 900)}


# 3: retry rules come with attempts ----------------------------------------------------------
def test_retry_rules_without_attempts_are_refused_where_nothing_supplies_them() -> None:
    cluster = {**MINIMAL, "job_definitions": {"worker": {"evaluate_on_exit": [{"action": "EXIT", "on_exit_code": "1"}]}}}
    assert errors_of(cluster) == [
        "job_definitions.worker.retry_attempts: required with evaluate_on_exit: AWS takes retry rules only together "
        "with a number of attempts (1..10)"
    ]
    # On Spot the default attempts (3) come with them.
    spot = {**cluster, "compute_environments": {"cpu": {"type": "SPOT", "instance_types": ["m6i.large"], "max_vcpus": 16,
                                                        "allocation_strategy": "SPOT_PRICE_CAPACITY_OPTIMIZED"}}}
    assert errors_of(spot) == []
    assert retry(plan_of(spot)) == {"attempts": 3, "evaluateOnExits": [{"action": "EXIT", "onExitCode": "1"}]}


# 4 and 10b: the GPU AMI fits the family ------------------------------------------------------
@pytest.mark.parametrize(
    ("instance_type", "problem"),
    [
        ("p3.2xlarge", "ECS_AL2023_NVIDIA does not support p3, and Batch no longer creates environments on the AL2 GPU AMI"),
        ("g3s.xlarge", "ECS_AL2023_NVIDIA does not support g3, and Batch no longer creates environments on the AL2 GPU AMI"),
        ("g4ad.xlarge", "g4ad has AMD GPUs; the ECS GPU AMIs carry NVIDIA's drivers only"),
        ("g5g.xlarge", "g5g is Graviton (arm64); the ECS NVIDIA AMIs serve x86_64 types only"),
    ],
)
def test_gpu_families_the_nvidia_ami_cannot_run_are_refused_unless_an_ami_is_given(instance_type: str, problem: str) -> None:
    cluster = {**MINIMAL, "compute_environments": {"gpu": {"type": "EC2", "instance_types": [instance_type], "max_vcpus": 16}},
               "job_queues": {"main": {"compute_environments": ["gpu"]}}, "job_definitions": {"worker": {"gpus": 1}}}
    message = f"compute_environments.gpu.instance_types[0]: {instance_type!r}: {problem}; use g4dn, g5, g6 or p4d/p5, or set ami_id to an AMI that runs it"
    assert message in errors_of(cluster)
    cluster["compute_environments"]["gpu"]["ami_id"] = "ami-0123456789abcdef0"
    assert not any(error.startswith("compute_environments.gpu.instance_types") for error in errors_of(cluster))


def test_nvidia_gpu_environments_boot_the_nvidia_ami_with_room_for_it() -> None:
    cluster = {**MINIMAL, "compute_environments": {"gpu": {"type": "EC2", "instance_types": ["g5.xlarge", "m6i.large"], "max_vcpus": 16}},
               "job_queues": {"main": {"compute_environments": ["gpu"]}}, "job_definitions": {"worker": {"gpus": 1}}}
    plan = plan_of(cluster)
    assert plan.named("wove-test-ce-gpu").inputs["computeResources"]["ec2Configurations"] == [{"imageType": "ECS_AL2023_NVIDIA"}]
    (mapping,) = plan.named("wove-test-lt-gpu").inputs["blockDeviceMappings"]
    assert mapping["ebs"]["volumeSize"] == 100
    cluster["compute_environments"]["gpu"]["root_volume_gib"] = 60
    (mapping,) = plan_of(cluster).named("wove-test-lt-gpu").inputs["blockDeviceMappings"]
    assert mapping["ebs"]["volumeSize"] == 60


# 5: a prebuilt ECR image can be pulled on Fargate ----------------------------------------------
def test_a_prebuilt_ecr_image_is_pullable_by_the_execution_role() -> None:
    uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/worker@sha256:" + "b" * 64
    plan = plan_of({**fargate(), "image": {"uri": uri, "python_version": "3.11"}})
    statements = json.loads(plan.named("wove-test-execution-role-policy").inputs["policy"])["Statement"]
    assert {s["Sid"]: s for s in statements}["PullWorkerImage"] == {
        "Sid": "PullWorkerImage", "Effect": "Allow",
        "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/worker",
    }
    assert {s["Sid"] for s in statements} == {"WriteJobLogs", "EcrLogin", "PullWorkerImage"}
    public = plan_of({**fargate(), "image": {"uri": "docker.io/acme/worker:1.2", "python_version": "3.11"}})
    statements = json.loads(public.named("wove-test-execution-role-policy").inputs["policy"])["Statement"]
    assert {s["Sid"] for s in statements} == {"WriteJobLogs"}  # a public registry needs no grant


# 6: adding or removing fair share replaces the queue ------------------------------------------
def test_the_scheduling_policy_of_a_queue_changes_only_by_replacing_it() -> None:
    plan = plan_of({**MINIMAL, "job_queues": {"main": {"compute_environments": ["cpu"]}}})
    assert plan.named("wove-test-queue-main").replace_on_changes == ["schedulingPolicyArn"]


# 7: each platform's Spot interruption is retried -------------------------------------------------
def test_fargate_spot_definitions_retry_on_fargate_spot_interruptions() -> None:
    assert retry(plan_of(fargate("FARGATE_SPOT"))) == {
        "attempts": 3,
        "evaluateOnExits": [{"action": "RETRY", "onStatusReason": "Your Spot Task was interrupted*"},
                            {"action": "EXIT", "onReason": "*"}],
    }
    assert retry(plan_of(fargate("FARGATE"))) is None


# 8: containers cannot take the instance's role ---------------------------------------------------
def test_containers_are_blocked_from_instance_metadata_and_get_their_region_from_the_definition() -> None:
    plan = plan_of(MINIMAL)
    assert plan.named("wove-test-lt-cpu").inputs["metadataOptions"] == {
        "httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
    properties = json.loads(plan.named("wove-test-jobdef-worker").inputs["containerProperties"])
    assert {"name": "AWS_DEFAULT_REGION", "value": REGION} in properties["environment"]
    assert properties["jobRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{physical('wove-test-job-role')}"


# 9: the repository goes with `pulumi destroy` ---------------------------------------------------
def test_the_worker_repository_is_deleted_with_its_images() -> None:
    assert plan_of(MINIMAL).named("wove-test-worker").inputs["forceDelete"] is True
