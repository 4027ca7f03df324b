"""The reconciler with Stripe (issue 26, item 6), through the local emulator, with the reconciler's clock injected
(``reconcile_once(..., now=...)``) instead of a day's wait:

- inside Stripe's idempotency window a payment whose intent cannot be found has its create repeated with the same
  key; past it (25 h) it is looked up and never created, and one Stripe has no intent for ends ``failed``;
- the intent recorded when the create call returned (``processor_reference``) is read by its id, no search;
- a payment left ``requires_action`` longer than the timeout is cancelled at Stripe (``cancellation_reason``
  ``abandoned``, an idempotency key derived from our id) and ends ``failed`` with ``authentication_failed``; one whose
  customer finished first takes the intent's outcome;
- a cancel racing webhooks leaves exactly one final state."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from payment_api.config import StripeSettings, load_settings
from payment_api.db import make_pool
from payment_api.payments import new_id
from payment_api.reconcile import PassResult, expire_authentication, finish_payment, reconcile_once
from payment_api.stripe_processor import REPEAT_WINDOW, StripeProcessor
from payment_api.webhooks import handle, read_event
from psycopg_pool import ConnectionPool

from tests.service.integration.conftest import new_key, pay, unique
from tests.service.integration.stripe_fixtures import THREE_D_SECURE, Emulator, stripe_env
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess

TIMEOUT = timedelta(minutes=30)


@pytest.fixture(name="stripe_client", scope="module")
def fixture_stripe_client(
    start_server: Callable[..., ServiceProcess],
    postgres: LocalPostgres,
    stripe_emulator: Emulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[httpx.Client]:
    process = start_server(**stripe_env(postgres, stripe_emulator, tmp_path_factory.mktemp("reconcile") / "creds"))
    process.wait_ready()
    with httpx.Client(base_url=process.url, timeout=15) as http:
        yield http


@pytest.fixture(name="processor", scope="module")
def fixture_processor(stripe_emulator: Emulator) -> StripeProcessor:
    secret = json.loads(stripe_emulator.credential)
    return StripeProcessor(
        StripeSettings(api_key=secret["api_key"], webhook_secret=secret["webhook_secret"], api_base=stripe_emulator.url)
    )


@pytest.fixture(name="pool", scope="module")
def fixture_pool(postgres: LocalPostgres) -> Iterator[ConnectionPool]:
    pool = make_pool(load_settings(postgres.service_env()))
    pool.open(wait=True, timeout=30)
    try:
        yield pool
    finally:
        pool.close()


def later(delta: timedelta) -> Callable[[], datetime]:
    """A reconciler clock ``delta`` ahead of now."""
    return lambda: datetime.now(UTC) + delta


def passes(pool: ConnectionPool, processor: StripeProcessor, ahead: timedelta) -> PassResult:
    return reconcile_once(pool, processor, 60, requires_action_timeout=TIMEOUT, now=later(ahead))


def row(postgres: LocalPostgres, payment_id: str) -> tuple[str, str | None, str | None]:
    """The payment's status, failure code and processor reference."""
    with postgres.superuser(DATABASE) as conn:
        found = conn.execute(
            "SELECT status, failure_code, processor_reference FROM payments WHERE id = %s", (payment_id,)
        ).fetchone()
    assert found is not None
    return str(found[0]), found[1], found[2]


def never_reached(postgres: LocalPostgres, **columns: Any) -> tuple[str, int]:
    """A payment as a request leaves it when it dies before its Stripe call: ``processing``, its key at
    ``payment_created``, no intent at Stripe; ``columns`` override the payment's (``processor_reference``). Its id
    and its key's."""
    payment_id = new_id("pay")
    values = {"processor_reference": None, **columns}
    with postgres.superuser(DATABASE) as conn:
        conn.execute(
            "INSERT INTO payments (id, status, amount, currency, payment_method, description, processor_reference)"
            " VALUES (%s, 'processing', 1500, 'EUR', 'pm_card_visa', 'reconcile window', %s)",
            (payment_id, values["processor_reference"]),
        )
        key = conn.execute(
            "INSERT INTO idempotency_keys (scope, key_hash, fingerprint, recovery_point, payment_id)"
            " VALUES ('POST /v1/payments', %s, %s, 'payment_created', %s) RETURNING id",
            (unique("h"), unique("r"), payment_id),
        ).fetchone()
    assert key is not None
    return payment_id, int(key[0])


