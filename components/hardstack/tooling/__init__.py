"""Tools over what programs register: the mock harness, plans and diffs, the policy checks, the
Kubernetes schema check and the moto sandbox. Imported by tests and CLIs, never by the components.

The promised API of this layer is the mock harness, the names in `__all__` (from
`hardstack.tooling.testing`): run your own program on Pulumi's mock runtime and assert on what it
registers. The other modules are importable tools; `sandbox` needs the `hardstack[sandbox]` extra
and is not imported here.
"""

from hardstack.tooling import testing
from hardstack.tooling.testing import *  # noqa: F403  # the harness's names, listed once in its __all__

__all__ = testing.__all__
