"""Encrypted alert topic: only this account's CloudWatch alarms publish, over TLS.

Creates: aws.sns.Topic (customer KMS key), aws.sns.TopicPolicy, aws.sns.TopicSubscription per subscription.

The topic's KMS key must let CloudWatch use it: add `cloudwatch_alarms_key_statement(context)` to the
key's `service_statements`, or alarms deploy cleanly and never deliver.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws

from hardstack.aws.context import AwsContext
from hardstack.aws.iam import Statement, policy_document
from hardstack.base.component import Component
from hardstack.core.docs import documented
from hardstack.core.errors import HardstackError, refuse

PROTOCOLS: tuple[str, ...] = ("email", "https", "sqs", "lambda")
CLOUDWATCH = "cloudwatch.amazonaws.com"
#: What the account root keeps on the topic: AWS's default topic policy minus Publish (alarms only)
#: and minus AddPermission/RemovePermission/DeleteTopic (changed through this code, not by hand).
ACCOUNT_TOPIC_ACTIONS: tuple[str, ...] = (
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:ListSubscriptionsByTopic",
    "sns:Subscribe",
)
#: Stands in for the load balancer's ARN suffix (an Output) when compiling SLO alarms; swapped back
#: for the Output in the metric dimensions, so no resource is created inside an apply.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$")
_LAMBDA_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$"
)
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]{0,31}$")

# --- topic ---------------------------------------------------------------------------------------


def cloudwatch_alarms_key_statement(context: AwsContext) -> dict[str, Any]:
    """Key-policy statement letting CloudWatch alarms of this account and region publish to a topic under the key.

    SNS encrypts with the publisher's rights, so CloudWatch needs Decrypt and GenerateDataKey*;
    the source conditions stop another account's alarms using the key (confused deputy).
    """
    return {
        "Sid": "AllowCloudWatchAlarms",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDWATCH},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": context.account_id},
            "ArnLike": {"aws:SourceArn": context.arn("cloudwatch", "alarm:*")},
        },
    }


def validate_environment(value: object, where: str = "environment") -> str:
    if not isinstance(value, str) or not _ENVIRONMENT.match(value):
        raise refuse(where, value, "1-32 characters: lowercase letters, digits and '-', starting with a letter")
    return value


@dataclass(frozen=True)
class Subscription:
    """Where alerts go. `Subscription("https", "https://events.example.com/hook")`.

    email: confirmed by the recipient (until then Pulumi cannot delete it); https: TLS only, the
    endpoint must confirm the subscription; sqs/lambda: the queue policy or the function permission
    letting sns.amazonaws.com deliver is the caller's.
    """

    protocol: str
    endpoint: str

    def __post_init__(self) -> None:
        if self.protocol == "http":
            raise refuse("Subscription protocol", self.protocol, "https: alerts never travel unencrypted")
        if self.protocol not in PROTOCOLS:
            raise refuse("Subscription protocol", self.protocol, f"one of {', '.join(PROTOCOLS)}")
        checks = {
            "email": (self._email_ok, "an email address such as oncall@example.com"),
            "https": (
                self._https_ok,
                "an https:// URL with a host and no credentials, e.g. https://hooks.example.com/x",
            ),
            "sqs": (lambda: bool(_SQS_ARN.match(self.endpoint)), "an SQS queue ARN (standard queue)"),
            "lambda": (lambda: bool(_LAMBDA_ARN.match(self.endpoint)), "a Lambda function ARN"),
        }
        ok, allowed = checks[self.protocol]
        if not isinstance(self.endpoint, str) or not ok():
            raise refuse(f"Subscription endpoint ({self.protocol})", self.endpoint, allowed)

    def _email_ok(self) -> bool:
        return len(self.endpoint) <= 254 and bool(_EMAIL.match(self.endpoint))

    def _https_ok(self) -> bool:
        parts = urlsplit(self.endpoint)
        # Credentials in the URL would sit in plain text in state and in the console.
        return parts.scheme == "https" and bool(_HOST.match(parts.netloc)) and "@" not in parts.netloc

    @property
    def key(self) -> str:
        """Stable child-name suffix from what the subscription delivers to, never its list position."""
        digest = hashlib.sha256(f"{self.protocol}\n{self.endpoint}".encode()).hexdigest()[:12]
        return f"{self.protocol}-{digest}"


def parse_subscription(value: object, where: str) -> Subscription:
    """A subscription from settings (`{"protocol": "email", "endpoint": "oncall@example.com"}`); errors name `where`."""
    if not isinstance(value, Mapping) or set(value) != {"protocol", "endpoint"}:
        raise refuse(where, value, 'an object {"protocol": "email|https|sqs|lambda", "endpoint": "..."}')
    try:
        return Subscription(value["protocol"], value["endpoint"])
    except HardstackError as err:
        raise HardstackError(f"{where}: {err}") from None


@documented
@dataclass(frozen=True, kw_only=True)
class AlertTopicArgs:
    context: AwsContext
    """Region and account: only this account's CloudWatch alarms may publish."""
    kms_key_arn: pulumi.Input[str]
    """Customer KMS key; its policy needs `cloudwatch_alarms_key_statement(context)`."""
    subscriptions: Sequence[Subscription] = ()
    """Where alerts go. Default: none (subscribe later, e.g. from a chat integration)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource. Default: none (provider default tags still apply)."""
    secret_endpoints: bool = False
    """The endpoints came from secret config (a webhook URL carrying its token): kept secret in the
    state and in previews. Default: off."""

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for sub in self.subscriptions:
            if not isinstance(sub, Subscription):
                raise refuse("subscriptions", sub, "Subscription(protocol, endpoint) values")
            if sub.key in seen:
                raise refuse("subscriptions", f"{sub.protocol}:{sub.endpoint}", "each endpoint once")
            seen.add(sub.key)


