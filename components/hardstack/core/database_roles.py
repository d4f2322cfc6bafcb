"""PostgreSQL roles of an application, as plain data: names, the IAM resource they log in as, the SQL.

No resources here. The bootstrap Job (`hardstack.k8s.database_roles`) runs `bootstrap_sql` as the
master user; the IAM roles (`hardstack.aws.database_access`) may `rds-db:connect` as exactly
`rds_db_user_arn(...)`.

The SQL is idempotent: every statement either checks before it creates or is a GRANT/ALTER that
leaves an existing grant as it is, so a second run changes nothing.
"""

# The SQL is built from identifiers only, each validated by `validate_role_name` first.
# ruff: noqa: S608

from __future__ import annotations

import re
from dataclasses import dataclass

from hardstack.core.errors import refuse

#: A lower-case unquoted PostgreSQL identifier (63 bytes at most, NAMEDATALEN - 1). Its characters
#: are also all valid in the `dbuser:<resource id>/<name>` part of an IAM policy resource.
_ROLE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: PostgreSQL's reserved key words, and those reserved but allowed as function or type names: none
#: can be an unquoted role name (PostgreSQL documentation, appendix "SQL Key Words", PostgreSQL 17).
PG_RESERVED_KEYWORDS = frozenset(
    {
        "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization",
        "binary", "both", "case", "cast", "check", "collate", "collation", "column", "concurrently",
        "constraint", "create", "cross", "current_catalog", "current_date", "current_role", "current_schema",
        "current_time", "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do",
        "else", "end", "except", "false", "fetch", "for", "foreign", "freeze", "from", "full", "grant", "group",
        "having", "ilike", "in", "initially", "inner", "intersect", "into", "is", "isnull", "join", "lateral",
        "leading", "left", "like", "limit", "localtime", "localtimestamp", "natural", "not", "notnull", "null",
        "offset", "on", "only", "or", "order", "outer", "overlaps", "placing", "primary", "references",
        "returning", "right", "select", "session_user", "similar", "some", "symmetric", "system_user", "table",
        "tablesample", "then", "to", "trailing", "true", "union", "unique", "user", "using", "variadic",
        "verbose", "when", "where", "window", "with",
    }
)  # fmt: skip
#: Role names PostgreSQL reserves (`pg_`), RDS reserves (`rds`), or that are SQL key words a bare
#: identifier cannot be; plus the defaults an attacker tries first.
RESERVED_ROLES = PG_RESERVED_KEYWORDS | frozenset(
    {
        "admin", "administrator", "postgres", "root", "master", "public", "none", "role", "alter", "drop",
        "schema", "database",
    }
)  # fmt: skip


def validate_role_name(value: object, where: str) -> str:
    """A role name PostgreSQL accepts unquoted and IAM authentication can name in `rds-db:connect`."""
    if not isinstance(value, str) or not _ROLE.match(value):
        raise refuse(
            where, value, "a lower-case PostgreSQL identifier: a letter, then letters, digits or '_' (63 at most)"
        )
    if value.startswith(("pg_", "rds")):
        raise refuse(where, value, "a name outside the pg_ and rds prefixes PostgreSQL and RDS reserve")
    if value in RESERVED_ROLES:
        raise refuse(where, value, "a name of its own, not a SQL keyword or a default such as admin or postgres")
    return value


@dataclass(frozen=True, kw_only=True)
class DatabaseRoles:
    """The two login roles of one application database and the schema they share."""

    database: str
    """Database the roles connect to."""
    schema: str
    """Schema the migration role owns and the application role reads and writes."""
    app_user: str
    """Login of the application: data (SELECT, INSERT, UPDATE, DELETE, sequences) only."""
    migration_user: str
    """Login of the migration: owns the schema, so it creates and alters the tables."""
    master_user: str
    """The RDS master user the bootstrap runs as: never one of the two logins."""

    def __post_init__(self) -> None:
        validate_role_name(self.database, "database")
        validate_role_name(self.schema, "schema")
        validate_role_name(self.app_user, "app_user")
        validate_role_name(self.migration_user, "migration_user")
        if self.app_user == self.migration_user:
            raise refuse("migration_user", self.migration_user, f"a login other than app_user ({self.app_user})")
        for where, user in (("app_user", self.app_user), ("migration_user", self.migration_user)):
            if user == self.master_user:
                raise refuse(where, user, f"a login other than the master user ({self.master_user})")


def rds_db_user_arn(partition: str, region: str, account: str, resource_id: str, user: str) -> str:
    """The resource `rds-db:connect` names: one database user of one instance (its DbiResourceId)."""
    return f"arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{user}"


def bootstrap_sql(roles: DatabaseRoles) -> str:
    """Create the logins (IAM authentication only), give the schema to the migration, data to the app."""
    db, schema, app, migrate = roles.database, roles.schema, roles.app_user, roles.migration_user
    return f"""\
-- Idempotent: a second run changes nothing. Identifiers are validated lower-case names.
\\set ON_ERROR_STOP on
BEGIN;
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{migrate}') THEN
    CREATE ROLE {migrate} LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{app}') THEN
    CREATE ROLE {app} LOGIN;
  END IF;
END
$$;
-- No password: both log in with IAM tokens only (rds_iam turns password login off for them).
-- A new role has no superuser, createdb, createrole or replication attribute.
ALTER ROLE {migrate} WITH LOGIN PASSWORD NULL;
ALTER ROLE {app} WITH LOGIN PASSWORD NULL;
GRANT rds_iam TO {migrate}, {app};
-- The master creates objects owned by the migration role and sets its default privileges:
-- PostgreSQL 16 requires membership for both.
GRANT {migrate} TO CURRENT_USER;
REVOKE ALL ON DATABASE {db} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {migrate}, {app};
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {migrate};
ALTER SCHEMA {schema} OWNER TO {migrate};
REVOKE ALL ON SCHEMA {schema} FROM PUBLIC;
GRANT USAGE ON SCHEMA {schema} TO {app};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {migrate} IN SCHEMA {schema}
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {migrate} IN SCHEMA {schema}
  GRANT USAGE, SELECT ON SEQUENCES TO {app};
ALTER ROLE {migrate} IN DATABASE {db} SET search_path = {schema};
ALTER ROLE {app} IN DATABASE {db} SET search_path = {schema};
COMMIT;
"""


#: The bootstrap container's script: the master secret (JSON, as RDS writes it) is read from a file the
#: init container fetched, turned into a pgpass file (mode 0600, which libpq requires) and removed.
#: RDS passwords never hold '"', '/', '@' or space, so the JSON string needs no unescaping beyond
#: what pgpass shares with it ('\\'); ':' is pgpass's separator and is escaped.
BOOTSTRAP_SHELL = r"""set -eu
umask 077
secret=/run/db/master.json
password=$(sed -n 's/.*"password"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$secret")
rm -f "$secret"
[ -n "$password" ] || { echo "master secret has no password field" >&2; exit 1; }
printf '%s:%s:%s:%s:%s\n' "$PGHOST" "$PGPORT" "$PGDATABASE" "$PGUSER" \
  "$(printf '%s' "$password" | sed 's/:/\\:/g')" > "$PGPASSFILE"
unset password
exec psql --no-psqlrc --quiet --file=/etc/bootstrap/bootstrap.sql
"""

#: The init container's script: the master secret straight from Secrets Manager into a memory-backed
#: file only this pod's containers see. Never an environment variable, never in Pulumi's state.
FETCH_SHELL = r"""set -eu
umask 077
aws secretsmanager get-secret-value --secret-id "$MASTER_SECRET_ARN" \
  --query SecretString --output text > /run/db/master.json
"""
