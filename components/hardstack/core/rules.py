"""Values for network flows: `Port`, `Peer` and `Flow`.

No resources here. A flow's `key` is derived from what it allows, never from its position in a
list, so the rule resource named after it keeps its URN when flows are reordered or added.
"""

from __future__ import annotations

import ipaddress
import re
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:  # types only: the core layer imports no Pulumi at run time
    import pulumi

from hardstack.core.errors import refuse

Protocol = Literal["tcp", "udp", "icmp", "icmpv6", "all"]
PROTOCOLS: tuple[Protocol, ...] = ("tcp", "udp", "icmp", "icmpv6", "all")

WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
#: The shortest prefix of a public range taken as less than the internet, by IP version: a /8 is
#: 16 million addresses; 0.0.0.0/1 with 128.0.0.0/1 is the whole internet in two rules.
BROADEST_RANGE = {4: 8, 6: 16}
#: The only ports the internet may reach: the load balancer's web listeners.
WORLD_OPEN_PORTS = frozenset({80, 443})
#: Ports that administer a host or a datastore; named in errors so the fix is obvious.
ADMIN_PORTS: dict[int, str] = {
    22: "SSH",
    23: "telnet",
    135: "RPC",
    445: "SMB",
    1433: "SQL Server",
    2049: "NFS",
    2375: "Docker API",
    2376: "Docker API (TLS)",
    3306: "MySQL",
    3389: "RDP",
    5432: "PostgreSQL",
    5900: "VNC",
    6379: "Redis",
    6443: "Kubernetes API",
    9200: "Elasticsearch",
    10250: "kubelet",
    27017: "MongoDB",
}

_LABEL = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

#: Why admin ports never face the internet, and what they may face instead.
ADMIN_PEERS_ALLOWED = (
    "no admin port faces the internet: hosts are administered through SSM Session Manager; open admin "
    "ports only to private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10, fc00::/7, "
    "link-local) or to a security group"
)
#: RFC 6598 shared address space (carrier-grade NAT): not private for `ipaddress`, not global either.
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def is_public_cidr(cidr: str) -> bool:
    """True when any address of `cidr` is reachable from the internet; False for text that is no CIDR.

    `is_private` of a network holds only when the whole range lies inside one special-purpose block
    (RFC 1918, loopback, link-local, ULA, documentation...), so a supernet straddling private and
    public space (0.0.0.0/1, 8.0.0.0/6) counts as public. Carrier-grade NAT space is neither private
    nor global to `ipaddress` and is checked on its own; IPv4-mapped IPv6 ranges are judged by the
    IPv4 range they map.
    """
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except (TypeError, ValueError):
        return False  # not a network: EC2 refuses it, so it opens nothing
    if isinstance(net, ipaddress.IPv6Network) and net.subnet_of(_IPV4_MAPPED):
        mapped = ipaddress.IPv4Address(int(net.network_address) & 0xFFFFFFFF)
        return is_public_cidr(f"{mapped}/{net.prefixlen - 96}")
    if isinstance(net, ipaddress.IPv4Network) and net.subnet_of(_SHARED_ADDRESS_SPACE):
        return False
    return not net.is_private


#: What EC2 accepts in security group descriptions and rule descriptions (CreateSecurityGroup
#: GroupDescription, IpRange / Ipv6Range / security group rule Description).
DESCRIPTION_CHARACTERS = frozenset(string.ascii_letters + string.digits + " ._-:/()#,@[]+=&;{}!$*")
DESCRIPTION_MAX_LENGTH = 255
_DESCRIPTION_ALLOWED = "at most 255 characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*"


def check_description(text: object, where: str) -> str:
    """`text` if EC2 accepts it as a security group or rule description, else a refusal naming `where`."""
    if not isinstance(text, str) or not text.strip():
        raise refuse(where, text, f"say what it is for, in {_DESCRIPTION_ALLOWED}")
    if len(text) > DESCRIPTION_MAX_LENGTH:
        raise refuse(where, text, f"{_DESCRIPTION_ALLOWED}; this one has {len(text)}")
    bad = sorted({c for c in text if c not in DESCRIPTION_CHARACTERS})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise refuse(where, text, f"{_DESCRIPTION_ALLOWED}; EC2 refuses {shown}")
    return text


