"""The fleet's hosts supervised by the cluster's Prometheus: discovery, its IAM role, the 9100 rule, host alerts."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hardstack.core.errors import HardstackError
from hardstack.core.slo import to_yaml
from hardstack.k8s.hosts import EC2_SD_ACTIONS, HOST_JOB, IRSA_ANNOTATION, HostDiscovery, host_rules, host_scrape_config
from hardstack.k8s.monitoring import MONITORING_NAMESPACE, PROMETHEUS_SERVICE_ACCOUNT
from hardstack.tooling.plan import build_plan, waits_for
from hardstack.tooling.testing import Recording
from stacks.offline import run_stack

DISCOVERY = HostDiscovery(region="eu-west-3", environment="prod", role="app", role_arn="arn:aws:iam::1:role/sd")
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found on PATH: install the Debian package 'prometheus'")
    return path


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def prod() -> Recording:
    return run_stack("prod")


# --- discovery ---------------------------------------------------------------------------------------


def test_promtool_accepts_the_scrape_job(tmp_path: Path) -> None:
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({"scrape_configs": [host_scrape_config(DISCOVERY)]}))
    done = run_promtool("check", "config", "--syntax-only", "prometheus.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_discovery_selects_the_running_hosts_of_the_fleet_by_its_tags() -> None:
    (sd,) = host_scrape_config(DISCOVERY)["ec2_sd_configs"]
    assert sd["region"] == "eu-west-3" and sd["port"] == 9100
    assert {f["name"]: f["values"] for f in sd["filters"]} == {
        "tag:Environment": ["prod"],
        "tag:Role": ["app"],
        "instance-state-name": ["running"],
    }


def test_targets_are_the_private_ip_on_node_exporters_port() -> None:
    first = host_scrape_config(DISCOVERY)["relabel_configs"][0]
    assert first == {
        "source_labels": ["__meta_ec2_private_ip"],
        "regex": "(.+)",
        "target_label": "__address__",
        "replacement": "${1}:9100",
    }


@pytest.mark.parametrize(
    ("kw", "where"),
    [({"region": "mars-1"}, "region"), ({"port": 0}, "port"), ({"environment": ""}, "environment")],
)
def test_bad_discovery_is_refused(kw: dict[str, Any], where: str) -> None:
    base: dict[str, Any] = {"region": "eu-west-3", "environment": "prod", "role": "app", "role_arn": "arn"}
    with pytest.raises(HardstackError, match=f"host_discovery.{where}"):
        HostDiscovery(**{**base, **kw})


# --- host alerts -------------------------------------------------------------------------------------


def write_rules(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text(to_yaml(host_rules()))


def test_promtool_accepts_the_host_rules(tmp_path: Path) -> None:
    write_rules(tmp_path)
    done = run_promtool("check", "rules", "hosts.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout


def test_host_alerts_are_routed_as_page_or_ticket() -> None:
    (group,) = host_rules()["groups"]
    severities = {r["alert"]: r["labels"]["severity"] for r in group["rules"]}
    assert severities == {
        "FleetHostsAllDown": "page",
        "HostDown": "ticket",
        "HostDiskWillFillIn4Hours": "page",
        "HostDiskSpaceLow": "ticket",
        "HostMemoryLow": "ticket",
    }
    assert all(f'job="{HOST_JOB}"' in r["expr"] for r in group["rules"])


UP_A = f'up{{job="{HOST_JOB}",instance="i-a",availability_zone="eu-west-3a"}}'
UP_B = f'up{{job="{HOST_JOB}",instance="i-b"}}'
FS = f'job="{HOST_JOB}",instance="i-a",mountpoint="/",fstype="xfs"'
MEM = f'job="{HOST_JOB}",instance="i-a"'


def annotations(name: str, labels: dict[str, str], value: str) -> dict[str, str]:
    """The rule's annotations as Prometheus renders them for these labels and this $value."""
    (rule,) = [r for r in host_rules()["groups"][0]["rules"] if r["alert"] == name]
    out = {}
    for key, text in rule["annotations"].items():
        text = text.replace("{{ $value | humanizePercentage }}", value)
        for label, label_value in labels.items():
            text = text.replace(f"{{{{ $labels.{label} }}}}", label_value)
        out[key] = text
    return out


def fired(name: str, at: str, severity: str, value: str = "", **labels: str) -> dict[str, Any]:
    alert = {"exp_labels": {"severity": severity, **labels}, "exp_annotations": annotations(name, labels, value)}
    return {"eval_time": at, "alertname": name, "exp_alerts": [alert]}


def quiet(name: str, at: str) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": []}


