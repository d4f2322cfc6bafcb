"""The stacks created in an in-process AWS account, audited through the AWS API."""

from collections.abc import Iterator
from typing import Any

import boto3
import pulumi
import pulumi_aws as aws
import pytest

from hardstack.core.errors import HardstackError
from hardstack.core.rules import WORLD_CIDRS, WORLD_OPEN_PORTS
from hardstack.tooling.sandbox import UNSUPPORTED, SandboxMocks
from hardstack.tooling.testing import Recording, run_program
from stacks.offline import stack_config
from stacks.program import main

REGION = "eu-west-3"


@pytest.fixture(scope="module")
def prod() -> Iterator[tuple[SandboxMocks, Recording]]:
    with SandboxMocks(REGION) as mocks:
        rec = run_program(main, stack="prod", config=stack_config("prod"), mocks=mocks)
        yield mocks, rec


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def test_every_resource_of_the_stack_is_created_in_the_account(prod: tuple[SandboxMocks, Recording]) -> None:
    mocks, rec = prod
    assert set(mocks.skipped) <= UNSUPPORTED
    assert rec.outputs["vpcId"].startswith("vpc-") and rec.outputs["vpcId"] != "vpc-net"


def test_no_security_group_opens_an_admin_port_to_the_world(prod: tuple[SandboxMocks, Recording]) -> None:
    _, rec = prod
    groups = client("ec2").describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [rec.outputs["vpcId"]]}])
    world_open = []
    for group in groups["SecurityGroups"]:
        for perm in group["IpPermissions"]:
            cidrs = {r["CidrIp"] for r in perm.get("IpRanges", [])} | {
                r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])
            }
            if cidrs & WORLD_CIDRS:
                world_open.append((group["GroupName"], perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort")))
    assert world_open and all(p == "tcp" and f == t and f in WORLD_OPEN_PORTS for _, p, f, t in world_open)


def test_default_security_group_has_no_rules(prod: tuple[SandboxMocks, Recording]) -> None:
    _, rec = prod
    (default,) = client("ec2").describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [rec.outputs["vpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    assert default["IpPermissions"] == [] and default["IpPermissionsEgress"] == []


def test_data_group_has_no_egress(prod: tuple[SandboxMocks, Recording]) -> None:
    _, rec = prod
    (group,) = client("ec2").describe_security_groups(GroupIds=[rec.outputs["securityGroupIds"]["data"]])[
        "SecurityGroups"
    ]
    assert group["IpPermissionsEgress"] == []


def routes_of_tier(rec: Recording, tier: str) -> list[dict[str, Any]]:
    ec2 = client("ec2")
    subnet_ids = rec.outputs["subnetIds"][tier]
    tables = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": subnet_ids}])
    assert len(tables["RouteTables"]) >= 1
    return [route for table in tables["RouteTables"] for route in table["Routes"]]


def test_subnet_i_of_every_tier_is_created_in_the_ith_pinned_az_id(prod: tuple[SandboxMocks, Recording]) -> None:
    pinned = stack_config("prod")["hardstack:azIds"]
    for tier, ids in prod[1].outputs["subnetIds"].items():
        subnets = client("ec2").describe_subnets(SubnetIds=ids)["Subnets"]
        zones = {s["SubnetId"]: s["AvailabilityZoneId"] for s in subnets}
        assert [zones[i] for i in ids] == pinned[: len(ids)], tier


def test_isolated_subnets_have_no_route_out(prod: tuple[SandboxMocks, Recording]) -> None:
    routes = routes_of_tier(prod[1], "isolated")
    assert not [r for r in routes if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    assert not [r for r in routes if r.get("GatewayId", "").startswith("igw-")]


def test_private_subnets_leave_only_through_nat_gateways(prod: tuple[SandboxMocks, Recording]) -> None:
    routes = [r for r in routes_of_tier(prod[1], "private") if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    assert len(routes) == 3 and all(r.get("NatGatewayId", "").startswith("nat-") for r in routes)


def test_launch_templates_require_imdsv2_and_encrypt_volumes(prod: tuple[SandboxMocks, Recording]) -> None:
    ec2 = client("ec2")
    templates = ec2.describe_launch_templates()["LaunchTemplates"]
    assert len(templates) == 2  # the fleet's and the EKS node group's
    for template in templates:
        (version,) = ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"])[
            "LaunchTemplateVersions"
        ]
        data = version["LaunchTemplateData"]
        assert data["MetadataOptions"]["HttpTokens"] == "required"
        assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
        assert data["BlockDeviceMappings"] and all(bd["Ebs"]["Encrypted"] for bd in data["BlockDeviceMappings"])
        assert not any(nic.get("AssociatePublicIpAddress") for nic in data.get("NetworkInterfaces", []))


def test_database_is_encrypted_private_and_backed_up(prod: tuple[SandboxMocks, Recording]) -> None:
    (db,) = client("rds").describe_db_instances()["DBInstances"]
    assert db["StorageEncrypted"] is True and db["PubliclyAccessible"] is False
    assert db["MultiAZ"] is True and db["BackupRetentionPeriod"] == 30 and db["DeletionProtection"] is True
    assert db["IAMDatabaseAuthenticationEnabled"] is True


def test_cluster_endpoint_is_private_and_secrets_are_encrypted(prod: tuple[SandboxMocks, Recording]) -> None:
    eks = client("eks")
    (name,) = eks.list_clusters()["clusters"]
    cluster = eks.describe_cluster(name=name)["cluster"]
    assert cluster["resourcesVpcConfig"]["endpointPublicAccess"] is False
    assert cluster["encryptionConfig"][0]["resources"] == ["secrets"]


def test_alert_topic_is_encrypted(prod: tuple[SandboxMocks, Recording]) -> None:
    sns = client("sns")
    (topic,) = sns.list_topics()["Topics"]
    assert sns.get_topic_attributes(TopicArn=topic["TopicArn"])["Attributes"]["KmsMasterKeyId"].startswith(
        "arn:aws:kms"
    )


def test_fleet_spans_the_private_subnets_behind_the_target_group(prod: tuple[SandboxMocks, Recording]) -> None:
    _, rec = prod
    (group,) = client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    assert set(group["VPCZoneIdentifier"].split(",")) == set(rec.outputs["subnetIds"]["private"])
    assert group["HealthCheckType"] == "ELB" and len(group["TargetGroupARNs"]) == 1
    assert group["MinSize"] == 3


def test_buckets_block_public_access_and_are_encrypted(prod: tuple[SandboxMocks, Recording]) -> None:
    s3 = client("s3")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert len(buckets) >= 2
    for bucket in buckets:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values())
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")


def test_every_bucket_expires_delete_markers_left_without_versions(prod: tuple[SandboxMocks, Recording]) -> None:
    s3 = client("s3")
    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert {"ExpiredObjectDeleteMarker": True} in [r.get("Expiration") for r in rules]


def test_keys_rotate(prod: tuple[SandboxMocks, Recording]) -> None:
    kms = client("kms")
    keys = [k["KeyId"] for k in kms.list_keys()["Keys"]]
    assert keys and all(kms.get_key_rotation_status(KeyId=k)["KeyRotationEnabled"] for k in keys)


def test_load_balancer_drops_invalid_headers_and_keeps_deletion_protection(
    prod: tuple[SandboxMocks, Recording],
) -> None:
    elb = client("elbv2")
    (lb,) = elb.describe_load_balancers()["LoadBalancers"]
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
    }
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attrs["deletion_protection.enabled"] == "true"


def test_overlapping_subnets_fail_the_preview_naming_the_resource() -> None:
    def program() -> None:
        vpc = aws.ec2.Vpc("v", cidr_block="10.0.0.0/16")
        aws.ec2.Subnet("a", vpc_id=vpc.id, cidr_block="10.0.0.0/24", availability_zone="eu-west-3a")
        b = aws.ec2.Subnet("b", vpc_id=vpc.id, cidr_block="10.0.0.0/25", availability_zone="eu-west-3a")
        pulumi.export("b", b.id)

    with SandboxMocks(REGION) as mocks, pytest.raises(HardstackError, match=r"aws:ec2/subnet:Subnet '[ab]'.*Conflict"):
        run_program(program, mocks=mocks)


def test_malformed_policy_fails_the_preview_naming_the_resource() -> None:
    def program() -> None:
        role = aws.iam.Role(
            "r",
            assume_role_policy='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
            '"Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}',
        )
        aws.iam.RolePolicy("p", role=role.id, policy='{"Version": "2012-10-17", "Statement": [{"Bogus": 1}]}')

    with SandboxMocks(REGION) as mocks, pytest.raises(HardstackError, match="aws:iam/rolePolicy:RolePolicy 'p'"):
        run_program(program, mocks=mocks)
