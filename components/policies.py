"""CrossGuard policies for a wove-batch stack: what a security team checks in every preview.

Run them with `pulumi preview --policy-pack policy` (the pack in `policy/` loads this module)
or from the workflows. Each policy is a plain function of a resource's type and inputs
(`check_*`, returning the violations), wrapped for pulumi-policy below, so that tests run
them on the offline plan without the Pulumi CLI.

Inputs are as Pulumi's AWS provider takes them (camelCase); policy JSON arrives as a string.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Mapping

from .aws.limits import FARGATE_SPOT_INTERRUPTED_STATUS_REASON, SPOT_RECLAIMED_STATUS_REASON
from .aws.naming import BUILD_TAG_FILTERS, SPOT_BACKED_TAG

Props = Mapping[str, Any]
Check = Callable[[str, Props], list[str]]

# Actions that take no resource-level permissions or that AWS documents with "*": allowed as
# written even though they hold a wildcard (none today; an entry names its AWS document).
ALLOWED_WILDCARD_ACTIONS: frozenset[str] = frozenset()


def _true(value: Any) -> bool:
    return value is True or value == "true"


def check_imdsv2(resource_type: str, props: Props) -> list[str]:
    """Launch templates: IMDSv2 only, and a hop limit of 1, so containers cannot reach the
    instance's credentials (they have their own: the job role)."""
    if resource_type != "aws:ec2/launchTemplate:LaunchTemplate":
        return []
    options = props.get("metadataOptions") or {}
    problems = []
    if options.get("httpTokens") != "required":
        problems.append(f"metadataOptions.httpTokens is {options.get('httpTokens')!r}; IMDSv2 needs 'required'")
    if options.get("httpPutResponseHopLimit") != 1:
        problems.append(f"metadataOptions.httpPutResponseHopLimit is {options.get('httpPutResponseHopLimit')!r}; "
                        "1 keeps containers from the instance's credentials")
    return problems


def check_encrypted_volumes(resource_type: str, props: Props) -> list[str]:
    """Launch templates: every EBS volume encrypted."""
    if resource_type != "aws:ec2/launchTemplate:LaunchTemplate":
        return []
    return [f"blockDeviceMappings[{i}] ({mapping.get('deviceName')}) is not encrypted"
            for i, mapping in enumerate(props.get("blockDeviceMappings") or [])
            if not _true((mapping.get("ebs") or {}).get("encrypted"))]


def _statements(policy: Any) -> Iterable[Mapping[str, Any]]:
    document = json.loads(policy) if isinstance(policy, str) else policy or {}
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def check_no_wildcard_actions(resource_type: str, props: Props) -> list[str]:
    """IAM policies: no `*` or `service:*` action that Allows (least privilege)."""
    if resource_type not in ("aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy"):
        return []
    problems = []
    for i, statement in enumerate(_statements(props.get("policy"))):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        for action in [actions] if isinstance(actions, str) else actions:
            if "*" in action and action not in ALLOWED_WILDCARD_ACTIONS:
                problems.append(f"Statement[{i}] allows {action!r}: name the actions instead")
        if "NotAction" in statement:
            problems.append(f"Statement[{i}] allows NotAction: everything but a list")
    return problems


def check_scale_to_zero(resource_type: str, props: Props) -> list[str]:
    """EC2/SPOT compute environments: min_vcpus 0, so an idle cluster costs nothing (advisory)."""
    if resource_type != "aws:batch/computeEnvironment:ComputeEnvironment":
        return []
    resources = props.get("computeResources") or {}
    if resources.get("type") in ("EC2", "SPOT") and (resources.get("minVcpus") or 0) > 0:
        return [f"computeResources.minVcpus is {resources['minVcpus']}: instances keep running (and billing) while idle"]
    return []


def check_spot_retries(resource_type: str, props: Props) -> list[str]:
    """Job definitions served by a Spot queue (tagged wove-batch:spot-backed): retried when
    Spot reclaims the capacity, as each platform reports it."""
    if resource_type != "aws:batch/jobDefinition:JobDefinition":
        return []
    if (props.get("tags") or {}).get(SPOT_BACKED_TAG) != "true":
        return []
    strategy = props.get("retryStrategy") or {}
    reasons = {rule.get("onStatusReason") for rule in strategy.get("evaluateOnExits") or [] if rule.get("action") == "RETRY"}
    if (strategy.get("attempts") or 1) < 2 or not reasons & {SPOT_RECLAIMED_STATUS_REASON, FARGATE_SPOT_INTERRUPTED_STATUS_REASON}:
        return ["served by a Spot queue, but not retried when Spot reclaims its capacity (retryStrategy: attempts >= 2 "
                "and a RETRY rule on the interruption's status reason)"]
    return []


def check_log_retention(resource_type: str, props: Props) -> list[str]:
    """Log groups: a retention period (the default keeps logs, and bills for them, forever)."""
    if resource_type != "aws:cloudwatch/logGroup:LogGroup":
        return []
    return [] if props.get("retentionInDays") else ["retentionInDays is not set: logs are kept forever"]


def check_ecr(resource_type: str, props: Props) -> list[str]:
    """ECR repositories: images scanned on push."""
    if resource_type != "aws:ecr/repository:Repository":
        return []
    scanning = props.get("imageScanningConfiguration") or {}
    return [] if _true(scanning.get("scanOnPush")) else ["imageScanningConfiguration.scanOnPush is not true"]


