"""VM fleet: hosts that boot from artefacts in the account, behind an Auto Scaling group.

Creates: a `SecureBucket` of boot artefacts and one aws.s3.BucketObjectv2 per artefact (copied
from its release URL at deploy time, checked by sha256 on the host), aws.cloudwatch.LogGroup per
log source (the agent writes only there), aws.ssm.Parameter per `config` value, aws.iam.Role with
aws.iam.RolePolicyAttachment (SSM core) and aws.iam.RolePolicy (host: artefacts, its parameters,
its logs and metrics, its own health, `statements`), aws.iam.InstanceProfile,
aws.ec2.LaunchTemplate, aws.autoscaling.Group with a launch-before-terminate instance refresh,
aws.autoscaling.Policy (target-tracking CPU).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from hardstack.aws.bucket import SecureBucket, SecureBucketArgs
from hardstack.aws.context import AwsContext
from hardstack.aws.iam import Statement, policy_document, service_assume_role_policy
from hardstack.aws.launch import encrypted_root_volume, imdsv2_only, tag_specifications
from hardstack.base.component import Component, IdList, id_list, known_length
from hardstack.core.ansible import ENVIRONMENT_TAG, FLEET_TAG, ROLE_TAG
from hardstack.core.artefacts import Artefact
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.naming import Naming
from hardstack.core.tier import Tier, parse_tier, resolve_protect
from hardstack.core.userdata import (
    LOG_SOURCES,
    FleetBoot,
    HostPlacement,
    ansible_vars,
    metrics_namespace,
    render_cloud_init,
)

_INSTANCE_TYPE = re.compile(
    r"^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.(nano|micro|small|medium|large|[0-9]*xlarge|metal(-[0-9]+xl)?)$"
)
_AMI = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")
_ROLE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
#: Managed policy for SSM Session Manager (and Ansible over SSM). The CloudWatch agent gets a
#: policy of its own: the managed one lets a host create any log group and cut its retention.
MANAGED_POLICIES = {"ssm": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}
#: Longest bucket name S3 accepts: user data is validated with it before the real name is known.
LONGEST_BUCKET = "b" * 63
#: Group metrics published every minute; monitoring alarms on in-service vs desired capacity.
GROUP_METRICS = (
    "GroupMinSize",
    "GroupMaxSize",
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
)


def validate_instance_type(value: str, where: str = "instance_type") -> str:
    if not isinstance(value, str) or not _INSTANCE_TYPE.match(value):
        raise refuse(where, value, "an EC2 instance type such as t3.micro, m7g.large or c6in.2xlarge")
    return value


def validate_image_id(value: str, where: str = "image_id") -> str:
    if not isinstance(value, str) or not _AMI.match(value):
        raise refuse(where, value, "an AMI id such as ami-0123456789abcdef0 (pin it; see the README)")
    return value


SIZE_NAMES = ("min_size", "max_size", "desired_capacity")


#: Most hosts of one fleet: far beyond a region's default EC2 quota, well within the API's 32-bit sizes.
FLEET_MAX_SIZE = 1000


def validate_sizes(
    min_size: int,
    max_size: int,
    desired: int,
    names: tuple[str, str, str] = SIZE_NAMES,
    ceiling: tuple[int, str] = (FLEET_MAX_SIZE, "hosts in one Auto Scaling group"),
) -> None:
    """0 <= min <= desired <= max <= ceiling; `names` are what errors call the three (args or config
    keys), `ceiling` the largest size and what bounds it."""
    lo, hi, want = names
    for key, value in ((lo, min_size), (hi, max_size), (want, desired)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise refuse(key, value, "a whole number, 0 or more")
        if value > ceiling[0]:
            raise refuse(key, value, f"at most {ceiling[0]:,} {ceiling[1]}")
    if min_size > max_size:
        raise refuse(lo, min_size, f"at most {hi} ({max_size})")
    if not min_size <= desired <= max_size:
        raise refuse(want, desired, f"between {lo} ({min_size}) and {hi} ({max_size})")


#: Fewest instances a production fleet runs.
PRODUCTION_MIN_SIZE = 2
#: AWS: at most 10 alarms may stop an instance refresh.
MAX_ROLLOUT_ALARMS = 10


def validate_refresh_range(
    min_healthy: int,
    max_healthy: int,
    tier: Tier,
    names: tuple[str, str] = ("min_healthy_percentage", "max_healthy_percentage"),
) -> None:
    """An instance refresh range AWS accepts and that keeps capacity where the tier requires it.

    AWS: min 0-100, max 100-200, at most 100 apart. Keeping capacity means min 100 (nothing is
    terminated before its replacement is healthy) and max above 100 (room to launch first).
    """
    lo, hi = names
    for key, value, low, high in ((lo, min_healthy, 0, 100), (hi, max_healthy, 100, 200)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise refuse(key, value, f"a whole percentage from {low} to {high}")
    if max_healthy - min_healthy > 100:
        raise refuse(hi, max_healthy, f"at most 100 above {lo} ({min_healthy}): AWS refuses a wider range")
    if tier.is_production and (min_healthy < 100 or max_healthy <= 100):
        raise refuse(
            f"{lo}/{hi}",
            f"{min_healthy}/{max_healthy}",
            "100 and more than 100 in production: a refresh launches each replacement before it terminates "
            "a serving host, so a rollout never drops capacity (e.g. 100/200)",
        )
    if min_healthy == 100 and max_healthy == 100:
        raise refuse(hi, max_healthy, f"more than 100 when {lo} is 100, or the refresh can replace nothing")


@documented
@dataclass(frozen=True, kw_only=True)
class FleetArgs:
    context: AwsContext
    """Region and account."""
    subnet_ids: IdList
    """Private subnets, one per AZ: instances spread over all of them."""
    security_group_ids: IdList
    """Groups for the instances (the app group: app port from the load balancer only)."""
    image_id: str
    """Pinned AMI id (Amazon Linux 2023). Changing it rolls the fleet through an instance refresh."""
    boot: FleetBoot
    """What the hosts run: service, ports, app artefact, parameter names. Changing it rolls the fleet."""
    config: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Non-secret settings of the hosts' service, env var -> value (e.g. PGHOST from the database, the
    app bucket's name): stored as SSM String parameters of the fleet and read at boot with the secrets,
    so values known only at deploy time never enter the user data. Default: none."""
    statements: Sequence[Statement] = ()
    """More Allow statements of the host role, each scoped (e.g. `rds-db:connect` as the app's database
    login, the app bucket's objects). Default: none."""
    kms_key_arn: pulumi.Input[str]
    """Customer KMS key encrypting the root volume."""
    log_key_arn: pulumi.Input[str]
    """Customer KMS key of the hosts' log groups."""
    log_retention_days: int = 365
    """Retention of the hosts' log groups. Default: 365."""
    instance_type: str = "t3.micro"
    """EC2 instance type. Default: t3.micro."""
    min_size: int = 2
    """Fewest instances. Default: 2 (2 or more in production)."""
    max_size: int = 4
    """Most instances the CPU policy may run. Default: 4."""
    desired_capacity: int = 2
    """Initial capacity; afterwards the CPU policy owns it (Pulumi ignores drift of this field)."""
    root_volume_gb: int = 20
    """Root volume size, gp3. Default: 20."""
    target_group_arns: Sequence[pulumi.Input[str]] = ()
    """Load balancer target groups; with any, health checks use the load balancer. Default: none."""
    health_check_grace_seconds: int = 300
    """Time for boot before health checks count, and each new host's warm-up in a refresh. Default: 300."""
    min_healthy_percentage: int = 100
    """Capacity kept healthy during an instance refresh. Default: 100 (production requires it)."""
    max_healthy_percentage: int = 200
    """Capacity a refresh may run, in service or launching. Default: 200 (replacements start first)."""
    rollout_alarm_names: Sequence[pulumi.Input[str]] = ()
    """CloudWatch alarms that fail a running instance refresh when they fire (e.g. unhealthy targets).
    Default: none."""
    cpu_target_percent: float = 50.0
    """Average CPU the scaling policy aims for. Default: 50."""
    environment: str
    """Environment tag (Ansible inventory key), any name such as prod or eu-prod."""
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: production runs at least two instances (one host is a single point of failure)
    and refreshes launch before they terminate. Default: production."""
    role: str = "app"
    """Role tag (Ansible inventory key). Default: app."""
    protect: bool | None = None
    """Protect the artefact bucket and the log groups (their history). Default: inherit the options
    given to the component; forced on in production, where False is refused."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier", parse_tier(self.tier))  # a tier given by name is stored as a Tier
        resolve_protect(self.tier, self.protect)
        if self.tier.is_production and self.min_size < PRODUCTION_MIN_SIZE:
            raise refuse("min_size", self.min_size, f"{PRODUCTION_MIN_SIZE} or more in production")
        validate_image_id(self.image_id)
        validate_instance_type(self.instance_type)
        validate_sizes(self.min_size, self.max_size, self.desired_capacity)
        if not isinstance(self.boot, FleetBoot):
            raise refuse("boot", self.boot, "a hardstack.core.userdata.FleetBoot")
        for env_name in self.config:
            if env_name in self.boot.secret_parameters:
                raise refuse(f"config[{env_name!r}]", env_name, "a name not already in boot.secret_parameters")
        # The component's name is not known here: the longest one AWS names allow stands in for it.
        check_user_data(with_config(self.boot, self.context.names, "f" * 40, self.config), self.context.names)
        for i, statement in enumerate(self.statements):
            if statement.get("Effect") != "Allow" or not statement.get("Resource") or "NotResource" in statement:
                raise refuse(f"statements[{i}]", statement, "an Allow statement with a Resource")
        if known_length(self.subnet_ids) == 0:
            raise refuse("subnet_ids", [], "at least one private subnet")
        if known_length(self.security_group_ids) == 0:
            raise refuse("security_group_ids", [], "at least one security group (the default group is emptied)")
        if not 8 <= self.root_volume_gb <= 16384:
            raise refuse("root_volume_gb", self.root_volume_gb, "8 to 16384 GiB")
        validate_refresh_range(self.min_healthy_percentage, self.max_healthy_percentage, self.tier)
        if len(self.rollout_alarm_names) > MAX_ROLLOUT_ALARMS:
            raise refuse("rollout_alarm_names", len(self.rollout_alarm_names), f"at most {MAX_ROLLOUT_ALARMS} alarms")
        if not 1 <= self.cpu_target_percent <= 100:
            raise refuse("cpu_target_percent", self.cpu_target_percent, "1 to 100")
        if not _ROLE.match(self.role):
            raise refuse("role", self.role, "lower-case letters, digits and '-', at most 32")
        if self.log_retention_days not in _LOG_RETENTION_DAYS:
            raise refuse("log_retention_days", self.log_retention_days, f"one of {sorted(_LOG_RETENTION_DAYS)}")


