"""The application's PostgreSQL logins: names, the SQL run against a real PostgreSQL, the bootstrap script."""

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardstack.core.database_roles import (
    BOOTSTRAP_SHELL,
    RESERVED_ROLES,
    DatabaseRoles,
    bootstrap_sql,
    rds_db_user_arn,
    validate_role_name,
)
from hardstack.core.errors import HardstackError

ROLES = DatabaseRoles(
    database="app", schema="app", app_user="app_user", migration_user="app_migrator", master_user="app_owner"
)
#: Printable ASCII without what RDS leaves out of generated passwords ('"', '/', '@', space): ':' and
#: '\\' are the two characters a pgpass line must escape.
PASSWORD = r"s3:cr\et:%$!x"
SUPERUSER_PASSWORD = "local-superuser"

# --- names ------------------------------------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_]{0,62}", fullmatch=True).filter(
    lambda n: not n.startswith(("pg_", "rds")) and n not in RESERVED_ROLES
)


@given(names)
def test_lower_case_identifiers_are_accepted(name: str) -> None:
    assert validate_role_name(name, "app_user") == name


@pytest.mark.parametrize(
    "bad",
    ["App", "app-user", "1app", "a" * 64, "pg_app", "rdsadmin", "rds_iam", "postgres", "select", "", "app user"],
)
def test_names_postgres_or_iam_auth_would_refuse_are_refused(bad: str) -> None:
    with pytest.raises(HardstackError, match=f"^app_user = {bad!r} is refused"):
        validate_role_name(bad, "app_user")


def test_the_app_and_the_migration_log_in_as_different_users() -> None:
    with pytest.raises(HardstackError, match="migration_user = 'app_user' is refused"):
        DatabaseRoles(database="app", schema="app", app_user="app_user", migration_user="app_user", master_user="m")


def test_neither_login_may_be_the_master_user() -> None:
    with pytest.raises(HardstackError, match="app_user = 'app_owner' is refused"):
        DatabaseRoles(
            database="app", schema="app", app_user="app_owner", migration_user="app_migrator", master_user="app_owner"
        )


@given(st.lists(names.filter(lambda n: n != "app_owner"), min_size=4, max_size=4, unique=True))
def test_every_create_in_the_sql_is_guarded_and_names_only_the_given_roles(picked: list[str]) -> None:
    database, schema, app, migrate = picked
    roles = DatabaseRoles(
        database=database, schema=schema, app_user=app, migration_user=migrate, master_user="app_owner"
    )
    lines = bootstrap_sql(roles).splitlines()
    creates = [i for i, line in enumerate(lines) if "CREATE ROLE" in line]
    assert len(creates) == 2
    for i in creates:
        role = lines[i].split("CREATE ROLE ")[1].split()[0]
        assert role in (app, migrate) and f"rolname = '{role}'" in lines[i - 1]
    assert f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {migrate};" in lines
    assert "'" not in "".join(line for line in lines if "rolname" not in line)


def test_the_iam_resource_names_one_user_of_one_instance() -> None:
    arn = rds_db_user_arn("aws", "eu-west-3", "123456789012", "db-ABC", "app_user")
    assert arn == "arn:aws:rds-db:eu-west-3:123456789012:dbuser:db-ABC/app_user"


# --- the SQL on a real PostgreSQL -------------------------------------------------------------


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]), None)
    if found is None:
        pytest.fail(f"{name} not found: install the Debian package 'postgresql'")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def as_owner(command: list[str], root: Path) -> list[str]:
    """initdb and the server refuse to run as root (a container's usual user): run them as postgres."""
    if os.geteuid() != 0:
        return command
    shutil.chown(root, "postgres")
    return ["runuser", "-u", "postgres", "--", *command]


