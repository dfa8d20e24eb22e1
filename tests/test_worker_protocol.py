"""The worker's side of Wove's backend protocol: what it relies on in Wove (the contract tests,
which fail when a Wove upgrade changes it), heartbeats, SIGTERM, the worker's own failures
reported as the task's error, bad and hostile input, and a task that forks.

Worker processes here run `python -m wove_batch.worker` from this virtualenv against Wove's own
callback server; the heartbeat tests run end to end on moto with the real Wove executor."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
import wove
from wove.backend import BackendCallbackServer, build_backend_payload, payload_to_b64

from batch_emulator import JobRunner, MotoServer
from test_e2e import environments, moto, stack  # noqa: F401 - fixtures
from wove_batch.tools.plan import Plan
from wove_batch.worker import main, wove_protocol as wp
from wove_batch.worker.reporting import WorkerFailure, heartbeat_period

TASKS = '''
import multiprocessing, os, sys, threading, time


def slow(seconds):
    time.sleep(seconds)
    return "done"


def unpicklable():
    return threading.Lock()


def leaves_a_process(pidfile):
    child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(3600,))
    child.start()
    open(pidfile, "w").write(str(child.pid))
    return "parent done"


def forks(pidfile):
    pid = os.fork()
    if pid == 0:
        time.sleep(3600)
        return "child done"
    open(pidfile, "w").write(str(pid))
    return "parent done"


def leaves_a_thread():
    threading.Thread(target=time.sleep, args=(3600,)).start()
    return "done"


def exits(code):
    sys.exit(code)
'''


@pytest.fixture
def tasks(tmp_path: Path) -> Iterator[Any]:
    """A module of tasks importable here and in the worker processes (PYTHONPATH)."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "lw_worker_tasks.py").write_text(TASKS)
    sys.path.insert(0, str(folder))
    sys.modules.pop("lw_worker_tasks", None)
    import lw_worker_tasks

    lw_worker_tasks.folder = folder
    yield lw_worker_tasks
    sys.path.remove(str(folder))
    sys.modules.pop("lw_worker_tasks", None)


def payload_of(function: Any, args: dict[str, Any], callback_url: str, delivery: Optional[dict] = None,
               run_id: str = "task:1") -> str:
    frame = {"run_id": run_id, "task_id": run_id.split(":")[0], "callable": function, "args": args,
             "delivery": delivery or {}}
    return payload_to_b64(build_backend_payload(frame, callback_url=callback_url, adapter="aws_batch"))


async def frames_of(server: BackendCallbackServer, quiet: float = 0.5) -> list[dict]:
    """Every frame the server received, until none for `quiet` seconds."""
    frames = []
    while True:
        try:
            frames.append(await asyncio.wait_for(server.recv(), quiet))
        except asyncio.TimeoutError:
            return frames


def worker_env(folder: Path, **variables: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(folder), **variables}


async def run_worker(folder: Path, make_payload: Callable[[str], str], *, timeout: float = 60,
                     during: Optional[Callable[[Any, BackendCallbackServer], Any]] = None) -> tuple[int, str, list[dict]]:
    """`python -m wove_batch.worker` with the payload made for a Wove callback server's URL:
    (exit code, stderr, frames received). `during(process, server)` runs while it does."""
    server = BackendCallbackServer(host="127.0.0.1", port=0)
    await server.start()
    try:
        assert server.callback_url is not None
        env = worker_env(folder, WOVE_BACKEND_PAYLOAD=make_payload(server.callback_url))
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "wove_batch.worker", env=env,
                                                       stderr=asyncio.subprocess.PIPE)
        early = await during(process, server) if during is not None else []
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
        return process.returncode, stderr.decode(), early + await frames_of(server)
    finally:
        await server.stop()


# --- the contract with Wove 2.0.3 ----------------------------------------------------------


