import base64
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
import yaml

from hardstack import AwsContext, HardstackError
from hardstack.aws.fleet import Fleet, FleetArgs, validate_refresh_range
from hardstack.core.ansible import FLEET_TAG
from hardstack.core.artefacts import fleet_app, node_exporter
from hardstack.core.tier import Tier
from hardstack.core.userdata import FleetBoot
from hardstack.tooling.testing import Recording

Run = Callable[..., Recording]
CTX = AwsContext(region="eu-west-3", account_id="123456789012")
BOOT = FleetBoot(environment="test", region="eu-west-3", secret_parameters={"DB": "/app/db"})
GROUP = "aws:autoscaling/group:Group"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def args(**kw: Any) -> FleetArgs:
    base: dict[str, Any] = {
        "context": CTX,
        "subnet_ids": ["subnet-a", "subnet-b"],
        "security_group_ids": ["sg-app"],
        "image_id": "ami-0123456789abcdef0",
        "kms_key_arn": "arn:aws:kms:eu-west-3:123456789012:key/k",
        "log_key_arn": "arn:aws:kms:eu-west-3:123456789012:key/logs",
        "log_retention_days": 14,
        "environment": "test",
        "tier": Tier.DEVELOPMENT,
        "boot": BOOT,
        "target_group_arns": ["arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/app/1"],
        "rollout_alarm_names": ["web-unhealthy-targets"],
        "min_size": 2,
        "max_size": 4,
        "desired_capacity": 2,
    }
    return FleetArgs(**{**base, **kw})


def fleet(**kw: Any) -> Callable[[], None]:
    built = args(**kw)

    def program() -> None:
        Fleet("app", built)

    return program


@pytest.fixture
def rec(run: Run) -> Recording:
    return run(fleet())


def template(rec: Recording) -> dict[str, Any]:
    return rec.one("aws:ec2/launchTemplate:LaunchTemplate").inputs


def user_data(rec: Recording) -> dict[str, Any]:
    text = base64.b64decode(template(rec)["userData"]).decode()
    assert text.startswith("#cloud-config\n")
    doc: dict[str, Any] = yaml.safe_load(text)
    return doc


def statements(rec: Recording) -> dict[str, dict[str, Any]]:
    policy = json.loads(rec.one(ROLE_POLICY).inputs["policy"])
    return {s["Sid"]: s for s in policy["Statement"]}


def test_imdsv2_is_required_with_hop_limit_one(rec: Recording) -> None:
    meta = template(rec)["metadataOptions"]
    assert meta["httpTokens"] == "required" and meta["httpPutResponseHopLimit"] == 1


def test_root_volume_is_encrypted_gp3_under_the_customer_key(rec: Recording) -> None:
    ebs = template(rec)["blockDeviceMappings"][0]["ebs"]
    assert ebs["encrypted"] == "true" and ebs["volumeType"] == "gp3"
    assert ebs["kmsKeyId"] == "arn:aws:kms:eu-west-3:123456789012:key/k"


def test_no_public_ip_no_ssh_key_detailed_monitoring_and_ebs_optimized(rec: Recording) -> None:
    t = template(rec)
    assert t["networkInterfaces"][0]["associatePublicIpAddress"] == "false"
    assert "keyName" not in t
    assert t["monitoring"] == {"enabled": True} and t["ebsOptimized"] == "true"


def test_user_data_boots_from_the_fleets_own_artefact_bucket(rec: Recording) -> None:
    bucket = "app-artefacts-0a1b2c3"
    doc = user_data(rec)
    boot = next(f["content"] for f in doc["write_files"] if f["path"] == "/usr/local/sbin/hardstack-boot")
    assert f"BUCKET={bucket}" in boot
    assert "github.com" not in json.dumps(doc)


