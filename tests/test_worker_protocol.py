"""probe"""
from __future__ import annotations
import time
from pathlib import Path
import pytest
import wove
from batch_emulator import JobRunner, MotoServer
from test_e2e import environments, moto, stack  # noqa: F401
from wove_batch.tools.plan import Plan


def runner(moto, stack, worker_venv, app_dir, **options):
    return JobRunner(moto, list(stack.outputs["job_queues"].values()), worker_venv / "bin", app_dir, **options)


@pytest.mark.parametrize("environment", ["batch", "batch_exchange"])
def test_hb(environment, stack, moto, environments, worker_venv, app_dir):
    started = time.monotonic()
    with runner(moto, stack, worker_venv, app_dir) as jobs:
        with wove.weave() as w:
            @w.do(environment=environment, delivery_heartbeat_seconds=2, delivery_timeout=60)
            def slow() -> str:
                time.sleep(10)
                return "done"
        print("weave took", time.monotonic() - started)
        jobs.wait_idle(1)
    assert w.result.slow == "done"
