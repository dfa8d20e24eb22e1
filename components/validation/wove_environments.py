"""Wove environments: each pairs a queue with a job definition that can run on it: the same
platform and architecture, a share identifier exactly where the queue has fair share, and
a job that fits at least one instance type."""

from __future__ import annotations

import re
from typing import Optional

from ..aws.instance_types import InstanceSize, sizes_of
from ..spec import ComputeEnvironmentArgs, JobDefinitionArgs, describe
from ..topology import (
    definition_architecture,
    queue_architecture,
    queue_environments,
    queue_platform,
    wove_environments,
)
from ..aws import limits
from .context import Checks, fmt
from .names import check_wove_environment_names

# A definition serving Wove runs one of these (the image's entry is its command).
WORKER_MODULES = ("wove_batch.worker", "wove.backend_worker")

_SHARE_ID = re.compile(limits.SHARE_IDENTIFIER_PATTERN)


def check_wove_environments(checks: Checks) -> None:
    definitions = list(checks.args.job_definitions) + sorted(
        name for section, name in checks.broken if section == "job_definitions" and name not in checks.args.job_definitions
    )
    if not checks.args.wove_environments and len(definitions) > 1:
        checks.fail("wove_environments", f"required when there is more than one job definition ({', '.join(definitions)})")
        return
    explicit = bool(checks.args.wove_environments)
    check_wove_environment_names(checks, wove_environments(checks.args), explicit)
    for name, env in wove_environments(checks.args).items():
        path = f"wove_environments.{name}"
        known = True
        if not checks.defined("job_queues", env.job_queue):
            checks.undefined(f"{path}.job_queue", "job_queues", "job queue", env.job_queue)
            known = False
        if not checks.defined("job_definitions", env.job_definition):
            checks.undefined(f"{path}.job_definition", "job_definitions", "job definition", env.job_definition)
            known = False
        if env.results == "callback" and checks.args.callback is None:
            checks.fail(
                f"{path}.results",
                "callback needs the stack's callback.base_url (where jobs reach the submitter); "
                "without one, results come back through the exchange bucket (results: exchange)",
            )
        queue = checks.args.job_queues.get(env.job_queue)
        if queue is not None:
            share_identifier(checks, path, env.share_identifier, queue.fair_share is not None, env.job_queue)
        if known and env.job_queue in checks.args.job_queues and env.job_definition in checks.args.job_definitions:
            pairing(checks, path if explicit else f"job_queues.{env.job_queue}", env.job_queue, env.job_definition)
    served: dict[str, set[str]] = {}
    for env in wove_environments(checks.args).values():
        if env.job_queue in checks.args.job_queues:
            platform = queue_platform(checks.args, env.job_queue)
            if platform:
                served.setdefault(env.job_definition, set()).add(platform)
    for definition in sorted({env.job_definition for env in wove_environments(checks.args).values()}):
        jd = checks.args.job_definitions.get(definition)
        # Its own image knows nothing of ours: the definition must name the worker itself (the
        # cluster's image may run a wrapper of the user's, which cannot be checked here).
        if jd is not None and (jd.image_uri or jd.image_context) and jd.command and not any(
                worker in " ".join(jd.command) for worker in WORKER_MODULES):
            checks.fail(f"job_definitions.{definition}.command",
                        f"serves a Wove environment with its own image, so it must run the worker (python -m "
                        f"wove_batch.worker, installed in that image), got {describe(list(jd.command))}")
    for definition, platforms in served.items():
        if len(platforms) > 1:
            checks.fail(
                f"job_definitions.{definition}",
                "serves both EC2/SPOT and FARGATE queues; a job definition is for one platform",
            )


def share_identifier(checks: Checks, path: str, identifier: Optional[str], fair_share: bool, queue: str) -> None:
    """Batch refuses a job without a share identifier on a fair-share queue, and one with
    a share identifier anywhere else."""
    if fair_share and identifier is None:
        if checks.args.wove_environments:
            checks.fail(f"{path}.share_identifier", f"required: queue {queue!r} has a fair-share policy")
        else:
            checks.fail("wove_environments", f"required: queue {queue!r} has a fair-share policy, so its environment needs a share_identifier")
    elif not fair_share and identifier is not None:
        checks.fail(f"{path}.share_identifier", f"queue {queue!r} has no fair-share policy; Batch refuses a share identifier there")
    elif identifier is not None and not _SHARE_ID.fullmatch(identifier):
        checks.fail(f"{path}.share_identifier", f"expected up to 255 letters or digits, optionally followed by '*' "
                                                f"(AWS's share identifiers), got {describe(identifier)}")


