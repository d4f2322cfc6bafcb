"""The stack program: settings -> components -> exports.

Stages, each a function of the settings and what earlier stages built:
network and security groups (`lb` internet-facing, `app` the fleet's hosts, `nodes` the EKS nodes,
`data` databases),
the VM fleet behind the load balancer, the data tier, the Kubernetes cluster with the platform
baseline and the application, and supervision (CloudWatch alarms, Prometheus on the cluster).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from hardstack import (
    AwsContext,
    EncryptionKey,
    EncryptionKeyArgs,
    Flow,
    HardstackError,
    Network,
    NetworkArgs,
    Peer,
    Port,
    SecurityGroup,
    SecurityGroupArgs,
)
from hardstack.aws.alarms import AlbMetrics, FleetMetrics, RdsMetrics, ServiceAlarms, ServiceAlarmsArgs
from hardstack.aws.bucket import SecureBucket, SecureBucketArgs
from hardstack.aws.cluster import (
    Cluster,
    ClusterArgs,
    ExistingCluster,
    ExistingClusterArgs,
    NodeGroupSpec,
    RunningNodeGroup,
    cluster_name,
    irsa_trust_policy,
    node_group_versions,
    running_cluster_version,
    running_node_groups,
    validate_cluster_upgrade,
    validate_node_groups_caught_up,
)
from hardstack.aws.controller_roles import ControllerRoles, ControllerRolesArgs, issuer_of
from hardstack.aws.dashboard import Dashboard, DashboardArgs
from hardstack.aws.database import (
    Database,
    DatabaseArgs,
    database_identifier,
    running_engine_version,
    snapshot_storage,
    validate_restore,
    validate_upgrade,
)
from hardstack.aws.database_access import DatabaseAccess, DatabaseAccessArgs
from hardstack.aws.fleet import Fleet, FleetArgs
from hardstack.aws.iam import Statement, policy_document
from hardstack.aws.kms import autoscaling_service_statements, logs_service_statement
from hardstack.aws.load_balancer import LoadBalancer, LoadBalancerArgs
from hardstack.aws.network import deployed_zone_ids, offered_zone_ids
from hardstack.aws.topic import AlertTopic, AlertTopicArgs, cloudwatch_alarms_key_statement
from hardstack.aws.volumes import claim_volume_gb
from hardstack.aws.waf import WebFirewall, WebFirewallArgs
from hardstack.base.secrets import keep_secret, secret_if_held
from hardstack.core.addressing import check_az_ids_kept, check_az_ids_offered
from hardstack.core.ansible import render_inventory
from hardstack.core.database_roles import DatabaseRoles, bootstrap_sql, rds_db_user_arn
from hardstack.core.slo import SLO
from hardstack.core.userdata import NODE_EXPORTER_PORT
from hardstack.k8s.app import AlbIngress, App, AppArgs, DatabaseLogin, MigrationSpec
from hardstack.k8s.controllers import PlatformControllers, PlatformControllersArgs
from hardstack.k8s.database_roles import DatabaseBootstrap, DatabaseBootstrapArgs
from hardstack.k8s.egress_guard import EgressGuard, EgressGuardArgs
from hardstack.k8s.hosts import EC2_SD_POLICY, HostDiscovery
from hardstack.k8s.monitoring import (
    PROMETHEUS_SERVICE_ACCOUNT,
    Monitoring,
    MonitoringArgs,
    prometheus_claim,
    validate_volume_growth,
)
from hardstack.k8s.platform import PlatformBaseline, PlatformBaselineArgs
from stacks.settings import (
    APP_NAMESPACE,
    APP_RESOURCES,
    APP_SERVICE,
    BUILTIN_APP_EGRESS,
    BUILTIN_INGRESS,
    ClusterNames,
    Settings,
    load_settings,
)

#: Name of the managed EKS cluster component; its physical name (`cluster_name`) follows from it.
CLUSTER = "eks"
#: The stack's network: its subnets' names (and Name tags) start with it.
NETWORK = "net"
#: The schema the migration's login owns and the app's login reads and writes.
DB_SCHEMA = "app"
#: Service account of the Job that creates the database logins (its IRSA role reads the master secret).
DB_BOOTSTRAP_ACCOUNT = "db-bootstrap"
#: Namespaces every cluster has whose pods have no egress policy: kept off the database subnets.
SYSTEM_NAMESPACES = ("kube-system", "default")


@dataclass
class Base:
    """What every later stage builds on."""

    settings: Settings
    stack: str
    context: AwsContext
    opts: pulumi.ResourceOptions
    provider: aws.Provider
    keys: dict[str, EncryptionKey] = field(default_factory=dict)
    network: Network = field(init=False)
    #: Namespaces, StorageClass and Helm release names in the cluster (per stack on a shared cluster).
    names: ClusterNames = field(init=False)
    groups: dict[str, SecurityGroup] = field(default_factory=dict)
    autoscaling_role: list[pulumi.Resource] = field(default_factory=list)
    deployer_arn: str | None = None
    db_running_version: str | None = None
    cluster_running_version: str | None = None
    #: The node groups the running cluster has, by EKS name (their versions and sizes).
    cluster_node_groups: dict[str, RunningNodeGroup] = field(default_factory=dict)
    #: Size in GiB of the Prometheus volume now; None before the first `up` that makes it.
    prometheus_volume_applied: int | None = None
    waf_acl_arn: pulumi.Output[str] | None = None
    #: Buckets whose server access logs go to the access-log bucket, by prefix.
    logged_buckets: dict[str, SecureBucket] = field(default_factory=dict)

    def database_cidrs(self) -> list[str]:
        """The isolated subnets the database lives in: what pods may, or must not, reach."""
        return [s.cidr for s in self.network.plan.of_tier("isolated")]

    def key(
        self,
        name: str,
        description: str,
        statements: list[dict[str, Any]] | None = None,
        after: list[pulumi.Resource] | None = None,
    ) -> EncryptionKey:
        key = EncryptionKey(
            name,
            EncryptionKeyArgs(
                context=self.context,
                description=f"hardstack {self.stack}: {description}",
                service_statements=statements or [],
                tier=self.settings.tier,
                protect=self.settings.protect,
            ),
            pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(depends_on=after or [])),
        )
        self.keys[name] = key
        return key


#: podinfo's `path` label of the kubelet's probes (/healthz, /readyz): its route with '/' trimmed.
PROBE_PATH_LABELS = ("healthz", "readyz")
#: Settings that reach the Alertmanager configuration in the monitoring release's values.
ALERTMANAGER_KEYS = frozenset({"hardstack:alertReceivers", "hardstack:alertRoutes", "hardstack:heartbeatReceiver"})
#: Service label of the VM fleet's SLO (CloudWatch, at its load balancer).
FLEET_SLO_SERVICE = "fleet"


def app_slo(settings: Settings, namespace: str = APP_NAMESPACE) -> SLO:
    """The cluster application's availability, measured by Prometheus from the pods' own request
    metrics: non-5xx responses over all responses, the kubelet's probes left out (they are not users)."""
    selector = f'namespace="{namespace}", service="{APP_SERVICE}", path!~"{"|".join(PROBE_PATH_LABELS)}"'
    return SLO(
        APP_SERVICE,
        settings.app_slo_objective,
        error_query=f'http_request_duration_seconds_count{{{selector}, status=~"5.."}}',
        total_query=f"http_request_duration_seconds_count{{{selector}}}",
        description="Cluster: requests to the pods behind the Ingress served without a server error.",
    )


