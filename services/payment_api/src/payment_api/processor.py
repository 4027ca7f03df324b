"""The processor interface and the simulated processor shipped with the service.

Adding a real processor: implement ``Processor`` (its calls must be idempotent on our ids, which every real
processor supports through its own idempotency key: pass our payment id / refund id), raise ``ProcessorTimeout``
when the outcome is unknown and ``PaymentMethodInvalid`` when it refuses the token without charging (Stripe: its
invalid-payment-method errors), and register a constructor in ``payment_api.processors.PROCESSORS``;
``PAYMENT_PROCESSOR`` names it. ``payment_api.stripe_processor`` is the Stripe one.

The simulator records each charge in its own table ``simulated_charges`` (primary key: our payment id, so a second
call for the same payment returns the first outcome and counts a call, never a charge). The table is how the tests
count charges across server processes: one row = one charge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from payment_api.config import Settings
from payment_api.db import make_pool


@dataclass(frozen=True)
class ChargeResult:
    """The processor's answer: succeeded with a card brand and last four digits, failed with a code, or (Stripe)
    waiting for the customer's authentication (``requires_action``, with the ``client_secret`` the checkout completes
    it with). ``reference`` is the processor's own id for the charge (Stripe's PaymentIntent id), when it has one."""

    succeeded: bool
    brand: str | None = None
    last4: str | None = None
    failure_code: str | None = None
    requires_action: bool = False
    client_secret: str | None = field(default=None, repr=False)
    reference: str | None = None

    @property
    def status(self) -> str:
        """The payment's status for this answer: ``succeeded``, ``requires_action`` or ``failed``."""
        if self.succeeded:
            return "succeeded"
        return "requires_action" if self.requires_action else "failed"


class ProcessorTimeout(Exception):
    """The processor did not answer in time, or its charge has no outcome yet: the same call is to be retried.
    ``reference`` is the processor's id for the charge when it is known (Stripe answered with an intent that is still
    ``processing``): recorded with the payment, so the reconciler reads that charge again rather than searching."""

    def __init__(self, our_id: str, reference: str | None = None) -> None:
        super().__init__(our_id)
        self.reference = reference


class PaymentMethodInvalid(Exception):
    """The processor refuses the ``payment_method`` token (one it does not know) and charged nothing: the API answers
    ``400 payment_method_invalid`` and keeps nothing (API.md v1.2, Processor). ``detail`` tells the client what the
    processor accepts; it never quotes the token."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Processor(Protocol):
    """What the service needs from a payment processor.

    ``repeat_window`` is how long after a payment was created a repeated ``charge`` call is still answered from the
    processor's idempotency record (Stripe keeps an idempotency key 24 hours): past it, the reconciler never calls
    ``charge`` for a payment whose charge it cannot find, as the processor could charge it a second time. None: the
    processor is idempotent on our payment id for ever (the simulator, whose table is keyed by it)."""

    repeat_window: timedelta | None

    def charge(self, payment_id: str, amount: int, currency: str, payment_method: str) -> ChargeResult:
        """Charge once per ``payment_id`` (a repeated call returns the first outcome). Raise ``PaymentMethodInvalid``,
        having charged nothing, when the processor does not know ``payment_method``."""

    def refund(self, refund_id: str, payment_id: str, amount: int, reference: str | None = None) -> bool:
        """Refund once per ``refund_id``; True when the refund succeeded. ``reference`` is the processor's id for
        the payment's charge (``ChargeResult.reference``, recorded with the payment), when there is one."""

    def lookup(self, payment_id: str, reference: str | None = None) -> ChargeResult | None:
        """Re-read the outcome of the charge for ``payment_id`` without charging: the charge ``reference`` when one
        was recorded, else the one the processor finds for our payment id; None when the processor has no charge for
        it (it was never reached). Raise ``ProcessorTimeout`` when it cannot tell right now. Used by the reconciler
        (``payment_api.reconcile``) for payments a client abandoned in ``processing``."""

    def cancel_authentication(self, payment_id: str, reference: str | None) -> ChargeResult:
        """Give up waiting for the customer's authentication of a ``requires_action`` payment: cancel its charge at
        the processor (idempotent: a key derived from ``payment_id``) and answer the charge's final outcome, which is
        not ``failed`` when the customer finished first (the processor refuses the cancel then). Raise
        ``ProcessorTimeout`` when the outcome is unknown. Used by the reconciler for stale ``requires_action``."""

    def open(self) -> None:
        """Acquire what the processor needs (connections, sessions); called when the service starts."""

    def close(self) -> None:
        """Release it; called when the service stops."""


