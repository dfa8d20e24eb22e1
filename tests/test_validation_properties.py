"""Properties of validation over generated specs: what is valid is accepted and plans; a valid
spec with one field made invalid is refused naming that field."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_stack
from wove_batch.tools.plan import run_stack
from wove_batch.validation import validate_cluster

NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,11}", fullmatch=True)
FAMILIES = {"x86_64": ["m6i", "c6i", "r6i", "m5", "c5"], "arm64": ["m6g", "c6g", "r6g", "m7g"]}
EC2_SIZES = [(1, 2048), (2, 4096), (4, 8192), (1, 512)]


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, Any]:
    architecture = draw(st.sampled_from(sorted(FAMILIES)))
    environments = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    compute = {}
    for name in environments:
        maximum = draw(st.integers(4, 512))
        compute[name] = {
            "type": draw(st.sampled_from(["EC2", "SPOT"])),
            "instance_types": draw(st.lists(st.sampled_from(FAMILIES[architecture]), min_size=1, max_size=3, unique=True)),
            "min_vcpus": draw(st.integers(0, maximum)),
            "max_vcpus": maximum,
        }
    queues = {
        name: {"priority": draw(st.integers(0, 1000)),
               "compute_environments": draw(st.lists(st.sampled_from(environments), min_size=1, max_size=3, unique=True))}
        for name in draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    }
    definitions = {}
    for name in draw(st.lists(NAMES, min_size=1, max_size=3, unique=True)):
        vcpus, memory = draw(st.sampled_from(EC2_SIZES))
        definitions[name] = {"vcpus": vcpus, "memory": memory,
                             "environment": draw(st.dictionaries(st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True),
                                                                 st.text(st.characters(codec="ascii"), max_size=20),
                                                                 max_size=3))}
        if draw(st.booleans()):
            definitions[name]["retry_attempts"] = draw(st.integers(1, 10))
    wove = {f"env-{i}": {"job_queue": queue, "job_definition": draw(st.sampled_from(sorted(definitions)))}
            for i, queue in enumerate(queues)}
    return {
        "image": {"python_version": draw(st.sampled_from(["3.10", "3.11", "3.12"]))},
        "compute_environments": compute,
        "job_queues": queues,
        "job_definitions": definitions,
        "wove_environments": wove,
        "tags": draw(st.dictionaries(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
                                     st.from_regex(r"[a-z0-9 ]{0,10}", fullmatch=True), max_size=5)),
    }


@settings(max_examples=60, deadline=None)
@given(valid_specs())
def test_generated_valid_specs_are_accepted(spec: dict[str, Any]) -> None:
    assert validate_cluster(spec, "wove-prop")[1] == []


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_specs())
def test_generated_valid_specs_plan(spec: dict[str, Any]) -> None:
    plan = run_stack(make_stack(spec, name="wove-prop"))
    assert set(plan.outputs["job_queues"]) == set(spec["job_queues"])
    assert set(plan.outputs["wove_environments"]) == set(spec["wove_environments"])


# (where, bad value): each makes a valid spec invalid at exactly that field.
MUTATIONS: list[tuple[str, Any]] = [
    ("compute_environments.*.max_vcpus", 0),
    ("compute_environments.*.max_vcpus", 2**31),
    ("compute_environments.*.min_vcpus", -1),
    ("compute_environments.*.instance_types", ["m5.superlarge"]),
    ("compute_environments.*.type", "GPU"),
    ("job_queues.*.priority", -5),
    ("job_queues.*.compute_environments", ["nowhere"]),
    ("job_definitions.*.memory", 2),
    ("job_definitions.*.retry_attempts", 11),
    ("job_definitions.*.platform_version", "1.4.0"),
    ("job_definitions.*.environment", {"AWS_BATCH_JOB_ID": "x"}),
    ("wove_environments.*.job_queue", "nowhere"),
    ("image.python_version", "3.99"),
    ("tags", {"aws:owner": "me"}),
]


def mutate(spec: dict[str, Any], where: str, value: Any, pick: int) -> str:
    """Set `value` at `where` (`*`: the pick-th entry of that section); the path it set."""
    parts = where.split(".")
    node: Any = spec
    path: list[str] = []
    for part in parts[:-1]:
        if part == "*":
            part = sorted(node)[pick % len(node)]
        node = node[part]
        path.append(part)
    node[parts[-1]] = value
    return ".".join(path + [parts[-1]])


@settings(max_examples=150, deadline=None)
@given(valid_specs(), st.sampled_from(MUTATIONS), st.integers(0, 10))
def test_one_invalid_field_is_refused_naming_it(spec: dict[str, Any], mutation: tuple[str, Any], pick: int) -> None:
    broken = copy.deepcopy(spec)
    path = mutate(broken, *mutation, pick)
    errors = validate_cluster(broken, "wove-prop")[1]
    assert errors, path
    assert any(error.path == path or error.path.startswith((path + ".", path + "[")) for error in errors), (
        path, [str(error) for error in errors])
