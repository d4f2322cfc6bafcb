import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack import AwsContext, HardstackError
from hardstack.aws.database import (
    CA_CERT,
    SUPPORTED_MAJORS,
    Database,
    DatabaseArgs,
    connection_env,
    database_identifier,
    log_group_name,
    takes_final_snapshot,
    validate_backup_retention,
    validate_engine_version,
    validate_upgrade,
)
from hardstack.core.naming import Naming
from hardstack.core.rds_catalog import catalog
from hardstack.core.tier import Tier
from hardstack.tooling.plan import build_plan, diff_plans
from hardstack.tooling.testing import MOCK_ACCOUNT, HardstackMocks, Recording

Run = Callable[..., Recording]
CTX = AwsContext(region="eu-west-3", account_id=MOCK_ACCOUNT)
KEY = f"arn:aws:kms:eu-west-3:{MOCK_ACCOUNT}:key/db"
LOG_KEY = f"arn:aws:kms:eu-west-3:{MOCK_ACCOUNT}:key/logs"
# What the shared mocks compute for the instance identifier `test-main` and answer for its secret.
SECRET_ARN = f"arn:aws:secretsmanager:eu-west-3:{MOCK_ACCOUNT}:secret:rds!db-hardstack-test-main"
PASSWORD = "mock-password"
INSTANCE = "aws:rds/instance:Instance"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
#: How the engine marks a secret value in serialized inputs.


def args(**kw: Any) -> DatabaseArgs:
    base: dict[str, Any] = {
        "context": CTX,
        "subnet_ids": ["subnet-iso-a", "subnet-iso-b"],
        "security_group_ids": ["sg-data"],
        "kms_key_arn": KEY,
        "log_key_arn": LOG_KEY,
        "tier": Tier.DEVELOPMENT,
        "deletion_protection": False,
    }
    return DatabaseArgs(**{**base, **kw})


PROD: dict[str, Any] = {
    "tier": Tier.PRODUCTION,
    "engine_version": "16.9",
    "instance_class": "db.m7g.large",
    "allocated_storage_gb": 100,
    "max_allocated_storage_gb": 500,
    "multi_az": True,
    "backup_retention_days": 30,
    "deletion_protection": True,
    "log_retention_days": 365,
    "protect": True,
}


def database(**kw: Any) -> Callable[[], None]:
    def program() -> None:
        db = Database("main", args(**kw))
        pulumi.export("identifier", db.identifier)
        pulumi.export("endpoint", db.endpoint)
        pulumi.export("address", db.address)
        pulumi.export("port", db.port)
        pulumi.export("resourceId", db.resource_id)
        pulumi.export("secretArn", db.master_user_secret_arn)
        pulumi.export("database", db.database_name)
        pulumi.export("username", db.username)

    return program


@pytest.fixture
def record(run: Run) -> Callable[..., Recording]:
    def _record(stack: str = "test", **kw: Any) -> Recording:
        return run(database(**kw), stack=stack)

    return _record


def instance(rec: Recording) -> dict[str, Any]:
    return rec.one(INSTANCE).inputs


def keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from keys(v)


# --- the instance ---------------------------------------------------------------------------


def test_storage_is_encrypted_gp3_under_the_customer_key(record: Callable[..., Recording]) -> None:
    db = instance(record())
    assert (db["storageEncrypted"], db["kmsKeyId"], db["storageType"]) == (True, KEY, "gp3")


def test_instance_is_private_in_the_isolated_subnets_behind_the_data_group(record: Callable[..., Recording]) -> None:
    rec = record()
    db = instance(rec)
    subnets = rec.one("aws:rds/subnetGroup:SubnetGroup")
    assert db["publiclyAccessible"] is False and db["vpcSecurityGroupIds"] == ["sg-data"]
    assert subnets.inputs["subnetIds"] == ["subnet-iso-a", "subnet-iso-b"]
    assert db["dbSubnetGroupName"] == subnets.inputs["name"]


def test_multi_az_only_when_asked(record: Callable[..., Recording]) -> None:
    assert instance(record(multi_az=True))["multiAz"] is True
    assert instance(record())["multiAz"] is False


