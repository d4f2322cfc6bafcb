import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from hardstack import HardstackError
from hardstack.tooling.plan import build_plan, waits_for
from hardstack.tooling.testing import Recording
from stacks.offline import STACKS, run_stack, stack_config

NAT = "aws:ec2/natGateway:NatGateway"
EXPECTED_OUTPUTS = {
    "environment",
    "region",
    "vpcId",
    "vpcCidr",
    "subnetIds",
    "routeTableIds",
    "addressPlan",
    "securityGroupIds",
    "logsKeyArn",
}


@pytest.fixture(scope="module")
def stacks() -> dict[str, Recording]:
    return {name: run_stack(name) for name in STACKS}


@pytest.mark.parametrize("name", STACKS)
def test_stack_runs_end_to_end_and_exports_what_users_need(stacks: dict[str, Recording], name: str) -> None:
    rec = stacks[name]
    assert set(rec.outputs) >= EXPECTED_OUTPUTS
    assert rec.outputs["environment"] == name
    assert set(rec.outputs["securityGroupIds"]) == {"lb", "app", "data", "nodes"}


def test_prod_spreads_over_three_azs_with_a_nat_per_az(stacks: dict[str, Recording]) -> None:
    assert len(stacks["prod"].of_type(NAT)) == 3
    assert len(stacks["prod"].outputs["subnetIds"]["private"]) == 3


def test_test_stack_uses_a_single_nat_over_two_azs(stacks: dict[str, Recording]) -> None:
    assert len(stacks["test"].of_type(NAT)) == 1
    assert len(stacks["test"].outputs["subnetIds"]["private"]) == 2


def test_prod_protects_stateful_resources_and_test_does_not(stacks: dict[str, Recording]) -> None:
    prod = {r.type for r in stacks["prod"].protected()}
    assert {"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:kms/key:Key"} <= prod
    assert stacks["test"].protected() == []
    key = stacks["prod"].one("aws:kms/key:Key", "logs")
    assert key.retain_on_delete and key.inputs["enableKeyRotation"] is True


def test_every_aws_resource_goes_through_the_tagged_stack_provider(stacks: dict[str, Recording]) -> None:
    rec = stacks["prod"]
    provider = rec.one("pulumi:providers:aws")
    assert provider.inputs["region"] == "eu-west-3"
    # Providers receive nested config as JSON text.
    assert json.loads(provider.inputs["defaultTags"])["tags"]["Environment"] == "prod"
    aws_resources = [r for r in rec if r.custom and r.type.startswith("aws:")]
    assert aws_resources and all(r.provider.startswith(provider.urn) for r in aws_resources)


def test_only_the_load_balancer_is_reachable_from_the_internet(stacks: dict[str, Recording]) -> None:
    for rec in stacks.values():
        world = [
            r
            for r in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
            if r.inputs.get("cidrIpv4") == "0.0.0.0/0" or r.inputs.get("cidrIpv6") == "::/0"
        ]
        assert {(r.inputs["securityGroupId"], r.inputs["fromPort"]) for r in world} == {("sg-lb", 80), ("sg-lb", 443)}


def test_data_accepts_postgres_only_from_the_fleet_and_the_cluster_nodes(stacks: dict[str, Recording]) -> None:
    rec = stacks["prod"]
    ingress = [
        r
        for r in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == "sg-data"
    ]
    assert sorted((r.inputs["fromPort"], r.inputs["referencedSecurityGroupId"]) for r in ingress) == [
        (5432, "sg-app"),
        (5432, "sg-nodes"),
    ]
    assert not [
        r
        for r in rec.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == "sg-data"
    ]


def test_a_stack_makes_only_a_handful_of_invokes(stacks: dict[str, Recording]) -> None:
    # region check, AZs, caller identity, the Auto Scaling role check, the running database's and
    # cluster's lookups and the subnets' listing: once each (a new cluster has no Prometheus volume
    # to read, a new network no subnet). No secret is read.
    assert all(len(rec.invokes) <= 7 for rec in stacks.values())


@pytest.mark.parametrize("name", STACKS)
def test_every_stack_runs_the_fleet_behind_the_load_balancer(stacks: dict[str, Recording], name: str) -> None:
    rec = stacks[name]
    asg = rec.one("aws:autoscaling/group:Group").inputs
    assert asg["targetGroupArns"] == [rec.one("aws:lb/targetGroup:TargetGroup").inputs["arn"]]
    assert asg["vpcZoneIdentifiers"] == rec.outputs["subnetIds"]["private"]
    assert rec.outputs["albDnsName"].endswith(".elb.amazonaws.com")
    assert "amazon.aws.aws_ec2" in rec.outputs["ansibleInventory"]