def test_wove_contract_run_backend_payload_posts_every_frame_through_post_event() -> None:
    """wove_protocol.run_payload routes what run_backend_payload posts: the started frame, then
    the result, the task's error, or task_cancelled for asyncio.CancelledError."""

    def boom() -> None:
        raise ValueError("broken")

    async def cancelled() -> None:
        raise asyncio.CancelledError

    seen: dict[str, list[dict]] = {}
    for name, function in [("ok", lambda: 42), ("boom", boom), ("cancelled", cancelled)]:
        posted: list[dict] = []
        payload = json.loads(base64.b64decode(payload_of(function, {}, "http://unused/", run_id=f"{name}:1")))
        wp.run_payload(payload, lambda url, frame, timeout=None: posted.append(frame))
        seen[name] = posted
    assert seen["ok"] == [wp.frame(wp.STARTED, "ok:1", "ok"), {**wp.frame(wp.RESULT, "ok:1", "ok"), "result": 42}]
    assert [f["type"] for f in seen["boom"]] == [wp.STARTED, wp.ERROR]
    assert set(seen["boom"][1]) == {"type", "run_id", "task_id", "exception", "error"}
    assert set(seen["boom"][1]["error"]) == set(wp.error_frame("r", "t", ValueError("x"))["error"])
    assert seen["cancelled"] == [wp.frame(wp.STARTED, "cancelled:1", "cancelled"), wp.frame(wp.CANCELLED, "cancelled:1", "cancelled")]


def test_wove_contract_encode_frame_is_the_body_wove_posts(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    import wove.backend

    bodies: list[bytes] = []

    class Answer:
        def __enter__(self) -> "Answer":
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

        def read(self) -> bytes:
            return b""

    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout=None: bodies.append(request.data) or Answer())
    frame = {**wp.frame(wp.RESULT, "r:1", "r"), "result": {"x": [1, 2]}}
    wp._WOVE_POST("http://submitter/wove/events/t", frame)
    assert bodies == [wp.encode_frame(frame)]
    assert wove.backend.deserialize_frame(json.loads(bodies[0])) == frame


def test_wove_contract_payload_keys_heartbeat_setting_and_frames_wove_receives() -> None:
    from wove import environment, stdio_worker

    payload = json.loads(base64.b64decode(payload_of(lambda: 1, {}, "http://h/", {wp.HEARTBEAT_SETTING: 2})))
    assert set(wp.REQUIRED_KEYS) <= set(payload) and payload["delivery"] == {wp.HEARTBEAT_SETTING: 2}
    assert wp.decode_payload(payload_to_b64(payload)) == payload
    assert wp.heartbeat_seconds(payload) == 2.0
    # Wove's own stdio worker reads the interval from the same key and sends the same frame.
    emitted: list[dict] = []
    runtime = stdio_worker.StdioWorkerRuntime()

    async def capture(frame: dict) -> None:
        emitted.append(frame)

    runtime._emit = capture  # type: ignore[method-assign]
    asyncio.run(runtime._execute_task(run_id="r:1", task_id="r", task_callable=lambda: asyncio.sleep(0.05),
                                      task_args={}, delivery={wp.HEARTBEAT_SETTING: 0.01}))
    assert wp.frame(wp.HEARTBEAT, "r:1", "r") in emitted
    # The submitting side keeps a task alive on these frames and ends it on these.
    receiver = inspect.getsource(environment.EnvironmentRuntime._recv_loop) if hasattr(environment, "EnvironmentRuntime") \
        else inspect.getsource(environment)
    for kind in (wp.STARTED, wp.HEARTBEAT, *wp.TERMINAL):
        assert f'frame_type == "{kind}"' in receiver, kind
    assert "(time.monotonic() - last_heartbeat) >= heartbeat_seconds" in inspect.getsource(environment)


# --- heartbeats ----------------------------------------------------------------------------


def test_heartbeats_go_every_third_of_the_interval_from_the_start_to_the_result(tasks: Any) -> None:
    code, stderr, frames = asyncio.run(run_worker(
        tasks.folder, lambda url: payload_of(tasks.slow, {"seconds": 1.6}, url, {wp.HEARTBEAT_SETTING: 0.6})))
    assert (code, stderr) == (0, "")
    assert heartbeat_period(0.6) == pytest.approx(0.2)
    assert frames[0] == wp.frame(wp.STARTED, "task:1", "task")
    assert frames[-1] == {**wp.frame(wp.RESULT, "task:1", "task"), "result": "done"}
    beats = frames[1:-1]
    # 1.6 s at one every 0.2 s: 8 at most; Wove needs one every 0.6 s, so at least 2 (4 for margin).
    assert 4 <= len(beats) <= 8 and beats == [wp.frame(wp.HEARTBEAT, "task:1", "task")] * len(beats)


