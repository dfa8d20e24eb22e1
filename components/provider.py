"""WoveBatchCluster as a Pulumi component package, for programs in any language:
`pulumi package add <this repository>/provider` generates a TypeScript, Go, C#, Java or
Python SDK from the schema this provider serves.

Pulumi's component provider (`pulumi.provider.experimental`) infers the schema from the
component's args type. The args here are the typed frozen dataclasses of spec.py, which it
cannot read as they are (string annotations, Literal, tuple); SpecAnalyzer reads them the way
spec.py's parser does: Literal as an enum, tuple[X, ...] as a list, a field with a default as
optional, and each field's documentation as its description. The schema then gets each
field's default. Construct hands the component plain values (camelCase names mapped back,
whole floats where integers are meant): the component validates them like any other spec.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.metadata
import inspect
import json
import typing
from typing import Any, Literal, Optional

import pulumi
from pulumi.provider.experimental import analyzer as pulumi_analyzer
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.schema import generate_schema
from pulumi.provider.provider import ConstructResult, Provider
from pulumi.resource import ComponentResource, Resource, ResourceOptions
from pulumi.runtime import rpc

from . import spec
from .resources.cluster import PACKAGE, WoveBatchCluster

# The schema's version is the package's (pyproject.toml), never a second copy of it.
VERSION = importlib.metadata.version("wove-batch")

# The Literal aliases of spec.py, named as the schema's enums.
_NAMED_LITERALS: dict[Any, str] = {
    spec.ComputeEnvironmentType: "ComputeEnvironmentType",
    spec.State: "State",
    spec.AllocationStrategy: "AllocationStrategy",
    spec.CpuArchitecture: "CpuArchitecture",
    spec.ResultsMode: "ResultsMode",
}


class SpecAnalyzer(pulumi_analyzer.Analyzer):
    """Pulumi's analyzer, taught to read spec.py's dataclasses."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._enums: dict[str, type[enum.Enum]] = {}

    def analyze_component(self, component: type[ComponentResource]) -> pulumi_analyzer.ComponentDefinition:
        inputs, inputs_mapping = self.analyze_type(spec.WoveBatchClusterArgs, is_component_output=False)
        outputs, outputs_mapping = self.analyze_type(component, is_component_output=True)
        return pulumi_analyzer.ComponentDefinition(
            name=component.__name__,
            description=inspect.cleandoc(component.__doc__ or ""),
            inputs=inputs,
            inputs_mapping=inputs_mapping,
            outputs=outputs,
            outputs_mapping=outputs_mapping,
            module=component.__module__,
        )

    def analyze_type(self, typ: type, *, is_component_output: bool) -> tuple[dict[str, Any], dict[str, str]]:
        hints: dict[str, Any] = {}
        for cls in reversed(typ.__mro__):
            if cls in (object, Resource, ComponentResource):
                continue
            hints.update(inspect.get_annotations(cls, eval_str=True))
        hints = {k: v for k, v in hints.items() if not k.startswith("_")}
        defaulted = {f.name for f in dataclasses.fields(typ) if _has_default(f)} if dataclasses.is_dataclass(typ) else set()
        properties = {
            pulumi_analyzer.camel_case(k): self.analyze_property(
                v, typ, k, can_be_plain=not is_component_output, is_component_output=is_component_output,
                optional=True if k in defaulted else None,
            )
            for k, v in hints.items()
        }
        return properties, {pulumi_analyzer.camel_case(k): k for k in hints}

    def analyze_property(self, arg: Any, typ: type, name: str, **options: Any) -> Any:
        return super().analyze_property(self._readable(arg, typ, name), typ, name, **options)

    def _readable(self, arg: Any, typ: type, name: str) -> Any:
        origin, params = typing.get_origin(arg), typing.get_args(arg)
        if origin is Literal:
            enum_name = _NAMED_LITERALS.get(arg) or f"{typ.__name__.removesuffix('Args')}{_pascal(name)}"
            if enum_name not in self._enums:
                self._enums[enum_name] = enum.Enum(  # type: ignore[misc]
                    enum_name, {value: value for value in params}, type=str, module=spec.__name__
                )
            return self._enums[enum_name]
        if origin is tuple and len(params) == 2 and params[1] is Ellipsis:
            return list[params[0]]  # type: ignore[valid-type]
        return arg

    def get_docstring(self, typ: type, name: str) -> Optional[str]:
        if dataclasses.is_dataclass(typ):
            for f in dataclasses.fields(typ):
                if f.name == name:
                    return f.metadata.get("doc")
        return super().get_docstring(typ, name)