def test_prod_keeps_30_days_of_backups_deletion_protection_and_a_final_snapshot_of_its_own(
    record: Callable[..., Recording],
) -> None:
    rec = record(stack="prod", **PROD)
    db = instance(rec)
    assert db["backupRetentionPeriod"] == 30 and db["deletionProtection"] is True
    suffix = rec.one("random:index/randomId:RandomId").inputs["hex"]
    assert db["skipFinalSnapshot"] is False and db["finalSnapshotIdentifier"] == f"hardstack-prod-main-final-{suffix}"
    assert db["copyTagsToSnapshot"] is True


def test_the_final_snapshot_name_is_drawn_anew_with_each_instance_that_replaces_the_last(
    record: Callable[..., Recording],
) -> None:
    # Deleting an instance names its final snapshot; the instance that replaces it must not reuse
    # the name, or its own deletion later fails on a snapshot that exists.
    before = build_plan("prod", record(stack="prod", **PROD))
    rekeyed = build_plan("prod", record(stack="prod", **{**PROD, "kms_key_arn": KEY + "-2"}))
    resized = build_plan("prod", record(stack="prod", **{**PROD, "instance_class": "db.r7g.2xlarge"}))

    replaced = {c.type for c in diff_plans(before, rekeyed).replaces}
    assert {INSTANCE, "random:index/randomId:RandomId"} <= replaced
    assert not [c for c in diff_plans(before, resized).changes if c.type == "random:index/randomId:RandomId"]


def test_final_snapshot_is_decided_in_one_place() -> None:
    assert takes_final_snapshot(Tier.PRODUCTION, None, protected=False)
    assert takes_final_snapshot(Tier.STAGING, None, protected=True)
    assert not takes_final_snapshot(Tier.STAGING, None, protected=False)
    assert not takes_final_snapshot(Tier.DEVELOPMENT, False, protected=True)


def test_unprotected_test_database_skips_the_final_snapshot(record: Callable[..., Recording]) -> None:
    db = instance(record())
    assert db["skipFinalSnapshot"] is True and "finalSnapshotIdentifier" not in db


def test_performance_insights_are_encrypted_with_the_key_for_7_days(record: Callable[..., Recording]) -> None:
    db = instance(record())
    assert db["performanceInsightsEnabled"] is True and db["performanceInsightsKmsKeyId"] == KEY
    assert db["performanceInsightsRetentionPeriod"] == 7


def test_iam_authentication_is_on(record: Callable[..., Recording]) -> None:
    assert instance(record())["iamDatabaseAuthenticationEnabled"] is True


def test_master_password_is_managed_by_rds_and_never_an_input(record: Callable[..., Recording]) -> None:
    rec = record(stack="prod", **PROD)
    db = instance(rec)
    assert db["manageMasterUserPassword"] is True and db["masterUserSecretKmsKeyId"] == KEY
    found = {k for r in rec for k in keys(r.inputs) if "password" in k.lower()} - {"manageMasterUserPassword"}
    assert found == set()


def test_tls_is_pinned_to_the_rsa2048_ca_and_upgrades_wait_for_the_window(record: Callable[..., Recording]) -> None:
    db = instance(record())
    assert db["caCertIdentifier"] == CA_CERT and db["applyImmediately"] is False
    assert db["autoMinorVersionUpgrade"] is True and db["engine"] == "postgres"


@pytest.mark.parametrize(("version", "family"), [("16.9", "postgres16"), ("17", "postgres17"), ("14.18", "postgres14")])
def test_parameter_group_forces_tls_for_the_engine_major(
    record: Callable[..., Recording], version: str, family: str
) -> None:
    rec = record(engine_version=version)
    group = rec.one("aws:rds/parameterGroup:ParameterGroup").inputs
    values = {p["name"]: p["value"] for p in group["parameters"]}
    assert group["family"] == family and values["rds.force_ssl"] == "1"
    assert values["log_connections"] == "1" and int(values["log_min_duration_statement"]) > 0
    assert instance(rec)["parameterGroupName"] == group["name"]


