"""Reading a `Pulumi.<stack>.yaml` the way Pulumi does, for `check`, `plan` and the tests."""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from ..errors import SpecError
from ..aws.instance_types import botocore_version
from ..spec import WoveBatchClusterArgs, describe
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
    secrets: tuple[str, ...] = ()  # config paths holding Pulumi secrets (placeholders here)

    @property
    def cluster_name(self) -> str:
        return cluster_name(self.config.get(NAME_KEY), self.stack)


def cluster_name(configured: Any, stack: str) -> str:
    """`wove-batch:name`, else `wove-<stack>` in lower case with what AWS names refuse (Pulumi
    allows `_` and `.` in stack names) made `-` (a name that is not a string is reported by
    validate_stack; the default stands in for it meanwhile)."""
    if isinstance(configured, str):
        return configured
    return "wove-" + (re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-") or "stack")


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
    secrets: list[str] = []
    config = {key: _without_secrets(value, key, secrets) for key, value in config.items()}
    if isinstance(config.get(CLUSTER_KEY), str):
        config[CLUSTER_KEY] = _json_object(config[CLUSTER_KEY])
    return StackFile(path, path.parent.resolve(), str(project_name), match["stack"], config, tuple(secrets))


# A secret (`pulumi config set --secret`) is `{secure: <ciphertext>}` in the stack file; only
# Pulumi can decrypt it. Offline it stands in as a placeholder, and its field is not checked.
SECRET_PLACEHOLDERS = {f"{CLUSTER_KEY}.callback.base_url": "https://secret.example.invalid"}
SECRET_PLACEHOLDER = "secret"


def _without_secrets(value: Any, path: str, secrets: list[str]) -> Any:
    if isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str):
        secrets.append(path)
        return SECRET_PLACEHOLDERS.get(path, SECRET_PLACEHOLDER)
    if isinstance(value, dict):
        return {key: _without_secrets(item, f"{path}.{key}", secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_secrets(item, f"{path}[{i}]", secrets) for i, item in enumerate(value)]
    return value


def _json_object(text: str) -> Any:
    """Pulumi's `get_object` takes an object given as a JSON string too."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text  # validation says what it expected
    return value if isinstance(value, dict) else text


def validate_stack(stack: StackFile) -> tuple[Optional[WoveBatchClusterArgs], list[SpecError]]:
    """Every error of the stack's cluster spec, plus a missing region."""
    name = stack.config.get(NAME_KEY, stack.cluster_name)
    errors: list[SpecError] = []
    if not isinstance(name, str):
        errors.append(SpecError(NAME_KEY, f"expected a string, got {name!r}"))
        name = stack.cluster_name
    region = stack.config.get(REGION_KEY)
    if not isinstance(region, str):
        errors.append(SpecError(REGION_KEY, "required: the region to deploy to (pulumi config set aws:region ...)"))
    elif region not in batch_regions():
        close = difflib.get_close_matches(region, sorted(batch_regions()), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        errors.append(SpecError(REGION_KEY, f"{describe(region)} is no region with AWS Batch that botocore "
                                            f"{botocore_version()} knows{hint}"))
    for key in stack.config:
        if isinstance(key, str) and key.startswith(f"{NAMESPACE}:") and key not in (NAME_KEY, CLUSTER_KEY):
            errors.append(SpecError(key, f"unknown key; expected {NAME_KEY} or {CLUSTER_KEY}"))
    if CLUSTER_KEY not in stack.config:
        return None, errors + [SpecError(CLUSTER_KEY, "required: the cluster spec")]
    # image.context and image.dockerfile are relative to the Pulumi project: checked when the
    # stack file sits in one (beside Pulumi.yaml), as `pulumi up` would use it.
    project_dir = stack.project_dir if (stack.project_dir / "Pulumi.yaml").is_file() else None
    args, cluster_errors = validate_cluster(stack.config[CLUSTER_KEY], name, project_dir)
    secret = tuple(path[len(CLUSTER_KEY) + 1 :] for path in stack.secrets if path.startswith(f"{CLUSTER_KEY}."))
    cluster_errors = [e for e in cluster_errors if not any(e.path == p or e.path.startswith((p + ".", p + "["))
                                                           for p in secret)]
    return args, errors + cluster_errors


@functools.lru_cache(maxsize=1)
def batch_regions() -> frozenset[str]:
    """Every region of every partition where botocore's endpoint data has AWS Batch."""
    import botocore.session

    session = botocore.session.get_session()
    return frozenset(region for partition in session.get_available_partitions()
                     for region in session.get_available_regions("batch", partition_name=partition))


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
        loader = StackLoader(text)
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
    except (RecursionError, NestedTooDeeply):
        raise StackFileError(f"{path}: nested too deeply to be a stack file") from None


class NestedTooDeeply(Exception):
    """More `[`/`{` open at once than a stack file has: PyYAML's scanner slows down with each
    level (20,000 of them took seconds before the composer's RecursionError), so it stops here."""


MAX_FLOW_DEPTH = 100


class StackLoader(yaml.SafeLoader):
    """YAML as Pulumi reads stack files: YAML 1.2's core schema (https://yaml.org/spec/1.2.2/
    #1032-tag-resolution): only true/false are booleans (`yes`, `on` stay strings), `0o100` and
    `1e3` are numbers, `1:04` and unquoted dates stay strings (YAML 1.1 read them as 64 and a
    date). Merge keys (`<<: *base`) are taken, as Pulumi's YAML reader takes them; a key given
    twice in one mapping is an error, not the last one winning."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803 - PyYAML's name
        if self.flow_level >= MAX_FLOW_DEPTH:
            raise NestedTooDeeply()
        super().fetch_flow_collection_start(TokenClass)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged keys may be overridden by the mapping's own: YAML's merge
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {describe(key)} (first on line {seen[key] + 1}); YAML would keep "
                    "only the last", key_node.start_mark)
            if isinstance(key, (str, int, float, bool)):
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """YAML 1.2: decimal (a leading 0 is not octal), 0o octal, 0x hexadecimal."""
        text = str(self.construct_scalar(node))
        try:
            if text.startswith(("0o", "0x")):
                return int(text[2:], 8 if text[1] == "o" else 16)
            return int(text)
        except ValueError:  # past Python's 4300 digits
            raise yaml.constructor.ConstructorError(None, None, f"number {describe(text)} is too long",
                                                    node.start_mark) from None


StackLoader.add_constructor("tag:yaml.org,2002:int", StackLoader.construct_yaml_int)
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)"
                                r"|\.(nan|NaN|NAN)", "-+.0123456789"),
    ("tag:yaml.org,2002:merge", r"<<", "<"),
):
    StackLoader.add_implicit_resolver(_tag, re.compile(rf"^(?:{_pattern})$"), list(_first))


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
