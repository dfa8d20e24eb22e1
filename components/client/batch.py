"""The boto3 Batch client Wove's `aws_batch` adapter gets from `wove_environments`: it closes
the adapter's traps on AWS and carries the task's data.

- Job names: made valid for Batch (names.py).
- Submitting: inside Wove's event loop `submit_job` returns a future at once (Wove's adapter
  awaits it) and the call runs on the Submitter's threads, paced under the SubmitJob quota and
  retried (submitting.py); outside an event loop it blocks and returns the response.
- Array jobs: tasks of one environment arriving within `array_window_seconds` go to Batch as
  one array job, each child running its own task from the payload pack (arrays.py). Each task's
  submission is `<arrayJobId>:<index>`, so that Wove cancels, and the watcher fails, a child.
- Payload placement (plain jobs): inline in `WOVE_BACKEND_PAYLOAD` while the job's
  `containerOverrides` stay within INLINE_OVERRIDES_BUDGET (Batch fails a job past 8192
  characters after accepting it); otherwise the payload goes to the exchange bucket and the
  job gets its location. A payload that cannot be written raises ExchangeError before any
  SubmitJob.
- Results: in exchange mode the job gets a results location and the ResultPoller hands its
  events to Wove's callback server here; in callback mode the worker posts them itself.
- Ended jobs (watcher.py, reports.py): a job or child that FAILED, SUCCEEDED without a
  result, vanished from Batch or stalled RUNNABLE becomes a `task_error` for its task naming
  the job, its attempts, log stream, console link and last log lines (failures.py); a job
  Wove cancelled becomes `task_cancelled`. Reports go to the local callback server directly
  (local_callback.py). Wove keeps the first frame of a task: if the worker already answered,
  the late report is ignored.
- Cancelling: Wove's `cancel_job` becomes TerminateJob, which also ends a job that already
  started (CancelJob leaves a STARTING or RUNNING job running).
- Exit sweep (exit_sweep.py): `sweep()` terminates this client's jobs still unfinished and
  deletes their payloads.
- Several tasks per job (`tasks_per_job`, chunks.py): an array child runs N tasks of its
  group one after another; a task of such a child is cancelled by a marker its worker reads
  before running it, and a child that dies fails only its tasks that had not answered.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Union

from .. import protocol
from ..aws.limits import ARRAY_SIZE_MAX, INLINE_OVERRIDES_BUDGET, SUBMIT_JOB_MAX_BYTES
from . import chunks
from .arrays import ArrayBatcher, Queued
from .exchange import Exchange, Expected, ResultPoller
from .failures import BatchJobFailedError, LogSource
from .local_callback import local_url, post_body, post_frame
from .job_ends import JobEnds
from .names import batch_job_name
from .progress import Progress
from .reports import TaskReports
from .submitting import Submitter, settle
from .watcher import JobWatcher, Submitted, WatchedArray

log = logging.getLogger(__name__)

CANCEL_REASON = "Cancelled by Wove."


class PayloadTooLargeError(ValueError):
    """A task's SubmitJob request is over AWS Batch's limits even with its payload by
    reference (the environment's own overrides are too large); nothing was submitted."""


def overrides_length(overrides: Mapping[str, Any]) -> int:
    """containerOverrides as measured against Batch's 8192 (see limits.INLINE_OVERRIDES_BUDGET)."""
    return len(json.dumps(overrides))


@dataclass
class PreparedJob:
    """One SubmitJob call of Wove's adapter, taken apart."""

    params: dict[str, Any]  # as Wove gave them, jobName made valid
    overrides: dict[str, Any]  # containerOverrides without "environment"
    variables: list[dict[str, str]]  # the environment's variables, without the payload
    payload_b64: Optional[str]  # Wove's inline payload
    task: dict[str, Any]  # the payload's run_id, task_id, task_name, callback_url
    label: str
    prefix: str  # Wove's job_name_prefix
    slot: str = field(default_factory=lambda: uuid.uuid4().hex)
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def group(self) -> str:
        """What tasks sharing one array job must have in common."""
        params = {k: v for k, v in self.params.items() if k not in ("jobName", "containerOverrides")}
        return json.dumps([params, self.overrides, self.variables], sort_keys=True, default=str)


class WatchedBatchClient(JobEnds):
    """A boto3 Batch client for Wove's `aws_batch` adapter; every other call passes through."""

    def __init__(
        self,
        client: Any,
        *,
        exchange: Optional[Exchange] = None,
        results: str = "callback",
        poll_seconds: float = 2.0,
        results_poll_seconds: float = 1.0,
        post_event: Optional[Callable[[str, dict[str, Any]], None]] = None,
        submitter: Optional[Submitter] = None,
        array_jobs: bool = True,
        array_window_seconds: float = 0.1,
        log_source: Optional[LogSource] = None,
        callback_port: Optional[int] = None,
        callback_host: Optional[str] = None,
        result_grace_seconds: float = 5.0,
        stall_log_seconds: float = 60.0,
        runnable_timeout_seconds: Optional[float] = None,
        unknown_after_seconds: float = 30.0,
        progress: Optional[Progress] = None,
        max_task_bytes: Optional[int] = None,
        tasks_per_job: Union[int, str] = 1,
        target_jobs: int = chunks.TARGET_JOBS,
    ) -> None:
        if results == "exchange" and exchange is None:
            raise ValueError("exchange results need the exchange bucket")
        if max_task_bytes is not None and not (isinstance(max_task_bytes, int) and max_task_bytes > 0):
            raise ValueError(f"max_task_bytes: {max_task_bytes!r} is not a positive number of bytes")
        self._client = client
        self.max_task_bytes = max_task_bytes
        self.tasks_per_job = chunks.check_tasks_per_job(tasks_per_job, target_jobs)
        self.target_jobs = target_jobs
        self._chunk_cancels: dict[str, tuple[chunks.ChunkSubmitted, int]] = {}  # task's job id -> its chunk, index
        self._chunk_lock = threading.Lock()
        self.exchange = exchange
        self.results = results
        # Wove's callback server is in this process: events go to it directly, never by proxy.
        self._local = lambda url: local_url(url, callback_port, callback_host)  # noqa: E731
        self.poller = ResultPoller(exchange, poll_seconds=results_poll_seconds,
                                   post=lambda url, body: post_body(self._local(url), body)) if exchange is not None else None
        self._post_event = post_event or (lambda url, frame: post_frame(self._local(url), frame))
        self.progress = progress
        self.result_grace_seconds = result_grace_seconds
        self._flight = threading.Condition()
        self._in_flight = 0  # SubmitJob calls awaiting their answer
        self._sweeping = False
        self.reports = TaskReports(lambda url, frame: self._post_event(url, frame), self._describe_one,
                                   log_source=log_source, results=results, result_grace_seconds=result_grace_seconds,
                                   stall_log_seconds=stall_log_seconds,
                                   runnable_timeout_seconds=runnable_timeout_seconds)
        self._owns_submitter = submitter is None
        self.submitter = submitter or Submitter()
        # Children read their payloads from the exchange bucket: no bucket, no array jobs.
        group_max = ARRAY_SIZE_MAX * (tasks_per_job if isinstance(tasks_per_job, int) else 1)
        self.batcher: Optional[ArrayBatcher[PreparedJob]] = (
            ArrayBatcher(array_window_seconds, self._flush_later, group_max)
            if array_jobs and exchange is not None else None
        )
        self.watcher = JobWatcher(client, poll_seconds, on_failed=self._job_failed, on_ended=self._job_ended,
                                  on_array_ended=self._array_ended, on_succeeded=self._job_succeeded,
                                  on_unknown=self._job_unknown, on_runnable=self._job_runnable,
                                  on_observed=progress.observe if progress is not None else (lambda job: None),
                                  unknown_after_seconds=unknown_after_seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    # --- submitting ----------------------------------------------------------------------
    def submit_job(self, **params: Any) -> Any:
        """Inside an event loop: a future of the response (Wove's adapter awaits it).
        Outside one: the response, as boto3's submit_job returns it."""
        job = self._prepare(params)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self._submit_plain(job)
        if self.batcher is not None and job.payload_b64 and job.task.get("run_id") and "arrayProperties" not in params:
            future = self.batcher.add(job, job.group, loop)
        else:
            future = loop.create_future()
            self.submitter.in_background(lambda: self._submit_plain_to(Queued(job, loop, future)))
        future.add_done_callback(lambda done: done.cancelled() and job.cancelled.set())
        return future

    def submit_blocking(self, **params: Any) -> dict[str, Any]:
        """One plain job, submitted in the calling thread (what submit_job does outside a loop)."""
        return self._submit_plain(self._prepare(params))

    def cancel_job(self, *, jobId: str, reason: str = CANCEL_REASON, **_: Any) -> Any:
        """TerminateJob: ends the job (or array child) whatever its state; retried on throttling.
        A task that shares its job with others: a cancel marker instead (chunks.py), which its
        worker reads before running it; it then reports Wove's `task_cancelled` itself. Any other
        task hears `task_cancelled` from the reports (reports.py), not a failure."""
        with self._chunk_lock:
            chunk = self._chunk_cancels.pop(jobId, None)
        if chunk is not None:
            call = lambda: self._mark_cancelled(*chunk)  # noqa: E731
        else:
            self.reports.cancelling(jobId)
            call = lambda: self.submitter.call(self._client.terminate_job, jobId=jobId, reason=reason)  # noqa: E731
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return call()
        return asyncio.wrap_future(self.submitter.in_background(call))

    def _prepare(self, params: dict[str, Any]) -> PreparedJob:
        overrides = dict(params.get("containerOverrides") or {})
        variables = list(overrides.pop("environment", None) or [])
        inline = [v for v in variables if v.get("name") == protocol.INLINE_PAYLOAD_VARIABLE]
        others = [v for v in variables if v.get("name") != protocol.INLINE_PAYLOAD_VARIABLE]
        payload = inline[-1]["value"] if inline else None
        decoded = base64.b64decode(payload) if payload else b""
        task = json.loads(decoded) if payload else {}
        raw_name = str(params.get("jobName", "wove"))
        run_id = str(task.get("run_id") or "")
        prefix = raw_name[: -len(run_id) - 1] if run_id and raw_name.endswith(f"-{run_id}") else "wove"
        params = dict(params, jobName=batch_job_name(raw_name))
        label = str(task.get("task_name") or task.get("task_id") or params["jobName"])
        if self.max_task_bytes is not None:
            if len(decoded) > self.max_task_bytes:
                raise PayloadTooLargeError(
                    f"task {label!r}: its payload is {len(decoded)} bytes, over max_task_bytes={self.max_task_bytes}; "
                    "nothing was uploaded or submitted"
                )
            if self.results == "exchange":  # the worker refuses a result over it (worker.refuse_oversized_result)
                others.append({"name": protocol.MAX_RESULT_BYTES_VARIABLE, "value": str(self.max_task_bytes)})
        return PreparedJob(params, overrides, others, payload, task, label, prefix)

    def _submit_plain_to(self, queued: Queued[PreparedJob]) -> None:
        """On a pool thread: submit, then settle Wove's future (terminating what nobody awaits)."""
        if queued.job.cancelled.is_set():
            return  # Wove cancelled the task before it was sent: nothing to undo
        try:
            response = self._submit_plain(queued.job)
        except BaseException as exc:  # noqa: BLE001 - the task's error, in Wove's loop
            settle(queued.loop, queued.future, error=exc)
            return
        settle(queued.loop, queued.future, result=response, if_abandoned=lambda: self._terminate_later(response["jobId"]))

    def _submit_plain(self, job: PreparedJob) -> dict[str, Any]:
        variables = list(job.variables)
        is_task = bool(job.task)
        if self.results == "exchange" and is_task:
            assert self.exchange is not None
            variables.append({"name": protocol.RESULTS_URI_VARIABLE, "value": self.exchange.results_uri(job.slot)})
        overrides = dict(job.overrides)
        inline = [{"name": protocol.INLINE_PAYLOAD_VARIABLE, "value": job.payload_b64}] if job.payload_b64 else []
        overrides["environment"] = variables + inline
        payload_key: Optional[str] = None
        if job.payload_b64 is not None and overrides_length(overrides) > INLINE_OVERRIDES_BUDGET:
            if self.exchange is None:
                raise PayloadTooLargeError(
                    f"task {job.label!r}: its containerOverrides are {overrides_length(overrides)} characters, over "
                    f"the {INLINE_OVERRIDES_BUDGET} sent inline, and this environment has no exchange bucket"
                )
            payload_key = self.exchange.put_payload(job.slot, job.payload_b64, task=job.label)
            overrides["environment"] = variables + [
                {"name": protocol.PAYLOAD_URI_VARIABLE, "value": self.exchange.payload_uri(payload_key)}
            ]
        params = dict(job.params, containerOverrides=overrides)
        try:
            self._check_size(params, overrides, job.label)
            if self.results == "exchange" and is_task:
                assert self.poller is not None
                self.poller.expect(job.slot, Expected(job.task["run_id"], job.task.get("task_id"),
                                                      job.task["callback_url"], payload_key))
            response = self._send(params, lambda answer: self._watch_plain(answer, job, params, payload_key))
        except BaseException:
            self._abandon([job.slot], payload_key)  # nothing submitted: nothing left behind
            raise
        return response

    def _watch_plain(self, response: dict[str, Any], job: PreparedJob, params: dict[str, Any],
                     payload_key: Optional[str]) -> None:
        if self.progress is not None and job.task:
            self.progress.submitted(1)
        if job.task.get("callback_url") and job.task.get("run_id"):
            self.watcher.watch(response["jobId"], Submitted(job.task, params["jobName"], job.slot, payload_key))

    def _flush_later(self, group: list[Queued[PreparedJob]]) -> None:
        self.submitter.in_background(lambda: self._submit_group(group))

    def _submit_group(self, group: list[Queued[PreparedJob]]) -> None:
        """On a pool thread: a group the batcher closed, as one plain job or one array job."""
        live = [queued for queued in group if not queued.job.cancelled.is_set()]
        per_child = chunks.tasks_per_child(self.tasks_per_job, len(live), self.target_jobs)
        if len(live) <= 1:
            for queued in live:
                self._submit_plain_to(queued)
            return
        try:
            response, name = self._submit_array([queued.job for queued in live], per_child)
        except BaseException as exc:  # noqa: BLE001 - every task of the group gets the error
            for queued in live:
                settle(queued.loop, queued.future, error=exc)
            return
        several = chunks.child_count(len(live), per_child) > 1
        for index, queued in enumerate(live):
            child = index // per_child
            child_id = f"{response['jobId']}:{child}" if several else response["jobId"]
            arn = (f"{response['jobArn']}:{child}" if several else response["jobArn"]) if response.get("jobArn") else None
            task_id = child_id if per_child == 1 else f"{child_id}#{index}"
            settle(queued.loop, queued.future, result={"jobId": task_id, "jobName": name, "jobArn": arn},
                   if_abandoned=lambda task_id=task_id: self._terminate_later(task_id))

    def _submit_array(self, jobs: list[PreparedJob], per_child: int = 1) -> tuple[dict[str, Any], str]:
        exchange = self.exchange
        assert exchange is not None
        batch = uuid.uuid4().hex
        first = jobs[0]
        names = {job.task.get("task_id") or job.label for job in jobs}
        children_count = chunks.child_count(len(jobs), per_child)
        name = batch_job_name(f"{first.prefix}-{names.pop() if len(names) == 1 else 'tasks'}-x{len(jobs)}-{batch}")
        label = f"{first.label} (array of {len(jobs)})"
        pack_key = exchange.put_pack(batch, [str(job.payload_b64) for job in jobs], task=label)
        variables = list(first.variables) + [
            {"name": protocol.PAYLOAD_PACK_URI_VARIABLE, "value": exchange.payload_uri(pack_key)}
        ]
        if self.results == "exchange":
            variables.append({"name": protocol.RESULTS_URI_VARIABLE,
                              "value": exchange.results_uri(f"{batch}/{protocol.INDEX_PLACEHOLDER}")})
        tasks = [Submitted(job.task, name, f"{batch}/{index}", None) for index, job in enumerate(jobs)]
        children: dict[int, Submitted] = dict(enumerate(tasks))
        if per_child > 1:
            variables += [
                {"name": protocol.TASKS_PER_CHILD_VARIABLE, "value": str(per_child)},
                {"name": protocol.TASK_COUNT_VARIABLE, "value": str(len(jobs))},
                {"name": protocol.CANCEL_URI_VARIABLE, "value": exchange.payload_uri(
                    protocol.cancel_key(exchange.session, batch, protocol.INDEX_PLACEHOLDER))},
            ]
            children = {child: chunks.ChunkSubmitted(
                tasks[child * per_child].task, name, f"{batch}/chunk-{child}", None,
                tasks=tasks[child * per_child : (child + 1) * per_child]) for child in range(children_count)}
        overrides = dict(first.overrides, environment=variables)
        params = dict(first.params, jobName=name, containerOverrides=overrides)
        if children_count > 1:
            params["arrayProperties"] = {"size": children_count}
        try:
            self._check_size(params, overrides, label)
            if self.results == "exchange":
                assert self.poller is not None
                for task in tasks:
                    self.poller.expect(task.slot, Expected(task.task["run_id"], task.task.get("task_id"),
                                                           task.task["callback_url"], None))
            response = self._send(params, lambda answer: self._watch_array(answer, name, children, pack_key,
                                                                          per_child, len(tasks)))
        except BaseException:
            self._abandon([task.slot for task in tasks], pack_key)
            raise
        return response, name

    def _watch_array(self, response: dict[str, Any], name: str, children: dict[int, Submitted],
                     pack_key: Optional[str], per_child: int, task_count: int) -> None:
        """The watcher takes the job: an array, or (one chunk of tasks) a plain job."""
        if self.progress is not None:
            self.progress.submitted(task_count)
        if per_child > 1:
            self._expect_cancels(response["jobId"], children, len(children) > 1)
        if len(children) > 1:
            self.watcher.watch_array(response["jobId"], WatchedArray(name, children, pack_key))
        else:
            only = children[0]
            assert isinstance(only, chunks.ChunkSubmitted)
            only.pack_key = pack_key
            self.watcher.watch(response["jobId"], only)

    def _send(self, params: dict[str, Any], watch: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """SubmitJob through the submitter, counted in flight until `watch(response)` recorded
        the job, so that an exit sweep waits for it (and terminates the job) instead of missing
        it; refused once a sweep began."""
        with self._flight:
            if self._sweeping:
                raise RuntimeError("the process is ending (wove-batch exit sweep): not submitted")
            self._in_flight += 1
        try:
            response = self.submitter.submit(self._client, params)
            watch(response)
            return response
        finally:
            with self._flight:
                self._in_flight -= 1
                self._flight.notify_all()

    def _expect_cancels(self, job_id: str, children: Mapping[int, Submitted], array: bool) -> None:
        """Each chunked task's submission id, and the marker that cancels it."""
        assert self.exchange is not None
        with self._chunk_lock:
            for child, chunk in children.items():
                assert isinstance(chunk, chunks.ChunkSubmitted)
                for task in chunk.tasks:
                    batch, index = task.slot.rsplit("/", 1)
                    task_job_id = f"{job_id}:{child}#{index}" if array else f"{job_id}#{index}"
                    self._chunk_cancels[task_job_id] = (chunk, int(index))
                    chunk.task_job_ids.append(task_job_id)
                chunk.cancel_key = protocol.cancel_key(self.exchange.session, batch, child)

    def _mark_cancelled(self, chunk: chunks.ChunkSubmitted, index: int) -> dict[str, Any]:
        """The child's cancel object lists `index` too (written whole, under the lock: a map's
        cancels come all at once, and S3 keeps the last PUT)."""
        assert self.exchange is not None and chunk.cancel_key is not None
        with chunk.lock:
            chunk.cancelled.add(index)
            body = json.dumps(sorted(chunk.cancelled)).encode("ascii")
            self.exchange.s3.put_object(Bucket=self.exchange.bucket, Key=chunk.cancel_key, Body=body)
        return {}

    def _check_size(self, params: Mapping[str, Any], overrides: Mapping[str, Any], task_label: str) -> None:
        """What is left over once the payload is by reference: the environment's own overrides."""
        length = overrides_length(overrides)
        if length > INLINE_OVERRIDES_BUDGET:
            raise PayloadTooLargeError(
                f"task {task_label!r}: its containerOverrides are {length} characters without the payload, over "
                f"the {INLINE_OVERRIDES_BUDGET} Batch takes safely (8192 at most); shorten the environment's "
                "container_overrides"
            )
        size = len(json.dumps(params, separators=(",", ":")).encode())
        if size > SUBMIT_JOB_MAX_BYTES:
            raise PayloadTooLargeError(
                f"task {task_label!r}: its SubmitJob request is {size} bytes, over AWS Batch's {SUBMIT_JOB_MAX_BYTES} "
                "(30 KiB)"
            )

    def _abandon(self, slots: list[str], payload_key: Optional[str]) -> None:
        """A submit that failed leaves nothing behind: no expectation, no payload object."""
        if self.poller is not None:
            for slot in slots:
                self.poller.forget(slot)
        if payload_key is not None and self.exchange is not None:
            self.exchange.delete(payload_key)

    def _terminate_later(self, job_id: str) -> None:
        """A job whose task Wove cancelled while its submit was in flight: ended, not left to run."""

        with self._chunk_lock:
            chunk = self._chunk_cancels.pop(job_id, None)

        def terminate() -> None:
            try:
                if chunk is not None:  # its siblings carry on
                    self._mark_cancelled(*chunk)
                    return
                self.submitter.call(self._client.terminate_job, jobId=job_id, reason=CANCEL_REASON)
            except Exception:  # noqa: BLE001 - logged: nobody waits for it
                log.warning("could not terminate job %s of a cancelled task", job_id, exc_info=True)

        try:
            self.submitter.in_background(terminate)
        except RuntimeError:  # the pool is shut down
            terminate()

    # --- after submitting ----------------------------------------------------------------
    def close(self) -> None:
        """Stop watching and polling; jobs still running in Batch are not touched."""
        self.watcher.close()
        if self.poller is not None:
            self.poller.close()
        if self._owns_submitter:
            self.submitter.close()

    @property
    def is_watching(self) -> bool:
        """Whether a watcher thread is polling Batch now."""
        return self.watcher.running

    @property
    def watched_job_ids(self) -> list[str]:
        return self.watcher.job_ids
