"""``POST /v1/webhooks/stripe`` (issue 26, item 2): 3-D Secure completed and failed through the local emulator, which
signs and delivers the events; an event delivered twice applied once; a forged, missing or stale signature refused
with nothing recorded; the card-data check on the fields the service reads only; a service without Stripe refusing
every event. Events the tests sign themselves use the endpoint secret of the ``stripe-secret`` credential."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from payment_api.carddata import contains_card_number

from tests.service.integration.conftest import new_key, pay, refund, unique
from tests.service.integration.stripe_fixtures import THREE_D_SECURE, Emulator, stripe_env
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess

WEBHOOK = "/v1/webhooks/stripe"


@pytest.fixture(name="hooked_server", scope="module")
def fixture_hooked_server(
    start_server: Callable[..., ServiceProcess],
    postgres: LocalPostgres,
    stripe_emulator: Emulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> ServiceProcess:
    """A Stripe-processor API the emulator delivers its events to (registered as Stripe's dashboard would)."""
    process = start_server(**stripe_env(postgres, stripe_emulator, tmp_path_factory.mktemp("hooked") / "credentials"))
    process.wait_ready()
    secret = json.loads(stripe_emulator.credential)["webhook_secret"]
    with httpx.Client(base_url=stripe_emulator.url, timeout=10) as emulator:
        registered = emulator.post("/_config/webhooks/service", data={"url": process.url + WEBHOOK, "secret": secret})
    assert registered.status_code == 200, registered.text
    return process


@pytest.fixture(name="client")
def fixture_client(hooked_server: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=hooked_server.url, timeout=15) as http:
        yield http


def secret_of(emulator: Emulator) -> str:
    return str(json.loads(emulator.credential)["webhook_secret"])


def signed(body: dict[str, Any], secret: str, at: int | None = None) -> tuple[bytes, dict[str, str]]:
    """``body`` as Stripe sends it, with its ``Stripe-Signature`` (HMAC-SHA256 of ``<t>.<body>``)."""
    raw = json.dumps(body).encode()
    stamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return raw, {"Stripe-Signature": f"t={stamp},v1={mac}", "Content-Type": "application/json"}


def failed_event(payment_id: str, intent_id: str, event_id: str | None = None, **extra: Any) -> dict[str, Any]:
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "status": "requires_payment_method",
        "metadata": {"payment_id": payment_id},
        "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"},
        **extra,
    }
    return {
        "id": event_id or unique("evt_"),
        "type": "payment_intent.payment_failed",
        "created": int(time.time()),
        "data": {"object": intent},
    }


def waiting_payment(client: httpx.Client, emulator: Emulator) -> tuple[dict[str, Any], str]:
    created = pay(client, new_key(), payment_method=THREE_D_SECURE)
    assert created.status_code == 201 and created.json()["status"] == "requires_action", created.text
    [intent] = emulator.intents_for(created.json()["id"])
    return created.json(), str(intent["id"])


def authenticate(emulator: Emulator, payment: dict[str, Any], intent_id: str, success: bool) -> None:
    """What the Stripe.js stand-in does when the customer passes or fails 3-D Secure (with the publishable key)."""
    with httpx.Client(base_url=emulator.url, timeout=10) as stand_in:
        answer = stand_in.post(
            f"/v1/payment_intents/{intent_id}/_authenticate",
            data={"client_secret": payment["client_secret"], "success": str(success).lower(), "key": "pk_test_x"},
        )
    assert answer.status_code == 200, answer.text


