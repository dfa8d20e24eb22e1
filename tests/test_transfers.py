"""Streamed transfers (transfer.py), the poller's hand-off to Wove's server (handoff.py) and
batched deletes, on moto's S3 over TLS."""

from __future__ import annotations

import asyncio
import collections
import json
from typing import Any, Iterator

import pytest
from wove.backend import BackendCallbackServer, serialize_frame

from batch_emulator import MotoServer
from wove_batch import protocol, transfer
from wove_batch.client import handoff
from wove_batch.client.exchange import Exchange, Expected, ResultPoller
from wove_batch.worker import ExchangeSink

BUCKET = "transfers"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    try:
        server.client("s3").create_bucket(Bucket=BUCKET)
        yield server
    finally:
        server.stop()


def counted(client: Any) -> Any:
    client.requests = collections.Counter()
    client.meta.events.register("before-call.s3", lambda model, **_: client.requests.update([model.name]))
    return client


def test_a_large_result_is_uploaded_in_parts_and_read_in_ranges_as_wove_would_have_posted_it(moto: MotoServer) -> None:
    s3 = counted(moto.client("s3"))
    result = bytes(range(256)) * (20 * 2**20 // 256 + 1)  # 20 MiB, 26.7 MiB as base64: four parts
    frame = {"type": "task_result", "run_id": "r:1", "task_id": "t", "result": result}
    size = transfer.write_frame(s3, BUCKET, "large.json", frame)
    assert s3.requests == {"CreateMultipartUpload": 1, "UploadPart": 4, "CompleteMultipartUpload": 1}
    body = s3.get_object(Bucket=BUCKET, Key="large.json")["Body"].read()
    assert len(body) == size
    assert json.loads(body) == serialize_frame(frame)  # Wove's own body, byte for byte in its fields
    s3.requests.clear()
    decoded = transfer.read_frame(s3, BUCKET, "large.json", size)
    assert decoded == frame
    # The first part (which holds the header), the last two bytes, then the rest in parts.
    assert s3.requests == {"GetObject": 2 + 3}


def test_a_small_frame_is_one_put_and_one_get(moto: MotoServer) -> None:
    s3 = counted(moto.client("s3"))
    error = ValueError("no")
    frame = {"type": "task_error", "run_id": "r:2", "task_id": "t", "exception": error,
             "error": {"type": "ValueError", "message": "no", "source": "task"}}
    size = transfer.write_frame(s3, BUCKET, "small.json", frame)
    assert s3.requests == {"PutObject": 1}
    decoded = transfer.read_frame(s3, BUCKET, "small.json", size)
    assert (type(decoded["exception"]), decoded["error"]) == (ValueError, frame["error"])
    assert s3.requests == {"PutObject": 1, "GetObject": 1}


def test_base64_in_pieces_equals_base64_whole() -> None:
    import base64

    class Sink:
        def __init__(self) -> None:
            self.data = b""

        def write(self, data: bytes) -> None:
            self.data += data

    sink = Sink()
    encoder = transfer.Base64Writer(sink)
    data = bytes(range(256)) * 50_000
    for start, end in ((0, 1), (1, 5), (5, 7_000_001), (7_000_001, len(data))):
        encoder.write(data[start:end])
    encoder.close()
    assert sink.data == base64.b64encode(data)


def test_a_result_over_the_limit_is_the_tasks_error_and_nothing_of_it_is_uploaded(moto: MotoServer) -> None:
    s3 = counted(moto.client("s3"))
    sink = ExchangeSink(s3, f"s3://{BUCKET}/limit/", max_result_bytes=1_000)
    sink.post("", {"type": "task_result", "run_id": "r:3", "task_id": "big", "result": b"x" * 2_000})
    assert s3.requests == {"PutObject": 1}  # the error, and only the error
    frame = transfer.read_frame(s3, BUCKET, "limit/0001-task_error.json", 10**6)
    assert frame["error"] == {
        "type": "TaskTooLargeError", "source": "wove_batch",
        "message": "task 'big': its result pickles to more than WOVE_BATCH_MAX_RESULT_BYTES=1000 bytes; nothing was "
                   "uploaded (raise the environment's max_task_bytes, or return less)"}
    sink.post("", {"type": "task_result", "run_id": "r:4", "task_id": "small", "result": b"x" * 900})
    assert transfer.read_frame(s3, BUCKET, "limit/0002-task_result.json", 10**6)["result"] == b"x" * 900


def test_the_poller_hands_a_large_result_to_woves_server_without_fetching_task_started(moto: MotoServer) -> None:
    """Worker's sink to Wove's own callback server in this process: the decoded frame goes onto
    its queue (no POST), task_started costs no GET, the round's keys go in one DeleteObjects."""
    s3 = counted(moto.client("s3"))
    handoff.install()

    async def run() -> list[dict[str, Any]]:
        server = BackendCallbackServer(host="127.0.0.1", port=0)
        await server.start()
        exchange = Exchange(s3, BUCKET)
        poller = ResultPoller(exchange, poll_seconds=3600)
        poller._expected["slot"] = Expected("r:5", "t", str(server.callback_url), None)
        sink = ExchangeSink(moto.client("s3"), exchange.results_uri("slot"))
        sink.post("", {"type": "task_started", "run_id": "r:5", "task_id": "t"})
        sink.post("", {"type": "task_result", "run_id": "r:5", "task_id": "t", "result": b"y" * (12 * 2**20)})
        assert await asyncio.to_thread(poller.poll_once) == 2
        frames = [await asyncio.wait_for(server.recv(), 5) for _ in range(2)]
        await server.stop()
        assert handoff.hand_off(str(frames and exchange.results_uri("x")), {}) is False  # no such server
        return frames

    frames = asyncio.run(run())
    assert frames[0] == {"type": "task_started", "run_id": "r:5", "task_id": "t"}
    assert frames[1] == {"type": "task_result", "run_id": "r:5", "task_id": "t", "result": b"y" * (12 * 2**20)}
    assert s3.requests == {"ListObjectsV2": 1, "GetObject": 4, "DeleteObjects": 1}
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="results/").get("KeyCount") == 0


