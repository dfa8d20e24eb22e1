"""The application side (boto3 only, no Pulumi): from the stack's outputs to `wove.config`.

    from wove_batch.client import wove_environments
    wove.config(environments=wove_environments("wove-batch-outputs.json"))

environments.py reads the outputs; settings.py checks them and the helper's settings; batch.py
is the Batch client Wove's adapter calls (job names, payload placement); submitting.py runs its SubmitJob calls off Wove's loop, paced and
retried; arrays.py groups tasks into array jobs; watcher.py fails the tasks of failed jobs;
exchange.py is the bucket's submitting side (payloads out, the results poller); names.py makes
job names Batch accepts; failures.py, reports.py and job_ends.py say what a task hears when its
job ends without an answer; local_callback.py hands events to Wove's server without proxies;
progress.py counts a weave's Batch work; exit_sweep.py terminates unfinished jobs at exit.
"""

from .batch import PayloadTooLargeError, WatchedBatchClient
from .environments import close_environments, load_outputs, ship_by_value, wove_environments
from .exchange import ExchangeError
from .failures import BatchJobFailedError, BatchJobNoResultError, BatchJobStalledError
from .names import batch_job_name
from .settings import HelperSettings, HelperSettingsError
from .submitting import SubmitJobError, SubmitSettings, Submitter

__all__ = [
    "BatchJobFailedError",
    "BatchJobNoResultError",
    "BatchJobStalledError",
    "ExchangeError",
    "HelperSettings",
    "HelperSettingsError",
    "PayloadTooLargeError",
    "SubmitJobError",
    "SubmitSettings",
    "Submitter",
    "WatchedBatchClient",
    "batch_job_name",
    "close_environments",
    "load_outputs",
    "ship_by_value",
    "wove_environments",
]
