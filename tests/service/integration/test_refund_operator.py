"""Every refund records the operator who made it (``created_by``: their identity, ``local:<name>`` for the local
operators these tests use; IAM operators: tests/service/unit/test_operators.py, tests/sandbox/test_operator_proof.py)
and the request log names them, never the token (API.md v1.2, Operators); migration 0003 adds the column and 0007
removes the static keys without stopping the running fleet."""

from __future__ import annotations

import json
import uuid

import httpx
import psycopg
import pytest
from payment_api.config import load_settings

from tests.service.integration.conftest import log_of, new_key, pay, refund
from tests.service.integration.test_migration_0002 import alembic
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess, run_cli

PAYMENT, OLD_REFUND, NEW_REFUND = "pay_" + "C" * 22, "re_" + "D" * 22, "re_" + "E" * 22


def operator_key(postgres: LocalPostgres, label: str) -> str:
    created = run_cli(postgres.service_env(), "operator-token", "--local", label)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1].removeprefix("Operator key: ")


def access_line(server: ServiceProcess, request_id: str) -> dict[str, object]:
    for text in log_of(server).splitlines():
        if text.startswith("{"):
            line = json.loads(text)
            if line["logger"] == "payment_api.access" and line["request_id"] == request_id:
                return dict(line)
    raise AssertionError(f"no access line with request id {request_id}")


def test_a_refund_names_its_operator_in_the_201_the_list_and_the_log(
    client: httpx.Client, server: ServiceProcess, postgres: LocalPostgres
) -> None:
    name = f"refund-desk {uuid.uuid4().hex[:8].translate(str.maketrans('0123456789', 'ghijklmnop'))}"
    token, label = operator_key(postgres, name), f"local:{name}"
    answer = pay(client, new_key(), amount=300)
    assert answer.status_code == 201, answer.text
    payment = answer.json()
    created = client.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"reason": "duplicate", "amount": 100},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": new_key(), "X-Request-Id": "refund-by-x"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == label
    assert list(created.json()) == ["id", "payment_id", "amount", "status", "reason", "created_by", "created_at"]
    listed = client.get(
        f"/v1/payments/{payment['id']}/refunds",
        headers={"Authorization": f"Bearer {token}", "X-Request-Id": "list-by-x"},
    )
    assert [item["created_by"] for item in listed.json()["data"]] == [label]
    assert refund(client, payment["id"], "opt_not-a-token", new_key()).status_code == 401
    assert (
        refund(client, payment["id"], token[:-2] + ("AA" if not token.endswith("AA") else "BB"), new_key()).status_code
        == 401
    )
    with postgres.superuser(DATABASE) as conn:
        stored = conn.execute(
            "SELECT created_by, created_by_user_id FROM refunds WHERE payment_id = %s", (payment["id"],)
        )
        assert stored.fetchall() == [(label, label)]

    assert access_line(server, "refund-by-x")["operator"] == label
    assert access_line(server, "refund-by-x")["operator_user_id"] == label
    assert access_line(server, "list-by-x")["operator"] == label
    assert token not in log_of(server)
    unauthenticated = [
        json.loads(text)
        for text in log_of(server).splitlines()
        if text.startswith("{") and '"status":401' in text and "/refunds" in text
    ]
    assert unauthenticated and all(line["operator"] is None for line in unauthenticated)


@pytest.mark.parametrize("name", ["", " padded", "tab\there", "x" * 65, "card 4242 4242 4242 4242", "caf\u00e9"])
def test_a_name_that_cannot_name_an_operator_is_refused(postgres: LocalPostgres, name: str) -> None:
    refused = run_cli(postgres.service_env(), "operator-token", "--local", name)
    assert refused.returncode == 2
    assert "1 to 64 printable ASCII characters" in refused.stderr and "Operator key:" not in refused.stdout


