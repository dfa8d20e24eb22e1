"""Reading a `Pulumi.<stack>.yaml` the way Pulumi does, for `check`, `plan` and the tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from ..errors import SpecError
from ..spec import WoveBatchClusterArgs
from ..validation import validate_cluster

NAMESPACE = "wove-batch"
CLUSTER_KEY = f"{NAMESPACE}:cluster"
NAME_KEY = f"{NAMESPACE}:name"
REGION_KEY = "aws:region"
_STACK_FILE = re.compile(r"Pulumi\.(?P<stack>[^/]+)\.ya?ml")


class StackFileError(Exception):
    """The stack file cannot be read or parsed (the CLI exits 2)."""


@dataclass(frozen=True)
class StackFile:
    path: Path
    project_dir: Path
    project: str
    stack: str
    config: dict[str, Any]

    @property
    def cluster_name(self) -> str:
        return cluster_name(self.config.get(NAME_KEY), self.stack)


def cluster_name(configured: Optional[str], stack: str) -> str:
    """`wove-batch:name`, else `wove-<stack>` in lower case."""
    return configured if configured is not None else f"wove-{stack.lower()}"


def load_stack_file(path: str | Path) -> StackFile:
    path = Path(path)
    match = _STACK_FILE.fullmatch(path.name)
    if match is None:
        raise StackFileError(f"{path}: expected a stack file named Pulumi.<stack>.yaml")
    document = _read_yaml(path)
    if not isinstance(document, dict):
        raise StackFileError(f"{path}: expected a mapping at the top, got {type(document).__name__}")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path}: 'config' must be a mapping")
    project_file = path.parent / "Pulumi.yaml"
    project = _read_yaml(project_file) if project_file.exists() else {}
    project_name = project.get("name", NAMESPACE) if isinstance(project, dict) else NAMESPACE
    return StackFile(path, path.parent.resolve(), str(project_name), match["stack"], dict(config))


def validate_stack(stack: StackFile) -> tuple[Optional[WoveBatchClusterArgs], list[SpecError]]:
    """Every error of the stack's cluster spec, plus a missing region."""
    name = stack.config.get(NAME_KEY, stack.cluster_name)
    errors: list[SpecError] = []
    if not isinstance(name, str):
        errors.append(SpecError(NAME_KEY, f"expected a string, got {name!r}"))
        name = stack.cluster_name
    if not isinstance(stack.config.get(REGION_KEY), str):
        errors.append(SpecError(REGION_KEY, "required: the region to deploy to (pulumi config set aws:region ...)"))
    if CLUSTER_KEY not in stack.config:
        return None, errors + [SpecError(CLUSTER_KEY, "required: the cluster spec")]
    args, cluster_errors = validate_cluster(stack.config[CLUSTER_KEY], name)
    return args, errors + cluster_errors


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StackFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from None
