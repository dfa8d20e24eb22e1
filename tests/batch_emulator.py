"""End-to-end harness: moto's AWS emulator as the Batch API, this harness as the compute
environment.

- MotoServer starts `moto_server` on a free loopback port and stops it by its PID.
- deploy() creates in moto, through boto3, the Batch side of what the stack program declared
  (from the same mocks run as `python -m wove_batch plan`), with the component's inputs
  translated to the AWS API where the names differ. Translations are listed in
  TRANSLATIONS; what moto rejects fails the test.
- JobRunner plays the compute environment: it reads each submitted job back from moto
  (list_jobs, describe_jobs) and runs the job's command with the job's environment as a
  process, which posts to Wove's callback server. It writes the process's output to the job's
  CloudWatch log stream as the awslogs driver does (the definition's log group,
  `<stream prefix>/default/<ecs task id>`) and, with `report_status`, tells moto (through
  moto_job_control.py's route) that the job ran and how it ended, as the ECS agent tells Batch.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import boto3

from wove_batch.local.credentials import CredentialsEndpoint
from wove_batch.local.deploy import COMPUTE_RESOURCE_KEYS, TRANSLATIONS as LOCAL_TRANSLATIONS
from wove_batch.local.moto_server import CREDENTIALS, MotoServer as LocalMotoServer, free_port
from wove_batch.protocol import ARRAY_INDEX_VARIABLE, PAYLOAD_PACK_URI_VARIABLE, TASKS_PER_CHILD_VARIABLE
from wove_batch.tools.plan import DEFAULT_SUBNET_IDS, DEFAULT_VPC_ID, Plan

REGION = "us-east-1"
JOB_STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")

# Where the Batch API differs from the provider's inputs, or moto needs what AWS infers: the
# local backend's list, less its job states (this harness tells moto how each job ended).
TRANSLATIONS = {key: text for key, text in LOCAL_TRANSLATIONS.items() if key != "job states"}


def submitter_address() -> str:
    """This machine's address on its network (the interface a packet out would leave by; none
    is sent). Jobs post to Wove's callback server there, as Batch jobs post to the submitter's
    address: a stack's callback URL may not name loopback, which on Batch is the job's own."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routed like any address, never reached
            address = probe.getsockname()[0]
        except OSError as exc:
            raise RuntimeError(f"this machine has no network address for jobs to post to: {exc}") from None
    if address.startswith("127.") or address == "0.0.0.0":
        raise RuntimeError(f"this machine's only address is {address}: the callback URL needs a non-loopback one")
    return address


class MotoServer(LocalMotoServer):
    """The local backend's moto server (wove_batch.local), launched with the compute
    environment's reporting route (moto_job_control.py) that the harness tells job ends by."""

    def __init__(self, log_path: Path) -> None:
        super().__init__(log_path, REGION)

    def launcher(self) -> list[str]:
        return [sys.executable, str(Path(__file__).with_name("moto_job_control.py"))]

    def report_job(self, job_id: str, status: str, **details: Any) -> None:
        """What the ECS agent tells Batch of a job (moto_job_control.py): RUNNABLE, RUNNING,
        SUCCEEDED, FAILED (with exit_code, reason, log_stream_name), or FORGET."""
        self._post("/_harness/batch-job", {"job_id": job_id, "status": status, **details})


@dataclass
class Deployment:
    """What deploy() created: physical names of the Batch resources by type."""

    compute_environments: dict[str, str] = field(default_factory=dict)
    job_queues: dict[str, str] = field(default_factory=dict)
    job_definitions: dict[str, str] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    bucket_policies: dict[str, str] = field(default_factory=dict)


@dataclass
class ApiRequest:
    """One AWS API call deploy() made, with its parameters as sent."""

    service: str
    operation: str
    params: dict[str, Any]


