"""Size of the worker image and its start-to-result time, measured with a private dockerd.

Builds the worker image (on the Debian base the tests use), then runs it N times with a real
Wove payload and times each run from `docker run` to the task's result on Wove's callback
server. Needs root, docker.io and mmdebstrap (see the README).

    sudo .venv/bin/python benchmarks/container_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from docker_engine import DockerEngine, unavailable_reason  # noqa: E402
from wove.backend import BackendCallbackServer, build_backend_payload, payload_to_b64  # noqa: E402


async def one_run(engine: DockerEngine, image: str, app: Path, index: int) -> float:
    import wove_bench_tasks

    server = BackendCallbackServer(host="127.0.0.1", port=0)
    await server.start()
    try:
        frame = {"run_id": f"square:{index}", "task_id": "square", "callable": wove_bench_tasks.square, "args": {"x": index}}
        payload = payload_to_b64(build_backend_payload(frame, callback_url=server.callback_url, adapter="aws_batch"))
        started = time.monotonic()
        run = asyncio.create_task(asyncio.to_thread(
            engine.run_command, image, ["python", "-m", "wove_batch.worker"], {"WOVE_BACKEND_PAYLOAD": payload}, app
        ))
        while True:
            received = asyncio.create_task(server.recv())
            done, _ = await asyncio.wait({received, run}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
            if received in done and received.result()["type"] == "task_result":
                assert received.result()["result"] == index * index
                elapsed = time.monotonic() - started
                break
            if run in done and received not in done:
                received.cancel()
                raise RuntimeError(f"the container ended without a result: {run.result().stderr.decode()[-2000:]}")
            if not done:
                raise TimeoutError("no result in 60 s")
        await run
        return elapsed
    finally:
        await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    reason = unavailable_reason()
    if reason is not None:
        sys.exit(f"cannot run: {reason}")
    engine = DockerEngine()
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder)
        app.chmod(0o755)  # the container's user 10001 reads it through the bind mount
        (app / "wove_bench_tasks.py").write_text("def square(x):\n    return x * x\n")
        sys.path.insert(0, str(app))
        try:
            engine.start()
            built = engine.build_worker(REPO, REPO / "worker_image" / "Dockerfile", "wove-batch-worker:bench", "3.11")
            times = [asyncio.run(one_run(engine, built.tag, app, i)) for i in range(runs)]
        finally:
            engine.stop()
    print(f"image size: {built.size_bytes / 1e6:.1f} MB; build: {built.build_seconds:.1f} s (cached base)")
    print(f"start to result over {runs} runs: median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s")
    changed = engine.changed_state()
    print("machine state: unchanged" if not changed else f"machine state CHANGED: {changed}")


if __name__ == "__main__":
    main()
