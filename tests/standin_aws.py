"""In-process stand-ins for AWS Batch and S3 where moto cannot show what matters: the time an
AWS call takes and the SubmitJob quota (moto enforces neither).

StandInBatch answers SubmitJob after `latency` seconds and enforces the account's quota the
way AWS does: a token bucket of `tps` a second (burst `tps`), past which the call is refused
with TooManyRequestsException (HTTP 400, botocore's ClientError). It makes array jobs'
children (`<arrayJobId>:<index>`, each with AWS_BATCH_JOB_ARRAY_INDEX), runs every job through
`run(environment)` on a pool of `workers` threads (the compute environment; by default Wove's
real worker, `wove_batch.worker.main`, in process), and answers DescribeJobs, ListJobs and
TerminateJob. Faults can be injected per call to SubmitJob (`faults`).

StandInS3 keeps objects in memory, with `latency` per request, Range reads and the paginator
the results poller uses.
"""

from __future__ import annotations

import io
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from botocore.exceptions import ClientError

JOB_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")


def client_error(code: str, message: str, status: int, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       operation)


@dataclass
class StandInJob:
    job_id: str
    name: str
    queue: str
    environment: dict[str, str]
    size: int = 0  # children, for an array parent
    status: str = "SUBMITTED"
    reason: Optional[str] = None
    exit_code: Optional[int] = None
    created: float = field(default_factory=time.time)


def run_worker_in_process(s3: Any) -> Callable[[dict[str, str]], int]:
    """Wove's real worker in this process (callback mode: it posts to Wove's callback server)."""

    def run(environment: dict[str, str]) -> int:
        from wove_batch.worker import main

        try:
            return main(argv=[], environ=environment, s3_factory=lambda: s3)
        except SystemExit as exc:
            return 1 if exc.code else 0
        except Exception:  # noqa: BLE001 - a crashed worker: Batch marks the job FAILED
            return 1

    return run


class StandInBatch:
    def __init__(self, run: Optional[Callable[[dict[str, str]], int]] = None, *, latency: float = 0.08,
                 tps: float = 50, workers: int = 64) -> None:
        self.latency = latency
        self.tps = tps
        self._tokens = tps
        self._stamp = time.monotonic()
        self._run = run
        self.jobs: dict[str, StandInJob] = {}
        self.calls = 0
        self.throttled = 0
        # Each SubmitJob takes the next fault, if any: raised instead of creating the job, or
        # after creating it when the exception has `after_create = True` (a lost answer).
        self.faults: list[Callable[[dict[str, Any]], Optional[BaseException]]] = []
        self.last_accepted_at = 0.0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="standin-compute")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    # --- SubmitJob ---------------------------------------------------------------------------
    def submit_job(self, **params: Any) -> dict[str, Any]:
        time.sleep(self.latency / 2)  # the request's way there
        with self._lock:
            self.calls += 1
            now = time.monotonic()
            self._tokens = min(self.tps, self._tokens + (now - self._stamp) * self.tps)
            self._stamp = now
            allowed = self._tokens >= 1
            if allowed:
                self._tokens -= 1
            else:
                self.throttled += 1
            fault = self.faults.pop(0)(params) if self.faults else None
        if not allowed:
            time.sleep(self.latency / 2)
            raise client_error("TooManyRequestsException", "Too Many Requests", 400, "SubmitJob")
        if fault is not None and not getattr(fault, "after_create", False):
            raise fault  # nothing was created
        response = self._create(params)
        time.sleep(self.latency / 2)  # the answer's way back
        if fault is not None:
            raise fault  # created, but the caller never hears of it
        return response

    def _create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["jobName"]
        if not JOB_NAME.fullmatch(name):
            raise client_error("ClientException", "Job name should match valid pattern", 400, "SubmitJob")
        size = int((params.get("arrayProperties") or {}).get("size", 0))
        if size and not 2 <= size <= 10_000:
            raise client_error("ClientException", f"array size {size} is not between 2 and 10000", 400, "SubmitJob")
        environment = {v["name"]: v["value"] for v in (params.get("containerOverrides") or {}).get("environment", [])}
        job = StandInJob(str(uuid.uuid4()), name, params["jobQueue"], environment, size)
        with self._lock:
            self.jobs[job.job_id] = job
            self.last_accepted_at = time.monotonic()
        children = [StandInJob(f"{job.job_id}:{index}", name, job.queue,
                               {**environment, "AWS_BATCH_JOB_ARRAY_INDEX": str(index)}) for index in range(size)]
        with self._lock:
            self.jobs.update({child.job_id: child for child in children})
        for runnable in children or [job]:
            self._pool.submit(self._execute, runnable)
        return {"jobId": job.job_id, "jobName": name, "jobArn": f"arn:aws:batch:us-east-1:123456789012:job/{job.job_id}"}

    def _execute(self, job: StandInJob) -> None:
        if job.status != "SUBMITTED" or self._run is None:
            return
        job.status = "RUNNING"
        code = self._run(job.environment)
        if job.status == "RUNNING":
            job.exit_code = code
            job.status = "SUCCEEDED" if code == 0 else "FAILED"
            job.reason = None if code == 0 else "Essential container in task exited"

    # --- reading back --------------------------------------------------------------------------
    def _describe(self, job: StandInJob) -> dict[str, Any]:
        detail: dict[str, Any] = {"jobId": job.job_id, "jobName": job.name, "status": job.status, "jobQueue": job.queue,
                                  "createdAt": int(job.created * 1000)}
        if job.reason:
            detail["statusReason"] = job.reason
        if job.exit_code is not None:
            detail["container"] = {"exitCode": job.exit_code}
        if job.size:
            summary = {status: 0 for status in ("SUBMITTED", "RUNNING", "SUCCEEDED", "FAILED")}
            for index in range(job.size):
                summary[self.jobs[f"{job.job_id}:{index}"].status] += 1
            detail["arrayProperties"] = {"size": job.size, "statusSummary": summary}
            if summary["SUCCEEDED"] + summary["FAILED"] == job.size:
                detail["status"] = "FAILED" if summary["FAILED"] else "SUCCEEDED"
        elif ":" in job.job_id:
            detail["arrayProperties"] = {"index": int(job.job_id.rsplit(":", 1)[1])}
        return detail

    def describe_jobs(self, jobs: list[str]) -> dict[str, Any]:
        time.sleep(self.latency)
        assert len(jobs) <= 100, len(jobs)
        with self._lock:
            return {"jobs": [self._describe(self.jobs[job_id]) for job_id in jobs if job_id in self.jobs]}

    def list_jobs(self, *, jobQueue: Optional[str] = None, arrayJobId: Optional[str] = None,
                  jobStatus: Optional[str] = None, filters: Optional[list[dict[str, Any]]] = None,
                  nextToken: Optional[str] = None) -> dict[str, Any]:
        time.sleep(self.latency)
        with self._lock:
            if arrayJobId is not None:
                parent = self.jobs[arrayJobId]
                candidates = [self.jobs[f"{arrayJobId}:{index}"] for index in range(parent.size)]
            else:  # a queue lists parents and plain jobs, not children
                candidates = [job for job in self.jobs.values() if job.queue == jobQueue and ":" not in job.job_id]
            if filters:
                names = {value for f in filters if f["name"] == "JOB_NAME" for value in f["values"]}
                candidates = [job for job in candidates if job.name in names]
            elif jobStatus is not None:
                candidates = [job for job in candidates if self._describe(job)["status"] == jobStatus]
            return {"jobSummaryList": [self._describe(job) for job in candidates]}

    def terminate_job(self, *, jobId: str, reason: str) -> dict[str, Any]:
        time.sleep(self.latency)
        with self._lock:
            targets = [self.jobs[jobId]] + [job for key, job in self.jobs.items() if key.startswith(f"{jobId}:")]
            for job in targets:
                if job.status not in ("SUCCEEDED", "FAILED"):
                    job.status, job.reason = "FAILED", reason
        return {}

    def cancel_job(self, *, jobId: str, reason: str) -> dict[str, Any]:
        raise AssertionError("the helper ends jobs with TerminateJob")


