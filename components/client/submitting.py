"""SubmitJob off Wove's event loop: concurrent, paced under the account's quota, retried.

AWS Batch answers more than 50 SubmitJob calls a second per account and region with
TooManyRequestsException. One `Submitter` serves every environment of one region in the
process: its calls share one token bucket (default 45 a second, just under the quota) and one
thread pool, so Wove's event loop (and its callback server) never waits on AWS.

Retries are bounded by time (`retry_seconds`, default 180 s: a throttling storm of two minutes
still ends in a submitted job), and by a count only when `max_attempts` is given. By what an
error says about the job:
- throttled (TooManyRequestsException, HTTP 429): refused, so sent again after a jittered
  exponential backoff;
- not sent (no connection could be made): sent again the same way;
- outcome unknown (connection lost or read timeout after sending, HTTP 5xx): AWS may have
  created the job. SubmitJob has no idempotency token, but every job name here is unique (it
  carries Wove's run id, or the array's batch id), so the submitter first looks the name up
  with ListJobs on the queue (JOB_NAME filter, any status) after each of `lookup_delays`: a job
  found is the answer, and it is not submitted again. Not found after all of them (ListJobs is
  eventually consistent, hence the delays), it is sent again. When the lookups themselves fail,
  the submit fails with SubmitJobError rather than risk running the task twice;
- anything else (ClientException: a missing queue, a bad override): raised at once.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, TypeVar

from ..aws.limits import SUBMIT_JOB_TPS

T = TypeVar("T")

THROTTLED, NOT_SENT, UNKNOWN, REFUSED = "throttled", "not sent", "outcome unknown", "refused"
THROTTLING_CODES = frozenset(
    {"TooManyRequestsException", "ThrottlingException", "Throttling", "RequestLimitExceeded", "SlowDown"}
)


class SubmitJobError(RuntimeError):
    """A SubmitJob that retries could not settle; its task was not (knowingly) submitted."""


@dataclass(frozen=True)
class SubmitSettings:
    """How the application side submits. Defaults suit one process per account and region."""

    rate: float = 0.9 * SUBMIT_JOB_TPS  # SubmitJob calls a second, across the region's environments
    concurrency: int = 32  # calls in flight at once (threads)
    max_attempts: Optional[int] = None  # per call, the first one included; None: bounded by retry_seconds only
    retry_seconds: float = 180.0  # no attempt starts later than this after the first
    backoff_base: float = 0.2  # seconds; attempt n waits uniform(0, min(cap, base * 2**n))
    backoff_cap: float = 10.0
    lookup_delays: tuple[float, ...] = (1.0, 2.0, 4.0)  # before each ListJobs of an unknown outcome

    def __post_init__(self) -> None:
        problems = []
        if not self.rate > 0:
            problems.append(f"submit_rate: {self.rate!r} is not above 0")
        if not (isinstance(self.concurrency, int) and self.concurrency >= 1):
            problems.append(f"submit_concurrency: {self.concurrency!r} is not a whole number of at least 1")
        if self.max_attempts is not None and not (isinstance(self.max_attempts, int) and self.max_attempts >= 1):
            problems.append(f"submit_max_attempts: {self.max_attempts!r} is not a whole number of at least 1")
        if not (isinstance(self.retry_seconds, (int, float)) and self.retry_seconds >= 0):
            problems.append(f"submit_retry_seconds: {self.retry_seconds!r} is not 0 or more")
        if problems:
            raise ValueError("; ".join(problems))


def classify(exc: BaseException) -> str:
    """What an error of a call says about whether AWS acted on it."""
    from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if error.get("Code") in THROTTLING_CODES or status == 429:
            return THROTTLED
        return UNKNOWN if status >= 500 else REFUSED
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return NOT_SENT
    if isinstance(exc, HTTPClientError):  # read timeout, connection closed: sent, no answer
        return UNKNOWN
    return REFUSED


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; acquire() waits for one. Callers
    reserve their token under the lock and sleep outside it, so they leave in order."""

    def __init__(self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate, self.burst = rate, burst
        self._clock, self._sleep = clock, sleep
        self._tokens = burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)


@dataclass
class SubmitStats:
    """What the submitter did; the benchmark and the README's figures read it."""

    calls: int = 0  # SubmitJob requests sent
    throttled: int = 0  # of them answered TooManyRequestsException
    lookups: int = 0  # ListJobs made after an unknown outcome
    adopted: int = 0  # jobs found by name instead of being submitted again