def test_local_tokens_are_refused_in_production(postgres: LocalPostgres) -> None:
    production = postgres.service_env(
        PAYMENT_ENVIRONMENT="production",
        PAYMENT_STS_REGION="us-east-1",
        PAYMENT_OPERATOR_ROLE_ARN="arn:aws:iam::123456789012:role/payment-operator-test",
    )
    refused = run_cli(production, "operator-token", "--local", "alice")
    assert refused.returncode == 2 and "refused in production" in refused.stderr
    assert "Operator key:" not in refused.stdout


def app_connection(database: LocalPostgres) -> psycopg.Connection:
    return psycopg.connect(load_settings(database.service_env()).database.conninfo(), autocommit=True)


def test_0003_adds_created_by_while_the_previous_release_keeps_refunding(old_db: LocalPostgres) -> None:
    alembic(old_db, "upgrade", "0002_refund_rows_within_amount")
    with app_connection(old_db) as conn, conn.transaction():  # the previous release's refund, before 0003
        conn.execute(
            "INSERT INTO payments (id, status, amount, currency, payment_method) VALUES (%s, 'succeeded', 100, 'EUR',"
            " 'pm_card_visa')",
            (PAYMENT,),
        )
        conn.execute("UPDATE payments SET amount_refunded = 30 WHERE id = %s", (PAYMENT,))
        conn.execute(
            "INSERT INTO refunds (id, payment_id, amount, status, reason)"
            " VALUES (%s, %s, 30, 'succeeded', 'duplicate')",
            (OLD_REFUND, PAYMENT),
        )
    alembic(old_db, "upgrade", "0003_refund_created_by")
    with app_connection(old_db) as conn:
        with conn.transaction():  # the previous release's INSERT, which does not name the column, still works
            conn.execute("UPDATE payments SET amount_refunded = 60 WHERE id = %s", (PAYMENT,))
            conn.execute(
                "INSERT INTO refunds (id, payment_id, amount, status, reason)"
                " VALUES (%s, %s, 30, 'succeeded', 'duplicate')",
                (NEW_REFUND, PAYMENT),
            )
        with conn.transaction():  # this release's names the operator
            conn.execute("UPDATE payments SET amount_refunded = 90 WHERE id = %s", (PAYMENT,))
            conn.execute(
                "INSERT INTO refunds (id, payment_id, amount, status, reason, created_by)"
                " VALUES ('re_' || repeat('F', 22), %s, 30, 'succeeded', 'duplicate', 'alice')",
                (PAYMENT,),
            )
        rows = conn.execute("SELECT id, created_by FROM refunds ORDER BY id").fetchall()
    assert rows == [(OLD_REFUND, None), (NEW_REFUND, None), ("re_" + "F" * 22, "alice")]
    alembic(old_db, "downgrade", "0002_refund_rows_within_amount")
    with old_db.superuser(DATABASE) as conn:
        columns = conn.execute(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'refunds' AND column_name = 'created_by'"
        ).fetchone()
    assert columns == (0,)


def test_0007_removes_the_static_keys_and_the_previous_release_answers_401(old_db: LocalPostgres) -> None:
    alembic(old_db, "upgrade", "0005_stripe_processor")
    with old_db.superuser(DATABASE) as conn:
        conn.execute("INSERT INTO operator_keys (id, key_hash, label) VALUES ('opk_1', 'hash', 'alice')")
    alembic(old_db, "upgrade", "0007_operator_identity")
    previous_lookup = "SELECT label FROM operator_keys WHERE key_hash = %s AND revoked_at IS NULL"
    with app_connection(old_db) as conn:  # the previous release's lookup, as the application role: nothing found
        assert conn.execute(previous_lookup, ("hash",)).fetchall() == []
    with old_db.superuser(DATABASE) as conn:
        kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'operator_keys'").fetchone()
        assert kind == ("v",)  # a view of no row: the table and every key hash are gone
    alembic(old_db, "downgrade", "0005_stripe_processor")
    with app_connection(old_db) as conn:
        assert conn.execute(previous_lookup, ("hash",)).fetchall() == []  # an empty table again