def settled(client: httpx.Client, payment_id: str, seconds: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        read = client.get(f"/v1/payments/{payment_id}").json()
        if read["status"] != "requires_action" or time.monotonic() > deadline:
            return dict(read)
        time.sleep(0.2)


def events_of(postgres: LocalPostgres, payment_id: str) -> int:
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute("SELECT count(*) FROM stripe_events WHERE payment_id = %s", (payment_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_three_d_secure_completed_is_delivered_and_the_payment_succeeds(
    client: httpx.Client, stripe_emulator: Emulator, postgres: LocalPostgres
) -> None:
    payment, intent_id = waiting_payment(client, stripe_emulator)
    authenticate(stripe_emulator, payment, intent_id, success=True)
    read = settled(client, payment["id"])
    assert (read["status"], read["card"], read["failure_code"]) == (
        "succeeded",
        {"brand": "visa", "last4": "3220"},
        None,
    )
    assert "client_secret" not in read
    assert events_of(postgres, payment["id"]) == 1


def test_three_d_secure_failed_is_delivered_and_the_payment_fails(
    client: httpx.Client, stripe_emulator: Emulator
) -> None:
    payment, intent_id = waiting_payment(client, stripe_emulator)
    authenticate(stripe_emulator, payment, intent_id, success=False)
    read = settled(client, payment["id"])
    assert (read["status"], read["failure_code"], read["card"]) == ("failed", "authentication_failed", None)


def test_an_event_delivered_twice_moves_the_payment_once(
    client: httpx.Client, stripe_emulator: Emulator, postgres: LocalPostgres
) -> None:
    payment, intent_id = waiting_payment(client, stripe_emulator)
    raw, headers = signed(failed_event(payment["id"], intent_id), secret_of(stripe_emulator))
    first = client.post(WEBHOOK, content=raw, headers=headers)
    again = client.post(WEBHOOK, content=raw, headers=headers)
    assert (first.status_code, first.json()["result"]) == (200, "applied"), first.text
    assert (again.status_code, again.json()["result"]) == (200, "duplicate")
    later, later_headers = signed(failed_event(payment["id"], intent_id), secret_of(stripe_emulator))
    assert client.post(WEBHOOK, content=later, headers=later_headers).json()["result"] == "ignored"  # already final
    read = client.get(f"/v1/payments/{payment['id']}").json()
    assert (read["status"], read["failure_code"]) == ("failed", "insufficient_funds")
    assert events_of(postgres, payment["id"]) == 2


def test_a_forged_missing_or_stale_signature_is_refused_and_nothing_is_recorded(
    client: httpx.Client, stripe_emulator: Emulator, postgres: LocalPostgres
) -> None:
    payment, intent_id = waiting_payment(client, stripe_emulator)
    event = failed_event(payment["id"], intent_id)
    forged, forged_headers = signed(event, "whsec_not_the_endpoints_secret")
    stale, stale_headers = signed(event, secret_of(stripe_emulator), at=int(time.time()) - 3600)
    good, good_headers = signed(event, secret_of(stripe_emulator))
    attempts = [
        (forged, forged_headers),
        (stale, stale_headers),
        (good, {"Content-Type": "application/json"}),
        (good.replace(b"insufficient_funds", b"generic_decline"), good_headers),  # the body changed after signing
    ]
    for raw, headers in attempts:
        refused = client.post(WEBHOOK, content=raw, headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (400, "signature_invalid"), refused.text
    assert events_of(postgres, payment["id"]) == 0
    assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == "requires_action"


def test_card_data_is_refused_only_in_the_fields_the_service_reads(
    client: httpx.Client, stripe_emulator: Emulator
) -> None:
    payment, intent_id = waiting_payment(client, stripe_emulator)
    secret = secret_of(stripe_emulator)
    in_read_field = failed_event(payment["id"], intent_id)
    in_read_field["data"]["object"]["last_payment_error"]["decline_code"] = "4242 4242 4242 4242"
    raw, headers = signed(in_read_field, secret)
    refused = client.post(WEBHOOK, content=raw, headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (400, "card_data_not_accepted")
    assert "4242" not in refused.text

    elsewhere = failed_event(payment["id"], intent_id, amount=4242424242424242, description="4242424242424242")
    raw, headers = signed(elsewhere, secret)
    taken = client.post(WEBHOOK, content=raw, headers=headers)
    assert taken.status_code == 200, taken.text
    assert taken.json()["result"] == "applied"


def test_an_event_about_something_else_is_acknowledged_and_ignored(
    client: httpx.Client, stripe_emulator: Emulator
) -> None:
    secret = secret_of(stripe_emulator)
    other_type = {"id": unique("evt_"), "type": "customer.created", "data": {"object": {"id": "cus_1"}}}
    not_ours = failed_event("order-1042", "pi_elsewhere")
    for event in (other_type, not_ours):
        raw, headers = signed(event, secret)
        answer = client.post(WEBHOOK, content=raw, headers=headers)
        assert (answer.status_code, answer.json()["result"]) == (200, "ignored"), answer.text
    raw, headers = signed({"type": "customer.created"}, secret)
    assert client.post(WEBHOOK, content=raw, headers=headers).json()["code"] == "validation_failed"


def test_a_service_without_stripe_refuses_every_event(server: ServiceProcess, stripe_emulator: Emulator) -> None:
    raw, headers = signed(failed_event("pay_" + "A" * 22, "pi_x"), secret_of(stripe_emulator))
    with httpx.Client(base_url=server.url, timeout=15) as simulated:
        refused = simulated.post(WEBHOOK, content=raw, headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (400, "signature_invalid")
    assert "without the Stripe processor" in refused.json()["detail"]


def test_stripe_ids_whose_digits_pass_luhn_are_not_card_data(client: httpx.Client, stripe_emulator: Emulator) -> None:
    payment, intent_id = waiting_payment(client, stripe_emulator)
    secret = secret_of(stripe_emulator)
    event_id = "evt_4242424242424242" + unique("")  # a Luhn-valid 16-digit run, as a Stripe id may hold
    assert contains_card_number(event_id), "the detector alone would refuse it"
    raw, headers = signed(failed_event(payment["id"], intent_id, event_id=event_id), secret)
    taken = client.post(WEBHOOK, content=raw, headers=headers)
    assert (taken.status_code, taken.json()["result"]) == (200, "applied"), taken.text

    # The same digits where a read field's format does not admit them are card data, and refused.
    not_an_id = failed_event(payment["id"], intent_id, event_id="4242424242424242")
    in_metadata = failed_event(payment["id"], intent_id)
    in_metadata["data"]["object"]["metadata"]["payment_id"] = "4242 4242 4242 4242"
    in_intent_id = failed_event(payment["id"], "pi_4242-4242-4242-4242")
    for event in (not_an_id, in_metadata, in_intent_id):
        raw, headers = signed(event, secret)
        refused = client.post(WEBHOOK, content=raw, headers=headers)
        assert (refused.status_code, refused.json()["code"]) == (400, "card_data_not_accepted"), refused.text
        assert "4242" not in refused.text


def test_an_intent_cancelled_at_stripe_fails_the_payment(client: httpx.Client, stripe_emulator: Emulator) -> None:
    payment, intent_id = waiting_payment(client, stripe_emulator)
    with stripe_emulator.client() as stripe:  # as the reconciler, or someone in Stripe's dashboard, would
        cancelled = stripe.post(f"/v1/payment_intents/{intent_id}/cancel", data={"cancellation_reason": "abandoned"})
    assert cancelled.status_code == 200, cancelled.text
    read = settled(client, payment["id"])
    assert (read["status"], read["failure_code"], read["card"]) == ("failed", "authentication_failed", None)


def refund_event(event_type: str, at_stripe: dict[str, Any], status: str = "failed") -> dict[str, Any]:
    """A refund event as Stripe sends it: the refund object (its metadata names our refund and payment)."""
    refund_object = {**at_stripe, "status": status, "failure_reason": "expired_or_canceled_card"}
    return {"id": unique("evt_"), "type": event_type, "data": {"object": refund_object}}


def test_a_refund_stripe_fails_later_is_failed_once_and_its_amount_comes_back(
    client: httpx.Client, operator_key: str, stripe_emulator: Emulator, postgres: LocalPostgres
) -> None:
    paid = pay(client, new_key(), amount=1000).json()
    made = refund(client, paid["id"], operator_key, new_key(), amount=600)
    assert made.status_code == 201 and made.json()["status"] == "succeeded", made.text
    [intent] = stripe_emulator.intents_for(paid["id"])
    [at_stripe] = [item for item in stripe_emulator.refunds_of(intent["id"]) if item["metadata"]["refund_id"]]
    secret = secret_of(stripe_emulator)

    def deliver(event: dict[str, Any], times: int = 1) -> list[str]:
        raw, headers = signed(event, secret)
        answers = [client.post(WEBHOOK, content=raw, headers=headers) for _ in range(times)]
        assert all(answer.status_code == 200 for answer in answers), [answer.text for answer in answers]
        return [answer.json()["result"] for answer in answers]

    assert deliver(refund_event("refund.updated", at_stripe, status="pending")) == ["ignored"]
    other_payment = {**at_stripe, "metadata": {**at_stripe["metadata"], "payment_id": "pay_" + "A" * 22}}
    assert deliver(refund_event("refund.failed", other_payment)) == ["ignored"]  # our refund, another payment
    assert deliver(refund_event("charge.refund.updated", at_stripe), times=2) == ["applied", "duplicate"]
    assert deliver(refund_event("refund.failed", at_stripe)) == ["ignored"]  # the same failure, another event type
    not_ours = {**at_stripe, "metadata": {}}
    assert deliver(refund_event("refund.failed", not_ours)) == ["ignored"]

    auth = {"Authorization": f"Bearer {operator_key}"}
    [listed] = client.get(f"/v1/payments/{paid['id']}/refunds", headers=auth).json()["data"]
    assert (listed["id"], listed["status"], listed["amount"]) == (made.json()["id"], "failed", 600)
    assert client.get(f"/v1/payments/{paid['id']}").json()["amount_refunded"] == 0
    with postgres.superuser(DATABASE) as conn:
        seen = conn.execute("SELECT count(*) FROM stripe_events WHERE payment_id = %s", (paid["id"],)).fetchone()
    assert seen is not None and seen[0] == 3  # each delivered event once; the one not ours names no payment
    # The whole amount is refundable again (Stripe still counts its own refund: the emulator refuses it, failed).
    again = refund(client, paid["id"], operator_key, new_key(), amount=1000)
    assert again.status_code == 201, again.text
