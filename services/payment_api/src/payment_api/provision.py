"""The migration host's database roles: run once per release, as root on the migration host, with the RDS master
credential (issue 27: no API instance holds the master or a DDL credential).

Why: the internet-facing fleet must never hold the master credential nor the owner (DDL) one, and no password may live
in Terraform state. So only the short-lived migration host's root reads the RDS-managed master secret, and this
module, connected as the master user:

- makes the database and its ``public`` schema belong to ``payment_owner`` and lets ``payment_app`` connect; both
  are group roles without login (``payment_owner`` owns the schema objects, ``payment_app`` gets DML from the
  migrations);
- creates the host's own migrate login ``payment_migrate_<suffix>`` (member of ``payment_owner``, whose sessions start
  as ``payment_owner`` so what the migrations create belongs to the owner role), valid :data:`MIGRATE_VALID_HOURS`
  only: the host runs the release's migrations with it and terminates;
- sets a fresh random password on ONE of the two application logins :data:`APP_LOGINS` (members of ``payment_app``,
  DML only), the one the caller names: the login the app-login secret does NOT name at present. The serving fleet
  keeps the other login, untouched, until the release after next, so an instance refresh never cuts off the
  instances still serving (the caller then writes the new login into the secret: boot/migration-host.sh);
- drops the expired migrate logins of earlier hosts and the expired per-instance ``payment_app_i_*`` logins of the
  releases before issue 27;
- creates the ``pgaudit`` extension in the database (``CREATE EXTENSION IF NOT EXISTS``; the master is
  rds_superuser, which may). The parameter group's ``shared_preload_libraries`` and ``pgaudit.log`` already make
  pgaudit log every session's DDL and role statements; the extension adds its object-level auditing
  (``pgaudit.role``), and its creation fails when pgaudit is not preloaded, so a database still waiting for the
  reboot that applies the static parameter fails the release instead of running unaudited;
- returns both credentials; the caller writes each where its one user reads it.

An advisory lock serializes two hosts that run together (two deploys at once).
"""

from __future__ import annotations

import datetime
import re
import secrets

import psycopg
from psycopg import sql

from payment_api.config import DatabaseSettings

OWNER_GROUP, APP_GROUP = "payment_owner", "payment_app"
MIGRATE_PREFIX = "payment_migrate_"
# The per-instance application logins of the releases before issue 27 (dropped once expired).
LEGACY_APP_PREFIX = "payment_app_i_"
APP_LOGINS = ("payment_app_a", "payment_app_b")
"""The two application logins used in turn, one per release."""
MIGRATE_VALID_HOURS = 24
"""How long a migration host's migrate login stays valid: longer than the host's run (at most the deploy's wait)."""
# pg_advisory_lock key shared by every migration host (the migrations use another one).
PROVISION_LOCK = 7_301_944_113
SUFFIX = re.compile(r"[a-z0-9_]{1,40}")


def next_app_login(current: str) -> str:
    """The application login a release sets a new password on: the one of :data:`APP_LOGINS` that ``current`` (the
    login the app-login secret names now; empty before the first release) is not."""
    if current and current not in APP_LOGINS:
        raise ValueError(f"the app-login secret names {current!r}, not one of {', '.join(APP_LOGINS)}")
    return APP_LOGINS[1] if current == APP_LOGINS[0] else APP_LOGINS[0]


def login_suffix(instance_id: str) -> str:
    """``i-0abc...`` -> ``i_0abc...``: a role-name suffix naming the host (lowercase, digits, ``_``)."""
    suffix = instance_id.lower().replace("-", "_")
    if not SUFFIX.fullmatch(suffix):
        raise ValueError(f"instance id {instance_id!r} cannot name a role (letters, digits, '-', at most 40)")
    return suffix


def _ensure_group(conn: psycopg.Connection, role: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if exists is None:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(role)))


class AuditUnavailable(RuntimeError):
    """``CREATE EXTENSION pgaudit`` failed: the database does not preload pgaudit, or the user may not create it."""


