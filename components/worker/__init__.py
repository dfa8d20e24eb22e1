"""What every Batch job runs: `python -m wove_batch.worker`.

- `WOVE_BACKEND_PAYLOAD` (or argv[1]) holds a Wove payload inline: it runs exactly as
  `python -m wove.backend_worker` runs it (same frames, same exit codes, same messages).
- `WOVE_BATCH_PAYLOAD_URI` names the payload in the exchange bucket instead (it was too large
  for the job's container overrides). It is fetched with the job role's credentials.
- `WOVE_BATCH_PAYLOAD_PACK_URI` (an array job's child) names the pack of all its siblings'
  payloads: the child reads entry `AWS_BATCH_JOB_ARRAY_INDEX` with two ranged GETs.
- `WOVE_BATCH_TASKS_PER_CHILD` with a pack: this job runs several of the pack's tasks, one
  after another (chunk.py).
- `WOVE_BATCH_RESULTS_URI` (exchange mode) makes the worker write each event to the bucket,
  `<prefix><n>-<type>.json` (`{index}` in it: the child's array index), holding exactly the body it would POST, instead of posting it to
  the callback URL: the submitter's poller hands it to Wove's callback server.

In callback mode an event whose POST finds no connection (refused, reset: a callback server
whose backlog thousands of array children overflow at once) is posted again, up to
POST_ATTEMPTS times with jittered backoff; Wove keeps a task's first result, so a repeat is
harmless. Either way the task runs through Wove's own `run_backend_payload`. A payload that cannot be
fetched is reported as the task's error (in exchange mode) and exits 1, so that Batch marks
the job FAILED and the submitter's watcher sees it in any mode.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import threading
import time
import urllib.error
from typing import Any, Callable, Mapping, Optional

from .. import protocol, transfer

MISSING_PAYLOAD = (
    "Missing dispatch payload. Pass it as argv[1] or WOVE_BACKEND_PAYLOAD "
    f"(or its exchange-bucket location as {protocol.PAYLOAD_URI_VARIABLE} or {protocol.PAYLOAD_PACK_URI_VARIABLE})."
)


POST_ATTEMPTS = 6


def post_with_retries(post: Callable[..., None], *, attempts: int = POST_ATTEMPTS, base: float = 0.25,
                      sleep: Callable[[float], None] = time.sleep) -> Callable[..., None]:
    """`post(callback_url, frame, timeout=...)`, again after a connection error (not after an
    HTTP answer: the server got it)."""

    def post_event(callback_url: str, frame: dict[str, Any], *, timeout: Optional[float] = None) -> None:
        for attempt in range(1, attempts + 1):
            try:
                return post(callback_url, frame, timeout=timeout)
            except (ConnectionError, urllib.error.URLError) as exc:
                if isinstance(exc, urllib.error.HTTPError) or attempt == attempts:
                    raise
                sleep(random.uniform(0, base * 2 ** attempt))

    post_event.retries_connections = True  # type: ignore[attr-defined]
    return post_event


class PayloadUnavailableError(RuntimeError):
    """The payload object could not be read from the exchange bucket."""


def array_index(environ: Mapping[str, str], what: str) -> int:
    index = environ.get(protocol.ARRAY_INDEX_VARIABLE)
    if index is None or not index.isdigit():
        raise PayloadUnavailableError(f"{what} is an array child's, but {protocol.ARRAY_INDEX_VARIABLE} is {index!r}")
    return int(index)


def resolve_template(uri: str, environ: Mapping[str, str]) -> str:
    """`{index}` becomes this array child's index; a plain job's URI is used as it is."""
    if protocol.INDEX_PLACEHOLDER not in uri:
        return uri
    return uri.replace(protocol.INDEX_PLACEHOLDER, str(array_index(environ, uri)))


class ExchangeSink:
    """Writes the worker's events to the exchange bucket, in order, instead of posting them."""

    def __init__(self, s3: Any, results_uri: str, max_result_bytes: Optional[int] = None) -> None:
        self.s3 = s3
        self.bucket, self.prefix = protocol.split_s3_uri(results_uri)
        self.max_result_bytes = max_result_bytes
        self._sequence = 0
        self._lock = threading.Lock()

    def post(self, callback_url: str, frame: dict[str, Any], *, timeout: Optional[float] = None) -> None:
        del callback_url, timeout  # exchange mode: the submitter cannot be reached
        frame = refuse_oversized_result(frame, self.max_result_bytes)
        with self._lock:
            self._sequence += 1
            key = protocol.event_key(self.prefix, self._sequence, str(frame.get("type", "event")))
        # Streamed: pickled into a multipart upload part by part, never held whole (transfer.py).
        transfer.write_frame(self.s3, self.bucket, key, frame)


def refuse_oversized_result(frame: dict[str, Any], limit: Optional[int]) -> dict[str, Any]:
    """A result over the user's limit becomes the task's error, before anything is uploaded."""
    if limit is None or frame.get("type") != "task_result" or not transfer.pickled_size_over(frame["result"], limit):
        return frame
    error = transfer.TaskTooLargeError(
        f"task {frame.get('task_id')!r}: its result pickles to more than {protocol.MAX_RESULT_BYTES_VARIABLE}="
        f"{limit} bytes; nothing was uploaded (raise the environment's max_task_bytes, or return less)"
    )
    return {"type": "task_error", "run_id": frame.get("run_id"), "task_id": frame.get("task_id"), "exception": error,
            "error": {"type": "TaskTooLargeError", "message": str(error), "source": "wove_batch"}}


