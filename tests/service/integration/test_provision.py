"""The migration host's database roles against a bare PostgreSQL 15 set up as RDS hands it over (a master user
with CREATEROLE/CREATEDB owning the database, not a superuser): ``provision-roles`` as the master, ``migrate`` with
the migrate credential, ``serve`` with the application login (the ``db-login`` credential); nothing else holds the
master password. The two application logins are used in turn: a release's new password leaves the other one
working."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.service.integration.conftest import VISA, new_key
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess, run_cli
from tools.dev.local_api.testca import development_ca

MASTER = "payment_admin"


def read_env(path: Path) -> dict[str, str]:
    return dict(re.findall(r'^([A-Z_]+)="(.*)"$', path.read_text(encoding="utf-8"), re.M))


@pytest.fixture(name="rds", scope="module")
def fixture_rds() -> Iterator[tuple[LocalPostgres, str]]:
    database = LocalPostgres(ca=development_ca())
    password = secrets.token_hex(16)
    try:
        database.start(bootstrap=False)
        database.rds_master(MASTER, password)
        yield database, password
    finally:
        database.stop()


def common_env(database: LocalPostgres) -> dict[str, str]:
    """What the boot step's common.env holds (no credential)."""
    return {
        "PAYMENT_ENVIRONMENT": "development",
        "PAYMENT_PROCESSOR": "simulated",
        "PAYMENT_DB_HOST": "127.0.0.1",
        "PAYMENT_DB_PORT": str(database.port),
        "PAYMENT_DB_NAME": DATABASE,
        "PAYMENT_DB_SSLMODE": "verify-full",
        "PAYMENT_DB_SSLROOTCERT": str(database.ca_file),
    }


