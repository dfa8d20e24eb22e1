"""The Batch client the helper gets on the local backend: a boto3 client of moto's Batch, whose
jobs the local compute environment runs.

SubmitJob goes to moto (strict Batch: the queue, the definition, the job name, the overrides
are checked there, and moto gives the job its id); the job is then handed to LocalCompute.
moto cannot be told a job's state (it would run it in Docker itself, or hold it SUBMITTED), so
DescribeJobs, ListJobs, TerminateJob and CancelJob of the jobs submitted here are answered
from the local compute environment, in Batch's shapes. Every other call goes to moto.
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from .compute import LocalCompute
from .jobs import LocalJob


class LocalBatchClient:
    def __init__(self, client: Any, compute: LocalCompute) -> None:
        self._client = client
        self.compute = compute
        self._definitions: dict[str, dict[str, Any]] = {}
        self._queues: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def submit_job(self, **params: Any) -> dict[str, Any]:
        response = self._client.submit_job(**params)
        self.compute.add(self._job(response, params))
        return response

    def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
        local = {job_id: self.compute.jobs.get(job_id) for job_id in jobs}
        unknown = [job_id for job_id, job in local.items() if job is None]
        others = {j["jobId"]: j for j in self._client.describe_jobs(jobs=unknown)["jobs"]} if unknown else {}
        described = []
        for job_id, job in local.items():
            if job is not None:
                described.append(job.describe())
            elif job_id in others:
                described.append(others[job_id])
        return {"jobs": described}

    def list_jobs(self, **params: Any) -> dict[str, Any]:
        """By array parent, or by queue and status, from the local jobs; with filters (a job
        name), moto's answer with each job's local status."""
        if params.get("filters"):
            answer = self._client.list_jobs(**params)
            for summary in answer.get("jobSummaryList", []):
                job = self.compute.jobs.get(summary["jobId"])
                if job is not None:
                    summary.update(job.summary())
            return answer
        # ListJobs without a status lists RUNNING jobs, as Batch does.
        status = params.get("jobStatus", "RUNNING")
        if "arrayJobId" in params:
            parent = self.compute.jobs.get(params["arrayJobId"])
            if parent is None:
                return self._client.list_jobs(**params)
            candidates = parent.children
        else:
            queue = self._queue(params["jobQueue"])["jobQueueArn"]
            candidates = [j for j in list(self.compute.jobs.values()) if j.job_queue == queue and j.array_index is None]
        return {"jobSummaryList": [j.summary() for j in candidates if j.current_status() == status]}

    def terminate_job(self, jobId: str, reason: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        job = self.compute.jobs.get(jobId)
        if job is None:
            return self._client.terminate_job(jobId=jobId, reason=reason)
        self.compute.terminate(job, reason)
        return {}

    def cancel_job(self, jobId: str, reason: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        """CancelJob ends only jobs that have not started (SUBMITTED, PENDING, RUNNABLE)."""
        job = self.compute.jobs.get(jobId)
        if job is None:
            return self._client.cancel_job(jobId=jobId, reason=reason)
        for target in job.children or [job]:
            if target.status in ("SUBMITTED", "PENDING", "RUNNABLE"):
                self.compute.terminate(target, reason)
        return {}

    # --- what a job gets -------------------------------------------------------------------
    def _job(self, response: dict[str, Any], params: dict[str, Any]) -> LocalJob:
        definition = self._definition(params["jobDefinition"])
        queue = self._queue(params["jobQueue"])
        properties = definition.get("containerProperties") or {}
        overrides = params.get("containerOverrides") or {}
        environment = {v["name"]: v["value"] for v in properties.get("environment", [])}
        environment.update({v["name"]: v["value"] for v in overrides.get("environment", [])})
        first_environment = queue["computeEnvironmentOrder"][0]["computeEnvironment"].rsplit("/", 1)[-1]
        retry = params.get("retryStrategy") or definition.get("retryStrategy") or {}
        timeout = (params.get("timeout") or definition.get("timeout") or {}).get("attemptDurationSeconds")

        def make(job_id: str, arn: str, index: Optional[int]) -> LocalJob:
            return LocalJob(job_id=job_id, job_arn=arn, job_name=response["jobName"], job_queue=queue["jobQueueArn"],
                            priority=int(queue["priority"]), compute_environment=first_environment,
                            definition=definition, command=list(overrides.get("command") or properties.get("command") or []),
                            environment={**environment, "AWS_BATCH_JOB_ID": job_id}, timeout_seconds=timeout,
                            retry_strategy=retry, array_index=index)

        job = make(response["jobId"], response["jobArn"], None)
        size = int((params.get("arrayProperties") or {}).get("size") or 0)
        job.children = [make(f"{job.job_id}:{i}", f"{job.job_arn}:{i}", i) for i in range(size)]
        return job

    def _definition(self, reference: str) -> dict[str, Any]:
        with self._lock:
            if reference not in self._definitions:
                by = ({"jobDefinitions": [reference]} if reference.startswith("arn:") or ":" in reference
                      else {"jobDefinitionName": reference, "status": "ACTIVE"})
                found = self._client.describe_job_definitions(**by)["jobDefinitions"]
                active = [d for d in found if d.get("status", "ACTIVE") == "ACTIVE"] or found
                self._definitions[reference] = max(active, key=lambda d: d["revision"])
            return self._definitions[reference]

    def _queue(self, reference: str) -> dict[str, Any]:
        with self._lock:
            if reference not in self._queues:
                (self._queues[reference],) = self._client.describe_job_queues(jobQueues=[reference])["jobQueues"]
            return self._queues[reference]
