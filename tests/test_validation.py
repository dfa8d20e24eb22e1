"""Every validation rule, with the exact message a user sees."""

from __future__ import annotations

import copy
from typing import Any

import botocore
import pytest

from wove_batch.aws.instance_types import ec2_instance_types
from wove_batch.spec import describe
from wove_batch.validation import validate_cluster
from conftest import MINIMAL

class _Delete:
    """Marks a key a patch removes; survives deepcopy."""

    def __deepcopy__(self, memo: Any) -> "_Delete":
        return self


DELETE = _Delete()


def merged(base: dict[str, Any], patch: dict[str, Any], *, keep_deletes: bool = False) -> dict[str, Any]:
    """`base` with `patch` merged in: DELETE removes a key, an empty dict replaces one.
    With keep_deletes (composing two patches), DELETE markers are carried over."""
    result = copy.deepcopy(base)
    for key, value in patch.items():
        if value is DELETE:
            if keep_deletes:
                result[key] = DELETE
            else:
                result.pop(key, None)
        elif isinstance(value, dict) and value and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value, keep_deletes=keep_deletes)
        else:
            result[key] = copy.deepcopy(value)
    return result


def fargate(patch: dict[str, Any]) -> dict[str, Any]:
    return merged(FARGATE, patch, keep_deletes=True)


BOTOCORE = botocore.__version__
TYPES = len(ec2_instance_types())


def errors_of(cluster: Any, name: str = "wove-test") -> list[str]:
    return [str(e) for e in validate_cluster(cluster, name)[1]]


def ce(**fields: Any) -> dict[str, Any]:
    return {"compute_environments": {"cpu": fields}}


def jd(**fields: Any) -> dict[str, Any]:
    return {"job_definitions": {"worker": fields}}


FARGATE = {
    "compute_environments": {"cpu": DELETE, "fg": {"type": "FARGATE", "max_vcpus": 16}},
    "job_queues": {"main": {"compute_environments": ["fg"]}},
    "job_definitions": {"worker": {"vcpus": 1, "memory": 2048}},
}

CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    # --- types and shapes ---
    ("unknown key", {"queues": {}}, [
        "queues: unknown key; expected one of compute_environments, job_queues, job_definitions, "
        "wove_environments, network, image, callback, exchange, logs, job_role, tags"]),
    ("unknown nested key", ce(max_cpus=4), [
        "compute_environments.cpu.max_cpus: unknown key; expected one of type, max_vcpus, instance_types, "
        "min_vcpus, desired_vcpus, allocation_strategy, bid_percentage, ami_id, state, root_volume_gib, update_policy"]),
    ("string for a list", ce(instance_types="m6i.large"), [
        "compute_environments.cpu.instance_types: expected a list of strings, got 'm6i.large'"]),
    ("word for a number", jd(vcpus="lots"), ["job_definitions.worker.vcpus: expected a number, got 'lots'"]),
    ("float for a whole number", jd(memory=2048.5), ["job_definitions.worker.memory: expected a whole number, got 2048.5"]),
    ("bool for a number", ce(max_vcpus=True), ["compute_environments.cpu.max_vcpus: expected a whole number, got True"]),
    ("bad enum", ce(type="ON_DEMAND"), [
        "compute_environments.cpu.type: expected one of EC2, SPOT, FARGATE, FARGATE_SPOT, got 'ON_DEMAND'"]),
    ("unquoted python version", {"image": {"python_version": 3.1}}, [
        "image.python_version: expected a string (quote it in YAML), got 3.1"]),
    ("missing required sections", {"compute_environments": DELETE, "job_queues": DELETE, "job_definitions": DELETE}, [
        "compute_environments: required", "job_queues: required", "job_definitions: required"]),
    ("missing required field", ce(type="EC2", instance_types=["m6i"], max_vcpus=DELETE), [
        "compute_environments.cpu.max_vcpus: required"]),
    ("empty maps", {"compute_environments": {}, "job_queues": {}, "job_definitions": {}}, [
        "compute_environments: needs at least one entry",
        "job_queues: needs at least one entry",
        "job_definitions: needs at least one entry"]),
    ("section not a mapping", {"network": ["vpc-1"]}, ["network: expected a mapping, got ['vpc-1']"]),
    ("entry not a mapping", {"job_definitions": {"worker": None}}, [
        "job_definitions.worker: expected a mapping, got None"]),
    ("non-string list item", ce(instance_types=["m6i", 5]), [
        "compute_environments.cpu.instance_types[1]: expected a string (quote it in YAML), got 5"]),
    # --- names ---
    ("bad name", {"job_queues": {"main": DELETE, "my queue": {"compute_environments": ["cpu"]}}}, [
        "job_queues.my queue: name 'my queue' may hold only letters, digits, '-' and '_', starting with a letter or digit"]),
    ("name starting with a dash", {"job_definitions": {"worker": DELETE, "-w": {}}}, [
        "job_definitions.-w: name '-w' may hold only letters, digits, '-' and '_', starting with a letter or digit"]),
    ("name too long", {"job_queues": {"main": DELETE, "q" * 100: {"compute_environments": ["cpu"]}}}, [
        f"job_queues.{'q' * 100}: name '{'q' * 100}' is 100 characters; at most 99 fit with cluster name "
        "'wove-test' and Pulumi's auto-name suffix within AWS's 128"]),
    # --- compute environments ---
    ("max below one", ce(max_vcpus=0), ["compute_environments.cpu.max_vcpus: must be at least 1, got 0"]),
    ("negative min", ce(min_vcpus=-1), ["compute_environments.cpu.min_vcpus: must be at least 0, got -1"]),
    ("min above max", ce(min_vcpus=32), ["compute_environments.cpu.min_vcpus: min_vcpus 32 is greater than max_vcpus 16"]),
    ("desired outside", ce(min_vcpus=2, desired_vcpus=1), [
        "compute_environments.cpu.desired_vcpus: desired_vcpus 1 is outside min_vcpus 2 .. max_vcpus 16"]),
    ("ec2 without instance types", ce(instance_types=[]), ["compute_environments.cpu.instance_types: required for EC2 environments"]),
    ("malformed instance type", ce(instance_types=["M6i.Large"]), [
        "compute_environments.cpu.instance_types[0]: 'M6i.Large' is not an instance type (m6g.large), family (m6g) "
        "or one of optimal, default_x86_64, default_arm64"]),
    ("mixed architectures", ce(instance_types=["m6i.large", "m7g.large", "default_arm64"]), [
        "compute_environments.cpu.instance_types: mixes arm64 (m7g.large, default_arm64) and x86_64 (m6i.large) "
        "instance types; an environment takes one architecture"]),
    ("spot strategy on ec2", ce(allocation_strategy="SPOT_CAPACITY_OPTIMIZED"), [
        "compute_environments.cpu.allocation_strategy: SPOT_CAPACITY_OPTIMIZED is for SPOT environments; "
        "EC2 takes BEST_FIT, BEST_FIT_PROGRESSIVE"]),
    ("bid on ec2", ce(bid_percentage=50), [
        "compute_environments.cpu.bid_percentage: only SPOT environments take a bid percentage, got 50 on EC2"]),
    ("bid out of range", ce(type="SPOT", bid_percentage=0), [
        "compute_environments.cpu.bid_percentage: must be within 1..100, got 0"]),
    ("bad ami", ce(ami_id="ubuntu"), ["compute_environments.cpu.ami_id: expected an AMI id like 'ami-0123456789abcdef0', got 'ubuntu'"]),
    ("fargate with ec2 fields", {**FARGATE, "compute_environments": {"cpu": DELETE, "fg": {
        "type": "FARGATE", "max_vcpus": 16, "instance_types": ["m6i"], "min_vcpus": 1, "desired_vcpus": 1,
        "allocation_strategy": "BEST_FIT", "bid_percentage": 50, "ami_id": "ami-0123456789abcdef0"}}}, [
        "compute_environments.fg.instance_types: not allowed for FARGATE environments, got ['m6i']",
        "compute_environments.fg.min_vcpus: not allowed for FARGATE environments, got 1",
        "compute_environments.fg.desired_vcpus: not allowed for FARGATE environments, got 1",
        "compute_environments.fg.allocation_strategy: not allowed for FARGATE environments, got 'BEST_FIT'",
        "compute_environments.fg.bid_percentage: not allowed for FARGATE environments, got 50",
        "compute_environments.fg.ami_id: not allowed for FARGATE environments, got 'ami-0123456789abcdef0'"]),
    # --- job queues ---
    ("negative priority", {"job_queues": {"main": {"priority": -1}}}, ["job_queues.main.priority: must be at least 0, got -1"]),
    ("bad state", {"job_queues": {"main": {"state": "ON"}}}, ["job_queues.main.state: expected one of ENABLED, DISABLED, got 'ON'"]),
    ("no environments", {"job_queues": {"main": {"compute_environments": []}}}, [
        "job_queues.main.compute_environments: needs 1 to 3 compute environments, got 0"]),
    ("four environments", {
        "compute_environments": {n: {"type": "EC2", "instance_types": ["m6i"], "max_vcpus": 4} for n in "abcd"},
        "job_queues": {"main": {"compute_environments": list("abcd")}}}, [
        "job_queues.main.compute_environments: needs 1 to 3 compute environments, got 4"]),
    ("undefined environment", {"job_queues": {"main": {"compute_environments": ["cpu", "gpu"]}}}, [
        "job_queues.main.compute_environments[1]: no compute environment named 'gpu'; defined: cpu"]),
    ("repeated environment", {"job_queues": {"main": {"compute_environments": ["cpu", "cpu"]}}}, [
        "job_queues.main.compute_environments[1]: 'cpu' is listed more than once"]),
    ("ec2 and fargate in one queue", {
        "compute_environments": {"fg": {"type": "FARGATE", "max_vcpus": 4}},
        "job_queues": {"main": {"compute_environments": ["cpu", "fg"]}}}, [
        "job_queues.main.compute_environments: mixes EC2/SPOT (cpu) with FARGATE/FARGATE_SPOT (fg) environments"]),
    ("two architectures in one queue", {
        "compute_environments": {"arm": {"type": "EC2", "instance_types": ["c7g"], "max_vcpus": 4}},
        "job_queues": {"main": {"compute_environments": ["cpu", "arm"]}},
        "job_definitions": {"worker": {"architecture": "x86_64"}}}, [
        "job_queues.main.compute_environments: mixes arm64 (arm) and x86_64 (cpu) environments"]),
    # --- job definitions ---
    ("fractional vcpus on ec2", jd(vcpus=0.5), ["job_definitions.worker.vcpus: must be a whole number of at least 1 on EC2, got 0.5"]),
    ("tiny memory on ec2", jd(memory=2), ["job_definitions.worker.memory: must be at least 4 MiB on EC2, got 2"]),
    ("fargate vcpus", fargate(jd(vcpus=3)), ["job_definitions.worker.vcpus: Fargate takes 0.25, 0.5, 1, 2, 4, 8, 16 vCPUs, got 3"]),
    ("fargate memory", fargate(jd(vcpus=1, memory=1024)), [
        "job_definitions.worker.memory: Fargate with 1 vCPU takes 2048-8192 MiB in steps of 1024, got 1024"]),
    ("fargate memory step", fargate(jd(vcpus=8, memory=17408)), [
        "job_definitions.worker.memory: Fargate with 8 vCPU takes 16384-61440 MiB in steps of 4096, got 17408"]),
    ("gpus on fargate", fargate(jd(gpus=1)), ["job_definitions.worker.gpus: GPUs are not available on Fargate, got 1"]),
    ("negative gpus", jd(gpus=-1), ["job_definitions.worker.gpus: must be at least 0, got -1"]),
    ("retries", jd(retry_attempts=11), ["job_definitions.worker.retry_attempts: must be within 1..10, got 11"]),
    ("zero retries", jd(retry_attempts=0), ["job_definitions.worker.retry_attempts: must be within 1..10, got 0"]),
    ("timeout", jd(timeout_seconds=30), ["job_definitions.worker.timeout_seconds: must be at least 60, got 30"]),
    ("empty command", jd(command=[]), ["job_definitions.worker.command: must not be empty"]),
    ("architecture the cluster lacks", jd(architecture="arm64"), [
        "job_definitions.worker.architecture: the cluster has no arm64 compute environment (it has x86_64)",
        "job_queues.main: job definition 'worker' runs on arm64 but queue 'main' runs x86_64"]),
    ("architecture needed", {
        "compute_environments": {"arm": {"type": "EC2", "instance_types": ["c7g"], "max_vcpus": 4}}}, [
        "job_definitions.worker.architecture: required: the cluster has both arm64 and x86_64 compute environments"]),
    ("bad environment name", jd(environment={"1X": "a"}), ["job_definitions.worker.environment.1X: '1X' is not an environment variable name"]),
    ("reserved environment", jd(environment={"WOVE_BACKEND_PAYLOAD": "a", "AWS_BATCH_JOB_ID": "b"}), [
        "job_definitions.worker.environment.WOVE_BACKEND_PAYLOAD: WOVE_BACKEND_PAYLOAD is set by Wove or AWS Batch for each job",
        "job_definitions.worker.environment.AWS_BATCH_JOB_ID: AWS_BATCH_JOB_ID is set by Wove or AWS Batch for each job"]),
    ("env and secret clash", jd(environment={"TOKEN": "a"}, secrets={"TOKEN": "/app/token"}), [
        "job_definitions.worker.secrets.TOKEN: TOKEN is also in environment; set it in one place"]),
    ("bad secret source", jd(secrets={"TOKEN": "arn:aws:s3:::bucket/key"}), [
        "job_definitions.worker.secrets.TOKEN: expected a Secrets Manager secret ARN, an SSM parameter ARN or an "
        "SSM parameter name, got 'arn:aws:s3:::bucket/key'"]),
    ("environment value not a string", jd(environment={"N": 8}), [
        "job_definitions.worker.environment.N: expected a string (quote it in YAML), got 8"]),
    # --- wove environments ---
    ("wove environments needed", {"job_definitions": {"other": {}}}, [
        "wove_environments: required when there is more than one job definition (worker, other)"]),
    ("undefined queue and definition", {"wove_environments": {"batch": {"job_queue": "q", "job_definition": "d"}}}, [
        "wove_environments.batch.job_queue: no job queue named 'q'; defined: main",
        "wove_environments.batch.job_definition: no job definition named 'd'; defined: worker"]),
    ("job fits no instance", jd(vcpus=4, memory=16384), [
        "job_queues.main: job definition 'worker' (4 vCPU, 16384 MiB, 0 GPU) fits no instance type of queue 'main' "
        "(max_vcpus 16; largest: m6i.large with 2 vCPU, 8192 MiB, 0 GPU); its jobs would stay RUNNABLE"]),
    ("job above max vcpus", merged(ce(instance_types=["m6i"], max_vcpus=4), jd(vcpus=8)), [
        "job_queues.main: job definition 'worker' (8 vCPU, 2048 MiB, 0 GPU) fits no instance type of queue 'main' "
        "(max_vcpus 4; largest: m6i.32xlarge with 128 vCPU, 524288 MiB, 0 GPU); its jobs would stay RUNNABLE"]),
    ("gpu job on cpu instances", {**jd(gpus=1), "wove_environments": {"gpu": {"job_queue": "main", "job_definition": "worker"}}}, [
        "wove_environments.gpu: job definition 'worker' (1 vCPU, 2048 MiB, 1 GPU) fits no instance type of queue 'main' "
        "(max_vcpus 16; largest: m6i.large with 2 vCPU, 8192 MiB, 0 GPU); its jobs would stay RUNNABLE"]),
    ("fargate definition on ec2 queue", {
        "compute_environments": {"fg": {"type": "FARGATE", "max_vcpus": 4}},
        "job_queues": {"fg": {"compute_environments": ["fg"]}},
        "wove_environments": {"a": {"job_queue": "main", "job_definition": "worker"},
                              "b": {"job_queue": "fg", "job_definition": "worker"}}}, [
        "job_definitions.worker: serves both EC2/SPOT and FARGATE queues; a job definition is for one platform"]),
    # --- what AWS refuses although the shapes are right (issue 14) ---
    ("unknown instance type", ce(instance_types=["m5.superlarge"]), [
        "compute_environments.cpu.instance_types[0]: 'm5.superlarge' is no EC2 instance type (botocore "
        f"{BOTOCORE} lists {TYPES} types); did you mean m5.large, m5n.large, m5d.large?"]),
    ("unknown instance class", ce(instance_types=["zz9.large"]), [
        "compute_environments.cpu.instance_types[0]: 'zz9.large' is no EC2 instance type (botocore "
        f"{BOTOCORE} lists {TYPES} types); did you mean z1d.large, r9g.large, m9g.large?"]),
    ("unknown instance family", ce(instance_types=["m99"]), [
        f"compute_environments.cpu.instance_types[0]: 'm99' is no EC2 instance family (botocore {BOTOCORE} lists "
        f"{TYPES} types); did you mean m9g?"]),
    ("gpus of a family with none", jd(gpus=1), [
        "job_queues.main: job definition 'worker' (1 vCPU, 2048 MiB, 1 GPU) fits no instance type of queue 'main' "
        "(max_vcpus 16; largest: m6i.large with 2 vCPU, 8192 MiB, 0 GPU); its jobs would stay RUNNABLE"]),
    ("job bigger than every type", merged(ce(instance_types=["t2.micro"]), jd(vcpus=2, memory=512)), [
        "job_queues.main: job definition 'worker' (2 vCPU, 512 MiB, 0 GPU) fits no instance type of queue 'main' "
        "(max_vcpus 16; largest: t2.micro with 1 vCPU, 1024 MiB, 0 GPU); its jobs would stay RUNNABLE"]),
    ("past 32 bits", ce(max_vcpus=2147483648, min_vcpus=1e30), [
        "compute_environments.cpu.max_vcpus: 2147483648 is past AWS's 32-bit numbers (at most 2147483647)",
        "compute_environments.cpu.min_vcpus: 1e+30 is past AWS's 32-bit numbers (at most 2147483647)"]),
    ("not a finite number", jd(vcpus=float("inf")), [
        "job_definitions.worker.vcpus: expected a finite number, got inf"]),
    ("51 job queues", {"job_queues": {f"q{i}": {"compute_environments": ["cpu"]} for i in range(51)}}, [
        "job_queues: 52 entries; AWS takes at most 50 per account and region (a quota that cannot be raised), with "
        "those of other stacks counted too"]),
    ("51 compute environments", {"compute_environments": {f"c{i}": {"type": "EC2", "instance_types": ["m6i"], "max_vcpus": 4} for i in range(50)}}, [
        "compute_environments: 51 entries; AWS takes at most 50 per account and region (a quota that cannot be "
        "raised), with those of other stacks counted too"]),
    ("job definition over 24 KiB", jd(environment={f"V{i}": "x" * 200 for i in range(130)}), [
        "job_definitions.worker: registers as about 31178 bytes, over AWS's 24576 per job definition; move large "
        "environment values into secrets, the image or the payload"]),
    ("too many tags with ours", {"tags": {f"k{i}": "v" for i in range(48)}}, [
        "tags: 48 tags and the component's 3 (wove-batch:cluster, wove-batch:compute-environment, "
        "wove-batch:spot-backed) make 51, over AWS's 50 per resource"]),
    ("empty tag key", {"tags": {"": "v"}}, ["tags: a tag key is empty; keys take 1..128 characters"]),
    ("tag characters", {"tags": {"a{b}": "v", "team": "data;platform"}}, [
        "tags.a{b}: keys take letters, digits, spaces and _ . : / = + - @ only, got 'a{b}'",
        "tags.team: values take letters, digits, spaces and _ . : / = + - @ only, got 'data;platform'"]),
    ("our own tag", {"tags": {"wove-batch:cluster": "mine"}}, [
        "tags.wove-batch:cluster: the component sets this tag itself (it names the cluster's resources); choose "
        "another key"]),
    ("callback with a space", {"callback": {"base_url": "https://a b.example.com"}}, [
        "callback.base_url: a URL has no white space, got 'https://a b.example.com'"]),
    ("callback with credentials", {"callback": {"base_url": "https://user:pw@runner.example.com"}}, [
        "callback.base_url: credentials in the URL would be dropped (Wove posts to the URL's host and path only); put "
        "a proxy in front that adds them"]),
    ("callback on localhost", {"callback": {"base_url": "http://localhost:8787"}}, [
        "callback.base_url: localhost is each Batch job's own container, not the submitter; give an address the "
        "jobs' subnets reach, or use results: exchange"]),
    ("callback on 127.0.0.1", {"callback": {"base_url": "http://127.0.0.1:8787"}}, [
        "callback.base_url: 127.0.0.1 is each Batch job's own container, not the submitter; give an address the "
        "jobs' subnets reach, or use results: exchange"]),
    ("no such python", {"image": {"python_version": "3.99"}}, [
        "image.python_version: no Python 3.99 has been released (latest: 3.15)"]),
    ("python wove does not support", {"image": {"python_version": "3.0"}}, [
        "image.python_version: Wove needs Python >=3.8, got 3.0"]),
    ("not an image reference", {"image": {"uri": "not an image!!"}}, [
        "image.uri: expected an image reference like 123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:1.0 or "
        "...@sha256:<digest>, got 'not an image!!'"]),
    ("malformed network ids", {"network": {"vpc_id": "vpc-", "subnet_ids": ["subnet-zz!!"]}}, [
        "network.vpc_id: expected an id like vpc-0123456789abcdef0, got 'vpc-'",
        "network.subnet_ids[0]: expected an id like subnet-0123456789abcdef0, got 'subnet-zz!!'"]),
    ("ssm names", jd(secrets={"A": "team/db", "B": "/aws/reserved", "C": "SSM-param"}), [
        "job_definitions.worker.secrets.A: an SSM parameter name with a hierarchy begins with '/', got 'team/db'",
        "job_definitions.worker.secrets.B: SSM parameter names may not begin with aws or ssm (reserved), got "
        "'/aws/reserved'",
        "job_definitions.worker.secrets.C: SSM parameter names may not begin with aws or ssm (reserved), got "
        "'SSM-param'"]),
    ("on_reason characters", jd(retry_attempts=2, evaluate_on_exit=[{"action": "RETRY", "on_reason": "OOM{kill}",
                                                                    "on_status_reason": "Host EC2*"}]), [
        "job_definitions.worker.evaluate_on_exit[0].on_reason: AWS takes letters, digits, periods, colons and "
        "spaces, optionally ending in '*', got 'OOM{kill}'"]),
    ("platform_version on ec2", jd(platform_version="1.4.0"), [
        "job_definitions.worker.platform_version: applies to Fargate definitions only; this one serves EC2 queues, "
        "got '1.4.0'"]),
    # --- network, image, callback, tags ---
    ("bad network ids", {"network": {"vpc_id": "vpc1", "subnet_ids": ["subnet-1", "sn-2"], "security_group_ids": ["group"]}}, [
        "network.vpc_id: expected an id like vpc-0123456789abcdef0, got 'vpc1'",
        "network.subnet_ids[0]: expected an id like subnet-0123456789abcdef0, got 'subnet-1'",
        "network.subnet_ids[1]: expected an id like subnet-0123456789abcdef0, got 'sn-2'",
        "network.security_group_ids[0]: expected an id like sg-0123456789abcdef0, got 'group'"]),
    ("bad python version", {"image": {"python_version": "3"}}, [
        "image.python_version: expected a Python 3 major.minor like '3.11', got '3'"]),
    ("callback scheme", {"callback": {"base_url": "ftp://runner"}}, [
        "callback.base_url: expected an http:// or https:// URL with a host, got 'ftp://runner'"]),
    ("callback port", {"callback": {"base_url": "http://runner:8787", "port": 70000}}, [
        "callback.port: must be within 1..65535, got 70000"]),
    ("callback ports run out", {"callback": {"base_url": "http://runner:65535", "port": 65535},
                                "job_queues": {"low": {"compute_environments": ["cpu"]}}}, [
        "callback.port: 2 Wove environments listen on ports 65535..65536, past 65535"]),
    # --- production options ---
    ("root volume too small", ce(root_volume_gib=10), ["compute_environments.cpu.root_volume_gib: must be within 30..16384, got 10"]),
    ("a1 on AL2023", ce(instance_types=["a1.large"]), [
        "compute_environments.cpu.instance_types: a1 instances cannot run Amazon Linux 2023 (ECS_AL2023); use m6g, c6g or t4g, or set ami_id"]),
    ("update timeout", ce(allocation_strategy="BEST_FIT_PROGRESSIVE", update_policy={"job_execution_timeout_minutes": 0}), [
        "compute_environments.cpu.update_policy.job_execution_timeout_minutes: must be within 1..360, got 0"]),
    ("fargate root volume", fargate({"compute_environments": {"fg": {"root_volume_gib": 50}}}), [
        "compute_environments.fg.root_volume_gib: not allowed for FARGATE environments, got 50"]),
    ("fair share needs a share identifier", {"job_queues": {"main": {"fair_share": {}}}}, [
        "wove_environments: required: queue 'main' has a fair-share policy, so its environment needs a share_identifier"]),
    ("explicit environment without share identifier", {"job_queues": {"main": {"fair_share": {}}},
        "wove_environments": {"b": {"job_queue": "main", "job_definition": "worker"}}}, [
        "wove_environments.b.share_identifier: required: queue 'main' has a fair-share policy"]),
    ("share identifier without fair share", {"wove_environments": {"b": {"job_queue": "main", "job_definition": "worker", "share_identifier": "teamA"}}}, [
        "wove_environments.b.share_identifier: queue 'main' has no fair-share policy; Batch refuses a share identifier there"]),
    ("runnable timeout", {"job_queues": {"main": {"runnable_timeout_seconds": 60}}}, [
        "job_queues.main.runnable_timeout_seconds: must be within 600..86400, got 60"]),
    ("fair share bounds", {"job_queues": {"main": {"fair_share": {"share_decay_seconds": -1, "compute_reservation": 100, "shares": {"a": 0}}}},
                           "wove_environments": {"b": {"job_queue": "main", "job_definition": "worker", "share_identifier": "a"}}}, [
        "job_queues.main.fair_share.share_decay_seconds: must be within 0..604800, got -1",
        "job_queues.main.fair_share.compute_reservation: must be within 0..99, got 100",
        "job_queues.main.fair_share.shares.a: weight must be within 0.0001..999.9999, got 0"]),
    ("retry rules", jd(retry_attempts=2, evaluate_on_exit=[{"action": "RETRY"}, {"action": "EXIT", "on_exit_code": "1x"}]), [
        "job_definitions.worker.evaluate_on_exit[0]: needs at least one of on_status_reason, on_reason, on_exit_code",
        "job_definitions.worker.evaluate_on_exit[1].on_exit_code: expected digits, optionally ending in '*', got '1x'"]),
    ("too many retry rules", jd(retry_attempts=2, evaluate_on_exit=[{"action": "EXIT", "on_reason": "*"}] * 6), [
        "job_definitions.worker.evaluate_on_exit: at most 5 rules, got 6"]),
    ("fargate platform version", fargate(jd(platform_version="latest")), [
        "job_definitions.worker.platform_version: expected LATEST or a version like 1.4.0, got 'latest'"]),
    ("log retention", {"logs": {"retention_days": 10}}, [
        "logs.retention_days: CloudWatch takes 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, "
        "1827, 2192, 2557, 2922, 3288, 3653; got 10"]),
    ("job role grants", {"job_role": {"managed_policy_arns": ["AmazonS3ReadOnlyAccess"],
                                      "policy_statements": [{"Effect": "allow", "Action": [], "Resource": "*", "Principal": "x"}]}}, [
        "job_role.managed_policy_arns[0]: expected an IAM policy ARN, got 'AmazonS3ReadOnlyAccess'",
        "job_role.policy_statements[0]: unknown keys Principal; expected Action, Condition, Effect, NotAction, NotResource, Resource, Sid",
        "job_role.policy_statements[0].Effect: expected Allow or Deny, got 'allow'",
        "job_role.policy_statements[0].Action: expected a string or a non-empty list of strings, got []"]),
    ("reserved tag", {"tags": {"aws:owner": "me"}}, ["tags.aws:owner: the aws: prefix is reserved by AWS"]),
]


