"""The exchange bucket: how long objects left behind (a crashed submitter's) are kept."""

from __future__ import annotations

from ..aws import limits
from .context import Checks


def check_exchange(checks: Checks) -> None:
    days = checks.args.exchange.retention_days
    if not limits.EXCHANGE_RETENTION_DAYS_MIN <= days <= limits.EXCHANGE_RETENTION_DAYS_MAX:
        checks.fail(
            "exchange.retention_days",
            f"must be within {limits.EXCHANGE_RETENTION_DAYS_MIN}..{limits.EXCHANGE_RETENTION_DAYS_MAX}, got {days}",
        )
