"""Every reach of the worker into Wove's internals (wove 2.0.3), in one place.

Wove's backend protocol is not a public API: the payload's keys, the frames' shapes, how a frame
becomes the JSON body of a callback POST, and the fact that `run_backend_payload` posts each
frame through the module global `wove.backend.post_event`. tests/test_worker_protocol.py
(`test_wove_contract_*`) checks each of these against the installed Wove, so that an upgrade
that changes one fails there, loudly, instead of in a Batch job.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import json
import threading
import traceback
from typing import Any, Callable, Optional

import wove.backend as _backend

# Frame types (wove/backend.py, wove/stdio_worker.py; read by wove/environment.py _recv_loop).
STARTED, HEARTBEAT, RESULT, ERROR, CANCELLED = "task_started", "heartbeat", "task_result", "task_error", "task_cancelled"
TERMINAL = (RESULT, ERROR, CANCELLED)
# The payload's keys the worker reads (wove.backend.build_backend_payload).
REQUIRED_KEYS = ("callback_url", "run_id", "task_id", "callable_pickle", "args_pickle")
# The delivery setting that makes the submitter cancel a task it hears nothing from for this long.
HEARTBEAT_SETTING = "delivery_heartbeat_seconds"
# `source` of the errors the worker itself reports (Wove's own are "task").
WORKER_SOURCE = "wove_batch"

Post = Callable[..., None]  # post(callback_url, frame, *, timeout=None), as wove.backend.post_event


class MalformedPayloadError(ValueError):
    """The text is not a Wove backend payload."""


def decode_payload(text: str) -> dict[str, Any]:
    """The payload in base64 `text` (as wove.backend.payload_from_b64 reads it), checked for
    the keys the worker needs. MalformedPayloadError says why not, briefly."""
    try:
        raw = base64.b64decode(text.encode("ascii"))  # as payload_from_b64: non-alphabet bytes are skipped
    except (UnicodeEncodeError, binascii.Error, ValueError) as exc:
        raise MalformedPayloadError(f"not base64 ({exc})") from None
    try:
        payload = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedPayloadError(f"not UTF-8 JSON once decoded (byte at offset {exc.start})") from None
    except RecursionError:
        raise MalformedPayloadError("nested too deeply to be a payload") from None
    except ValueError as exc:
        raise MalformedPayloadError(f"not JSON once decoded ({str(exc)[:120]})") from None
    if not isinstance(payload, dict):
        raise MalformedPayloadError(f"a JSON {type(payload).__name__}, not a payload object")
    missing = [key for key in REQUIRED_KEYS if not isinstance(payload.get(key), str)]
    if missing:
        raise MalformedPayloadError(f"no {', '.join(missing)} (a string each)")
    if not payload["callback_url"].startswith(("http://", "https://")):
        raise MalformedPayloadError(f"callback_url is not an http(s) URL: {payload['callback_url'][:120]!r}")
    delivery = payload.get("delivery")
    if delivery is not None and not isinstance(delivery, dict):
        raise MalformedPayloadError("delivery is not an object")
    return payload


def heartbeat_seconds(payload: dict[str, Any]) -> Optional[float]:
    """The task's heartbeat interval, as Wove's own stdio worker reads it (a positive number), or None."""
    value = (payload.get("delivery") or {}).get(HEARTBEAT_SETTING)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf"):
        return float(value)
    return None


def encode_frame(frame: dict[str, Any]) -> bytes:
    """The JSON body wove.backend.post_event would POST for `frame` (pickles result/exception/error).
    Raises whatever pickling raises."""
    return json.dumps(_backend.serialize_frame(frame), separators=(",", ":")).encode("utf-8")


def frame(kind: str, run_id: str, task_id: str) -> dict[str, Any]:
    return {"type": kind, "run_id": run_id, "task_id": task_id}


def error_frame(run_id: str, task_id: str, exc: BaseException, *, source: str = WORKER_SOURCE) -> dict[str, Any]:
    """A task_error as run_backend_payload_async builds it (exception, and error normalized as
    wove.environment.normalize_exception does), with `source` saying who failed."""
    error = {
        "kind": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "retryable": False,
        "source": source,
    }
    return {**frame(ERROR, run_id, task_id), "exception": exc, "error": error}


# --- routing run_backend_payload's posts --------------------------------------------------
# run_backend_payload_async posts every frame through `wove.backend.post_event` (looked up as a
# module global, called through asyncio.to_thread, which copies context variables). The global
# is replaced once by a router; each run's own post is a context variable, so runs in several
# threads of one process (tests/standin_aws.py) do not see each other's.
_WOVE_POST: Post = _backend.post_event
_route: contextvars.ContextVar[Optional[Post]] = contextvars.ContextVar("wove_batch_worker_post", default=None)
_install_lock = threading.Lock()


def _routed_post_event(callback_url: str, frame_: dict[str, Any], *, timeout: Optional[float] = None) -> None:
    post = _route.get()
    return (post or _WOVE_POST)(callback_url, frame_, timeout=timeout)


def run_payload(payload: dict[str, Any], post: Post) -> None:
    """Wove's own run_backend_payload_async (task_started, the task, its terminal frame) in an
    event loop of its own, with every frame it posts handed to `post` instead."""
    with _install_lock:
        if _backend.post_event is not _routed_post_event:
            _backend.post_event = _routed_post_event
    token = _route.set(post)
    try:
        asyncio.run(_run_without_result(payload))
    finally:
        _route.reset(token)


async def _run_without_result(payload: dict[str, Any]) -> None:
    """Wove's run_backend_payload_async, as Wove's run_backend_payload runs it, but the task's
    result is not the result of asyncio.run's main task: Python 3.11's asyncio.run formats that
    task's repr (SIGINT handler check in `signal.getsignal`), which for a 100 MB bytes result is
    a 400 MB string (measured: benchmarks/transfer_memory.py)."""
    await _backend.run_backend_payload_async(payload)
