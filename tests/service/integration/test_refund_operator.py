"""Every refund records the operator who made it (``created_by``: the operator key's label until operator identities
arrive) and the request log names them, never the token (API.md v1.2, Operators); migration 0003 adds the column
without stopping the running fleet."""

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
    created = run_cli(postgres.service_env(), "create-operator-key", "--label", label)
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
    label = f"refund-desk {uuid.uuid4().hex[:8]}"
    token = operator_key(postgres, label)
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
    assert refund(client, payment["id"], "opk_not-a-key", new_key()).status_code == 401

    assert access_line(server, "refund-by-x")["operator"] == label
    assert access_line(server, "list-by-x")["operator"] == label
    assert token not in log_of(server)
    unauthenticated = [
        json.loads(text)
        for text in log_of(server).splitlines()
        if text.startswith("{") and '"status":401' in text and "/refunds" in text
    ]
    assert unauthenticated and all(line["operator"] is None for line in unauthenticated)


@pytest.mark.parametrize("label", ["", " padded", "tab\there", "x" * 65, "card 4242 4242 4242 4242", "caf\u00e9"])
def test_a_label_that_cannot_name_an_operator_is_refused_and_nothing_stored(
    postgres: LocalPostgres, label: str
) -> None:
    with postgres.superuser(DATABASE) as conn:
        before = conn.execute("SELECT count(*) FROM operator_keys").fetchone()
    refused = run_cli(postgres.service_env(), "create-operator-key", "--label", label)
    assert refused.returncode == 2
    assert "1 to 64 printable ASCII characters" in refused.stderr and "Operator key:" not in refused.stdout
    with postgres.superuser(DATABASE) as conn:
        assert conn.execute("SELECT count(*) FROM operator_keys").fetchone() == before


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
