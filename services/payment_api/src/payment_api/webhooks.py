"""``POST /v1/webhooks/stripe``: Stripe's signed events (API.md v1.2, Endpoints and Processor).

The only route without an Idempotency-Key and without an operator: Stripe's signature is its authentication and
events are deduplicated by their id. In order:

1. the ``Stripe-Signature`` header is checked against the raw body with the endpoint's secret (the ``stripe-secret``
   credential's ``webhook_secret``) and a 5-minute tolerance, with Stripe's own verification; anything else is
   ``400 signature_invalid``, and so is every event when the service runs without the Stripe processor;
2. the body is parsed with the API's JSON limits; only the fields the service reads (the event's id and type; the
   intent's id, status, ``metadata.payment_id`` and ``last_payment_error``'s codes; the refund's id, status and
   ``metadata``'s ``refund_id`` and ``payment_id``) are checked, each against its format first: a value of its
   format (a Stripe id such as ``evt_4242424242424242``, one of our ids, a lower-case code without digits) is taken as
   it is, since the format admits no card number that is not an id; any other value passes the card-data check
   (``400 card_data_not_accepted``) and is then refused or ignored. So Stripe's numeric ids, and the timestamps and
   amounts elsewhere in an event, do not trip it;
3. ``payment_intent.succeeded``, ``payment_intent.payment_failed`` and ``payment_intent.canceled`` for one of our
   payments are applied in one transaction with the event's row in ``stripe_events`` (primary key: the event id): a
   redelivered event finds its row and changes nothing, and the payment moves only from ``requires_action`` (3-D
   Secure; ``payments.settle_authentication``, which the reconciler's cancel of a stale authentication uses too), so
   it reaches its final state once whatever the order and the number of deliveries. A succeeded intent is read again
   from Stripe for the card's brand and last four digits (an event carries the payment method's id only); when Stripe
   cannot be reached the answer is ``503`` and nothing is recorded, so Stripe delivers the event again;
4. ``refund.failed``, ``refund.updated`` and ``charge.refund.updated`` whose refund is ``failed`` (a refund Stripe
   accepted, ``pending`` at the bank, that failed later) make our refund (``metadata.refund_id``) ``failed`` and give
   its amount back to the payment (``payments.fail_refund``), in the event's transaction: once, whichever of the
   three events arrives and however often. Other event types are acknowledged and ignored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe
from psycopg import Connection
from tap_contract.runtime import PROCESSOR

from payment_api.carddata import contains_card_number
from payment_api.jsonbody import BodyError, parse_body
from payment_api.payments import fail_refund, settle_authentication
from payment_api.problems import ProblemError
from payment_api.processor import ChargeResult, ProcessorTimeout
from payment_api.stripe_processor import StripeProcessor, result_from_intent

LOG = logging.getLogger("payment_api.webhooks")
TOLERANCE_SECONDS = 300
HANDLED = ("payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled")
# Stripe reports a refund that fails after it was accepted with any of these (refund.* since API 2024-10-28.acacia,
# charge.refund.updated before); each carries the refund as data.object.
REFUND_EVENTS = ("refund.failed", "refund.updated", "charge.refund.updated")
EVENT_ID = re.compile(r"evt_[A-Za-z0-9]{1,255}")
EVENT_TYPE = re.compile(r"[a-z_.]{1,100}")
INTENT_ID = re.compile(r"pi_[A-Za-z0-9]{1,255}")
STRIPE_REFUND_ID = re.compile(r"(re|pyr)_[A-Za-z0-9]{1,255}")
PAYMENT_ID = re.compile(r"pay_[A-Za-z0-9]{22}")
REFUND_ID = re.compile(r"re_[A-Za-z0-9]{22}")
_CHECK = (
    "Check that the endpoint's signing secret (whsec_...) in the stripe-secret credential is the one Stripe shows "
    "for this endpoint, and that the body reaches the service unchanged."
)


@dataclass(frozen=True, kw_only=True)
class StripeEvent:
    """What the service reads of an event: its id and type and, for a PaymentIntent event, the intent."""

    id: str
    type: str
    intent: Mapping[str, Any] | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    """Our refund, for a refund event whose refund Stripe reports ``failed``."""


def verify(raw: bytes, signature: str | None, secret: str | None) -> None:
    """``raw`` signed by Stripe under ``secret`` within the tolerance, or ``400 signature_invalid``."""
    if secret is None:
        raise ProblemError(
            "signature_invalid",
            f"This service takes no Stripe events: it runs without the Stripe processor ({PROCESSOR.env}=stripe).",
        )
    if not signature:
        raise ProblemError("signature_invalid", "The Stripe-Signature header is missing: only Stripe may post here.")
    try:
        stripe.WebhookSignature.verify_header(raw.decode("utf-8"), signature, secret, TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError):
        raise ProblemError(
            "signature_invalid",
            f"The Stripe-Signature does not match the body, or is older than {TOLERANCE_SECONDS} s. {_CHECK}",
        ) from None


def _field(value: Any, pattern: re.Pattern[str], name: str, *, strict: bool = False) -> str | None:
    """A string field the service reads (stores or logs): of its format (``pattern``: a Stripe or our id, or a code
    without digits), taken as it is: a Stripe id's digits are no card number, whatever Luhn says. Any other value is
    card-checked first (refused, never echoed), then None, or a ``400`` when ``strict`` (the event's own id and type):
    an event about something that is not ours is acknowledged and ignored, never refused (Stripe would retry it for
    days)."""
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    if isinstance(value, str) and contains_card_number(value):
        raise ProblemError("card_data_not_accepted", "Card data is not accepted, not even from Stripe.")
    if strict:
        raise ProblemError(
            "validation_failed",
            "The event is not a Stripe event.",
            [{"field": name, "message": "missing or malformed"}],
        )
    return None


def read_event(raw: bytes) -> StripeEvent:
    """The fields the service reads, each through the card-data check; ``400`` for a body that is no event."""
    try:
        body = parse_body(raw)
    except BodyError as error:
        raise ProblemError(
            "validation_failed",
            "The event is not JSON within the API's limits.",
            [{"field": "body", "message": str(error)}],
        ) from None
    if not isinstance(body, dict):
        raise ProblemError(
            "validation_failed",
            "The event is not a Stripe event.",
            [{"field": "body", "message": "must be a JSON object"}],
        )
    event_id = str(_field(body.get("id"), EVENT_ID, "id", strict=True))
    event_type = str(_field(body.get("type"), EVENT_TYPE, "type", strict=True))
    data = body.get("data")
    intent = data.get("object") if isinstance(data, dict) else None
    if event_type in REFUND_EVENTS and isinstance(intent, dict):
        return _refund_event(event_id, event_type, intent)
    if event_type not in HANDLED or not isinstance(intent, dict):
        return StripeEvent(id=event_id, type=event_type)
    metadata = intent.get("metadata")
    last_error = intent.get("last_payment_error")
    read = {
        "id": _field(intent.get("id"), INTENT_ID, "data.object.id"),
        "status": _field(intent.get("status"), EVENT_TYPE, "data.object.status"),
        "last_payment_error": {
            "code": _field(last_error.get("code"), EVENT_TYPE, "data.object.last_payment_error.code"),
            "decline_code": _field(
                last_error.get("decline_code"), EVENT_TYPE, "data.object.last_payment_error.decline_code"
            ),
        }
        if isinstance(last_error, dict)
        else None,
    }
    payment_id = (
        _field(metadata.get("payment_id"), PAYMENT_ID, "data.object.metadata.payment_id")
        if isinstance(metadata, dict)
        else None
    )
    if read["id"] is None or payment_id is None:  # not an intent of ours
        return StripeEvent(id=event_id, type=event_type)
    return StripeEvent(id=event_id, type=event_type, intent=read, payment_id=payment_id)


def _refund_event(event_id: str, event_type: str, refund: dict[str, Any]) -> StripeEvent:
    """A refund event: ours (``metadata.refund_id`` and ``payment_id``, which the processor sets) and ``failed``, or
    nothing to act on."""
    metadata = refund.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    stripe_id = _field(refund.get("id"), STRIPE_REFUND_ID, "data.object.id")
    status = _field(refund.get("status"), EVENT_TYPE, "data.object.status")
    refund_id = _field(metadata.get("refund_id"), REFUND_ID, "data.object.metadata.refund_id")
    payment_id = _field(metadata.get("payment_id"), PAYMENT_ID, "data.object.metadata.payment_id")
    if stripe_id is None or refund_id is None or payment_id is None or status != "failed":
        return StripeEvent(id=event_id, type=event_type, payment_id=payment_id)
    return StripeEvent(id=event_id, type=event_type, payment_id=payment_id, refund_id=refund_id)


def outcome(event: StripeEvent, processor: StripeProcessor) -> ChargeResult | None:
    """The payment's final outcome the event reports (None for an event the service does not act on). A succeeded
    intent is read again from Stripe for its card; ``ProcessorTimeout`` when Stripe cannot tell right now."""
    if event.intent is None or event.payment_id is None:
        return None
    if event.type == "payment_intent.succeeded":
        return processor.retrieve(str(event.intent["id"]))
    if event.type == "payment_intent.canceled":
        return result_from_intent({**event.intent, "status": "canceled"})
    return result_from_intent({**event.intent, "status": "requires_payment_method"})


def apply(conn: Connection, event: StripeEvent, result: ChargeResult | None) -> str:
    """Record the event and, in the same transaction, move its payment from ``requires_action`` to ``result`` or
    fail its refund: ``duplicate`` (seen before: nothing changes), ``applied`` or ``ignored``."""
    with conn.transaction():
        fresh = conn.execute(
            "INSERT INTO stripe_events (id, type, payment_id) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING"
            " RETURNING id",
            (event.id, event.type, event.payment_id),
        ).fetchone()
        if fresh is None:
            return "duplicate"
        if event.refund_id is not None and event.payment_id is not None:
            moved = fail_refund(conn, event.refund_id, event.payment_id)
        elif result is None or result.status not in ("succeeded", "failed") or event.payment_id is None:
            return "ignored"
        else:
            moved = settle_authentication(conn, event.payment_id, result)
    return "applied" if moved else "ignored"


def handle(conn: Connection, event: StripeEvent, processor: StripeProcessor) -> str:
    """The event's effect (``apply``), after reading what it needs from Stripe; a ``ProcessorTimeout`` becomes
    ``503`` and nothing is recorded, so Stripe delivers the event again."""
    try:
        result = outcome(event, processor)
    except ProcessorTimeout:
        raise ProblemError(
            "service_unavailable",
            "Stripe could not be reached to read the payment; deliver the event again.",
            headers={"Retry-After": "1"},
        ) from None
    done = apply(conn, event, result)
    fields = {
        "event_id": event.id,
        "type": event.type,
        "payment_id": event.payment_id,
        "refund_id": event.refund_id,
        "result": done,
    }
    LOG.info("stripe event", extra={"fields": fields})
    return done
