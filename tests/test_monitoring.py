import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hardstack.core.errors import HardstackError
from hardstack.core.slo import SLO, compile_rules, to_yaml
from hardstack.core.tier import Tier
from hardstack.k8s.hosts import HostDiscovery
from hardstack.k8s.monitoring import (
    CHART_REPO,
    CHART_VERSION,
    GRAFANA_SECRET,
    NAMESPACE_SELECTOR_KEYS,
    NULL_RECEIVER,
    RECEIVER_SECRET,
    VOLUME_FIELD_MANAGER,
    Monitoring,
    MonitoringArgs,
    Receiver,
    SecretRef,
    Smtp,
    alertmanager_config,
    duration_seconds,
    helm_values,
    parse_size,
    prometheus_claim,
    refuse_null_routes,
    retention_size_now,
    validate_chart_version,
    validate_page_receivers,
    validate_prometheus_duration,
    validate_retention_holds,
    validate_retention_size,
    validate_routing,
    validate_severity_aliases,
)
from hardstack.k8s.platform import PlatformBaselineArgs
from hardstack.tooling.manifests import manifests_from, validate_manifests
from hardstack.tooling.testing import Recording

Run = Callable[..., Recording]

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
PASSWORD = "random:index/randomPassword:RandomPassword"
SERVICE_MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
CLAIM_PATCH = "kubernetes:core/v1:PersistentVolumeClaimPatch"
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # marks a secret value in recorded state
# What the shared mocks give a RandomPassword as its result.
MOCK_PASSWORD = "mock-password-monitoring-grafana-password"
ROUTING_KEY = "R0UTINGKEY-0123456789abcdef0123456789"
SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX"

ONCALL = Receiver(name="oncall", kind="pagerduty", secret_ref=SecretRef("pagerduty-routing-key"))
TICKETS = Receiver(name="tickets", kind="slack", target="#alerts", secret_ref=SecretRef("slack-webhook-url"))
HEARTBEAT = Receiver(name="heartbeat", kind="webhook", target="https://hc-ping.example.com/ping/abc")
SLOS = [
    SLO(
        "api",
        "0.999",
        total_query='http_requests_total{job="api"}',
        error_query='http_requests_total{job="api",code=~"5.."}',
    )
]


def prod_args(**kw: Any) -> MonitoringArgs:
    base: dict[str, Any] = {
        "tier": Tier.PRODUCTION,
        "receivers": [ONCALL, TICKETS, HEARTBEAT],
        "receiver_secrets": {
            "pagerduty-routing-key": pulumi.Output.secret(ROUTING_KEY),
            "slack-webhook-url": pulumi.Output.secret(SLACK_URL),
        },
        "page_receivers": ["oncall"],
        "ticket_receivers": ["tickets"],
        "heartbeat_receiver": "heartbeat",
        "slos": SLOS,
        "app_name": "app",
        "app_namespace": "app",
        "protect": True,
    }
    return MonitoringArgs(**{**base, **kw})


def program(args_factory: Callable[[], MonitoringArgs]) -> Callable[[], None]:
    def run() -> None:
        args = args_factory()  # settings are validated before anything is registered, the provider included
        provider = k8s.Provider("cluster", kubeconfig="{}")
        Monitoring("monitoring", args, pulumi.ResourceOptions(provider=provider))

    return run


@pytest.fixture
def rec(run: Run) -> Recording:
    return run(program(prod_args), stack="prod")


def values(rec: Recording) -> dict[str, Any]:
    raw = rec.one(RELEASE).inputs["values"]
    parsed: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else raw
    return parsed


def refused_with_nothing_registered(run: Run, factory: Callable[[], MonitoringArgs], match: str) -> None:
    recording = Recording()
    with pytest.raises(HardstackError, match=match):
        run(program(factory), recording=recording)
    assert len(recording) == 0


def prod_config(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "tier": Tier.PRODUCTION,
        "receivers": [ONCALL, TICKETS, HEARTBEAT],
        "page_receivers": ["oncall"],
        "ticket_receivers": ["tickets"],
        "heartbeat_receiver": "heartbeat",
    }
    return alertmanager_config(**{**base, **kw})


def routes(config: dict[str, Any]) -> list[dict[str, Any]]:
    return list(config["route"]["routes"])


# --- real tools -------------------------------------------------------------------------------------


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH: install the Debian package '{package}' (apt-get install {package})")
    return path


