"""How every child of a WoveBatchCluster is named, parented and tagged (awsx style)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import pulumi

from ..aws.naming import CLUSTER_TAG


@dataclass(frozen=True)
class Scope:
    """The cluster's name, the component that parents its children and the tags they carry."""

    name: str
    parent: pulumi.Resource
    tags: Mapping[str, str]

    def child(self, *parts: str) -> str:
        """Logical name `<cluster>-<part>-...`; Pulumi derives the physical name from it plus a
        random suffix, so a replacement can be created before the old resource is deleted."""
        return "-".join((self.name, *parts))

    def opts(
        self,
        depends_on: Optional[Sequence[pulumi.Resource]] = None,
        ignore_changes: Optional[Sequence[str]] = None,
        **kwargs: Any,
    ) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self.parent, depends_on=list(depends_on or []) or None, ignore_changes=ignore_changes, **kwargs
        )

    def tagged(self, **extra: str) -> dict[str, str]:
        """The cluster's tags plus `wove-batch:cluster` and any extra ones."""
        return {**self.tags, CLUSTER_TAG: self.name, **extra}
