import ipaddress
import itertools

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hardstack.core.addressing import (
    AZ_SLOTS,
    MAX_AZS,
    MIN_AZS,
    SUBNET_TIERS,
    az_id_prefix,
    check_az_ids_kept,
    check_az_ids_offered,
    plan_addresses,
    subnet_cidr,
    validate_az_ids,
)
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


@given(vpc_cidrs(), st.integers(min_value=MIN_AZS, max_value=MAX_AZS - 1))
def test_one_more_az_keeps_every_subnet_unchanged_and_adds_only_the_new_azs(cidr: str, azs: int) -> None:
    before = set(plan_addresses(cidr, azs).subnets)
    after = set(plan_addresses(cidr, azs + 1).subnets)
    assert before <= after  # same tier, same AZ index, same CIDR
    assert {(s.tier, s.az_index) for s in after - before} == {(t, azs) for t in SUBNET_TIERS}


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


@pytest.mark.parametrize(
    ("region", "prefix"),
    [
        ("eu-west-3", "euw3"),
        ("us-east-1", "use1"),
        ("ap-northeast-1", "apne1"),
        ("ap-southeast-2", "apse2"),
        ("ca-central-1", "cac1"),
        ("us-gov-west-1", "usgw1"),
        ("cn-northwest-1", "cnnw1"),
        ("us-iso-east-1", None),  # outside the scheme: only the live list checks its ids
    ],
)
def test_az_id_prefix_follows_the_region_code(region: str, prefix: str | None) -> None:
    assert az_id_prefix(region) == prefix


REGIONS = ["eu-west-3", "us-east-1", "ap-northeast-1", "ap-southeast-2", "us-gov-west-1", "sa-east-1"]


@st.composite
def pinned_ids(draw: st.DrawFn) -> tuple[str, list[str], int]:
    region = draw(st.sampled_from(REGIONS))
    numbers = draw(st.lists(st.integers(min_value=1, max_value=9), min_size=MIN_AZS, max_size=MAX_AZS, unique=True))
    count = draw(st.integers(min_value=MIN_AZS, max_value=len(numbers)))
    return region, [f"{az_id_prefix(region)}-az{n}" for n in numbers], count


@given(pinned_ids())
def test_distinct_ids_of_the_region_are_kept_in_their_order(case: tuple[str, list[str], int]) -> None:
    region, ids, count = case
    assert validate_az_ids(ids, region, count) == tuple(ids)


@given(pinned_ids(), st.data())
def test_an_id_given_twice_is_refused(case: tuple[str, list[str], int], data: st.DataObject) -> None:
    region, ids, count = case
    twice = [*ids, data.draw(st.sampled_from(ids))]
    with pytest.raises(HardstackError, match="each AZ id once"):
        validate_az_ids(twice, region, count)


@given(pinned_ids(), st.sampled_from(REGIONS))
def test_ids_of_another_region_are_refused(case: tuple[str, list[str], int], other: str) -> None:
    region, ids, count = case
    assume(other != region)
    with pytest.raises(HardstackError, match=f"AZ ids of {other} \\({az_id_prefix(other)}-az<n>\\)"):
        validate_az_ids(ids, other, count)


@given(pinned_ids())
def test_fewer_ids_than_the_az_count_are_refused(case: tuple[str, list[str], int]) -> None:
    region, ids, _ = case
    with pytest.raises(HardstackError, match=f"at least {len(ids) + 1} AZ ids"):
        validate_az_ids(ids, region, len(ids) + 1)


@pytest.mark.parametrize("ids", ["euw3-az1", [], ("euw3-az1", 2)])
def test_what_is_not_a_list_of_ids_is_refused_with_the_value(ids: object) -> None:
    with pytest.raises(HardstackError) as err:
        validate_az_ids(ids, "eu-west-3", 2, "hardstack:azIds")
    assert str(err.value).startswith("hardstack:azIds = ")


def test_an_id_the_account_does_not_have_is_refused_with_what_it_has() -> None:
    with pytest.raises(HardstackError) as err:
        check_az_ids_offered(["euw3-az1", "euw3-az4"], ["euw3-az1", "euw3-az2", "euw3-az3"], "eu-west-3", "azs")
    assert str(err.value) == (
        "azs = ['euw3-az1', 'euw3-az4'] is refused: AZ ids this account has in eu-west-3: "
        "euw3-az1, euw3-az2, euw3-az3 (euw3-az4 is not one)"
    )
    check_az_ids_offered(["euw3-az3", "euw3-az1"], ["euw3-az1", "euw3-az2", "euw3-az3"], "eu-west-3", "azs")


ZONE_IDS = [f"euw3-az{n}" for n in range(1, 7)]


@given(
    st.permutations(ZONE_IDS).flatmap(lambda ids: st.tuples(st.just(ids), st.integers(0, 6))),
    st.lists(st.sampled_from(ZONE_IDS), max_size=6, unique=True),
)
def test_az_ids_are_kept_exactly_when_the_deployed_ones_stay_a_prefix(
    deployed_ids: tuple[list[str], int], wanted: list[str]
) -> None:
    ids, count = deployed_ids
    deployed = dict(enumerate(ids[:count]))  # subnet i of each tier in the i-th deployed id
    if wanted[:count] == ids[:count]:
        check_az_ids_kept(deployed, wanted, "hardstack:azIds")  # the same list, or more appended
        return
    with pytest.raises(HardstackError) as err:
        check_az_ids_kept(deployed, wanted, "hardstack:azIds")
    assert str(err.value).startswith(f"hardstack:azIds = {wanted!r} is refused: {ids[:count]!r} first")
    assert str(err.value).endswith("append new AZ ids at the end")


@given(st.permutations(ZONE_IDS), st.integers(0, 6))
def test_appending_to_the_deployed_az_ids_is_always_kept(ids: list[str], count: int) -> None:
    check_az_ids_kept(dict(enumerate(ids[:count])), ids, "hardstack:azIds")