def create_audit_extension(conn: psycopg.Connection) -> None:
    """``CREATE EXTENSION IF NOT EXISTS pgaudit`` (idempotent), or :class:`AuditUnavailable` saying what to fix."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgaudit")
    except psycopg.Error as error:
        raise AuditUnavailable(
            f"CREATE EXTENSION pgaudit failed ({str(error).strip()}): the DB parameter group must list pgaudit in "
            "shared_preload_libraries (static: it applies at the instance's next reboot; `aws rds "
            "describe-db-instances` shows pending-reboot) and the provisioning user must be the RDS master "
            "(rds_superuser)"
        ) from error


def _drop_expired(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT rolname FROM pg_roles WHERE (rolname LIKE %s OR rolname LIKE %s) AND rolvaliduntil < now()",
        (f"{MIGRATE_PREFIX}%", f"{LEGACY_APP_PREFIX}%"),
    ).fetchall()
    for (role,) in rows:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    return [role for (role,) in rows]


def _app_login(conn: psycopg.Connection, role: str) -> str:
    """A fresh password on ``role`` (created if missing, a member of the DML group, no expiry: the next-but-one
    release replaces its password). The other application login is not touched."""
    password = secrets.token_urlsafe(32)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
    conn.execute(
        sql.SQL("{} ROLE {} LOGIN PASSWORD {} VALID UNTIL 'infinity'").format(
            verb, sql.Identifier(role), sql.Literal(password)
        )
    )
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(APP_GROUP), sql.Identifier(role)))
    return password


def _login(conn: psycopg.Connection, role: str, group: str, until: datetime.datetime, *, start_as_group: bool) -> str:
    password = secrets.token_urlsafe(32)
    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    conn.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} VALID UNTIL {} IN ROLE {}").format(
            sql.Identifier(role), sql.Literal(password), sql.Literal(until.isoformat()), sql.Identifier(group)
        )
    )
    if start_as_group:
        conn.execute(sql.SQL("ALTER ROLE {} SET role = {}").format(sql.Identifier(role), sql.Literal(group)))
    return password


def provision(master: DatabaseSettings, suffix: str, app_login: str) -> dict[str, tuple[str, str]]:
    """Roles and ownership as described above; ``{"migrate": (user, password), "app": (app_login, password)}``."""
    if not SUFFIX.fullmatch(suffix):
        raise ValueError(f"login suffix {suffix!r}: lowercase letters, digits and '_' only")
    if app_login not in APP_LOGINS:
        raise ValueError(f"application login {app_login!r}: one of {', '.join(APP_LOGINS)}")
    until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=MIGRATE_VALID_HOURS)
    database = sql.Identifier(master.name)
    with psycopg.connect(master.conninfo(), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (PROVISION_LOCK,))
        create_audit_extension(conn)
        for group in (OWNER_GROUP, APP_GROUP):
            _ensure_group(conn, group)
        # The master user must be able to act as the owner role to hand it the database (PostgreSQL's rule).
        conn.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(OWNER_GROUP)))
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, sql.Identifier(OWNER_GROUP)))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(
                database, sql.Identifier(OWNER_GROUP), sql.Identifier(APP_GROUP)
            )
        )
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER_GROUP)))
        conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(APP_GROUP)))
        _drop_expired(conn)
        migrate_user = MIGRATE_PREFIX + suffix
        credentials = {
            "migrate": (migrate_user, _login(conn, migrate_user, OWNER_GROUP, until, start_as_group=True)),
            "app": (app_login, _app_login(conn, app_login)),
        }
        conn.execute("SELECT pg_advisory_unlock(%s)", (PROVISION_LOCK,))
    return credentials


def env_file_text(values: dict[str, str]) -> str:
    """systemd ``EnvironmentFile`` lines; values are quoted (a password may hold any URL-safe character)."""
    for key, value in values.items():
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key) or any(char in value for char in '"\\\n'):
            raise ValueError(f"{key}: not writable to an EnvironmentFile")
    return "".join(f'{key}="{value}"\n' for key, value in sorted(values.items()))
