"""The submitting side of the exchange bucket: payloads out, results back.

`Exchange` writes payloads and owns this client's session prefix. `ResultPoller` runs only
while tasks of the exchange mode are outstanding: it lists the session's results, hands each
event to Wove's own callback server in this process (exactly the body the worker would have
posted, directly to 127.0.0.1 and never through a proxy: local_callback.py; each task's
events in order, up to DELIVERY_THREADS tasks at once), deletes what it delivered, and keeps
going through transient S3 errors.

A watched task's slot is kept until its job ended in Batch and one more full round listed its
prefix: a result written before the job failed is delivered (and wins over the failure,
which `if_silent` reports only when no final event came); what a retried attempt writes after
the first final event is deleted, not delivered again; the payload stays for such a retry
and is deleted with the slot.

Requests per task: the worker's `task_started` is not fetched (its key names its type, and the
poller knows its run and task); a large result is fetched in ranges and decoded piece by
piece (transfer.read_frame) and handed to Wove's server in this process (handoff.py); the
round's delivered keys go in one DeleteObjects per DELETE_BATCH.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .. import protocol, transfer
from . import handoff
from .background import OnDemandLoop
from .local_callback import post_body

log = logging.getLogger(__name__)
# Before any weave starts Wove's callback server: the poller hands frames to it (handoff.py).
handoff.install()

TERMINAL_EVENTS = ("task_result", "task_error", "task_cancelled")
DELIVERY_THREADS = 16  # slots fetched and handed over at once
DELETE_BATCH = 1000  # keys per DeleteObjects: S3's maximum


class ExchangeError(RuntimeError):
    """The exchange bucket could not be written: the task was not submitted."""


@dataclass
class Expected:
    """A task whose events the poller delivers."""

    run_id: str
    task_id: Optional[str]
    callback_url: str
    payload_key: Optional[str]
    watched: bool = False  # the job watcher retires the slot when the job ended (else: at its final event)
    answered: bool = False  # a final event was delivered: later ones (a retry's) are not
    if_silent: Optional[Callable[[], None]] = None  # set when the job ended: no final event after all


class Exchange:
    """One client's view of the bucket: a session prefix no other process shares."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.session = uuid.uuid4().hex

    def put_payload(self, slot: str, payload_b64: str, *, task: str) -> str:
        """Write the payload; its key. ExchangeError (before any SubmitJob) when S3 refuses."""
        key = protocol.payload_key(self.session, slot)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=payload_b64.encode("ascii"))
        except Exception as exc:  # noqa: BLE001 - any failure here means: do not submit
            raise self._write_error(task, key, exc) from exc
        return key

    def put_pack(self, batch: str, payloads: list[str], *, task: str) -> str:
        """Write an array job's payloads as one pack (protocol.pack_payloads); its key."""
        key = protocol.pack_key(self.session, batch)
        try:
            # Managed transfer: multipart above its threshold, so a pack of any size fits.
            self.s3.upload_fileobj(io.BytesIO(protocol.pack_payloads(payloads)), self.bucket, key)
        except Exception as exc:  # noqa: BLE001 - any failure here means: do not submit
            raise self._write_error(task, key, exc) from exc
        return key

    def _write_error(self, task: str, key: str, exc: BaseException) -> ExchangeError:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        return ExchangeError(
            f"task {task!r}: cannot write its payload to s3://{self.bucket}/{key} ({code}); nothing was "
            "submitted. The application's role needs the stack's application policy (application_policy_arn)."
        )

    def payload_uri(self, key: str) -> str:
        return protocol.s3_uri(self.bucket, key)

    def results_uri(self, slot: str) -> str:
        return protocol.s3_uri(self.bucket, protocol.results_prefix(self.session, slot))

    def delete_many(self, keys: list[str]) -> None:
        """DeleteObjects, DELETE_BATCH keys a request; what S3 refuses is left to the lifecycle rule."""
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                answer = self.s3.delete_objects(Bucket=self.bucket, Delete={
                    "Objects": [{"Key": key} for key in batch], "Quiet": True})
            except Exception:  # noqa: BLE001 - the lifecycle rule expires what is left
                log.info("could not delete %d objects in s3://%s", len(batch), self.bucket, exc_info=True)
                continue
            for error in answer.get("Errors") or []:
                log.info("could not delete s3://%s/%s: %s", self.bucket, error.get("Key"), error.get("Code"))

    def delete(self, key: str) -> None:
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=key)
        except Exception:  # noqa: BLE001 - the lifecycle rule expires what is left
            log.info("could not delete s3://%s/%s", self.bucket, key, exc_info=True)


