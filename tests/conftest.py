"""Shared helpers: run the real stack program on Pulumi's mocks engine for a given config."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from components.plan import MOCK_ACCOUNT, Plan, mock_suffix, run_stack  # noqa: E402
from components.stack_config import StackFile, load_stack_file  # noqa: E402

REGION = "eu-west-1"
ACCOUNT = MOCK_ACCOUNT

# The smallest useful cluster: one EC2 environment, one queue, one job definition.
MINIMAL: dict[str, Any] = {
    "image": {"python_version": "3.11"},
    "compute_environments": {"cpu": {"type": "EC2", "instance_types": ["m6i.large"], "max_vcpus": 16}},
    "job_queues": {"main": {"compute_environments": ["cpu"]}},
    "job_definitions": {"worker": {"vcpus": 1, "memory": 2048}},
}


def physical(logical: str) -> str:
    """The auto-name the mocks give a resource with this logical name."""
    return f"{logical}-{mock_suffix(logical)}"


def make_stack(cluster: dict[str, Any], *, stack: str = "test", name: str | None = None, region: str = REGION) -> StackFile:
    config: dict[str, Any] = {"aws:region": region, "wove-batch:cluster": copy.deepcopy(cluster)}
    if name is not None:
        config["wove-batch:name"] = name
    return StackFile(REPO / f"Pulumi.{stack}.yaml", REPO, "wove-batch", stack, config)


def plan_of(cluster: dict[str, Any], **kwargs: Any) -> Plan:
    return run_stack(make_stack(cluster, **kwargs))


@pytest.fixture
def dev_plan() -> Plan:
    return run_stack(load_stack_file(REPO / "Pulumi.dev.yaml"))