def pairing(checks: Checks, path: str, queue_name: str, definition_name: str) -> None:
    queue = checks.args.job_queues[queue_name]
    if checks.is_broken("job_definitions", definition_name) or any(
        checks.is_broken("compute_environments", ce) for ce in queue.compute_environments
    ):
        return  # built from defaults where the user's value was bad: no conclusion
    jd = checks.args.job_definitions[definition_name]
    if jd.architecture is None and len(checks.architectures) > 1:
        return  # reported on the definition: it must name its architecture
    queue_arch = queue_architecture(checks.args, queue_name)
    arch = definition_architecture(checks.args, jd, checks.architectures)
    if queue_arch is not None and arch != queue_arch:
        checks.fail(path, f"job definition {definition_name!r} runs on {arch} but queue {queue_name!r} runs {queue_arch}")
        return
    if queue_platform(checks.args, queue_name) != "EC2":
        return
    # Environments already reported as broken (no capacity, no instance types) prove nothing.
    environments = [ce for ce in queue_environments(checks.args, queue_name) if ce.max_vcpus >= 1 and ce.instance_types]
    if not environments or any(_fits(jd, ce) for ce in environments):
        return
    # The job is within max_vcpus, but every instance that holds it is past it.
    beyond = [(t, size) for ce in environments if jd.vcpus <= ce.max_vcpus
              for t, size in _fitting_sizes(jd, ce) if size.vcpus > ce.max_vcpus]
    if beyond:
        smallest, size = min(beyond, key=lambda pair: pair[1].vcpus)
        checks.fail(path, f"job definition {definition_name!r} ({fmt(jd.vcpus)} vCPU, {jd.memory} MiB, {jd.gpus} GPU) "
                          f"fits only {smallest} ({size.vcpus} vCPU) and larger, above max_vcpus "
                          f"{max(ce.max_vcpus for ce in environments)} of the environments of queue {queue_name!r}; "
                          "with BEST_FIT Batch launches no instance past max_vcpus, so its jobs would stay RUNNABLE")
        return
    largest = max(
        (pair for ce in environments for t in ce.instance_types for pair in sizes_of(t) or ()),
        key=lambda pair: (pair[1].gpus, pair[1].vcpus, pair[1].memory_mib),
        default=None,
    )
    where = ""
    if largest is not None:
        size = largest[1]
        where = f"; largest: {largest[0]} with {size.vcpus} vCPU, {size.memory_mib} MiB, {size.gpus} GPU"
    max_vcpus = max(ce.max_vcpus for ce in environments) if environments else 0
    checks.fail(
        path,
        f"job definition {definition_name!r} ({fmt(jd.vcpus)} vCPU, {jd.memory} MiB, {jd.gpus} GPU) fits no "
        f"instance type of queue {queue_name!r} (max_vcpus {max_vcpus}{where}); its jobs would stay RUNNABLE",
    )


def _fits(jd: JobDefinitionArgs, ce: ComputeEnvironmentArgs) -> bool:
    """Some instance type of the environment takes the job, and Batch may launch it: with
    BEST_FIT, within max_vcpus; else at most one instance past it."""
    if jd.vcpus > ce.max_vcpus:
        return False
    strict = ce.allocation_strategy in limits.STRICT_MAX_VCPUS_STRATEGIES and ce.type == "EC2"
    for instance_type in ce.instance_types:
        if sizes_of(instance_type) is None:
            return True  # a keyword, or sizes this table does not know: Batch decides
    return any(size.vcpus <= ce.max_vcpus or not strict for _, size in _fitting_sizes(jd, ce))


def _fitting_sizes(jd: JobDefinitionArgs, ce: ComputeEnvironmentArgs) -> list[tuple[str, InstanceSize]]:
    """The environment's known sizes that hold the job (vCPUs, memory, GPUs)."""
    return [(name, size) for instance_type in ce.instance_types for name, size in sizes_of(instance_type) or ()
            if jd.vcpus <= size.vcpus and jd.memory <= size.memory_mib and jd.gpus <= size.gpus]
