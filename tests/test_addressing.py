import ipaddress
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack.core.addressing import AZ_SLOTS, MAX_AZS, MIN_AZS, SUBNET_TIERS, plan_addresses, subnet_cidr
from hardstack.core.errors import HardstackError


@st.composite
def vpc_cidrs(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]))
    parent = ipaddress.ip_network(base)
    prefix = draw(st.integers(min_value=max(16, parent.prefixlen), max_value=22))
    count = 2 ** (prefix - parent.prefixlen)
    index = draw(st.integers(min_value=0, max_value=count - 1))
    return str(next(itertools.islice(parent.subnets(new_prefix=prefix), index, None)))


az_counts = st.integers(min_value=MIN_AZS, max_value=MAX_AZS)


@given(vpc_cidrs(), az_counts)
def test_subnets_never_overlap(cidr: str, azs: int) -> None:
    nets = [ipaddress.ip_network(s.cidr) for s in plan_addresses(cidr, azs).subnets]
    for a, b in itertools.combinations(nets, 2):
        assert not a.overlaps(b), (a, b)


@given(vpc_cidrs(), az_counts)
def test_subnets_are_inside_the_vpc(cidr: str, azs: int) -> None:
    vpc = ipaddress.ip_network(cidr)
    for s in plan_addresses(cidr, azs).subnets:
        assert ipaddress.ip_network(s.cidr).subnet_of(vpc)  # type: ignore[arg-type]


@given(vpc_cidrs(), az_counts, az_counts)
def test_adding_azs_never_moves_existing_subnets(cidr: str, a: int, b: int) -> None:
    small, large = sorted((a, b))
    before = set(plan_addresses(cidr, small).subnets)
    after = set(plan_addresses(cidr, large).subnets)
    assert before <= after


@given(vpc_cidrs(), az_counts)
def test_adding_a_tier_never_moves_existing_subnets(cidr: str, azs: int) -> None:
    without_isolated = set(plan_addresses(cidr, azs, ("public", "private")).subnets)
    assert without_isolated <= set(plan_addresses(cidr, azs).subnets)


@given(vpc_cidrs())
def test_every_reserved_slot_fits_and_subnets_are_valid_aws_sizes(cidr: str) -> None:
    vpc = ipaddress.ip_network(cidr)
    slots = [subnet_cidr(vpc, t, i) for t in SUBNET_TIERS for i in range(AZ_SLOTS)]  # type: ignore[arg-type]
    assert all(s.subnet_of(vpc) and 16 <= s.prefixlen <= 28 for s in slots)  # type: ignore[arg-type]
    assert len({s for s in slots}) == len(slots)


def test_usable_ips_excludes_the_five_aws_reserves() -> None:
    plan = plan_addresses("10.0.0.0/16", 3)
    assert [s.usable_ips for s in plan.of_tier("private")] == [4091, 4091, 4091]
    assert [s.usable_ips for s in plan.of_tier("public")] == [1019, 1019, 1019]


def test_plan_is_fixed_for_a_known_vpc() -> None:
    plan = plan_addresses("10.0.0.0/16", 2).as_dict()
    assert [s["cidr"] for s in plan["private"]] == ["10.0.0.0/20", "10.0.16.0/20"]
    assert [s["cidr"] for s in plan["public"]] == ["10.0.128.0/22", "10.0.132.0/22"]
    assert [s["cidr"] for s in plan["isolated"]] == ["10.0.160.0/22", "10.0.164.0/22"]


@pytest.mark.parametrize(
    ("cidr", "fragment"),
    [
        ("10.0.0.0/26", "too small for the plan"),
        ("8.8.0.0/16", "RFC 1918"),
        ("10.0.0.1/16", "no host bits"),
        ("banana", "CIDR notation"),
        ("10.0.0.0/12", "at most /16"),
        ("fd00::/48", "RFC 1918"),
    ],
)
def test_bad_vpc_cidrs_are_refused_with_the_value(cidr: str, fragment: str) -> None:
    with pytest.raises(HardstackError) as err:
        plan_addresses(cidr, 2)
    assert fragment in str(err.value) and repr(cidr) in str(err.value)


@pytest.mark.parametrize("azs", [0, 1, 7, True])
def test_az_count_outside_two_to_six_is_refused(azs: int) -> None:
    with pytest.raises(HardstackError, match="from 2 to 6"):
        plan_addresses("10.0.0.0/16", azs)
