"""A hardened web workload on any conformant cluster, with its own migration, scaling and network rules.

Creates in the app's namespace: k8s.core.v1.ServiceAccount (no token mounted; with a database login,
annotated with its IRSA role, and one more for the migration's own login),
k8s.batch.v1.Job (the migration, when there is one, run to completion before the rollout),
k8s.apps.v1.Deployment (non-root, read-only root, no capabilities, RuntimeDefault seccomp, zero
downtime rolling updates, spread across zones), k8s.core.v1.Service (ports `http` and `metrics`),
k8s.networking.v1.Ingress, k8s.autoscaling.v2.HorizontalPodAutoscaler (CPU),
k8s.policy.v1.PodDisruptionBudget and k8s.networking.v1.NetworkPolicy per allowed flow (http from
the ingress controller, or from the load balancer's subnets with `load_balancer`, metrics from
monitoring, DNS, the database CIDRs).

With `load_balancer` (an `AlbIngress`), the Ingress has class `alb` and the annotations the AWS Load
Balancer Controller reads: an internet-facing ALB sending to the pods' IPs, HTTPS with the given ACM
certificate and HTTP redirected to it. Create the App after the controller's release: its admission
webhook must answer for the Ingress to be accepted, and on destroy the Ingress must go first so the
controller deletes the ALB it made.

The caller passes the Kubernetes provider through `opts` (ResourceOptions(provider=...)); nothing
here creates or reaches for a cluster. The namespace is expected to exist (see PlatformBaseline).

Migrations: Pulumi's Kubernetes provider waits for a Job to complete and fails the update when the
Job reports the `Failed` condition (the provider's documented await logic for batch/v1 Job; it is
skipped only by the `pulumi.com/skipAwait` annotation, which is never set here). The Deployment
depends on the Job, so a failed migration stops the release before any pod runs the new image.
The Job keeps no `ttlSecondsAfterFinished`, so the provider can still read it after it finishes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pulumi
import pulumi_kubernetes as k8s

from hardstack.base.component import Component
from hardstack.core.certificates import validate_certificate_arn
from hardstack.core.database_roles import validate_role_name
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.rules import Flow
from hardstack.core.tier import Tier, parse_tier
from hardstack.k8s.platform import NAMESPACE_NAME_LABEL, dns_egress_rule, validate_dns_label, validate_dns_subdomain

#: Default workload: podinfo, a small public web app that serves Prometheus metrics on its own port. It
#: runs as any non-root user (its image sets none that we rely on), so the pods' high UID suits it.
DEFAULT_IMAGE = (
    "ghcr.io/stefanprodan/podinfo:6.9.2@sha256:2ff7e09117596b13739e85bde01c8a33d56265013518910ab681df0fbea13b54"
)
PODINFO_REPOSITORY = "ghcr.io/stefanprodan/podinfo"
#: The monitoring contract: ServiceMonitors select `NAME_LABEL: <app name>` and scrape this port name.
METRICS_PORT_NAME = "metrics"
HTTP_PORT_NAME = "http"
NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
COMPONENT_LABEL = "app.kubernetes.io/component"
PART_OF = "hardstack"
#: Non-root user and group the containers run as (above the range base images use for their users).
RUN_AS_ID = 10001
#: Lowest user id the pods may run as: ids below belong to users images and hosts define.
MIN_RUN_AS_ID = 10000
#: Where `secret_files` is mounted, read-only.
SECRET_FILES_PATH = "/var/run/secrets/app"  # noqa: S105 - a mount path, not a secret
#: The IRSA annotation the EKS pod identity webhook reads: it projects a token file for this role.
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
SSL_MODES = ("require", "verify-ca", "verify-full")
ZONE_KEY = "topology.kubernetes.io/zone"
HOST_KEY = "kubernetes.io/hostname"
#: The AWS Load Balancer Controller associates the web ACL this names with the Ingress's ALB.
WAF_ACL_ANNOTATION = "alb.ingress.kubernetes.io/wafv2-acl-arn"
#: Longest app name that leaves room for `-migrate-<8 hex>` in a 63-character Job name.
MAX_NAME = 40

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*$")
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
#: TLS 1.3 and 1.2 only, as the fleet's ALB listener.
ALB_SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ALB_ANNOTATION = "alb.ingress.kubernetes.io"
_HTTP_PATH = re.compile(r"^/[A-Za-z0-9._~/-]{0,255}$")
_QUANTITY = re.compile(
    r"^(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


# --- pure checks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str | None
    digest: str | None


def parse_image(value: str, where: str = "image") -> ImageRef:
    """Split `[registry/]repo[:tag][@sha256:<64 hex>]`; refuse anything else."""
    if not isinstance(value, str) or not value:
        raise refuse(where, value, "an image reference such as ghcr.io/org/app:1.2.3 or repo@sha256:<64 hex>")
    name, _, digest = value.partition("@")
    if digest and not _DIGEST.match(digest):
        raise refuse(where, value, "a digest written sha256:<64 lowercase hex>")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = name[colon + 1 :] if colon > slash else None
    repository = name[:colon] if tag is not None else name
    if tag is not None and not _TAG.match(tag):
        raise refuse(where, value, "a tag of letters, digits, '_', '.' or '-' (up to 128)")
    if not _REPOSITORY.match(repository):
        raise refuse(where, value, "a repository of lowercase path components, optionally behind a registry host")
    return ImageRef(repository, tag, digest or None)


def validate_image(value: str, tier: Tier, where: str = "image") -> ImageRef:
    """An image pinned by tag or digest, by digest in production; `latest` only in development."""
    ref = parse_image(value, where)
    if ref.tag is None and ref.digest is None:
        raise refuse(where, value, "a pinned image: add a version tag (repo:1.2.3) or a digest (repo@sha256:...)")
    if ref.digest is None and tier.is_production:
        raise refuse(
            where,
            value,
            f"an image pinned by digest in {tier} (repo:1.2.3@sha256:<64 hex>): a tag can be moved to other content",
        )
    if ref.tag == "latest" and ref.digest is None and tier is not Tier.DEVELOPMENT:
        raise refuse(where, value, f"a version tag or digest in {tier}: 'latest' moves under a running release")
    return ref


def parse_quantity(value: str, where: str) -> Decimal:
    """A Kubernetes resource quantity (`100m`, `0.5`, `128Mi`, `1e3`) as a number; refuse others and zero."""
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if match is None:
        raise refuse(where, value, "a Kubernetes quantity such as 250m or 0.5 (CPU), 128Mi or 1Gi (memory)")
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        amount = number * (Decimal(1024) ** _BINARY[suffix])
    elif suffix in _DECIMAL:
        amount = number.scaleb(_DECIMAL[suffix])
    elif suffix:
        amount = number.scaleb(int(suffix[1:]))
    else:
        amount = number
    if amount <= 0:
        raise refuse(where, value, "a quantity above zero")
    return amount


def validate_replicas(replicas: int, tier: Tier, where: str = "replicas") -> int:
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise refuse(where, replicas, "a whole number, 1 or more")
    if tier.is_production and replicas < 2:
        raise refuse(where, replicas, "2 or more in production, so one pod can be drained or fail without an outage")
    return replicas


def validate_autoscaling_max(max_replicas: int, replicas: int, where: str = "hpa_max_replicas") -> int:
    """The autoscaler's maximum: a whole number no smaller than its minimum (`replicas`)."""
    if isinstance(max_replicas, bool) or not isinstance(max_replicas, int):
        raise refuse(where, max_replicas, "a whole number")
    if max_replicas < replicas:
        raise refuse(where, max_replicas, f"at least replicas ({replicas}), the autoscaler's minimum")
    return max_replicas