@pytest.mark.parametrize("patch, expected", [(p, e) for _, p, e in CASES], ids=[c[0] for c in CASES])
def test_rule(patch: dict[str, Any], expected: list[str]) -> None:
    assert errors_of(merged(MINIMAL, patch)) == expected


def test_minimal_and_dev_specs_are_valid() -> None:
    assert errors_of(MINIMAL) == []


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Wove", "wove-batch:name: cluster name 'Wove' may hold only lower-case letters, digits and '-', starting with a letter or digit"),
        ("w" * 41, f"wove-batch:name: cluster name '{'w' * 41}' is 41 characters; at most 40 fit IAM's 64-character role names"),
    ],
)
def test_cluster_name(name: str, expected: str) -> None:
    assert errors_of(MINIMAL, name=name) == [expected]


def test_not_a_mapping_at_all() -> None:
    assert errors_of(None) == ["wove-batch:cluster: expected a mapping, got None"]
    assert errors_of(["a"]) == ["wove-batch:cluster: expected a mapping, got ['a']"]


def test_several_independent_errors_are_all_reported_in_one_pass() -> None:
    cluster = merged(
        MINIMAL,
        {
            "compute_environments": {"cpu": {"max_vcpus": "many"}, "spot": {"type": "SPOT", "instance_types": ["c7g", "c6i"], "max_vcpus": 4, "bid_percentage": 120}},
            "job_queues": {"main": {"priority": -3}},
            "job_definitions": {"worker": {"timeout_seconds": 10, "retry_attempts": 20}},
            "callback": {"base_url": "runner:8787"},
            "colour": "blue",
        },
    )
    assert errors_of(cluster) == [
        "colour: unknown key; expected one of compute_environments, job_queues, job_definitions, wove_environments, "
        "network, image, callback, exchange, logs, job_role, tags",
        "compute_environments.cpu.max_vcpus: expected a whole number, got 'many'",
        "compute_environments.spot.instance_types: mixes arm64 (c7g) and x86_64 (c6i) instance types; an environment takes one architecture",
        "compute_environments.spot.bid_percentage: must be within 1..100, got 120",
        "job_queues.main.priority: must be at least 0, got -3",
        "job_definitions.worker.retry_attempts: must be within 1..10, got 20",
        "job_definitions.worker.timeout_seconds: must be at least 60, got 10",
        "callback.base_url: expected an http:// or https:// URL with a host, got 'runner:8787'",
    ]


