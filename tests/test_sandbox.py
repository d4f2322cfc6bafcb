"""The stacks created in an in-process AWS account, audited through the AWS API."""

import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pulumi
import pulumi_aws as aws
import pytest

from hardstack.core.errors import HardstackError
from hardstack.core.rules import WORLD_CIDRS, WORLD_OPEN_PORTS
from hardstack.tooling.sandbox import UNSUPPORTED, SandboxError, SandboxMocks, SandboxRun, run_sandbox
from hardstack.tooling.testing import Recording, run_program
from stacks.offline import stack_config
from stacks.program import main

REGION = "eu-west-3"


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


# Each test below starts its own sandbox; the whole-prod-stack audits, which keep one account open
# for the module, come last (moto keeps one account per process: one sandbox at a time).


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


def test_a_type_without_a_handler_is_reported_as_unchecked() -> None:
    def program() -> None:
        aws.ec2.Eip("ip", domain="vpc")
        aws.ec2.Instance("box", ami="ami-12c6146b", instance_type="t3.micro")

    run = run_sandbox(program, region=REGION, quiet=True)
    assert run.report.moto == {"aws:ec2/eip:Eip": 1}
    assert run.report.fallback == {"aws:ec2/instance:Instance": 1}
    (line,) = [line for line in run.report.lines() if "aws:ec2/instance:Instance" in line]
    assert line.split() == ["aws:ec2/instance:Instance", "1", "no", "sandbox", "handler", "yet"]


def test_run_sandbox_prints_its_report_on_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_sandbox(lambda: aws.ec2.Vpc("v", cidr_block="10.0.0.0/16"), region=REGION)
    out = capsys.readouterr().out
    assert out.strip() == str(run.report) and "Through moto (1 resource, 1 type)" in out


def test_the_report_says_which_invokes_moto_answered_and_which_the_plain_mocks_made_up() -> None:
    def program() -> None:
        pulumi.export("account", aws.get_caller_identity().account_id)
        pulumi.export("region", aws.get_region().region)

    run = run_sandbox(program, region=REGION, quiet=True)
    assert run.report.invokes_moto == {"aws:index/getCallerIdentity:getCallerIdentity": 1}
    assert run.report.invokes_plain == {"aws:index/getRegion:getRegion": 1}
    assert "Invokes answered by plain mocks (made-up answers) (1 call)" in str(run.report)


# --- moto wherever moto implements the type ----------------------------------------------------------


def _pg(identifier: str, **extra: Any) -> aws.rds.Instance:
    return aws.rds.Instance(
        identifier,
        identifier=identifier,
        instance_class=extra.pop("instance_class", "db.t4g.micro"),
        engine="postgres",
        allocated_storage=20,
        username="owner",
        manage_master_user_password=True,
        skip_final_snapshot=True,
        **extra,
    )


def test_a_restore_copies_the_snapshot_under_our_key_and_restores_the_copy_through_moto() -> None:
    shared = "arn:aws:rds:eu-west-3:111122223333:snapshot:prod-main-2026-11-01"

    def program() -> None:
        key = aws.kms.Key("data", policy=json.dumps(_key_policy()))
        seed = aws.rds.SnapshotCopy(
            "seed", source_db_snapshot_identifier=shared, target_db_snapshot_identifier="main-seed", kms_key_id=key.arn
        )
        _pg("main", snapshot_identifier=seed.id)

    with SandboxMocks(REGION) as mocks:
        run = run_sandbox(program, mocks=mocks, quiet=True)
        rds = client("rds")
        (copy,) = rds.describe_db_snapshots(DBSnapshotIdentifier="main-seed")["DBSnapshots"]
        (db,) = rds.describe_db_instances(DBInstanceIdentifier="main")["DBInstances"]
    assert copy["KmsKeyId"] == run.recording.one("aws:kms/key:Key").inputs["arn"]
    assert db["DBInstanceIdentifier"] == "main"
    assert run.report.moto["aws:rds/snapshotCopy:SnapshotCopy"] == 1 and not run.report.fallback


