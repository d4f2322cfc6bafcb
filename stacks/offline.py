"""Run a stack's program on the mock runtime, from its `Pulumi.<stack>.yaml`: no cloud, no CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hardstack.tooling.testing import Recording, run_program

STACKS_DIR = Path(__file__).resolve().parent
STACKS = ("test", "preprod", "prod")


def stack_config(stack: str) -> dict[str, Any]:
    path = STACKS_DIR / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS_DIR.glob("Pulumi.*.yaml"))
        raise SystemExit(f"stack {stack!r} has no {path.name}: known stacks are {', '.join(known)}")
    data = yaml.safe_load(path.read_text()) or {}
    return {key: _offline(value) for key, value in (data.get("config") or {}).items()}


def _offline(value: Any) -> Any:
    """Encrypted values cannot be read offline; a placeholder, at any depth, keeps the program running."""
    if isinstance(value, dict):
        return "[secret]" if set(value) == {"secure"} else {k: _offline(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_offline(v) for v in value]
    return value


def run_stack(stack: str, overrides: dict[str, Any] | None = None, *, sandbox: bool = False) -> Recording:
    """Run the stack's program on the mock runtime; with `sandbox`, inside an in-process AWS account."""
    from stacks.program import main

    config = {**stack_config(stack), **(overrides or {})}
    if not sandbox:
        return run_program(main, stack=stack, config=config)
    from hardstack.tooling.sandbox import SandboxMocks

    with SandboxMocks(str(config.get("aws:region", "eu-west-3"))) as mocks:
        return run_program(main, stack=stack, config=config, mocks=mocks)
