"""The Stripe processor (``PAYMENT_PROCESSOR=stripe``; API.md v1.2, "Processor"): Stripe's PaymentIntents API
through the official SDK (``stripe`` 16.x, ``StripeClient``).

- A charge is one PaymentIntent, created with ``payment_method_types=["card"]`` and ``confirm=true``, with our
  payment id as Stripe's idempotency key and in its metadata (``payment_id``): a retry of the same payment (after a
  timeout, or a crash between the call and our commit) gets Stripe's stored answer for 24 hours, never a second
  intent. ``requires_action`` (3-D Secure) answers with the intent's ``client_secret``; a decline maps to the
  contract's ``failure_code`` (``failure_code()``); a token Stripe does not know is ``PaymentMethodInvalid``.
- A refund is a Stripe refund of the payment's intent with our refund id as idempotency key and in its metadata
  (``refund_id``). Before creating one, the intent's refunds are listed (a list by ``payment_intent`` reads what is
  written, unlike the Search API): a refund that already names our id is the answer. A retry more than 24 hours after
  a first call that reached Stripe (a pending refund the reconciler finishes late, when Stripe has forgotten the
  idempotency key) therefore never refunds twice.
- Timeouts, connection errors, rate limits and Stripe's own 5xx leave the outcome unknown: ``ProcessorTimeout``, so
  the request answers ``202 processing`` and the retry (or the reconciler) repeats the same idempotent call.
- ``lookup`` reads the intent whose id was recorded when the create call returned (``payments.processor_reference``,
  which refunds use too), else finds it by our payment id in its metadata (Stripe's Search API). Stripe keeps an
  idempotency key 24 hours: within ``REPEAT_WINDOW`` of the payment's creation the reconciler may repeat the create
  with the same key (``repeat_window``); after it, it only looks the intent up and never creates one.
- ``cancel_authentication`` cancels the intent of a payment left ``requires_action`` too long (the reconciler, after
  ``PAYMENT_REQUIRES_ACTION_TIMEOUT_MINUTES``), with ``cancellation_reason=abandoned`` and an idempotency key derived
  from our payment id; a canceled intent is a ``failed`` payment with ``authentication_failed``.

The API key comes only from the ``stripe-secret`` credential (``config.StripeSettings``): it is given to the SDK's
client and to nothing else, never logged, never in a repr, never in an environment.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

import stripe
from stripe.params import PaymentIntentCreateParams

from payment_api.config import StripeSettings
from payment_api.processor import ChargeResult, PaymentMethodInvalid, ProcessorTimeout

LOG = logging.getLogger("payment_api.stripe")
# The SDK logs every request's URL and Stripe's error messages at info, and those quote what we sent ("No such
# PaymentMethod: 'pm_...'"): a request body's value in the log, which the contract forbids. The service logs its own
# lines (payment_api.access, and LOG's warnings below, which name no value).
logging.getLogger("stripe").setLevel(logging.WARNING)
# The SDK sends the previous request's id and duration along with the next request unless told not to.
stripe.enable_telemetry = False

# Stripe's card error codes the contract passes through as the payment's failure_code; any other decline is
# card_declined, and decline_code insufficient_funds is insufficient_funds (the contract's two test outcomes).
PASSED_THROUGH = frozenset({"expired_card", "incorrect_cvc", "incorrect_number", "processing_error"})
AUTHENTICATION_FAILED = "payment_intent_authentication_failure"
# Intent states whose outcome is not known yet (the call is to be repeated or the intent read again later).
UNSETTLED = frozenset({"processing", "requires_confirmation", "requires_capture"})
# A canceled intent: the reconciler gave up on its 3-D Secure (or someone canceled it at Stripe). The customer did not
# authenticate in time: the contract's code for authentication that did not complete.
CANCELED_FAILURE = "authentication_failed"
CANCELLATION_REASON = "abandoned"  # Stripe's reason for an intent whose customer never finished
# Stripe keeps an idempotency key "at least 24 hours" from its first use, which is after the payment's creation; the
# hour's margin covers the clocks of our database and Stripe and a reconciler pass that starts inside and calls after.
REPEAT_WINDOW = timedelta(hours=23)
UNKNOWN_TOKEN = (
    "Stripe does not know this PaymentMethod: send the id Stripe.js created for the card (pm_...), or in test "
    "mode one of Stripe's test methods (pm_card_visa, pm_card_visa_chargeDeclined, ...)."
)


def failure_code(code: str | None, decline_code: str | None) -> str:
    """The contract's ``failure_code`` for Stripe's error ``code`` and ``decline_code``."""
    if decline_code == "insufficient_funds":
        return "insufficient_funds"
    if code == AUTHENTICATION_FAILED:
        return "authentication_failed"
    if code in PASSED_THROUGH:
        return code
    return "card_declined"


def _card(intent: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Brand and last four digits: from the expanded payment method, else the latest charge's details."""
    method = intent.get("payment_method")
    card = method.get("card") if isinstance(method, Mapping) else None
    if not isinstance(card, Mapping):
        charge = intent.get("latest_charge")
        details = charge.get("payment_method_details") if isinstance(charge, Mapping) else None
        card = details.get("card") if isinstance(details, Mapping) else None
    if not isinstance(card, Mapping):
        return None, None
    return card.get("brand"), card.get("last4")


