"""Job queues: each over its compute environments in the order given."""

from __future__ import annotations

import pulumi_aws as aws

from ..aws import limits
from ..aws.naming import FAIR_SHARE_INFIX, QUEUE_INFIX
from .scope import Scope
from ..spec import JobQueueArgs


def create_job_queue(
    scope: Scope, name: str, queue: JobQueueArgs, environments: dict[str, aws.batch.ComputeEnvironment]
) -> aws.batch.JobQueue:
    policy = None
    if queue.fair_share is not None:
        # Batch cannot remove a scheduling policy from a queue: adding one is for good.
        share = queue.fair_share
        policy = aws.batch.SchedulingPolicy(
            scope.child(FAIR_SHARE_INFIX, name),
            fair_share_policy=aws.batch.SchedulingPolicyFairSharePolicyArgs(
                compute_reservation=share.compute_reservation,
                share_decay_seconds=share.share_decay_seconds,
                share_distributions=[
                    aws.batch.SchedulingPolicyFairSharePolicyShareDistributionArgs(
                        share_identifier=identifier, weight_factor=weight
                    )
                    for identifier, weight in sorted(share.shares.items())
                ]
                or None,
            ),
            tags=scope.tagged(),
            opts=scope.opts(),
        )
    time_limits = None
    if queue.runnable_timeout_seconds is not None:
        # The reason is the trigger: one action for each reason AWS acts on.
        time_limits = [
            aws.batch.JobQueueJobStateTimeLimitActionArgs(
                action="CANCEL", state="RUNNABLE", max_time_seconds=queue.runnable_timeout_seconds, reason=reason
            )
            for reason in limits.RUNNABLE_TIMEOUT_REASONS
        ]
    return aws.batch.JobQueue(
        scope.child(QUEUE_INFIX, name),
        priority=queue.priority,
        state=queue.state,
        scheduling_policy_arn=policy.arn if policy is not None else None,
        job_state_time_limit_actions=time_limits,
        compute_environment_orders=[
            aws.batch.JobQueueComputeEnvironmentOrderArgs(order=order, compute_environment=environments[ce].arn)
            for order, ce in enumerate(queue.compute_environments)
        ],
        tags=scope.tagged(),
        # Batch can neither add a scheduling policy to a first-in-first-out queue nor remove
        # one: adding or removing fair_share replaces the queue (the provider would update it
        # in place, and AWS would refuse). Jobs still in the old queue are terminated with it.
        opts=scope.opts(replace_on_changes=["schedulingPolicyArn"]),
    )
