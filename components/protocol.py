"""What the submitting side (client/) and the worker (worker/) agree on, and what the IAM
policies (resources/exchange.py) grant: the exchange bucket's layout and the job's variables.

Payloads:  s3://<bucket>/payloads/<session>/<slot>.json   written by the submitter, read by the job
Packs:     s3://<bucket>/payloads/<session>/<batch>.pack   an array job's payloads in one object:
           child <i> reads its entry with two ranged GETs (pack_payloads below)
Results:   s3://<bucket>/results/<session>/<slot>/<n>-<type>.json   written by the job, read and
           deleted by the submitter

<session> is one per client (a process's environment), so two processes never see each other's
results; <slot> is one per task (for an array job `<batch>/<index>`). A result object holds
exactly the JSON body the worker would POST to Wove's callback URL.
"""

from __future__ import annotations

PAYLOADS_PREFIX = "payloads/"
RESULTS_PREFIX = "results/"

# Wove's own variable: the whole base64 payload, inline.
INLINE_PAYLOAD_VARIABLE = "WOVE_BACKEND_PAYLOAD"
# s3://bucket/key of the payload.
PAYLOAD_URI_VARIABLE = "WOVE_BATCH_PAYLOAD_URI"
# s3://bucket/key of an array job's pack; each child reads entry AWS_BATCH_JOB_ARRAY_INDEX.
PAYLOAD_PACK_URI_VARIABLE = "WOVE_BATCH_PAYLOAD_PACK_URI"
# s3://bucket/prefix/ the job writes its events under (exchange mode); `{index}` as above.
RESULTS_URI_VARIABLE = "WOVE_BATCH_RESULTS_URI"
# The largest result (pickled bytes) a task may return; over it the worker reports
# TaskTooLargeError before uploading anything (transfer.py).
MAX_RESULT_BYTES_VARIABLE = "WOVE_BATCH_MAX_RESULT_BYTES"
# Several tasks per job (an array child, or a plain job as child 0): child c runs tasks
# c*N .. c*N+N-1 of the pack (N = TASKS_PER_CHILD, fewer in the last child, TASK_COUNT in all),
# one after another, each with its own results prefix (`{index}` there: the task's index).
TASKS_PER_CHILD_VARIABLE = "WOVE_BATCH_TASKS_PER_CHILD"
TASK_COUNT_VARIABLE = "WOVE_BATCH_TASK_COUNT"
# s3://bucket/payloads/<session>/<batch>.cancel/{index}: the JSON list of the task indices
# Wove cancelled in array child `index`; its worker reads it before its first task and again
# before a task at most every CANCEL_CHECK_SECONDS (the job may read payloads/).
CANCEL_URI_VARIABLE = "WOVE_BATCH_CANCEL_URI"
# Set by AWS Batch in each child of an array job.
ARRAY_INDEX_VARIABLE = "AWS_BATCH_JOB_ARRAY_INDEX"
INDEX_PLACEHOLDER = "{index}"

# Variables a job definition may not set: the submitter sets them per job.
RESERVED_VARIABLES = (INLINE_PAYLOAD_VARIABLE, PAYLOAD_URI_VARIABLE, PAYLOAD_PACK_URI_VARIABLE, RESULTS_URI_VARIABLE,
                      MAX_RESULT_BYTES_VARIABLE, TASKS_PER_CHILD_VARIABLE, TASK_COUNT_VARIABLE, CANCEL_URI_VARIABLE)