def topic_policy_statements(context: AwsContext, topic_arn: pulumi.Input[str]) -> list[Statement]:
    """Only CloudWatch alarms of this account and region publish; the account manages; no plain-text publishes.

    Same-account IAM principals granted sns:Publish by their own identity policy can still publish
    (IAM is the account's own gate); nobody outside the account can.
    """
    return [
        {
            "Sid": "AllowCloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": CLOUDWATCH},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {
                "StringEquals": {"aws:SourceAccount": context.account_id},
                "ArnLike": {"aws:SourceArn": context.arn("cloudwatch", "alarm:*")},
            },
        },
        {
            "Sid": "AccountManagement",
            "Effect": "Allow",
            "Principal": {"AWS": context.root_arn},
            "Action": list(ACCOUNT_TOPIC_ACTIONS),
            "Resource": topic_arn,
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ]


class AlertTopic(Component):
    """Pass `arn` to `ServiceAlarmsArgs.topic_arn` and `name` to `failed_deliveries_topic_name`."""

    arn: pulumi.Output[str]
    name: pulumi.Output[str]

    def __init__(self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hardstack:monitoring:AlertTopic", name, opts)
        child = self.child()
        topic = aws.sns.Topic(
            name,
            display_name=f"{'/'.join(args.context.names.segments)} alerts"[:100],
            kms_master_key_id=args.kms_key_arn,
            # SHA256 signatures on deliveries (SHA1 is the default).
            signature_version=2,
            tags={**args.context.tags, **args.tags, "Name": name},
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-policy",
            arn=topic.arn,
            policy=policy_document(topic_policy_statements(args.context, topic.arn)),
            opts=child,
        )
        for sub in args.subscriptions:
            aws.sns.TopicSubscription(
                f"{name}-{sub.key}",
                topic=topic.arn,
                protocol=sub.protocol,
                endpoint=pulumi.Output.secret(sub.endpoint) if args.secret_endpoints else sub.endpoint,
                opts=child,
            )
        self.arn = topic.arn
        self.name = topic.name
        self.register_outputs({"arn": self.arn, "name": self.name})