def validate_port(value: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise refuse(where, value, "a port from 1 to 65535")
    return value


def validate_host(host: str, where: str = "host") -> str:
    """The Ingress host: a lowercase DNS name (Kubernetes refuses anything else), `*.` allowed first."""
    labels = host.split(".") if isinstance(host, str) else []
    numeric = bool(labels) and all(label.isdigit() for label in labels)  # an IP address: no Ingress host
    if not isinstance(host, str) or len(host) > 253 or not _HOST.match(host) or numeric:
        raise refuse(where, host, "a lowercase DNS name such as app.example.com (not an IP address)")
    if any(len(label) > 63 for label in labels):
        raise refuse(where, host, "a DNS name whose labels (between dots) have 63 characters at most")
    return host


def validate_cidrs(cidrs: Sequence[str], where: str = "database_cidrs") -> list[str]:
    if isinstance(cidrs, str):
        raise refuse(where, cidrs, "a list of CIDR blocks")
    for cidr in cidrs:
        try:
            net = ipaddress.ip_network(cidr, strict=True)
        except (TypeError, ValueError):
            raise refuse(where, cidr, "a network CIDR such as 10.0.32.0/20 (host bits zero)") from None
        if net.prefixlen == 0:
            raise refuse(where, cidr, "the database subnets, never the whole address space")
    return list(cidrs)


def migration_suffix(image: str, command: Sequence[str]) -> str:
    """8 hex characters that change whenever the migration's image or command does."""
    return hashlib.sha256(json.dumps([image, list(command)]).encode()).hexdigest()[:8]


def podinfo_command(container_port: int, metrics_port: int) -> list[str]:
    """podinfo serves metrics only when given a metrics port (its default is none)."""
    return ["./podinfo", f"--port={container_port}", f"--port-metrics={metrics_port}", "--level=info"]


# --- args -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Resources:
    """Requests and limits for each container, as Kubernetes quantities."""

    cpu_request: str = "100m"
    """Default: 100m."""
    cpu_limit: str = "500m"
    """Default: 500m."""
    memory_request: str = "128Mi"
    """Default: 128Mi."""
    memory_limit: str = "256Mi"
    """Default: 256Mi."""

    def __post_init__(self) -> None:
        for kind in ("cpu", "memory"):
            request = parse_quantity(getattr(self, f"{kind}_request"), f"resources.{kind}_request")
            limit = parse_quantity(getattr(self, f"{kind}_limit"), f"resources.{kind}_limit")
            if request > limit:
                raise refuse(
                    f"resources.{kind}_request",
                    getattr(self, f"{kind}_request"),
                    f"at most the limit ({getattr(self, f'{kind}_limit')})",
                )

    def args(self) -> k8s.core.v1.ResourceRequirementsArgs:
        return k8s.core.v1.ResourceRequirementsArgs(**self.values())

    def values(self) -> dict[str, dict[str, str]]:
        """As a chart's `resources` value takes them."""
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"cpu": self.cpu_limit, "memory": self.memory_limit},
        }


