"""AWS components (network, security groups, keys, buckets, fleet, load balancer, cluster, database,
alarms). They import `hardstack.core` and never `hardstack.k8s` or `hardstack.tooling`."""
