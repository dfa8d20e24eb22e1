"""The GitHub workflows: every action input they use is one the pinned action declares (the
actions' own action.yml, kept under tests/fixtures/actions/ with the tag they come from), and
they do what the README says: check, then preview with the policy pack on pull requests and up
on main, with AWS credentials from OIDC. actionlint runs on them in .ci/run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO, plan_of, MINIMAL

WORKFLOWS = REPO / ".github" / "workflows"
FIXTURES = Path(__file__).parent / "fixtures" / "actions"
# uses: -> the action.yml it was checked against (fetched from the action's repository at that tag)
ACTIONS = {
    "actions/checkout@v7": "actions-checkout-v7.yml",  # v7.0.1
    "actions/setup-python@v7": "actions-setup-python-v7.yml",  # v7.0.0
    "aws-actions/configure-aws-credentials@v6": "aws-actions-configure-aws-credentials-v6.yml",  # v6.2.3
    "pulumi/actions@v7": "pulumi-actions-v7.yml",  # v7.0.0
    "docker/setup-qemu-action@v4": "docker-setup-qemu-action-v4.yml",  # v4.2.0
    "docker/setup-buildx-action@v4": "docker-setup-buildx-action-v4.yml",  # v4.3.0
}


def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as true
    return document


def steps(name: str) -> list[dict[str, Any]]:
    (job,) = workflow(name)["jobs"].values()
    return job["steps"]


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml"])
def test_every_action_input_is_declared_by_the_pinned_action(name: str) -> None:
    for step in steps(name):
        if "uses" not in step:
            continue
        assert step["uses"] in ACTIONS, f"{step['uses']} is not one of the pinned actions"
        declared = yaml.safe_load((FIXTURES / ACTIONS[step["uses"]]).read_text())["inputs"]
        given = set(step.get("with") or {})
        assert given <= set(declared), (step["uses"], sorted(given - set(declared)))
        required = {key for key, spec in declared.items() if spec.get("required") and "default" not in spec}
        assert required <= given, (step["uses"], sorted(required - given))


def test_preview_checks_then_previews_with_the_policy_pack_and_comments() -> None:
    document = workflow("preview.yml")
    assert document["on"] == {"pull_request": {"branches": ["main"]}}
    assert document["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    names = [step.get("uses") or step.get("name") for step in steps("preview.yml")]
    assert names.index("Check the stack offline (every error at once, field path first)") < names.index("pulumi/actions@v7")
    pulumi = steps("preview.yml")[-1]["with"]
    assert (pulumi["command"], pulumi["policyPacks"], pulumi["comment-on-pr"]) == ("preview", "policy", True)
    assert pulumi["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"  # Pulumi Cloud when empty, or s3://...


def test_deploy_runs_up_on_main_only_one_at_a_time() -> None:
    document = workflow("deploy.yml")
    assert document["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    assert document["permissions"] == {"contents": "read", "id-token": "write"}
    assert document["concurrency"]["cancel-in-progress"] is False
    assert steps("deploy.yml")[-1]["with"]["command"] == "up"


def test_previews_build_no_image() -> None:
    (image,) = plan_of(MINIMAL).of_type("docker:index/image:Image")
    assert image.inputs["buildOnPreview"] is False