def result_from_intent(intent: Mapping[str, Any]) -> ChargeResult:
    """A PaymentIntent (as a plain mapping) as the service's ``ChargeResult``; ``ProcessorTimeout`` when the intent
    has no outcome yet."""
    status, reference = intent.get("status"), intent.get("id")
    if status == "succeeded":
        brand, last4 = _card(intent)
        return ChargeResult(True, brand, last4, reference=reference)
    if status == "requires_action":
        return ChargeResult(False, requires_action=True, client_secret=intent.get("client_secret"), reference=reference)
    if status in UNSETTLED:
        raise ProcessorTimeout(str(reference), reference=reference if isinstance(reference, str) else None)
    if status == "canceled":
        return ChargeResult(False, failure_code=CANCELED_FAILURE, reference=reference)
    error = intent.get("last_payment_error")
    error = error if isinstance(error, Mapping) else {}
    return ChargeResult(
        False, failure_code=failure_code(error.get("code"), error.get("decline_code")), reference=reference
    )


def declined(body: Mapping[str, Any]) -> ChargeResult:
    """The ``ChargeResult`` of Stripe's 402 card error (its JSON ``error`` object)."""
    intent = body.get("payment_intent")
    reference = intent.get("id") if isinstance(intent, Mapping) else None
    code = failure_code(body.get("code"), body.get("decline_code"))
    return ChargeResult(False, failure_code=code, reference=reference)


def refused(body: Mapping[str, Any], payment_id: str) -> ChargeResult:
    """Stripe's 400 to a create (its JSON ``error`` object): nothing was created or charged, and Stripe stores no
    answer for the key. An unknown PaymentMethod is ``PaymentMethodInvalid``; any other refusal (``amount_too_small``:
    below Stripe's minimum charge, a currency the account cannot take) is a final ``failed`` payment with Stripe's code,
    logged by code, so the reconciler does not retry it for ever."""
    code = body.get("code")
    if code == "resource_missing" and body.get("param") == "payment_method":
        raise PaymentMethodInvalid(UNKNOWN_TOKEN)
    LOG.warning("stripe refused a payment", extra={"fields": {"id": payment_id, "code": code}})
    return ChargeResult(False, failure_code=code if isinstance(code, str) and code else "processing_error")


def _error_body(error: stripe.StripeError) -> Mapping[str, Any]:
    body = error.json_body
    inner = body.get("error") if isinstance(body, Mapping) else None
    return inner if isinstance(inner, Mapping) else {}


def _unknown_outcome(error: stripe.StripeError, call: str, our_id: str) -> ProcessorTimeout:
    """A Stripe error after which the call's outcome is unknown (or not ours to decide): logged by kind and
    status, never with the key or the request, and returned as the ``ProcessorTimeout`` the caller raises."""
    fields = {"call": call, "id": our_id, "error": type(error).__name__, "http_status": error.http_status}
    LOG.warning("stripe call without outcome", extra={"fields": fields})
    return ProcessorTimeout(our_id)