@pytest.mark.parametrize("environment", ["batch", "batch_exchange"])
def test_a_10_s_task_with_2_s_heartbeats_succeeds_end_to_end(
    environment: str, stack: Plan, moto: MotoServer, environments: dict, worker_venv: Path, app_dir: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without heartbeats Wove cancels it after 2 s ("Delivery heartbeat timed out for task
    'slow' after 2s without heartbeat."). Exchange mode: each heartbeat is an event object the
    poller hands to Wove's callback server (results_poll_seconds 0.2 here). Wove counts the 2 s
    from the submit, so the job must also start and send task_started within 2 s of it: on a
    loaded machine the harness's own start of the job can take longer (the failure message
    gives the times)."""
    import wove.backend

    begun = time.monotonic()
    timeline: list[tuple[float, str]] = []
    receive = wove.backend.BackendCallbackServer.recv

    async def recorded(self: Any) -> dict:
        frame = await receive(self)
        timeline.append((round(time.monotonic() - begun, 2), frame.get("type")))
        return frame

    monkeypatch.setattr(wove.backend.BackendCallbackServer, "recv", recorded)
    batch = environments[environment]["executor_config"]["client"]._client
    batch.meta.events.register("provide-client-params.batch.SubmitJob",
                               lambda params, **_: timeline.append((round(time.monotonic() - begun, 2), "SubmitJob")))
    with JobRunner(moto, list(stack.outputs["job_queues"].values()), worker_venv / "bin", app_dir,
                   before_run=lambda job: timeline.append((round(time.monotonic() - begun, 2), "job started"))) as jobs:
        with wove.weave() as w:
            @w.do(environment=environment, delivery_heartbeat_seconds=2, delivery_timeout=60)
            def slow() -> str:
                time.sleep(10)
                return "done"

        (job,) = jobs.wait_idle(1)
    try:
        outcome = w.result.slow
    except wove.DeliveryTimeoutError as exc:
        outcome = f"{exc} (times since the weave began: {timeline})"
    assert outcome == "done"
    assert job.returncode == 0, job.output
    kinds = [kind for _, kind in timeline]
    assert kinds[:2] == ["SubmitJob", "job started"] and kinds[-1] == "task_result"
    assert kinds.count("heartbeat") >= 10  # every 2/3 s through the 10 s
    assert 10 <= time.monotonic() - begun < 40


# --- SIGTERM -------------------------------------------------------------------------------


def test_sigterm_reports_the_task_cancelled_and_exits_143(tasks: Any) -> None:
    async def terminate_once_started(process: Any, server: BackendCallbackServer) -> list[dict]:
        first = await asyncio.wait_for(server.recv(), 30)
        process.send_signal(signal.SIGTERM)
        return [first]

    begun = time.monotonic()
    code, stderr, frames = asyncio.run(run_worker(
        tasks.folder, lambda url: payload_of(tasks.slow, {"seconds": 60}, url), during=terminate_once_started))
    assert (code, stderr) == (143, "SIGTERM: the job is being stopped; reporting the task cancelled\n")
    assert frames == [wp.frame(wp.STARTED, "task:1", "task"), wp.frame(wp.CANCELLED, "task:1", "task")]
    assert time.monotonic() - begun < 30  # not the task's 60 s


# --- the worker's own failures, reported as the task's error -------------------------------


def test_an_unpicklable_result_is_the_tasks_error_and_the_job_fails(tasks: Any) -> None:
    code, stderr, frames = asyncio.run(run_worker(tasks.folder, lambda url: payload_of(tasks.unpicklable, {}, url)))
    message = "the task's result could not be pickled (TypeError: cannot pickle '_thread.lock' object)"
    assert (code, stderr) == (1, message + "\n")
    assert [f["type"] for f in frames] == [wp.STARTED, wp.ERROR]
    assert isinstance(frames[1]["exception"], WorkerFailure) and str(frames[1]["exception"]) == message
    assert (frames[1]["error"]["kind"], frames[1]["error"]["source"]) == ("WorkerFailure", "wove_batch")


def test_a_task_that_calls_sys_exit_is_the_tasks_error(tasks: Any) -> None:
    code, stderr, frames = asyncio.run(run_worker(tasks.folder, lambda url: payload_of(tasks.exits, {"code": 0}, url)))
    message = "the task called sys.exit(0) instead of returning a result"
    assert (code, stderr) == (1, message + "\n")
    assert [f["type"] for f in frames] == [wp.STARTED, wp.ERROR] and str(frames[1]["exception"]) == message


@pytest.fixture
def bucket(moto: MotoServer) -> str:
    name = f"lw-{uuid.uuid4().hex[:12]}"
    moto.client("s3").create_bucket(Bucket=name)
    return name


def events(moto: MotoServer, bucket: str, prefix: str) -> list[tuple[str, dict]]:
    from wove.backend import deserialize_frame

    s3 = moto.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [(item["Key"][len(prefix):], deserialize_frame(json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())))
            for item in sorted(listed, key=lambda item: item["Key"])]


def test_an_s3_error_writing_the_result_is_the_tasks_error_and_the_job_fails(
    tasks: Any, moto: MotoServer, bucket: str, capsys: pytest.CaptureFixture
) -> None:
    from botocore.exceptions import ClientError

    s3 = moto.client("s3")

    def refuse_results(params: dict, **_: Any) -> None:
        if params["Key"].endswith("-task_result.json"):
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "PutObject")

    s3.meta.events.register("provide-client-params.s3.PutObject", refuse_results)
    environ = {"WOVE_BACKEND_PAYLOAD": payload_of(tasks.slow, {"seconds": 0}, "http://unused/"),
               "WOVE_BATCH_RESULTS_URI": f"s3://{bucket}/results/s/1/"}
    assert main(argv=[], environ=environ, s3_factory=lambda: s3) == 1
    written = events(moto, bucket, "results/s/1/")
    assert [key for key, _ in written] == ["0001-task_started.json", "0003-task_error.json"]
    exception = written[1][1]["exception"]
    assert isinstance(exception, WorkerFailure)
    assert str(exception) == "the task's result could not be delivered (SlowDown: Please reduce your request rate.)"
    assert capsys.readouterr().err == str(exception) + "\n"


@pytest.mark.parametrize(("cut", "problem"), [
    (lambda text: text[: len(text) // 2 // 4 * 4], "not JSON once decoded (Unterminated string starting at: line 1 column"),
    (lambda text: text[:-1], "not base64 (Incorrect padding)"),
    (lambda text: "é" + text, "not base64 (byte 0xc3 at offset 0)"),
], ids=["truncated", "cut mid-quad", "not ascii"])
def test_a_truncated_or_malformed_payload_read_is_the_tasks_error(
    tasks: Any, moto: MotoServer, bucket: str, cut: Callable[[str], str], problem: str
) -> None:
    s3 = moto.client("s3")
    body = cut(payload_of(tasks.slow, {"seconds": 0}, "http://unused/")).encode()
    s3.put_object(Bucket=bucket, Key="payloads/s/1.json", Body=body)
    environ = {"WOVE_BATCH_PAYLOAD_URI": f"s3://{bucket}/payloads/s/1.json",
               "WOVE_BATCH_RESULTS_URI": f"s3://{bucket}/results/s/1/"}
    with pytest.raises(SystemExit) as exited:
        main(argv=[], environ=environ, s3_factory=lambda: s3)
    message = str(exited.value.code)
    assert message.startswith(f"cannot read the task payload s3://{bucket}/payloads/s/1.json: {problem}")
    assert message.endswith(f", {len(body)} bytes read")
    ((key, frame),) = events(moto, bucket, "results/s/1/")
    assert key == "0001-task_error.json" and str(frame["exception"]) == message
