from collections.abc import Callable

import pytest

from hardstack import Flow, HardstackError, Peer, Port, SecurityGroup, SecurityGroupArgs
from hardstack.tooling.testing import Recording

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
Run = Callable[..., Recording]

WEB = [
    Flow(Port.HTTPS, Peer.any_ipv4(), "HTTPS from the internet"),
    Flow(Port.HTTP, Peer.any_ipv4(), "HTTP redirect"),
    Flow(Port.tcp(8443), Peer.cidr("10.1.0.0/16"), "office"),
]


def group(flows: list[Flow], egress: list[Flow] | None = None) -> Callable[[], None]:
    def program() -> None:
        SecurityGroup("web", SecurityGroupArgs(vpc_id="vpc-1", description="web", ingress=flows, egress=egress or []))

    return program


def test_no_rule_exists_unless_asked(run: Run) -> None:
    rec = run(group([]))
    assert rec.of_type(INGRESS) == [] and rec.of_type(EGRESS) == []
    sg = rec.one("aws:ec2/securityGroup:SecurityGroup")
    assert "egress" not in sg.inputs and "ingress" not in sg.inputs
    assert sg.inputs["revokeRulesOnDelete"] is True


def test_each_flow_is_one_described_rule_named_after_what_it_allows(run: Run) -> None:
    rec = run(group(WEB))
    rules = {r.name: r.inputs for r in rec.of_type(INGRESS)}
    assert set(rules) == {
        "web-in-tcp-443-cidr-0-0-0-0-0",
        "web-in-tcp-80-cidr-0-0-0-0-0",
        "web-in-tcp-8443-cidr-10-1-0-0-16",
    }
    office = rules["web-in-tcp-8443-cidr-10-1-0-0-16"]
    assert office["ipProtocol"] == "tcp" and office["fromPort"] == 8443 and office["cidrIpv4"] == "10.1.0.0/16"
    assert all(r["description"] for r in rules.values())
    assert all(r["securityGroupId"] == "sg-web" for r in rules.values())


def test_reordering_or_adding_flows_keeps_existing_rule_names(run: Run) -> None:
    before = {r.name for r in run(group(WEB)).of_type(INGRESS)}
    extra = Flow(Port.tcp(9443), Peer.cidr("10.2.0.0/16"), "new")
    after = {r.name for r in run(group([extra, *reversed(WEB)])).of_type(INGRESS)}
    assert before < after and len(after - before) == 1


def test_rules_are_children_of_the_component(run: Run) -> None:
    rec = run(group(WEB))
    component = rec.one("hardstack:network:SecurityGroup")
    assert {r.name for r in rec.children_of(component)} >= {r.name for r in rec.of_type(INGRESS)}


def test_allow_from_writes_both_sides(run: Run) -> None:
    def program() -> None:
        app = SecurityGroup("app", SecurityGroupArgs(vpc_id="vpc-1", description="app"))
        db = SecurityGroup("db", SecurityGroupArgs(vpc_id="vpc-1", description="db"))
        db.allow_from(app, Port.POSTGRES)

    rec = run(program)
    ingress = rec.one(INGRESS, "db-in-tcp-5432-sg-app")
    egress = rec.one(EGRESS, "app-out-tcp-5432-sg-db")
    assert ingress.inputs["referencedSecurityGroupId"] == "sg-app"
    assert ingress.inputs["securityGroupId"] == "sg-db"
    assert egress.inputs["referencedSecurityGroupId"] == "sg-db"
    assert egress.inputs["securityGroupId"] == "sg-app"


def test_world_open_admin_port_is_refused_before_any_resource(run: Run) -> None:
    rec = Recording()
    with pytest.raises(HardstackError, match=r"ingress\[1\].*tcp-3389 from ::/0"):
        run(group([WEB[0], Flow(Port.RDP, Peer.any_ipv6(), "rdp")]), recording=rec)
    assert len(rec) == 0


def test_duplicate_flows_are_refused() -> None:
    with pytest.raises(HardstackError, match=r"ingress\[1\].*already at ingress\[0\]"):
        SecurityGroupArgs(vpc_id="v", description="d", ingress=[WEB[0], WEB[0].with_description("again")])


def test_all_protocol_ingress_from_the_internet_is_refused() -> None:
    with pytest.raises(HardstackError, match="all-protocol"):
        SecurityGroupArgs(vpc_id="v", description="d", ingress=[Flow(Port.ALL, Peer.any_ipv4(), "all")])


def test_self_peer_references_the_group_itself(run: Run) -> None:
    rec = run(group([Flow(Port.tcp(7946), Peer.self_(), "cluster gossip")]))
    rule = rec.one(INGRESS, "web-in-tcp-7946-self")
    assert rule.inputs["referencedSecurityGroupId"] == "sg-web"


def test_admin_port_from_a_public_slash_8_is_refused(run: Run) -> None:
    rec = Recording()
    ssh = Flow(Port.SSH, Peer.cidr("11.0.0.0/8"), "ssh from a public range")
    with pytest.raises(HardstackError, match=r"^ingress\[1\] = 'tcp-22 from 11\.0\.0\.0/8.*SSM Session Manager"):
        run(group([WEB[0], ssh]), recording=rec)
    assert len(rec) == 0


def test_admin_port_added_later_from_a_public_range_is_refused(run: Run) -> None:
    def program() -> None:
        web = SecurityGroup("web", SecurityGroupArgs(vpc_id="vpc-1", description="web"))
        web.allow_ingress(Flow(Port.RDP, Peer.cidr("128.0.0.0/1"), "rdp"))

    with pytest.raises(HardstackError, match=r"^web ingress = 'tcp-3389 from 128\.0\.0\.0/1"):
        run(program)


def test_admin_port_from_private_ranges_and_groups_is_allowed(run: Run) -> None:
    flows = [
        Flow(Port.SSH, Peer.cidr("100.64.0.0/10"), "ssh over the carrier-grade NAT VPN"),
        Flow(Port.SSH, Peer.cidr("fd00:1::/64"), "ssh over the ULA VPN"),
        Flow(Port.RDP, Peer.cidr("10.1.0.0/16"), "rdp from the office"),
        Flow(Port.POSTGRES, Peer.group("sg-0123", "app"), "database from the app"),
    ]
    assert len(run(group(flows)).of_type(INGRESS)) == 4


@pytest.mark.parametrize("description", ["accès web", "web \U0001f680", "web\nadmin", "x" * 256])
def test_group_description_ec2_refuses_is_refused_before_any_resource(run: Run, description: str) -> None:
    def program() -> None:
        SecurityGroup("web", SecurityGroupArgs(vpc_id="vpc-1", description=description))

    rec = Recording()
    with pytest.raises(HardstackError, match=r"^description = .* is refused: at most 255 characters of a-z"):
        run(program, recording=rec)
    assert len(rec) == 0


def test_rule_description_ec2_refuses_is_refused_before_any_resource(run: Run) -> None:
    rec = Recording()
    with pytest.raises(HardstackError, match=r"^flow description = 'accès web' is refused: .*EC2 refuses 'è'"):
        run(group([Flow(Port.HTTPS, Peer.any_ipv4(), "accès web")]), recording=rec)
    assert len(rec) == 0


def test_group_and_rule_descriptions_reach_aws_as_given(run: Run) -> None:
    rec = run(group(WEB))
    assert rec.one("aws:ec2/securityGroup:SecurityGroup").inputs["description"] == "hardstack web: web"
    rule = rec.one(INGRESS, "web-in-tcp-8443-cidr-10-1-0-0-16")
    assert rule.inputs["description"] == "office"
