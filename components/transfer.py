"""Wove frames through the exchange bucket in bounded pieces, on both sides.

Wove's own path holds many copies of a result: the worker's `serialize_frame` pickles it
(1x), base64-encodes it (1.33x as bytes, again as str), `json.dumps` copies that, `.encode`
once more; the callback server reads the body, decodes it to str, parses it, encodes it back
and base64-decodes it before unpickling. Here:

- worker (`write_frame`): the result is pickled with Wove's own `dispatch_dump` straight into
  a base64 encoder that feeds an S3 multipart upload PART_BYTES at a time; the object is the
  same JSON body Wove's `post_event` would send (`result_pickle` etc. last), never built whole.
- submitter (`read_frame`): a large object is fetched with parallel ranged GETs, each piece
  base64-decoded into one preallocated buffer (the pickle, 1x), which Wove's `dispatch_loads`
  unpickles (the result, 1x): about two copies of the object at any moment.

A size limit (`max_bytes`, the pickled size) is checked before anything is uploaded: the
pickle is first counted (not kept), and a task over it reports TaskTooLargeError instead.
"""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

PART_BYTES = 8 * 2**20  # multipart part size (S3: at least 5 MiB but the last); a multiple of 4
GET_THREADS = 4  # ranged GETs in flight per object
ENCODE_CHUNK = 3 * 2**20  # bytes base64-encoded at once (a multiple of 3: no padding inside)
PICKLED_FIELDS = ("result", "exception", "error")  # serialize_frame's order: last in the body
RESULT_MARKER = b'"result_pickle":"'
REASON = "dispatch serialization moves task payloads, results, and errors across process or network boundaries."


class TaskTooLargeError(ValueError):
    """A task's payload or result is over the size limit the user set; nothing was uploaded."""


class MultipartWriter:
    """A binary file that becomes one S3 object: one PUT when it fits in a part, multipart
    beyond (a buffer of one part at most)."""

    def __init__(self, s3: Any, bucket: str, key: str, part_bytes: int = PART_BYTES) -> None:
        self.s3, self.bucket, self.key, self.part_bytes = s3, bucket, key, part_bytes
        self._buffer = bytearray()
        self._upload_id: Optional[str] = None
        self._parts: list[dict[str, Any]] = []
        self.size = 0

    def write(self, data: Any) -> int:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= self.part_bytes:
            part = bytes(self._buffer[: self.part_bytes])
            del self._buffer[: self.part_bytes]
            self._upload_part(part)
        return len(data)

    def _upload_part(self, part: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
        number = len(self._parts) + 1
        answer = self.s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                     PartNumber=number, Body=part)
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def close(self) -> None:
        if self._upload_id is None:
            self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer))
        else:
            if self._buffer:
                self._upload_part(bytes(self._buffer))
            self.s3.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                              MultipartUpload={"Parts": self._parts})
        self._buffer = bytearray()

    def abort(self) -> None:
        if self._upload_id is not None:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            self._upload_id = None


