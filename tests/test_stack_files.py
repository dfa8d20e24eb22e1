"""Stack files as Pulumi reads them (issue 14): what Pulumi takes is taken and planned, what it
refuses or misreads is refused with the key first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore
import pytest
import yaml

from conftest import MINIMAL, REPO
from wove_batch.tools.plan import run_stack
from wove_batch.tools.stack_config import StackFileError, cluster_name, load_stack_file, validate_stack


def stack_file(folder: Path, text: str, stack: str = "ci") -> Path:
    path = folder / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    return path


def config_text(cluster: Any, **extra: Any) -> str:
    return yaml.safe_dump({"config": {"aws:region": "us-west-2", "wove-batch:cluster": cluster, **extra}})


def errors(path: Path) -> list[str]:
    return [str(error) for error in validate_stack(load_stack_file(path))[1]]


# --- refused before, valid for Pulumi: taken, and planned ------------------------------------------
def test_a_cluster_given_as_a_json_string_is_taken_as_pulumi_get_object_takes_it(tmp_path: Path) -> None:
    path = stack_file(tmp_path, config_text(json.dumps(MINIMAL)))
    assert errors(path) == []
    assert run_stack(load_stack_file(path), REPO / "__main__.py").named("wove-ci-queue-main").inputs["priority"] == 1


def test_a_secret_callback_url_is_not_checked_offline_and_plans_with_a_placeholder(tmp_path: Path) -> None:
    cluster = {**MINIMAL, "callback": {"base_url": {"secure": "AAABAKx9ciphertext"}}}
    path = stack_file(tmp_path, config_text(cluster))
    stack = load_stack_file(path)
    assert stack.secrets == ("wove-batch:cluster.callback.base_url",)
    assert errors(path) == []
    (environment,) = run_stack(stack, REPO / "__main__.py").outputs["wove_environments"].values()
    assert environment["executor_config"]["callback_url"].startswith("https://secret.example.invalid/wove/events/")


def test_yes_stays_a_string_as_in_pulumis_yaml(tmp_path: Path) -> None:
    text = config_text({**MINIMAL, "job_definitions": {"worker": {"vcpus": 1, "memory": 2048,
                                                                  "environment": {"FLAG": "PLACEHOLDER"}}}})
    path = stack_file(tmp_path, text.replace("FLAG: PLACEHOLDER", "FLAG: yes"))
    assert errors(path) == []
    definition = run_stack(load_stack_file(path), REPO / "__main__.py").named("wove-ci-jobdef-worker")
    assert {"name": "FLAG", "value": "yes"} in json.loads(definition.inputs["containerProperties"])["environment"]


def test_retry_action_in_lower_case_is_sent_upper_case(tmp_path: Path) -> None:
    cluster = {**MINIMAL, "job_definitions": {"worker": {"retry_attempts": 2, "evaluate_on_exit": [
        {"action": "retry", "on_exit_code": "137"}, {"action": "Exit", "on_reason": "*"}]}}}
    path = stack_file(tmp_path, config_text(cluster))
    assert errors(path) == []
    strategy = run_stack(load_stack_file(path), REPO / "__main__.py").named("wove-ci-jobdef-worker").inputs["retryStrategy"]
    assert [rule["action"] for rule in strategy["evaluateOnExits"]] == ["RETRY", "EXIT"]


@pytest.mark.parametrize(("stack", "expected"), [("my_stack", "wove-my-stack"), ("Prod.EU", "wove-prod-eu"), ("__", "wove-stack")])
def test_stack_names_pulumi_allows_give_a_cluster_name_aws_allows(tmp_path: Path, stack: str, expected: str) -> None:
    assert cluster_name(None, stack) == expected
    path = stack_file(tmp_path, config_text(MINIMAL), stack=stack)
    assert errors(path) == []
    assert run_stack(load_stack_file(path), REPO / "__main__.py").named(f"{expected}-queue-main") is not None


# --- refused: Pulumi or AWS would not take it -----------------------------------------------------
def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = stack_file(tmp_path, "config:\n  aws:region: us-west-2\n  wove-batch:cluster:\n    job_queues: {}\n"
                                "    job_queues: {}\n")
    with pytest.raises(StackFileError) as raised:
        load_stack_file(path)
    assert str(raised.value) == (
        f"{path}: not valid YAML: duplicate key 'job_queues' (first on line 4); YAML would keep only the last   in "
        '"<unicode string>", line 5, column 5:         job_queues: {}         ^'
    )


def test_unknown_keys_of_our_namespace_and_unknown_regions_are_refused(tmp_path: Path) -> None:
    text = config_text(MINIMAL, **{"wove-batch:nmae": "x"}).replace("us-west-2", "us-moon-1")
    assert errors(stack_file(tmp_path, text)) == [
        f"aws:region: 'us-moon-1' is no region with AWS Batch that botocore {botocore.__version__} knows",
        "wove-batch:nmae: unknown key; expected wove-batch:name or wove-batch:cluster",
    ]


def test_image_context_and_dockerfile_must_exist_in_the_project(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
    cluster = {**MINIMAL, "image": {"python_version": "3.11", "context": "app", "dockerfile": "Dockerfile"}}
    assert errors(stack_file(tmp_path, config_text(cluster))) == [
        f"image.context: 'app' does not exist in {tmp_path}",
        f"image.dockerfile: 'Dockerfile' does not exist in {tmp_path}",
    ]
    (tmp_path / "app").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert errors(stack_file(tmp_path, config_text(cluster))) == []


# --- issue 23: YAML 1.2 as Pulumi reads it; build files inside the project ------------------------
YAML_12 = """config:
  aws:region: us-west-2
  wove-batch:cluster:
    image: {python_version: "3.11"}
    compute_environments:
      cpu: &ce {type: EC2, instance_types: [m6i.large], max_vcpus: 1e3}
      more: {<<: *ce, max_vcpus: 0o100}
    job_queues:
      main: {compute_environments: [cpu, more]}
    job_definitions:
      worker:
        vcpus: 1
        memory: 2048
        environment: {SINCE: 2024-01-02, DURATION: 1:04, PERMS: 0755}