def fleet_slo(settings: Settings) -> SLO:
    """The VM fleet's availability, measured by CloudWatch at its load balancer (ServiceAlarms):
    target and load balancer 5xx over requests. Its PromQL queries name the hosts' app counters for
    reference only: CloudWatch alarms never compile them, and no Prometheus rule is made from it."""
    return SLO(
        FLEET_SLO_SERVICE,
        settings.app_slo_objective,
        error_query=f'http_requests_total{{job="{FLEET_SLO_SERVICE}", status=~"5.."}}',
        total_query=f'http_requests_total{{job="{FLEET_SLO_SERVICE}"}}',
        description="VM fleet: requests through its load balancer answered without a 5xx, the ALB's own included.",
    )


def provider_args(settings: Settings, tags: dict[str, str]) -> aws.ProviderArgs:
    """The stack's AWS provider: an explicit provider reads no `aws:` stack config, so the settings
    hand it each `aws:` key they accept (and refuse the others)."""

    def kept(key: str, value: Any) -> Any:
        # A value set with --secret stays secret in the provider's inputs, hence in the state.
        return pulumi.Output.secret(value) if value is not None and key in settings.secret_keys else value

    roles = [
        aws.ProviderAssumeRoleArgs(
            role_arn=role.role_arn,
            session_name=role.session_name,
            external_id=role.external_id,
            duration=role.duration,
            source_identity=role.source_identity,
            policy=role.policy,
            policy_arns=list(role.policy_arns) or None,
            tags=role.tags or None,
            transitive_tag_keys=list(role.transitive_tag_keys) or None,
        )
        for role in settings.aws_assume_roles
    ] or None
    return aws.ProviderArgs(
        region=settings.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
        profile=kept("aws:profile", settings.aws_profile),
        assume_roles=kept("aws:assumeRoles", roles),
        # The provider refuses to act with credentials of any other account.
        allowed_account_ids=kept("aws:allowedAccountIds", list(settings.aws_allowed_account_ids) or None),
    )


