"""WoveBatchCluster: everything Wove's `aws_batch` executor needs, in one component."""

from __future__ import annotations

from pathlib import Path

from typing import Any, Mapping, Optional, Union

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from .application_policy import create_application_policy
from .compute import create_compute_environment
from .exchange import create_exchange_bucket, grant_job_role_exchange
from .iam import create_execution_policy, create_roles, grant_job_role, grant_job_role_efs
from .image import DefinitionBuild, create_images, ecr_repository_arn
from .job_definitions import create_job_definition
from .network import resolve_network
from .queues import create_job_queue
from .scope import Scope
from ..spec import WoveBatchClusterArgs
from ..topology import (
    cluster_architectures,
    definition_architecture,
    definition_platforms,
    needs_spot_fleet_role,
    platform_of_environment,
    results_mode,
    spot_backed_definitions,
)
from ..topology import wove_environments as effective_wove_environments
from ..validation import require_valid
from ..validation.job_definitions import efs_write_advisories
from ..outputs import render_wove_environments

PACKAGE = "wove-batch"
TYPE_TOKEN = f"{PACKAGE}:index:WoveBatchCluster"
# The type token before the component became a package of its own: existing stacks keep their
# resources (the alias maps the old URNs, children's included, to the new ones).
FORMER_TYPE_TOKEN = "wove:index:WoveBatchCluster"


