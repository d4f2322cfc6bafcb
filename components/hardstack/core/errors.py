"""Errors hardstack raises for bad input, before any resource is registered."""

from __future__ import annotations

from typing import Any


class HardstackError(ValueError):
    """A setting or argument was refused. The message names it, shows the value and says what is allowed."""


def refuse(where: str, value: Any, allowed: str) -> HardstackError:
    """Build the one error shape every check uses: `where` = config key or argument name."""
    return HardstackError(f"{where} = {value!r} is refused: {allowed}")
