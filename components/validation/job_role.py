"""The job role's grants: policy ARNs and well-formed IAM statements."""

from __future__ import annotations

import json
import re
from typing import Any

from ..aws import limits
from ..spec import describe
from .context import Checks

_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+")
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}


def check_job_role(checks: Checks) -> None:
    role = checks.args.job_role
    for i, policy_arn in enumerate(role.managed_policy_arns):
        if not _POLICY_ARN.fullmatch(policy_arn):
            checks.fail(f"job_role.managed_policy_arns[{i}]", f"expected an IAM policy ARN, got {describe(policy_arn)}")
    for i, statement in enumerate(role.policy_statements):
        check_statement(checks, f"job_role.policy_statements[{i}]", statement)
    check_iam_quotas(checks)


def check_iam_quotas(checks: Checks) -> None:
    """IAM's per-role quotas: managed policies attached (each once), and the inline policy's
    size as IAM counts it (no white space), with room left for the component's own."""
    role = checks.args.job_role
    count = len(role.managed_policy_arns)
    if count > limits.IAM_MANAGED_POLICIES_PER_ROLE:
        checks.fail("job_role.managed_policy_arns", f"{count} policies; IAM attaches at most "
                                                    f"{limits.IAM_MANAGED_POLICIES_PER_ROLE} managed policies to a role "
                                                    "(its default quota); merge some, or move statements inline")
    seen: dict[str, int] = {}
    for i, policy_arn in enumerate(role.managed_policy_arns):
        if policy_arn in seen:
            checks.fail(f"job_role.managed_policy_arns[{i}]", f"{describe(policy_arn)} is also managed_policy_arns[{seen[policy_arn]}]")
        seen.setdefault(policy_arn, i)
    if not role.policy_statements:
        return
    try:
        document = json.dumps({"Version": "2012-10-17", "Statement": [dict(s) for s in role.policy_statements]})
    except (TypeError, ValueError):
        return  # a statement that is no mapping of JSON values: reported on the statement
    size = sum(1 for character in document if not character.isspace())
    volumes = sum(len(jd.efs_volumes) for jd in checks.args.job_definitions.values())
    own = limits.JOB_ROLE_EXCHANGE_POLICY_CHARS + volumes * limits.JOB_ROLE_EFS_POLICY_CHARS_PER_VOLUME
    budget = limits.IAM_ROLE_INLINE_POLICY_CHARS - own
    if size > budget:
        checks.fail("job_role.policy_statements", f"{size} characters without white space; IAM takes "
                                                  f"{limits.IAM_ROLE_INLINE_POLICY_CHARS} of inline policy per role and "
                                                  f"the component's own need up to {own}, leaving {budget}; put "
                                                  "statements in a managed policy (managed_policy_arns)")


def check_statement(checks: Checks, path: str, statement: Any) -> None:
    if not isinstance(statement, dict):
        checks.fail(path, f"expected a mapping, got {describe(statement)}")
        return
    unknown = sorted(set(statement) - _STATEMENT_KEYS)
    if unknown:
        checks.fail(path, f"unknown keys {', '.join(unknown)}; expected {', '.join(sorted(_STATEMENT_KEYS))}")
    if statement.get("Effect") not in ("Allow", "Deny"):
        checks.fail(f"{path}.Effect", f"expected Allow or Deny, got {describe(statement.get('Effect'))}")
    for key, alternative in (("Action", "NotAction"), ("Resource", "NotResource")):
        value = statement.get(key, statement.get(alternative))
        if not (isinstance(value, str) and value) and not (
            isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)
        ):
            checks.fail(f"{path}.{key}", f"expected a string or a non-empty list of strings, got {describe(value)}")
