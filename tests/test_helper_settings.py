"""The application-side helper refuses bad settings and outputs of the wrong shape with one
clear error naming the setting or the path, before any client, thread or poller starts."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import MINIMAL, REPO, plan_of
from wove_batch.client import HelperSettings, HelperSettingsError, close_environments, wove_environments

OUTPUTS: dict[str, Any] = {
    "region": "eu-west-1",
    "wove_environments": {
        "batch": {"executor": "aws_batch",
                  "executor_config": {"job_queue": "q", "job_definition": "d", "client_options": {"region_name": "eu-west-1"}},
                  "wove_batch": {"results": "exchange", "exchange_bucket": "wove-exchange-0000000", "array_jobs": True}},
    },
}


def refused(outputs: Any = OUTPUTS, **settings: Any) -> str:
    """The helper's error, after checking that it made no client at all."""
    made: list[Any] = []
    with pytest.raises(HelperSettingsError) as caught:
        wove_environments(outputs, client_factory=lambda **o: made.append(o), s3_factory=lambda **o: made.append(o),
                          **settings)
    assert made == []
    return str(caught.value)


def with_entry(**entry: Any) -> dict[str, Any]:
    return {"wove_environments": {"batch": entry}}


@pytest.mark.parametrize(("settings", "message"), [
    ({"poll_seconds": 0}, "poll_seconds: must be within 0.05..3600.0, got 0"),
    ({"poll_seconds": -1.0}, "poll_seconds: must be within 0.05..3600.0, got -1.0"),
    ({"poll_seconds": math.nan}, "poll_seconds: expected a finite number, got nan"),
    ({"poll_seconds": "2"}, "poll_seconds: expected a number, got '2'"),
    ({"results_poll_seconds": 0}, "results_poll_seconds: must be within 0.05..3600.0, got 0"),
    ({"submit_rate": 1e-9}, "submit_rate: must be at least 0.1, got 1e-09"),
    ({"submit_rate": math.inf}, "submit_rate: expected a finite number, got inf"),
    ({"submit_concurrency": 0}, "submit_concurrency: must be within 1..256, got 0"),
    ({"submit_concurrency": 2.5}, "submit_concurrency: expected a whole number, got 2.5"),
    ({"submit_max_attempts": True}, "submit_max_attempts: expected a whole number, got True"),
    ({"array_window_seconds": math.inf}, "array_window_seconds: expected a finite number, got inf"),
    ({"array_window_seconds": 60}, "array_window_seconds: must be within 0.0..5.0, got 60"),
    ({"array_jobs": "false"}, "array_jobs: expected true, false or None, got 'false'"),
    ({"pickle_by_value": [1]}, "pickle_by_value: expected module names, got (1,)"),
], ids=lambda value: str(value) if isinstance(value, dict) else None)
def test_each_bad_setting_is_refused_by_name(settings: dict[str, Any], message: str) -> None:
    assert refused(**settings) == message


def test_every_bad_setting_and_outputs_problem_is_reported_at_once() -> None:
    outputs = with_entry(executor="aws_batch")
    assert refused(outputs, poll_seconds=0, submit_rate=1e-9) == (
        "poll_seconds: must be within 0.05..3600.0, got 0; submit_rate: must be at least 0.1, got 1e-09; "
        "wove_environments.batch.executor_config: required")


def test_the_defaults_are_within_their_bounds() -> None:
    assert HelperSettings().poll_seconds == 2.0
    assert HelperSettings().array_window_seconds == 0.1


@pytest.mark.parametrize(("outputs", "message"), [
    (with_entry(executor="aws_batch"), "wove_environments.batch.executor_config: required"),
    (with_entry(executor_config="q"), "wove_environments.batch.executor_config: expected a mapping, got 'q'"),
    ({"wove_environments": {"batch": "aws_batch"}}, "wove_environments.batch: expected a mapping, got 'aws_batch'"),
    (with_entry(executor_config={"client_options": ["eu-west-1"]}),
     "wove_environments.batch.executor_config.client_options: expected a mapping, got ['eu-west-1']"),
    (with_entry(executor_config={"client_options": {"region_name": 5}}),
     "wove_environments.batch.executor_config.client_options.region_name: expected str, got 5"),
    (with_entry(executor_config={"client_options": {"use_ssl": "no"}}),
     "wove_environments.batch.executor_config.client_options.use_ssl: expected bool, got 'no'"),
    (with_entry(executor_config={}, wove_batch={"results": "bogus"}),
     "wove_environments.batch.wove_batch.results: expected callback or exchange, got 'bogus'"),
    (with_entry(executor_config={}, wove_batch={"array_jobs": "false"}),
     "wove_environments.batch.wove_batch.array_jobs: expected true or false, got 'false'"),
    (with_entry(executor_config={}, wove_batch={"results": "exchange", "exchange_bucket": 42}),
     "wove_environments.batch.wove_batch.exchange_bucket: expected a bucket name, got 42"),
    (with_entry(executor_config={}, wove_batch={"results": "exchange"}),
     "wove_environments.batch.wove_batch.exchange_bucket: required with results: exchange"),
    ('{"wove_environments": ', "outputs: not JSON ('Expecting value: line 1 column 23 (char 22)')"),
], ids=["no executor_config", "executor_config a string", "entry a string", "client_options a list",
        "region_name a number", "use_ssl a string", "results bogus", "array_jobs a string", "bucket a number",
        "exchange without a bucket",
        "broken JSON given as text"])
