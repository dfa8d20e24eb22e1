"""The application side (boto3 only, no Pulumi): from the stack's outputs to `wove.config`.

    from wove_batch.client import wove_environments
    wove.config(environments=wove_environments("wove-batch-outputs.json"))

environments.py reads the outputs; batch.py is the Batch client Wove's adapter calls (job
names, payload placement, failed-job watcher); exchange.py is the bucket's submitting side
(payloads out, the results poller); names.py makes job names Batch accepts.
"""

from .batch import BatchJobFailedError, PayloadTooLargeError, WatchedBatchClient
from .environments import close_environments, load_outputs, ship_by_value, wove_environments
from .exchange import ExchangeError
from .names import batch_job_name

__all__ = [
    "BatchJobFailedError",
    "ExchangeError",
    "PayloadTooLargeError",
    "WatchedBatchClient",
    "batch_job_name",
    "close_environments",
    "load_outputs",
    "ship_by_value",
    "wove_environments",
]
