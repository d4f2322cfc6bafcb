"""Where the text of a secret value ends up: in a message, in a resource's inputs, in an export.

A value set with `--secret` reaches resources as plain text (a host name in an Ingress, a URL in
Helm values, a CIDR in a rule): the program finds that text wherever it lands and keeps what holds
it secret. No Pulumi import.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Iterator, Mapping
from typing import Any

#: Text shorter than this is not searched for: it would match ordinary words and numbers anywhere.
MIN_SECRET_TEXT = 4


def leaves(value: Any) -> Iterator[Any]:
    """The scalars inside `value`. A mapping's keys are names (`alertSecrets.<key>`), not secrets."""
    if isinstance(value, Mapping):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from leaves(v)
    else:
        yield value


def secret_texts(secrets: Collection[Any]) -> frozenset[str]:
    """Every text of the `secrets` worth searching for: each string inside them, long enough to
    be told from ordinary text."""
    return frozenset(
        leaf for value in secrets for leaf in leaves(value) if isinstance(leaf, str) and len(leaf) >= MIN_SECRET_TEXT
    )


@functools.lru_cache(maxsize=8)  # one set of texts per program: built once, not per resource input
def _forms(texts: frozenset[str]) -> frozenset[str]:
    """Each text as it is written, and as JSON writes it inside a string (a policy, Helm values)."""
    return frozenset(
        form for text in texts for form in (text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1])
    )


def holds_secret(value: Any, texts: Collection[str]) -> bool:
    """Whether any string inside `value` (a key, a value, JSON text such as a policy) contains a secret text."""
    return bool(texts) and _holds(value, _forms(frozenset(texts)))


def _holds(value: Any, forms: frozenset[str]) -> bool:
    if isinstance(value, Mapping):
        return any(_holds(k, forms) or _holds(v, forms) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds(v, forms) for v in value)
    return isinstance(value, str) and any(form in value for form in forms)


def redact(message: str, secrets: Collection[Any], shown_as: str) -> str:
    """`message` with any text of the `secrets` replaced by `shown_as`, however a check printed it:
    the value whole (its repr or JSON) or any string inside it (quoted, or raw if long enough)."""
    texts: set[str] = set()
    for value in secrets:
        if isinstance(value, str | Mapping | list | tuple):
            texts.update((repr(value), json.dumps(value, default=str)))
        for leaf in leaves(value):
            if isinstance(leaf, str) and leaf:
                texts.add(repr(leaf))
    texts |= secret_texts(secrets)
    for text in sorted(texts, key=len, reverse=True):
        message = message.replace(text, shown_as)
    return message
