"""Tools over what programs register: the mock harness, plans and diffs, the policy checks, the
Kubernetes schema check and the moto sandbox. Imported by tests and CLIs, never by the components."""
