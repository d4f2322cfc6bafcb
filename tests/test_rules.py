import ipaddress
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack.core.errors import HardstackError
from hardstack.core.rules import ADMIN_PORTS, Flow, Peer, Port, check_description, is_public_cidr

ports = st.integers(min_value=0, max_value=65535)


def test_named_ports_are_the_well_known_ones() -> None:
    assert (Port.HTTPS.protocol, Port.HTTPS.from_port, Port.HTTPS.to_port) == ("tcp", 443, 443)
    assert Port.POSTGRES.key == "tcp-5432"
    assert Port.DNS_UDP.key == "udp-53"
    assert Port.ALL.key == "all"


@pytest.mark.parametrize("bad", [-1, 65536, 70000])
def test_port_outside_the_range_is_refused(bad: int) -> None:
    with pytest.raises(HardstackError, match=r"0 to 65535") as err:
        Port.tcp(bad)
    assert str(bad) in str(err.value)


def test_port_range_with_from_above_to_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"'9000-8000'.*from_port must be <= to_port"):
        Port.tcp_range(9000, 8000)


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(HardstackError, match="protocol"):
        Port("sctp", 1, 1)  # type: ignore[arg-type]


def test_all_protocol_rule_args_carry_no_ports() -> None:
    assert Port.ALL.rule_args() == {"ip_protocol": "-1"}
    assert Port.tcp_range(8000, 8080).rule_args() == {"ip_protocol": "tcp", "from_port": 8000, "to_port": 8080}


@given(ports, ports)
def test_port_keys_identify_the_range(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    port = Port.tcp_range(lo, hi)
    assert port.key == (f"tcp-{lo}" if lo == hi else f"tcp-{lo}-{hi}")
    assert port.covers(lo) and port.covers(hi) and not port.covers(hi + 1)


def test_peer_keys_are_derived_from_what_they_name() -> None:
    assert Peer.cidr("10.0.0.0/16").key == "cidr-10-0-0-0-16"
    assert Peer.any_ipv6().key == "cidr-0"
    assert Peer.group("sg-123", "app").key == "sg-app"
    assert Peer.prefix_list("pl-0123abcd").key == "pl-0123abcd"
    assert Peer.self_().key == "self"


def test_peer_with_host_bits_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"'10\.0\.0\.1/16'"):
        Peer.cidr("10.0.0.1/16")


def test_ipv6_peers_use_the_ipv6_argument() -> None:
    assert Peer.cidr("2001:db8::/32").rule_args("sg") == {"cidr_ipv6": "2001:db8::/32"}
    assert Peer.cidr("10.1.0.0/16").rule_args("sg") == {"cidr_ipv4": "10.1.0.0/16"}


def test_flow_needs_a_description() -> None:
    with pytest.raises(HardstackError, match="description"):
        Flow(Port.HTTPS, Peer.any_ipv4(), "  ")


@pytest.mark.parametrize("port", [Port.HTTPS, Port.HTTP])
def test_web_ports_may_be_open_to_the_internet(port: Port) -> None:
    Flow(port, Peer.any_ipv4(), "web").refuse_world_open("ingress")
    Flow(port, Peer.any_ipv6(), "web").refuse_world_open("ingress")


def test_ssh_from_the_internet_is_refused_and_named() -> None:
    with pytest.raises(HardstackError, match=r"tcp-22 from 0.0.0.0/0 \(admin port 22 \(SSH\)\).*SSM"):
        Flow(Port.SSH, Peer.any_ipv4(), "ssh").refuse_world_open("ingress")


def test_all_protocols_from_the_internet_are_refused() -> None:
    with pytest.raises(HardstackError, match="all-protocol"):
        Flow(Port.ALL, Peer.any_ipv6(), "everything").refuse_world_open("ingress")


@given(ports.filter(lambda p: p not in (80, 443)), st.sampled_from(["0.0.0.0/0", "::/0"]))
def test_any_other_port_from_the_internet_is_refused(port: int, world: str) -> None:
    with pytest.raises(HardstackError):
        Flow(Port.tcp(port), Peer.cidr(world), "x").refuse_world_open("ingress")


