"""The component package for other languages: the schema it serves (in process and over gRPC)
against the Python args, field by field, and a construct-style call planning the same
resources as the Python call."""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any, Literal, Union

import pytest

import wove_batch.spec as spec
from conftest import MINIMAL, REGION, REPO, plan_of
from wove_batch.provider import WoveBatchProvider
from wove_batch.tools.plan import run_program

PACKAGE = "wove-batch"
RESOURCE = f"{PACKAGE}:index:WoveBatchCluster"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(WoveBatchProvider().schema)


def expected_property(hint: Any) -> dict[str, Any]:
    """What the schema must say for a field of this Python type (description aside)."""
    origin, params = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union:
        (inner,) = [p for p in params if p is not type(None)]
        return expected_property(inner)
    if origin is Literal:
        return {"enum": sorted(params)}
    if origin is tuple:
        return {"type": "array", "items": expected_property(params[0])}
    if origin in (collections.abc.Mapping, dict):
        return {"type": "object", "additionalProperties": expected_property(params[1])}
    if dataclasses.is_dataclass(hint):
        return {"$ref": f"#/types/{PACKAGE}:index:{hint.__name__}"}
    if hint is Any:
        return {"$ref": "pulumi.json#/Any"}
    return {"type": {str: "string", int: "integer", float: "number", bool: "boolean"}[hint]}


def resolved(prop: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A property as expected_property() describes it: enums by their values."""
    if "$ref" in prop and prop["$ref"].startswith("#/types/"):
        target = schema["types"][prop["$ref"].removeprefix("#/types/")]
        if "enum" in target:
            return {"enum": sorted(value["value"] for value in target["enum"])}
        return {"$ref": prop["$ref"]}
    shape = {key: prop[key] for key in ("type", "$ref") if key in prop}
    if "items" in prop:
        shape["items"] = resolved(prop["items"], schema)
    if "additionalProperties" in prop:
        shape["additionalProperties"] = resolved(prop["additionalProperties"], schema)
    return shape


def args_classes() -> list[type]:
    found: list[type] = []

    def visit(cls: type) -> None:
        if cls in found:
            return
        found.append(cls)
        for hint in typing.get_type_hints(cls).values():
            for candidate in (hint, *typing.get_args(hint), *(a for p in typing.get_args(hint) for a in typing.get_args(p))):
                if dataclasses.is_dataclass(candidate):
                    visit(candidate)

    visit(spec.WoveBatchClusterArgs)
    return found


def test_schema_matches_the_python_args_field_by_field(schema: dict[str, Any]) -> None:
    classes = args_classes()
    assert len(classes) >= 12
    for cls in classes:
        if cls is spec.WoveBatchClusterArgs:
            resource = schema["resources"][RESOURCE]
            properties, required = resource["inputProperties"], resource.get("requiredInputs", [])
        else:
            declared = schema["types"][f"{PACKAGE}:index:{cls.__name__}"]
            properties, required = declared["properties"], declared.get("required", [])
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
        assert list(properties) == [camel(f.name) for f in fields], cls.__name__
        without_default = [camel(f.name) for f in fields
                           if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        assert sorted(required) == sorted(without_default), cls.__name__
        for f in fields:
            prop = properties[camel(f.name)]
            where = f"{cls.__name__}.{f.name}"
            assert prop["description"] == f.metadata["doc"], where
            assert resolved(prop, schema) == expected_property(hints[f.name]), where
            if isinstance(f.default, (str, int, float, bool)) and f.default is not None:
                assert prop["default"] == f.default, where
            elif f.name == "python_version":
                assert prop["default"] == spec.default_python_version(), where
            else:
                assert "default" not in prop, where


def test_get_schema_over_grpc_serves_the_same_schema(schema: dict[str, Any]) -> None:
    """The plugin as Pulumi runs it: a process that prints its port, then answers GetSchema."""
    import grpc
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    process = subprocess.Popen([sys.executable, str(REPO / "provider" / "__main__.py"), "127.0.0.1:1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO / "provider")
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().decode().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            served = stub.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=30)
            info = stub.GetPluginInfo(__import__("google.protobuf.empty_pb2", fromlist=["Empty"]).Empty(), timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert json.loads(served.schema) == schema
    assert info.version == "0.2.0"


CAMEL_INPUTS = {
    "image": {"pythonVersion": "3.11"},
    "computeEnvironments": {"cpu": {"type": "EC2", "instanceTypes": ["m6i.large"], "maxVcpus": 16.0, "rootVolumeGib": 40.0}},
    "jobQueues": {"main": {"computeEnvironments": ["cpu"], "priority": 2.0,
                           "fairShare": {"computeReservation": 10.0, "shares": {"teamA": 1.0}}}},
    "jobDefinitions": {"worker": {"vcpus": 1.0, "memory": 2048.0, "retryAttempts": 2.0}},
    "woveEnvironments": {"batch": {"jobQueue": "main", "jobDefinition": "worker", "shareIdentifier": "teamA"}},
    "exchange": {"retentionDays": 3.0},
}
PYTHON_ARGS = {
    **MINIMAL,
    "compute_environments": {"cpu": {"type": "EC2", "instance_types": ["m6i.large"], "max_vcpus": 16, "root_volume_gib": 40}},
    "job_queues": {"main": {"compute_environments": ["cpu"], "priority": 2,
                            "fair_share": {"compute_reservation": 10, "shares": {"teamA": 1.0}}}},
    "job_definitions": {"worker": {"vcpus": 1, "memory": 2048, "retry_attempts": 2}},
    "wove_environments": {"batch": {"job_queue": "main", "job_definition": "worker", "share_identifier": "teamA"}},
    "exchange": {"retention_days": 3},
}


def test_a_construct_call_with_camel_case_and_float_integers_plans_what_the_python_call_plans(tmp_path: Path) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(
        "import json\n"
        "from wove_batch.provider import WoveBatchProvider\n"
        f"inputs = json.loads({json.dumps(json.dumps(CAMEL_INPUTS))})\n"
        f"WoveBatchProvider().construct('wove-test', {RESOURCE!r}, inputs, None)\n"
    )
    constructed = run_program(program, "wove-batch", "test", {"aws:region": REGION}, REGION)
    python = plan_of(PYTHON_ARGS)

    def shape(plan: Any) -> list[tuple[str, str, str]]:
        return sorted((r.type, r.name, json.dumps(r.inputs, sort_keys=True)) for r in plan.resources)

    assert shape(constructed) == shape(python)
    assert len(constructed.resources) == len(python.resources) > 20
