"""The log group: CloudWatch takes only its own retention values, and 0 keeps logs forever."""

from __future__ import annotations

from ..aws import limits
from .context import Checks

def check_logs(checks: Checks) -> None:
    retention = checks.args.logs.retention_days
    if retention not in limits.LOG_RETENTION_DAYS:
        checks.fail("logs.retention_days", f"CloudWatch takes {', '.join(map(str, limits.LOG_RETENTION_DAYS[1:]))}; "
                                           f"got {retention}")
