from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest

from hardstack.tooling.testing import Recording, run_program
from stacks import offline
from stacks.offline import run_stack

# Whole-stack runs are deterministic for a stack and its config: each is run once per test process
# (once per xdist worker), whether through the `stack` fixture or a direct `run_stack` call.
offline.reuse_runs()

#: The files that take longest (subprocesses, the moto sandbox, a fresh virtualenv), longest first.
#: They start first, each on one worker (`--dist loadfile --no-loadscope-reorder`), so the short
#: files fill in around them and the workers finish together.
SLOW_FILES = (
    "test_plan.py",
    "test_consumer.py",
    "test_sandbox.py",
    "test_preview.py",
    "test_slo.py",
    "test_slo_mutations.py",
    "test_ansible.py",
    "test_stacks.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order within a file kept


def _keep_the_collector_off_what_lives_on() -> None:
    """Collect, then move what survives (modules, the provider SDKs' classes, kept runs) out of the
    collector's sight: its full collections would otherwise walk those hundreds of thousands of
    objects again and again, a fifth of the suite's time. Only what is alive now is frozen."""
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session: pytest.Session) -> None:
    _keep_the_collector_off_what_lives_on()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    # After a file's last test and its module fixtures' teardown: what its tests imported for good
    # (the SDK modules a first stack run loads, say) joins the frozen part.
    if nextitem is None or nextitem.path != item.path:
        _keep_the_collector_off_what_lives_on()


@pytest.fixture
def run() -> Callable[..., Recording]:
    """Run a program (a no-argument callable) on the mock runtime and return what it recorded."""
    return run_program


@pytest.fixture
def stack() -> Callable[..., Recording]:
    """Run one of the project's stacks, optionally with config overrides (a copy of a shared run)."""

    def _run(name: str, **overrides: Any) -> Recording:
        return run_stack(name, overrides)

    return _run