class StripeProcessor:
    """The ``Processor`` over Stripe's API (or the local emulator's, ``StripeSettings.api_base``)."""

    repeat_window: timedelta | None = REPEAT_WINDOW

    def __init__(self, settings: StripeSettings) -> None:
        self._http = stripe.RequestsClient(timeout=settings.timeout_seconds)
        # No retries inside the SDK: a timeout answers 202 at once and the client's (or the reconciler's) retry
        # repeats the call with the same idempotency key.
        self._client = stripe.StripeClient(
            settings.api_key, base_addresses={"api": settings.api_base}, max_network_retries=0, http_client=self._http
        )

    def __repr__(self) -> str:
        return "StripeProcessor()"

    def open(self) -> None:
        """Nothing to acquire: the SDK's HTTP session connects on the first call."""

    def close(self) -> None:
        """Nothing to release: the SDK's keep-alive connections end with the process."""

    def charge(self, payment_id: str, amount: int, currency: str, payment_method: str) -> ChargeResult:
        # payment_method_types is the API's parameter (an incompatible type is an error, never silently dropped, and
        # localstripe knows it); stripe 16's typed parameters list only its newer sibling allowed_payment_method_types
        # (API 2026-07-29), hence the cast.
        params = cast(
            PaymentIntentCreateParams,
            {
                "amount": amount,
                "currency": currency.lower(),
                "payment_method": payment_method,
                "payment_method_types": ["card"],
                "confirm": True,
                "metadata": {"payment_id": payment_id},
                "expand": ["payment_method"],
            },
        )
        try:
            intent = self._client.v1.payment_intents.create(params=params, options={"idempotency_key": payment_id})
        except stripe.CardError as error:
            return declined(_error_body(error))
        except stripe.InvalidRequestError as error:
            return refused(_error_body(error), payment_id)
        except stripe.StripeError as error:
            raise _unknown_outcome(error, "payment_intents.create", payment_id) from None
        return result_from_intent(intent.to_dict())

    def _find_intent(self, payment_id: str) -> Mapping[str, Any] | None:
        """The intent whose metadata names ``payment_id`` (Stripe's Search API; its index lags writes by up to a
        minute, so None right after a create means "not known yet": the caller repeats the create with the same
        idempotency key, which Stripe answers with the first intent)."""
        try:
            found = self._client.v1.payment_intents.search(
                params={"query": f"metadata['payment_id']:'{payment_id}'", "expand": ["data.payment_method"]}
            )
        except stripe.StripeError as error:
            raise _unknown_outcome(error, "payment_intents.search", payment_id) from None
        intents = [intent.to_dict() for intent in found.data]
        return intents[0] if intents else None

    def retrieve(self, reference: str) -> ChargeResult:
        """The outcome of the intent ``reference`` read again (the webhook's succeeded events carry no card)."""
        try:
            intent = self._client.v1.payment_intents.retrieve(reference, params={"expand": ["payment_method"]})
        except stripe.StripeError as error:
            raise _unknown_outcome(error, "payment_intents.retrieve", reference) from None
        return result_from_intent(intent.to_dict())

    def lookup(self, payment_id: str, reference: str | None = None) -> ChargeResult | None:
        if reference is not None:  # recorded when the create call returned: no search
            return self.retrieve(reference)
        intent = self._find_intent(payment_id)
        return None if intent is None else result_from_intent(intent)

    def cancel_authentication(self, payment_id: str, reference: str | None) -> ChargeResult:
        if reference is None:
            found = self._find_intent(payment_id)
            if found is None:  # a requires_action payment always has its intent: Stripe's index lags, try later
                raise ProcessorTimeout(payment_id)
            reference = str(found["id"])
        try:
            intent = self._client.v1.payment_intents.cancel(
                reference,
                params={"cancellation_reason": CANCELLATION_REASON, "expand": ["payment_method"]},
                options={"idempotency_key": f"{payment_id}-cancel"},
            )
        except stripe.InvalidRequestError as error:
            # Stripe refuses to cancel an intent that moved on (payment_intent_unexpected_state: the customer
            # authenticated, the charge succeeded or failed meanwhile): its outcome is what the payment becomes.
            LOG.info("stripe kept an intent", extra={"fields": {"id": payment_id, "code": error.code}})
            return self.retrieve(reference)
        except stripe.StripeError as error:
            raise _unknown_outcome(error, "payment_intents.cancel", payment_id) from None
        return result_from_intent(intent.to_dict())

    def refund(self, refund_id: str, payment_id: str, amount: int, reference: str | None = None) -> bool:
        if reference is None:
            intent = self._find_intent(payment_id)
            if intent is None:
                LOG.warning("refund without a stripe intent", extra={"fields": {"id": refund_id}})
                return False
            reference = str(intent["id"])
        existing = self._refund_naming(reference, refund_id)
        if existing is not None:
            return _refund_accepted(existing)
        try:
            refund = self._client.v1.refunds.create(
                params={
                    "payment_intent": reference,
                    "amount": amount,
                    "metadata": {"refund_id": refund_id, "payment_id": payment_id},
                },
                options={"idempotency_key": refund_id},
            )
        except stripe.InvalidRequestError as error:
            # Refused, nothing refunded (amount_too_large, charge_already_refunded, ...): the refund failed.
            LOG.warning("stripe refused a refund", extra={"fields": {"id": refund_id, "code": error.code}})
            return False
        except stripe.StripeError as error:
            raise _unknown_outcome(error, "refunds.create", refund_id) from None
        return _refund_accepted(refund.to_dict())

    def _refund_naming(self, reference: str, refund_id: str) -> Mapping[str, Any] | None:
        """The refund of intent ``reference`` whose metadata names ``refund_id``, if Stripe has one."""
        try:
            refunds = self._client.v1.refunds.list(params={"payment_intent": reference, "limit": 100})
            for refund in refunds.auto_paging_iter():
                found = refund.to_dict()
                if (found.get("metadata") or {}).get("refund_id") == refund_id:
                    return found
        except stripe.StripeError as error:
            raise _unknown_outcome(error, "refunds.list", refund_id) from None
        return None


def _refund_accepted(refund: Mapping[str, Any]) -> bool:
    """Whether Stripe accepted the refund: ``pending`` settles later (Stripe reports a failure with
    charge.refund.updated), ``failed`` and ``canceled`` refunded nothing."""
    return refund.get("status") in ("succeeded", "pending", "requires_action")