@dataclass(frozen=True)
class Port:
    """A protocol and a port range. Use the constructors or the named constants (`Port.HTTPS`)."""

    protocol: Protocol
    from_port: int = 0
    to_port: int = 0

    HTTP: ClassVar[Port]
    HTTPS: ClassVar[Port]
    SSH: ClassVar[Port]
    RDP: ClassVar[Port]
    DNS_UDP: ClassVar[Port]
    DNS_TCP: ClassVar[Port]
    NTP: ClassVar[Port]
    POSTGRES: ClassVar[Port]
    MYSQL: ClassVar[Port]
    REDIS: ClassVar[Port]
    NODE_EXPORTER: ClassVar[Port]
    ALL: ClassVar[Port]

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise refuse("port protocol", self.protocol, f"use one of {', '.join(PROTOCOLS)}")
        if self.protocol in ("tcp", "udp"):
            for where, value in (("from_port", self.from_port), ("to_port", self.to_port)):
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
                    raise refuse(f"port {where}", value, "a whole number from 0 to 65535")
            if self.from_port > self.to_port:
                raise refuse("port range", f"{self.from_port}-{self.to_port}", "from_port must be <= to_port")
        elif self.protocol in ("icmp", "icmpv6"):
            # For ICMP the "ports" are type and code; -1 means any.
            for where, value in (("icmp type", self.from_port), ("icmp code", self.to_port)):
                if not -1 <= value <= 255:
                    raise refuse(where, value, "-1 (any) or 0..255")

    @classmethod
    def tcp(cls, port: int) -> Port:
        return cls("tcp", port, port)

    @classmethod
    def tcp_range(cls, from_port: int, to_port: int) -> Port:
        return cls("tcp", from_port, to_port)

    @classmethod
    def udp(cls, port: int) -> Port:
        return cls("udp", port, port)

    @classmethod
    def udp_range(cls, from_port: int, to_port: int) -> Port:
        return cls("udp", from_port, to_port)

    @classmethod
    def icmp(cls, icmp_type: int = -1, code: int = -1) -> Port:
        return cls("icmp", icmp_type, code)

    @classmethod
    def all_traffic(cls) -> Port:
        return cls("all", 0, 0)

    @property
    def key(self) -> str:
        """Stable name fragment: `tcp-443`, `tcp-8000-8080`, `icmp-8--1`, `all`."""
        if self.protocol == "all":
            return "all"
        if self.from_port == self.to_port:
            return f"{self.protocol}-{self.from_port}"
        return f"{self.protocol}-{self.from_port}-{self.to_port}"

    def covers(self, port: int) -> bool:
        if self.protocol == "all":
            return True
        return self.protocol in ("tcp", "udp") and self.from_port <= port <= self.to_port

    @property
    def is_every_port(self) -> bool:
        """All protocols, or a tcp/udp range from 0 or 1 to 65535."""
        if self.protocol == "all":
            return True
        return self.protocol in ("tcp", "udp") and self.from_port <= 1 and self.to_port == 65535

    def admin_ports(self) -> list[str]:
        """Admin services this range exposes, e.g. ["22 (SSH)"]."""
        return [f"{p} ({svc})" for p, svc in ADMIN_PORTS.items() if self.covers(p)]

    def rule_args(self) -> dict[str, Any]:
        """Protocol and ports as `aws.vpc.Security*Rule` takes them (`-1` carries no ports)."""
        if self.protocol == "all":
            return {"ip_protocol": "-1"}
        return {"ip_protocol": self.protocol, "from_port": self.from_port, "to_port": self.to_port}

    def __str__(self) -> str:
        return self.key


Port.HTTP = Port.tcp(80)
Port.HTTPS = Port.tcp(443)
Port.SSH = Port.tcp(22)
Port.RDP = Port.tcp(3389)
Port.DNS_UDP = Port.udp(53)
Port.DNS_TCP = Port.tcp(53)
Port.NTP = Port.udp(123)
Port.POSTGRES = Port.tcp(5432)
Port.MYSQL = Port.tcp(3306)
Port.REDIS = Port.tcp(6379)
Port.NODE_EXPORTER = Port.tcp(9100)
Port.ALL = Port.all_traffic()


PeerKind = Literal["cidr", "group", "prefix_list", "self"]


