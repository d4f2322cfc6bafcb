"""Stack settings: `pulumi.Config` read once, validated into one typed model.

The per-tier profile below is the one place where development, staging and production differ. A stack's
`Pulumi.<stack>.yaml` may override any profile value; unsafe overrides are refused in prod.
Errors name the config key as written, show the value (`[secret]` for a key set with `--secret`) and
say what is allowed; an unknown key is refused with the closest known one. Every check runs here, before
the program registers any resource.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel, to_snake

from hardstack.aws.alarms import AlarmThresholds
from hardstack.aws.cluster import (
    NODE_GROUP_CEILING,
    addon_versions_for,
    role_name_of,
    validate_access_roles,
    validate_cluster_name,
    validate_deployer,
    validate_existing_kubeconfig,
    validate_public_access,
    validate_version,
)
from hardstack.aws.context import partition_of, validate_iam_path, validate_policy_arn, validate_region
from hardstack.aws.controller_roles import issuer_of
from hardstack.aws.database import (
    database_identifier,
    validate_backup_retention,
    validate_engine_version,
    validate_instance_class,
    validate_snapshot_identifier,
    validate_storage,
)
from hardstack.aws.fleet import (
    check_user_data,
    validate_image_id,
    validate_instance_type,
    validate_refresh_range,
    validate_sizes,
)
from hardstack.aws.network import FLEET_ENDPOINTS, NAT_STRATEGIES, NatStrategy, validate_log_retention
from hardstack.aws.topic import Subscription, parse_subscription
from hardstack.aws.waf import validate_rate_limit
from hardstack.core.addressing import validate_az_count, validate_az_ids, validate_vpc_cidr
from hardstack.core.ansible import ENVIRONMENT_TAG, ROLE_TAG
from hardstack.core.artefacts import Artefact, fleet_app
from hardstack.core.certificates import validate_certificate_arn
from hardstack.core.controllers import capacity_at_max
from hardstack.core.database_roles import validate_role_name
from hardstack.core.errors import REDACTED, HardstackError, keeping_secret, refuse, shown
from hardstack.core.naming import Naming
from hardstack.core.receivers import check_receiver_names
from hardstack.core.rules import Flow, Peer, Port
from hardstack.core.secrets import MIN_SECRET_TEXT, redact, secret_texts
from hardstack.core.slo import SLO, validate_alarm_period
from hardstack.core.tags import validate_tags
from hardstack.core.tier import STACK_TIERS, TIERS, Tier, parse_tier
from hardstack.core.userdata import DEFAULT_METRICS_PORT, NODE_EXPORTER_PORT, FleetBoot, validate_parameter_name
from hardstack.k8s.app import (
    DEFAULT_IMAGE,
    Resources,
    parse_quantity,
    validate_autoscaling_max,
    validate_cidrs,
    validate_host,
    validate_image,
    validate_replicas,
)
from hardstack.k8s.monitoring import (
    CHART_VERSION,
    MONITORING_NAMESPACE,
    RELEASE_NAME,
    Receiver,
    SecretRef,
    validate_chart_version,
    validate_page_receivers,
    validate_prometheus_duration,
    validate_retention_holds,
    validate_retention_size,
    validate_routing,
    validate_volume_gb,
)
from hardstack.k8s.platform import validate_dns_subdomain

NAMESPACE = "hardstack"
#: How the AZ ids are found: looked up once, then pinned (like the AMI).
AZ_IDS_HINT = 'the AZ ids of the stack\'s region, written once with the command in the README ("Pinning the AZs")'
#: Keys whose value is looked up once: what to say when one is missing.
_HOW_TO_SET = {f"{NAMESPACE}:azIds": f"set it to {AZ_IDS_HINT}, e.g. [euw3-az1, euw3-az2, euw3-az3]"}
_ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
TargetGroup = Literal["lb", "app", "data"]
ClusterMode = Literal["managed", "existing", "none"]
#: Service name and inventory role of the fleet's application, and its Kubernetes namespace.
APP_SERVICE = "app"
APP_NAMESPACE = "app"
#: The encrypted gp3 StorageClass the platform baseline makes; Prometheus claims its volume from it.
STORAGE_CLASS = "gp3-encrypted"


@dataclass(frozen=True)
class ClusterNames:
    """Names a stack takes in a cluster's cluster-wide space (namespaces, StorageClass, Helm release)."""

    app_namespace: str
    monitoring_namespace: str
    storage_class: str
    monitoring_release: str
    default_storage_class: bool
    """Whether the stack's class is annotated as the cluster's default (only on a cluster it owns)."""
    shared: bool = False
    """Whether other stacks share the cluster (their monitors and rules are not this stack's)."""


#: The app's requests and limits on the cluster: the capacity check sizes the node group against them.
APP_RESOURCES = Resources()
#: What the stack's security groups allow themselves, by group, before `extraIngress`/`extraEgress`.
BUILTIN_INGRESS: dict[str, tuple[Flow, ...]] = {
    "lb": (
        Flow(Port.HTTPS, Peer.any_ipv4(), "HTTPS from the internet"),
        Flow(Port.HTTP, Peer.any_ipv4(), "HTTP from the internet, redirected to HTTPS"),
    )
}
# Package repositories, SSM and AWS APIs are all HTTPS.
BUILTIN_APP_EGRESS = (Flow(Port.HTTPS, Peer.any_ipv4(), "HTTPS to AWS APIs, SSM and package repositories"),)
#: Tags hardstack puts on every resource itself (`Settings.base_tags`).
BASE_TAG_KEYS = ("Project", "Environment", "Stack", "ManagedBy")
#: Room kept for hardstack's own tags on one resource (the base tags, Name, inventory and discovery
#: tags: 7 at most today, a stack test keeps it so) out of AWS's 50.
HARDSTACK_TAGS = 10


# What differs between tiers, in one table: config key -> (development, staging, production).
# fmt: off
_PROFILE_TABLE: dict[str, tuple[Any, Any, Any]] = {
    "azCount":                   (2,              2,               3),
    "natStrategy":               ("single",       "single",        "per_az"),
    "logRetentionDays":          (14,             90,              365),
    "protect":                   (False,          False,           True),
    "fleetInstanceType":         ("t3.micro",     "t3.small",      "m7i.large"),
    "fleetMinSize":              (1,              2,               3),
    "fleetMaxSize":              (2,              4,               9),
    "fleetDesiredCapacity":      (1,              2,               3),
    "albDeletionProtection":     (False,          False,           True),
    "albAccessLogs":             (False,          True,            True),
    "waf":                       (False,          True,            True),
    "clusterVersion":            ("1.33",         "1.33",          "1.33"),
    "clusterNodeInstanceTypes":  (["t3.large"],   ["m6i.large"],   ["m6i.large", "m6a.large"]),
    "clusterNodeMinSize":        (1,              2,               3),
    "clusterNodeMaxSize":        (3,              4,               9),
    "clusterNodeDesiredSize":    (2,              2,               3),
    "appReplicas":               (1,              2,               3),
    "appMaxReplicas":            (3,              4,               10),
    "dbInstanceClass":           ("db.t4g.micro", "db.t4g.medium", "db.m7g.large"),
    # Staging holds production's storage: a snapshot of prod restores into no less (RDS refuses).
    "dbAllocatedStorageGb":      (20,             100,             100),
    "dbMaxAllocatedStorageGb":   (50,             200,             1000),
    "dbMultiAz":                 (False,          False,           True),
    "dbBackupRetentionDays":     (1,              7,               30),
    "dbDeletionProtection":      (False,          True,            True),
    # Retention holds the 30-day SLO period. Size: ~60k series (test) to ~150k (prod at node max),
    # scraped every 30s at ~2 bytes a sample, for 31 days, under 90% of the volume.
    "prometheusRetention":       ("31d",          "31d",           "31d"),
    "prometheusVolumeGb":        (30,             50,              80),
    "prometheusRetentionSize":   ("27GB",         "45GB",          "72GB"),
    "alarmPeriodSeconds":        (300,            60,              60),
    "appSloObjective":           ("0.99",         "0.995",         "0.999"),
}
# fmt: on
PROFILES: dict[Tier, dict[str, Any]] = {
    tier: {key: values[i] for key, values in _PROFILE_TABLE.items()} for i, tier in enumerate(Tier)
}


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, str_strip_whitespace=True
    )