class WoveBatchCluster(pulumi.ComponentResource):
    """An AWS Batch cluster for Wove tasks.

    `args` is a WoveBatchClusterArgs or the plain mapping stack config holds; it is validated
    in full first, and a ClusterSpecError listing every problem is raised before any resource
    is registered.
    """

    job_queues: pulumi.Output[dict[str, str]]
    job_definitions: pulumi.Output[dict[str, str]]
    compute_environments: pulumi.Output[dict[str, str]]
    images: pulumi.Output[dict[str, str]]
    repository_url: pulumi.Output[Optional[str]]
    region: pulumi.Output[str]
    wove_environments: pulumi.Output[dict[str, Any]]
    exchange_bucket: pulumi.Output[str]
    application_policy_arn: pulumi.Output[str]
    log_group: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: Union[WoveBatchClusterArgs, Mapping[str, Any]],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        # The image is built from paths relative to the program's folder (Pulumi runs it there).
        spec = require_valid(args, name, project_dir=Path.cwd())
        for advisory in efs_write_advisories(spec):
            pulumi.log.warn(advisory)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=FORMER_TYPE_TOKEN)]))
        super().__init__(TYPE_TOKEN, name, None, opts)
        scope = Scope(name=name, parent=self, tags=dict(spec.tags))
        invoke = pulumi.InvokeOutputOptions(parent=self)

        platforms = {platform_of_environment(ce) for ce in spec.compute_environments.values()}
        region = aws.get_region_output(opts=invoke).region
        roles = create_roles(
            scope,
            region=region,
            needs_instances="EC2" in platforms,
            needs_spot_fleet=any(needs_spot_fleet_role(ce) for ce in spec.compute_environments.values()),
        )
        network = resolve_network(scope, spec.network)
        cluster_archs = cluster_architectures(spec)
        definition_archs = {name: definition_architecture(spec, jd, cluster_archs) for name, jd in spec.job_definitions.items()}
        definition_builds = {
            name: DefinitionBuild(jd.image_context, jd.image_dockerfile or f"{jd.image_context.rstrip('/')}/Dockerfile",
                                  definition_archs[name])
            for name, jd in spec.job_definitions.items() if jd.image_context is not None
        }
        images = create_images(scope, spec.image, sorted(cluster_archs | set(definition_archs.values())),
                               definition_builds)
        log_group = aws.cloudwatch.LogGroup(
            scope.child("logs"), tags=scope.tagged(), opts=scope.opts(),
            # 0: never expire, CloudWatch's default when the group has no retention policy.
            retention_in_days=spec.logs.retention_days or None,
        )
        account = aws.get_caller_identity_output(opts=invoke).account_id
        execution_policy = create_execution_policy(
            scope,
            roles.execution_role,
            # The repositories the jobs pull from: the one built here, a prebuilt image's ECR
            # repository (both when definitions build their own images next to a prebuilt
            # worker), and the ECR repositories of definitions' own images.
            repository_arns=[*([images.repository.arn] if images.repository else []),
                             ecr_repository_arn(spec.image.uri or ""),
                             *(ecr_repository_arn(jd.image_uri) for jd in spec.job_definitions.values() if jd.image_uri)],
            log_group=log_group,
            secret_sources=sorted({s for jd in spec.job_definitions.values() for s in jd.secrets.values()}),
            stream_prefixes=list(spec.job_definitions),
            region=region,
            account=account,
        )
        exchange = create_exchange_bucket(scope, spec.exchange)
        job_role_grants = [
            *grant_job_role(scope, roles.job_role, spec.job_role),
            grant_job_role_exchange(scope, roles.job_role, exchange),
        ]
        efs_mounts = sorted({(volume.file_system_id, volume.access_point_id, volume.read_only)
                             for jd in spec.job_definitions.values() for volume in jd.efs_volumes.values()
                             if volume.iam_authorization}, key=str)
        if efs_mounts:
            job_role_grants.append(grant_job_role_efs(scope, roles.job_role, efs_mounts, region=region, account=account))

        platforms_of_definitions = definition_platforms(spec)
        # The largest swap any EC2 definition may use: each instance gets a swap file that size.
        swap_mib = max((jd.max_swap_mib or 0 for name, jd in spec.job_definitions.items()
                        if platforms_of_definitions[name] == "EC2"), default=0)
        environments = {
            ce_name: create_compute_environment(scope, ce_name, ce, roles, network, swap_mib=swap_mib)
            for ce_name, ce in spec.compute_environments.items()
        }
        queues = {
            queue_name: create_job_queue(scope, queue_name, queue, environments)
            for queue_name, queue in spec.job_queues.items()
        }
        spot_backed = spot_backed_definitions(spec)
        assign_public_ip = (
            spec.network.assign_public_ip if spec.network.assign_public_ip is not None else network.uses_default_vpc
        )
        definitions = {
            jd_name: create_job_definition(
                scope,
                jd_name,
                jd,
                image=images.definition_uris.get(jd_name, images.uris[definition_archs[jd_name]]),
                roles=roles,
                platform=platforms_of_definitions[jd_name],
                architecture=definition_archs[jd_name],
                assign_public_ip=assign_public_ip,
                spot_backed=jd_name in spot_backed,
                log_group=log_group.name,
                region=region,
                depends_on=[execution_policy, *job_role_grants, *exchange.guards],
            )
            for jd_name, jd in spec.job_definitions.items()
        }

        token: Optional[pulumi.Output[str]] = None
        if spec.callback is not None:
            # Generated once and kept in state; marked secret here as well as by the provider,
            # so every output carrying it (wove_environments) is encrypted in state.
            token = pulumi.Output.secret(
                random.RandomPassword(scope.child("callback-token"), length=32, special=False, opts=scope.opts()).result
            )

        application_policy = create_application_policy(
            scope,
            queue_arns=[queue.arn for queue in queues.values()],
            definition_names=[definition.name for definition in definitions.values()],
            bucket_arn=exchange.bucket.arn,
            log_group_arn=log_group.arn,
            region=region,
            account=account,
        )

        self.region = region
        self.exchange_bucket = exchange.bucket.bucket
        self.application_policy_arn = application_policy.arn
        self.log_group = log_group.name
        self.job_queues = _names(queues)
        self.job_definitions = _names(definitions)
        self.compute_environments = pulumi.Output.all(**{k: v.arn for k, v in environments.items()})
        self.images = pulumi.Output.all(**images.uris)
        self.repository_url = images.repository.repository_url if images.repository else pulumi.Output.from_input(None)
        wove_envs = effective_wove_environments(spec)
        results = {name: results_mode(spec, env) for name, env in wove_envs.items()}
        self.wove_environments = pulumi.Output.all(
            self.job_queues, self.job_definitions, self.region, token, self.exchange_bucket, self.log_group
        ).apply(
            lambda values: render_wove_environments(
                wove_envs,
                queue_names=values[0],
                definition_names=values[1],
                region=values[2],
                callback=spec.callback,
                token=values[3],
                exchange_bucket=values[4],
                results=results,
                log_group=values[5],
            )
        )
        self.register_outputs(
            {
                "job_queues": self.job_queues,
                "job_definitions": self.job_definitions,
                "compute_environments": self.compute_environments,
                "images": self.images,
                "repository_url": self.repository_url,
                "region": self.region,
                "wove_environments": self.wove_environments,
                "exchange_bucket": self.exchange_bucket,
                "application_policy_arn": self.application_policy_arn,
                "log_group": self.log_group,
            }
        )


def _names(resources: Mapping[str, Any]) -> pulumi.Output[dict[str, str]]:
    return pulumi.Output.all(**{key: resource.name for key, resource in resources.items()})
