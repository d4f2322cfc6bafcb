"""Kubernetes components for any conformant cluster (platform baseline, application, monitoring,
database credentials). They import `hardstack.core` and never `hardstack.aws` or `hardstack.tooling`."""
