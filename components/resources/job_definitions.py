"""Container job definitions that run the worker image with Wove's worker command."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_aws as aws

from ..aws import limits
from ..aws.container_properties import container_properties
from .iam import ClusterRoles
from ..aws.naming import DEFINITION_INFIX, SPOT_BACKED_TAG, stable_name
from .scope import Scope
from ..spec import JobDefinitionArgs, RetryRuleArgs

# Retry a job whose Spot capacity was reclaimed, as each platform reports it; any other
# failure is the application's: exit.
SPOT_RETRY_RULES = {
    "EC2": (
        RetryRuleArgs(action="RETRY", on_status_reason=limits.SPOT_RECLAIMED_STATUS_REASON),
        RetryRuleArgs(action="EXIT", on_reason="*"),
    ),
    "FARGATE": (
        RetryRuleArgs(action="RETRY", on_status_reason=limits.FARGATE_SPOT_INTERRUPTED_STATUS_REASON),
        RetryRuleArgs(action="EXIT", on_reason="*"),
    ),
}


def retry_strategy(
    jd: JobDefinitionArgs, spot_backed: bool, platform: str = "EC2"
) -> Optional[aws.batch.JobDefinitionRetryStrategyArgs]:
    """The user's attempts and rules; on Spot, 3 attempts and the platform's SPOT_RETRY_RULES
    by default."""
    attempts = jd.retry_attempts if jd.retry_attempts is not None else (limits.SPOT_DEFAULT_ATTEMPTS if spot_backed else None)
    rules = jd.evaluate_on_exit or (SPOT_RETRY_RULES[platform] if spot_backed else ())
    if attempts is None and not rules:
        return None
    return aws.batch.JobDefinitionRetryStrategyArgs(
        attempts=attempts,
        evaluate_on_exits=[
            aws.batch.JobDefinitionRetryStrategyEvaluateOnExitArgs(
                action=rule.action,
                on_status_reason=rule.on_status_reason,
                on_reason=rule.on_reason,
                on_exit_code=rule.on_exit_code,
            )
            for rule in rules
        ]
        or None,
    )


def create_job_definition(
    scope: Scope,
    name: str,
    jd: JobDefinitionArgs,
    *,
    image: pulumi.Output[str],
    roles: ClusterRoles,
    platform: str,
    architecture: str,
    assign_public_ip: bool,
    spot_backed: bool,
    log_group: pulumi.Output[str],
    region: pulumi.Output[str],
    depends_on: list[pulumi.Resource],
) -> aws.batch.JobDefinition:
    if jd.image_uri is not None:
        image = pulumi.Output.from_input(jd.image_uri)  # this definition's own image
    properties = pulumi.Output.all(image, roles.job_role.arn, roles.execution_role.arn, log_group, region).apply(
        lambda values: container_properties(
            jd,
            image=values[0],
            job_role_arn=values[1],
            execution_role_arn=values[2],
            platform=platform,
            architecture=architecture,
            assign_public_ip=assign_public_ip,
            log_group=values[3],
            region=values[4],
            stream_prefix=name,
        )
    )
    retry = retry_strategy(jd, spot_backed, platform)
    timeout: Optional[aws.batch.JobDefinitionTimeoutArgs] = None
    if jd.timeout_seconds is not None:
        timeout = aws.batch.JobDefinitionTimeoutArgs(attempt_duration_seconds=jd.timeout_seconds)
    logical = scope.child(DEFINITION_INFIX, name)
    return aws.batch.JobDefinition(
        logical,
        # Never an auto-name: replacing the resource would rename the definition applications submit to.
        name=stable_name(logical, pulumi.get_project(), pulumi.get_stack()),
        type="container",
        platform_capabilities=[platform],
        container_properties=properties,
        retry_strategy=retry,
        timeout=timeout,
        propagate_tags=jd.propagate_tags,
        # Keep earlier revisions registered by default: jobs queued against them still run.
        deregister_on_new_revision=jd.deregister_on_new_revision,
        scheduling_priority=jd.scheduling_priority,
        # Spot-backed definitions say so: the policy pack checks that they retry on interruption.
        tags=scope.tagged(**({SPOT_BACKED_TAG: "true"} if spot_backed else {})),
        opts=scope.opts(depends_on=depends_on),
    )