def test_prod_fleet_runs_one_instance_per_az_at_least(stacks: dict[str, Recording]) -> None:
    asg = stacks["prod"].one("aws:autoscaling/group:Group").inputs
    assert asg["minSize"] >= len(stacks["prod"].outputs["subnetIds"]["private"]) == 3


def test_prod_load_balancer_is_https_only_with_deletion_protection_and_logs(stacks: dict[str, Recording]) -> None:
    rec = stacks["prod"]
    lb = rec.one("aws:lb/loadBalancer:LoadBalancer").inputs
    assert lb["enableDeletionProtection"] is True and lb["accessLogs"]["enabled"] is True
    ports = {r.inputs["port"]: r.inputs for r in rec.of_type("aws:lb/listener:Listener")}
    assert ports[443]["protocol"] == "HTTPS" and ports[80]["defaultActions"][0]["type"] == "redirect"


def test_test_stack_serves_plain_http_without_a_certificate(stacks: dict[str, Recording]) -> None:
    ports = {r.inputs["port"]: r.inputs for r in stacks["test"].of_type("aws:lb/listener:Listener")}
    assert set(ports) == {80} and ports[80]["defaultActions"][0]["type"] == "forward"


def test_fleet_accepts_the_app_port_only_from_the_load_balancer(stacks: dict[str, Recording]) -> None:
    rec = stacks["prod"]
    app_in = [
        r.inputs
        for r in rec.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == "sg-app"
    ]
    # and node_exporter from the cluster nodes only (tests/test_hosts.py)
    assert [(r["fromPort"], r["referencedSecurityGroupId"]) for r in app_in] == [(8080, "sg-lb"), (9100, "sg-cluster")]
    lb_out = [
        r.inputs
        for r in rec.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == "sg-lb"
    ]
    assert [(r["fromPort"], r["referencedSecurityGroupId"]) for r in lb_out] == [(8080, "sg-app")]


def test_fleet_egress_is_https_and_postgres_only(stacks: dict[str, Recording]) -> None:
    app_out = sorted(
        (r.inputs["fromPort"], r.inputs.get("cidrIpv4") or r.inputs.get("referencedSecurityGroupId"))
        for r in stacks["prod"].of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        if r.inputs["securityGroupId"] == "sg-app"
    )
    assert app_out == [(443, "0.0.0.0/0"), (5432, "sg-data")]


def test_fleet_volumes_key_lets_auto_scaling_use_it(stacks: dict[str, Recording]) -> None:
    key = stacks["prod"].one("aws:kms/key:Key", "volumes")
    policy = json.loads(key.inputs["policy"])
    assert {"AllowAutoScalingUse", "AllowAutoScalingGrants"} <= {s["Sid"] for s in policy["Statement"]}
    lt = stacks["prod"].one("aws:ec2/launchTemplate:LaunchTemplate", "app").inputs
    assert lt["blockDeviceMappings"][0]["ebs"]["kmsKeyId"] == key.inputs["arn"]


# --- Kubernetes, application and data ---------------------------------------------------------


@pytest.mark.parametrize("name", STACKS)
def test_every_stack_runs_cluster_platform_app_data_and_monitoring(stacks: dict[str, Recording], name: str) -> None:
    rec = stacks[name]
    for type_ in (
        "hardstack:kubernetes:Cluster",
        "hardstack:kubernetes:PlatformBaseline",
        "hardstack:kubernetes:App",
        "hardstack:data:Database",
        "hardstack:data:DatabaseAccess",
        "hardstack:kubernetes:DatabaseBootstrap",
        "hardstack:monitoring:KubernetesMonitoring",
        "hardstack:monitoring:AlertTopic",
        "hardstack:monitoring:ServiceAlarms",
    ):
        assert len(rec.of_type(type_)) == 1, type_
    assert rec.outputs["kubeconfig"] and "kubeconfig" in rec.secret_outputs


@pytest.mark.parametrize("name", STACKS)
def test_kubernetes_objects_of_every_stack_match_the_schemas(stacks: dict[str, Recording], name: str) -> None:
    from hardstack.tooling.manifests import KUBERNETES_SCHEMA_VERSION, manifests_from, validate_manifests

    manifests = manifests_from(stacks[name])
    assert len(manifests) > 10
    validate_manifests(manifests, KUBERNETES_SCHEMA_VERSION, custom_kinds={"ServiceMonitor", "PrometheusRule"})


def test_workloads_run_on_the_cluster_provider(stacks: dict[str, Recording]) -> None:
    rec = stacks["prod"]
    (k8s_provider,) = [r for r in rec.of_type("pulumi:providers:kubernetes")]
    deployment = rec.one("kubernetes:apps/v1:Deployment")
    assert deployment.provider.startswith(k8s_provider.urn)


