"""Hardened security group: deny by default, one standalone rule resource per allowed flow.

Creates: aws.ec2.SecurityGroup, aws.vpc.SecurityGroupIngressRule / aws.vpc.SecurityGroupEgressRule
per flow (named `<group>-in-<flow key>` / `<group>-out-<flow key>`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.rules import Direction, Flow, Peer, Port, check_description

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _check_flows(flows: Sequence[Flow], direction: Direction, where: str) -> None:
    seen: dict[str, int] = {}
    for i, flow in enumerate(flows):
        flow.refuse_world_open(direction, f"{where}[{i}]")
        if flow.key in seen:
            raise refuse(
                f"{where}[{i}]",
                flow.key,
                f"each flow once: the same port and peer are already at {where}[{seen[flow.key]}]",
            )
        seen[flow.key] = i


@documented
@dataclass(frozen=True, kw_only=True)
class SecurityGroupArgs:
    vpc_id: pulumi.Input[str]
    """VPC that owns the group."""
    description: str
    """What the group is for (changing it replaces the group, so keep it stable). EC2 accepts ASCII
    letters, digits, spaces and ._-:/()#,@[]+=&;{}!$* only; flow descriptions follow the same rule."""
    ingress: Sequence[Flow] = ()
    """Allowed inbound flows. Default: none, all inbound is denied."""
    egress: Sequence[Flow] = ()
    """Allowed outbound flows. Default: none, all outbound is denied (AWS's allow-all is removed)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        check_description(self.description, "description")
        _check_flows(self.ingress, "ingress", "ingress")
        _check_flows(self.egress, "egress", "egress")


class SecurityGroup(pulumi.ComponentResource):
    """Attach `id` to instances, node groups, load balancers and databases."""

    id: pulumi.Output[str]

    def __init__(self, name: str, args: SecurityGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not _NAME.match(name):
            raise refuse(
                "SecurityGroup name",
                name,
                "lower-case letters, digits and '-', at most 63 (used in rule names)",
            )
        super().__init__("hardstack:network:SecurityGroup", name, None, opts)
        self._name = name
        self._tags = dict(args.tags)
        self._keys: set[str] = set()
        self._group = aws.ec2.SecurityGroup(
            name,
            vpc_id=args.vpc_id,
            description=f"hardstack {name}: {args.description}"[:255],
            # Terraform-style providers drop AWS's default allow-all egress on create; with no
            # inline rules here, only the standalone rules below exist.
            revoke_rules_on_delete=True,
            tags={**self._tags, "Name": name},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.id = self._group.id
        for flow in args.ingress:
            self._rule("ingress", flow)
        for flow in args.egress:
            self._rule("egress", flow)
        self.register_outputs({"id": self.id})

    @property
    def peer(self) -> Peer:
        """This group as the peer of another group's flow."""
        return Peer.group(self.id, self._name)

    def _rule(self, direction: Direction, flow: Flow) -> None:
        flow.refuse_world_open(direction, f"{self._name} {direction}")
        suffix = "in" if direction == "ingress" else "out"
        rule_name = f"{self._name}-{suffix}-{flow.key}"
        if rule_name in self._keys:
            return  # the same flow asked twice (e.g. by two allow_from calls) is one rule
        self._keys.add(rule_name)
        kwargs = {
            "security_group_id": self._group.id,
            "description": flow.description,
            "tags": {**self._tags, "Name": rule_name},
            **flow.port.rule_args(),
            **flow.peer.rule_args(self._group.id),
        }
        opts = pulumi.ResourceOptions(parent=self)
        if direction == "ingress":
            aws.vpc.SecurityGroupIngressRule(rule_name, **kwargs, opts=opts)
        else:
            aws.vpc.SecurityGroupEgressRule(rule_name, **kwargs, opts=opts)

    def allow_ingress(self, flow: Flow) -> None:
        self._rule("ingress", flow)

    def allow_egress(self, flow: Flow) -> None:
        self._rule("egress", flow)

    def allow_from(self, other: SecurityGroup, port: Port, description: str | None = None) -> None:
        """`db.allow_from(app, Port.POSTGRES)`: ingress here from `other` and egress there to here."""
        text = description or f"{other._name} to {self._name} on {port.key}"
        self._rule("ingress", Flow(port, other.peer, text))
        other._rule("egress", Flow(port, self.peer, text))
