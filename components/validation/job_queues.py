"""Job queues: 1 to 3 compute environments of one platform and one architecture, fair share,
RUNNABLE timeouts."""

from __future__ import annotations

import re

from ..aws import limits
from ..spec import JobQueueArgs, describe
from ..topology import architectures_of_environment, platform_of_environment
from .context import Checks, fmt

def check_job_queue(checks: Checks, name: str) -> None:
    path = f"job_queues.{name}"
    queue = checks.args.job_queues[name]
    if queue.priority < 0:
        checks.fail(f"{path}.priority", f"must be at least 0, got {queue.priority}")
    count = len(queue.compute_environments)
    if not 1 <= count <= limits.QUEUE_MAX_COMPUTE_ENVIRONMENTS:
        checks.fail(
            f"{path}.compute_environments",
            f"needs 1 to {limits.QUEUE_MAX_COMPUTE_ENVIRONMENTS} compute environments, got {count}",
        )
    queue_options(checks, path, queue)
    seen: set[str] = set()
    for i, ce_name in enumerate(queue.compute_environments):
        item = f"{path}.compute_environments[{i}]"
        if ce_name in seen:
            checks.fail(item, f"{ce_name!r} is listed more than once")
        seen.add(ce_name)
        if not checks.defined("compute_environments", ce_name):
            checks.undefined(item, "compute_environments", "compute environment", ce_name)
    by_platform: dict[str, list[str]] = {}
    by_arch: dict[str, list[str]] = {}
    for ce_name in dict.fromkeys(queue.compute_environments):
        ce = checks.args.compute_environments.get(ce_name)
        if ce is None:
            continue
        by_platform.setdefault(platform_of_environment(ce), []).append(ce_name)
        for arch in sorted(architectures_of_environment(ce)):
            by_arch.setdefault(arch, []).append(ce_name)
    if len(by_platform) > 1:
        checks.fail(
            f"{path}.compute_environments",
            f"mixes EC2/SPOT ({', '.join(by_platform['EC2'])}) with FARGATE/FARGATE_SPOT "
            f"({', '.join(by_platform['FARGATE'])}) environments",
        )
    if len(by_arch) > 1:
        checks.fail(
            f"{path}.compute_environments",
            f"mixes arm64 ({', '.join(by_arch['arm64'])}) and x86_64 ({', '.join(by_arch['x86_64'])}) environments",
        )


def queue_options(checks: Checks, path: str, queue: JobQueueArgs) -> None:
    if queue.runnable_timeout_seconds is not None and not (
        limits.RUNNABLE_TIMEOUT_MIN <= queue.runnable_timeout_seconds <= limits.RUNNABLE_TIMEOUT_MAX
    ):
        checks.fail(
            f"{path}.runnable_timeout_seconds",
            f"must be within {limits.RUNNABLE_TIMEOUT_MIN}..{limits.RUNNABLE_TIMEOUT_MAX}, got {queue.runnable_timeout_seconds}",
        )
    share = queue.fair_share
    if share is None:
        return
    if not 0 <= share.share_decay_seconds <= limits.SHARE_DECAY_SECONDS_MAX:
        checks.fail(f"{path}.fair_share.share_decay_seconds",
                  f"must be within 0..{limits.SHARE_DECAY_SECONDS_MAX}, got {share.share_decay_seconds}")
    if not 0 <= share.compute_reservation <= limits.COMPUTE_RESERVATION_MAX:
        checks.fail(f"{path}.fair_share.compute_reservation",
                  f"must be within 0..{limits.COMPUTE_RESERVATION_MAX}, got {share.compute_reservation}")
    if len(share.shares) > limits.SHARES_MAX:
        checks.fail(f"{path}.fair_share.shares", f"at most {limits.SHARES_MAX} share identifiers, got {len(share.shares)}")
    share_identifiers(checks, f"{path}.fair_share.shares", list(share.shares))
    for identifier, weight in share.shares.items():
        if not limits.SHARE_WEIGHT_MIN <= weight <= limits.SHARE_WEIGHT_MAX:
            checks.fail(f"{path}.fair_share.shares.{identifier}",
                      f"weight must be within {limits.SHARE_WEIGHT_MIN}..{limits.SHARE_WEIGHT_MAX}, got {fmt(weight)}")


_SHARE_IDENTIFIER = re.compile(limits.SHARE_IDENTIFIER_PATTERN)


def share_identifiers(checks: Checks, path: str, identifiers: list[str]) -> None:
    """AWS's pattern (letters and digits, at most 255, an optional trailing * for a prefix), and
    no two that overlap: a prefix entry covers every other identifier beginning with it."""
    valid = []
    for identifier in identifiers:
        if _SHARE_IDENTIFIER.fullmatch(identifier):
            valid.append(identifier)
            continue
        shown = identifier if identifier.isprintable() and len(identifier) <= 255 else describe(identifier)
        checks.fail(f"{path}.{shown}", f"a share identifier is up to 255 letters or digits, optionally followed by "
                                       f"'*' (a prefix), got {describe(identifier)}")
    prefixes = sorted((identifier for identifier in valid if identifier.endswith("*")), key=len)
    for identifier in valid:
        covering = next((prefix for prefix in prefixes if prefix != identifier
                         and identifier.rstrip("*").startswith(prefix[:-1])), None)
        if covering is not None:
            checks.fail(f"{path}.{identifier}", f"overlaps {describe(covering)} (a prefix covering it); AWS takes no two "
                                                "share identifiers that overlap")
