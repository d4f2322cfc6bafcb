"""Errors hardstack raises for bad input, before any resource is registered.

While `keeping_secret(keys)` is in force, `refuse` shows `[secret]` instead of the value of any of
those keys (or of anything inside one, `key.part`, `key[0]`), so a message never prints a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

#: What a message shows in place of a secret value.
REDACTED = "[secret]"

_SECRET_KEYS: ContextVar[frozenset[str]] = ContextVar("hardstack_secret_keys", default=frozenset())


class HardstackError(ValueError):
    """A setting or argument was refused. The message names it, shows the value and says what is allowed."""


@contextmanager
def keeping_secret(keys: Iterable[str]) -> Iterator[None]:
    """Within the block, refusals of `keys` (and of their parts) show `[secret]` for the value."""
    token = _SECRET_KEYS.set(_SECRET_KEYS.get() | frozenset(keys))
    try:
        yield
    finally:
        _SECRET_KEYS.reset(token)


def is_secret(where: str) -> bool:
    """`where` is a secret key, or a part of one (`hardstack:alertSecrets.x`, `hardstack:tags key`)."""
    return any(where == key or where.startswith((f"{key}.", f"{key}[", f"{key} ")) for key in _SECRET_KEYS.get())


def shown(where: str, value: Any) -> str:
    """How a message shows the value of `where`: its repr, or `[secret]`."""
    return REDACTED if is_secret(where) else repr(value)


def refuse(where: str, value: Any, allowed: str) -> HardstackError:
    """Build the one error shape every check uses: `where` = config key or argument name."""
    return HardstackError(f"{where} = {shown(where, value)} is refused: {allowed}")