def test_log_groups_are_made_before_the_instance_with_retention_and_key(record: Callable[..., Recording]) -> None:
    rec = record(log_retention_days=30)
    groups = {r.inputs["name"]: r for r in rec.of_type(LOG_GROUP)}
    assert set(groups) == {
        "/aws/rds/instance/hardstack-test-main/postgresql",
        "/aws/rds/instance/hardstack-test-main/upgrade",
    }
    assert all(g.inputs["retentionInDays"] == 30 and g.inputs["kmsKeyId"] == LOG_KEY for g in groups.values())
    assert {g.urn for g in groups.values()} <= set(rec.one(INSTANCE).dependencies)
    assert instance(rec)["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]


def test_enhanced_monitoring_every_minute_through_its_own_role(record: Callable[..., Recording]) -> None:
    rec = record()
    db = instance(rec)
    role = rec.one("aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    attached = rec.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment").inputs["policyArn"]
    assert db["monitoringInterval"] == 60 and db["monitoringRoleArn"] == role.inputs["arn"]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert attached == "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"


def test_snapshot_restore_copies_under_our_key_and_never_replaces_afterwards(record: Callable[..., Recording]) -> None:
    source = f"arn:aws:rds:eu-west-3:{MOCK_ACCOUNT}:snapshot:rds:prod-main-2025-01-31-02-05"
    rec = record(stack="preprod", tier=Tier.STAGING, snapshot_identifier=source)
    copy = rec.one("aws:rds/snapshotCopy:SnapshotCopy")
    db = rec.one(INSTANCE)
    assert copy.inputs["sourceDbSnapshotIdentifier"] == source and copy.inputs["kmsKeyId"] == KEY
    assert db.inputs["snapshotIdentifier"] == copy.inputs["id"]
    assert {"snapshotIdentifier", "username", "dbName"} <= set(db.ignore_changes)
    assert "sourceDbSnapshotIdentifier" in copy.ignore_changes


def test_fresh_database_ignores_no_changes(record: Callable[..., Recording]) -> None:
    rec = record()
    assert "snapshotIdentifier" not in instance(rec) and rec.one(INSTANCE).ignore_changes == []
    assert rec.of_type("aws:rds/snapshotCopy:SnapshotCopy") == []


def test_protected_database_is_retained_on_delete(record: Callable[..., Recording]) -> None:
    db = record(stack="prod", **PROD).one(INSTANCE)
    assert db.protect and db.retain_on_delete


def test_unprotected_database_can_be_deleted(record: Callable[..., Recording]) -> None:
    db = record().one(INSTANCE)
    assert not db.protect and not db.retain_on_delete


def test_class_storage_and_tag_changes_keep_the_identifier_and_names(record: Callable[..., Recording]) -> None:
    before = record(stack="prod", **PROD)
    after = record(
        stack="prod",
        **{**PROD, "instance_class": "db.r7g.2xlarge", "allocated_storage_gb": 400, "max_allocated_storage_gb": 1000},
        tags={"CostCenter": "42"},
    )

    def names(rec: Recording) -> tuple[Any, ...]:
        db = rec.one(INSTANCE)
        groups = sorted(r.inputs["name"] for r in rec.of_type(LOG_GROUP))
        return db.urn, db.inputs["identifier"], db.inputs["finalSnapshotIdentifier"], groups

    assert instance(after)["instanceClass"] == "db.r7g.2xlarge" and instance(after)["allocatedStorage"] == 400
    assert names(before) == names(after)


def test_outputs_give_the_endpoint_and_the_secret_arn_not_the_password(record: Callable[..., Recording]) -> None:
    out = record().outputs
    assert out["identifier"] == "hardstack-test-main" and out["port"] == 5432
    assert out["endpoint"] == f"{out['address']}:5432" and out["resourceId"].startswith("db-")
    assert out["secretArn"] == SECRET_ARN and (out["database"], out["username"]) == ("app", "app_owner")
    assert PASSWORD not in json.dumps(out)


# --- no secret is read ------------------------------------------------------------------------


def test_no_invoke_reads_a_secret_value(record: Callable[..., Recording]) -> None:
    assert not [i for i in record().invokes if "secretsmanager" in i.token]


def test_connection_env_carries_no_password_and_requires_tls() -> None:
    env = connection_env("db.example", 5432, "app", "app_owner")
    assert env == {
        "PGHOST": "db.example",
        "PGPORT": "5432",
        "PGDATABASE": "app",
        "PGUSER": "app_owner",
        "PGSSLMODE": "require",
    }


def test_connection_env_refuses_plain_connections() -> None:
    with pytest.raises(HardstackError, match="sslmode = 'disable'"):
        connection_env("db.example", 5432, "app", "app_owner", sslmode="disable")


# --- refusals: nothing is registered ---------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "shown"),
    [
        ({"tier": Tier.PRODUCTION, "backup_retention_days": 6}, "backup_retention_days = 6"),
        ({"tier": Tier.PRODUCTION, "final_snapshot": False}, "final_snapshot = False"),
        ({"tier": Tier.PRODUCTION, "protect": False}, "protect = False"),
        ({"backup_retention_days": 36}, "backup_retention_days = 36"),
        ({"engine_version": "13.4"}, "engine_version = '13.4'"),
        ({"engine_version": "16.x"}, "engine_version = '16.x'"),
        ({"instance_class": "m7g.large"}, "instance_class = 'm7g.large'"),
        ({"instance_class": "db.huge"}, "instance_class = 'db.huge'"),
        ({"allocated_storage_gb": 19}, "allocated_storage_gb = 19"),
        ({"allocated_storage_gb": 100, "max_allocated_storage_gb": 50}, "max_allocated_storage_gb = 50"),
        ({"master_username": "admin"}, "master_username = 'admin'"),
        ({"master_username": "postgres"}, "master_username = 'postgres'"),
        ({"master_username": "select"}, "master_username = 'select'"),
        ({"master_username": "1user"}, "master_username = '1user'"),
        ({"database_name": "template1"}, "database_name = 'template1'"),
        ({"snapshot_identifier": "prod snapshot"}, "snapshot_identifier = 'prod snapshot'"),
        ({"tier": Tier.PRODUCTION, "deletion_protection": False}, "deletion_protection = False"),
        ({"subnet_ids": ["subnet-iso-a"]}, "subnet_ids = ['subnet-iso-a']"),
        ({"log_retention_days": 10}, "log_retention_days = 10"),
    ],
)
def test_bad_input_is_refused_before_anything_is_registered(run: Run, overrides: dict[str, Any], shown: str) -> None:
    recording = Recording()
    with pytest.raises(HardstackError, match=f"^{re.escape(shown)} is refused"):
        run(database(**overrides), recording=recording)
    assert len(recording) == 0


