"""Names: the cluster's, and every entry's, within what AWS takes once the children are named
from them (`<cluster>-<infix>-<name>-<suffix>`)."""

from __future__ import annotations

import re
from typing import Iterable

from ..aws import limits
from ..aws.naming import INFIXES_BY_SECTION, ROLE_NAMES
from ..errors import SpecError
from ..spec import describe
from .context import Checks

# With Pulumi's suffix, the longest role name must stay within IAM's 64 characters.
CLUSTER_NAME_MAX = limits.IAM_ROLE_NAME_MAX - limits.AUTONAME_SUFFIX_LEN - len("-" + max(ROLE_NAMES, key=len))
CLUSTER_NAME_PATH = "wove-batch:name"

_NAME = re.compile(limits.BATCH_NAME_PATTERN)
_CLUSTER_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def check_cluster_name(name: str) -> list[SpecError]:
    """Lower case only: the ECR repository is auto-named from it and ECR takes no capitals; the
    exchange bucket is too, and S3 reserves some prefixes of bucket names."""
    if not _CLUSTER_NAME.fullmatch(name):
        return [SpecError(CLUSTER_NAME_PATH, f"cluster name {describe(name)} may hold only lower-case letters, digits and '-', starting with a letter or digit")]
    if len(name) > CLUSTER_NAME_MAX:
        return [SpecError(CLUSTER_NAME_PATH, f"cluster name {describe(name)} is {len(name)} characters; at most {CLUSTER_NAME_MAX} fit IAM's 64-character role names")]
    reserved = next((prefix for prefix in limits.S3_RESERVED_BUCKET_PREFIXES if name.startswith(prefix)), None)
    if reserved is not None:
        return [SpecError(CLUSTER_NAME_PATH, f"cluster name {name!r} begins with {reserved!r}, which S3 reserves; the "
                                             f"exchange bucket is named after the cluster ({name}-exchange-...)")]
    return []


# Wove's own environment: every task without an environment, and Wove's seed task, run in
# `default`; an empty name selects the default too (`requested or default_environment`).
WOVE_DEFAULT_ENVIRONMENT = "default"


def check_wove_environment_names(checks: Checks, names: Iterable[str], explicit: bool) -> None:
    """Names Wove reserves or cannot select, at the entry (or the queue) that names them."""
    for name in names:
        path = ("wove_environments" if not name else f"wove_environments.{name}") if explicit else f"job_queues.{name}"
        if name == WOVE_DEFAULT_ENVIRONMENT:
            what = ("an environment named 'default'" if explicit else
                    "the Wove environment named after this queue, 'default',")
            checks.fail(path, f"{what} replaces Wove's default environment: every task without an environment, and "
                              "Wove's seed task, would go to Batch; choose another name")
        elif not name:
            checks.fail(path, "an environment named '' cannot be selected: Wove takes an empty environment name "
                              "as its default")


def check_names(checks: Checks) -> None:
    """Names of the user's entries: AWS's characters, and short enough that every child
    named from them (`<cluster>-<infix>-<name>-<suffix>`) fits AWS's 128."""
    for section, infixes in INFIXES_BY_SECTION.items():
        longest = max(infixes, key=len)
        budget = limits.BATCH_NAME_MAX - limits.AUTONAME_SUFFIX_LEN - len(f"{checks.cluster}-{longest}-")
        for name in getattr(checks.args, section):
            path = f"{section}.{name}"
            if not _NAME.fullmatch(name):
                checks.fail(path, f"name {describe(name)} may hold only letters, digits, '-' and '_', starting with a letter or digit")
            elif len(name) > budget:
                checks.fail(
                    path,
                    f"name {describe(name)} is {len(name)} characters; at most {budget} fit with cluster name "
                    f"{checks.cluster!r} and Pulumi's auto-name suffix within AWS's {limits.BATCH_NAME_MAX}",
                )
    for section, most in (("job_queues", limits.JOB_QUEUES_MAX), ("compute_environments", limits.COMPUTE_ENVIRONMENTS_MAX)):
        count = len(getattr(checks.args, section))
        if count > most:
            checks.fail(section, f"{count} entries; AWS takes at most {most} per account and region (a quota that "
                                 "cannot be raised), with those of other stacks counted too")