def amtool_check(tmp_path: Path, config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    file = tmp_path / "alertmanager.yml"
    file.write_text(yaml.safe_dump(config, sort_keys=False))
    command = [tool("amtool", "prometheus-alertmanager"), "check-config", str(file)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_amtool_accepts_the_prod_config(tmp_path: Path, rec: Recording) -> None:
    result = amtool_check(tmp_path, values(rec)["alertmanager"]["config"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_accepts_every_receiver_kind(tmp_path: Path) -> None:
    smtp = Smtp(smarthost="smtp.example.com:587", from_address="alerts@example.com", username="alerts")
    mail = Receiver(name="mail", kind="email", target="ops@example.com", smtp=smtp, secret_ref=SecretRef("smtp"))
    hook = Receiver(name="hook", kind="webhook", target="http://relay.tools.svc:8080/x", secret_ref=SecretRef("tok"))
    config = prod_config(receivers=[ONCALL, TICKETS, HEARTBEAT, mail, hook], ticket_receivers=["tickets", "mail"])
    result = amtool_check(tmp_path, config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_accepts_the_test_config_without_receivers(tmp_path: Path) -> None:
    result = amtool_check(tmp_path, alertmanager_config(tier=Tier.DEVELOPMENT))
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_rejects_a_route_to_an_unknown_receiver(tmp_path: Path) -> None:
    broken = prod_config()
    broken["route"]["routes"][1]["receiver"] = "nobody"
    result = amtool_check(tmp_path, broken)
    assert result.returncode != 0
    assert "nobody" in result.stdout + result.stderr


def test_promtool_accepts_the_prometheus_rule_spec(tmp_path: Path, rec: Recording) -> None:
    rule = rec.one(PROMETHEUS_RULE)
    file = tmp_path / "rules.yml"
    file.write_text(to_yaml({"groups": rule.inputs["spec"]["groups"]}))
    command = [tool("promtool", "prometheus"), "check", "rules", str(file)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 15 rules found" in result.stdout


def unwrap_secrets(value: Any) -> Any:
    """The mock runtime records secret inputs wrapped in Pulumi's secret envelope; the API sees the value."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return unwrap_secrets(value["value"])
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def test_core_manifests_match_the_kubernetes_schema(rec: Recording) -> None:
    objects = [r for r in rec if r.type != RELEASE]  # a Helm release is not an API object
    manifests = [unwrap_secrets(m) for m in manifests_from(objects)]
    assert {m["kind"] for m in manifests} == {"Namespace", "Secret", "ServiceMonitor", "PrometheusRule"}
    validate_manifests(manifests, custom_kinds={"ServiceMonitor", "PrometheusRule"})


# --- helm values ------------------------------------------------------------------------------------


def test_release_is_the_pinned_chart_from_its_repository(rec: Recording) -> None:
    release = rec.one(RELEASE).inputs
    assert release["chart"] == "kube-prometheus-stack" and release["version"] == CHART_VERSION
    assert release["repositoryOpts"]["repo"] == CHART_REPO
    assert release["namespace"] == "monitoring" and release["atomic"] and release["cleanupOnFail"]


def test_retention_size_and_volume_are_in_the_values(rec: Recording) -> None:
    spec = values(rec)["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "31d" and spec["retentionSize"] == "72GB"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim == {
        "storageClassName": "gp3-encrypted",
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "80Gi"}},
    }


def test_monitors_and_rules_outside_the_release_are_selected(rec: Recording) -> None:
    spec = values(rec)["prometheus"]["prometheusSpec"]
    for key in ("serviceMonitor", "podMonitor", "rule"):
        assert spec[f"{key}SelectorNilUsesHelmValues"] is False


def test_prometheus_and_alertmanager_run_as_non_root(rec: Recording) -> None:
    v = values(rec)
    for spec in (v["prometheus"]["prometheusSpec"], v["alertmanager"]["alertmanagerSpec"]):
        assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0


def test_grafana_password_is_generated_and_only_referenced(rec: Recording) -> None:
    password = rec.one(PASSWORD).inputs
    assert password["length"] >= 32 and password["special"] is True
    assert values(rec)["grafana"]["admin"] == {
        "existingSecret": GRAFANA_SECRET,
        "userKey": "admin-user",
        "passwordKey": "admin-password",
    }
    secret = rec.one(SECRET, "monitoring-grafana-admin")
    assert secret.inputs["metadata"]["name"] == GRAFANA_SECRET
    assert MOCK_PASSWORD in json.dumps(secret.inputs["stringData"])
    release_text = json.dumps(rec.one(RELEASE).inputs)
    assert MOCK_PASSWORD not in release_text and "adminPassword" not in release_text


def test_receiver_secrets_are_mounted_files_never_values(rec: Recording) -> None:
    release_text = json.dumps(rec.one(RELEASE).inputs)
    assert ROUTING_KEY not in release_text and SLACK_URL not in release_text
    v = values(rec)["alertmanager"]
    assert v["alertmanagerSpec"]["secrets"] == [RECEIVER_SECRET]
    (oncall,) = [r for r in v["config"]["receivers"] if r["name"] == "oncall"]
    assert oncall["pagerduty_configs"][0]["routing_key_file"] == (
        f"/etc/alertmanager/secrets/{RECEIVER_SECRET}/pagerduty-routing-key"
    )
    stored = json.dumps(rec.one(SECRET, "monitoring-alertmanager-receivers").inputs["stringData"])
    assert ROUTING_KEY in stored and SLACK_URL in stored


def test_release_waits_for_the_secrets_it_references(rec: Recording) -> None:
    dependencies = rec.one(RELEASE).dependencies
    for name in ("monitoring-grafana-admin", "monitoring-alertmanager-receivers"):
        assert rec.one(SECRET, name).urn in dependencies


def test_namespace_enforces_privileged_pod_security_for_node_exporter(rec: Recording) -> None:
    labels = rec.one(NAMESPACE).inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == "baseline"


def test_namespace_enforces_baseline_without_node_exporter(run: Run) -> None:
    rec = run(program(lambda: prod_args(node_exporter=False)))
    assert rec.one(NAMESPACE).inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert values(rec)["nodeExporter"] == {"enabled": False}


def test_protect_keeps_namespace_and_release(rec: Recording) -> None:
    ns = rec.one(NAMESPACE)
    assert ns.protect and ns.retain_on_delete and rec.one(RELEASE).protect


def test_children_use_the_kubernetes_provider_from_opts(rec: Recording) -> None:
    for typ in (NAMESPACE, RELEASE, SERVICE_MONITOR, PROMETHEUS_RULE):
        assert "::cluster::" in rec.one(typ).provider


# --- alert routing ----------------------------------------------------------------------------------


def test_alerts_are_grouped_by_alertname_service_and_slo() -> None:
    assert prod_config()["route"]["group_by"] == ["alertname", "service", "slo"]


def test_page_and_ticket_route_to_their_receivers() -> None:
    by_receiver = {r["receiver"]: r["matchers"] for r in routes(prod_config(severity_aliases={}))}
    assert by_receiver["oncall"] == ['severity="page"']
    assert by_receiver["tickets"] == ['severity="ticket"']


def test_chart_severities_are_routed_as_their_aliases() -> None:
    by_receiver = {r["receiver"]: r["matchers"] for r in routes(prod_config())}
    assert by_receiver["oncall"] == ['severity=~"page|critical"']
    assert by_receiver["tickets"] == ['severity=~"ticket|warning"']


def test_every_page_receiver_gets_the_page() -> None:
    backup = Receiver(name="backup", kind="pagerduty", secret_ref=SecretRef("backup-key"))
    config = prod_config(receivers=[ONCALL, TICKETS, HEARTBEAT, backup], page_receivers=["oncall", "backup"])
    pages = [r for r in routes(config) if "page" in r["matchers"][0]]
    assert [(r["receiver"], r["continue"]) for r in pages] == [("oncall", True), ("backup", False)]


def test_watchdog_goes_to_the_heartbeat_first_and_often() -> None:
    first = routes(prod_config())[0]
    assert first["matchers"] == ['alertname="Watchdog"'] and first["receiver"] == "heartbeat"
    assert first["repeat_interval"] == "1m"


def test_a_page_inhibits_the_ticket_of_the_same_slo() -> None:
    rule = prod_config()["inhibit_rules"][0]
    assert 'severity="page"' in rule["source_matchers"] and 'severity="ticket"' in rule["target_matchers"]
    assert rule["equal"] == ["service", "slo"]
    # Both sides must carry an slo label, or a page without one would silence every unlabelled ticket.
    assert 'slo=~".+"' in rule["source_matchers"] and 'slo=~".+"' in rule["target_matchers"]


def test_prod_config_sends_nothing_but_info_to_a_null_receiver() -> None:
    config = prod_config()
    null = [r["name"] for r in config["receivers"] if not any(k.endswith("_configs") for k in r)]
    assert null == [NULL_RECEIVER]
    assert [r["matchers"] for r in routes(config) if r["receiver"] == NULL_RECEIVER] == [['severity="info"']]
    assert config["route"]["receiver"] == "tickets"


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=info", "alertname=CPUThrottlingHigh"], "blackhole"),
        (["severity=critical", "alertname=KubePodCrashLooping"], "oncall"),
        (["severity=warning", "alertname=KubeMemoryOvercommit"], "tickets"),
        (["severity=page", "alertname=AppErrorBudgetBurn"], "oncall"),
        (["alertname=Watchdog", "severity=none"], "heartbeat"),
        (["alertname=Unlabelled"], "tickets"),
    ],
)
def test_amtool_routes_info_to_no_one_and_the_rest_to_people(tmp_path: Path, labels: list[str], receivers: str) -> None:
    file = tmp_path / "alertmanager.yml"
    file.write_text(yaml.safe_dump(prod_config(), sort_keys=False))
    command = [tool("amtool", "prometheus-alertmanager"), "config", "routes", "test", f"--config.file={file}"]
    done = subprocess.run([*command, *labels], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == receivers


def test_info_cannot_be_aliased_to_page_or_ticket() -> None:
    with pytest.raises(HardstackError, match=r"severity_aliases key = 'info' is refused"):
        prod_config(severity_aliases={"info": "ticket"})


def test_test_config_may_default_to_a_null_receiver() -> None:
    config = alertmanager_config(tier=Tier.DEVELOPMENT)
    assert config["route"]["receiver"] == NULL_RECEIVER and config["receivers"] == [{"name": NULL_RECEIVER}]


def test_service_monitor_selects_the_app_contract(rec: Recording) -> None:
    monitor = rec.one(SERVICE_MONITOR).inputs
    assert monitor["spec"] == {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "app"}},
        "namespaceSelector": {"matchNames": ["app"]},
        "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}],
    }


def test_prometheus_rule_holds_the_compiled_slos(rec: Recording) -> None:
    assert rec.one(PROMETHEUS_RULE).inputs["spec"] == compile_rules(SLOS)


def test_custom_resources_depend_on_the_release(rec: Recording) -> None:
    release = rec.one(RELEASE)
    for typ in (SERVICE_MONITOR, PROMETHEUS_RULE):
        assert release.urn in rec.one(typ).dependencies


def test_no_slos_and_no_app_make_no_custom_resources(run: Run) -> None:
    rec = run(program(lambda: MonitoringArgs(tier=Tier.DEVELOPMENT)))
    assert not rec.of_type(SERVICE_MONITOR) and not rec.of_type(PROMETHEUS_RULE)
    assert not [s for s in rec.of_type(SECRET) if s.name.endswith("receivers")]


# --- refusals: each with nothing registered ----------------------------------------------------------


def test_prod_without_page_receiver_is_refused(run: Run) -> None:
    refused_with_nothing_registered(
        run, lambda: prod_args(page_receivers=[]), r"page_receivers = \[\] is refused: at least one receiver in prod"
    )


def test_unknown_severity_alias_is_refused(run: Run) -> None:
    refused_with_nothing_registered(
        run, lambda: prod_args(severity_aliases={"critical": "urgent"}), r"severity_aliases\['critical'\] = 'urgent'"
    )


def test_retention_size_larger_than_the_volume_is_refused(run: Run) -> None:
    refused_with_nothing_registered(
        run,
        lambda: prod_args(prometheus_retention_size="50GB", prometheus_volume_gb=50),
        r"prometheus_retention_size = '50GB' is refused: at most 45GB, 90% of the 50 GiB volume",
    )


def test_prod_without_heartbeat_is_refused_as_a_null_route(run: Run) -> None:
    refused_with_nothing_registered(run, lambda: prod_args(heartbeat_receiver=None), r"heartbeat_receiver = None")


def test_bad_chart_version_is_refused(run: Run) -> None:
    refused_with_nothing_registered(run, lambda: prod_args(chart_version="^65.0"), r"chart_version = '\^65.0'")


def test_receiver_secret_key_without_value_is_refused(run: Run) -> None:
    refused_with_nothing_registered(
        run, lambda: prod_args(receiver_secrets={}), r"receiver 'oncall' secret_ref = 'pagerduty-routing-key'"
    )


def test_route_to_unknown_receiver_is_refused() -> None:
    with pytest.raises(HardstackError, match=r"ticket_receivers = 'jira' is refused: a name from receivers"):
        prod_config(ticket_receivers=["jira"])


def test_null_route_in_prod_is_refused() -> None:
    config = prod_config()
    config["receivers"].append({"name": "drop"})
    config["route"]["routes"][2]["receiver"] = "drop"
    with pytest.raises(HardstackError, match=r"alertmanager route default > severity=~\"page\|critical\" = 'drop'"):
        refuse_null_routes(config, Tier.PRODUCTION)
    refuse_null_routes(config, Tier.DEVELOPMENT)


def test_null_default_route_in_prod_is_refused() -> None:
    config = alertmanager_config(tier=Tier.DEVELOPMENT)
    with pytest.raises(HardstackError, match=r"alertmanager route default = 'blackhole'"):
        refuse_null_routes(config, Tier.PRODUCTION, "alertmanager route")


@pytest.mark.parametrize("severity", ["critical", "Page", ""])
def test_unknown_severity_in_routing_setting_is_refused(severity: str) -> None:
    with pytest.raises(HardstackError, match=r"hardstack:alertRoutes key = .* is refused: one of page, ticket"):
        validate_routing({severity: ["oncall"]}, "hardstack:alertRoutes")


def test_routing_setting_fills_missing_severities() -> None:
    assert validate_routing({"page": ["oncall"]}) == {"page": ("oncall",), "ticket": ()}


@pytest.mark.parametrize("aliases", [{"page": "ticket"}, {"Critical!": "page"}])
def test_alias_keys_that_are_not_other_severities_are_refused(aliases: dict[str, str]) -> None:
    with pytest.raises(HardstackError, match="severity_aliases key"):
        validate_severity_aliases(aliases)


def test_page_receivers_refusal_names_the_setting() -> None:
    with pytest.raises(HardstackError, match=r"hardstack:pageReceivers = \[\]"):
        validate_page_receivers(Tier.PRODUCTION, [], "hardstack:pageReceivers")
    validate_page_receivers(Tier.DEVELOPMENT, [])


@pytest.mark.parametrize("version", ["65", "65.1", "v65.1.0", "65.1.0-rc1", "latest", "", "~65.1.0", "065.1.0"])
def test_chart_version_must_be_an_exact_release(version: str) -> None:
    with pytest.raises(HardstackError, match="exact chart release"):
        validate_chart_version(version, "hardstack:monitoringChartVersion")


@pytest.mark.parametrize("duration", ["0", "0d", "", "15", "15 d", "1.5d", "15D", "d"])
def test_bad_retention_duration_is_refused(duration: str) -> None:
    with pytest.raises(HardstackError, match="prometheus_retention = "):
        validate_prometheus_duration(duration)


@pytest.mark.parametrize("duration", ["15d", "2w", "36h", "1y2w", "90m", "1d12h"])
def test_prometheus_durations_pass(duration: str) -> None:
    assert validate_prometheus_duration(duration) == duration


@pytest.mark.parametrize("size", ["45G", "45 GB", "-1GB", "0GB", "GB", "45gb", 45])
def test_bad_retention_size_is_refused(size: Any) -> None:
    with pytest.raises(HardstackError, match="prometheus_retention_size = "):
        parse_size(size)


def test_sizes_are_base_two() -> None:
    assert parse_size("45GB") == parse_size("45GiB") == 45 * 2**30
    assert parse_size("1.5TB") == 3 * 2**39 and parse_size("512B") == 512


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=16384), st.integers(min_value=1, max_value=20000))
def test_retention_size_is_accepted_exactly_up_to_90_percent(volume_gb: int, size_gb: int) -> None:
    size = f"{size_gb}GB"
    if size_gb * 10 <= volume_gb * 9:
        assert validate_retention_size(size, volume_gb) == size
    else:
        with pytest.raises(HardstackError, match="headroom"):
            validate_retention_size(size, volume_gb)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"kind": "pagerduty", "target": ROUTING_KEY, "secret_ref": SecretRef("k")}, "target = '\\[redacted\\]'"),
        ({"kind": "pagerduty"}, "secret_ref = None"),
        ({"kind": "slack", "target": SLACK_URL, "secret_ref": SecretRef("k")}, "target = '\\[redacted\\]'"),
        ({"kind": "webhook", "target": "https://user:pw@example.com/x"}, "without credentials"),
        ({"kind": "webhook", "target": "http://example.com/x"}, "https URL"),
        ({"kind": "email", "target": "ops@example.com"}, "smtp = None"),
        ({"kind": "sms", "target": "+33"}, "kind = 'sms'"),
    ],
)
def test_receivers_refuse_inline_secrets_and_bad_targets(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(HardstackError, match=match):
        Receiver(name="r", **kw)


def test_secrets_never_reach_the_rendered_values() -> None:
    rendered = helm_values(
        retention="15d",
        retention_size="45GB",
        volume_gb=50,
        storage_class_name="gp3",
        alertmanager=prod_config(),
        alertmanager_secrets=["alertmanager-receivers"],
    )
    text = json.dumps(rendered)
    assert "_file" in text and ROUTING_KEY not in text and 'password":' not in text.lower()


def test_prometheus_volume_takes_the_baselines_class_by_default() -> None:
    # Stock EKS has no gp3 class and, from 1.30, no default class: the baseline's class is the one that exists.
    spec = MonitoringArgs(tier=Tier.DEVELOPMENT).helm_values()["prometheus"]["prometheusSpec"]
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == PlatformBaselineArgs(namespaces=["app"]).storage_class_name
    default = MonitoringArgs(tier=Tier.DEVELOPMENT, storage_class_name=None).helm_values()["prometheus"]
    assert "storageClassName" not in default["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    named = MonitoringArgs(tier=Tier.DEVELOPMENT, storage_class_name="fast").helm_values()["prometheus"]
    assert named["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "fast"


def test_retention_shorter_than_the_slo_period_is_refused(run: Run) -> None:
    refused_with_nothing_registered(
        run,
        lambda: prod_args(prometheus_retention="15d"),
        r"prometheus_retention = '15d' is refused: at least 30d, the SLO period",
    )


@pytest.mark.parametrize(("duration", "seconds"), [("31d", 31 * 86400), ("1y", 365 * 86400), ("4w2d", 30 * 86400)])
def test_retention_of_a_whole_period_passes(duration: str, seconds: int) -> None:
    assert duration_seconds(duration) == seconds
    assert validate_retention_holds(duration, 30) == duration


# --- the stack's two serving paths ---------------------------------------------------------------


def test_each_serving_path_has_its_own_slo_and_alert_name() -> None:
    from stacks.offline import run_stack, stack_config
    from stacks.program import app_slo, fleet_slo
    from stacks.settings import parse_settings

    rec = run_stack("prod")
    settings = parse_settings(stack_config("prod"))
    cluster, fleet = app_slo(settings), fleet_slo(settings)
    assert cluster.slo_id != fleet.slo_id and cluster.alert_name != fleet.alert_name
    # Prometheus alerts on the pods' own metrics; CloudWatch on the fleet's load balancer.
    groups = rec.one(PROMETHEUS_RULE, "monitoring-slo-rules").inputs["spec"]["groups"]
    alerts = {r["alert"] for g in groups for r in g["rules"] if "alert" in r}
    assert alerts == {cluster.alert_name}
    composites = {r.inputs["alarmName"] for r in rec.of_type("aws:cloudwatch/compositeAlarm:CompositeAlarm")}
    assert any(name.endswith("-fleet-availability-burn-page") for name in composites)
    assert not any("-app-availability-burn" in name for name in composites)


def test_the_cluster_sli_leaves_the_probes_out() -> None:
    from stacks.offline import stack_config
    from stacks.program import app_slo
    from stacks.settings import parse_settings

    slo = app_slo(parse_settings(stack_config("test")))
    for query in (slo.total_query, slo.error_query or ""):
        assert 'path!~"healthz|readyz"' in query


# Every key path the values may set, each read in kube-prometheus-stack-88.5.3's own values.yaml
# (charts/kube-prometheus-stack/values.yaml at that tag). Under a free-form key the chart takes any map
# or list (an Alertmanager config, a claim template, annotations, scrape jobs), so only the key is pinned.
CHART_88_5_3_KEYS = frozenset(
    {
        "kubeControllerManager.enabled",
        "kubeScheduler.enabled",
        "kubeEtcd.enabled",
        "kubeProxy.enabled",
        "nodeExporter.enabled",
        "prometheus.prometheusSpec.retention",
        "prometheus.prometheusSpec.retentionSize",
        "prometheus.prometheusSpec.serviceMonitorSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.podMonitorSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.ruleSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.probeSelectorNilUsesHelmValues",
        "prometheus.prometheusSpec.scrapeConfigSelectorNilUsesHelmValues",
        *(
            f"{spec}.securityContext.{key}"
            for spec in ("prometheus.prometheusSpec", "alertmanager.alertmanagerSpec")
            for key in ("runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "seccompProfile.type")
        ),
        "prometheus.serviceAccount.name",
        # The crds subchart's upgrade job (charts/crds/templates/upgrade/job.yaml reads them as .Values.upgradeJob).
        "crds.upgradeJob.enabled",
        "crds.upgradeJob.forceConflicts",
        "crds.upgradeJob.image.busybox.tag",
        *(
            f"crds.upgradeJob.podSecurityContext.{key}"
            for key in ("runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "seccompProfile.type")
        ),
        *(
            f"crds.upgradeJob.containerSecurityContext.{key}"
            for key in ("allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities.drop")
        ),
        "alertmanager.alertmanagerSpec.secrets",
        "grafana.admin.existingSecret",
        "grafana.admin.userKey",
        "grafana.admin.passwordKey",
        "grafana.sidecar.dashboards.searchNamespace",
        # The grafana subchart's own value (its values.yaml and README: Role and RoleBinding
        # instead of the ClusterRole); kube-prometheus-stack's values set grafana.rbac.pspEnabled only.
        "grafana.rbac.namespaced",
    }
)
CHART_88_5_3_FREE_FORM = frozenset(
    {
        "defaultRules.disabled",
        "crds.upgradeJob.resources",
        "prometheus.prometheusSpec.storageSpec",
        "prometheus.prometheusSpec.additionalScrapeConfigs",
        "prometheus.serviceAccount.annotations",
        "alertmanager.config",
        # Kubernetes ResourceRequirements, `{}` in the chart's values.yaml.
        "prometheus.prometheusSpec.resources",
        "alertmanager.alertmanagerSpec.resources",
        "prometheusOperator.resources",
        # Label selectors, each a key of prometheusSpec in the chart's values.yaml (`{}` there).
        *(f"prometheus.prometheusSpec.{key}" for key in NAMESPACE_SELECTOR_KEYS),
    }
)


def key_paths(values: dict[str, Any], prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in CHART_88_5_3_FREE_FORM:
            paths |= key_paths(value, f"{path}.")
        else:
            paths.add(path)
    return paths


def test_every_value_key_exists_in_the_pinned_chart() -> None:
    assert CHART_VERSION == "88.5.3"  # bumping the chart means reading its values.yaml again
    hosts = HostDiscovery(region="eu-west-3", environment="prod", role="app", role_arn="arn:aws:iam::1:role/sd")
    values = MonitoringArgs(tier=Tier.DEVELOPMENT, host_discovery=hosts, own_namespaces_only=True).helm_values()
    assert key_paths(values) <= CHART_88_5_3_KEYS | CHART_88_5_3_FREE_FORM
    assert set(values["alertmanager"]["config"]) <= {"global", "inhibit_rules", "route", "receivers", "templates"}


# --- day 2: the volume grows in place, the CRDs follow the chart -----------------------------------


def prometheus_spec(rec: Recording) -> dict[str, Any]:
    spec: dict[str, Any] = values(rec)["prometheus"]["prometheusSpec"]
    return spec


def test_no_claim_is_patched_before_the_volume_exists(rec: Recording) -> None:
    assert not rec.of_type(CLAIM_PATCH)


def test_a_larger_volume_patches_the_claim_after_the_release(run: Run) -> None:
    rec = run(program(lambda: prod_args(applied_volume_gb=80, prometheus_volume_gb=160)))

    patch = rec.one(CLAIM_PATCH)

    assert patch.inputs["metadata"]["name"] == prometheus_claim()
    assert patch.inputs["metadata"]["namespace"] == "monitoring"
    assert patch.inputs["spec"] == {"resources": {"requests": {"storage": "160Gi"}}}
    annotations = patch.inputs["metadata"]["annotations"]
    assert annotations == {"pulumi.com/patchFieldManager": VOLUME_FIELD_MANAGER, "pulumi.com/patchForce": "true"}
    assert rec.one(RELEASE).urn in patch.dependencies and patch.retain_on_delete
    template = prometheus_spec(rec)["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert template["resources"] == {"requests": {"storage": "160Gi"}}  # claims made later get the new size


@pytest.mark.parametrize(
    ("release", "prometheus"),
    [
        # The release name holds the chart's: it is the chart's fullname.
        ("kube-prometheus-stack", "kube-prometheus-stack-prometheus"),
        # Otherwise <release>-kube-prometheus-stack, cut to 26 characters.
        ("kps-0123456789", "kps-0123456789-kube-promet-prometheus"),
    ],
)
def test_the_claim_is_the_one_the_operator_makes_for_the_release(release: str, prometheus: str) -> None:
    # <template prometheus-<name>-db>-<StatefulSet prometheus-<name>>-<ordinal>, <name> the chart's Prometheus.
    assert prometheus_claim(release) == f"prometheus-{prometheus}-db-prometheus-{prometheus}-0"


def test_a_release_of_its_own_name_patches_its_own_claim(run: Run) -> None:
    rec = run(program(lambda: prod_args(release_name="kps-0123456789", applied_volume_gb=80)))

    name = rec.one(CLAIM_PATCH).inputs["metadata"]["name"]

    assert name == prometheus_claim("kps-0123456789") != prometheus_claim()


def test_retention_stays_within_the_old_volume_while_it_grows(run: Run) -> None:
    growing = run(
        program(lambda: prod_args(applied_volume_gb=80, prometheus_volume_gb=160, prometheus_retention_size="144GB"))
    )
    grown = run(
        program(lambda: prod_args(applied_volume_gb=160, prometheus_volume_gb=160, prometheus_retention_size="144GB"))
    )

    assert prometheus_spec(growing)["retentionSize"] == "72GB"  # 90% of the 80 GiB disk that exists
    assert prometheus_spec(grown)["retentionSize"] == "144GB"


def test_a_volume_smaller_than_the_current_one_is_refused(run: Run) -> None:
    refused_with_nothing_registered(
        run,
        lambda: prod_args(applied_volume_gb=80, prometheus_volume_gb=50, prometheus_retention_size="45GB"),
        r"^prometheus_volume_gb = 50 is refused: at least 80, the size in GiB of the Prometheus volume now",
    )


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=16384),
    st.integers(min_value=1, max_value=16384),
    st.integers(min_value=1, max_value=16384 * 1024),
)
def test_the_applied_retention_size_fits_the_smaller_of_the_old_and_new_volume(
    applied_gb: int, volume_gb: int, size_mb: int
) -> None:
    assume(applied_gb <= volume_gb and size_mb * 10 <= volume_gb * 1024 * 9)  # else refused before this point
    size = f"{size_mb}MB"

    applied = parse_size(retention_size_now(size, volume_gb, applied_gb))

    assert applied <= parse_size(size)
    assert applied <= min(applied_gb, volume_gb) * 1024**3 * 0.9
    assert applied == parse_size(size) or applied > applied_gb * 1024**3 * 0.9 - 2**20  # capped, not cut further
    assert retention_size_now(size, volume_gb, None) == size


def test_the_chart_upgrades_its_crds_before_each_upgrade(rec: Recording) -> None:
    job = values(rec)["crds"]["upgradeJob"]
    assert job["enabled"] is True and job["forceConflicts"] is True
    release = rec.one(RELEASE).inputs
    # The job is a Helm pre-upgrade hook: Release runs Helm's hooks unless told not to.
    assert not release.get("disableCRDHooks") and not release.get("skipCrds")


def test_the_crd_upgrade_job_is_pinned_bounded_and_unprivileged(rec: Recording) -> None:
    job = values(rec)["crds"]["upgradeJob"]
    tag = job["image"]["busybox"]["tag"]
    assert tag != "latest" and re.fullmatch(r"\d+\.\d+\.\d+", tag)
    assert set(job["resources"]["requests"]) == {"cpu", "memory"} and "memory" in job["resources"]["limits"]
    pod, container = job["podSecurityContext"], job["containerSecurityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0 and pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["allowPrivilegeEscalation"] is False and container["capabilities"] == {"drop": ["ALL"]}
    assert container["readOnlyRootFilesystem"] is True


def test_on_a_shared_cluster_prometheus_loads_monitors_and_rules_of_its_own_namespaces_only() -> None:
    spec = prod_args(own_namespaces_only=True, namespace="team-a-monitoring", app_namespace="team-a-app")
    prometheus = spec.helm_values()["prometheus"]["prometheusSpec"]
    expected = {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["team-a-app", "team-a-monitoring"]}
        ]
    }
    for key in NAMESPACE_SELECTOR_KEYS:
        assert prometheus[key] == expected, key
    # Not only those with the release label, within them (the app's ServiceMonitor carries none).
    assert prometheus["serviceMonitorSelectorNilUsesHelmValues"] is False


def test_on_a_cluster_the_stack_owns_prometheus_loads_monitors_from_every_namespace() -> None:
    prometheus = prod_args().helm_values()["prometheus"]["prometheusSpec"]
    assert not set(NAMESPACE_SELECTOR_KEYS) & set(prometheus)  # the chart's default, {}: every namespace


def test_grafana_reads_configmaps_and_secrets_of_its_own_namespace_only() -> None:
    grafana = prod_args().helm_values()["grafana"]
    # A Role in the release's namespace instead of a ClusterRole over every Secret of the cluster,
    # and the dashboards' search back to the sidecar's own namespace (the chart's ALL unset).
    assert grafana["rbac"] == {"namespaced": True}
    assert grafana["sidecar"]["dashboards"] == {"searchNamespace": None}


def test_prometheus_alertmanager_and_the_operator_reserve_what_they_use() -> None:
    values = prod_args().helm_values()
    # Requests make the scheduler reserve room; without them a busy node evicts Prometheus first.
    for spec in (
        values["prometheus"]["prometheusSpec"],
        values["alertmanager"]["alertmanagerSpec"],
        values["prometheusOperator"],
    ):
        resources = spec["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"} and set(resources["limits"]) == {"cpu", "memory"}
    assert values["prometheus"]["prometheusSpec"]["resources"]["requests"]["memory"] == "1Gi"
