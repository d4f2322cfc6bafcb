import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from hardstack.aws.cluster import ADDON_VERSIONS
from hardstack.core.errors import HardstackError
from hardstack.core.tier import Tier
from hardstack.tooling.testing import Recording
from stacks.offline import stack_config
from stacks.settings import NEVER_SECRET, PROFILES, parse_settings

PROD_CERT = "arn:aws:acm:eu-west-3:111122223333:certificate/00000000-0000-4000-8000-000000000002"

BASE = {
    "aws:region": "eu-west-3",
    "hardstack:environment": "test",
    "hardstack:vpcCidr": "10.10.0.0/16",
    "hardstack:azIds": ["euw3-az1", "euw3-az2", "euw3-az3"],
    "hardstack:fleetImageId": "ami-0123456789abcdef0",
    "hardstack:clusterAdminRoleArns": ["arn:aws:iam::111122223333:role/platform-admin"],
    "hardstack:deployerLocation": "internet",
    "hardstack:deployerCidrs": ["198.51.100.0/24"],
}


def settings(**overrides: Any) -> Any:
    return parse_settings({**BASE, **{f"hardstack:{k}" if ":" not in k else k: v for k, v in overrides.items()}})


def refused(**overrides: Any) -> str:
    with pytest.raises(HardstackError) as err:
        settings(**overrides)
    return str(err.value)


def test_profile_fills_what_the_stack_file_leaves_out() -> None:
    s = settings()
    assert (s.az_count, s.nat_strategy, s.protect) == (2, "single", False)
    prod = prod_settings()
    assert (prod.az_count, prod.nat_strategy, prod.protect, prod.log_retention_days) == (3, "per_az", True, 365)


def test_stack_file_overrides_the_profile() -> None:
    assert settings(azCount="3", natStrategy="per_az").az_count == 3


@pytest.mark.parametrize("stack", ["test", "preprod", "prod"])
def test_every_stack_file_is_valid(stack: str) -> None:
    assert parse_settings(stack_config(stack)).environment == stack


def test_malformed_vpc_cidr_is_refused() -> None:
    msg = refused(vpcCidr="10.0.0/16")
    assert "hardstack:vpcCidr" in msg and "'10.0.0/16'" in msg and "CIDR notation" in msg


def test_public_vpc_cidr_is_refused() -> None:
    msg = refused(vpcCidr="52.0.0.0/16")
    assert "hardstack:vpcCidr" in msg and "RFC 1918" in msg


def test_vpc_cidr_too_small_for_the_plan_is_refused() -> None:
    msg = refused(vpcCidr="10.0.0.0/26")
    assert "hardstack:vpcCidr" in msg and "too small for the plan" in msg and "/22 or larger" in msg


@pytest.mark.parametrize("azs", [1, 7])
def test_az_count_outside_two_to_six_is_refused(azs: int) -> None:
    msg = refused(azCount=azs)
    assert "hardstack:azCount" in msg and repr(azs) in msg and "from 2 to 6" in msg


def test_unknown_nat_strategy_is_refused() -> None:
    msg = refused(natStrategy="dual")
    assert "hardstack:natStrategy" in msg and "'dual'" in msg and "per_az" in msg


def test_an_environment_name_of_its_own_needs_a_tier() -> None:
    msg = refused(environment="eu-prod")
    assert msg.startswith("hardstack:tier is required for environment 'eu-prod'")
    assert "development, staging, production" in msg


def test_any_environment_name_works_with_a_tier() -> None:
    config = {**stack_config("prod"), "hardstack:environment": "eu-prod", "hardstack:tier": "production"}
    settings = parse_settings(config)
    assert settings.environment == "eu-prod" and settings.tier is Tier.PRODUCTION and settings.protect


def test_unknown_tier_is_refused() -> None:
    msg = refused(tier="prod")
    assert msg.startswith("hardstack:tier = 'prod' is refused: one of development, staging, production")


def test_environment_name_aws_would_refuse_is_refused() -> None:
    assert refused(environment="EU.prod").startswith("hardstack:environment = 'EU.prod' is refused")


def test_world_open_admin_port_is_refused() -> None:
    rule = {"to": "app", "cidr": "0.0.0.0/0", "fromPort": 22, "description": "ssh"}
    msg = refused(extraIngress=[rule])
    assert "hardstack:extraIngress[0]" in msg and "22 (SSH)" in msg


def test_port_outside_the_range_is_refused() -> None:
    rule = {"to": "lb", "cidr": "10.1.0.0/16", "fromPort": 70000, "description": "x"}
    msg = refused(extraIngress=[rule])
    assert "hardstack:extraIngress[0].fromPort" in msg and "70000" in msg and "65535" in msg


def test_port_range_from_above_to_is_refused() -> None:
    rule = {"to": "lb", "cidr": "10.1.0.0/16", "fromPort": 9000, "toPort": 8000, "description": "x"}
    msg = refused(extraIngress=[rule])
    assert "hardstack:extraIngress[0]" in msg and "9000-8000" in msg and "from_port must be <= to_port" in msg


@pytest.mark.parametrize("key", ["hardstack:vpcCidr", "aws:region"])
def test_missing_required_key_is_refused(key: str) -> None:
    config = {k: v for k, v in BASE.items() if k != key}
    with pytest.raises(HardstackError, match=f"{key} is required"):
        parse_settings(config)


def test_missing_environment_is_refused() -> None:
    with pytest.raises(HardstackError, match="hardstack:environment is required"):
        parse_settings({"aws:region": "eu-west-3", "hardstack:vpcCidr": "10.0.0.0/16"})


def test_misspelt_key_is_refused_with_the_known_keys() -> None:
    msg = refused(vpcCIDR="10.0.0.0/16")
    assert "hardstack:vpcCIDR is not a known setting" in msg and "hardstack:vpcCidr" in msg


def test_bad_region_is_refused() -> None:
    assert "aws:region" in refused(**{"aws:region": "paris"})


def test_unknown_log_retention_is_refused() -> None:
    assert "hardstack:logRetentionDays" in refused(logRetentionDays=100)


def test_app_port_on_an_admin_port_is_refused() -> None:
    msg = refused(appPort=22)
    assert "hardstack:appPort" in msg and "SSH" in msg