class ResultPoller:
    """Delivers the events of the exchange mode's tasks; a thread only while any is outstanding."""

    def __init__(
        self, exchange: Exchange, *, poll_seconds: float = 1.0, post: Callable[[str, bytes], None] = post_body
    ) -> None:
        self.exchange = exchange
        self.poll_seconds = poll_seconds
        self._post = post
        self._expected: dict[str, Expected] = {}  # slot -> task
        self._retired: dict[str, int] = {}  # slot -> round in which its job ended in Batch
        self._round = 0
        self._lock = threading.Lock()
        self._loop = OnDemandLoop("wove-batch-results", poll_seconds, lambda: bool(self._expected), self._poll_round,
                                  self._lock)
        self.polls = 0  # LIST requests made: what the README's cost figures count
        self._pool: Optional[ThreadPoolExecutor] = None  # made at the first round with several slots
        # The default: decoded here, handed to Wove's server in this process (else posted).
        self._decodes = post is post_body

    def expect(self, slot: str, task: Expected) -> None:
        with self._lock:
            self._expected[slot] = task
            self._loop.start()

    def forget(self, slot: str) -> Optional[Expected]:
        with self._lock:
            self._retired.pop(slot, None)
            return self._expected.pop(slot, None)

    def retire(self, slot: str, if_silent: Optional[Callable[[], None]] = None) -> None:
        """The slot's job ended in Batch: whatever it wrote is listed by the next full round,
        after which the slot is dropped; `if_silent()` runs then if no final event came."""
        with self._lock:
            task = self._expected.get(slot)
            if task is not None:
                task.if_silent = if_silent
                self._retired[slot] = self._round

    def expects(self, slot: str) -> bool:
        """Whether the slot's final event is still to be delivered."""
        with self._lock:
            return slot in self._expected

    @property
    def outstanding(self) -> int:
        with self._lock:
            return len(self._expected)

    @property
    def is_polling(self) -> bool:
        return self._loop.running

    def close(self) -> None:
        self._loop.stop(grace=10)
        with self._lock:
            self._expected.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _poll_round(self) -> None:
        try:
            self.poll_once()
        except Exception:  # noqa: BLE001 - transient S3 errors: the next tick tries again
            log.warning("polling the exchange bucket failed; retrying", exc_info=True)

    def poll_once(self) -> int:
        """One round: list the session's results and deliver them in order; how many."""
        exchange = self.exchange
        with self._lock:
            self._round += 1
            this_round = self._round
        prefix = protocol.results_prefix(exchange.session)
        sizes: dict[str, int] = {}
        for page in exchange.s3.get_paginator("list_objects_v2").paginate(Bucket=exchange.bucket, Prefix=prefix):
            self.polls += 1
            sizes.update((item["Key"], int(item.get("Size", 0))) for item in page.get("Contents", []))
        by_slot: dict[str, list[tuple[str, int]]] = {}
        for key in sorted(sizes):
            by_slot.setdefault(key[len(prefix) :].rsplit("/", 1)[0], []).append((key, sizes[key]))
        # Each slot's events in order; slots at once (a map's results arrive together).
        if len(by_slot) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=DELIVERY_THREADS, thread_name_prefix="wove-batch-deliver")
            counts = list(self._pool.map(lambda item: self._deliver_slot(*item), by_slot.items()))
        else:
            counts = [self._deliver_slot(slot, slot_keys) for slot, slot_keys in by_slot.items()]
        delivered = sum(counts)
        exchange.delete_many(sorted(sizes))  # delivered, or nobody waits for them any more
        with self._lock:
            done = [slot for slot, retired_in in self._retired.items() if retired_in < this_round]
        for slot in done:
            self._finish(slot)
        return delivered

    def _deliver_slot(self, slot: str, keys: list[tuple[str, int]]) -> int:
        delivered = 0
        for key, size in keys:
            with self._lock:
                task = self._expected.get(slot)
            if task is not None and not task.answered:
                self._deliver(slot, task, key, size)
                delivered += 1
        return delivered

    def _deliver(self, slot: str, task: Expected, key: str, size: int) -> None:
        if self._decodes:
            frame = self._decoded(key, size)
        else:
            frame = json.loads(self.exchange.s3.get_object(Bucket=self.exchange.bucket, Key=key)["Body"].read())
        # The poller knows whose slot this is; a worker that could not read its payload does not.
        frame["run_id"] = task.run_id
        frame.setdefault("task_id", task.task_id)
        try:
            if not (self._decodes and handoff.hand_off(task.callback_url, frame)):
                self._post(task.callback_url, self._body(frame))
        except Exception:  # noqa: BLE001 - the weave is gone: nobody to hand it to
            log.info("could not deliver %s to %s", key, task.callback_url, exc_info=True)
            task.answered = True  # nobody to tell of a silent end either
            if not task.watched:
                self._finish(slot)
            return
        if frame.get("type") in TERMINAL_EVENTS:
            task.answered = True
            if not task.watched:
                self._finish(slot)

    def _decoded(self, key: str, size: int) -> dict[str, Any]:
        if key.endswith("-task_started.json"):
            return {"type": "task_started"}  # all it holds is its run and task: no GET
        return transfer.read_frame(self.exchange.s3, self.exchange.bucket, key, size)

    def _body(self, frame: dict[str, Any]) -> bytes:
        """The JSON body of a frame; a decoded one is encoded again (no server in this process)."""
        if self._decodes:
            from wove.backend import serialize_frame

            frame = serialize_frame(frame)
        return json.dumps(frame, separators=(",", ":")).encode("utf-8")

    def _finish(self, slot: str) -> None:
        task = self.forget(slot)
        if task is None:
            return
        if task.payload_key is not None:
            self.exchange.delete(task.payload_key)
        if not task.answered and task.if_silent is not None:
            try:
                task.if_silent()
            except Exception:  # noqa: BLE001 - logged: the other slots carry on
                log.warning("reporting a job that ended without a result failed", exc_info=True)
