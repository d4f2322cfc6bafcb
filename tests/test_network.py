import json
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from hardstack import AwsContext, HardstackError, Network, NetworkArgs
from hardstack.aws.network import NatStrategy
from hardstack.core.tier import Tier
from hardstack.tooling.testing import HardstackMocks, Recording

Run = Callable[..., Recording]
CTX = AwsContext(region="eu-west-3", account_id="123456789012")
SUBNET, RT, ROUTE = "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable", "aws:ec2/route:Route"


def network(**kw: object) -> Callable[[], None]:
    args = {"context": CTX, "cidr": "10.0.0.0/16", "az_count": 3, "tier": Tier.DEVELOPMENT, **kw}

    def program() -> None:
        Network("net", NetworkArgs(**args))  # type: ignore[arg-type]

    return program


def test_vpc_has_dns_support_and_the_planned_subnets(run: Run) -> None:
    rec = run(network())
    vpc = rec.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["enableDnsSupport"] is True and vpc.inputs["enableDnsHostnames"] is True
    cidrs = {s.name: s.inputs["cidrBlock"] for s in rec.of_type(SUBNET)}
    assert cidrs["net-private-0"] == "10.0.0.0/20" and cidrs["net-public-2"] == "10.0.136.0/22"
    assert len(cidrs) == 9


AZS = "aws:index/getAvailabilityZones:getAvailabilityZones"


def test_subnets_spread_over_distinct_azs_by_id_from_one_invoke(run: Run) -> None:
    rec = run(network())
    assert [i.token for i in rec.invokes].count(AZS) == 1
    azs = {s.inputs["availabilityZoneId"] for s in rec.of_type(SUBNET) if s.name.startswith("net-private")}
    assert azs == {"euw3-az1", "euw3-az2", "euw3-az3"}
    # The program gives the id only; the name is what EC2 reports back (computed).
    assert not [s for s in rec.of_type(SUBNET) if "availabilityZone" not in s.computed]


def test_pinned_az_ids_place_each_subnet_index_in_its_id(run: Run) -> None:
    rec = run(network(az_count=2, availability_zone_ids=["euw3-az3", "euw3-az1", "euw3-az2"]))
    zones = {s.name: s.inputs["availabilityZoneId"] for s in rec.of_type(SUBNET)}
    assert zones == {
        f"net-{t}-{i}": ("euw3-az3", "euw3-az1")[i] for t in ("public", "private", "isolated") for i in (0, 1)
    }


def test_pinned_az_ids_are_checked_against_the_live_list_in_one_invoke(run: Run) -> None:
    rec = run(network(availability_zone_ids=["euw3-az1", "euw3-az2", "euw3-az3"]))
    (lookup,) = [i for i in rec.invokes if i.token == AZS]
    # Every zone whatever its state: an impaired pinned zone is still the stack's zone.
    assert "state" not in lookup.args
    assert lookup.args["filters"] == [{"name": "zone-type", "values": ["availability-zone"]}]


def test_az_ids_the_caller_looked_up_already_make_no_invoke(run: Run) -> None:
    ids = ["euw3-az1", "euw3-az2"]
    rec = run(network(az_count=2, availability_zone_ids=ids, offered_zone_ids=ids))
    assert [i.token for i in rec.invokes].count(AZS) == 0 and len(rec.of_type(SUBNET)) == 6


def test_az_id_the_account_does_not_have_is_refused_before_any_resource(run: Run) -> None:
    rec = Recording()
    with pytest.raises(
        HardstackError,
        match=r"^availability_zone_ids = \['euw3-az1', 'euw3-az9'\] is refused: AZ ids this account has in "
        r"eu-west-3: euw3-az1, .*euw3-az6 \(euw3-az9 is not one\)",
    ):
        run(network(az_count=2, availability_zone_ids=["euw3-az1", "euw3-az9"]), recording=rec)
    assert len(rec) == 0


@pytest.mark.parametrize(
    ("ids", "fragment"),
    [
        (["use1-az1", "use1-az2"], "AZ ids of eu-west-3 (euw3-az<n>): 'use1-az1' is not one"),
        (["euw3-az1", "euw3-az1"], "each AZ id once: euw3-az1 appears more than once"),
        (["euw3-az1"], "at least 2 AZ ids (the AZ count)"),
        (["eu-west-3a", "eu-west-3b"], "'eu-west-3a' is not one"),
    ],
)
def test_bad_az_ids_are_refused_offline_with_the_value(ids: list[str], fragment: str) -> None:
    with pytest.raises(HardstackError) as err:
        NetworkArgs(context=CTX, cidr="10.0.0.0/16", az_count=2, availability_zone_ids=ids)
    assert str(err.value).startswith(f"availability_zone_ids = {ids!r} is refused") and fragment in str(err.value)