@documented
@dataclass(frozen=True, kw_only=True)
class DatabaseLogin:
    """How pods reach PostgreSQL with IAM authentication: no password anywhere.

    The pods' service account is annotated with `role_arn` (IRSA); the EKS pod identity webhook
    projects a web identity token file, from which the AWS SDK makes the short-lived database token
    (`rds generate-db-auth-token`). The pods get the non-secret libpq variables PGHOST, PGPORT,
    PGDATABASE, PGUSER and PGSSLMODE.
    """

    host: pulumi.Input[str]
    """Database host (`Database.address`)."""
    port: pulumi.Input[int]
    """Database port (`Database.port`)."""
    database: str
    """Database name."""
    user: str
    """PostgreSQL login, granted `rds_iam`."""
    role_arn: pulumi.Input[str]
    """IAM role allowed `rds-db:connect` as `user` (see `hardstack.aws.database_access`)."""
    sslmode: str = "require"
    """libpq sslmode. Default: require (the server accepts TLS only); verify-full needs the RDS CA bundle."""

    def __post_init__(self) -> None:
        if self.sslmode not in SSL_MODES:
            raise refuse("database.sslmode", self.sslmode, f"one of {', '.join(SSL_MODES)}")
        for where in ("database", "user"):
            validate_role_name(getattr(self, where), f"database.{where}")

    def env(self) -> list[k8s.core.v1.EnvVarArgs]:
        values: dict[str, pulumi.Input[str]] = {
            "PGHOST": self.host,
            "PGPORT": pulumi.Output.from_input(self.port).apply(str),
            "PGDATABASE": self.database,
            "PGUSER": self.user,
            "PGSSLMODE": self.sslmode,
        }
        return [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in values.items()]


@documented
@dataclass(frozen=True, kw_only=True)
class MigrationSpec:
    """A one-off command run to completion before each release's rollout (schema migrations)."""

    image: str
    """Image holding the migration tool; pinned like the app's image."""
    command: Sequence[str]
    """Command and arguments, e.g. ["./migrate", "up"]."""
    database: DatabaseLogin | None = None
    """The migration's own login (it owns the schema), on its own service account. Default: none."""

    def __post_init__(self) -> None:
        if isinstance(self.command, str) or not self.command or not all(isinstance(c, str) for c in self.command):
            raise refuse("migration.command", self.command, 'a non-empty list of strings, e.g. ["./migrate", "up"]')


@documented
@dataclass(frozen=True, kw_only=True)
class AlbIngress:
    """Publish the app through an internet-facing ALB that the AWS Load Balancer Controller makes for
    its Ingress (class `alb`), sending straight to the pods' IPs (target type ip)."""

    source_cidrs: Sequence[str]
    """Where the ALB connects to the pods from: the CIDRs of the public subnets it sits in. The app's
    NetworkPolicy admits exactly these on the http port. Required."""
    certificate_arn: str | None = None
    """ACM certificate of the HTTPS listener; plain HTTP then redirects to HTTPS. Default: none, HTTP
    only, refused outside development."""

    def __post_init__(self) -> None:
        if isinstance(self.source_cidrs, str) or not self.source_cidrs:
            raise refuse(
                "load_balancer.source_cidrs",
                self.source_cidrs,
                "the CIDRs of the load balancer's public subnets: with target type ip the ALB connects from there",
            )
        validate_cidrs(self.source_cidrs, "load_balancer.source_cidrs")
        if self.certificate_arn is not None:
            validate_certificate_arn(self.certificate_arn, "load_balancer.certificate_arn")

    def annotations(self, health_path: str, tier: Tier) -> dict[str, str]:
        """What the controller reads on the Ingress."""
        values = {
            "scheme": "internet-facing",
            # Straight to the pods: the NetworkPolicy admits the ALB's subnets, not the nodes'.
            "target-type": "ip",
            "healthcheck-path": health_path,
        }
        if self.certificate_arn is None:
            values["listen-ports"] = json.dumps([{"HTTP": 80}])
        else:
            values |= {
                "listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}]),
                "ssl-redirect": "443",
                "certificate-arn": self.certificate_arn,
                "ssl-policy": ALB_SSL_POLICY,
            }
        # As the fleet's ALB: malformed headers dropped, request smuggling mitigated.
        attributes = [
            "routing.http.drop_invalid_header_fields.enabled=true",
            "routing.http.desync_mitigation_mode=defensive",
        ]
        if tier.is_production:  # the site's front door is not deleted by a stray Ingress change
            attributes.append("deletion_protection.enabled=true")
        values["load-balancer-attributes"] = ",".join(attributes)
        return {f"{ALB_ANNOTATION}/{key}": value for key, value in values.items()}


