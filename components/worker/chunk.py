"""Several Wove tasks in one Batch job: child c of the array runs tasks c*N .. c*N+N-1 of the
pack (protocol.TASKS_PER_CHILD_VARIABLE), one after another.

Each task is still its own Wove task: its own payload, its own results prefix (exchange
mode) or its own callback URL (callback mode), so its own started/result/error frames; a
task Wove cancelled before its turn (listed in the child's object at CANCEL_URI, read before
the first task and then at most every CANCEL_CHECK_SECONDS) is not run and reports
`task_cancelled`. The chunk's payloads come in two ranged GETs (its offsets, then its entries:
they are contiguous in the pack). If the process dies, the tasks that had answered keep their
answers; the submitter fails the rest (client/chunks.py).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable, Mapping, Optional

from .. import protocol


def chunk_tasks(environ: Mapping[str, str]) -> range:
    """The task indices this job runs."""
    from . import PayloadUnavailableError

    per_child, count = environ.get(protocol.TASKS_PER_CHILD_VARIABLE, ""), environ.get(protocol.TASK_COUNT_VARIABLE, "")
    if not per_child.isdigit() or not count.isdigit() or int(per_child) < 1:
        raise PayloadUnavailableError(
            f"{protocol.TASKS_PER_CHILD_VARIABLE}={per_child[:20]!r} and {protocol.TASK_COUNT_VARIABLE}={count[:20]!r} "
            "are not task counts")
    index = environ.get(protocol.ARRAY_INDEX_VARIABLE, "0")  # a single chunk is a plain job
    if not index.isdigit():
        raise PayloadUnavailableError(f"{protocol.ARRAY_INDEX_VARIABLE} is {index!r}")
    first = int(index) * int(per_child)
    return range(first, min(int(count), first + int(per_child)))


def read_chunk(s3: Any, pack_uri: str, tasks: range) -> list[bytes]:
    """The chunk's pack entries (base64 payloads), in order."""
    from . import PayloadUnavailableError, _get

    what = f"entries {tasks.start}-{tasks.stop - 1} of the payload pack"
    header = _get(s3, pack_uri, what, Range=protocol.pack_span_offsets_range(tasks.start, tasks.stop))
    try:
        offsets = protocol.parse_offsets(header, len(tasks) + 1)
    except ValueError as exc:
        raise PayloadUnavailableError(f"cannot read {what} {pack_uri}: {exc}") from None
    body = _get(s3, pack_uri, what, Range=f"bytes={offsets[0]}-{offsets[-1] - 1}")
    return [body[start - offsets[0] : end - offsets[0]] for start, end in zip(offsets, offsets[1:])]


class Cancellations:
    """The task indices the submitter cancelled in this child, read again at most every
    CANCEL_CHECK_SECONDS (a missing object: 404, or 403 for a role that may not list)."""

    def __init__(self, s3: Any, uri: Optional[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.s3, self.uri, self.clock = s3, uri, clock
        self._checked: Optional[float] = None
        self._cancelled: set[int] = set()

    def __contains__(self, index: int) -> bool:
        if self.uri and (self._checked is None or self.clock() - self._checked >= protocol.CANCEL_CHECK_SECONDS):
            self._checked = self.clock()
            self._cancelled = self._read()
        return index in self._cancelled

    def _read(self) -> set[int]:
        bucket, key = protocol.split_s3_uri(str(self.uri))
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # noqa: BLE001 - any answer but "there" means: none cancelled
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if code not in ("404", "NoSuchKey", "NotFound", "403", "AccessDenied"):
                raise
            return set()
        return {int(index) for index in json.loads(body)}


def run_chunk(environ: Mapping[str, str], s3: Any, sink_for: Callable[[str], Any],
              on_start: Optional[Callable[[Any], None]] = None) -> int:
    """Run the job's tasks in order; 0 (each task's own outcome went to Wove as its frames,
    through its own Reporter: heartbeats, self-reported failures, SIGTERM as for one task).
    `sink_for(results_uri)` makes a task's exchange sink; `on_start(reporter)` as worker.main's."""
    from . import PayloadUnavailableError, reporter_for, resolve_template
    from . import wove_protocol

    results = environ.get(protocol.RESULTS_URI_VARIABLE)
    pack = str(environ.get(protocol.PAYLOAD_PACK_URI_VARIABLE))
    try:
        tasks = chunk_tasks(environ)
        entries = read_chunk(s3, pack, tasks)
    except PayloadUnavailableError as exc:
        raise SystemExit(str(exc)) from None  # Batch marks the job FAILED: the watcher fails its tasks
    cancel_uri = environ.get(protocol.CANCEL_URI_VARIABLE)
    cancelled = Cancellations(s3, resolve_template(cancel_uri, {protocol.ARRAY_INDEX_VARIABLE: "0", **environ})
                              if cancel_uri else None)
    failures = []
    for index, entry in zip(tasks, entries):
        try:
            payload = wove_protocol.decode_payload(entry.decode("ascii"))
        except (UnicodeDecodeError, wove_protocol.MalformedPayloadError) as exc:
            raise SystemExit(f"entry {index} of the payload pack {pack}: not a Wove payload ({exc})") from None
        sink = sink_for(results.replace(protocol.INDEX_PLACEHOLDER, str(index))) if results else None
        reporter = reporter_for(payload, sink)
        if on_start is not None:
            on_start(reporter)
        if index in cancelled:
            reporter.cancel()
            continue
        try:
            wove_protocol.run_payload(payload, reporter.post)
        finally:
            reporter.stop()
        if reporter.failure:
            print(f"task {index}: {reporter.failure}", file=sys.stderr, flush=True)
            failures.append(index)
    return 1 if failures else 0
