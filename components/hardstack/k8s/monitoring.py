"""Kubernetes-side monitoring: kube-prometheus-stack with routed alerts, SLO rules and the app's scrape.

Creates: a core/v1 Namespace (Pod Security level chosen below), a random.RandomPassword and a core/v1
Secret holding the Grafana admin login, a core/v1 Secret with the Alertmanager receivers' credentials
(only when `receiver_secrets` are given), a helm.v3.Release of kube-prometheus-stack, a ServiceMonitor
for the app (when `app_name` is given), a PrometheusRule with the SLOs' rules (when `slos` are given)
and one with the host alerts (when `host_discovery` is given: see hardstack.k8s.hosts).
The ServiceMonitor and PrometheusRule depend on the release, which installs their CRDs. Once the
Prometheus volume exists (`applied_volume_gb`), a core/v1 PersistentVolumeClaimPatch owns its size.

Day 2
-----
A larger `prometheus_volume_gb` grows the disk in place: the release moves the claim template (the
operator recreates its StatefulSet, keeping the claim) and the claim is patched to the new size, which
the EBS CSI driver and the kubelet apply online. Until a later `up` reads the grown volume, the
retention size stays within 90% of the old one, so the old disk never fills while it grows; that `up`
then applies the requested retention size. A smaller volume is refused. A new `chart_version` upgrades
the CRDs first: the chart's CRD upgrade job runs as a Helm pre-upgrade hook.

Alert routing (`alertmanager_config`)
-------------------------------------
Alerts are grouped by ``alertname, service, slo``. ``alertname="Watchdog"`` (always firing) goes to the
heartbeat receiver every minute, so a dead-man's switch notices when alerting itself is down.
``severity="page"`` goes to every page receiver, ``severity="ticket"`` to every ticket receiver; the
chart's own rules use ``critical``/``warning``, mapped onto page/ticket by ``severity_aliases``. While a
page fires for an SLO, the ticket for the same ``service``/``slo`` is inhibited. ``severity="info"`` (the
chart's informational alerts) goes to a null receiver: it neither pages nor tickets. Anything else
reaches the default receiver: the first ticket receiver, else the first page receiver, else (outside
prod only) a null receiver. In prod no other route may end in a null receiver.

Secrets never travel in the Helm values: PagerDuty routing keys, Slack webhook URLs, webhook bearer
tokens and SMTP passwords are read by Alertmanager from files (``*_file`` fields) of Kubernetes Secrets
mounted through ``alertmanager.alertmanagerSpec.secrets``; the Grafana password is generated and
referenced through ``grafana.admin.existingSecret``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from hardstack.base.component import Component
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.receivers import check_receiver_names
from hardstack.core.slo import SEVERITIES, SLO, compile_rules, validate_severity
from hardstack.core.tier import Tier, parse_tier, resolve_protect
from hardstack.k8s.app import Resources
from hardstack.k8s.hosts import IRSA_ANNOTATION, HostDiscovery, host_rules, host_scrape_config
from hardstack.k8s.platform import DEFAULT_STORAGE_CLASS

ReceiverKind = Literal["pagerduty", "slack", "webhook", "email"]
RECEIVER_KINDS: tuple[str, ...] = ("pagerduty", "slack", "webhook", "email")

CHART = "kube-prometheus-stack"
CHART_REPO = "https://prometheus-community.github.io/helm-charts"
#: Pinned chart release, a tag of the chart's repository (kube-prometheus-stack-88.5.3) whose
#: values.yaml holds every key `helm_values` sets; bump deliberately (defaults change; the CRDs
#: follow through the chart's CRD upgrade job).
CHART_VERSION = "88.5.3"
#: Fixed Helm release name: it prefixes every object the chart makes, so autonaming would scatter suffixes.
RELEASE_NAME = "kube-prometheus-stack"
MONITORING_NAMESPACE = "monitoring"
#: Prometheus's service account (the chart's default name for this release), trusted by its IAM role.
PROMETHEUS_SERVICE_ACCOUNT = f"{RELEASE_NAME}-prometheus"
#: The chart cuts its fullname, the prefix of every object it names, to this many characters.
_FULLNAME_LENGTH = 26
#: Field manager of the claim's size: hardstack owns that one field of the claim.
VOLUME_FIELD_MANAGER = "hardstack-prometheus-volume"
#: busybox of the chart's CRD upgrade job (it unpacks the CRDs for kubectl); the chart's default is
#: `latest`. Its kubectl image follows the cluster's own version, which kubectl's skew policy wants.
CRD_UPGRADE_BUSYBOX_TAG = "1.37.0"
#: The CRD upgrade job: `kubectl apply --server-side` of ~10 large CRDs.
CRD_UPGRADE_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
#: Secret (in the monitoring namespace) this component writes `receiver_secrets` into.
RECEIVER_SECRET = "alertmanager-receivers"  # noqa: S105 - a Secret's name
#: Where the operator mounts each Secret listed in alertmanagerSpec.secrets: <dir>/<secret>/<key>.
SECRETS_DIR = "/etc/alertmanager/secrets"
GRAFANA_SECRET = "grafana-admin"  # noqa: S105 - a Secret's name
GRAFANA_USER_KEY = "admin-user"
GRAFANA_PASSWORD_KEY = "admin-password"  # noqa: S105 - a key name
GRAFANA_PASSWORD_LENGTH = 40
#: Receiver without any notifier; outside prod for anything, in prod only for `info` alerts.
NULL_RECEIVER = "blackhole"
INFO_SEVERITY = "info"
INFO_MATCHER = f'severity="{INFO_SEVERITY}"'

GROUP_BY: tuple[str, ...] = ("alertname", "service", "slo")
DEFAULT_SEVERITY_ALIASES: Mapping[str, str] = {"critical": "page", "warning": "ticket"}
#: Share of the volume Prometheus may fill with blocks; the rest is for the WAL, head chunks and compaction.
RETENTION_SHARE = Decimal("0.9")
MAX_VOLUME_GB = 16384  # an EBS gp3 volume's ceiling
#: The app contract: a Service labelled app.kubernetes.io/name=<app_name> with a port named `metrics`.
APP_METRICS_PORT = "metrics"
APP_METRICS_PATH = "/metrics"
APP_SCRAPE_INTERVAL = "30s"

_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
# The operator's own pattern for Prometheus durations, minus the bare 0 (which means "the default").
_DURATION = re.compile(r"^([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$")
# Prometheus parses retention sizes as base-2 units: 1KB = 1KiB = 1024 B.
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)((?:K|M|G|T|P|E)i?)?B$")
_SIZE_POWERS = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_SEVERITY_WORD = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_SLACK_CHANNEL = re.compile(r"^[#@][^\s/]{1,80}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
# https anywhere; plain http only to a Service inside the cluster. No credentials in the URL.
_WEBHOOK = re.compile(r"^(https://[^\s@/]+(/\S*)?|http://[^\s@/:]+\.svc(\.cluster\.local)?(:[0-9]+)?(/\S*)?)$")
# Keep every container off root and inside the runtime's default seccomp profile.
_NON_ROOT = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 2000,
    "fsGroup": 2000,
    "seccompProfile": {"type": "RuntimeDefault"},
}


# --- validation (exported for settings: `where` names the config key) --------------------------------


def validate_chart_version(value: object, where: str = "chart_version") -> str:
    if not isinstance(value, str) or not _SEMVER.match(value):
        raise refuse(where, value, f"an exact chart release MAJOR.MINOR.PATCH such as {CHART_VERSION} (no ranges)")
    return value


def validate_prometheus_duration(value: object, where: str = "prometheus_retention") -> str:
    if not isinstance(value, str) or not value or not _DURATION.match(value) or not re.search(r"[1-9]", value):
        raise refuse(where, value, "a positive Prometheus duration such as 15d, 2w or 36h (units y w d h m s ms)")
    return value


_DURATION_SECONDS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def duration_seconds(value: str, where: str = "prometheus_retention") -> float:
    """A Prometheus duration in seconds ('2w' -> 1209600); Prometheus counts a year as 365 days."""
    validate_prometheus_duration(value, where)
    return sum(int(number) * _DURATION_SECONDS[unit] for number, unit in re.findall(r"([0-9]+)(ms|[ywdhms])", value))


def validate_retention_holds(retention: str, period_days: int, where: str = "prometheus_retention") -> str:
    """Refuse a retention shorter than an SLO period: the period's error ratio and the budget left
    would silently cover only what is retained."""
    if duration_seconds(retention, where) < period_days * 86400:
        raise refuse(
            where,
            retention,
            f"at least {period_days}d, the SLO period: Prometheus must keep the whole period to compute the "
            "error budget left (grow the volume with it)",
        )
    return retention


def parse_size(value: object, where: str = "prometheus_retention_size") -> int:
    """Prometheus retention size in bytes: '45GB' -> 45 * 2**30 (its units are base 2)."""
    allowed = "a positive size such as 45GB or 500MiB (units B, KB, MB, GB, TB, PB, EB, base 2)"
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None:
        raise refuse(where, value, allowed)
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise refuse(where, value, allowed) from None
    size = int(number * 1024 ** _SIZE_POWERS[(match.group(2) or "").removesuffix("i")])
    if size <= 0:
        raise refuse(where, value, allowed)
    return size


def validate_volume_gb(value: object, where: str = "prometheus_volume_gb") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VOLUME_GB:
        raise refuse(where, value, f"a whole number of GiB from 1 to {MAX_VOLUME_GB}")
    return value


def validate_retention_size(size: str, volume_gb: int, where: str = "prometheus_retention_size") -> str:
    """Refuse a retention size above 90% of the volume: Prometheus stops ingesting when its disk fills,
    and the WAL, head chunks and compaction need room beyond the retained blocks."""
    limit = int(volume_gb * 1024**3 * RETENTION_SHARE)
    if parse_size(size, where) > limit:
        most = f"{limit / 1024**3:g}GB"
        raise refuse(
            where,
            size,
            f"at most {most}, 90% of the {volume_gb} GiB volume: leave ~10% headroom for the WAL and compaction "
            "(lower the size or grow prometheus_volume_gb)",
        )
    return size


def chart_fullname(release_name: str) -> str:
    """The chart's `kube-prometheus-stack.fullname`: the release name when it holds the chart's name,
    else `<release>-kube-prometheus-stack`, cut to 26 characters and any trailing '-'."""
    full = release_name if CHART in release_name else f"{release_name}-{CHART}"
    return full[:_FULLNAME_LENGTH].rstrip("-")


def prometheus_claim(release_name: str = RELEASE_NAME) -> str:
    """Prometheus's claim, named by the operator and the StatefulSet controller: claim template
    `prometheus-<name>-db`, StatefulSet `prometheus-<name>`, replica 0 (the chart runs one, unsharded),
    where <name> is the chart's Prometheus resource, `<fullname>-prometheus`."""
    name = f"{chart_fullname(release_name)}-prometheus"
    return f"prometheus-{name}-db-prometheus-{name}-0"