class FlowSetting(_Model):
    """An extra flow an operator opens: a CIDR, a port or range, and why."""

    cidr: str
    from_port: int = Field(ge=0, le=65535)
    to_port: int | None = Field(default=None, ge=0, le=65535)
    protocol: Literal["tcp", "udp"] = "tcp"
    description: str

    @field_validator("from_port", "to_port", mode="before")
    @classmethod
    def _no_flag(cls, v: Any) -> Any:
        # A flag is not a port: `true` would open port 1. Text such as "8443" (config set --path) is.
        if isinstance(v, bool):
            raise ValueError("a port number from 0 to 65535, not a flag")  # the message names the entry's key
        return v

    def flow(self) -> Flow:
        port = Port(self.protocol, self.from_port, self.to_port if self.to_port is not None else self.from_port)
        return Flow(port, Peer.cidr(self.cidr), self.description)


class IngressSetting(FlowSetting):
    """An extra inbound flow, e.g. an office range to the load balancer."""

    to: TargetGroup


#: Tag keys hardstack sets itself: the base tags, each resource's name, the fleet's inventory tags.
OWN_TAG_KEYS = tuple(dict.fromkeys((*BASE_TAG_KEYS, ENVIRONMENT_TAG, "Name", ROLE_TAG)))
#: Tag prefixes the stack (the fleet's id) and the cluster's controllers (subnet roles, autoscaler
#: discovery, load balancer ownership) set and select by.
RESERVED_TAG_PREFIXES = ("hardstack:", "kubernetes.io/", "k8s.io/", "elbv2.k8s.aws/")