def test_the_auto_scaling_service_linked_role_is_created_in_the_account() -> None:
    def program() -> None:
        aws.iam.ServiceLinkedRole("autoscaling", aws_service_name="autoscaling.amazonaws.com")

    with SandboxMocks(REGION) as mocks:
        run = run_sandbox(program, mocks=mocks, quiet=True)
        role = client("iam").get_role(RoleName="AWSServiceRoleForAutoScaling")["Role"]
    assert role["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    assert run.report.moto == {"aws:iam/serviceLinkedRole:ServiceLinkedRole": 1}


# --- Every region the settings accept ------------------------------------------------------------------


def test_a_stack_in_us_east_1_runs_and_its_buckets_have_no_location_constraint() -> None:
    # The region's own AZ ids (as describe-availability-zones lists them there).
    config = {
        **stack_config("test"),
        "aws:region": "us-east-1",
        "hardstack:azIds": ["use1-az1", "use1-az2", "use1-az4"],
    }
    with SandboxMocks("us-east-1") as mocks:
        run = run_sandbox(main, region="us-east-1", stack="test", config=config, mocks=mocks, quiet=True)
        s3 = boto3.client("s3", region_name="us-east-1")
        buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        locations = {s3.get_bucket_location(Bucket=b)["LocationConstraint"] for b in buckets}
        zones = {
            s["AvailabilityZone"] for s in boto3.client("ec2", region_name="us-east-1").describe_subnets()["Subnets"]
        }
    assert run.report.region == "us-east-1" and run.report.moto["aws:s3/bucket:Bucket"] == len(buckets) > 0
    assert locations == {None}  # how S3 reports us-east-1
    assert zones and all(z.startswith("us-east-1") for z in zones)


# --- AWS errors: one line naming the resource ---------------------------------------------------------


def test_an_aws_refusal_is_one_line_with_the_resource_type_name_and_aws_code() -> None:
    def program() -> None:
        vpc = aws.ec2.Vpc("v", cidr_block="10.0.0.0/16")
        aws.ec2.Subnet("a", vpc_id=vpc.id, cidr_block="10.0.0.0/24", availability_zone="eu-west-3a")
        b = aws.ec2.Subnet("b", vpc_id=vpc.id, cidr_block="10.0.0.0/25", availability_zone="eu-west-3a")
        # Resources built from the refused one: the SDK wraps the refusal once per dependent.
        table = aws.ec2.RouteTable("t", vpc_id=vpc.id)
        aws.ec2.RouteTableAssociation("t-b", route_table_id=table.id, subnet_id=b.id)

    with pytest.raises(SandboxError) as caught:
        run_sandbox(program, region=REGION, quiet=True)
    err = caught.value
    assert "\n" not in str(err) and err.__cause__ is None and err.__suppress_context__
    assert err.type == "aws:ec2/subnet:Subnet" and err.name in {"a", "b"} and err.code == "InvalidSubnet.Conflict"
    assert str(err).startswith(f"aws:ec2/subnet:Subnet {err.name!r}: AWS refused it: InvalidSubnet.Conflict: ")


def test_a_refusal_in_a_whole_stack_is_one_line_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # S3 refuses the stack's buckets (a name too short): a hundred resources depend on them.
    from hardstack.tooling import sandbox

    def refuse_first_bucket(m: SandboxMocks, name: str, i: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        where = {"LocationConstraint": m.region}
        m.client("s3").create_bucket(Bucket="ab", CreateBucketConfiguration=where)
        raise AssertionError("S3 accepted an invalid bucket name")

    monkeypatch.setitem(sandbox.HANDLERS, "aws:s3/bucket:Bucket", refuse_first_bucket)
    with pytest.raises(SandboxError) as caught:
        run_sandbox(main, region=REGION, stack="test", config=stack_config("test"), quiet=True)
    assert "\n" not in str(caught.value) and caught.value.type == "aws:s3/bucket:Bucket"
    assert "AWS refused it: InvalidBucketName: " in str(caught.value)


# --- The four mistakes ----------------------------------------------------------------------------------


def _key_policy(**statement: Any) -> dict[str, Any]:
    root = {"Sid": "root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}
    logs = {
        "Sid": "logs",
        "Effect": "Allow",
        "Principal": {"Service": "logs.eu-west-3.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
    }
    return {"Version": "2012-10-17", "Statement": [{**root, "Action": "kms:*", "Resource": "*", **statement}, logs]}


def _refused(program: Callable[[], None]) -> SandboxError:
    with pytest.raises(SandboxError) as caught:
        run_sandbox(program, region=REGION, quiet=True)
    assert "\n" not in str(caught.value)
    return caught.value


def test_a_well_formed_key_policy_is_accepted() -> None:
    run = run_sandbox(lambda: aws.kms.Key("data", policy=json.dumps(_key_policy())), region=REGION, quiet=True)
    assert run.report.moto == {"aws:kms/key:Key": 1}


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        (json.dumps(_key_policy())[:-2], "the key policy is not JSON"),
        (json.dumps(_key_policy(Action="kmss:Decrypt")), "action 'kmss:Decrypt', which matches no KMS action"),
        (json.dumps(_key_policy(Action="kms:Decrpyt")), "action 'kms:Decrpyt', which matches no KMS action"),
        (
            json.dumps(_key_policy(Principal={"AWS": "arn:aws:iam:123456789012:root"})),
            'Invalid principal in policy: {"AWS": "arn:aws:iam:123456789012:root"}',
        ),
    ],
    ids=["bad-json", "unknown-action-prefix", "unknown-action", "malformed-principal"],
)
def test_a_key_policy_typo_is_reported_naming_the_key(policy: str, says: str) -> None:
    err = _refused(lambda: aws.kms.Key("data", policy=policy))
    assert err.type == "aws:kms/key:Key" and err.name == "data" and err.own_check
    assert err.code == "MalformedPolicyDocumentException" and says in err.message
    assert str(err).startswith("aws:kms/key:Key 'data': the sandbox's own check refused it")


def _trust(**statement: Any) -> str:
    base = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [{**base, **statement}]})