@documented
@dataclass(frozen=True, kw_only=True)
class AppArgs:
    namespace: str | k8s.core.v1.Namespace
    """Namespace the app runs in: its name (created beforehand, e.g. by PlatformBaseline) or the Namespace
    resource itself, which the app then waits for. Required."""
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: production requires 2+ replicas; staging and production refuse `latest`.
    Default: production."""
    image: str = DEFAULT_IMAGE
    """Container image, pinned by tag or digest. Default: DEFAULT_IMAGE (podinfo)."""
    command: Sequence[str] | None = None
    """Container command. Default: podinfo's flags for podinfo images, else the image's own."""
    replicas: int = 2
    """Pods at rest: the autoscaler's minimum (the Deployment leaves the count to it). Default: 2."""
    container_port: int = 9898
    """Port the app serves HTTP on, named `http`. Default: 9898 (podinfo)."""
    metrics_port: int = 9797
    """Port the app serves Prometheus metrics on, named `metrics`. Default: 9797 (podinfo)."""
    readiness_path: str = "/readyz"
    """HTTP path of the readiness probe. Default: /readyz (podinfo)."""
    liveness_path: str = "/healthz"
    """HTTP path of the liveness probe. Default: /healthz (podinfo)."""
    resources: Resources = field(default_factory=Resources)
    """Requests and limits. Default: cpu 100m/500m, memory 128Mi/256Mi."""
    ingress_class: str | None = None
    """IngressClass that serves the app. Default: `alb` with `load_balancer`, else nginx."""
    load_balancer: AlbIngress | None = None
    """Serve the Ingress with an ALB of the AWS Load Balancer Controller (see `AlbIngress`). Default:
    none, the controller of `ingress_class`, reached from `ingress_namespace`."""
    host: str | None = None
    """Host name the Ingress answers for. Default: none, any host."""
    tls_secret_name: str | None = None
    """Secret holding the host's certificate. Default: none, TLS ends in front of the ingress controller."""
    hpa_max_replicas: int = 6
    """Most pods the autoscaler may run; at least `replicas`. Default: 6."""
    hpa_cpu_target: int = 70
    """Average CPU use, in percent of requests, the autoscaler aims for (1..100). Default: 70."""
    pdb_min_available: int | None = None
    """Pods that voluntary evictions must leave running; below `replicas`. Default: none, see max."""
    pdb_max_unavailable: int | None = None
    """Pods voluntary evictions may take at once. Default: 1 (when pdb_min_available is not set)."""
    secret_files: str | None = None
    """Secret mounted read-only as files under SECRET_FILES_PATH (never as environment variables, which
    leak into crash dumps and child processes). Default: none."""
    database: DatabaseLogin | None = None
    """The app's database login through IAM authentication (its service account gets the role).
    Default: none."""
    role_arn: pulumi.Input[str] | None = None
    """IAM role of the app's service account (IRSA) when no database login brings one, e.g. for its
    bucket. Default: none (the database login's role, if any)."""
    needs_service_account_token: bool = False
    """Mount the service account token into pods (only for apps that call the Kubernetes API). Default: off."""
    migration: MigrationSpec | None = None
    """Migration run as a Job before the rollout. Default: none."""
    ingress_namespace: str = "ingress-nginx"
    """Namespace of the ingress controller, the only source allowed to the http port. Default: ingress-nginx."""
    monitoring_namespace: str = "monitoring"
    """Namespace of Prometheus, the only source allowed to the metrics port. Default: monitoring."""
    database_cidrs: Sequence[str] = ()
    """CIDRs of the database subnets the app may reach on `database_port`. Default: none."""
    database_port: int = 5432
    """Database port. Default: 5432 (PostgreSQL)."""
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Extra plain environment variables of the app and migration containers, strings or outputs such as
    a bucket's name (no secrets: use `secret_files`). Default: none."""
    labels: Mapping[str, str] = field(default_factory=dict)
    """Extra labels on every object and pod (e.g. team, cost centre). Default: none."""
    egress: Sequence[Flow] = ()
    """Extra outbound flows of the app's pods to CIDR peers (`Flow(Port.tcp(443), Peer.cidr(...), why)`),
    each its own NetworkPolicy keyed by what it allows. Default: none beyond DNS and the database."""
    run_as_id: int = RUN_AS_ID
    """User, group and fsGroup id the pods run as, 10000 or more (the fsGroup lets a non-root container
    read the projected IRSA token). Default: 10001."""
    waf_acl_arn: pulumi.Input[str] | None = None
    """WAFv2 web ACL the AWS Load Balancer Controller associates with the Ingress's ALB (annotation
    `alb.ingress.kubernetes.io/wafv2-acl-arn`; other controllers ignore it). Default: none."""

    def __post_init__(self) -> None:
        tier = parse_tier(self.tier)
        object.__setattr__(self, "tier", tier)  # a tier given by name is stored as a Tier
        if isinstance(self.namespace, str):
            validate_dns_label(self.namespace, "namespace")
        elif not isinstance(self.namespace, k8s.core.v1.Namespace):
            raise refuse("namespace", self.namespace, "a namespace name or a kubernetes.core.v1.Namespace")
        if self.database is not None and self.role_arn is not None:
            raise refuse("role_arn", self.role_arn, "none with `database`: its login's role is the pods' one role")
        for key in self.env:
            if not isinstance(key, str) or not _ENV_NAME.match(key):
                raise refuse("env key", key, "a C identifier such as LOG_LEVEL")
            if not isinstance(self.env[key], str | pulumi.Output):
                raise refuse(f"env[{key}]", f"<{type(self.env[key]).__name__}>", "a string or a pulumi.Output of one")
        for key, value in self.labels.items():
            if not isinstance(key, str) or not _LABEL_KEY.match(key) or key.startswith("app.kubernetes.io/"):
                raise refuse("labels key", key, "a label key such as team or example.com/team (not app.kubernetes.io/)")
            if not isinstance(value, str) or not _LABEL_VALUE.match(value):
                raise refuse(f"labels[{key}]", value, "a label value: up to 63 letters, digits, '-', '_' or '.'")
        for i, flow in enumerate(self.egress):
            if not isinstance(flow, Flow) or flow.peer.kind != "cidr" or flow.port.protocol not in ("tcp", "udp"):
                raise refuse(
                    f"egress[{i}]", flow, "a Flow to a CIDR peer over TCP or UDP (NetworkPolicies know no groups)"
                )
        validate_image(self.image, tier)
        if self.command is not None and (isinstance(self.command, str) or not self.command):
            raise refuse("command", self.command, "a non-empty list of strings, or None for the image's own")
        validate_replicas(self.replicas, tier)
        validate_port(self.container_port, "container_port")
        validate_port(self.metrics_port, "metrics_port")
        if self.metrics_port == self.container_port:
            raise refuse("metrics_port", self.metrics_port, f"a port other than container_port ({self.container_port})")
        for where in ("readiness_path", "liveness_path"):
            if not _HTTP_PATH.match(getattr(self, where)):
                raise refuse(where, getattr(self, where), "an absolute URL path such as /healthz")
        if self.ingress_class is not None:
            validate_dns_subdomain(self.ingress_class, "ingress_class")
        self._check_load_balancer(tier)
        if self.host is not None:
            validate_host(self.host)
        if self.tls_secret_name is not None:
            validate_dns_subdomain(self.tls_secret_name, "tls_secret_name")
            if self.host is None:
                raise refuse("tls_secret_name", self.tls_secret_name, "set only together with host")
        self._check_scaling()
        if self.secret_files is not None:
            validate_dns_subdomain(self.secret_files, "secret_files")
        if self.migration is not None:
            validate_image(self.migration.image, tier, "migration.image")
        validate_dns_label(self.ingress_namespace, "ingress_namespace")
        validate_dns_label(self.monitoring_namespace, "monitoring_namespace")
        validate_cidrs(self.database_cidrs)
        validate_port(self.database_port, "database_port")
        if isinstance(self.run_as_id, bool) or not isinstance(self.run_as_id, int) or self.run_as_id < MIN_RUN_AS_ID:
            raise refuse(
                "run_as_id", self.run_as_id, f"a user id of {MIN_RUN_AS_ID} or more, above image and host users"
            )

    def _check_load_balancer(self, tier: Tier) -> None:
        alb = self.load_balancer
        if alb is None:
            return
        if not isinstance(alb, AlbIngress):
            raise refuse("load_balancer", alb, "an AlbIngress")
        if self.ingress_class not in (None, "alb"):
            raise refuse("ingress_class", self.ingress_class, "alb (or unset) with load_balancer")
        if self.tls_secret_name is not None:
            raise refuse(
                "tls_secret_name",
                self.tls_secret_name,
                "unset with load_balancer: TLS ends at the ALB (certificate_arn)",
            )
        if alb.certificate_arn is None and tier.serves_https_only:
            raise refuse(
                "load_balancer.certificate_arn",
                None,
                f"an ACM certificate ARN: a {tier} Ingress serves HTTPS (plain HTTP only in development)",
            )

    @property
    def resolved_ingress_class(self) -> str:
        if self.ingress_class is not None:
            return self.ingress_class
        return "alb" if self.load_balancer is not None else "nginx"

    def _check_scaling(self) -> None:
        validate_autoscaling_max(self.hpa_max_replicas, self.replicas)
        if isinstance(self.hpa_cpu_target, bool) or not isinstance(self.hpa_cpu_target, int):
            raise refuse("hpa_cpu_target", self.hpa_cpu_target, "a whole percentage from 1 to 100")
        if not 1 <= self.hpa_cpu_target <= 100:
            raise refuse("hpa_cpu_target", self.hpa_cpu_target, "a whole percentage from 1 to 100")
        if self.pdb_min_available is not None and self.pdb_max_unavailable is not None:
            raise refuse("pdb_max_unavailable", self.pdb_max_unavailable, "unset when pdb_min_available is set")
        if self.pdb_min_available is not None and not 0 <= self.pdb_min_available < self.replicas:
            raise refuse(
                "pdb_min_available",
                self.pdb_min_available,
                f"below replicas ({self.replicas}): otherwise no pod can ever be evicted and node drains hang",
            )
        if self.pdb_max_unavailable is not None and self.pdb_max_unavailable < 1:
            raise refuse("pdb_max_unavailable", self.pdb_max_unavailable, "1 or more, so node drains can proceed")

    def container_command(self) -> list[str] | None:
        if self.command is not None:
            return list(self.command)
        if parse_image(self.image).repository == PODINFO_REPOSITORY:
            return podinfo_command(self.container_port, self.metrics_port)
        return None


