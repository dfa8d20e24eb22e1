"""Tags: AWS's count, length and character limits, its reserved prefix, and the tags the
component adds itself (which a user's tag may not replace)."""

from __future__ import annotations

import re

from ..aws import limits
from ..aws.naming import COMPONENT_TAGS
from ..spec import describe
from .context import Checks

_TAG_TEXT = re.compile(limits.TAG_CHARACTERS)


def check_tags(checks: Checks) -> None:
    tags = checks.args.tags
    most = len(tags) + len(COMPONENT_TAGS)
    if most > limits.TAGS_MAX:
        checks.fail("tags", f"{len(tags)} tags and the component's {len(COMPONENT_TAGS)} ({', '.join(COMPONENT_TAGS)}) "
                            f"make {most}, over AWS's {limits.TAGS_MAX} per resource")
    for key, value in tags.items():
        # A key with a line break or a huge one would break the one-line message: shown bounded.
        path = f"tags.{key}" if key.isprintable() and len(key) <= limits.TAG_KEY_MAX else f"tags[{describe(key)}]"
        if not key:
            checks.fail("tags", "a tag key is empty; keys take 1..128 characters")
            continue
        if key.lower().startswith("aws:"):
            checks.fail(path, "the aws: prefix is reserved by AWS")
        elif key in COMPONENT_TAGS:
            checks.fail(path, "the component sets this tag itself (it names the cluster's resources); choose another key")
        elif len(key) > limits.TAG_KEY_MAX:
            checks.fail(path, f"keys take at most {limits.TAG_KEY_MAX} characters, got {len(key)}")
        elif not _TAG_TEXT.fullmatch(key):
            checks.fail(path, f"keys take letters, digits, spaces and _ . : / = + - @ only, got {describe(key)}")
        if len(value) > limits.TAG_VALUE_MAX:
            checks.fail(path, f"values take at most {limits.TAG_VALUE_MAX} characters, got {len(value)}")
        elif not _TAG_TEXT.fullmatch(value):
            checks.fail(path, f"values take letters, digits, spaces and _ . : / = + - @ only, got {describe(value)}")