def validate_volume_growth(applied_gb: int | None, volume_gb: int, where: str = "prometheus_volume_gb") -> int:
    """Refuse a volume smaller than the one that exists: an EBS volume and its claim only grow."""
    if applied_gb is not None and volume_gb < applied_gb:
        raise refuse(
            where,
            volume_gb,
            f"at least {applied_gb}, the size in GiB of the Prometheus volume now: a volume and its claim can "
            f"only grow (keep {applied_gb} or more)",
        )
    return volume_gb


def retention_size_now(size: str, volume_gb: int, applied_gb: int | None) -> str:
    """The retention size to apply: `size`, capped at 90% of the volume that exists while a larger one
    is being applied. The claim grows after the release, and the disk only once EBS and the kubelet
    have resized it, so until a later `up` reads the larger volume Prometheus keeps within the old one."""
    if applied_gb is None or applied_gb >= volume_gb:
        return size
    limit = int(applied_gb * 1024**3 * RETENTION_SHARE)
    if parse_size(size) <= limit:
        return size
    mib = limit // 1024**2
    return f"{mib // 1024}GB" if mib % 1024 == 0 else f"{mib}MB"


def validate_name(value: object, where: str) -> str:
    if not isinstance(value, str) or not _DNS_LABEL.match(value):
        raise refuse(where, value, "a DNS label: lowercase letters, digits and '-', at most 63 characters")
    return value


