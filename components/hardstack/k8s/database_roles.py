"""The Job that creates an application's PostgreSQL logins, run in the cluster as the RDS master user.

Creates in the app's namespace: k8s.core.v1.ServiceAccount (IRSA role that may read the master
secret, no API token), k8s.core.v1.ConfigMap (the SQL, `hardstack.core.database_roles.bootstrap_sql`),
k8s.networking.v1.NetworkPolicy per flow its pods need (DNS, the database, HTTPS to STS and Secrets
Manager) and k8s.batch.v1.Job.

The Job's init container fetches the master secret from Secrets Manager itself, at run time, into a
memory-backed volume; the main container turns it into a pgpass file and runs the idempotent SQL.
The password never passes through Pulumi (no invoke reads it, the state holds only the secret's
ARN) and never is an environment variable. It runs again only when its SQL, images, script or
connection change (its spec is immutable: the Job is replaced); a rerun changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from hardstack.base.component import Component
from hardstack.core.database_roles import BOOTSTRAP_SHELL, FETCH_SHELL, DatabaseRoles, bootstrap_sql
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.tier import Tier, parse_tier
from hardstack.k8s.app import (
    COMPONENT_LABEL,
    NAME_LABEL,
    PART_OF,
    PART_OF_LABEL,
    RUN_AS_ID,
    Resources,
    container_security_context,
    image_pull_policy,
    pod_security_context,
    tmp_mount,
    tmp_volume,
    validate_cidrs,
    validate_image,
)
from hardstack.k8s.platform import dns_egress_rule, validate_dns_label

#: AWS CLI v2 (Secrets Manager client), pinned by digest.
AWS_CLI_IMAGE = (
    "public.ecr.aws/aws-cli/aws-cli:2.31.30@sha256:6c9314d8dd18bcfd11c509e00ea39016c4fb978e42e86df1e4dfd17038b10b78"
)
#: psql, pinned by digest; a newer client talks to every supported server major.
PSQL_IMAGE = (
    "docker.io/library/postgres:17.6-alpine@sha256:ef257d85f76e48da1c64832459b59fcaba1a4dac97bf5d7450c77753542eee94"
)
#: The IRSA annotation the EKS pod identity webhook reads: it projects a token file for this role.
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
CREDENTIALS_VOLUME = "db-credentials"
CREDENTIALS_PATH = "/run/db"


@documented
@dataclass(frozen=True, kw_only=True)
class DatabaseBootstrapArgs:
    namespace: str
    """Namespace of the Job (the app's, whose pods alone may reach the database). Required."""
    roles: DatabaseRoles
    """The logins to create and the master user the Job runs as."""
    host: pulumi.Input[str]
    """`Database.address`."""
    port: pulumi.Input[int]
    """`Database.port`."""
    master_user: pulumi.Input[str]
    """`Database.username`: the login of the master secret."""
    master_user_secret_arn: pulumi.Input[str]
    """`Database.master_user_secret_arn`: fetched by the Job at run time, never by the program."""
    role_arn: pulumi.Input[str]
    """`DatabaseAccess.bootstrap_role_arn`: the IRSA role that may read that one secret."""
    region: str
    """Region of Secrets Manager and STS."""
    database_cidrs: Sequence[str]
    """CIDRs of the database subnets (egress on `database_port`)."""
    database_port: int = 5432
    """Default: 5432."""
    aws_api_cidrs: Sequence[str] = ("0.0.0.0/0",)
    """Where STS and Secrets Manager answer on 443: their interface endpoints' subnets when the VPC has
    them, else their public addresses. Default: 0.0.0.0/0 (HTTPS only)."""
    service_account: str = "db-bootstrap"
    """Service account the bootstrap role trusts. Default: db-bootstrap."""
    tier: Tier = Tier.PRODUCTION
    """Images must carry a digest in production. Default: production."""
    aws_cli_image: str = AWS_CLI_IMAGE
    """Image with the AWS CLI. Default: AWS_CLI_IMAGE."""
    psql_image: str = PSQL_IMAGE
    """Image with psql and a POSIX shell. Default: PSQL_IMAGE."""
    run_as_id: int = RUN_AS_ID
    """User, group and fsGroup of the pod (the fsGroup lets it read the projected token). Default: 10001."""

    def __post_init__(self) -> None:
        tier = parse_tier(self.tier)
        object.__setattr__(self, "tier", tier)
        validate_dns_label(self.namespace, "namespace")
        validate_dns_label(self.service_account, "service_account")
        validate_image(self.aws_cli_image, tier, "aws_cli_image")
        validate_image(self.psql_image, tier, "psql_image")
        if not self.database_cidrs:
            raise refuse("database_cidrs", [], "the database subnets: without them the Job cannot connect")
        validate_cidrs(self.database_cidrs)
        for cidr in self.aws_api_cidrs:
            if not isinstance(cidr, str) or "/" not in cidr:
                raise refuse("aws_api_cidrs", cidr, "CIDR blocks such as 10.0.0.0/16 or 0.0.0.0/0")
        if isinstance(self.run_as_id, bool) or not isinstance(self.run_as_id, int) or self.run_as_id < 10000:
            raise refuse("run_as_id", self.run_as_id, "a user id of 10000 or more")


def bootstrap_suffix(args: DatabaseBootstrapArgs) -> str:
    """8 hex characters that change with what the Job runs: a new name makes Kubernetes run it again."""
    parts = [bootstrap_sql(args.roles), BOOTSTRAP_SHELL, FETCH_SHELL, args.aws_cli_image, args.psql_image]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:8]


