"""Network ids: VPC, subnets and security groups as EC2 writes them (prefix, then 8 or 17
hexadecimal digits)."""

from __future__ import annotations

import re

from ..spec import describe
from .context import Checks

_RESOURCE_ID = {"vpc_id": "vpc", "subnet_ids": "subnet", "security_group_ids": "sg"}


def check_network(checks: Checks) -> None:
    network = checks.args.network
    for key, prefix in _RESOURCE_ID.items():
        value = getattr(network, key)
        items = [(f"network.{key}", value)] if isinstance(value, str) else [
            (f"network.{key}[{i}]", v) for i, v in enumerate(value or ())
        ]
        for path, item in items:
            if not re.fullmatch(rf"{prefix}-([0-9a-f]{{8}}|[0-9a-f]{{17}})", item):
                checks.fail(path, f"expected an id like {prefix}-0123456789abcdef0, got {describe(item)}")
