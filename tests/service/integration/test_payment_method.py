"""The simulated processor knows only the contract's test tokens (API.md v1.2, Processor): any other token is
``400 payment_method_invalid`` with nothing stored (no payment row, no simulated charge) and the key free for the
corrected body; a payment already stored with such a token (a process died, or an older release) is discarded by
the reconciler the same way."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from payment_api.config import load_settings
from payment_api.db import make_pool
from payment_api.processor import TEST_TOKENS
from payment_api.processors import make_processor
from payment_api.reconcile import reconcile_once

from tests.service.integration.conftest import hashes_of, new_key, pay, unique
from tools.dev.local_api.postgres import DATABASE, LocalPostgres


def stored(postgres: LocalPostgres, marker: str) -> dict[str, int]:
    """Rows that a payment with ``marker`` as its description left: payments, charges, keys."""
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute(
            "SELECT count(p.id), count(c.payment_id), count(k.id) FROM payments AS p"
            " LEFT JOIN simulated_charges AS c ON c.payment_id = p.id"
            " LEFT JOIN idempotency_keys AS k ON k.payment_id = p.id WHERE p.description = %s",
            (marker,),
        ).fetchone()
    assert row is not None
    return {"payments": int(row[0]), "charges": int(row[1]), "keys": int(row[2])}


def all_charges(postgres: LocalPostgres) -> int:
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute("SELECT count(*) FROM simulated_charges").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("token", ["pm_anything_else", "pm_card_amex", "pm_CARD_VISA", "pm_card_visa_"])
def test_an_unknown_token_is_400_and_stores_nothing(client: httpx.Client, postgres: LocalPostgres, token: str) -> None:
    key, marker = new_key(), unique("unknown token ")
    charges_before = all_charges(postgres)
    refused = pay(client, key, payment_method=token, description=marker)
    assert refused.status_code == 400, refused.text
    problem = refused.json()
    assert refused.headers["content-type"] == "application/problem+json"
    assert (problem["code"], problem["status"]) == ("payment_method_invalid", 400)
    assert problem["errors"][0]["field"] == "payment_method"
    assert all(name in problem["errors"][0]["message"] for name in TEST_TOKENS)  # says what is allowed
    assert token not in refused.text  # never quotes the value
    assert stored(postgres, marker) == {"payments": 0, "charges": 0, "keys": 0}
    assert all_charges(postgres) == charges_before
    with postgres.superuser(DATABASE) as conn:
        assert conn.execute("SELECT 1 FROM payments WHERE payment_method = %s", (token,)).fetchone() is None
        stored_hash = hashes_of(postgres, key).stored
        keys = conn.execute("SELECT count(*) FROM idempotency_keys WHERE key_hash = %s", (stored_hash,)).fetchone()
    assert keys == (0,)

    corrected = pay(client, key, description=marker)  # the same key, the corrected body
    assert corrected.status_code == 201, corrected.text
    assert "Idempotent-Replayed" not in corrected.headers
    assert stored(postgres, marker) == {"payments": 1, "charges": 1, "keys": 1}


@pytest.mark.parametrize("token", sorted(TEST_TOKENS))
def test_every_test_token_of_the_contract_is_known(client: httpx.Client, token: str) -> None:
    assert pay(client, new_key(), payment_method=token).status_code in {201, 202}


def _abandoned_payment_with(postgres: LocalPostgres, token: str) -> tuple[str, str]:
    """A payment left ``processing`` at ``payment_created`` with ``token``, as a process that died before the
    processor call (or a release whose simulator took any token) leaves it."""
    payment_id = "pay_" + uuid.uuid4().hex[:22]
    key = new_key()
    with postgres.superuser(DATABASE) as conn:
        conn.execute(
            "INSERT INTO payments (id, status, amount, currency, payment_method, created_at)"
            " VALUES (%s, 'processing', 500, 'EUR', %s, now() - interval '5 minutes')",
            (payment_id, token),
        )
        conn.execute(
            "INSERT INTO idempotency_keys (scope, key_hash, key_scheme, fingerprint, recovery_point, payment_id)"
            " VALUES ('POST /v1/payments', %s, 'hmac-sha256', 'f', 'payment_created', %s)",
            (hashes_of(postgres, key).stored, payment_id),
        )
    return payment_id, key


def test_the_reconciler_discards_an_abandoned_payment_with_an_unknown_token(
    client: httpx.Client, postgres: LocalPostgres
) -> None:
    payment_id, key = _abandoned_payment_with(postgres, "pm_from_an_older_release")
    settings = load_settings(postgres.service_env())
    pool, processor = make_pool(settings), make_processor(settings)
    pool.open(wait=True, timeout=30)
    processor.open()
    try:
        result: Any = reconcile_once(pool, processor, 0)
    finally:
        processor.close()
        pool.close()
    assert result.discarded == 1
    with postgres.superuser(DATABASE) as conn:
        assert conn.execute("SELECT 1 FROM payments WHERE id = %s", (payment_id,)).fetchone() is None
        assert conn.execute("SELECT 1 FROM simulated_charges WHERE payment_id = %s", (payment_id,)).fetchone() is None
        assert conn.execute("SELECT 1 FROM idempotency_keys WHERE payment_id = %s", (payment_id,)).fetchone() is None
    assert client.get(f"/v1/payments/{payment_id}").status_code == 404
    assert pay(client, key).status_code == 201  # the key is free again