class Server:
    def __init__(self, root: Path) -> None:
        self.root, self.port = root, str(free_port())
        self.env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": self.port, "PGDATABASE": "app"}

    def psql(self, user: str, sql: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "PGUSER": user, **({"PGPASSWORD": password} if password else {})}
        return subprocess.run(
            [_binary("psql"), "--no-psqlrc", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    def state(self) -> str:
        """Everything the bootstrap may change: roles, memberships, settings, ACLs and owners."""
        result = self.psql(
            "postgres",
            """
            SELECT json_agg(x ORDER BY x::text) FROM (
              SELECT 'role' k, rolname::text a, rolcanlogin::text b, coalesce(rolpassword, '') c
                FROM pg_authid WHERE rolname IN ('app_user', 'app_migrator')
              UNION ALL SELECT 'member', r.rolname, m.rolname, g.rolname
                FROM pg_auth_members x JOIN pg_roles r ON r.oid = x.roleid JOIN pg_roles m ON m.oid = x.member
                JOIN pg_roles g ON g.oid = x.grantor
              UNION ALL SELECT 'setting', coalesce(setrole::regrole::text, ''), setdatabase::text,
                array_to_string(setconfig, ',') FROM pg_db_role_setting
              UNION ALL SELECT 'schema', nspname, nspowner::regrole::text, coalesce(nspacl::text, '')
                FROM pg_namespace WHERE nspname IN ('app', 'public')
              UNION ALL SELECT 'database', datname, '', coalesce(datacl::text, '') FROM pg_database
                WHERE datname = 'app'
              UNION ALL SELECT 'default', defaclrole::regrole::text, defaclobjtype::text, defaclacl::text
                FROM pg_default_acl
            ) x
            """,
            password=SUPERUSER_PASSWORD,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    # Not under pytest's own temporary directory, which only its user may enter.
    root = Path(tempfile.mkdtemp(prefix="hardstack-pg-"))
    (root / "pw").write_text(f"{SUPERUSER_PASSWORD}\n")
    data = root / "data"
    initdb = [_binary("initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={root / 'pw'}"]
    subprocess.run(as_owner(initdb, root), check=True, capture_output=True)
    server = Server(root)
    options = f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1"
    start = [_binary("pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"), "-o", options, "start"]
    subprocess.run(as_owner(start, root), check=True, capture_output=True)
    try:
        # As on RDS: the master user is no superuser, may create roles and owns the database; rds_iam exists.
        quoted = PASSWORD.replace("'", "''")
        setup = (
            f"CREATE ROLE app_owner LOGIN CREATEROLE CREATEDB PASSWORD '{quoted}'; CREATE ROLE rds_iam;"
            " CREATE DATABASE app OWNER app_owner;"
        )
        for statement in setup.split(";")[:-1]:
            env = {**server.env, "PGDATABASE": "postgres"}
            result = subprocess.run(
                [_binary("psql"), "-XAtq", "-U", "postgres", "-c", statement],
                env={**env, "PGPASSWORD": SUPERUSER_PASSWORD},
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0, result.stderr
        yield server
    finally:
        stop = [_binary("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]
        subprocess.run(as_owner(stop, root), check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def run_bootstrap(server: Server, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The container's script as the Job runs it, its two paths pointed at a scratch directory."""
    (tmp_path / "master.json").write_text(json.dumps({"username": "app_owner", "password": PASSWORD}))
    (tmp_path / "bootstrap.sql").write_text(bootstrap_sql(ROLES))
    script = BOOTSTRAP_SHELL.replace("/run/db/master.json", str(tmp_path / "master.json")).replace(
        "/etc/bootstrap/bootstrap.sql", str(tmp_path / "bootstrap.sql")
    )
    env = {
        **server.env,
        "PGUSER": "app_owner",
        "PGPASSFILE": str(tmp_path / "pgpass"),
        "PATH": f"{Path(_binary('psql')).parent}:{os.environ['PATH']}",
    }
    return subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def bootstrapped(server: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    first = run_bootstrap(server, tmp_path_factory.mktemp("first"))
    assert first.returncode == 0, first.stderr
    after_first = server.state()
    second = run_bootstrap(server, tmp_path_factory.mktemp("second"))
    assert second.returncode == 0, second.stderr
    return after_first, server.state()


def test_the_script_logs_in_with_a_password_holding_pgpass_separators_and_removes_the_secret(
    server: Server, tmp_path: Path
) -> None:
    result = run_bootstrap(server, tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "master.json").exists()
    assert (tmp_path / "pgpass").stat().st_mode & 0o077 == 0  # libpq ignores a pgpass others can read


def test_a_second_run_changes_nothing(bootstrapped: tuple[str, str]) -> None:
    first, second = bootstrapped
    assert first and first == second
    assert "app_migrator" in first and "app_user" in first


def test_both_logins_are_iam_only_without_a_password(server: Server, bootstrapped: tuple[str, str]) -> None:
    rows = server.psql(
        "postgres",
        "SELECT r.rolname, m.rolname, a.rolpassword IS NULL FROM pg_auth_members x JOIN pg_roles r ON r.oid = x.roleid"
        " JOIN pg_roles m ON m.oid = x.member JOIN pg_authid a ON a.oid = x.member"
        " WHERE r.rolname = 'rds_iam' ORDER BY 2",
        password=SUPERUSER_PASSWORD,
    )
    assert rows.stdout.split() == ["rds_iam|app_migrator|t", "rds_iam|app_user|t"]


def grant_login(server: Server, user: str) -> None:
    """Locally the logins need a password to connect; on RDS, rds_iam makes them take IAM tokens."""
    result = server.psql("app_owner", f"ALTER ROLE {user} PASSWORD 'local-only'", password=PASSWORD)
    assert result.returncode == 0, result.stderr


def test_the_migration_owns_the_schema_and_the_app_gets_data_only(
    server: Server, bootstrapped: tuple[str, str]
) -> None:
    grant_login(server, "app_migrator")
    grant_login(server, "app_user")
    made = server.psql(
        "app_migrator",
        "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, item text)",
        password="local-only",
    )
    assert made.returncode == 0, made.stderr
    used = server.psql(
        "app_user",
        "INSERT INTO orders (item) VALUES ('tea'); UPDATE orders SET item = 'tea'; SELECT count(*) FROM orders;"
        " DELETE FROM orders",
        password="local-only",
    )
    assert used.returncode == 0, used.stderr
    for ddl in ("CREATE TABLE app.sneaky (id int)", "DROP TABLE orders", "CREATE TABLE public.sneaky (id int)"):
        refused = server.psql("app_user", ddl, password="local-only")
        assert refused.returncode != 0, ddl
        assert "permission denied" in refused.stderr or "must be owner" in refused.stderr, refused.stderr