def test_prod_protects_the_database_buckets_and_keys(stacks: dict[str, Recording]) -> None:
    rec = stacks["prod"]
    for type_ in ("aws:rds/instance:Instance", "aws:s3/bucket:Bucket", "aws:kms/key:Key", "aws:eks/cluster:Cluster"):
        resources = rec.of_type(type_)
        assert resources and all(r.protect for r in resources), type_
    for type_ in ("aws:rds/instance:Instance", "aws:s3/bucket:Bucket", "aws:kms/key:Key"):
        assert all(r.retain_on_delete for r in rec.of_type(type_)), type_


def test_test_stack_protects_nothing(stacks: dict[str, Recording]) -> None:
    assert stacks["test"].protected() == []


def test_prod_database_is_multi_az_with_30_day_backups_and_a_final_snapshot(stacks: dict[str, Recording]) -> None:
    db = stacks["prod"].one("aws:rds/instance:Instance").inputs
    assert db["multiAz"] is True and db["backupRetentionPeriod"] == 30 and db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False and db["finalSnapshotIdentifier"]
    assert db["publiclyAccessible"] is False and db["storageEncrypted"] is True


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("hardstack:dbInstanceClass", "db.r7g.xlarge"),
        ("hardstack:dbAllocatedStorageGb", 500),
        ("hardstack:fleetInstanceType", "m7i.xlarge"),
        ("hardstack:tags", {"CostCenter": "42"}),
        ("hardstack:clusterNodeInstanceTypes", ["m7i.large"]),
    ],
)
def test_resizing_or_retagging_never_replaces_stateful_resources(key: str, value: object) -> None:
    from hardstack.tooling.plan import build_plan, diff_plans

    before = build_plan("prod", run_stack("prod"))
    after = build_plan("prod", run_stack("prod", {key: value}))
    diff = diff_plans(before, after)
    stateful = {"aws:rds/instance:Instance", "aws:s3/bucket:Bucket", "aws:kms/key:Key", "aws:eks/cluster:Cluster"}
    lost = [c for c in diff.changes if c.action in ("replace", "delete") and c.type in stateful]
    assert lost == [], lost
    assert diff.changes  # the change is seen: an update, or a replaced node group (cattle, not state)


@pytest.mark.parametrize("name", STACKS)
def test_monitoring_volume_and_routes_follow_the_stack(stacks: dict[str, Recording], name: str) -> None:
    release = stacks[name].one("kubernetes:helm.sh/v3:Release", "monitoring").inputs
    values = release["values"]
    spec = values["prometheus"]["prometheusSpec"]
    size = spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"]
    assert size == {"test": "30Gi", "preprod": "50Gi", "prod": "80Gi"}[name]
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False


def test_application_bucket_is_versioned_kms_encrypted_and_protected_in_prod(stacks: dict[str, Recording]) -> None:
    rec = stacks["prod"]
    bucket = rec.one("hardstack:storage:SecureBucket", "app-data")
    children = {r.type: r for r in rec.descendants_of(bucket)}
    sse = children["aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"]
    rule = sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert (
        rule["sseAlgorithm"] == "aws:kms" and rule["kmsMasterKeyId"] == rec.one("aws:kms/key:Key", "data").inputs["arn"]
    )
    versioning = children["aws:s3/bucketVersioning:BucketVersioning"].inputs["versioningConfiguration"]
    assert versioning["status"] == "Enabled"
    assert children["aws:s3/bucket:Bucket"].protect and rec.outputs["appBucket"]


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install the Debian package '{package}' (the test command does)")
    return path


