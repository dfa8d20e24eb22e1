"""Every rule AWS would otherwise enforce minutes into a `pulumi up`, checked up front.

`validate_cluster` returns all errors at once, each naming its field path and the bad value.
Pure Python: the CLI's `check` runs it without Pulumi, and the component runs it first.
"""

from __future__ import annotations

import re
from typing import Any, Optional
from urllib.parse import urlsplit

from . import limits
from .architecture import KEYWORD_ARCHITECTURES, architecture_of, is_well_formed, size_of
from .errors import ClusterSpecError, SpecError
from .naming import INFIXES_BY_SECTION, ROLE_NAMES
from .spec import ComputeEnvironmentArgs, JobDefinitionArgs, WoveBatchClusterArgs, parse_cluster_args
from .topology import (
    architectures_of_environment,
    cluster_architectures,
    definition_architecture,
    definition_platforms,
    platform_of_environment,
    queue_architecture,
    queue_environments,
    queue_platform,
    wove_environments,
)

# With Pulumi's suffix, the longest role name must stay within IAM's 64 characters.
CLUSTER_NAME_MAX = limits.IAM_ROLE_NAME_MAX - limits.AUTONAME_SUFFIX_LEN - len("-" + max(ROLE_NAMES, key=len))

_NAME = re.compile(limits.BATCH_NAME_PATTERN)
_CLUSTER_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
CLUSTER_NAME_PATH = "wove-batch:name"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_AMI = re.compile(r"ami-[0-9a-f]{8,17}")
_SECRET_ARN = re.compile(r"arn:aws[a-z-]*:(secretsmanager:[a-z0-9-]+:\d{12}:secret:.+|ssm:[a-z0-9-]+:\d{12}:parameter/.+)")
_SSM_NAME = re.compile(r"/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")
_PYTHON_VERSION = re.compile(r"3\.\d{1,2}")
_RESOURCE_ID = {"vpc_id": "vpc-", "subnet_ids": "subnet-", "security_group_ids": "sg-"}
RESERVED_ENVIRONMENT = ("WOVE_BACKEND_PAYLOAD",)
_SHARE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
_EXIT_CODE = re.compile(r"\d+\*?|\*")
_PLATFORM_VERSION = re.compile(r"LATEST|\d+\.\d+\.\d+")
_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+")
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}


def validate_cluster(raw: Any, cluster_name: str) -> tuple[Optional[WoveBatchClusterArgs], list[SpecError]]:
    """Parse and check a cluster spec; the args are None only when a required section is unusable."""
    parsed = parse_cluster_args(raw)
    errors = list(parsed.errors) + _check_cluster_name(cluster_name)
    if parsed.args is not None:
        errors += _Rules(parsed.args, cluster_name, parsed.broken, parsed.failed).run()
    return parsed.args, errors


def require_valid(raw: Any, cluster_name: str) -> WoveBatchClusterArgs:
    """The parsed args, or ClusterSpecError listing every problem."""
    args, errors = validate_cluster(raw, cluster_name)
    if errors or args is None:
        raise ClusterSpecError(errors)
    return args


def _check_cluster_name(name: str) -> list[SpecError]:
    """Lower case only: the ECR repository is auto-named from it and ECR takes no capitals."""
    if not _CLUSTER_NAME.fullmatch(name):
        return [SpecError(CLUSTER_NAME_PATH, f"cluster name {name!r} may hold only lower-case letters, digits and '-', starting with a letter or digit")]
    if len(name) > CLUSTER_NAME_MAX:
        return [SpecError(CLUSTER_NAME_PATH, f"cluster name {name!r} is {len(name)} characters; at most {CLUSTER_NAME_MAX} fit IAM's 64-character role names")]
    return []




def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


