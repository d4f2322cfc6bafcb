"""Pulumi wiring every component shares: how options given to a component reach its children.
Imports `hardstack.core` only; imported by `hardstack.aws` and `hardstack.k8s`."""