def validate_page_receivers(tier: Tier, page_receivers: Sequence[str], where: str = "page_receivers") -> None:
    """In production, fast error-budget burns must reach someone on call."""
    if tier.is_production and not page_receivers:
        raise refuse(where, list(page_receivers), "at least one receiver in production: page alerts must reach someone")


def validate_routing(routing: Mapping[str, Sequence[str]], where: str = "alert_routes") -> dict[str, tuple[str, ...]]:
    """A settings-style mapping severity -> receiver names; refuse severities hardstack does not route."""
    out: dict[str, tuple[str, ...]] = {severity: () for severity in SEVERITIES}
    for severity, names in routing.items():
        validate_severity(severity, f"{where} key")
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise refuse(f"{where}.{severity}", names, "a list of receiver names")
        out[severity] = tuple(names)
    return out


def validate_severity_aliases(aliases: Mapping[str, str], where: str = "severity_aliases") -> dict[str, str]:
    """Other rules' severities (the chart's critical/warning) -> the severity they are routed as."""
    for other, severity in aliases.items():
        if other in (*SEVERITIES, INFO_SEVERITY) or not isinstance(other, str) or not _SEVERITY_WORD.match(other):
            raise refuse(
                f"{where} key",
                other,
                f"a severity word other than {', '.join(SEVERITIES)} and {INFO_SEVERITY} (info alerts notify no one)",
            )
        validate_severity(severity, f"{where}[{other!r}]")
    return dict(aliases)


def _null_receivers(config: Mapping[str, Any]) -> set[str]:
    return {
        r["name"] for r in config.get("receivers", []) if not any(k.endswith("_configs") and v for k, v in r.items())
    }