def check_ecr_immutable_tags(resource_type: str, props: Props) -> list[str]:
    """ECR repositories: tags cannot be moved to another image, except the component's build
    tags (`*<architecture>-*`), which its image updates push again."""
    if resource_type != "aws:ecr/repository:Repository":
        return []
    mutability = props.get("imageTagMutability", "MUTABLE")
    if mutability == "IMMUTABLE_WITH_EXCLUSION":
        filters = sorted(f.get("filter") for f in props.get("imageTagMutabilityExclusionFilters") or [])
        others = [f for f in filters if f not in BUILD_TAG_FILTERS]
        return [f"imageTagMutabilityExclusionFilters let other tags move: {others}"] if others else []
    return [] if mutability == "IMMUTABLE" else [f"imageTagMutability is {mutability!r}; tags can be moved"]


def check_bucket_private_and_encrypted(resource_type: str, props: Props) -> list[str]:
    """The exchange bucket's settings: all public access blocked, encryption at rest."""
    if resource_type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
        return [f"{key} is not true" for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                                 "restrictPublicBuckets") if not _true(props.get(key))]
    if resource_type == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        algorithms = [((rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")) for rule in
                      props.get("rules") or []]
        return [] if any(a in ("AES256", "aws:kms", "aws:kms:dsse") for a in algorithms) else [
            "no default encryption rule"]
    return []


def check_bucket_tls_only(resource_type: str, props: Props) -> list[str]:
    """Bucket policies: a Deny of every request without TLS (aws:SecureTransport false)."""
    if resource_type != "aws:s3/bucketPolicy:BucketPolicy":
        return []
    for statement in _statements(props.get("policy")):
        condition = (statement.get("Condition") or {}).get("Bool") or {}
        if statement.get("Effect") == "Deny" and str(condition.get("aws:SecureTransport")).lower() == "false":
            return []
    return ["no statement denies requests without TLS (aws:SecureTransport false)"]


def check_stack_buckets(resources: list[tuple[str, str, Props]]) -> list[str]:
    """Every S3 bucket of the stack has its public access block, encryption and TLS-only policy."""
    buckets = [(name, props) for resource_type, name, props in resources if resource_type == "aws:s3/bucket:Bucket"]
    needed = {
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "public access block",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": "default encryption",
        "aws:s3/bucketPolicy:BucketPolicy": "TLS-only bucket policy",
    }
    settings: dict[str, set[str]] = {}
    for resource_type, _, props in resources:
        bucket = props.get("bucket")
        if resource_type in needed and not isinstance(bucket, str):
            return []  # a first preview: the bucket's name is not known yet; `up` checks it
        if isinstance(bucket, str):
            settings.setdefault(bucket, set()).add(resource_type)
    problems = []
    for name, props in buckets:
        physical = props.get("bucket") or next((b for b in settings if b.startswith(f"{name}-")), None)
        have = settings.get(physical or "", set())
        problems += [f"bucket {name} has no {what}" for kind, what in needed.items() if kind not in have]
    return problems


# name -> (description, check, enforcement): "mandatory" fails the preview, "advisory" warns.
RESOURCE_POLICIES: dict[str, tuple[str, Check, str]] = {
    "imdsv2-required": (check_imdsv2.__doc__ or "", check_imdsv2, "mandatory"),
    "encrypted-volumes": (check_encrypted_volumes.__doc__ or "", check_encrypted_volumes, "mandatory"),
    "no-wildcard-iam-actions": (check_no_wildcard_actions.__doc__ or "", check_no_wildcard_actions, "mandatory"),
    "scale-to-zero": (check_scale_to_zero.__doc__ or "", check_scale_to_zero, "advisory"),
    "spot-retried-on-interruption": (check_spot_retries.__doc__ or "", check_spot_retries, "mandatory"),
    "log-retention-set": (check_log_retention.__doc__ or "", check_log_retention, "mandatory"),
    "ecr-scan-on-push": (check_ecr.__doc__ or "", check_ecr, "mandatory"),
    "ecr-immutable-tags": (check_ecr_immutable_tags.__doc__ or "", check_ecr_immutable_tags, "mandatory"),
    "exchange-bucket-private-and-encrypted": (check_bucket_private_and_encrypted.__doc__ or "",
                                              check_bucket_private_and_encrypted, "mandatory"),
    "exchange-bucket-tls-only": (check_bucket_tls_only.__doc__ or "", check_bucket_tls_only, "mandatory"),
}


def policy_pack_policies() -> list[Any]:
    """The policies as pulumi-policy objects (needs `pip install wove-batch[policy]`)."""
    from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

    levels = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}
    policies: list[Any] = []
    for name, (description, check, level) in RESOURCE_POLICIES.items():
        def validate(args: Any, report_violation: Callable[..., None], check: Check = check) -> None:
            for problem in check(args.resource_type, args.props):
                report_violation(problem, None)

        policies.append(ResourceValidationPolicy(name=name, description=" ".join(description.split()),
                                                 validate=validate, enforcement_level=levels[level]))

    def validate_stack(args: Any, report_violation: Callable[..., None]) -> None:
        resources = [(r.resource_type, r.name, r.props) for r in args.resources]
        for problem in check_stack_buckets(resources):
            report_violation(problem, None)

    policies.append(StackValidationPolicy(name="buckets-complete", description=" ".join(
        (check_stack_buckets.__doc__ or "").split()), validate=validate_stack,
        enforcement_level=EnforcementLevel.MANDATORY))
    return policies
