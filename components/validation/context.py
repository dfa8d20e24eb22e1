"""What every rule shares: the parsed args, the errors found so far, and which fields already
failed to parse (a rule never reports on those again)."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Mapping, Optional

from ..errors import SpecError
from ..spec import WoveBatchClusterArgs, describe
from ..topology import cluster_architectures


class Checks:
    """The state one validation run carries from rule to rule."""

    def __init__(
        self, args: WoveBatchClusterArgs, cluster_name: str, broken: set[tuple[str, str]], failed: set[str],
        project_dir: Optional[Path] = None,
    ) -> None:
        self.args = args
        self.project_dir = project_dir  # where image.context lives; None: not checked
        self.cluster = cluster_name
        self.broken = broken
        self.failed = failed
        self.errors: list[SpecError] = []
        self.architectures = cluster_architectures(args)

    def fail(self, path: str, message: str) -> None:
        """Record an error, unless the field already failed to parse (it holds its default)."""
        if any(path == f or path.startswith((f + ".", f + "[")) for f in self.failed):
            return
        self.errors.append(SpecError(path, message))

    def require_in_project(self, paths: Mapping[str, str]) -> None:
        """Build files, relative to the project: inside it (a context of `../..` would make the
        plan read every file above it), and what they must be (a field ending in `dockerfile`
        names a regular file, any other a folder). The syntax is checked always, the files only
        when the project is known."""
        refused: list[str] = []
        for field, relative in paths.items():
            want_file = field.endswith("dockerfile")
            normal = posixpath.normpath(relative) if relative else ""
            if any(relative.startswith(bad.rstrip("/") + "/") for bad in refused):
                continue  # inside a context already refused (the default Dockerfile of one)
            if not relative or "\0" in relative or relative.startswith("/") or normal.split("/")[0] == "..":
                self.fail(field, f"must be a path inside the project, relative to it, got {describe(relative)}")
                refused.append(relative)
                continue
            if self.project_dir is None:
                continue
            root = self.project_dir.resolve()
            target = root / relative
            try:
                resolved = target.resolve()
            except (OSError, RuntimeError):  # a symlink loop
                self.fail(field, f"{describe(relative)} cannot be resolved in {root}")
                continue
            if resolved != root and root not in resolved.parents:
                self.fail(field, f"{describe(relative)} leads outside the project {root} (through a symlink)")
            elif not target.exists():
                self.fail(field, f"{describe(relative)} does not exist in {self.project_dir}")
            elif want_file and not resolved.is_file():
                self.fail(field, f"{describe(relative)} is not a regular file")
            elif not want_file and not resolved.is_dir():
                self.fail(field, f"{describe(relative)} is not a folder")

    def is_broken(self, section: str, name: str) -> bool:
        """The entry exists but had a shape error: rules combining entries skip it."""
        return (section, name) in self.broken

    def defined(self, section: str, name: str) -> bool:
        return name in getattr(self.args, section) or (section, name) in self.broken

    def undefined(self, path: str, section: str, what: str, name: str) -> None:
        names = ", ".join(getattr(self.args, section)) or "none"
        self.fail(path, f"no {what} named {describe(name)}; defined: {names}")


def fmt(number: float) -> str:
    """A number as the user wrote it: 2, not 2.0."""
    return str(int(number)) if float(number).is_integer() else str(number)
