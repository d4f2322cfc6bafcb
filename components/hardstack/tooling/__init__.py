"""Tools over what programs register: the mock harness, plans and diffs, the policy checks, the
Kubernetes schema check and the moto sandbox. Imported by tests and CLIs, never by the components.

The promised API of this layer is the mock harness, the names in `__all__` (from
`hardstack.tooling.testing`): run your own program on Pulumi's mock runtime and assert on what it
registers. The other modules are importable tools; `sandbox` needs the `hardstack[sandbox]` extra
and is not imported here.
"""

from hardstack.tooling.testing import (
    MOCK_ACCOUNT,
    HardstackMocks,
    MockVolume,
    RecordedInvoke,
    RecordedResource,
    Recording,
    Secret,
    is_secret,
    is_unknown,
    mock_id,
    run_program,
    unsecret,
)

__all__ = [
    "MOCK_ACCOUNT",
    "HardstackMocks",
    "MockVolume",
    "RecordedInvoke",
    "RecordedResource",
    "Recording",
    "Secret",
    "is_secret",
    "is_unknown",
    "mock_id",
    "run_program",
    "unsecret",
]
