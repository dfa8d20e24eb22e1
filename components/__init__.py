"""wove-batch: an AWS Batch cluster for Wove's `aws_batch` executor, as a Pulumi component.

The spec, validation and CLI `check` import no Pulumi; the component is imported lazily so
that `components.wove_environments` (the application-side helper) needs only boto3.
"""

from __future__ import annotations

from typing import Any

from .errors import ClusterSpecError, SpecError
from .spec import (
    CallbackArgs,
    ComputeEnvironmentArgs,
    ImageArgs,
    JobDefinitionArgs,
    JobQueueArgs,
    NetworkArgs,
    WoveBatchClusterArgs,
    WoveEnvironmentArgs,
)
from .validation import validate_cluster

__all__ = [
    "CallbackArgs",
    "ClusterSpecError",
    "ComputeEnvironmentArgs",
    "ImageArgs",
    "JobDefinitionArgs",
    "JobQueueArgs",
    "NetworkArgs",
    "SpecError",
    "WoveBatchCluster",
    "WoveBatchClusterArgs",
    "WoveEnvironmentArgs",
    "validate_cluster",
]


def __getattr__(name: str) -> Any:
    if name == "WoveBatchCluster":
        from .resources.cluster import WoveBatchCluster

        return WoveBatchCluster
    raise AttributeError(name)