@pytest.mark.parametrize("name", STACKS)
def test_alertmanager_config_of_every_stack_passes_amtool(
    stacks: dict[str, Recording], name: str, tmp_path: Path
) -> None:
    values = stacks[name].one("kubernetes:helm.sh/v3:Release", "monitoring").inputs["values"]
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(values["alertmanager"]["config"]))
    done = subprocess.run(
        [tool("amtool", "prometheus-alertmanager"), "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", STACKS)
def test_slo_rules_of_every_stack_pass_promtool(stacks: dict[str, Recording], name: str, tmp_path: Path) -> None:
    rule = stacks[name].one("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "monitoring-slo-rules")
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(rule.inputs["spec"]))
    done = subprocess.run(
        [tool("promtool", "prometheus"), "check", "rules", str(rules)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: onprem
  cluster: {server: "https://k8s.internal.example:6443", certificate-authority-data: Q0E=}
contexts:
- name: onprem
  context: {cluster: onprem, user: deployer}
current-context: onprem
users:
- name: deployer
  user: {token: not-a-real-token}
"""


def test_existing_mode_runs_every_kubernetes_component_on_the_given_cluster() -> None:
    rec = run_stack(
        "test",
        {
            "hardstack:clusterMode": "existing",
            "hardstack:kubeconfig": KUBECONFIG,
            "hardstack:clusterMonitoring": True,
            "hardstack:existingClusterLoadBalancerCidrs": ["172.20.0.0/24"],
        },
    )
    assert rec.of_type("aws:eks/cluster:Cluster") == []
    for type_ in (
        "hardstack:kubernetes:ExistingCluster",
        "hardstack:kubernetes:PlatformBaseline",
        "hardstack:kubernetes:App",
        "hardstack:monitoring:KubernetesMonitoring",
    ):
        assert len(rec.of_type(type_)) == 1, type_
    (provider,) = rec.of_type("pulumi:providers:kubernetes")
    assert rec.one("kubernetes:apps/v1:Deployment").provider.startswith(provider.urn)


def test_cluster_mode_none_skips_kubernetes() -> None:
    rec = run_stack("test", {"hardstack:clusterMode": "none"})
    assert not [r for r in rec if r.type.startswith("kubernetes:")]
    assert len(rec.of_type("hardstack:monitoring:ServiceAlarms")) == 1


@pytest.mark.parametrize("name", STACKS)
def test_generated_promtool_tests_of_the_stack_slo_pass(name: str, tmp_path: Path) -> None:
    from hardstack.core.promtool import promtool_test_files
    from stacks.program import app_slo
    from stacks.settings import parse_settings

    slo = app_slo(parse_settings(stack_config(name)))
    rule = run_stack(name).one("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "monitoring-slo-rules")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rule.inputs["spec"]))
    running = []
    for severity, document in promtool_test_files([slo], "rules.yml").items():
        if severity == "ticket" and name != "prod":
            continue  # the days-long ticket scenarios differ between stacks only by the objective
        (tmp_path / f"{severity}.yml").write_text(yaml.safe_dump(document))
        command = [tool("promtool", "prometheus"), "test", "rules", f"{severity}.yml"]
        running.append(
            subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    for process in running:  # the page and ticket files run side by side
        out, _ = process.communicate(timeout=600)
        assert process.returncode == 0, out


def test_no_nat_brings_the_endpoints_the_hosts_need_and_they_wait_for_them() -> None:
    rec = run_stack("test", {"hardstack:natStrategy": "none", "hardstack:clusterMode": "none"})
    endpoints = rec.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    names = {r.inputs["serviceName"].removeprefix("com.amazonaws.eu-west-3.") for r in endpoints}
    assert names == {"ssm", "ssmmessages", "ec2messages", "logs", "monitoring", "s3"}
    assert rec.of_type("aws:ec2/natGateway:NatGateway") == []
    interface = {r.urn for r in endpoints if r.inputs["vpcEndpointType"] == "Interface"}
    hosts = rec.one("aws:autoscaling/group:Group")
    assert interface <= waits_for(build_plan("test", rec), hosts.urn)


def test_the_autoscaling_service_role_is_created_first_when_asked() -> None:
    rec = run_stack("test", {"hardstack:createAutoScalingServiceRole": True})
    role = rec.one("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert role.inputs["awsServiceName"] == "autoscaling.amazonaws.com" and role.retain_on_delete
    volumes = next(r for r in rec.of_type("aws:kms/key:Key") if r.name == "volumes")
    assert role.urn in waits_for(build_plan("test", rec), volumes.urn)
    assert not any(i.token == "aws:iam/getRole:getRole" for i in rec.invokes)


def test_a_missing_autoscaling_service_role_is_refused_with_the_fix() -> None:
    from hardstack import HardstackError
    from hardstack.tooling.testing import HardstackMocks, run_program
    from stacks.program import main

    class NotFound(grpc.RpcError):
        """How a provider's failed invoke reaches the program: a gRPC error with details."""

        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNKNOWN

        def details(self) -> str:
            return "NoSuchEntity: The role with name AWSServiceRoleForAutoScaling cannot be found"

    class NoRole(HardstackMocks):
        def call(self, args: Any) -> Any:
            if args.token == "aws:iam/getRole:getRole":
                raise NotFound()
            return super().call(args)

    rec = Recording()
    with pytest.raises(HardstackError, match="createAutoScalingServiceRole true"):
        run_program(main, stack="test", config=stack_config("test"), mocks=NoRole(), recording=rec)
    assert [r.type for r in rec] == ["pulumi:providers:aws"]


@pytest.mark.parametrize("stack", ["test", "prod"])
def test_the_hosts_service_gets_the_app_login_and_bucket_not_the_master_password(stack: str) -> None:
    rec = run_stack(stack)
    parameters = rec.of_type("aws:ssm/parameter:Parameter")
    params = {p.inputs["name"].rsplit("/", 1)[-1]: p.inputs["insecureValue"] for p in parameters}
    assert params["PGUSER"] == "app_user" and params["PGSSLMODE"] == "require"
    assert params["APP_BUCKET"] == rec.outputs["appBucket"]
    host = next(r for r in rec.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == "app-host")
    allowed = {s["Sid"]: s for s in json.loads(host.inputs["policy"])["Statement"]}
    assert allowed["ConnectAsAppLogin"]["Resource"].endswith("/app_user")
    assert "secretsmanager:GetSecretValue" not in json.dumps(allowed)


def test_changing_the_app_port_keeps_the_load_balancer_on_a_port_every_host_answers() -> None:
    """Step one of two: hosts move to appPort and keep answering the old one; the target group stays."""
    before = run_stack("prod")
    moving = run_stack("prod", {"hardstack:appPort": 9000, "hardstack:appPortPrevious": 8080})
    done = run_stack("prod", {"hardstack:appPort": 9000})
    group = "aws:lb/targetGroup:TargetGroup"
    assert before.one(group).inputs["port"] == moving.one(group).inputs["port"] == 8080
    assert done.one(group).inputs["port"] == 9000
    # The second step replaces the target group: auto-named, so the new one exists before the old goes.
    assert "name" in done.one(group).computed and not done.one(group).delete_before_replace
    files = {
        f["path"]: f["content"]
        for f in yaml.safe_load(
            base64.b64decode(moving.one("aws:ec2/launchTemplate:LaunchTemplate", "app").inputs["userData"]).decode()
        )["write_files"]
    }
    assert "ListenStream=8080" in files["/etc/systemd/system/app-port-8080.socket"]
    assert "systemd-socket-proxyd 127.0.0.1:9000" in files["/etc/systemd/system/app-port-8080.service"]
    assert "--port=9000" in files["/etc/systemd/system/app.service"]
    lb_in = [
        r.inputs["fromPort"]
        for r in moving.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.inputs["securityGroupId"] == "sg-app" and r.inputs.get("referencedSecurityGroupId") == "sg-lb"
    ]
    assert lb_in == [8080]


def test_a_previous_app_port_equal_to_the_new_one_is_refused() -> None:
    with pytest.raises(HardstackError, match="hardstack:appPortPrevious = 8080 is refused: the former port"):
        run_stack("test", {"hardstack:appPort": 8080, "hardstack:appPortPrevious": 8080})


# --- the stack's AWS provider -----------------------------------------------------------------

PIN = "aws:allowedAccountIds"
DEPLOY_ROLE = "arn:aws:iam::123456789012:role/deploy"
#: The role the Kubernetes provider assumes: one of the stack files' cluster admins.
KUBECONFIG_ROLE = {"hardstack:clusterKubeconfigRoleArn": "arn:aws:iam::111122223333:role/platform-admin"}


def provider_config(rec: Recording) -> dict[str, Any]:
    """The provider's inputs; nested values arrive as JSON text, as the engine passes them."""
    inputs = rec.one("pulumi:providers:aws").inputs
    return {
        k: json.loads(v) if k in ("assumeRoles", "allowedAccountIds", "defaultTags") else v for k, v in inputs.items()
    }


def run_refused(stack: str, config: dict[str, Any]) -> tuple[str, Recording]:
    from hardstack.tooling.testing import run_program
    from stacks.program import main

    rec = Recording()
    with pytest.raises(HardstackError) as refused:
        run_program(main, stack=stack, config=config, recording=rec)
    return str(refused.value), rec


def test_the_stack_provider_is_given_the_profile_the_roles_and_the_account_pin() -> None:
    roles = [
        {"roleArn": "arn:aws:iam::111122223333:role/hop", "sessionName": "ci"},
        {"roleArn": DEPLOY_ROLE, "externalId": "hardstack-prod", "duration": "1h", "tags": {"Team": "platform"}},
    ]
    config = {"aws:profile": "prod-deployer", "aws:assumeRoles": roles, PIN: ["123456789012"], **KUBECONFIG_ROLE}
    rec = run_stack("prod", config)

    provider = provider_config(rec)

    assert provider["profile"] == "prod-deployer"
    assert provider["allowedAccountIds"] == ["123456789012"]
    assert provider["assumeRoles"] == [
        {"roleArn": "arn:aws:iam::111122223333:role/hop", "sessionName": "ci"},
        {"roleArn": DEPLOY_ROLE, "externalId": "hardstack-prod", "duration": "1h", "tags": {"Team": "platform"}},
    ]


@pytest.mark.parametrize("stack", ["preprod", "prod"])
def test_staging_and_production_stacks_refuse_to_run_without_an_account_pin(stack: str) -> None:
    config = {k: v for k, v in stack_config(stack).items() if k != PIN}

    message, rec = run_refused(stack, config)

    assert message.startswith(f"{PIN} is required in the {'staging' if stack == 'preprod' else 'production'} tier")
    assert "pulumi config set --path 'aws:allowedAccountIds[0]'" in message
    assert len(rec) == 0


@pytest.mark.parametrize("stack", ["preprod", "prod"])
def test_the_staging_and_production_stack_files_commit_no_account_id(stack: str) -> None:
    committed = yaml.safe_load((Path(__file__).parents[1] / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    assert PIN not in committed
    # Offline runs stand in the one account the mocks answer as.
    assert stack_config(stack)[PIN] == ["123456789012"]


def test_a_development_stack_runs_without_an_account_pin() -> None:
    from hardstack.tooling.testing import run_program
    from stacks.program import main

    config = {k: v for k, v in stack_config("test").items() if k != PIN}

    provider = provider_config(run_program(main, stack="test", config=config))

    assert "allowedAccountIds" not in provider and "assumeRoles" not in provider and "profile" not in provider


def test_an_account_id_the_cli_stored_as_a_number_reaches_the_provider_as_text() -> None:
    rec = run_stack("prod", {PIN: [123456789012]})
    assert provider_config(rec)["allowedAccountIds"] == ["123456789012"]


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        (PIN, ["12345678901"], "aws:allowedAccountIds[0] = '12345678901' is refused: a 12-digit AWS account id"),
        (PIN, [12345678901], "stored as a number, it lost its leading zeros"),
        (PIN, "123456789012", "aws:allowedAccountIds = '123456789012' is refused: a list of 12-digit account ids"),
        ("aws:profile", "prod deployer", "aws:profile = 'prod deployer' is refused"),
        ("aws:assumeRoles", {"roleArn": DEPLOY_ROLE}, "aws:assumeRoles = {'roleArn': "),
        ("aws:assumeRoles", [{"role": DEPLOY_ROLE}], "aws:assumeRoles[0] = {'role': "),
        ("aws:assumeRoles", [{"roleArn": DEPLOY_ROLE, "sesionName": "ci"}], "aws:assumeRoles[0].sesionName = 'ci'"),
        ("aws:assumeRoles", [{"roleArn": "deploy"}], "aws:assumeRoles[0].roleArn = 'deploy' is refused: an IAM role"),
        ("aws:assumeRoles", [{"roleArn": DEPLOY_ROLE, "duration": "5m"}], "duration = '5m' is refused: between 15m"),
        ("aws:assumeRoles", [{"roleArn": DEPLOY_ROLE, "sessionName": "a b"}], "sessionName = 'a b' is refused"),
        ("aws:assumeRoles", [{"roleArn": DEPLOY_ROLE, "policy": "{"}], "policy = '{' is refused: an IAM policy"),
        (
            "aws:assumeRoles",
            [{"roleArn": DEPLOY_ROLE, "transitiveTagKeys": ["Team"]}],
            "aws:assumeRoles[0].transitiveTagKeys = 'Team' is refused: keys of aws:assumeRoles[0].tags",
        ),
        (
            "aws:assumeRoles",
            [{"roleArn": "arn:aws:iam::111122223333:role/deploy"}],
            "aws:assumeRoles[0].roleArn = 'arn:aws:iam::111122223333:role/deploy' is refused: a role of an account "
            "of aws:allowedAccountIds (123456789012)",
        ),
        ("aws:assumeRole", {"roleArn": DEPLOY_ROLE}, "version 7, which takes aws:assumeRoles, a list"),
        ("aws:skipCredentialsValidation", True, "aws:skipCredentialsValidation is not passed to the stack's AWS"),
    ],
)
def test_provider_settings_are_refused_before_any_resource(key: str, value: object, shown: str) -> None:
    message, rec = run_refused("prod", {**stack_config("prod"), **KUBECONFIG_ROLE, key: value})
    assert shown in message
    assert len(rec) == 0


def test_assumed_roles_on_a_managed_cluster_need_the_role_the_kubernetes_provider_assumes() -> None:
    message, rec = run_refused("prod", {**stack_config("prod"), "aws:assumeRoles": [{"roleArn": DEPLOY_ROLE}]})
    assert message.startswith(f"aws:assumeRoles = ['{DEPLOY_ROLE}'] is refused: set with hardstack:clusterKubeconfig")
    assert len(rec) == 0


def test_assumed_roles_need_no_kubeconfig_role_without_a_managed_cluster() -> None:
    roles = [{"roleArn": DEPLOY_ROLE}]
    rec = run_stack("prod", {"aws:assumeRoles": roles, "hardstack:clusterMode": "none"})
    assert provider_config(rec)["assumeRoles"] == roles


def test_the_kubernetes_provider_signs_in_with_the_aws_profile_and_the_exported_kubeconfig_names_none() -> None:
    rec = run_stack("test", {"aws:profile": "test-deployer"})

    secret = rec.one("pulumi:providers:kubernetes").inputs["kubeconfig"]  # a secret: the engine's wrapper
    signed_in = json.loads(secret["value"])
    exported = json.loads(rec.outputs["kubeconfig"])

    args = signed_in["users"][0]["user"]["exec"]["args"]
    assert args[args.index("--profile") + 1] == "test-deployer"
    assert "--profile" not in exported["users"][0]["user"]["exec"]["args"]


def test_provider_settings_set_with_secret_stay_secret_in_the_provider_inputs() -> None:
    import pulumi_aws as aws

    from hardstack.tooling.testing import run_program
    from stacks.program import provider_args
    from stacks.settings import parse_settings

    roles = [{"roleArn": DEPLOY_ROLE, "externalId": "partner-7f3a"}]
    config = {**stack_config("test"), "aws:profile": "ops", "aws:assumeRoles": roles, "hardstack:clusterMode": "none"}
    settings = parse_settings(config, secret_keys=["aws:profile", "aws:assumeRoles"])

    rec = run_program(lambda: aws.Provider("aws", provider_args(settings, {})) and None)

    inputs = rec.one("pulumi:providers:aws").inputs
    secret_mark = "4dabf18193072939515e22adb298388d"  # the engine's marker of a secret value
    assert secret_mark in inputs["profile"] and inputs["profile"]["value"] == "ops"
    assert secret_mark in inputs["assumeRoles"] and json.loads(inputs["assumeRoles"]["value"]) == roles
    assert json.loads(inputs["allowedAccountIds"]) == ["123456789012"]  # not set as a secret: plain


def test_a_refused_aws_key_never_shows_its_value() -> None:
    message, rec = run_refused("test", {**stack_config("test"), "aws:secretKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY"})
    assert message.startswith("aws:secretKey is not passed") and "wJalr" not in message
    assert len(rec) == 0


# --- tags on what Auto Scaling and the node groups launch --------------------------------------


@pytest.mark.parametrize("name", STACKS)
def test_what_the_fleet_and_the_node_groups_launch_carries_the_base_tags(name: str) -> None:
    rec = run_stack(name, {"hardstack:tags": {"CostCenter": "42"}})
    wanted = {"Project": "hardstack", "Environment": name, "Stack": name, "ManagedBy": "pulumi", "CostCenter": "42"}
    templates = rec.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    assert {t.name for t in templates} == {"app", "eks-general"}
    for template in templates:
        specs = {s["resourceType"]: s["tags"] for s in template.inputs["tagSpecifications"]}
        # Provider default tags reach the template itself, never what is launched from it.
        assert set(specs) == {"instance", "volume", "network-interface"}, template.name
        for kind, tags in specs.items():
            assert wanted.items() <= tags.items(), (template.name, kind)
    group = {t["key"]: t for t in rec.one("aws:autoscaling/group:Group").inputs["tags"]}
    assert all(group[k]["value"] == v and group[k]["propagateAtLaunch"] for k, v in wanted.items())


@pytest.mark.parametrize(
    ("tags", "shown"),
    [
        ({"Environment": "live"}, "hardstack:tags key = 'Environment' is refused: a key other than hardstack's own"),
        ({"Name": "web"}, "hardstack:tags key = 'Name' is refused"),
        ({"hardstack:fleet": "x"}, "hardstack:tags key = 'hardstack:fleet' is refused: a key outside hardstack:"),
        ({"kubernetes.io/role/elb": "1"}, "a key outside kubernetes.io/, which the stack and the cluster's"),
    ],
)
def test_tags_that_would_change_what_is_selected_are_refused(tags: dict[str, str], shown: str) -> None:
    message, rec = run_refused("test", {**stack_config("test"), "hardstack:tags": tags})
    assert shown in message
    assert len(rec) == 0


# --- outputs a team wires next ------------------------------------------------------------------


@pytest.mark.parametrize("name", STACKS)
def test_every_stack_exports_what_the_next_team_wires(stacks: dict[str, Recording], name: str) -> None:
    rec = stacks[name]
    out = rec.outputs
    lb = rec.one("aws:lb/loadBalancer:LoadBalancer").inputs
    db = rec.one("aws:rds/instance:Instance").inputs
    assert out["albZoneId"] == lb["zoneId"]
    assert out["fleetUrl"] == f"{'http' if name == 'test' else 'https'}://{lb['dnsName']}"
    assert out["clusterEndpoint"] == rec.one("aws:eks/cluster:Cluster").inputs["endpoint"]
    assert out["clusterOidcProviderArn"] == rec.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs["arn"]
    assert (out["dbHost"], out["dbPort"]) == (db["address"], 5432)
    assert out["dbEndpoint"] == f"{out['dbHost']}:{out['dbPort']}"
    buckets = {b.name: b.inputs["arn"] for b in rec.of_type("aws:s3/bucket:Bucket")}
    assert (out["appBucketArn"], out["fleetArtefactBucketArn"]) == (buckets["app-data"], buckets["app-artefacts"])
    roles = {r.name: r.inputs["arn"] for r in rec.of_type("aws:iam/role:Role")}
    assert (out["fleetInstanceRoleArn"], out["appRoleArn"]) == (roles["app"], roles["db-access-app"])


def test_the_app_url_is_its_host_over_https_when_it_has_one() -> None:
    rec = run_stack("prod", {"hardstack:appHost": "shop.example.com"})
    assert rec.outputs["appUrl"] == "https://shop.example.com"


def test_no_output_holds_a_secret_value() -> None:
    rec = run_stack("prod")
    text = json.dumps({k: v for k, v in rec.outputs.items() if k not in rec.secret_outputs}, default=str)
    # The mocks' master password and the placeholder of the receiver secret never leave the program.
    assert "mock-password" not in text and "[secret]" not in text
    assert rec.secret_outputs == {"kubeconfig"}


def test_readme_lists_exactly_the_outputs_of_the_stacks(stacks: dict[str, Recording]) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("\n## Stack outputs\n", 1)[1].split("\n## ", 1)[0]
    listed = {
        name for row in section.splitlines() if row.startswith("| `") for name in row.split(" | ")[0].split("`")[1::2]
    }
    exported = set().union(*(rec.outputs for rec in stacks.values()))
    assert listed == exported


# --- what the app may do with its bucket -------------------------------------------------------


def bucket_statements(rec: Recording, policy: str) -> dict[str, Any]:
    document = json.loads(
        next(r for r in rec.of_type("aws:iam/rolePolicy:RolePolicy") if r.name == policy).inputs["policy"]
    )
    return {s["Sid"]: s for s in document["Statement"] if s["Sid"] in ("UseAppBucket", "ListAppBucket", "AppBucketKey")}


@pytest.mark.parametrize("name", STACKS)
def test_the_cluster_app_and_the_fleet_hosts_use_the_app_bucket_and_nothing_more(
    stacks: dict[str, Recording], name: str
) -> None:
    rec = stacks[name]
    bucket = rec.outputs["appBucketArn"]
    key = rec.one("aws:kms/key:Key", "data").inputs["arn"]
    for policy in ("db-access-app", "app-host"):  # the app's IRSA role, the fleet's instance role
        allowed = bucket_statements(rec, policy)
        assert allowed["UseAppBucket"]["Resource"] == f"{bucket}/*", policy
        assert allowed["UseAppBucket"]["Action"] == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        assert (allowed["ListAppBucket"]["Action"], allowed["ListAppBucket"]["Resource"]) == ("s3:ListBucket", bucket)
        decrypt = allowed["AppBucketKey"]
        assert decrypt["Resource"] == key
        # The data key also encrypts the database and its master secret: S3 only, this bucket only.
        assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-west-3.amazonaws.com"}
        assert decrypt["Condition"]["StringLike"] == {"kms:EncryptionContext:aws:s3:arn": [bucket, f"{bucket}/*"]}
    account = rec.one("kubernetes:core/v1:ServiceAccount", "app").inputs["metadata"]["annotations"]
    assert account["eks.amazonaws.com/role-arn"] == rec.outputs["appRoleArn"]


def test_the_app_pods_know_the_bucket_their_role_may_use(stacks: dict[str, Recording]) -> None:
    rec = stacks["prod"]
    (container,) = rec.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["APP_BUCKET"] == rec.outputs["appBucket"] and env["AWS_REGION"] == "eu-west-3"


@pytest.mark.parametrize("duration", ["1h", "45m", "1h30m", "1.5h", "5400000ms", "12h"])
def test_assume_role_durations_take_what_the_provider_parses(duration: str) -> None:
    from stacks.settings import parse_settings

    roles = [{"roleArn": DEPLOY_ROLE, "duration": duration}]
    parse_settings({**stack_config("test"), PIN: ["123456789012"], "aws:assumeRoles": roles, **KUBECONFIG_ROLE})


@pytest.mark.parametrize("duration", ["90", "1 h", "1h 30m", "13h", "h"])
def test_assume_role_durations_the_provider_would_refuse_are_refused(duration: str) -> None:
    from stacks.settings import parse_settings

    roles = [{"roleArn": DEPLOY_ROLE, "duration": duration}]
    with pytest.raises(HardstackError, match=r"aws:assumeRoles\[0\]\.duration = "):
        parse_settings({**stack_config("test"), PIN: ["123456789012"], "aws:assumeRoles": roles, **KUBECONFIG_ROLE})
