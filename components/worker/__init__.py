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
import urllib.request
from typing import Any, Callable, Mapping, Optional

from .. import protocol, transfer
from ..aws.limits import ARRAY_SIZE_MAX
from ..spec import describe
from . import wove_protocol
from .reporting import Reporter, WorkerFailure

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
    """AWS_BATCH_JOB_ARRAY_INDEX: 0 to ARRAY_SIZE_MAX - 1, as Batch sets it."""
    index = environ.get(protocol.ARRAY_INDEX_VARIABLE)
    if index is None or not (index.isascii() and index.isdigit() and int(index[:6]) < ARRAY_SIZE_MAX):
        raise PayloadUnavailableError(f"{protocol.ARRAY_INDEX_VARIABLE}: not a whole number from 0 to {ARRAY_SIZE_MAX - 1} "
                                      f"(got {describe(index)}), and {describe(what)} is an array child's")
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

    def prepare(self, frame: dict[str, Any]) -> dict[str, Any]:
        """The Reporter's encoder in exchange mode: the frame itself, once its pickled fields are
        known to pickle (counted, not kept: raises what pickling raises) and a result over the
        user's limit is replaced by the task's TaskTooLargeError, before anything is uploaded."""
        sizes = transfer.pickled_sizes(frame)
        limit = self.max_result_bytes
        if limit is None or frame.get("type") != wove_protocol.RESULT or sizes.get("result", 0) <= limit:
            return frame
        error = transfer.TaskTooLargeError(
            f"task {frame.get('task_id')!r}: its result pickles to more than {protocol.MAX_RESULT_BYTES_VARIABLE}="
            f"{limit} bytes; nothing was uploaded (raise the environment's max_task_bytes, or return less)"
        )
        return {"type": wove_protocol.ERROR, "run_id": frame.get("run_id"), "task_id": frame.get("task_id"),
                "exception": error, "error": {"type": "TaskTooLargeError", "message": str(error), "source": "wove_batch"}}

    def write(self, frame_type: str, frame: dict[str, Any]) -> None:
        """Write one prepared event (a reporting.Deliver): streamed, pickled into a multipart
        upload part by part, never held whole (transfer.py)."""
        with self._lock:
            self._sequence += 1
            key = protocol.event_key(self.prefix, self._sequence, frame_type)
        transfer.write_frame(self.s3, self.bucket, key, frame)

    def post(self, callback_url: str, frame: dict[str, Any], *, timeout: Optional[float] = None) -> None:
        """One frame, prepared and written (wove.backend.post_event's signature)."""
        del callback_url, timeout  # exchange mode: the submitter cannot be reached
        prepared = self.prepare(frame)
        self.write(str(prepared.get("type", "event")), prepared)


def max_result_bytes(environ: Mapping[str, str]) -> Optional[int]:
    value = environ.get(protocol.MAX_RESULT_BYTES_VARIABLE)
    if value is None:
        return None
    if not value.isdigit():
        raise SystemExit(f"{protocol.MAX_RESULT_BYTES_VARIABLE} is {describe(value)}, not a number of bytes")
    return int(value)


def _get(s3: Any, uri: str, what: str, **range_: str) -> bytes:
    bucket, key = protocol.split_s3_uri(uri)
    try:
        return s3.get_object(Bucket=bucket, Key=key, **range_)["Body"].read()
    except Exception as exc:  # noqa: BLE001 - every reason ends the same way: reported, exit 1
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        raise PayloadUnavailableError(f"cannot read {what} {uri}: {code}") from exc


def _decode(data: bytes, what: str, uri: str) -> dict[str, Any]:
    """The payload in the bytes read; PayloadUnavailableError when they are not one (truncated)."""
    try:
        return wove_protocol.decode_payload(data.decode("ascii"))
    except UnicodeDecodeError as exc:
        problem = f"not base64 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
    except wove_protocol.MalformedPayloadError as exc:
        problem = str(exc)
    raise PayloadUnavailableError(f"cannot read {what} {uri}: {problem}, {len(data)} bytes read")


