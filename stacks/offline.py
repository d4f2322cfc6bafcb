"""Run a stack's program on the mock runtime, from its `Pulumi.<stack>.yaml`: no cloud, no CLI."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hardstack.tooling.testing import MOCK_ACCOUNT, Recording, run_program

if TYPE_CHECKING:  # the sandbox needs its extra: imported only when asked for
    from hardstack.tooling.sandbox import SandboxRun

STACKS_DIR = Path(__file__).resolve().parent
STACKS = ("test", "preprod", "prod")


def stack_config(stack: str) -> dict[str, Any]:
    path = STACKS_DIR / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in STACKS_DIR.glob("Pulumi.*.yaml"))
        raise SystemExit(f"stack {stack!r} has no {path.name}: known stacks are {', '.join(known)}")
    data = yaml.safe_load(path.read_text()) or {}
    config = {key: _offline(value) for key, value in (data.get("config") or {}).items()}
    return _with_mock_account(_with_unset_secrets(config))


def _with_mock_account(config: dict[str, Any]) -> dict[str, Any]:
    """A stack file leaves `aws:allowedAccountIds` to `pulumi config set` (it commits no account id
    that might be someone else's): offline, the stack is pinned to the one account the mocks answer
    as; a real run demands the key in preprod and prod."""
    if "aws:allowedAccountIds" in config:
        return config
    return {**config, "aws:allowedAccountIds": [MOCK_ACCOUNT]}


#: What an encrypted `hardstack:kubeconfig` stands in as offline: a document of the right shape for a
#: cluster nobody can reach (the mocks never connect to it).
OFFLINE_KUBECONFIG = json.dumps(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "offline", "cluster": {"server": "https://offline.invalid"}}],
        "contexts": [{"name": "offline", "context": {"cluster": "offline", "user": "offline"}}],
        "current-context": "offline",
        "users": [{"name": "offline", "user": {}}],
    }
)


def _with_unset_secrets(config: dict[str, Any]) -> dict[str, Any]:
    """Receiver secrets a stack file leaves to `pulumi config set --secret` (it never commits a
    placeholder the CLI cannot decrypt) stand in as `[secret]` offline; a real run demands them.
    An encrypted kubeconfig stands in as a placeholder document."""
    if config.get("hardstack:kubeconfig") == "[secret]":
        config = {**config, "hardstack:kubeconfig": OFFLINE_KUBECONFIG}
    receivers = config.get("hardstack:alertReceivers") or []
    keys = [r["secretKey"] for r in receivers if isinstance(r, dict) and isinstance(r.get("secretKey"), str)]
    if not keys:
        return config
    secrets = dict(config.get("hardstack:alertSecrets") or {})
    return {**config, "hardstack:alertSecrets": {**{k: "[secret]" for k in keys}, **secrets}}


def _offline(value: Any) -> Any:
    """Encrypted values cannot be read offline; a placeholder, at any depth, keeps the program running."""
    if isinstance(value, dict):
        return "[secret]" if set(value) == {"secure"} else {k: _offline(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_offline(v) for v in value]
    return value


#: Runs kept by `reuse_runs`, keyed by stack and the full config the program saw.
_RUNS: dict[tuple[str, str], Recording] | None = None


def reuse_runs(enabled: bool = True) -> None:
    """Keep each mock run of a stack and config for the rest of the process (the tests turn it on).

    A stack's program is deterministic for a given config, so a second `run_stack` with the same
    stack and overrides gets a copy of the first run's recording instead of running the program
    again. Sandbox runs are never kept: they create resources in a fresh account each time.
    """
    global _RUNS
    _RUNS = {} if enabled else None


def run_stack(stack: str, overrides: dict[str, Any] | None = None) -> Recording:
    """Run the stack's program on the mock runtime (`run_sandbox_stack` for an in-process AWS account)."""
    from stacks.program import main

    config = {**stack_config(stack), **(overrides or {})}
    if _RUNS is None:
        return run_program(main, stack=stack, config=config)
    key = (stack, json.dumps(config, sort_keys=True))
    if key not in _RUNS:
        _RUNS[key] = run_program(main, stack=stack, config=config)
    # A copy (a few ms against a second or more for a run): no caller sees another's changes.
    return copy.deepcopy(_RUNS[key])


def run_sandbox_stack(stack: str, overrides: dict[str, Any] | None = None) -> SandboxRun:
    """Run the stack's program with every AWS resource created in an in-process account of its region.

    Returns the recording and the report of what ran through moto; a refusal raises `SandboxError`.
    """
    from hardstack.tooling.sandbox import run_sandbox
    from stacks.program import main

    config = {**stack_config(stack), **(overrides or {})}
    return run_sandbox(main, stack=stack, config=config, quiet=True)
