"""Idempotency keys at rest as an HMAC-SHA-256 under one secret per fleet (issue 23, item 5): what is stored and
logged, a retry through a second API process on the same database, a rotation, and the refusal to serve without
the secret. The legacy rows of the release before are in test_migration_0004.py."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.service.integration.conftest import charges, log_of, new_key, pay, stored_hash
from tools.dev.local_api.credentials import idempotency_credentials, new_secret
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess, run_cli

# A key that holds a card number: with a bare SHA-256 stored, trying the few billion Luhn-valid numbers of a BIN
# would find it.
CARD_KEY = "order-4242424242424242"


def key_rows(postgres: LocalPostgres, key: str) -> list[tuple[str, str]]:
    """(key_hash, key_scheme) of every row whose hash is ``key``'s bare SHA-256 or its HMAC under the database's
    secret."""
    bare = hashlib.sha256(key.encode()).hexdigest()
    with postgres.superuser(DATABASE) as conn:
        rows = conn.execute(
            "SELECT key_hash, key_scheme FROM idempotency_keys WHERE key_hash IN (%s, %s) ORDER BY id",
            (bare, stored_hash(postgres, key)),
        ).fetchall()
    return [(str(row[0]), str(row[1])) for row in rows]


def test_the_key_is_stored_and_logged_as_its_hmac_never_its_bare_sha256(
    start_server: Callable[..., ServiceProcess], postgres: LocalPostgres
) -> None:
    server = start_server()
    key = f"{CARD_KEY}-{new_key()}"
    with httpx.Client(base_url=server.url, timeout=15) as client:
        assert pay(client, key).status_code == 201
    server.stop()
    bare = hashlib.sha256(key.encode()).hexdigest()
    hmac_hex = stored_hash(postgres, key)
    assert key_rows(postgres, key) == [(hmac_hex, "hmac-sha256")], "one row, its HMAC, never the bare SHA-256"
    lines = [json.loads(line) for line in log_of(server).splitlines() if line.startswith("{")]
    logged = [line["idempotency_key_hash"] for line in lines if line.get("route") == "/v1/payments"]
    assert logged == [hmac_hex[:16]]
    assert bare[:16] not in log_of(server)


def test_a_retry_through_a_second_process_gets_the_stored_answer(
    start_server: Callable[..., ServiceProcess], postgres: LocalPostgres
) -> None:
    """Two API processes on one database, as two instances of the fleet: each reads the database's one secret
    (its credentials folder), so the retry that reaches the other process finds its key."""
    first, second = start_server(), start_server()
    key = new_key()
    with httpx.Client(base_url=first.url, timeout=15) as client:
        created = pay(client, key, description="Order 1042")
    assert created.status_code == 201 and "Idempotent-Replayed" not in created.headers
    with httpx.Client(base_url=second.url, timeout=15) as client:
        retried = pay(client, key, description="Order 1042")
    assert retried.status_code == 201
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert retried.content == created.content, "the same body byte for byte"
    assert retried.headers["Location"] == created.headers["Location"]
    assert charges(postgres, created.json()["id"]) == 1


def test_after_a_rotation_the_previous_secret_still_finds_its_keys(
    start_server: Callable[..., ServiceProcess],
    postgres: LocalPostgres,
    client: httpx.Client,
    tmp_path: Path,
) -> None:
    """A key stored under S1 (the database's secret, the session server's); a process restarted with current S2
    and previous S1 replays its answer. With S2 alone the key is not found: the retry is a new payment, a second
    charge with a real processor. Hence a rotation keeps the previous secret for the retention period."""
    key = new_key()
    created = pay(client, key)
    assert created.status_code == 201
    s1, s2 = postgres.idempotency_secret, new_secret()
    rotated = start_server(CREDENTIALS_DIRECTORY=str(idempotency_credentials(tmp_path / "rotated", s2, s1)))
    with httpx.Client(base_url=rotated.url, timeout=15) as rotated_client:
        replayed = pay(rotated_client, key)
        assert (replayed.status_code, replayed.headers.get("Idempotent-Replayed")) == (201, "true")
        assert replayed.content == created.content
        # A new key on the rotated process is stored under S2.
        fresh = new_key()
        assert pay(rotated_client, fresh).status_code == 201
    assert key_rows(postgres, fresh) == []  # not under S1 nor bare
    rotated.stop()

    only_s2 = start_server(CREDENTIALS_DIRECTORY=str(idempotency_credentials(tmp_path / "only-s2", s2)))
    with httpx.Client(base_url=only_s2.url, timeout=15) as only_s2_client:
        assert pay(only_s2_client, fresh).headers.get("Idempotent-Replayed") == "true"  # stored under S2
        again = pay(only_s2_client, key)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != created.json()["id"], "S1's key is not found without S1: a second payment"
    only_s2.stop()


@pytest.mark.parametrize("environment", ["test", "production"])
def test_serving_without_the_secret_is_refused(postgres: LocalPostgres, tmp_path: Path, environment: str) -> None:
    empty = tmp_path / "credentials"
    empty.mkdir(mode=0o700)
    env = postgres.service_env(
        CREDENTIALS_DIRECTORY=str(empty),
        PAYMENT_ENVIRONMENT=environment,
        PAYMENT_STS_REGION="us-east-1",  # production names its region and operator role (the stack writes both)
        PAYMENT_OPERATOR_ROLE_ARN="arn:aws:iam::123456789012:role/payment-operator-test",
    )
    refused = run_cli(env, "serve", "--port", "1")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "idempotency-hmac-current" in refused.stderr
    if environment == "production":
        assert "LoadCredential=" in refused.stderr
    else:
        assert "CREDENTIALS_DIRECTORY" in refused.stderr
