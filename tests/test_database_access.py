"""Database access without the master password: IAM roles per login, the in-cluster bootstrap, the stacks."""

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from hardstack.aws.context import AwsContext
from hardstack.aws.database_access import DatabaseAccess, DatabaseAccessArgs
from hardstack.core.database_roles import DatabaseRoles
from hardstack.core.errors import HardstackError
from hardstack.core.naming import Naming
from hardstack.core.tier import Tier
from hardstack.k8s.database_roles import DatabaseBootstrap, DatabaseBootstrapArgs
from hardstack.tooling.plan import build_plan, waits_for
from hardstack.tooling.testing import MOCK_ACCOUNT, Recording
from stacks.offline import STACKS, run_stack

Run = Callable[..., Recording]
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
JOB = "kubernetes:batch/v1:Job"
ISSUER = "https://oidc.eks.eu-west-3.amazonaws.com/id/ABC"
PROVIDER = f"arn:aws:iam::{MOCK_ACCOUNT}:oidc-provider/oidc.eks.eu-west-3.amazonaws.com/id/ABC"
SECRET = f"arn:aws:secretsmanager:eu-west-3:{MOCK_ACCOUNT}:secret:rds!db-main"
KEY = f"arn:aws:kms:eu-west-3:{MOCK_ACCOUNT}:key/data"
ROLES = DatabaseRoles(
    database="app", schema="app", app_user="app_user", migration_user="app_migrator", master_user="app_owner"
)
DIGEST = "sha256:" + "cd" * 32


def access_args(**kw: Any) -> DatabaseAccessArgs:
    values: dict[str, Any] = {
        "context": AwsContext(region="eu-west-3", account_id=MOCK_ACCOUNT, naming=Naming(("hs", "test"))),
        "roles": ROLES,
        "resource_id": "db-ABCDEF",
        "master_user_secret_arn": SECRET,
        "master_secret_key_arn": KEY,
        "oidc_provider_arn": PROVIDER,
        "oidc_issuer": ISSUER,
        "namespace": "app",
        "app_service_account": "app",
        "migration_service_account": "app-migrate",
        "bootstrap_service_account": "db-bootstrap",
        **kw,
    }
    return DatabaseAccessArgs(**values)


@pytest.fixture
def access(run: Run) -> Recording:
    return run(lambda: DatabaseAccess("db-access", access_args()) and None)