@pytest.mark.parametrize(
    ("trust", "says", "own_check"),
    [
        (_trust(Action="sts:AssumeRol"), "Trust Policy statement actions can only be", False),
        (_trust(Effect="Alow"), "Syntax errors in policy", False),
        (
            _trust(Principal={"Service": "ec2.amazonaws"}),
            'Invalid principal in policy: {"Service": "ec2.amazonaws"}',
            True,
        ),
        (_trust(Principal={"Servce": "ec2.amazonaws.com"}), "unknown principal type 'Servce'", True),
    ],
    ids=["action", "effect", "service-principal", "principal-type"],
)
def test_a_trust_policy_typo_is_reported_naming_the_role(trust: str, says: str, own_check: bool) -> None:
    err = _refused(lambda: aws.iam.Role("app", assume_role_policy=trust))
    assert err.type == "aws:iam/role:Role" and err.name == "app" and err.own_check is own_check
    assert err.code == "MalformedPolicyDocument" and says in err.message


def db_rule_from_app(same_vpc: bool) -> Callable[[], None]:
    """A database group admitting the app group's 5432, the app group in the database's VPC or another."""

    def program() -> None:
        ours = aws.ec2.Vpc("ours", cidr_block="10.0.0.0/16")
        theirs = ours if same_vpc else aws.ec2.Vpc("theirs", cidr_block="10.1.0.0/16")
        db = aws.ec2.SecurityGroup("db", vpc_id=ours.id, description="database")
        app = aws.ec2.SecurityGroup("app", vpc_id=theirs.id, description="app")
        aws.vpc.SecurityGroupIngressRule(
            "db-in-postgres-from-app",
            security_group_id=db.id,
            referenced_security_group_id=app.id,
            ip_protocol="tcp",
            from_port=5432,
            to_port=5432,
        )

    return program


def test_a_rule_referencing_a_group_of_another_vpc_is_reported_naming_the_rule() -> None:
    err = _refused(db_rule_from_app(same_vpc=False))
    assert err.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    assert err.name == "db-in-postgres-from-app" and err.code == "InvalidGroup.NotFound"
    assert "belong to different networks" in err.message and "no active peering" in err.message


def test_a_rule_referencing_a_group_of_its_own_vpc_is_created() -> None:
    run = run_sandbox(db_rule_from_app(same_vpc=True), region=REGION, quiet=True)
    assert run.report.moto["aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"] == 1


