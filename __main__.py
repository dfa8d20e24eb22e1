"""The wove-batch stack: one WoveBatchCluster configured from `wove-batch:cluster`.

Its outputs feed Wove: `pulumi stack output --json --show-secrets` holds
`wove_environments`, which `wove.config(environments=...)` takes as is.
"""

import pulumi

from wove_batch import WoveBatchCluster
from wove_batch.tools.stack_config import NAMESPACE, cluster_name

config = pulumi.Config(NAMESPACE)
cluster = WoveBatchCluster(cluster_name(config.get("name"), pulumi.get_stack()), config.get_object("cluster"))

pulumi.export("job_queues", cluster.job_queues)
pulumi.export("job_definitions", cluster.job_definitions)
pulumi.export("compute_environments", cluster.compute_environments)
pulumi.export("images", cluster.images)
pulumi.export("repository_url", cluster.repository_url)
pulumi.export("region", cluster.region)
pulumi.export("wove_environments", cluster.wove_environments)
pulumi.export("exchange_bucket", cluster.exchange_bucket)
pulumi.export("application_policy_arn", cluster.application_policy_arn)
pulumi.export("log_group", cluster.log_group)
