"""LocalCluster: the planned cluster on this machine, for development, tests and the quick start.

    with LocalCluster("Pulumi.dev.yaml") as cluster:
        wove.config(environments=cluster.wove_environments)

It plans the stack offline (the same mocks as `python -m wove_batch plan`), starts moto's
server, creates the plan's resources in it (deploy.py), and gives the helper
(`wove_batch.client.wove_environments`) the stack's outputs with its boto3 clients pointed at
moto: the exchange bucket is moto's S3, the log group moto's CloudWatch Logs, and each job runs
in the local compute environment (compute.py). The one change to the outputs: callback
environments get a free loopback port each (the stack's callback URL names the submitter as
Batch's subnets reach it; here jobs run on this machine).
"""

from __future__ import annotations

import copy
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from .moto_server import MotoServer, free_port

DEFAULT_IMAGE = "wove-batch-worker:local"  # what the README's `docker build` tags
LOCAL_CALLBACK_HOST = "127.0.0.1"
CALLBACK_KEYS = ("callback_url", "callback_token", "callback_host", "callback_port")


def local_outputs(outputs: Mapping[str, Any], results: Optional[str] = None) -> dict[str, Any]:
    """The stack outputs for a local run: callback URLs on loopback (a free port each), and,
    with `results`, every environment in that results mode."""
    local = copy.deepcopy(dict(outputs))
    for environment in local["wove_environments"].values():
        config, settings = environment["executor_config"], environment["wove_batch"]
        if results is not None:
            settings["results"] = results
        if settings["results"] == "exchange":
            for key in CALLBACK_KEYS:
                config.pop(key, None)
        elif "callback_token" in config:
            port = free_port()
            config.update(callback_host=LOCAL_CALLBACK_HOST, callback_port=port,
                          callback_url=f"http://{LOCAL_CALLBACK_HOST}:{port}/wove/events/{config['callback_token']}")
        else:
            raise ValueError("a callback environment without a callback token: the stack has no `callback` section; "
                             "use results='exchange'")
    return local


