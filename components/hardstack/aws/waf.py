"""WAFv2 regional web ACL in front of internet-facing load balancers, logging to an encrypted log group.

Creates: aws.wafv2.WebAcl (a per-IP rate-based rule, then the AWS managed rule groups
AWSManagedRulesAmazonIpReputationList, AWSManagedRulesCommonRuleSet, AWSManagedRulesKnownBadInputsRuleSet
and AWSManagedRulesSQLiRuleSet; requests no rule blocks are allowed), aws.cloudwatch.LogGroup
(`aws-waf-logs-<name>`, KMS-encrypted), an aws.cloudwatch.LogResourcePolicy on that group (log
delivery of this account may write its streams, nothing else), aws.wafv2.WebAclLoggingConfiguration
(authorization and cookie headers redacted), and an aws.wafv2.WebAclAssociation per load balancer given.

A load balancer made by the AWS Load Balancer Controller for an Ingress is associated by the
controller itself: give it `arn` through the Ingress annotation `alb.ingress.kubernetes.io/wafv2-acl-arn`
(`AppArgs.waf_acl_arn`). Managing that association here too would fight the controller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from hardstack.aws.context import AwsContext
from hardstack.aws.iam import Statement, policy_document
from hardstack.aws.network import validate_log_retention
from hardstack.base.component import Component
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.tier import Tier, parse_tier, resolve_protect

#: The AWS managed rule groups every web ACL runs, in evaluation order after the rate limit: addresses
#: AWS threat intelligence lists first (the cheapest, 25 WCU), then the request inspections; with the
#: rate rule about 1,130 of the 1,500 WCU a web ACL gets by default.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
#: What AWS accepts for a rate-based rule's limit (requests per evaluation window and IP).
RATE_LIMIT_MIN = 10
RATE_LIMIT_MAX = 2_000_000_000
#: Evaluation windows a rate-based rule accepts, in seconds.
RATE_WINDOWS = (60, 120, 300, 600)
#: WAF delivers only to destinations whose name starts with this.
LOG_GROUP_PREFIX = "aws-waf-logs-"
#: Headers kept out of the logs: they carry credentials and session tokens.
REDACTED_HEADERS = ("authorization", "cookie")

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_RULE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def validate_rate_limit(limit: object, where: str = "rate_limit") -> int:
    """A rate-based rule's limit AWS accepts: a whole number from 10 to 2,000,000,000."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not RATE_LIMIT_MIN <= limit <= RATE_LIMIT_MAX:
        raise refuse(
            where, limit, f"requests per window and IP, a whole number from {RATE_LIMIT_MIN} to {RATE_LIMIT_MAX:,}"
        )
    return limit


def validate_rate_window(seconds: object, where: str = "rate_window_seconds") -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds not in RATE_WINDOWS:
        raise refuse(where, seconds, f"one of WAF's evaluation windows: {', '.join(map(str, RATE_WINDOWS))} seconds")
    return seconds


def log_delivery_statement(context: AwsContext, group_arn: pulumi.Input[str]) -> Statement:
    """Let CloudWatch Logs' delivery service write WAF logs of this account into the group's streams."""
    return {
        "Sid": "AllowWafLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": pulumi.Output.concat(group_arn, ":log-stream:*"),
        # Confused deputy: only deliveries made for this account and region.
        "Condition": {
            "StringEquals": {"aws:SourceAccount": context.account_id},
            "ArnLike": {"aws:SourceArn": context.arn("logs", "*")},
        },
    }


@documented
@dataclass(frozen=True, kw_only=True)
class WebFirewallArgs:
    context: AwsContext
    """Region, account and naming."""
    log_key_arn: pulumi.Input[str]
    """KMS key of the log group (its policy must let CloudWatch Logs of the region use it)."""
    load_balancer_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Load balancers to protect, keyed by a stable name (`{"web": alb.arn}`): each key names its
    association, so adding or removing one never touches the others. Default: none (give `arn` to
    an ingress controller instead)."""
    rate_limit: int = 2000
    """Requests one client IP may send per `rate_window_seconds` before WAF blocks it (10 to
    2,000,000,000). Default: 2000."""
    rate_window_seconds: int = 300
    """Evaluation window of the rate limit: 60, 120, 300 or 600 seconds. Default: 300."""
    count_rules: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Rules of the managed groups that only count, not block, by group: `{"AWSManagedRulesCommonRuleSet":
    ["SizeRestrictions_BODY"]}` for an app that takes request bodies over 8 KB. Default: none, every
    rule blocks."""
    log_retention_days: int = 365
    """Days the request logs are kept (a CloudWatch retention value). Default: 365."""
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: in production the log group is protected. Default: production."""
    protect: bool | None = None
    """Protect and retain the log group on delete. Default: inherit the options given to the component;
    forced on in production, where False is refused."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        tier = parse_tier(self.tier)
        object.__setattr__(self, "tier", tier)  # a tier given by name is stored as a Tier
        resolve_protect(tier, self.protect)
        validate_rate_limit(self.rate_limit)
        validate_rate_window(self.rate_window_seconds)
        validate_log_retention(self.log_retention_days)
        for group, names in self.count_rules.items():
            if group not in MANAGED_RULE_GROUPS:
                raise refuse("count_rules key", group, f"one of the managed groups: {', '.join(MANAGED_RULE_GROUPS)}")
            if isinstance(names, str) or not names or not all(isinstance(n, str) and _RULE.match(n) for n in names):
                raise refuse(
                    f"count_rules[{group}]", names, "a non-empty list of rule names such as SizeRestrictions_BODY"
                )
        for key in self.load_balancer_arns:
            if not isinstance(key, str) or not _KEY.match(key):
                raise refuse("load_balancer_arns key", key, "1-40 lowercase letters, digits and '-', such as web")