def test_az_ids_and_names_together_are_refused() -> None:
    with pytest.raises(HardstackError, match="a subnet takes an AZ id or a name, not both"):
        NetworkArgs(
            context=CTX,
            cidr="10.0.0.0/16",
            az_count=2,
            availability_zone_ids=["euw3-az1", "euw3-az2"],
            availability_zones=["eu-west-3a", "eu-west-3b"],
        )


def test_no_subnet_gives_public_ips(run: Run) -> None:
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in run(network()).of_type(SUBNET))


def test_eks_role_tags_mark_public_and_private_subnets(run: Run) -> None:
    subnets = {s.name: s.inputs["tags"] for s in run(network()).of_type(SUBNET)}
    assert subnets["net-public-0"]["kubernetes.io/role/elb"] == "1"
    assert subnets["net-private-0"]["kubernetes.io/role/internal-elb"] == "1"
    assert not any(k.startswith("kubernetes.io") for k in subnets["net-isolated-0"])


@pytest.mark.parametrize(("nat", "count"), [("none", 0), ("single", 1), ("per_az", 3)])
def test_nat_strategy_sets_the_number_of_nat_gateways(run: Run, nat: NatStrategy, count: int) -> None:
    rec = run(network(nat=nat))
    assert len(rec.of_type("aws:ec2/natGateway:NatGateway")) == count
    defaults = [r for r in rec.of_type(ROUTE) if r.name.startswith("net-private")]
    assert len(defaults) == (3 if count else 0)


def test_per_az_nat_routes_each_private_subnet_through_its_own_az(run: Run) -> None:
    rec = run(network(nat="per_az"))
    routes = {r.name: r.inputs["natGatewayId"] for r in rec.of_type(ROUTE) if "natGatewayId" in r.inputs}
    assert routes == {f"net-private-{i}-default": f"nat-net-nat-{i}" for i in range(3)}
    nat_subnets = {n.inputs["subnetId"] for n in rec.of_type("aws:ec2/natGateway:NatGateway")}
    assert nat_subnets == {f"subnet-net-public-{i}" for i in range(3)}


def test_one_route_table_per_private_subnet_and_isolated_ones_have_no_route_out(run: Run) -> None:
    rec = run(network())
    tables = {t.name for t in rec.of_type(RT)}
    assert {f"net-private-{i}" for i in range(3)} <= tables
    isolated_tables = {f"rtb-net-isolated-{i}" for i in range(3)}
    assert not [r for r in rec.of_type(ROUTE) if r.inputs["routeTableId"] in isolated_tables]
    public_routes = [r for r in rec.of_type(ROUTE) if r.inputs["routeTableId"] == "rtb-net-public"]
    assert [r.inputs["gatewayId"] for r in public_routes] == ["igw-net-igw"]