#: Retention values CloudWatch Logs accepts.
_LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)


def log_group_name(naming: Naming, fleet: str, source: str) -> str:
    """`/<project>/<stack>/fleet/<fleet>/<source>`: the stack's own, so two stacks never share one."""
    return naming.path("fleet", fleet, source)


def placement(bucket: str, naming: Naming, boot: FleetBoot) -> HostPlacement:
    """Where hosts of `boot` find artefacts and send logs, for a bucket name and a naming."""
    return HostPlacement(
        artefact_bucket=bucket,
        log_groups={source: log_group_name(naming, boot.service_name, source) for source in LOG_SOURCES},
    )


def config_parameter(naming: Naming, fleet: str, env_name: str) -> str:
    """The SSM parameter holding one `config` value of a fleet."""
    return naming.path("fleet", fleet, "config", env_name)


def with_config(boot: FleetBoot, naming: Naming, fleet: str, config: Mapping[str, object]) -> FleetBoot:
    """`boot` reading the fleet's config parameters too (they go into the same env file)."""
    if not config:
        return boot
    names = {env: config_parameter(naming, fleet, env) for env in config}
    return dataclasses.replace(boot, secret_parameters={**boot.secret_parameters, **names})


def check_user_data(boot: FleetBoot, naming: Naming) -> None:
    """Render with the longest bucket name S3 allows: size and secret checks fail before any resource."""
    render_cloud_init(boot, placement(LONGEST_BUCKET, naming, boot))


