"""Secret text stays secret wherever it lands: a stack transform and a marker for exports.

Creates no resources. A program that takes values set with `--secret` as plain strings (to check
them, to build names, rules and Helm values from them) registers `keep_secret(texts)` once, before
its first resource: every input of every resource holding one of the texts is marked secret, so
the engine keeps it encrypted in the state and masks it in previews. `secret_if_held` does the same
for a stack output.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pulumi
from pulumi.runtime.rpc import is_rpc_secret

from hardstack.core.secrets import holds_secret


def secret_inputs(props: dict[str, Any], texts: Collection[str]) -> dict[str, Any] | None:
    """`props` with every input that holds a secret text marked secret, or None if none does."""
    held = [key for key, value in props.items() if not is_rpc_secret(value) and holds_secret(value, texts)]
    if not held:
        return None
    return {**props, **{key: pulumi.Output.secret(props[key]) for key in held}}


def keep_secret(texts: Collection[str]) -> pulumi.ResourceTransform:
    """A transform for `pulumi.runtime.register_resource_transform`: inputs holding any of `texts`
    become secret inputs, whatever component built them."""
    frozen = frozenset(texts)

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        props = secret_inputs(dict(args.props), frozen)
        return None if props is None else pulumi.ResourceTransformResult(props, args.opts)

    return transform


def secret_if_held(value: Any, texts: Collection[str]) -> pulumi.Output[Any]:
    """`value` as an Output, secret once its resolved value holds any of `texts`."""
    frozen = frozenset(texts)
    return pulumi.Output.from_input(value).apply(lambda v: pulumi.Output.secret(v) if holds_secret(v, frozen) else v)