def test_s3_gateway_endpoint_serves_the_private_tables_and_never_the_isolated_ones(run: Run) -> None:
    ep = run(network()).one("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert ep.inputs["serviceName"] == "com.amazonaws.eu-west-3.s3" and ep.inputs["vpcEndpointType"] == "Gateway"
    assert sorted(ep.inputs["routeTableIds"]) == [f"rtb-net-private-{i}" for i in range(3)]
    assert not [t for t in ep.inputs["routeTableIds"] if "isolated" in t]


def s3_endpoint_statements(rec: Recording) -> dict[str, dict[str, Any]]:
    policy = json.loads(rec.one("aws:ec2/vpcEndpoint:VpcEndpoint").inputs["policy"])
    return {s["Sid"]: s for s in policy["Statement"]}


def test_s3_endpoint_admits_any_action_only_on_this_accounts_buckets(run: Run) -> None:
    found = s3_endpoint_statements(run(network()))
    own = found["OwnAccountBuckets"]
    assert own["Effect"] == "Allow" and own["Action"] == "s3:*" and own["Resource"] == "*"
    assert own["Condition"] == {"StringEquals": {"aws:ResourceAccount": "123456789012"}}
    assert set(found) == {"OwnAccountBuckets", "ArtifactBucketsReadOnly"}
    assert all(s["Effect"] == "Allow" for s in found.values())


def test_s3_endpoint_lets_hosts_read_only_the_aws_owned_buckets_of_their_region(run: Run) -> None:
    aws_owned = s3_endpoint_statements(run(network()))["ArtifactBucketsReadOnly"]
    assert aws_owned["Action"] == "s3:GetObject" and "Condition" not in aws_owned
    resources = aws_owned["Resource"]
    for bucket in (
        "al2023-repos-eu-west-3-de612dc2",
        "amazon-ssm-eu-west-3",
        "aws-ssm-eu-west-3",
        "eu-west-3-birdwatcher-prod",
        "prod-eu-west-3-starport-layer-bucket",
        "prod-registry-k8s-io-eu-west-3",
    ):
        assert f"arn:aws:s3:::{bucket}/*" in resources
    # Object ARNs of named buckets in this region only: no wildcard bucket anyone could create.
    assert all(re.fullmatch(r"arn:aws:s3:::[a-z0-9.-]*eu-west-3[a-z0-9.-]*/\*", r) for r in resources)


def test_default_security_group_is_taken_over_with_no_rules(run: Run) -> None:
    sg = run(network()).one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not sg.inputs.get("ingress") and not sg.inputs.get("egress")


def test_flow_logs_go_to_an_encrypted_retained_group_through_a_least_privilege_role(run: Run) -> None:
    rec = run(network(log_retention_days=90, log_key_arn="arn:aws:kms:eu-west-3:123456789012:key/k"))
    flow = rec.one("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL" and flow.inputs["logDestinationType"] == "cloud-watch-logs"
    group = rec.one("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["retentionInDays"] == 90 and group.inputs["kmsKeyId"].startswith("arn:aws:kms")
    trust = json.loads(rec.one("aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    policy = json.loads(rec.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Resource"] == group.inputs["arn"] + ":*"
    assert "*" not in json.dumps(statement["Action"])


def test_flow_logs_can_be_turned_off_outside_production(run: Run) -> None:
    assert run(network(flow_logs=False)).of_type("aws:ec2/flowLog:FlowLog") == []


def test_protect_covers_the_vpc_subnets_nat_addresses_and_flow_logs_only_when_asked(run: Run) -> None:
    kept = {r.type for r in run(network(protect=True)).protected()}
    assert kept == {"aws:ec2/vpc:Vpc", SUBNET, "aws:ec2/eip:Eip", "aws:cloudwatch/logGroup:LogGroup"}
    assert run(network()).protected() == []


def test_protect_given_to_the_component_reaches_the_vpc_and_subnets(run: Run) -> None:
    def program() -> None:
        args = NetworkArgs(context=CTX, cidr="10.0.0.0/16", az_count=2, tier=Tier.DEVELOPMENT)
        Network("net", args, pulumi.ResourceOptions(protect=True, retain_on_delete=True))

    rec = run(program)
    vpc, subnets = rec.one("aws:ec2/vpc:Vpc"), rec.of_type(SUBNET)
    assert vpc.protect and vpc.retain_on_delete and all(s.protect and s.retain_on_delete for s in subnets)


def test_production_protects_the_vpc_and_subnets_without_being_asked(run: Run) -> None:
    kept = {r.type for r in run(network(tier=Tier.PRODUCTION)).protected()}
    assert {"aws:ec2/vpc:Vpc", SUBNET} <= kept


@pytest.mark.parametrize(
    ("overrides", "shown"),
    [({"flow_logs": False}, "flow_logs = False"), ({"protect": False}, "protect = False")],
)
def test_production_refuses_turning_its_safety_off(overrides: dict[str, object], shown: str) -> None:
    with pytest.raises(HardstackError, match=f"^{re.escape(shown)} is refused"):
        NetworkArgs(context=CTX, cidr="10.0.0.0/16", tier=Tier.PRODUCTION, **overrides)  # type: ignore[arg-type]


def test_more_azs_than_the_region_offers_is_refused_before_any_resource(run: Run) -> None:
    class ThreeZones(HardstackMocks):
        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
                names, ids = ["eu-west-3a", "eu-west-3b", "eu-west-3c"], ["euw3-az1", "euw3-az2", "euw3-az3"]
                return {"names": names, "zoneIds": ids, "id": "eu-west-3"}, []
            return super().call(args)

    rec = Recording()
    with pytest.raises(HardstackError, match=r"^az_count = 4 is refused: at most the 3 available AZs of eu-west-3"):
        run(network(az_count=4), mocks=ThreeZones(), recording=rec)
    assert len(rec) == 0


def test_pinned_availability_zones_are_used_in_order(run: Run) -> None:
    rec = run(network(az_count=2, availability_zones=["eu-west-3c", "eu-west-3a"]))
    zones = {s.name: s.inputs["availabilityZone"] for s in rec.of_type(SUBNET)}
    assert zones["net-private-0"] == "eu-west-3c" and zones["net-public-1"] == "eu-west-3a"
    assert not [s for s in rec.of_type(SUBNET) if "availabilityZoneId" not in s.computed]


def test_unknown_nat_strategy_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"'gateway'.*none, single, per_az"):
        NetworkArgs(context=CTX, cidr="10.0.0.0/16", nat="gateway")  # type: ignore[arg-type]


def test_bad_cidr_is_refused_before_any_resource(run: Run) -> None:
    rec = Recording()
    with pytest.raises(HardstackError, match="too small"):
        run(network(cidr="10.0.0.0/26"), recording=rec)
    assert len(rec) == 0


def test_outputs_expose_ids_per_tier_and_the_plan(run: Run) -> None:
    def program() -> None:
        import pulumi

        net = Network("net", NetworkArgs(context=CTX, cidr="10.0.0.0/16", az_count=2))
        pulumi.export("subnets", net.subnet_ids)
        pulumi.export("tables", net.route_table_ids)
        pulumi.export("plan", net.plan.as_dict())

    rec = run(program)
    assert rec.outputs["subnets"]["isolated"] == ["subnet-net-isolated-0", "subnet-net-isolated-1"]
    assert rec.outputs["tables"]["public"] == ["rtb-net-public"]
    assert rec.outputs["plan"]["private"][0] == {"az_index": 0, "cidr": "10.0.0.0/20", "usable_ips": 4091}


def test_outputs_give_the_nat_gateways_internet_gateway_and_flow_log_group(run: Run) -> None:
    def program() -> None:
        net = Network("net", NetworkArgs(context=CTX, cidr="10.0.0.0/16", az_count=2, nat="per_az"))
        pulumi.export("nats", net.nat_gateway_ids)
        pulumi.export("igw", net.internet_gateway_id)
        pulumi.export("flow_logs", net.flow_log_group_name)

    out = run(program).outputs
    assert len(out["nats"]) == 2 and out["igw"] and out["flow_logs"].endswith("/net/vpc-flow-logs")


def test_the_az_lookup_uses_the_aws_provider_given_in_providers(run: Run) -> None:
    from hardstack.aws.network import _aws_provider

    seen: list[object] = []

    def program() -> None:
        import pulumi_aws as aws
        import pulumi_kubernetes as k8s

        provider = aws.Provider("other-region", region="eu-west-3")
        kube = k8s.Provider("kube")
        seen.append(_aws_provider(pulumi.ResourceOptions(providers=[kube, provider])) is provider)
        seen.append(_aws_provider(pulumi.ResourceOptions(providers={"aws": provider})) is provider)
        seen.append(_aws_provider(pulumi.ResourceOptions(provider=provider)) is provider)
        seen.append(_aws_provider(pulumi.ResourceOptions(providers=[kube])) is None)

    run(program)
    assert seen == [True, True, True, True]


def test_hosts_in_private_subnets_wait_for_the_s3_endpoint_they_install_packages_through() -> None:
    from hardstack.tooling.plan import build_plan, waits_for
    from stacks.offline import run_stack

    rec = run_stack("test", {"hardstack:natStrategy": "none", "hardstack:clusterMode": "none"})
    s3 = next(r for r in rec.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if r.inputs["vpcEndpointType"] == "Gateway")
    assert s3.urn in waits_for(build_plan("test", rec), rec.one("aws:autoscaling/group:Group").urn)
    # With NAT, the node group waits for it too (its nodes pull images through NAT, add-ons from S3).
    rec = run_stack("test")
    s3 = next(r for r in rec.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if r.inputs["vpcEndpointType"] == "Gateway")
    assert s3.urn in waits_for(build_plan("test", rec), rec.one("aws:eks/nodeGroup:NodeGroup").urn)


def test_extra_reads_join_the_artifact_buckets_of_the_s3_endpoint(run: Run) -> None:
    extra = "arn:aws:s3:::quayio-production-s3/*"
    found = s3_endpoint_statements(run(network(s3_endpoint_extra_reads=[extra])))
    assert extra in found["ArtifactBucketsReadOnly"]["Resource"]


@pytest.mark.parametrize("arn", ["arn:aws:s3:::*/*", "arn:aws:s3:::quay*/*", "quayio-production-s3"])
def test_extra_read_that_is_not_one_named_bucket_is_refused(arn: str) -> None:
    with pytest.raises(HardstackError, match=re.escape(f"s3_endpoint_extra_reads[0] = {arn!r}")):
        NetworkArgs(context=CTX, cidr="10.0.0.0/16", s3_endpoint_extra_reads=[arn])
