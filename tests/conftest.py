"""Shared helpers: run the real stack program on Pulumi's mocks engine for a given config."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent


from wove_batch.tools.plan import MOCK_ACCOUNT, Plan, mock_suffix, run_stack  # noqa: E402
from wove_batch.tools.stack_config import StackFile, load_stack_file  # noqa: E402

REGION = "eu-west-1"
ACCOUNT = MOCK_ACCOUNT

# The smallest useful cluster: one EC2 environment, one queue, one job definition.
MINIMAL: dict[str, Any] = {
    "image": {"python_version": "3.11"},
    "compute_environments": {"cpu": {"type": "EC2", "instance_types": ["m6i.large"], "max_vcpus": 16}},
    "job_queues": {"main": {"compute_environments": ["cpu"]}},
    "job_definitions": {"worker": {"vcpus": 1, "memory": 2048}},
}


def physical(logical: str) -> str:
    """The auto-name the mocks give a resource with this logical name."""
    return f"{logical}-{mock_suffix(logical)}"


def definition_name(logical: str, stack: str = "test", project: str = "wove-batch") -> str:
    """A job definition's physical name: never an auto-name (issue 22, item 7), a fixed digest of
    project, stack and logical name, so that a replacement keeps it."""
    import hashlib

    return f"{logical}-{hashlib.sha256(f'{project}/{stack}/{logical}'.encode()).hexdigest()[:7]}"


def make_stack(cluster: dict[str, Any], *, stack: str = "test", name: str | None = None, region: str = REGION) -> StackFile:
    config: dict[str, Any] = {"aws:region": region, "wove-batch:cluster": copy.deepcopy(cluster)}
    if name is not None:
        config["wove-batch:name"] = name
    return StackFile(REPO / f"Pulumi.{stack}.yaml", REPO, "wove-batch", stack, config)


def plan_of(cluster: dict[str, Any], **kwargs: Any) -> Plan:
    return run_stack(make_stack(cluster, **kwargs))


@pytest.fixture
def dev_plan() -> Plan:
    return run_stack(load_stack_file(REPO / "Pulumi.dev.yaml"))


@pytest.fixture(scope="session")
def worker_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv built the way the Dockerfile builds the image's: `python -m venv`,
    then this package from its source (no Pulumi). Its bin/ goes first on PATH for worker
    processes."""
    import subprocess

    venv = tmp_path_factory.mktemp("worker") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
         str(REPO)],
        check=True,
    )
    return venv


@pytest.fixture
def app_dir(tmp_path: Path) -> Iterator[Path]:
    """An application folder as the image's /opt/app: a module of Wove tasks on PYTHONPATH,
    importable both here (the submitting side) and in the worker."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "wove_demo_tasks.py").write_text(
        "import os, time\n\n\n"
        "def square(x):\n    return x * x\n\n\n"
        "def explode(message):\n    raise ValueError(message)\n\n\n"
        "def die(code):\n    os._exit(code)\n\n\n"
        "def whoami():\n    return {'uid': os.getuid(), 'job': os.environ.get('AWS_BATCH_JOB_ID')}\n\n\n"
        "def fill_shm(mib):\n"
        "    with open('/dev/shm/wove-fill', 'wb') as f:\n"
        "        for _ in range(mib):\n            f.write(b'x' * 1048576)\n"
        "    size = os.path.getsize('/dev/shm/wove-fill')\n    os.remove('/dev/shm/wove-fill')\n    return size\n"
    )
    sys.path.insert(0, str(app))
    sys.modules.pop("wove_demo_tasks", None)
    yield app
    sys.path.remove(str(app))
    sys.modules.pop("wove_demo_tasks", None)


# Measurements the container tests report at the end of the run (image size, timings).
MEASUREMENTS: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASUREMENTS:
        terminalreporter.section("worker image measurements")
        for key, value in MEASUREMENTS.items():
            terminalreporter.write_line(f"{key}: {value}")


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    """A private dockerd for the session; skipped, with the reason, where it cannot run."""
    from docker_engine import DockerEngine, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"no Docker engine: {reason}")
    engine = DockerEngine()
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()
        changed = engine.changed_state()
        assert changed == {}, f"the Docker engine left the machine changed: {changed}"


@pytest.fixture(scope="session")
def worker_image(docker_engine: Any) -> str:
    """The worker image, built from the project's own build context for the host architecture."""
    built = docker_engine.build_worker(REPO, REPO / "worker_image" / "Dockerfile", "wove-batch-worker:test", "3.11")
    MEASUREMENTS["worker image size"] = f"{built.size_bytes / 1e6:.1f} MB ({built.size_bytes} bytes)"
    MEASUREMENTS["worker image build"] = f"{built.build_seconds:.1f} s"
    return built.tag
