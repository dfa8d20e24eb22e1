"""`python -m wove_batch.worker` as a process: what a Batch job's container runs.

- `--help` prints the usage; any other argument is the payload, as for Wove's own worker.
- Bad variables, an unreadable payload or an undeliverable result end with one line on stderr
  and exit 1 (the job FAILED; its log says why), never a traceback.
- SIGTERM (TerminateJob, a Spot reclaim, `docker stop`) reports the task as `task_cancelled`
  (within CANCEL_REPORT_SECONDS: Batch sends SIGKILL 30 s after SIGTERM) and exits 143.
- The process ends as soon as the task's end is delivered, like a container whose main process
  exits: threads the task left running are not waited for, and processes it forked and left
  running (with multiprocessing or os.fork) are killed.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
import urllib.error
from typing import NoReturn, Optional

from .. import protocol
from ..spec import describe
from . import main
from .reporting import Reporter, cause

USAGE = f"""usage: python -m wove_batch.worker [PAYLOAD]

Runs one Wove task (the command of wove-batch's job definitions) and delivers its end to the
submitter. The task's payload is PAYLOAD, or, from the environment:
  {protocol.INLINE_PAYLOAD_VARIABLE}    the base64 payload, inline (as Wove's own backend worker)
  {protocol.PAYLOAD_URI_VARIABLE}      s3://bucket/key of the payload
  {protocol.PAYLOAD_PACK_URI_VARIABLE} s3://bucket/key of an array job's payload pack
                             (entry {protocol.ARRAY_INDEX_VARIABLE})
  {protocol.RESULTS_URI_VARIABLE}      s3://bucket/prefix/ to write events to instead of
                             POSTing them to the payload's callback URL
Exit status: 0 when the task's end was delivered (its result or its error), 1 when the worker
could not run or deliver it, 2 for an unknown option, 143 after SIGTERM."""

EXIT_FAILED, EXIT_USAGE, EXIT_TERMINATED = 1, 2, 128 + signal.SIGTERM
CANCEL_REPORT_SECONDS = 10.0


def run(argv: Optional[list[str]] = None) -> NoReturn:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        try:
            print(USAGE)
            sys.stdout.flush()
        except BrokenPipeError:  # `--help | head`
            pass
        finish(0)
    if argv and argv[0].startswith("-"):
        print(f"unknown option {describe(argv[0])}; see --help", file=sys.stderr)
        finish(EXIT_USAGE)
    pid = os.getpid()
    started: list[Reporter] = []
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=_terminate, args=(started,), daemon=True).start())
    code = _main(argv, started)
    if os.getpid() != pid:
        os._exit(0)  # a child the task forked came back through the worker's code: it is not the worker
    finish(code)


def _main(argv: list[str], started: list[Reporter]) -> int:
    try:
        return main(argv, on_start=started.append)
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return EXIT_FAILED
    except (OSError, urllib.error.URLError) as exc:  # the submitter or S3 could not be reached
        print(f"the task could not be reported: {cause(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - a defect: its traceback, then the one line
        traceback.print_exc()
        print(f"the worker failed: {cause(exc)}", file=sys.stderr)
        return EXIT_FAILED


def _terminate(started: list[Reporter]) -> None:
    print("SIGTERM: the job is being stopped; reporting the task cancelled", file=sys.stderr, flush=True)
    if started:
        reporting = threading.Thread(target=started[-1].cancel, daemon=True)  # the task running now
        reporting.start()
        reporting.join(CANCEL_REPORT_SECONDS)
    finish(EXIT_TERMINATED)


def finish(code: int) -> NoReturn:
    """Exit now, as a container's main process does: what the task left running ends too."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    kill_descendants()
    os._exit(code)


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (Linux /proc; none elsewhere)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def kill_descendants() -> None:
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