#: The `aws:` config keys the stack's own AWS provider is given. The program makes that provider
#: itself (with the region, default tags and these), so no other `aws:` key would reach it: each
#: is refused rather than ignored.
PROVIDER_KEYS = ("aws:region", "aws:profile", "aws:assumeRoles", "aws:allowedAccountIds")
_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
#: RoleSessionName and SourceIdentity: 2-64 of these characters (STS AssumeRole).
_SESSION_TEXT = re.compile(r"^[\w+=,.@-]{2,64}$")
#: Go durations as the provider parses them (time.ParseDuration): 1h, 45m, 1h30m, 1.5h, 5400000ms.
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def account_id(value: object, where: str) -> str:
    """A 12-digit AWS account id. `pulumi config set --path` stores digits as a number: a 12-digit
    number is taken as the id; a shorter one has lost a leading zero and is refused."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _ACCOUNT_ID.match(text):
        hint = (
            " (stored as a number, it lost its leading zeros: quote it in the stack file)"
            if isinstance(value, int) and not isinstance(value, bool)
            else ""
        )
        raise refuse(where, value, f"a 12-digit AWS account id such as '123456789012'{hint}")
    return text


def _session_seconds(duration: str, where: str) -> float:
    parts = _DURATION_PART.findall(duration) if isinstance(duration, str) else []
    if not parts or "".join(n + unit for n, unit in parts) != duration:
        raise refuse(where, duration, "a duration such as 1h, 45m, 1h30m or 1.5h")
    seconds = sum(float(n) * _DURATION_UNITS[unit] for n, unit in parts)
    if not 15 * 60 <= seconds <= 12 * 3600:  # STS AssumeRole's DurationSeconds range
        raise refuse(where, duration, "between 15m and 12h")
    return seconds


class AssumeRoleSetting(_Model):
    """One role of `aws:assumeRoles`, in the provider's own field names; the provider assumes them in
    order, each from the one before."""

    role_arn: str
    session_name: str | None = None
    external_id: str | None = None
    duration: str | None = None
    source_identity: str | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: dict[str, str] = Field(default_factory=dict)
    transitive_tag_keys: tuple[str, ...] = ()

    def check(self, where: str) -> None:
        role_name_of(self.role_arn, f"{where}.roleArn")
        for name, value in (("sessionName", self.session_name), ("sourceIdentity", self.source_identity)):
            if value is not None and not _SESSION_TEXT.match(value):
                raise refuse(f"{where}.{name}", value, "2 to 64 letters, digits or + = , . @ _ -")
        if self.external_id is not None and not re.fullmatch(r"[\w+=,.@:/-]{2,1224}", self.external_id):
            raise refuse(f"{where}.externalId", self.external_id, "2 to 1224 letters, digits or + = , . @ : / _ -")
        if self.duration is not None:
            _session_seconds(self.duration, f"{where}.duration")
        if self.policy is not None:
            try:
                json.loads(self.policy)
            except json.JSONDecodeError:
                raise refuse(f"{where}.policy", self.policy, "an IAM policy document in JSON") from None
        for i, arn in enumerate(self.policy_arns):
            validate_policy_arn(arn, f"{where}.policyArns[{i}]")
        validate_tags(self.tags, f"{where}.tags")
        for key in self.transitive_tag_keys:
            if key not in self.tags:
                raise refuse(f"{where}.transitiveTagKeys", key, f"keys of {where}.tags")

    @property
    def account_id(self) -> str:
        return self.role_arn.split(":")[4]


def validate_stack_region(region: str, key: str) -> str:
    """A region of the `aws` partition: the stacks build ARNs of that partition and name its managed
    policies (another partition's IAM, KMS and EKS refuse them)."""
    if partition_of(region) != "aws":
        raise refuse(
            key,
            region,
            f"a region of the aws partition: {region} is in {partition_of(region)}, whose ARNs and managed "
            "policies the stacks do not build (China, GovCloud, ISO and sovereign-cloud regions)",
        )
    return region


#: Fields holding ARNs, which must be of the stack's partition.
_ARN_FIELDS = (
    "certificate_arn",
    "permissions_boundary_arn",
    "cluster_admin_role_arns",
    "cluster_readonly_role_arns",
    "cluster_kubeconfig_role_arn",
    "existing_cluster_oidc_provider_arn",
    "db_snapshot_identifier",
)


#: Field -> the component's check of one value, called with the value and the config key.
_FIELD_CHECKS: dict[str, Callable[[Any, str], object]] = {
    "iam_path": validate_iam_path,
    "permissions_boundary_arn": validate_policy_arn,
    "region": lambda region, key: validate_stack_region(validate_region(region, key), key),
    "vpc_cidr": validate_vpc_cidr,
    "az_count": validate_az_count,
    "log_retention_days": validate_log_retention,
    "fleet_image_id": validate_image_id,
    "fleet_instance_type": validate_instance_type,
    "cluster_version": validate_version,
    "db_engine_version": validate_engine_version,
    "db_instance_class": validate_instance_class,
    "alarm_period_seconds": validate_alarm_period,
    "monitoring_chart_version": validate_chart_version,
    "prometheus_retention": validate_prometheus_duration,
    "prometheus_volume_gb": validate_volume_gb,
    "waf_rate_limit": validate_rate_limit,
    "db_app_user": validate_role_name,
    "db_migration_user": validate_role_name,
    "app_host": validate_host,
    "existing_cluster_name": validate_cluster_name,
}


class Settings(_Model):
    """Everything a stack needs, validated. Field docs say the default."""

    region: str = Field(alias="aws:region")
    """AWS region (config `aws:region`). Required."""
    environment: str
    """Name of the environment (tags, inventory, alarm text), such as test, preprod, prod or eu-prod. Required."""
    tier: Tier
    """development, staging or production: picks the profile and the safety enforced. Default: from the
    environment name for test, preprod and prod; required for any other name."""
    """test, preprod or prod: picks the profile. Required."""
    vpc_cidr: str
    """Private VPC range, /16 to /22. Required."""
    az_count: int
    """AZs used: the first `azCount` of `azIds`. Default: profile (2, 2, 3)."""
    az_ids: tuple[str, ...]
    """The region's AZ ids the stack places its subnets in, in order (subnet i in the i-th id), such as
    `[euw3-az1, euw3-az2, euw3-az3]`: written once with the README's command, then only appended to.
    Required: ids name the same zone in every account and never change, names and the live list do."""
    nat_strategy: NatStrategy
    """none, single or per_az. Default: profile."""
    log_retention_days: int
    """Retention of flow logs and other log groups. Default: profile."""
    protect: bool
    """Protect stateful resources. Default: profile (on in prod; turning it off there is refused)."""
    flow_logs: bool = True
    """VPC flow logs. Default: on; off is refused in prod."""
    app_port: int = Field(default=8080, ge=1, le=65535)
    """Port the application listens on behind the load balancer. Default: 8080."""
    app_port_previous: int | None = None
    """While changing `appPort`: the port the running hosts listen on. The hosts move to `appPort` and
    keep answering on this one while the load balancer stays on it; the next `up` without it moves
    the load balancer (README, "Changing the app port"). Default: none."""
    extra_ingress: tuple[IngressSetting, ...] = ()
    """Extra inbound flows. Default: none."""
    extra_egress: tuple[FlowSetting, ...] = ()
    """Extra outbound flows from the app hosts (beyond HTTPS and PostgreSQL). Default: none."""
    allow_world_egress_all_ports: bool = False
    """Unsafe: let production's `extraEgress` open every port to the whole internet (0.0.0.0/0, ::/0, or a
    range broader than a /8 such as 0.0.0.0/1). Default: off, production refuses such a flow (name the
    ports the hosts need instead)."""
    fleet_image_id: str
    """Pinned AMI of the fleet (AL2023; see the README for the command that resolves it). Required."""
    fleet_instance_type: str
    fleet_min_size: int
    fleet_max_size: int
    fleet_desired_capacity: int
    """Fleet sizes. Default: profile; prod runs at least one instance per AZ."""
    app_secret_parameters: dict[str, str] = Field(default_factory=dict)
    """Environment variable -> SSM parameter name the hosts read at boot. Default: none."""
    fleet_app: dict[str, str] | None = None
    """The fleet's app release: `{version, url, sha256}` (an https URL of one executable that takes
    `--port` and `--metrics-port`, and its sha256). Changing it rolls the fleet. Default: hardstack's
    reference service."""
    fleet_refresh_min_healthy: int = 100
    fleet_refresh_max_healthy: int = 200
    """Instance refresh range, in % of desired capacity. Default: 100-200, launch before terminate
    (production refuses anything that lets a rollout drop capacity)."""
    certificate_arn: str | None = None
    """ACM certificate of the HTTPS listener. Required outside test (plain HTTP only in test)."""
    alb_deletion_protection: bool
    alb_access_logs: bool
    """Load balancer deletion protection and access logs. Default: profile (on in prod)."""
    waf: bool
    """WAF web ACL on the internet-facing load balancers. Default: profile (on in preprod and prod; off
    is refused in prod)."""
    waf_rate_limit: int = 2000
    """Requests one client IP may send per 5 minutes before WAF blocks it (10 or more). Default: 2000."""

    cluster_mode: ClusterMode = "managed"
    """managed: an EKS cluster here; existing: any cluster from `hardstack:kubeconfig`; none: no Kubernetes."""
    cluster_version: str
    cluster_node_instance_types: tuple[str, ...]
    cluster_node_min_size: int
    cluster_node_max_size: int
    cluster_node_desired_size: int
    """Kubernetes version and node group. Default: profile. Once the cluster runs, `clusterVersion` is its
    version or the next minor (checked against the running cluster before any resource)."""
    deployer_location: Literal["internet", "vpc"] | None = None
    """Where `pulumi up` runs, so it can reach the cluster API it creates: `internet` (a laptop or a hosted
    CI runner: the public endpoint opens to `deployerCidrs` only, never 0.0.0.0/0 in production) or `vpc`
    (a runner inside the VPC or over VPN: the endpoint stays private and `deployerCidrs` /
    `deployerSecurityGroupIds` are admitted on 443). Required in managed mode."""
    deployer_cidrs: tuple[str, ...] = ()
    """The deployer's addresses: public egress ranges (`internet`) or private ranges (`vpc`). Default: none."""
    deployer_security_group_ids: tuple[str, ...] = ()
    """Security groups of in-VPC runners admitted to the API (`vpc`). Default: none."""
    cluster_admin_role_arns: tuple[str, ...] = ()
    cluster_readonly_role_arns: tuple[str, ...] = ()
    """IAM roles granted cluster admin / read-only. Admins are required in managed mode."""
    cluster_kubeconfig_role_arn: str | None = None
    """Role the exported kubeconfig assumes. Default: the caller's identity."""
    cluster_addon_versions: dict[str, str] = Field(default_factory=dict)
    """EKS add-on versions over the pinned table for `clusterVersion` (hardstack.aws.cluster.ADDON_VERSIONS).
    Default: the table's; a version the table lacks needs all four add-ons here."""
    kubeconfig: str | None = Field(default=None, repr=False)
    """Secret kubeconfig of an existing cluster (`cluster_mode: existing`)."""
    metrics_server: bool = True
    """Install metrics-server, which the app's HPA reads CPU from (EKS ships none). Default: on; turn it off
    on an existing cluster that has one."""
    cluster_autoscaler: bool | None = None
    """Install the Cluster Autoscaler (scales the node group with the pods). Default: on for a managed
    cluster, off for an existing one (it may have its own; asking for it there needs the
    `existingCluster*` keys)."""
    load_balancer_controller: bool | None = None
    """Install the AWS Load Balancer Controller (serves Ingress class `alb`). Default: as clusterAutoscaler."""
    existing_cluster_name: str | None = None
    existing_cluster_oidc_provider_arn: str | None = None
    existing_cluster_vpc_id: str | None = None
    """An existing EKS cluster's name, IAM OIDC provider ARN and VPC: what the autoscaler's and the load
    balancer controller's IRSA roles and values need when they are installed there. Default: none."""
    existing_cluster_shared: bool = True
    """An existing cluster other stacks may share: its cluster-wide names carry the project and stack.
    Default: on; off keeps the fixed names (namespaces app and monitoring, class gp3-encrypted, release
    kube-prometheus-stack) on a cluster this stack alone uses, such as one an earlier release deployed to."""
    cluster_monitoring: bool | None = None
    """Install kube-prometheus-stack (Prometheus, Alertmanager, the app's SLO rules). Default: on for a
    managed cluster, off for an existing one (one such stack per cluster: its CRDs, operator and node
    exporters are cluster-wide)."""
    existing_cluster_load_balancer_cidrs: tuple[str, ...] = ()
    """Where an existing cluster's ALBs connect to the pods from (its VPC's public subnets), admitted by the
    app's NetworkPolicy with `ingressClass: alb`. Required in existing mode with that class; on a managed
    cluster, default: this stack's public subnets."""

    app_image: str = DEFAULT_IMAGE
    """Image released to the cluster, with tag or digest (`latest` refused outside test; prod refuses an image
    without a digest). CI sets it. Default: DEFAULT_IMAGE (podinfo, by digest)."""
    db_app_user: str = "app_user"
    """PostgreSQL login of the application (IAM authentication, data only). Default: app_user."""
    db_migration_user: str = "app_migrator"
    """PostgreSQL login of the migration Job (IAM authentication, owns the schema). Default: app_migrator."""
    app_replicas: int
    app_max_replicas: int
    """Replicas (at least 2 in prod) and the autoscaler's ceiling. Default: profile."""
    app_migration_command: tuple[str, ...] = ()
    """Command of the migration Job run before each rollout. Default: none, no Job."""
    ingress_class: str = "alb"
    """Ingress class of the cluster's ingress controller. Default: alb (the AWS Load Balancer Controller:
    an internet-facing ALB with `certificateArn`, required outside test)."""
    app_host: str | None = None
    """Host name of the application's Ingress. Default: none (any host)."""
    app_slo_objective: str
    """Availability objective of the application (good requests / all), e.g. "0.999". Default: profile."""

    db_engine_version: str = "16"
    db_instance_class: str
    db_allocated_storage_gb: int
    db_max_allocated_storage_gb: int
    db_multi_az: bool
    db_backup_retention_days: int
    db_deletion_protection: bool
    """PostgreSQL. Default: profile (multi-AZ, 30-day backups and deletion protection in prod)."""
    db_snapshot_identifier: str | None = None
    """Create the database from this snapshot (preprod from a prod snapshot). Default: empty database."""
    db_apply_immediately: bool = False
    """Apply database class and storage changes now rather than in the maintenance window. Default: off."""

    alert_subscriptions: tuple[dict[str, str], ...] = ()
    """SNS subscriptions `[{protocol, endpoint}]` of the alert topic. At least one in prod."""
    alarm_period_seconds: int
    """CloudWatch alarm period, a multiple of 60. Default: profile."""
    alarm_thresholds: dict[str, float] = Field(default_factory=dict)
    """Overrides of the recommended alarms' thresholds, e.g. `{cpuPercent: 70}`. Default: per environment."""
    monitoring_chart_version: str = CHART_VERSION
    prometheus_retention: str
    prometheus_volume_gb: int
    prometheus_retention_size: str
    """kube-prometheus-stack chart and Prometheus storage; the volume grows in place and is never smaller
    than the one that exists (read from the account before any resource). Default: profile."""
    alert_receivers: tuple[dict[str, str], ...] = ()
    """Alertmanager receivers `[{name, kind, target, secretKey}]`; secrets come from `alertSecrets`."""
    alert_routes: dict[str, list[str]] = Field(default_factory=dict)
    """Severity -> receiver names, e.g. `{page: [oncall], ticket: [tickets]}`. A page receiver is required in prod."""
    heartbeat_receiver: str | None = None
    """Receiver of the always-firing Watchdog alert. Required in prod."""
    alert_secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    """Secret config: receiver secret key -> value (PagerDuty routing key, Slack webhook URL)."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags added to every resource, including what Auto Scaling groups and node groups launch. Default:
    none beyond hardstack's own (Project, Environment, Stack, ManagedBy)."""
    name_prefix: tuple[str, ...] = ()
    """Segments that start every AWS-visible name (aliases, log groups, cluster, database, alarms), e.g.
    `[acme, payments, prod]`. Default: the Pulumi project and stack."""
    create_auto_scaling_service_role: bool = False
    """Create the account's Auto Scaling service-linked role with the stack (kept on destroy: other groups
    of the account share it). Default: off, the role must exist (the first Auto Scaling group of an
    account creates it); the program checks and says how to create it."""
    iam_path: str = "/"
    """Path of every IAM role the stack creates, e.g. `/platform/`. Default: /."""
    permissions_boundary_arn: str | None = None
    """Managed policy set as the permissions boundary of every role the stack creates. Default: none."""
    aws_profile: str | None = Field(default=None, alias="aws:profile")
    """Named profile of the shared AWS config the stack's provider signs in with (config `aws:profile`).
    Default: none, the credentials of the environment."""
    aws_assume_roles: tuple[AssumeRoleSetting, ...] = Field(default=(), alias="aws:assumeRoles")
    """Roles the provider assumes, in order (config `aws:assumeRoles`, `[{roleArn, sessionName, externalId,
    duration, ...}]`). Default: none, it acts as the signed-in identity."""
    aws_allowed_account_ids: tuple[str, ...] = Field(default=(), alias="aws:allowedAccountIds")
    """The only accounts the stack's provider may act in (config `aws:allowedAccountIds`): any other
    identity fails before a call. Required in the staging and production tiers."""

    _secret_keys: frozenset[str] = PrivateAttr(default_factory=frozenset)
    _secret_texts: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @property
    def secret_keys(self) -> frozenset[str]:
        """The config keys set with `--secret` (`hardstack:kubeconfig`, ...): their values stay secret."""
        return self._secret_keys

    @property
    def secret_texts(self) -> frozenset[str]:
        """The texts of the values set with `--secret`: whatever holds one is kept secret."""
        return self._secret_texts

    @field_validator(*_FIELD_CHECKS)
    @classmethod
    def _field(cls, value: Any, info: ValidationInfo) -> Any:
        """One-value checks from the components, with errors naming the config key."""
        if value is not None:
            name = str(info.field_name)
            alias = cls.model_fields[name].alias or ""
            _FIELD_CHECKS[name](value, alias if ":" in alias else f"{NAMESPACE}:{to_camel(name)}")
        return value

    @field_validator("kubeconfig", mode="before")
    @classmethod
    def _kubeconfig(cls, v: Any) -> Any:
        # Config that looks like JSON arrives decoded: a JSON kubeconfig (the format a hardstack cluster
        # exports) goes back to its text. Never shown in errors: it holds credentials.
        if isinstance(v, dict):
            v = json.dumps(v)
        return validate_existing_kubeconfig(v, "hardstack:kubeconfig") if v is not None else v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        return validate_tags(v, "hardstack:tags", reserved=HARDSTACK_TAGS)

    @field_validator("tags")
    @classmethod
    def _tags_of_our_own(cls, v: dict[str, str]) -> dict[str, str]:
        """Tags hardstack or the cluster's controllers set and read stay theirs: a base tag with such a
        key would change what discovery selects (inventory, Prometheus, subnets for load balancers)."""
        for key in v:
            if key in OWN_TAG_KEYS:
                raise refuse("hardstack:tags key", key, f"a key other than hardstack's own ({', '.join(OWN_TAG_KEYS)})")
            prefix = next((p for p in RESERVED_TAG_PREFIXES if key.lower().startswith(p)), None)
            if prefix is not None:
                raise refuse(
                    "hardstack:tags key",
                    key,
                    f"a key outside {prefix}, which the stack and the cluster's controllers set and read",
                )
        return v

    @field_validator("aws_profile")
    @classmethod
    def _profile(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[\w.@+-]+", v):
            raise refuse("aws:profile", v, "the name of a profile of the shared AWS config, such as prod-deployer")
        return v

    @field_validator("aws_assume_roles", mode="before")
    @classmethod
    def _assume_roles_shape(cls, v: Any) -> Any:
        known = set(AssumeRoleSetting.model_fields)
        fields = ", ".join(to_camel(k) for k in AssumeRoleSetting.model_fields)
        if isinstance(v, Mapping):
            raise refuse("aws:assumeRoles", v, "a list of roles, `[{roleArn: ...}]`, even for one role")
        if not isinstance(v, (list, tuple)):
            raise refuse("aws:assumeRoles", v, "a list of roles, `[{roleArn: ...}]`")
        for i, role in enumerate(v):
            where = f"aws:assumeRoles[{i}]"
            if not isinstance(role, Mapping) or "roleArn" not in role:
                raise refuse(where, role, f"{{roleArn, ...}} with fields among {fields}")
            unknown = sorted(k for k in role if to_snake(str(k)) not in known)
            if unknown:
                raise refuse(f"{where}.{unknown[0]}", role[unknown[0]], f"a field among {fields}")
        return v

    @field_validator("aws_assume_roles")
    @classmethod
    def _assume_roles(cls, v: tuple[AssumeRoleSetting, ...]) -> tuple[AssumeRoleSetting, ...]:
        for i, role in enumerate(v):
            role.check(f"aws:assumeRoles[{i}]")
        return v

    @field_validator("aws_allowed_account_ids", mode="before")
    @classmethod
    def _allowed_accounts(cls, v: Any) -> Any:
        if not isinstance(v, (list, tuple)):
            raise refuse("aws:allowedAccountIds", v, "a list of 12-digit account ids, `['123456789012']`")
        return tuple(account_id(a, f"aws:allowedAccountIds[{i}]") for i, a in enumerate(v))

    @field_validator("name_prefix")
    @classmethod
    def _name_prefix(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if v:
            try:
                naming = Naming(v)  # checks each segment
                database_identifier(naming, "main")  # RDS's rules: a letter first, single hyphens
                # The fleet's SSM parameters are named under the prefix: AWS reserves aws* and ssm*.
                validate_parameter_name("/" + "/".join(v) + "/fleet", "the fleet's SSM parameter names")
            except HardstackError as err:
                raise refuse("hardstack:namePrefix", list(v), f"segments that make valid AWS names ({err})") from None
        return v

    def interface_endpoints(self) -> tuple[str, ...]:
        """Without NAT (no managed cluster then), what the hosts reach AWS through: Session Manager,
        logs and metrics."""
        return FLEET_ENDPOINTS if self.nat_strategy == "none" else ()

    def naming(self, project: str, stack: str) -> Naming:
        """The naming in force: `hardstack:namePrefix`, or the project and stack (refused if AWS would be)."""
        return Naming(self.name_prefix) if self.name_prefix else Naming.of(project, stack)

    @field_validator("az_ids", mode="before")
    @classmethod
    def _az_ids(cls, v: Any) -> Any:
        if isinstance(v, str) or not isinstance(v, list | tuple):
            raise refuse("hardstack:azIds", v, f"a list: {AZ_IDS_HINT}, such as [euw3-az1, euw3-az2]")
        return v

    @field_validator("nat_strategy", mode="before")
    @classmethod
    def _nat(cls, v: Any) -> Any:
        if v not in NAT_STRATEGIES:
            raise refuse("hardstack:natStrategy", v, f"one of {', '.join(NAT_STRATEGIES)}")
        return v

    @field_validator("app_port", "app_port_previous")
    @classmethod
    def _app_port(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is None:
            return v
        key = "hardstack:appPort" if info.field_name == "app_port" else "hardstack:appPortPrevious"
        if isinstance(v, bool) or not 1 <= v <= 65535:
            raise refuse(key, v, "1024 to 65535 (the app runs unprivileged)")
        admin = Port.tcp(v).admin_ports()
        if admin:
            raise refuse(key, v, f"an application port, not admin port {admin[0]}")
        if v < 1024 or v in (NODE_EXPORTER_PORT, DEFAULT_METRICS_PORT):
            raise refuse(
                key, v, f"1024 to 65535 (the app runs unprivileged), not {NODE_EXPORTER_PORT} or {DEFAULT_METRICS_PORT}"
            )
        return v

    @property
    def serving_port(self) -> int:
        """The port the load balancer sends to: the former one while the hosts move to `appPort`."""
        return self.app_port_previous if self.app_port_previous is not None else self.app_port

    @field_validator("cluster_node_instance_types")
    @classmethod
    def _node_types(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise refuse("hardstack:clusterNodeInstanceTypes", [], "at least one instance type")
        for i, t in enumerate(v):
            validate_instance_type(t, f"hardstack:clusterNodeInstanceTypes[{i}]")
        return v

    @model_validator(mode="after")
    def _checks(self) -> Settings:
        for i, rule in enumerate(self.extra_ingress):
            where = f"hardstack:extraIngress[{i}]"
            try:
                flow = rule.flow()
            except HardstackError as err:
                raise HardstackError(f"{where}: {err}") from None
            flow.refuse_world_open("ingress", where)
        for i, egress in enumerate(self.extra_egress):
            where = f"hardstack:extraEgress[{i}]"
            try:
                out = egress.flow()
            except HardstackError as err:
                raise HardstackError(f"{where}: {err}") from None
            world_open = out.peer.is_broad and out.port.is_every_port
            if world_open and self.tier.is_production and not self.allow_world_egress_all_ports:
                raise refuse(
                    where,
                    f"{out.port.key} to {out.peer.value}",
                    "in prod, the ports the hosts need to the internet, not every port (or "
                    "hardstack:allowWorldEgressAllPorts: true, asked for by name)",
                )
        validate_sizes(
            self.fleet_min_size,
            self.fleet_max_size,
            self.fleet_desired_capacity,
            ("hardstack:fleetMinSize", "hardstack:fleetMaxSize", "hardstack:fleetDesiredCapacity"),
        )
        if self.app_port_previous == self.app_port:
            raise refuse(
                "hardstack:appPortPrevious", self.app_port_previous, "the former port, not appPort; or unset it"
            )
        for env_name, parameter in self.app_secret_parameters.items():
            validate_parameter_name(parameter, f"hardstack:appSecretParameters.{env_name}")
        validate_refresh_range(
            self.fleet_refresh_min_healthy,
            self.fleet_refresh_max_healthy,
            self.tier,
            ("hardstack:fleetRefreshMinHealthy", "hardstack:fleetRefreshMaxHealthy"),
        )
        # The same checks as the network's, naming the key; the live list is checked where a deploy runs.
        validate_az_ids(self.az_ids, self.region, self.az_count, "hardstack:azIds")
        boot = self.fleet_boot()
        try:
            # Rendered with the longest names this stack could get: 16 KB and the secret scan hold later.
            check_user_data(boot, self.naming("p" * 40, "s" * 40))
        except HardstackError as err:
            raise HardstackError(f"hardstack:appSecretParameters: {err}") from None
        if self.certificate_arn is not None:
            validate_certificate_arn(self.certificate_arn, "hardstack:certificateArn", self.region, "aws:region")
        if self.certificate_arn is None and self.tier.serves_https_only:
            raise refuse(
                "hardstack:certificateArn", None, f"an ACM certificate ARN: a {self.tier} stack serves HTTPS only"
            )
        self._check_arn_partitions()
        self._check_unique_flows()
        if self.tier.is_production:
            # The load balancer component's own production rules, named by their keys.
            for key, on in (
                ("albDeletionProtection", self.alb_deletion_protection),
                ("albAccessLogs", self.alb_access_logs),
            ):
                if not on:
                    raise refuse(f"{NAMESPACE}:{key}", False, "on in prod")
        self._check_cluster()
        self._check_controllers()
        self._check_app_and_data()
        self._check_supervision()
        if self.tier.is_production:
            if self.fleet_min_size < self.az_count:
                raise refuse(
                    "hardstack:fleetMinSize",
                    self.fleet_min_size,
                    f"at least one instance per AZ in prod: {self.az_count} or more (hardstack:azCount)",
                )
            if not self.protect:
                raise refuse("hardstack:protect", False, "prod keeps stateful resources protected")
            if not self.flow_logs:
                raise refuse("hardstack:flowLogs", False, "prod keeps VPC flow logs on")
            if not self.waf:
                raise refuse("hardstack:waf", False, "prod keeps the WAF in front of its load balancers")
        return self

    @model_validator(mode="after")
    def _check_provider(self) -> Settings:
        """Staging and production stacks name the account they may touch: a stack run with another
        account's credentials then fails before any call, instead of deploying there. The Kubernetes
        provider of a managed cluster signs in as the AWS provider does."""
        allowed = self.aws_allowed_account_ids
        if not allowed and self.tier is not Tier.DEVELOPMENT:
            raise HardstackError(
                f"aws:allowedAccountIds is required in the {self.tier} tier: the account(s) this stack may "
                "act in, so that credentials of another account can never touch it. Set it with "
                "`pulumi config set --path 'aws:allowedAccountIds[0]' <12-digit account id>`"
            )
        if self.db_snapshot_identifier is not None:
            validate_snapshot_identifier(self.db_snapshot_identifier, "hardstack:dbSnapshotIdentifier", allowed)
            arn = self.db_snapshot_identifier.split(":")
            if len(arn) > 3 and arn[0] == "arn" and arn[3] != self.region:
                # RDS restores a snapshot in its own region only: copy it here first.
                raise refuse(
                    "hardstack:dbSnapshotIdentifier",
                    self.db_snapshot_identifier,
                    f"a snapshot of {self.region} (aws:region): copy it here first (`aws rds copy-db-snapshot`)",
                )
        if allowed and self.aws_assume_roles:
            last = self.aws_assume_roles[-1]
            if last.account_id not in allowed:
                raise refuse(
                    f"aws:assumeRoles[{len(self.aws_assume_roles) - 1}].roleArn",
                    last.role_arn,
                    f"a role of an account of aws:allowedAccountIds ({', '.join(allowed)}): the provider acts "
                    "as the last role it assumes",
                )
        if self.aws_assume_roles and self.cluster_mode == "managed" and self.cluster_kubeconfig_role_arn is None:
            raise refuse(
                "aws:assumeRoles",
                [role.role_arn for role in self.aws_assume_roles],
                "set with hardstack:clusterKubeconfigRoleArn on a managed cluster: the Kubernetes provider signs "
                "in with `aws eks get-token`, which assumes no role chain, only that role (one of "
                "hardstack:clusterAdminRoleArns)",
            )
        return self

    def _check_cluster(self) -> None:
        if self.cluster_mode == "existing" and self.kubeconfig is None:  # a given one is checked as a field
            validate_existing_kubeconfig(self.kubeconfig, "hardstack:kubeconfig")
        if self.cluster_mode != "managed":
            return
        if self.nat_strategy == "none":
            # VPC endpoints reach only private ECR: the charts' images (quay.io, registry.k8s.io,
            # public.ecr.aws) and the default app's (ghcr.io) would never pull, and the first up hang.
            raise refuse(
                "hardstack:natStrategy",
                "none",
                "single or per_az with hardstack:clusterMode managed: the cluster's nodes pull the "
                "controllers', monitoring's and app's images from public registries (quay.io, registry.k8s.io, "
                "public.ecr.aws, ghcr.io), which a VPC without NAT cannot reach; `none` serves the VM fleet "
                "alone (hardstack:clusterMode none)",
            )
        validate_sizes(
            self.cluster_node_min_size,
            self.cluster_node_max_size,
            self.cluster_node_desired_size,
            ("hardstack:clusterNodeMinSize", "hardstack:clusterNodeMaxSize", "hardstack:clusterNodeDesiredSize"),
            NODE_GROUP_CEILING,
        )
        if self.cluster_node_min_size < 1:  # min <= desired is checked above: desired follows
            # The add-ons, the controllers and the Cluster Autoscaler itself run on these nodes:
            # with none, nothing can schedule them and nothing scales the group up.
            raise refuse(
                "hardstack:clusterNodeMinSize",
                self.cluster_node_min_size,
                "at least 1 with a managed cluster: CoreDNS, the controllers and the Cluster Autoscaler "
                "run on this node group, so it cannot start from zero",
            )
        addon_versions_for(self.cluster_version, self.cluster_addon_versions or None, "hardstack:clusterAddonVersions")
        self._check_deployer()
        if not self.cluster_admin_role_arns:
            raise refuse(
                "hardstack:clusterAdminRoleArns", [], "at least one IAM role ARN: the creator gets no admin access"
            )
        validate_access_roles(
            self.cluster_admin_role_arns,
            self.cluster_readonly_role_arns,
            ("hardstack:clusterAdminRoleArns", "hardstack:clusterReadonlyRoleArns"),
        )
        role = self.cluster_kubeconfig_role_arn
        if role is not None and role not in self.cluster_admin_role_arns:
            raise refuse(
                "hardstack:clusterKubeconfigRoleArn",
                role,
                "one of hardstack:clusterAdminRoleArns: the Kubernetes provider signs in as this role",
            )

    @property
    def installs_monitoring(self) -> bool:
        if self.cluster_mode == "none":
            return False
        return self.cluster_monitoring if self.cluster_monitoring is not None else self.cluster_mode == "managed"

    def cluster_names(self, naming: Naming) -> ClusterNames:
        """What the stack names in the cluster's cluster-wide space: fixed names on the cluster it owns,
        names carrying the project and stack on an existing cluster that other stacks may share."""
        if self.cluster_mode != "existing" or not self.existing_cluster_shared:
            # On an existing cluster its owner picks the default class, whatever the names.
            owned = self.cluster_mode != "existing"
            return ClusterNames(APP_NAMESPACE, MONITORING_NAMESPACE, STORAGE_CLASS, RELEASE_NAME, owned)
        return ClusterNames(
            app_namespace=naming.kubernetes(APP_NAMESPACE, "hardstack:namePrefix (app namespace)"),
            monitoring_namespace=naming.kubernetes(MONITORING_NAMESPACE, "hardstack:namePrefix (monitoring namespace)"),
            storage_class=naming.kubernetes(STORAGE_CLASS, "hardstack:namePrefix (StorageClass)"),
            # The chart cuts its resource names to 26 characters: a short digest keeps two stacks apart.
            monitoring_release=f"kps-{naming.digest()}",
            # The cluster's owner decides its default class; claims of this stack name theirs.
            default_storage_class=False,
            shared=True,
        )

    @property
    def installs_cluster_autoscaler(self) -> bool:
        if self.cluster_mode == "none":
            return False
        return self.cluster_autoscaler if self.cluster_autoscaler is not None else self.cluster_mode == "managed"

    @property
    def installs_load_balancer_controller(self) -> bool:
        if self.cluster_mode == "none":
            return False
        wanted = self.load_balancer_controller
        return wanted if wanted is not None else self.cluster_mode == "managed"

    def _check_controllers(self) -> None:
        """Controllers asked for must be installable; a managed cluster must serve the app's class."""
        # In every mode: a managed cluster's ALB takes them too (instead of this stack's public subnets).
        validate_cidrs(self.existing_cluster_load_balancer_cidrs, "hardstack:existingClusterLoadBalancerCidrs")
        # An Ingress's class names an IngressClass object: a DNS subdomain, whatever controller serves it.
        validate_dns_subdomain(self.ingress_class, "hardstack:ingressClass")
        if self.cluster_mode == "managed":
            if self.ingress_class != "alb":
                raise refuse(
                    "hardstack:ingressClass",
                    self.ingress_class,
                    "alb on the cluster this stack creates: the AWS Load Balancer Controller is the ingress "
                    "controller installed there, nothing would serve another class",
                )
            if not self.installs_load_balancer_controller:
                raise refuse(
                    "hardstack:loadBalancerController",
                    False,
                    "on while hardstack:ingressClass is alb: nothing else serves that class on the cluster made here",
                )
            self._check_capacity()
            return
        if self.cluster_mode != "existing":
            return
        asked = [
            key
            for key, wanted in (
                ("clusterAutoscaler", self.installs_cluster_autoscaler),
                ("loadBalancerController", self.installs_load_balancer_controller),
            )
            if wanted
        ]
        for key in asked:
            # Their IRSA roles trust the cluster's OIDC provider; the autoscaler's policy names the cluster.
            needed = {
                "existingClusterName": self.existing_cluster_name,
                "existingClusterOidcProviderArn": self.existing_cluster_oidc_provider_arn,
            }
            if key == "loadBalancerController":
                needed["existingClusterVpcId"] = self.existing_cluster_vpc_id
            missing = [f"hardstack:{k}" for k, v in needed.items() if v is None]
            if missing:
                raise refuse(
                    f"hardstack:{key}",
                    True,
                    f"off on an existing cluster unless {', '.join(missing)} "
                    "are set: its IAM role for the service account trusts that cluster's OIDC provider",
                )
        if self.existing_cluster_oidc_provider_arn is not None:
            arn, key = self.existing_cluster_oidc_provider_arn, "hardstack:existingClusterOidcProviderArn"
            issuer = issuer_of(arn, key)
            account = arn.split(":")[4]
            # IAM trusts a provider of this account only, and EKS issuers carry their cluster's region.
            if self.aws_allowed_account_ids and account not in self.aws_allowed_account_ids:
                raise refuse(key, arn, "an OIDC provider of this stack's account (aws:allowedAccountIds)")
            host = issuer.removeprefix("https://")
            if host.startswith("oidc.eks.") and host.split(".")[2] != self.region:
                raise refuse(key, arn, f"the OIDC provider of a cluster in {self.region} (aws:region)")
        if self.existing_cluster_vpc_id is not None and not re.fullmatch(
            r"vpc-[0-9a-f]{8,17}", self.existing_cluster_vpc_id
        ):
            raise refuse(
                "hardstack:existingClusterVpcId", self.existing_cluster_vpc_id, "a VPC id such as vpc-0123abcd"
            )
        if self.ingress_class == "alb" and not self.existing_cluster_load_balancer_cidrs:
            # Its ALB is in the cluster's VPC: with target type ip it connects to the pods from the
            # subnets there, which the app's default-deny policy must admit (this stack's are elsewhere).
            raise refuse(
                "hardstack:existingClusterLoadBalancerCidrs",
                [],
                "the CIDRs of the existing cluster's public subnets while hardstack:ingressClass is alb: its "
                "ALB connects to the pods from there, and the app admits no one else on its port",
            )

    def _check_capacity(self) -> None:
        """The app at its autoscaler maximum fits in the node group at its maximum (core.controllers)."""
        resources = APP_RESOURCES
        capacity = capacity_at_max(
            self.app_max_replicas,
            parse_quantity(resources.cpu_request, "cpu_request") * 1000,
            parse_quantity(resources.memory_request, "memory_request") / (1024 * 1024),
            self.cluster_node_max_size,
            self.cluster_node_instance_types,
            "hardstack:clusterNodeInstanceTypes",
        )
        if not capacity.fits:
            raise refuse(
                "hardstack:appMaxReplicas",
                self.app_max_replicas,
                f"at most {capacity.max_replicas_that_fit}: {self.app_max_replicas} pods request "
                f"{capacity.needed_cpu_m}m CPU and {capacity.needed_memory_mib} MiB, while "
                f"{self.cluster_node_max_size} nodes ({', '.join(self.cluster_node_instance_types)}) offer "
                f"{capacity.offered_cpu_m}m and {capacity.offered_memory_mib} MiB after the platform's share: "
                "raise hardstack:clusterNodeMaxSize or lower hardstack:appMaxReplicas",
            )

    def _check_arn_partitions(self) -> None:
        """ARNs of the stack's region's partition: an aws-cn role cannot be admitted in eu-west-3."""
        wanted = partition_of(self.region)
        for name in _ARN_FIELDS:
            value = getattr(self, name)
            values = value if isinstance(value, tuple) else (value,)
            for i, arn in enumerate(values):
                if isinstance(arn, str) and arn.startswith("arn:") and arn.split(":")[1] != wanted:
                    where = f"{NAMESPACE}:{to_camel(name)}" + (f"[{i}]" if isinstance(value, tuple) else "")
                    raise refuse(where, arn, f"an ARN of the {wanted} partition, the region's ({self.region})")
        for i, role in enumerate(self.aws_assume_roles):
            if role.role_arn.split(":")[1] != wanted:
                raise refuse(f"aws:assumeRoles[{i}].roleArn", role.role_arn, f"an ARN of the {wanted} partition")

    def _check_unique_flows(self) -> None:
        """Each flow of a security group once, as the group requires: extra flows repeat neither each
        other (in any spelling) nor what the stack opens itself."""
        for target in ("lb", "app", "data"):
            seen = {f.key: f"the stack's own rule ({f.description})" for f in BUILTIN_INGRESS.get(target, ())}
            for i, rule in enumerate(self.extra_ingress):
                if rule.to == target:
                    self._once(rule.flow(), f"hardstack:extraIngress[{i}]", seen)
        seen = {f.key: f"the stack's own rule ({f.description})" for f in BUILTIN_APP_EGRESS}
        for i, egress in enumerate(self.extra_egress):
            self._once(egress.flow(), f"hardstack:extraEgress[{i}]", seen)

    @staticmethod
    def _once(flow: Flow, where: str, seen: dict[str, str]) -> None:
        first = seen.setdefault(flow.key, where)
        if first != where:
            raise refuse(where, flow.key, f"each flow once: the same port and peer as {first}")

    def _check_deployer(self) -> None:
        location = self.deployer_location
        if location is None:
            raise HardstackError(
                "hardstack:deployerLocation is required with a managed cluster: where `pulumi up` runs, `internet` "
                "(with hardstack:deployerCidrs, your public egress ranges) or `vpc` (with the runner's private "
                "ranges or security groups); otherwise the cluster is created and every Kubernetes resource times out"
            )
        if location == "internet":
            validate_public_access(True, self.deployer_cidrs, self.tier, "hardstack:deployerCidrs")
            if self.deployer_security_group_ids:
                raise refuse(
                    "hardstack:deployerSecurityGroupIds", list(self.deployer_security_group_ids), "empty for internet"
                )
        else:
            validate_deployer(
                False,
                self.deployer_cidrs,
                self.deployer_security_group_ids,
                ("hardstack:deployerCidrs", "hardstack:deployerSecurityGroupIds"),
            )

    def _check_app_and_data(self) -> None:
        validate_image(self.app_image, self.tier, "hardstack:appImage")
        if self.db_migration_user == self.db_app_user:
            raise refuse(
                "hardstack:dbMigrationUser",
                self.db_migration_user,
                f"a login other than dbAppUser ({self.db_app_user})",
            )
        validate_replicas(self.app_replicas, self.tier, "hardstack:appReplicas")
        validate_autoscaling_max(self.app_max_replicas, self.app_replicas, "hardstack:appMaxReplicas")
        validate_storage(
            self.db_allocated_storage_gb,
            self.db_max_allocated_storage_gb,
            ("hardstack:dbAllocatedStorageGb", "hardstack:dbMaxAllocatedStorageGb"),
        )
        validate_backup_retention(self.db_backup_retention_days, self.tier, "hardstack:dbBackupRetentionDays")
        if self.tier.is_production and not self.db_deletion_protection:
            raise refuse("hardstack:dbDeletionProtection", False, "on in prod")

    def _check_supervision(self) -> None:
        # Each endpoint once, as the topic requires (it names a subscription by its endpoint).
        endpoints: dict[tuple[str, str], str] = {}
        for i, sub in enumerate(self.subscriptions()):
            where = f"hardstack:alertSubscriptions[{i}]"
            first = endpoints.setdefault((sub.protocol, sub.endpoint), where)
            if first != where:
                raise refuse(where, f"{sub.protocol}:{sub.endpoint}", f"each endpoint once: {first} has it already")
        self.thresholds()
        try:
            slo = SLO(APP_SERVICE, self.app_slo_objective, error_query="e_total", total_query="t_total")
        except HardstackError as err:
            raise HardstackError(f"hardstack:appSloObjective: {err}") from None
        validate_retention_size(
            self.prometheus_retention_size, self.prometheus_volume_gb, "hardstack:prometheusRetentionSize"
        )
        validate_retention_holds(self.prometheus_retention, slo.period_days, "hardstack:prometheusRetention")
        routes = validate_routing(self.alert_routes, "hardstack:alertRoutes")
        for i, receiver in enumerate(self.receivers()):
            key = receiver.secret_ref.key if receiver.secret_ref is not None else None
            if key is not None and key not in self.alert_secrets and self.installs_monitoring:
                raise HardstackError(
                    f"hardstack:alertReceivers[{i}] ({receiver.name}) needs the secret {key!r}, which is not set: "
                    f"`pulumi config set --secret --path 'hardstack:alertSecrets.{key}' <value>`"
                )
        if self.installs_monitoring:
            self._check_receiver_names(routes)
        if self.tier.is_production:
            if not self.alert_subscriptions:
                raise refuse("hardstack:alertSubscriptions", [], "at least one subscription in prod")
            if not self.installs_monitoring:  # no Alertmanager runs: its receivers and heartbeat are not needed
                return
            validate_page_receivers(self.tier, routes["page"], "hardstack:alertRoutes")
            if self.heartbeat_receiver is None:
                raise refuse("hardstack:heartbeatReceiver", None, "a receiver for the Watchdog heartbeat in prod")

    def _check_receiver_names(self, routes: Mapping[str, tuple[str, ...]]) -> None:
        """The names Alertmanager's configuration refuses (as `alertmanager_config` does), by config key."""
        check_receiver_names(
            [r.name for r in self.receivers()],
            {f"hardstack:alertRoutes.{severity}": names for severity, names in routes.items()},
            self.heartbeat_receiver,
            receivers_key="hardstack:alertReceivers",
            heartbeat_key="hardstack:heartbeatReceiver",
        )

    def thresholds(self) -> AlarmThresholds:
        """The environment's alarm thresholds with the period and the overrides of these settings."""
        where = "hardstack:alarmThresholds"
        defaults = vars(AlarmThresholds.for_tier(self.tier))
        overrides = {to_snake(k): v for k, v in self.alarm_thresholds.items()}
        unknown = sorted(set(overrides) - set(defaults) | ({"period_seconds"} & set(overrides)))
        if unknown:
            known = ", ".join(sorted(to_camel(k) for k in defaults if k != "period_seconds"))
            raise refuse(where, self.alarm_thresholds, f"keys among {known} (the period is alarmPeriodSeconds)")
        # Whole-number thresholds arrive from config as numbers; keep their type.
        typed = {k: type(defaults[k])(v) if isinstance(defaults[k], int) else v for k, v in overrides.items()}
        try:
            return AlarmThresholds(**{**defaults, "period_seconds": self.alarm_period_seconds, **typed})
        except HardstackError as err:
            raise HardstackError(f"{where}: {err}") from None

    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(
            parse_subscription(value, f"hardstack:alertSubscriptions[{i}]")
            for i, value in enumerate(self.alert_subscriptions)
        )

    def receivers(self) -> tuple[Receiver, ...]:
        out = []
        for i, r in enumerate(self.alert_receivers):
            where = f"hardstack:alertReceivers[{i}]"
            unknown = set(r) - {"name", "kind", "target", "secretKey"}
            if unknown or "name" not in r or "kind" not in r:
                raise refuse(where, r, "{name, kind, target?, secretKey?}")
            try:
                secret = SecretRef(r["secretKey"]) if r.get("secretKey") else None
                out.append(Receiver(name=r["name"], kind=r["kind"], target=r.get("target", ""), secret_ref=secret))  # type: ignore[arg-type]
            except HardstackError as err:
                raise HardstackError(f"{where}: {err}") from None
        return tuple(out)

    def fleet_app_artefact(self) -> Artefact:
        """The release the fleet's hosts run: `hardstack:fleetApp`, or the reference service."""
        if self.fleet_app is None:
            return fleet_app()
        given = self.fleet_app
        if not isinstance(given, dict) or set(given) != {"version", "url", "sha256"}:
            raise refuse("hardstack:fleetApp", given, "{version, url, sha256}: the release of one executable")
        url = given["url"]
        try:
            return Artefact(
                name="fleet-app",
                version=given["version"],
                filename=url.rstrip("/").rsplit("/", 1)[-1] or "app",
                sha256=given["sha256"],
                source_url=url,
            )
        except HardstackError as err:
            raise HardstackError(f"hardstack:fleetApp: {err}") from None

    def fleet_boot(self) -> FleetBoot:
        """What the fleet's hosts run for these settings."""
        app = self.fleet_app_artefact()
        try:
            return FleetBoot(
                service_name=APP_SERVICE,
                app_port=self.app_port,
                environment=self.environment,
                region=self.region,
                secret_parameters=self.app_secret_parameters,
                app=app,
                proxied_ports=() if self.app_port_previous is None else (self.app_port_previous,),
            )
        except HardstackError as err:
            raise HardstackError(f"hardstack:appSecretParameters: {err}") from None

    def base_tags(self, project: str, stack: str) -> dict[str, str]:
        return {"Project": project, "Environment": self.environment, "Stack": stack, "ManagedBy": "pulumi", **self.tags}


#: A map key written after a dot in a config path; any other is written `["..."]`.
_PATH_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _key_name(loc: tuple[int | str, ...]) -> str:
    """The config key (and path inside it) as the user writes it: map keys are never re-cased."""
    head, *rest = loc
    key = str(head) if ":" in str(head) else f"{NAMESPACE}:{head}"
    for part in rest:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if _PATH_PART.match(part) else f"[{json.dumps(part)}]"
    return key


def known_keys() -> tuple[str, ...]:
    """Every `hardstack:` setting, as written in a stack file (`hardstack:natStrategy`)."""
    return tuple(
        sorted(f"{NAMESPACE}:{f.alias}" for f in Settings.model_fields.values() if f.alias and ":" not in f.alias)
    )


def _unknown_key(key: str) -> str:
    """Why `key` is not a setting, with the one the user most likely meant."""
    name = key.partition(":")[2]
    known = [k.partition(":")[2] for k in known_keys()]
    camel = to_camel(name.replace("-", "_"))
    if ("_" in name or "-" in name) and camel in known:
        return (
            f"{key} is the snake_case spelling of {NAMESPACE}:{camel}: did you mean {NAMESPACE}:{camel}? "
            f"Setting keys are camelCase (`pulumi config rm {key}`, then `pulumi config set {NAMESPACE}:{camel}`)"
        )
    by_case = {k.lower(): k for k in known}
    close = [by_case[name.lower()]] if name.lower() in by_case else difflib.get_close_matches(name, known, n=3)
    if close:
        meant = " or ".join(f"{NAMESPACE}:{c}" for c in close)
        return f"{key} is not a known setting (a typo?): did you mean {meant}?"
    return f"{key} is not a known setting (a typo?): known keys are {', '.join(known_keys())}"


def _message(error: Any) -> str:
    key = _key_name(error["loc"]) if error["loc"] else "settings"
    if error["type"] == "missing":
        return f"{key} is required: {_HOW_TO_SET.get(key, f'set it with `pulumi config set {key} <value>`')}"
    if error["type"] == "extra_forbidden":
        if len(error["loc"]) > 1:  # a field inside an entry (extraEgress[0].descriptio): not a setting
            return f"{key} is not a field of this entry: see the README's settings table for its fields"
        return _unknown_key(key)
    ctx_error = error.get("ctx", {}).get("error")
    if isinstance(ctx_error, HardstackError):
        return str(ctx_error)
    return f"{key} = {shown(key, error['input'])} is refused: {error['msg'].removeprefix('Value error, ')}"


def provider_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The `aws:` keys of `config` the stack's provider is given; any other `aws:` key is refused."""
    out = {}
    for key, value in config.items():
        if not key.startswith("aws:"):
            continue
        if key in PROVIDER_KEYS:
            out[key] = value
        elif key == "aws:assumeRole":
            raise HardstackError(
                "aws:assumeRole is not a setting of the AWS provider version 7, which takes aws:assumeRoles, a list: "
                "`pulumi config set --path 'aws:assumeRoles[0].roleArn' <role ARN>`"
            )
        else:
            # The value is not shown: credentials (aws:secretKey, aws:token) are among such keys.
            raise HardstackError(
                f"{key} is not passed to the stack's AWS provider, which the program makes itself: it is given "
                f"{', '.join(PROVIDER_KEYS)}. Give credentials through the environment or aws:profile, "
                "and unset this key (`pulumi config rm " + key + "`)"
            )
    return out


#: Keys whose value is in every name or ARN the stack makes: no secret can hide it.
NEVER_SECRET = {
    f"{NAMESPACE}:environment": "it is part of every AWS name and tag of the stack",
    "aws:region": "it is part of every ARN and endpoint of the stack",
    # AWS: account IDs are not secret; every ARN of the stack shows this one.
    "aws:allowedAccountIds": "it is part of every ARN of the stack",
    f"{NAMESPACE}:namePrefix": "it starts every AWS name of the stack",
    f"{NAMESPACE}:azIds": "the subnets are placed by these public zone ids, which every plan and check shows",
    # Resource names are never secret: each flow and range names the rule it makes.
    **{
        f"{NAMESPACE}:{key}": "its ranges and ports name the rules made from them (resource names are never secret)"
        for key in ("extraIngress", "extraEgress", "deployerCidrs", "deployerSecurityGroupIds")
    },
}


def _scalar_keys() -> frozenset[str]:
    """The settings that hold a number or a flag: config text such as "8443" reaches the resources as
    a number, which no secret text can be found in."""
    scalar = {int, float, bool, int | None, float | None, bool | None}
    return frozenset(
        f"{NAMESPACE}:{f.alias}" for f in Settings.model_fields.values() if f.alias and f.annotation in scalar
    )


#: Keys the program hands over as secrets itself (the provider's settings, the kubeconfig, the
#: receivers' secrets): kept secret whatever their text.
_SECRET_WHERE_GIVEN = frozenset({*PROVIDER_KEYS, f"{NAMESPACE}:kubeconfig", f"{NAMESPACE}:alertSecrets"})


def check_secret_keys(config: Mapping[str, Any], secret: Collection[str]) -> None:
    """Refuse `--secret` where it would promise what it cannot keep: on a value that every name
    shows, or on one with no text to find where it lands (a number, a flag, very short text)."""
    problems = []
    for key in sorted(secret):
        if key in NEVER_SECRET:
            reason = NEVER_SECRET[key]
        elif key in _scalar_keys():
            reason = "it is a number or a flag, which the program cannot find where it lands to keep it secret"
        elif key not in _SECRET_WHERE_GIVEN and not secret_texts([config[key]]):
            reason = (
                f"it holds no text of {MIN_SECRET_TEXT} or more characters (a number, a flag, a short word), "
                "which the program cannot find where it lands to keep it secret"
            )
        else:
            continue
        problems.append(
            f"{key} is set with --secret, but it cannot be kept secret: {reason}. "
            f"Set it as plain config (`pulumi config set {key} <value>`)"
        )
    if problems:
        raise HardstackError("\n".join(problems))


def parse_settings(config: Mapping[str, Any], secret_keys: Collection[str] = ()) -> Settings:
    """Validate raw config (`{"aws:region": ..., "hardstack:vpcCidr": ...}`) against the profile.

    `secret_keys` are the config keys set with `--secret`: no message shows their values.
    """
    secret = frozenset(k for k in secret_keys if k in config)
    check_secret_keys(config, secret)
    with keeping_secret(secret):
        try:
            settings = _parse(config)
        except HardstackError as err:
            raise HardstackError(redact(str(err), [config[k] for k in secret], REDACTED)) from None
    settings._secret_keys = secret
    settings._secret_texts = secret_texts([config[k] for k in secret])
    return settings


def _parse(config: Mapping[str, Any]) -> Settings:
    known = set(known_keys())
    unknown = [_unknown_key(key) for key in config if key.startswith(f"{NAMESPACE}:") and key not in known]
    if unknown:
        raise HardstackError("\n".join(unknown))
    env = config.get(f"{NAMESPACE}:environment")
    if env is None:
        raise HardstackError(
            f"{NAMESPACE}:environment is required: a name such as test, preprod, prod or eu-prod "
            f"(`pulumi config set {NAMESPACE}:environment <name>`)"
        )
    if not isinstance(env, str) or not _ENVIRONMENT_NAME.match(env):
        raise refuse(f"{NAMESPACE}:environment", env, "1-32 lowercase letters, digits and '-', starting with a letter")
    raw_tier = config.get(f"{NAMESPACE}:tier", STACK_TIERS.get(env))
    if raw_tier is None:
        raise HardstackError(
            f"{NAMESPACE}:tier is required for environment {env!r}: one of {', '.join(TIERS)} "
            f"(`pulumi config set {NAMESPACE}:tier production`)"
        )
    tier = parse_tier(raw_tier, f"{NAMESPACE}:tier")
    floor = STACK_TIERS.get(env)
    if floor is not None and list(Tier).index(tier) < list(Tier).index(floor):
        # A lower tier would lift what the environment's name promises (prod's protection, WAF, backups).
        raise refuse(f"{NAMESPACE}:tier", tier.value, f"{floor.value} or stricter for environment {env!r}")
    values: dict[str, Any] = {**PROFILES[tier], "tier": tier}
    for key, value in config.items():
        ns, _, name = key.partition(":")
        if ns == NAMESPACE:
            values[name] = value
    values |= provider_config(config)
    try:
        return Settings.model_validate(values)
    except ValidationError as err:
        raise HardstackError("\n".join(_message(e) for e in err.errors())) from None


def _decode(value: str) -> Any:
    """Config arrives as strings; objects and lists travel as JSON."""
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


@dataclass(frozen=True)
class StackConfig:
    """The running stack's `aws:` and `hardstack:` config, decoded, and which of its keys are secret."""

    values: dict[str, Any]
    secret_keys: frozenset[str]


def read_config() -> StackConfig:
    """Every `aws:` and `hardstack:` config value of the running stack, decoded. The only reader."""
    import pulumi.runtime
    from pulumi.runtime import config as runtime_config

    raw: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    values = {
        k: _decode(v) if isinstance(v, str) else v for k, v in raw.items() if k.split(":")[0] in (NAMESPACE, "aws")
    }
    # The CLI's language host lists the keys set with --secret in the environment; the Automation
    # API (and a mock runtime) sets them with the config.
    listed = set(pulumi.runtime.get_config_secret_keys_env())
    secret = frozenset(k for k in values if k in listed or pulumi.runtime.is_config_secret(k))
    return StackConfig(values, secret)


def load_settings() -> Settings:
    config = read_config()
    return parse_settings(config.values, config.secret_keys)