def _walk(route: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield path, route
    for child in route.get("routes", []):
        yield from _walk(child, f"{path} > {', '.join(child.get('matchers', [])) or 'any'}")


def refuse_null_routes(config: Mapping[str, Any], tier: Tier, where: str = "alertmanager route") -> None:
    """In production, refuse any route (the default included) ending in a receiver that notifies no one."""
    if not tier.is_production:
        return
    null = _null_receivers(config)
    for path, route in _walk(config["route"], "default"):
        if route.get("matchers") == [INFO_MATCHER]:
            continue  # informational by definition: dropping them is the point
        if route.get("receiver") in null:
            raise refuse(
                f"{where} {path}",
                route["receiver"],
                "in production a receiver that notifies someone: a null receiver drops alerts silently",
            )


# --- receivers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretRef:
    """One key of a Kubernetes Secret in the monitoring namespace, mounted into Alertmanager as a file.

    ``SecretRef("pagerduty-routing-key")`` reads the Secret this component makes from `receiver_secrets`;
    ``SecretRef("url", secret="slack-webhook")`` reads a Secret made elsewhere (it must exist first).
    """

    key: str
    secret: str = RECEIVER_SECRET

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not _SECRET_KEY.match(self.key):
            raise refuse("secret_ref.key", self.key, "a Secret key: letters, digits, '-', '_' or '.'")
        validate_name(self.secret, "secret_ref.secret")

    @property
    def path(self) -> str:
        return f"{SECRETS_DIR}/{self.secret}/{self.key}"


@dataclass(frozen=True, kw_only=True)
class Smtp:
    """Mail relay for email receivers; STARTTLS is required."""

    smarthost: str
    """host:port of the relay, e.g. email-smtp.eu-west-3.amazonaws.com:587."""
    from_address: str
    username: str = ""
    """SMTP user. Default: none (no authentication); with one, the receiver's secret_ref holds the password."""

    def __post_init__(self) -> None:
        if not _HOST_PORT.match(self.smarthost):
            raise refuse("smtp.smarthost", self.smarthost, "host:port, e.g. smtp.example.com:587")
        if not _EMAIL.match(self.from_address):
            raise refuse("smtp.from_address", self.from_address, "an email address")


@dataclass(frozen=True, kw_only=True)
class Receiver:
    """Where alerts go. What `target` holds depends on `kind`; secrets always come from `secret_ref`:

    * pagerduty: no target; secret_ref = the Events API v2 routing key (required).
    * slack: target = channel ('#alerts', optional); secret_ref = the incoming-webhook URL (required).
    * webhook: target = the URL (https, or http to a cluster Service); secret_ref = a bearer token (optional).
    * email: target = the address; `smtp` required; secret_ref = the SMTP password (with smtp.username).
    """

    name: str
    kind: ReceiverKind
    target: str = ""
    secret_ref: SecretRef | None = None
    smtp: Smtp | None = None

    def __post_init__(self) -> None:
        where = f"receiver {self.name!r}"
        if not isinstance(self.name, str) or not _DNS_LABEL.match(self.name) or self.name == NULL_RECEIVER:
            raise refuse("receiver name", self.name, f"a DNS label other than {NULL_RECEIVER!r}")
        if self.kind not in RECEIVER_KINDS:
            raise refuse(f"{where} kind", self.kind, f"one of {', '.join(RECEIVER_KINDS)}")
        if self.kind in ("pagerduty", "slack") and self.secret_ref is None:
            secret = "routing key" if self.kind == "pagerduty" else "webhook URL"
            raise refuse(f"{where} secret_ref", None, f"a SecretRef to the {secret}: it is a secret, never inline")
        if self.kind == "pagerduty" and self.target:
            raise refuse(f"{where} target", "[redacted]", "empty: give the routing key as secret_ref, never inline")
        if self.kind == "slack" and self.target and not _SLACK_CHANNEL.match(self.target):
            shown = "[redacted]" if "://" in self.target else self.target
            raise refuse(f"{where} target", shown, "a channel such as #alerts; the webhook URL goes in secret_ref")
        if self.kind == "webhook" and not _WEBHOOK.match(self.target):
            raise refuse(
                f"{where} target",
                self.target,
                "an https URL without credentials in it, or http to a cluster Service (*.svc); tokens go in secret_ref",
            )
        if self.kind == "email":
            if not _EMAIL.match(self.target):
                raise refuse(f"{where} target", self.target, "an email address")
            if self.smtp is None:
                raise refuse(f"{where} smtp", None, "an Smtp relay for email receivers")
            if bool(self.smtp.username) != (self.secret_ref is not None):
                raise refuse(f"{where} secret_ref", self.secret_ref, "given exactly when smtp.username is (password)")
        elif self.smtp is not None:
            raise refuse(f"{where} smtp", self.smtp, "only for email receivers")

    def config(self) -> dict[str, Any]:
        """This receiver's Alertmanager entry; secrets as *_file paths only."""
        ref = self.secret_ref
        if self.kind == "pagerduty":
            assert ref is not None
            return {"name": self.name, "pagerduty_configs": [{"routing_key_file": ref.path, "send_resolved": True}]}
        if self.kind == "slack":
            assert ref is not None
            slack: dict[str, Any] = {"api_url_file": ref.path, "send_resolved": True}
            if self.target:
                slack["channel"] = self.target
            return {"name": self.name, "slack_configs": [slack]}
        if self.kind == "webhook":
            # Bearer token from a file; this Alertmanager release has no url_file, so the URL itself is not secret.
            hook: dict[str, Any] = {"url": self.target, "send_resolved": True}
            if ref is not None:
                hook["http_config"] = {"authorization": {"type": "Bearer", "credentials_file": ref.path}}
            return {"name": self.name, "webhook_configs": [hook]}
        assert self.smtp is not None
        email: dict[str, Any] = {
            "to": self.target,
            "from": self.smtp.from_address,
            "smarthost": self.smtp.smarthost,
            "require_tls": True,
            "send_resolved": True,
        }
        if ref is not None:
            email |= {"auth_username": self.smtp.username, "auth_password_file": ref.path}
        return {"name": self.name, "email_configs": [email]}


# --- pure renderers ---------------------------------------------------------------------------------


def _severity_matcher(severity: str, aliases: Mapping[str, str]) -> str:
    others = sorted(k for k, v in aliases.items() if v == severity)
    if not others:
        return f'severity="{severity}"'
    return f'severity=~"{"|".join([severity, *others])}"'


def alertmanager_config(
    *,
    tier: Tier,
    receivers: Sequence[Receiver] = (),
    page_receivers: Sequence[str] = (),
    ticket_receivers: Sequence[str] = (),
    heartbeat_receiver: str | None = None,
    severity_aliases: Mapping[str, str] = DEFAULT_SEVERITY_ALIASES,
) -> dict[str, Any]:
    """The Alertmanager configuration (see the module docstring); refuses what would lose alerts."""
    tier = parse_tier(tier)
    aliases = validate_severity_aliases(severity_aliases)
    check_receiver_names(
        [r.name for r in receivers],
        {"page_receivers": page_receivers, "ticket_receivers": ticket_receivers},
        heartbeat_receiver,
        receivers_key="receivers",
        heartbeat_key="heartbeat_receiver",
    )
    validate_page_receivers(tier, page_receivers)
    if tier.is_production and heartbeat_receiver is None:
        raise refuse(
            "heartbeat_receiver",
            None,
            "a receiver in prod: the always-firing Watchdog must reach a dead-man's switch, not a null receiver",
        )

    default = next(iter([*ticket_receivers, *page_receivers]), NULL_RECEIVER)
    routes: list[dict[str, Any]] = [
        {
            "receiver": heartbeat_receiver or NULL_RECEIVER,
            "matchers": ['alertname="Watchdog"'],
            "group_wait": "0s",
            "group_interval": "1m",
            "repeat_interval": "1m",  # the switch alarms when pings stop, so they must come often
        },
        # The chart's `info` alerts (CPUThrottlingHigh, KubeQuotaAlmostFull, ...) are context for
        # dashboards, not work for people: they stop here instead of reaching the default receiver.
        {"receiver": NULL_RECEIVER, "matchers": [INFO_MATCHER]},
    ]
    for severity, names, repeat in (("page", page_receivers, "1h"), ("ticket", ticket_receivers, "24h")):
        matcher = _severity_matcher(severity, aliases)
        for i, receiver in enumerate(names):
            # One route per receiver; `continue` lets the alert on to the next one of the same severity.
            routes.append(
                {
                    "receiver": receiver,
                    "matchers": [matcher],
                    "repeat_interval": repeat,
                    "continue": i < len(names) - 1,
                }
            )
    used = {default, *(r["receiver"] for r in routes)}
    inhibit: list[dict[str, Any]] = [
        # `equal` treats a label missing on both sides as equal, so both sides must carry an slo label:
        # otherwise any page without service/slo would silence every such ticket.
        {
            "source_matchers": ['severity="page"', 'slo=~".+"'],
            "target_matchers": ['severity="ticket"', 'slo=~".+"'],
            "equal": ["service", "slo"],
        }
    ]
    page_aliases = sorted(k for k, v in aliases.items() if v == "page")
    ticket_aliases = sorted(k for k, v in aliases.items() if v == "ticket")
    if page_aliases and ticket_aliases:
        # The chart's own rule, kept because these values replace the chart's inhibit_rules list.
        inhibit.append(
            {
                "source_matchers": [f'severity=~"{"|".join(page_aliases)}"'],
                "target_matchers": [f'severity=~"{"|".join(ticket_aliases)}"'],
                "equal": ["namespace", "alertname"],
            }
        )
    config: dict[str, Any] = {
        # Helm merges these values into the chart's default config map by map: every route key is set here
        # so none of the chart's defaults (its null receiver included) leaks in.
        "route": {
            "receiver": default,
            "group_by": list(GROUP_BY),
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": routes,
        },
        "inhibit_rules": inhibit,
        "receivers": [r.config() for r in receivers] + ([{"name": NULL_RECEIVER}] if NULL_RECEIVER in used else []),
    }
    refuse_null_routes(config, tier)
    return config


def alertmanager_secret_names(receivers: Sequence[Receiver]) -> list[str]:
    """Secrets the operator must mount into Alertmanager, sorted so reordering receivers changes nothing."""
    return sorted({r.secret_ref.secret for r in receivers if r.secret_ref is not None})


def namespace_labels(node_exporter: bool) -> dict[str, str]:
    """Pod Security labels. node-exporter needs hostNetwork, hostPID and hostPath mounts, which only the
    `privileged` level admits; without it the namespace enforces `baseline`. Warnings and audit stay at
    baseline either way so any other pod asking for more shows up."""
    return {
        "pod-security.kubernetes.io/enforce": "privileged" if node_exporter else "baseline",
        "pod-security.kubernetes.io/warn": "baseline",
        "pod-security.kubernetes.io/audit": "baseline",
        "app.kubernetes.io/part-of": "hardstack",
    }


#: The prometheusSpec keys (chart values.yaml) that pick the namespaces monitors and rules come from.
NAMESPACE_SELECTOR_KEYS = (
    "serviceMonitorNamespaceSelector",
    "podMonitorNamespaceSelector",
    "probeNamespaceSelector",
    "scrapeConfigNamespaceSelector",
    "ruleNamespaceSelector",
)


#: Requests the scheduler reserves and limits. Prometheus holds ~60k-150k active series (see the
#: profile's volume sizing): about 1 GiB resident, more while it compacts.
PROMETHEUS_RESOURCES = Resources(cpu_request="250m", cpu_limit="2", memory_request="1Gi", memory_limit="4Gi")
ALERTMANAGER_RESOURCES = Resources(cpu_request="50m", memory_request="64Mi")
OPERATOR_RESOURCES = Resources(cpu_request="50m", memory_request="128Mi", memory_limit="512Mi")


def namespace_selectors(namespaces: Sequence[str]) -> dict[str, Any]:
    """Each NAMESPACE_SELECTOR_KEYS selecting `namespaces` by the name label Kubernetes sets on every one."""
    selector = {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted(set(namespaces))}
        ]
    }
    return {key: selector for key in NAMESPACE_SELECTOR_KEYS}


