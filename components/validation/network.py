"""Network ids: VPC, subnets and security groups by their AWS id prefixes."""

from __future__ import annotations

from .context import Checks

_RESOURCE_ID = {"vpc_id": "vpc-", "subnet_ids": "subnet-", "security_group_ids": "sg-"}


def check_network(checks: Checks) -> None:
    network = checks.args.network
    for key, prefix in _RESOURCE_ID.items():
        value = getattr(network, key)
        items = [(f"network.{key}", value)] if isinstance(value, str) else [
            (f"network.{key}[{i}]", v) for i, v in enumerate(value or ())
        ]
        for path, item in items:
            if not item.startswith(prefix):
                checks.fail(path, f"expected an id starting with {prefix!r}, got {item!r}")