def max_result_bytes(environ: Mapping[str, str]) -> Optional[int]:
    value = environ.get(protocol.MAX_RESULT_BYTES_VARIABLE)
    if value is None:
        return None
    if not value.isdigit():
        raise SystemExit(f"{protocol.MAX_RESULT_BYTES_VARIABLE} is {value[:40]!r}, not a number of bytes")
    return int(value)


def _get(s3: Any, uri: str, what: str, **range_: str) -> bytes:
    bucket, key = protocol.split_s3_uri(uri)
    try:
        return s3.get_object(Bucket=bucket, Key=key, **range_)["Body"].read()
    except Exception as exc:  # noqa: BLE001 - every reason ends the same way: reported, exit 1
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        raise PayloadUnavailableError(f"cannot read {what} {uri}: {code}") from exc


def fetch_payload(s3: Any, uri: str) -> dict[str, Any]:
    from wove.backend import payload_from_b64

    return payload_from_b64(_get(s3, uri, "the task payload").decode("ascii"))


def fetch_packed_payload(s3: Any, uri: str, index: int) -> dict[str, Any]:
    """Entry `index` of an array job's pack: its offsets, then its bytes (two ranged GETs)."""
    from wove.backend import payload_from_b64

    what = f"entry {index} of the payload pack"
    offsets = _get(s3, uri, what, Range=protocol.pack_offsets_range(index))
    try:
        entry_range = protocol.pack_entry_range(offsets, index)
    except ValueError as exc:
        raise PayloadUnavailableError(f"cannot read {what} {uri}: {exc}") from None
    return payload_from_b64(_get(s3, uri, what, Range=entry_range).decode("ascii"))


def main(
    argv: Optional[list[str]] = None,
    environ: Optional[Mapping[str, str]] = None,
    s3_factory: Optional[Callable[[], Any]] = None,
) -> int:
    import wove.backend as backend

    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    make_s3 = s3_factory or _default_s3
    inline = argv[0] if argv else environ.get(protocol.INLINE_PAYLOAD_VARIABLE)
    reference = environ.get(protocol.PAYLOAD_URI_VARIABLE)
    pack = environ.get(protocol.PAYLOAD_PACK_URI_VARIABLE)
    results = environ.get(protocol.RESULTS_URI_VARIABLE)
    if not inline and not reference and not pack:
        raise SystemExit(MISSING_PAYLOAD)

    if pack and environ.get(protocol.TASKS_PER_CHILD_VARIABLE):  # several tasks in this job (chunk.py)
        from .chunk import run_chunk

        limit = max_result_bytes(environ)
        callback_post = backend.post_event
        if not getattr(callback_post, "retries_connections", False):
            callback_post = post_with_retries(callback_post)
        return run_chunk(environ, make_s3, lambda s3, uri: ExchangeSink(s3, uri, limit), callback_post)
    try:
        sink = (ExchangeSink(make_s3(), resolve_template(results, environ), max_result_bytes(environ))
                if results else None)
    except (PayloadUnavailableError, ValueError) as exc:
        raise SystemExit(f"cannot report results to {results}: {exc}") from None
    try:
        if inline:
            payload = backend.payload_from_b64(inline)
        elif reference:
            payload = fetch_payload(sink.s3 if sink else make_s3(), reference)
        else:
            index = array_index(environ, str(pack))
            payload = fetch_packed_payload(sink.s3 if sink else make_s3(), str(pack), index)
    except PayloadUnavailableError as exc:
        if sink is not None:
            # The run id is in the payload: the poller fills in whose error this is.
            sink.post("", {"type": "task_error", "exception": exc,
                           "error": {"type": "PayloadUnavailableError", "message": str(exc), "source": "wove_batch"}})
        raise SystemExit(str(exc)) from None

    # Wove's worker posts through `wove.backend.post_event`: in exchange mode the events go to
    # the bucket instead; in callback mode they are posted, again after a connection error.
    # Everything else is Wove's own run_backend_payload.
    if sink is not None:
        backend.post_event = sink.post
    elif not getattr(backend.post_event, "retries_connections", False):
        backend.post_event = post_with_retries(backend.post_event)
    asyncio.run(run_payload(payload))
    return 0


async def run_payload(payload: dict[str, Any]) -> None:
    """Wove's own run_backend_payload_async, as Wove's run_backend_payload runs it, but the
    task's result is not the result of asyncio.run's main task: Python 3.11's asyncio.run
    formats that task's repr (SIGINT handler check in `signal.getsignal`), which for a 100 MB
    bytes result is a 400 MB string (measured: benchmarks/transfer_memory.py)."""
    import wove.backend as backend

    await backend.run_backend_payload_async(payload)


def _default_s3() -> Any:
    import boto3

    return boto3.client("s3")
