"""The Stripe processor without Stripe: the mapping of PaymentIntents and Stripe's errors to the service's outcomes,
the ``stripe-secret`` credential and its settings, and that the API key stays out of every repr. The same calls
against the local emulator are in tests/service/integration/test_stripe_processor.py."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import stripe
from payment_api.config import ConfigError, StripeSettings, load_settings
from payment_api.processor import ChargeResult, PaymentMethodInvalid, ProcessorTimeout
from payment_api.processors import make_processor
from payment_api.reconcile import may_repeat_create
from payment_api.stripe_processor import REPEAT_WINDOW, StripeProcessor, declined, failure_code, result_from_intent

from tools.dev.local_api.credentials import write_credentials
from tools.dev.local_stripe import stripe_credential

NO_DATABASE = {"PAYMENT_DB_PORT": "1", "PAYMENT_DB_SSLMODE": "disable", "PAYMENT_ENVIRONMENT": "test"}
API_KEY = "sk_test_unit0123456789"
SETTINGS = StripeSettings(api_key=API_KEY, webhook_secret="whsec_unit0123456789", api_base="http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("code", "decline_code", "expected"),
    [
        ("card_declined", "generic_decline", "card_declined"),
        ("card_declined", "insufficient_funds", "insufficient_funds"),
        ("card_declined", "do_not_honor", "card_declined"),
        ("expired_card", None, "expired_card"),
        ("incorrect_cvc", None, "incorrect_cvc"),
        ("payment_intent_authentication_failure", None, "authentication_failed"),
        ("some_future_code", None, "card_declined"),
        (None, None, "card_declined"),
    ],
)
def test_stripe_errors_map_to_the_contracts_failure_codes(code: str, decline_code: str, expected: str) -> None:
    assert failure_code(code, decline_code) == expected


def test_a_succeeded_intent_gives_the_card_from_the_expanded_method_or_the_charge() -> None:
    expanded = {"id": "pi_1", "status": "succeeded", "payment_method": {"card": {"brand": "visa", "last4": "4242"}}}
    assert result_from_intent(expanded) == ChargeResult(True, "visa", "4242", reference="pi_1")
    charge = {"payment_method_details": {"card": {"brand": "mastercard", "last4": "4444"}}}
    from_charge = {"id": "pi_2", "status": "succeeded", "payment_method": "pm_x", "latest_charge": charge}
    assert result_from_intent(from_charge) == ChargeResult(True, "mastercard", "4444", reference="pi_2")


def test_requires_action_carries_the_client_secret_out_of_the_repr() -> None:
    result = result_from_intent({"id": "pi_3", "status": "requires_action", "client_secret": "pi_3_secret_abc"})
    assert (result.status, result.client_secret, result.reference) == ("requires_action", "pi_3_secret_abc", "pi_3")
    assert "secret_abc" not in repr(result)


def test_a_failed_intent_reads_its_last_payment_error() -> None:
    intent = {
        "id": "pi_4",
        "status": "requires_payment_method",
        "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"},
    }
    assert result_from_intent(intent) == ChargeResult(False, failure_code="insufficient_funds", reference="pi_4")
    failed_3ds = {
        "id": "pi_5",
        "status": "requires_payment_method",
        "last_payment_error": {"code": "payment_intent_authentication_failure"},
    }
    assert result_from_intent(failed_3ds).failure_code == "authentication_failed"


@pytest.mark.parametrize("status", ["processing", "requires_confirmation", "requires_capture"])
def test_an_intent_without_an_outcome_yet_is_a_timeout(status: str) -> None:
    with pytest.raises(ProcessorTimeout) as raised:
        result_from_intent({"id": "pi_6", "status": status})
    assert raised.value.reference == "pi_6"  # recorded with the payment: the reconciler reads this intent again


def test_a_canceled_intent_is_a_failed_authentication() -> None:
    result = result_from_intent({"id": "pi_7", "status": "canceled", "cancellation_reason": "abandoned"})
    assert (result.status, result.failure_code, result.reference) == ("failed", "authentication_failed", "pi_7")


def test_the_create_is_repeated_only_inside_stripes_idempotency_window() -> None:
    created = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert timedelta(hours=22) < REPEAT_WINDOW < timedelta(hours=24)  # Stripe keeps a key 24 hours; a margin
    assert may_repeat_create(REPEAT_WINDOW, created, created + REPEAT_WINDOW - timedelta(seconds=1))
    assert not may_repeat_create(REPEAT_WINDOW, created, created + REPEAT_WINDOW)
    assert not may_repeat_create(REPEAT_WINDOW, created, created + timedelta(hours=25))
    assert may_repeat_create(None, created, created + timedelta(days=400))  # the simulator: for ever


def test_a_card_error_body_is_a_decline_with_the_intent_as_reference() -> None:
    body = {"code": "card_declined", "decline_code": "generic_decline", "payment_intent": {"id": "pi_7"}}
    assert declined(body) == ChargeResult(False, failure_code="card_declined", reference="pi_7")


def raising(error: Exception) -> Any:
    def call(*_args: Any, **_kwargs: Any) -> Any:
        raise error

    return call


def error_json(**fields: Any) -> dict[str, Any]:
    return {"error": {"type": "invalid_request_error", **fields}}


@pytest.mark.parametrize(
    "error",
    [
        stripe.APIConnectionError("connection reset"),
        stripe.RateLimitError("slow down", http_status=429),
        stripe.APIError("internal", http_status=500),
        stripe.AuthenticationError("bad key", http_status=401),
        stripe.IdempotencyError("other parameters", http_status=400),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_without_a_known_outcome_are_timeouts(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    processor = StripeProcessor(SETTINGS)
    monkeypatch.setattr(processor._client.v1.payment_intents, "create", raising(error))  # pylint: disable=protected-access  # the SDK's service object
    with pytest.raises(ProcessorTimeout):
        processor.charge("pay_x", 1999, "EUR", "pm_card_visa")


@pytest.mark.parametrize(("code", "expected"), [("amount_too_small", "amount_too_small"), (None, "processing_error")])
def test_another_refused_create_is_a_final_failure_with_stripes_code(
    monkeypatch: pytest.MonkeyPatch, code: str | None, expected: str
) -> None:
    processor = StripeProcessor(SETTINGS)
    body = error_json(code=code, message="Amount must be at least 0.50 usd") if code else error_json(message="?")
    error = stripe.InvalidRequestError("refused", "amount", code, json_body=body, http_status=400)
    monkeypatch.setattr(processor._client.v1.payment_intents, "create", raising(error))  # pylint: disable=protected-access  # the SDK's service object
    assert processor.charge("pay_x", 1, "USD", "pm_card_visa") == ChargeResult(False, failure_code=expected)


def test_an_unknown_payment_method_is_payment_method_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    processor = StripeProcessor(SETTINGS)
    body = error_json(code="resource_missing", param="payment_method", message="No such PaymentMethod: 'pm_nope'")
    unknown = stripe.InvalidRequestError(
        "No such", "payment_method", "resource_missing", json_body=body, http_status=400
    )
    monkeypatch.setattr(processor._client.v1.payment_intents, "create", raising(unknown))  # pylint: disable=protected-access  # the SDK's service object
    with pytest.raises(PaymentMethodInvalid) as refused:
        processor.charge("pay_x", 1999, "EUR", "pm_nope")
    assert "pm_nope" not in refused.value.detail, "the detail never quotes the token"


@pytest.fixture(name="silent_server")
def fixture_silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts and never answers: what a Stripe that does not answer looks like."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


def test_a_call_that_times_out_is_a_timeout(silent_server: str) -> None:
    settings = StripeSettings(
        api_key=API_KEY, webhook_secret="whsec_unit0123456789", api_base=silent_server, timeout_seconds=1
    )
    processor = StripeProcessor(settings)
    with pytest.raises(ProcessorTimeout):
        processor.charge("pay_x", 1999, "EUR", "pm_card_visa")
    with pytest.raises(ProcessorTimeout):
        processor.lookup("pay_x")
    with pytest.raises(ProcessorTimeout):
        processor.refund("re_x", "pay_x", 100, "pi_x")


def stripe_env(folder: Path, **extra: str) -> dict[str, str]:
    return {**NO_DATABASE, "CREDENTIALS_DIRECTORY": str(folder), "PAYMENT_PROCESSOR": "stripe", **extra}


def test_the_credential_gives_the_settings_and_the_key_stays_out_of_reprs(tmp_path: Path) -> None:
    folder = write_credentials(
        tmp_path / "creds", {"stripe-secret": stripe_credential(API_KEY, "whsec_unit0123456789")}
    )
    settings = load_settings(stripe_env(folder, PAYMENT_STRIPE_API_BASE="http://127.0.0.1:8420"))
    assert settings.stripe_settings() == StripeSettings(
        api_key=API_KEY, webhook_secret="whsec_unit0123456789", api_base="http://127.0.0.1:8420"
    )
    processor = make_processor(settings)
    for text in (repr(settings), repr(settings.stripe_settings()), repr(processor), str(vars(processor).keys())):
        assert API_KEY not in text and "whsec_unit" not in text
    assert load_settings(stripe_env(folder)).stripe_settings().api_base == "https://api.stripe.com"


def test_the_stripe_processor_without_its_credential_says_where_it_comes_from(tmp_path: Path) -> None:
    settings = load_settings(stripe_env(write_credentials(tmp_path / "none", {})))
    with pytest.raises(ConfigError, match=r"stripe-secret.*CREDENTIALS_DIRECTORY"):
        make_processor(settings)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("sk_test_abc", "is not JSON"),
        ("[1]", "must be a JSON object"),
        (json.dumps({"api_key": "pk_test_abcdefghij", "webhook_secret": "whsec_abcdefgh"}), "never the publishable"),
        (json.dumps({"api_key": "sk_test_abcdefghij"}), "webhook_secret must be"),
    ],
)
def test_a_malformed_credential_names_the_field_and_never_the_value(tmp_path: Path, content: str, message: str) -> None:
    folder = write_credentials(tmp_path / "bad", {"stripe-secret": content})
    with pytest.raises(ConfigError, match=message) as refused:
        load_settings(stripe_env(folder))
    assert "abcdefghij" not in str(refused.value)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"PAYMENT_STRIPE_API_BASE": "http://127.0.0.1:8420/v1"}, "not a base URL"),
        ({"PAYMENT_STRIPE_TIMEOUT_SECONDS": "0"}, "from 1 to 80"),
        ({"PAYMENT_STRIPE_TIMEOUT_SECONDS": "81"}, "from 1 to 80"),
    ],
)
def test_the_stripe_variables_are_checked(tmp_path: Path, extra: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(stripe_env(tmp_path, **extra))


def test_production_refuses_a_custom_stripe_api_base() -> None:
    env = {
        **NO_DATABASE,
        "PAYMENT_ENVIRONMENT": "production",
        "PAYMENT_PROCESSOR": "stripe",
        "PAYMENT_DB_SSLMODE": "verify-full",
        "PAYMENT_STRIPE_API_BASE": "http://127.0.0.1:8420",
    }
    with pytest.raises(ConfigError, match="refused in production"):
        load_settings(env)
