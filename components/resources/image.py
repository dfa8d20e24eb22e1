"""The worker image: an ECR repository and one build per CPU architecture the cluster uses.

Job definitions reference each image by digest (`repo@sha256:...`), so a rebuilt image
registers a new job definition revision instead of changing what a running job pulls; tags
name one build's inputs (`<architecture>-<digest of its inputs>`) and may be pushed again (see
the repository's tag mutability below)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from ..aws.instance_types import Architecture
from ..aws.naming import BUILD_TAG_FILTERS
from ..aws.partitions import partition_of
from .build_context import files_digest, tag_digest
from .scope import Scope
from ..spec import ImageArgs

DOCKER_PLATFORMS: dict[str, str] = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
# Builds kept per architecture, for rollbacks and for jobs still queued on an older revision.
TAGGED_IMAGES_KEPT = 10


def lifecycle_policy(architectures: list[str]) -> str:
    """Each tag prefix (an architecture, or `<definition>-<architecture>` for a definition's own
    image) keeps its TAGGED_IMAGES_KEPT latest builds (one tag per build's inputs);
    untagged layers of failed pushes go after a day."""
    rules = [
        {
            "rulePriority": priority,
            "description": f"Keep the {TAGGED_IMAGES_KEPT} most recent {arch} worker images",
            "selection": {"tagStatus": "tagged", "tagPrefixList": [f"{arch}-"], "countType": "imageCountMoreThan",
                          "countNumber": TAGGED_IMAGES_KEPT},
            "action": {"type": "expire"},
        }
        for priority, arch in enumerate(sorted(architectures), start=1)
    ]
    rules.append({
        "rulePriority": len(rules) + 1,
        "description": "Expire untagged images after a day",
        "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1},
        "action": {"type": "expire"},
    })
    return json.dumps({"rules": rules})


_ECR_IMAGE = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repository>[a-z0-9._/-]+?)(?:[:@].*)?"
)


def ecr_repository_arn(uri: str) -> Optional[str]:
    """The ECR repository a prebuilt image lives in (the execution role needs to pull from it
    on Fargate), or None for another registry."""
    match = _ECR_IMAGE.fullmatch(uri)
    if match is None:
        return None
    return f"arn:{partition_of(match['region'])}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"


def build_tag_exclusions() -> list[aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs]:
    """The build tags as ECR wildcard filters: the only tags of the repository that may move."""
    return [aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs(filter=pattern, filter_type="WILDCARD")
            for pattern in BUILD_TAG_FILTERS]


@dataclass
class WorkerImages:
    repository: Optional[aws.ecr.Repository]
    # architecture -> image reference (digest URI, or the prebuilt URI)
    uris: dict[str, pulumi.Output[str]]
    # job definition -> its own built image (digest URI)
    definition_uris: dict[str, pulumi.Output[str]]


@dataclass(frozen=True)
class DefinitionBuild:
    """A job definition's own image: built from its folder for its architecture."""

    context: str
    dockerfile: str
    architecture: Architecture


def create_images(scope: Scope, image: ImageArgs, architectures: list[Architecture],
                  definition_builds: Optional[dict[str, DefinitionBuild]] = None) -> WorkerImages:
    definition_builds = definition_builds or {}
    prebuilt = {arch: pulumi.Output.from_input(image.uri) for arch in architectures} if image.uri else None
    if prebuilt is not None and not definition_builds:
        return WorkerImages(None, prebuilt, {})
    repository = aws.ecr.Repository(
        scope.child("worker"),
        force_delete=True,  # it holds only images this stack built: `pulumi destroy` must not stall on them
        image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
        # KMS with the account's AWS managed key (aws/ecr): no key to pay for or manage.
        encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")],
        # Build tags (`[<definition>-]<architecture>-<digest of the build's inputs>`) may be pushed
        # again: pulumi-docker's update pushes its image name every time it runs (a machine with
        # another umask, a rollback, an interrupted `up`), and ECR refuses any re-push of an
        # immutable tag. Job definitions pin digests, so no job changes image when a tag does;
        # every other tag stays immutable.
        image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
        image_tag_mutability_exclusion_filters=build_tag_exclusions(),
        tags=scope.tagged(),
        opts=scope.opts(),
    )
    prefixes = ([] if prebuilt else list(architectures)) + [
        f"{name}-{build.architecture}" for name, build in sorted(definition_builds.items())]
    aws.ecr.LifecyclePolicy(
        scope.child("worker-lifecycle"),
        repository=repository.name,
        policy=lifecycle_policy(prefixes),
        opts=scope.opts(),
    )
    token = aws.ecr.get_authorization_token_output(
        registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=scope.parent)
    )
    build_args = {"PYTHON_VERSION": image.python_version}
    files: dict[tuple[str, str], str] = {}  # each context is read once, whatever the platforms

    def build(logical: str, prefix: str, context: str, dockerfile: str, arch: str) -> pulumi.Output[str]:
        if (context, dockerfile) not in files:
            files[(context, dockerfile)] = files_digest(Path(context), Path(dockerfile))
        tag = f"{prefix}-{tag_digest(files[(context, dockerfile)], build_args, DOCKER_PLATFORMS[arch])}"
        return docker.Image(
            logical,
            build=docker.DockerBuildArgs(
                context=context, dockerfile=dockerfile, platform=DOCKER_PLATFORMS[arch], args=build_args
            ),
            image_name=repository.repository_url.apply(lambda url: f"{url}:{tag}"),
            build_on_preview=False,  # previews (pull requests) need no Docker on the runner
            registry=docker.RegistryArgs(
                server=repository.repository_url,
                username=token.user_name,
                password=pulumi.Output.secret(token.password),
            ),
            opts=scope.opts(),
        ).repo_digest

    uris = prebuilt or {
        arch: build(scope.child("worker", arch), arch, image.context, image.dockerfile, arch) for arch in architectures
    }
    definition_uris = {
        name: build(scope.child("image", name), f"{name}-{item.architecture}", item.context, item.dockerfile,
                    item.architecture)
        for name, item in sorted(definition_builds.items())
    }
    return WorkerImages(repository, uris, definition_uris)
