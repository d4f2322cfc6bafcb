import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack.core.errors import HardstackError
from hardstack.core.rules import ADMIN_PORTS, Flow, Peer, Port

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
