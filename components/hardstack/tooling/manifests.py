"""Kubernetes manifests rebuilt from what a program registered, and checked against the real schemas.

Creates no resources. `manifests_from` turns the recorded inputs of each Kubernetes custom resource
(type tokens such as `kubernetes:apps/v1:Deployment`; the inputs hold apiVersion, kind, metadata and
spec in the API's camelCase) back into the object the provider would send to the API server.
`validate_manifests` checks each one against the OpenAPI schema of a pinned Kubernetes release in
strict mode, so a misspelt or misplaced field fails a test instead of an apply.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, Protocol

from hardstack.k8s.platform import KUBERNETES_SCHEMA_VERSION

__all__ = ["KUBERNETES_SCHEMA_VERSION", "InvalidManifest", "manifests_from", "validate_manifests"]

#: State keys the mock runtime adds to every resource; no Kubernetes object has them at top level.
_NOT_IN_OBJECTS = frozenset({"id", "urn", "arn", "name", "status"})


class Recorded(Protocol):
    """The parts of a recorded registration this module reads (see hardstack.tooling.testing)."""

    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]


class InvalidManifest(ValueError):
    """One or more manifests do not match the Kubernetes schema; the message lists each problem."""


def is_kubernetes_object(type_token: str) -> bool:
    """True for `kubernetes:<group>/<version>:<Kind>`, false for providers, Helm and YAML components."""
    parts = type_token.split(":")
    # Helm releases (`kubernetes:helm.sh/v3:Release`) are provider-side components, not API objects.
    return len(parts) == 3 and parts[0] == "kubernetes" and "/" in parts[1] and not parts[1].startswith("helm.sh/")


def manifests_from(recording: Iterable[Recorded]) -> list[dict[str, Any]]:
    """Every Kubernetes object in `recording`, as `{apiVersion, kind, metadata, ...}`, in registration order.

    An object registered without `metadata.name` gets its Pulumi name there, as the provider's
    auto-naming starts from it.
    """
    manifests: list[dict[str, Any]] = []
    for resource in recording:
        if not resource.custom or not is_kubernetes_object(resource.type):
            continue
        body = {k: _plain(v) for k, v in resource.inputs.items() if k not in _NOT_IN_OBJECTS}
        metadata = dict(body.get("metadata") or {})
        metadata.setdefault("name", resource.name)
        manifests.append({**body, "metadata": metadata})
    return manifests


#: The engine's marker for a secret value: `{SECRET_SIG: ..., "value": <the value>}`.
_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - a signature key, not a secret


def _plain(value: Any) -> Any:
    """Whole numbers back to ints (the engine carries every number as a float: a port reads 53.0);
    secret wrappers unwrapped to their value."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict) and _SECRET_SIG in value:
        return _plain(value.get("value"))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def describe(manifest: dict[str, Any]) -> str:
    """`Kind/namespace/name`, for messages."""
    meta = manifest.get("metadata") or {}
    where = "/".join(p for p in (meta.get("namespace"), meta.get("name")) if p)
    return f"{manifest.get('kind')}/{where}"


def validate_manifests(
    manifests: Iterable[dict[str, Any]],
    version: str = KUBERNETES_SCHEMA_VERSION,
    *,
    custom_kinds: Collection[str] = (),
) -> None:
    """Raise `InvalidManifest` listing every manifest that fails strict validation for `version`.

    Kinds in `custom_kinds` (custom resources such as ServiceMonitor, whose schemas ship with their
    operator) are skipped; any other kind without a schema is an error, so nothing passes unchecked.
    """
    try:
        import kubernetes_validate  # type: ignore[import-untyped]  # optional: the `validate` extra
    except ImportError:
        raise ImportError("validate_manifests needs kubernetes-validate: pip install 'hardstack[validate]'") from None
    problems: list[str] = []
    for manifest in manifests:
        if manifest.get("kind") in custom_kinds:
            continue
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = ".".join(str(p) for p in err.path) or "<root>"
            problems.append(f"{describe(manifest)}: {path}: {err.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.utils.VersionNotSupportedError) as err:
            problems.append(f"{describe(manifest)}: {err.message}")
    if problems:
        raise InvalidManifest("\n".join(problems))
