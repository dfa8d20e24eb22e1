"""`python -m wove_batch check|plan Pulumi.<stack>.yaml`: the stack, checked and planned offline.

check: every error on its own line, path first; exit 0 valid, 1 invalid, 2 unreadable.
plan:  runs the stack program on Pulumi's mocks engine and prints the resource tree and the
       stack outputs (`--json` for tools); exit codes as for check. `--outputs FILE` also
       writes the outputs as `pulumi stack output --json --show-secrets` does, for
       `wove_batch.client.wove_environments(FILE)`.
try:   runs an example weave on the local backend (wove_batch.local) from the stack and
       prints its result; exit 0 when the weave gave the expected result.
None ends in a traceback: a reader that stops early (`| head`) ends the output quietly, an
output that cannot be written (`> /dev/full`) and a missing dependency (an application's
install, without the `pulumi` extra) are one `error:` line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Optional, Sequence, TextIO

if TYPE_CHECKING:
    from .stack_config import StackFile

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
INSTALL_HINT = "pip install 'wove-batch[pulumi]'"
# What the `pulumi` extra installs and the tools import (the application side needs none of it).
EXTRA_MODULES = frozenset({"yaml", "pulumi", "pulumi_aws", "pulumi_docker", "pulumi_random"})

# Inputs worth a glance in the tree, by resource type.
KEY_INPUTS: dict[str, tuple[str, ...]] = {
    "aws:batch/computeEnvironment:ComputeEnvironment": ("type", "state", "computeResources.type",
                                                       "computeResources.instanceTypes", "computeResources.minVcpus",
                                                       "computeResources.maxVcpus", "computeResources.allocationStrategy"),
    "aws:batch/jobQueue:JobQueue": ("priority", "state", "computeEnvironmentOrders"),
    "aws:batch/jobDefinition:JobDefinition": ("platformCapabilities", "retryStrategy.attempts", "timeout.attemptDurationSeconds"),
    "docker:index/image:Image": ("build.platform", "build.args", "build.context"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("policyArn",),
    "aws:ecr/repository:Repository": ("imageScanningConfiguration.scanOnPush",),
    "random:index/randomPassword:RandomPassword": ("length",),
}


def main(argv: Optional[Sequence[str]] = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """The CLI (`python -m wove_batch` and the `wove-batch` console script): an exit code, never
    a traceback for a closed pipe, a full disk or a missing dependency."""
    args = _parser().parse_args(argv)
    try:
        code = _run(args, out, err)
        out.flush()
        return code
    except BrokenPipeError:
        _discard(out)  # the reader stopped early (`plan | head`): not an error of the plan's
        return EXIT_OK
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in EXTRA_MODULES:
            raise  # the stack program's own import: its traceback says where
        print(f"error: wove-batch {args.command} needs the pulumi extra, not installed here (no module "
              f"{exc.name!r}): {INSTALL_HINT}", file=err)
        return EXIT_UNREADABLE
    except OSError as exc:  # stdout cannot take the output: /dev/full, a closed descriptor
        _discard(out)
        print(f"error: cannot write the output: {exc.strerror or exc}", file=err)
        return EXIT_UNREADABLE


def _discard(out: TextIO) -> None:
    """Point `out` at /dev/null, so that Python's own flush at exit does not fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
    except (OSError, ValueError, AttributeError):  # not a file (a StringIO in tests)
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wove_batch", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="validate a stack file; every error at once")
    check.add_argument("stack_file")
    plan = commands.add_parser("plan", help="what `pulumi up` would create, offline, on Pulumi's mocks")
    plan.add_argument("stack_file")
    plan.add_argument("--json", action="store_true", help="machine-readable resources and outputs")
    plan.add_argument("--show-secrets", action="store_true", help="print secret outputs in clear text")
    plan.add_argument("--terraform", action="store_true",
                      help="the AWS resources as a Terraform plan document, for scanners such as checkov")
    plan.add_argument("--outputs", metavar="FILE",
                      help="also write the stack outputs to FILE as `pulumi stack output --json --show-secrets` does")
    try_ = commands.add_parser("try", help="run an example weave on the local backend (no AWS)")
    try_.add_argument("stack_file")
    try_.add_argument("--results", choices=("callback", "exchange"), help="override the stack's results mode")
    return parser


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .stack_config import NAMESPACE, StackFileError, load_stack_file, validate_stack  # needs PyYAML

    try:
        stack = load_stack_file(args.stack_file)
    except StackFileError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_UNREADABLE
    # A program that declares its cluster in code (no `wove-batch:` config) validates it in
    # the component itself: plan runs it and reports its ClusterSpecError.
    configured_here = any(str(key).startswith(f"{NAMESPACE}:") for key in stack.config)
    errors = validate_stack(stack)[1] if configured_here or args.command == "check" else []
    if errors:
        for error in errors:
            print(error, file=out if args.command == "check" else err)
        return EXIT_INVALID
    if args.command == "check":
        print(f"{stack.path}: valid", file=out)
        return EXIT_OK
    if args.command == "try":
        if not (stack.project_dir / "__main__.py").is_file():
            print(f"error: {stack.path}: no __main__.py beside it; try plans the stack with its program, which "
                  "lives next to its Pulumi.yaml and stack files", file=err)
            return EXIT_UNREADABLE
        from ..local.quickstart import run_quickstart  # imports moto and Wove: only try needs them

        return run_quickstart(stack.path, results=args.results, out=out)
    return _plan(stack, as_json=args.json, show_secrets=args.show_secrets, terraform=args.terraform,
                 outputs_file=args.outputs, out=out, err=err)


