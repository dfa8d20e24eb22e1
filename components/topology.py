"""Facts derived from cluster arguments that both validation and the component need:
the CPU architecture and platform of every environment, queue and job definition, and the
effective Wove environments."""

from __future__ import annotations

from typing import Literal, Optional

from .aws import limits
from .aws.instance_types import Architecture, architecture_of, is_gpu_type
from .spec import ComputeEnvironmentArgs, JobDefinitionArgs, WoveBatchClusterArgs, WoveEnvironmentArgs

Platform = Literal["EC2", "FARGATE"]

FARGATE_TYPES = ("FARGATE", "FARGATE_SPOT")


def platform_of_environment(ce: ComputeEnvironmentArgs) -> Platform:
    """FARGATE for FARGATE and FARGATE_SPOT, EC2 for EC2 and SPOT."""
    return "FARGATE" if ce.type in FARGATE_TYPES else "EC2"


def takes_update_policy(ce: ComputeEnvironmentArgs) -> bool:
    """Batch updates infrastructure in place (so an update policy means something) only for
    EC2/SPOT environments with BEST_FIT_PROGRESSIVE or SPOT_* allocation."""
    return platform_of_environment(ce) == "EC2" and ce.allocation_strategy in limits.INFRASTRUCTURE_UPDATE_STRATEGIES


def has_gpu_types(ce: ComputeEnvironmentArgs) -> bool:
    return any(is_gpu_type(t) for t in ce.instance_types)


def root_volume_gib(ce: ComputeEnvironmentArgs) -> int:
    """The configured size, else room for the NVIDIA AMI on GPU types and 30 GiB elsewhere."""
    if ce.root_volume_gib is not None:
        return ce.root_volume_gib
    return limits.GPU_ROOT_VOLUME_GIB_DEFAULT if has_gpu_types(ce) else limits.ROOT_VOLUME_GIB_DEFAULT


def needs_spot_fleet_role(ce: ComputeEnvironmentArgs) -> bool:
    """AWS requires a Spot fleet role for SPOT with BEST_FIT, which is also the default."""
    return ce.type == "SPOT" and ce.allocation_strategy in limits.SPOT_FLEET_ROLE_STRATEGIES


def architectures_of_environment(ce: ComputeEnvironmentArgs) -> set[Architecture]:
    """The architecture of an EC2/SPOT environment's instance types. Fargate takes either,
    chosen per job definition, and a mix is an error reported on the environment itself:
    both add none, so that the mix is not reported again on every queue and definition."""
    if platform_of_environment(ce) == "FARGATE":
        return set()
    found = {architecture_of(t) for t in ce.instance_types}
    return found if len(found) == 1 else set()


def cluster_architectures(args: WoveBatchClusterArgs) -> set[Architecture]:
    """Architectures the cluster's EC2/SPOT environments run; x86_64 for an all-Fargate cluster."""
    found: set[Architecture] = set()
    for ce in args.compute_environments.values():
        found |= architectures_of_environment(ce)
    if not found:
        found.add("x86_64")
    return found


def queue_environments(args: WoveBatchClusterArgs, queue_name: str) -> list[ComputeEnvironmentArgs]:
    """The queue's defined compute environments, in order."""
    queue = args.job_queues[queue_name]
    return [args.compute_environments[n] for n in queue.compute_environments if n in args.compute_environments]


def queue_platform(args: WoveBatchClusterArgs, queue_name: str) -> Optional[Platform]:
    platforms = {platform_of_environment(ce) for ce in queue_environments(args, queue_name)}
    return platforms.pop() if len(platforms) == 1 else None


def queue_architecture(args: WoveBatchClusterArgs, queue_name: str) -> Optional[Architecture]:
    """The one architecture of an EC2/SPOT queue; None for Fargate queues (either fits)."""
    found: set[Architecture] = set()
    for ce in queue_environments(args, queue_name):
        found |= architectures_of_environment(ce)
    return found.pop() if len(found) == 1 else None


def wove_environments(args: WoveBatchClusterArgs) -> dict[str, WoveEnvironmentArgs]:
    """The configured Wove environments, or with exactly one job definition and none
    configured, one per job queue named after the queue."""
    if args.wove_environments or len(args.job_definitions) != 1:
        return dict(args.wove_environments)
    (definition,) = args.job_definitions
    return {queue: WoveEnvironmentArgs(job_queue=queue, job_definition=definition) for queue in args.job_queues}


def definition_platforms(args: WoveBatchClusterArgs) -> dict[str, Platform]:
    """Each definition's platform: that of the queues serving it in the Wove environments;
    when none does (or they disagree, an error reported elsewhere), EC2 if the cluster has
    any EC2/SPOT environment, else FARGATE. One pass over the environments."""
    queue_platforms = {name: queue_platform(args, name) for name in args.job_queues}
    served: dict[str, set[Platform]] = {}
    for env in wove_environments(args).values():
        platform = queue_platforms.get(env.job_queue)
        if platform is not None:
            served.setdefault(env.job_definition, set()).add(platform)
    fallback: Platform = (
        "EC2" if any(platform_of_environment(ce) == "EC2" for ce in args.compute_environments.values()) else "FARGATE"
    )
    return {
        name: next(iter(served[name])) if len(served.get(name, ())) == 1 else fallback
        for name in args.job_definitions
    }


def definition_architecture(
    args: WoveBatchClusterArgs, definition: JobDefinitionArgs, architectures: Optional[set[Architecture]] = None
) -> Architecture:
    """The architecture set on the definition, else the cluster's only one (`architectures`:
    the cluster's, when the caller has them already)."""
    if definition.architecture is not None:
        return definition.architecture
    return sorted(architectures if architectures is not None else cluster_architectures(args))[0]


SPOT_TYPES = ("SPOT", "FARGATE_SPOT")


def spot_backed_definitions(args: WoveBatchClusterArgs) -> set[str]:
    """Job definitions that a queue with a SPOT or FARGATE_SPOT environment serves: their jobs
    may lose their host to Spot reclamation and are retried by default."""
    spot_queues = {
        name for name in args.job_queues if any(ce.type in SPOT_TYPES for ce in queue_environments(args, name))
    }
    return {env.job_definition for env in wove_environments(args).values() if env.job_queue in spot_queues}


def results_mode(args: WoveBatchClusterArgs, environment: WoveEnvironmentArgs) -> str:
    """The environment's own `results`, else callback when the stack has a callback URL (jobs
    can reach the submitter) and exchange when it has none."""
    if environment.results is not None:
        return environment.results
    return "callback" if args.callback is not None else "exchange"
