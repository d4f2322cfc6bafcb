"""The hardstack policy pack: `pulumi preview --policy-pack policies` (run from the project root).

Every policy here wraps a function of `hardstack.tooling.policies`; no rule is written twice. The pack finds
`hardstack.tooling.policies` through the `hardstack` package, which `requirements.txt` installs editable from this
checkout (`-e ..`), so it always runs the rules of the tree it sits in.

Tier: production rules (RDS backups and deletion protection, HTTP listeners that forward,
unprotected stateful resources) apply when the tier is `production` or unknown. It is the policy
config `tier` when set, else the tier the stack settings derive from the stack name (test:
development, preprod: staging, prod: production). A stack with another name gets production rules
unless its policy config says otherwise, e.g. a file given to `--policy-pack-config` with
`{"prod-http-redirects": {"tier": "development"}, ...}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import Policy as EnginePolicy

from hardstack.core.tier import TIERS, Tier
from hardstack.tooling.policies import (
    POLICIES,
    STACK_POLICIES,
    Enforcement,
    Policy,
    StackPolicy,
    StackResource,
    resolve_tier,
    stack_of_urn,
)

PACK_NAME = "hardstack-hardening"

_LEVELS: dict[Enforcement, EnforcementLevel] = {
    "mandatory": EnforcementLevel.MANDATORY,
    "advisory": EnforcementLevel.ADVISORY,
}
# Every policy accepts `tier`; a `--policy-pack-config` file sets it per policy name.
_CONFIG = PolicyConfigSchema(properties={"tier": {"type": "string", "enum": list(TIERS)}})


def _tier(config: Mapping[str, Any], urn: str) -> Tier | None:
    return resolve_tier(config.get("tier"), stack_of_urn(urn))


def resource_validation(policy: Policy) -> ResourceValidation:
    """Run the pure check on the resource the engine hands over; report each message."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        tier = _tier(args.get_config(), args.urn)
        for message in policy.check(args.resource_type, args.props, tier=tier, protect=args.opts.protect):
            report_violation(message, None)

    return validate


def stack_validation(policy: StackPolicy) -> StackValidation:
    """Run the pure stack check over every resource, attaching each finding to its resource."""

    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            StackResource(
                r.resource_type,
                r.props,
                r.opts.protect,
                r.urn,
                {prop: [dep.urn for dep in deps] for prop, deps in r.property_dependencies.items()},
            )
            for r in args.resources
        ]
        tier = _tier(args.get_config(), resources[0].urn if resources else "")
        for finding in policy.check(resources, tier):
            report_violation(finding.message, finding.urn or None)

    return validate


def build_policies() -> list[EnginePolicy]:
    """One engine policy per entry of `POLICIES` and `STACK_POLICIES`, same names and levels."""
    resource: list[EnginePolicy] = [
        ResourceValidationPolicy(
            name=p.name,
            description=p.description,
            validate=resource_validation(p),
            enforcement_level=_LEVELS[p.enforcement],
            config_schema=_CONFIG,
        )
        for p in POLICIES
    ]
    stack: list[EnginePolicy] = [
        StackValidationPolicy(
            name=p.name,
            description=p.description,
            validate=stack_validation(p),
            enforcement_level=_LEVELS[p.enforcement],
            config_schema=_CONFIG,
        )
        for p in STACK_POLICIES
    ]
    return [*resource, *stack]


if __name__ == "__main__":
    # Serves the engine until it stops the pack; importing this module (tests) does not.
    PolicyPack(
        name=PACK_NAME,
        description="hardstack hardening: the rules of hardstack.tooling.policies",
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=build_policies(),
    )
