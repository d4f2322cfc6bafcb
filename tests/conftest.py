from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hardstack.tooling.testing import Recording, run_program
from stacks.offline import run_stack


@pytest.fixture
def run() -> Callable[..., Recording]:
    """Run a program (a no-argument callable) on the mock runtime and return what it recorded."""
    return run_program


@pytest.fixture
def stack() -> Callable[..., Recording]:
    """Run one of the project's stacks, optionally with config overrides."""

    def _run(name: str, **overrides: Any) -> Recording:
        return run_stack(name, overrides)

    return _run
