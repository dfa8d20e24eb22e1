"""The Pulumi side: the WoveBatchCluster component and one module per kind of child resource.

Every child is named from the cluster (`Scope.child`), parented to it and tagged; the
component validates its whole spec before registering any of them."""