def test_identifier_too_long_for_rds_is_refused_before_anything_is_registered(run: Run) -> None:
    recording = Recording()
    with pytest.raises(HardstackError, match="Database identifier = 'hardstack-test-"):
        run(lambda: Database("x" * 70, args()) and None, recording=recording)
    assert len(recording) == 0


# --- pure logic ------------------------------------------------------------------------------


@given(
    st.sampled_from(sorted(SUPPORTED_MAJORS)).flatmap(
        lambda major: st.tuples(st.just(major), st.sampled_from([str(major), *catalog().engine_versions[str(major)]]))
    )
)
def test_supported_versions_map_to_their_major(offered: tuple[int, str]) -> None:
    major, version = offered
    assert validate_engine_version(version) == major


@given(st.integers(1, 35), st.sampled_from([Tier.DEVELOPMENT, Tier.STAGING]))
def test_any_nonzero_retention_up_to_35_days_is_accepted_outside_production(days: int, tier: Tier) -> None:
    assert validate_backup_retention(days, tier) == days


@given(st.integers(7, 35))
def test_production_accepts_a_week_or_more_of_backups(days: int) -> None:
    assert validate_backup_retention(days, Tier.PRODUCTION) == days


def test_backup_retention_refusal_names_the_config_key() -> None:
    with pytest.raises(HardstackError, match=r"^hardstack:dbBackupRetentionDays = 0 is refused"):
        validate_backup_retention(0, Tier.PRODUCTION, "hardstack:dbBackupRetentionDays")


