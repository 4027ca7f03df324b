"""The Stripe processor through the local Stripe emulator (issue 26, item 7): 3-D Secure's ``requires_action`` with
its ``client_secret`` (in the 201 and its replay only), a refund with our refund id as idempotency key, a crash
between the Stripe call and our commit and a Stripe that does not answer, each charging once (counted at the
emulator), the reconciler finding an abandoned payment's intent by its metadata, and no Stripe SDK line (which
quotes what we sent) in the log. The outcomes both processors share are in test_contract_processors.py."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from payment_api.config import StripeSettings
from payment_api.payments import new_id
from payment_api.stripe_processor import StripeProcessor

from tests.service.integration.conftest import new_key, pay, pay_into_crash, refund
from tests.service.integration.stripe_fixtures import STRIPE_TOKENS, THREE_D_SECURE, Emulator, stripe_env
from tools.dev.local_api.postgres import DATABASE, LocalPostgres
from tools.dev.local_api.process import ServiceProcess, run_cli


@pytest.fixture(name="stripe_start", scope="module")
def fixture_stripe_start(
    start_server: Callable[..., ServiceProcess],
    postgres: LocalPostgres,
    stripe_emulator: Emulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., ServiceProcess]:
    folder = tmp_path_factory.mktemp("stripe-credentials") / "credentials"

    def start(api_base: str | None = None, **extra: str) -> ServiceProcess:
        return start_server(**stripe_env(postgres, stripe_emulator, folder, api_base), **extra)

    return start


@pytest.fixture(name="stripe_server", scope="module")
def fixture_stripe_server(stripe_start: Callable[..., ServiceProcess]) -> ServiceProcess:
    process = stripe_start()
    process.wait_ready()
    return process


@pytest.fixture(name="stripe_client")
def fixture_stripe_client(stripe_server: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stripe_server.url, timeout=15) as http:
        yield http


def status_of(postgres: LocalPostgres, payment_id: str) -> tuple[str, str | None]:
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute("SELECT status, processor_reference FROM payments WHERE id = %s", (payment_id,)).fetchone()
    assert row is not None
    return str(row[0]), row[1]


def test_three_d_secure_answers_requires_action_with_the_client_secret_only_in_the_201(
    stripe_client: httpx.Client, postgres: LocalPostgres, stripe_emulator: Emulator
) -> None:
    key = new_key()
    created = pay(stripe_client, key, payment_method=THREE_D_SECURE)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "requires_action" and body["failure_code"] is None and body["card"] is None
    [intent] = stripe_emulator.intents_for(body["id"])
    assert body["client_secret"] == intent["client_secret"] and intent["status"] == "requires_action"
    assert status_of(postgres, body["id"]) == ("requires_action", intent["id"])

    replayed = pay(stripe_client, key, payment_method=THREE_D_SECURE)
    assert (replayed.status_code, replayed.content) == (201, created.content)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    read = stripe_client.get(f"/v1/payments/{body['id']}").json()
    assert read["status"] == "requires_action" and "client_secret" not in read
    assert len(stripe_emulator.intents_for(body["id"])) == 1


def test_a_refund_is_a_stripe_refund_keyed_by_our_refund_id(
    stripe_client: httpx.Client, operator_key: str, stripe_emulator: Emulator
) -> None:
    paid = pay(stripe_client, new_key(), amount=1000).json()
    [intent] = stripe_emulator.intents_for(paid["id"])
    key = new_key()
    first = refund(stripe_client, paid["id"], operator_key, key, amount=600)
    assert first.status_code == 201 and first.json()["status"] == "succeeded", first.text
    assert refund(stripe_client, paid["id"], operator_key, key, amount=600).content == first.content
    over = refund(stripe_client, paid["id"], operator_key, new_key(), amount=600)
    assert (over.status_code, over.json()["code"]) == (409, "refund_exceeds_payment")
    rest = refund(stripe_client, paid["id"], operator_key, new_key())
    assert (rest.status_code, rest.json()["amount"]) == (201, 400)
    refunds = stripe_emulator.refunds_of(intent["id"])
    assert sorted(item["amount"] for item in refunds) == [400, 600]
    assert {item["metadata"]["refund_id"] for item in refunds} == {first.json()["id"], rest.json()["id"]}


def test_a_refund_retried_after_stripe_forgot_its_key_finds_the_first_and_refunds_once(
    stripe_client: httpx.Client, stripe_emulator: Emulator
) -> None:
    """A first refund call reached Stripe, then its answer was lost (a timeout, a crash before our commit) and the
    refund stayed pending until the reconciler, more than 24 hours later: Stripe no longer knows the idempotency key.
    The retry finds the refund that names our id in the intent's list and creates none."""
    paid = pay(stripe_client, new_key(), amount=1000).json()
    [intent] = stripe_emulator.intents_for(paid["id"])
    refund_id = new_id("re")
    with stripe_emulator.client() as client:  # the first call's refund, under a key Stripe has since forgotten
        first = client.post(
            "/v1/refunds",
            data={"payment_intent": intent["id"], "amount": 600, "metadata[refund_id]": refund_id},
            headers={"Idempotency-Key": f"forgotten-{refund_id}"},
        )
    assert first.status_code == 200, first.text
    secret = json.loads(stripe_emulator.credential)
    processor = StripeProcessor(
        StripeSettings(api_key=secret["api_key"], webhook_secret=secret["webhook_secret"], api_base=stripe_emulator.url)
    )
    assert processor.refund(refund_id, paid["id"], 600, intent["id"]) is True
    refunds = stripe_emulator.refunds_of(intent["id"])
    assert [(item["id"], item["amount"]) for item in refunds] == [(first.json()["id"], 600)], "refunded once"
    # A refund id Stripe has never seen is created (the list is read first, then the create).
    assert processor.refund(new_id("re"), paid["id"], 400, intent["id"]) is True
    assert sorted(item["amount"] for item in stripe_emulator.refunds_of(intent["id"])) == [400, 600]