@pytest.mark.parametrize("bogus", ["db.m9q.large", "db.c5.large", "m7g.large", "db.m7g.hugelarge"])
def test_a_bogus_rds_instance_class_is_reported_naming_the_instance(bogus: str) -> None:
    err = _refused(lambda: _pg("main", instance_class=bogus))
    assert err.type == "aws:rds/instance:Instance" and err.name == "main" and err.own_check
    assert err.code == "InvalidParameterCombination" and f"DBInstanceClass={bogus}" in err.message


@pytest.mark.parametrize("real", ["db.t4g.micro", "db.m7g.large", "db.r6i.2xlarge", "db.x2g.large", "db.z1d.large"])
def test_a_real_rds_instance_class_is_accepted(real: str) -> None:
    run = run_sandbox(lambda: _pg("main", instance_class=real), region=REGION, quiet=True)
    assert run.report.moto == {"aws:rds/instance:Instance": 1}


def test_a_second_sandbox_is_refused_while_one_runs() -> None:
    with SandboxMocks(REGION), pytest.raises(HardstackError, match="a sandbox is already running"):
        SandboxMocks("us-east-1").start()
    with SandboxMocks("us-east-1") as again:  # the first one stopped: a fresh account
        assert again.client("s3").list_buckets()["Buckets"] == []


# --- The prod stack in one account, audited through the AWS API (last: see above) -------------------


@pytest.fixture(scope="module")
def prod_run() -> Iterator[tuple[SandboxMocks, SandboxRun, str]]:
    printed = io.StringIO()
    with SandboxMocks(REGION) as mocks:
        run = run_sandbox(main, stack="prod", config=stack_config("prod"), mocks=mocks, out=printed)
        yield mocks, run, printed.getvalue()


@pytest.fixture(scope="module")
def prod(prod_run: tuple[SandboxMocks, SandboxRun, str]) -> tuple[SandboxMocks, Recording]:
    return prod_run[0], prod_run[1].recording


def test_every_resource_of_the_stack_is_created_in_the_account(prod: tuple[SandboxMocks, Recording]) -> None:
    mocks, rec = prod
    assert set(mocks.skipped) <= set(UNSUPPORTED)
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


# --- The report: what ran through moto, what fell back ----------------------------------------------


def test_the_report_counts_every_aws_resource_as_through_moto_or_fallen_back(
    prod_run: tuple[SandboxMocks, SandboxRun, str],
) -> None:
    _, run, _ = prod_run
    report, rec = run.report, run.recording
    aws = Counter(r.type for r in rec if r.custom and r.type.startswith("aws:"))
    assert Counter(report.moto) + Counter(report.fallback) == aws
    assert report.moto["aws:ec2/vpc:Vpc"] == 1 and report.moto["aws:rds/instance:Instance"] == 1
    assert set(report.fallback) <= set(UNSUPPORTED) and report.fallback["aws:eks/addon:Addon"] == 4
    assert report.not_aws["kubernetes:networking.k8s.io/v1:NetworkPolicy"] >= 1
    assert not any(t.startswith("aws:") for t in report.not_aws)
    assert Counter(report.invokes_moto) + Counter(report.invokes_plain) == Counter(i.token for i in rec.invokes)
    assert report.invokes_moto["aws:index/getAvailabilityZones:getAvailabilityZones"] >= 1


def test_the_report_is_printed_with_counts_and_why_each_type_fell_back(
    prod_run: tuple[SandboxMocks, SandboxRun, str],
) -> None:
    _, run, printed = prod_run
    assert printed.strip() == str(run.report)
    fell_back = printed.split("Fell back to plain mocks")[1].split("Plain mocks (not AWS)")[0]
    (addon,) = [line for line in fell_back.splitlines() if "aws:eks/addon:Addon" in line]
    assert addon.split()[1] == "4" and "moto has no CreateAddon" in addon
    through = printed.split("Through moto")[1].split("Fell back")[0]
    assert "aws:rds/instance:Instance" in through and "aws:eks/addon:Addon" not in through


def test_buckets_are_made_in_the_stack_region(prod: tuple[SandboxMocks, Recording]) -> None:
    s3 = client("s3")
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert buckets and {s3.get_bucket_location(Bucket=b)["LocationConstraint"] for b in buckets} == {REGION}