def helm_values(
    *,
    retention: str,
    retention_size: str,
    volume_gb: int,
    storage_class_name: str | None,
    alertmanager: Mapping[str, Any],
    alertmanager_secrets: Sequence[str] = (),
    grafana_admin_secret: str = GRAFANA_SECRET,
    node_exporter: bool = True,
    host_discovery: HostDiscovery | None = None,
    watched_namespaces: Sequence[str] | None = None,
) -> dict[str, Any]:
    """kube-prometheus-stack values. Holds no secret: only names of Secrets and paths of mounted files.

    `watched_namespaces`: where Prometheus loads monitors and rules from; None for every namespace."""
    values: dict[str, Any] = {
        # EKS runs the control plane: its scheduler, controller manager and etcd cannot be scraped, and
        # kube-proxy serves metrics on localhost only, so their *Down alerts would fire forever.
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        # InfoInhibitor exists to be routed to a null receiver, which prod refuses.
        "defaultRules": {"disabled": {"InfoInhibitor": True}},
        # Helm installs a chart's crds/ once and never upgrades them: the chart's pre-upgrade hook job
        # applies the new chart's CRDs first (Release runs Helm's hooks; its RBAC comes with the job).
        "crds": {"upgradeJob": crd_upgrade_job()},
        "nodeExporter": {"enabled": node_exporter},
        "prometheusOperator": {"resources": OPERATOR_RESOURCES.values()},
        "prometheus": {
            "prometheusSpec": {
                "retention": retention,
                "retentionSize": retention_size,
                # Select monitors and rules from every namespace, not only those carrying the release label.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "scrapeConfigSelectorNilUsesHelmValues": False,
                **(namespace_selectors(watched_namespaces) if watched_namespaces is not None else {}),
                "securityContext": dict(_NON_ROOT),
                "resources": PROMETHEUS_RESOURCES.values(),
                "storageSpec": {
                    "volumeClaimTemplate": {
                        # Without a class name the claim takes the cluster's default class.
                        "spec": {
                            **({"storageClassName": storage_class_name} if storage_class_name else {}),
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": f"{volume_gb}Gi"}},
                        }
                    }
                },
            }
        },
        "alertmanager": {
            "config": dict(alertmanager),
            "alertmanagerSpec": {
                "secrets": list(alertmanager_secrets),
                "securityContext": dict(_NON_ROOT),
                "resources": ALERTMANAGER_RESOURCES.values(),
            },
        },
        "grafana": {
            "admin": {
                "existingSecret": grafana_admin_secret,
                "userKey": GRAFANA_USER_KEY,
                "passwordKey": GRAFANA_PASSWORD_KEY,
            },
            # The chart's dashboards and datasource live in the release's namespace: its sidecars get
            # a Role there, not the ClusterRole that reads every Secret of the cluster (the chart's
            # default, with kube-prometheus-stack's dashboard search in ALL namespaces; null unsets it).
            "rbac": {"namespaced": True},
            "sidecar": {"dashboards": {"searchNamespace": None}},
        },
    }
    if host_discovery is not None:
        prometheus: dict[str, Any] = values["prometheus"]
        # The role's trust names this service account: name it rather than rely on the chart's default.
        prometheus["serviceAccount"] = {
            "name": PROMETHEUS_SERVICE_ACCOUNT,
            "annotations": {IRSA_ANNOTATION: host_discovery.role_arn},
        }
        prometheus["prometheusSpec"]["additionalScrapeConfigs"] = [host_scrape_config(host_discovery)]
    return values