class _Rules:
    def __init__(
        self, args: WoveBatchClusterArgs, cluster_name: str, broken: set[tuple[str, str]], failed: set[str]
    ) -> None:
        self.args = args
        self.cluster = cluster_name
        self.broken = broken
        self.failed = failed
        self.errors: list[SpecError] = []
        self.architectures = cluster_architectures(args)

    def fail(self, path: str, message: str) -> None:
        """Record an error, unless the field already failed to parse (it holds its default)."""
        if any(path == f or path.startswith((f + ".", f + "[")) for f in self.failed):
            return
        self.errors.append(SpecError(path, message))

    def is_broken(self, section: str, name: str) -> bool:
        return (section, name) in self.broken

    def run(self) -> list[SpecError]:
        for section in ("compute_environments", "job_queues", "job_definitions"):
            if not getattr(self.args, section) and not any(s == section for s, _ in self.broken):
                self.fail(section, "needs at least one entry")
        self.names()
        for name, ce in self.args.compute_environments.items():
            self.compute_environment(f"compute_environments.{name}", ce)
        for name in self.args.job_queues:
            self.job_queue(name)
        platforms = definition_platforms(self.args)
        for name, definition in self.args.job_definitions.items():
            self.job_definition(name, definition, platforms[name])
        self.wove_environments()
        self.network()
        self.image_and_callback()
        self.logs_and_job_role()
        self.tags()
        return self.errors

    # --- names -------------------------------------------------------------------------
    def names(self) -> None:
        """Names of the user's entries: AWS's characters, and short enough that every child
        named from them (`<cluster>-<infix>-<name>-<suffix>`) fits AWS's 128."""
        for section, infixes in INFIXES_BY_SECTION.items():
            longest = max(infixes, key=len)
            budget = limits.BATCH_NAME_MAX - limits.AUTONAME_SUFFIX_LEN - len(f"{self.cluster}-{longest}-")
            for name in getattr(self.args, section):
                path = f"{section}.{name}"
                if not _NAME.fullmatch(name):
                    self.fail(path, f"name {name!r} may hold only letters, digits, '-' and '_', starting with a letter or digit")
                elif len(name) > budget:
                    self.fail(
                        path,
                        f"name {name!r} is {len(name)} characters; at most {budget} fit with cluster name "
                        f"{self.cluster!r} and Pulumi's auto-name suffix within AWS's {limits.BATCH_NAME_MAX}",
                    )

    def defined(self, section: str, name: str) -> bool:
        return name in getattr(self.args, section) or (section, name) in self.broken

    def undefined(self, path: str, section: str, what: str, name: str) -> None:
        names = ", ".join(getattr(self.args, section)) or "none"
        self.fail(path, f"no {what} named {name!r}; defined: {names}")

    # --- compute environments ----------------------------------------------------------
    def compute_environment(self, path: str, ce: ComputeEnvironmentArgs) -> None:
        if ce.max_vcpus < 1:
            self.fail(f"{path}.max_vcpus", f"must be at least 1, got {ce.max_vcpus}")
        if ce.min_vcpus < 0:
            self.fail(f"{path}.min_vcpus", f"must be at least 0, got {ce.min_vcpus}")
        elif ce.min_vcpus > ce.max_vcpus:
            self.fail(f"{path}.min_vcpus", f"min_vcpus {ce.min_vcpus} is greater than max_vcpus {ce.max_vcpus}")
        if ce.desired_vcpus is not None and not ce.min_vcpus <= ce.desired_vcpus <= ce.max_vcpus:
            self.fail(
                f"{path}.desired_vcpus",
                f"desired_vcpus {ce.desired_vcpus} is outside min_vcpus {ce.min_vcpus} .. max_vcpus {ce.max_vcpus}",
            )
        if platform_of_environment(ce) == "FARGATE":
            self.fargate_environment(path, ce)
        else:
            self.ec2_environment(path, ce)

    def fargate_environment(self, path: str, ce: ComputeEnvironmentArgs) -> None:
        for key, value, unset in (
            ("instance_types", ce.instance_types, ()),
            ("min_vcpus", ce.min_vcpus, 0),
            ("desired_vcpus", ce.desired_vcpus, None),
            ("allocation_strategy", ce.allocation_strategy, None),
            ("bid_percentage", ce.bid_percentage, None),
            ("ami_id", ce.ami_id, None),
            ("root_volume_gib", ce.root_volume_gib, 30),
        ):
            if value != unset:
                shown = list(value) if isinstance(value, tuple) else value
                self.fail(f"{path}.{key}", f"not allowed for {ce.type} environments, got {shown!r}")

    def ec2_environment(self, path: str, ce: ComputeEnvironmentArgs) -> None:
        if not ce.instance_types:
            self.fail(f"{path}.instance_types", f"required for {ce.type} environments")
        for i, instance_type in enumerate(ce.instance_types):
            if not is_well_formed(instance_type):
                keywords = ", ".join(KEYWORD_ARCHITECTURES)
                self.fail(
                    f"{path}.instance_types[{i}]",
                    f"{instance_type!r} is not an instance type (m6g.large), family (m6g) or one of {keywords}",
                )
        by_arch: dict[str, list[str]] = {}
        for instance_type in ce.instance_types:
            by_arch.setdefault(architecture_of(instance_type), []).append(instance_type)
        if len(by_arch) > 1:
            self.fail(
                f"{path}.instance_types",
                f"mixes arm64 ({', '.join(by_arch['arm64'])}) and x86_64 ({', '.join(by_arch['x86_64'])}) "
                "instance types; an environment takes one architecture",
            )
        strategy = ce.allocation_strategy
        allowed = limits.ALLOCATION_STRATEGIES[ce.type]
        if strategy is not None and strategy not in allowed:
            self.fail(
                f"{path}.allocation_strategy",
                f"{strategy} is for SPOT environments; {ce.type} takes {', '.join(allowed)}",
            )
        if ce.bid_percentage is not None:
            if ce.type != "SPOT":
                self.fail(f"{path}.bid_percentage", f"only SPOT environments take a bid percentage, got {ce.bid_percentage} on {ce.type}")
            elif not limits.BID_PERCENTAGE_MIN <= ce.bid_percentage <= limits.BID_PERCENTAGE_MAX:
                self.fail(
                    f"{path}.bid_percentage",
                    f"must be within {limits.BID_PERCENTAGE_MIN}..{limits.BID_PERCENTAGE_MAX}, got {ce.bid_percentage}",
                )
        if ce.ami_id is not None and not _AMI.fullmatch(ce.ami_id):
            self.fail(f"{path}.ami_id", f"expected an AMI id like 'ami-0123456789abcdef0', got {ce.ami_id!r}")
        if not limits.ROOT_VOLUME_GIB_MIN <= ce.root_volume_gib <= limits.ROOT_VOLUME_GIB_MAX:
            self.fail(
                f"{path}.root_volume_gib",
                f"must be within {limits.ROOT_VOLUME_GIB_MIN}..{limits.ROOT_VOLUME_GIB_MAX}, got {ce.root_volume_gib}",
            )
        if any(t.startswith("a1.") or t == "a1" for t in ce.instance_types) and ce.ami_id is None:
            self.fail(f"{path}.instance_types", "a1 instances cannot run Amazon Linux 2023 (ECS_AL2023); use m6g, c6g or t4g, or set ami_id")
        timeout = ce.update_policy.job_execution_timeout_minutes
        if not limits.UPDATE_TIMEOUT_MINUTES_MIN <= timeout <= limits.UPDATE_TIMEOUT_MINUTES_MAX:
            self.fail(
                f"{path}.update_policy.job_execution_timeout_minutes",
                f"must be within {limits.UPDATE_TIMEOUT_MINUTES_MIN}..{limits.UPDATE_TIMEOUT_MINUTES_MAX}, got {timeout}",
            )

    # --- job queues --------------------------------------------------------------------
    def job_queue(self, name: str) -> None:
        path = f"job_queues.{name}"
        queue = self.args.job_queues[name]
        if queue.priority < 0:
            self.fail(f"{path}.priority", f"must be at least 0, got {queue.priority}")
        count = len(queue.compute_environments)
        if not 1 <= count <= limits.QUEUE_MAX_COMPUTE_ENVIRONMENTS:
            self.fail(
                f"{path}.compute_environments",
                f"needs 1 to {limits.QUEUE_MAX_COMPUTE_ENVIRONMENTS} compute environments, got {count}",
            )
        self.queue_options(path, queue)
        seen: set[str] = set()
        for i, ce_name in enumerate(queue.compute_environments):
            item = f"{path}.compute_environments[{i}]"
            if ce_name in seen:
                self.fail(item, f"{ce_name!r} is listed more than once")
            seen.add(ce_name)
            if not self.defined("compute_environments", ce_name):
                self.undefined(item, "compute_environments", "compute environment", ce_name)
        by_platform: dict[str, list[str]] = {}
        by_arch: dict[str, list[str]] = {}
        for ce_name in dict.fromkeys(queue.compute_environments):
            ce = self.args.compute_environments.get(ce_name)
            if ce is None:
                continue
            by_platform.setdefault(platform_of_environment(ce), []).append(ce_name)
            for arch in sorted(architectures_of_environment(ce)):
                by_arch.setdefault(arch, []).append(ce_name)
        if len(by_platform) > 1:
            self.fail(
                f"{path}.compute_environments",
                f"mixes EC2/SPOT ({', '.join(by_platform['EC2'])}) with FARGATE/FARGATE_SPOT "
                f"({', '.join(by_platform['FARGATE'])}) environments",
            )
        if len(by_arch) > 1:
            self.fail(
                f"{path}.compute_environments",
                f"mixes arm64 ({', '.join(by_arch['arm64'])}) and x86_64 ({', '.join(by_arch['x86_64'])}) environments",
            )

    def queue_options(self, path: str, queue: Any) -> None:
        if queue.runnable_timeout_seconds is not None and not (
            limits.RUNNABLE_TIMEOUT_MIN <= queue.runnable_timeout_seconds <= limits.RUNNABLE_TIMEOUT_MAX
        ):
            self.fail(
                f"{path}.runnable_timeout_seconds",
                f"must be within {limits.RUNNABLE_TIMEOUT_MIN}..{limits.RUNNABLE_TIMEOUT_MAX}, got {queue.runnable_timeout_seconds}",
            )
        share = queue.fair_share
        if share is None:
            return
        if not 0 <= share.share_decay_seconds <= limits.SHARE_DECAY_SECONDS_MAX:
            self.fail(f"{path}.fair_share.share_decay_seconds",
                      f"must be within 0..{limits.SHARE_DECAY_SECONDS_MAX}, got {share.share_decay_seconds}")
        if not 0 <= share.compute_reservation <= limits.COMPUTE_RESERVATION_MAX:
            self.fail(f"{path}.fair_share.compute_reservation",
                      f"must be within 0..{limits.COMPUTE_RESERVATION_MAX}, got {share.compute_reservation}")
        if len(share.shares) > limits.SHARES_MAX:
            self.fail(f"{path}.fair_share.shares", f"at most {limits.SHARES_MAX} share identifiers, got {len(share.shares)}")
        for identifier, weight in share.shares.items():
            if not limits.SHARE_WEIGHT_MIN <= weight <= limits.SHARE_WEIGHT_MAX:
                self.fail(f"{path}.fair_share.shares.{identifier}",
                          f"weight must be within {limits.SHARE_WEIGHT_MIN}..{limits.SHARE_WEIGHT_MAX}, got {_fmt(weight)}")

    # --- job definitions ---------------------------------------------------------------
    def job_definition(self, name: str, jd: JobDefinitionArgs, platform: str) -> None:
        path = f"job_definitions.{name}"
        if platform == "EC2":
            if jd.vcpus < limits.EC2_VCPUS_MIN or not float(jd.vcpus).is_integer():
                self.fail(
                    f"{path}.vcpus",
                    f"must be a whole number of at least {limits.EC2_VCPUS_MIN} on EC2, got {_fmt(jd.vcpus)}",
                )
            if jd.memory < limits.EC2_MEMORY_MIN_MIB:
                self.fail(f"{path}.memory", f"must be at least {limits.EC2_MEMORY_MIN_MIB} MiB on EC2, got {jd.memory}")
        else:
            self.fargate_resources(path, jd)
        if jd.gpus < 0:
            self.fail(f"{path}.gpus", f"must be at least 0, got {jd.gpus}")
        elif jd.gpus and platform == "FARGATE":
            self.fail(f"{path}.gpus", f"GPUs are not available on Fargate, got {jd.gpus}")
        if jd.retry_attempts is not None and not limits.RETRY_ATTEMPTS_MIN <= jd.retry_attempts <= limits.RETRY_ATTEMPTS_MAX:
            self.fail(
                f"{path}.retry_attempts",
                f"must be within {limits.RETRY_ATTEMPTS_MIN}..{limits.RETRY_ATTEMPTS_MAX}, got {jd.retry_attempts}",
            )
        if jd.timeout_seconds is not None and jd.timeout_seconds < limits.TIMEOUT_SECONDS_MIN:
            self.fail(f"{path}.timeout_seconds", f"must be at least {limits.TIMEOUT_SECONDS_MIN}, got {jd.timeout_seconds}")
        if not jd.command:
            self.fail(f"{path}.command", "must not be empty")
        self.retry_rules(path, jd)
        if platform == "FARGATE" and not _PLATFORM_VERSION.fullmatch(jd.platform_version):
            self.fail(f"{path}.platform_version", f"expected LATEST or a version like 1.4.0, got {jd.platform_version!r}")
        self.definition_architecture(path, jd, platform)
        self.definition_environment(path, jd)

    def retry_rules(self, path: str, jd: JobDefinitionArgs) -> None:
        rules = jd.evaluate_on_exit
        if len(rules) > limits.EVALUATE_ON_EXIT_MAX:
            self.fail(f"{path}.evaluate_on_exit", f"at most {limits.EVALUATE_ON_EXIT_MAX} rules, got {len(rules)}")
        for i, rule in enumerate(rules):
            rule_path = f"{path}.evaluate_on_exit[{i}]"
            patterns = {"on_status_reason": rule.on_status_reason, "on_reason": rule.on_reason, "on_exit_code": rule.on_exit_code}
            if all(value is None for value in patterns.values()):
                self.fail(rule_path, "needs at least one of on_status_reason, on_reason, on_exit_code")
            for key, value in patterns.items():
                if value is not None and len(value) > limits.EXIT_PATTERN_MAX:
                    self.fail(f"{rule_path}.{key}", f"at most {limits.EXIT_PATTERN_MAX} characters, got {len(value)}")
            if rule.on_exit_code is not None and not _EXIT_CODE.fullmatch(rule.on_exit_code):
                self.fail(f"{rule_path}.on_exit_code", f"expected digits, optionally ending in '*', got {rule.on_exit_code!r}")

    def fargate_resources(self, path: str, jd: JobDefinitionArgs) -> None:
        table = limits.FARGATE_MEMORY_BY_VCPU
        memories = table.get(float(jd.vcpus))
        if memories is None:
            choices = ", ".join(_fmt(v) for v in table)
            self.fail(f"{path}.vcpus", f"Fargate takes {choices} vCPUs, got {_fmt(jd.vcpus)}")
        elif jd.memory not in memories:
            step = memories[1] - memories[0]
            self.fail(
                f"{path}.memory",
                f"Fargate with {_fmt(jd.vcpus)} vCPU takes {memories[0]}-{memories[-1]} MiB in steps of {step}, got {jd.memory}",
            )

    def definition_architecture(self, path: str, jd: JobDefinitionArgs, platform: str) -> None:
        archs = self.architectures
        if jd.architecture is None:
            if len(archs) > 1:
                self.fail(f"{path}.architecture", "required: the cluster has both arm64 and x86_64 compute environments")
        elif platform == "EC2" and jd.architecture not in archs:
            self.fail(
                f"{path}.architecture",
                f"the cluster has no {jd.architecture} compute environment (it has {', '.join(sorted(archs))})",
            )

    def definition_environment(self, path: str, jd: JobDefinitionArgs) -> None:
        for section, names in (("environment", jd.environment), ("secrets", jd.secrets)):
            for key in names:
                if not _ENV_NAME.fullmatch(key):
                    self.fail(f"{path}.{section}.{key}", f"{key!r} is not an environment variable name")
                elif key in RESERVED_ENVIRONMENT or key.startswith("AWS_BATCH_"):
                    self.fail(f"{path}.{section}.{key}", f"{key} is set by Wove or AWS Batch for each job")
        for key in sorted(set(jd.environment) & set(jd.secrets)):
            self.fail(f"{path}.secrets.{key}", f"{key} is also in environment; set it in one place")
        for key, source in jd.secrets.items():
            if not (_SECRET_ARN.fullmatch(source) or (_SSM_NAME.fullmatch(source) and not source.startswith("arn:"))):
                self.fail(
                    f"{path}.secrets.{key}",
                    f"expected a Secrets Manager secret ARN, an SSM parameter ARN or an SSM parameter name, got {source!r}",
                )

    # --- wove environments -------------------------------------------------------------
    def wove_environments(self) -> None:
        definitions = list(self.args.job_definitions) + sorted(
            name for section, name in self.broken if section == "job_definitions" and name not in self.args.job_definitions
        )
        if not self.args.wove_environments and len(definitions) > 1:
            self.fail("wove_environments", f"required when there is more than one job definition ({', '.join(definitions)})")
            return
        explicit = bool(self.args.wove_environments)
        for name, env in wove_environments(self.args).items():
            path = f"wove_environments.{name}"
            known = True
            if not self.defined("job_queues", env.job_queue):
                self.undefined(f"{path}.job_queue", "job_queues", "job queue", env.job_queue)
                known = False
            if not self.defined("job_definitions", env.job_definition):
                self.undefined(f"{path}.job_definition", "job_definitions", "job definition", env.job_definition)
                known = False
            queue = self.args.job_queues.get(env.job_queue)
            if queue is not None:
                self.share_identifier(path, env.share_identifier, queue.fair_share is not None, env.job_queue)
            if known and env.job_queue in self.args.job_queues and env.job_definition in self.args.job_definitions:
                self.pairing(path if explicit else f"job_queues.{env.job_queue}", env.job_queue, env.job_definition)
        served: dict[str, set[str]] = {}
        for env in wove_environments(self.args).values():
            if env.job_queue in self.args.job_queues:
                platform = queue_platform(self.args, env.job_queue)
                if platform:
                    served.setdefault(env.job_definition, set()).add(platform)
        for definition, platforms in served.items():
            if len(platforms) > 1:
                self.fail(
                    f"job_definitions.{definition}",
                    "serves both EC2/SPOT and FARGATE queues; a job definition is for one platform",
                )

    def share_identifier(self, path: str, identifier: Optional[str], fair_share: bool, queue: str) -> None:
        """Batch refuses a job without a share identifier on a fair-share queue, and one with
        a share identifier anywhere else."""
        if fair_share and identifier is None:
            if self.args.wove_environments:
                self.fail(f"{path}.share_identifier", f"required: queue {queue!r} has a fair-share policy")
            else:
                self.fail("wove_environments", f"required: queue {queue!r} has a fair-share policy, so its environment needs a share_identifier")
        elif not fair_share and identifier is not None:
            self.fail(f"{path}.share_identifier", f"queue {queue!r} has no fair-share policy; Batch refuses a share identifier there")
        elif identifier is not None and not _SHARE_ID.fullmatch(identifier):
            self.fail(f"{path}.share_identifier", f"expected up to 255 letters, digits or '_', got {identifier!r}")

    def pairing(self, path: str, queue_name: str, definition_name: str) -> None:
        queue = self.args.job_queues[queue_name]
        if self.is_broken("job_definitions", definition_name) or any(
            self.is_broken("compute_environments", ce) for ce in queue.compute_environments
        ):
            return  # built from defaults where the user's value was bad: no conclusion
        jd = self.args.job_definitions[definition_name]
        if jd.architecture is None and len(self.architectures) > 1:
            return  # reported on the definition: it must name its architecture
        queue_arch = queue_architecture(self.args, queue_name)
        arch = definition_architecture(self.args, jd, self.architectures)
        if queue_arch is not None and arch != queue_arch:
            self.fail(path, f"job definition {definition_name!r} runs on {arch} but queue {queue_name!r} runs {queue_arch}")
            return
        if queue_platform(self.args, queue_name) != "EC2":
            return
        # Environments already reported as broken (no capacity, no instance types) prove nothing.
        environments = [ce for ce in queue_environments(self.args, queue_name) if ce.max_vcpus >= 1 and ce.instance_types]
        if not environments or any(self._fits(jd, ce) for ce in environments):
            return
        largest = max(
            ((t, size_of(t)) for ce in environments for t in ce.instance_types),
            key=lambda pair: (pair[1].vcpus, pair[1].memory_mib) if pair[1] else (0, 0),
            default=None,
        )
        where = ""
        if largest is not None and largest[1] is not None:
            size = largest[1]
            where = f"; largest: {largest[0]} with {size.vcpus} vCPU, {size.memory_mib} MiB, {size.gpus} GPU"
        max_vcpus = max(ce.max_vcpus for ce in environments) if environments else 0
        self.fail(
            path,
            f"job definition {definition_name!r} ({_fmt(jd.vcpus)} vCPU, {jd.memory} MiB, {jd.gpus} GPU) fits no "
            f"instance type of queue {queue_name!r} (max_vcpus {max_vcpus}{where}); its jobs would stay RUNNABLE",
        )

    @staticmethod
    def _fits(jd: JobDefinitionArgs, ce: ComputeEnvironmentArgs) -> bool:
        if jd.vcpus > ce.max_vcpus:
            return False
        for instance_type in ce.instance_types:
            size = size_of(instance_type)
            if size is None:
                return True  # a keyword or family: Batch picks a size that fits
            if jd.vcpus <= size.vcpus and jd.memory <= size.memory_mib and jd.gpus <= size.gpus:
                return True
        return False

    # --- network, image, callback, tags ------------------------------------------------
    def network(self) -> None:
        network = self.args.network
        for key, prefix in _RESOURCE_ID.items():
            value = getattr(network, key)
            items = [(f"network.{key}", value)] if isinstance(value, str) else [
                (f"network.{key}[{i}]", v) for i, v in enumerate(value or ())
            ]
            for path, item in items:
                if not item.startswith(prefix):
                    self.fail(path, f"expected an id starting with {prefix!r}, got {item!r}")

    def image_and_callback(self) -> None:
        image = self.args.image
        if not _PYTHON_VERSION.fullmatch(image.python_version):
            self.fail("image.python_version", f"expected a Python 3 major.minor like '3.11', got {image.python_version!r}")
        callback = self.args.callback
        if callback is None:
            return
        url = urlsplit(callback.base_url)
        if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
            self.fail("callback.base_url", f"expected an http:// or https:// URL with a host, got {callback.base_url!r}")
        if not 1 <= callback.port <= 65535:
            self.fail("callback.port", f"must be within 1..65535, got {callback.port}")
        else:
            count = len(wove_environments(self.args))
            if callback.port + count - 1 > 65535:
                self.fail(
                    "callback.port",
                    f"{count} Wove environments listen on ports {callback.port}..{callback.port + count - 1}, past 65535",
                )

    def logs_and_job_role(self) -> None:
        retention = self.args.logs.retention_days
        if retention not in limits.LOG_RETENTION_DAYS:
            self.fail("logs.retention_days", f"CloudWatch takes {', '.join(map(str, limits.LOG_RETENTION_DAYS))}; got {retention}")
        role = self.args.job_role
        for i, policy_arn in enumerate(role.managed_policy_arns):
            if not _POLICY_ARN.fullmatch(policy_arn):
                self.fail(f"job_role.managed_policy_arns[{i}]", f"expected an IAM policy ARN, got {policy_arn!r}")
        for i, statement in enumerate(role.policy_statements):
            self.statement(f"job_role.policy_statements[{i}]", statement)

    def statement(self, path: str, statement: Any) -> None:
        if not isinstance(statement, dict):
            self.fail(path, f"expected a mapping, got {statement!r}")
            return
        unknown = sorted(set(statement) - _STATEMENT_KEYS)
        if unknown:
            self.fail(path, f"unknown keys {', '.join(unknown)}; expected {', '.join(sorted(_STATEMENT_KEYS))}")
        if statement.get("Effect") not in ("Allow", "Deny"):
            self.fail(f"{path}.Effect", f"expected Allow or Deny, got {statement.get('Effect')!r}")
        for key, alternative in (("Action", "NotAction"), ("Resource", "NotResource")):
            value = statement.get(key, statement.get(alternative))
            if not (isinstance(value, str) and value) and not (
                isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)
            ):
                self.fail(f"{path}.{key}", f"expected a string or a non-empty list of strings, got {value!r}")

    def tags(self) -> None:
        if len(self.args.tags) > 50:
            self.fail("tags", f"at most 50 tags, got {len(self.args.tags)}")
        for key, value in self.args.tags.items():
            if key.lower().startswith("aws:"):
                self.fail(f"tags.{key}", "the aws: prefix is reserved by AWS")
            elif len(key) > 128:
                self.fail(f"tags.{key}", f"keys take at most 128 characters, got {len(key)}")
            if len(value) > 256:
                self.fail(f"tags.{key}", f"values take at most 256 characters, got {len(value)}")
