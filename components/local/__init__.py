"""The local backend: the planned cluster on this machine, no AWS account needed.

    from wove_batch.local import LocalCluster

    with LocalCluster("Pulumi.dev.yaml") as cluster:
        wove.config(environments=cluster.wove_environments)
        ...

moto_server.py starts moto's server (Batch, S3, CloudWatch Logs, IAM, EC2, ECR); deploy.py
creates the plan's resources in it; compute.py is the compute environment (jobs as processes
of the installed worker, or in the worker image through Docker); jobs.py keeps each job's
state as Batch does; batch_client.py is the Batch client the helper gets; cluster.py puts them
together; pytest_plugin.py is a `local_cluster` fixture; quickstart.py is `python -m wove_batch try`.
Needs `pip install "wove-batch[local]"`.
"""

from .cluster import DEFAULT_IMAGE, LocalCluster, local_outputs

__all__ = ["DEFAULT_IMAGE", "LocalCluster", "local_outputs"]