def test_promtool_host_alerts_fire_when_they_should_and_not_before(tmp_path: Path) -> None:
    write_rules(tmp_path)
    down = {"job": HOST_JOB, "instance": "i-a"}
    zoned = {**down, "availability_zone": "eu-west-3a"}
    tests = [
        {
            "name": "one host down: a ticket after 5 minutes, no page while another answers",
            "interval": "1m",
            "input_series": [{"series": UP_A, "values": "1 1 1 0x20"}, {"series": UP_B, "values": "1x23"}],
            "alert_rule_test": [
                quiet("HostDown", "6m"),
                fired("HostDown", "9m", "ticket", **zoned),
                quiet("FleetHostsAllDown", "20m"),
            ],
        },
        {
            "name": "every host down or none discovered pages",
            "interval": "1m",
            "input_series": [{"series": UP_A, "values": "1 1 0x20"}],
            "alert_rule_test": [quiet("FleetHostsAllDown", "5m"), fired("FleetHostsAllDown", "10m", "page")],
        },
        {
            "name": "memory under 10% for 15 minutes tickets",
            "interval": "1m",
            "input_series": [
                {"series": f"node_memory_MemAvailable_bytes{{{MEM}}}", "values": "500x5 50x30"},
                {"series": f"node_memory_MemTotal_bytes{{{MEM}}}", "values": "1000x35"},
            ],
            "alert_rule_test": [quiet("HostMemoryLow", "18m"), fired("HostMemoryLow", "22m", "ticket", "5%", **down)],
        },
        {
            "name": "a disk filling within hours pages, a full one tickets",
            "interval": "1m",
            # 1000 bytes, 150 free and falling 1 a minute: empty in 150 minutes, under 10% free at minute 51.
            "input_series": [
                {"series": f"node_filesystem_avail_bytes{{{FS}}}", "values": "150-1x120"},
                {"series": f"node_filesystem_size_bytes{{{FS}}}", "values": "1000x120"},
                {"series": f"node_filesystem_readonly{{{FS}}}", "values": "0x120"},
            ],
            "alert_rule_test": [
                quiet("HostDiskWillFillIn4Hours", "20m"),
                fired("HostDiskWillFillIn4Hours", "40m", "page", mountpoint="/", fstype="xfs", **down),
                quiet("HostDiskSpaceLow", "60m"),
                fired("HostDiskSpaceLow", "70m", "ticket", "8%", mountpoint="/", fstype="xfs", **down),
            ],
        },
    ]
    (tmp_path / "tests.yml").write_text(
        yaml.safe_dump({"rule_files": ["hosts.yml"], "evaluation_interval": "1m", "tests": tests})
    )
    done = run_promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


# --- the stack ---------------------------------------------------------------------------------------


def test_prometheus_has_its_own_role_for_ec2_discovery_only(prod: Recording) -> None:
    role = prod.one("aws:iam/role:Role", "prometheus-ec2-sd").inputs
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    subjects = [v for k, v in trust["Condition"]["StringEquals"].items() if k.endswith(":sub")]
    assert subjects == [f"system:serviceaccount:{MONITORING_NAMESPACE}:{PROMETHEUS_SERVICE_ACCOUNT}"]
    assert (
        trust["Principal"]["Federated"] == prod.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs["arn"]
    )
    (statement,) = json.loads(prod.one("aws:iam/rolePolicy:RolePolicy", "prometheus-ec2-sd").inputs["policy"])[
        "Statement"
    ]
    assert statement["Action"] == list(EC2_SD_ACTIONS) and statement["Resource"] == "*"


def test_the_prometheus_service_account_carries_the_role(prod: Recording) -> None:
    values = prod.one("kubernetes:helm.sh/v3:Release", "monitoring").inputs["values"]
    account = values["prometheus"]["serviceAccount"]
    role_arn = prod.one("aws:iam/role:Role", "prometheus-ec2-sd").inputs["arn"]
    assert account == {"name": PROMETHEUS_SERVICE_ACCOUNT, "annotations": {IRSA_ANNOTATION: role_arn}}
    (job,) = values["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"]
    assert {f["name"]: f["values"] for f in job["ec2_sd_configs"][0]["filters"]}["tag:Environment"] == ["prod"]


def test_only_the_cluster_nodes_reach_node_exporter_on_the_fleet(prod: Recording) -> None:
    rules = [r.inputs for r in prod.of_type(INGRESS) if r.inputs.get("fromPort") == 9100]
    cluster_group = prod.one("aws:eks/cluster:Cluster").inputs["vpcConfig"]["clusterSecurityGroupId"]
    fleet_group = prod.one("aws:ec2/securityGroup:SecurityGroup", "app").inputs["id"]
    assert [(r["securityGroupId"], r["referencedSecurityGroupId"], r["toPort"]) for r in rules] == [
        (fleet_group, cluster_group, 9100)
    ]
    assert not any("cidrIpv4" in r for r in rules)


def test_the_release_waits_for_the_discovery_policy(prod: Recording) -> None:
    plan = build_plan("prod", prod)
    release = prod.one("kubernetes:helm.sh/v3:Release", "monitoring")
    policy = prod.one("aws:iam/rolePolicy:RolePolicy", "prometheus-ec2-sd")
    assert policy.urn in waits_for(plan, release.urn)


def test_host_alerts_are_a_rule_of_the_stack(prod: Recording) -> None:
    names = {r.name for r in prod.of_type(PROMETHEUS_RULE)}
    assert names == {"monitoring-slo-rules", "monitoring-host-rules"}


def test_existing_cluster_mode_discovers_no_hosts() -> None:
    from tests.test_stacks import KUBECONFIG

    rec = run_stack(
        "test",
        {
            "hardstack:clusterMode": "existing",
            "hardstack:kubeconfig": KUBECONFIG,
            "hardstack:clusterMonitoring": True,
            "hardstack:existingClusterLoadBalancerCidrs": ["172.20.0.0/24"],
        },
    )
    assert not [r for r in rec if r.name == "prometheus-ec2-sd"]
    assert "serviceAccount" not in rec.one("kubernetes:helm.sh/v3:Release", "monitoring").inputs["values"]["prometheus"]


def test_the_stack_discovers_only_its_own_fleet() -> None:
    rec = run_stack("prod")
    values = rec.one("kubernetes:helm.sh/v3:Release", "monitoring").inputs["values"]
    (job,) = [c for c in values["prometheus"]["prometheusSpec"]["additionalScrapeConfigs"] if c["ec2_sd_configs"]]
    filters = {f["name"]: f["values"] for f in job["ec2_sd_configs"][0]["filters"]}
    assert filters["tag:hardstack:fleet"] == ["hardstack-prod-app"]
    inventory = rec.outputs["ansibleInventory"]
    assert "tag:hardstack:fleet: hardstack-prod-app" in inventory
