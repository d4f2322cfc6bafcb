"""Where components deploy: region, account and partition, resolved once per program.

Components take this instead of each calling `get_caller_identity` (every invoke is a round trip
in a real preview). `AwsContext.lookup()` makes the calls once: it checks the region against the
provider's and reads the account id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from hardstack.base.component import stack_naming
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.naming import Naming
from hardstack.core.tags import validate_tags

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")


def validate_region(region: str, where: str = "aws:region") -> str:
    if not isinstance(region, str) or not _REGION.match(region):
        raise refuse(where, region, "an AWS region code such as eu-west-3 or us-east-1")
    return region


def partition_of(region: str) -> str:
    """The ARN partition of a region: aws-cn for China, aws-us-gov for GovCloud, else aws."""
    for prefix, partition in (
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eusc-", "aws-eusc"),
    ):
        if region.startswith(prefix):
            return partition
    return "aws"


_IAM_PATH = re.compile(r"^/([\x21-\x7e]{1,510}/)?$")
_POLICY_ARN = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::([0-9]{12}|aws):policy/[\w+=,.@/-]{1,512}$")


def validate_iam_path(value: object, where: str = "iam_path") -> str:
    if not isinstance(value, str) or not _IAM_PATH.match(value):
        raise refuse(where, value, "a path that starts and ends with '/', such as /platform/")
    return value


def validate_policy_arn(value: object, where: str = "permissions_boundary_arn") -> str:
    if not isinstance(value, str) or not _POLICY_ARN.match(value):
        raise refuse(where, value, "a managed policy ARN such as arn:aws:iam::123456789012:policy/boundary")
    return value


@documented
@dataclass(frozen=True)
class AwsContext:
    """Where components deploy and the company conventions they follow: one value passed to every AWS
    component, so names, IAM paths, boundaries and tags are set in one place."""

    region: str
    """AWS region code; must be the provider's region (`lookup` checks it)."""
    account_id: pulumi.Input[str]
    """The account id, usually from `lookup` (one get_caller_identity invoke)."""
    partition: str = "aws"
    """ARN partition. Default: aws."""
    naming: Naming | None = None
    """How AWS-visible names (KMS aliases, log groups, cluster, database, alarms) are made.
    Default: the Pulumi project and stack, `<project>-<stack>-<name>`."""
    iam_path: str = "/"
    """Path of every IAM role the components create, e.g. `/platform/`. Default: /."""
    permissions_boundary_arn: str | None = None
    """Managed policy set as the permissions boundary of every role the components create. Default: none."""
    caller_arn: str | None = None
    """Who runs the program (`get_caller_identity`), set by `lookup`. Default: unknown."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on every taggable resource, including what Auto Scaling groups and node groups launch
    (provider default tags never reach those). Default: none."""

    def __post_init__(self) -> None:
        validate_region(self.region, "region")
        validate_iam_path(self.iam_path)
        if self.permissions_boundary_arn is not None:
            validate_policy_arn(self.permissions_boundary_arn)
        validate_tags(self.tags, "tags")

    @property
    def names(self) -> Naming:
        """The naming in force: the one given, or the running program's project and stack."""
        return self.naming if self.naming is not None else stack_naming()

    def role_args(self) -> dict[str, Any]:
        """Arguments every `aws.iam.Role` of the components takes: the company path and boundary."""
        return {"path": self.iam_path, "permissions_boundary": self.permissions_boundary_arn}

    @classmethod
    def lookup(cls, region: str, opts: pulumi.InvokeOptions | None = None, **conventions: Any) -> AwsContext:
        """The context of the provider in `opts` (the default provider without), for `region`.

        A `get_region` invoke, waited for here, refuses a region other than the provider's before
        any resource is registered: ARNs, endpoints and AZ names built from `region` would otherwise
        point at another region than the one resources land in. Then one `get_caller_identity`
        invoke, waited for too, for the account id and the deployer's identity (`caller_arn`).
        """
        validate_region(region)
        provider_region = aws.get_region(opts=opts).region
        if provider_region != region:
            raise refuse("region", region, f"the region of the AWS provider, {provider_region or 'unknown'}")
        identity = aws.get_caller_identity(opts=opts)
        return cls(region=region, account_id=identity.account_id, caller_arn=identity.arn, **conventions)

    def deployer_principal_arn(self, opts: pulumi.InvokeOptions | None = None) -> str | None:
        """The IAM role (or user) behind `caller_arn`: an assumed-role session resolves to its role."""
        if self.caller_arn is None:
            return None
        if ":assumed-role/" not in self.caller_arn:
            # An IAM user can hold an access entry; the root user or a federated session cannot.
            return self.caller_arn if re.match(r"^arn:aws[a-z-]*:iam::[0-9]{12}:user/", self.caller_arn) else None
        issuer = aws.iam.get_session_context(arn=self.caller_arn, opts=opts).issuer_arn
        return issuer or None

    @property
    def root_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.concat("arn:", self.partition, ":iam::", self.account_id, ":root")

    def arn(self, service: str, resource: str, *, regional: bool = True) -> pulumi.Output[str]:
        region = self.region if regional else ""
        return pulumi.Output.concat(
            "arn:", self.partition, ":", service, ":", region, ":", self.account_id, ":", resource
        )
