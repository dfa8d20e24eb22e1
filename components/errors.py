"""The errors a cluster spec can have, reported all at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True, order=True)
class SpecError:
    """One problem: the field path (`job_queues.high.compute_environments[1]`) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ClusterSpecError(ValueError):
    """Raised before any resource is created when the spec has problems; lists all of them."""

    def __init__(self, errors: Sequence[SpecError]) -> None:
        self.errors = tuple(errors)
        lines = "\n".join(f"  {error}" for error in self.errors)
        super().__init__(f"wove-batch:cluster has {len(self.errors)} error(s):\n{lines}")


class WoveBatchError(Exception):
    """The base of the application-side helper's public errors (wove_batch.client)."""