@given(st.sampled_from(sorted(ADMIN_PORTS)))
def test_a_range_spanning_an_admin_port_from_the_internet_is_refused(admin: int) -> None:
    with pytest.raises(HardstackError, match="admin port"):
        Flow(Port.tcp_range(max(0, admin - 1), admin + 1), Peer.any_ipv4(), "x").refuse_world_open("ingress")


def test_egress_to_the_internet_is_not_an_ingress_concern() -> None:
    Flow(Port.SSH, Peer.any_ipv4(), "git over ssh").refuse_world_open("egress")


# --- admin ports and public ranges ----------------------------------------------------------------

PUBLIC_RANGES = [
    "0.0.0.0/1",
    "128.0.0.0/1",
    "8.0.0.0/6",  # straddles 10.0.0.0/8: public because part of it is
    "96.0.0.0/4",  # straddles 100.64.0.0/10 (carrier-grade NAT)
    "11.0.0.0/8",
    "8.8.8.8/32",
    "2000::/3",
    "2a00:1450:4007::/48",
    "::/1",
    "::ffff:b00:0/104",  # 11.0.0.0/8, IPv4-mapped
]
PRIVATE_RANGES = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.10.0/24",
    "100.64.0.0/10",
    "100.100.0.0/16",
    "169.254.0.0/16",
    "fc00::/7",
    "fd12:3456:789a::/48",
    "fe80::/10",
    "::ffff:a00:0/104",  # 10.0.0.0/8, IPv4-mapped
]


def test_admin_port_from_a_public_slash_8_is_refused() -> None:
    with pytest.raises(HardstackError) as err:
        Flow(Port.SSH, Peer.cidr("11.0.0.0/8"), "ssh").refuse_world_open("ingress", "ingress[0]")
    message = str(err.value)
    assert message.startswith("ingress[0] = 'tcp-22 from 11.0.0.0/8 (admin port 22 (SSH))' is refused")
    assert "SSM Session Manager" in message and "no admin port faces the internet" in message
    assert "private ranges" in message and "security group" in message


@pytest.mark.parametrize("cidr", PUBLIC_RANGES)
@pytest.mark.parametrize("port", [Port.SSH, Port.RDP, Port.POSTGRES, Port.tcp_range(20, 25)])
def test_admin_port_from_any_public_range_is_refused(port: Port, cidr: str) -> None:
    with pytest.raises(HardstackError, match=rf"from {re.escape(cidr)} \(admin port .*SSM Session Manager"):
        Flow(port, Peer.cidr(cidr), "admin").refuse_world_open("ingress")


@pytest.mark.parametrize("cidr", PUBLIC_RANGES)
def test_all_protocols_from_a_public_range_are_refused_as_admin_exposure(cidr: str) -> None:
    # A range broader than a /8 (IPv6 /16) is the internet, or much of it: the internet's rule.
    broad = Peer.cidr(cidr).is_broad
    expected = "all-protocol rules from the internet" if broad else r"all ports, admin ports included.*SSM Session"
    with pytest.raises(HardstackError, match=expected):
        Flow(Port.ALL, Peer.cidr(cidr), "everything").refuse_world_open("ingress")


@pytest.mark.parametrize("cidr", ["0.0.0.0/1", "128.0.0.0/1", "8.0.0.0/6", "2000::/3", "::/1"])
def test_halves_and_large_parts_of_the_internet_open_only_what_the_internet_may_reach(cidr: str) -> None:
    assert Peer.cidr(cidr).is_broad
    with pytest.raises(HardstackError, match="only tcp 80 and 443 may be open to the internet"):
        Flow(Port.tcp(8443), Peer.cidr(cidr), "app").refuse_world_open("ingress")
    Flow(Port.HTTPS, Peer.cidr(cidr), "web").refuse_world_open("ingress")


@given(st.integers(0, 32))
def test_a_public_ipv4_range_is_broad_exactly_when_broader_than_a_slash_8(prefix: int) -> None:
    network = ipaddress.ip_network(f"11.0.0.0/{prefix}", strict=False)  # public at every length
    assert Peer.cidr(str(network)).is_broad == (prefix < 8)
    assert not Peer.cidr("10.0.0.0/8").is_broad  # private
    assert Peer.cidr("10.0.0.0/7").is_broad  # it holds 11.0.0.0/8, public