def provision(
    database: LocalPostgres, password: str, folder: Path, instance: str, current: str = ""
) -> dict[str, dict[str, str]]:
    """provision-roles as the migration host runs it; ``current``: the login the app-login secret names now."""
    folder.mkdir(exist_ok=True)
    env = {**common_env(database), "PAYMENT_DB_MASTER_USER": MASTER, "PAYMENT_DB_MASTER_PASSWORD": password}
    done = run_cli(
        env,
        "provision-roles",
        "--instance-id",
        instance,
        "--migrate-env",
        str(folder / "migrate.env"),
        "--current-app-login",
        current,
        "--app-credential",
        str(folder / "db-login"),
    )
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr
    for name in ("migrate.env", "db-login"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600
    return {"migrate": read_env(folder / "migrate.env"), "login": json.loads((folder / "db-login").read_text())}


def login_works(database: LocalPostgres, login: dict[str, str]) -> bool:
    """Whether ``login`` (username, password) connects."""
    try:
        with psycopg.connect(
            host="127.0.0.1",
            port=database.port,
            dbname=DATABASE,
            user=login["username"],
            password=login["password"],
            sslmode="verify-full",
            sslrootcert=str(database.ca_file),
        ):
            return True
    except psycopg.OperationalError:
        return False


def test_boot_roles_migrate_as_owner_and_serve_as_the_application(
    rds: tuple[LocalPostgres, str], tmp_path: Path
) -> None:
    database, password = rds
    files = provision(database, password, tmp_path, "i-0123456789abcdef0")
    assert files["migrate"]["PAYMENT_DB_OWNER_USER"] == "payment_migrate_i_0123456789abcdef0"
    assert files["login"]["username"] == "payment_app_a"
    assert password not in str(files)
    migrated = run_cli({**common_env(database), **files["migrate"]}, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    with database.superuser(DATABASE) as conn:
        owners = {row[0] for row in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
        assert owners == {"payment_owner"}, "the migrate login creates objects as the owner role"
    # The serving unit's systemd LoadCredential= gives it CREDENTIALS_DIRECTORY with the idempotency HMAC secret and
    # the db-login credential (no user or password in its environment).
    credentials = tmp_path / "credentials"
    shutil.copytree(database.credentials, credentials)
    (credentials / "db-login").write_text(json.dumps(files["login"]), encoding="utf-8")
    serving = {**common_env(database), "CREDENTIALS_DIRECTORY": str(credentials)}
    service = ServiceProcess(serving, tmp_path / "api.log").start()
    try:
        service.wait_ready()
        created = httpx.post(f"{service.url}/v1/payments", json=VISA, headers={"Idempotency-Key": new_key()})
        assert created.status_code == 201, created.text
    finally:
        service.stop()
    app = files["login"]
    with psycopg.connect(
        host="127.0.0.1",
        port=database.port,
        dbname=DATABASE,
        user=app["username"],
        password=app["password"],
        sslmode="verify-full",
        sslrootcert=str(database.ca_file),
    ) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE stolen (x int)")


def test_releases_rotate_the_two_app_logins_in_turn_and_expired_roles_go(
    rds: tuple[LocalPostgres, str], tmp_path: Path
) -> None:
    database, password = rds
    with database.superuser() as conn:
        conn.execute("CREATE ROLE payment_app_i_gone LOGIN VALID UNTIL '2001-01-01' IN ROLE payment_app")
        conn.execute("CREATE ROLE payment_migrate_i_gone LOGIN VALID UNTIL '2001-01-01' IN ROLE payment_owner")
    release_a = provision(database, password, tmp_path / "a", "i-0aaaaaaaaaaaaaaaa")
    release_b = provision(database, password, tmp_path / "b", "i-0bbbbbbbbbbbbbbbb", "payment_app_a")
    assert (release_a["login"]["username"], release_b["login"]["username"]) == ("payment_app_a", "payment_app_b")
    assert login_works(database, release_a["login"]), "the fleet still serving keeps its login"
    assert login_works(database, release_b["login"])
    release_c = provision(database, password, tmp_path / "c", "i-0cccccccccccccccc", "payment_app_b")
    assert not login_works(database, release_a["login"]), "the next-but-one release replaces that password"
    assert login_works(database, release_b["login"]) and login_works(database, release_c["login"])
    with database.superuser() as conn:
        roles = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'payment_%'")}
        members = conn.execute(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member "
            "JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = 'payment_app'"
        ).fetchall()
    assert "payment_app_i_gone" not in roles and "payment_migrate_i_gone" not in roles
    assert {"payment_app_a", "payment_app_b"} <= {row[0] for row in members}


def test_provision_refuses_a_current_login_that_is_not_one_of_the_two(
    rds: tuple[LocalPostgres, str], tmp_path: Path
) -> None:
    database, password = rds
    env = {**common_env(database), "PAYMENT_DB_MASTER_USER": MASTER, "PAYMENT_DB_MASTER_PASSWORD": password}
    args = ["--migrate-env", str(tmp_path / "m.env"), "--app-credential", str(tmp_path / "l")]
    refused = run_cli(env, "provision-roles", "--instance-id", "i-1", "--current-app-login", "payment_owner", *args)
    assert refused.returncode == 2 and "payment_app_a, payment_app_b" in refused.stderr
    assert not (tmp_path / "l").exists()


def test_provision_refuses_without_the_master_credential(rds: tuple[LocalPostgres, str], tmp_path: Path) -> None:
    database, _ = rds
    refused = run_cli(
        common_env(database),
        "provision-roles",
        "--instance-id",
        "i-1",
        "--migrate-env",
        str(tmp_path / "m.env"),
        "--current-app-login",
        "",
        "--app-credential",
        str(tmp_path / "a"),
    )
    assert refused.returncode == 2 and "PAYMENT_DB_MASTER_USER" in refused.stderr


def audit_lines(database: LocalPostgres, statement: str) -> list[str]:
    """pgaudit's session lines for ``statement`` in the server log, RDS's prefix before them (waits up to 10 s)."""
    pattern = re.compile(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC:127\.0\.0\.1\(\d+\):(?P<user>\w+)@payments:\[\d+\]:LOG:  "
        r"AUDIT: SESSION,\d+,\d+,(?P<class>\w+),(?P<command>[A-Z ]+),(?P<type>[A-Z ]*),(?P<object>[\w.]*),"
        + re.escape(statement)
        + r",<not logged>$",
        re.M,
    )
    deadline = time.monotonic() + 10
    while not (found := [match.group(0) for match in pattern.finditer(database.log())]) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_provisioning_creates_pgaudit_and_ddl_is_audited_in_the_log(
    rds: tuple[LocalPostgres, str], tmp_path: Path
) -> None:
    database, password = rds
    provision(database, password, tmp_path, "i-0bbbbbbbbbbbbbbbb")
    files = provision(database, password, tmp_path, "i-0bbbbbbbbbbbbbbbb")  # idempotent: a reboot provisions again
    with database.superuser(DATABASE) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pgaudit'").fetchone() == (1,)
        preloaded = conn.execute("SHOW shared_preload_libraries").fetchone()
        assert preloaded is not None and set(preloaded[0].split(",")) == {"pg_stat_statements", "pgaudit"}
        assert conn.execute("SHOW pgaudit.log").fetchone() == ("ddl,role",)
    assert audit_lines(database, "CREATE EXTENSION IF NOT EXISTS pgaudit"), "the master's CREATE EXTENSION"
    table = f"audit_probe_{secrets.token_hex(4)}"
    statement = f"CREATE TABLE {table} (x int)"
    migrate = files["migrate"]
    with psycopg.connect(
        host="127.0.0.1",
        port=database.port,
        dbname=DATABASE,
        user=migrate["PAYMENT_DB_OWNER_USER"],
        password=migrate["PAYMENT_DB_OWNER_PASSWORD"],
        sslmode="verify-full",
        sslrootcert=str(database.ca_file),
        autocommit=True,
    ) as conn:
        conn.execute(statement)
        conn.execute(f"DROP TABLE {table}")
    (line,) = audit_lines(database, statement)
    assert f"{migrate['PAYMENT_DB_OWNER_USER']}@payments" in line
    assert f",DDL,CREATE TABLE,TABLE,public.{table}," in line


def test_provisioning_fails_and_says_why_when_the_master_may_not_create_pgaudit(tmp_path: Path) -> None:
    """A master without rds_superuser's right to create pgaudit (a plain CREATEROLE role): the boot step fails,
    naming the extension and what to check, rather than going on unaudited."""
    database = LocalPostgres(ca=development_ca())
    password = secrets.token_hex(16)
    try:
        database.start(bootstrap=False)
        with database.superuser() as conn:
            conn.execute(f"CREATE ROLE {MASTER} LOGIN CREATEROLE CREATEDB PASSWORD '{password}'")
            conn.execute(f"CREATE DATABASE {DATABASE} OWNER {MASTER}")
        env = {**common_env(database), "PAYMENT_DB_MASTER_USER": MASTER, "PAYMENT_DB_MASTER_PASSWORD": password}
        args = ["--instance-id", "i-0c", "--migrate-env", str(tmp_path / "m.env"), "--current-app-login", ""]
        args += ["--app-credential", str(tmp_path / "a")]
        failed = run_cli(env, "provision-roles", *args)
        assert failed.returncode == 1
        assert "CREATE EXTENSION pgaudit failed" in failed.stderr and "permission denied" in failed.stderr
        assert "shared_preload_libraries" in failed.stderr and "rds_superuser" in failed.stderr
        assert not (tmp_path / "m.env").exists() and not (tmp_path / "a").exists()
        with database.superuser() as conn:
            made = conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE 'payment%%' AND rolname <> %s", (MASTER,)
            )
            assert not made.fetchall(), "the extension comes first: a failed boot leaves no roles"
    finally:
        database.stop()
