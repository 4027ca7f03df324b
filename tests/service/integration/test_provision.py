"""The instance boot step's database roles against a bare PostgreSQL 15 set up as RDS hands it over (a master user
with CREATEROLE/CREATEDB owning the database, not a superuser): ``provision-roles`` as the master, ``migrate`` with
the migrate credential, ``serve`` with the application credential; nothing else holds the master password."""

from __future__ import annotations

import re
import secrets
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


def provision(database: LocalPostgres, password: str, folder: Path, instance: str) -> dict[str, dict[str, str]]:
    env = {**common_env(database), "PAYMENT_DB_MASTER_USER": MASTER, "PAYMENT_DB_MASTER_PASSWORD": password}
    done = run_cli(
        env,
        "provision-roles",
        "--instance-id",
        instance,
        "--migrate-env",
        str(folder / "migrate.env"),
        "--app-env",
        str(folder / "serve.env"),
    )
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr
    for name in ("migrate.env", "serve.env"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600
    return {"migrate": read_env(folder / "migrate.env"), "serve": read_env(folder / "serve.env")}


def test_boot_roles_migrate_as_owner_and_serve_as_the_application(
    rds: tuple[LocalPostgres, str], tmp_path: Path
) -> None:
    database, password = rds
    files = provision(database, password, tmp_path, "i-0123456789abcdef0")
    assert files["migrate"]["PAYMENT_DB_OWNER_USER"] == "payment_migrate_i_0123456789abcdef0"
    assert files["serve"]["PAYMENT_DB_USER"] == "payment_app_i_0123456789abcdef0"
    assert password not in str(files)
    migrated = run_cli({**common_env(database), **files["migrate"]}, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    with database.superuser(DATABASE) as conn:
        owners = {row[0] for row in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
        assert owners == {"payment_owner"}, "the migrate login creates objects as the owner role"
    # The serving unit's systemd LoadCredential= gives it CREDENTIALS_DIRECTORY with the idempotency HMAC secret.
    serving = {**common_env(database), **files["serve"], "CREDENTIALS_DIRECTORY": str(database.credentials)}
    service = ServiceProcess(serving, tmp_path / "api.log").start()
    try:
        service.wait_ready()
        created = httpx.post(f"{service.url}/v1/payments", json=VISA, headers={"Idempotency-Key": new_key()})
        assert created.status_code == 201, created.text
    finally:
        service.stop()
    app = files["serve"]
    with psycopg.connect(
        host="127.0.0.1",
        port=database.port,
        dbname=DATABASE,
        user=app["PAYMENT_DB_USER"],
        password=app["PAYMENT_DB_PASSWORD"],
        sslmode="verify-full",
        sslrootcert=str(database.ca_file),
    ) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE stolen (x int)")


def test_a_reboot_rotates_the_instance_passwords_and_expired_roles_go(
    rds: tuple[LocalPostgres, str], tmp_path: Path
) -> None:
    database, password = rds
    with database.superuser() as conn:
        conn.execute("CREATE ROLE payment_app_i_gone LOGIN VALID UNTIL '2001-01-01' IN ROLE payment_app")
    first = provision(database, password, tmp_path, "i-0aaaaaaaaaaaaaaaa")
    second = provision(database, password, tmp_path, "i-0aaaaaaaaaaaaaaaa")
    assert first["serve"]["PAYMENT_DB_PASSWORD"] != second["serve"]["PAYMENT_DB_PASSWORD"]
    with database.superuser() as conn:
        roles = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE 'payment_%'")}
    assert "payment_app_i_gone" not in roles and "payment_app_i_0aaaaaaaaaaaaaaaa" in roles


def test_provision_refuses_without_the_master_credential(rds: tuple[LocalPostgres, str], tmp_path: Path) -> None:
    database, _ = rds
    refused = run_cli(
        common_env(database),
        "provision-roles",
        "--instance-id",
        "i-1",
        "--migrate-env",
        str(tmp_path / "m.env"),
        "--app-env",
        str(tmp_path / "a.env"),
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
        args = ["--instance-id", "i-0c", "--migrate-env", str(tmp_path / "m.env"), "--app-env", str(tmp_path / "a.env")]
        failed = run_cli(env, "provision-roles", *args)
        assert failed.returncode == 1
        assert "CREATE EXTENSION pgaudit failed" in failed.stderr and "permission denied" in failed.stderr
        assert "shared_preload_libraries" in failed.stderr and "rds_superuser" in failed.stderr
        assert not (tmp_path / "m.env").exists() and not (tmp_path / "a.env").exists()
        with database.superuser() as conn:
            made = conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE 'payment%%' AND rolname <> %s", (MASTER,)
            )
            assert not made.fetchall(), "the extension comes first: a failed boot leaves no roles"
    finally:
        database.stop()
