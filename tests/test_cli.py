"""`python -m wove_batch check|plan`, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import MINIMAL, REPO, physical


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wove_batch", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def write_stack(tmp_path: Path, cluster: object, stack: str = "ci", **extra: object) -> Path:
    path = tmp_path / f"Pulumi.{stack}.yaml"
    config = {"aws:region": "us-west-2", "wove-batch:cluster": cluster, **extra}
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def test_check_accepts_the_dev_stack() -> None:
    result = run_cli("check", "Pulumi.dev.yaml")
    assert (result.returncode, result.stdout, result.stderr) == (0, "Pulumi.dev.yaml: valid\n", "")


def test_check_prints_every_error_path_first_and_exits_1(tmp_path: Path) -> None:
    cluster = {**MINIMAL, "job_definitions": {"worker": {"vcpus": "lots", "timeout_seconds": 5}}}
    path = write_stack(tmp_path, cluster)
    result = run_cli("check", str(path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "job_definitions.worker.vcpus: expected a number, got 'lots'",
        "job_definitions.worker.timeout_seconds: must be at least 60, got 5",
    ]
    assert "Traceback" not in result.stderr


def test_check_reports_missing_region_and_cluster(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.empty.yaml"
    path.write_text("config: {}\n")
    result = run_cli("check", str(path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "aws:region: required: the region to deploy to (pulumi config set aws:region ...)",
        "wove-batch:cluster: required: the cluster spec",
    ]


def test_check_exits_2_on_unreadable_or_unparsable_files(tmp_path: Path) -> None:
    missing = run_cli("check", str(tmp_path / "Pulumi.nope.yaml"))
    assert missing.returncode == 2
    assert missing.stderr == f"error: {tmp_path / 'Pulumi.nope.yaml'}: cannot read: No such file or directory\n"
    broken = tmp_path / "Pulumi.bad.yaml"
    broken.write_text("config: [unclosed\n")
    result = run_cli("check", str(broken))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {broken}: not valid YAML: ")
    assert "Traceback" not in result.stderr
    wrong_name = tmp_path / "stack.yaml"
    wrong_name.write_text("config: {}\n")
    result = run_cli("check", str(wrong_name))
    assert (result.returncode, result.stderr) == (2, f"error: {wrong_name}: expected a stack file named Pulumi.<stack>.yaml\n")


def copy_project(folder: Path) -> None:
    """The files a stack's project needs beside its stack file: the program and what the
    image is built from (check looks for image.context and image.dockerfile there)."""
    for name in ("Pulumi.yaml", "__main__.py", "worker_image/Dockerfile"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text((REPO / name).read_text())


def test_plan_json_lists_resources_and_outputs_of_the_real_program(tmp_path: Path) -> None:
    path = write_stack(tmp_path, MINIMAL, **{"wove-batch:name": "plan-test"})
    copy_project(tmp_path)
    result = run_cli("plan", str(path), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"resources", "outputs"}
    names = [(r["type"], r["name"], r["parent"]) for r in document["resources"]]
    assert names[0] == ("wove-batch:index:WoveBatchCluster", "plan-test", None)
    assert ("aws:batch/jobQueue:JobQueue", "plan-test-queue-main", "plan-test") in names
    assert len(names) == 24
    for resource in document["resources"]:
        assert set(resource) == {"type", "name", "parent", "inputs"}
    queue = next(r for r in document["resources"] if r["name"] == "plan-test-queue-main")
    assert queue["inputs"]["priority"] == 1
    outputs = document["outputs"]
    assert outputs["job_queues"] == {"main": physical("plan-test-queue-main")}
    assert outputs["region"] == "us-west-2"
    assert outputs["wove_environments"]["main"]["executor_config"]["job_queue"] == physical("plan-test-queue-main")


def test_plan_hides_secret_outputs_unless_asked() -> None:
    hidden = json.loads(run_cli("plan", "Pulumi.dev.yaml", "--json").stdout)
    assert hidden["outputs"]["wove_environments"] == "[secret]"
    shown = json.loads(run_cli("plan", "Pulumi.dev.yaml", "--json", "--show-secrets").stdout)
    token = shown["outputs"]["wove_environments"]["batch"]["executor_config"]["callback_token"]
    assert len(token) == 32


def test_plan_tree_shows_types_names_and_key_inputs() -> None:
    result = run_cli("plan", "Pulumi.dev.yaml")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "30 resources for stack dev of wove-batch:"
    assert lines[1] == "└─ wove-batch:index:WoveBatchCluster  wove-dev"
    assert (
        '   ├─ aws:batch/jobQueue:JobQueue  wove-dev-queue-bulk  (priority=1, state="ENABLED", '
        f'computeEnvironmentOrders=["{physical("wove-dev-ce-spot")}", "{physical("wove-dev-ce-on-demand")}"])'
    ) in lines
    assert "  wove_environments: \"[secret]\"" in lines


def test_plan_refuses_an_invalid_stack_with_the_check_errors(tmp_path: Path) -> None:
    path = write_stack(tmp_path, {**MINIMAL, "job_queues": {"main": {"compute_environments": ["gpu"]}}})
    result = run_cli("plan", str(path))
    assert result.returncode == 1
    assert result.stderr == "job_queues.main.compute_environments[0]: no compute environment named 'gpu'; defined: cpu\n"


def test_plan_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """`python -m wove_batch plan … | head -3`: no BrokenPipeError traceback. The plan is made
    larger than a pipe holds, so the writer is still writing when the reader goes away."""
    queues = {f"q{i}": {"compute_environments": ["cpu"]} for i in range(40)}
    path = write_stack(tmp_path, {**MINIMAL, "job_queues": queues})
    copy_project(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "wove_batch", "plan", str(path), "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()  # the reader goes away
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0
    assert first.decode() == "{\n"
    assert stderr == ""


BOMB = "".join(
    f"    {name}: &{name} [{', '.join([f'*{previous}'] * 9) if previous else ', '.join(['lol'] * 9)}]\n"
    for previous, name in zip([""] + list("abcdefgh"), "abcdefghi")
)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("config:\n  aws:region: us-east-1\n  unused:\n" + BOMB,
         "expands to over 100000 values through YAML aliases; not a stack file"),
        ("config:\n  x: &x [*x]\n", "expands to over 100000 values through YAML aliases; not a stack file"),
        ("config: " + "[" * 20000 + "]" * 20000 + "\n", "nested too deeply to be a stack file"),
        (b"config:\n  aws:region: \"\xff\"\n", "not UTF-8 text (byte 0xff at offset 23)"),
        ("config:\n  tag: " + "x" * (1024 * 1024) + "\n", f"{1024 * 1024 + 16} bytes; a stack file takes at most 1048576"),
    ],
    ids=["alias bomb", "recursive alias", "deep nesting", "not utf-8", "huge file"],
)
def test_hostile_stack_files_end_fast_with_one_clear_line(tmp_path: Path, content: str | bytes, message: str) -> None:
    """The child runs under hard limits (200 MB of address space, 2 s of CPU): a runaway would
    die with MemoryError or SIGXCPU instead of printing the one expected line."""
    import resource

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (200 * 1000 * 1000,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (2, 2))

    path = tmp_path / "Pulumi.hostile.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = subprocess.run([sys.executable, "-m", "wove_batch", "check", str(path)],
                            capture_output=True, text=True, cwd=REPO, preexec_fn=limits, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"error: {path}: {message}\n")


def test_a_stack_file_that_is_a_device_and_a_name_that_is_a_number_are_reported(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.zero.yaml").symlink_to("/dev/zero")
    result = run_cli("check", str(tmp_path / "Pulumi.zero.yaml"))
    assert (result.returncode, result.stderr) == (2, f"error: {tmp_path / 'Pulumi.zero.yaml'}: not a regular file\n")
    path = write_stack(tmp_path, MINIMAL, **{"wove-batch:name": 42})
    result = run_cli("check", str(path))
    assert (result.returncode, result.stdout) == (1, "wove-batch:name: expected a string, got 42\n")


def test_plan_of_a_stack_file_without_its_program_says_so(tmp_path: Path) -> None:
    path = write_stack(tmp_path, MINIMAL)
    result = run_cli("plan", str(path))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (f"error: {path}: no __main__.py beside it; plan runs the stack's program, which lives "
                             "next to its Pulumi.yaml and stack files\n")


# --- issue 23: no traceback, whatever the directory, the output or the install ----------------------
CONSOLE_SCRIPT = Path(sys.executable).parent / "wove-batch"


def test_plan_from_another_directory_runs_the_program_in_its_project(tmp_path: Path) -> None:
    """As `pulumi up` does: the image's context and Dockerfile are the project's, not the caller's."""
    result = run_cli("plan", str(REPO / "Pulumi.dev.yaml"), cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[0] == "30 resources for stack dev of wove-batch:"


def test_plan_of_a_stack_without_wove_batch_keys_reports_the_programs_error(tmp_path: Path) -> None:
    copy_project(tmp_path)
    path = tmp_path / "Pulumi.bare.yaml"
    path.write_text("config:\n  aws:region: us-west-2\n")
    result = run_cli("plan", str(path))
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "wove-batch:cluster: expected a mapping, got None\n")


