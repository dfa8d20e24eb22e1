"""The one way a task's frames leave the worker, by either result route.

A Reporter sends frames in order, one at a time, and at most one terminal frame (task_result,
task_error or task_cancelled): whatever comes later (Wove's result after a SIGTERM already
reported the task cancelled, a forked child's copy of the result) is dropped. It also:

- sends heartbeats while the task runs, every HEARTBEAT_SHARE-th of the task's
  `delivery_heartbeat_seconds`: the submitter cancels a task it hears nothing from for that
  long, and the rest of the interval is what the heartbeat has to reach it (a callback POST, or
  an event object the submitter's poller picks up on its next round);
- turns the worker's own failures into the task's error, with their cause: a result that cannot
  be pickled, a result that cannot be delivered (an S3 error writing it). `failure` then holds
  the line the worker ends with (exit 1).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Callable, Optional

from . import wove_protocol as wp

HEARTBEAT_SHARE = 3
MIN_HEARTBEAT_PERIOD = 0.1  # seconds: a tiny interval must not become a storm of POSTs or S3 PUTs

Deliver = Callable[[str, Any], None]  # deliver(frame_type, encoded): raises when it could not
Encode = Callable[[dict[str, Any]], Any]  # what deliver takes: the POST body, or the frame to stream


class WorkerFailure(RuntimeError):
    """The worker itself could not finish the task's delivery; the message says why."""


def cause(exc: BaseException) -> str:
    """An exception as one short line: S3's error code and message, or type and text."""
    error = getattr(exc, "response", {}).get("Error", {}) if hasattr(exc, "response") else {}
    text = f"{error.get('Code')}: {error.get('Message', '')}".rstrip(": ") if error.get("Code") else f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:300] + "…"


def heartbeat_period(interval: float) -> float:
    return max(interval / HEARTBEAT_SHARE, MIN_HEARTBEAT_PERIOD)


class Reporter:
    """Sends one task's frames through `deliver`; see the module's docstring."""

    def __init__(self, deliver: Deliver, run_id: str, task_id: str, heartbeat_seconds: Optional[float] = None,
                 *, encode: Encode = wp.encode_frame) -> None:
        self._deliver = deliver
        self._encode_frame = encode
        self.run_id, self.task_id = run_id, task_id
        self.heartbeat_seconds = heartbeat_seconds
        self.terminal: Optional[str] = None
        self.failure: Optional[str] = None
        self.heartbeats = 0
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def post(self, callback_url: str, frame: dict[str, Any], *, timeout: Optional[float] = None) -> None:
        """What Wove's run_backend_payload posts through (wove_protocol.run_payload)."""
        del callback_url, timeout
        self.send(frame)

    def send(self, frame: dict[str, Any]) -> bool:
        """Deliver `frame`; False when it was dropped. A task_started that cannot be delivered
        raises (the task is not run); a terminal one is reported as the worker's failure."""
        if os.getpid() != self._pid:
            return False  # a child the task forked, running on in the worker's code: not the worker
        with self._lock:
            if self.terminal is not None:
                return False
            kind = str(frame.get("type"))
            body, frame = self._encode(frame)
            try:
                self._deliver(kind, body)
            except Exception as exc:  # noqa: BLE001 - each kind of frame has its own answer
                if kind == wp.HEARTBEAT:
                    print(f"heartbeat not delivered ({cause(exc)}); the task goes on", file=sys.stderr, flush=True)
                    return False
                if kind not in wp.TERMINAL:
                    raise
                self._report_undelivered(kind, exc)
                return False
            if kind == wp.STARTED:
                self._start_heartbeats()
            if kind in wp.TERMINAL:
                self._finish(kind)
            return True

    def cancel(self) -> bool:
        """Report the task cancelled (SIGTERM), unless its end was already reported."""
        return self.send(wp.frame(wp.CANCELLED, self.run_id, self.task_id))

    def stop(self) -> None:
        self._stop.set()

    def _encode(self, frame: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        try:
            return self._encode_frame(frame), frame
        except Exception as exc:  # noqa: BLE001 - pickling raises anything the object's class raises
            if frame.get("type") == wp.RESULT:
                message = f"the task's result could not be pickled ({cause(exc)})"
                self.failure = message
                replacement = wp.error_frame(self.run_id, self.task_id, WorkerFailure(message))
            elif frame.get("type") == wp.ERROR:
                error = dict(frame.get("error") or {})
                raised = f"{error.get('kind', 'an exception')}: {error.get('message', '')}"
                replacement = {**frame, "exception": WorkerFailure(
                    f"the task raised {raised}, which could not be pickled ({cause(exc)})")}
                try:
                    return self._encode_frame(replacement), replacement
                except Exception:  # noqa: BLE001 - its error details too: keep only the exception
                    replacement.pop("error", None)
            else:
                raise
            return self._encode_frame(replacement), replacement

    def _report_undelivered(self, kind: str, exc: BaseException) -> None:
        noun = {wp.RESULT: "result", wp.ERROR: "error", wp.CANCELLED: "cancellation"}[kind]
        message = f"the task's {noun} could not be delivered ({cause(exc)})"
        self.failure = message
        if kind == wp.RESULT:
            fallback = wp.error_frame(self.run_id, self.task_id, WorkerFailure(message))
            try:
                self._deliver(wp.ERROR, self._encode_frame(fallback))
            except Exception as second:  # noqa: BLE001 - nothing else to try: the job fails
                self.failure = f"{message}; nor could that error ({cause(second)})"
        self._finish(kind)

    def _finish(self, kind: str) -> None:
        self.terminal = kind
        self._stop.set()

    def _start_heartbeats(self) -> None:
        if self.heartbeat_seconds is None:
            return
        period = heartbeat_period(self.heartbeat_seconds)
        threading.Thread(target=self._beat, args=(period,), name="wove-batch-heartbeat", daemon=True).start()

    def _beat(self, period: float) -> None:
        """At a fixed rate: a slow send does not push the next heartbeat back."""
        due = time.monotonic() + period
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            if self.send(wp.frame(wp.HEARTBEAT, self.run_id, self.task_id)):
                self.heartbeats += 1
            due = max(due + period, time.monotonic())
