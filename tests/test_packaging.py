"""The package as users install it: a wheel, into fresh virtualenvs.

- an application: `pip install wove-batch` (no Pulumi) imports the helper, runs it on stack
  outputs and has the worker command;
- a Pulumi program outside this project: `pip install "wove-batch[pulumi]"` plans a cluster
  it declares in its own code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO


def run(*command: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"{command} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(folder), str(REPO))
    (built,) = folder.glob("wove_batch-*.whl")
    return built


def fresh_venv(folder: Path, requirement: str) -> Path:
    run(sys.executable, "-m", "venv", str(folder))
    run(str(folder / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", requirement)
    return folder / "bin" / "python"


def test_the_wheel_holds_wove_batch_and_nothing_that_could_collide(wheel: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"wove_batch"}
    assert "wove_batch/worker/__main__.py" in names and "wove_batch/client/environments.py" in names
    metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Name: wove-batch\n" in text and "Version: 0.2.0\n" in text
    assert "Requires-Dist: pulumi<4,>=3.272.0; extra == \"pulumi\"" in text


def test_an_application_installs_the_helper_and_the_worker_without_pulumi(wheel: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "app-venv", str(wheel))
    outputs = {
        "wove_environments": {
            "batch": {
                "executor": "aws_batch",
                "executor_config": {"job_queue": "q", "job_definition": "d", "client_options": {"region_name": "eu-west-1"}},
                "wove_batch": {"results": "exchange", "exchange_bucket": "bucket", "region": "eu-west-1"},
            }
        }
    }
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    # An application with its own `components` package: no collision.
    (tmp_path / "components").mkdir()
    (tmp_path / "components" / "__init__.py").write_text("MINE = True\n")
    script = (
        "import importlib.util, wove, components\n"
        "from wove_batch.client import wove_environments, close_environments\n"
        "assert importlib.util.find_spec('pulumi') is None and components.MINE\n"
        "envs = wove_environments('outputs.json', client_factory=lambda **o: object(), s3_factory=lambda **o: object())\n"
        "wove.config(environments=envs)\n"
        "client = envs['batch']['executor_config']['client']\n"
        "print(type(client).__name__, client.results, client.exchange.bucket)\n"
        "close_environments(envs)\n"
    )
    result = run(str(python), "-c", script, cwd=tmp_path)
    assert result.stdout == "WatchedBatchClient exchange bucket\n"
    worker = run(str(python), "-m", "wove_batch.worker", cwd=tmp_path, check=False)
    assert (worker.returncode, worker.stderr) == (1, (
        "Missing dispatch payload. Pass it as argv[1] or WOVE_BACKEND_PAYLOAD "
        "(or its exchange-bucket location as WOVE_BATCH_PAYLOAD_URI or WOVE_BATCH_PAYLOAD_PACK_URI).\n"))
    pins = run(str(python), "-c", "import importlib.metadata as m; print(m.version('wove'), m.version('cloudpickle'), m.version('boto3'))")
    import importlib.metadata as metadata

    assert pins.stdout.split() == [metadata.version("wove"), metadata.version("cloudpickle"), metadata.version("boto3")]


def test_a_pulumi_program_outside_the_project_plans_a_cluster_with_the_installed_component(wheel: Path, tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "pulumi-venv", f"wove-batch[pulumi] @ {wheel.as_uri()}")
    program = tmp_path / "analytics"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: analytics\nruntime: python\n")
    (program / "Pulumi.prod.yaml").write_text("config:\n  aws:region: eu-central-1\n")
    (program / "__main__.py").write_text(
        "import pulumi\n"
        "from wove_batch import WoveBatchCluster, WoveBatchClusterArgs, ComputeEnvironmentArgs, JobQueueArgs, JobDefinitionArgs\n"
        "from wove_batch.spec import ImageArgs\n"
        "cluster = WoveBatchCluster('analytics', WoveBatchClusterArgs(\n"
        "    image=ImageArgs(uri='123456789012.dkr.ecr.eu-central-1.amazonaws.com/worker:1.0'),\n"
        "    compute_environments={'cpu': ComputeEnvironmentArgs(type='EC2', instance_types=('m6i.large',), max_vcpus=8)},\n"
        "    job_queues={'main': JobQueueArgs(compute_environments=('cpu',))},\n"
        "    job_definitions={'worker': JobDefinitionArgs()},\n"
        "))\n"
        "pulumi.export('wove_environments', cluster.wove_environments)\n"
    )
    result = run(str(python), "-m", "wove_batch", "plan", "Pulumi.prod.yaml", "--json", cwd=program)
    document = json.loads(result.stdout)
    names = {(r["type"], r["name"]) for r in document["resources"]}
    assert ("wove-batch:index:WoveBatchCluster", "analytics") in names
    assert ("aws:batch/jobQueue:JobQueue", "analytics-queue-main") in names
    assert document["outputs"]["wove_environments"]["main"]["executor_config"]["client_options"] == {"region_name": "eu-central-1"}