def fetch_payload(s3: Any, uri: str) -> dict[str, Any]:
    return _decode(_get(s3, uri, "the task payload"), "the task payload", uri)


def fetch_packed_payload(s3: Any, uri: str, index: int) -> dict[str, Any]:
    """Entry `index` of an array job's pack: its offsets, then its bytes (two ranged GETs)."""
    what = f"entry {index} of the payload pack"
    offsets = _get(s3, uri, what, Range=protocol.pack_offsets_range(index))
    try:
        entry_range = protocol.pack_entry_range(offsets, index)
    except ValueError as exc:
        raise PayloadUnavailableError(f"cannot read {what} {uri}: {exc}") from None
    return _decode(_get(s3, uri, what, Range=entry_range), what, uri)


# --- the run -------------------------------------------------------------------------------

CALLBACK_TIMEOUT = 60.0  # seconds a callback POST may wait on the socket (Wove's own waits forever)


def post_body(callback_url: str, body: bytes, *, timeout: Optional[float] = None) -> None:
    """POST an event's body to Wove's callback URL, as wove.backend.post_event does."""
    request = urllib.request.Request(callback_url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def callback_route(callback_url: str) -> Callable[[str, Any], None]:
    """Callback mode's reporting.Deliver: POST, again after a connection error."""
    post = post_with_retries(post_body)
    return lambda frame_type, body: post(callback_url, body, timeout=CALLBACK_TIMEOUT)


def reporter_for(payload: dict[str, Any], sink: Optional[ExchangeSink]) -> Reporter:
    """The task's Reporter: events streamed to the bucket (exchange mode) or POSTed (callback)."""
    if sink is not None:
        route, encode = sink.write, sink.prepare
    else:
        route, encode = callback_route(payload["callback_url"]), wove_protocol.encode_frame
    return Reporter(route, payload["run_id"], payload["task_id"], wove_protocol.heartbeat_seconds(payload),
                    encode=encode)


def variable_problems(environ: Mapping[str, str], inline: bool) -> tuple[list[str], list[str]]:
    """(problems with where the payload comes from, problems with where results go): one line
    each, naming the variable and its value (bounded)."""
    payload_problems, results_problems = [], []
    checks = [(protocol.RESULTS_URI_VARIABLE, protocol.EVENT_SUFFIX_MAX_BYTES, results_problems)]
    if not inline:
        checks += [(protocol.PAYLOAD_URI_VARIABLE, 0, payload_problems), (protocol.PAYLOAD_PACK_URI_VARIABLE, 0, payload_problems)]
    for name, reserve, problems in checks:
        value = environ.get(name)
        if value is None:
            continue
        try:
            protocol.checked_s3_uri(value.replace(protocol.INDEX_PLACEHOLDER, "9999"), reserve=reserve)
            if protocol.INDEX_PLACEHOLDER in value:
                array_index(environ, name)
        except (ValueError, PayloadUnavailableError) as exc:
            problems.append(f"{name}: {exc} (got {describe(value)})")
    if not inline and environ.get(protocol.PAYLOAD_PACK_URI_VARIABLE) is not None and not environ.get(protocol.PAYLOAD_URI_VARIABLE):
        try:
            array_index(environ, protocol.PAYLOAD_PACK_URI_VARIABLE)
        except PayloadUnavailableError as exc:
            payload_problems.append(str(exc))
    return payload_problems, results_problems


def read_payload(inline: Optional[str], environ: Mapping[str, str], s3: Callable[[], Any],
                 inline_source: str = protocol.INLINE_PAYLOAD_VARIABLE) -> dict[str, Any]:
    """The task's payload, from wherever the job's variables say; PayloadUnavailableError."""
    if inline:
        try:
            return wove_protocol.decode_payload(inline)
        except wove_protocol.MalformedPayloadError as exc:
            raise PayloadUnavailableError(f"{inline_source}: not a Wove payload: {exc} (got {describe(inline)})") from None
    reference = environ.get(protocol.PAYLOAD_URI_VARIABLE)
    if reference:
        return fetch_payload(s3(), reference)
    pack = str(environ.get(protocol.PAYLOAD_PACK_URI_VARIABLE))
    return fetch_packed_payload(s3(), pack, array_index(environ, pack))


def main(
    argv: Optional[list[str]] = None,
    environ: Optional[Mapping[str, str]] = None,
    s3_factory: Optional[Callable[[], Any]] = None,
    on_start: Optional[Callable[[Reporter], None]] = None,
) -> int:
    """Run the job's task; 0 when its end reached the submitter, 1 (after one line on stderr)
    when the worker failed. Bad variables raise SystemExit with one line each.
    `on_start(reporter)`: called before the task runs (the CLI's SIGTERM handler uses it)."""
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    inline = argv[0] if argv else environ.get(protocol.INLINE_PAYLOAD_VARIABLE)
    results = environ.get(protocol.RESULTS_URI_VARIABLE)
    if not inline and not environ.get(protocol.PAYLOAD_URI_VARIABLE) and not environ.get(protocol.PAYLOAD_PACK_URI_VARIABLE):
        raise SystemExit(MISSING_PAYLOAD)
    chunked = bool(environ.get(protocol.PAYLOAD_PACK_URI_VARIABLE) and environ.get(protocol.TASKS_PER_CHILD_VARIABLE))
    if chunked:  # several tasks in this job; a single chunk is a plain job, child 0 (chunk.py)
        environ = {protocol.ARRAY_INDEX_VARIABLE: "0", **environ}
    payload_problems, results_problems = variable_problems(environ, bool(inline))
    if results_problems:
        raise SystemExit("\n".join(payload_problems + results_problems))

    clients: list[Any] = []

    def s3() -> Any:  # one client, made only when the job needs S3
        if not clients:
            clients.append((s3_factory or _default_s3)())
        return clients[0]

    if chunked:
        from .chunk import run_chunk

        limit = max_result_bytes(environ)
        return run_chunk(environ, s3(), lambda uri: ExchangeSink(s3(), uri, limit), on_start)
    sink = (ExchangeSink(s3(), resolve_template(str(results), environ), max_result_bytes(environ))
            if results else None)
    try:
        if payload_problems:
            raise PayloadUnavailableError("\n".join(payload_problems))
        payload = read_payload(inline, environ, s3, "the payload argument" if argv else protocol.INLINE_PAYLOAD_VARIABLE)
    except PayloadUnavailableError as exc:
        if sink is not None:  # the run id is in the payload: the poller fills in whose error this is
            frame = wove_protocol.error_frame("", "", exc)
            sink.write(wove_protocol.ERROR, {k: v for k, v in frame.items() if k not in ("run_id", "task_id")})
        raise SystemExit(str(exc)) from None

    reporter = reporter_for(payload, sink)
    if on_start is not None:
        on_start(reporter)
    try:
        wove_protocol.run_payload(payload, reporter.post)
    except (SystemExit, KeyboardInterrupt) as exc:  # raised by the task: Wove catches Exception only
        _report_early_exit(reporter, exc)
    finally:
        reporter.stop()
    if reporter.failure:
        print(reporter.failure, file=sys.stderr, flush=True)
        return 1
    return 0


def _report_early_exit(reporter: Reporter, exc: BaseException) -> None:
    if isinstance(exc, KeyboardInterrupt):
        reporter.cancel()
        return
    message = f"the task called sys.exit({exc.code!r}) instead of returning a result"
    if reporter.send(wove_protocol.error_frame(reporter.run_id, reporter.task_id, WorkerFailure(message))):
        reporter.failure = message


def _default_s3() -> Any:
    import boto3

    return boto3.client("s3")
