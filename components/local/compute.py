"""The local compute environment: runs each RUNNABLE job's real command with the job's
environment, as a process of the installed worker or as `docker run` of the worker image, a
few at a time, higher-priority queues first; records its attempts and writes its output to
the job definition's CloudWatch log group as the awslogs driver does
(`<awslogs-stream-prefix>/default/<task id>`).

Not emulated: instances, capacity (vCPUs, memory), placement, IAM enforcement.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from .jobs import ATTEMPT_TIMED_OUT, ESSENTIAL_CONTAINER_EXITED, TERMINAL, LocalJob, now_ms

LOG_BATCH = 1000  # events per PutLogEvents call (AWS allows 10,000 and 1 MiB)


class ProcessRunner:
    """A job as a process: `python` on its PATH is this interpreter (the installed worker),
    through a script that execs it (a symlink would lose its virtualenv)."""

    def __init__(self, python: str, folder: Path, app_dir: Optional[Path] = None) -> None:
        self.bin = folder / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        for name in ("python", "python3"):
            script = self.bin / name
            script.write_text(f'#!/bin/sh\nexec "{python}" "$@"\n')
            script.chmod(0o755)
        self.app_dir = app_dir

    def start(self, job: LocalJob, environment: Mapping[str, str]) -> subprocess.Popen[bytes]:
        env = {"PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin", **environment}
        if self.app_dir is not None:
            env["PYTHONPATH"] = str(self.app_dir)
        return subprocess.Popen(job.command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def kill(self, process: subprocess.Popen[bytes], job: LocalJob) -> None:
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            pass


class DockerRunner:
    """A job as `docker run` of the worker image on the host's network (moto and Wove's
    callback server are on this machine's loopback); `mounts` are host folders the job sees
    at the same path, read-only (moto's certificate)."""

    def __init__(self, image: str, docker_env: Mapping[str, str], app_dir: Optional[Path] = None,
                 mounts: Sequence[Path] = (), cli: Optional[str] = None) -> None:
        cli = cli or docker_cli()
        if cli is None:
            raise RuntimeError("no docker client on PATH")
        self.cli, self.image, self.docker_env, self.app_dir, self.mounts = cli, image, dict(docker_env), app_dir, mounts

    def start(self, job: LocalJob, environment: Mapping[str, str]) -> subprocess.Popen[bytes]:
        args = [self.cli, "run", "--rm", "--name", container_name(job), "--network", "host"]
        if self.app_dir is not None:
            args += ["-v", f"{self.app_dir}:/opt/app:ro"]
        for folder in self.mounts:
            args += ["-v", f"{folder}:{folder}:ro"]
        for name, value in environment.items():
            args += ["-e", f"{name}={value}"]
        return subprocess.Popen([*args, self.image, *job.command], env=self.docker_env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, process: subprocess.Popen[bytes], job: LocalJob) -> None:
        subprocess.run([self.cli, "kill", container_name(job)], env=self.docker_env, capture_output=True, timeout=30)


def docker_cli() -> Optional[str]:
    return shutil.which("docker")


def container_name(job: LocalJob) -> str:
    return "wove-batch-local-" + job.job_id.replace(":", "-")


def image_available(image: str, docker_env: Mapping[str, str], cli: Optional[str] = None) -> bool:
    """Whether a Docker engine answers and has this image built."""
    cli = cli or docker_cli()
    if cli is None:
        return False
    try:
        found = subprocess.run([cli, "image", "inspect", image], env=dict(docker_env), capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return found.returncode == 0


class LocalCompute:
    """`slots` jobs at once; `base_env(job, attempt)` is what the ECS agent adds to a job's
    environment; `logs` a CloudWatch Logs client (moto's)."""

    def __init__(self, runner: Any, logs: Any, base_env: Any, slots: int = 8) -> None:
        self.runner, self.logs, self.base_env = runner, logs, base_env
        self.jobs: dict[str, LocalJob] = {}
        self._runnable: list[LocalJob] = []
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        self._condition = threading.Condition()
        self._stopping = False
        self._threads = [threading.Thread(target=self._slot, name=f"wove-batch-local-{i}", daemon=True)
                         for i in range(slots)]
        for thread in self._threads:
            thread.start()

    def add(self, job: LocalJob) -> None:
        with self._condition:
            self.jobs[job.job_id] = job
            for child in job.children:
                self.jobs[child.job_id] = child
            for runnable in job.children or [job]:
                runnable.status = "RUNNABLE"
                self._runnable.append(runnable)
            self._condition.notify_all()

    def terminate(self, job: LocalJob, reason: str) -> None:
        """TerminateJob: an unfinished job FAILED with the reason; a running one killed first."""
        for target in job.children or [job]:
            with self._condition:
                if target.status in TERMINAL or target.terminate_reason is not None:
                    continue
                target.terminate_reason = reason
                process = self._running.get(target.job_id)
                if target.status == "STARTING" and process is None:
                    continue  # its slot sees the reason and does not start it (or kills it at once)
                if process is None:
                    self._runnable = [j for j in self._runnable if j is not target]
                    self._stop(target, reason)
                    continue
            self.runner.kill(process, target)

    def close(self) -> None:
        with self._condition:
            self._stopping = True
            running = list(self._running.items())
            self._condition.notify_all()
        for job_id, process in running:
            self.runner.kill(process, self.jobs[job_id])
        for thread in self._threads:
            thread.join(timeout=30)

    def _next(self) -> Optional[LocalJob]:
        with self._condition:
            while not self._stopping and not self._runnable:
                self._condition.wait()
            if self._stopping:
                return None
            job = max(self._runnable, key=lambda j: (j.priority, -j.created_at))
            self._runnable.remove(job)
            job.status = "STARTING"
            return job

    def _slot(self) -> None:
        while (job := self._next()) is not None:
            try:
                self._attempt(job)
            except Exception as exc:  # noqa: BLE001 - a job that cannot start fails, as on Batch
                with self._condition:
                    self._stop(job, f"CannotStartContainerError: {exc}"[:255])

    def _attempt(self, job: LocalJob) -> None:
        task_id = uuid.uuid4().hex
        stream = log_stream(job, task_id)
        attempt: dict[str, Any] = {"container": {"taskArn": f"local:task/{task_id}", "logStreamName": stream}}
        environment = {**job.environment, **self.base_env(job, len(job.attempts) + 1)}
        with self._condition:
            if job.terminate_reason is not None:
                self._stop(job, job.terminate_reason)
                return
        process = self.runner.start(job, environment)
        with self._condition:
            self._running[job.job_id] = process
            job.started_at = job.started_at or now_ms()
            attempt["startedAt"] = now_ms()
            job.status = "RUNNING"
            terminated_while_starting = job.terminate_reason is not None
        if terminated_while_starting:
            self.runner.kill(process, job)
        events, timed_out = self._collect(process, job.timeout_seconds, job)
        with self._condition:
            self._running.pop(job.job_id, None)
            attempt["stoppedAt"] = now_ms()
            attempt["container"]["exitCode"] = process.returncode
            attempt["statusReason"] = (job.terminate_reason or (ATTEMPT_TIMED_OUT if timed_out else ESSENTIAL_CONTAINER_EXITED))
            job.attempts.append(attempt)
            job.output = "\n".join(message for _, message in events)
        self._write_log(job, stream, events)
        with self._condition:
            if process.returncode == 0 and job.terminate_reason is None and not timed_out:
                job.status = "SUCCEEDED"
                job.stopped_at = now_ms()
            elif job.terminate_reason is None and not timed_out and not self._stopping and job.should_retry(attempt):
                job.status = "RUNNABLE"
                self._runnable.append(job)
                self._condition.notify_all()
            else:
                self._stop(job, attempt["statusReason"])

    def _collect(self, process: subprocess.Popen[bytes], timeout: Optional[int],
                 job: LocalJob) -> tuple[list[tuple[int, str]], bool]:
        """The process's output lines with their times; whether it ran past its timeout."""
        events: list[tuple[int, str]] = []
        timer = None
        timed_out = threading.Event()
        if timeout:
            timer = threading.Timer(timeout, lambda: (timed_out.set(), self.runner.kill(process, job)))
            timer.daemon = True
            timer.start()
        assert process.stdout is not None
        for line in process.stdout:
            events.append((now_ms(), line.decode("utf-8", "replace").rstrip("\n")))
        process.wait()
        if timer is not None:
            timer.cancel()
        return events, timed_out.is_set()

    def _write_log(self, job: LocalJob, stream: Optional[str], events: list[tuple[int, str]]) -> None:
        group = log_group(job)
        if group is None or stream is None:
            return
        self.logs.create_log_stream(logGroupName=group, logStreamName=stream)  # as the container starts, output or not
        for start in range(0, len(events), LOG_BATCH):
            chunk = [{"timestamp": t, "message": m or " "} for t, m in events[start : start + LOG_BATCH]]
            self.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=chunk)

    def _stop(self, job: LocalJob, reason: str) -> None:
        job.status, job.status_reason, job.stopped_at = "FAILED", reason, now_ms()


def log_group(job: LocalJob) -> Optional[str]:
    configuration = (job.definition.get("containerProperties") or {}).get("logConfiguration") or {}
    if configuration.get("logDriver") != "awslogs":
        return None
    return (configuration.get("options") or {}).get("awslogs-group")


def log_stream(job: LocalJob, task_id: str) -> Optional[str]:
    """The awslogs driver's stream for a Batch job: `<prefix>/default/<ECS task id>`."""
    configuration = (job.definition.get("containerProperties") or {}).get("logConfiguration") or {}
    prefix = (configuration.get("options") or {}).get("awslogs-stream-prefix")
    return f"{prefix}/default/{task_id}" if log_group(job) and prefix else None


def wait_for(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    """Poll `predicate` for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
