"""What the exchange bucket costs, on moto's S3 and Batch (TLS, loopback), in one run:

1. submit overhead per task: the helper's submit_job with the payload inline (baseline) and
   with a payload just over the inline budget (written to the bucket first);
2. result latency: from the moment a worker's result is written (exchange) or posted
   (callback, baseline) to the moment Wove's own callback server in the submitter has it,
   at the default poll interval (1 s) and at 0.2 s.

    .venv/bin/python benchmarks/exchange_path.py [--tasks 40]
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
sys.path.insert(0, str(REPO / "tests"))

from batch_emulator import REGION, MotoServer, deploy  # noqa: E402
from conftest import plan_of  # noqa: E402
from wove.backend import BackendCallbackServer, build_backend_payload, payload_to_b64, post_event  # noqa: E402

from wove_batch.aws.limits import INLINE_OVERRIDES_BUDGET  # noqa: E402
from wove_batch.client.batch import WatchedBatchClient  # noqa: E402
from wove_batch.client.exchange import Exchange, Expected, ResultPoller  # noqa: E402
from wove_batch.worker import ExchangeSink  # noqa: E402

CLUSTER = {
    "image": {"python_version": "3.11"},
    "compute_environments": {"cpu": {"type": "EC2", "instance_types": ["m6i.large"], "max_vcpus": 16}},
    "job_queues": {"main": {"compute_environments": ["cpu"]}},
    "job_definitions": {"worker": {}},
}


def payload(argument: str, callback_url: str = "http://127.0.0.1:1/wove/events/t") -> str:
    frame = {"run_id": "bench:1", "task_id": "bench", "callable": len, "args": {"obj": argument}}
    return payload_to_b64(build_backend_payload(frame, callback_url=callback_url, adapter="aws_batch"))


def submit_overhead(moto: MotoServer, plan, tasks: int) -> dict[str, float]:
    queue = plan.outputs["job_queues"]["main"]
    definition = plan.outputs["job_definitions"]["worker"]
    client = WatchedBatchClient(moto.client("batch"), exchange=Exchange(moto.client("s3"), plan.outputs["exchange_bucket"]),
                                results="exchange", results_poll_seconds=3600)
    medians = {}
    for label, size in (("inline (2 KB argument)", 2_000), ("exchange (8 KB argument)", 8_000)):
        encoded = payload("x" * size)
        seconds = []
        for i in range(tasks):
            started = time.perf_counter()
            client.submit_job(jobName=f"wove-bench:{i}", jobQueue=queue, jobDefinition=definition,
                              containerOverrides={"environment": [{"name": "WOVE_BACKEND_PAYLOAD", "value": encoded}]})
            seconds.append(time.perf_counter() - started)
        medians[label] = statistics.median(seconds) * 1000
    client.close()
    return medians


async def result_latency(moto: MotoServer, bucket: str, tasks: int, poll_seconds: float | None) -> list[float]:
    """poll_seconds None: callback mode (the worker posts straight to the server)."""
    server = BackendCallbackServer(host="127.0.0.1", port=0)
    await server.start()
    exchange = Exchange(moto.client("s3"), bucket)
    poller = ResultPoller(exchange, poll_seconds=poll_seconds or 1.0)
    latencies = []
    try:
        for i in range(tasks):
            slot, run_id = f"slot{i}", f"bench:{i}"
            frame = {"type": "task_result", "run_id": run_id, "task_id": "bench", "result": i}
            if poll_seconds is None:
                started = time.perf_counter()
                await asyncio.to_thread(post_event, server.callback_url, frame)
            else:
                poller.expect(slot, Expected(run_id, "bench", server.callback_url, None))
                await asyncio.sleep((i % 10) / 10 * poll_seconds)  # results land at any point of a poll interval
                sink = ExchangeSink(moto.client("s3"), exchange.results_uri(slot))
                started = time.perf_counter()
                await asyncio.to_thread(sink.post, "", frame)
            received = await asyncio.wait_for(server.recv(), 30)
            latencies.append(time.perf_counter() - started)
            assert received["run_id"] == run_id and received["result"] == i
    finally:
        poller.close()
        await server.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        moto = MotoServer(Path(folder) / "moto.log")
        moto.start()
        try:
            moto.reset()
            moto.hold_jobs()
            plan = plan_of(CLUSTER, name="bench", region=REGION)
            deploy(plan, moto)
            print(f"inline budget: {INLINE_OVERRIDES_BUDGET} characters of containerOverrides")
            print("| submit path | median ms per task |\n| --- | --- |")
            for label, ms in submit_overhead(moto, plan, args.tasks).items():
                print(f"| {label} | {ms:.1f} |")
            print("\n| result path | median s | p95 s |\n| --- | --- | --- |")
            for label, poll in (("callback POST (baseline)", None), ("exchange, poll 1 s (default)", 1.0),
                                ("exchange, poll 0.2 s", 0.2)):
                latencies = sorted(asyncio.run(result_latency(moto, plan.outputs["exchange_bucket"], args.tasks, poll)))
                p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
                print(f"| {label} | {statistics.median(latencies):.3f} | {p95:.3f} |")
        finally:
            moto.stop()


if __name__ == "__main__":
    main()