def test_deletes_go_delete_batch_keys_a_request(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """S3 takes 1,000 keys per DeleteObjects; 21 keys at 10 a request (moto puts slowly) is three."""
    from wove_batch.client import exchange as exchange_module

    assert exchange_module.DELETE_BATCH == 1000
    monkeypatch.setattr(exchange_module, "DELETE_BATCH", 10)
    s3 = counted(moto.client("s3"))
    exchange = Exchange(s3, BUCKET)
    keys = [f"many/{i:05d}" for i in range(21)]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"")
    s3.requests.clear()
    exchange.delete_many(keys)
    assert s3.requests == {"DeleteObjects": 3}
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="many/").get("KeyCount") == 0


def test_a_job_definition_may_not_set_the_limit_variable() -> None:
    assert protocol.MAX_RESULT_BYTES_VARIABLE in protocol.RESERVED_VARIABLES


def test_a_payload_over_the_limit_is_refused_before_any_upload_or_submit(moto: MotoServer) -> None:
    from wove.backend import build_backend_payload, payload_to_b64

    from wove_batch.client import PayloadTooLargeError, WatchedBatchClient

    submitted: list[dict[str, Any]] = []

    class Batch:
        def submit_job(self, **params: Any) -> dict[str, Any]:
            submitted.append(params)
            return {"jobId": "j", "jobName": params["jobName"]}

    s3 = counted(moto.client("s3"))
    client = WatchedBatchClient(Batch(), exchange=Exchange(s3, BUCKET), results="exchange", max_task_bytes=5_000,
                                array_jobs=False)

    def submit(argument: str) -> Any:
        frame = {"run_id": "r:9", "task_id": "crunch", "callable": len, "args": {"obj": argument}}
        payload = payload_to_b64(build_backend_payload(frame, callback_url="http://127.0.0.1:1/wove/events/t",
                                                       adapter="aws_batch"))
        return client.submit_job(jobName="wove-crunch-r:9", jobQueue="q", jobDefinition="d",
                                 containerOverrides={"environment": [{"name": "WOVE_BACKEND_PAYLOAD", "value": payload}]})

    try:
        with pytest.raises(PayloadTooLargeError, match=r"^task 'crunch': its payload is \d+ bytes, over "
                                                       r"max_task_bytes=5000; nothing was uploaded or submitted$"):
            submit("x" * 6_000)
        assert (s3.requests, submitted) == ({}, [])
        submit("x" * 10)  # under the limit: submitted inline, the worker told the limit
        variables = submitted[0]["containerOverrides"]["environment"]
        assert {"name": "WOVE_BATCH_MAX_RESULT_BYTES", "value": "5000"} in variables
    finally:
        client.close()