def _plan(stack: StackFile, *, as_json: bool, show_secrets: bool, terraform: bool, outputs_file: Optional[str],
          out: TextIO, err: TextIO) -> int:
    from ..errors import ClusterSpecError
    from .plan import run_stack  # imports Pulumi: only the plan needs it

    program = stack.project_dir / "__main__.py"
    if not program.is_file():
        print(f"error: {stack.path}: no __main__.py beside it; plan runs the stack's program, which lives "
              "next to its Pulumi.yaml and stack files", file=err)
        return EXIT_UNREADABLE
    caller = os.getcwd()
    os.chdir(stack.project_dir)  # as `pulumi up` runs the program: in its project, whatever the caller's
    try:
        plan = run_stack(stack)
    except ClusterSpecError as exc:  # the program's own cluster (or a stack file without one)
        for error in exc.errors:
            print(error, file=err)
        return EXIT_INVALID
    finally:
        os.chdir(caller)
    if outputs_file is not None:
        # `pulumi stack output --json --show-secrets`: the outputs object itself, secrets in clear.
        with open(outputs_file, "w", encoding="utf-8") as handle:
            json.dump(plan.outputs, handle, indent=2)
            handle.write("\n")
    if terraform:
        from .terraform_plan import terraform_plan

        json.dump(terraform_plan(plan), out, indent=2)
        out.write("\n")
        return EXIT_OK
    document = plan.to_json(show_secrets=show_secrets)
    if as_json:
        json.dump(document, out, indent=2, sort_keys=False)
        out.write("\n")
        return EXIT_OK
    by_parent: dict[Optional[str], list[dict[str, Any]]] = {}
    for resource in document["resources"]:
        by_parent.setdefault(resource["parent"], []).append(resource)
    out.write(f"{len(document['resources'])} resources for stack {stack.stack} of {stack.project}:\n")
    _tree(by_parent, None, "", out)
    out.write("\nOutputs:\n")
    for key, value in document["outputs"].items():
        rendered = json.dumps(value, indent=2).replace("\n", "\n    ")
        out.write(f"  {key}: {rendered}\n")
    return EXIT_OK


def _tree(by_parent: dict[Optional[str], list[dict[str, Any]]], parent: Optional[str], indent: str, out: TextIO) -> None:
    children = by_parent.get(parent, [])
    for i, resource in enumerate(children):
        last = i == len(children) - 1
        branch = "└─ " if last else "├─ "
        keys = KEY_INPUTS.get(resource["type"], ())
        shown = {key: _lookup(resource["inputs"], key) for key in keys}
        detail = ", ".join(f"{k}={json.dumps(v)}" for k, v in shown.items() if v is not None)
        out.write(f"{indent}{branch}{resource['type']}  {resource['name']}" + (f"  ({detail})" if detail else "") + "\n")
        _tree(by_parent, resource["name"], indent + ("   " if last else "│  "), out)


def _lookup(inputs: dict[str, Any], dotted: str) -> Any:
    value: Any = inputs
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if dotted == "computeEnvironmentOrders" and isinstance(value, list):
        return [entry.get("computeEnvironment", "").rsplit("/", 1)[-1] for entry in value]
    return value
