"""Properties of validation over generated specs: what is valid is accepted and plans; a valid
spec with one field made invalid is refused naming that field."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import make_stack
from wove_batch.aws.limits import LOG_RETENTION_DAYS
from wove_batch.tools.plan import run_stack
from wove_batch.validation import validate_cluster

NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,11}", fullmatch=True)
SSM_NAMES = st.lists(st.from_regex(r"[A-Za-z0-9_.-]{1,8}", fullmatch=True), min_size=1, max_size=15).map(
    lambda levels: "/" + "/".join(levels)).filter(lambda name: not name[1:].lower().startswith(("aws", "ssm")))
TMPFS_OPTIONS = st.lists(st.sampled_from(["noexec", "nosuid", "nodev", "mode=1777", "uid=1000", "ro"]), unique=True,
                         max_size=3)


@st.composite
def mounts_and_secrets(draw: st.DrawFn) -> dict[str, Any]:
    """tmpfs mounts at paths of their own (none at / or /dev/shm), shared memory, SSM secrets."""
    paths = draw(st.lists(st.from_regex(r"/[a-z]{1,8}(/[a-z]{1,8})?", fullmatch=True), unique=True, max_size=3))
    fields: dict[str, Any] = {
        "tmpfs": [{"container_path": path, "size_mib": draw(st.integers(1, 512)), "mount_options": draw(TMPFS_OPTIONS)}
                  for path in paths if not path.startswith("/dev")],
        "secrets": {f"S{i}": name for i, name in enumerate(draw(st.lists(SSM_NAMES, max_size=2)))},
    }
    if draw(st.booleans()):
        fields["shared_memory_mib"] = draw(st.integers(1, 512))
    return fields


@st.composite
def share_weights(draw: st.DrawFn) -> dict[str, float]:
    """Share identifiers AWS takes, none overlapping: T<n> ones, and at most one P* prefix."""
    shares = {f"T{i}": draw(st.sampled_from([0.5, 1, 2])) for i in range(draw(st.integers(0, 3)))}
    if draw(st.booleans()):
        shares["P*"] = 1
    return shares
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
        definitions[name].update(draw(mounts_and_secrets()))
    shared = draw(st.sampled_from(sorted(queues)))
    if draw(st.booleans()):
        queues[shared]["fair_share"] = {"shares": draw(share_weights())}
    wove = {f"env-{i}": {"job_queue": queue, "job_definition": draw(st.sampled_from(sorted(definitions)))}
            for i, queue in enumerate(queues)}
    for environment in wove.values():
        if "fair_share" in queues[environment["job_queue"]]:
            environment["share_identifier"] = draw(st.from_regex(r"[A-Za-z0-9]{1,20}\*?", fullmatch=True))
    extra: dict[str, Any] = {"logs": {"retention_days": draw(st.sampled_from(LOG_RETENTION_DAYS))}, "job_role": {}}
    if draw(st.booleans()):
        octets = draw(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(1, 254)))
        extra["callback"] = {"base_url": "http://10.{}.{}.{}:8787".format(*octets)}
    return {**extra,
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
    # issue 23
    ("job_queues.*.fair_share", {"shares": {"team-a": 1}}),
    ("job_queues.*.fair_share", {"shares": {"A*": 1, "AB": 1}}),
    ("wove_environments.*.share_identifier", "a_b"),
    ("job_definitions.*.tmpfs", [{"container_path": "/", "size_mib": 1}]),
    ("job_definitions.*.tmpfs", [{"container_path": "/dev/shm", "size_mib": 1}, {"container_path": "/dev/shm/", "size_mib": 1}]),
    ("job_definitions.*.tmpfs", [{"container_path": "/t", "size_mib": 1, "mount_options": ["noexec=yes"]}]),
    ("job_definitions.*.secrets", {"S": "arn:aws:secretsmanager:us-east-1:123456789012:secret:a b"}),
    ("job_definitions.*.secrets", {"S": "arn:aws-moon:ssm:us-east-1:123456789012:parameter/a"}),
    ("job_definitions.*.secrets", {"S": "/l" * 16}),
    ("compute_environments.*.instance_types", ["mac2.metal"]),
    ("compute_environments.*.instance_types", ["t1.micro"]),
    ("callback", {"base_url": "http://169.254.169.254/"}),
    ("callback", {"base_url": "http://localhost.:8787"}),
    ("tags", {"a\nb": "x"}),
    ("image.python_version", "3.9"),
    ("image.context", "../.."),
    ("logs.retention_days", 2),
    ("job_role.managed_policy_arns", [f"arn:aws:iam::aws:policy/P{i}" for i in range(11)]),
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
