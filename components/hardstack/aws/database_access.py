"""IAM side of database access without the master password: one IRSA role per PostgreSQL login.

Creates: aws.iam.Role + aws.iam.RolePolicy for the application (`rds-db:connect` as its user, and
what `app_statements` add, such as its bucket), the migration (`rds-db:connect` as its user) and the
bootstrap Job (`secretsmanager:GetSecretValue` on the master secret and `kms:Decrypt` of it through
Secrets Manager only). Each role trusts exactly one Kubernetes service account through the cluster's
OIDC provider (subject and audience).

The program never reads a secret: the bootstrap Job fetches the master secret itself, at run time,
inside the cluster (see `hardstack.k8s.database_roles`). The master secret stays in Secrets Manager
for break-glass use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from hardstack.aws.cluster import irsa_trust_policy
from hardstack.aws.context import AwsContext
from hardstack.aws.iam import Statement, policy_document
from hardstack.base.component import Component
from hardstack.core.database_roles import DatabaseRoles, rds_db_user_arn
from hardstack.core.docs import documented
from hardstack.core.errors import refuse

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _check_label(value: object, where: str) -> None:
    """Namespace and service account names: what the OIDC subject `system:serviceaccount:<ns>:<sa>` holds."""
    if not isinstance(value, str) or not _DNS_LABEL.match(value):
        raise refuse(where, value, "a DNS-1123 label: 1-63 lowercase letters, digits or '-'")


@documented
@dataclass(frozen=True, kw_only=True)
class DatabaseAccessArgs:
    context: AwsContext
    """Region, account and partition of the database."""
    roles: DatabaseRoles
    """The logins (application, migration) and the master user."""
    resource_id: pulumi.Input[str]
    """`Database.resource_id` (DbiResourceId): what `rds-db:connect` resources name."""
    master_user_secret_arn: pulumi.Input[str]
    """`Database.master_user_secret_arn`: the only secret the bootstrap role may read."""
    master_secret_key_arn: pulumi.Input[str]
    """KMS key the master secret is encrypted with: decrypted through Secrets Manager only."""
    oidc_provider_arn: pulumi.Input[str]
    """`Cluster.oidc_provider_arn`."""
    oidc_issuer: pulumi.Input[str]
    """`Cluster.oidc_provider_url` (the issuer URL)."""
    namespace: str
    """Namespace of the three service accounts."""
    app_service_account: str
    """Service account of the application's pods."""
    migration_service_account: str
    """Service account of the migration Job."""
    bootstrap_service_account: str
    """Service account of the role bootstrap Job."""
    app_statements: Sequence[Statement] = ()
    """More statements of the application's role, such as the use of its bucket: the pods' service
    account has one role, this one. Default: none, `rds-db:connect` only."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every role. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        _check_label(self.namespace, "namespace")
        accounts = {
            "app_service_account": self.app_service_account,
            "migration_service_account": self.migration_service_account,
            "bootstrap_service_account": self.bootstrap_service_account,
        }
        seen: dict[str, str] = {}
        for where, account in accounts.items():
            _check_label(account, where)
            if account in seen:
                raise refuse(where, account, f"a service account of its own ({seen[account]} has it): one role each")
            seen[account] = where


class DatabaseAccess(Component):
    """Annotate the service accounts with `app_role_arn`, `migration_role_arn`, `bootstrap_role_arn`."""

    app_role_arn: pulumi.Output[str]
    migration_role_arn: pulumi.Output[str]
    bootstrap_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hardstack:data:DatabaseAccess", name, opts)
        ctx = args.context
        tags = dict(args.tags)

        def role(suffix: str, service_account: str, what: str, statements: Sequence[Statement]) -> aws.iam.Role:
            created = aws.iam.Role(
                f"{name}-{suffix}",
                **ctx.role_args(),
                description=f"IRSA {args.namespace}/{service_account}: {what}",
                assume_role_policy=irsa_trust_policy(
                    args.oidc_provider_arn, args.oidc_issuer, args.namespace, service_account
                ),
                tags=tags,
                opts=self.child(),
            )
            aws.iam.RolePolicy(
                f"{name}-{suffix}", role=created.id, policy=policy_document(statements), opts=self.child()
            )
            return created

        def connect_as(user: str) -> list[Statement]:
            # IAM database authentication: a token for exactly this user of exactly this instance.
            arn = pulumi.Output.all(ctx.account_id, args.resource_id).apply(
                lambda v: rds_db_user_arn(ctx.partition, ctx.region, v[0], v[1], user)
            )
            return [{"Sid": "ConnectAsOneUser", "Effect": "Allow", "Action": "rds-db:connect", "Resource": arn}]

        roles = args.roles
        app = role(
            "app",
            args.app_service_account,
            f"connect as {roles.app_user}",
            [*connect_as(roles.app_user), *args.app_statements],
        )
        migration = role(
            "migration",
            args.migration_service_account,
            f"connect as {roles.migration_user}",
            connect_as(roles.migration_user),
        )
        bootstrap = role(
            "bootstrap",
            args.bootstrap_service_account,
            "read the master secret to create the logins",
            [
                {
                    "Sid": "ReadTheMasterSecret",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": args.master_user_secret_arn,
                },
                {
                    # Secrets Manager decrypts with the caller's permission, naming the secret in the
                    # encryption context: the key opens this secret, through Secrets Manager, only.
                    "Sid": "DecryptTheMasterSecret",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": args.master_secret_key_arn,
                    "Condition": {
                        "StringEquals": {
                            "kms:ViaService": f"secretsmanager.{ctx.region}.amazonaws.com",
                            "kms:EncryptionContext:SecretARN": args.master_user_secret_arn,
                        }
                    },
                },
            ],
        )
        self.app_role_arn = app.arn
        self.migration_role_arn = migration.arn
        self.bootstrap_role_arn = bootstrap.arn
        self.register_outputs(
            {
                "app_role_arn": self.app_role_arn,
                "migration_role_arn": self.migration_role_arn,
                "bootstrap_role_arn": self.bootstrap_role_arn,
            }
        )
