"""Every rule AWS would otherwise enforce minutes into a `pulumi up`, checked up front.

`validate_cluster` parses the spec (spec.py: types and shapes) and runs every concept's rules,
one module per concept, returning all errors at once, each naming its field path and the
bad value. Pure Python: the CLI's `check` runs it without Pulumi, and the component runs it
before registering any resource.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..errors import ClusterSpecError, SpecError
from ..spec import WoveBatchClusterArgs, parse_cluster_args
from ..topology import definition_platforms
from .callback import check_callback
from .compute_environments import check_compute_environment
from .context import Checks
from .exchange import check_exchange
from .image import check_image
from .job_definitions import check_job_definition
from .job_queues import check_job_queue
from .job_role import check_job_role
from .logs import check_logs
from .names import CLUSTER_NAME_MAX, CLUSTER_NAME_PATH, check_cluster_name, check_names
from .network import check_network
from .tags import check_tags
from .wove_environments import check_wove_environments

__all__ = ["CLUSTER_NAME_MAX", "CLUSTER_NAME_PATH", "require_valid", "validate_cluster"]

SECTIONS = ("compute_environments", "job_queues", "job_definitions")


def validate_cluster(
    raw: Any, cluster_name: str, project_dir: Optional[Path] = None
) -> tuple[Optional[WoveBatchClusterArgs], list[SpecError]]:
    """Parse and check a cluster spec; the args are None only when a required section is
    unusable. `project_dir`: where image.context and image.dockerfile must exist (None: not
    checked)."""
    parsed = parse_cluster_args(raw)
    errors = list(parsed.errors) + check_cluster_name(cluster_name)
    if parsed.args is not None:
        errors += _run_rules(Checks(parsed.args, cluster_name, parsed.broken, parsed.failed, project_dir))
    return parsed.args, errors


def require_valid(raw: Any, cluster_name: str, project_dir: Optional[Path] = None) -> WoveBatchClusterArgs:
    """The parsed args, or ClusterSpecError listing every problem."""
    args, errors = validate_cluster(raw, cluster_name, project_dir)
    if errors or args is None:
        raise ClusterSpecError(errors)
    return args


def _run_rules(checks: Checks) -> list[SpecError]:
    args = checks.args
    for section in SECTIONS:
        if not getattr(args, section) and not any(s == section for s, _ in checks.broken):
            checks.fail(section, "needs at least one entry")
    check_names(checks)
    for name, ce in args.compute_environments.items():
        check_compute_environment(checks, f"compute_environments.{name}", ce)
    for name in args.job_queues:
        check_job_queue(checks, name)
    platforms = definition_platforms(args)
    for name, definition in args.job_definitions.items():
        check_job_definition(checks, name, definition, platforms[name])
    check_wove_environments(checks)
    check_network(checks)
    check_image(checks)
    check_callback(checks)
    check_exchange(checks)
    check_logs(checks)
    check_job_role(checks)
    check_tags(checks)
    return checks.errors