"""


def test_yaml_12_merge_keys_numbers_dates_and_sexagesimals_read_as_pulumi_reads_them(tmp_path: Path) -> None:
    """Merge keys are taken; 1e3 and 0o100 are numbers (1000, 64); an unquoted date and 1:04 stay
    strings (YAML 1.1 made them a date and 64); 0755 is decimal 755, which a string field refuses."""
    path = stack_file(tmp_path, YAML_12)
    cluster = load_stack_file(path).config["wove-batch:cluster"]
    assert cluster["compute_environments"]["more"] == {"type": "EC2", "instance_types": ["m6i.large"], "max_vcpus": 64}
    assert cluster["compute_environments"]["cpu"]["max_vcpus"] == 1000.0
    assert cluster["job_definitions"]["worker"]["environment"] == {"SINCE": "2024-01-02", "DURATION": "1:04", "PERMS": 755}
    assert errors(path) == ["job_definitions.worker.environment.PERMS: expected a string (quote it in YAML), got 755"]
    path = stack_file(tmp_path, YAML_12.replace("PERMS: 0755", "PERMS: '0755'"))
    assert errors(path) == []
    plan = run_stack(load_stack_file(path), REPO / "__main__.py")
    assert plan.named("wove-ci-ce-more").inputs["computeResources"]["maxVcpus"] == 64
    assert plan.named("wove-ci-ce-cpu").inputs["computeResources"]["maxVcpus"] == 1000
    environment = json.loads(plan.named("wove-ci-jobdef-worker").inputs["containerProperties"])["environment"]
    assert {"name": "DURATION", "value": "1:04"} in environment and {"name": "SINCE", "value": "2024-01-02"} in environment


def test_a_merge_key_does_not_hide_a_key_given_twice(tmp_path: Path) -> None:
    path = stack_file(tmp_path, "config:\n  base: &b {x: 1}\n  m: {<<: *b, y: 1, y: 2}\n")
    with pytest.raises(StackFileError, match=r"duplicate key 'y' \(first on line 3\)"):
        load_stack_file(path)


def test_build_files_must_be_inside_the_project_and_of_the_right_kind(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
    (project / "folder").mkdir()
    (project / "file").write_text("FROM scratch\n")
    (project / "escape").symlink_to(tmp_path)
    (tmp_path / "secret").write_text("FROM scratch\n")
    cases = {("file", "folder"): ["image.context: 'file' is not a folder", "image.dockerfile: 'folder' is not a regular file"],
             ("escape", "escape/secret"): [
                 f"image.context: 'escape' leads outside the project {project} (through a symlink)",
                 f"image.dockerfile: 'escape/secret' leads outside the project {project} (through a symlink)"],
             ("escape/project", "escape/project/file"): [],  # back inside
             ("..", "folder/../../x"): ["image.context: must be a path inside the project, relative to it, got '..'",
                                        "image.dockerfile: must be a path inside the project, relative to it, got "
                                        "'folder/../../x'"],
             (".", "file"): []}
    for (context, dockerfile), expected in cases.items():
        cluster = {**MINIMAL, "image": {"python_version": "3.11", "context": context, "dockerfile": dockerfile}}
        assert errors(stack_file(project, config_text(cluster))) == expected, (context, dockerfile)