def test_outputs_of_the_wrong_shape_name_the_path(outputs: Any, message: str) -> None:
    assert refused(outputs) == message


def test_outputs_file_holding_a_json_string_or_no_json(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps("[secret]"))
    assert refused(path) == f"{path}: expected the stack outputs (a JSON object), got '[secret]'"
    path.write_text("{not json")
    assert refused(str(path)) == (f"{path}: not JSON ('Expecting property name enclosed in double quotes: line 1 "
                                  "column 2 (char 1)')")
    assert refused(tmp_path / "missing.json") == f"{tmp_path / 'missing.json'}: cannot read: No such file or directory"
    path.write_text(json.dumps(with_entry(executor="aws_batch")))
    assert refused(path) == f"{path}: wove_environments.batch.executor_config: required"


def test_plan_json_document_is_taken_by_unwrapping_its_outputs(tmp_path: Path) -> None:
    """`python -m wove_batch plan --json --show-secrets` writes {"resources": ..., "outputs": ...}."""
    document = plan_of(MINIMAL).to_json(show_secrets=True)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    made: list[dict[str, Any]] = []
    environments = wove_environments(path, client_factory=lambda **o: made.append(o) or object(),
                                     s3_factory=lambda **o: object())
    try:
        assert set(environments) == {"main"}
        assert made == [document["outputs"]["wove_environments"]["main"]["executor_config"]["client_options"]]
        assert environments["main"]["executor_config"]["job_queue"] == (
            document["outputs"]["wove_environments"]["main"]["executor_config"]["job_queue"])
    finally:
        close_environments(environments)


HOSTILE = r'''
import json, math, sys
from wove_batch.client import HelperSettingsError, wove_environments
huge = "x" * 50_000_000
cases = {
    "nan poll": dict(poll_seconds=math.nan),
    "huge string setting": dict(poll_seconds=huge),
    "huge bucket": dict(outputs={"wove_environments": {"e": {"executor_config": {},
                                                          "wove_batch": {"exchange_bucket": 7, "results": huge}}}}),
    "deep outputs": dict(outputs="{" + '"a":{' * 100_000 + "}" * 100_001),
    "many entries": dict(outputs={"wove_environments": {str(i): {} for i in range(200_000)}}),
}
for name, case in cases.items():
    outputs = case.pop("outputs", {"wove_environments": {}})
    try:
        wove_environments(outputs, client_factory=lambda **_: None, s3_factory=lambda **_: None, **case)
    except HelperSettingsError as exc:
        text = str(exc)
        print(name, len(text), text[:150].replace("\n", " "))
'''


def test_hostile_settings_and_outputs_end_fast_with_a_bounded_message() -> None:
    """Under hard limits (600 MB of address space, 20 s of CPU for all five cases): each ends in
    one HelperSettingsError whose message is bounded by describe(), even for a 50 MB value,
    and 200,000 bad entries show the first 20 problems and a count."""
    import resource

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (600 * 1000 * 1000,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (20, 20))

    result = subprocess.run([sys.executable, "-c", HOSTILE], capture_output=True, text=True, cwd=REPO,
                            preexec_fn=limits, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert [line.split(" ")[0] for line in lines] == ["nan", "huge", "huge", "deep", "many"]
    assert lines[0] == "nan poll 47 poll_seconds: expected a finite number, got nan"
    assert lines[1].startswith("huge string setting 180 poll_seconds: expected a number, got 'xxxx")
    assert lines[2].startswith("huge bucket 297 wove_environments.e.wove_batch.results: expected callback or "
                               "exchange, got 'xxx")
    assert lines[3] == ("deep outputs 105 outputs: not JSON ('maximum recursion depth exceeded while decoding a "
                        "JSON object from a unicode string')")
    assert lines[4].startswith("many entries 965 wove_environments.0.executor_config: required; ")


def test_modules_to_ship_by_value_given_as_a_generator_are_all_shipped() -> None:
    """The settings check reads the iterable once; the helper ships what it read."""
    import cloudpickle

    environments = wove_environments(OUTPUTS, client_factory=lambda **_: object(), s3_factory=lambda **_: object(),
                                     pickle_by_value=(name for name in ["json.decoder"]))
    try:
        assert "json.decoder" in cloudpickle.list_registry_pickle_by_value()
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules["json.decoder"])
        close_environments(environments)