def test_typed_args_are_checked_like_config() -> None:
    from wove_batch import ComputeEnvironmentArgs, JobDefinitionArgs, JobQueueArgs, WoveBatchClusterArgs

    args = WoveBatchClusterArgs(
        compute_environments={"cpu": ComputeEnvironmentArgs(type="EC2", instance_types=("m6i",), max_vcpus=0)},
        job_queues={"main": JobQueueArgs(compute_environments=("cpu",))},
        job_definitions={"worker": JobDefinitionArgs()},
    )
    parsed, errors = validate_cluster(args, "wove-test")
    assert [str(e) for e in errors] == ["compute_environments.cpu.max_vcpus: must be at least 1, got 0"]
    assert parsed == args


def test_longest_allowed_names_give_children_aws_accepts() -> None:
    """Names exactly at their budget pass validation, and every child's physical name the
    plan derives from them fits AWS's 128 characters."""
    from conftest import plan_of

    ce_name, queue_name, definition_name = "c" * 107, "q" * 99, "d" * 103
    cluster = {
        "image": {"python_version": "3.11"},
        "compute_environments": {ce_name: {"type": "EC2", "instance_types": ["m6i"], "max_vcpus": 4}},
        "job_queues": {queue_name: {"compute_environments": [ce_name], "fair_share": {}}},
        "job_definitions": {definition_name: {}},
        "wove_environments": {"batch": {"job_queue": queue_name, "job_definition": definition_name, "share_identifier": "a"}},
    }
    assert errors_of(cluster) == []
    for name, limit in ((ce_name, 107), (queue_name, 99), (definition_name, 103)):
        longer = merged(cluster, {})
        section = {ce_name: "compute_environments", queue_name: "job_queues", definition_name: "job_definitions"}[name]
        longer[section] = {name + "x" if k == name else k: v for k, v in longer[section].items()}
        assert any(f"at most {limit} fit" in e for e in errors_of(longer)), section
    plan = plan_of(cluster)
    named = [r.state["name"] for r in plan.resources if r.type.startswith(("aws:batch/", "aws:ec2/launchTemplate"))]
    assert len(named) == 5
    assert max(len(n) for n in named) == 128


