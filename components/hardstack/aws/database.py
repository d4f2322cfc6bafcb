"""PostgreSQL on RDS: encrypted, private, TLS-only, with an RDS-managed master password.

Creates (`Database`): aws.rds.SubnetGroup, aws.rds.ParameterGroup (one per PostgreSQL family:
forces TLS, logs slow statements and connections), aws.iam.Role + aws.iam.RolePolicyAttachment
(enhanced monitoring), one aws.cloudwatch.LogGroup per exported log (made before the instance so
RDS never creates unmanaged ones), aws.rds.SnapshotCopy (only when restoring: re-encrypts the
source snapshot under our key, because a restore keeps the snapshot's key and `kms_key_id` cannot
change in place), random.RandomId (the final snapshot's name suffix, when one is taken) and aws.rds.Instance.

Day 2: a new `engine_version` major is a major upgrade (checked against the running instance, read
before any resource registers: no downgrade, one major at a time), applied at once with the new
family's parameter group; class and storage changes wait for the maintenance window unless
`apply_immediately`.

The master password never enters Pulumi inputs, state or outputs: RDS generates it and keeps it in
Secrets Manager, encrypted with the customer key, and nothing here reads it. Only the secret's ARN
is exported, for break-glass use and for the in-cluster bootstrap Job that creates the
application's own logins (`hardstack.aws.database_access`, `hardstack.k8s.database_roles`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from hardstack.aws.context import AwsContext
from hardstack.aws.iam import service_assume_role_policy
from hardstack.aws.network import invoke_options, validate_log_retention
from hardstack.base.component import Component, IdList, id_list, known_length
from hardstack.core.database_roles import PG_RESERVED_KEYWORDS
from hardstack.core.docs import documented
from hardstack.core.errors import refuse
from hardstack.core.naming import Naming
from hardstack.core.rds_catalog import (
    check_engine_version,
    check_instance_class,
    suggest_engine_version,
    suggest_instance_class,
)
from hardstack.core.tier import Tier, parse_tier, require_in_production, resolve_protect

#: PostgreSQL major versions this component is tested against (parameter-group family `postgres<N>`).
SUPPORTED_MAJORS = frozenset({14, 15, 16, 17})
PORT = 5432
#: Logs RDS ships to CloudWatch; each gets a log group made here.
LOG_EXPORTS = ("postgresql", "upgrade")
CA_CERT = "rds-ca-rsa2048-g1"
MONITORING_POLICY = "arn:{partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
#: Days of Performance Insights history kept (7 is the free tier).
PERFORMANCE_INSIGHTS_DAYS = 7
MONITORING_INTERVAL = 60
#: Statements slower than this (ms) are logged.
SLOW_STATEMENT_MS = 1000
#: Fewest days of automated backups production accepts.
PRODUCTION_MIN_BACKUP_DAYS = 7
SSL_MODES = ("require", "verify-ca", "verify-full")

_VERSION = re.compile(r"^(\d{2})(\.\d{1,2})?$")
_CLASS = re.compile(r"^db\.[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.(micro|small|medium|large|[0-9]*xlarge|metal(-[0-9]+xl)?)$")
_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_RDS_ID = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$")
_MANUAL_SNAPSHOT = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,254}(?<!-)$")
_AUTOMATED_SNAPSHOT = re.compile(r"^rds:[a-z](?!.*--)[a-z0-9-]{0,254}(?<!-)$")
_SNAPSHOT_ARN = re.compile(r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:snapshot:(rds:)?[a-zA-Z][a-zA-Z0-9-]{0,254}$")
_WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
_MAINTENANCE = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$"
)

#: Names RDS or PostgreSQL reserve, plus the well-known defaults attackers try first.
RESERVED_USERNAMES = PG_RESERVED_KEYWORDS | frozenset(
    {
        "admin", "administrator", "postgres", "root", "master", "rdsadmin", "rdsrepladmin", "rds_superuser",
        "rds_iam", "rds_replication", "public", "pg_monitor",
    }
)  # fmt: skip
RESERVED_DATABASES = frozenset({"postgres", "template0", "template1", "rdsadmin"}) | RESERVED_USERNAMES


def validate_engine_version(version: str, where: str = "engine_version") -> int:
    """`16` or `16.9` with a supported major; returns the major (the parameter-group family)."""
    allowed = f"a PostgreSQL version such as 16 or 16.9, major one of {sorted(SUPPORTED_MAJORS)}"
    match = _VERSION.match(version) if isinstance(version, str) else None
    if match is None or int(match.group(1)) not in SUPPORTED_MAJORS:
        raise refuse(where, version, allowed + suggest_engine_version(version, SUPPORTED_MAJORS))
    # RDS creates instances only on the minors it still offers (hardstack/assets/rds_postgres.json).
    check_engine_version(version, where)
    return int(match.group(1))


def _version_parts(version: str, where: str) -> tuple[int, int | None]:
    # RDS may report suffixed minors (`16.6-R2`): only the leading numbers order versions.
    match = re.match(r"^(\d+)(?:\.(\d+))?", version)
    if match is None:
        raise refuse(where, version, "a PostgreSQL version such as 16 or 16.6")
    return int(match.group(1)), int(match.group(2)) if match.group(2) else None


def validate_upgrade(running: str | None, wanted: str, where: str = "engine_version") -> bool:
    """Whether going from the `running` version to `wanted` is a major upgrade (False for a new instance).

    Refused: a downgrade (RDS cannot move an instance back; a lower pinned minor than the one RDS has
    applied reads as one) and a skip of a major (hardstack upgrades one major per change: each step's
    parameter group family and extensions are checked in staging first, and RDS lists the next major as
    a target of every supported minor, while a skip depends on the running minor).
    """
    if running is None:
        return False
    was_major, was_minor = _version_parts(running, "running engine version")
    now_major, now_minor = _version_parts(wanted, where)
    if now_major < was_major or (
        now_major == was_major and now_minor is not None and was_minor is not None and now_minor < was_minor
    ):
        raise refuse(
            where,
            wanted,
            f"{running} (the running version) or later: RDS cannot downgrade; restore a snapshot into a new database",
        )
    if now_major > was_major + 1:
        raise refuse(where, wanted, f"{was_major + 1}, one major at a time from the running {running}")
    return now_major > was_major


def running_engine_version(identifier: str, opts: pulumi.ResourceOptions | None) -> str | None:
    """The engine version of the instance named `identifier` in the account, None when there is none yet.

    Blocking invokes before any resource registers, so a refused upgrade stops the preview cleanly.
    """
    invoke = invoke_options(opts)
    found = aws.rds.get_instances(
        filters=[aws.rds.GetInstancesFilterArgs(name="db-instance-id", values=[identifier])], opts=invoke
    )
    if identifier not in (found.instance_identifiers or []):
        return None
    return str(aws.rds.get_instance(db_instance_identifier=identifier, opts=invoke).engine_version)


def snapshot_storage(
    identifier: str, opts: pulumi.ResourceOptions | None, where: str = "snapshot_identifier"
) -> tuple[int, str]:
    """The allocated storage (GiB) and engine version of the snapshot a new instance restores from.

    A blocking invoke before any resource registers; shared snapshots of another account included.
    A snapshot the lookup does not find is refused, naming `where`.
    """
    invoke = invoke_options(opts)
    try:
        found = aws.rds.get_snapshot(db_snapshot_identifier=identifier, include_shared=True, opts=invoke)
    except Exception as err:  # the provider's own error: not found, or not shared with this account
        raise refuse(
            where,
            identifier,
            "a manual or shared snapshot this account can restore in this region "
            f"(`aws rds describe-db-snapshots --include-shared`); the lookup answered: {err}",
        ) from None
    return int(found.allocated_storage), str(found.engine_version)


def validate_restore(
    snapshot: tuple[int, str], allocated_gb: int, engine_version: str, identifier: str, where: tuple[str, str]
) -> None:
    """RDS restores into no less storage than the snapshot holds, and at the snapshot's major version."""
    size, version = snapshot
    if allocated_gb < size:
        raise refuse(
            where[0], allocated_gb, f"at least {size}, the GiB of snapshot {identifier} (RDS restores into no less)"
        )
    if _version_parts(version, where[1])[0] != validate_engine_version(engine_version, where[1]):
        raise refuse(
            where[1],
            engine_version,
            f"the major of snapshot {identifier} ({version}): restore at that major, then upgrade one major at a time",
        )


