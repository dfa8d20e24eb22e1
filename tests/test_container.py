"""The real worker image, built and run by a private Docker engine."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import wove

from conftest import MEASUREMENTS
from test_e2e import environments, moto, runner, stack  # noqa: F401 - fixtures
from test_worker_image import payload_for

pytestmark = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11), reason="the test base is Debian bookworm's Python 3.11; payloads need the same minor"
)


def test_image_runs_the_worker_as_a_non_root_user(docker_engine: Any, worker_image: str) -> None:
    config = json.loads(docker_engine.docker("image", "inspect", "--format", "{{json .Config}}", worker_image).stdout)
    assert config["User"] == "10001"
    assert config["Cmd"] == ["python", "-m", "wove_batch.worker"]
    assert config["Entrypoint"] is None
    assert config["WorkingDir"] == "/opt/app"


def test_container_answers_a_task_on_the_callback(docker_engine: Any, worker_image: str, app_dir: Path) -> None:
    import wove_demo_tasks
    from wove.backend import BackendCallbackServer

    async def scenario() -> tuple[int, list[dict], float]:
        server = BackendCallbackServer(host="127.0.0.1", port=0)
        await server.start()
        try:
            assert server.callback_url is not None
            environment = {"WOVE_BACKEND_PAYLOAD": payload_for(wove_demo_tasks.whoami, {}, "whoami:1")(server.callback_url),
                           "AWS_BATCH_JOB_ID": "job-1"}
            started = time.monotonic()
            ran = await asyncio.to_thread(
                docker_engine.run_command, worker_image, ["python", "-m", "wove_batch.worker"], environment, app_dir
            )
            frames = [await asyncio.wait_for(server.recv(), 10) for _ in range(2)]
            return ran.returncode, frames, time.monotonic() - started
        finally:
            await server.stop()

    code, frames, seconds = asyncio.run(scenario())
    MEASUREMENTS["container start to result"] = f"{seconds:.2f} s"
    assert code == 0
    assert frames == [
        {"type": "task_started", "run_id": "whoami:1", "task_id": "whoami"},
        {"type": "task_result", "run_id": "whoami:1", "task_id": "whoami", "result": {"uid": 10001, "job": "job-1"}},
    ]


def test_container_without_payload_exits_non_zero(docker_engine: Any, worker_image: str, app_dir: Path) -> None:
    ran = docker_engine.run_command(worker_image, ["python", "-m", "wove_batch.worker"], {}, app_dir)
    assert ran.returncode == 1
    assert ran.stderr.decode() == (
        "Missing dispatch payload. Pass it as argv[1] or WOVE_BACKEND_PAYLOAD "
        "(or its exchange-bucket location as WOVE_BATCH_PAYLOAD_URI or WOVE_BATCH_PAYLOAD_PACK_URI).\n"
    )


def test_batch_job_runs_as_the_real_image(
    stack: Any, moto: Any, environments: dict, worker_venv: Path, app_dir: Path, docker_engine: Any, worker_image: str
) -> None:
    """The end-to-end chain with the job run as `docker run` of the worker image."""
    import wove_demo_tasks

    from batch_emulator import JobRunner

    queues = list(stack.outputs["job_queues"].values())
    with JobRunner(moto, queues, worker_venv / "bin", app_dir, container=(docker_engine, worker_image)) as jobs:
        with wove.weave() as w:
            @w.do(environment="batch")
            def identity() -> dict:
                return wove_demo_tasks.whoami()

        (job,) = jobs.wait_idle(1, timeout=120)
    assert job.returncode == 0, job.output
    assert w.result.identity == {"uid": 10001, "job": job.job_id}


def test_a_5_mb_argument_and_result_travel_through_the_exchange_bucket_with_the_real_image(
    stack: Any, moto: Any, environments: dict, worker_venv: Path, app_dir: Path, docker_engine: Any, worker_image: str
) -> None:
    """The job, run as the image, reads its payload from moto's S3 with the job's credentials
    and writes its result there; the helper's poller hands it to Wove."""
    from batch_emulator import JobRunner

    queues = list(stack.outputs["job_queues"].values())
    data = bytes(range(256)) * (5 * 1024 * 1024 // 256)
    with JobRunner(moto, queues, worker_venv / "bin", app_dir, container=(docker_engine, worker_image),
                   unreachable_callback=True) as jobs:
        with wove.weave() as w:
            @w.do(environment="batch_exchange", delivery_timeout=120)
            def echoed() -> bytes:
                return data[::-1]

            @w.do(environment="batch_exchange", delivery_timeout=120)
            def size(echoed: bytes) -> int:
                return len(echoed)

        ran = jobs.wait_idle(2, timeout=30)
    assert [job.returncode for job in ran] == [0, 0], [job.output for job in ran]
    assert (w.result.echoed, w.result.size) == (data[::-1], len(data))
    assert {name for name in ran[1].environment if name.startswith("WOVE_")} == {
        "WOVE_BATCH_PAYLOAD_URI", "WOVE_BATCH_RESULTS_URI"}


def test_a_task_writes_past_dockers_64_mb_of_shared_memory_with_the_definitions_size(
    docker_engine: Any, worker_image: str, app_dir: Path
) -> None:
    """The job definition's shared_memory_mib reaches the container as the ECS agent gives it
    (--shm-size): a task writes 100 MiB to /dev/shm. Without it, Docker's 64 MB stop it."""
    import wove_demo_tasks
    from wove.backend import BackendCallbackServer

    from conftest import MINIMAL, plan_of

    planned = plan_of({**MINIMAL, "job_definitions": {"worker": {"shared_memory_mib": 256}}})
    properties = json.loads(planned.named("wove-test-jobdef-worker").inputs["containerProperties"])
    assert properties["linuxParameters"] == {"sharedMemorySize": 256}

    async def run(container_properties: dict[str, Any]) -> tuple[int, dict]:
        server = BackendCallbackServer(host="127.0.0.1", port=0)
        await server.start()
        try:
            assert server.callback_url is not None
            payload = payload_for(wove_demo_tasks.fill_shm, {"mib": 100}, "fill_shm:1")(server.callback_url)
            ran = await asyncio.to_thread(
                docker_engine.run_command, worker_image, ["python", "-m", "wove_batch.worker"],
                {"WOVE_BACKEND_PAYLOAD": payload}, app_dir, 120, (), container_properties)
            frames = [await asyncio.wait_for(server.recv(), 10) for _ in range(2)]
            return ran.returncode, frames[-1]
        finally:
            await server.stop()

    code, frame = asyncio.run(run(properties))
    assert (code, frame["type"], frame.get("result")) == (0, "task_result", 100 * 1024 * 1024)
    code, frame = asyncio.run(run({}))
    assert frame["type"] == "task_error" and "No space left on device" in frame["error"]["message"], frame
