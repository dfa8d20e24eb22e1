"""The AWS partition of a region (`aws`, `aws-cn`, `aws-us-gov`, ...), for every ARN the stack
writes, and its DNS suffix (ECR registries in China end in amazonaws.com.cn).

From botocore's partitions.json (each partition's regions and region pattern), so that a new
partition or region comes with a botocore upgrade instead of a hand-written map.
"""

from __future__ import annotations

import functools
import re
from typing import Any


@functools.lru_cache(maxsize=1)
def _partitions() -> list[dict[str, Any]]:
    import botocore.loaders

    return list(botocore.loaders.create_loader().load_data("partitions")["partitions"])


@functools.lru_cache(maxsize=None)
def _partition(region: str) -> dict[str, Any]:
    partitions = _partitions()
    for partition in partitions:
        if region in partition.get("regions", {}):
            return partition
    for partition in partitions:
        if re.fullmatch(partition["regionRegex"], region):
            return partition
    return next(p for p in partitions if p["id"] == "aws")


def partition_of(region: str) -> str:
    """`aws-cn` for cn-north-1, `aws-us-gov` for us-gov-west-1, `aws` for eu-west-1."""
    return str(_partition(region)["id"])


def dns_suffix_of(region: str) -> str:
    """`amazonaws.com.cn` for cn-north-1, `amazonaws.com` for eu-west-1 and us-gov-west-1."""
    return str(_partition(region)["outputs"]["dnsSuffix"])
