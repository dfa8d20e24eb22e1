"""Job queues: each over its compute environments in the order given."""

from __future__ import annotations

import pulumi_aws as aws

from .scope import Scope
from .spec import JobQueueArgs


def create_job_queue(
    scope: Scope, name: str, queue: JobQueueArgs, environments: dict[str, aws.batch.ComputeEnvironment]
) -> aws.batch.JobQueue:
    return aws.batch.JobQueue(
        scope.child("queue", name),
        priority=queue.priority,
        state=queue.state,
        compute_environment_orders=[
            aws.batch.JobQueueComputeEnvironmentOrderArgs(order=order, compute_environment=environments[ce].arn)
            for order, ce in enumerate(queue.compute_environments)
        ],
        tags=scope.tagged(),
        opts=scope.opts(),
    )
