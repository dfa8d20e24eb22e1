"""Create in moto, through boto3, what a plan declares: the Batch side of a stack (IAM, the
security group, ECR, the exchange bucket and its settings, the log group, launch templates,
compute environments, queues, job definitions), in dependency order, with the planned names.

The provider's inputs are translated to the AWS API only where the names differ; each
translation is listed in TRANSLATIONS. What moto refuses fails the deploy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..tools.plan import DEFAULT_SUBNET_IDS, DEFAULT_VPC_ID, Plan, PlannedResource
from .moto_server import MotoServer

TRANSLATIONS = {
    "serviceRole": "AWS uses the service-linked role AWSServiceRoleForBatch when none is given; "
    "moto requires one, so its ARN is passed explicitly",
    "computeEnvironmentOrders": "the provider's list is the API's computeEnvironmentOrder",
    "subnets/securityGroupIds/vpcId": "the plan's default-VPC lookups are mock answers; moto's own default "
    "VPC and subnets stand in for them",
    "containerProperties": "the provider takes a JSON string; the API takes the object",
    "computeResources": "the provider's minVcpus/maxVcpus/desiredVcpus/ec2Configurations are the API's "
    "minvCpus/maxvCpus/desiredvCpus/ec2Configuration",
    "updatePolicy": "CreateComputeEnvironment takes none: set with UpdateComputeEnvironment, as the provider does",
    "fairSharePolicy": "the provider's fairSharePolicy.shareDistributions is the API's fairsharePolicy.shareDistribution",
    "retryStrategy": "the provider's retryStrategy.evaluateOnExits is the API's retryStrategy.evaluateOnExit",
    "network ids": "subnets and security groups a stack names do not exist in moto: each stands for one of moto's "
    "default subnets, and a security group created for it in the default VPC",
    "launchTemplate": "the provider's LaunchTemplate inputs become EC2's LaunchTemplateData; the plan's mock id maps to moto's",
    "bucket policy": "moto accepts the TLS-only policy but evaluates its Deny without the aws:SecureTransport "
    "condition, refusing every request even over TLS (which the harness uses); it is put, so that moto checks it, "
    "then removed, and kept in Deployment.bucket_policies",
    "array jobs": "AWS lists an array job's children only by arrayJobId, and its ECS agent gives each child "
    "AWS_BATCH_JOB_ARRAY_INDEX; moto lists the children with the queue's jobs too and sets no index, so the "
    "compute environment (wove_batch.local's LocalCompute, or a test harness) runs the children, not the parent, and sets the index from the child's "
    "id `<arrayJobId>:<index>`. moto describes a new parent without arrayProperties until all its children "
    "exist; a job holding a payload pack and no index is a parent too",
    "job states": "moto cannot be told a job's state (it runs jobs in Docker itself, or holds them SUBMITTED): "
    "the jobs are held in moto, and the local compute environment keeps their states, attempts and exit codes, "
    "answering DescribeJobs, ListJobs, TerminateJob and CancelJob for them (wove_batch.local.batch_client)",
    "ecr encryption": "the provider's list encryptionConfigurations is the API's one encryptionConfiguration",
    "s3 bucket settings": "the provider's one resource per bucket setting (public access block, ownership, encryption, "
    "lifecycle, policy) is one S3 Put*Bucket* call each, with the API's capitalized member names",
}
COMPUTE_RESOURCE_KEYS = {
    "minVcpus": "minvCpus",
    "maxVcpus": "maxvCpus",
    "desiredVcpus": "desiredvCpus",
    "ec2Configurations": "ec2Configuration",
}

# Creation order: each resource after what it names.
ORDER = (
    "aws:s3/bucket:Bucket", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:iam/role:Role", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/instanceProfile:InstanceProfile", "aws:ec2/securityGroup:SecurityGroup",
    "aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:cloudwatch/logGroup:LogGroup", "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:batch/computeEnvironment:ComputeEnvironment", "aws:batch/schedulingPolicy:SchedulingPolicy",
    "aws:batch/jobQueue:JobQueue", "aws:batch/jobDefinition:JobDefinition", "aws:iam/policy:Policy",
)


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


@dataclass
class _Context:
    clients: dict[str, Any]
    ids: dict[str, str]  # the plan's ids (mock VPC, subnets, groups, templates) -> moto's
    vpc: str
    subnets: list[str]
    service_role: str
    created: Deployment

    def __getattr__(self, service: str) -> Any:
        try:
            return self.clients[service]
        except KeyError:
            raise AttributeError(service) from None


def _tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


def _capitalized(inputs: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key[0].upper() + key[1:]: inputs[key] for key in keys}


def _bucket(ctx: _Context, r: PlannedResource) -> None:
    name = r.state.get("name")
    ctx.s3.create_bucket(Bucket=name)
    ctx.s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tag_list(r.inputs.get("tags") or {})})
    ctx.created.buckets.append(name)


def _public_access_block(ctx: _Context, r: PlannedResource) -> None:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    ctx.s3.put_public_access_block(Bucket=r.inputs["bucket"], PublicAccessBlockConfiguration=_capitalized(r.inputs, keys))


def _ownership(ctx: _Context, r: PlannedResource) -> None:
    ctx.s3.put_bucket_ownership_controls(Bucket=r.inputs["bucket"], OwnershipControls={
        "Rules": [{"ObjectOwnership": r.inputs["rule"]["objectOwnership"]}]})


def _encryption(ctx: _Context, r: PlannedResource) -> None:
    rules = [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"]},
              "BucketKeyEnabled": rule.get("bucketKeyEnabled", False)} for rule in r.inputs["rules"]]
    ctx.s3.put_bucket_encryption(Bucket=r.inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules})


def _lifecycle(ctx: _Context, r: PlannedResource) -> None:
    def rule_of(rule: dict[str, Any]) -> dict[str, Any]:
        made: dict[str, Any] = {"ID": rule["id"], "Status": rule["status"],
                                "Filter": {"Prefix": (rule.get("filter") or {}).get("prefix", "")}}
        if "expiration" in rule:
            made["Expiration"] = {"Days": rule["expiration"]["days"]}
        if "abortIncompleteMultipartUpload" in rule:
            made["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"]}
        return made

    ctx.s3.put_bucket_lifecycle_configuration(Bucket=r.inputs["bucket"],
                                              LifecycleConfiguration={"Rules": [rule_of(x) for x in r.inputs["rules"]]})


def _bucket_policy(ctx: _Context, r: PlannedResource) -> None:
    ctx.s3.put_bucket_policy(Bucket=r.inputs["bucket"], Policy=r.inputs["policy"])
    ctx.created.bucket_policies[r.inputs["bucket"]] = r.inputs["policy"]
    ctx.s3.delete_bucket_policy(Bucket=r.inputs["bucket"])  # see TRANSLATIONS["bucket policy"]


def _policy(ctx: _Context, r: PlannedResource) -> None:
    ctx.iam.create_policy(PolicyName=r.state.get("name"), PolicyDocument=r.inputs["policy"],
                          Description=r.inputs["description"])


def _role(ctx: _Context, r: PlannedResource) -> None:
    name = r.state.get("name")
    ctx.iam.create_role(RoleName=name, AssumeRolePolicyDocument=r.inputs["assumeRolePolicy"],
                        Description=r.inputs.get("description", ""), Tags=_tag_list(r.inputs.get("tags") or {}))
    ctx.created.roles.append(name)


def _role_policy_attachment(ctx: _Context, r: PlannedResource) -> None:
    ctx.iam.attach_role_policy(RoleName=r.inputs["role"], PolicyArn=r.inputs["policyArn"])


def _role_policy(ctx: _Context, r: PlannedResource) -> None:
    ctx.iam.put_role_policy(RoleName=r.inputs["role"], PolicyName=r.state.get("name"), PolicyDocument=r.inputs["policy"])


def _instance_profile(ctx: _Context, r: PlannedResource) -> None:
    name = r.state.get("name")
    ctx.iam.create_instance_profile(InstanceProfileName=name)
    ctx.iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=r.inputs["role"])


def _security_group(ctx: _Context, r: PlannedResource) -> None:
    group = ctx.ec2.create_security_group(GroupName=r.state.get("name"), Description=r.inputs["description"],
                                          VpcId=ctx.ids[r.inputs["vpcId"]])
    ctx.ids[r.state["id"]] = group["GroupId"]


def _repository(ctx: _Context, r: PlannedResource) -> None:
    ctx.ecr.create_repository(
        repositoryName=r.state.get("name"), imageTagMutability=r.inputs["imageTagMutability"],
        **({"imageTagMutabilityExclusionFilters": r.inputs["imageTagMutabilityExclusionFilters"]}
           if r.inputs.get("imageTagMutabilityExclusionFilters") else {}),
        imageScanningConfiguration=r.inputs["imageScanningConfiguration"],
        encryptionConfiguration={"encryptionType": r.inputs["encryptionConfigurations"][0]["encryptionType"]})


def _repository_lifecycle(ctx: _Context, r: PlannedResource) -> None:
    ctx.ecr.put_lifecycle_policy(repositoryName=r.inputs["repository"], lifecyclePolicyText=r.inputs["policy"])


def _log_group(ctx: _Context, r: PlannedResource) -> None:
    name = r.state.get("name")
    ctx.logs.create_log_group(logGroupName=name, tags=r.inputs.get("tags") or {})
    ctx.logs.put_retention_policy(logGroupName=name, retentionInDays=r.inputs["retentionInDays"])


def _launch_template(ctx: _Context, r: PlannedResource) -> None:
    metadata = r.inputs["metadataOptions"]
    devices = [{"DeviceName": m["deviceName"], "Ebs": {
        "VolumeSize": m["ebs"]["volumeSize"], "VolumeType": m["ebs"]["volumeType"],
        "Encrypted": m["ebs"]["encrypted"] == "true", "DeleteOnTermination": m["ebs"]["deleteOnTermination"] == "true"}}
        for m in r.inputs["blockDeviceMappings"]]
    data = {
        "MetadataOptions": {"HttpEndpoint": metadata["httpEndpoint"], "HttpTokens": metadata["httpTokens"],
                            "HttpPutResponseHopLimit": metadata["httpPutResponseHopLimit"]},
        "BlockDeviceMappings": devices,
        **({"UserData": r.inputs["userData"]} if "userData" in r.inputs else {}),
        "TagSpecifications": [{"ResourceType": spec["resourceType"], "Tags": _tag_list(spec["tags"])}
                              for spec in r.inputs["tagSpecifications"]],
    }
    template = ctx.ec2.create_launch_template(LaunchTemplateName=r.state.get("name"), LaunchTemplateData=data)["LaunchTemplate"]
    ctx.ids[r.state["id"]] = template["LaunchTemplateId"]
    if template["LatestVersionNumber"] != r.state["latestVersion"]:
        raise RuntimeError(f"{r.name}: moto's launch template version differs from the plan's")


def _compute_environment(ctx: _Context, r: PlannedResource) -> None:
    name, inputs = r.state.get("name"), r.inputs
    compute = {COMPUTE_RESOURCE_KEYS.get(k, k): v for k, v in inputs["computeResources"].items()}
    for subnet in compute["subnets"]:
        ctx.ids.setdefault(subnet, ctx.subnets[0])
    for group in compute["securityGroupIds"]:
        if group not in ctx.ids:
            ctx.ids[group] = ctx.ec2.create_security_group(GroupName=f"stand-in-for-{group}", Description="given by the stack",
                                                           VpcId=ctx.vpc)["GroupId"]
    compute["subnets"] = [ctx.ids[s] for s in compute["subnets"]]
    compute["securityGroupIds"] = [ctx.ids[s] for s in compute["securityGroupIds"]]
    if "launchTemplate" in compute:
        template_id = compute["launchTemplate"]["launchTemplateId"]
        compute["launchTemplate"] = {**compute["launchTemplate"], "launchTemplateId": ctx.ids[template_id]}
    response = ctx.batch.create_compute_environment(
        computeEnvironmentName=name, type=inputs["type"], state=inputs["state"],
        computeResources=compute, serviceRole=ctx.service_role, tags=inputs.get("tags") or {},
    )
    if response["computeEnvironmentArn"] != r.state["arn"]:
        raise RuntimeError(f"{r.name}: moto's ARN {response['computeEnvironmentArn']} differs from the plan's")
    if "updatePolicy" in inputs:
        ctx.batch.update_compute_environment(computeEnvironment=name, updatePolicy=inputs["updatePolicy"])
    ctx.created.compute_environments[r.name] = name


def _scheduling_policy(ctx: _Context, r: PlannedResource) -> None:
    policy = {("shareDistribution" if k == "shareDistributions" else k): v for k, v in r.inputs["fairSharePolicy"].items()}
    arn = ctx.batch.create_scheduling_policy(name=r.state.get("name"), fairsharePolicy=policy,
                                             tags=r.inputs.get("tags") or {})["arn"]
    if arn != r.state["arn"]:
        raise RuntimeError(f"{r.name}: moto's ARN {arn} differs from the plan's")


def _job_queue(ctx: _Context, r: PlannedResource) -> None:
    inputs, name = r.inputs, r.state.get("name")
    options = {key: inputs[key] for key in ("schedulingPolicyArn", "jobStateTimeLimitActions") if key in inputs}
    ctx.batch.create_job_queue(jobQueueName=name, priority=inputs["priority"], state=inputs["state"],
                               tags=inputs.get("tags") or {}, computeEnvironmentOrder=inputs["computeEnvironmentOrders"],
                               **options)
    ctx.created.job_queues[r.name] = name


def _job_definition(ctx: _Context, r: PlannedResource) -> None:
    inputs, name = r.inputs, r.state.get("name")
    options: dict[str, Any] = {key: inputs[key] for key in ("timeout", "schedulingPriority") if key in inputs}
    if "retryStrategy" in inputs:
        options["retryStrategy"] = {("evaluateOnExit" if k == "evaluateOnExits" else k): v
                                    for k, v in inputs["retryStrategy"].items()}
    # deregisterOnNewRevision is the provider's own behaviour on an update, not an API member.
    ctx.batch.register_job_definition(
        jobDefinitionName=name, type=inputs["type"], platformCapabilities=inputs["platformCapabilities"],
        containerProperties=json.loads(inputs["containerProperties"]),
        propagateTags=inputs["propagateTags"], tags=inputs.get("tags") or {}, **options,
    )
    ctx.created.job_definitions[r.name] = name


CREATORS: dict[str, Callable[[_Context, PlannedResource], None]] = {
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _public_access_block,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _ownership,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _encryption,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _lifecycle,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_policy,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _role_policy_attachment,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:iam/instanceProfile:InstanceProfile": _instance_profile,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:ecr/repository:Repository": _repository,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _repository_lifecycle,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:batch/computeEnvironment:ComputeEnvironment": _compute_environment,
    "aws:batch/schedulingPolicy:SchedulingPolicy": _scheduling_policy,
    "aws:batch/jobQueue:JobQueue": _job_queue,
    "aws:batch/jobDefinition:JobDefinition": _job_definition,
    "aws:iam/policy:Policy": _policy,
}


def _record_requests(clients: dict[str, Any], requests: list[ApiRequest]) -> None:
    for client in clients.values():
        service = client.meta.service_model.service_name

        def record(params: dict[str, Any], model: Any, service: str = service, **_: Any) -> None:
            if not model.name.startswith(("Describe", "List", "Get")):
                requests.append(ApiRequest(service, model.name, json.loads(json.dumps(params, default=str))))

        client.meta.events.register(f"provide-client-params.{client.meta.service_model.service_id.hyphenize()}", record)


def deploy(plan: Plan, moto: MotoServer, requests: Optional[list[ApiRequest]] = None) -> Deployment:
    """Create in moto what the plan declares, in dependency order, with the planned names.
    `requests` collects every API call made to create the resources (for the model checks)."""
    clients = {service: moto.client(service) for service in ("iam", "ec2", "batch", "ecr", "logs", "s3")}
    if requests is not None:
        _record_requests(clients, requests)
    ec2 = clients["ec2"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"])
    service_role = clients["iam"].create_service_linked_role(AWSServiceName="batch.amazonaws.com")["Role"]["Arn"]
    ctx = _Context(clients, {DEFAULT_VPC_ID: vpc, **dict(zip(DEFAULT_SUBNET_IDS, subnets))}, vpc, subnets,
                   service_role, Deployment())
    for resource in sorted((r for r in plan.resources if r.type in CREATORS), key=lambda r: ORDER.index(r.type)):
        CREATORS[resource.type](ctx, resource)
    return ctx.created
