"""A job definition's secrets: each a Secrets Manager secret ARN, an SSM parameter ARN or an
SSM parameter name, as ECS's `valueFrom` takes them. ARNs of AWS's partitions only and no
white space; SSM names in SSM's characters and depth, not in AWS's reserved `aws`/`ssm`
namespace except where AWS publishes readable names (/aws/reference/, /aws/service/)."""

from __future__ import annotations

import re

from ..aws import limits
from ..spec import JobDefinitionArgs, describe
from .context import Checks

_PARTITION = "|".join(re.escape(partition) for partition in limits.ARN_PARTITIONS)
# A secret's name takes letters, digits and /_+=.@-; ECS's reference may add
# `:json-key:version-stage:version-id` (each part optional).
_SECRET_ARN = re.compile(
    rf"arn:(?:{_PARTITION}):(?:secretsmanager:[a-z0-9-]+:\d{{12}}:secret:[A-Za-z0-9/_+=.@-]+(?::[A-Za-z0-9/_+=.@-]*){{0,3}}"
    rf"|ssm:[a-z0-9-]+:\d{{12}}:parameter/[A-Za-z0-9_.\-/]+)")
_SSM_NAME = re.compile(r"/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")


def check_secret_sources(checks: Checks, path: str, jd: JobDefinitionArgs) -> None:
    for key, source in jd.secrets.items():
        field = f"{path}.secrets.{key}"
        if source.startswith("arn:"):
            if not _SECRET_ARN.fullmatch(source):
                checks.fail(field, _arn_problem(source))
            continue
        if not _SSM_NAME.fullmatch(source):
            checks.fail(field, "expected a Secrets Manager secret ARN, an SSM parameter ARN or an SSM parameter name, "
                               f"got {describe(source)}")
        elif "/" in source and not source.startswith("/"):
            checks.fail(field, f"an SSM parameter name with a hierarchy begins with '/', got {describe(source)}")
        elif source.startswith(limits.SSM_READABLE_AWS_PREFIXES):
            continue  # AWS's own parameters, readable by anyone granted them
        elif source.lstrip("/").lower().startswith(limits.SSM_RESERVED_PREFIXES):
            checks.fail(field, f"SSM parameter names may not begin with aws or ssm (reserved), got {describe(source)}")
        if source.strip("/").count("/") + 1 > limits.SSM_HIERARCHY_MAX:
            checks.fail(field, f"SSM takes at most {limits.SSM_HIERARCHY_MAX} levels of hierarchy, got "
                               f"{source.strip('/').count('/') + 1} in {describe(source)}")


def _arn_problem(source: str) -> str:
    partition = source.split(":")[1] if source.count(":") >= 1 else ""
    if partition not in limits.ARN_PARTITIONS:
        return (f"{describe(partition)} is no AWS partition (expected {', '.join(limits.ARN_PARTITIONS)}), "
                f"got {describe(source)}")
    if any(character.isspace() for character in source):
        return f"an ARN has no white space, got {describe(source)}"
    return ("expected a Secrets Manager secret ARN, an SSM parameter ARN or an SSM parameter name, got "
            f"{describe(source)}")
