"""Job definitions for real workloads (issue 17): their own image, shared memory, tmpfs, swap,
ulimits, init, scratch disk, EFS, safe revisions, scheduling priority and tag propagation,
each planned with its exact inputs on EC2 and on Fargate, or refused with its field path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import ACCOUNT, MINIMAL, REGION, plan_of
from wove_batch.validation import validate_cluster

FARGATE_NETWORK = {"subnet_ids": ["subnet-0a0a0a0a"], "security_group_ids": ["sg-0a0a0a0a"]}
FS = "fs-0123456789abcdef0"
AP = "fsap-0123456789abcdef0"


def ec2(**definition: Any) -> dict[str, Any]:
    return {**MINIMAL, "job_definitions": {"worker": {"vcpus": 1, "memory": 2048, **definition}}}


def fargate(**definition: Any) -> dict[str, Any]:
    return {**MINIMAL, "network": FARGATE_NETWORK,
            "compute_environments": {"fg": {"type": "FARGATE", "max_vcpus": 8}},
            "job_queues": {"main": {"compute_environments": ["fg"]}},
            "job_definitions": {"worker": {"vcpus": 1, "memory": 2048, **definition}}}


def properties(cluster: dict[str, Any]) -> dict[str, Any]:
    return json.loads(plan_of(cluster).named("wove-test-jobdef-worker").inputs["containerProperties"])


def errors_of(cluster: dict[str, Any]) -> list[str]:
    return [str(e) for e in validate_cluster(cluster, "wove-test")[1]]


EFS_VOLUMES = {
    "data": {"file_system_id": FS, "container_path": "/mnt/data", "access_point_id": AP},
    "models": {"file_system_id": FS, "container_path": "/mnt/models", "root_directory": "/models", "read_only": True,
               "iam_authorization": False},
}
EFS_PROPERTIES = {
    "volumes": [
        {"name": "data", "efsVolumeConfiguration": {"fileSystemId": FS, "transitEncryption": "ENABLED",
                                                    "authorizationConfig": {"accessPointId": AP, "iam": "ENABLED"}}},
        {"name": "models", "efsVolumeConfiguration": {"fileSystemId": FS, "rootDirectory": "/models",
                                                      "transitEncryption": "ENABLED"}},
    ],
    "mountPoints": [
        {"sourceVolume": "data", "containerPath": "/mnt/data", "readOnly": False},
        {"sourceVolume": "models", "containerPath": "/mnt/models", "readOnly": True},
    ],
}


def test_ec2_linux_parameters_ulimits_and_efs_are_planned_exactly() -> None:
    planned = properties(ec2(
        shared_memory_mib=1024, tmpfs=[{"container_path": "/scratch", "size_mib": 512, "mount_options": ["noexec"]}],
        max_swap_mib=2048, swappiness=10, init_process=True, ulimits={"nofile": {"soft": 65536, "hard": 65536}},
        efs_volumes=EFS_VOLUMES))
    assert planned["linuxParameters"] == {
        "sharedMemorySize": 1024,
        "tmpfs": [{"containerPath": "/scratch", "size": 512, "mountOptions": ["noexec"]}],
        "maxSwap": 2048, "swappiness": 10, "initProcessEnabled": True,
    }
    assert planned["ulimits"] == [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}]
    assert {key: planned[key] for key in ("volumes", "mountPoints")} == EFS_PROPERTIES
    assert "ephemeralStorage" not in planned


def test_fargate_scratch_disk_init_and_efs_are_planned_exactly() -> None:
    planned = properties(fargate(ephemeral_storage_gib=100, init_process=True, efs_volumes=EFS_VOLUMES))
    assert planned["ephemeralStorage"] == {"sizeInGiB": 100}
    assert planned["linuxParameters"] == {"initProcessEnabled": True}
    assert {key: planned[key] for key in ("volumes", "mountPoints")} == EFS_PROPERTIES


def test_nothing_new_is_sent_when_nothing_is_set() -> None:
    planned = properties(ec2())
    assert not {"linuxParameters", "ulimits", "volumes", "mountPoints", "ephemeralStorage"} & set(planned)


def test_revisions_priority_and_tag_propagation_reach_the_resource() -> None:
    definition = plan_of(ec2(deregister_on_new_revision=True, scheduling_priority=50, propagate_tags=False)).named(
        "wove-test-jobdef-worker").inputs
    assert (definition["deregisterOnNewRevision"], definition["schedulingPriority"], definition["propagateTags"]) == (
        True, 50, False)
    default = plan_of(ec2()).named("wove-test-jobdef-worker").inputs
    assert (default["deregisterOnNewRevision"], "schedulingPriority" in default, default["propagateTags"]) == (
        False, False, True)


def test_the_job_role_may_mount_only_its_file_systems() -> None:
    plan = plan_of(ec2(efs_volumes=EFS_VOLUMES))
    grant = plan.named("wove-test-job-role-efs")
    assert json.loads(grant.inputs["policy"]) == {"Version": "2012-10-17", "Statement": [{
        "Sid": "MountEfs0", "Effect": "Allow",
        "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
        "Resource": f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{FS}",
        "Condition": {"StringEquals": {
            "elasticfilesystem:AccessPointArn": f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:access-point/{AP}"}},
    }]}  # "models" mounts without IAM authorization: no grant for it
    assert grant.urn in plan.named("wove-test-jobdef-worker").depends_on
    assert "wove-test-job-role-efs" not in [r.name for r in plan_of(ec2()).resources]


def test_a_definition_with_its_own_image_runs_it_and_may_pull_it() -> None:
    uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/team/trainer:2.1"
    plan = plan_of(ec2(image_uri=uri))
    assert json.loads(plan.named("wove-test-jobdef-worker").inputs["containerProperties"])["image"] == uri
    statements = json.loads(plan.named("wove-test-execution-role-policy").inputs["policy"])["Statement"]
    (pull,) = [s for s in statements if s["Sid"] == "PullWorkerImage"]
    assert pull["Resource"] == sorted([f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/team/trainer",
                                       plan.named("wove-test-worker").state["arn"]])


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [
        (fargate(shared_memory_mib=256, tmpfs=[{"container_path": "/t", "size_mib": 1}], max_swap_mib=0, swappiness=5), [
            "job_definitions.worker.shared_memory_mib: not available on Fargate (EC2 queues only)",
            "job_definitions.worker.tmpfs: not available on Fargate (EC2 queues only)",
            "job_definitions.worker.max_swap_mib: not available on Fargate (EC2 queues only)",
            "job_definitions.worker.swappiness: not available on Fargate (EC2 queues only)"]),
        (ec2(ephemeral_storage_gib=50), [
            "job_definitions.worker.ephemeral_storage_gib: Fargate only; on EC2 the scratch disk is the compute "
            "environment's root_volume_gib, shared by the jobs on an instance"]),
        (fargate(ephemeral_storage_gib=20), [
            "job_definitions.worker.ephemeral_storage_gib: must be within 21..200 GiB, got 20"]),
        (ec2(shared_memory_mib=4096), [
            "job_definitions.worker.shared_memory_mib: must be within 1..2048 (the job's memory), got 4096"]),
        (ec2(tmpfs=[{"container_path": "scratch", "size_mib": 0, "mount_options": ["noexec", "bogus"]}]), [
            "job_definitions.worker.tmpfs[0].container_path: must be an absolute path, got 'scratch'",
            "job_definitions.worker.tmpfs[0].size_mib: must be at least 1, got 0",
            "job_definitions.worker.tmpfs[0].mount_options[1]: 'bogus' is not a mount option AWS takes (defaults, ro, "
            "rw, suid, nosuid, dev, ...)"]),
        (ec2(swappiness=101, max_swap_mib=-1), [
            "job_definitions.worker.max_swap_mib: must be at least 0, got -1",
            "job_definitions.worker.swappiness: must be within 0..100, got 101"]),
        (ec2(swappiness=10), ["job_definitions.worker.swappiness: needs max_swap_mib: without it Batch ignores swappiness"]),
        (ec2(ulimits={"openfiles": {"soft": 1, "hard": 2}, "nofile": {"soft": 9, "hard": 8}}), [
            "job_definitions.worker.ulimits.openfiles: not a ulimit; expected one of core, cpu, data, fsize, locks, "
            "memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack",
            "job_definitions.worker.ulimits.nofile: soft 9 must be within 0..hard 8"]),
        (ec2(scheduling_priority=10000), ["job_definitions.worker.scheduling_priority: must be within 0..9999, got 10000"]),
        (ec2(image_uri="Not An Image"), [
            "job_definitions.worker.image_uri: expected an image reference like registry/worker:1.0 or "
            "...@sha256:<digest>, got 'Not An Image'"]),
        (ec2(image_uri="ghcr.io/team/trainer:1", command=["python", "train.py"]), [
            "job_definitions.worker.command: serves a Wove environment with its own image, so it must run the worker "
            "(python -m wove_batch.worker, installed in that image), got ['python', 'train.py']"]),
        (ec2(efs_volumes={"bad name!": {"file_system_id": "fs-1", "container_path": "mnt", "access_point_id": "ap-1",
                                        "root_directory": "/x", "transit_encryption": False}}), [
            "job_definitions.worker.efs_volumes.bad name!: volume names take letters, digits, '-' and '_' (at most "
            "255), got 'bad name!'",
            "job_definitions.worker.efs_volumes.bad name!.file_system_id: expected an id like fs-0123456789abcdef0, "
            "got 'fs-1'",
            "job_definitions.worker.efs_volumes.bad name!.access_point_id: expected an id like "
            "fsap-0123456789abcdef0, got 'ap-1'",
            "job_definitions.worker.efs_volumes.bad name!.container_path: must be an absolute path, got 'mnt'",
            "job_definitions.worker.efs_volumes.bad name!.root_directory: must be / with an access point (the access "
            "point sets the directory), got '/x'",
            "job_definitions.worker.efs_volumes.bad name!.transit_encryption: required by IAM authorization and by "
            "access points"]),
        (fargate(platform_version="1.3.0", efs_volumes={"d": {"file_system_id": FS, "container_path": "/d"}}), [
            "job_definitions.worker.platform_version: EFS volumes need Fargate platform version 1.4.0 or later, got "
            "1.3.0"]),
    ],
    ids=["ec2 only on fargate", "fargate only on ec2", "scratch bounds", "shm bound", "tmpfs", "swap bounds",
         "swappiness alone", "ulimits", "scheduling priority", "image reference", "own image needs the worker",
         "efs volume", "efs on old fargate"],
)
def test_refusals_name_the_field(cluster: dict[str, Any], expected: list[str]) -> None:
    assert errors_of(cluster) == expected


def test_a_definition_with_its_own_build_context_gets_its_own_image(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built from its folder for its architecture, pushed to the cluster's repository with its own
    tag prefix (kept by the lifecycle policy like the worker's), and run by that definition only."""
    from conftest import REPO
    from wove_batch.resources.build_context import context_digest

    (tmp_path / "trainer").mkdir()
    (tmp_path / "trainer" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (tmp_path / "worker_image").mkdir()
    (tmp_path / "worker_image" / "Dockerfile").write_text((REPO / "worker_image" / "Dockerfile").read_text())
    monkeypatch.chdir(tmp_path)
    cluster = {**MINIMAL, "job_definitions": {"worker": {}, "train": {"image_context": "trainer", "memory": 4096}},
               "wove_environments": {"batch": {"job_queue": "main", "job_definition": "worker"},
                                     "gpu": {"job_queue": "main", "job_definition": "train"}}}
    plan = plan_of(cluster)
    build = plan.named("wove-test-image-train").inputs
    digest = context_digest(tmp_path / "trainer", tmp_path / "trainer" / "Dockerfile", {"PYTHON_VERSION": "3.11"},
                            "linux/amd64")
    assert (build["build"]["context"], build["build"]["dockerfile"], build["build"]["platform"]) == (
        "trainer", "trainer/Dockerfile", "linux/amd64")
    assert build["imageName"].endswith(f":train-x86_64-{digest}")
    images = {name: json.loads(plan.named(f"wove-test-jobdef-{name}").inputs["containerProperties"])["image"]
              for name in ("worker", "train")}
    assert images["train"] == plan.named("wove-test-image-train").state["repoDigest"] != images["worker"]
    rules = json.loads(plan.named("wove-test-worker-lifecycle").inputs["policy"])["rules"]
    assert [rule["selection"].get("tagPrefixList") for rule in rules] == [["train-x86_64-"], ["x86_64-"], None]
    assert errors_of({**cluster, "job_definitions": {"worker": {}, "train": {"image_context": "trainer",
                                                                          "image_uri": "ghcr.io/x/y:1"}}}) == [
        "job_definitions.train.image_context: give image_uri (prebuilt) or image_context (built here), not both"]