def crd_upgrade_job() -> dict[str, Any]:
    """Values of the chart's CRD upgrade job (`crds.upgradeJob`): a pre-install/pre-upgrade/pre-rollback
    hook with its own ServiceAccount, ClusterRole (the chart's CRDs only) and binding."""
    return {
        "enabled": True,
        # Take the CRDs' fields over from whoever applied them (Helm at install): without it a
        # changed schema conflicts and the job fails.
        "forceConflicts": True,
        "image": {"busybox": {"tag": CRD_UPGRADE_BUSYBOX_TAG}},
        "resources": CRD_UPGRADE_RESOURCES,
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "runAsGroup": 65534,
            "fsGroup": 65534,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containerSecurityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def service_monitor_spec(app_name: str, app_namespace: str) -> dict[str, Any]:
    """Scrape the app's Services labelled app.kubernetes.io/name=<app_name> on their `metrics` port."""
    return {
        "selector": {"matchLabels": {"app.kubernetes.io/name": app_name}},
        "namespaceSelector": {"matchNames": [app_namespace]},
        "endpoints": [{"port": APP_METRICS_PORT, "path": APP_METRICS_PATH, "interval": APP_SCRAPE_INTERVAL}],
    }


# --- component --------------------------------------------------------------------------------------


@documented
@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: production refuses missing page/heartbeat receivers and null routes, and protects
    the namespace and release. Default: production."""
    namespace: str = MONITORING_NAMESPACE
    """Namespace made for the stack. Default: monitoring."""
    release_name: str = RELEASE_NAME
    """Helm release name; the chart names its cluster-wide objects (roles, webhooks) after it, so two
    releases on one cluster need two names. Default: kube-prometheus-stack."""
    chart_version: str = CHART_VERSION
    """Exact kube-prometheus-stack release. Default: the pinned CHART_VERSION."""
    prometheus_retention: str = "31d"
    """How long Prometheus keeps samples; at least the longest SLO period (refused otherwise). Default: 31d."""
    prometheus_retention_size: str = "72GB"
    """Size cap on the retained blocks (base 2 units), at most 90% of the volume; past it the oldest blocks
    go, so size it to hold the retention. Default: 72GB."""
    prometheus_volume_gb: int = 80
    """Prometheus volume, GiB. Growing it is an in-place expansion (the class must allow it): the claim
    is patched, since the operator never resizes claims. Never smaller than `applied_volume_gb`. Default: 80."""
    applied_volume_gb: int | None = None
    """Size in GiB of the Prometheus volume as it is now (read with `hardstack.aws.volumes.claim_volume_gb`
    before any resource). With it the claim's size is patched to `prometheus_volume_gb` and the
    retention size stays within the applied size until a later `up` reads the grown volume. Default:
    none, no volume yet (a first `up`): the claim is made at `prometheus_volume_gb`."""
    storage_class_name: str | None = DEFAULT_STORAGE_CLASS
    """StorageClass of the Prometheus volume; it must exist before the release (pass the class in
    `depends_on`) and allow volume expansion to grow it. Default: PlatformBaseline's encrypted gp3 class
    (`gp3-encrypted`: stock EKS has no gp3 class, and no default class from 1.30); None takes the
    cluster's default class."""
    receivers: Sequence[Receiver] = ()
    """Alertmanager receivers. Default: none (outside prod, alerts then go to a null receiver)."""
    receiver_secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Secret values (pulumi secrets) written to the `alertmanager-receivers` Secret, by key, for
    `SecretRef(key)`. Default: none, and no Secret is made."""
    page_receivers: Sequence[str] = ()
    """Receivers of severity=page. Default: none; at least one is required in prod."""
    ticket_receivers: Sequence[str] = ()
    """Receivers of severity=ticket. Default: none (tickets then reach the default receiver)."""
    heartbeat_receiver: str | None = None
    """Receiver pinged by the Watchdog every minute. Default: none (null outside prod); required in prod."""
    severity_aliases: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_ALIASES))
    """Other severities routed as page/ticket. Default: the chart's critical -> page, warning -> ticket."""
    slos: Sequence[SLO] = ()
    """SLOs compiled into one PrometheusRule. Default: none, no rule."""
    app_name: str | None = None
    """app.kubernetes.io/name of the app's Service to scrape. Default: none, no ServiceMonitor."""
    app_namespace: str = "default"
    """Namespace of the app's Service. Default: default."""
    node_exporter: bool = True
    """Run node-exporter (needs a `privileged` namespace). Default: on; off enforces `baseline`."""
    own_namespaces_only: bool = False
    """Load ServiceMonitors, PodMonitors, Probes, ScrapeConfigs and PrometheusRules from `namespace`
    and `app_namespace` only, for a cluster other stacks share (theirs are not this Prometheus's to
    scrape or alert on). Default: off, every namespace (a cluster this stack owns)."""
    host_discovery: HostDiscovery | None = None
    """EC2 hosts to discover by tag and scrape on node_exporter's port, with the IAM role of the
    Prometheus service account, and their alerts (HostDown, disk, memory). Default: none."""
    secret_values: bool = False
    """The receivers came from secret config (a heartbeat URL carrying its token): the release's values
    are kept secret in the state and in previews. Default: off."""
    timeout_seconds: int = 900
    """Helm install/upgrade timeout; a failed install is rolled back (atomic). Default: 900."""
    protect: bool | None = None
    """Protect the namespace (it holds the Prometheus volume) and the release; retain the namespace on
    delete. Default: inherit the options given to the component; forced on in production."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier", parse_tier(self.tier))  # a tier given by name is stored as a Tier
        resolve_protect(self.tier, self.protect)
        validate_name(self.namespace, "namespace")
        validate_name(self.release_name, "release_name")
        validate_chart_version(self.chart_version)
        validate_prometheus_duration(self.prometheus_retention)
        validate_volume_gb(self.prometheus_volume_gb)
        validate_retention_size(self.prometheus_retention_size, self.prometheus_volume_gb)
        if self.applied_volume_gb is not None:
            validate_volume_gb(self.applied_volume_gb, "applied_volume_gb")
        validate_volume_growth(self.applied_volume_gb, self.prometheus_volume_gb)
        if self.storage_class_name is not None:
            validate_name(self.storage_class_name, "storage_class_name")
        if self.app_name is not None and not _LABEL_VALUE.match(self.app_name):
            raise refuse("app_name", self.app_name, "a label value: letters, digits, '-', '_' or '.'")
        validate_name(self.app_namespace, "app_namespace")
        if isinstance(self.timeout_seconds, bool) or not 60 <= self.timeout_seconds <= 3600:
            raise refuse("timeout_seconds", self.timeout_seconds, "60 to 3600 seconds")
        for key in self.receiver_secrets:
            SecretRef(key)
        for r in self.receivers:
            ref = r.secret_ref
            if ref is not None and ref.secret == RECEIVER_SECRET and ref.key not in self.receiver_secrets:
                raise refuse(
                    f"receiver {r.name!r} secret_ref",
                    ref.key,
                    f"a key of receiver_secrets ({', '.join(sorted(self.receiver_secrets)) or 'none given'})",
                )
        self.alertmanager_config()
        compile_rules(self.slos)  # refuses duplicate SLOs before anything is registered
        if self.slos:
            validate_retention_holds(self.prometheus_retention, max(slo.period_days for slo in self.slos))

    def alertmanager_config(self) -> dict[str, Any]:
        return alertmanager_config(
            tier=self.tier,
            receivers=self.receivers,
            page_receivers=self.page_receivers,
            ticket_receivers=self.ticket_receivers,
            heartbeat_receiver=self.heartbeat_receiver,
            severity_aliases=self.severity_aliases,
        )

    def helm_values(self) -> dict[str, Any]:
        return helm_values(
            retention=self.prometheus_retention,
            retention_size=retention_size_now(
                self.prometheus_retention_size, self.prometheus_volume_gb, self.applied_volume_gb
            ),
            volume_gb=self.prometheus_volume_gb,
            storage_class_name=self.storage_class_name,
            alertmanager=self.alertmanager_config(),
            alertmanager_secrets=alertmanager_secret_names(self.receivers),
            node_exporter=self.node_exporter,
            host_discovery=self.host_discovery,
            watched_namespaces=(self.namespace, self.app_namespace) if self.own_namespaces_only else None,
        )


class Monitoring(Component):
    """kube-prometheus-stack on the cluster of the Kubernetes provider passed in `opts`."""

    namespace: pulumi.Output[str]
    release_status: pulumi.Output[Any]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hardstack:monitoring:KubernetesMonitoring", name, opts)
        child = self.child()
        labels = {"app.kubernetes.io/part-of": "hardstack", "app.kubernetes.io/managed-by": "pulumi"}

        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.namespace, labels=namespace_labels(args.node_exporter)),
            opts=self.kept(resolve_protect(args.tier, args.protect)),
        )
        namespace = ns.metadata.apply(lambda m: m.name)

        password = random.RandomPassword(
            f"{name}-grafana-password",
            length=GRAFANA_PASSWORD_LENGTH,
            special=True,
            override_special="!#%*()-_=+[]{}:?",
            min_lower=2,
            min_upper=2,
            min_numeric=2,
            min_special=2,
            opts=child,
        )
        grafana = k8s.core.v1.Secret(
            f"{name}-grafana-admin",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=GRAFANA_SECRET, namespace=namespace, labels=labels),
            type="Opaque",
            string_data={GRAFANA_USER_KEY: "admin", GRAFANA_PASSWORD_KEY: pulumi.Output.secret(password.result)},
            opts=child,
        )
        secrets: list[pulumi.Resource] = [grafana]
        if args.receiver_secrets:
            secrets.append(
                k8s.core.v1.Secret(
                    f"{name}-alertmanager-receivers",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=RECEIVER_SECRET, namespace=namespace, labels=labels),
                    type="Opaque",
                    string_data={k: pulumi.Output.secret(v) for k, v in sorted(args.receiver_secrets.items())},
                    opts=child,
                )
            )

        release = k8s.helm.v3.Release(
            name,
            chart=CHART,
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPO),
            name=args.release_name,
            namespace=namespace,
            values=pulumi.Output.secret(args.helm_values()) if args.secret_values else args.helm_values(),
            atomic=True,
            cleanup_on_fail=True,
            timeout=args.timeout_seconds,
            max_history=10,
            opts=self.child(depends_on=secrets, protect=resolve_protect(args.tier, args.protect)),
        )
        # The CRDs come with the release: custom resources wait for it.
        after_release = self.child(depends_on=[release])

        if args.applied_volume_gb is not None:
            # StatefulSet claim templates are immutable and the operator never resizes claims: the
            # claim itself is grown (the class allows expansion), after the release moved the template.
            k8s.core.v1.PersistentVolumeClaimPatch(
                f"{name}-prometheus-volume",
                metadata=k8s.meta.v1.ObjectMetaPatchArgs(
                    name=prometheus_claim(args.release_name),
                    namespace=namespace,
                    annotations={
                        "pulumi.com/patchFieldManager": VOLUME_FIELD_MANAGER,
                        # The StatefulSet controller set the size when it made the claim.
                        "pulumi.com/patchForce": "true",
                    },
                ),
                spec=k8s.core.v1.PersistentVolumeClaimSpecPatchArgs(
                    resources=k8s.core.v1.VolumeResourceRequirementsPatchArgs(
                        requests={"storage": f"{args.prometheus_volume_gb}Gi"}
                    )
                ),
                # Deleting a patch gives its fields up and they reset; a claim's size cannot: leave it be.
                opts=self.child(depends_on=[release], retain_on_delete=True),
            )

        if args.app_name is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-app-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=args.app_name, namespace=namespace, labels=labels),
                spec=service_monitor_spec(args.app_name, args.app_namespace),
                opts=after_release,
            )
        if args.slos:
            k8s.apiextensions.CustomResource(
                f"{name}-slo-rules",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="slo-rules", namespace=namespace, labels=labels),
                spec=compile_rules(args.slos),
                opts=after_release,
            )
        if args.host_discovery is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-host-rules",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=k8s.meta.v1.ObjectMetaArgs(name="host-rules", namespace=namespace, labels=labels),
                spec=host_rules(),
                opts=after_release,
            )

        self.namespace = namespace
        self.release_status = release.status
        self.register_outputs({"namespace": self.namespace, "release_status": self.release_status})
