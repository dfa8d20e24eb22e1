"""What the application-side helper is told, checked before anything starts: its own settings
(`wove_environments(poll_seconds=..., ...)`, one dataclass holding their defaults) and the
shape of the stack outputs it reads. Every problem is reported at once in one ValueError,
each naming its setting or its path in the outputs, with the value bounded by `describe()`.

Bounds, and why: polling more often than 20 times a second (poll_seconds 0 made a million
DescribeJobs calls in 4 s) only buys throttling; polling less often than hourly leaves a
failed job's task waiting that long. A submit rate under 0.1 a second (one SubmitJob every
10 s) is a stall, not pacing; above AWS's 50 a second it only throttles, but stand-ins and
raised quotas take more, so it has no upper bound. An array window past 5 s delays every
first task by that much. At most 256 submit threads and 20 attempts a call. Whole numbers
for counts; finite numbers everywhere (NaN compares false with every bound, inf never ends
a wait).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

from ..errors import WoveBatchError
from ..spec import describe
from .submitting import SubmitSettings

RESULTS_MODES = ("callback", "exchange")
# Settings of ours in each `wove_environments` entry; Wove ignores the key.
SETTINGS_KEY = "wove_batch"


class HelperSettingsError(WoveBatchError, ValueError, TypeError, KeyError):
    """The helper's settings or the stack outputs it were given are unusable; lists every
    problem. Also a TypeError and a KeyError: what the helper raised for bad outputs before."""

    SHOWN = 20  # problems in the message; a hostile document may have a million

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(str(self))

    def __str__(self) -> str:  # KeyError's would quote the message
        more = len(self.problems) - self.SHOWN
        return "; ".join(self.problems[: self.SHOWN]) + (f"; and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class HelperSettings:
    """The helper's settings with their defaults and bounds (min, max), checked together."""

    poll_seconds: float = 2.0
    results_poll_seconds: float = 1.0
    submit_rate: float = SubmitSettings.rate
    submit_concurrency: int = SubmitSettings.concurrency
    submit_max_attempts: Optional[int] = SubmitSettings.max_attempts
    submit_retry_seconds: float = SubmitSettings.retry_seconds
    array_jobs: Optional[bool] = None
    array_window_seconds: float = 0.1
    pickle_by_value: tuple[str, ...] = ()
    result_grace_seconds: float = 5.0
    stall_log_seconds: float = 60.0
    runnable_timeout_seconds: Optional[float] = None
    unknown_after_seconds: float = 30.0
    progress: Optional[bool] = None
    exit_sweep_jobs: bool = True

    BOUNDS = {
        "poll_seconds": (0.05, 3600.0),
        "results_poll_seconds": (0.05, 3600.0),
        "submit_rate": (0.1, math.inf),
        "submit_concurrency": (1, 256),
        "submit_max_attempts": (1, 20),
        "submit_retry_seconds": (0.0, 86400.0),
        "array_window_seconds": (0.0, 5.0),
        "result_grace_seconds": (0.0, 3600.0),
        "stall_log_seconds": (0.0, 86400.0),
        "runnable_timeout_seconds": (1.0, 604800.0),
        "unknown_after_seconds": (1.0, 3600.0),
    }
    # Settings whose None means "off" or "no count" rather than a number.
    OPTIONAL = ("submit_max_attempts", "runnable_timeout_seconds")
    FLAGS = {"array_jobs": True, "progress": True, "exit_sweep_jobs": False}  # flag -> may it be None

    def __post_init__(self) -> None:
        problems = [problem for f in dataclasses.fields(self) if (problem := self._problem(f.name)) is not None]
        if problems:
            raise HelperSettingsError(problems)

    def _problem(self, name: str) -> Optional[str]:
        value = getattr(self, name)
        if name in self.FLAGS:
            ok = isinstance(value, bool) or (value is None and self.FLAGS[name])
            expected = "true, false or None" if self.FLAGS[name] else "true or false"
            return None if ok else f"{name}: expected {expected}, got {describe(value)}"
        if name == "pickle_by_value":
            ok = isinstance(value, tuple) and all(isinstance(item, str) and item for item in value)
            return None if ok else f"pickle_by_value: expected module names, got {describe(value)}"
        if value is None and name in self.OPTIONAL:
            return None
        low, high = self.BOUNDS[name]
        whole = isinstance(low, int)
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            return f"{name}: expected {'a whole number' if whole else 'a number'}, got {describe(value)}"
        if not math.isfinite(value):
            return f"{name}: expected a finite number, got {describe(value)}"
        if not low <= value <= high:
            bound = f"at least {low}" if high == math.inf else f"within {low}..{high}"
            return f"{name}: must be {bound}, got {describe(value)}"
        return None

    def submit_settings(self) -> SubmitSettings:
        return SubmitSettings(rate=self.submit_rate, concurrency=self.submit_concurrency,
                              max_attempts=self.submit_max_attempts, retry_seconds=self.submit_retry_seconds)


def make_settings(**values: Any) -> HelperSettings:
    """HelperSettings from the helper's keyword arguments (an iterable of module names becomes a tuple)."""
    modules = values.get("pickle_by_value", ())
    if not isinstance(modules, (str, bytes)) and isinstance(modules, Iterable):
        values["pickle_by_value"] = tuple(modules)
    return HelperSettings(**values)


@dataclass(frozen=True)
class EnvironmentEntry:
    """One `wove_environments` entry of the outputs, checked: what Wove gets and what we use."""

    name: str
    entry: Mapping[str, Any]
    executor_config: Mapping[str, Any]
    client_options: Mapping[str, Any]
    results: str
    array_jobs: bool
    exchange_bucket: Optional[str]
    region: Optional[str]


