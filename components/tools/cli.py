"""`python -m wove_batch check|plan Pulumi.<stack>.yaml`: the stack, checked and planned offline.

check: every error on its own line, path first; exit 0 valid, 1 invalid, 2 unreadable.
plan:  runs the stack program on Pulumi's mocks engine and prints the resource tree and the
       stack outputs (`--json` for tools); exit codes as for check. `--outputs FILE` also
       writes the outputs as `pulumi stack output --json --show-secrets` does, for
       `wove_batch.client.wove_environments(FILE)`.
try:   runs an example weave on the local backend (wove_batch.local) from the stack and
       prints its result; exit 0 when the weave gave the expected result.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional, Sequence, TextIO

from .stack_config import NAMESPACE, StackFile, StackFileError, load_stack_file, validate_stack

EXIT_OK, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2

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
    args = parser.parse_args(argv)

    try:
        stack = load_stack_file(args.stack_file)
    except StackFileError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_UNREADABLE
    # A program that declares its cluster in code (no `wove-batch:` config) validates it in
    # the component itself: plan runs it and reports a ClusterSpecError.
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
                 outputs_file=args.outputs, out=out)


def _plan(stack: StackFile, *, as_json: bool, show_secrets: bool, terraform: bool, outputs_file: Optional[str],
          out: TextIO) -> int:
    from .plan import run_stack  # imports Pulumi: only the plan needs it

    program = stack.project_dir / "__main__.py"
    if not program.is_file():
        print(f"error: {stack.path}: no __main__.py beside it; plan runs the stack's program, which lives "
              "next to its Pulumi.yaml and stack files", file=sys.stderr)
        return EXIT_UNREADABLE
    plan = run_stack(stack)
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