@dataclass(frozen=True)
class Peer:
    """The other side of a flow: a CIDR, another security group, a managed prefix list, or self.

    A group peer carries a `label` (the group's logical name) because its id is only known after
    deployment and rule names must be known before.
    """

    kind: PeerKind
    value: str = ""
    label: str = ""
    group_id: pulumi.Input[str] | None = None

    @classmethod
    def cidr(cls, cidr: str) -> Peer:
        try:
            net = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            raise refuse("peer cidr", cidr, "a network in CIDR notation with no host bits, e.g. 10.0.0.0/16") from None
        return cls("cidr", str(net))

    @classmethod
    def any_ipv4(cls) -> Peer:
        return cls("cidr", "0.0.0.0/0")

    @classmethod
    def any_ipv6(cls) -> Peer:
        return cls("cidr", "::/0")

    @classmethod
    def group(cls, group_id: pulumi.Input[str], label: str) -> Peer:
        if not _LABEL.match(label):
            raise refuse("peer group label", label, "lower-case letters, digits and '-', at most 63")
        return cls("group", label, label, group_id)

    @classmethod
    def prefix_list(cls, prefix_list_id: str) -> Peer:
        if not re.fullmatch(r"pl-[0-9a-f]{8,17}", prefix_list_id):
            raise refuse("peer prefix list", prefix_list_id, "a managed prefix list id like pl-0123abcd")
        return cls("prefix_list", prefix_list_id, prefix_list_id)

    @classmethod
    def self_(cls) -> Peer:
        return cls("self", "self", "self")

    @property
    def is_world(self) -> bool:
        return self.kind == "cidr" and self.value in WORLD_CIDRS

    @property
    def is_broad(self) -> bool:
        """The internet or a large part of it: a public CIDR broader than BROADEST_RANGE (0.0.0.0/1)."""
        if not self.is_public:
            return False
        net = ipaddress.ip_network(self.value, strict=False)
        return net.prefixlen < BROADEST_RANGE[net.version]

    @property
    def is_public(self) -> bool:
        """A CIDR with any internet address in it (groups, prefix lists and self are not CIDRs)."""
        return self.kind == "cidr" and is_public_cidr(self.value)

    @property
    def key(self) -> str:
        if self.kind == "cidr":
            return "cidr-" + re.sub(r"[^0-9a-f]+", "-", self.value.lower()).strip("-")
        if self.kind == "group":
            return f"sg-{self.label}"
        return self.label

    def rule_args(self, own_group_id: pulumi.Input[str]) -> dict[str, Any]:
        """The peer as `aws.vpc.Security*Rule` takes it."""
        if self.kind == "cidr":
            ipv6 = ipaddress.ip_network(self.value).version == 6
            return {"cidr_ipv6": self.value} if ipv6 else {"cidr_ipv4": self.value}
        if self.kind == "prefix_list":
            return {"prefix_list_id": self.value}
        if self.kind == "self":
            return {"referenced_security_group_id": own_group_id}
        return {"referenced_security_group_id": self.group_id}

    def __str__(self) -> str:
        return self.value if self.kind != "group" else f"security group {self.label}"


Direction = Literal["ingress", "egress"]


@dataclass(frozen=True)
class Flow:
    """One allowed flow: a port and a peer, with a description every rule must carry."""

    port: Port
    peer: Peer
    description: str

    def __post_init__(self) -> None:
        # The description becomes the rule's, and EC2 accepts only 255 ASCII characters of a set.
        check_description(self.description, "flow description")

    @property
    def key(self) -> str:
        return f"{self.port.key}-{self.peer.key}"

    def refuse_world_open(self, direction: Direction, where: str = "flow") -> None:
        """Inbound from the internet: from anywhere (or a range broader than BROADEST_RANGE, such as
        0.0.0.0/1) only tcp 80/443, never all protocols; from any other public range (a public /8 or
        /32, public IPv6), no admin port either.
        """
        if direction != "ingress" or not self.peer.is_public:
            return
        port = self.port
        if self.peer.is_broad:
            if port.protocol == "all":
                raise refuse(
                    where,
                    f"{port.key} from {self.peer.value}",
                    "all-protocol rules from the internet are never allowed; open only tcp 80/443 to it",
                )
            if not (port.protocol == "tcp" and port.from_port == port.to_port and port.from_port in WORLD_OPEN_PORTS):
                admin = port.admin_ports()
                what = f" (admin port {', '.join(admin)})" if admin else ""
                raise refuse(
                    where,
                    f"{port.key} from {self.peer.value}{what}",
                    "only tcp 80 and 443 may be open to the internet; reach hosts through SSM Session "
                    "Manager or restrict the peer to a private CIDR or a security group",
                )
            return
        admin = port.admin_ports()
        if admin:
            what = "all ports, admin ports included" if port.protocol == "all" else f"admin port {', '.join(admin)}"
            raise refuse(where, f"{port.key} from {self.peer.value} ({what})", ADMIN_PEERS_ALLOWED)

    def with_description(self, description: str) -> Flow:
        return Flow(self.port, self.peer, description)