def finish(pool: ConnectionPool, processor: StripeProcessor, payment: tuple[str, int], ahead: timedelta) -> str:
    """The reconciler's work on one payment with its clock ``ahead`` of now (the payment's age)."""
    with pool.connection() as conn:
        return finish_payment(conn, processor, *payment, now=datetime.now(UTC) + ahead)


def test_past_the_window_a_payment_without_an_intent_is_looked_up_never_created(
    pool: ConnectionPool, processor: StripeProcessor, postgres: LocalPostgres, stripe_emulator: Emulator
) -> None:
    payment = never_reached(postgres)
    payment_id = payment[0]
    assert finish(pool, processor, payment, timedelta(hours=25)) == "finished"
    assert stripe_emulator.intents_for(payment_id) == [], "past Stripe's 24 h the create is never repeated"
    assert row(postgres, payment_id) == ("failed", "processing_error", None)


def test_just_inside_the_margin_no_create_either(
    pool: ConnectionPool, processor: StripeProcessor, postgres: LocalPostgres, stripe_emulator: Emulator
) -> None:
    payment = never_reached(postgres)
    payment_id = payment[0]
    assert finish(pool, processor, payment, REPEAT_WINDOW + timedelta(minutes=1)) == "finished"
    assert stripe_emulator.intents_for(payment_id) == []
    assert row(postgres, payment_id)[0] == "failed"


def test_inside_the_window_the_create_is_repeated_with_the_same_key(
    pool: ConnectionPool, processor: StripeProcessor, postgres: LocalPostgres, stripe_emulator: Emulator
) -> None:
    payment = never_reached(postgres)
    payment_id = payment[0]
    assert finish(pool, processor, payment, timedelta(hours=1)) == "finished"
    [intent] = stripe_emulator.intents_for(payment_id)
    assert row(postgres, payment_id) == ("succeeded", None, intent["id"])
    # The create carried our payment id as its key: the same call again is Stripe's stored answer, no second intent.
    processor.charge(payment_id, 1500, "EUR", "pm_card_visa")
    assert len(stripe_emulator.intents_for(payment_id)) == 1


def test_the_recorded_intent_is_read_by_its_id_without_a_search(
    pool: ConnectionPool, processor: StripeProcessor, postgres: LocalPostgres, stripe_emulator: Emulator
) -> None:
    with stripe_emulator.client() as client:  # an intent the metadata search cannot find: no payment_id in it
        created = client.post(
            "/v1/payment_intents",
            data={"amount": "1500", "currency": "eur", "payment_method": "pm_card_mastercard", "confirm": "true"},
        )
    assert created.status_code == 200, created.text
    intent_id = created.json()["id"]
    payment = never_reached(postgres, processor_reference=intent_id)
    payment_id = payment[0]
    assert finish(pool, processor, payment, timedelta(hours=25)) == "finished"
    assert row(postgres, payment_id) == ("succeeded", None, intent_id)
    assert stripe_emulator.intents_for(payment_id) == []


def waiting(client: httpx.Client, emulator: Emulator) -> tuple[dict[str, Any], str]:
    created = pay(client, new_key(), payment_method=THREE_D_SECURE)
    assert created.status_code == 201 and created.json()["status"] == "requires_action", created.text
    [intent] = emulator.intents_for(created.json()["id"])
    return created.json(), str(intent["id"])


def intent_of(emulator: Emulator, intent_id: str) -> dict[str, Any]:
    with emulator.client() as client:
        answer = client.get(f"/v1/payment_intents/{intent_id}")
    answer.raise_for_status()
    return dict(answer.json())


def authenticate(emulator: Emulator, payment: dict[str, Any], intent_id: str) -> None:
    with httpx.Client(base_url=emulator.url, timeout=10) as stand_in:
        answer = stand_in.post(
            f"/v1/payment_intents/{intent_id}/_authenticate",
            data={"client_secret": payment["client_secret"], "success": "true", "key": "pk_test_x"},
        )
    assert answer.status_code == 200, answer.text