@pytest.mark.parametrize(("key", "value"), [("protect", False), ("flowLogs", False), ("waf", False)])
def test_prod_refuses_unsafe_opt_outs(key: str, value: Any) -> None:
    msg = prod(**{key: value})
    assert f"hardstack:{key}" in msg and "prod" in msg
    settings(**{key: value})  # the same opt-out is allowed in test


def test_waf_rate_limit_below_the_aws_minimum_is_refused() -> None:
    msg = refused(wafRateLimit=5)
    assert "hardstack:wafRateLimit = 5" in msg and "from 10" in msg


def test_waf_is_on_in_staging_and_production_and_off_in_development() -> None:
    assert [PROFILES[tier]["waf"] for tier in Tier] == [False, True, True]


def test_profiles_cover_every_tier() -> None:
    assert set(PROFILES) == set(Tier)


def test_bad_config_registers_nothing() -> None:
    from hardstack.tooling.testing import run_program
    from stacks.program import main

    rec = Recording()
    with pytest.raises(HardstackError, match="hardstack:natStrategy"):
        run_program(main, stack="prod", config={**stack_config("prod"), "hardstack:natStrategy": "x"}, recording=rec)
    assert len(rec) == 0


def test_structured_config_arrives_as_json(stack: Callable[..., Recording]) -> None:
    rule = {"to": "lb", "cidr": "192.168.10.0/24", "fromPort": 443, "description": "office"}
    rec = stack("test", **{"hardstack:extraIngress": [rule]})
    assert rec.one("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "lb-in-tcp-443-cidr-192-168-10-0-24")


def prod(**overrides: Any) -> str:
    """Refused prod settings: the prod stack file with `overrides`."""
    with pytest.raises(HardstackError) as err:
        prod_settings(**overrides)
    return str(err.value)


def prod_settings(**overrides: Any) -> Any:
    return parse_settings({**stack_config("prod"), **{f"hardstack:{k}": v for k, v in overrides.items()}})


def test_fleet_min_above_max_is_refused() -> None:
    msg = refused(fleetMinSize=3, fleetMaxSize=2, fleetDesiredCapacity=2)
    assert "hardstack:fleetMinSize = 3 is refused: at most hardstack:fleetMaxSize (2)" in msg


def test_fleet_desired_outside_min_max_is_refused() -> None:
    msg = refused(fleetDesiredCapacity=5)
    assert "hardstack:fleetDesiredCapacity = 5" in msg and "between hardstack:fleetMinSize (1)" in msg


def test_prod_with_fewer_instances_than_azs_is_refused() -> None:
    msg = prod(fleetMinSize=2, fleetDesiredCapacity=2)
    assert "hardstack:fleetMinSize = 2" in msg and "one instance per AZ" in msg


def test_malformed_instance_type_is_refused() -> None:
    msg = refused(fleetInstanceType="large")
    assert "hardstack:fleetInstanceType = 'large'" in msg and "t3.micro" in msg


def test_malformed_image_id_is_refused() -> None:
    assert "hardstack:fleetImageId = 'al2023'" in refused(fleetImageId="al2023")


def test_user_data_over_16_kb_is_refused() -> None:
    names = {f"VAR_{i}": f"/hardstack/test/{'x' * 200}/{i}" for i in range(80)}
    msg = refused(appSecretParameters=names)
    assert "hardstack:appSecretParameters" in msg and "16384 bytes" in msg


def test_secret_looking_value_in_user_data_is_refused() -> None:
    # A secret pasted where a parameter NAME belongs.
    msg = refused(appSecretParameters={"DB_PASSWORD": "password=hunter2hunter2"})
    assert "hardstack:appSecretParameters" in msg


def test_prod_without_a_certificate_is_refused() -> None:
    msg = refused(environment="prod")
    assert "hardstack:certificateArn = None" in msg and "HTTPS only" in msg


def test_preprod_without_a_certificate_is_refused_too() -> None:
    assert "hardstack:certificateArn" in refused(environment="preprod")


@pytest.mark.parametrize("port", [22, 3389, 5432, 9100, 80])
def test_app_port_colliding_with_an_admin_or_reserved_port_is_refused(port: int) -> None:
    assert f"hardstack:appPort = {port}" in refused(appPort=port)


def test_world_open_extra_egress_port_range_must_be_valid() -> None:
    rule = {"cidr": "10.5.0.0/16", "fromPort": 10, "toPort": 5, "description": "x"}
    assert "hardstack:extraEgress[0]" in refused(extraEgress=[rule])


# --- Kubernetes, application and data ---------------------------------------------------------


def test_unknown_kubernetes_version_is_refused() -> None:
    msg = refused(clusterVersion="1.12")
    assert "hardstack:clusterVersion = '1.12'" in msg and "1.33" in msg


def test_prod_public_endpoint_open_to_the_internet_is_refused() -> None:
    msg = prod(deployerLocation="internet", deployerCidrs=["0.0.0.0/0"])
    assert "hardstack:deployerCidrs" in msg and "0.0.0.0/0" in msg


def test_test_may_open_the_endpoint_to_a_listed_cidr() -> None:
    s = settings(deployerLocation="internet", deployerCidrs=["203.0.113.0/24"])
    assert s.deployer_cidrs == ("203.0.113.0/24",)


@pytest.mark.parametrize(
    ("overrides", "shown"),
    [
        ({"deployerLocation": None}, "hardstack:deployerLocation is required"),
        ({"deployerLocation": "internet", "deployerCidrs": []}, "hardstack:deployerCidrs = [] is refused"),
        ({"deployerLocation": "vpc", "deployerCidrs": []}, "hardstack:deployerCidrs = [] is refused"),
        ({"deployerLocation": "vpc", "deployerCidrs": ["8.8.8.0/24"]}, "hardstack:deployerCidrs = '8.8.8.0/24'"),
        (
            {"clusterKubeconfigRoleArn": "arn:aws:iam::111122223333:role/ci"},
            "hardstack:clusterKubeconfigRoleArn = 'arn:aws:iam::111122223333:role/ci' is refused",
        ),
    ],
)
def test_a_deployer_that_cannot_reach_or_sign_in_to_the_cluster_is_refused(
    overrides: dict[str, Any], shown: str
) -> None:
    config = {**BASE, **{f"hardstack:{k}": v for k, v in overrides.items()}}
    config = {k: v for k, v in config.items() if v is not None}
    with pytest.raises(HardstackError) as err:
        parse_settings(config)
    assert str(err.value).startswith(shown)


def test_the_identity_running_up_gets_cluster_admin() -> None:
    from hardstack.tooling.testing import run_program
    from stacks.program import main

    rec = run_program(main, stack="test", config=stack_config("test"))
    entries = {r.name: r.inputs["principalArn"] for r in rec.of_type("aws:eks/accessEntry:AccessEntry")}
    assert entries["eks-access-deployer"] == "arn:aws:iam::123456789012:user/preview"
    admin = rec.one("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "eks-admin-deployer")
    assert admin.inputs["policyArn"].endswith("AmazonEKSClusterAdminPolicy")


def test_node_group_min_above_max_is_refused() -> None:
    msg = refused(clusterNodeMinSize=4, clusterNodeMaxSize=2, clusterNodeDesiredSize=2)
    assert "hardstack:clusterNodeMinSize = 4" in msg and "hardstack:clusterNodeMaxSize (2)" in msg


@pytest.mark.parametrize("image", ["ghcr.io/stefanprodan/podinfo", "podinfo"])
def test_image_without_tag_or_digest_is_refused(image: str) -> None:
    assert f"hardstack:appImage = {image!r}" in refused(appImage=image)


@pytest.mark.parametrize("env", ["preprod", "prod"])
def test_latest_image_is_refused_outside_test(env: str) -> None:
    image = "ghcr.io/stefanprodan/podinfo:latest"
    msg = prod(appImage=image) if env == "prod" else refused(environment=env, certificateArn=PROD_CERT, appImage=image)
    assert "hardstack:appImage" in msg and "latest" in msg
    assert settings(appImage=image).app_image == image  # test may follow latest


def test_digest_pinned_image_is_accepted_in_prod() -> None:
    image = "ghcr.io/stefanprodan/podinfo@sha256:" + "a" * 64
    assert prod_settings(appImage=image).app_image == image


def test_replicas_below_two_in_prod_are_refused() -> None:
    msg = prod(appReplicas=1)
    assert "hardstack:appReplicas = 1" in msg


def test_existing_mode_without_kubeconfig_is_refused() -> None:
    msg = refused(clusterMode="existing")
    assert "hardstack:kubeconfig" in msg


def test_existing_mode_never_shows_the_kubeconfig() -> None:
    msg = refused(clusterMode="existing", kubeconfig="token: s3cr3t-value")
    assert "hardstack:kubeconfig" in msg and "s3cr3t-value" not in msg


def test_backup_retention_zero_in_prod_is_refused() -> None:
    msg = prod(dbBackupRetentionDays=0)
    assert "hardstack:dbBackupRetentionDays = 0" in msg


def test_prod_database_deletion_protection_cannot_be_turned_off() -> None:
    assert "hardstack:dbDeletionProtection" in prod(dbDeletionProtection=False)


def test_bad_database_class_is_refused() -> None:
    assert "hardstack:dbInstanceClass = 'm5.large'" in refused(dbInstanceClass="m5.large")


# --- Supervision -----------------------------------------------------------------------------


@pytest.mark.parametrize("objective", ["1", "1.5", "0", "-0.1"])
def test_objective_outside_zero_one_is_refused(objective: str) -> None:
    msg = refused(appSloObjective=objective)
    assert "hardstack:appSloObjective" in msg and objective in msg


def test_unknown_severity_is_refused() -> None:
    msg = refused(alertRoutes={"urgent": ["oncall"]})
    assert "hardstack:alertRoutes" in msg and "urgent" in msg


def test_prod_without_a_page_receiver_is_refused() -> None:
    msg = prod(alertRoutes={"ticket": ["tickets"]})
    assert "hardstack:alertRoutes" in msg and "page" in msg


def test_prod_without_a_heartbeat_receiver_is_refused() -> None:
    assert "hardstack:heartbeatReceiver" in prod(heartbeatReceiver=None)


def test_prod_without_an_alert_subscription_is_refused() -> None:
    assert "hardstack:alertSubscriptions" in prod(alertSubscriptions=[])


def test_plain_http_subscription_is_refused() -> None:
    msg = refused(alertSubscriptions=[{"protocol": "http", "endpoint": "http://hooks.example.com"}])
    assert "hardstack:alertSubscriptions[0]" in msg


@pytest.mark.parametrize("seconds", [90, 45])
def test_alarm_period_not_a_multiple_of_60_is_refused(seconds: int) -> None:
    msg = refused(alarmPeriodSeconds=seconds)
    assert f"hardstack:alarmPeriodSeconds = {seconds}" in msg and "60" in msg


def test_retention_size_larger_than_the_volume_is_refused() -> None:
    msg = refused(prometheusRetentionSize="20GB", prometheusVolumeGb=10)
    assert "hardstack:prometheusRetentionSize" in msg and "20GB" in msg


def test_alarm_thresholds_can_be_overridden_per_stack() -> None:
    t = settings(alarmThresholds={"cpuPercent": 70, "rdsMaxConnections": 250}).thresholds()
    assert (t.cpu_percent, t.rds_max_connections, t.period_seconds) == (70, 250, 300)


def test_unknown_alarm_threshold_is_refused() -> None:
    msg = refused(alarmThresholds={"cpuPercnt": 70})
    assert "hardstack:alarmThresholds" in msg and "cpuPercent" in msg


def test_out_of_range_alarm_threshold_is_refused() -> None:
    msg = refused(alarmThresholds={"alb5xxRatio": 2})
    assert "hardstack:alarmThresholds" in msg and "alb_5xx_ratio" in msg


def test_company_conventions_reach_every_role_and_name() -> None:
    from hardstack.tooling.testing import run_program
    from stacks.program import main

    boundary = "arn:aws:iam::123456789012:policy/platform-boundary"
    config = {
        **stack_config("test"),
        "hardstack:namePrefix": ["acme", "shop"],
        "hardstack:iamPath": "/platform/",
        "hardstack:permissionsBoundaryArn": boundary,
    }
    rec = run_program(main, stack="test", config=config)
    roles = rec.of_type("aws:iam/role:Role")
    assert roles and all(r.inputs["path"] == "/platform/" for r in roles)
    assert all(r.inputs["permissionsBoundary"] == boundary for r in roles)
    aliases = [r.inputs["name"] for r in rec.of_type("aws:kms/alias:Alias")]
    assert aliases and all(a.startswith("alias/acme/shop/") for a in aliases)
    assert rec.one("aws:eks/cluster:Cluster").inputs["name"] == "acme-shop-eks"


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("iamPath", "platform", "hardstack:iamPath = 'platform' is refused"),
        ("permissionsBoundaryArn", "boundary", "hardstack:permissionsBoundaryArn = 'boundary' is refused"),
        ("tags", {"aws:owner": "me"}, "hardstack:tags key = 'aws:owner' is refused"),
        ("tags", {"Owner": "x" * 300}, "hardstack:tags[Owner] = "),
        ("namePrefix", ["acme.corp"], "naming.segments[0] = 'acme.corp' is refused"),
    ],
)
def test_conventions_aws_would_refuse_are_refused_before_any_resource(key: str, value: object, shown: str) -> None:
    from hardstack.tooling.testing import run_program
    from stacks.program import main

    rec = Recording()
    with pytest.raises(HardstackError, match=re.escape(shown)):
        run_program(main, stack="test", config={**stack_config("test"), f"hardstack:{key}": value}, recording=rec)
    assert len(rec) == 0


