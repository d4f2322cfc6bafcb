"""Private S3 bucket: public access blocked, owner-enforced, encrypted, TLS only, versioned, lifecycle.

Creates: aws.s3.Bucket, aws.s3.BucketPublicAccessBlock, aws.s3.BucketOwnershipControls,
aws.s3.BucketServerSideEncryptionConfiguration, aws.s3.BucketVersioning,
aws.s3.BucketLifecycleConfiguration, aws.s3.BucketPolicy; as the destination of other buckets' server
access logs (`access_log_sources`), an aws.s3.BucketLogging per source bucket.

Teardown: outside production the bucket is emptied by `pulumi destroy` (`force_destroy`, every
version and delete marker), unless it is protected; a production bucket never is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from hardstack.aws.context import AwsContext
from hardstack.aws.iam import Statement, policy_document
from hardstack.base.component import Component
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.tier import Tier, parse_tier, require_in_production, resolve_protect

_LOG_SOURCE_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


def empties_on_destroy(tier: Tier, force_destroy: bool | None, protected: bool) -> bool:
    """Whether `pulumi destroy` deletes a bucket's objects with it (S3 refuses to delete a non-empty bucket).

    Default: in development always, in staging unless the bucket is protected, in production never.
    """
    if force_destroy is not None:
        return force_destroy
    return tier is Tier.DEVELOPMENT or (tier is Tier.STAGING and not protected)


@documented
@dataclass(frozen=True, kw_only=True)
class SecureBucketArgs:
    kms_key_arn: pulumi.Input[str] | None = None
    """Customer KMS key for SSE-KMS. Default: none, SSE-S3 (needed where a service cannot use
    KMS, such as load balancer access logs)."""
    versioning: bool = True
    """Keep object versions. Default: on."""
    noncurrent_version_days: int = 90
    """Delete old versions after this many days. Default: 90."""
    expiration_days: int | None = None
    """Delete current objects after this many days (logs). Default: never."""
    policy_statements: Callable[[pulumi.Output[str]], Sequence[Statement]] | None = None
    """Extra bucket-policy statements (e.g. log delivery), built from the bucket ARN.
    Default: none; a deny of non-TLS access is always there."""
    access_log_sources: Mapping[str, SecureBucket] = field(default_factory=dict)
    """Buckets whose server access logs this bucket receives, keyed by a stable name that is also their
    prefix (`{"app-data": data}` -> `app-data/...`): the policy lets S3 log delivery write there for
    exactly that bucket of this account, and each source's logging is turned on once the policy exists.
    Needs SSE-S3 (no `kms_key_arn`) and `context`. Default: none."""
    context: AwsContext | None = None
    """Account of the log delivery conditions; required with `access_log_sources`. Default: none."""
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: in production the bucket is always protected. Default: production."""
    force_destroy: bool | None = None
    """Let `pulumi destroy` delete the objects (all versions) with the bucket. Default: on in
    development, and in staging unless the bucket is protected; True is refused in production."""
    protect: bool | None = None
    """Protect and retain the bucket (its data) on delete. Default: inherit the options given to the
    component (`ResourceOptions(protect=...)`); forced on in production, where False is refused."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier", parse_tier(self.tier))  # a tier given by name is stored as a Tier
        resolve_protect(self.tier, self.protect)
        require_in_production(self.tier, self.force_destroy is not True, "force_destroy", True, "False")
        if self.noncurrent_version_days < 1:
            raise refuse("noncurrent_version_days", self.noncurrent_version_days, "1 or more days")
        if self.expiration_days is not None and self.expiration_days < 1:
            raise refuse("expiration_days", self.expiration_days, "1 or more days, or None to keep objects")
        if self.access_log_sources:
            for key in self.access_log_sources:
                if not isinstance(key, str) or not _LOG_SOURCE_KEY.match(key):
                    raise refuse(
                        "access_log_sources key", key, "1-40 lowercase letters, digits and '-', such as app-data"
                    )
            if self.kms_key_arn is not None:
                # S3 documents SSE-S3 as the only default encryption a log destination may use.
                raise refuse("kms_key_arn", "<a KMS key>", "None (SSE-S3) on a bucket that receives server access logs")
            if self.context is None:
                raise refuse("context", None, "an AwsContext: log delivery is allowed for this account only")


class SecureBucket(Component):
    bucket: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: SecureBucketArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hardstack:storage:SecureBucket", name, opts)
        child = self.child()
        protect = resolve_protect(args.tier, args.protect)
        protected = bool(self._given_protect if protect is None else protect)
        bucket = aws.s3.Bucket(
            name,
            # Read from state at deletion: set from the start, a test stack's destroy needs no extra up.
            force_destroy=empties_on_destroy(args.tier, args.force_destroy, protected),
            tags={**args.tags, "Name": name},
            opts=self.kept(protect),
        )
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        sse = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms" if args.kms_key_arn is not None else "AES256",
            kms_master_key_id=args.kms_key_arn,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=sse,
                    bucket_key_enabled=args.kms_key_arn is not None,
                )
            ],
            opts=child,
        )
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled" if args.versioning else "Suspended"
            ),
            opts=child,
        )
        rule = aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="expire-old-versions",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=args.noncurrent_version_days
            ),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=7
            ),
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.expiration_days)
            if args.expiration_days
            else None,
        )
        # A delete marker left with no version behind it (after versions expire, or the markers a
        # suspended bucket's expiration writes) is never removed by S3 itself. `expired_object_delete_marker`
        # cannot share an expiration with `days`, so it is a rule of its own.
        markers = aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="remove-expired-delete-markers",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(expired_object_delete_marker=True),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[rule, markers],
            # Noncurrent-version rules are checked against the versioning state: set it first.
            opts=self.child(depends_on=[versioning]),
        )
        deny_plain_http: Statement = {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket.arn, pulumi.Output.concat(bucket.arn, "/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        extra = [
            *(args.policy_statements(bucket.arn) if args.policy_statements else []),
            *_access_log_delivery(args, bucket.arn),
        ]
        policy = aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy_document([deny_plain_http, *extra]),
            # A policy put before the public access block can be refused as public.
            opts=self.child(depends_on=[block]),
        )
        for key, source in sorted(args.access_log_sources.items()):
            aws.s3.BucketLogging(
                f"{name}-{key}",
                bucket=source.bucket,
                target_bucket=bucket.bucket,
                target_prefix=f"{key}/",
                target_object_key_format=aws.s3.BucketLoggingTargetObjectKeyFormatArgs(
                    partitioned_prefix=aws.s3.BucketLoggingTargetObjectKeyFormatPartitionedPrefixArgs(
                        partition_date_source="EventTime"
                    )
                ),
                # S3 checks that it may write to the destination when logging is turned on: the
                # bucket policy granting log delivery must exist first.
                opts=self.child(depends_on=[policy]),
            )
        self.bucket = bucket.bucket
        self.arn = bucket.arn
        self.register_outputs({"bucket": self.bucket, "arn": self.arn})


def _access_log_delivery(args: SecureBucketArgs, bucket_arn: pulumi.Output[str]) -> list[Statement]:
    """Let S3 log delivery write each source's server access logs under its prefix, for that bucket only."""
    if not args.access_log_sources:
        return []
    assert args.context is not None  # checked by the args
    return [
        {
            "Sid": f"AllowServerAccessLogs{''.join(part.capitalize() for part in key.split('-'))}",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat(bucket_arn, "/", key, "/*"),
            # Confused deputy: only logs of that bucket, in this account.
            "Condition": {
                "ArnLike": {"aws:SourceArn": source.arn},
                "StringEquals": {"aws:SourceAccount": args.context.account_id},
            },
        }
        for key, source in sorted(args.access_log_sources.items())
    ]
