"""Property-based tests of the architecture classifier and the vCPU/memory rules."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from wove_batch.aws import limits
from wove_batch.aws.instance_types import architecture_of, is_well_formed, size_of
from wove_batch.validation import validate_cluster
from conftest import MINIMAL

SIZES = st.sampled_from(["medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "metal"])
CLASSES = st.sampled_from(["m", "c", "r", "x", "i", "im", "is", "g", "hpc", "z", "t", "d"])
GENERATIONS = st.integers(min_value=2, max_value=9).map(str)
X86_ATTRS = st.sampled_from(["", "i", "a", "n", "d", "dn", "id", "in", "idn", "e", "zn", "ad", "i-flex", "iedn"])
ARM_ATTRS = st.sampled_from(["g", "gd", "gn", "gen", "gdn"])


@given(CLASSES, GENERATIONS, ARM_ATTRS, SIZES)
def test_graviton_families_are_arm64(cls: str, gen: str, attrs: str, size: str) -> None:
    family = f"{cls}{gen}{attrs}"
    assert architecture_of(family) == "arm64"
    assert architecture_of(f"{family}.{size}") == "arm64"
    assert is_well_formed(f"{family}.{size}")


@given(CLASSES, GENERATIONS, X86_ATTRS, SIZES)
def test_other_families_are_x86_64(cls: str, gen: str, attrs: str, size: str) -> None:
    assert architecture_of(f"{cls}{gen}{attrs}.{size}") == "x86_64"


def test_named_examples() -> None:
    arm = ["a1.large", "t4g.micro", "m6g", "m7g.large", "c7gn.xlarge", "r8g", "x2gd.large", "im4gn.large",
           "is4gen.xlarge", "g5g.xlarge", "hpc7g.16xlarge", "default_arm64"]
    x86 = ["g4dn.xlarge", "g5.2xlarge", "p4d.24xlarge", "m5.large", "c6i", "optimal", "default_x86_64", "inf2.xlarge"]
    assert {t: architecture_of(t) for t in arm} == {t: "arm64" for t in arm}
    assert {t: architecture_of(t) for t in x86} == {t: "x86_64" for t in x86}


@given(st.sampled_from(["m", "c", "r"]), GENERATIONS, st.integers(min_value=1, max_value=24))
def test_sizes_follow_the_class_ratio(cls: str, gen: str, multiple: int) -> None:
    size = size_of(f"{cls}{gen}.{multiple}xlarge")
    assert size is not None
    assert size.vcpus == 4 * multiple
    assert size.memory_mib == size.vcpus * {"m": 4, "c": 2, "r": 8}[cls] * 1024
    assert size.gpus == 0


def _fargate_errors(vcpus: float, memory: int) -> list[str]:
    cluster = {
        **MINIMAL,
        "compute_environments": {"fg": {"type": "FARGATE", "max_vcpus": 64}},
        "job_queues": {"main": {"compute_environments": ["fg"]}},
        "job_definitions": {"worker": {"vcpus": vcpus, "memory": memory}},
    }
    return [str(e) for e in validate_cluster(cluster, "wove-test")[1]]


FARGATE_PAIRS = [(v, m) for v, memories in limits.FARGATE_MEMORY_BY_VCPU.items() for m in memories]


@given(st.sampled_from(FARGATE_PAIRS))
def test_every_fargate_combination_is_accepted(pair: tuple[float, int]) -> None:
    assert _fargate_errors(*pair) == []


@given(st.sampled_from(sorted(limits.FARGATE_MEMORY_BY_VCPU)), st.integers(min_value=1, max_value=200_000))
def test_fargate_memory_outside_the_table_is_the_only_error(vcpus: float, memory: int) -> None:
    errors = _fargate_errors(vcpus, memory)
    if memory in limits.FARGATE_MEMORY_BY_VCPU[vcpus]:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith("job_definitions.worker.memory: Fargate with ")


@given(st.integers(min_value=1, max_value=64), st.integers(min_value=4, max_value=600_000))
def test_ec2_job_fits_iff_some_instance_type_holds_it(vcpus: int, memory: int) -> None:
    instance_types = ["c6i.2xlarge", "r6i.4xlarge"]  # 8 vCPU/16 GiB and 16 vCPU/128 GiB
    cluster = {
        **MINIMAL,
        "compute_environments": {"cpu": {"type": "EC2", "instance_types": instance_types, "max_vcpus": 64}},
        "job_definitions": {"worker": {"vcpus": vcpus, "memory": memory}},
    }
    errors = [str(e) for e in validate_cluster(cluster, "wove-test")[1]]
    fits = any(vcpus <= s.vcpus and memory <= s.memory_mib for s in map(size_of, instance_types) if s)
    assert (errors == []) == fits
    if not fits:
        assert errors[0].endswith("its jobs would stay RUNNABLE")


@given(st.floats(min_value=0.01, max_value=64).filter(lambda v: not float(v).is_integer()))
def test_ec2_takes_only_whole_vcpus(vcpus: float) -> None:
    cluster = {**MINIMAL, "job_definitions": {"worker": {"vcpus": vcpus, "memory": 2048}}}
    errors = [str(e) for e in validate_cluster(cluster, "wove-test")[1]]
    assert errors[0] == f"job_definitions.worker.vcpus: must be a whole number of at least 1 on EC2, got {vcpus}"