def _asset(artefact: Artefact) -> pulumi.Asset:
    # The deployer fetches a release URL at `up` time; the host checks the sha256 before using it.
    if artefact.source_url is not None:
        return pulumi.RemoteAsset(artefact.source_url)
    return pulumi.StringAsset(artefact.content or "")


def host_statements(
    ctx: AwsContext,
    *,
    artefact_bucket_arn: pulumi.Input[str],
    parameter_names: Sequence[str],
    log_group_names: Sequence[str],
    namespace: str,
    fleet_id: str,
) -> list[Statement]:
    """What a host may do beyond SSM core: every Allow scoped, and Denies that hold whatever else is attached."""
    parameter_arns = [ctx.arn("ssm", "parameter/" + p.lstrip("/")) for p in sorted(set(parameter_names))]
    log_arns = [ctx.arn("logs", f"log-group:{group}:*") for group in log_group_names]
    statements: list[Statement] = [
        {
            "Sid": "ReadBootArtefacts",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": pulumi.Output.concat(artefact_bucket_arn, "/artefacts/*"),
        },
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": log_arns,
        },
        {
            # The agent's metrics land in the environment's namespace only.
            "Sid": "PutHostMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
        },
        {
            # The agent resolves ${aws:AutoScalingGroupName} from tags; these calls have no resource scope.
            "Sid": "DescribeOwnTags",
            "Effect": "Allow",
            "Action": ["ec2:DescribeTags", "ec2:DescribeVolumes"],
            "Resource": "*",
        },
        {
            # A host whose boot failed takes itself out of service; only in its own fleet.
            "Sid": "ReportOwnHealth",
            "Effect": "Allow",
            "Action": "autoscaling:SetInstanceHealth",
            "Resource": ctx.arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*"),
            "Condition": {"StringEquals": {f"autoscaling:ResourceTag/{FLEET_TAG}": fleet_id}},
        },
        {
            "Sid": "NeverManageLogGroups",
            "Effect": "Deny",
            "Action": [
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:DeleteRetentionPolicy",
                "logs:AssociateKmsKey",
                "logs:DisassociateKmsKey",
            ],
            "Resource": "*",
        },
    ]
    if parameter_arns:
        statements += [
            {
                "Sid": "ReadBootParameters",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:GetParameters"],
                "Resource": parameter_arns,
            },
            {
                # SecureStrings decrypt through SSM only, and only for these parameters (SSM puts the
                # parameter ARN in the encryption context).
                "Sid": "DecryptBootParameters",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": ctx.arn("kms", "key/*"),
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": f"ssm.{ctx.region}.amazonaws.com",
                        "kms:EncryptionContext:PARAMETER_ARN": parameter_arns,
                    },
                },
            },
        ]
    # AmazonSSMManagedInstanceCore allows ssm:GetParameter(s) on every parameter: deny all but ours.
    read_others: dict[str, Any] = {
        "Sid": "NoOtherParameters",
        "Effect": "Deny",
        "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:GetParameterHistory"],
    }
    statements.append(
        {**read_others, "NotResource": parameter_arns} if parameter_arns else {**read_others, "Resource": "*"}
    )
    # Every decrypt through SSM is denied but of the listed parameters (a negated operator also
    # matches a request without that context key). Direct decrypts are left to key policies: Session
    # Manager's session encryption, where an account turns it on, needs kms:Decrypt on its own key.
    ssm = f"ssm.{ctx.region}.amazonaws.com"
    no_decrypt: dict[str, Any] = {
        "Sid": "NoOtherDecrypt",
        "Effect": "Deny",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": ssm}},
    }
    if parameter_arns:
        no_decrypt["Condition"]["StringNotEquals"] = {"kms:EncryptionContext:PARAMETER_ARN": parameter_arns}
    statements.append(no_decrypt)
    return statements


class Fleet(Component):
    group_name: pulumi.Output[str]
    launch_template_id: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]
    fleet_id: str
    artefact_bucket: pulumi.Output[str]
    artefacts: SecureBucket
    log_group_names: list[str]
    ansible_vars: pulumi.Output[str]

    def __init__(self, name: str, args: FleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hardstack:compute:Fleet", name, opts)
        child = self.child()
        ctx = args.context
        boot = with_config(args.boot, ctx.names, name, args.config)
        fleet_id = ctx.names.flat(name)
        inventory_tags = {ENVIRONMENT_TAG: args.environment, ROLE_TAG: args.role, FLEET_TAG: fleet_id}
        tags = {**ctx.tags, **args.tags, **inventory_tags, "Name": name}

        # Release files need no secrecy (their integrity is the sha256): SSE-S3 keeps hosts off KMS.
        artefacts = SecureBucket(
            f"{name}-artefacts",
            SecureBucketArgs(tier=args.tier, protect=args.protect, tags={**ctx.tags, **args.tags}),
            child,
        )
        objects = [
            aws.s3.BucketObjectv2(
                f"{name}-{artefact.name}-{artefact.arch}",
                bucket=artefacts.bucket,
                key=artefact.key,
                source=_asset(artefact),
                checksum_algorithm="SHA256",
                tags={**ctx.tags, **args.tags},
                # A new release is a new key: the old object stays, so the previous launch template
                # version (a rollback, a host relaunched mid-refresh) still boots. Destroy empties the
                # bucket where the tier allows it.
                opts=self.child(retain_on_delete=True),
            )
            for artefact in boot.artefacts
        ]
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{source}-logs",
                name=log_group_name(ctx.names, boot.service_name, source),
                kms_key_id=args.log_key_arn,
                retention_in_days=args.log_retention_days,
                tags=tags,
                opts=self.kept(resolve_protect(args.tier, args.protect)),
            )
            for source in LOG_SOURCES
        ]
        log_names = [log_group_name(ctx.names, boot.service_name, s) for s in LOG_SOURCES]
        # Values known at deploy time (database endpoint, bucket name) reach hosts as parameters.
        config = [
            aws.ssm.Parameter(
                f"{name}-config-{env.lower().replace('_', '-')}",
                name=config_parameter(ctx.names, name, env),
                type="String",
                # Not secret (an endpoint, a bucket name): shown in plans, unlike `value`.
                insecure_value=value,
                description=f"{env} of fleet {name}'s service, read at boot",
                tags=tags,
                opts=child,
            )
            for env, value in sorted(args.config.items())
        ]

        role = aws.iam.Role(
            name,
            **ctx.role_args(),
            description=f"Instances of fleet {name}: SSM sessions, boot artefacts, own logs and metrics",
            assume_role_policy=service_assume_role_policy("ec2.amazonaws.com", source_account=ctx.account_id),
            tags=tags,
            opts=child,
        )
        attachments: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(f"{name}-{key}", role=role.name, policy_arn=arn, opts=child)
            for key, arn in MANAGED_POLICIES.items()
        ]
        host_policy = aws.iam.RolePolicy(
            f"{name}-host",
            role=role.id,
            policy=policy_document(
                host_statements(
                    ctx,
                    artefact_bucket_arn=artefacts.arn,
                    parameter_names=list(boot.secret_parameters.values()),
                    log_group_names=log_names,
                    namespace=metrics_namespace(boot.environment),
                    fleet_id=fleet_id,
                )
                + list(args.statements)
            ),
            opts=child,
        )
        profile = aws.iam.InstanceProfile(name, role=role.name, tags=tags, opts=child)

        user_data = artefacts.bucket.apply(
            lambda bucket: base64.b64encode(
                render_cloud_init(boot, placement(bucket, ctx.names, boot)).encode()
            ).decode()
        )
        template = aws.ec2.LaunchTemplate(
            name,
            description=f"hardstack fleet {name}",
            image_id=args.image_id,
            instance_type=args.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            metadata_options=imdsv2_only(),
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
            ebs_optimized="true",
            network_interfaces=[
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    device_index=0,
                    associate_public_ip_address="false",
                    delete_on_termination="true",
                    security_groups=id_list(args.security_group_ids),
                )
            ],
            block_device_mappings=encrypted_root_volume(args.root_volume_gb, args.kms_key_arn),
            user_data=user_data,
            tag_specifications=tag_specifications(tags),
            update_default_version=True,
            tags=tags,
            opts=child,
        )
        alarms = list(args.rollout_alarm_names)
        group = aws.autoscaling.Group(
            name,
            vpc_zone_identifiers=id_list(args.subnet_ids),
            min_size=args.min_size,
            max_size=args.max_size,
            desired_capacity=args.desired_capacity,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(id=template.id, version=template.latest_version),
            target_group_arns=list(args.target_group_arns),
            health_check_type="ELB" if args.target_group_arns else "EC2",
            health_check_grace_period=args.health_check_grace_seconds,
            default_instance_warmup=args.health_check_grace_seconds,
            # A new launch template version (AMI, user data, type) rolls the fleet: replacements are
            # launched and healthy before the hosts they replace are terminated.
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=args.min_healthy_percentage,
                    max_healthy_percentage=args.max_healthy_percentage,
                    instance_warmup=str(args.health_check_grace_seconds),
                    skip_matching=True,
                    alarm_specification=aws.autoscaling.GroupInstanceRefreshPreferencesAlarmSpecificationArgs(
                        alarms=alarms
                    )
                    if alarms
                    else None,
                    # Off: the provider updates the group before it starts the refresh, so AWS would
                    # "roll back" to the new version (terraform-provider-aws#34189). Roll back by
                    # reverting the change and running `up` again (README, fleet rollouts).
                    auto_rollback=False,
                ),
            ),
            enabled_metrics=list(GROUP_METRICS),
            metrics_granularity="1Minute",
            termination_policies=["OldestLaunchTemplate", "Default"],
            tags=[
                aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=True) for k, v in sorted(tags.items())
            ],
            # Hosts read their artefacts, parameters and log groups as they boot: all must exist first.
            # The scaling policy owns desired capacity after creation; an update must not undo it.
            opts=self.child(
                ignore_changes=["desiredCapacity"],
                depends_on=[*objects, *log_groups, *config, host_policy, *attachments],
            ),
        )
        aws.autoscaling.Policy(
            f"{name}-cpu",
            autoscaling_group_name=group.name,
            policy_type="TargetTrackingScaling",
            estimated_instance_warmup=args.health_check_grace_seconds,
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                predefined_metric_specification=aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ASGAverageCPUUtilization"
                ),
                target_value=args.cpu_target_percent,
            ),
            opts=child,
        )
        self.group_name = group.name
        self.launch_template_id = template.id
        self.role_arn = role.arn
        self.role_name = role.name
        self.fleet_id = fleet_id
        self.artefact_bucket = artefacts.bucket
        self.artefacts = artefacts
        self.log_group_names = log_names
        self.ansible_vars = artefacts.bucket.apply(
            lambda bucket: json.dumps(ansible_vars(boot, placement(bucket, ctx.names, boot)), indent=2)
        )
        self.register_outputs(
            {
                "group_name": self.group_name,
                "launch_template_id": self.launch_template_id,
                "role_arn": self.role_arn,
                "role_name": self.role_name,
                "artefact_bucket": self.artefact_bucket,
                "log_group_names": self.log_group_names,
            }
        )