# A pack starts with len(payloads) + 1 offsets of PACK_OFFSET_WIDTH ASCII digits each: entry i
# is bytes [offset i, offset i+1) of the object. One PUT per array job instead of one per task.
PACK_OFFSET_WIDTH = 16


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key`; ValueError for anything else."""
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an s3://bucket/key URI: {uri[:200]!r}")
    bucket, key = uri[5:].split("/", 1)
    if not bucket or not key:
        raise ValueError(f"not an s3://bucket/key URI: {uri[:200]!r}")
    return bucket, key


def payload_key(session: str, slot: str) -> str:
    return f"{PAYLOADS_PREFIX}{session}/{slot}.json"


def pack_key(session: str, batch: str) -> str:
    return f"{PAYLOADS_PREFIX}{session}/{batch}.pack"


def pack_payloads(payloads: list[str]) -> bytes:
    """The pack of these base64 payloads (ASCII), in order."""
    header_size = (len(payloads) + 1) * PACK_OFFSET_WIDTH
    offsets = [header_size]
    for payload in payloads:
        offsets.append(offsets[-1] + len(payload))
    header = "".join(f"{offset:0{PACK_OFFSET_WIDTH}d}" for offset in offsets)
    return (header + "".join(payloads)).encode("ascii")


def pack_offsets_range(index: int) -> str:
    """The HTTP Range of entry `index`'s two offsets."""
    start = index * PACK_OFFSET_WIDTH
    return f"bytes={start}-{start + 2 * PACK_OFFSET_WIDTH - 1}"


def pack_span_offsets_range(first: int, stop: int) -> str:
    """The HTTP Range of the offsets of entries first .. stop-1 (stop - first + 1 offsets)."""
    return f"bytes={first * PACK_OFFSET_WIDTH}-{(stop + 1) * PACK_OFFSET_WIDTH - 1}"


def parse_offsets(data: bytes, count: int) -> list[int]:
    """`count` offsets of a pack header; ValueError for anything else."""
    text = data.decode("ascii")
    if len(text) != count * PACK_OFFSET_WIDTH or not text.isdigit():
        raise ValueError(f"not a pack header: {text[:64]!r}")
    offsets = [int(text[i : i + PACK_OFFSET_WIDTH]) for i in range(0, len(text), PACK_OFFSET_WIDTH)]
    if any(end <= start for start, end in zip(offsets, offsets[1:])):
        raise ValueError(f"empty or reversed entries in {offsets[:8]}")
    return offsets


CANCEL_CHECK_SECONDS = 1.0


def cancel_key(session: str, batch: str, child: object) -> str:
    return f"{PAYLOADS_PREFIX}{session}/{batch}.cancel/{child}"


def pack_entry_range(offsets: bytes, index: int) -> str:
    """The HTTP Range of entry `index`, from the bytes pack_offsets_range named."""
    text = offsets.decode("ascii")
    if len(text) != 2 * PACK_OFFSET_WIDTH or not text.isdigit():
        raise ValueError(f"entry {index}: not a pack header: {text[:64]!r}")
    start, end = int(text[:PACK_OFFSET_WIDTH]), int(text[PACK_OFFSET_WIDTH:])
    if end <= start:
        raise ValueError(f"entry {index}: empty or reversed range {start}-{end}")
    return f"bytes={start}-{end - 1}"


def results_prefix(session: str, slot: str = "") -> str:
    return f"{RESULTS_PREFIX}{session}/" + (f"{slot}/" if slot else "")


def event_key(results_prefix_: str, sequence: int, frame_type: str) -> str:
    """Events sort in the order the worker wrote them."""
    return f"{results_prefix_}{sequence:04d}-{frame_type}.json"


# S3's limits on what a URI names (moto does not enforce them; a job would fail on them late):
# bucket names are 3-63 of a-z, 0-9, '.' and '-', starting and ending with a letter or digit
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html); a key is at
# most 1,024 bytes of UTF-8 (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).
S3_KEY_MAX_BYTES = 1024
_BUCKET_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")
# What event_key appends to a results prefix, at most: `<n>-task_cancelled.json` (n up to 10 digits).
EVENT_SUFFIX_MAX_BYTES = 10 + len("-task_cancelled.json")


def checked_s3_uri(uri: str, *, reserve: int = 0) -> tuple[str, str]:
    """split_s3_uri, and ValueError for a bucket or key S3 refuses (`reserve`: bytes a key
    made from this one adds)."""
    try:
        bucket, key = split_s3_uri(uri)
    except ValueError:
        raise ValueError("not an s3://bucket/key URI") from None
    if not (3 <= len(bucket) <= 63 and set(bucket) <= _BUCKET_CHARACTERS and bucket[0].isalnum() and bucket[-1].isalnum()):
        raise ValueError("its bucket is not an S3 bucket name")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("the key is not UTF-8 text") from None
    if size + reserve > S3_KEY_MAX_BYTES:
        raise ValueError(f"the key is {size} bytes; S3 takes at most {S3_KEY_MAX_BYTES - reserve} here")
    return bucket, key
