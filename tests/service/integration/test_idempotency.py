"""Every row of the contract's idempotency table, against the real server and database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.service.integration.conftest import charges, new_key, pay, pay_raw, refund, stored_hash
from tools.dev.local_api.postgres import DATABASE, LocalPostgres


def test_no_key_is_refused(client: httpx.Client) -> None:
    response = pay(client)
    assert response.status_code == 400 and response.json()["code"] == "idempotency_key_missing"


@pytest.mark.parametrize("key", [b"", b"k" * 256, b"caf\xe9", b"tab\there"])
def test_an_invalid_key_is_refused(client: httpx.Client, key: bytes) -> None:
    response = client.post(
        "/v1/payments",
        json={"amount": 1, "currency": "EUR", "payment_method": "pm_card_visa"},
        headers={b"Idempotency-Key": key},
    )
    assert response.status_code == 400 and response.json()["code"] == "idempotency_key_invalid"


def test_the_same_request_is_replayed_byte_for_byte(client: httpx.Client, postgres: LocalPostgres) -> None:
    key = new_key()
    first = pay(client, key, description="Order 1042")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    payment = first.json()
    assert payment["status"] == "succeeded" and payment["card"] == {"brand": "visa", "last4": "4242"}
    assert first.headers["Location"] == f"/v1/payments/{payment['id']}"
    # Same canonical body, other key order and spacing: still the same request.
    raw = b'{"payment_method":"pm_card_visa",  "description":"Order 1042","currency":"EUR","amount":1999}'
    second = pay_raw(client, key, raw)
    assert second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"]
    assert charges(postgres, payment["id"]) == 1
    assert client.get(first.headers["Location"]).json() == payment


def test_the_same_key_with_another_request_is_refused(client: httpx.Client) -> None:
    key = new_key()
    assert pay(client, key).status_code == 201
    response = pay(client, key, amount=2000)
    assert response.status_code == 422 and response.json()["code"] == "idempotency_key_reused"


def test_a_key_in_progress_answers_409(client: httpx.Client, postgres: LocalPostgres) -> None:
    key = new_key()
    first = pay(client, key, payment_method="pm_card_processor_timeout")
    assert first.status_code == 202
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute(
            "SELECT id FROM idempotency_keys WHERE key_hash = %s", (stored_hash(postgres, key),)
        ).fetchone()
        assert row is not None
        conn.execute("SELECT pg_advisory_lock(%s)", (row[0],))  # what a request working on the key holds
        busy = pay(client, key, payment_method="pm_card_processor_timeout")
        assert busy.status_code == 409 and busy.json()["code"] == "idempotency_request_in_progress"
        assert busy.headers["Retry-After"] == "1"
        conn.execute("SELECT pg_advisory_unlock(%s)", (row[0],))
    assert pay(client, key, payment_method="pm_card_processor_timeout").status_code == 201


@pytest.mark.parametrize(
    "first_body",
    [
        {"amount": 19.99},
        {"amount": 1999, "currency": "XXX"},
        {"description": "4242 4242 4242 4242"},
    ],
    ids=["validation", "currency", "card-data"],
)
def test_a_4xx_is_not_stored_and_the_key_may_be_retried(client: httpx.Client, first_body: dict[str, Any]) -> None:
    key = new_key()
    assert pay(client, key, **first_body).status_code == 400
    corrected = pay(client, key)
    assert corrected.status_code == 201 and "Idempotent-Replayed" not in corrected.headers


def test_a_refused_refund_is_not_stored(client: httpx.Client, operator_key: str) -> None:
    payment = pay(client, new_key(), amount=10).json()
    key = new_key()
    too_much = refund(client, payment["id"], operator_key, key, amount=11)
    assert too_much.status_code == 409 and too_much.json()["code"] == "refund_exceeds_payment"
    assert refund(client, payment["id"], operator_key, key, amount=10).status_code == 201


def test_a_processor_timeout_answers_202_and_a_retry_finishes_with_one_charge(
    client: httpx.Client, postgres: LocalPostgres
) -> None:
    key = new_key()
    first = pay(client, key, payment_method="pm_card_processor_timeout")
    assert first.status_code == 202 and first.headers["Retry-After"] == "1"
    payment = first.json()
    assert payment["status"] == "processing"
    assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == "processing"
    retry = pay(client, key, payment_method="pm_card_processor_timeout")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers  # a 202 is never replayed
    assert retry.json()["id"] == payment["id"] and retry.json()["status"] == "succeeded"
    assert charges(postgres, payment["id"]) == 1
    replay = pay(client, key, payment_method="pm_card_processor_timeout")
    assert replay.content == retry.content and replay.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    ("token", "failure"), [("pm_card_declined", "card_declined"), ("pm_card_insufficient_funds", "insufficient_funds")]
)
def test_a_failed_payment_is_a_final_answer(client: httpx.Client, token: str, failure: str) -> None:
    key = new_key()
    first = pay(client, key, payment_method=token)
    assert first.status_code == 201
    assert first.json()["status"] == "failed" and first.json()["failure_code"] == failure
    assert first.json()["card"] is None
    replay = pay(client, key, payment_method=token)
    assert replay.content == first.content and replay.headers["Idempotent-Replayed"] == "true"


def test_mastercard_and_other_tokens(client: httpx.Client) -> None:
    assert pay(client, new_key(), payment_method="pm_card_mastercard").json()["card"] == {
        "brand": "mastercard",
        "last4": "4444",
    }
    # Any other token: test_payment_method.py (400 payment_method_invalid, nothing stored).
    assert pay(client, new_key(), payment_method="pm_anything_else").json()["code"] == "payment_method_invalid"


def test_keys_are_scoped_per_route(client: httpx.Client, operator_key: str) -> None:
    key = new_key()
    payment = pay(client, key, amount=100).json()
    first = refund(client, payment["id"], operator_key, key, amount=10)
    assert first.status_code == 201
    other = pay(client, new_key(), amount=100).json()
    assert refund(client, other["id"], operator_key, key, amount=10).status_code == 201  # other payment, other scope
    replay = refund(client, payment["id"], operator_key, key, amount=10)
    assert replay.content == first.content and replay.headers["Idempotent-Replayed"] == "true"
    assert refund(client, payment["id"], operator_key, key, amount=11).json()["code"] == "idempotency_key_reused"


def test_the_key_is_stored_only_as_a_hash(client: httpx.Client, postgres: LocalPostgres) -> None:
    key = new_key()
    pay(client, key)
    with postgres.superuser(DATABASE) as conn:
        dump = conn.execute("SELECT string_agg(t::text, ' ') FROM idempotency_keys t").fetchone()
    assert dump is not None and key not in dump[0]


def test_purge_removes_keys_older_than_the_retention(client: httpx.Client, postgres: LocalPostgres) -> None:
    from tools.dev.local_api.process import run_cli  # pylint: disable=import-outside-toplevel

    old, recent = new_key(), new_key()
    pay(client, old)
    pay(client, recent)
    with postgres.superuser(DATABASE) as conn:
        conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key_hash = %s",
            (stored_hash(postgres, old),),
        )
    purged = run_cli(postgres.service_env(), "purge-idempotency-keys")
    assert purged.returncode == 0, purged.stderr
    assert '"deleted":' in purged.stdout
    with postgres.superuser(DATABASE) as conn:
        left = {row[0] for row in conn.execute("SELECT key_hash FROM idempotency_keys").fetchall()}
    assert stored_hash(postgres, old) not in left
    assert stored_hash(postgres, recent) in left