def validate_app_name(name: str) -> str:
    """A DNS-1035 label short enough for the derived Job name: the Service takes the app's name."""
    if not isinstance(name, str) or len(name) > MAX_NAME or not _DNS_1035.match(name):
        raise refuse("name", name, f"a lowercase name starting with a letter, letters/digits/'-', up to {MAX_NAME}")
    return name


# --- pod building blocks ----------------------------------------------------------------------


def pod_security_context(run_as_id: int = RUN_AS_ID) -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=run_as_id,
        run_as_group=run_as_id,
        fs_group=run_as_id,
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security_context() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        run_as_non_root=True,
        privileged=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


#: The root filesystem is read-only; /tmp is the one writable place, in memory-backed scratch space.
TMP_VOLUME = "tmp"


def tmp_volume() -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(name=TMP_VOLUME, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="64Mi"))


def tmp_mount() -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name=TMP_VOLUME, mount_path="/tmp")  # noqa: S108 - an emptyDir, not host /tmp


def plain_env(env: Mapping[str, pulumi.Input[str]]) -> list[k8s.core.v1.EnvVarArgs] | None:
    return [k8s.core.v1.EnvVarArgs(name=k, value=v) for k, v in sorted(env.items())] or None


SECRET_VOLUME = "secret-files"  # noqa: S105 - a volume name, not a secret


