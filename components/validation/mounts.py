"""Mounts of a job's container: tmpfs, EFS volumes and shared memory each need a path of
their own (Docker refuses two mounts at one path, and one over `/`), and tmpfs options
that are flags take no value (`noexec=yes` is refused when the container starts)."""

from __future__ import annotations

import posixpath

from ..aws import limits
from ..spec import JobDefinitionArgs, describe
from .context import Checks


def check_mounts(checks: Checks, path: str, jd: JobDefinitionArgs) -> None:
    mounts: list[tuple[str, str]] = []  # (field, container path), in the order the spec gives them
    if jd.shared_memory_mib is not None:
        mounts.append((f"{path}.shared_memory_mib", limits.SHARED_MEMORY_PATH))
    mounts += [(f"{path}.tmpfs[{i}].container_path", mount.container_path) for i, mount in enumerate(jd.tmpfs)]
    mounts += [(f"{path}.efs_volumes.{name}.container_path", volume.container_path)
               for name, volume in jd.efs_volumes.items()]
    taken: dict[str, str] = {}
    for field, container_path in mounts:
        if not container_path.startswith("/"):
            continue  # reported as not absolute
        normal = posixpath.normpath(container_path).replace("//", "/")
        if normal == "/":
            checks.fail(field, f"a mount over / would hide the image (the worker with it), got {describe(container_path)}")
        elif normal in taken:
            checks.fail(field, f"{normal} is also the mount of {taken[normal]}; each mount needs a path of its own")
        else:
            taken[normal] = field
    for i, mount in enumerate(jd.tmpfs):
        for j, option in enumerate(mount.mount_options):
            name, has_value, value = option.partition("=")
            if name not in limits.TMPFS_MOUNT_OPTIONS:
                continue  # reported as unknown
            field = f"{path}.tmpfs[{i}].mount_options[{j}]"
            if name in limits.TMPFS_VALUE_OPTIONS and not value:
                checks.fail(field, f"{name} takes a value ({name}=...), got {describe(option)}")
            elif name not in limits.TMPFS_VALUE_OPTIONS and has_value:
                checks.fail(field, f"{name} is a flag and takes no value, got {describe(option)}")