def test_longest_cluster_name_gives_role_names_iam_accepts() -> None:
    """At the cluster name's limit, every IAM role the plan names (with Pulumi's suffix) fits
    IAM's 64 characters, the Spot fleet role, the longest, exactly."""
    from conftest import plan_of

    name = "w" * 40
    cluster = {**MINIMAL, "compute_environments": {"cpu": {"type": "SPOT", "instance_types": ["m6i.large"], "max_vcpus": 4}}}
    assert errors_of(cluster, name=name) == []
    roles = [r.state["name"] for r in plan_of(cluster, name=name).of_type("aws:iam/role:Role")]
    assert len(roles) == 4
    assert max(len(role) for role in roles) == 64


def test_errors_echo_a_bounded_prefix_of_a_huge_value() -> None:
    cluster = {**MINIMAL, "job_definitions": {"worker": {"vcpus": "x" * 5000}}}
    (error,) = validate_cluster(cluster, "wove-test")[1]
    assert str(error) == "job_definitions.worker.vcpus: expected a number, got '" + "x" * 119 + "… (5002 characters)"


# --- issue 23: wrongly accepted, and wrongly refused ------------------------------------------------
def _fair_share(shares: dict[str, float], identifier: str = "a") -> dict[str, Any]:
    return {"job_queues": {"main": {"fair_share": {"shares": shares}}},
            "wove_environments": {"batch": {"job_queue": "main", "job_definition": "worker",
                                            "share_identifier": identifier}}}