def secret_volumes(secret: str | None) -> list[k8s.core.v1.VolumeArgs]:
    if secret is None:
        return []
    source = k8s.core.v1.SecretVolumeSourceArgs(secret_name=secret, optional=False, default_mode=0o440)
    return [k8s.core.v1.VolumeArgs(name=SECRET_VOLUME, secret=source)]


def secret_mounts(secret: str | None) -> list[k8s.core.v1.VolumeMountArgs]:
    if secret is None:
        return []
    return [k8s.core.v1.VolumeMountArgs(name=SECRET_VOLUME, mount_path=SECRET_FILES_PATH, read_only=True)]


def container_env(
    env: Mapping[str, pulumi.Input[str]], database: DatabaseLogin | None
) -> list[k8s.core.v1.EnvVarArgs] | None:
    """Plain variables, then the database's libpq variables (none of them secret)."""
    return [*(plain_env(env) or []), *(database.env() if database is not None else [])] or None


def image_pull_policy(image: str) -> str:
    """Re-check a tag on every start (tags can move); a digest cannot change, so the node's copy will do."""
    return "IfNotPresent" if parse_image(image).digest else "Always"


def http_probe(path: str, period: int) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=HTTP_PORT_NAME),
        period_seconds=period,
        timeout_seconds=2,
        failure_threshold=3,
    )


# --- component --------------------------------------------------------------------------------


