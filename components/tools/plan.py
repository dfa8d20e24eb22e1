"""Run the real stack program on Pulumi's mocks engine: what `pulumi up` would create, offline.

No Pulumi CLI, no provider plugin, no credentials. The mocks stand in for the AWS, Docker and
random providers only where a real deployment would fill values in: auto-names
(`<logical name>-<7 hex>`, here derived from the name so plans are reproducible), ARNs in
account 123456789012, image digests and the default VPC lookups. Every input shown is what the
program really passed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config

from ..aws.partitions import dns_suffix_of, partition_of
from .stack_config import REGION_KEY, StackFile

MOCK_ACCOUNT = "123456789012"
DEFAULT_VPC_ID = "vpc-0defa017"
DEFAULT_SUBNET_IDS = ["subnet-0defa01a", "subnet-0defa01b", "subnet-0defa01c"]

# Resources whose physical name Pulumi generates when `name` is not set.
_AUTONAMED = {
    "aws:batch/computeEnvironment:ComputeEnvironment",
    "aws:batch/jobQueue:JobQueue",
    "aws:batch/jobDefinition:JobDefinition",
    "aws:ecr/repository:Repository",
    "aws:iam/role:Role",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:batch/schedulingPolicy:SchedulingPolicy",
    "aws:iam/policy:Policy",
    "aws:s3/bucket:Bucket",
}


@dataclass
class PlannedResource:
    """One resource registration as the engine received it."""

    type: str
    name: str
    urn: str
    parent_urn: str
    custom: bool
    inputs: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    replace_on_changes: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str]

    def by_urn(self) -> dict[str, PlannedResource]:
        return {r.urn: r for r in self.resources}

    def parent_name(self, resource: PlannedResource) -> Optional[str]:
        parent = self.by_urn().get(resource.parent_urn)
        return parent.name if parent else None

    def named(self, name: str) -> PlannedResource:
        (found,) = [r for r in self.resources if r.name == name]
        return found

    def of_type(self, type_: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == type_]

    def to_json(self, show_secrets: bool = False) -> dict[str, Any]:
        """The `plan --json` document; resources sorted by name so plans diff cleanly."""
        ordered = sorted(self.resources, key=lambda r: (r.parent_urn != "", r.name, r.type))
        return {
            "resources": [
                {"type": r.type, "name": r.name, "parent": self.parent_name(r), "inputs": r.inputs}
                for r in ordered
            ],
            "outputs": {
                key: ("[secret]" if key in self.secret_outputs and not show_secrets else value)
                for key, value in self.outputs.items()
            },
        }


def mock_suffix(name: str) -> str:
    """The stand-in for the 7 random hex characters Pulumi appends to auto-names."""
    return hashlib.sha256(name.encode()).hexdigest()[:7]


class ProviderMocks(pulumi.runtime.Mocks):
    """What the AWS, Docker and random providers would compute, reproducibly."""

    def __init__(self, region: str) -> None:
        self.region = region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[Optional[str], dict]:
        state = dict(args.inputs)
        if args.typ in _AUTONAMED and "name" not in state:
            state["name"] = f"{args.name}-{mock_suffix(args.name)}"
        name = state.get("name", args.name)
        region, account = self.region, MOCK_ACCOUNT
        arn = f"arn:{partition_of(region)}"  # aws-cn in China, aws-us-gov in GovCloud
        resource_id = name
        if args.typ == "aws:ecr/repository:Repository":
            state.update(
                arn=f"{arn}:ecr:{region}:{account}:repository/{name}",
                registryId=account,
                repositoryUrl=f"{account}.dkr.ecr.{region}.{dns_suffix_of(region)}/{name}",
            )
        elif args.typ == "aws:iam/role:Role":
            state["arn"] = f"{arn}:iam::{account}:role/{name}"
        elif args.typ == "aws:iam/policy:Policy":
            state["arn"] = f"{arn}:iam::{account}:policy/{name}"
        elif args.typ == "aws:s3/bucket:Bucket":
            state.update(bucket=name, arn=f"{arn}:s3:::{name}")
        elif args.typ == "aws:iam/instanceProfile:InstanceProfile":
            state["arn"] = f"{arn}:iam::{account}:instance-profile/{name}"
        elif args.typ == "aws:ec2/securityGroup:SecurityGroup":
            resource_id = f"sg-{mock_suffix(args.name)}"
        elif args.typ == "aws:batch/computeEnvironment:ComputeEnvironment":
            state["arn"] = f"{arn}:batch:{region}:{account}:compute-environment/{name}"
        elif args.typ == "aws:batch/jobQueue:JobQueue":
            state["arn"] = f"{arn}:batch:{region}:{account}:job-queue/{name}"
        elif args.typ == "aws:batch/jobDefinition:JobDefinition":
            state.update(arn=f"{arn}:batch:{region}:{account}:job-definition/{name}:1", revision=1)
        elif args.typ == "aws:cloudwatch/logGroup:LogGroup":
            state["arn"] = f"{arn}:logs:{region}:{account}:log-group:{name}"
        elif args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            resource_id = f"lt-{mock_suffix(args.name)}"
            state["latestVersion"] = 1
        elif args.typ == "aws:batch/schedulingPolicy:SchedulingPolicy":
            state["arn"] = f"{arn}:batch:{region}:{account}:scheduling-policy/{name}"
        elif args.typ == "docker:index/image:Image":
            image_name = str(state.get("imageName", args.name))
            digest = hashlib.sha256(json.dumps(state.get("build"), sort_keys=True).encode() + image_name.encode())
            state["repoDigest"] = f"{image_name.rsplit(':', 1)[0]}@sha256:{digest.hexdigest()}"
        elif args.typ == "random:index/randomPassword:RandomPassword":
            length = int(state.get("length", 32))
            state["result"] = (hashlib.sha256(args.name.encode()).hexdigest() * 2)[:length]
        state.setdefault("id", resource_id)
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        token, region = args.token, self.region
        if token == "aws:index/getRegion:getRegion":
            return {"region": region, "name": region, "id": region}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": MOCK_ACCOUNT, "arn": f"arn:{partition_of(region)}:iam::{MOCK_ACCOUNT}:user/deployer",
                    "id": MOCK_ACCOUNT}
        if token == "aws:ec2/getVpc:getVpc":
            return {"id": DEFAULT_VPC_ID, "default": True}
        if token == "aws:ec2/getSubnets:getSubnets":
            return {"id": region, "ids": list(DEFAULT_SUBNET_IDS)}
        if token == "aws:ec2/getSubnet:getSubnet":
            return {"id": args.args.get("id"), "vpcId": "vpc-0f5ub7e7"}
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            endpoint = f"https://{MOCK_ACCOUNT}.dkr.ecr.{region}.{dns_suffix_of(region)}"
            return {"userName": "AWS", "password": "mock-ecr-password", "proxyEndpoint": endpoint, "id": region}
        raise NotImplementedError(f"the plan's mocks do not know the function {token}")


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """Keeps each registration's parent, dependencies and options for the plan."""

    def __init__(self, mocks: ProviderMocks) -> None:
        super().__init__(mocks)
        self.planned: list[PlannedResource] = []
        # The engine calls the monitor from executor threads, and Pulumi gives each of those
        # threads an event loop of its own; they are closed with the run.
        self.thread_loops: set[asyncio.AbstractEventLoop] = set()

    def _track_thread_loop(self) -> None:
        try:
            self.thread_loops.add(asyncio.get_event_loop())
        except RuntimeError:
            pass

    def Invoke(self, request: Any) -> Any:
        try:
            return super().Invoke(request)
        finally:
            self._track_thread_loop()

    def RegisterResource(self, request: Any) -> Any:
        self._track_thread_loop()
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            urn = self.make_urn(request.parent, request.type, request.name)
            inputs = _as_preview_shows(rpc.deserialize_properties(request.object))
            self.planned.append(
                PlannedResource(
                    type=request.type,
                    name=request.name,
                    urn=urn,
                    parent_urn=request.parent,
                    custom=bool(request.custom),
                    inputs=inputs,
                    depends_on=list(request.dependencies),
                    ignore_changes=list(request.ignoreChanges),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    replace_on_changes=list(request.replaceOnChanges),
                    state=_as_preview_shows(dict(self.resources[urn].state)),
                )
            )
        return response