def test_a_stack_name_aws_would_refuse_in_names_is_refused_before_any_resource() -> None:
    from hardstack.tooling.testing import run_program
    from stacks.program import main

    rec = Recording()
    with pytest.raises(HardstackError, match=r"^Pulumi stack name = 'eu\.test' is refused"):
        run_program(main, stack="eu.test", config=stack_config("test"), recording=rec)
    assert len(rec) == 0


def test_a_kubernetes_version_without_pinned_addons_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(ADDON_VERSIONS, "1.34")  # a supported minor hardstack does not pin
    msg = refused(clusterVersion="1.34")
    assert msg.startswith("hardstack:clusterAddonVersions = {} is refused") and "Kubernetes 1.34" in msg


def test_a_receiver_secret_that_is_not_set_is_demanded_with_the_command() -> None:
    config = {**stack_config("prod")}
    config.pop("hardstack:alertSecrets")
    with pytest.raises(HardstackError) as err:
        parse_settings(config)
    assert "pulumi config set --secret --path 'hardstack:alertSecrets.pagerduty-routing-key' <value>" in str(err.value)


def test_no_stack_file_carries_a_value_the_cli_cannot_decrypt() -> None:
    from stacks.offline import STACKS_DIR

    for path in STACKS_DIR.glob("Pulumi.*.yaml"):
        assert "replace-me" not in path.read_text() and "secure: v1:" not in path.read_text(), path.name