class App(Component):
    """Deployment, Service, Ingress, autoscaler, disruption budget and network rules for one app."""

    service_name: pulumi.Output[str]
    namespace: pulumi.Output[str]
    migration_job_name: pulumi.Output[str] | None
    ingress_hostname: pulumi.Output[str | None]
    """The host name the Ingress is reached at (the ALB's DNS name); none until a controller serves it."""

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate_app_name(name)
        super().__init__("hardstack:kubernetes:App", name, opts)
        child = self.child()
        ns: pulumi.Input[str] = (
            args.namespace if isinstance(args.namespace, str) else args.namespace.metadata.apply(lambda m: m.name)
        )
        labels = {**args.labels, NAME_LABEL: name, PART_OF_LABEL: PART_OF}
        # The server selector names the component so migration pods never join the Service or the budget.
        server = {NAME_LABEL: name, COMPONENT_LABEL: "server"}

        def meta(
            object_name: str,
            extra: dict[str, str] | None = None,
            annotations: dict[str, pulumi.Input[str]] | None = None,
        ) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=object_name, namespace=ns, labels={**labels, **(extra or {})}, annotations=annotations
            )

        def service_account(
            account: str, database: DatabaseLogin | None, role_arn: pulumi.Input[str] | None = None
        ) -> pulumi.Output[str]:
            # IRSA: the webhook projects a token for the annotated role; the API token stays unmounted.
            role = database.role_arn if database is not None else role_arn
            annotations = {ROLE_ANNOTATION: role} if role is not None else None
            created = k8s.core.v1.ServiceAccount(
                account,
                metadata=meta(account, annotations=annotations),
                automount_service_account_token=False,
                opts=child,
            )
            account_name: pulumi.Output[str] = created.metadata.name
            return account_name

        account_name = service_account(name, args.database, args.role_arn)

        def pod_spec(
            container: k8s.core.v1.ContainerArgs, account: pulumi.Input[str] = account_name, **extra: object
        ) -> k8s.core.v1.PodSpecArgs:
            return k8s.core.v1.PodSpecArgs(
                service_account_name=account,
                automount_service_account_token=args.needs_service_account_token,
                enable_service_links=False,
                security_context=pod_security_context(args.run_as_id),
                containers=[container],
                volumes=[tmp_volume(), *secret_volumes(args.secret_files)],
                **extra,
            )

        # The namespace denies all traffic by default: pods started before their policies (the migration
        # Job) cannot reach DNS or the database and fail.
        policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}", metadata=meta(f"{name}-{policy_name}"), spec=spec, opts=child
            )
            for policy_name, spec in network_policies(name, args, server).items()
        ]
        rollout_after: list[pulumi.Resource] = []
        self.migration_job_name = None
        if args.migration is not None:
            # The migration logs in as its own user, so it runs as its own service account and role.
            migration_account = (
                service_account(f"{name}-migrate", args.migration.database)
                if args.migration.database is not None
                else account_name
            )
            job_name = f"{name}-migrate-{migration_suffix(args.migration.image, args.migration.command)}"
            job = k8s.batch.v1.Job(
                f"{name}-migrate",
                metadata=meta(job_name, {COMPONENT_LABEL: "migration"}),
                spec=k8s.batch.v1.JobSpecArgs(
                    backoff_limit=2,
                    active_deadline_seconds=600,  # within the provider's 10-minute wait for the Job
                    template=k8s.core.v1.PodTemplateSpecArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(labels={**labels, COMPONENT_LABEL: "migration"}),
                        spec=pod_spec(
                            k8s.core.v1.ContainerArgs(
                                name="migrate",
                                image=args.migration.image,
                                image_pull_policy=image_pull_policy(args.migration.image),
                                command=list(args.migration.command),
                                env=container_env(args.env, args.migration.database),
                                resources=args.resources.args(),
                                security_context=container_security_context(),
                                volume_mounts=[tmp_mount(), *secret_mounts(args.secret_files)],
                            ),
                            migration_account,
                            restart_policy="Never",
                        ),
                    ),
                ),
                # A Job's pod template is immutable: any other change replaces it under the same name.
                opts=pulumi.ResourceOptions.merge(
                    child, pulumi.ResourceOptions(delete_before_replace=True, depends_on=policies)
                ),
            )
            rollout_after.append(job)
            self.migration_job_name = job.metadata.name

        container = k8s.core.v1.ContainerArgs(
            name="app",
            image=args.image,
            image_pull_policy=image_pull_policy(args.image),
            command=args.container_command(),
            ports=[
                k8s.core.v1.ContainerPortArgs(name=HTTP_PORT_NAME, container_port=args.container_port, protocol="TCP"),
                k8s.core.v1.ContainerPortArgs(name=METRICS_PORT_NAME, container_port=args.metrics_port, protocol="TCP"),
            ],
            readiness_probe=http_probe(args.readiness_path, period=5),
            liveness_probe=http_probe(args.liveness_path, period=10),
            resources=args.resources.args(),
            security_context=container_security_context(),
            volume_mounts=[tmp_mount(), *secret_mounts(args.secret_files)],
            env=container_env(args.env, args.database),
            lifecycle=alb_drain() if args.load_balancer is not None else None,
        )
        spread = [
            k8s.core.v1.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key=key,
                # Prefer, not require: a single-zone or single-node cluster must still schedule.
                when_unsatisfiable="ScheduleAnyway",
                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=server),
                match_label_keys=["pod-template-hash"],
            )
            for key in (ZONE_KEY, HOST_KEY)
        ]
        deployment = k8s.apps.v1.Deployment(
            name,
            metadata=meta(name, {COMPONENT_LABEL: "server"}),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # No `replicas`: the autoscaler owns the count (min = args.replicas); setting it here
                # would scale the app back down on every update.
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=server),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1),
                ),
                revision_history_limit=5,
                progress_deadline_seconds=600,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels={**labels, COMPONENT_LABEL: "server"}),
                    spec=pod_spec(container, topology_spread_constraints=spread, termination_grace_period_seconds=30),
                ),
            ),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=rollout_after)),
        )
        service = k8s.core.v1.Service(
            name,
            metadata=meta(name),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=server,
                ports=[
                    k8s.core.v1.ServicePortArgs(
                        name=HTTP_PORT_NAME, port=80, target_port=HTTP_PORT_NAME, protocol="TCP"
                    ),
                    k8s.core.v1.ServicePortArgs(
                        name=METRICS_PORT_NAME, port=args.metrics_port, target_port=METRICS_PORT_NAME, protocol="TCP"
                    ),
                ],
            ),
            opts=child,
        )
        service_name = service.metadata.name
        ingress_meta = meta(name)
        annotations: dict[str, pulumi.Input[str]] = {}
        if args.load_balancer is not None:
            annotations.update(args.load_balancer.annotations(args.readiness_path, args.tier))
        if args.waf_acl_arn is not None:
            annotations[WAF_ACL_ANNOTATION] = args.waf_acl_arn
        if annotations:
            ingress_meta = k8s.meta.v1.ObjectMetaArgs(
                name=name, namespace=ns, labels={**labels}, annotations=annotations
            )
        ingress = k8s.networking.v1.Ingress(
            name,
            metadata=ingress_meta,
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=args.resolved_ingress_class,
                rules=[
                    k8s.networking.v1.IngressRuleArgs(
                        host=args.host,
                        http=k8s.networking.v1.HTTPIngressRuleValueArgs(
                            paths=[
                                k8s.networking.v1.HTTPIngressPathArgs(
                                    path="/",
                                    path_type="Prefix",
                                    backend=k8s.networking.v1.IngressBackendArgs(
                                        service=k8s.networking.v1.IngressServiceBackendArgs(
                                            name=service_name,
                                            port=k8s.networking.v1.ServiceBackendPortArgs(name=HTTP_PORT_NAME),
                                        )
                                    ),
                                )
                            ]
                        ),
                    )
                ],
                tls=(
                    [k8s.networking.v1.IngressTLSArgs(hosts=[args.host], secret_name=args.tls_secret_name)]
                    if args.tls_secret_name is not None
                    else None
                ),
            ),
            opts=child,
        )
        deployment_name = deployment.metadata.name
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            name,
            metadata=meta(name),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=deployment_name
                ),
                min_replicas=args.replicas,
                max_replicas=args.hpa_max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=args.hpa_cpu_target
                            ),
                        ),
                    )
                ],
            ),
            opts=child,
        )
        budget = (
            {"min_available": args.pdb_min_available}
            if args.pdb_min_available is not None
            else {"max_unavailable": args.pdb_max_unavailable if args.pdb_max_unavailable is not None else 1}
        )
        k8s.policy.v1.PodDisruptionBudget(
            name,
            metadata=meta(name),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=server),
                # Crash-looping pods must not block node drains.
                unhealthy_pod_eviction_policy="AlwaysAllow",
                **budget,
            ),
            opts=child,
        )
        self.service_name = service_name
        self.namespace = pulumi.Output.from_input(ns)
        # The provider waits for the Ingress to get its address: the ALB's DNS name, once the controller made it.
        self.ingress_hostname = ingress.status.apply(ingress_hostname)
        self.register_outputs(
            {"service_name": self.service_name, "namespace": self.namespace, "ingress_hostname": self.ingress_hostname}
        )


