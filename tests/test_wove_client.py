"""The application-side helper, apart from the emulator: names, outputs, imports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wove_batch.client import batch_job_name, wove_environments
from conftest import REPO

VALID = re.compile(r"[A-Za-z0-9_-]{1,128}")


@given(st.text(max_size=300))
def test_every_name_becomes_one_batch_accepts(name: str) -> None:
    assert VALID.fullmatch(batch_job_name(name))
    assert batch_job_name(name) == batch_job_name(name)


@given(st.text(alphabet="abcdefghij_:.", min_size=1, max_size=200))
def test_names_of_different_runs_stay_different(task: str) -> None:
    first, second = (f"wove-{task}:{uuid.uuid4().hex}" for _ in range(2))
    assert batch_job_name(first) != batch_job_name(second)


def test_wove_run_ids_keep_their_shape() -> None:
    assert batch_job_name("wove-squares:3f9a0c") == "wove-squares-3f9a0c"
    long = "wove-" + "t" * 200 + ":" + "a" * 32
    assert len(batch_job_name(long)) == 128 and batch_job_name(long).startswith("wove-ttt")


def test_outputs_are_read_from_a_file_and_get_a_client_each(tmp_path: Path) -> None:
    outputs = {
        "region": "eu-west-1",
        "wove_environments": {
            "batch": {"executor": "aws_batch", "executor_config": {"job_queue": "q", "job_definition": "d",
                                                                   "client_options": {"region_name": "eu-west-1"}}},
        },
    }
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    made: list[dict] = []
    envs = wove_environments(path, client_factory=lambda **options: made.append(options) or object())
    assert made == [{"region_name": "eu-west-1"}]
    config = envs["batch"]["executor_config"]
    assert {k: v for k, v in config.items() if k != "client"} == outputs["wove_environments"]["batch"]["executor_config"]
    assert type(config["client"]).__name__ == "WatchedBatchClient"
    assert envs["batch"]["executor"] == "aws_batch"


def test_outputs_without_secrets_shown_are_refused_clearly() -> None:
    with pytest.raises(TypeError, match=r"^'wove_environments' is not a mapping: export it with --show-secrets"):
        wove_environments({"wove_environments": "[secret]"}, client_factory=lambda **_: None)
    with pytest.raises(KeyError, match="the stack outputs have no 'wove_environments'"):
        wove_environments({"region": "x"}, client_factory=lambda **_: None)


def test_an_application_imports_the_helper_without_pulumi() -> None:
    code = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pulumi', 'pulumi_aws', 'pulumi_docker', 'pulumi_random', 'yaml'):\n"
        "            raise ImportError('not installed: ' + name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from wove_batch.client import wove_environments\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")
