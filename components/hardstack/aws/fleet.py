"""VM fleet: hardened launch template and an Auto Scaling group across private subnets.

Creates: aws.iam.Role, aws.iam.RolePolicyAttachment (SSM core, CloudWatch agent),
aws.iam.RolePolicy (read the named boot parameters, only when there are some),
aws.iam.InstanceProfile, aws.ec2.LaunchTemplate, aws.autoscaling.Group, aws.autoscaling.Policy
(target-tracking CPU).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from hardstack.aws.context import AwsContext
from hardstack.aws.iam import policy_document, service_assume_role_policy
from hardstack.aws.launch import encrypted_root_volume, imdsv2_only, tag_specifications
from hardstack.base.component import Component, IdList, id_list, known_length
from hardstack.core.ansible import ENVIRONMENT_TAG, ROLE_TAG
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.tier import Tier, parse_tier
from hardstack.core.userdata import validate_user_data

_INSTANCE_TYPE = re.compile(
    r"^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.(nano|micro|small|medium|large|[0-9]*xlarge|metal(-[0-9]+xl)?)$"
)
_AMI = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")
_ROLE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
#: Managed policies for SSM Session Manager and the CloudWatch agent, nothing broader.
MANAGED_POLICIES = {
    "ssm": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    "cloudwatch-agent": "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
}
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


def validate_sizes(min_size: int, max_size: int, desired: int, names: tuple[str, str, str] = SIZE_NAMES) -> None:
    """min <= desired <= max, all >= 0; `names` are what errors call the three (args or config keys)."""
    lo, hi, want = names
    for key, value in ((lo, min_size), (hi, max_size), (want, desired)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise refuse(key, value, "a whole number, 0 or more")
    if min_size > max_size:
        raise refuse(lo, min_size, f"at most {hi} ({max_size})")
    if not min_size <= desired <= max_size:
        raise refuse(want, desired, f"between {lo} ({min_size}) and {hi} ({max_size})")


#: Fewest instances a production fleet runs.
PRODUCTION_MIN_SIZE = 2


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
    """Pinned AMI id. Changing it rolls the fleet through an instance refresh."""
    instance_type: str = "t3.micro"
    """EC2 instance type. Default: t3.micro."""
    min_size: int = 2
    """Fewest instances. Default: 2 (2 or more in production)."""
    max_size: int = 4
    """Most instances the CPU policy may run. Default: 4."""
    desired_capacity: int = 2
    """Initial capacity; afterwards the CPU policy owns it (Pulumi ignores drift of this field)."""
    user_data: str = ""
    """cloud-init document (see `hardstack.core.userdata.render_cloud_init`); at most 16 KB, no secrets."""
    secret_parameters: Sequence[str] = ()
    """SSM parameter names the instances may read at boot. Default: none."""
    kms_key_arn: pulumi.Input[str]
    """Customer KMS key encrypting the root volume."""
    root_volume_gb: int = 20
    """Root volume size, gp3. Default: 20."""
    target_group_arns: Sequence[pulumi.Input[str]] = ()
    """Load balancer target groups; with any, health checks use the load balancer. Default: none."""
    health_check_grace_seconds: int = 300
    """Time for boot before health checks count. Default: 300."""
    min_healthy_percentage: int = 90
    """Capacity kept healthy during an instance refresh. Default: 90."""
    cpu_target_percent: float = 50.0
    """Average CPU the scaling policy aims for. Default: 50."""
    environment: str
    """Environment tag (Ansible inventory key), any name such as prod or eu-prod."""
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: production runs at least two instances (one host is a single point of failure).
    Default: production."""
    role: str = "app"
    """Role tag (Ansible inventory key). Default: app."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier", parse_tier(self.tier))  # a tier given by name is stored as a Tier
        if self.tier.is_production and self.min_size < PRODUCTION_MIN_SIZE:
            raise refuse("min_size", self.min_size, f"{PRODUCTION_MIN_SIZE} or more in production")
        validate_image_id(self.image_id)
        validate_instance_type(self.instance_type)
        validate_sizes(self.min_size, self.max_size, self.desired_capacity)
        validate_user_data(self.user_data)
        if known_length(self.subnet_ids) == 0:
            raise refuse("subnet_ids", [], "at least one private subnet")
        if known_length(self.security_group_ids) == 0:
            raise refuse("security_group_ids", [], "at least one security group (the default group is emptied)")
        if not 8 <= self.root_volume_gb <= 16384:
            raise refuse("root_volume_gb", self.root_volume_gb, "8 to 16384 GiB")
        if not 0 <= self.min_healthy_percentage <= 100:
            raise refuse("min_healthy_percentage", self.min_healthy_percentage, "0 to 100")
        if not 1 <= self.cpu_target_percent <= 100:
            raise refuse("cpu_target_percent", self.cpu_target_percent, "1 to 100")
        if not _ROLE.match(self.role):
            raise refuse("role", self.role, "lower-case letters, digits and '-', at most 32")


class Fleet(Component):
    group_name: pulumi.Output[str]
    launch_template_id: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(self, name: str, args: FleetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hardstack:compute:Fleet", name, opts)
        child = self.child()
        ctx = args.context
        inventory_tags = {ENVIRONMENT_TAG: args.environment, ROLE_TAG: args.role}
        tags = {**ctx.tags, **args.tags, **inventory_tags, "Name": name}

        role = aws.iam.Role(
            name,
            **args.context.role_args(),
            description=f"Instances of fleet {name}: SSM sessions and the CloudWatch agent",
            assume_role_policy=service_assume_role_policy("ec2.amazonaws.com", source_account=ctx.account_id),
            tags=tags,
            opts=child,
        )
        for key, arn in MANAGED_POLICIES.items():
            aws.iam.RolePolicyAttachment(f"{name}-{key}", role=role.name, policy_arn=arn, opts=child)
        if args.secret_parameters:
            parameter_arns = [ctx.arn("ssm", "parameter/" + p.lstrip("/")) for p in sorted(set(args.secret_parameters))]
            aws.iam.RolePolicy(
                f"{name}-boot-parameters",
                role=role.id,
                policy=policy_document(
                    [
                        {
                            "Sid": "ReadBootParameters",
                            "Effect": "Allow",
                            "Action": ["ssm:GetParameter", "ssm:GetParameters"],
                            "Resource": parameter_arns,
                        },
                        {
                            # SecureString values decrypt through SSM only, with keys of this account.
                            "Sid": "DecryptThroughSsm",
                            "Effect": "Allow",
                            "Action": "kms:Decrypt",
                            "Resource": ctx.arn("kms", "key/*"),
                            "Condition": {"StringEquals": {"kms:ViaService": f"ssm.{ctx.region}.amazonaws.com"}},
                        },
                    ]
                ),
                opts=child,
            )
        profile = aws.iam.InstanceProfile(name, role=role.name, tags=tags, opts=child)

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
            user_data=base64.b64encode(args.user_data.encode()).decode() if args.user_data else None,
            tag_specifications=tag_specifications(tags),
            update_default_version=True,
            tags=tags,
            opts=child,
        )
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
            # A new launch template version (AMI, user data, type) rolls the fleet, never all at once.
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=args.min_healthy_percentage,
                    instance_warmup=str(args.health_check_grace_seconds),
                    auto_rollback=True,
                ),
            ),
            enabled_metrics=list(GROUP_METRICS),
            metrics_granularity="1Minute",
            termination_policies=["OldestLaunchTemplate", "Default"],
            tags=[
                aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=True) for k, v in sorted(tags.items())
            ],
            # The scaling policy owns desired capacity after creation; an update must not undo it.
            opts=self.child(ignore_changes=["desiredCapacity"]),
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
        self.register_outputs(
            {
                "group_name": self.group_name,
                "launch_template_id": self.launch_template_id,
                "role_arn": self.role_arn,
                "role_name": self.role_name,
            }
        )