class Submitter:
    """Paced, retried SubmitJob (and TerminateJob) calls on a pool of threads."""

    def __init__(self, settings: SubmitSettings = SubmitSettings(), *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, jitter: Callable[[], float] = random.random) -> None:
        self.settings = settings
        self._sleep, self._clock, self._jitter = sleep, clock, jitter
        self.bucket = TokenBucket(settings.rate, max(1.0, settings.rate / 5), clock=clock, sleep=sleep)
        self.stats = SubmitStats()
        self._stats_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="wove-batch-submit")

    def in_background(self, work: Callable[[], T]) -> "Future[T]":
        return self._pool.submit(work)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _count(self, **increments: int) -> None:
        with self._stats_lock:
            for name, value in increments.items():
                setattr(self.stats, name, getattr(self.stats, name) + value)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**attempt))."""
        return self._jitter() * min(self.settings.backoff_cap, self.settings.backoff_base * 2 ** attempt)

    def submit(self, client: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        """SubmitJob in this thread, paced and retried (module docstring); its response."""
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            self.bucket.acquire()
            self._count(calls=1)
            try:
                return client.submit_job(**params)
            except Exception as exc:  # noqa: BLE001 - classified below
                kind = classify(exc)
                if kind == THROTTLED:
                    self._count(throttled=1)
                if kind == REFUSED:
                    raise
                if kind == UNKNOWN:
                    found = self._look_up(client, params, exc)
                    if found is not None:
                        return found
                pause = self.backoff(attempt)
                elapsed = self._clock() - started
                out_of_time = elapsed + pause > self.settings.retry_seconds
                if attempt == self.settings.max_attempts or out_of_time:
                    limit = f", the submit_retry_seconds limit ({self.settings.retry_seconds:g} s)" if out_of_time else ""
                    raise SubmitJobError(
                        f"SubmitJob of {params.get('jobName')!r}: {kind} on all {attempt} attempts over "
                        f"{elapsed:.1f} s{limit} (last: {exc}); nothing was submitted"
                        + (": lower submit_rate, or ask AWS for a higher SubmitJob quota" if kind == THROTTLED else "")
                    ) from exc
                self._sleep(pause)

    def _look_up(self, client: Any, params: Mapping[str, Any], cause: BaseException) -> Optional[dict[str, Any]]:
        """The job this name already names, if AWS created it although the answer was lost."""
        name = params.get("jobName")
        answered = False
        for delay in self.settings.lookup_delays:
            self._sleep(delay)
            self._count(lookups=1)
            try:
                summaries = client.list_jobs(
                    jobQueue=params["jobQueue"], filters=[{"name": "JOB_NAME", "values": [name]}]
                ).get("jobSummaryList", [])
            except Exception:  # noqa: BLE001 - the next delay asks again
                continue
            answered = True
            # Children of an array job share its name; ListJobs on AWS lists only the parent.
            found = [s for s in summaries if s.get("jobName") == name and ":" not in s.get("jobId", "")]
            if found:
                self._count(adopted=1)
                job = min(found, key=lambda s: s.get("createdAt", 0))
                return {"jobId": job["jobId"], "jobName": job["jobName"], "jobArn": job.get("jobArn")}
        if not answered:
            raise SubmitJobError(
                f"SubmitJob of {name!r}: the answer was lost ({cause}) and ListJobs could not tell whether AWS "
                "created the job; not submitted again, so that the task cannot run twice"
            ) from cause
        return None

    def call(self, operation: Callable[..., T], **params: Any) -> T:
        """An idempotent call (TerminateJob), retried on every error but a refusal, within the
        same time (and count) bounds as a submit."""
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            try:
                return operation(**params)
            except Exception as exc:  # noqa: BLE001 - classified below
                pause = self.backoff(attempt)
                if (classify(exc) == REFUSED or attempt == self.settings.max_attempts
                        or self._clock() - started + pause > self.settings.retry_seconds):
                    raise
                self._sleep(pause)


def settle(loop: asyncio.AbstractEventLoop, future: "asyncio.Future[Any]", *, result: Any = None,
           error: Optional[BaseException] = None, if_abandoned: Callable[[], None] = lambda: None) -> None:
    """Hand a result (or error) from a pool thread to a future of Wove's loop. `if_abandoned`
    runs when nobody takes it: the future was cancelled (Wove cancelled the task while its
    submit was in flight) or the loop is gone."""

    def deliver() -> None:
        if future.cancelled():
            if error is None:
                if_abandoned()
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    try:
        loop.call_soon_threadsafe(deliver)
    except RuntimeError:  # the loop is closed: the weave ended without waiting
        if error is None:
            if_abandoned()
