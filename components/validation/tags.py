"""Tags: AWS's count and length limits and its reserved prefix."""

from __future__ import annotations

from .context import Checks

def check_tags(checks: Checks) -> None:
    if len(checks.args.tags) > 50:
        checks.fail("tags", f"at most 50 tags, got {len(checks.args.tags)}")
    for key, value in checks.args.tags.items():
        if key.lower().startswith("aws:"):
            checks.fail(f"tags.{key}", "the aws: prefix is reserved by AWS")
        elif len(key) > 128:
            checks.fail(f"tags.{key}", f"keys take at most 128 characters, got {len(key)}")
        if len(value) > 256:
            checks.fail(f"tags.{key}", f"values take at most 256 characters, got {len(value)}")
