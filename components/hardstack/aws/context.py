"""Where components deploy: region, account and partition, resolved once per program.

Components take this instead of each calling `get_caller_identity` (every invoke is a round trip
in a real preview). `AwsContext.lookup()` makes the one call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from hardstack.core.errors import refuse

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")


def validate_region(region: str, where: str = "aws:region") -> str:
    if not isinstance(region, str) or not _REGION.match(region):
        raise refuse(where, region, "an AWS region code such as eu-west-3 or us-east-1")
    return region


@dataclass(frozen=True)
class AwsContext:
    region: str
    account_id: pulumi.Input[str]
    partition: str = "aws"

    def __post_init__(self) -> None:
        validate_region(self.region, "region")

    @classmethod
    def lookup(cls, region: str, opts: pulumi.InvokeOptions | None = None) -> AwsContext:
        """One `get_caller_identity` invoke for the account id."""
        validate_region(region)
        identity = aws.get_caller_identity_output(opts=opts)
        return cls(region=region, account_id=identity.account_id)

    @property
    def root_arn(self) -> pulumi.Output[str]:
        return pulumi.Output.concat("arn:", self.partition, ":iam::", self.account_id, ":root")

    def arn(self, service: str, resource: str, *, regional: bool = True) -> pulumi.Output[str]:
        region = self.region if regional else ""
        return pulumi.Output.concat(
            "arn:", self.partition, ":", service, ":", region, ":", self.account_id, ":", resource
        )
