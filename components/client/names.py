"""Job names AWS Batch accepts. Wove names each job `wove-<task>:<hex>`, and Batch takes only
`[A-Za-z0-9_-]{1,128}`: without this every submit fails ("Job name should match valid pattern")."""

from __future__ import annotations

import hashlib
import re

from ..aws.limits import BATCH_NAME_MAX

_INVALID_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]")


def batch_job_name(name: str) -> str:
    """Invalid characters become `-`; a name over 128 characters is cut and ends in a hash of
    the whole, so it stays unique per run and deterministic."""
    valid = _INVALID_NAME_CHARACTERS.sub("-", name) or "wove"
    if len(valid) <= BATCH_NAME_MAX:
        return valid
    digest = hashlib.sha256(name.encode()).hexdigest()[:12]
    return f"{valid[: BATCH_NAME_MAX - len(digest) - 1]}-{digest}"