def test_every_artefact_is_uploaded_with_its_key_and_checked_by_sha256(rec: Recording) -> None:
    objects = {o.inputs["key"]: o for o in rec.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    expected = [node_exporter("amd64"), node_exporter("arm64"), fleet_app()]
    assert sorted(objects) == sorted(a.key for a in expected)
    assert all(o.inputs["checksumAlgorithm"] == "SHA256" for o in objects.values())
    boot = json.dumps(user_data(rec))
    assert all(a.sha256 in boot and a.key in boot for a in expected)


def test_log_groups_are_the_stacks_encrypted_with_retention(rec: Recording) -> None:
    groups = {g.inputs["name"]: g.inputs for g in rec.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert sorted(groups) == ["/hardstack/test/fleet/app/app", "/hardstack/test/fleet/app/system"]
    for group in groups.values():
        assert group["kmsKeyId"] == "arn:aws:kms:eu-west-3:123456789012:key/logs"
        assert group["retentionInDays"] == 14
    config = next(
        json.loads(f["content"]) for f in user_data(rec)["write_files"] if f["path"].endswith("cloudwatch-agent.json")
    )
    shipped = {c["log_group_name"] for c in config["logs"]["logs_collected"]["files"]["collect_list"]}
    assert shipped == set(groups)


def test_host_role_writes_only_its_log_groups_and_never_manages_them(rec: Recording) -> None:
    attached = {a.inputs["policyArn"] for a in rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    # Not CloudWatchAgentServerPolicy: it lets a host create any log group and set its retention.
    assert attached == {"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}
    s = statements(rec)
    assert s["WriteOwnLogs"]["Resource"] == [
        "arn:aws:logs:eu-west-3:123456789012:log-group:/hardstack/test/fleet/app/system:*",
        "arn:aws:logs:eu-west-3:123456789012:log-group:/hardstack/test/fleet/app/app:*",
    ]
    assert {"logs:PutRetentionPolicy", "logs:CreateLogGroup", "logs:DeleteLogGroup"} <= set(
        s["NeverManageLogGroups"]["Action"]
    )
    assert s["NeverManageLogGroups"]["Effect"] == "Deny"
    assert s["PutHostMetrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "hardstack/test"}}


def test_host_role_reads_and_decrypts_only_its_parameters(rec: Recording) -> None:
    s = statements(rec)
    arn = "arn:aws:ssm:eu-west-3:123456789012:parameter/app/db"
    assert s["ReadBootParameters"]["Resource"] == [arn]
    assert s["DecryptBootParameters"]["Condition"]["StringEquals"] == {
        "kms:ViaService": "ssm.eu-west-3.amazonaws.com",
        "kms:EncryptionContext:PARAMETER_ARN": [arn],
    }
    # The SSM managed policy allows GetParameter on everything: an explicit Deny holds the line.
    assert s["NoOtherParameters"]["Effect"] == "Deny" and s["NoOtherParameters"]["NotResource"] == [arn]
    assert s["NoOtherDecrypt"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "ssm.eu-west-3.amazonaws.com"},
        "StringNotEquals": {"kms:EncryptionContext:PARAMETER_ARN": [arn]},
    }
    trust = json.loads(rec.one("aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_without_parameters_every_parameter_read_and_decrypt_is_denied(run: Run) -> None:
    boot = FleetBoot(environment="test", region="eu-west-3")
    s = statements(run(fleet(boot=boot)))
    assert "ReadBootParameters" not in s and "DecryptBootParameters" not in s
    assert s["NoOtherParameters"]["Resource"] == "*"
    assert s["NoOtherDecrypt"]["Condition"] == {"StringEquals": {"kms:ViaService": "ssm.eu-west-3.amazonaws.com"}}


def test_a_host_may_mark_only_its_own_fleet_unhealthy(rec: Recording) -> None:
    health = statements(rec)["ReportOwnHealth"]
    assert health["Action"] == "autoscaling:SetInstanceHealth"
    assert health["Condition"] == {"StringEquals": {f"autoscaling:ResourceTag/{FLEET_TAG}": "hardstack-test-app"}}
    tags = {t["key"]: t["value"] for t in rec.one(GROUP).inputs["tags"]}
    assert tags[FLEET_TAG] == "hardstack-test-app"


def test_the_group_boots_only_after_what_hosts_read_at_boot_exists(rec: Recording) -> None:
    needed = [
        *rec.of_type("aws:s3/bucketObjectv2:BucketObjectv2"),
        *rec.of_type("aws:cloudwatch/logGroup:LogGroup"),
        rec.one(ROLE_POLICY),
        *rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"),
    ]
    deps = set(rec.one(GROUP).dependencies)
    assert [r.name for r in needed if r.urn not in deps] == []


def test_refresh_launches_before_it_terminates_and_stops_on_the_alarm(rec: Recording) -> None:
    asg = rec.one(GROUP)
    i = asg.inputs
    assert i["vpcZoneIdentifiers"] == ["subnet-a", "subnet-b"]
    assert (i["minSize"], i["maxSize"], i["desiredCapacity"]) == (2, 4, 2)
    assert i["healthCheckType"] == "ELB" and i["healthCheckGracePeriod"] == 300
    prefs = i["instanceRefresh"]["preferences"]
    assert i["instanceRefresh"]["strategy"] == "Rolling"
    assert (prefs["minHealthyPercentage"], prefs["maxHealthyPercentage"]) == (100, 200)
    assert prefs["alarmSpecification"] == {"alarms": ["web-unhealthy-targets"]}
    # The provider's auto-rollback returns to the new version (terraform-provider-aws#34189).
    assert prefs["autoRollback"] is False and prefs["skipMatching"] is True
    assert "GroupInServiceInstances" in i["enabledMetrics"] and i["metricsGranularity"] == "1Minute"
    assert i["launchTemplate"] == {"id": "lt-app", "version": 1}
    assert asg.ignore_changes == ["desiredCapacity"]


def test_instances_carry_the_inventory_tags(rec: Recording) -> None:
    tags = {t["key"]: t for t in rec.one(GROUP).inputs["tags"]}
    assert tags["Environment"]["value"] == "test" and tags["Role"]["value"] == "app"
    assert all(t["propagateAtLaunch"] for t in tags.values())
    kinds = {spec["resourceType"] for spec in template(rec)["tagSpecifications"]}
    assert {"instance", "volume", "network-interface"} <= kinds


def test_cpu_target_tracking_policy(rec: Recording) -> None:
    policy = rec.one("aws:autoscaling/policy:Policy").inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    spec = policy["targetTrackingConfiguration"]
    assert spec["predefinedMetricSpecification"]["predefinedMetricType"] == "ASGAverageCPUUtilization"
    assert spec["targetValue"] == 50.0


def test_an_image_or_release_change_updates_the_template_not_the_group(run: Run) -> None:
    # A new AMI or release is a new template version and a refresh, never a replaced group.
    a = run(fleet())
    b = run(fleet(image_id="ami-0fedcba9876543210", boot=FleetBoot(environment="test", region="eu-west-3")))
    assert a.one(GROUP).name == b.one(GROUP).name
    assert a.one(GROUP).inputs["launchTemplate"] == b.one(GROUP).inputs["launchTemplate"]
    assert template(a)["userData"] != template(b)["userData"]


def test_ansible_vars_describe_the_hosts_the_user_data_boots(run: Run) -> None:
    built = args()

    def program() -> None:
        pulumi.export("vars", Fleet("app", built).ansible_vars)

    rec = run(program)
    doc = user_data(rec)
    host = json.loads(rec.outputs["vars"])
    written = {f["path"]: f["content"] for f in doc["write_files"]}
    assert {f["path"] for f in host["hardstack_files"]} | {host["hardstack_cloudwatch_config_path"]} <= set(written)
    for f in host["hardstack_files"]:
        assert written[f["path"]] == f["content"]
    assert written[host["hardstack_cloudwatch_config_path"]] == host["hardstack_cloudwatch_config"]
    assert host["hardstack_packages"] == doc["packages"]
    assert host["hardstack_bucket"] == "app-artefacts-0a1b2c3"


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"min_size": 3, "max_size": 2, "desired_capacity": 2}, "min_size = 3 is refused: at most max_size (2)"),
        ({"desired_capacity": 5}, "desired_capacity = 5 is refused: between min_size (2) and max_size (4)"),
        ({"instance_type": "t3micro"}, "instance_type = 't3micro'"),
        ({"instance_type": "T3.MICRO"}, "instance_type = 'T3.MICRO'"),
        ({"image_id": "ami-12"}, "image_id = 'ami-12'"),
        ({"security_group_ids": []}, "security_group_ids"),
        ({"boot": "#cloud-config"}, "boot = '#cloud-config' is refused"),
        ({"log_retention_days": 10}, "log_retention_days = 10"),
        ({"rollout_alarm_names": [f"a{i}" for i in range(11)]}, "at most 10 alarms"),
        ({"max_healthy_percentage": 99}, "max_healthy_percentage = 99 is refused: a whole percentage from 100"),
        ({"min_healthy_percentage": 50, "max_healthy_percentage": 200}, "at most 100 above min_healthy_percentage"),
        ({"max_healthy_percentage": 100}, "more than 100 when min_healthy_percentage is 100"),
    ],
)
def test_bad_fleet_arguments_are_refused(kw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(HardstackError) as err:
        args(**kw)
    assert fragment in str(err.value)


@pytest.mark.parametrize(("low", "high"), [(90, 100), (90, 190), (100, 100), (0, 100)])
def test_a_refresh_range_that_can_drop_capacity_is_refused_in_production(low: int, high: int) -> None:
    with pytest.raises(HardstackError, match="100 and more than 100 in production"):
        validate_refresh_range(low, high, Tier.PRODUCTION)


def test_a_development_fleet_may_terminate_before_it_launches() -> None:
    validate_refresh_range(90, 100, Tier.DEVELOPMENT)
    args(min_healthy_percentage=90, max_healthy_percentage=100)


def test_config_values_reach_hosts_as_parameters_the_role_reads(run: Run) -> None:
    config = {"PGHOST": pulumi.Output.from_input("db.example.internal"), "APP_BUCKET": "app-data-0a1b2c3"}
    statement = {"Sid": "UseAppBucket", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    rec = run(fleet(config=config, statements=[statement]))
    params = {p.inputs["name"]: p for p in rec.of_type("aws:ssm/parameter:Parameter")}
    assert {n: p.inputs["insecureValue"] for n, p in params.items()} == {
        "/hardstack/test/fleet/app/config/APP_BUCKET": "app-data-0a1b2c3",
        "/hardstack/test/fleet/app/config/PGHOST": "db.example.internal",
    }
    assert all(p.inputs["type"] == "String" for p in params.values())
    s = statements(rec)
    assert sorted(s["ReadBootParameters"]["Resource"]) == sorted(
        [f"arn:aws:ssm:eu-west-3:123456789012:parameter{n}" for n in params]
        + ["arn:aws:ssm:eu-west-3:123456789012:parameter/app/db"]
    )
    assert s["UseAppBucket"]["Resource"] == "arn:aws:s3:::b/*"
    boot = json.dumps(user_data(rec))
    assert "db.example.internal" not in boot and "/hardstack/test/fleet/app/config/PGHOST" in boot
    deps = set(rec.one(GROUP).dependencies)
    assert all(p.urn in deps for p in params.values())


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"config": {"DB": "x"}}, "config['DB'] = 'DB' is refused: a name not already in boot.secret_parameters"),
        ({"config": {"db-host": "x"}}, "secret_parameters key = 'db-host'"),
        ({"statements": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}, "statements[0]"),
        ({"statements": [{"Effect": "Allow", "Action": "s3:*", "NotResource": "x"}]}, "an Allow statement"),
    ],
)
def test_bad_config_and_statements_are_refused(kw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(HardstackError) as err:
        args(**kw)
    assert fragment in str(err.value)