def test_a_crash_between_the_stripe_call_and_our_commit_charges_once_after_the_retry(
    stripe_start: Callable[..., ServiceProcess],
    stripe_client: httpx.Client,
    postgres: LocalPostgres,
    stripe_emulator: Emulator,
) -> None:
    doomed = stripe_start(PAYMENT_TEST_CRASH_AFTER_PROCESSOR="1")
    key = new_key()
    pay_into_crash(doomed, key, description="stripe crash")
    assert doomed.process is not None and doomed.process.wait(timeout=15) == -9
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute(
            "SELECT id, status, processor_reference FROM payments WHERE description = 'stripe crash'"
        ).fetchone()
    assert row is not None and row[1:] == ("processing", None)  # Stripe charged; our commit never happened
    assert [intent["status"] for intent in stripe_emulator.intents_for(row[0])] == ["succeeded"]

    retried = pay(stripe_client, key, description="stripe crash")
    assert retried.status_code == 201 and retried.json()["status"] == "succeeded", retried.text
    assert retried.json()["id"] == row[0]
    intents = stripe_emulator.intents_for(row[0])
    assert len(intents) == 1, "one PaymentIntent: the retry got Stripe's stored answer for our idempotency key"
    assert status_of(postgres, row[0]) == ("succeeded", intents[0]["id"])


@pytest.fixture(name="silent_stripe")
def fixture_silent_stripe() -> Iterator[str]:
    """A listening socket nobody answers on: a Stripe that does not answer (the kernel completes the handshakes)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_stripe_that_does_not_answer_is_202_and_the_retry_charges_once(
    stripe_start: Callable[..., ServiceProcess],
    stripe_client: httpx.Client,
    silent_stripe: str,
    stripe_emulator: Emulator,
) -> None:
    stuck = stripe_start(api_base=silent_stripe, PAYMENT_STRIPE_TIMEOUT_SECONDS="1")
    stuck.wait_ready()
    key = new_key()
    with httpx.Client(base_url=stuck.url, timeout=15) as client:
        waiting = pay(client, key)
    assert (waiting.status_code, waiting.json()["status"], waiting.headers["Retry-After"]) == (202, "processing", "1")
    payment_id = waiting.json()["id"]
    assert stripe_emulator.intents_for(payment_id) == []

    done = pay(stripe_client, key)
    assert (done.status_code, done.json()["id"], done.json()["status"]) == (201, payment_id, "succeeded")
    assert pay(stripe_client, key).content == done.content
    assert len(stripe_emulator.intents_for(payment_id)) == 1


def test_the_reconciler_finds_an_abandoned_payments_intent_by_its_metadata(
    stripe_start: Callable[..., ServiceProcess],
    stripe_server: ServiceProcess,
    postgres: LocalPostgres,
    stripe_emulator: Emulator,
) -> None:
    doomed = stripe_start(PAYMENT_TEST_CRASH_AFTER_PROCESSOR="1")
    pay_into_crash(doomed, new_key(), description="stripe abandoned", payment_method=STRIPE_TOKENS["pm_card_declined"])
    assert doomed.process is not None and doomed.process.wait(timeout=15) == -9
    with postgres.superuser(DATABASE) as conn:
        row = conn.execute("SELECT id FROM payments WHERE description = 'stripe abandoned'").fetchone()
    assert row is not None

    env = {key: value for key, value in stripe_server.env.items() if key != "PAYMENT_TEST_CRASH_AFTER_PROCESSOR"}
    done = run_cli(env, "reconcile", "--once", "--grace", "0s")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines() + done.stderr.splitlines() if line.startswith("{")]
    assert any(line["message"] == "payment reconciled" and line.get("payment_id") == row[0] for line in lines)
    [intent] = stripe_emulator.intents_for(row[0])
    assert status_of(postgres, row[0]) == ("failed", intent["id"])


def test_the_log_holds_no_stripe_sdk_line_and_no_token(
    stripe_client: httpx.Client, stripe_server: ServiceProcess
) -> None:
    token = "pm_nobody_knows_this_one"
    refused = pay(stripe_client, new_key(), payment_method=token)
    assert (refused.status_code, refused.json()["code"]) == (400, "payment_method_invalid")
    assert token not in refused.text
    log = Path(stripe_server.log_path).read_text(encoding="utf-8")
    assert token not in log
    assert '"logger":"stripe"' not in log
