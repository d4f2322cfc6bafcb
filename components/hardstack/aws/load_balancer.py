"""Internet-facing application load balancer in front of an instance target group.

Creates: aws.lb.LoadBalancer, aws.lb.TargetGroup, an HTTPS aws.lb.Listener (TLS 1.2+) when a
certificate is given, an HTTP aws.lb.Listener (redirect to HTTPS, or forward when plain HTTP is
asked for by name), and with access logs a `SecureBucket` (SSE-S3: ALB log delivery cannot use KMS),
and an aws.cloudwatch.MetricAlarm on unhealthy targets (no actions: it stops a fleet's instance
refresh that launches hosts failing their checks; paging is the service alarms' job).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from hardstack.aws.bucket import SecureBucket, SecureBucketArgs
from hardstack.aws.context import AwsContext
from hardstack.aws.iam import Statement
from hardstack.base.component import Component, IdList, id_list, known_length
from hardstack.core.certificates import validate_certificate_arn
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.tier import Tier, parse_tier, require_in_production, resolve_protect

#: TLS 1.3 with TLS 1.2 fallback, forward secrecy only.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"

#: Regions opened before August 2022 deliver ALB logs from a regional ELB account; newer ones
#: use the log-delivery service principal.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}

_HEALTH_PATH = re.compile(r"^/[A-Za-z0-9._~/?=&%-]{0,1023}$")


@documented
@dataclass(frozen=True, kw_only=True)
class LoadBalancerArgs:
    context: AwsContext
    """Region and account."""
    vpc_id: pulumi.Input[str]
    """VPC of the target group."""
    subnet_ids: IdList
    """Public subnets, one per AZ (two or more)."""
    security_group_id: pulumi.Input[str]
    """The load balancer's group: 80/443 in, the app port out to the fleet."""
    app_port: int
    """Port the targets listen on."""
    certificate_arn: str | None = None
    """ACM certificate for the HTTPS listener. Required unless `allow_plain_http`."""
    allow_plain_http: bool = False
    """Unsafe: serve plain HTTP when there is no certificate. Default: off; refused outside development."""
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: staging and production serve HTTPS only; production also requires deletion
    protection and access logs. Default: production."""
    internal: bool = False
    """An internal (private) load balancer in private subnets, reachable only inside the VPC. Default: off,
    internet-facing."""
    health_check_path: str = "/"
    """Path the target group probes: the app's readiness endpoint. Default: /."""
    deletion_protection: bool | None = None
    """Refuse API deletion of the load balancer. Default: on in production (where off is refused), else off."""
    access_logs: bool | None = None
    """Deliver access logs to an encrypted bucket made here. Default: on in production (where off is
    refused), else off."""
    log_retention_days: int = 365
    """Days access logs are kept. Default: 365."""
    protect: bool | None = None
    """Protect the access-log bucket. Default: inherit the options given to the component; forced on in
    production."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        tier = parse_tier(self.tier)
        object.__setattr__(self, "tier", tier)  # a tier given by name is stored as a Tier
        resolve_protect(tier, self.protect)
        if self.allow_plain_http and tier.serves_https_only:
            raise refuse("allow_plain_http", True, f"off in {tier}: only a development tier may serve plain HTTP")
        require_in_production(tier, self.deletion_protection is not False, "deletion_protection", False, "on")
        require_in_production(tier, self.access_logs is not False, "access_logs", False, "on")
        if self.certificate_arn is not None:
            validate_certificate_arn(self.certificate_arn, region=self.context.region, region_key="context.region")
        elif not self.allow_plain_http:
            raise refuse("certificate_arn", None, "an ACM certificate ARN; plain HTTP only when allow_plain_http=True")
        if not 1 <= self.app_port <= 65535:
            raise refuse("app_port", self.app_port, "a port from 1 to 65535")
        if not _HEALTH_PATH.match(self.health_check_path):
            raise refuse("health_check_path", self.health_check_path, "an absolute URL path such as /healthz")
        if (known_length(self.subnet_ids) or 2) < 2:
            raise refuse("subnet_ids", self.subnet_ids, "public subnets in at least two AZs")


def log_delivery_statements(context: AwsContext, prefix: str) -> Callable[[pulumi.Output[str]], list[Statement]]:
    """Bucket-policy statements letting this region's ALBs write access logs under `prefix`."""

    def build(bucket_arn: pulumi.Output[str]) -> list[Statement]:
        account = context.account_id
        objects = pulumi.Output.concat(bucket_arn, "/", prefix, "/AWSLogs/", account, "/*")
        elb_account = ELB_LOG_ACCOUNTS.get(context.region)
        principal = (
            {"AWS": f"arn:{context.partition}:iam::{elb_account}:root"}
            if elb_account
            else {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
        )
        return [
            {
                "Sid": "AllowAlbLogDelivery",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:PutObject",
                "Resource": objects,
            }
        ]

    return build


class LoadBalancer(Component):
    arn: pulumi.Output[str]
    arn_suffix: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    zone_id: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    unhealthy_targets_alarm: pulumi.Output[str]
    http_listener_arn: pulumi.Output[str]
    https_listener_arn: pulumi.Output[str] | None
    access_log_bucket: SecureBucket | None
    """The bucket access logs go to, when they are on (give it to a server access log bucket)."""

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hardstack:network:LoadBalancer", name, opts)
        child = self.child()
        tags = {**args.context.tags, **args.tags, "Name": name}

        access_logs = None
        logs: SecureBucket | None = None
        logs_ready: list[pulumi.Resource] = []
        if args.access_logs or (args.access_logs is None and args.tier.is_production):
            prefix = name
            logs = SecureBucket(
                f"{name}-logs",
                SecureBucketArgs(
                    expiration_days=args.log_retention_days,
                    policy_statements=log_delivery_statements(args.context, prefix),
                    tier=args.tier,
                    protect=args.protect,
                    tags={**args.context.tags, **args.tags},
                ),
                child,
            )
            access_logs = aws.lb.LoadBalancerAccessLogsArgs(bucket=logs.bucket, prefix=prefix, enabled=True)
            # ELB writes a test object when logging is turned on: the bucket policy must exist first.
            logs_ready.append(logs)

        lb = aws.lb.LoadBalancer(
            name,
            load_balancer_type="application",
            internal=args.internal,
            security_groups=[args.security_group_id],
            subnets=id_list(args.subnet_ids),
            drop_invalid_header_fields=True,
            desync_mitigation_mode="defensive",
            enable_deletion_protection=(
                args.deletion_protection if args.deletion_protection is not None else args.tier.is_production
            ),
            enable_http2=True,
            idle_timeout=60,
            access_logs=access_logs,
            tags=tags,
            opts=self.child(depends_on=logs_ready),
        )
        target_group = aws.lb.TargetGroup(
            f"{name}-app",
            port=args.app_port,
            protocol="HTTP",
            target_type="instance",
            vpc_id=args.vpc_id,
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                path=args.health_check_path,
                protocol="HTTP",
                matcher="200-399",
                interval=15,
                timeout=5,
                healthy_threshold=3,
                unhealthy_threshold=3,
            ),
            tags=tags,
            opts=child,
        )
        unhealthy = aws.cloudwatch.MetricAlarm(
            f"{name}-unhealthy-targets",
            name=args.context.names.flat(f"{name}-unhealthy-targets"),
            alarm_description=f"Targets of {name} fail their health check: stops a running instance refresh",
            namespace="AWS/ApplicationELB",
            metric_name="UnHealthyHostCount",
            dimensions={"TargetGroup": target_group.arn_suffix, "LoadBalancer": lb.arn_suffix},
            statistic="Maximum",
            period=60,
            evaluation_periods=2,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            tags=tags,
            opts=child,
        )
        forward = aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
        https = None
        if args.certificate_arn is not None:
            https = aws.lb.Listener(
                f"{name}-https",
                load_balancer_arn=lb.arn,
                port=443,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=args.certificate_arn,
                default_actions=[forward],
                tags=tags,
                opts=child,
            )
            http_action = aws.lb.ListenerDefaultActionArgs(
                type="redirect",
                redirect=aws.lb.ListenerDefaultActionRedirectArgs(port="443", protocol="HTTPS", status_code="HTTP_301"),
            )
        else:
            http_action = forward
        http = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=lb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[http_action],
            tags=tags,
            opts=child,
        )
        self.arn = lb.arn
        self.arn_suffix = lb.arn_suffix
        self.dns_name = lb.dns_name
        self.zone_id = lb.zone_id
        self.target_group_arn = target_group.arn
        self.target_group_arn_suffix = target_group.arn_suffix
        self.unhealthy_targets_alarm = unhealthy.name
        self.http_listener_arn = http.arn
        self.https_listener_arn = https.arn if https is not None else None
        self.access_log_bucket = logs
        self.register_outputs(
            {
                "arn": self.arn,
                "dns_name": self.dns_name,
                "zone_id": self.zone_id,
                "target_group_arn": self.target_group_arn,
                "unhealthy_targets_alarm": self.unhealthy_targets_alarm,
                "http_listener_arn": self.http_listener_arn,
                "https_listener_arn": self.https_listener_arn,
            }
        )
