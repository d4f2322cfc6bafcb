"""Keep pods of namespaces without their own egress rules away from some CIDRs (the database subnets).

Creates, per namespace: k8s.networking.v1.NetworkPolicy `policy_name` selecting every pod,
allowing egress to every other pod and to 0.0.0.0/0 except the guarded CIDRs.

Why: the cluster's nodes are admitted to the database by security group, and every pod egresses
through its node's group. The app's namespace denies everything and lets out only its database
flow; namespaces the cluster and its add-ons run in (kube-system, default, monitoring) have no
egress policy, so without this one any of their pods reaches PostgreSQL. NetworkPolicies only add
allowances: apply this to namespaces with no other egress policy, never to a default-deny
namespace (it would open it). Pods on the host network are not subject to NetworkPolicies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from hardstack.base.component import Component
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.k8s.platform import validate_dns_label


@documented
@dataclass(frozen=True, kw_only=True)
class EgressGuardArgs:
    namespaces: Sequence[str]
    """Namespaces that exist and have no egress policy of their own. Required."""
    cidrs: Sequence[str]
    """IPv4 CIDRs their pods may never reach, e.g. the database subnets. Required."""
    policy_name: str = "deny-egress-to-database"
    """Name of the NetworkPolicy in each namespace. Default: deny-egress-to-database."""

    def __post_init__(self) -> None:
        if isinstance(self.namespaces, str) or not self.namespaces:
            raise refuse("namespaces", self.namespaces, "a non-empty list of namespace names")
        if len(set(self.namespaces)) != len(self.namespaces):
            raise refuse("namespaces", list(self.namespaces), "each namespace once")
        for namespace in self.namespaces:
            validate_dns_label(namespace, "namespaces")
        validate_dns_label(self.policy_name, "policy_name")
        if isinstance(self.cidrs, str) or not self.cidrs:
            raise refuse("cidrs", self.cidrs, "a non-empty list of IPv4 CIDRs")
        for cidr in self.cidrs:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except (TypeError, ValueError):
                raise refuse("cidrs", cidr, "IPv4 CIDRs such as 10.0.32.0/20 (host bits zero)") from None
            if network.version != 4 or network.prefixlen == 0:
                raise refuse("cidrs", cidr, "an IPv4 range narrower than the whole address space")


class EgressGuard(Component):
    """Pass the Kubernetes provider through `opts`."""

    def __init__(self, name: str, args: EgressGuardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate_dns_label(name, "name")
        super().__init__("hardstack:kubernetes:EgressGuard", name, opts)
        everything_else = k8s.networking.v1.NetworkPolicyEgressRuleArgs(
            to=[
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0", except_=list(args.cidrs))
                ),
                # Pod addresses are VPC addresses here; some implementations match pods by selector only.
                k8s.networking.v1.NetworkPolicyPeerArgs(namespace_selector=k8s.meta.v1.LabelSelectorArgs()),
            ]
        )
        for namespace in args.namespaces:  # named by namespace: reordering renames nothing
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{namespace}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=args.policy_name, namespace=namespace),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Egress"], egress=[everything_else]
                ),
                opts=self.child(),
            )
        self.register_outputs({})
