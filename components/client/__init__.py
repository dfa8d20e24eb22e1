"""The application side (boto3 only, no Pulumi): from the stack's outputs to `wove.config`.

    from wove_batch.client import wove_environments
    wove.config(environments=wove_environments("wove-batch-outputs.json"))
"""

from .batch import (
    BatchJobFailedError,
    PayloadTooLargeError,
    WatchedBatchClient,
    batch_job_name,
    close_environments,
    load_outputs,
    wove_environments,
)

__all__ = [
    "BatchJobFailedError",
    "PayloadTooLargeError",
    "WatchedBatchClient",
    "batch_job_name",
    "close_environments",
    "load_outputs",
    "wove_environments",
]
