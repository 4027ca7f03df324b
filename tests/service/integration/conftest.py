"""One PostgreSQL 15 per test session (TLS with a test CA, verify-full, owner and application roles split as in
production), migrated through the CLI as the owner role, and one uvicorn server process for the ordinary tests.
Tests that need their own servers (two at once, a crash hook, a restart) start them with ``start_server``; every
process is stopped by its fixture, failure or not."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from payment_api.config import IdempotencySecrets
from payment_api.idempotency import KeyHashes, key_hash, key_hashes

from tests.service.integration.stripe_fixtures import Emulator
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess, run_cli
from tools.dev.local_stripe import LocalStripe, stripe_credential

VISA = {"amount": 1999, "currency": "EUR", "payment_method": "pm_card_visa"}


def migrated_database() -> Iterator[LocalPostgres]:
    """A throw-away PostgreSQL 15 at the schema's head, stopped and removed when the generator ends. Every process
    given its ``service_env()`` reads the same idempotency HMAC secret (one per database, made with it)."""
    database = LocalPostgres()
    try:
        database.start()
        migrated = run_cli(database.service_env(), "migrate")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        yield database
    finally:
        database.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    yield from migrated_database()


@pytest.fixture(scope="session")
def operator_key(postgres: LocalPostgres) -> str:
    created = run_cli(postgres.service_env(), "operator-token", "--local", "tests")
    assert created.returncode == 0, created.stderr
    line = created.stdout.strip().splitlines()[-1]
    assert line.startswith("Operator key: opt_")
    return line.removeprefix("Operator key: ")


@pytest.fixture(scope="session")
def start_server(
    postgres: LocalPostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def start(**extra_env: str) -> ServiceProcess:
        log = tmp_path_factory.mktemp("server") / "server.log"
        process = ServiceProcess(postgres.service_env(**extra_env), log)
        started.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture(scope="session")
def stripe_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """The session's local Stripe emulator (localstripe, patched: tools/dev/local_stripe) and its credential."""
    with LocalStripe(log_path=tmp_path_factory.mktemp("localstripe") / "stripe.log") as emulator:
        yield Emulator(emulator, stripe_credential())


@pytest.fixture(name="old_db", scope="module")
def fixture_old_db() -> Iterator[LocalPostgres]:
    """A throw-away PostgreSQL of the module's own, not migrated: the migration tests bring it to an older revision
    and write what that release could before upgrading it."""
    database = LocalPostgres()
    try:
        database.start()
        yield database
    finally:
        database.stop()


@pytest.fixture(scope="session")
def server(start_server: Callable[..., ServiceProcess]) -> ServiceProcess:
    process = start_server()
    process.wait_ready()
    return process


@pytest.fixture
def client(server: ServiceProcess) -> Iterator[httpx.Client]:
    # Traffic reaches a ready server only, as the load balancer sends it: a module before may have restarted the
    # shared PostgreSQL (test_recovery), and until the server is back at /ready a payment rightly answers 503.
    server.wait_ready()
    with httpx.Client(base_url=server.url, timeout=15) as http:
        yield http


# A random id's digits can line up into a Luhn-valid run (in a uuid, across its dashes), which the service rightly
# refuses as card data: markers, keys and request ids in these tests are random letters only.
_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def unique(prefix: str) -> str:
    """``prefix`` and 32 random letters (a uuid4's hex with its digits as letters): never card-number-like."""
    return f"{prefix}{uuid.uuid4().hex.translate(_LETTERS)}"


def new_key() -> str:
    return unique("test-")


def pay_raw(client: httpx.Client, key: str | None, raw: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/payments", content=raw, headers=headers)


def pay(client: httpx.Client, key: str | None = None, **body: Any) -> httpx.Response:
    return pay_raw(client, key, json.dumps({**VISA, **body}).encode())


def pay_into_crash(doomed: ServiceProcess, key: str, **body: Any) -> None:
    """A payment through a server started with the crash hook, which must die between the processor call and the
    commit. It waits for ``/ready`` first: a server that has not reached PostgreSQL yet answers 503 without ever
    calling the processor, and the test would then prove nothing. An answer is a failure that says what came back."""
    doomed.wait_ready()
    with httpx.Client(base_url=doomed.url, timeout=15) as client:
        try:
            answer = pay(client, key, **body)
        except httpx.TransportError:
            return
    pytest.fail(f"the doomed server answered instead of dying: {answer.status_code} {answer.text[:300]}")


def refund(
    client: httpx.Client, payment_id: str, operator_key: str, key: str | None = None, **body: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {operator_key}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        f"/v1/payments/{payment_id}/refunds", json={"reason": "requested_by_customer", **body}, headers=headers
    )


def charges(postgres: LocalPostgres, payment_id: str | None = None) -> int:
    """How many charges the simulated processor made (one row per charge, in its own table)."""
    with postgres.superuser(DATABASE) as conn:
        if payment_id is None:
            row = conn.execute("SELECT count(*) FROM simulated_charges").fetchone()
        else:
            row = conn.execute("SELECT count(*) FROM simulated_charges WHERE payment_id = %s", (payment_id,)).fetchone()
    assert row is not None
    return int(row[0])


def secrets_of(postgres: LocalPostgres) -> IdempotencySecrets:
    """The HMAC secret every API process on ``postgres`` reads from its credentials folder (one per database)."""
    return IdempotencySecrets(current=postgres.idempotency_secret.encode())


def hashes_of(postgres: LocalPostgres, key: str) -> KeyHashes:
    """The hashes the service stores and looks ``key`` up under, on ``postgres``."""
    return key_hashes(key, secrets_of(postgres))


def stored_hash(postgres: LocalPostgres, key: str) -> str:
    """The ``key_hash`` of ``key``'s row on ``postgres``: its HMAC-SHA-256 under the database's secret."""
    return key_hash(key, secrets_of(postgres).current)


def log_of(process: ServiceProcess) -> str:
    return Path(process.log_path).read_text(encoding="utf-8", errors="replace")