def test_the_cli_finds_the_programs_dependencies_where_it_looks() -> None:
    # The pip toolchain runs `pip install -r requirements.txt` in the program's directory (`main`),
    # so paths in it are relative to stacks/ and to policies/ for the pack.
    root = Path(__file__).resolve().parent.parent
    program = yaml.safe_load((root / "Pulumi.yaml").read_text())
    main_dir = root / program["main"]
    lines = [line for line in (main_dir / "requirements.txt").read_text().splitlines() if line.startswith("-e ")]
    target = lines[0].removeprefix("-e ").split("[")[0]
    assert (main_dir / target / "pyproject.toml").is_file() and "[stacks]" in lines[0]
    pack = [
        line for line in (root / "policies" / "requirements.txt").read_text().splitlines() if line.startswith("-e ")
    ]
    assert (root / "policies" / pack[0].removeprefix("-e ").split("[")[0] / "pyproject.toml").is_file()


def test_the_name_prefix_reaches_alarms_and_the_dashboard() -> None:
    from hardstack.tooling.testing import run_program
    from stacks.program import main

    rec = run_program(main, stack="test", config={**stack_config("test"), "hardstack:namePrefix": ["acme", "shop"]})
    alarms = [r.inputs["name"] for r in rec.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")]
    assert alarms and all(a.startswith("acme-shop-") for a in alarms)
    assert rec.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardName"].startswith("acme-shop-")


# --- platform controllers and capacity -----------------------------------------------------------


def test_an_hpa_maximum_the_node_group_cannot_hold_is_refused() -> None:
    msg = refused(appMaxReplicas=200, clusterNodeMaxSize=3)
    assert "hardstack:appMaxReplicas = 200 is refused: at most" in msg
    assert "hardstack:clusterNodeMaxSize" in msg and "t3.large" in msg


@pytest.mark.parametrize("stack", ["test", "preprod", "prod"])
def test_every_stack_holds_the_app_at_its_hpa_maximum_within_the_node_maximum(stack: str) -> None:
    from decimal import Decimal

    from hardstack.core.controllers import capacity_at_max

    s = parse_settings(stack_config(stack))
    capacity = capacity_at_max(
        s.app_max_replicas, Decimal(100), Decimal(128), s.cluster_node_max_size, s.cluster_node_instance_types
    )
    assert capacity.fits and capacity.max_replicas_that_fit >= s.app_max_replicas


def test_an_instance_type_of_unknown_size_is_refused_by_the_capacity_check() -> None:
    msg = refused(clusterNodeInstanceTypes=["x2iedn.xlarge"])
    assert "hardstack:clusterNodeInstanceTypes = 'x2iedn.xlarge'" in msg


def test_existing_mode_asking_for_a_controller_it_cannot_install_is_refused() -> None:
    msg = refused(clusterMode="existing", kubeconfig=EXISTING_KUBECONFIG, clusterAutoscaler=True)
    assert "hardstack:clusterAutoscaler = True is refused" in msg
    assert "hardstack:existingClusterName" in msg and "hardstack:existingClusterOidcProviderArn" in msg


def test_existing_mode_defaults_to_metrics_server_only() -> None:
    s = settings(
        clusterMode="existing", kubeconfig=EXISTING_KUBECONFIG, existingClusterLoadBalancerCidrs=["10.1.0.0/24"]
    )
    assert s.metrics_server and not s.installs_cluster_autoscaler and not s.installs_load_balancer_controller


def test_a_managed_cluster_serving_class_alb_keeps_the_load_balancer_controller() -> None:
    msg = refused(loadBalancerController=False)
    assert "hardstack:loadBalancerController = False is refused" in msg and "ingressClass is alb" in msg


EXISTING_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://k8s.internal.example:6443"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
"""


def test_existing_mode_refuses_a_load_balancer_cidr_that_is_not_one() -> None:
    msg = refused(
        clusterMode="existing", kubeconfig=EXISTING_KUBECONFIG, existingClusterLoadBalancerCidrs=["10.1.0.1/24"]
    )
    assert "hardstack:existingClusterLoadBalancerCidrs = '10.1.0.1/24'" in msg


def test_retention_shorter_than_the_slo_period_is_refused() -> None:
    msg = refused(prometheusRetention="15d")
    assert "hardstack:prometheusRetention = '15d'" in msg and "at least 30d" in msg


def test_a_managed_cluster_refuses_an_ingress_class_nothing_there_serves() -> None:
    msg = refused(ingressClass="nginx")
    assert "hardstack:ingressClass = 'nginx' is refused: alb on the cluster this stack creates" in msg


# --- keys as written, unknown keys ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("nat_strategy", "natStrategy"),
        ("db_instance_class", "dbInstanceClass"),
        ("cluster-node-min-size", "clusterNodeMinSize"),
    ],
)
def test_a_snake_case_key_points_to_the_camel_case_one(written: str, meant: str) -> None:
    msg = refused(**{written: "x"})
    assert msg.startswith(f"hardstack:{written} is the snake_case spelling of hardstack:{meant}")
    assert f"did you mean hardstack:{meant}?" in msg and "not a known setting" not in msg


def test_the_snake_case_spelling_of_every_setting_points_to_it() -> None:
    from pydantic.alias_generators import to_snake

    from stacks.settings import known_keys

    camel = [key.partition(":")[2] for key in known_keys() if key != key.lower()]
    assert camel
    for name in camel:
        assert f"did you mean hardstack:{name}?" in refused(**{to_snake(name): "x"}), name


@pytest.mark.parametrize(
    ("written", "meant"),
    [("natStrategie", "hardstack:natStrategy"), ("alertSecret", "hardstack:alertSecrets"), ("TAGS", "hardstack:tags")],
)
def test_a_misspelt_key_is_refused_with_the_closest_known_one(written: str, meant: str) -> None:
    msg = refused(**{written: "x"})
    assert msg.startswith(f"hardstack:{written} is not a known setting (a typo?): did you mean {meant}")


def test_a_key_like_no_setting_is_refused_with_every_known_key() -> None:
    msg = refused(fooBar=1)
    assert msg.startswith("hardstack:fooBar is not a known setting (a typo?): known keys are hardstack:")
    assert "hardstack:natStrategy" in msg and "hardstack:vpcCidr" in msg


def test_every_unknown_key_is_refused_at_once() -> None:
    lines = refused(fooBar=1, nat_strategy="none").splitlines()
    assert [line.split(" ")[0] for line in lines] == ["hardstack:fooBar", "hardstack:nat_strategy"]


def test_keys_inside_a_map_are_named_as_written() -> None:
    msg = refused(alertSecrets={"pagerduty-routing-key": 42})
    assert msg.startswith("hardstack:alertSecrets.pagerduty-routing-key = 42 is refused")
    assert "Routing" not in msg


def test_a_map_key_a_dot_would_split_is_quoted() -> None:
    assert refused(tags={"cost.center": 7}).startswith('hardstack:tags["cost.center"] = 7 is refused')


# --- secrets are never printed ---------------------------------------------------------------------

SECRET_TEXT = "s3cr3t-v4lue-never-printed"


def refused_secretly(config: dict[str, Any], secret_keys: list[str]) -> str:
    with pytest.raises(HardstackError) as err:
        parse_settings(config, secret_keys=secret_keys)
    return str(err.value)


def as_secret(config: dict[str, Any], key: str) -> list[str]:
    """Every key of `config` as set with --secret but those that cannot be, unless `key` is one."""
    return [k for k in config if k == key or k not in NEVER_SECRET]


def every_key() -> list[str]:
    from stacks.settings import known_keys

    return ["aws:region", *known_keys()]


@pytest.mark.parametrize("key", every_key())
def test_a_secret_object_of_any_key_is_never_printed(key: str) -> None:
    config = {**BASE, key: {"token": {"password": SECRET_TEXT}}}
    msg = refused_secretly(config, secret_keys=as_secret(config, key))
    # Redacted, or refused as a secret at all (a key every name shows, a number or a flag).
    assert key in msg and SECRET_TEXT not in msg and ("[secret]" in msg or "cannot be kept secret" in msg)


@pytest.mark.parametrize("key", every_key())
def test_a_bad_secret_string_of_any_key_is_never_printed(key: str) -> None:
    config = {**BASE, key: f"{SECRET_TEXT}!"}
    try:
        parse_settings(config, secret_keys=as_secret(config, key))
    except HardstackError as err:
        assert SECRET_TEXT not in str(err)
    else:  # a key that takes any string: the same value is accepted in plain config too
        parse_settings(config)


def test_without_secret_keys_the_value_is_shown() -> None:
    msg = refused(vpcCidr={"token": SECRET_TEXT})
    assert SECRET_TEXT in msg  # the control for the tests above: it is the secret marking that hides it


def test_a_kubeconfig_given_as_an_object_is_never_printed() -> None:
    config = {**BASE, "hardstack:clusterMode": "existing", "hardstack:kubeconfig": {"users": [{"token": SECRET_TEXT}]}}
    msg = refused_secretly(config, ["hardstack:kubeconfig"])
    assert msg.startswith("hardstack:kubeconfig = [secret] is refused") and SECRET_TEXT not in msg


def test_a_non_string_alert_secret_is_never_printed() -> None:
    config = {**stack_config("prod"), "hardstack:alertSecrets": {"pagerduty-routing-key": {"key": SECRET_TEXT}}}
    msg = refused_secretly(config, ["hardstack:alertSecrets"])
    assert msg.startswith("hardstack:alertSecrets.pagerduty-routing-key = [secret] is refused")
    assert SECRET_TEXT not in msg


def test_a_secret_quoted_by_another_check_is_hidden_too() -> None:
    # The missing-secret message names the receiver: here the receivers themselves are secret.
    config = {**stack_config("prod")}
    config.pop("hardstack:alertSecrets")
    config["hardstack:alertReceivers"] = [
        {"name": "oncall-" + SECRET_TEXT, "kind": "pagerduty", "secretKey": "pagerduty-routing-key"},
        *config["hardstack:alertReceivers"][1:],
    ]
    config["hardstack:alertRoutes"] = {"page": ["oncall-" + SECRET_TEXT], "ticket": ["tickets"]}
    msg = refused_secretly(config, ["hardstack:alertReceivers", "hardstack:alertRoutes"])
    assert "hardstack:alertReceivers[0]" in msg and SECRET_TEXT not in msg


def test_settings_remember_which_keys_are_secret() -> None:
    s = parse_settings(BASE, secret_keys=["hardstack:vpcCidr", "hardstack:notSet"])
    assert s.secret_keys == {"hardstack:vpcCidr"}


def test_read_config_learns_the_keys_set_with_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi.runtime

    from stacks.settings import read_config

    # What the CLI's language host hands the program: the config and the list of its secret keys.
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"hardstack:kubeconfig": "k", "hardstack:vpcCidr": "10.0.0.0/16"}))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["hardstack:kubeconfig"]))
    # What the Automation API hands it: config with secret keys.
    pulumi.runtime.set_all_config({"hardstack:alertSecrets": '{"a": "b"}'}, ["hardstack:alertSecrets"])
    try:
        config = read_config()
    finally:
        pulumi.runtime.set_all_config({}, [])
    assert config.secret_keys == {"hardstack:kubeconfig", "hardstack:alertSecrets"}
    assert config.values["hardstack:alertSecrets"] == {"a": "b"} and config.values["hardstack:vpcCidr"] == "10.0.0.0/16"


# --- AWS's own limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "shown"),
    [
        ({"AWS:owner": "me"}, "hardstack:tags key = 'AWS:owner' is refused: a key without the 'aws:' prefix"),
        ({"Owner": "Aws:me"}, "hardstack:tags[Owner] = 'Aws:me' is refused: a value without the 'aws:' prefix"),
        ({"k" * 129: "v"}, "hardstack:tags key = 'kkkk"),
        (
            {"Owner": "x" * 257},
            "hardstack:tags[Owner] = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (257 characters)'",
        ),
        ({"Owner": "a|b"}, "hardstack:tags[Owner] = 'a|b' is refused"),
        ({f"t{i}": "v" for i in range(41)}, "hardstack:tags = '41 tags' is refused: at most 40"),
    ],
)
def test_tags_aws_would_refuse_are_refused(tags: dict[str, str], shown: str) -> None:
    assert refused(tags=tags).startswith(shown)


def test_the_longest_tags_aws_takes_are_accepted() -> None:
    tags = {"k" * 128: "v" * 256, **{f"t{i}": "" for i in range(39)}}
    assert settings(tags=tags).tags == tags


def test_hardstack_keeps_room_for_its_own_tags_on_every_resource(stack: Callable[..., Recording]) -> None:
    from stacks.settings import BASE_TAG_KEYS, HARDSTACK_TAGS

    counts = []
    for r in stack("prod"):
        given: list[Any] = [r.inputs.get("tags")]
        given += [spec.get("tags") for spec in r.inputs.get("tagSpecifications") or []]
        for tags in given:
            if isinstance(tags, dict):
                counts.append(len(set(tags) | set(BASE_TAG_KEYS)))
            elif isinstance(tags, list):  # Auto Scaling groups: [{key, value, propagateAtLaunch}]
                counts.append(len({t["key"] for t in tags} | set(BASE_TAG_KEYS)))
    assert counts and max(counts) <= HARDSTACK_TAGS


def test_a_certificate_of_another_region_is_refused() -> None:
    other = PROD_CERT.replace("eu-west-3", "us-east-1")
    msg = refused(certificateArn=other)
    assert msg.startswith(f"hardstack:certificateArn = {other!r} is refused: a certificate in eu-west-3 (aws:region)")


@pytest.mark.parametrize(
    ("sizes", "shown"),
    [
        ({"clusterNodeMinSize": 0}, "hardstack:clusterNodeMinSize = 0 is refused: at least 1 with a managed cluster"),
        (
            {"clusterNodeMinSize": 0, "clusterNodeDesiredSize": 0},
            "hardstack:clusterNodeMinSize = 0 is refused: at least 1",
        ),
        (
            {"clusterNodeMinSize": 2, "clusterNodeDesiredSize": 1},
            "hardstack:clusterNodeDesiredSize = 1 is refused: between hardstack:clusterNodeMinSize (2)",
        ),
        (
            {"clusterNodeDesiredSize": 4},
            "hardstack:clusterNodeDesiredSize = 4 is refused: between hardstack:clusterNodeMinSize (1) and "
            "hardstack:clusterNodeMaxSize (3)",
        ),
    ],
)
def test_a_managed_node_group_aws_or_the_platform_cannot_run_is_refused(sizes: dict[str, int], shown: str) -> None:
    assert refused(**sizes).startswith(shown)


def test_without_a_managed_cluster_the_node_sizes_do_not_matter() -> None:
    s = settings(clusterMode="none", clusterNodeMinSize=0, clusterNodeDesiredSize=0)
    assert s.cluster_node_min_size == 0


WORLD_EGRESS = {"cidr": "0.0.0.0/0", "fromPort": 0, "toPort": 65535, "description": "anything"}


@pytest.mark.parametrize("rule", [WORLD_EGRESS, {**WORLD_EGRESS, "cidr": "::/0", "fromPort": 1, "protocol": "udp"}])
def test_prod_refuses_world_open_egress_on_every_port(rule: dict[str, Any]) -> None:
    msg = prod(extraEgress=[rule])
    assert msg.startswith("hardstack:extraEgress[0] = ") and "hardstack:allowWorldEgressAllPorts" in msg


def test_prod_takes_world_open_egress_on_every_port_when_asked_for_by_name() -> None:
    s = prod_settings(extraEgress=[WORLD_EGRESS], allowWorldEgressAllPorts=True)
    assert s.extra_egress[0].cidr == "0.0.0.0/0"


def test_prod_takes_world_egress_on_named_ports_and_test_on_every_port() -> None:
    assert prod_settings(extraEgress=[{**WORLD_EGRESS, "fromPort": 8443, "toPort": 8443}]).extra_egress
    assert settings(extraEgress=[WORLD_EGRESS]).extra_egress


# --- every refusal, through the program: nothing registered -------------------------------------

OFFICE_8443 = {"to": "lb", "cidr": "192.168.10.0/24", "fromPort": 8443, "description": "office"}

REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("test", {"hardstack:nat_strategy": "none"}, "hardstack:nat_strategy is the snake_case spelling"),
    # A managed cluster's nodes pull public images: without NAT its first up would never finish.
    ("test", {"hardstack:natStrategy": "none"}, "hardstack:natStrategy = 'none' is refused: single or per_az"),
    # An existing cluster's ALB connects from that cluster's VPC: nothing of this stack's would admit it.
    (
        "test",
        {"hardstack:clusterMode": "existing", "hardstack:kubeconfig": EXISTING_KUBECONFIG},
        "hardstack:existingClusterLoadBalancerCidrs = [] is refused: the CIDRs of the existing cluster's public",
    ),
    ("test", {"hardstack:fooBar": 1}, "hardstack:fooBar is not a known setting"),
    # Refused by the components only, after 30 to 200 resources, before the settings ran the same checks.
    ("prod", {"hardstack:albDeletionProtection": False}, "hardstack:albDeletionProtection = False is refused: on"),
    ("prod", {"hardstack:albAccessLogs": False}, "hardstack:albAccessLogs = False is refused: on in prod"),
    (
        "test",
        {"hardstack:extraIngress": [OFFICE_8443, {**OFFICE_8443, "cidr": "192.168.10.0/024"}]},
        "hardstack:extraIngress[1] = 'tcp-8443-cidr-192-168-10-0-24' is refused: each flow once: the same port and "
        "peer as hardstack:extraIngress[0]",
    ),
    (
        "test",
        {"hardstack:extraEgress": [{"cidr": "0.0.0.0/0", "fromPort": 443, "toPort": 443, "description": "web"}]},
        "hardstack:extraEgress[0] = 'tcp-443-cidr-0-0-0-0-0' is refused: each flow once: the same port and peer as "
        "the stack's own rule (HTTPS to AWS APIs",
    ),
    (
        "prod",
        {"hardstack:alertSubscriptions": [{"protocol": "email", "endpoint": "oncall@example.com"}] * 2},
        "hardstack:alertSubscriptions[1] = 'email:oncall@example.com' is refused: each endpoint once",
    ),
    (
        "test",
        {
            "hardstack:clusterMode": "existing",
            "hardstack:kubeconfig": EXISTING_KUBECONFIG,
            "hardstack:ingressClass": "NGINX",
        },
        "hardstack:ingressClass = 'NGINX' is refused",
    ),
    ("test", {"hardstack:existingClusterLoadBalancerCidrs": ["x"]}, "hardstack:existingClusterLoadBalancerCidrs = 'x'"),
    ("test", {"hardstack:namePrefix": ["aws"]}, "hardstack:namePrefix = ['aws'] is refused: segments that make valid"),
    ("test", {"hardstack:namePrefix": ["x-"]}, "hardstack:namePrefix = ['x-'] is refused: segments that make valid"),
    ("prod", {"hardstack:deployerCidrs": ["10.30.0.0/20", "10.30.0.0/20"]}, "hardstack:deployerCidrs = '10.30.0.0/20'"),
    ("test", {"hardstack:deployerCidrs": ["2001:db8::/32"]}, "hardstack:deployerCidrs = '2001:db8::/32' is refused"),
    ("prod", {"hardstack:tier": "development"}, "hardstack:tier = 'development' is refused: production or stricter"),
    # Accepted, then refused by AWS (or by PostgreSQL in the bootstrap Job) halfway through a deploy.
    ("test", {"aws:region": "cn-north-1"}, "aws:region = 'cn-north-1' is refused: a region of the aws partition"),
    (
        "test",
        {"hardstack:clusterAdminRoleArns": ["arn:aws-cn:iam::111122223333:role/platform-admin"]},
        "hardstack:clusterAdminRoleArns[0] = 'arn:aws-cn:iam::111122223333:role/platform-admin' is refused: an ARN "
        "of the aws partition",
    ),
    (
        "prod",
        {"hardstack:certificateArn": "arn:aws:acm:eu-west-3:111122223333:certificate/" + "-" * 36},
        "hardstack:certificateArn",
    ),
    ("prod", {"aws:allowedAccountIds": ["\uff11" * 12]}, "aws:allowedAccountIds[0] = "),
    ("test", {"hardstack:dbAppUser": "true"}, "hardstack:dbAppUser = 'true' is refused"),
    ("test", {"hardstack:dbMigrationUser": "verbose"}, "hardstack:dbMigrationUser = 'verbose' is refused"),
    ("test", {"hardstack:fleetMaxSize": 10**6}, "hardstack:fleetMaxSize = 1000000 is refused: at most 1,000 hosts"),
    ("test", {"hardstack:clusterNodeMaxSize": 500}, "hardstack:clusterNodeMaxSize = 500 is refused: at most 450"),
    (
        "test",
        {
            "hardstack:clusterMode": "existing",
            "hardstack:kubeconfig": EXISTING_KUBECONFIG,
            "hardstack:existingClusterName": "a b",
        },
        "hardstack:existingClusterName = 'a b' is refused: an EKS cluster name",
    ),
    ("test", {"hardstack:appPortPrevious": -1}, "hardstack:appPortPrevious = -1 is refused: 1024 to 65535"),
    (
        "test",
        {"hardstack:extraIngress": [{**OFFICE_8443, "fromPort": True}]},
        "hardstack:extraIngress[0].fromPort = True is refused: a port number from 0 to 65535, not a flag",
    ),
    ("test", {"hardstack:dbMaxAllocatedStorageGb": 21}, "hardstack:dbMaxAllocatedStorageGb = 21 is refused: 22 (10 %"),
    (
        "test",
        {
            "hardstack:clusterMode": "existing",
            "hardstack:kubeconfig": EXISTING_KUBECONFIG,
            "hardstack:existingClusterLoadBalancerCidrs": ["172.20.0.0/24"],
            "hardstack:existingClusterOidcProviderArn": "arn:aws:iam::111122223333:oidc-provider/"
            "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF",
        },
        "hardstack:existingClusterOidcProviderArn = 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1",
    ),
    ("test", {"hardstack:appHost": "10.0.0.1"}, "hardstack:appHost = '10.0.0.1' is refused: a lowercase DNS name"),
    ("test", {"hardstack:appHost": "a" * 64 + ".example.com"}, "hardstack:appHost = 'aaaa"),
    (
        "prod",
        {"hardstack:extraEgress": [{**WORLD_EGRESS, "cidr": "0.0.0.0/1"}]},
        "hardstack:extraEgress[0] = 'tcp-0-65535 to 0.0.0.0/1' is refused",
    ),
    ("test", {"hardstack:tags": {"aws:owner": "me"}}, "hardstack:tags key = 'aws:owner' is refused"),
    ("test", {"hardstack:tags": {"Owner": "x" * 300}}, "hardstack:tags[Owner] = "),
    ("test", {"hardstack:clusterNodeMinSize": 0}, "hardstack:clusterNodeMinSize = 0 is refused"),
    ("test", {"hardstack:clusterNodeDesiredSize": 9}, "hardstack:clusterNodeDesiredSize = 9 is refused"),
    ("prod", {"hardstack:certificateArn": PROD_CERT.replace("eu-west-3", "us-east-1")}, "hardstack:certificateArn"),
    ("prod", {"hardstack:extraEgress": [WORLD_EGRESS]}, "hardstack:extraEgress[0] = 'tcp-0-65535 to 0.0.0.0/0'"),
    # Refused by the components only, after 130 to 260 resources, before the settings ran the same checks.
    ("test", {"hardstack:appHost": "App.example.com"}, "hardstack:appHost = 'App.example.com' is refused"),
    (
        "test",
        {"hardstack:clusterReadonlyRoleArns": ["arn:aws:iam::111122223333:role/platform-admin"]},
        "hardstack:clusterReadonlyRoleArns[0] = 'arn:aws:iam::111122223333:role/platform-admin' is refused: each "
        "role once",
    ),
    (
        "prod",
        {"hardstack:alertRoutes": {"page": ["nobody"], "ticket": ["tickets"]}},
        "hardstack:alertRoutes.page = 'nobody' is refused: a name from hardstack:alertReceivers (oncall, tickets,",
    ),
    ("prod", {"hardstack:heartbeatReceiver": "nobody"}, "hardstack:heartbeatReceiver = 'nobody' is refused"),
    (
        "prod",
        {
            "hardstack:alertReceivers": [
                {"name": "oncall", "kind": "pagerduty", "secretKey": "pagerduty-routing-key"},
                {"name": "oncall", "kind": "webhook", "target": "https://tickets.example.com/hooks/alertmanager"},
            ],
            "hardstack:alertRoutes": {"page": ["oncall"]},
            "hardstack:heartbeatReceiver": "oncall",
        },
        "hardstack:alertReceivers = ['oncall', 'oncall'] is refused: each receiver name once",
    ),
]


@pytest.mark.parametrize(("stack", "overrides", "shown"), REFUSALS)
def test_each_refusal_stops_the_program_before_any_resource(stack: str, overrides: dict[str, Any], shown: str) -> None:
    from hardstack.tooling.testing import run_program
    from stacks.program import main

    rec = Recording()
    with pytest.raises(HardstackError) as err:
        run_program(main, stack=stack, config={**stack_config(stack), **overrides}, recording=rec)
    assert str(err.value).startswith(shown)
    assert len(rec) == 0


def test_a_secret_refused_through_the_program_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    from hardstack.tooling.testing import run_program
    from stacks.program import main

    kubeconfig = {"users": [{"name": "u", "user": {"token": SECRET_TEXT}}]}
    config = {**stack_config("test"), "hardstack:clusterMode": "existing", "hardstack:kubeconfig": kubeconfig}
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", json.dumps(["hardstack:kubeconfig"]))  # as the CLI passes them
    rec = Recording()
    with pytest.raises(HardstackError) as err:
        run_program(main, stack="test", config=config, recording=rec)
    assert str(err.value).startswith("hardstack:kubeconfig = [secret] is refused") and SECRET_TEXT not in str(err.value)
    assert len(rec) == 0


def test_a_misspelt_field_inside_an_entry_is_not_taken_for_a_setting() -> None:
    rule = {"port": 443, "protocol": "tcp", "cidr": "10.0.0.0/8", "descriptio": "typo"}
    msg = refused(extraEgress=[rule])
    assert "descriptio is not a field of this entry" in msg and "did you mean hardstack:extraEgress" not in msg


# --- --secret is refused where it cannot keep its promise ------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("hardstack:natStrategy", "n"),
        ("hardstack:alarmThresholds", {"albTarget5xx": 5}),
    ],
)
def test_secret_without_text_to_find_is_refused_naming_the_key(key: str, value: Any) -> None:
    msg = refused_secretly({**BASE, key: value}, [key])
    assert msg.startswith(f"{key} is set with --secret, but it cannot be kept secret: it holds no text")
    assert f"pulumi config set {key} <value>" in msg and repr(value) not in msg


@pytest.mark.parametrize(
    ("key", "value"),
    # Config arrives as text: "8443" has 4 characters, and lands as the number 8443 in a target group.
    [("hardstack:appPort", "8443"), ("hardstack:dbAllocatedStorageGb", "1234"), ("hardstack:dbMultiAz", True)],
)
def test_a_secret_number_or_flag_is_refused_whatever_its_text(key: str, value: Any) -> None:
    msg = refused_secretly({**BASE, key: value}, [key])
    assert msg.startswith(f"{key} is set with --secret, but it cannot be kept secret: it is a number or a flag")


@pytest.mark.parametrize("key", sorted(NEVER_SECRET))
def test_secret_names_regions_accounts_and_ranges_are_refused_they_are_in_names(key: str) -> None:
    config = {
        **BASE,
        "aws:allowedAccountIds": ["111122223333"],
        "hardstack:namePrefix": ["acme", "payments"],
        "hardstack:azIds": ["euw3-az1", "euw3-az2", "euw3-az3"],
        "hardstack:extraIngress": [{"to": "lb", "cidr": "198.51.100.0/24", "fromPort": 8443, "description": "x"}],
        "hardstack:extraEgress": [{"cidr": "198.51.100.0/24", "fromPort": 8443, "toPort": 8443, "description": "x"}],
        "hardstack:deployerCidrs": ["203.0.113.0/24"],
        "hardstack:deployerSecurityGroupIds": ["sg-0123456789abcdef0"],
    }
    msg = refused_secretly(config, [key])
    assert msg.startswith(f"{key} is set with --secret, but it cannot be kept secret: {NEVER_SECRET[key]}")
    assert repr(config[key]) not in msg
