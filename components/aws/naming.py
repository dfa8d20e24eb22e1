"""How children are named from the cluster name and the user's names (shared by the component
and by validation, which checks that every such name fits AWS's limits).

A child's logical name is `<cluster>-<infix>-<user name>`; Pulumi appends `-<7 hex>`."""

from __future__ import annotations

import hashlib

CE_INFIX = "ce"
LAUNCH_TEMPLATE_INFIX = "lt"
QUEUE_INFIX = "queue"
FAIR_SHARE_INFIX = "fair-share"
DEFINITION_INFIX = "jobdef"

# The infixes each section's names go into; the longest sets the name budget.
INFIXES_BY_SECTION: dict[str, tuple[str, ...]] = {
    "compute_environments": (CE_INFIX, LAUNCH_TEMPLATE_INFIX),
    "job_queues": (QUEUE_INFIX, FAIR_SHARE_INFIX),
    "job_definitions": (DEFINITION_INFIX,),
}

# IAM roles, named `<cluster>-<role>`; the longest sets the cluster name's budget within
# IAM's 64 characters.
INSTANCE_ROLE = "instance-role"
SPOT_FLEET_ROLE = "spot-fleet-role"
EXECUTION_ROLE = "execution-role"
JOB_ROLE = "job-role"
ROLE_NAMES = (INSTANCE_ROLE, SPOT_FLEET_ROLE, EXECUTION_ROLE, JOB_ROLE)

# The worker images' tags (`[<definition>-]<architecture>-<digest>`) as ECR wildcard filters:
# the only tags of the repository that may be pushed again (resources/image.py).
BUILD_TAG_FILTERS = ("*arm64-*", "*x86_64-*")

# Tags the component sets itself (a user's tag may not take these keys).
CLUSTER_TAG = "wove-batch:cluster"
COMPUTE_ENVIRONMENT_TAG = "wove-batch:compute-environment"
SPOT_BACKED_TAG = "wove-batch:spot-backed"  # on job definitions a Spot queue serves
COMPONENT_TAGS = (CLUSTER_TAG, COMPUTE_ENVIRONMENT_TAG, SPOT_BACKED_TAG)


def stable_name(logical: str, project: str, stack: str, suffix_length: int = 7) -> str:
    """A physical name that never changes: `<logical>-<7 hex of project/stack/logical>`, the
    length of Pulumi's auto-name suffix (the name budgets hold) and distinct between stacks.
    Job definitions take it: a replacement (the provider replaces a definition whose retry
    rules change) registers a new revision under the same name, which applications keep."""
    digest = hashlib.sha256(f"{project}/{stack}/{logical}".encode()).hexdigest()[:suffix_length]
    return f"{logical}-{digest}"
