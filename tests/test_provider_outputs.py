"""The component package takes other resources' outputs and secrets (issue 22, item 9): a
Construct call with inputs as the provider server deserializes them plans with their values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import ACCOUNT, REGION


# 9: the component package takes Outputs and secrets --------------------------------------------
def construct_program(tmp_path: Path, inputs: dict[str, Any]) -> Path:
    """A program calling Construct with inputs as the provider server deserializes them
    (rpc.deserialize_properties: output values become Outputs, secrets stay marked)."""
    program = tmp_path / "__main__.py"
    program.write_text(
        "import json\n"
        "from google.protobuf import struct_pb2\n"
        "from pulumi.runtime import rpc\n"
        "from wove_batch.provider import WoveBatchProvider\n"
        "struct = struct_pb2.Struct()\n"
        f"struct.update(json.loads({json.dumps(json.dumps(inputs))}))\n"
        "inputs = rpc.deserialize_properties(struct, keep_unknowns=True)\n"
        "WoveBatchProvider().construct('wove-test', 'wove-batch:index:WoveBatchCluster', inputs, None)\n"
    )
    return program


def output_value(value: Any, *, secret: bool = False, dependencies: tuple[str, ...] = ()) -> dict[str, Any]:
    from pulumi.runtime import rpc

    return {rpc._special_sig_key: rpc._special_output_value_sig, "value": value, "secret": secret,
            "dependencies": list(dependencies)}


SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-0b1c2d3e4f5a60718"]
POLICY = f"arn:aws:iam::{ACCOUNT}:policy/team-data-read"
VPC_URN = "urn:pulumi:test::wove-batch::aws:ec2/vpc:Vpc::team"


@pytest.mark.parametrize("shape", ["ids as outputs", "secret ids", "section as an output"])
def test_the_package_plans_outputs_and_secrets_for_ids_and_arns(tmp_path: Path, shape: str) -> None:
    from wove_batch.tools.plan import run_program

    network: Any = {"subnetIds": output_value(SUBNETS, secret=shape == "secret ids", dependencies=(VPC_URN,)),
                    "securityGroupIds": [output_value("sg-0a1b2c3d4e5f60718")]}
    if shape == "section as an output":
        network = output_value({"subnetIds": SUBNETS, "securityGroupIds": ["sg-0a1b2c3d4e5f60718"]}, dependencies=(VPC_URN,))
    inputs = {
        "image": {"pythonVersion": "3.11"},
        "network": network,
        "computeEnvironments": {"cpu": {"type": "EC2", "instanceTypes": ["m6i.large"], "maxVcpus": 16}},
        "jobQueues": {"main": {"computeEnvironments": ["cpu"]}},
        "jobDefinitions": {"worker": {"vcpus": 1, "memory": 2048}},
        "jobRole": {"managedPolicyArns": [output_value(POLICY, secret=shape == "secret ids")]},
    }
    plan = run_program(construct_program(tmp_path, inputs), "wove-batch", "test", {"aws:region": REGION}, REGION)
    resources = plan.named("wove-test-ce-cpu").inputs["computeResources"]
    assert (resources["subnets"], resources["securityGroupIds"]) == (SUBNETS, ["sg-0a1b2c3d4e5f60718"])
    assert plan.named("wove-test-job-role-managed-0").inputs["policyArn"] == POLICY
    (component,) = plan.of_type("wove-batch:index:WoveBatchCluster")
    assert VPC_URN in component.depends_on
    assert not plan.of_type("aws:ec2/securityGroup:SecurityGroup")  # the given network, not the default VPC


def test_an_input_not_known_in_a_preview_leaves_the_cluster_unplanned_with_a_warning(tmp_path: Path,
                                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi
    from pulumi.runtime import rpc

    from wove_batch.tools.plan import run_program

    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warned.append(message))
    unknown = {rpc._special_sig_key: rpc._special_output_value_sig, "dependencies": [VPC_URN]}  # no value: unknown
    inputs = {"image": {"pythonVersion": "3.11"}, "network": {"subnetIds": unknown},
              "computeEnvironments": {"cpu": {"type": "EC2", "instanceTypes": ["m6i.large"], "maxVcpus": 16}},
              "jobQueues": {"main": {"computeEnvironments": ["cpu"]}}, "jobDefinitions": {"worker": {}}}
    plan = run_program(construct_program(tmp_path, inputs), "wove-batch", "test", {"aws:region": REGION}, REGION)
    assert [r.type for r in plan.resources] == ["wove-batch:index:WoveBatchCluster"]
    assert warned == ["wove-test: planned once network.subnetIds are known (at `pulumi up`)"]
