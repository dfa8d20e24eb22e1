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


def cluster_name(configured: Any, stack: str) -> str:
    """`wove-batch:name`, else `wove-<stack>` in lower case (a name that is not a string is
    reported by validate_stack; the default stands in for it meanwhile)."""
    return configured if isinstance(configured, str) else f"wove-{stack.lower()}"


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


# Stack files are small; these bounds keep a hostile one (a symlink to /dev/zero, an alias
# bomb, a document nested a million deep) from costing more than a moment and a few MB.
MAX_STACK_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 100_000


def _read_yaml(path: Path) -> Any:
    try:
        if path.exists() and not path.is_file():
            raise StackFileError(f"{path}: not a regular file")
        size = path.stat().st_size
        if size > MAX_STACK_FILE_BYTES:
            raise StackFileError(f"{path}: {size} bytes; a stack file takes at most {MAX_STACK_FILE_BYTES}")
        with path.open("rb") as stream:
            data = stream.read(MAX_STACK_FILE_BYTES + 1)
    except OSError as exc:
        raise StackFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_STACK_FILE_BYTES:  # grew while being read
        raise StackFileError(f"{path}: over {MAX_STACK_FILE_BYTES} bytes; a stack file takes at most that")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StackFileError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None and _expanded_size(node) > MAX_EXPANDED_NODES:
                raise StackFileError(
                    f"{path}: expands to over {MAX_EXPANDED_NODES} values through YAML aliases; not a stack file"
                )
            return loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from None
    except RecursionError:
        raise StackFileError(f"{path}: nested too deeply to be a stack file") from None


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds once every alias is expanded, counted without
    expanding (each node once; stops counting past the limit)."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        if children_done or not children:
            sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children), MAX_EXPANDED_NODES + 1)
            visiting.discard(id(node))
            continue
        if any(id(child) in visiting or child is node for child in children):
            return MAX_EXPANDED_NODES + 1  # an alias to its own ancestor: endless
        visiting.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]