class LocalCluster:
    """`results`: override every environment's results mode ("callback" or "exchange").
    `image`: run jobs as this Docker image (default: `wove-batch-worker:local` if a Docker
    engine has it, else processes of this interpreter's worker; False: always processes).
    `docker_env`: the environment of the docker client (DOCKER_HOST), `docker_cli` its path
    (default: `docker` on PATH). `app_dir`: the
    application's task code, on the jobs' PYTHONPATH (mounted at /opt/app in the image).
    `slots`: jobs run at once. `helper_options`: more keywords for `wove_environments`."""

    def __init__(self, stack_file: Union[str, Path], *, results: Optional[str] = None,
                 image: Union[str, bool, None] = None, docker_env: Optional[Mapping[str, str]] = None,
                 docker_cli: Optional[str] = None,
                 app_dir: Optional[Union[str, Path]] = None, slots: int = 8,
                 helper_options: Optional[Mapping[str, Any]] = None) -> None:
        if results not in (None, "callback", "exchange"):
            raise ValueError(f"results: must be 'callback' or 'exchange', not {results!r}")
        self.stack_file = Path(stack_file)
        self.results, self.slots = results, slots
        self.app_dir = Path(app_dir).resolve() if app_dir is not None else None
        self.docker_env = dict(docker_env if docker_env is not None else os.environ)
        self._image, self.docker_cli = image, docker_cli
        self.helper_options = {"poll_seconds": 0.5, "results_poll_seconds": 0.2, **(helper_options or {})}
        self.wove_environments: dict[str, dict[str, Any]] = {}
        self.image: Optional[str] = None  # the image jobs run in, None: processes
        self._folder: Optional[Path] = None
        self._started: list[Any] = []

    def __enter__(self) -> "LocalCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        from ..client import wove_environments
        from ..tools.plan import run_stack
        from ..tools.stack_config import load_stack_file
        from .deploy import deploy

        self.plan = run_stack(load_stack_file(self.stack_file))
        self.region = str(self.plan.outputs["region"])
        self._folder = Path(tempfile.mkdtemp(prefix="wove-batch-local-"))
        self.moto = MotoServer(self._folder / "moto.log", region=self.region)
        self.moto.start()
        self._started.append(self.moto)
        self.moto.hold_jobs()
        self.deployment = deploy(self.plan, self.moto)
        self.compute = self._compute()
        self.outputs = local_outputs(self.plan.outputs, self.results)
        self.wove_environments = wove_environments(
            self.outputs, client_factory=lambda **options: self.batch_client(**options),
            s3_factory=lambda **options: self.moto.client("s3", **options),
            logs_factory=lambda **options: self.moto.client("logs", **options), **self.helper_options)

    def batch_client(self, **options: Any) -> Any:
        """A Batch client of this cluster (what the helper's environments use)."""
        from botocore.config import Config

        from .batch_client import LocalBatchClient

        no_retries = Config(retries={"mode": "standard", "total_max_attempts": 1})
        return LocalBatchClient(self.moto.client("batch", config=no_retries, **options), self.compute)

    def _compute(self) -> Any:
        from .compute import DockerRunner, LocalCompute, ProcessRunner, image_available
        from .credentials import CredentialsEndpoint

        assert self._folder is not None
        credentials = CredentialsEndpoint()
        credentials.start()
        self._started.append(credentials)
        self.image = self._choose_image(image_available)
        if self.image is not None:
            runner: Any = DockerRunner(self.image, self.docker_env, self.app_dir, mounts=(self.moto.certificate.parent,),
                                       cli=self.docker_cli)
        else:
            runner = ProcessRunner(sys.executable, self._folder, self.app_dir)
        endpoint = f"https://localhost:{self.moto.port}"

        def base_env(job: Any, attempt: int) -> dict[str, str]:
            """What Batch's ECS agent adds to a job (its endpoint and CA bundle: moto's)."""
            role = (job.definition.get("containerProperties") or {}).get("jobRoleArn", "job-role")
            env = {"AWS_BATCH_JOB_ATTEMPT": str(attempt), "AWS_BATCH_JQ_NAME": job.job_queue.rsplit("/", 1)[-1],
                   "AWS_BATCH_CE_NAME": job.compute_environment, "AWS_REGION": self.region,
                   "AWS_DEFAULT_REGION": self.region, "AWS_ENDPOINT_URL": endpoint,
                   "AWS_CA_BUNDLE": str(self.moto.certificate), "AWS_EC2_METADATA_DISABLED": "true",
                   "AWS_CONTAINER_CREDENTIALS_FULL_URI": credentials.uri_for(role)}
            if job.array_index is not None:
                env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.array_index)
            if self.image is not None:
                env.update(PATH="/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", PYTHONPATH="/opt/app")
            return env

        compute = LocalCompute(runner, self.moto.client("logs"), base_env, slots=self.slots)
        self._started.append(compute)
        return compute

    def _choose_image(self, image_available: Any) -> Optional[str]:
        if self._image is False:
            return None
        wanted = self._image if isinstance(self._image, str) else os.environ.get("WOVE_BATCH_LOCAL_IMAGE", DEFAULT_IMAGE)
        if image_available(wanted, self.docker_env, self.docker_cli):
            return wanted
        if isinstance(self._image, str):
            raise RuntimeError(f"image: no Docker engine with the image {wanted!r} (build it: docker build -f "
                               f"worker_image/Dockerfile -t {wanted} .)")
        return None

    @property
    def jobs(self) -> list[Any]:
        """Every job, array child and array parent submitted to this cluster, in submit order."""
        return list(self.compute.jobs.values())

    def wait_idle(self, timeout: float = 60) -> list[Any]:
        """The jobs, once every one has ended (a task's result arrives before its worker
        exits); TimeoutError after `timeout` seconds."""
        from .compute import wait_for
        from .jobs import TERMINAL

        if not wait_for(lambda: all(j.current_status() in TERMINAL for j in self.jobs), timeout):
            unfinished = [f"{j.job_name} ({j.job_id}) {j.current_status()}" for j in self.jobs
                          if j.current_status() not in TERMINAL]
            raise TimeoutError(f"{len(unfinished)} jobs unfinished after {timeout} s: {', '.join(unfinished[:10])}")
        return self.jobs

    def log_lines(self, job: Any) -> list[str]:
        """The job's last attempt's log, read back from its CloudWatch log stream."""
        from .compute import log_group

        stream = job.attempts[-1]["container"].get("logStreamName") if job.attempts else None
        group = log_group(job)
        if not stream or not group:
            return []
        events = self.moto.client("logs").get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
        return [event["message"] for event in events["events"]]

    def stop(self) -> None:
        from ..client import close_environments

        close_environments(self.wove_environments)
        for started in reversed(self._started):
            (started.close if hasattr(started, "close") else started.stop)()
        self._started.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
