"""The job role's grants: policy ARNs and well-formed IAM statements."""

from __future__ import annotations

import re
from typing import Any

from .context import Checks

_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+")
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}


def check_job_role(checks: Checks) -> None:
    role = checks.args.job_role
    for i, policy_arn in enumerate(role.managed_policy_arns):
        if not _POLICY_ARN.fullmatch(policy_arn):
            checks.fail(f"job_role.managed_policy_arns[{i}]", f"expected an IAM policy ARN, got {policy_arn!r}")
    for i, statement in enumerate(role.policy_statements):
        check_statement(checks, f"job_role.policy_statements[{i}]", statement)


def check_statement(checks: Checks, path: str, statement: Any) -> None:
    if not isinstance(statement, dict):
        checks.fail(path, f"expected a mapping, got {statement!r}")
        return
    unknown = sorted(set(statement) - _STATEMENT_KEYS)
    if unknown:
        checks.fail(path, f"unknown keys {', '.join(unknown)}; expected {', '.join(sorted(_STATEMENT_KEYS))}")
    if statement.get("Effect") not in ("Allow", "Deny"):
        checks.fail(f"{path}.Effect", f"expected Allow or Deny, got {statement.get('Effect')!r}")
    for key, alternative in (("Action", "NotAction"), ("Resource", "NotResource")):
        value = statement.get(key, statement.get(alternative))
        if not (isinstance(value, str) and value) and not (
            isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)
        ):
            checks.fail(f"{path}.{key}", f"expected a string or a non-empty list of strings, got {value!r}")