def _visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _managed_rule(name: str, group: str, priority: int, counted: Sequence[str]) -> aws.wafv2.WebAclRuleArgs:
    count = aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
        count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
    )
    return aws.wafv2.WebAclRuleArgs(
        name=group,
        priority=priority,
        # `none`: the group's own actions (block) apply; `count` would only watch.
        override_action=aws.wafv2.WebAclRuleOverrideActionArgs(none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                vendor_name="AWS",
                name=group,
                rule_action_overrides=[
                    aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
                        name=rule, action_to_use=count
                    )
                    for rule in sorted(counted)
                ]
                or None,
            )
        ),
        visibility_config=_visibility(f"{name}-{group}"),
    )


class WebFirewall(Component):
    """Give `arn` to load balancers (`load_balancer_arns`) or to an ingress controller's annotation."""

    arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: WebFirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not _NAME.match(name):
            raise refuse("WebFirewall name", name, "1-100 letters, digits, '_' and '-' (it names WAF metrics)")
        super().__init__("hardstack:network:WebFirewall", name, opts)
        child = self.child()
        ctx = args.context
        tags = {**ctx.tags, **args.tags, "Name": name}

        rate = aws.wafv2.WebAclRuleArgs(
            name="rate-per-ip",
            priority=0,  # first: a flood is cut before the managed groups inspect it
            action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
            statement=aws.wafv2.WebAclRuleStatementArgs(
                rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                    aggregate_key_type="IP",
                    limit=args.rate_limit,
                    evaluation_window_sec=args.rate_window_seconds,
                )
            ),
            visibility_config=_visibility(f"{name}-rate-per-ip"),
        )
        acl = aws.wafv2.WebAcl(
            name,
            scope="REGIONAL",  # load balancers; CloudFront needs a us-east-1 CLOUDFRONT ACL
            description=f"{name}: rate limit per IP, AWS IP reputation, common, known-bad-inputs and SQLi rules",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=[
                rate,
                *(
                    _managed_rule(name, group, 10 * (i + 1), args.count_rules.get(group, ()))
                    for i, group in enumerate(MANAGED_RULE_GROUPS)
                ),
            ],
            visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                cloudwatch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            ),
            tags=tags,
            opts=child,
        )
        group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=LOG_GROUP_PREFIX + ctx.names.flat(name, max_length=512 - len(LOG_GROUP_PREFIX)),
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_key_arn,
            tags=tags,
            opts=self.kept(resolve_protect(args.tier, args.protect)),
        )
        # A policy on the group itself (not one of the account's 10 per region): without one, WAF
        # would write its own account-wide policy, which Pulumi neither knows nor removes.
        # One policy per group, one logging configuration per web ACL, one web ACL per load balancer:
        # each is keyed by its target, so a replacement made before deleting the old one would see the
        # old one's delete undo it (DisassociateWebACL takes only the load balancer). Delete first.
        singleton = self.child(delete_before_replace=True)
        delivery = aws.cloudwatch.LogResourcePolicy(
            f"{name}-logs",
            resource_arn=group.arn,
            policy_document=policy_document([log_delivery_statement(ctx, group.arn)]),
            opts=singleton,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-logging",
            resource_arn=acl.arn,
            log_destination_configs=[group.arn],
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(name=header)
                )
                for header in REDACTED_HEADERS
            ],
            # Delivery checks the group's resource policy when logging is turned on: it must exist first.
            opts=self.child(depends_on=[delivery], delete_before_replace=True),
        )
        for key, lb_arn in sorted(args.load_balancer_arns.items()):
            aws.wafv2.WebAclAssociation(f"{name}-{key}", resource_arn=lb_arn, web_acl_arn=acl.arn, opts=singleton)

        self.arn = acl.arn
        self.log_group_name = group.name
        self.register_outputs({"arn": self.arn, "log_group_name": self.log_group_name})
