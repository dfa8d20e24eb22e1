"""Production behaviours: launch templates, updates, retries, secrets, logs, least-privilege
IAM, fair share, RUNNABLE timeouts, Fargate and tags, as exact resource inputs."""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

from conftest import ACCOUNT, MINIMAL, REGION, physical, plan_of
from wove_batch.tools.plan import Plan

SPOT_CLUSTER: dict[str, Any] = {
    **MINIMAL,
    "compute_environments": {
        "cpu": {"type": "EC2", "instance_types": ["m6i.large"], "max_vcpus": 16},
        "spot": {"type": "SPOT", "instance_types": ["m6i.large"], "max_vcpus": 64,
                 "allocation_strategy": "SPOT_PRICE_CAPACITY_OPTIMIZED", "root_volume_gib": 100,
                 "update_policy": {"terminate_jobs_on_update": True, "job_execution_timeout_minutes": 10}},
    },
    "job_queues": {
        "main": {"compute_environments": ["cpu"], "runnable_timeout_seconds": 1800},
        "bulk": {"compute_environments": ["spot", "cpu"],
                 "fair_share": {"share_decay_seconds": 3600, "compute_reservation": 10, "shares": {"teamB": 2.0, "teamA": 0.5}}},
    },
    "job_definitions": {
        "worker": {},
        "batch": {},
        "custom": {"retry_attempts": 5, "evaluate_on_exit": [{"action": "RETRY", "on_exit_code": "137"}, {"action": "EXIT", "on_reason": "*"}],
                   "secrets": {"DB": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::"}},
    },
    "wove_environments": {
        "interactive": {"job_queue": "main", "job_definition": "worker"},
        "bulk": {"job_queue": "bulk", "job_definition": "batch", "share_identifier": "teamA"},
        "custom": {"job_queue": "bulk", "job_definition": "custom", "share_identifier": "teamB"},
    },
    "job_role": {
        "managed_policy_arns": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
        "policy_statements": [{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::results/*"}],
    },
    "logs": {"retention_days": 90},
    "tags": {"team": "ml"},
}


def definition(plan: Plan, name: str) -> dict[str, Any]:
    return plan.named(f"wove-test-jobdef-{name}").inputs


def test_spot_served_definitions_retry_on_reclamation_and_exit_on_errors() -> None:
    plan = plan_of(SPOT_CLUSTER)
    assert definition(plan, "batch")["retryStrategy"] == {
        "attempts": 3,
        "evaluateOnExits": [{"action": "RETRY", "onStatusReason": "Host EC2*"}, {"action": "EXIT", "onReason": "*"}],
    }
    assert "retryStrategy" not in definition(plan, "worker")  # on-demand only: one attempt
    assert definition(plan, "custom")["retryStrategy"] == {
        "attempts": 5,
        "evaluateOnExits": [{"action": "RETRY", "onExitCode": "137"}, {"action": "EXIT", "onReason": "*"}],
    }


def test_compute_environment_update_policy_and_root_volume_come_from_config() -> None:
    plan = plan_of(SPOT_CLUSTER)
    spot = plan.named("wove-test-ce-spot").inputs
    assert spot["updatePolicy"] == {"terminateJobsOnUpdate": True, "jobExecutionTimeoutMinutes": 10}
    template = plan.named("wove-test-lt-spot")
    assert template.inputs["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 100
    assert spot["computeResources"]["launchTemplate"] == {"launchTemplateId": template.state["id"], "version": "1"}


def test_fair_share_policy_and_runnable_timeout() -> None:
    plan = plan_of(SPOT_CLUSTER)
    policy = plan.named("wove-test-fair-share-bulk")
    assert policy.type == "aws:batch/schedulingPolicy:SchedulingPolicy"
    assert policy.inputs["fairSharePolicy"] == {
        "computeReservation": 10,
        "shareDecaySeconds": 3600,
        "shareDistributions": [{"shareIdentifier": "teamA", "weightFactor": 0.5},
                               {"shareIdentifier": "teamB", "weightFactor": 2}],
    }
    assert plan.named("wove-test-queue-bulk").inputs["schedulingPolicyArn"] == policy.state["arn"]
    environments = plan.outputs["wove_environments"]
    assert environments["bulk"]["executor_config"]["submit_job_options"] == {"shareIdentifier": "teamA"}
    assert "submit_job_options" not in environments["interactive"]["executor_config"]
    main = plan.named("wove-test-queue-main").inputs
    assert "schedulingPolicyArn" not in main
    # the reason is the trigger: one action per reason AWS acts on
    assert main["jobStateTimeLimitActions"] == [
        {"action": "CANCEL", "state": "RUNNABLE", "maxTimeSeconds": 1800, "reason": reason}
        for reason in ("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
                       "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")
    ]


def test_secrets_are_readable_by_the_execution_role_and_nothing_else() -> None:
    plan = plan_of(SPOT_CLUSTER)
    properties = json.loads(definition(plan, "custom")["containerProperties"])
    assert properties["secrets"] == [
        {"name": "DB", "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::"}
    ]
    statements = json.loads(plan.named("wove-test-execution-role-policy").inputs["policy"])["Statement"]
    secrets = [s for s in statements if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])]
    assert secrets == [{"Sid": "ReadJobSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                        "Resource": ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"]}]
    assert not any("ssm:" in json.dumps(s["Action"]) for s in statements)


def test_aws_owned_parameters_are_granted_as_aws_names_them() -> None:
    """A public parameter's ARN has no account; a Secrets Manager reference through Parameter
    Store also needs the secret itself (its ARN ends in `-` and six characters AWS picks)."""
    secrets = {"AMI": "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
               "DB": "/aws/reference/secretsmanager/db-creds", "TEAM": "/team/token"}
    plan = plan_of({**MINIMAL, "job_definitions": {"worker": {"vcpus": 1, "memory": 2048, "secrets": secrets}}})
    statements = json.loads(plan.named("wove-test-execution-role-policy").inputs["policy"])["Statement"]
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert by_sid["ReadJobSecrets"] == {"Sid": "ReadJobSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                        "Resource": [f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-creds-??????"]}
    assert by_sid["ReadJobParameters"] == {"Sid": "ReadJobParameters", "Effect": "Allow", "Action": "ssm:GetParameters",
                                           "Resource": [
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/aws/reference/secretsmanager/db-creds",
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/team/token",
        f"arn:aws:ssm:{REGION}::parameter/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
    ]}


def test_logs_go_to_one_group_with_retention_and_a_prefix_per_definition() -> None:
    plan = plan_of(SPOT_CLUSTER)
    assert plan.named("wove-test-logs").inputs["retentionInDays"] == 90
    group = physical("wove-test-logs")
    for name in ("worker", "batch", "custom"):
        assert json.loads(definition(plan, name)["containerProperties"])["logConfiguration"] == {
            "logDriver": "awslogs",
            "options": {"awslogs-group": group, "awslogs-region": REGION, "awslogs-stream-prefix": name},
        }
    statements = json.loads(plan.named("wove-test-execution-role-policy").inputs["policy"])["Statement"]
    assert statements[0]["Resource"] == [
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:{name}/*" for name in ("batch", "custom", "worker")
    ]


def test_job_role_gets_exactly_what_config_grants() -> None:
    plan = plan_of(SPOT_CLUSTER)
    assert plan.named("wove-test-job-role-managed-0").inputs == {
        "role": physical("wove-test-job-role"), "policyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}
    inline = plan.named("wove-test-job-role-policy").inputs
    assert inline["role"] == physical("wove-test-job-role")
    assert json.loads(inline["policy"]) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::results/*"}],
    }
    for name in ("worker", "batch", "custom"):
        assert plan.named("wove-test-job-role-policy").urn in plan.named(f"wove-test-jobdef-{name}").depends_on
    default = plan_of(MINIMAL)
    # nothing but the exchange bucket's payloads and results (test_exchange.py has its exact document)
    assert [r.name for r in default.resources if r.name.startswith("wove-test-job-role-")] == ["wove-test-job-role-exchange"]


def policy_documents(plan: Plan) -> list[tuple[str, dict]]:
    documents = []
    for resource in plan.resources:
        if not resource.type.startswith("aws:iam/"):
            continue
        for key in ("policy", "assumeRolePolicy"):
            if key in resource.inputs:
                documents.append((f"{resource.name}.{key}", json.loads(resource.inputs[key])))
    return documents


def test_no_wildcard_actions_or_resources_in_any_policy_the_component_writes(dev_plan: Plan) -> None:
    for plan in (dev_plan, plan_of(SPOT_CLUSTER), plan_of(MINIMAL)):
        documents = policy_documents(plan)
        assert documents
        for where, document in documents:
            for statement in document["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not any("*" in action for action in actions), where
                resources = statement.get("Resource", [])
                resources = resources if isinstance(resources, list) else [resources]
                for resource in resources:
                    if resource == "*":
                        # AWS accepts no narrower resource for ECR's account-wide login, nor
                        # for describing and listing Batch jobs.
                        assert actions in (["ecr:GetAuthorizationToken"], ["batch:DescribeJobs", "batch:ListJobs"]), where
                    elif resource.endswith(":*") and ":job-definition/" in resource:
                        # any revision of one of this cluster's job definitions
                        assert "*" not in resource[:-1], (where, resource)
                    elif resource.endswith(":*") and ":log-group:" in resource:
                        # the streams of one named log group (GetLogEvents for failure reports)
                        assert "*" not in resource[:-1], (where, resource)
                    elif "*" in resource:
                        # a name suffix after a fixed prefix: log streams (task ids), exchange
                        # objects under their prefix, job ids, the user's own grant
                        assert resource.endswith("/*") and "*" not in resource[:-1], (where, resource)


def test_fargate_platform_version_and_public_ip_override() -> None:
    cluster = {
        **MINIMAL,
        "network": {"subnet_ids": ["subnet-0a0a0a0a"], "security_group_ids": ["sg-0a0a0a0a"], "assign_public_ip": True},
        "compute_environments": {"fg": {"type": "FARGATE", "max_vcpus": 8}},
        "job_queues": {"main": {"compute_environments": ["fg"]}},
        "job_definitions": {"worker": {"vcpus": 1, "memory": 2048, "platform_version": "1.4.0"}},
    }
    properties = json.loads(definition(plan_of(cluster), "worker")["containerProperties"])
    assert properties["fargatePlatformConfiguration"] == {"platformVersion": "1.4.0"}
    assert properties["networkConfiguration"] == {"assignPublicIp": "ENABLED"}
    cluster["network"] = {"subnet_ids": ["subnet-0a0a0a0a"]}
    properties = json.loads(definition(plan_of(cluster), "worker")["containerProperties"])
    assert properties["networkConfiguration"] == {"assignPublicIp": "DISABLED"}  # given subnets: private by default


def _taggable(type_token: str) -> bool:
    package, rest = type_token.split(":", 1)
    if package != "aws":
        return False
    module, name = rest.split(":")
    module_path = module.split("/")[0]
    cls = getattr(importlib.import_module(f"pulumi_aws.{module_path}"), f"{name}Args")
    return "tags" in inspect.signature(cls.__init__).parameters


def test_every_taggable_resource_carries_the_cluster_tags(dev_plan: Plan) -> None:
    for plan in (dev_plan, plan_of(SPOT_CLUSTER)):
        taggable = [r for r in plan.resources if _taggable(r.type)]
        assert len(taggable) >= 10
        team = "data-platform" if plan is dev_plan else "ml"
        for resource in taggable:
            assert resource.inputs.get("tags", {}).get("team") == team, resource.name
            assert resource.inputs["tags"]["wove-batch:cluster"] in ("wove-dev", "wove-test"), resource.name