# Test tokens of the contract: outcome, brand, last4, failure code.
TEST_TOKENS: dict[str, tuple[str, str | None, str | None, str | None]] = {
    "pm_card_visa": ("succeeded", "visa", "4242", None),
    "pm_card_mastercard": ("succeeded", "mastercard", "4444", None),
    "pm_card_declined": ("failed", None, None, "card_declined"),
    "pm_card_insufficient_funds": ("failed", None, None, "insufficient_funds"),
    "pm_card_processor_timeout": ("succeeded", "visa", "4242", None),
}
TIMEOUT_TOKEN = "pm_card_processor_timeout"
UNKNOWN_TOKEN = (
    "The simulated processor knows only the contract's test tokens: " + ", ".join(TEST_TOKENS) + " (the checkout's "
    "test cards map to them); send one of these, or run the service with a real processor."
)


class SimulatedProcessor:
    """Idempotent on our payment id; knows only ``TEST_TOKENS`` (any other token is ``PaymentMethodInvalid``, and
    nothing is recorded); ``pm_card_processor_timeout`` times out on the first call for a payment (the charge is
    recorded, the answer is lost: what a real network timeout looks like)."""

    repeat_window: timedelta | None = None  # idempotent on our payment id for ever: simulated_charges' primary key

    def __init__(self, settings: Settings) -> None:
        # Its own pool, as a remote processor is its own system: a request holds its application connection (and
        # the idempotency lock) while it calls the processor, so sharing that pool could starve it.
        self._pool = make_pool(settings, name="simulated-processor")

    def open(self) -> None:
        self._pool.open(wait=False)

    def close(self) -> None:
        self._pool.close(timeout=5.0)

    def charge(self, payment_id: str, amount: int, currency: str, payment_method: str) -> ChargeResult:
        if payment_method not in TEST_TOKENS:
            raise PaymentMethodInvalid(UNKNOWN_TOKEN)
        outcome, brand, last4, failure = TEST_TOKENS[payment_method]
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO simulated_charges (payment_id, amount, currency, outcome, brand, last4, failure_code)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (payment_id) DO UPDATE"
                " SET calls = simulated_charges.calls + 1"
                " RETURNING outcome, brand, last4, failure_code, calls",
                (payment_id, amount, currency, outcome, brand, last4, failure),
            ).fetchone()
        assert row is not None
        if payment_method == TIMEOUT_TOKEN and row[4] == 1:
            raise ProcessorTimeout(payment_id)
        return ChargeResult(row[0] == "succeeded", row[1], row[2], row[3])

    def lookup(self, payment_id: str, reference: str | None = None) -> ChargeResult | None:
        del reference  # the simulator's charges are keyed by our payment id
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT outcome, brand, last4, failure_code FROM simulated_charges WHERE payment_id = %s",
                (payment_id,),
            ).fetchone()
        if row is None:
            return None
        return ChargeResult(row[0] == "succeeded", row[1], row[2], row[3])

    def cancel_authentication(self, payment_id: str, reference: str | None) -> ChargeResult:
        """The simulator never asks for authentication, so it has nothing to cancel: a payment it charged keeps the
        outcome it recorded; one it never saw is unknown (``ProcessorTimeout``: left as it is)."""
        result = self.lookup(payment_id, reference)
        if result is None:
            raise ProcessorTimeout(payment_id)
        return result

    def refund(self, refund_id: str, payment_id: str, amount: int, reference: str | None = None) -> bool:
        del reference  # the simulator's charges are keyed by our payment id
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO simulated_refunds (refund_id, payment_id, amount) VALUES (%s, %s, %s)"
                " ON CONFLICT (refund_id) DO NOTHING",
                (refund_id, payment_id, amount),
            )
        return True
