"""The worker image: its Dockerfile's contract, and the worker process it runs."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import pytest

from conftest import MINIMAL, REPO, plan_of

DOCKERFILE = REPO / "worker_image" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def test_runs_the_wove_worker_as_its_command_and_has_no_entrypoint() -> None:
    stage = final_stage()
    assert [args for k, args in stage if k == "CMD"] == ['["python", "-m", "wove_batch.worker"]']
    assert [k for k, _ in instructions() if k == "ENTRYPOINT"] == []


def test_final_stage_runs_as_a_non_root_user() -> None:
    users = [args for k, args in final_stage() if k == "USER"]
    assert users == ["10001"]
    assert any(k == "RUN" and "useradd" in args and "--uid 10001" in args for k, args in final_stage())


def test_python_version_is_a_build_arg_the_component_sets() -> None:
    steps = instructions()
    assert steps[0] == ("ARG", "PYTHON_VERSION=3.11")
    assert steps[1] == ("ARG", "BASE_IMAGE=python:${PYTHON_VERSION}-slim")
    assert [args for k, args in steps if k == "FROM"] == ["${BASE_IMAGE} AS build", "${BASE_IMAGE}"]
    build = plan_of({**MINIMAL, "image": {"python_version": "3.12"}}).named("wove-test-worker-x86_64").inputs["build"]
    assert build["args"] == {"PYTHON_VERSION": "3.12"}
    assert build["dockerfile"] == "worker_image/Dockerfile"


def test_final_stage_has_no_build_tools_or_pip_cache() -> None:
    stage_text = " ".join(args for _, args in final_stage())
    for tool in ("apt-get", "gcc", "build-essential", "pip install"):
        assert tool not in stage_text
    assert ("COPY", "--from=build /opt/venv /opt/venv") in final_stage()


def test_build_context_is_the_project_with_only_the_package_and_worker_image_let_in() -> None:
    patterns = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert patterns[0] == "*"  # everything out (.git, .venv, tests, benchmarks) ...
    assert [p for p in patterns if p.startswith("!")] == ["!pyproject.toml", "!components/", "!worker_image/"]  # ... but these
    assert "**/__pycache__" in patterns
    copied = [args for k, args in instructions() if k == "COPY" and "--from" not in args]
    assert copied == [
        "pyproject.toml /src/wove-batch/",
        "components/ /src/wove-batch/components/",
        "worker_image/app/requirements.txt /tmp/app-requirements.txt",
        "worker_image/app/ /opt/app/",
    ]
    assert ("RUN", "pip install --no-cache-dir /src/wove-batch") in instructions()


def test_image_and_application_pin_the_same_exact_wove_cloudpickle_and_boto3() -> None:
    """Both install the package's own dependencies (pyproject.toml), pinned exactly, and these
    are the versions this process runs with."""
    import importlib.metadata as metadata
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = dict(requirement.split("==") for requirement in project["dependencies"])
    assert pins == {
        "wove[dispatch]": metadata.version("wove"),
        "cloudpickle": metadata.version("cloudpickle"),
        "boto3": metadata.version("boto3"),
    }
    assert metadata.requires("wove-batch")[:3] == project["dependencies"]


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "")


# --- the worker process, from a virtualenv built as the image builds it --------------------


async def run_worker(
    venv: Path, app: Path, payload_of: Optional[Callable[[str], str]], frames_expected: int,
    module: str = "wove_batch.worker",
) -> tuple[int, str, list[dict]]:
    """Start Wove's own callback server, run `python -m wove_batch.worker` (the image's
    command) from the venv as the image would (its bin/ first on PATH, the app on PYTHONPATH),
    with the payload made for the server's URL, and return the exit code, stderr and the
    frames posted."""
    from wove.backend import BackendCallbackServer

    server = BackendCallbackServer(host="127.0.0.1", port=0)
    await server.start()
    try:
        assert server.callback_url is not None
        env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(app)}
        if payload_of is not None:
            env["WOVE_BACKEND_PAYLOAD"] = payload_of(server.callback_url)
        process = await asyncio.create_subprocess_exec(
            "python", "-m", module, env=env, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
        frames = [await asyncio.wait_for(server.recv(), 5) for _ in range(frames_expected)]
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(server.recv(), 0.3)  # and nothing more
        return process.returncode or 0, stderr.decode(), frames
    finally:
        await server.stop()


def payload_for(function: Any, args: dict[str, Any], run_id: str = "task:1") -> Callable[[str], str]:
    """A real Wove payload (cloudpickled callable and args) for a given callback URL."""
    from wove.backend import build_backend_payload, payload_to_b64

    def make(callback_url: str) -> str:
        frame = {"run_id": run_id, "task_id": run_id.split(":")[0], "callable": function, "args": args}
        return payload_to_b64(build_backend_payload(frame, callback_url=callback_url, adapter="aws_batch"))

    return make


# The image's worker runs an inline payload exactly as Wove's own worker does.
WORKERS = pytest.mark.parametrize("module", ["wove_batch.worker", "wove.backend_worker"])


@WORKERS
def test_worker_runs_a_real_wove_payload_and_posts_the_result(worker_venv: Path, app_dir: Path, module: str) -> None:
    import wove_demo_tasks

    code, stderr, frames = asyncio.run(
        run_worker(worker_venv, app_dir, payload_for(wove_demo_tasks.square, {"x": 12}, "square:1"), 2, module)
    )
    assert (code, stderr) == (0, "")
    assert frames == [
        {"type": "task_started", "run_id": "square:1", "task_id": "square"},
        {"type": "task_result", "run_id": "square:1", "task_id": "square", "result": 144},
    ]


def test_worker_without_payload_exits_non_zero_with_a_clear_message(worker_venv: Path, app_dir: Path) -> None:
    code, stderr, frames = asyncio.run(run_worker(worker_venv, app_dir, None, 0))
    assert (code, stderr, frames) == (
        1,
        "Missing dispatch payload. Pass it as argv[1] or WOVE_BACKEND_PAYLOAD "
        "(or its exchange-bucket location as WOVE_BATCH_PAYLOAD_URI or WOVE_BATCH_PAYLOAD_PACK_URI).\n",
        [],
    )


@WORKERS
def test_task_that_raises_delivers_the_error_to_the_callback(worker_venv: Path, app_dir: Path, module: str) -> None:
    import wove_demo_tasks

    code, stderr, frames = asyncio.run(
        run_worker(worker_venv, app_dir, payload_for(wove_demo_tasks.explode, {"message": "disk full"}), 2, module)
    )
    assert (code, stderr) == (0, "")  # the task failed; the worker did its job: the error reached Wove
    assert [f["type"] for f in frames] == ["task_started", "task_error"]
    error = frames[1]["exception"]
    assert isinstance(error, ValueError) and str(error) == "disk full"


@WORKERS
def test_unreachable_callback_exits_non_zero_so_batch_retries(worker_venv: Path, app_dir: Path, module: str) -> None:
    import wove_demo_tasks

    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    make = payload_for(wove_demo_tasks.square, {"x": 2})
    env = {
        "PATH": f"{worker_venv / 'bin'}:/usr/bin:/bin",
        "PYTHONPATH": str(app_dir),
        "WOVE_BACKEND_PAYLOAD": make(f"http://127.0.0.1:{port}/wove/events/t"),
    }
    result = subprocess.run(["python", "-m", module], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Connection refused" in result.stderr
