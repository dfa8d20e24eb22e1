"""The worker's bad and hostile input (one line, the right exit code, no traceback, bounded
time and memory) and a task that leaves processes or threads running."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from test_worker_protocol import payload_of, run_worker, tasks  # noqa: F401 - tasks is a fixture
from wove_batch.worker import wove_protocol as wp


# --- bad input: one line, the right exit code, no traceback --------------------------------


def worker(*args: str, preexec: Optional[Callable[[], None]] = None, **variables: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "AWS_EC2_METADATA_DISABLED": "true", **variables}
    return subprocess.run([sys.executable, "-m", "wove_batch.worker", *args], env=env, capture_output=True,
                          text=True, timeout=60, preexec_fn=preexec)


def test_help_prints_the_usage_and_exits_0() -> None:
    result = worker("--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("usage: python -m wove_batch.worker [PAYLOAD]\n")
    assert "WOVE_BATCH_PAYLOAD_URI" in result.stdout and "143 after SIGTERM" in result.stdout
    unknown = worker("--verbose")
    assert (unknown.returncode, unknown.stdout, unknown.stderr) == (2, "", "unknown option '--verbose'; see --help\n")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(("variables", "line"), [
    ({"WOVE_BACKEND_PAYLOAD": "not a payload"},
     "WOVE_BACKEND_PAYLOAD: not a Wove payload: not base64 (Incorrect padding) (got 'not a payload')"),
    ({"WOVE_BACKEND_PAYLOAD": b64("[1, 2]")},
     f"WOVE_BACKEND_PAYLOAD: not a Wove payload: a JSON list, not a payload object (got {b64('[1, 2]')!r})"),
    ({"WOVE_BACKEND_PAYLOAD": b64('{"run_id": "r"}')},
     "WOVE_BACKEND_PAYLOAD: not a Wove payload: no callback_url, task_id, callable_pickle, args_pickle (a string each) "
     f"(got {b64(chr(123) + chr(34) + 'run_id' + chr(34) + ': ' + chr(34) + 'r' + chr(34) + chr(125))!r})"),
    ({"WOVE_BATCH_PAYLOAD_URI": "https://bucket.s3.amazonaws.com/key"},
     "WOVE_BATCH_PAYLOAD_URI: not an s3://bucket/key URI (got 'https://bucket.s3.amazonaws.com/key')"),
    ({"WOVE_BATCH_PAYLOAD_URI": "s3://bucket/key", "WOVE_BATCH_RESULTS_URI": "/tmp/results"},
     "WOVE_BATCH_RESULTS_URI: not an s3://bucket/key URI (got '/tmp/results')"),
], ids=["not base64", "not an object", "missing keys", "https uri", "results not s3"])
def test_bad_variables_end_with_one_line_and_exit_1(variables: dict[str, str], line: str) -> None:
    result = worker(**variables)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", line + "\n")


def test_the_worker_ends_when_the_result_is_delivered_whatever_the_task_left_running(tasks: Any, tmp_path: Path) -> None:
    """A process forked by multiprocessing (whose exit handler would wait for it forever), one
    forked by os.fork (which would come back through the worker's code) and a thread: the
    worker exits at once after the result, and what the task forked is gone, as in a container."""
    for function, args, result in [(tasks.leaves_a_process, {"pidfile": str(tmp_path / "mp.pid")}, "parent done"),
                                   (tasks.forks, {"pidfile": str(tmp_path / "fork.pid")}, "parent done"),
                                   (tasks.leaves_a_thread, {}, "done")]:
        begun = time.monotonic()
        code, stderr, frames = asyncio.run(run_worker(tasks.folder, lambda url: payload_of(function, args, url), timeout=20))
        assert (code, stderr) == (0, "")
        assert frames == [wp.frame(wp.STARTED, "task:1", "task"), {**wp.frame(wp.RESULT, "task:1", "task"), "result": result}]
        assert time.monotonic() - begun < 20
        if args:
            child = int(Path(args["pidfile"]).read_text())
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and Path(f"/proc/{child}").exists() and "Z" not in _state(child):
                time.sleep(0.05)
            assert not Path(f"/proc/{child}").exists() or "Z" in _state(child), f"{function.__name__}: {child} runs on"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "Z"


# --- hostile environments --------------------------------------------------------------------

HUGE = 120_000  # below Linux's 128 KiB limit on one environment string (MAX_ARG_STRLEN)


@pytest.mark.parametrize(("variables", "line"), [
    ({"WOVE_BACKEND_PAYLOAD": "A" * HUGE},
     "WOVE_BACKEND_PAYLOAD: not a Wove payload: not JSON once decoded (Expecting value: line 1 column 1 (char 0)) "
     f"(got {repr('A' * 119)[:120]}… ({HUGE + 2} characters))"),
    ({"WOVE_BACKEND_PAYLOAD": b64("[" * 80_000)},
     "WOVE_BACKEND_PAYLOAD: not a Wove payload: nested too deeply to be a payload (got "),
    ({"WOVE_BACKEND_PAYLOAD": b64("9" * 80_000)},
     "WOVE_BACKEND_PAYLOAD: not a Wove payload: not JSON once decoded (Exceeds the limit (4300 digits) for integer string "),
    ({"WOVE_BACKEND_PAYLOAD": "\u00ff\u0100" * 10},
     "WOVE_BACKEND_PAYLOAD: not a Wove payload: not base64 ('ascii' codec can't encode characters in position 0-19: "),
    ({"WOVE_BATCH_PAYLOAD_URI": "s3://" + "b" * HUGE},
     "WOVE_BATCH_PAYLOAD_URI: not an s3://bucket/key URI (got 's3://bbbb"),
    ({"WOVE_BATCH_PAYLOAD_URI": "s3://bucket/" + "k" * HUGE},
     f"WOVE_BATCH_PAYLOAD_URI: the key is {HUGE} bytes; S3 takes at most 1024 here (got 's3://bucket/kkk"),
    ({"WOVE_BATCH_PAYLOAD_URI": "s3://Bad_Bucket/key"},
     "WOVE_BATCH_PAYLOAD_URI: its bucket is not an S3 bucket name (got 's3://Bad_Bucket/key')"),
    ({"WOVE_BATCH_PAYLOAD_PACK_URI": "s3://bucket/p.pack", "AWS_BATCH_JOB_ARRAY_INDEX": "9" * HUGE},
     "AWS_BATCH_JOB_ARRAY_INDEX: not a whole number from 0 to 9999 (got '9999"),
    ({"WOVE_BATCH_PAYLOAD_PACK_URI": "s3://bucket/p.pack", "AWS_BATCH_JOB_ARRAY_INDEX": "\u0663"},
     "AWS_BATCH_JOB_ARRAY_INDEX: not a whole number from 0 to 9999 (got '\u0663'), and 'WOVE_BATCH_PAYLOAD_PACK_URI' is an array child's"),
    ({"WOVE_BATCH_PAYLOAD_URI": "s3://bucket/key", "WOVE_BATCH_RESULTS_URI": "s3://bucket/{index}/" * 6000},
     "WOVE_BATCH_RESULTS_URI: the key is 101988 bytes; S3 takes at most 994 here (got 's3://bucket/{index}/s3://"),
], ids=["huge payload", "deep json", "huge number", "not ascii", "huge bucket", "huge key", "bucket name",
        "huge index", "unicode digit", "huge results uri"])
def test_hostile_environments_end_fast_with_one_clear_line(variables: dict[str, str], line: str) -> None:
    """The worker runs under hard limits (400 MB of address space, 5 s of CPU): a runaway would
    die with MemoryError or SIGXCPU instead of printing the one expected line; nothing is sent."""
    import resource

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (400 * 1000 * 1000,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (5, 5))

    result = worker(preexec=limits, AWS_ENDPOINT_URL="http://127.0.0.1:9", **variables)
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    assert result.stderr.startswith(line) and result.stderr.count("\n") == 1, result.stderr
    assert len(result.stderr) < 600 and "Traceback" not in result.stderr
