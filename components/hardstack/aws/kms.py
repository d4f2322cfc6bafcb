"""Customer-managed KMS key with rotation and a least-privilege key policy.

Creates: aws.kms.Key, aws.kms.Alias.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from hardstack.aws.context import AwsContext
from hardstack.aws.iam import Statement, policy_document
from hardstack.base.component import Component
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.tier import Tier, parse_tier, resolve_protect


@documented
@dataclass(frozen=True, kw_only=True)
class EncryptionKeyArgs:
    context: AwsContext
    """Region and account the key lives in."""
    description: str
    """What the key protects; shown in the console."""
    service_statements: Sequence[Statement] = ()
    """Extra key-policy statements letting AWS services use the key. Default: none, only the account."""
    deletion_window_days: int = 30
    """Waiting period before deletion (7..30). Default: 30, the longest AWS allows."""
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: in production the key is always protected. Default: production."""
    protect: bool | None = None
    """Protect the key and retain it on delete (data encrypted with it would be lost). Default: inherit
    the options given to the component; forced on in production, where False is refused."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the key. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier", parse_tier(self.tier))  # a tier given by name is stored as a Tier
        resolve_protect(self.tier, self.protect)
        if not 7 <= self.deletion_window_days <= 30:
            raise refuse("deletion_window_days", self.deletion_window_days, "a whole number from 7 to 30")


def logs_service_statement(context: AwsContext) -> dict[str, Any]:
    """Let CloudWatch Logs of this region encrypt log groups of this account with the key."""
    return {
        "Sid": "AllowCloudWatchLogs",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{context.region}.amazonaws.com"},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": context.arn("logs", "log-group:*")}},
    }


def autoscaling_service_statements(context: AwsContext) -> list[dict[str, Any]]:
    """Let the Auto Scaling service-linked role launch instances with volumes under this key."""
    role = pulumi.Output.concat(
        "arn:",
        context.partition,
        ":iam::",
        context.account_id,
        ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
    )
    return [
        {
            "Sid": "AllowAutoScalingUse",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
        },
        {
            "Sid": "AllowAutoScalingGrants",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]


class EncryptionKey(Component):
    """A symmetric key; pass `arn` to log groups, volumes, databases, topics and buckets."""

    arn: pulumi.Output[str]
    key_id: pulumi.Output[str]
    alias_name: pulumi.Output[str]

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not re.fullmatch(r"[a-zA-Z0-9/_-]{1,200}", name):
            raise refuse("EncryptionKey name", name, "letters, digits, '/', '_' and '-' (it becomes a KMS alias)")
        super().__init__("hardstack:security:EncryptionKey", name, opts)
        child = self.child()
        kept = self.kept(resolve_protect(args.tier, args.protect))
        # The account root keeps administration so IAM policies can grant use; services get
        # only what they list.
        statements: list[Statement] = [
            {
                "Sid": "AccountAdministration",
                "Effect": "Allow",
                "Principal": {"AWS": args.context.root_arn},
                "Action": "kms:*",
                "Resource": "*",
            },
            *args.service_statements,
        ]
        key = aws.kms.Key(
            name,
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            key_usage="ENCRYPT_DECRYPT",
            customer_master_key_spec="SYMMETRIC_DEFAULT",
            policy=policy_document(statements),
            tags={**args.context.tags, **args.tags, "Name": name},
            opts=kept,
        )
        alias = aws.kms.Alias(
            f"{name}-alias",
            name=args.context.names.alias(name),
            target_key_id=key.key_id,
            opts=child,
        )
        self.arn = key.arn
        self.key_id = key.key_id
        self.alias_name = alias.name
        self.register_outputs({"arn": self.arn, "key_id": self.key_id, "alias_name": self.alias_name})