SECRET_MARKER = "[secret]"


def _as_preview_shows(value: Any) -> Any:
    """Inputs as a preview shows them: numbers the wire format made doubles (4.0) back to
    whole numbers, and secret values hidden."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return SECRET_MARKER
    if isinstance(value, dict):
        return {key: _as_preview_shows(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_preview_shows(item) for item in value]
    return value


def run_stack(stack: StackFile, program: Optional[Path] = None) -> Plan:
    """Run `__main__.py` of the stack's project for this stack's config; a fresh event loop,
    fresh mocks and fresh Pulumi settings each call."""
    region = str(stack.config.get(REGION_KEY, "us-east-1"))
    config = {key: value if isinstance(value, str) else json.dumps(value) for key, value in stack.config.items()}
    return run_program(program or stack.project_dir / "__main__.py", stack.project, stack.stack, config, region)


def run_program(program: Path, project: str, stack: str, config: dict[str, str], region: str) -> Plan:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    mocks = ProviderMocks(region)
    monitor = _RecordingMonitor(mocks)
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    pulumi_settings.set_root_resource(None)  # type: ignore[arg-type]
    set_all_config(config)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    result: dict[str, Any] = {}

    async def main() -> None:
        sys.path.insert(0, str(program.parent))
        try:
            runpy.run_path(str(program), run_name="__main__")
        finally:
            sys.path.remove(str(program.parent))
        root = pulumi_settings.get_root_resource()
        for key, value in root.outputs.items():  # type: ignore[union-attr]
            output = pulumi.Output.from_input(value)
            result[key] = (await output.future(), await output.is_secret())

    try:
        loop.run_until_complete(pulumi.runtime.stack.run_pulumi_func(main))
    finally:
        pulumi_settings.set_root_resource(None)  # type: ignore[arg-type]
        set_all_config({})
        loop.run_until_complete(loop.shutdown_default_executor())
        for thread_loop in monitor.thread_loops - {loop}:
            thread_loop.close()
        loop.close()
        asyncio.set_event_loop(None)
    outputs = {key: value for key, (value, _) in result.items()}
    secrets = {key for key, (_, secret) in result.items() if secret}
    return Plan(monitor.planned, outputs, secrets)