def deploy(plan: Plan, moto: MotoServer, requests: Optional[list[ApiRequest]] = None) -> Deployment:
    """Create in moto what the plan declares, in dependency order, with the planned names.
    `requests` collects every API call made to create the resources (for the model checks)."""
    iam, ec2, batch, ecr, logs, s3 = (moto.client(s) for s in ("iam", "ec2", "batch", "ecr", "logs", "s3"))
    if requests is not None:
        for client in (iam, ec2, batch, ecr, logs, s3):
            service = client.meta.service_model.service_name

            def record(params: dict[str, Any], model: Any, service: str = service, **_: Any) -> None:
                if not model.name.startswith(("Describe", "List", "Get")):
                    requests.append(ApiRequest(service, model.name, json.loads(json.dumps(params, default=str))))

            client.meta.events.register(f"provide-client-params.{client.meta.service_model.service_id.hyphenize()}", record)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"])
    ids = {DEFAULT_VPC_ID: vpc, **dict(zip(DEFAULT_SUBNET_IDS, subnets))}
    service_role = iam.create_service_linked_role(AWSServiceName="batch.amazonaws.com")["Role"]["Arn"]
    created = Deployment()

    def order(resource: Any) -> int:
        return [
            "aws:s3/bucket:Bucket", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "aws:s3/bucketPolicy:BucketPolicy",
            "aws:iam/role:Role", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/rolePolicy:RolePolicy",
            "aws:iam/instanceProfile:InstanceProfile", "aws:ec2/securityGroup:SecurityGroup",
            "aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy",
            "aws:cloudwatch/logGroup:LogGroup", "aws:ec2/launchTemplate:LaunchTemplate",
            "aws:batch/computeEnvironment:ComputeEnvironment", "aws:batch/schedulingPolicy:SchedulingPolicy",
            "aws:batch/jobQueue:JobQueue",
            "aws:batch/jobDefinition:JobDefinition", "aws:iam/policy:Policy",
        ].index(resource.type) if resource.type.startswith("aws:") else -1

    for resource in sorted((r for r in plan.resources if order(r) >= 0), key=order):
        inputs, name = resource.inputs, resource.state.get("name")
        tags = inputs.get("tags") or {}
        if resource.type == "aws:s3/bucket:Bucket":
            s3.create_bucket(Bucket=name)
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
            created.buckets.append(name)
        elif resource.type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
            s3.put_public_access_block(Bucket=inputs["bucket"], PublicAccessBlockConfiguration={
                key[0].upper() + key[1:]: inputs[key]
                for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
            })
        elif resource.type == "aws:s3/bucketOwnershipControls:BucketOwnershipControls":
            s3.put_bucket_ownership_controls(Bucket=inputs["bucket"], OwnershipControls={
                "Rules": [{"ObjectOwnership": inputs["rule"]["objectOwnership"]}]})
        elif resource.type == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
            s3.put_bucket_encryption(Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"]},
                 "BucketKeyEnabled": rule.get("bucketKeyEnabled", False)}
                for rule in inputs["rules"]]})
        elif resource.type == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
            s3.put_bucket_lifecycle_configuration(Bucket=inputs["bucket"], LifecycleConfiguration={"Rules": [
                {"ID": rule["id"], "Status": rule["status"],
                 "Filter": {"Prefix": (rule.get("filter") or {}).get("prefix", "")},
                 **({"Expiration": {"Days": rule["expiration"]["days"]}} if "expiration" in rule else {}),
                 **({"AbortIncompleteMultipartUpload": {
                     "DaysAfterInitiation": rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"]}}
                    if "abortIncompleteMultipartUpload" in rule else {})}
                for rule in inputs["rules"]]})
        elif resource.type == "aws:s3/bucketPolicy:BucketPolicy":
            s3.put_bucket_policy(Bucket=inputs["bucket"], Policy=inputs["policy"])
            created.bucket_policies[inputs["bucket"]] = inputs["policy"]
            s3.delete_bucket_policy(Bucket=inputs["bucket"])  # see TRANSLATIONS["bucket policy"]
        elif resource.type == "aws:iam/policy:Policy":
            iam.create_policy(PolicyName=name, PolicyDocument=inputs["policy"], Description=inputs["description"])
        elif resource.type == "aws:iam/role:Role":
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
                            Description=inputs.get("description", ""),
                            Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
            created.roles.append(name)
        elif resource.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            iam.attach_role_policy(RoleName=inputs["role"], PolicyArn=inputs["policyArn"])
        elif resource.type == "aws:iam/rolePolicy:RolePolicy":
            iam.put_role_policy(RoleName=inputs["role"], PolicyName=name, PolicyDocument=inputs["policy"])
        elif resource.type == "aws:iam/instanceProfile:InstanceProfile":
            iam.create_instance_profile(InstanceProfileName=name)
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=inputs["role"])
        elif resource.type == "aws:ec2/securityGroup:SecurityGroup":
            group = ec2.create_security_group(GroupName=name, Description=inputs["description"], VpcId=ids[inputs["vpcId"]])
            ids[resource.state["id"]] = group["GroupId"]
        elif resource.type == "aws:ecr/repository:Repository":
            filters = inputs.get("imageTagMutabilityExclusionFilters")
            ecr.create_repository(repositoryName=name, imageTagMutability=inputs["imageTagMutability"],
                                  **({"imageTagMutabilityExclusionFilters": filters} if filters else {}),
                                  imageScanningConfiguration=inputs["imageScanningConfiguration"],
                                  encryptionConfiguration={"encryptionType": inputs["encryptionConfigurations"][0]["encryptionType"]})
        elif resource.type == "aws:ecr/lifecyclePolicy:LifecyclePolicy":
            ecr.put_lifecycle_policy(repositoryName=inputs["repository"], lifecyclePolicyText=inputs["policy"])
        elif resource.type == "aws:cloudwatch/logGroup:LogGroup":
            logs.create_log_group(logGroupName=name, tags=tags)
            logs.put_retention_policy(logGroupName=name, retentionInDays=inputs["retentionInDays"])
        elif resource.type == "aws:ec2/launchTemplate:LaunchTemplate":
            metadata = inputs["metadataOptions"]
            template = ec2.create_launch_template(
                LaunchTemplateName=name,
                LaunchTemplateData={
                    "UserData": inputs["userData"],
                    "MetadataOptions": {
                        "HttpEndpoint": metadata["httpEndpoint"],
                        "HttpTokens": metadata["httpTokens"],
                        "HttpPutResponseHopLimit": metadata["httpPutResponseHopLimit"],
                    },
                    "BlockDeviceMappings": [
                        {
                            "DeviceName": mapping["deviceName"],
                            "Ebs": {
                                "VolumeSize": mapping["ebs"]["volumeSize"],
                                "VolumeType": mapping["ebs"]["volumeType"],
                                "Encrypted": mapping["ebs"]["encrypted"] == "true",
                                "DeleteOnTermination": mapping["ebs"]["deleteOnTermination"] == "true",
                            },
                        }
                        for mapping in inputs["blockDeviceMappings"]
                    ],
                    "TagSpecifications": [
                        {"ResourceType": spec["resourceType"], "Tags": [{"Key": k, "Value": v} for k, v in spec["tags"].items()]}
                        for spec in inputs["tagSpecifications"]
                    ],
                },
            )["LaunchTemplate"]
            ids[resource.state["id"]] = template["LaunchTemplateId"]
            assert template["LatestVersionNumber"] == resource.state["latestVersion"]
        elif resource.type == "aws:batch/computeEnvironment:ComputeEnvironment":
            compute = {COMPUTE_RESOURCE_KEYS.get(k, k): v for k, v in inputs["computeResources"].items()}
            for subnet in compute["subnets"]:
                ids.setdefault(subnet, subnets[0])
            for group in compute["securityGroupIds"]:
                if group not in ids:
                    ids[group] = ec2.create_security_group(GroupName=f"stand-in-for-{group}", Description="given by the stack",
                                                         VpcId=vpc)["GroupId"]
            compute["subnets"] = [ids[s] for s in compute["subnets"]]
            compute["securityGroupIds"] = [ids[s] for s in compute["securityGroupIds"]]
            if "launchTemplate" in compute:
                template_id = compute["launchTemplate"]["launchTemplateId"]
                compute["launchTemplate"] = {**compute["launchTemplate"], "launchTemplateId": ids[template_id]}
            response = batch.create_compute_environment(
                computeEnvironmentName=name, type=inputs["type"], state=inputs["state"],
                computeResources=compute, serviceRole=service_role, tags=tags,
            )
            assert response["computeEnvironmentArn"] == resource.state["arn"], "moto's ARN differs from the plan's"
            if "updatePolicy" in inputs:
                batch.update_compute_environment(computeEnvironment=name, updatePolicy=inputs["updatePolicy"])
            created.compute_environments[resource.name] = name
        elif resource.type == "aws:batch/schedulingPolicy:SchedulingPolicy":
            policy = {("shareDistribution" if k == "shareDistributions" else k): v for k, v in inputs["fairSharePolicy"].items()}
            arn = batch.create_scheduling_policy(name=name, fairsharePolicy=policy, tags=tags)["arn"]
            assert arn == resource.state["arn"], "moto's ARN differs from the plan's"
        elif resource.type == "aws:batch/jobQueue:JobQueue":
            queue_options = {
                key: inputs[key] for key in ("schedulingPolicyArn", "jobStateTimeLimitActions") if key in inputs
            }
            batch.create_job_queue(
                jobQueueName=name, priority=inputs["priority"], state=inputs["state"], tags=tags,
                computeEnvironmentOrder=inputs["computeEnvironmentOrders"], **queue_options,
            )
            created.job_queues[resource.name] = name
        elif resource.type == "aws:batch/jobDefinition:JobDefinition":
            options: dict[str, Any] = {}
            if "retryStrategy" in inputs:
                options["retryStrategy"] = {("evaluateOnExit" if k == "evaluateOnExits" else k): v
                                            for k, v in inputs["retryStrategy"].items()}
            if "timeout" in inputs:
                options["timeout"] = inputs["timeout"]
            if "schedulingPriority" in inputs:
                options["schedulingPriority"] = inputs["schedulingPriority"]
            # deregisterOnNewRevision is the provider's own behaviour on an update, not an API member.
            batch.register_job_definition(
                jobDefinitionName=name, type=inputs["type"], platformCapabilities=inputs["platformCapabilities"],
                containerProperties=json.loads(inputs["containerProperties"]),
                propagateTags=inputs["propagateTags"], tags=tags, **options,
            )
            created.job_definitions[resource.name] = name
    return created


@dataclass
class RanJob:
    """A job the harness read back from moto and ran."""

    job_id: str
    job_name: str
    job_queue: str
    job_definition: str
    command: list[str]
    environment: dict[str, str]
    returncode: Optional[int] = None
    output: str = ""
    log_group: Optional[str] = None
    log_stream: Optional[str] = None
    process: Optional[subprocess.Popen[str]] = None


class JobRunner:
    """Plays the compute environment: runs every job submitted to the given queues."""

    def __init__(
        self,
        moto: MotoServer,
        queues: list[str],
        worker_path: Path,
        app_dir: Path,
        workers: int = 8,
        container: Optional[tuple[Any, str]] = None,
        unreachable_callback: bool = False,
        before_run: Optional[Callable[["RanJob"], None]] = None,
        report_status: bool = False,
        after_run: Optional[Callable[["RanJob"], None]] = None,
    ) -> None:
        """`container`: (DockerEngine, image) to run each job as `docker run` of the image
        instead of a process from the worker virtualenv. The job reaches moto's S3 as a job
        reaches S3 (its boto3 configured by the environment). `unreachable_callback`: the
        job's HTTP goes through a proxy that refuses everything, except to moto (`localhost`),
        as from a subnet with no route to the submitter. `before_run(job)` runs before each job,
        `after_run(job)` after it, before its end is reported. `report_status`: each job is
        reported RUNNING when it starts and SUCCEEDED or FAILED (exit code, "Essential
        container in task exited") when its process ends; without it moto keeps jobs as they are."""
        self.moto = moto
        self.report_status = report_status
        self.after_run = after_run
        self.batch = moto.client("batch")
        self.logs = moto.client("logs")
        self.container = container
        self.app_dir = app_dir
        self.queues = queues
        self.before_run = before_run
        self.certificate = moto.certificate
        self.base_env = {
            "PATH": f"{worker_path}:/usr/bin:/bin",
            "PYTHONPATH": str(app_dir),
            "AWS_ENDPOINT_URL": f"https://localhost:{moto.port}",
            "AWS_CA_BUNDLE": str(moto.certificate),
            # No instance metadata (the launch templates' hop limit keeps containers from it):
            # the job's only credentials are its role's, from the credentials endpoint.
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        self.credentials = CredentialsEndpoint()
        if unreachable_callback:
            closed = free_port()
            self.base_env.update({"http_proxy": f"http://127.0.0.1:{closed}", "no_proxy": "localhost"})
        self.jobs: dict[str, RanJob] = {}
        self.array_parents: set[str] = set()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> "JobRunner":
        self.credentials.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True)
        self.credentials.stop()

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            for queue in self.queues:
                for status in JOB_STATUSES:
                    summaries = self.batch.list_jobs(jobQueue=queue, jobStatus=status)["jobSummaryList"]
                    self._start_new([s["jobId"] for s in summaries])

    def _start_new(self, job_ids: list[str]) -> None:
        new = [job_id for job_id in job_ids if job_id not in self.jobs and job_id not in self.array_parents]
        for start in range(0, len(new), 100):
            for job in self.batch.describe_jobs(jobs=new[start : start + 100])["jobs"]:
                variables = {v["name"] for v in job["container"].get("environment", [])}
                if (job.get("arrayProperties") or {}).get("size") or (
                    ":" not in job["jobId"] and PAYLOAD_PACK_URI_VARIABLE in variables
                ):
                    # An array job runs as its children (TRANSLATIONS["array jobs"]).
                    children = self.batch.list_jobs(arrayJobId=job["jobId"])["jobSummaryList"]
                    if not children and TASKS_PER_CHILD_VARIABLE in variables:
                        self._start(job)  # several tasks in one plain job: a pack, but no children
                        continue
                    self.array_parents.add(job["jobId"])
                    self._start_new([child["jobId"] for child in children])
                elif job["jobId"] not in self.jobs:  # a child may come with its parent's listing too
                    self._start(job)

    def _start(self, job: dict[str, Any]) -> None:
        container = job["container"]
        environment = {}
        for variable in container.get("environment", []):
            environment.setdefault(variable["name"], variable["value"])
        if ":" in job["jobId"]:  # what the ECS agent sets in each child of an array job
            environment[ARRAY_INDEX_VARIABLE] = job["jobId"].rsplit(":", 1)[1]
        # What the ECS agent adds for a job with a job role (moto's job omits the role: its
        # definition has it).
        (definition,) = self.batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"]
        role = container.get("jobRoleArn") or definition["containerProperties"]["jobRoleArn"]
        environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = self.credentials.uri_for(role)
        ran = RanJob(job["jobId"], job["jobName"], job["jobQueue"], job["jobDefinition"], list(container["command"]), environment)
        options = (definition["containerProperties"].get("logConfiguration") or {}).get("options") or {}
        if options.get("awslogs-group"):
            # The awslogs driver's stream name under Batch: <prefix>/<container name>/<ECS task id>.
            ran.log_group = options["awslogs-group"]
            ran.log_stream = f"{options.get('awslogs-stream-prefix', definition['jobDefinitionName'])}/default/{uuid.uuid4().hex}"
        with self._lock:
            self.jobs[ran.job_id] = ran
        self._pool.submit(self._run, ran)

    def _run(self, job: RanJob) -> None:
        if self.before_run is not None:
            self.before_run(job)
        if self.report_status:
            self.moto.report_job(job.job_id, "RUNNING", log_stream_name=job.log_stream)
        returncode, stdout = -1, ""
        try:
            returncode, stdout = self._run_process(job)
        finally:
            self._write_log(job, stdout)
            if self.after_run is not None:
                self.after_run(job)
            if self.report_status:
                failed = returncode != 0
                self.moto.report_job(
                    job.job_id, "FAILED" if failed else "SUCCEEDED", exit_code=returncode,
                    log_stream_name=job.log_stream,
                    reason="Essential container in task exited" if failed else None,
                )
            job.returncode = returncode  # last: wait_idle() returns once every job is reported

    def _write_log(self, job: RanJob, stdout: str) -> None:
        """The process's output as the awslogs driver sends it: one event a line."""
        if job.log_group is None or job.log_stream is None:
            return
        try:
            self.logs.create_log_group(logGroupName=job.log_group)
        except self.logs.exceptions.ResourceAlreadyExistsException:
            pass
        self.logs.create_log_stream(logGroupName=job.log_group, logStreamName=job.log_stream)
        now = int(time.time() * 1000)
        lines = [line for line in (stdout + job.output).splitlines() if line.strip()] or ["(no output)"]
        self.logs.put_log_events(logGroupName=job.log_group, logStreamName=job.log_stream,
                                 logEvents=[{"timestamp": now, "message": line} for line in lines])

    def terminate(self, job_id: str) -> None:
        """Stop a job's process as the ECS agent stops a terminated job's container (SIGTERM)."""
        job = self.jobs.get(job_id)
        if job is not None and job.process is not None and job.process.poll() is None:
            job.process.terminate()

    def _run_process(self, job: RanJob) -> tuple[int, str]:
        if self.container is not None:
            engine, image = self.container
            environment = {**self.base_env, **job.environment, "PATH": "/opt/venv/bin:/usr/bin:/bin", "PYTHONPATH": "/opt/app"}
            ran = engine.run_command(image, job.command, environment, self.app_dir, mounts=(self.certificate.parent,))
            job.output = ran.stderr.decode()
            return ran.returncode, ran.stdout.decode() if isinstance(ran.stdout, bytes) else ""
        job.process = subprocess.Popen(job.command, env={**self.base_env, **job.environment},
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            stdout, stderr = job.process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            job.process.kill()
            stdout, stderr = job.process.communicate()
        job.output = stderr
        return job.process.returncode, stdout

    def wait_idle(self, count: int, timeout: float = 30) -> list[RanJob]:
        """The ran jobs once `count` have been started and all have finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                jobs = list(self.jobs.values())
            if len(jobs) >= count and all(j.returncode is not None for j in jobs):
                return jobs
            time.sleep(0.05)
        finished = [f"{job.job_name} exited {job.returncode}: {job.output[-1500:]}" for job in self.jobs.values()
                    if job.returncode is not None]
        raise TimeoutError(f"{len(self.jobs)} jobs started, {count} expected; " + " | ".join(finished))