@pytest.mark.parametrize("cidr", PRIVATE_RANGES)
@pytest.mark.parametrize("port", [Port.SSH, Port.RDP, Port.ALL])
def test_admin_port_from_a_private_range_is_allowed(port: Port, cidr: str) -> None:
    Flow(port, Peer.cidr(cidr), "admin from inside").refuse_world_open("ingress")


@pytest.mark.parametrize(
    "peer", [Peer.group("sg-0123", "bastion"), Peer.self_(), Peer.prefix_list("pl-0123abcd")], ids=str
)
def test_admin_port_from_a_group_or_prefix_list_is_allowed(peer: Peer) -> None:
    Flow(Port.SSH, peer, "admin from a peer").refuse_world_open("ingress")


@pytest.mark.parametrize("port", [Port.HTTPS, Port.HTTP, Port.tcp(8443), Port.udp(4500)], ids=str)
def test_non_admin_port_from_a_public_range_is_allowed(port: Port) -> None:
    Flow(port, Peer.cidr("11.0.0.0/8"), "partner").refuse_world_open("ingress")


def test_admin_port_to_a_public_range_is_not_an_ingress_concern() -> None:
    Flow(Port.SSH, Peer.cidr("11.0.0.0/8"), "git over ssh").refuse_world_open("egress")


@pytest.mark.parametrize("cidr", PUBLIC_RANGES)
def test_public_ranges_are_public(cidr: str) -> None:
    assert is_public_cidr(cidr)


@pytest.mark.parametrize("cidr", PRIVATE_RANGES)
def test_private_link_local_and_cgnat_ranges_are_not_public(cidr: str) -> None:
    assert not is_public_cidr(cidr)


def test_text_that_is_no_network_is_not_public() -> None:
    assert not is_public_cidr("anywhere")


@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=0, max_value=31))
def test_a_range_is_public_when_either_half_is(address: int, prefix: int) -> None:
    net = ipaddress.IPv4Network((address, prefix), strict=False)
    assert is_public_cidr(str(net)) == any(is_public_cidr(str(half)) for half in net.subnets())


# --- descriptions EC2 accepts ---------------------------------------------------------------------

NOT_ACCEPTED = {
    "accent": ("accès web", "'è'"),
    "emoji": ("web \U0001f680", "'\U0001f680'"),
    "non-breaking-space": ("web\xa0admin", "'\\xa0'"),
    "newline": ("web\nadmin", "'\\n'"),
    "tab": ("web\tadmin", "'\\t'"),
    "quote": ("app's port", '"\'"'),
    "angle-brackets": ("<web>", "'<', '>'"),
}


@pytest.mark.parametrize("case", NOT_ACCEPTED)
def test_flow_description_outside_what_ec2_accepts_is_refused(case: str) -> None:
    text, shown = NOT_ACCEPTED[case]
    with pytest.raises(HardstackError) as err:
        Flow(Port.HTTPS, Peer.any_ipv4(), text)
    message = str(err.value)
    assert message.startswith(f"flow description = {text!r} is refused")
    assert "a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*" in message and f"EC2 refuses {shown}" in message


def test_flow_description_longer_than_255_characters_is_refused() -> None:
    Flow(Port.HTTPS, Peer.any_ipv4(), "x" * 255)
    with pytest.raises(HardstackError, match=r"at most 255 characters.*this one has 256"):
        Flow(Port.HTTPS, Peer.any_ipv4(), "x" * 256)


def test_every_character_ec2_accepts_is_allowed() -> None:
    text = "HTTPS from web-01_a: see wiki/(net) #4, @ops [x]+=&;{y}!$*"
    assert Flow(Port.HTTPS, Peer.any_ipv4(), text).description == text
    assert check_description(string.ascii_letters + string.digits + " ._-:/()#,@[]+=&;{}!$*", "d")


@pytest.mark.parametrize("bad", ["", "   ", None, 42])
def test_empty_or_non_text_description_is_refused(bad: object) -> None:
    with pytest.raises(HardstackError, match=r"^description = .* is refused: say what it is for"):
        check_description(bad, "description")


@given(ports, ports)
def test_every_port_means_the_whole_range(low: int, high: int) -> None:
    low, high = min(low, high), max(low, high)
    port = Port.tcp_range(low, high)
    assert port.is_every_port == (low <= 1 and high == 65535)
    assert Port.ALL.is_every_port and not Port.icmp().is_every_port