def read_outputs(outputs: Union[Mapping[str, Any], str, Path]) -> tuple[Mapping[str, Any], str]:
    """The outputs document and what to call it in errors: a mapping; a path to
    `pulumi stack output --json --show-secrets` (or to `plan --json --show-secrets`, whose
    outputs sit under "outputs"); or that JSON text itself."""
    source = ""
    if isinstance(outputs, (str, Path)):
        text = outputs if isinstance(outputs, str) and outputs.lstrip().startswith("{") else None
        if text is None:
            source = str(outputs)
            try:
                text = Path(outputs).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise HelperSettingsError([f"{source}: cannot read: {getattr(exc, 'strerror', None) or exc}"]) from None
        try:
            outputs = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise HelperSettingsError([f"{source or 'outputs'}: not JSON ({describe(str(exc))})"]) from None
    if not isinstance(outputs, Mapping):
        raise HelperSettingsError([f"{source or 'outputs'}: expected the stack outputs (a JSON object), got "
                                   f"{describe(outputs)}"])
    if "wove_environments" not in outputs and isinstance(outputs.get("outputs"), Mapping):
        return outputs["outputs"], source  # `plan --json`'s document
    return outputs, source


def environment_entries(document: Mapping[str, Any], source: str) -> list[EnvironmentEntry]:
    """Every entry of `wove_environments`, or one HelperSettingsError naming each bad path
    (after `source:`, the file it came from, when it came from one)."""
    prefix = f"{source}: " if source else ""
    if "wove_environments" not in document:
        raise HelperSettingsError([f"{prefix}the stack outputs have no 'wove_environments' (was the stack "
                                   "deployed with wove-batch?)"])
    environments = document["wove_environments"]
    if not isinstance(environments, Mapping):
        raise HelperSettingsError([f"{prefix}'wove_environments' is not a mapping: export it with --show-secrets "
                                   f"(pulumi stack output --json --show-secrets), got {describe(environments)}"])
    problems: list[str] = []
    entries = [_entry(str(name), environment, f"{prefix}wove_environments.{name}", problems)
               for name, environment in environments.items()]
    if problems:
        raise HelperSettingsError(problems)
    return [entry for entry in entries if entry is not None]


def _entry(name: str, environment: Any, path: str, problems: list[str]) -> Optional[EnvironmentEntry]:
    if not isinstance(environment, Mapping):
        problems.append(f"{path}: expected a mapping, got {describe(environment)}")
        return None
    config = environment.get("executor_config")
    if not isinstance(config, Mapping):
        problems.append(f"{path}.executor_config: " + ("required" if config is None else
                                                       f"expected a mapping, got {describe(config)}"))
        return None
    options = config.get("client_options") or {}
    if not isinstance(options, Mapping):
        problems.append(f"{path}.executor_config.client_options: expected a mapping, got {describe(options)}")
        options = {}
    for key, value in options.items():
        if key not in boto3_client_options():
            problems.append(f"{path}.executor_config.client_options.{key}: not an option of boto3.client "
                            f"({', '.join(sorted(boto3_client_options()))})")
        elif not isinstance(value, boto3_client_options()[key]):
            kinds = " or ".join(t.__name__ for t in boto3_client_options()[key] if t is not type(None))
            problems.append(f"{path}.executor_config.client_options.{key}: expected {kinds}, got {describe(value)}")
    settings = environment.get(SETTINGS_KEY) or {}
    if not isinstance(settings, Mapping):
        problems.append(f"{path}.{SETTINGS_KEY}: expected a mapping, got {describe(settings)}")
        settings = {}
    results, array_jobs = settings.get("results", "callback"), settings.get("array_jobs", True)
    bucket, region = settings.get("exchange_bucket"), settings.get("region")
    for key, value, ok, expected in (
        ("results", results, results in RESULTS_MODES, " or ".join(RESULTS_MODES)),
        ("array_jobs", array_jobs, isinstance(array_jobs, bool), "true or false"),
        ("exchange_bucket", bucket, bucket is None or (isinstance(bucket, str) and bucket), "a bucket name"),
        ("region", region, region is None or (isinstance(region, str) and region), "a region name"),
    ):
        if not ok:
            problems.append(f"{path}.{SETTINGS_KEY}.{key}: expected {expected}, got {describe(value)}")
    if results == "exchange" and not bucket:
        problems.append(f"{path}.{SETTINGS_KEY}.exchange_bucket: required with results: exchange")
    return EnvironmentEntry(name, environment, config, options, results, array_jobs, bucket, region)


@functools.lru_cache(maxsize=1)
def boto3_client_options() -> dict[str, tuple[type, ...]]:
    """The keyword arguments boto3.client takes that JSON can carry, with the types they take
    (from boto3's own signature; `config` is an object, so not from JSON)."""
    import inspect

    import boto3.session

    names = [name for name in inspect.signature(boto3.session.Session.client).parameters
             if name not in ("self", "service_name", "config", "aws_account_id")]
    return {name: ((bool, str) if name == "verify" else (bool,) if name == "use_ssl" else (str,)) + (type(None),)
            for name in names}


def check_helper_input(outputs: Union[Mapping[str, Any], str, Path], **settings: Any) -> tuple[HelperSettings, Mapping[str, Any]]:
    """The helper's settings and its outputs document (unwrapped), both checked: one
    HelperSettingsError with every problem of either."""
    problems: list[str] = []
    checked: Optional[HelperSettings] = None
    try:
        checked = make_settings(**settings)
    except HelperSettingsError as exc:
        problems += exc.problems
    document: Mapping[str, Any] = {}
    try:
        document, source = read_outputs(outputs)
        environment_entries(document, source)
    except HelperSettingsError as exc:
        problems += exc.problems
    if problems or checked is None:
        raise HelperSettingsError(problems)
    return checked, document
