"""moto's server with one more route: the compute environment's reports to Batch.

On AWS the ECS agent tells Batch that a job started, which log stream it writes and how its
container ended; moto has no API for that (it runs jobs in Docker itself, or fails them). The
harness (batch_emulator.JobRunner) plays the compute environment, so it reports through
`POST /_harness/batch-job` with a JSON body:

    {"job_id": ..., "status": "RUNNABLE"|"RUNNING"|"SUCCEEDED"|"FAILED"|"FORGET",
     "reason": ..., "exit_code": ..., "log_stream_name": ..., "container_reason": ...}

A job the harness reported on is the harness's: moto's own job thread (which would fail it
for want of Docker) no longer changes it. TerminateJob of a job not yet RUNNING ends it FAILED
at once, as Batch does; a RUNNING one ends when the harness reports its container's end.
"FORGET" removes the job from moto (a job Batch no longer knows: past its retention).

Run as `python moto_job_control.py <moto_server arguments>`.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from moto import server
from moto.batch import models

ROUTE = "/_harness/batch-job"
_original_mark_stopped = models.Job._mark_stopped
_original_terminate = models.Job.terminate
_original_container_details = models.Job._container_details
_original_start_attempt = models.Job._start_attempt


def _start_attempt(self: Any) -> None:
    if getattr(self, "_harness_owned", False) and not getattr(self, "_harness_starting", False):
        return  # moto's thread: the harness reports the attempts
    _original_start_attempt(self)


def _harness_start(job: Any) -> None:
    job._harness_starting = True
    try:
        _original_start_attempt(job)
    finally:
        job._harness_starting = False


def _container_details(self: Any) -> dict[str, Any]:
    """What AWS's DescribeJobs has and moto's lacks: the container's exit code and reason."""
    details = _original_container_details(self)
    if getattr(self, "_harness_owned", False) and self.exit_code is not None:
        details["exitCode"] = self.exit_code
        reason = ((self.latest_attempt or {}).get("container") or {}).get("reason")
        if reason:
            details["reason"] = reason
    return details


def _mark_stopped(self: Any, success: bool = True) -> None:
    if getattr(self, "_harness_owned", False) and not getattr(self, "_harness_stopping", False):
        return  # moto's Docker-less thread: the harness reports this job's end
    _original_mark_stopped(self, success)


def _terminate(self: Any, reason: str) -> None:
    if self.job_stopped:
        return
    for child in self._child_jobs or []:  # Batch ends an array's children with it
        _terminate(child, reason)
    _original_terminate(self, reason)
    if getattr(self, "_harness_owned", False) and self.status == "RUNNING":
        return  # the harness stops its container and reports the end
    _stop(self, "FAILED", reason)


def _stop(job: Any, status: str, reason: Any = None) -> None:
    job._harness_stopping = True
    try:
        if reason:
            job.job_stopped_reason = reason
        _original_mark_stopped(job, status == "SUCCEEDED")
    finally:
        job._harness_stopping = False


def _find(job_id: str) -> tuple[Any, Any]:
    for accounts in models.batch_backends.values():
        for backend in accounts.values():
            job = backend._jobs.get(job_id)
            if job is not None:
                return backend, job
    raise KeyError(job_id)


def report(body: dict[str, Any]) -> None:
    backend, job = _find(body["job_id"])
    status = body["status"]
    if status == "FORGET":
        del backend._jobs[body["job_id"]]
        return
    job._harness_owned = True
    if body.get("log_stream_name"):
        job.log_stream_name = body["log_stream_name"]
    if body.get("reason"):
        job.job_stopped_reason = body["reason"]
    if status in ("RUNNABLE", "STARTING"):
        job.status = status
    elif status == "RUNNING":
        job.job_started_at = datetime.now()
        job.status = status
        _harness_start(job)
    else:
        if job.latest_attempt is None:
            job.job_started_at = datetime.now()
            _harness_start(job)
        job.exit_code = body.get("exit_code")
        if body.get("container_reason"):
            job.latest_attempt["container"]["reason"] = body["container_reason"]
        if body.get("exit_code") is not None:
            job.latest_attempt["container"]["exitCode"] = body["exit_code"]
        _stop(job, status, body.get("reason"))


class JobControlApplication(server.DomainDispatcherApplication):  # type: ignore[misc, name-defined]
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == ROUTE and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            try:
                report(body)
            except KeyError:
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b"no such job"]
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        return super().__call__(environ, start_response)


models.Job._mark_stopped = _mark_stopped
models.Job._container_details = _container_details
models.Job._start_attempt = _start_attempt
models.Job.terminate = _terminate
server.DomainDispatcherApplication = JobControlApplication

if __name__ == "__main__":
    server.main(sys.argv[1:])