def build_network(settings: Settings) -> Base:
    project, stack = pulumi.get_project(), pulumi.get_stack()
    naming = settings.naming(project, stack)  # a stack name AWS would refuse fails here, before any resource
    tags = settings.base_tags(project, stack)
    provider = aws.Provider("aws", provider_args(settings, tags))
    opts = pulumi.ResourceOptions(provider=provider)
    context = AwsContext.lookup(
        settings.region,
        pulumi.InvokeOptions(provider=provider),
        naming=naming,
        iam_path=settings.iam_path,
        permissions_boundary_arn=settings.permissions_boundary_arn,
        # Provider default tags never reach what Auto Scaling and node groups launch: the launch
        # templates carry these.
        tags=tags,
    )
    base = Base(settings, stack, context, opts, provider)
    base.names = settings.cluster_names(naming)  # a name Kubernetes would refuse fails here too
    base.autoscaling_role = autoscaling_role(base)  # first: a missing role fails before any cloud resource
    # The running database decides whether a new dbEngineVersion is an upgrade, and refuses a downgrade.
    base.db_running_version = running_engine_version(database_identifier(naming, "main"), opts)
    validate_upgrade(base.db_running_version, settings.db_engine_version, "hardstack:dbEngineVersion")
    if settings.db_snapshot_identifier is not None and base.db_running_version is None:
        # A new instance restores from the snapshot: it must hold the snapshot's storage and major.
        validate_restore(
            snapshot_storage(settings.db_snapshot_identifier, opts, "hardstack:dbSnapshotIdentifier"),
            settings.db_allocated_storage_gb,
            settings.db_engine_version,
            settings.db_snapshot_identifier,
            ("hardstack:dbAllocatedStorageGb", "hardstack:dbEngineVersion"),
        )
    if settings.cluster_mode == "managed":
        # So does the running control plane for clusterVersion: the next minor at most, never back.
        physical = cluster_name(naming, CLUSTER)
        running = base.cluster_running_version = running_cluster_version(physical, opts)
        upgrade = validate_cluster_upgrade(running, settings.cluster_version, "hardstack:clusterVersion")
        if running is not None:
            # Their sizes decide what a change of node bounds sends; their versions, whether an upgrade may go.
            base.cluster_node_groups = running_node_groups(physical, opts)
        if upgrade and running is not None:
            # An upgrade waits for the node groups to catch up with the running control plane (EKS's rule).
            versions = node_group_versions(base.cluster_node_groups)
            validate_node_groups_caught_up(running, versions, settings.cluster_version, "hardstack:clusterVersion")
    # A new managed cluster has no Prometheus claim yet: a volume of a destroyed one is not its disk.
    new_cluster = settings.cluster_mode == "managed" and base.cluster_running_version is None
    if settings.installs_monitoring and not new_cluster:
        # The Prometheus volume as it is decides what may be asked of it: never a smaller one.
        scope = {key: tags[key] for key in ("Project", "Stack")}
        names = base.names
        base.prometheus_volume_applied = claim_volume_gb(
            names.monitoring_namespace,
            prometheus_claim(names.monitoring_release),
            scope,
            opts,
            "hardstack:prometheusVolumeGb",
        )
        validate_volume_growth(
            base.prometheus_volume_applied, settings.prometheus_volume_gb, "hardstack:prometheusVolumeGb"
        )
    # The pinned AZ ids against the zones this account has in the region: a typo fails here, not at CreateSubnet.
    zone_ids = offered_zone_ids(pulumi.InvokeOptions(provider=provider))
    check_az_ids_offered(settings.az_ids, zone_ids, settings.region, "hardstack:azIds")
    # Deployed subnets keep their AZ: a reordered, dropped or swapped id would replace them. Read on
    # every up (a first one lists none), also after an up that failed once the subnets existed.
    scope = {key: tags[key] for key in ("Project", "Stack")}
    deployed = deployed_zone_ids(NETWORK, scope, pulumi.InvokeOptions(provider=provider))
    check_az_ids_kept(deployed, settings.az_ids, "hardstack:azIds")
    if settings.cluster_mode == "managed" and settings.cluster_kubeconfig_role_arn is None:
        base.deployer_arn = context.deployer_principal_arn(pulumi.InvokeOptions(provider=provider))
    logs_key = base.key("logs", "CloudWatch log groups", [logs_service_statement(context)])
    base.network = network = Network(
        NETWORK,
        NetworkArgs(
            context=context,
            cidr=settings.vpc_cidr,
            az_count=settings.az_count,
            availability_zone_ids=settings.az_ids,
            offered_zone_ids=zone_ids,
            nat=settings.nat_strategy,
            interface_endpoints=settings.interface_endpoints(),
            tier=settings.tier,
            flow_logs=settings.flow_logs,
            log_retention_days=settings.log_retention_days,
            log_key_arn=logs_key.arn,
            protect=settings.protect,
        ),
        opts,
    )
    extra = {target: [r.flow() for r in settings.extra_ingress if r.to == target] for target in ("lb", "app", "data")}
    lb = SecurityGroup(
        "lb",
        SecurityGroupArgs(
            vpc_id=network.vpc_id,
            description="internet-facing load balancer",
            ingress=[*BUILTIN_INGRESS["lb"], *extra["lb"]],
        ),
        opts,
    )
    app = SecurityGroup(
        "app",
        SecurityGroupArgs(
            vpc_id=network.vpc_id,
            description="application hosts and workloads",
            egress=[*BUILTIN_APP_EGRESS, *(r.flow() for r in settings.extra_egress)],
            ingress=extra["app"],
        ),
        opts,
    )
    data = SecurityGroup(
        "data",
        SecurityGroupArgs(vpc_id=network.vpc_id, description="databases, no egress", ingress=extra["data"]),
        opts,
    )
    app.allow_from(lb, Port.tcp(settings.serving_port), "load balancer to the application port")
    data.allow_from(app, Port.POSTGRES, "application to PostgreSQL")
    base.groups = {"lb": lb, "app": app, "data": data}
    if settings.cluster_mode == "managed":
        # The EKS nodes get a group of their own (beside the cluster group EKS manages): the load
        # balancer reaches only the fleet; the database admits the nodes, and NetworkPolicies let
        # only the app's pods use that.
        nodes = SecurityGroup(
            "nodes",
            SecurityGroupArgs(
                vpc_id=network.vpc_id,
                description="EKS nodes and their pods",
                egress=[Flow(Port.HTTPS, Peer.any_ipv4(), "HTTPS to AWS APIs and image registries")],
            ),
            opts,
        )
        data.allow_from(nodes, Port.POSTGRES, "cluster nodes to PostgreSQL, app pods only by NetworkPolicy")
        base.groups["nodes"] = nodes
    return base


AUTOSCALING_ROLE = "AWSServiceRoleForAutoScaling"


def autoscaling_role(base: Base) -> list[pulumi.Resource]:
    """The account's Auto Scaling service-linked role: created here when asked, else checked to exist."""
    if base.settings.create_auto_scaling_service_role:
        role = aws.iam.ServiceLinkedRole(
            "autoscaling",
            aws_service_name="autoscaling.amazonaws.com",
            # Account-wide, shared with every group of the account: a stack's destroy leaves it.
            opts=pulumi.ResourceOptions.merge(base.opts, pulumi.ResourceOptions(retain_on_delete=True)),
        )
        return [role]
    try:
        aws.iam.get_role(name=AUTOSCALING_ROLE, opts=pulumi.InvokeOptions(provider=base.provider))
    except Exception as err:  # the invoke's own error says only "not found"
        raise HardstackError(
            f"{AUTOSCALING_ROLE} does not exist in this account (the volumes key policy names it): set "
            "`pulumi config set hardstack:createAutoScalingServiceRole true` to create it with the stack, or "
            "run `aws iam create-service-linked-role --aws-service-name autoscaling.amazonaws.com` once"
        ) from err
    return []


def fleet_service(
    base: Base, db: Database, bucket: SecureBucket
) -> tuple[dict[str, pulumi.Input[str]], list[Statement]]:
    """What the hosts' service gets, as the cluster app does: its own database login (IAM
    authentication, never the master password) and the app bucket, through the instance role."""
    settings, ctx = base.settings, base.context
    config: dict[str, pulumi.Input[str]] = {
        "PGHOST": db.address,
        "PGPORT": db.port.apply(str),
        "PGDATABASE": db.initial_database,
        "PGUSER": settings.db_app_user,
        "PGSSLMODE": "require",
        "APP_BUCKET": bucket.bucket,
    }
    login = pulumi.Output.all(ctx.account_id, db.resource_id).apply(
        lambda v: rds_db_user_arn(ctx.partition, ctx.region, v[0], v[1], settings.db_app_user)
    )
    statements: list[Statement] = [
        # A token for exactly the app's login of exactly this instance.
        {"Sid": "ConnectAsAppLogin", "Effect": "Allow", "Action": "rds-db:connect", "Resource": login},
        *app_bucket_statements(base, bucket),
    ]
    return config, statements


