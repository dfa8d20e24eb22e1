"""The wove-batch component provider: Pulumi runs this as a plugin and asks it, over gRPC, for
the schema (GetSchema) and to construct WoveBatchCluster components (Construct)."""

import sys

from pulumi.provider import main

from wove_batch.provider import WoveBatchProvider

if __name__ == "__main__":
    main(WoveBatchProvider(), sys.argv[1:])