class DatabaseBootstrap(Component):
    """Run once per change, before the migration: `opts.depends_on` this component from the App."""

    job_name: pulumi.Output[str]

    def __init__(self, name: str, args: DatabaseBootstrapArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        validate_dns_label(name, "name")
        super().__init__("hardstack:kubernetes:DatabaseBootstrap", name, opts)
        child = self.child()
        labels = {NAME_LABEL: name, PART_OF_LABEL: PART_OF, COMPONENT_LABEL: "database-bootstrap"}
        pods = k8s.meta.v1.LabelSelectorArgs(match_labels={NAME_LABEL: name})

        def meta(
            object_name: str, annotations: dict[str, pulumi.Input[str]] | None = None
        ) -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(
                name=object_name, namespace=args.namespace, labels=labels, annotations=annotations
            )

        account = k8s.core.v1.ServiceAccount(
            name,
            metadata=meta(args.service_account, {ROLE_ANNOTATION: args.role_arn}),
            # The IRSA webhook projects its own token volume; the Kubernetes API token is never needed.
            automount_service_account_token=False,
            opts=child,
        )
        sql = k8s.core.v1.ConfigMap(
            f"{name}-sql", metadata=meta(f"{name}-sql"), data={"bootstrap.sql": bootstrap_sql(args.roles)}, opts=child
        )

        def egress(cidrs: Sequence[str], port: int) -> k8s.networking.v1.NetworkPolicySpecArgs:
            peers = [
                k8s.networking.v1.NetworkPolicyPeerArgs(ip_block=k8s.networking.v1.IPBlockArgs(cidr=c)) for c in cidrs
            ]
            return k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=pods,
                policy_types=["Egress"],
                egress=[
                    k8s.networking.v1.NetworkPolicyEgressRuleArgs(
                        to=peers, ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=port)]
                    )
                ],
            )

        specs = {
            "allow-dns": k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=pods, policy_types=["Egress"], egress=[dns_egress_rule()]
            ),
            "allow-database": egress(args.database_cidrs, args.database_port),
            # STS (the IRSA token exchange) and Secrets Manager: HTTPS only.
            "allow-aws-api": egress(args.aws_api_cidrs, 443),
        }
        # Started before its policies, the pod would find the namespace's default-deny and fail.
        policies = [
            k8s.networking.v1.NetworkPolicy(f"{name}-{key}", metadata=meta(f"{name}-{key}"), spec=spec, opts=child)
            for key, spec in specs.items()
        ]

        mounts = [
            k8s.core.v1.VolumeMountArgs(name=CREDENTIALS_VOLUME, mount_path=CREDENTIALS_PATH),
            tmp_mount(),
        ]
        fetch = k8s.core.v1.ContainerArgs(
            name="fetch-master-secret",
            image=args.aws_cli_image,
            image_pull_policy=image_pull_policy(args.aws_cli_image),
            command=["/bin/sh", "-c", FETCH_SHELL],
            env=[
                k8s.core.v1.EnvVarArgs(name="MASTER_SECRET_ARN", value=args.master_user_secret_arn),
                k8s.core.v1.EnvVarArgs(name="AWS_REGION", value=args.region),
                k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp"),  # noqa: S108 - the pod's emptyDir
            ],
            resources=Resources().args(),
            security_context=container_security_context(),
            volume_mounts=mounts,
        )
        run = k8s.core.v1.ContainerArgs(
            name="create-roles",
            image=args.psql_image,
            image_pull_policy=image_pull_policy(args.psql_image),
            command=["/bin/sh", "-c", BOOTSTRAP_SHELL],
            env=[
                k8s.core.v1.EnvVarArgs(name="PGHOST", value=args.host),
                k8s.core.v1.EnvVarArgs(name="PGPORT", value=pulumi.Output.from_input(args.port).apply(str)),
                k8s.core.v1.EnvVarArgs(name="PGDATABASE", value=args.roles.database),
                k8s.core.v1.EnvVarArgs(name="PGUSER", value=args.master_user),
                k8s.core.v1.EnvVarArgs(name="PGSSLMODE", value="require"),  # the server accepts TLS only
                k8s.core.v1.EnvVarArgs(name="PGPASSFILE", value=f"{CREDENTIALS_PATH}/pgpass"),
                k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp"),  # noqa: S108 - the pod's emptyDir
            ],
            resources=Resources().args(),
            security_context=container_security_context(),
            volume_mounts=[
                *mounts,
                k8s.core.v1.VolumeMountArgs(name="sql", mount_path="/etc/bootstrap", read_only=True),
            ],
        )
        job = k8s.batch.v1.Job(
            name,
            metadata=meta(f"{name}-{bootstrap_suffix(args)}"),
            spec=k8s.batch.v1.JobSpecArgs(
                # IAM is eventually consistent: a fresh role may be refused for a few seconds.
                backoff_limit=4,
                active_deadline_seconds=600,  # within the provider's 10-minute wait for the Job
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=account.metadata.name,
                        automount_service_account_token=False,
                        enable_service_links=False,
                        restart_policy="Never",
                        security_context=pod_security_context(args.run_as_id),
                        init_containers=[fetch],
                        containers=[run],
                        volumes=[
                            # Memory-backed, this pod's only: the secret never touches a node's disk.
                            k8s.core.v1.VolumeArgs(
                                name=CREDENTIALS_VOLUME,
                                empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(medium="Memory", size_limit="1Mi"),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="sql",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                    name=sql.metadata.name, default_mode=0o444
                                ),
                            ),
                            tmp_volume(),
                        ],
                    ),
                ),
            ),
            # A Job's pod template is immutable: any other change replaces it under the same name.
            opts=self.child(delete_before_replace=True, depends_on=[*policies, sql, account]),
        )
        self.job_name = job.metadata.name
        self.register_outputs({"job_name": self.job_name})