class StandInS3:
    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.objects: dict[tuple[str, str], bytes] = {}
        self.requests = 0
        self._lock = threading.Lock()

    def _request(self) -> None:
        with self._lock:
            self.requests += 1
        if self.latency:
            time.sleep(self.latency)

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> dict[str, Any]:
        self._request()
        with self._lock:
            self.objects[(Bucket, Key)] = bytes(Body)
        return {}

    def upload_fileobj(self, fileobj: io.BufferedIOBase, bucket: str, key: str) -> None:
        self.put_object(Bucket=bucket, Key=key, Body=fileobj.read())

    def get_object(self, *, Bucket: str, Key: str, Range: Optional[str] = None) -> dict[str, Any]:
        self._request()
        with self._lock:
            if (Bucket, Key) not in self.objects:
                raise client_error("NoSuchKey", "The specified key does not exist.", 404, "GetObject")
            body = self.objects[(Bucket, Key)]
        if Range is not None:
            start, end = (int(part) for part in Range.removeprefix("bytes=").split("-"))
            body = body[start : end + 1]
        return {"Body": io.BytesIO(body)}

    def delete_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self._request()
        with self._lock:
            self.objects.pop((Bucket, Key), None)
        return {}

    def delete_objects(self, *, Bucket: str, Delete: dict[str, Any]) -> dict[str, Any]:
        self._request()
        if len(Delete["Objects"]) > 1000:
            raise client_error("MalformedXML", "more than 1000 keys", 400, "DeleteObjects")
        with self._lock:
            for item in Delete["Objects"]:
                self.objects.pop((Bucket, item["Key"]), None)
        return {}

    def list_objects_v2(self, *, Bucket: str, Prefix: str = "", **_: Any) -> dict[str, Any]:
        self._request()
        with self._lock:
            keys = sorted(key for bucket, key in self.objects if bucket == Bucket and key.startswith(Prefix))
        return {"Contents": [{"Key": key} for key in keys]}

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_objects_v2"
        s3 = self

        class Paginator:
            def paginate(self, **params: Any) -> list[dict[str, Any]]:
                return [s3.list_objects_v2(**params)]

        return Paginator()


def standin_outputs(port: int, *, results: str = "callback", array_jobs: bool = True) -> dict[str, Any]:
    """A stack's outputs, as the component renders them, for one environment `batch` whose
    callback server listens on 127.0.0.1:`port`."""
    from wove_batch.outputs import callback_url, environment_token

    token = environment_token("secret", "batch")
    config: dict[str, Any] = {"job_queue": "queue", "job_definition": "worker", "client_options": {"region_name": "us-east-1"}}
    if results == "callback":
        config.update(callback_url=callback_url(f"http://127.0.0.1:{port}", token), callback_token=token,
                      callback_host="127.0.0.1", callback_port=port)
    return {"wove_environments": {"batch": {
        "executor": "aws_batch",
        "executor_config": config,
        "wove_batch": {"results": results, "exchange_bucket": "exchange", "region": "us-east-1", "array_jobs": array_jobs},
    }}}
