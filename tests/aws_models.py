"""AWS's own request models, offline: botocore's service models (required members, types,
enums, min/max, patterns) and cfn-lint's CloudFormation resource schemas.

boto3 itself checks only types, required members and minimums before sending; these checks
add what AWS enforces on its side: enums, maximum lengths and values, patterns and unknown
members."""

from __future__ import annotations

from typing import Any, Iterator

import botocore.session
import regex  # AWS patterns use \p{...} classes, which `re` lacks

_SESSION = botocore.session.get_session()


def request_problems(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Every way `params` breaks the operation's input shape, each with its member path."""
    model = _SESSION.get_service_model(service).operation_model(operation)
    return list(_shape_problems(model.input_shape, params, f"{service}:{operation}"))


def _shape_problems(shape: Any, value: Any, path: str) -> Iterator[str]:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            yield f"{path}: expected a structure, got {type(value).__name__}"
            return
        for name in shape.required_members:
            if name not in value:
                yield f"{path}.{name}: required"
        for name, item in value.items():
            if name not in shape.members:
                yield f"{path}.{name}: not a member of {shape.name}"
            else:
                yield from _shape_problems(shape.members[name], item, f"{path}.{name}")
    elif kind == "list":
        if not isinstance(value, list):
            yield f"{path}: expected a list, got {type(value).__name__}"
            return
        yield from _bounds(meta, len(value), path, "items")
        for i, item in enumerate(value):
            yield from _shape_problems(shape.member, item, f"{path}[{i}]")
    elif kind == "map":
        if not isinstance(value, dict):
            yield f"{path}: expected a map, got {type(value).__name__}"
            return
        yield from _bounds(meta, len(value), path, "entries")
        for key, item in value.items():
            yield from _shape_problems(shape.key, key, f"{path}<{key}>")
            yield from _shape_problems(shape.value, item, f"{path}.{key}")
    elif kind == "string":
        if not isinstance(value, str):
            yield f"{path}: expected a string, got {type(value).__name__}"
            return
        if shape.enum and value not in shape.enum:
            yield f"{path}: {value!r} is not one of {', '.join(shape.enum)}"
        yield from _bounds(meta, len(value), path, "characters")
        pattern = meta.get("pattern")
        if pattern and regex.fullmatch(pattern, value, flags=regex.DOTALL) is None:
            yield f"{path}: {value[:80]!r} does not match {pattern}"
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            yield f"{path}: expected an integer, got {value!r}"
            return
        yield from _bounds(meta, value, path, "")
    elif kind in ("double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            yield f"{path}: expected a number, got {value!r}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{path}: expected true or false, got {value!r}"


def _bounds(meta: dict[str, Any], size: int, path: str, unit: str) -> Iterator[str]:
    what = f"{size} {unit}".strip()
    if "min" in meta and size < meta["min"]:
        yield f"{path}: {what}, below the minimum {meta['min']}"
    if "max" in meta and size > meta["max"]:
        yield f"{path}: {what}, over the maximum {meta['max']}"
