"""What the submitting side (client/) and the worker (worker/) agree on, and what the IAM
policies (resources/exchange.py) grant: the exchange bucket's layout and the job's variables.

Payloads:  s3://<bucket>/payloads/<session>/<slot>.json   written by the submitter, read by the job
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
# s3://bucket/key of the payload; `{index}` stands for AWS_BATCH_JOB_ARRAY_INDEX.
PAYLOAD_URI_VARIABLE = "WOVE_BATCH_PAYLOAD_URI"
# s3://bucket/prefix/ the job writes its events under (exchange mode); `{index}` as above.
RESULTS_URI_VARIABLE = "WOVE_BATCH_RESULTS_URI"
# Set by AWS Batch in each child of an array job.
ARRAY_INDEX_VARIABLE = "AWS_BATCH_JOB_ARRAY_INDEX"
INDEX_PLACEHOLDER = "{index}"

# Variables a job definition may not set: the submitter sets them per job.
RESERVED_VARIABLES = (INLINE_PAYLOAD_VARIABLE, PAYLOAD_URI_VARIABLE, RESULTS_URI_VARIABLE)


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


def results_prefix(session: str, slot: str = "") -> str:
    return f"{RESULTS_PREFIX}{session}/" + (f"{slot}/" if slot else "")


def event_key(results_prefix_: str, sequence: int, frame_type: str) -> str:
    """Events sort in the order the worker wrote them."""
    return f"{results_prefix_}{sequence:04d}-{frame_type}.json"