def validate_instance_class(value: str, where: str = "instance_class") -> str:
    if not isinstance(value, str) or not _CLASS.match(value):
        allowed = "an RDS instance class such as db.t4g.micro, db.m7g.large or db.r6i.2xlarge"
        raise refuse(where, value, allowed + suggest_instance_class(value))
    return check_instance_class(value, where)


def validate_backup_retention(days: int, tier: Tier, where: str = "backup_retention_days") -> int:
    """0..35 days; production refuses fewer than 7 (0 means no automated backups, no point-in-time recovery)."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 35:
        raise refuse(where, days, "a whole number of days from 0 to 35")
    if days == 0 and tier is Tier.STAGING:
        raise refuse(where, days, "1 to 35 in staging: its data is restored and tested like production's")
    if days < PRODUCTION_MIN_BACKUP_DAYS and tier.is_production:
        raise refuse(
            where, days, f"{PRODUCTION_MIN_BACKUP_DAYS} to 35 in production: a week of point-in-time recovery at least"
        )
    return days


def validate_storage(
    allocated: int, maximum: int | None, names: tuple[str, str] = ("allocated_storage_gb", "max_allocated_storage_gb")
) -> None:
    """gp3 from 20 GiB to 64 TiB; the autoscaling ceiling, when set, at least 10 % over the allocation
    (RDS refuses a maximum storage threshold closer to it)."""
    lo, hi = names
    if isinstance(allocated, bool) or not isinstance(allocated, int) or not 20 <= allocated <= 65536:
        raise refuse(lo, allocated, "20 to 65536 GiB")
    least = -(-allocated * 11 // 10)  # 110 % of the allocation, rounded up
    if maximum is not None and (
        isinstance(maximum, bool) or not isinstance(maximum, int) or not least <= maximum <= 65536
    ):
        raise refuse(
            hi,
            maximum,
            f"{least} (10 % over {lo}, {allocated}) to 65536 GiB, or unset to turn storage autoscaling off",
        )


def validate_username(value: str, where: str = "master_username") -> str:
    if not isinstance(value, str) or not _IDENT.match(value) or value.startswith("pg_") or value.startswith("rds"):
        raise refuse(where, value, "a lower-case identifier: a letter, then letters, digits or '_' (63 at most)")
    if value in RESERVED_USERNAMES:
        raise refuse(where, value, "a name of your own, not a default or reserved word such as admin or postgres")
    return value


def validate_database_name(value: str, where: str = "database_name") -> str:
    if not isinstance(value, str) or not _IDENT.match(value) or value in RESERVED_DATABASES:
        raise refuse(where, value, "a lower-case identifier (letter, then letters, digits, '_'), not a reserved name")
    return value


def validate_snapshot_identifier(value: str, where: str = "snapshot_identifier", accounts: Sequence[str] = ()) -> str:
    """A snapshot a new instance can restore from; with `accounts` (this stack's), an automated snapshot
    of any other account is refused: RDS shares no automated snapshot."""
    shared = isinstance(value, str) and _SNAPSHOT_ARN.match(value) and value.split(":")[4] not in accounts
    if accounts and shared and ":snapshot:rds:" in value:
        raise refuse(
            where,
            value,
            "a manual snapshot: RDS shares no automated one across accounts; copy it first "
            "(`aws rds copy-db-snapshot --source-db-snapshot-identifier rds:<id> --target-db-snapshot-identifier "
            "<id>`), share the copy and grant its KMS key, or name an automated snapshot of this account by id",
        )
    if not isinstance(value, str) or not (
        _MANUAL_SNAPSHOT.match(value) or _AUTOMATED_SNAPSHOT.match(value) or _SNAPSHOT_ARN.match(value)
    ):
        raise refuse(
            where,
            value,
            "a snapshot id (rds:<db>-YYYY-MM-DD-HH-MM or a manual id) or, shared from another account, "
            "arn:aws:rds:<region>:<account>:snapshot:<id>",
        )
    return value


def database_identifier(naming: Naming, name: str) -> str:
    """The RDS identifier: from the naming prefix and component name only, so no size or tag change renames it."""
    identifier = naming.flat(name, 63, "Database identifier").lower()
    if not _RDS_ID.match(identifier):
        raise refuse(
            "Database identifier",
            identifier,
            "'<prefix>-<name>' of letters, digits and single hyphens, starting with a letter, 63 at most",
        )
    return identifier


def takes_final_snapshot(tier: Tier, final_snapshot: bool | None, protected: bool) -> bool:
    """Whether deleting the instance takes a final snapshot: as asked, else in production and
    whenever the instance is protected (by its args or by the options given to the component)."""
    if final_snapshot is not None:
        return final_snapshot
    return tier.is_production or protected


def log_group_name(identifier: str, log: str) -> str:
    """The group RDS writes an exported log to; made by us first so its retention and key are ours."""
    return f"/aws/rds/instance/{identifier}/{log}"


def parameters(major: int) -> dict[str, str]:
    """Parameter-group settings: TLS only, slow statements and connections logged (all dynamic)."""
    del major  # same settings for every supported major; kept so a future major can differ
    return {
        "rds.force_ssl": "1",
        "log_min_duration_statement": str(SLOW_STATEMENT_MS),
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
    }


def connection_env(
    address: str, port: int | str, database: str, username: str, sslmode: str = "require"
) -> dict[str, str]:
    """Non-secret libpq variables for a client. There is no password: clients log in with IAM tokens.

    `verify-full` also needs the RDS CA bundle in the client (PGSSLROOTCERT).
    """
    if sslmode not in SSL_MODES:
        raise refuse("sslmode", sslmode, f"one of {', '.join(SSL_MODES)} (the server refuses plain connections)")
    return {
        "PGHOST": address,
        "PGPORT": str(port),
        "PGDATABASE": database,
        "PGUSER": username,
        "PGSSLMODE": sslmode,
    }


@documented
@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    context: AwsContext
    """Region and account."""
    subnet_ids: IdList
    """Isolated subnets (no route out), two or more AZs."""
    security_group_ids: IdList
    """The data group: 5432 from the app groups only, no egress."""
    kms_key_arn: pulumi.Input[str]
    """Customer key for storage, Performance Insights and the managed master secret."""
    log_key_arn: pulumi.Input[str]
    """Customer key of the log groups (its policy must let CloudWatch Logs use it)."""
    tier: Tier = Tier.PRODUCTION
    """Safety enforced: production requires 7+ days of backups, deletion protection, a final snapshot
    and protection. Default: production."""
    engine_version: str = "16"
    """PostgreSQL version, `16` or `16.6`. Default: 16. RDS applies minor upgrades itself, so a pinned
    minor must be raised once RDS has moved past it (a lower pin reads as a downgrade)."""
    instance_class: str = "db.t4g.micro"
    """Instance class. Default: db.t4g.micro. Changes in place, in the maintenance window unless
    `apply_immediately`."""
    allocated_storage_gb: int = 20
    """gp3 storage, 20 GiB or more. Default: 20. Grows in place; it can never shrink."""
    max_allocated_storage_gb: int | None = None
    """Ceiling for storage autoscaling, at least the allocation. Default: none, autoscaling off."""
    running_version: str | Literal["lookup"] | None = "lookup"
    """The version the instance runs now, which decides whether `engine_version` is a major upgrade:
    a version (the caller read it with `running_engine_version`), None when there is no instance yet,
    or "lookup" to read it from the account before any resource registers. Default: lookup."""
    apply_immediately: bool = False
    """Apply class, storage and other pending changes now (a class change restarts the instance)
    instead of in the next maintenance window. Default: off. A major upgrade always applies now: its
    new parameter group can only be attached with it, and the old group is released then."""
    multi_az: bool = False
    """Standby in a second AZ with automatic failover. Default: off."""
    backup_retention_days: int = 7
    """Automated backups and point-in-time recovery, 0..35 days. Default: 7; under 7 is refused in production."""
    backup_window: str = "02:00-03:00"
    """Daily UTC backup window. Default: 02:00-03:00."""
    maintenance_window: str = "sun:03:30-sun:04:30"
    """Weekly UTC maintenance window, not overlapping the backups. Default: sun:03:30-sun:04:30."""
    deletion_protection: bool = True
    """Refuse API deletion. Default: on; off is refused in production."""
    final_snapshot: bool | None = None
    """Take a final snapshot when the instance is deleted. Default: on in production or when protected;
    off is refused in production."""
    database_name: str = "app"
    """Database created at launch. Default: app. With a snapshot, the snapshot's database is kept."""
    master_username: str = "app_owner"
    """Master user, not a default such as admin or postgres. Default: app_owner. With a snapshot, the
    snapshot's user is kept."""
    snapshot_identifier: str | None = None
    """Create from this snapshot (e.g. preprod from a prod snapshot; from another account pass the
    shared snapshot's ARN, with its key shared too). Only read at creation: later changes are ignored,
    so keep it set for the life of the database. Default: none, an empty database."""
    performance_insights: bool = True
    """Performance Insights, encrypted with the key, 7 days. Default: on."""
    iam_authentication: bool = True
    """Let IAM roles log in with tokens (grant `rds_iam` to the users). Default: on."""
    log_retention_days: int = 90
    """Retention of the exported PostgreSQL logs. Default: 90."""
    protect: bool | None = None
    """Protect the instance and retain it on delete. Default: inherit the options given to the
    component; forced on in production, where False is refused."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of every resource. Default: none (provider default tags still apply)."""

    def __post_init__(self) -> None:
        tier = parse_tier(self.tier)
        object.__setattr__(self, "tier", tier)  # a tier given by name is stored as a Tier
        resolve_protect(tier, self.protect)
        require_in_production(tier, self.final_snapshot is not False, "final_snapshot", False, "a final snapshot")
        validate_engine_version(self.engine_version)
        validate_instance_class(self.instance_class)
        validate_storage(self.allocated_storage_gb, self.max_allocated_storage_gb)
        validate_backup_retention(self.backup_retention_days, tier)
        validate_username(self.master_username)
        validate_database_name(self.database_name)
        if self.snapshot_identifier is not None:
            account = self.context.account_id
            validate_snapshot_identifier(
                self.snapshot_identifier, accounts=(account,) if isinstance(account, str) else ()
            )
        validate_log_retention(self.log_retention_days)
        if (known_length(self.subnet_ids) or 2) < 2:
            raise refuse("subnet_ids", self.subnet_ids, "isolated subnets in at least two AZs (RDS requires it)")
        if known_length(self.security_group_ids) == 0:
            raise refuse("security_group_ids", [], "at least one group (the data group: 5432 from the app only)")
        if not _WINDOW.match(self.backup_window):
            raise refuse("backup_window", self.backup_window, "hh:mm-hh:mm in UTC, such as 02:00-03:00")
        if not _MAINTENANCE.match(self.maintenance_window):
            raise refuse("maintenance_window", self.maintenance_window, "ddd:hh:mm-ddd:hh:mm in UTC")
        require_in_production(tier, self.deletion_protection, "deletion_protection", False, "deletion protection on")
        if self.running_version != "lookup":
            validate_upgrade(self.running_version, self.engine_version)

    @property
    def major_version(self) -> int:
        return validate_engine_version(self.engine_version)


class Database(Component):
    """Point clients at `address`:`port` with TLS; the password is in `master_user_secret_arn`."""

    identifier: str
    endpoint: pulumi.Output[str]
    address: pulumi.Output[str]
    port: pulumi.Output[int]
    resource_id: pulumi.Output[str]
    arn: pulumi.Output[str]
    master_user_secret_arn: pulumi.Output[str]
    database_name: pulumi.Output[str]
    username: pulumi.Output[str]
    master_username: str
    initial_database: str

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        identifier = database_identifier(args.context.names, name)  # refused before anything registers
        # A restore creates a new instance; otherwise the running version decides what the change is.
        running = args.running_version
        if running == "lookup":
            running = None if args.snapshot_identifier is not None else running_engine_version(identifier, opts)
        major_upgrade = validate_upgrade(running, args.engine_version)
        super().__init__("hardstack:data:Database", name, opts)
        child = self.child()
        ctx = args.context
        tags = {**args.context.tags, **args.tags, "Name": identifier}
        major = args.major_version

        subnet_group = aws.rds.SubnetGroup(
            name,
            description=f"{identifier}: isolated subnets",
            subnet_ids=id_list(args.subnet_ids),
            tags=tags,
            opts=child,
        )
        # One group per family, the family in its name (auto-named after it): a major upgrade registers
        # the new family's group, the instance moves to it, and the old group, no longer in the
        # program, is deleted last, once released. The alias adopts the group of the name before.
        family = f"postgres{major}"
        parameter_group = aws.rds.ParameterGroup(
            f"{name}-params-{family}",
            description=f"{identifier}: TLS only, slow statements and connections logged",
            family=family,
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name=key, value=value, apply_method="immediate")
                for key, value in parameters(major).items()
            ],
            tags=tags,
            opts=self.child(aliases=[pulumi.Alias(name=f"{name}-params")]),
        )
        monitoring_role = aws.iam.Role(
            f"{name}-monitoring",
            **args.context.role_args(),
            description=f"RDS enhanced monitoring of {identifier}",
            assume_role_policy=service_assume_role_policy(
                "monitoring.rds.amazonaws.com", source_account=ctx.account_id
            ),
            tags=tags,
            opts=child,
        )
        monitoring_policy = aws.iam.RolePolicyAttachment(
            f"{name}-monitoring",
            role=monitoring_role.name,
            policy_arn=MONITORING_POLICY.format(partition=ctx.partition),
            opts=child,
        )
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-{log}",
                name=log_group_name(identifier, log),
                retention_in_days=args.log_retention_days,
                kms_key_id=args.log_key_arn,
                tags=tags,
                opts=self.kept(resolve_protect(args.tier, args.protect)),  # the audit trail is kept with the data
            )
            for log in LOG_EXPORTS
        ]

        snapshot: pulumi.Input[str] | None = None
        if args.snapshot_identifier is not None:
            # A restore keeps the snapshot's key; copying re-encrypts it under ours first.
            seed = aws.rds.SnapshotCopy(
                f"{name}-seed",
                source_db_snapshot_identifier=args.snapshot_identifier,
                target_db_snapshot_identifier=f"{identifier}-seed",
                kms_key_id=args.kms_key_arn,
                copy_tags=False,
                tags=tags,
                opts=self.child(ignore_changes=["sourceDbSnapshotIdentifier"], delete_before_replace=True),
            )
            snapshot = seed.id  # the copy's identifier

        # The snapshot is read at creation only. Restored instances take user and database from
        # it, so those are ignored too: neither may ever replace a restored database.
        ignored = ["snapshotIdentifier", "username", "dbName"] if snapshot is not None else []
        protect = resolve_protect(args.tier, args.protect)
        # Protection inherited from the options counts too: a protected database never goes without a snapshot.
        final = takes_final_snapshot(
            args.tier, args.final_snapshot, bool(self._given_protect if protect is None else protect)
        )
        final_name: pulumi.Input[str] | None = None
        if final:
            # RDS refuses a final snapshot name that exists: a fixed name collides the second time an
            # instance of this identifier is deleted. The suffix is drawn once and renewed with what
            # replaces the instance, so each instance that can be deleted names a snapshot of its own.
            suffix = random.RandomId(
                f"{name}-final-snapshot",
                byte_length=4,
                keepers={
                    "identifier": identifier,
                    "kmsKeyId": args.kms_key_arn,
                    "dbName": args.database_name,
                    "username": args.master_username,
                },
                opts=child,
            )
            final_name = pulumi.Output.concat(identifier, "-final-", suffix.hex)
        instance = aws.rds.Instance(
            name,
            identifier=identifier,
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            allocated_storage=args.allocated_storage_gb,
            # 0 turns autoscaling off explicitly (an absent value would leave a previous ceiling).
            max_allocated_storage=args.max_allocated_storage_gb or 0,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=args.kms_key_arn,
            db_name=args.database_name,
            username=args.master_username,
            # Kept over RDS blue/green (a major upgrade is in place): blue/green deployments don't
            # support a master password managed in Secrets Manager (RDS blue/green limitations).
            manage_master_user_password=True,
            master_user_secret_kms_key_id=args.kms_key_arn,
            port=PORT,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=id_list(args.security_group_ids),
            parameter_group_name=parameter_group.name,
            publicly_accessible=False,
            multi_az=args.multi_az,
            ca_cert_identifier=CA_CERT,
            iam_database_authentication_enabled=args.iam_authentication,
            backup_retention_period=args.backup_retention_days,
            backup_window=args.backup_window,
            maintenance_window=args.maintenance_window,
            copy_tags_to_snapshot=True,
            delete_automated_backups=not final,
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not final,
            final_snapshot_identifier=final_name,
            performance_insights_enabled=args.performance_insights,
            performance_insights_kms_key_id=args.kms_key_arn if args.performance_insights else None,
            performance_insights_retention_period=PERFORMANCE_INSIGHTS_DAYS if args.performance_insights else None,
            monitoring_interval=MONITORING_INTERVAL,
            monitoring_role_arn=monitoring_role.arn,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            auto_minor_version_upgrade=True,
            # RDS refuses a new major unless allowed in the same call; set only for that change.
            allow_major_version_upgrade=True if major_upgrade else None,
            apply_immediately=args.apply_immediately or major_upgrade,
            snapshot_identifier=snapshot,
            tags=tags,
            opts=self.kept(
                protect,
                depends_on=[*log_groups, monitoring_policy],
                ignore_changes=ignored,
            ),
        )

        self.identifier = identifier
        self.endpoint = instance.endpoint
        self.address = instance.address
        self.port = instance.port
        self.resource_id = instance.resource_id
        self.arn = instance.arn
        # RDS makes exactly one managed secret when manage_master_user_password is on.
        self.master_user_secret_arn = instance.master_user_secrets.apply(
            lambda secrets: secrets[0].secret_arn if secrets else ""
        )
        self.database_name = instance.db_name
        self.username = instance.username
        self.master_username = args.master_username  # plain values, for checks made before any resource
        self.initial_database = args.database_name
        self.register_outputs(
            {
                "identifier": identifier,
                "endpoint": self.endpoint,
                "address": self.address,
                "port": self.port,
                "resource_id": self.resource_id,
                "master_user_secret_arn": self.master_user_secret_arn,
                "database_name": self.database_name,
                "username": self.username,
            }
        )