@given(st.from_regex(r"[a-z][a-z0-9]{0,20}", fullmatch=True), st.sampled_from(["test", "preprod", "prod"]))
def test_identifier_depends_only_on_project_stack_and_name(name: str, stack: str) -> None:
    identifier = database_identifier(Naming.of("shop", stack), name)
    assert identifier == f"shop-{stack}-{name}" and log_group_name(identifier, "postgresql").endswith("/postgresql")


def test_protection_given_through_the_options_also_takes_a_final_snapshot(run: Run) -> None:
    def program() -> None:
        Database("main", args(tier=Tier.STAGING), pulumi.ResourceOptions(protect=True))

    db = run(program).one(INSTANCE)
    assert db.protect and db.retain_on_delete and db.inputs["skipFinalSnapshot"] is False


def test_staging_keeps_backups() -> None:
    with pytest.raises(HardstackError, match=r"^backup_retention_days = 0 is refused: 1 to 35 in staging"):
        args(tier=Tier.STAGING, backup_retention_days=0)


# --- day 2: upgrades and when changes apply -----------------------------------------------------

PARAMS = "aws:rds/parameterGroup:ParameterGroup"


def running(run: Run, version: str, recording: Recording | None = None, **kw: Any) -> Recording:
    """A run against an account where `hardstack-prod-main` already runs `version`."""
    mocks = HardstackMocks(databases={"hardstack-prod-main": version})
    return run(database(**{**PROD, **kw}), stack="prod", mocks=mocks, recording=recording)


def test_a_new_major_is_a_major_upgrade_applied_at_once_with_the_new_family(run: Run) -> None:
    rec = running(run, "16.6", engine_version="17")
    db = instance(rec)
    assert db["engineVersion"] == "17" and db["allowMajorVersionUpgrade"] is True and db["applyImmediately"] is True
    (group,) = rec.of_type(PARAMS)
    assert group.name == "main-params-postgres17" and group.inputs["family"] == "postgres17"


def test_the_same_major_is_no_upgrade_and_waits_for_the_maintenance_window(run: Run) -> None:
    db = instance(running(run, "16.9", engine_version="16.11"))
    assert "allowMajorVersionUpgrade" not in db and db["applyImmediately"] is False


def test_a_new_database_needs_no_upgrade(record: Callable[..., Recording]) -> None:
    db = instance(record(stack="prod", **{**PROD, "engine_version": "17"}))
    assert "allowMajorVersionUpgrade" not in db


@pytest.mark.parametrize(
    ("now", "wanted", "message"),
    [
        (
            "17.2",
            "16",
            r"engine_version = '16' is refused: 17.2 \(the running version\) or later: RDS cannot downgrade",
        ),
        ("16.11", "16.9", r"engine_version = '16.9' is refused: 16.11 \(the running version\) or later"),
        ("14.12", "16", r"engine_version = '16' is refused: 15, one major at a time from the running 14.12"),
    ],
)
def test_a_downgrade_or_a_skipped_major_is_refused_before_any_resource(
    run: Run, now: str, wanted: str, message: str
) -> None:
    recording = Recording()
    with pytest.raises(HardstackError, match=f"^{message}"):
        running(run, now, recording=recording, engine_version=wanted)
    assert recording.resources == []


def test_changes_apply_immediately_only_when_asked(run: Run, record: Callable[..., Recording]) -> None:
    assert instance(record(apply_immediately=True))["applyImmediately"] is True
    assert instance(record())["applyImmediately"] is False


@given(st.sampled_from(sorted(SUPPORTED_MAJORS)), st.sampled_from(sorted(SUPPORTED_MAJORS)))
def test_only_the_next_major_or_the_same_one_is_accepted(was: int, wanted: int) -> None:
    if wanted in (was, was + 1):
        assert validate_upgrade(f"{was}.4", str(wanted)) is (wanted == was + 1)
    else:
        with pytest.raises(HardstackError):
            validate_upgrade(f"{was}.4", str(wanted))


def test_a_suffixed_running_minor_orders_by_its_numbers() -> None:
    assert validate_upgrade("16.6-R2", "17") is True
    with pytest.raises(HardstackError, match=r"^engine_version = '16.4' is refused: 16.6-R2"):
        validate_upgrade("16.6-R2", "16.4")
