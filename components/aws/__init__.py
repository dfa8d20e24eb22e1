"""What this package knows about AWS without calling it: limits and quotas with the documents
they come from, EC2 instance types, and how children are named within AWS's name limits."""
