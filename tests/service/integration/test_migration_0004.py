"""Migration 0004 (the key's scheme per row) on a database holding keys of the release before: the rows already
there are marked legacy, a retry of such a key after the upgrade replays its stored answer, the release before
keeps inserting (legacy) rows the new one finds, the purge removes them past the retention, and it downgrades. A
PostgreSQL of its own, migrated to 0002 first and filled as that release fills it."""

from __future__ import annotations

import hashlib
import json

import httpx
import psycopg
import pytest
from payment_api.jsonbody import dumps, fingerprint
from payment_api.migrate import head_revision

from tests.service.integration.conftest import VISA, new_key, pay, stored_hash
from tests.service.integration.test_migration_0002 import alembic, version
from tools.dev.local_api.postgres import APP, DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess, run_cli

PAYMENT = "pay_" + "L" * 22
SCOPE = "POST /v1/payments"
LEGACY_ANSWER = dumps(
    {
        "id": PAYMENT,
        "object": "payment",
        "status": "succeeded",
        "amount": 1999,
        "currency": "EUR",
        "amount_refunded": 0,
        "card": {"brand": "visa", "last4": "4242"},
        "created": "2026-12-04T10:00:00.000Z",
    }
)
# What the release before ran to claim a key (idempotency.py before 0004): no key_scheme column named.
OLD_CLAIM = (
    "INSERT INTO idempotency_keys (scope, key_hash, fingerprint, recovery_point) VALUES (%s, %s, %s, 'started')"
    " ON CONFLICT (scope, key_hash) DO NOTHING RETURNING id"
)

VISA_FINGERPRINT = fingerprint("POST", "/v1/payments", VISA)


def sha256(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


@pytest.fixture(name="legacy_db", scope="module")
def fixture_legacy_db(old_db: LocalPostgres) -> LocalPostgres:
    alembic(old_db, "upgrade", "0002_refund_rows_within_amount")
    return old_db


def store_legacy_payment(database: LocalPostgres, key: str) -> None:
    """A finished payment whose key the release before stored: its bare SHA-256 and the answer byte for byte."""
    with database.superuser(DATABASE) as conn:
        conn.execute(
            "INSERT INTO payments (id, status, amount, currency, payment_method, card_brand, card_last4)"
            " VALUES (%s, 'succeeded', 1999, 'EUR', 'pm_card_visa', 'visa', '4242')",
            (PAYMENT,),
        )
        conn.execute(
            "INSERT INTO idempotency_keys (scope, key_hash, fingerprint, recovery_point, payment_id, response_status,"
            " response_body, response_location) VALUES (%s, %s, %s, 'finished', %s, 201, %s, %s)",
            (SCOPE, sha256(key), VISA_FINGERPRINT, PAYMENT, LEGACY_ANSWER, f"/v1/payments/{PAYMENT}"),
        )


def schemes(database: LocalPostgres) -> dict[str, str]:
    with database.superuser(DATABASE) as conn:
        rows = conn.execute("SELECT key_hash, key_scheme FROM idempotency_keys").fetchall()
    return {str(row[0]): str(row[1]) for row in rows}


def column_exists(database: LocalPostgres) -> bool:
    with database.superuser(DATABASE) as conn:
        row = conn.execute(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'idempotency_keys' AND column_name = 'key_scheme'"
        ).fetchone()
    assert row is not None
    return bool(row[0])


def test_0004_keeps_legacy_keys_working_until_the_purge(
    legacy_db: LocalPostgres, tmp_path_factory: pytest.TempPathFactory
) -> None:
    legacy_key = new_key()
    store_legacy_payment(legacy_db, legacy_key)
    migrated = run_cli(legacy_db.service_env(), "migrate")
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    assert version(legacy_db) == head_revision()
    assert schemes(legacy_db) == {sha256(legacy_key): "sha256"}, "the rows already there are marked legacy"

    server = ServiceProcess(legacy_db.service_env(), tmp_path_factory.mktemp("server") / "server.log").start()
    try:
        with httpx.Client(base_url=server.url, timeout=15) as client:
            retried = pay(client, legacy_key)
            assert retried.status_code == 201, retried.text
            assert retried.headers["Idempotent-Replayed"] == "true"
            assert retried.content == LEGACY_ANSWER, "the stored answer byte for byte"
            assert retried.headers["Location"] == f"/v1/payments/{PAYMENT}"
            assert pay(client, legacy_key, amount=2000).json()["code"] == "idempotency_key_reused"

            # An instance of the release before, still serving while the fleet is replaced, working on a key: its
            # claim (no key_scheme named) writes a legacy row, and this release finds it: 409, not a second payment.
            old_key = new_key()
            with as_app(legacy_db) as conn:
                claimed = conn.execute(OLD_CLAIM, (SCOPE, sha256(old_key), VISA_FINGERPRINT)).fetchone()
                assert claimed is not None
                conn.execute("SELECT pg_advisory_lock(%s)", (claimed[0],))
                busy = pay(client, old_key)
                assert busy.json()["code"] == "idempotency_request_in_progress", busy.text

            new = new_key()
            assert pay(client, new).status_code == 201
        assert schemes(legacy_db)[stored_hash(legacy_db, new)] == "hmac-sha256"
        assert sha256(new) not in schemes(legacy_db)
    finally:
        server.stop()

    with legacy_db.superuser(DATABASE) as conn:  # past the retention
        conn.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key_scheme = 'sha256'")
    purged = run_cli(legacy_db.service_env(), "purge-idempotency-keys")
    assert purged.returncode == 0, purged.stderr
    record = [json.loads(line) for line in purged.stdout.splitlines() if '"purged"' in line][-1]
    assert (record["deleted"], record["legacy_keys"]) == (2, 0)
    assert set(schemes(legacy_db).values()) == {"hmac-sha256"}

    alembic(legacy_db, "downgrade", "0002_refund_rows_within_amount")
    assert not column_exists(legacy_db)
    alembic(legacy_db, "upgrade", "head")
    assert column_exists(legacy_db)


def as_app(database: LocalPostgres) -> psycopg.Connection:
    """A connection as the application role (what an instance of either release connects as)."""
    env = database.service_env()
    return psycopg.connect(
        host="127.0.0.1",
        port=database.port,
        dbname=DATABASE,
        user=APP,
        password=env["PAYMENT_DB_PASSWORD"],
        sslmode="verify-full",
        sslrootcert=env["PAYMENT_DB_SSLROOTCERT"],
        autocommit=True,
    )