def policy_of(rec: Recording, name: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = json.loads(rec.one(ROLE_POLICY, name).inputs["policy"])["Statement"]
    return statements


def trust_of(rec: Recording, name: str) -> dict[str, Any]:
    (statement,) = json.loads(rec.one(ROLE, name).inputs["assumeRolePolicy"])["Statement"]
    return dict(statement)


@pytest.mark.parametrize(("role", "user"), [("db-access-app", "app_user"), ("db-access-migration", "app_migrator")])
def test_each_login_role_may_connect_as_exactly_its_user(access: Recording, role: str, user: str) -> None:
    (statement,) = policy_of(access, role)
    assert statement["Action"] == "rds-db:connect"
    assert statement["Resource"] == f"arn:aws:rds-db:eu-west-3:{MOCK_ACCOUNT}:dbuser:db-ABCDEF/{user}"


@pytest.mark.parametrize(
    ("role", "account"),
    [("db-access-app", "app"), ("db-access-migration", "app-migrate"), ("db-access-bootstrap", "db-bootstrap")],
)
def test_each_role_trusts_one_service_account_by_subject_and_audience(
    access: Recording, role: str, account: str
) -> None:
    trust = trust_of(access, role)
    assert trust["Principal"] == {"Federated": PROVIDER} and trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {
        "StringEquals": {
            "oidc.eks.eu-west-3.amazonaws.com/id/ABC:sub": f"system:serviceaccount:app:{account}",
            "oidc.eks.eu-west-3.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
        }
    }


def test_only_the_bootstrap_role_reads_the_master_secret_and_decrypts_it_through_secrets_manager(
    access: Recording,
) -> None:
    read, decrypt = policy_of(access, "db-access-bootstrap")
    assert (read["Action"], read["Resource"]) == ("secretsmanager:GetSecretValue", SECRET)
    assert (decrypt["Action"], decrypt["Resource"]) == ("kms:Decrypt", KEY)
    assert decrypt["Condition"]["StringEquals"] == {
        "kms:ViaService": "secretsmanager.eu-west-3.amazonaws.com",
        "kms:EncryptionContext:SecretARN": SECRET,
    }
    others = json.dumps([policy_of(access, "db-access-app"), policy_of(access, "db-access-migration")])
    assert "secretsmanager" not in others and "kms" not in others


def test_the_app_statements_go_to_the_app_role_only(run: Run) -> None:
    bucket = {"Sid": "ListAppBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}

    rec = run(lambda: DatabaseAccess("db-access", access_args(app_statements=[bucket])) and None)

    connect, listing = policy_of(rec, "db-access-app")
    assert connect["Action"] == "rds-db:connect" and listing == bucket
    others = json.dumps([policy_of(rec, "db-access-migration"), policy_of(rec, "db-access-bootstrap")])
    assert "s3:" not in others


def test_two_roles_on_one_service_account_are_refused() -> None:
    with pytest.raises(HardstackError, match="migration_service_account = 'app' is refused"):
        access_args(migration_service_account="app")


# --- the bootstrap Job ------------------------------------------------------------------------


def bootstrap_args(**kw: Any) -> DatabaseBootstrapArgs:
    values: dict[str, Any] = {
        "namespace": "app",
        "roles": ROLES,
        "host": "db.internal",
        "port": 5432,
        "master_user": "app_owner",
        "master_user_secret_arn": SECRET,
        "role_arn": "arn:aws:iam::123456789012:role/bootstrap",
        "region": "eu-west-3",
        "database_cidrs": ["10.0.32.0/20"],
        **kw,
    }
    return DatabaseBootstrapArgs(**values)


@pytest.fixture
def bootstrap(run: Run) -> Recording:
    return run(lambda: DatabaseBootstrap("db-bootstrap", bootstrap_args()) and None)


def pod_of(rec: Recording) -> dict[str, Any]:
    spec: dict[str, Any] = rec.one(JOB).inputs["spec"]["template"]["spec"]
    return spec


def test_the_job_fetches_the_master_secret_itself_into_memory_never_into_its_environment(
    bootstrap: Recording,
) -> None:
    pod = pod_of(bootstrap)
    (fetch,) = pod["initContainers"]
    env = {e["name"]: e["value"] for c in [fetch, *pod["containers"]] for e in c["env"]}
    assert env["MASTER_SECRET_ARN"] == SECRET and env["PGPASSFILE"] == "/run/db/pgpass"
    assert not [e for c in [fetch, *pod["containers"]] for e in c["env"] if "valueFrom" in e or "PASSWORD" in e["name"]]
    volume = next(v for v in pod["volumes"] if v["name"] == "db-credentials")
    assert volume["emptyDir"]["medium"] == "Memory"
    assert not bootstrap.invokes  # the program reads nothing


def test_the_job_runs_as_its_own_service_account_with_the_bootstrap_role(bootstrap: Recording) -> None:
    account = bootstrap.one("kubernetes:core/v1:ServiceAccount").inputs
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/bootstrap"
    }
    assert pod_of(bootstrap)["serviceAccountName"] == "db-bootstrap"
    assert pod_of(bootstrap)["securityContext"]["runAsUser"] >= 10000


def test_the_job_carries_the_sql_and_reruns_only_when_it_changes(run: Run, bootstrap: Recording) -> None:
    sql = bootstrap.one("kubernetes:core/v1:ConfigMap").inputs["data"]["bootstrap.sql"]
    assert "CREATE ROLE app_user LOGIN" in sql and "GRANT rds_iam" in sql
    other = DatabaseRoles(
        database="app", schema="app", app_user="shop_user", migration_user="app_migrator", master_user="app_owner"
    )
    renamed = run(lambda: DatabaseBootstrap("db-bootstrap", bootstrap_args(roles=other)) and None)
    again = run(lambda: DatabaseBootstrap("db-bootstrap", bootstrap_args()) and None)
    name = bootstrap.one(JOB).inputs["metadata"]["name"]
    assert name == again.one(JOB).inputs["metadata"]["name"] != renamed.one(JOB).inputs["metadata"]["name"]
    assert bootstrap.one(JOB).delete_before_replace


def test_the_job_waits_for_its_network_policies(bootstrap: Recording) -> None:
    policies = {r.urn for r in bootstrap.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert len(policies) == 3 and policies <= set(bootstrap.one(JOB).dependencies)


def test_a_bootstrap_image_without_a_digest_is_refused_in_production() -> None:
    with pytest.raises(HardstackError, match=re.escape("psql_image = 'postgres:17' is refused")):
        bootstrap_args(tier=Tier.PRODUCTION, psql_image="postgres:17")


def test_bootstrap_images_by_digest_are_accepted_in_production() -> None:
    args = bootstrap_args(tier=Tier.PRODUCTION, psql_image=f"postgres:17@{DIGEST}")
    assert args.psql_image.endswith(DIGEST)


# --- the stacks -------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=STACKS)
def rec(request: pytest.FixtureRequest) -> Recording:
    return run_stack(request.param)


def test_no_stack_reads_a_secret_or_puts_a_password_into_kubernetes(rec: Recording) -> None:
    assert not [i for i in rec.invokes if "secretsmanager" in i.token]
    secrets = rec.of_type("kubernetes:core/v1:Secret")
    assert not [s for s in secrets if "PGPASSWORD" in json.dumps(s.inputs)]
    containers = [
        c
        for r in rec
        if r.type in ("kubernetes:apps/v1:Deployment", JOB)
        for c in [
            *r.inputs["spec"]["template"]["spec"].get("initContainers", []),
            *r.inputs["spec"]["template"]["spec"]["containers"],
        ]
    ]
    assert containers and not [c for c in containers if "envFrom" in c]
    assert not [e for c in containers for e in c.get("env", []) if "valueFrom" in e]


def test_the_app_logs_in_as_its_own_user_with_its_own_role(rec: Recording) -> None:
    deployment = rec.one("kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in deployment["containers"][0]["env"]}
    assert env["PGUSER"] == "app_user" and "PGPASSWORD" not in env
    account = next(r for r in rec.of_type("kubernetes:core/v1:ServiceAccount") if r.inputs["metadata"]["name"] == "app")
    assert (
        account.inputs["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        == rec.one(ROLE, "db-access-app").inputs["arn"]
    )


def test_the_bootstrap_reads_the_stack_database_secret_with_the_data_key(rec: Recording) -> None:
    read, decrypt = policy_of(rec, "db-access-bootstrap")
    assert read["Resource"] == rec.outputs["dbSecretArn"]
    assert decrypt["Resource"] == rec.one("aws:kms/key:Key", "data").inputs["arn"]


def test_the_app_waits_for_the_logins_and_the_logins_for_the_bootstrap_role_policy(rec: Recording) -> None:
    plan = build_plan("x", rec)
    job, deployment = rec.one(JOB), rec.one("kubernetes:apps/v1:Deployment")
    assert job.urn in waits_for(plan, deployment.urn)
    assert rec.one(ROLE_POLICY, "db-access-bootstrap").urn in waits_for(plan, job.urn)
    assert rec.one("aws:rds/instance:Instance").urn in waits_for(plan, job.urn)


def test_the_migration_logs_in_as_its_own_user_after_the_bootstrap() -> None:
    rec = run_stack("test", {"hardstack:appMigrationCommand": ["./migrate", "up"]})
    plan = build_plan("x", rec)
    migration, bootstrap = rec.one(JOB, "app-migrate"), rec.one(JOB, "db-bootstrap")
    assert bootstrap.urn in waits_for(plan, migration.urn)
    spec = migration.inputs["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "app-migrate"
    assert {e["name"]: e["value"] for e in spec["containers"][0]["env"]}["PGUSER"] == "app_migrator"


def test_the_prod_stack_refuses_an_image_without_a_digest() -> None:
    with pytest.raises(HardstackError, match=re.escape("hardstack:appImage = 'ghcr.io/acme/shop:2.1.0' is refused")):
        run_stack("prod", {"hardstack:appImage": "ghcr.io/acme/shop:2.1.0"})


@pytest.mark.parametrize("bad", ["App_User", "pg_app", "rds_app", "user", "a-b"])
def test_a_database_user_postgres_or_iam_auth_refuses_fails_the_settings(bad: str) -> None:
    with pytest.raises(HardstackError, match=re.escape(f"hardstack:dbAppUser = {bad!r} is refused")):
        run_stack("test", {"hardstack:dbAppUser": bad})


def test_the_same_login_for_app_and_migration_fails_the_settings() -> None:
    with pytest.raises(HardstackError, match=re.escape("hardstack:dbMigrationUser = 'app_user' is refused")):
        run_stack("test", {"hardstack:dbMigrationUser": "app_user"})


# --- hosts and pods apart -----------------------------------------------------------------------

INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def test_the_nodes_carry_their_own_group_not_the_fleets(rec: Recording) -> None:
    (template,) = [r for r in rec.of_type("aws:ec2/launchTemplate:LaunchTemplate") if r.name.startswith("eks-")]
    assert template.inputs["vpcSecurityGroupIds"] == ["sg-cluster", "sg-nodes"]


def test_the_load_balancer_reaches_only_the_fleet_on_the_app_port(rec: Recording) -> None:
    lb_out = [r.inputs for r in rec.of_type(EGRESS_RULE) if r.inputs["securityGroupId"] == "sg-lb"]
    assert [(r["referencedSecurityGroupId"], r["fromPort"]) for r in lb_out] == [("sg-app", 8080)]
    nodes_in = [r for r in rec.of_type(INGRESS_RULE) if r.inputs["securityGroupId"] == "sg-nodes"]
    assert nodes_in == []


def test_only_the_app_namespace_may_egress_to_the_database(rec: Recording) -> None:
    isolated = [s["cidr"] for s in rec.outputs["addressPlan"]["isolated"]]
    guards = {
        r.inputs["metadata"]["namespace"]: r.inputs["spec"]
        for r in rec.of_type(POLICY)
        if r.inputs["metadata"]["name"] == "deny-egress-to-database"
    }
    assert set(guards) == {"kube-system", "default", "monitoring"}
    for spec in guards.values():
        (rule,) = spec["egress"]
        assert rule["to"][0]["ipBlock"] == {"cidr": "0.0.0.0/0", "except": isolated}
        assert spec["podSelector"] == {} and spec["policyTypes"] == ["Egress"]
    # In the app's namespace (default-deny), only the app's own pods and the bootstrap are let out to it.
    to_database = {
        r.inputs["metadata"]["name"]
        for r in rec.of_type(POLICY)
        if r.inputs["metadata"]["namespace"] == "app"
        and any(p.get("port") == 5432 for e in r.inputs["spec"].get("egress", []) for p in e.get("ports", []))
    }
    assert to_database == {"app-allow-database", "db-bootstrap-allow-database"}


def https_egress(rec: Recording) -> set[tuple[str, str]]:
    """(workload, CIDR) of every HTTPS egress rule of the app's namespace."""
    return {
        (r.name.split("-allow-")[0], to["ipBlock"]["cidr"])
        for r in rec.of_type(POLICY)
        if r.inputs["metadata"]["namespace"] == "app"
        for e in r.inputs["spec"].get("egress", [])
        if any(p.get("port") == 443 for p in e.get("ports", []))
        for to in e["to"]
    }


def test_with_nat_the_app_pods_need_no_separate_s3_rule() -> None:
    assert https_egress(run_stack("test")) == {("app", "0.0.0.0/0"), ("db-bootstrap", "0.0.0.0/0")}
