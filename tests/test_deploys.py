"""Deploys as planned, round 2 (issue 22): what `pulumi up`, the workflows and the first jobs
would hit. One test per finding, on the exact planned inputs, the exact validation message or
the exact workflow steps."""

from __future__ import annotations

import fnmatch
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import ACCOUNT, MINIMAL, REGION, REPO, plan_of
from wove_batch.validation import validate_cluster

FARGATE_NETWORK = {"subnet_ids": ["subnet-0a0a0a0a"], "security_group_ids": ["sg-0a0a0a0a"]}


def errors_of(cluster: dict[str, Any]) -> list[str]:
    return [str(e) for e in validate_cluster(cluster, "wove-test")[1]]


def fargate(**definition: Any) -> dict[str, Any]:
    return {
        **MINIMAL,
        "network": FARGATE_NETWORK,
        "compute_environments": {"fg": {"type": "FARGATE", "max_vcpus": 8}},
        "job_queues": {"main": {"compute_environments": ["fg"]}},
        "job_definitions": {"worker": {"vcpus": 1, "memory": 2048, **definition}},
    }


# 1: every `up` may push its build tags again ---------------------------------------------------
def ecr_accepts(repository: dict[str, Any], tag: str, existing: set[str]) -> bool:
    """ECR's PutImage rule for a tag (API_Repository imageTagMutability, ImageTagMutabilityExclusionFilter:
    WILDCARD filters where `*` matches any characters): a new tag is always taken; an existing one
    only where the tag is mutable."""
    if tag not in existing:
        return True
    mode = repository.get("imageTagMutability", "MUTABLE")
    excluded = any(fnmatch.fnmatchcase(tag, f["filter"]) for f in repository.get("imageTagMutabilityExclusionFilters", []))
    return {"MUTABLE": True, "IMMUTABLE": False, "IMMUTABLE_WITH_EXCLUSION": excluded,
            "MUTABLE_WITH_EXCLUSION": not excluded}[mode]