def _callback(url: str) -> dict[str, Any]:
    return {"callback": {"base_url": url}}


OWN_HOST = ("is each Batch job's own container, not the submitter; give an address the jobs' subnets reach, or use "
            "results: exchange")
LAUNCH = "Batch cannot launch it: "
PV = ("a previous-generation family that boots only paravirtual AMIs; Batch boots the HVM ECS-optimized AMIs (use a "
      "current family such as m6i, c6i or t3)")
SHARE_ID = "a share identifier is up to 255 letters or digits, optionally followed by '*' (a prefix), got "
DEFAULT_ENV = ("replaces Wove's default environment: every task without an environment, and Wove's seed task, would "
               "go to Batch; choose another name")
OVERLAP = "(a prefix covering it); AWS takes no two share identifiers that overlap"
LONG_SHARE = "x" * 256

ISSUE_23_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("wove environment named default", {"wove_environments": {"default": {"job_queue": "main", "job_definition": "worker"}}},
     [f"wove_environments.default: an environment named 'default' {DEFAULT_ENV}"]),
    ("queue named default yields one", {"job_queues": {"default": {"compute_environments": ["cpu"]}}},
     [f"job_queues.default: the Wove environment named after this queue, 'default', {DEFAULT_ENV}"]),
    ("wove environment named ''", {"wove_environments": {"": {"job_queue": "main", "job_definition": "worker"}}},
     ["wove_environments: an environment named '' cannot be selected: Wove takes an empty environment name as its "
      "default"]),
    ("share identifiers outside AWS's pattern", _fair_share({"team-a": 1, LONG_SHARE: 1, "ok*": 1}), [
        f"job_queues.main.fair_share.shares.team-a: {SHARE_ID}'team-a'",
        f"job_queues.main.fair_share.shares.{describe(LONG_SHARE)}: {SHARE_ID}{describe(LONG_SHARE)}"]),
    ("share identifiers that overlap", _fair_share({"UserA*": 1, "UserA1": 1, "UserAB*": 1, "UserB": 1}), [
        f"job_queues.main.fair_share.shares.UserA1: overlaps 'UserA*' {OVERLAP}",
        f"job_queues.main.fair_share.shares.UserAB*: overlaps 'UserA*' {OVERLAP}"]),
    ("submit share identifier outside AWS's pattern", _fair_share({"a": 1}, "a_b"), [
        "wove_environments.batch.share_identifier: expected up to 255 letters or digits, optionally followed by '*' "
        "(AWS's share identifiers), got 'a_b'"]),
    ("python the package cannot install on", {"image": {"python_version": "3.9"}},
     ["image.python_version: wove-batch (which the image installs) needs Python >=3.10, got 3.9"]),
    ("uri with a build context", {"image": {"uri": "repo/worker:1", "context": "app", "dockerfile": "app/Dockerfile"}}, [
        "image.context: give uri (prebuilt) or context (built here), not both; with uri nothing is built, got 'app'",
        "image.dockerfile: give uri (prebuilt) or dockerfile (built here), not both; with uri nothing is built, got "
        "'app/Dockerfile'"]),
    ("build files outside the project", {"image": {"context": "../..", "dockerfile": "/etc/passwd"}}, [
        "image.context: must be a path inside the project, relative to it, got '../..'",
        "image.dockerfile: must be a path inside the project, relative to it, got '/etc/passwd'"]),
    ("a definition's build folder outside the project", jd(image_context="../app"), [
        "job_definitions.worker.image_context: must be a path inside the project, relative to it, got '../app'"]),
    ("a definition's Dockerfile outside the project", jd(image_context="app", image_dockerfile="/abs/Dockerfile"), [
        "job_definitions.worker.image_dockerfile: must be a path inside the project, relative to it, got "
        "'/abs/Dockerfile'"]),
    ("mounts at one path, over / and flags with values", jd(
        shared_memory_mib=64, efs_volumes={"v": {"file_system_id": "fs-01234567", "container_path": "/data"}},
        tmpfs=[{"container_path": "/dev/shm/", "size_mib": 8}, {"container_path": "/", "size_mib": 1},
               {"container_path": "/data", "size_mib": 8, "mount_options": ["noexec=yes", "mode", "mode=1777", "nosuid"]}]), [
        "job_definitions.worker.tmpfs[0].container_path: /dev/shm is also the mount of "
        "job_definitions.worker.shared_memory_mib; each mount needs a path of its own",
        "job_definitions.worker.tmpfs[1].container_path: a mount over / would hide the image (the worker with it), "
        "got '/'",
        "job_definitions.worker.efs_volumes.v.container_path: /data is also the mount of "
        "job_definitions.worker.tmpfs[2].container_path; each mount needs a path of its own",
        "job_definitions.worker.tmpfs[2].mount_options[0]: noexec is a flag and takes no value, got 'noexec=yes'",
        "job_definitions.worker.tmpfs[2].mount_options[1]: mode takes a value (mode=...), got 'mode'"]),
    ("managed policies past IAM's quota, and twice",
     {"job_role": {"managed_policy_arns": [f"arn:aws:iam::aws:policy/P{i}" for i in range(11)] + ["arn:aws:iam::aws:policy/P0"]}}, [
         "job_role.managed_policy_arns: 12 policies; IAM attaches at most 10 managed policies to a role (its default "
         "quota); merge some, or move statements inline",
         "job_role.managed_policy_arns[11]: 'arn:aws:iam::aws:policy/P0' is also managed_policy_arns[0]"]),
    ("inline policy past IAM's size", {"job_role": {"policy_statements": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i:04d}/*"} for i in range(200)]}}, [
        "job_role.policy_statements: 16638 characters without white space; IAM takes 10240 of inline policy per role "
        "and the component's own need up to 512, leaving 9728; put statements in a managed policy (managed_policy_arns)"]),
    ("instance types Batch cannot launch", ce(type="EC2", instance_types=["mac2.metal", "t1.micro", "m1", "m6i"], max_vcpus=16), [
        f"compute_environments.cpu.instance_types[0]: 'mac2.metal': {LAUNCH}Mac instances run only on Dedicated Hosts, "
        "which Batch's compute environments do not use",
        f"compute_environments.cpu.instance_types[1]: 't1.micro': {LAUNCH}{PV}",
        f"compute_environments.cpu.instance_types[2]: 'm1': {LAUNCH}{PV}"]),
    ("gpus that fit only past max_vcpus", {
        "compute_environments": {"cpu": DELETE, "gpu": {"type": "EC2", "instance_types": ["g5"], "max_vcpus": 64}},
        "job_queues": {"main": {"compute_environments": ["gpu"]}},
        "job_definitions": {"worker": {"vcpus": 8, "memory": 32768, "gpus": 8}}}, [
        "job_queues.main: job definition 'worker' (8 vCPU, 32768 MiB, 8 GPU) fits only g5.48xlarge (192 vCPU) and "
        "larger, above max_vcpus 64 of the environments of queue 'main'; with BEST_FIT Batch launches no instance past "
        "max_vcpus, so its jobs would stay RUNNABLE"]),
    ("callback localhost.", _callback("http://localhost.:8787"), [f"callback.base_url: localhost. {OWN_HOST}"]),
    ("callback integer loopback", _callback("http://2130706433:8787"), [f"callback.base_url: 2130706433 {OWN_HOST}"]),
    ("callback short loopback", _callback("http://127.1/"), [f"callback.base_url: 127.1 {OWN_HOST}"]),
    ("callback IPv4-mapped loopback", _callback("http://[::ffff:127.0.0.1]:8787"),
     [f"callback.base_url: ::ffff:127.0.0.1 {OWN_HOST}"]),
    ("callback metadata service", _callback("http://169.254.169.254/"), [
        "callback.base_url: 169.254.169.254 is link-local: the instance's own metadata and credential services "
        "(169.254.169.254, 169.254.170.2), not the submitter; give an address the jobs' subnets reach, or use "
        "results: exchange"]),
    ("tag keys and values with line breaks", {"tags": {"team\nx": "a", "ok": "line\nbreak", "sep\u2028": "fine"}}, [
        "tags['team\\nx']: keys take letters, digits, spaces and _ . : / = + - @ only, got 'team\\nx'",
        "tags.ok: values take letters, digits, spaces and _ . : / = + - @ only, got 'line\\nbreak'"]),
    ("secret ARNs with spaces or unknown partitions", jd(secrets={
        "A": "arn:aws:secretsmanager:us-east-1:123456789012:secret:my secret",
        "B": "arn:aws-xx:ssm:us-east-1:123456789012:parameter/x",
        "C": "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db-AbCdEf:password::",
        "D": "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/app/x"}), [
        "job_definitions.worker.secrets.A: an ARN has no white space, got "
        "'arn:aws:secretsmanager:us-east-1:123456789012:secret:my secret'",
        "job_definitions.worker.secrets.B: 'aws-xx' is no AWS partition (expected aws, aws-cn, aws-us-gov), got "
        "'arn:aws-xx:ssm:us-east-1:123456789012:parameter/x'"]),
    ("SSM names deeper than AWS allows; AWS's readable names taken", jd(secrets={
        "A": "/l" * 16, "B": "/l" * 15, "C": "/aws/reference/secretsmanager/db",
        "D": "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended", "E": "/aws/other"}), [
        "job_definitions.worker.secrets.A: SSM takes at most 15 levels of hierarchy, got 16 in "
        "'/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l/l'",
        "job_definitions.worker.secrets.E: SSM parameter names may not begin with aws or ssm (reserved), got '/aws/other'"]),
    ("log retention 0 never expires", {"logs": {"retention_days": 0}}, []),
    ("share identifier with a trailing * where SubmitJob takes one", _fair_share({"UserA*": 1, "UserB": 1}, "UserA*"), []),
]


@pytest.mark.parametrize("patch, expected", [(p, e) for _, p, e in ISSUE_23_CASES], ids=[c[0] for c in ISSUE_23_CASES])
def test_issue_23_rule(patch: dict[str, Any], expected: list[str]) -> None:
    assert errors_of(merged(MINIMAL, patch)) == expected


@pytest.mark.parametrize("name", ["xn--wove", "sthree-wove", "sthree-configurator-1", "amzn-s3-demo-wove"])
def test_cluster_names_s3_refuses_as_bucket_prefixes(name: str) -> None:
    prefix = next(p for p in ("xn--", "sthree-", "amzn-s3-demo-") if name.startswith(p))
    assert errors_of(MINIMAL, name=name) == [
        f"wove-batch:name: cluster name {name!r} begins with {prefix!r}, which S3 reserves; the exchange bucket is "
        f"named after the cluster ({name}-exchange-...)"]


def test_the_job_roles_own_inline_policies_fit_the_room_validation_leaves_them() -> None:
    """limits.py reserves room in IAM's 10,240 characters for the component's inline policies on
    the job role: the real documents, at the longest names, stay within it."""
    from wove_batch.aws import limits
    from wove_batch.resources.exchange import job_role_exchange_document
    from wove_batch.resources.iam import efs_client_document

    def size(document: str) -> int:
        return sum(1 for character in document if not character.isspace())

    assert size(job_role_exchange_document("arn:aws-us-gov:s3:::" + "w" * 40 + "-exchange-0000000")) <= (
        limits.JOB_ROLE_EXCHANGE_POLICY_CHARS)
    volume = ("fs-" + "0" * 40, "fsap-" + "0" * 40, False)
    assert size(efs_client_document([volume] * 10, region="ap-southeast-3", account="123456789012")) <= (
        10 * limits.JOB_ROLE_EFS_POLICY_CHARS_PER_VOLUME)


def test_logs_retention_0_plans_a_log_group_without_retention() -> None:
    from conftest import plan_of

    (group,) = plan_of(merged(MINIMAL, {"logs": {"retention_days": 0}})).of_type("aws:cloudwatch/logGroup:LogGroup")
    assert "retentionInDays" not in group.inputs
    (default,) = plan_of(MINIMAL).of_type("aws:cloudwatch/logGroup:LogGroup")
    assert default.inputs["retentionInDays"] == 30