def test_plan_into_a_full_disk_says_so_in_one_line() -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "wove_batch", "plan", "Pulumi.dev.yaml"], cwd=REPO, stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=120,
                                env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert (result.returncode, result.stderr) == (2, "error: cannot write the output: No space left on device\n")


def test_the_console_script_into_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """`wove-batch plan … | head -1`: the console script calls cli.main directly (not
    `python -m wove_batch`), so main itself must end quietly."""
    assert CONSOLE_SCRIPT.is_file()
    queues = {f"q{i}": {"compute_environments": ["cpu"]} for i in range(40)}
    path = write_stack(tmp_path, {**MINIMAL, "job_queues": queues})
    copy_project(tmp_path)
    process = subprocess.Popen([str(CONSOLE_SCRIPT), "plan", str(path), "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=REPO)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0
    assert (first.decode(), stderr) == ("{\n", "")


@pytest.mark.parametrize("command", ["check", "plan"])
def test_without_the_pulumi_extra_the_cli_says_what_to_install(command: str) -> None:
    """An application's install has wove-batch without `[pulumi]`: no PyYAML, no Pulumi."""
    code = ("import sys\n"
            "for name in ('yaml', 'pulumi', 'pulumi_aws', 'pulumi_docker', 'pulumi_random'):\n"
            "    sys.modules[name] = None  # import fails with ModuleNotFoundError, as when not installed\n"
            "from wove_batch.tools.cli import main\n"
            f"sys.exit(main([{command!r}, 'Pulumi.dev.yaml']))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", f"error: wove-batch {command} needs the pulumi extra, not installed here (no module 'yaml'): "
               "pip install 'wove-batch[pulumi]'\n")


def test_an_image_context_above_the_project_is_refused_before_plan_reads_it(tmp_path: Path) -> None:
    project = tmp_path / "deep" / "project"
    project.mkdir(parents=True)
    copy_project(project)
    path = write_stack(project, {**MINIMAL, "image": {"python_version": "3.11", "context": "../.."}})
    message = "image.context: must be a path inside the project, relative to it, got '../..'\n"
    check = run_cli("check", str(path))
    assert (check.returncode, check.stdout, check.stderr) == (1, message, "")
    plan = run_cli("plan", str(path))
    assert (plan.returncode, plan.stdout, plan.stderr) == (1, "", message)