def _has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def schema_defaults() -> dict[str, dict[str, Any]]:
    """{schema type name: {camelCase property: default}} for every field whose default is a
    plain value (collections and sections default to empty: their descriptions say so)."""
    defaults: dict[str, dict[str, Any]] = {}
    for cls in (getattr(spec, n) for n in dir(spec) if n.endswith("Args")):
        if not dataclasses.is_dataclass(cls):
            continue
        for f in dataclasses.fields(cls):
            value = f.default if f.default is not dataclasses.MISSING else None
            if f.default_factory is not dataclasses.MISSING and f.name == "python_version":
                value = f.default_factory()  # type: ignore[misc]
            if isinstance(value, (str, int, float, bool)):
                defaults.setdefault(cls.__name__, {})[pulumi_analyzer.camel_case(f.name)] = value
    return defaults


class WoveBatchProvider(ComponentProvider):
    """The provider `provider/__main__.py` serves over gRPC."""

    def __init__(self, version: str = VERSION) -> None:
        # ComponentProvider.__init__ runs Pulumi's own analyzer; this is its body with SpecAnalyzer.
        self._name = PACKAGE
        self.analyzer = SpecAnalyzer(PACKAGE)
        result = self.analyzer.analyze([WoveBatchCluster])
        self._components = {WoveBatchCluster.__name__: WoveBatchCluster}
        self._component_defs = result["component_definitions"]
        self._type_defs = result["type_definitions"]
        self._external_enum_types = result["external_enum_types"]
        self._dependencies = sorted(result["dependencies"], key=lambda d: f"{d.name}{d.version}")
        schema = generate_schema(PACKAGE, version, None, self._component_defs, self._type_defs, self._dependencies).to_json()
        for type_name, defaults in schema_defaults().items():
            if type_name == "WoveBatchClusterArgs":
                properties = schema["resources"][f"{PACKAGE}:index:WoveBatchCluster"]["inputProperties"]
            else:
                properties = schema["types"][f"{PACKAGE}:index:{type_name}"]["properties"]
            for key, value in defaults.items():
                properties[key]["default"] = value
        Provider.__init__(self, version, json.dumps(schema))

    def construct(self, name: str, resource_type: str, inputs: Any, options: Optional[ResourceOptions] = None) -> Any:
        """Outputs (another resource's subnet ids, a policy ARN, a whole section) and secrets,
        anywhere in the inputs, become their values before the component validates them; the
        component then depends on the resources they came from, and its outputs are secret
        when any input was. In a preview, an input not known yet (a resource this preview
        would create) leaves the cluster unplanned until `up`, with a warning naming it."""
        resolved = resolve_inputs(inputs)
        if resolved.unknown:
            pulumi.log.warn(f"{name}: planned once {', '.join(resolved.unknown)} are known (at `pulumi up`)")
            shell = ComponentResource(f"{PACKAGE}:index:WoveBatchCluster", name, None, options)
            return ConstructResult(shell.urn, {})
        if resolved.dependencies:
            options = ResourceOptions.merge(options, ResourceOptions(depends_on=list(resolved.dependencies)))
        result = super().construct(name, resource_type, resolved.value, options)
        if resolved.secret:
            result = ConstructResult(result.urn, {key: pulumi.Output.secret(value) for key, value in result.state.items()})
        return result

    def map_inputs(self, inputs: Any, component_def: Any) -> Any:
        return _plain(super().map_inputs(inputs, component_def))


@dataclasses.dataclass
class ResolvedInputs:
    value: Any
    secret: bool = False
    dependencies: set = dataclasses.field(default_factory=set)
    unknown: list[str] = dataclasses.field(default_factory=list)


def resolve_inputs(inputs: Any) -> ResolvedInputs:
    """Plain values for Outputs and secrets at any depth. The provider server hands Construct
    Outputs whose data is already there (rpc.deserialize_output_value, _select_value)."""
    found = ResolvedInputs(None)

    def visit(value: Any, path: str) -> Any:
        if isinstance(value, pulumi.Output):
            data = value._data  # resolved by the server before Construct is called
            if not data.done():
                found.unknown.append(path or "inputs")
                return None
            data = data.result()
            found.secret |= data.is_secret
            found.dependencies |= set(data.resources)
            if not data.is_known or rpc.contains_unknowns(data.value):
                found.unknown.append(path or "inputs")
                return None
            return visit(data.value, path)
        if rpc.is_rpc_secret(value):
            found.secret = True
            return visit(rpc.unwrap_rpc_secret(value), path)
        if isinstance(value, dict):
            return {key: visit(item, f"{path}.{key}" if path else key) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [visit(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if rpc.contains_unknowns(value):
            found.unknown.append(path or "inputs")
            return None
        return value

    found.value = visit(inputs, "")
    return found


def _plain(value: Any) -> Any:
    """Inputs as the component takes them: the schema's enums as their values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