def app_bucket_statements(base: Base, bucket: SecureBucket) -> list[Statement]:
    """What the app needs of its bucket, on the fleet's hosts and in the cluster's pods alike: its
    objects, its listing, and its key through S3 for this bucket only."""
    return [
        {
            "Sid": "UseAppBucket",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": pulumi.Output.concat(bucket.arn, "/*"),
        },
        {"Sid": "ListAppBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket.arn},
        {
            # The data key also holds the database and its master secret: S3 only, and S3's encryption
            # context names the bucket (with an S3 Bucket Key) or the object (without).
            "Sid": "AppBucketKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": base.keys["data"].arn,
            "Condition": {
                "StringEquals": {"kms:ViaService": f"s3.{base.context.region}.amazonaws.com"},
                "StringLike": {
                    "kms:EncryptionContext:aws:s3:arn": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")]
                },
            },
        },
    ]


def build_fleet(base: Base, db: Database, bucket: SecureBucket) -> tuple[LoadBalancer, Fleet, pulumi.Output[str]]:
    settings, context, opts = base.settings, base.context, base.opts
    config, statements = fleet_service(base, db, bucket)
    # KMS refuses a key policy that names a principal that does not exist: the Auto Scaling
    # service-linked role must exist before the volumes key.
    volumes_key = base.key(
        "volumes", "EBS volumes", autoscaling_service_statements(context), after=base.autoscaling_role
    )
    boot = settings.fleet_boot()
    alb = LoadBalancer(
        "web",
        LoadBalancerArgs(
            context=context,
            vpc_id=base.network.vpc_id,
            # An internet-facing ALB is refused until its subnets route to the internet gateway.
            subnet_ids=base.network.routed_subnet_ids["public"],
            security_group_id=base.groups["lb"].id,
            # While the hosts move to a new app port, the target group stays on the one they all answer.
            app_port=settings.serving_port,
            health_check_path=boot.health_path,
            certificate_arn=settings.certificate_arn,
            allow_plain_http=not settings.tier.serves_https_only,
            tier=settings.tier,
            deletion_protection=settings.alb_deletion_protection,
            access_logs=settings.alb_access_logs,
            log_retention_days=settings.log_retention_days,
            protect=settings.protect,
        ),
        opts,
    )
    fleet = Fleet(
        "app",
        FleetArgs(
            context=context,
            # Hosts boot once: they start only when their subnets route out (NAT or endpoints).
            subnet_ids=base.network.routed_subnet_ids["private"],
            security_group_ids=[base.groups["app"].id],
            image_id=settings.fleet_image_id,
            instance_type=settings.fleet_instance_type,
            min_size=settings.fleet_min_size,
            max_size=settings.fleet_max_size,
            desired_capacity=settings.fleet_desired_capacity,
            boot=boot,
            config=config,
            statements=statements,
            kms_key_arn=volumes_key.arn,
            log_key_arn=base.keys["logs"].arn,
            log_retention_days=settings.log_retention_days,
            target_group_arns=[alb.target_group_arn],
            min_healthy_percentage=settings.fleet_refresh_min_healthy,
            max_healthy_percentage=settings.fleet_refresh_max_healthy,
            # Hosts of a bad release fail their checks: the refresh stops instead of rolling on.
            rollout_alarm_names=[alb.unhealthy_targets_alarm],
            protect=settings.protect,
            environment=settings.environment,
            tier=settings.tier,
            role=APP_SERVICE,
        ),
        opts,
    )
    # Ansible's SSM connection moves module files through a bucket; objects live a day.
    transfer = SecureBucket(
        "ansible-transfer",
        SecureBucketArgs(
            versioning=False,
            expiration_days=1,
            noncurrent_version_days=1,  # versions left from before versioning was suspended go too
            tier=settings.tier,
            protect=settings.protect,
        ),
        opts,
    )
    base.logged_buckets["ansible-transfer"] = transfer
    base.logged_buckets["fleet-artefacts"] = fleet.artefacts
    if alb.access_log_bucket is not None:
        base.logged_buckets["alb-logs"] = alb.access_log_bucket
    inventory = transfer.bucket.apply(
        lambda bucket: render_inventory(
            region=settings.region,
            environment=settings.environment,
            role=APP_SERVICE,
            ssm_bucket=bucket,
            fleet=fleet.fleet_id,
        )
    )
    return alb, fleet, inventory


def build_waf(base: Base, alb: LoadBalancer) -> WebFirewall | None:
    """The web ACL in front of the fleet's load balancer and, through its Ingress, the app's."""
    settings = base.settings
    if not settings.waf:
        return None
    waf = WebFirewall(
        "web",
        WebFirewallArgs(
            context=base.context,
            log_key_arn=base.keys["logs"].arn,
            load_balancer_arns={"web": alb.arn},
            rate_limit=settings.waf_rate_limit,
            log_retention_days=settings.log_retention_days,
            tier=settings.tier,
            protect=settings.protect,
        ),
        base.opts,
    )
    base.waf_acl_arn = waf.arn
    return waf


def build_data(base: Base) -> tuple[Database, SecureBucket]:
    settings = base.settings
    data_key = base.key("data", "database, its master secret and the application bucket")
    # The application's objects: versioned, SSE-KMS, private, TLS only, old versions expire.
    bucket = SecureBucket(
        "app-data", SecureBucketArgs(kms_key_arn=data_key.arn, tier=settings.tier, protect=settings.protect), base.opts
    )
    database = Database(
        "main",
        DatabaseArgs(
            context=base.context,
            subnet_ids=base.network.subnet_ids["isolated"],
            security_group_ids=[base.groups["data"].id],
            kms_key_arn=data_key.arn,
            log_key_arn=base.keys["logs"].arn,
            tier=settings.tier,
            engine_version=settings.db_engine_version,
            instance_class=settings.db_instance_class,
            allocated_storage_gb=settings.db_allocated_storage_gb,
            max_allocated_storage_gb=settings.db_max_allocated_storage_gb,
            multi_az=settings.db_multi_az,
            backup_retention_days=settings.db_backup_retention_days,
            deletion_protection=settings.db_deletion_protection,
            snapshot_identifier=settings.db_snapshot_identifier,
            apply_immediately=settings.db_apply_immediately,
            running_version=base.db_running_version,
            log_retention_days=settings.log_retention_days,
            protect=settings.protect,
        ),
        base.opts,
    )
    return database, bucket


def build_access_logs(base: Base, bucket: SecureBucket) -> SecureBucket:
    """Who read or wrote which object: every bucket's server access logs (SSE-S3, as S3 delivery needs)."""
    settings = base.settings
    return SecureBucket(
        "s3-access-logs",
        SecureBucketArgs(
            context=base.context,
            access_log_sources={"app-data": bucket, **base.logged_buckets},
            expiration_days=settings.log_retention_days,
            # S3 keeps delivering logs: the tier's rule (emptied unless protected or production) applies.
            tier=settings.tier,
            protect=settings.protect,
        ),
        base.opts,
    )


def build_cluster(base: Base) -> tuple[k8s.Provider, Cluster | None]:
    settings = base.settings
    if settings.cluster_mode == "existing":
        existing = ExistingCluster(
            "cluster", ExistingClusterArgs(kubeconfig=pulumi.Output.secret(settings.kubeconfig or "")), base.opts
        )
        return existing.provider, None
    secrets_key = base.key("eks-secrets", "Kubernetes secrets")
    cluster = Cluster(
        CLUSTER,
        ClusterArgs(
            context=base.context,
            version=settings.cluster_version,
            running_version=base.cluster_running_version,  # read and checked in build_network
            running_node_groups=base.cluster_node_groups,
            vpc_id=base.network.vpc_id,
            subnet_ids=base.network.subnet_ids["private"],
            node_subnet_ids=base.network.routed_subnet_ids["private"],
            tier=settings.tier,
            secrets_key_arn=secrets_key.arn,
            volume_key_arn=base.keys["volumes"].arn,
            log_key_arn=base.keys["logs"].arn,
            log_retention_days=settings.log_retention_days,
            admin_role_arns=settings.cluster_admin_role_arns,
            readonly_role_arns=settings.cluster_readonly_role_arns,
            kubeconfig_role_arn=settings.cluster_kubeconfig_role_arn,
            # Whoever runs `pulumi up` signs the Kubernetes provider in when the kubeconfig assumes no role.
            deployer_principal_arn=base.deployer_arn,
            # The Kubernetes provider signs in with the AWS provider's profile.
            deployer_profile=settings.aws_profile,
            endpoint_public_access=settings.deployer_location == "internet",
            public_access_cidrs=settings.deployer_cidrs if settings.deployer_location == "internet" else (),
            deployer_cidrs=settings.deployer_cidrs if settings.deployer_location == "vpc" else (),
            deployer_security_group_ids=list(settings.deployer_security_group_ids),
            node_groups=[
                NodeGroupSpec(
                    name="general",
                    instance_types=settings.cluster_node_instance_types,
                    min_size=settings.cluster_node_min_size,
                    max_size=settings.cluster_node_max_size,
                    desired_size=settings.cluster_node_desired_size,
                )
            ],
            node_security_group_ids=[base.groups["nodes"].id],
            addon_versions=settings.cluster_addon_versions or None,
            protect=settings.protect,
        ),
        base.opts,
    )
    return cluster.provider, cluster


def build_controllers(base: Base, k8s_provider: k8s.Provider, cluster: Cluster | None) -> PlatformControllers:
    """metrics-server, the Cluster Autoscaler and the AWS Load Balancer Controller, as the settings ask."""
    settings = base.settings
    autoscaler, balancer = settings.installs_cluster_autoscaler, settings.installs_load_balancer_controller
    name: pulumi.Input[str]
    provider_arn: pulumi.Input[str]
    issuer: pulumi.Input[str]
    vpc_id: pulumi.Input[str] | None
    if cluster is not None:
        name, provider_arn, issuer = cluster.cluster_name, cluster.oidc_provider_arn, cluster.oidc_provider_url
        vpc_id = cluster.vpc_id
    else:  # existing: the settings refused these controllers unless the cluster's identity is given
        arn = settings.existing_cluster_oidc_provider_arn
        name, provider_arn, issuer = settings.existing_cluster_name or "", arn or "", issuer_of(arn) if arn else ""
        vpc_id = settings.existing_cluster_vpc_id
    roles = (
        ControllerRoles(
            "controllers",
            ControllerRolesArgs(
                context=base.context,
                cluster_name=name,
                oidc_provider_arn=provider_arn,
                oidc_issuer=issuer,
                cluster_autoscaler=autoscaler,
                load_balancer_controller=balancer,
            ),
            base.opts,
        )
        if autoscaler or balancer
        else None
    )
    return PlatformControllers(
        "controllers",
        PlatformControllersArgs(
            cluster_name=name,
            region=settings.region,
            kubernetes_version=settings.cluster_version,
            tier=settings.tier,
            metrics_server=settings.metrics_server,
            cluster_autoscaler_role_arn=roles.cluster_autoscaler_role_arn if roles else None,
            load_balancer_controller_role_arn=roles.load_balancer_controller_role_arn if roles else None,
            vpc_id=vpc_id,
            node_groups=cluster.node_groups if cluster is not None else (),
            role_policies=roles.policies if roles else (),
            # The app's Ingress carries the stack's web ACL where there is one (preprod, prod).
            web_acl=settings.waf,
            tags=base.context.tags,
        ),
        pulumi.ResourceOptions(provider=k8s_provider),
    )


#: Makes the load balancer controller's webhook add a readiness gate to the app's pods: a rollout
#: waits for each new pod to be healthy in the ALB before it stops an old one.
READINESS_GATE_LABEL = {"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"}


def database_roles(settings: Settings, db: Database) -> DatabaseRoles:
    """The app's and the migration's PostgreSQL logins and the schema they share."""
    return DatabaseRoles(
        database=db.initial_database,
        schema=DB_SCHEMA,
        app_user=settings.db_app_user,
        migration_user=settings.db_migration_user,
        master_user=db.master_username,
    )


def database_logins(
    base: Base,
    db: Database,
    bucket: SecureBucket,
    cluster: Cluster,
    k8s_provider: k8s.Provider,
    after: list[pulumi.Resource],
) -> tuple[DatabaseLogin, DatabaseLogin, DatabaseBootstrap, DatabaseAccess]:
    """The app's and the migration's own PostgreSQL logins (IAM authentication), created in-cluster.
    The app's role (its pods' service account's) also uses the app bucket, as the fleet's hosts do."""
    settings = base.settings
    roles = database_roles(settings, db)
    access = DatabaseAccess(
        "db-access",
        DatabaseAccessArgs(
            context=base.context,
            roles=roles,
            resource_id=db.resource_id,
            master_user_secret_arn=db.master_user_secret_arn,
            master_secret_key_arn=base.keys["data"].arn,
            oidc_provider_arn=cluster.oidc_provider_arn,
            oidc_issuer=cluster.oidc_provider_url,
            namespace=base.names.app_namespace,
            app_service_account=APP_SERVICE,
            migration_service_account=f"{APP_SERVICE}-migrate",
            bootstrap_service_account=DB_BOOTSTRAP_ACCOUNT,
            app_statements=app_bucket_statements(base, bucket),
        ),
        base.opts,
    )
    isolated = base.database_cidrs()
    bootstrap = DatabaseBootstrap(
        "db-bootstrap",
        DatabaseBootstrapArgs(
            namespace=base.names.app_namespace,
            roles=roles,
            host=db.address,
            port=db.port,
            master_user=db.username,
            master_user_secret_arn=db.master_user_secret_arn,
            role_arn=access.bootstrap_role_arn,
            region=settings.region,
            database_cidrs=isolated,
            service_account=DB_BOOTSTRAP_ACCOUNT,
            tier=settings.tier,
        ),
        # The role's policy must be attached before the Job asks for the secret; the namespace is by name.
        pulumi.ResourceOptions(provider=k8s_provider, depends_on=[access, *after]),
    )

    def login(user: str, role: pulumi.Output[str]) -> DatabaseLogin:
        return DatabaseLogin(host=db.address, port=db.port, database=roles.database, user=user, role_arn=role)

    return (
        login(roles.app_user, access.app_role_arn),
        login(roles.migration_user, access.migration_role_arn),
        bootstrap,
        access,
    )


@dataclass
class Workloads:
    """What the cluster runs of the stack: the app, the platform baseline and, on a managed cluster,
    the app's IAM role (IRSA: its database login and its bucket)."""

    app: App
    platform: PlatformBaseline
    app_role_arn: pulumi.Output[str] | None = None


def build_workloads(
    base: Base,
    k8s_provider: k8s.Provider,
    db: Database,
    bucket: SecureBucket,
    controllers: PlatformControllers,
    cluster: Cluster | None = None,
) -> Workloads:
    settings, names = base.settings, base.names
    k8s_opts = pulumi.ResourceOptions(provider=k8s_provider)
    balancer = controllers.load_balancer_controller
    baseline = PlatformBaseline(
        "platform",
        PlatformBaselineArgs(
            namespaces=[names.app_namespace],
            namespace_labels=READINESS_GATE_LABEL if balancer is not None else {},
            storage_class_name=names.storage_class,
            make_default_storage_class=names.default_storage_class,
            volume_kms_key_arn=base.keys["volumes"].arn,
            tier=settings.tier,
            protect=settings.protect,
        ),
        k8s_opts,
    )
    # IRSA needs the cluster's OIDC provider: a cluster managed elsewhere gets no database login here
    # (it runs outside this VPC, and the data group admits only this stack's fleet and nodes), and its
    # system namespaces are its owner's.
    app_login = migration_login = None
    app_role_arn: pulumi.Output[str] | None = None
    after: list[pulumi.Resource] = [baseline]
    if cluster is not None:
        # The nodes' group reaches the database; of the pods, only the app's namespace may (its own policies).
        isolated = base.database_cidrs()
        EgressGuard("database", EgressGuardArgs(namespaces=list(SYSTEM_NAMESPACES), cidrs=isolated), k8s_opts)
        app_login, migration_login, bootstrap, access = database_logins(
            base, db, bucket, cluster, k8s_provider, [baseline]
        )
        app_role_arn = access.app_role_arn
        after.append(bootstrap)  # the logins exist before the migration or the app connects
    elif settings.existing_cluster_oidc_provider_arn is not None:
        # An existing EKS cluster's OIDC provider: the pods get a role of their own for the bucket.
        pod_role, pod_policy = existing_cluster_app_role(base, bucket, settings.existing_cluster_oidc_provider_arn)
        app_role_arn = pod_role.arn
        after.append(pod_policy)  # the pods start with their permissions in place
    migration = (
        MigrationSpec(image=settings.app_image, command=settings.app_migration_command, database=migration_login)
        if settings.app_migration_command
        else None
    )
    app = App(
        APP_SERVICE,
        AppArgs(
            namespace=names.app_namespace,
            # Prometheus scrapes the app from there: on a shared existing cluster, a per-stack name.
            monitoring_namespace=names.monitoring_namespace,
            tier=settings.tier,
            image=settings.app_image,
            replicas=settings.app_replicas,
            hpa_max_replicas=settings.app_max_replicas,
            ingress_class=settings.ingress_class,
            host=settings.app_host,
            resources=APP_RESOURCES,
            database=app_login,
            role_arn=app_role_arn if app_login is None else None,
            migration=migration,
            # Where its role may read and write: the pods find the bucket as the hosts do.
            env={"APP_BUCKET": bucket.bucket, "AWS_REGION": settings.region} if app_role_arn is not None else {},
            database_cidrs=base.database_cidrs() if app_login is not None else [],
            # IAM database tokens need credentials from STS (the IRSA token exchange), over HTTPS.
            # Behind NAT (a managed cluster always is): STS and the app bucket are outside the VPC.
            egress=[Flow(Port.HTTPS, Peer.any_ipv4(), "STS for IAM database authentication")]
            if app_login is not None
            # An existing cluster's network is its own: its pods reach STS and S3 however it routes.
            else [Flow(Port.HTTPS, Peer.any_ipv4(), "STS and S3 for the pods IAM role")]
            if app_role_arn is not None
            else [],
            load_balancer=(
                # The ALB sits in the public subnets and connects to the pods from there.
                AlbIngress(
                    # An existing cluster's ALB is in that cluster's VPC (the settings require its CIDRs).
                    source_cidrs=list(settings.existing_cluster_load_balancer_cidrs)
                    or [s.cidr for s in base.network.plan.of_tier("public")],
                    certificate_arn=settings.certificate_arn,
                )
                if settings.ingress_class == "alb"
                else None
            ),
            waf_acl_arn=base.waf_acl_arn,
        ),
        # Its namespace and the database logins are referenced by name. After the load balancer
        # controller: its webhook admits the Ingress, and on destroy the Ingress goes first, so the
        # controller deletes its ALB while it still runs.
        pulumi.ResourceOptions(
            provider=k8s_provider, depends_on=[*after, *([balancer] if balancer is not None else [])]
        ),
    )
    return Workloads(app, baseline, app_role_arn)


def existing_cluster_app_role(
    base: Base, bucket: SecureBucket, provider_arn: str
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """The app's IRSA role on an existing EKS cluster: its bucket, as on the fleet's hosts."""
    role = aws.iam.Role(
        "app-pods",
        **base.context.role_args(),
        description="IRSA: the app's pods on the existing cluster use the app bucket",
        assume_role_policy=irsa_trust_policy(
            provider_arn, issuer_of(provider_arn), base.names.app_namespace, APP_SERVICE
        ),
        opts=base.opts,
    )
    policy = aws.iam.RolePolicy(
        "app-pods", role=role.id, policy=policy_document(app_bucket_statements(base, bucket)), opts=base.opts
    )
    return role, policy


def host_supervision(base: Base, cluster: Cluster, fleet: Fleet) -> tuple[HostDiscovery, aws.iam.RolePolicy]:
    """Prometheus on the managed cluster finds the fleet's hosts by their tags (EC2 service discovery,
    with its own IRSA role) and scrapes node_exporter through a rule open to the cluster nodes only."""
    role = aws.iam.Role(
        "prometheus-ec2-sd",
        **base.context.role_args(),
        description="IRSA: Prometheus discovers the fleet's hosts",
        assume_role_policy=irsa_trust_policy(
            cluster.oidc_provider_arn,
            cluster.oidc_provider_url,
            base.names.monitoring_namespace,
            PROMETHEUS_SERVICE_ACCOUNT,
        ),
        opts=base.opts,
    )
    # Resource "*": DescribeInstances and DescribeAvailabilityZones have no resource-level permissions.
    policy = aws.iam.RolePolicy("prometheus-ec2-sd", role=role.id, policy=json.dumps(EC2_SD_POLICY), opts=base.opts)
    # Pods share their node's ENIs and security groups; only cluster nodes carry the EKS cluster group,
    # whose egress EKS leaves open. Fleet hosts do not carry it, so they cannot scrape each other.
    base.groups["app"].allow_ingress(
        Flow(
            Port.tcp(NODE_EXPORTER_PORT),
            Peer.group(cluster.cluster_security_group_id, "eks-cluster"),
            "node_exporter scraped by Prometheus on the cluster nodes",
        )
    )
    discovery = HostDiscovery(
        region=base.settings.region,
        environment=base.settings.environment,
        role=APP_SERVICE,
        fleet=fleet.fleet_id,
        role_arn=role.arn,
    )
    return discovery, policy


def build_supervision(
    base: Base,
    alb: LoadBalancer,
    fleet: Fleet,
    db: Database,
    k8s_provider: k8s.Provider | None,
    platform: PlatformBaseline | None,
    cluster: Cluster | None = None,
) -> AlertTopic:
    settings, context = base.settings, base.context
    alerts_key = base.key("alerts", "alert topic", [cloudwatch_alarms_key_statement(context)])
    alerts = AlertTopic(
        "alerts",
        AlertTopicArgs(
            context=context,
            kms_key_arn=alerts_key.arn,
            subscriptions=settings.subscriptions(),
            secret_endpoints="hardstack:alertSubscriptions" in settings.secret_keys,
        ),
        base.opts,
    )
    thresholds = settings.thresholds()
    watched_fleet = FleetMetrics(asg_name=fleet.group_name)
    watched_alb = AlbMetrics(load_balancer=alb.arn_suffix, target_group=alb.target_group_arn_suffix)
    watched_db = RdsMetrics(db_instance_identifier=db.identifier)
    ServiceAlarms(
        "app",
        ServiceAlarmsArgs(
            topic_arn=alerts.arn,
            tier=settings.tier,
            naming=context.names,
            thresholds=thresholds,
            fleet=watched_fleet,
            alb=watched_alb,
            rds=watched_db,
            failed_deliveries_topic_name=alerts.name,
            slos=[fleet_slo(settings)],  # the fleet behind the ALB; the cluster app's SLO is Prometheus's
        ),
        base.opts,
    )
    Dashboard(
        "app",
        DashboardArgs(
            context=context,
            tier=settings.tier,
            thresholds=thresholds,
            fleet=watched_fleet,
            alb=watched_alb,
            rds=watched_db,
        ),
        base.opts,
    )
    if k8s_provider is not None and platform is not None and settings.installs_monitoring:
        names = base.names
        # Managed mode only: IRSA needs the cluster's OIDC provider, the rule its security group.
        hosts, hosts_policy = host_supervision(base, cluster, fleet) if cluster is not None else (None, None)
        monitoring = Monitoring(
            "monitoring",
            MonitoringArgs(
                tier=settings.tier,
                chart_version=settings.monitoring_chart_version,
                prometheus_retention=settings.prometheus_retention,
                prometheus_retention_size=settings.prometheus_retention_size,
                prometheus_volume_gb=settings.prometheus_volume_gb,
                namespace=names.monitoring_namespace,
                release_name=names.monitoring_release,
                storage_class_name=names.storage_class,
                applied_volume_gb=base.prometheus_volume_applied,
                receivers=settings.receivers(),
                receiver_secrets={k: pulumi.Output.secret(v) for k, v in settings.alert_secrets.items()},
                page_receivers=settings.alert_routes.get("page", ()),
                ticket_receivers=settings.alert_routes.get("ticket", ()),
                heartbeat_receiver=settings.heartbeat_receiver,
                slos=[app_slo(settings, names.app_namespace)],
                app_name=APP_SERVICE,
                app_namespace=names.app_namespace,
                # Node exporters take each node's port 9100: on a shared cluster, its owner runs them.
                node_exporter=cluster is not None,
                # Other stacks' monitors and rules on a shared cluster are not this Prometheus's.
                own_namespaces_only=names.shared,
                host_discovery=hosts,
                # Receivers set with --secret (their URLs may carry tokens) stay secret in the release.
                secret_values=bool(settings.secret_keys & ALERTMANAGER_KEYS),
                protect=settings.protect,
            ),
            # The Prometheus claim names the baseline's StorageClass: a claim made before its class
            # stays Pending and the atomic Helm release times out. Discovery needs its role's policy.
            pulumi.ResourceOptions(
                provider=k8s_provider,
                depends_on=[platform.storage_class, *([hosts_policy] if hosts_policy is not None else [])],
            ),
        )
        # Prometheus and its operator have no egress policy: keep them off the database too.
        EgressGuard(
            "database-monitoring",
            EgressGuardArgs(
                namespaces=[names.monitoring_namespace],
                cidrs=base.database_cidrs(),
            ),
            pulumi.ResourceOptions(provider=k8s_provider, depends_on=[monitoring]),  # its namespace comes with it
        )
    return alerts


def scheme(settings: Settings) -> str:
    """How the load balancers answer: HTTPS with the stack's certificate, else plain HTTP (test only)."""
    return "https" if settings.certificate_arn is not None else "http"


def app_url(settings: Settings, ingress_hostname: pulumi.Output[str | None]) -> pulumi.Output[str | None]:
    """Where users reach the cluster app: its host name when it has one, else its load balancer's."""
    if settings.app_host is not None:
        return pulumi.Output.from_input(f"{scheme(settings)}://{settings.app_host}")
    return ingress_hostname.apply(lambda name: f"{scheme(settings)}://{name}" if name else None)


def build(settings: Settings) -> dict[str, object]:
    """Compose the stack from validated settings; return what it exports."""
    base = build_network(settings)
    db, bucket = build_data(base)
    alb, fleet, inventory = build_fleet(base, db, bucket)
    waf = build_waf(base, alb)
    build_access_logs(base, bucket)
    exports: dict[str, object] = {"wafAclArn": waf.arn} if waf is not None else {}
    k8s_provider: k8s.Provider | None = None
    platform: PlatformBaseline | None = None
    cluster: Cluster | None = None
    if settings.cluster_mode != "none":
        k8s_provider, cluster = build_cluster(base)
        controllers = build_controllers(base, k8s_provider, cluster)
        workloads = build_workloads(base, k8s_provider, db, bucket, controllers, cluster)
        app, platform = workloads.app, workloads.platform
        exports["appNamespace"] = app.namespace
        exports["appIngressHostname"] = app.ingress_hostname
        exports["appUrl"] = app_url(settings, app.ingress_hostname)
        if workloads.app_role_arn is not None:
            exports["appRoleArn"] = workloads.app_role_arn
        if cluster is not None:
            exports |= {
                "clusterName": cluster.cluster_name,
                "clusterEndpoint": cluster.endpoint,
                "clusterOidcProviderArn": cluster.oidc_provider_arn,
                "kubeconfig": cluster.kubeconfig,
            }
    if settings.cluster_mode != "managed":
        # No in-cluster Job creates the logins the hosts connect as: the operator runs this once.
        exports["dbBootstrapSql"] = bootstrap_sql(database_roles(settings, db))
    alerts = build_supervision(base, alb, fleet, db, k8s_provider, platform, cluster)
    network = base.network
    return {
        "environment": settings.environment,
        "region": settings.region,
        "vpcId": network.vpc_id,
        "vpcCidr": network.vpc_cidr,
        "subnetIds": network.subnet_ids,
        "routeTableIds": network.route_table_ids,
        "addressPlan": network.plan.as_dict(),
        "securityGroupIds": {name: group.id for name, group in base.groups.items()},
        "logsKeyArn": base.keys["logs"].arn,
        "albDnsName": alb.dns_name,
        # For a Route 53 alias record to the fleet's load balancer.
        "albZoneId": alb.zone_id,
        "fleetUrl": alb.dns_name.apply(lambda name: f"{scheme(settings)}://{name}"),
        "fleetGroupName": fleet.group_name,
        "fleetInstanceRoleArn": fleet.role_arn,
        "fleetArtefactBucket": fleet.artefact_bucket,
        "fleetArtefactBucketArn": fleet.artefacts.arn,
        "fleetLogGroups": fleet.log_group_names,
        "ansibleInventory": inventory,
        # `pulumi stack output ansibleVars > host_vars.json`: the playbook converges to the boot state.
        "ansibleVars": fleet.ansible_vars,
        "dbEndpoint": db.endpoint,
        "dbHost": db.address,
        "dbPort": db.port,
        # The ARN of the master secret, never its value.
        "dbSecretArn": db.master_user_secret_arn,
        "appBucket": bucket.bucket,
        "appBucketArn": bucket.arn,
        "alertTopicArn": alerts.arn,
        **exports,
    }


def main() -> None:
    """Entry point of `pulumi up`: settings are validated before any resource is registered."""
    settings = load_settings()
    texts = settings.secret_texts
    if texts:
        # Values set with --secret reach names, rules and Helm values as text: what holds one stays secret.
        pulumi.runtime.register_resource_transform(keep_secret(texts))
    for key, value in build(settings).items():
        pulumi.export(key, secret_if_held(value, texts) if texts else value)