def test_a_stale_requires_action_is_cancelled_at_stripe_and_fails(
    stripe_client: httpx.Client,
    pool: ConnectionPool,
    processor: StripeProcessor,
    postgres: LocalPostgres,
    stripe_emulator: Emulator,
) -> None:
    payment, intent_id = waiting(stripe_client, stripe_emulator)
    passes(pool, processor, TIMEOUT - timedelta(minutes=1))
    assert row(postgres, payment["id"])[0] == "requires_action", "inside the timeout the customer may still finish"

    assert passes(pool, processor, TIMEOUT + timedelta(minutes=1)).authentications_expired >= 1
    assert row(postgres, payment["id"]) == ("failed", "authentication_failed", intent_id)
    intent = intent_of(stripe_emulator, intent_id)
    assert (intent["status"], intent["cancellation_reason"]) == ("canceled", "abandoned")
    read = stripe_client.get(f"/v1/payments/{payment['id']}").json()
    assert (read["status"], read["failure_code"], read["card"]) == ("failed", "authentication_failed", None)
    # Once: the next pass has nothing of this payment left, and the cancel's key replays Stripe's first answer.
    with pool.connection() as conn:
        assert expire_authentication(conn, processor, payment["id"], intent_id) == "skipped"


def test_a_customer_who_finished_first_keeps_the_payment(
    stripe_client: httpx.Client,
    pool: ConnectionPool,
    processor: StripeProcessor,
    postgres: LocalPostgres,
    stripe_emulator: Emulator,
) -> None:
    payment, intent_id = waiting(stripe_client, stripe_emulator)
    authenticate(stripe_emulator, payment, intent_id)
    with pool.connection() as conn:  # Stripe refuses to cancel a succeeded intent: its outcome is the payment's
        assert expire_authentication(conn, processor, payment["id"], intent_id) in ("expired", "skipped")
    assert intent_of(stripe_emulator, intent_id)["status"] == "succeeded"
    assert row(postgres, payment["id"])[:2] == ("succeeded", None)


def succeeded_event(payment_id: str, intent_id: str) -> bytes:
    """A ``payment_intent.succeeded`` event as the webhook reads it (signature checked before; not needed here)."""
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "status": "succeeded",
        "metadata": {"payment_id": payment_id},
    }
    body = {"id": unique("evt_"), "type": "payment_intent.succeeded", "data": {"object": intent}}
    return json.dumps(body).encode()


@pytest.mark.parametrize("customer_finished", [False, True], ids=["cancel-first", "customer-first"])
def test_a_cancel_racing_webhooks_leaves_exactly_one_final_state(
    customer_finished: bool,
    stripe_client: httpx.Client,
    pool: ConnectionPool,
    processor: StripeProcessor,
    stripe_emulator: Emulator,
) -> None:
    payment, intent_id = waiting(stripe_client, stripe_emulator)
    if customer_finished:
        authenticate(stripe_emulator, payment, intent_id)
    racers = 4
    start = threading.Barrier(2 * racers)
    results: list[str] = []

    def webhook() -> None:
        event = read_event(succeeded_event(payment["id"], intent_id))
        start.wait()
        with pool.connection() as conn:
            results.append(handle(conn, event, processor))

    def reconciler() -> None:
        start.wait()
        with pool.connection() as conn:
            results.append(expire_authentication(conn, processor, payment["id"], intent_id))

    threads = [threading.Thread(target=webhook) for _ in range(racers)]
    threads += [threading.Thread(target=reconciler) for _ in range(racers)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2 * racers, results
    expected = ("succeeded", None) if customer_finished else ("failed", "authentication_failed")
    read = stripe_client.get(f"/v1/payments/{payment['id']}").json()
    assert (read["status"], read["failure_code"]) == expected
    moved = results.count("applied") + results.count("expired")
    # The emulator also delivers its own event a second after the change, to a server registered by another module:
    # only a race slower than that could leave the move to it.
    assert moved == 1 or (customer_finished and moved == 0 and time.monotonic() - began > 1), results
    assert intent_of(stripe_emulator, intent_id)["status"] == ("succeeded" if customer_finished else "canceled")
