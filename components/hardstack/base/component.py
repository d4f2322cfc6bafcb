"""The base of every hardstack component: options given to it reach every child.

Creates no resources. Pulumi passes `protect` and providers from a parent to its children, and the
engine applies a parent's `transforms` to them; `retain_on_delete` is not inherited, so `child()`
carries it. Stateful children take `kept(protect)`: `None` inherits, `True`/`False` is what the
component's tier resolved (see `hardstack.core.tier.resolve_protect`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from hardstack.core.naming import Naming


class Component(pulumi.ComponentResource):
    """A component whose children inherit the options given to it."""

    def __init__(self, type_: str, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(type_, name, None, opts)
        self._given_retain = opts.retain_on_delete if opts else None
        self._given_protect = opts.protect if opts else None

    def child(self, **options: Any) -> pulumi.ResourceOptions:
        """Options of a child: parented here, with the component's `retain_on_delete` unless overridden."""
        options.setdefault("retain_on_delete", self._given_retain)
        return pulumi.ResourceOptions(parent=self, **options)

    def kept(self, protect: bool | None, **options: Any) -> pulumi.ResourceOptions:
        """Options of a stateful child: protected as resolved (None inherits) and retained while protected."""
        effective = self._given_protect if protect is None else protect
        options.setdefault("retain_on_delete", True if effective else self._given_retain)
        return self.child(protect=protect, **options)


IdList = pulumi.Input[Sequence[pulumi.Input[str]]]
"""A list of ids as users have it: a plain list (of strings or Outputs) or one `Output[list[str]]`
(what a StackReference returns)."""


def known_length(ids: object) -> int | None:
    """How many ids a plain list holds; None when it is an Output, whose length is known only at deploy."""
    return len(ids) if isinstance(ids, list | tuple) else None


def id_list(ids: IdList) -> pulumi.Input[Sequence[pulumi.Input[str]]]:
    """Pass an id list on to a resource argument as it came, a copy of a plain list."""
    return list(ids) if isinstance(ids, list | tuple) else ids


def join_ids(*parts: IdList) -> pulumi.Output[list[str]]:
    """Several id lists (plain or Output) as one Output list."""
    return pulumi.Output.all(*[pulumi.Output.from_input(p) for p in parts]).apply(
        lambda lists: [i for sub in lists for i in sub]
    )


def stack_naming() -> Naming:
    """The default naming of the running program: its Pulumi project and stack."""
    return Naming.of(pulumi.get_project(), pulumi.get_stack())
