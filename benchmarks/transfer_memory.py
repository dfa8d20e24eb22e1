"""Peak memory and S3 requests of one large result, worker to Wove, on moto's S3 (TLS, loopback).

For each result size a worker process (`wove_batch.worker`, exchange mode) runs a task that
returns that many bytes, and a submitter process (Wove's own callback server and the helper's
ResultPoller) receives it. Each process reports its peak RSS (VmHWM) and its RSS once idle
(imports done, before the task), and counts its S3 requests by operation. `--code` names the
source tree(s) whose `components/` is imported as `wove_batch`: the baseline (e.g. a
`git worktree` of main) and this tree, in the same run.

    git worktree add /tmp/wove-batch-main main
    .venv/bin/python benchmarks/transfer_memory.py --code /tmp/wove-batch-main --code . [--sizes 1,100,250]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MB = 1_000_000


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def counted(client):
    """The client, counting its requests by operation."""
    client.requests = collections.Counter()

    def count(model, **_):
        client.requests[model.name] += 1

    client.meta.events.register("before-call.s3", count)
    return client


def s3_client(endpoint: str, certificate: str):
    import boto3

    return counted(boto3.client("s3", endpoint_url=endpoint, verify=certificate, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing"))


def make_result(size: int) -> bytes:
    return b"\x07" * size


def role_submitter(args: argparse.Namespace) -> None:
    """Wove's callback server and the ResultPoller; prints the payload, then the figures."""
    import asyncio

    from wove.backend import BackendCallbackServer, build_backend_payload, payload_to_b64

    from wove_batch.client.exchange import Exchange, Expected, ResultPoller

    async def run() -> dict:
        server = BackendCallbackServer(host="127.0.0.1", port=0)
        await server.start()
        s3 = s3_client(args.endpoint, args.certificate)
        exchange = Exchange(s3, args.bucket)
        poller = ResultPoller(exchange, poll_seconds=0.2)
        frame = {"run_id": "bench:1", "task_id": "bench", "callable": make_result, "args": {"size": args.size}}
        payload = payload_to_b64(build_backend_payload(frame, callback_url=server.callback_url, adapter="aws_batch"))
        idle = rss_mb("VmRSS")
        poller.expect("slot", Expected("bench:1", "bench", server.callback_url, None))
        print(json.dumps({"payload": payload, "results_uri": exchange.results_uri("slot")}), flush=True)
        frames = []
        while True:
            received = await asyncio.wait_for(server.recv(), 300)
            frames.append(received["type"])
            if received["type"] == "task_result":
                assert len(received["result"]) == args.size, len(received["result"])
                break
            if received["type"] == "task_error":
                raise RuntimeError(received.get("error"))
        await asyncio.sleep(0.5)  # the poller's deletes
        poller.close()
        await server.stop()
        return {"idle_mb": idle, "peak_mb": rss_mb("VmHWM"), "requests": dict(s3.requests), "frames": frames}

    print(json.dumps(asyncio.run(run())), flush=True)


def role_worker(args: argparse.Namespace) -> None:
    import boto3  # noqa: F401 - imports done before the idle figure
    import wove.backend  # noqa: F401

    from wove_batch import worker

    clients = []

    def factory():
        clients.append(s3_client(args.endpoint, args.certificate))
        return clients[-1]

    idle = rss_mb("VmRSS")
    worker.main([], environ=dict(os.environ), s3_factory=factory)
    requests = collections.Counter()
    for client in clients:
        requests.update(client.requests)
    print(json.dumps({"idle_mb": idle, "peak_mb": rss_mb("VmHWM"), "requests": dict(requests)}), flush=True)


def shim(code: Path, folder: Path) -> Path:
    """A folder in which `wove_batch` is `code`/components."""
    target = folder / f"shim-{abs(hash(str(code)))}"
    target.mkdir(exist_ok=True)
    link = target / "wove_batch"
    if not link.exists():
        link.symlink_to(code.resolve() / "components")
    return target


def measure(code: Path, size: int, moto, bucket: str, folder: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{shim(code, folder)}:{REPO / 'benchmarks'}", "AWS_DEFAULT_REGION": "us-east-1"}
    common = ["--endpoint", moto.endpoint, "--certificate", str(moto.certificate), "--bucket", bucket,
              "--size", str(size)]
    here = str(Path(__file__).resolve())
    submitter = subprocess.Popen([sys.executable, here, "--role", "submitter", *common], env=env,
                                 stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        ready = json.loads(submitter.stdout.readline())
        started = time.perf_counter()
        worker_env = dict(env, WOVE_BACKEND_PAYLOAD=ready["payload"], WOVE_BATCH_RESULTS_URI=ready["results_uri"])
        worker_out = subprocess.run([sys.executable, here, "--role", "worker", *common], env=worker_env,
                                    capture_output=True, text=True, timeout=600)
        if worker_out.returncode != 0:
            raise RuntimeError(worker_out.stderr[-3000:])
        received = json.loads(submitter.stdout.readline())
        seconds = time.perf_counter() - started
        submitter.wait(timeout=60)
    finally:
        if submitter.poll() is None:
            os.killpg(submitter.pid, 9)
            submitter.wait()
    return {"worker": json.loads(worker_out.stdout.strip().splitlines()[-1]), "submitter": received, "seconds": seconds}


def row(label: str, size: int, figures: dict) -> str:
    def side(name: str) -> str:
        f = figures[name]
        ratio = (f["peak_mb"] - f["idle_mb"]) / (size / 2**20)
        return f"{f['peak_mb']:,.0f} MB ({ratio:.1f}x)"

    requests = collections.Counter(figures["worker"]["requests"]) + collections.Counter(figures["submitter"]["requests"])
    listed = ", ".join(f"{count} {name}" for name, count in sorted(requests.items()))
    return (f"| {label} | {size // MB} MB | {side('worker')} | {side('submitter')} | {figures['seconds']:.1f} | "
            f"{sum(requests.values())} ({listed}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--role", choices=("main", "submitter", "worker"), default="main")
    parser.add_argument("--code", action="append", type=Path)
    parser.add_argument("--sizes", default="1,100,250")
    parser.add_argument("--endpoint")
    parser.add_argument("--certificate")
    parser.add_argument("--bucket")
    parser.add_argument("--size", type=int)
    args = parser.parse_args()
    if args.role == "submitter":
        return role_submitter(args)
    if args.role == "worker":
        return role_worker(args)
    sys.path.insert(0, str(REPO / "tests"))
    from batch_emulator import MotoServer

    codes = args.code or [REPO]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        moto = MotoServer(folder / "moto.log")
        moto.start()
        try:
            moto.client("s3").create_bucket(Bucket="bench-exchange")
            print("| code | result | worker peak RSS ((peak - idle) / size) | submitter peak RSS | seconds | S3 "
                  "requests per task |\n| --- | --- | --- | --- | --- | --- |", flush=True)
            for size in (int(float(s) * MB) for s in args.sizes.split(",")):
                for code in codes:
                    print(row(str(code), size, measure(code, size, moto, "bench-exchange", folder)), flush=True)
        finally:
            moto.stop()


if __name__ == "__main__":
    main()