def build_context(folder: Path, mode: int, version: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY app.py /opt/app/\n")
    (folder / "app.py").write_text(f"VERSION = {version!r}\n")
    for path in (folder / "Dockerfile", folder / "app.py"):
        os.chmod(path, mode)


def test_every_up_may_push_its_tags_again_across_umasks_and_rollbacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same commit from a machine with umask 022 (files 0644) and one with 077 (0600), then a
    new commit, then a rollback to the first: pulumi-docker pushes the image name on each update,
    so the registry sees the tag of each `up` again; the repository takes every one of them."""
    monkeypatch.chdir(tmp_path)
    cluster = {**MINIMAL, "job_definitions": {"worker": {}, "train": {"image_context": "trainer"}},
               "wove_environments": {"batch": {"job_queue": "main", "job_definition": "worker"}}}
    (tmp_path / "worker_image").mkdir()
    (tmp_path / "worker_image" / "Dockerfile").write_text((REPO / "worker_image" / "Dockerfile").read_text())
    pushed: set[str] = set()
    tags = []
    for mode, version in ((0o644, "1"), (0o600, "1"), (0o644, "2"), (0o600, "1")):
        build_context(tmp_path / "trainer", mode, version)
        plan = plan_of(cluster)
        repository = plan.named("wove-test-worker").inputs
        up = sorted(image.inputs["imageName"].rsplit(":", 1)[1] for image in plan.of_type("docker:index/image:Image"))
        assert all(ecr_accepts(repository, tag, pushed) for tag in up), (up, repository)
        pushed |= set(up)
        tags.append(up)
    assert tags[0] == tags[1] == tags[3] != tags[2]  # group/other bits are no input; the rollback is the first build
    assert [tag.split("-")[0] for tag in tags[0]] == ["train", "x86_64"]
    assert repository == {
        "forceDelete": True,
        "imageScanningConfiguration": {"scanOnPush": True},
        "encryptionConfigurations": [{"encryptionType": "KMS"}],
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [{"filter": "*arm64-*", "filterType": "WILDCARD"},
                                               {"filter": "*x86_64-*", "filterType": "WILDCARD"}],
        "tags": {"wove-batch:cluster": "wove-test"},
    }
    # Today's IMMUTABLE repository refuses the second `up` of the same commit.
    assert not ecr_accepts({"imageTagMutability": "IMMUTABLE"}, tags[1][0], set(tags[0]))
    # A tag nobody built here stays immutable; job definitions still pin digests.
    assert not ecr_accepts(repository, "latest", {"latest"})
    image = json.loads(plan.named("wove-test-jobdef-worker").inputs["containerProperties"])["image"]
    assert re.fullmatch(r".+/wove-test-worker-[0-9a-f]{7}@sha256:[0-9a-f]{64}", image)


# 4: the partition comes from the region ---------------------------------------------------------
PARTITION_CLUSTER = {
    **MINIMAL,
    "compute_environments": {"cpu": {"type": "SPOT", "instance_types": ["m6i.large"], "max_vcpus": 16,
                                     "allocation_strategy": "BEST_FIT"}},
    "job_definitions": {"worker": {"secrets": {"TOKEN": "/team/token"}, "efs_volumes": {"d": {
        "file_system_id": "fs-0123456789abcdef0", "container_path": "/d", "access_point_id": "fsap-0123456789abcdef0"}}}},
}


@pytest.mark.parametrize(("region", "partition", "suffix"), [("cn-north-1", "aws-cn", "amazonaws.com.cn"),
                                                             ("us-gov-west-1", "aws-us-gov", "amazonaws.com")])
def test_china_and_govcloud_stacks_write_every_arn_in_their_partition(region: str, partition: str, suffix: str) -> None:
    from wove_batch.tools.stack_config import validate_stack

    from conftest import make_stack

    assert validate_stack(make_stack(PARTITION_CLUSTER, region=region))[1] == []  # `check` accepts them
    plan = plan_of(PARTITION_CLUSTER, region=region)
    text = json.dumps([r.inputs for r in plan.resources]) + json.dumps(plan.outputs)
    assert re.findall(r"arn:aws:[^\"\\]*", text) == []
    assert set(re.findall(r"arn:([a-z-]+):", text)) == {partition}
    attachments = {r.name: r.inputs["policyArn"] for r in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attachments == {
        "wove-test-instance-role-ecs": f"arn:{partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
        "wove-test-spot-fleet-role-tagging": f"arn:{partition}:iam::aws:policy/service-role/AmazonEC2SpotFleetTaggingRole",
    }
    execution = json.loads(plan.named("wove-test-execution-role-policy").inputs["policy"])["Statement"]
    assert {s["Sid"]: s["Resource"] for s in execution}["ReadJobParameters"] == [
        f"arn:{partition}:ssm:{region}:{ACCOUNT}:parameter/team/token"]
    efs = json.loads(plan.named("wove-test-job-role-efs").inputs["policy"])["Statement"][0]
    assert efs["Resource"] == f"arn:{partition}:elasticfilesystem:{region}:{ACCOUNT}:file-system/fs-0123456789abcdef0"
    application = json.loads(plan.named("wove-test-application").inputs["policy"])["Statement"]
    assert {s["Sid"]: s["Resource"] for s in application}["CancelJobs"] == f"arn:{partition}:batch:{region}:{ACCOUNT}:job/*"
    assert plan.outputs["repository_url"].startswith(f"{ACCOUNT}.dkr.ecr.{region}.{suffix}/")


@pytest.mark.parametrize(("region", "partition"), [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")])
def test_a_prebuilt_ecr_image_in_china_or_govcloud_is_pulled_from_its_partition(region: str, partition: str) -> None:
    from wove_batch.resources.image import ecr_repository_arn

    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    uri = f"{ACCOUNT}.dkr.ecr.{region}.{suffix}/team/worker:1"
    assert ecr_repository_arn(uri) == f"arn:{partition}:ecr:{region}:{ACCOUNT}:repository/team/worker"


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1"])
def test_china_and_govcloud_plans_fit_botocores_models(region: str) -> None:
    """The IAM requests that carry the partition's ARNs, from the planned inputs, against AWS's
    models. (moto serves partition aws only: it cannot create these stacks end to end.)"""
    from aws_models import request_problems

    plan = plan_of(PARTITION_CLUSTER, region=region)
    requests = [("iam", "AttachRolePolicy", {"RoleName": r.inputs["role"], "PolicyArn": r.inputs["policyArn"]})
                for r in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    requests += [("iam", "PutRolePolicy", {"RoleName": r.inputs["role"], "PolicyName": r.state["name"],
                                           "PolicyDocument": r.inputs["policy"]})
                 for r in plan.of_type("aws:iam/rolePolicy:RolePolicy")]
    requests += [("iam", "CreatePolicy", {"PolicyName": r.state["name"], "PolicyDocument": r.inputs["policy"]})
                 for r in plan.of_type("aws:iam/policy:Policy")]
    assert len(requests) >= 6
    assert [p for service, operation, params in requests for p in request_problems(service, operation, params)] == []


# 5: ulimits on Fargate ---------------------------------------------------------------------------
def test_ulimits_on_fargate_definitions_are_refused() -> None:
    assert errors_of(fargate(ulimits={"nofile": {"soft": 1024, "hard": 4096}})) == [
        "job_definitions.worker.ulimits: not available on Fargate (EC2 queues only), got nofile"]
    assert errors_of({**MINIMAL, "job_definitions": {"worker": {"ulimits": {"nofile": {"soft": 1024, "hard": 4096}}}}}) == []


# 6: a prebuilt worker next to a definition's own build ----------------------------------------
def test_a_prebuilt_worker_stays_pullable_when_a_definition_builds_its_own_image(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    build_context(tmp_path / "trainer", 0o644, "1")
    uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/worker@sha256:" + "b" * 64
    cluster = fargate()
    cluster["image"] = {"uri": uri, "python_version": "3.11"}
    cluster["job_definitions"]["train"] = {"vcpus": 1, "memory": 2048, "image_context": "trainer"}
    cluster["wove_environments"] = {"batch": {"job_queue": "main", "job_definition": "worker"}}
    plan = plan_of(cluster)
    statements = json.loads(plan.named("wove-test-execution-role-policy").inputs["policy"])["Statement"]
    (pull,) = [s for s in statements if s["Sid"] == "PullWorkerImage"]
    assert pull["Resource"] == sorted([f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/worker",
                                       plan.named("wove-test-worker").state["arn"]])


# 11: GPU families ----------------------------------------------------------------------------------
def gpu_cluster(instance_type: str) -> dict[str, Any]:
    return {**MINIMAL, "compute_environments": {"gpu": {"type": "EC2", "instance_types": [instance_type], "max_vcpus": 512}},
            "job_queues": {"main": {"compute_environments": ["gpu"]}}, "job_definitions": {"worker": {"gpus": 1}}}


def test_p2_is_refused_with_the_al2023_nvidia_ami() -> None:
    assert errors_of(gpu_cluster("p2.xlarge")) == [
        "compute_environments.gpu.instance_types[0]: 'p2.xlarge': p2 has NVIDIA K80 GPUs, which the drivers of the "
        "AL2023 NVIDIA AMI no longer support; use g4dn, g5, g6 or p4d/p5, or set ami_id to an AMI that runs it"]


@pytest.mark.parametrize("instance_type", ["p6-b200.48xlarge", "p6-b300.48xlarge", "p6-b200"])
def test_p6_blackwell_types_are_read_and_planned(instance_type: str) -> None:
    from wove_batch.aws.instance_types import size_of

    assert errors_of(gpu_cluster(instance_type)) == []
    if "." in instance_type:
        assert size_of(instance_type).gpus == 8
    plan = plan_of(gpu_cluster(instance_type))
    resources = plan.named("wove-test-ce-gpu").inputs["computeResources"]
    assert (resources["instanceTypes"], resources["ec2Configurations"]) == ([instance_type], [{"imageType": "ECS_AL2023_NVIDIA"}])


# 3, 14, 16: the workflows -----------------------------------------------------------------------
def workflow_steps(name: str) -> list[dict[str, Any]]:
    import yaml

    (job,) = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())["jobs"].values()
    return job["steps"]


def test_deploy_sets_up_qemu_and_buildx_before_up_builds_arm64_images() -> None:
    names = [step.get("uses") or step.get("name") for step in workflow_steps("deploy.yml")]
    qemu = names.index("docker/setup-qemu-action@v4")
    assert names[qemu:qemu + 2] == ["docker/setup-qemu-action@v4", "docker/setup-buildx-action@v4"]
    assert qemu < names.index("pulumi/actions@v7")
    assert workflow_steps("deploy.yml")[qemu]["with"] == {"platforms": "arm64"}


def test_preview_checks_the_docker_daemon_and_skips_forks_with_a_notice() -> None:
    same_repository = "github.event.pull_request.head.repo.full_name == github.repository"
    steps = workflow_steps("preview.yml")
    by_name = {step.get("uses") or step.get("name"): step for step in steps}
    fork = by_name["Pull request from a fork"]
    assert fork["if"] == "github.event.pull_request.head.repo.full_name != github.repository"
    assert fork["run"].startswith("echo \"::notice title=No preview for a fork::A pull request from a fork gets no OIDC")
    assert by_name["Docker daemon for the Docker provider"] == {"name": "Docker daemon for the Docker provider",
                                                                "if": same_repository, "run": "docker version"}
    for uses in ("aws-actions/configure-aws-credentials@v6", "pulumi/actions@v7"):
        assert by_name[uses]["if"] == same_repository
    check = "Check the stack offline (every error at once, field path first)"
    assert "if" not in by_name[check]  # forks are still checked offline


# 7: a definition keeps its name whatever changes -----------------------------------------------
def test_changing_retry_rules_keeps_the_definition_name_applications_use() -> None:
    """The provider replaces a definition whose retry rules change (evaluate_on_exit is force-new);
    with a fixed name, the replacement is a new revision of the same definition."""
    from conftest import definition_name

    on_demand = plan_of(MINIMAL)
    spot = plan_of({**MINIMAL, "compute_environments": {"cpu": {"type": "SPOT", "instance_types": ["m6i.large"],
                                                                "max_vcpus": 16}}})
    assert on_demand.named("wove-test-jobdef-worker").inputs.get("retryStrategy") != spot.named(
        "wove-test-jobdef-worker").inputs.get("retryStrategy")  # the default rules differ
    for plan in (on_demand, spot):
        assert plan.named("wove-test-jobdef-worker").inputs["name"] == definition_name("wove-test-jobdef-worker")
        assert plan.outputs["job_definitions"] == {"worker": definition_name("wove-test-jobdef-worker")}
    other_stack = plan_of(MINIMAL, stack="prod", name="wove-test")
    assert other_stack.named("wove-test-jobdef-worker").inputs["name"] == definition_name("wove-test-jobdef-worker", "prod")
    assert definition_name("wove-test-jobdef-worker", "prod") != definition_name("wove-test-jobdef-worker")


# 8: swap for max_swap_mib -------------------------------------------------------------------------
def test_a_definition_with_swap_gets_instances_with_a_swap_file_that_size() -> None:
    import base64

    cluster = {**MINIMAL, "job_definitions": {"worker": {"max_swap_mib": 2048, "swappiness": 10},
                                              "small": {"max_swap_mib": 512}},
               "wove_environments": {"batch": {"job_queue": "main", "job_definition": "worker"},
                                     "small": {"job_queue": "main", "job_definition": "small"}}}
    plan = plan_of(cluster)
    document = base64.b64decode(plan.named("wove-test-lt-cpu").inputs["userData"]).decode()
    assert document == (
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="==wove-batch=="\n\n'
        '--==wove-batch==\nContent-Type: text/x-shellscript; charset="us-ascii"\n\n'
        "#!/bin/bash\n"
        "set -euo pipefail\n"
        "echo ECS_IMAGE_PULL_BEHAVIOR=prefer-cached >> /etc/ecs/ecs.config\n"
        "if ! swapon --show=NAME --noheadings | grep -qx /var/lib/wove-batch.swap; then\n"
        "  dd if=/dev/zero of=/var/lib/wove-batch.swap bs=1M count=2048 status=none\n"
        "  chmod 600 /var/lib/wove-batch.swap\n"
        "  mkswap /var/lib/wove-batch.swap\n"
        "  swapon /var/lib/wove-batch.swap\n"
        "fi\n\n--==wove-batch==--\n"
    )
    linux = json.loads(plan.named("wove-test-jobdef-worker").inputs["containerProperties"])["linuxParameters"]
    assert (linux["maxSwap"], linux["swappiness"]) == (2048, 10)
    no_swap = ('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="==wove-batch=="\n\n'
               '--==wove-batch==\nContent-Type: text/x-shellscript; charset="us-ascii"\n\n'
               "#!/bin/bash\nset -euo pipefail\necho ECS_IMAGE_PULL_BEHAVIOR=prefer-cached >> /etc/ecs/ecs.config\n\n"
               "--==wove-batch==--\n")
    for cluster in (MINIMAL, {**MINIMAL, "job_definitions": {"worker": {"max_swap_mib": 0}}}):  # no swap asked: none made
        assert base64.b64decode(plan_of(cluster).named("wove-test-lt-cpu").inputs["userData"]).decode() == no_swap


# 10: EFS the worker cannot write ------------------------------------------------------------------
def test_a_writable_efs_volume_without_an_access_point_is_explained_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi

    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(message))
    volumes = {"data": {"file_system_id": "fs-0123456789abcdef0", "container_path": "/mnt/data"},
               "models": {"file_system_id": "fs-0123456789abcdef0", "container_path": "/mnt/models", "read_only": True},
               "shared": {"file_system_id": "fs-0123456789abcdef0", "container_path": "/mnt/shared",
                          "access_point_id": "fsap-0123456789abcdef0"}}
    plan_of({**MINIMAL, "job_definitions": {"worker": {"efs_volumes": volumes}}})
    assert warned == [
        "job_definitions.worker.efs_volumes.data: writable without an access point; the worker runs as uid 10001 and "
        "fs-0123456789abcdef0's root directory belongs to root, so its writes fail unless / is writable by 10001. Fix: "
        "an access point with PosixUser 10001:10001 and a root directory created for 10001 (CreationInfo), as "
        "access_point_id, or read_only: true"]


# 2, 13, 14, 15, 17: what the README promises -------------------------------------------------------
def readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text()
    start = text.index(f"\n{title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def test_the_oidc_trust_policy_takes_the_id_based_sub_of_new_repositories() -> None:
    """configure-aws-credentials v6.2.3: repositories created on or after 2026-07-15 send
    `repo:owner@ID/repo@ID:...`. The README's policy, with placeholders filled, must match both."""
    section = readme_section("### Previews and deploys from GitHub (`.github/workflows/`)")
    document = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    patterns = document["Statement"][0]["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]
    filled = [p.replace("<owner>", "acme").replace("<repo>", "jobs").replace("<owner id>", "1234").replace("<repo id>", "5678")
              for p in patterns]
    for sub in ("repo:acme/jobs:pull_request", "repo:acme@1234/jobs@5678:pull_request",
                "repo:acme@1234/jobs@5678:ref:refs/heads/main"):
        assert any(fnmatch.fnmatchcase(sub, pattern) for pattern in filled), sub
    assert not any(fnmatch.fnmatchcase("repo:other@9/jobs@5678:pull_request", pattern) for pattern in filled)


def test_the_readme_says_what_deploys_need_and_do() -> None:
    deploying = readme_section("## Deploying")
    operating = readme_section("## Operating")
    installing = readme_section("## Installing")
    assert "`kms:RetireGrant`" in deploying and "`kms:RetireGrant`" in operating
    assert "delete-repository --force" in deploying  # the force_delete story
    assert "still needs a running Docker daemon" in deploying and "pulumi-docker#1106" in deploying
    assert "(no Docker needed)" not in deploying
    assert "IMMUTABLE_WITH_EXCLUSION" in deploying and "aws/containers-roadmap#2179" in deploying
    assert "KMS\nrequests are billed" in deploying and "cost nothing" not in deploying
    assert "(the old one is\n  deregistered)" not in operating and "the old\n  one stays registered" in operating
    assert "by replacement on `BEST_FIT` ones" in operating
    assert "pulumi package add github.com/<owner>/<repo>/provider@v0.2.0" in installing
    assert "Without `@<version>`, `pulumi package add` takes the default branch's latest commit" in installing
    assert "s3://…: AccessDenied`" in (REPO / "README.md").read_text()