class Base64Writer:
    """Base64 of what is written, into `target`, ENCODE_CHUNK bytes at a time."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self._pending = b""  # fewer than 3 bytes carried to the next write

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        written = len(view)
        if self._pending:
            take = 3 - len(self._pending)
            self._pending += bytes(view[:take])
            view = view[take:]
            if len(self._pending) < 3:
                return written
            self.target.write(base64.b64encode(self._pending))
            self._pending = b""
        whole = len(view) - len(view) % 3
        for start in range(0, whole, ENCODE_CHUNK):
            self.target.write(base64.b64encode(view[start : min(start + ENCODE_CHUNK, whole)]))
        self._pending = bytes(view[whole:])
        return written

    def close(self) -> None:
        if self._pending:
            self.target.write(base64.b64encode(self._pending))
            self._pending = b""


class _Counter:
    """Counts what a pickle would write; stops it past `limit`."""

    def __init__(self, limit: float) -> None:
        self.limit, self.size = limit, 0

    def write(self, data: Any) -> int:
        self.size += len(memoryview(data).cast("B"))
        if self.size > self.limit:
            raise TaskTooLargeError(self.size)
        return len(data)


def pickled_size_over(value: Any, limit: int) -> bool:
    """Whether `value` pickles to more than `limit` bytes (counted, not kept)."""
    from wove.serialization import dispatch_dump

    try:
        dispatch_dump(value, _Counter(limit), reason=REASON)
    except TaskTooLargeError:
        return True
    return False


def pickled_sizes(frame: dict[str, Any]) -> dict[str, int]:
    """The pickled size of each of the frame's pickled fields (counted, not kept); raises what
    pickling raises, so that nothing is uploaded of a frame that cannot be written whole."""
    from wove.serialization import dispatch_dump

    sizes = {}
    for name in PICKLED_FIELDS:
        if name in frame:
            counter = _Counter(float("inf"))
            dispatch_dump(frame[name], counter, reason=REASON)
            sizes[name] = counter.size
    return sizes


def write_frame(s3: Any, bucket: str, key: str, frame: dict[str, Any]) -> int:
    """Upload the body Wove's post_event would send for `frame`, streamed; its size."""
    from wove.serialization import dispatch_dump

    plain = {name: value for name, value in frame.items() if name not in PICKLED_FIELDS}
    writer = MultipartWriter(s3, bucket, key)
    try:
        head = json.dumps(plain, separators=(",", ":"))
        writer.write(head[:-1].encode("utf-8"))
        separator = b"," if plain else b""
        for name in PICKLED_FIELDS:
            if name not in frame:
                continue
            writer.write(separator + f'"{name}_pickle":"'.encode("ascii"))
            encoder = Base64Writer(writer)
            dispatch_dump(frame[name], encoder, reason=REASON)
            encoder.close()
            writer.write(b'"')
            separator = b","
        writer.write(b"}")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return writer.size


def _get(s3: Any, bucket: str, key: str, start: int, end: int) -> bytes:
    """Bytes [start, end) of the object."""
    return s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end - 1}")["Body"].read()


def read_frame(s3: Any, bucket: str, key: str, size: int) -> dict[str, Any]:
    """The frame (Wove's `deserialize_frame` of the body) of an object of `size` bytes.
    Above PART_BYTES, a body that ends in `"result_pickle":"…"}` is read in ranges and decoded
    piece by piece; any other body is read whole."""
    from wove.backend import deserialize_frame

    if size <= PART_BYTES:
        return deserialize_frame(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    first = _get(s3, bucket, key, 0, PART_BYTES)
    marker = first.find(RESULT_MARKER)
    tail = _get(s3, bucket, key, size - 2, size)
    if marker < 0 or tail != b'"}' or (size - 2 - marker - len(RESULT_MARKER)) % 4:
        del first
        return deserialize_frame(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    header = json.loads(first[:marker].rstrip(b",") + b"}")
    start = marker + len(RESULT_MARKER)
    pickle = _decode_ranges(s3, bucket, key, start, size - 2, first[start:])
    del first
    return deserialize_frame(header) | {"result": _loads(pickle)}


def _decode_ranges(s3: Any, bucket: str, key: str, start: int, end: int, prefix: bytes) -> bytearray:
    """Base64 bytes [start, end) of the object, decoded into one buffer; `prefix` is what was
    already read from `start` on."""
    encoded = end - start
    out = bytearray(encoded // 4 * 3)
    known = len(prefix) - len(prefix) % 4
    pieces = [(start + offset, min(start + offset + PART_BYTES, end)) for offset in range(known, encoded, PART_BYTES)]

    def place(offset: int, data: bytes) -> int:
        decoded = base64.b64decode(data, validate=True)
        out[offset // 4 * 3 : offset // 4 * 3 + len(decoded)] = decoded
        return len(decoded)

    lengths = [place(0, prefix[:known])] if known else []
    with ThreadPoolExecutor(max_workers=GET_THREADS, thread_name_prefix="wove-batch-get") as pool:
        lengths += pool.map(lambda piece: place(piece[0] - start, _get(s3, bucket, key, *piece)), pieces)
    padding = encoded // 4 * 3 - sum(lengths)
    if padding:
        del out[len(out) - padding :]
    return out


def _loads(pickle: bytearray) -> Any:
    from wove.serialization import dispatch_loads

    return dispatch_loads(pickle, reason=REASON)
