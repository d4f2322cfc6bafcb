"""Append-only VPC address plan: pure functions, no resources.

Layout of the VPC range (N = VPC prefix length):

    first half            private tier, 8 AZ slots of /N+4  (workloads, EKS pods: the big tier)
    5th eighth            public tier,  8 AZ slots of /N+6
    6th eighth            isolated tier, 8 AZ slots of /N+6  (data, no route out)
    7th and 8th eighths   reserved for tiers added later

Each (tier, AZ index) has a fixed slot and slots exist for more AZs than any region has, so adding
an AZ or a tier never moves an existing subnet (a moved subnet is a replaced subnet).

AZ ids (`euw3-az1`) name the same physical zone in every account, where AZ names (`eu-west-3a`) are
mapped per account: `validate_az_ids` checks pinned ids against the region without a lookup.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from hardstack.core.errors import refuse
from hardstack.core.zones import az_id_prefix

SubnetTier = Literal["public", "private", "isolated"]
SUBNET_TIERS: tuple[SubnetTier, ...] = ("public", "private", "isolated")

#: AZ slots reserved per tier: more than the 6 AZs we allow, so the plan never needs rework.
AZ_SLOTS = 8
MIN_AZS, MAX_AZS = 2, 6
#: AWS keeps 5 addresses of every subnet (network, router, DNS, future, broadcast).
AWS_RESERVED_PER_SUBNET = 5
#: AWS VPC sizes are /16 to /28; our smallest subnet (/N+6) must still be a valid /28 or larger.
VPC_PREFIX_RANGE = (16, 22)

_RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


@dataclass(frozen=True)
class _TierSlot:
    block_prefix_diff: int  # the tier block's size relative to the VPC
    block_index: int  # which block of that size
    subnet_prefix_diff: int  # each AZ subnet's size relative to the VPC


_LAYOUT: dict[SubnetTier, _TierSlot] = {
    "private": _TierSlot(1, 0, 4),
    "public": _TierSlot(3, 4, 6),
    "isolated": _TierSlot(3, 5, 6),
}


@dataclass(frozen=True, order=True)
class SubnetPlan:
    tier: SubnetTier
    az_index: int
    cidr: str

    @property
    def usable_ips(self) -> int:
        return ipaddress.ip_network(self.cidr).num_addresses - AWS_RESERVED_PER_SUBNET


@dataclass(frozen=True)
class AddressPlan:
    vpc_cidr: str
    az_count: int
    subnets: tuple[SubnetPlan, ...]

    def of_tier(self, tier: SubnetTier) -> tuple[SubnetPlan, ...]:
        return tuple(s for s in self.subnets if s.tier == tier)

    def as_dict(self) -> dict[str, list[dict[str, object]]]:
        """Plain data for stack outputs: tier -> [{az_index, cidr, usable_ips}]."""
        return {
            tier: [{"az_index": s.az_index, "cidr": s.cidr, "usable_ips": s.usable_ips} for s in self.of_tier(tier)]
            for tier in SUBNET_TIERS
        }


def validate_vpc_cidr(cidr: str, where: str = "vpc_cidr") -> ipaddress.IPv4Network:
    """A private (RFC 1918) IPv4 network of /16 to /22, or a HardstackError that says why not."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except (ValueError, TypeError):
        raise refuse(where, cidr, "an IPv4 network in CIDR notation with no host bits, e.g. 10.20.0.0/16") from None
    if not isinstance(net, ipaddress.IPv4Network) or not any(net.subnet_of(p) for p in _RFC1918):
        raise refuse(where, cidr, "a private RFC 1918 range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
    lo, hi = VPC_PREFIX_RANGE
    if net.prefixlen > hi:
        raise refuse(
            where,
            cidr,
            f"too small for the plan ({len(SUBNET_TIERS)} tiers x {AZ_SLOTS} AZ slots, smallest subnet /28): "
            f"use a /{hi} or larger",
        )
    if net.prefixlen < lo:
        raise refuse(where, cidr, f"AWS VPCs are at most /{lo}: use a /{lo} to /{hi}")
    return net


def validate_az_count(az_count: int, where: str = "az_count") -> int:
    if isinstance(az_count, bool) or not isinstance(az_count, int) or not MIN_AZS <= az_count <= MAX_AZS:
        raise refuse(where, az_count, f"a whole number from {MIN_AZS} to {MAX_AZS}")
    return az_count


def subnet_cidr(vpc: ipaddress.IPv4Network, tier: SubnetTier, az_index: int) -> ipaddress.IPv4Network:
    """The fixed slot of (tier, az_index): depends on nothing else, which is what makes it append-only."""
    slot = _LAYOUT[tier]
    block_size = vpc.num_addresses >> slot.block_prefix_diff
    block_start = int(vpc.network_address) + slot.block_index * block_size
    subnet_size = vpc.num_addresses >> slot.subnet_prefix_diff
    start = block_start + az_index * subnet_size
    return ipaddress.IPv4Network((start, vpc.prefixlen + slot.subnet_prefix_diff))


def plan_addresses(vpc_cidr: str, az_count: int, tiers: tuple[SubnetTier, ...] = SUBNET_TIERS) -> AddressPlan:
    vpc = validate_vpc_cidr(vpc_cidr)
    validate_az_count(az_count)
    subnets = tuple(SubnetPlan(tier, i, str(subnet_cidr(vpc, tier, i))) for tier in tiers for i in range(az_count))
    return AddressPlan(str(vpc), az_count, subnets)


def validate_az_ids(ids: object, region: str, az_count: int, where: str = "availability_zone_ids") -> tuple[str, ...]:
    """Pinned AZ ids: ids of `region`'s zones, each once, at least `az_count` of them (the first are used)."""
    prefix = az_id_prefix(region)
    # Offline, only the form: the live list of the account's zones is checked where a deploy runs.
    pattern = re.compile(rf"^{prefix}-az\d+$" if prefix else r"^[a-z0-9]+-az\d+$")
    form = f"{prefix}-az<n>" if prefix else "<prefix>-az<n>"
    example = f"{prefix}-az1" if prefix else "<prefix>-az1"
    if isinstance(ids, str) or not isinstance(ids, Sequence) or not ids:
        raise refuse(where, ids, f"a list of the AZ ids of {region}, such as [{example}, ...]")
    shown = list(ids)
    for value in shown:
        if not isinstance(value, str) or not pattern.match(value):
            raise refuse(where, shown, f"AZ ids of {region} ({form}): {value!r} is not one")
    if len(set(shown)) != len(shown):
        twice = sorted({v for v in shown if shown.count(v) > 1})
        raise refuse(where, shown, f"each AZ id once: {', '.join(twice)} appears more than once")
    if len(shown) < az_count:
        raise refuse(where, shown, f"at least {az_count} AZ ids (the AZ count): the first {az_count} are used")
    return tuple(shown)


def check_az_ids_offered(ids: Sequence[str], offered: Sequence[str], region: str, where: str) -> None:
    """Every pinned id is one of the zones the region offers this account (`offered`, looked up live)."""
    missing = [i for i in ids if i not in offered]
    if missing:
        raise refuse(
            where,
            list(ids),
            f"AZ ids this account has in {region}: {', '.join(offered)} ({', '.join(missing)} is not one)",
        )


def check_az_ids_kept(deployed: Mapping[int, str], ids: Sequence[str], where: str) -> None:
    """The AZ id of every deployed subnet index stays at its place in `ids` (`deployed`: index -> AZ id).

    Subnet i of each tier is in the i-th id, and a subnet's AZ is ForceNew: a reorder, removal or
    replacement of a deployed id would replace subnets whose CIDR the old ones still hold.
    """
    moved = [i for i in sorted(deployed) if i >= len(ids) or ids[i] != deployed[i]]
    if moved:
        old = [deployed[i] for i in sorted(deployed)]
        raise refuse(
            where,
            list(ids),
            f"{old} first, in this order, the AZ ids the deployed subnets are in (a subnet cannot move to another AZ: "
            "it would be replaced); append new AZ ids at the end",
        )