#: Seconds a stopping pod keeps serving: the ALB sends to a target until its deregistration lands.
ALB_DRAIN_SECONDS = 15


def alb_drain() -> k8s.core.v1.LifecycleArgs:
    """Sleep before SIGTERM (the kubelet's own sleep action: no shell in the image needed), so requests
    the ALB still sends while it deregisters the pod are served, not refused."""
    return k8s.core.v1.LifecycleArgs(
        pre_stop=k8s.core.v1.LifecycleHandlerArgs(sleep=k8s.core.v1.SleepActionArgs(seconds=ALB_DRAIN_SECONDS))
    )


def ingress_hostname(status: k8s.networking.v1.outputs.IngressStatus | None) -> str | None:
    """The first address of an Ingress's load balancer, by name (the ALB's DNS name)."""
    balancer = status.load_balancer if status is not None else None
    entries = (balancer.ingress if balancer is not None else None) or []
    return entries[0].hostname if entries else None


def network_policies(
    name: str, args: AppArgs, server: dict[str, str]
) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """One policy per allowed flow, keyed by what it allows (stable names: reordering renames nothing)."""

    def from_namespace(namespace: str) -> k8s.networking.v1.NetworkPolicyPeerArgs:
        return k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={NAMESPACE_NAME_LABEL: namespace})
        )

    def tcp(port: int) -> k8s.networking.v1.NetworkPolicyPortArgs:
        return k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port)

    servers = k8s.meta.v1.LabelSelectorArgs(match_labels=server)
    every_pod = k8s.meta.v1.LabelSelectorArgs(match_labels={NAME_LABEL: name})  # servers and migrations
    if args.load_balancer is not None:
        # Target type ip: the ALB's own addresses in its subnets are the source, not a namespace.
        http_name = "allow-http-from-load-balancer"
        http_from = [
            k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=c))
            for c in args.load_balancer.source_cidrs
        ]
    else:
        http_name, http_from = "allow-http-from-ingress", [from_namespace(args.ingress_namespace)]
    policies = {
        http_name: k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=servers,
            policy_types=["Ingress"],
            ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=http_from, ports=[tcp(args.container_port)])],
        ),
        "allow-metrics-from-monitoring": k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=servers,
            policy_types=["Ingress"],
            ingress=[
                k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                    from_=[from_namespace(args.monitoring_namespace)], ports=[tcp(args.metrics_port)]
                )
            ],
        ),
        "allow-dns": k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod, policy_types=["Egress"], egress=[dns_egress_rule()]
        ),
    }

    def egress(
        cidrs: Sequence[str], port: k8s.networking.v1.NetworkPolicyPortArgs
    ) -> k8s.networking.v1.NetworkPolicySpecArgs:
        peers = [k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=c)) for c in cidrs]
        return k8s.networking.v1.NetworkPolicySpecArgs(
            pod_selector=every_pod,
            policy_types=["Egress"],
            egress=[k8s.networking.v1.NetworkPolicyEgressRuleArgs(to=peers, ports=[port])],
        )

    if args.database_cidrs:
        policies["allow-database"] = egress(args.database_cidrs, tcp(args.database_port))
    for flow in args.egress:
        end = flow.port.to_port if flow.port.to_port != flow.port.from_port else None
        port = k8s.networking.v1.NetworkPolicyPortArgs(
            protocol=flow.port.protocol.upper(), port=flow.port.from_port, end_port=end
        )
        policies[f"allow-egress-{flow.key}"] = egress([flow.peer.value], port)
    return policies
