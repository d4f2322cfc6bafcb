import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from hardstack import AwsContext, HardstackError
from hardstack.aws.fleet import Fleet, FleetArgs
from hardstack.core.tier import Tier
from hardstack.core.userdata import render_cloud_init
from hardstack.tooling.testing import Recording

Run = Callable[..., Recording]
CTX = AwsContext(region="eu-west-3", account_id="123456789012")
USER_DATA = render_cloud_init(
    service_name="app", app_port=8080, environment="test", region="eu-west-3", secret_parameters={"DB": "/app/db"}
)


def args(**kw: Any) -> FleetArgs:
    base: dict[str, Any] = {
        "context": CTX,
        "subnet_ids": ["subnet-a", "subnet-b"],
        "security_group_ids": ["sg-app"],
        "image_id": "ami-0123456789abcdef0",
        "kms_key_arn": "arn:aws:kms:eu-west-3:123456789012:key/k",
        "environment": "test",
        "tier": Tier.DEVELOPMENT,
        "user_data": USER_DATA,
        "secret_parameters": ["/app/db"],
        "target_group_arns": ["arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/app/1"],
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


def test_imdsv2_is_required_with_hop_limit_one(rec: Recording) -> None:
    meta = template(rec)["metadataOptions"]
    assert meta["httpTokens"] == "required" and meta["httpPutResponseHopLimit"] == 1


def test_root_volume_is_encrypted_gp3_under_the_customer_key(rec: Recording) -> None:
    (mapping,) = template(rec)["blockDeviceMappings"]
    ebs = mapping["ebs"]
    assert (ebs["volumeType"], ebs["encrypted"]) == ("gp3", "true")
    assert ebs["kmsKeyId"] == "arn:aws:kms:eu-west-3:123456789012:key/k"


def test_no_public_ip_no_ssh_key_detailed_monitoring_and_ebs_optimized(rec: Recording) -> None:
    lt = template(rec)
    (nic,) = lt["networkInterfaces"]
    assert nic["associatePublicIpAddress"] == "false" and nic["securityGroups"] == ["sg-app"]
    assert "keyName" not in lt
    assert lt["monitoring"] == {"enabled": True} and lt["ebsOptimized"] == "true"


def test_user_data_is_the_rendered_cloud_init(rec: Recording) -> None:
    decoded = base64.b64decode(template(rec)["userData"]).decode()
    assert decoded.startswith("#cloud-config") and "node_exporter" in decoded and "/app/db" in decoded


def test_instance_role_has_ssm_and_cloudwatch_agent_and_reads_only_its_parameters(rec: Recording) -> None:
    attached = {a.inputs["policyArn"] for a in rec.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert attached == {
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    }
    policy = json.loads(rec.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    read, decrypt = policy["Statement"]
    assert read["Resource"] == ["arn:aws:ssm:eu-west-3:123456789012:parameter/app/db"]
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == "ssm.eu-west-3.amazonaws.com"
    assert decrypt["Resource"] == "arn:aws:kms:eu-west-3:123456789012:key/*"
    trust = json.loads(rec.one("aws:iam/role:Role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


def test_no_parameter_policy_without_parameters(run: Run) -> None:
    rec = run(fleet(secret_parameters=[]))
    assert rec.of_type("aws:iam/rolePolicy:RolePolicy") == []


def test_group_spans_the_subnets_with_elb_health_checks_and_rolling_refresh(rec: Recording) -> None:
    asg = rec.one("aws:autoscaling/group:Group")
    i = asg.inputs
    assert i["vpcZoneIdentifiers"] == ["subnet-a", "subnet-b"]
    assert (i["minSize"], i["maxSize"], i["desiredCapacity"]) == (2, 4, 2)
    assert i["healthCheckType"] == "ELB" and i["healthCheckGracePeriod"] == 300
    assert i["instanceRefresh"]["strategy"] == "Rolling"
    assert i["instanceRefresh"]["preferences"]["minHealthyPercentage"] == 90
    assert "GroupInServiceInstances" in i["enabledMetrics"] and i["metricsGranularity"] == "1Minute"
    assert i["launchTemplate"] == {"id": "lt-app", "version": 1}
    assert asg.ignore_changes == ["desiredCapacity"]


def test_instances_carry_the_inventory_tags(rec: Recording) -> None:
    tags = {t["key"]: t for t in rec.one("aws:autoscaling/group:Group").inputs["tags"]}
    assert tags["Environment"]["value"] == "test" and tags["Role"]["value"] == "app"
    assert all(t["propagateAtLaunch"] for t in tags.values())
    kinds = {spec["resourceType"] for spec in template(rec)["tagSpecifications"]}
    assert {"instance", "volume"} <= kinds


def test_cpu_target_tracking_policy(rec: Recording) -> None:
    policy = rec.one("aws:autoscaling/policy:Policy").inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    spec = policy["targetTrackingConfiguration"]
    assert spec["predefinedMetricSpecification"]["predefinedMetricType"] == "ASGAverageCPUUtilization"
    assert spec["targetValue"] == 50.0


def test_an_image_change_updates_the_template_not_the_group(run: Run) -> None:
    # The group follows the template's latest version: a new AMI is a new version and a rolling
    # refresh, never a replaced group. Pulumi would replace on a change of the group's name only.
    a = run(fleet()).one("aws:autoscaling/group:Group")
    b = run(fleet(image_id="ami-0fedcba9876543210")).one("aws:autoscaling/group:Group")
    assert a.name == b.name and a.inputs["launchTemplate"] == b.inputs["launchTemplate"]


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"min_size": 3, "max_size": 2, "desired_capacity": 2}, "min_size = 3 is refused: at most max_size (2)"),
        ({"desired_capacity": 5}, "desired_capacity = 5 is refused: between min_size (2) and max_size (4)"),
        ({"instance_type": "t3micro"}, "instance_type = 't3micro'"),
        ({"instance_type": "T3.MICRO"}, "instance_type = 'T3.MICRO'"),
        ({"image_id": "ami-12"}, "image_id = 'ami-12'"),
        ({"user_data": "#cloud-config\n" + "x" * 17000}, "16384 bytes"),
        ({"user_data": "#cloud-config\nruncmd:\n- export AWS_KEY=AKIAABCDEFGHIJKLMNOP\n"}, "user_data (line 3)"),
        ({"security_group_ids": []}, "security_group_ids"),
    ],
)
def test_bad_fleet_arguments_are_refused(kw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(HardstackError) as err:
        args(**kw)
    assert fragment in str(err.value)
