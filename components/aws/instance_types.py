"""CPU architecture and nominal size of EC2 instance types, without calling AWS.

Batch refuses a compute environment that mixes arm64 and x86_64 instance types, and a job
whose vCPUs, memory or GPUs exceed every instance type of its queue sits in RUNNABLE forever.
Both are decided here from the instance type's name alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Optional

Architecture = Literal["x86_64", "arm64"]

# Keywords Batch accepts in place of instance types.
# https://docs.aws.amazon.com/batch/latest/APIReference/API_ComputeResource.html (instanceTypes)
KEYWORD_ARCHITECTURES: dict[str, Architecture] = {
    "optimal": "x86_64",
    "default_x86_64": "x86_64",
    "default_arm64": "arm64",
}

# "m6gd.2xlarge" -> class "m", generation "6", attributes "gd", size "2xlarge"; after a dash the
# attributes may hold digits: "p6-b200.48xlarge" -> attributes "-b200".
_INSTANCE_TYPE = re.compile(
    r"^(?P<cls>[a-z]+)(?P<gen>\d+)(?P<attrs>(?:[a-z]|-[a-z0-9]+)*)(?:\.(?P<size>[a-z0-9]+))?$")

# GiB of memory per vCPU by instance class, for the fit check (nominal sizes).
# https://aws.amazon.com/ec2/instance-types/
_GIB_PER_VCPU: dict[str, float] = {
    "a": 2, "c": 2, "m": 4, "r": 8, "x": 16, "z": 8, "i": 8, "im": 4, "is": 6, "d": 8,
    "g": 4, "gr": 8, "p": 7.5, "inf": 2, "trn": 16, "hpc": 4,
}

# Burstable t-family sizes: (vCPUs, GiB) of t3/t3a/t4g; t2's small sizes have 1 vCPU.
# https://aws.amazon.com/ec2/instance-types/t3/ and /t2/
_T_SIZES: dict[str, tuple[int, float]] = {
    "nano": (2, 0.5), "micro": (2, 1), "small": (2, 2), "medium": (2, 4),
    "large": (2, 8), "xlarge": (4, 16), "2xlarge": (8, 32),
}
_T2_VCPUS = {"nano": 1, "micro": 1, "small": 1}

# GPUs of the GPU instance types Batch is used with; other sizes of these families have 1.
# https://aws.amazon.com/ec2/instance-types/#Accelerated_Computing
_GPUS: dict[str, int] = {
    "g4dn.12xlarge": 4, "g4dn.metal": 8,
    "g5.12xlarge": 4, "g5.24xlarge": 4, "g5.48xlarge": 8,
    "g6.12xlarge": 4, "g6.24xlarge": 4, "g6.48xlarge": 8,
    "g5g.16xlarge": 2, "g5g.metal": 2,
    "p3.2xlarge": 1, "p3.8xlarge": 4, "p3.16xlarge": 8, "p3dn.24xlarge": 8,
    "p4d.24xlarge": 8, "p4de.24xlarge": 8, "p5.48xlarge": 8,
    "p2.8xlarge": 8, "p2.16xlarge": 16, "p5e.48xlarge": 8, "p5en.48xlarge": 8,
    "p6-b200.48xlarge": 8, "p6-b300.48xlarge": 8, "p6e-gb200.36xlarge": 4,
}
_GPU_CLASSES = ("g", "gr", "p")


@dataclass(frozen=True)
class InstanceSize:
    """Nominal resources of one instance type (ECS reserves part of the memory)."""

    vcpus: int
    memory_mib: int
    gpus: int


@lru_cache(maxsize=1)
def ec2_instance_types() -> frozenset[str]:
    """Every instance type EC2 knows: botocore's EC2 service model, its `InstanceType` enum
    (1,437 names in botocore 1.44; it grows with every release, so upgrading botocore is how
    a new type becomes known here)."""
    import botocore.session

    return frozenset(botocore.session.get_session().get_service_model("ec2").shape_for("InstanceType").enum)


@lru_cache(maxsize=1)
def ec2_families() -> dict[str, tuple[str, ...]]:
    """Each family ("m6i") with its instance types, from ec2_instance_types()."""
    families: dict[str, list[str]] = {}
    for name in sorted(ec2_instance_types()):
        families.setdefault(family_of(name), []).append(name)
    return {family: tuple(names) for family, names in families.items()}


def is_known(instance_type: str) -> bool:
    """A keyword, a family or a type that EC2 has (per botocore's model)."""
    if instance_type in KEYWORD_ARCHITECTURES:
        return True
    return instance_type in ec2_instance_types() if "." in instance_type else instance_type in ec2_families()


def sizes_of(instance_type: str) -> Optional[list[tuple[str, InstanceSize]]]:
    """The nominal sizes a type or family may launch, by type name; None when unknown (a
    keyword, or a family none of whose sizes this table knows: no fit check then)."""
    if instance_type in KEYWORD_ARCHITECTURES:
        return None
    members = (instance_type,) if "." in instance_type else ec2_families().get(instance_type, ())
    known = [(member, size) for member in members if (size := size_of(member)) is not None]
    return known or None


def is_well_formed(instance_type: str) -> bool:
    """True for a keyword, a family ("m6g") or a type ("m6g.large")."""
    return instance_type in KEYWORD_ARCHITECTURES or _INSTANCE_TYPE.match(instance_type) is not None


def architecture_of(instance_type: str) -> Architecture:
    """arm64 for Graviton families (a1 and any family whose attributes hold "g": m6g, c7gn,
    x2gd, im4gn, is4gen, g5g, hpc7g, t4g), x86_64 for everything else (g4dn, g5, p4d, u-*)."""
    if instance_type in KEYWORD_ARCHITECTURES:
        return KEYWORD_ARCHITECTURES[instance_type]
    match = _INSTANCE_TYPE.match(instance_type)
    if match is None:
        return "x86_64"
    if match["cls"] == "a" and match["gen"] == "1":
        return "arm64"
    return "arm64" if "g" in match["attrs"] else "x86_64"


def size_of(instance_type: str) -> Optional[InstanceSize]:
    """Nominal vCPUs, memory and GPUs of a sized instance type; None when it is a keyword,
    a bare family, a metal size or a class this table does not know (no fit check then)."""
    match = _INSTANCE_TYPE.match(instance_type)
    if match is None or match["size"] is None:
        return None
    cls, size = match["cls"], match["size"]
    if cls == "t":
        if size not in _T_SIZES:
            return None
        vcpus, gib = _T_SIZES[size]
        if match["gen"] == "2":
            vcpus = _T2_VCPUS.get(size, vcpus)
        return InstanceSize(vcpus, int(gib * 1024), 0)
    vcpus = _vcpus_of_size(size)
    if vcpus is None or cls not in _GIB_PER_VCPU:
        return None
    gpus = _GPUS.get(instance_type, 1) if cls in _GPU_CLASSES else 0
    return InstanceSize(vcpus, int(vcpus * _GIB_PER_VCPU[cls] * 1024), gpus)


def is_gpu_type(instance_type: str) -> bool:
    """True for GPU families (g4dn, g5, g5g, gr6, p3, p4d, p5)."""
    match = _INSTANCE_TYPE.match(instance_type)
    return match is not None and match["cls"] in _GPU_CLASSES


def family_of(instance_type: str) -> str:
    """`g4dn` of `g4dn.xlarge`; the keyword itself for optimal and default_*."""
    return instance_type.split(".", 1)[0]


# GPU families the ECS-optimized AL2023 NVIDIA AMI (ECS_AL2023_NVIDIA) cannot run, and why.
# Batch's Ec2Configuration: ECS_AL2023_NVIDIA "doesn't support p3 and g3 instance types" and
# serves "non Graviton-based instance types" only; g4ad carries AMD GPUs, not NVIDIA's. The
# AL2 NVIDIA AMI that p3/g3 would need is one Batch no longer creates environments with
# (from June 30, 2026).
# https://docs.aws.amazon.com/batch/latest/APIReference/API_Ec2Configuration.html
NVIDIA_AMI_UNSUPPORTED: dict[str, str] = {
    # K80 (Kepler): NVIDIA's drivers dropped it after the 470 branch; AL2023's drivers are newer.
    # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/install-nvidia-driver.html
    "p2": "p2 has NVIDIA K80 GPUs, which the drivers of the AL2023 NVIDIA AMI no longer support",
    "p3": "ECS_AL2023_NVIDIA does not support p3, and Batch no longer creates environments on the AL2 GPU AMI",
    "p3dn": "ECS_AL2023_NVIDIA does not support p3, and Batch no longer creates environments on the AL2 GPU AMI",
    "g3": "ECS_AL2023_NVIDIA does not support g3, and Batch no longer creates environments on the AL2 GPU AMI",
    "g3s": "ECS_AL2023_NVIDIA does not support g3, and Batch no longer creates environments on the AL2 GPU AMI",
    "g4ad": "g4ad has AMD GPUs; the ECS GPU AMIs carry NVIDIA's drivers only",
}


def nvidia_ami_problem(instance_type: str) -> str | None:
    """Why the ECS NVIDIA AMI cannot run this GPU type, or None (also for non-GPU types)."""
    if not is_gpu_type(instance_type):
        return None
    family = family_of(instance_type)
    if family in NVIDIA_AMI_UNSUPPORTED:
        return NVIDIA_AMI_UNSUPPORTED[family]
    if architecture_of(instance_type) == "arm64":
        return f"{family} is Graviton (arm64); the ECS NVIDIA AMIs serve x86_64 types only"
    return None


def _vcpus_of_size(size: str) -> Optional[int]:
    if size == "medium":
        return 1
    if size == "large":
        return 2
    if size == "xlarge":
        return 4
    multiple = re.fullmatch(r"(\d+)xlarge", size)
    return 4 * int(multiple[1]) if multiple else None


def botocore_version() -> str:
    import botocore

    return str(botocore.__version__)
