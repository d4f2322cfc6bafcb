"""Deployment tiers: what production safety a component enforces, chosen apart from the stack's name.

No Pulumi import. A stack named `prod`, `eu-prod` or `production` picks its tier in its settings;
components read only the tier, never the stack or environment name.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from hardstack.core.errors import refuse


class Tier(StrEnum):
    """How much safety a component enforces.

    - `development`: anything goes that AWS accepts; teardown is easy.
    - `staging`: like production for data (backups, HTTPS), teardown still possible.
    - `production`: protection, backups, deletion protection, final snapshots, flow logs, TLS-only
      listeners and minimum sizes are enforced; turning one off is refused.
    """

    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"

    @property
    def is_production(self) -> bool:
        return self is Tier.PRODUCTION

    @property
    def serves_https_only(self) -> bool:
        """Staging and production serve HTTPS only; development may serve plain HTTP."""
        return self is not Tier.DEVELOPMENT


TIERS: tuple[str, ...] = tuple(t.value for t in Tier)
#: The tier a stack of one of these names gets when its settings name none.
STACK_TIERS: Mapping[str, Tier] = MappingProxyType(
    {"test": Tier.DEVELOPMENT, "preprod": Tier.STAGING, "prod": Tier.PRODUCTION}
)


def parse_tier(value: object, where: str = "tier") -> Tier:
    """A `Tier` from a tier or its name; anything else is refused naming `where`."""
    if isinstance(value, Tier):
        return value
    if isinstance(value, str) and value in TIERS:
        return Tier(value)
    raise refuse(where, value, f"one of {', '.join(TIERS)}")


def resolve_protect(tier: Tier, protect: bool | None, where: str = "protect") -> bool | None:
    """The `protect` option for stateful children: forced on in production, else as asked.

    `None` means inherit: the children take `protect` from the options given to the component.
    """
    if not tier.is_production:
        return protect
    if protect is False:
        raise refuse(where, False, "production keeps stateful resources protected (use a development or staging tier)")
    return True


def require_in_production(tier: Tier, ok: bool, where: str, value: object, allowed: str) -> None:
    """Refuse `value` at `where` in production unless `ok`."""
    if tier.is_production and not ok:
        raise refuse(where, value, f"{allowed} in production")
