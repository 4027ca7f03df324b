"""The reconciler (``payment-api reconcile``): finishes payments a client abandoned in ``processing`` and refunds
abandoned in ``pending``.

A payment stays ``processing`` when its request could not finish (the processor timed out: ``202``; the process died
between the processor call and the commit) and the client never retried. Every pass takes the payments older than a
grace period whose key is at the ``payment_created`` recovery point and, for each, does what the retry would do:
it takes the key's advisory lock (the lock a request holds while it works on the key, so neither a retry nor another
reconciler can finish the payment at the same time; a payment whose lock is taken is skipped), re-reads the
processor's outcome (``Processor.lookup``; when the processor was never reached, the charge call itself, idempotent
on our payment id) and stores the payment's status and the key's final answer in one transaction. A retry with the
key then gets that answer replayed. The purge keeps such keys (``idempotency.purge``), and the instances run a pass
every 60 s, far inside the 24 hours a key is kept.

Stripe keeps an idempotency key 24 hours (``Processor.repeat_window``, with a margin): within that window of the
payment's creation the reconciler may repeat the create with the same key, which Stripe answers with its first
answer; after it, it never calls ``charge``: it reads the intent recorded when the create call returned
(``payments.processor_reference``) or finds it by our payment id in its metadata, and a payment Stripe has no intent
for is ``failed`` with ``processing_error`` (nothing was charged), logged as a warning. The clock is a parameter
(``now``), so the tests move it instead of waiting a day.

Stale authentication: a payment ``requires_action`` (3-D Secure) for longer than ``requires_action_timeout`` (the
setting ``PAYMENT_REQUIRES_ACTION_TIMEOUT_MINUTES``) is cancelled at the processor
(``Processor.cancel_authentication``: Stripe's PaymentIntent cancel with an idempotency key derived from our payment
id) and ends ``failed`` with ``authentication_failed``; when the customer finished first, Stripe refuses the cancel and
the payment takes the intent's outcome. Either way it moves through ``payments.settle_authentication``, the conditional
UPDATE the webhook uses too, so a cancel racing a webhook leaves exactly one final state.

A payment whose token the processor refuses (``PaymentMethodInvalid``: a payment stored before the call by a
process that died, or by a release whose simulator took any token) is discarded with its key, as the retry would
(``400 payment_method_invalid``, nothing stored).

Refunds: a refund stays ``pending`` when its processor call timed out (``202``) or its process died after the
refund row was committed, and the client never retried. The pass takes those older than the grace period whose key
is at ``refund_created`` and, under the key's lock, does what the retry does: the refund call again (idempotent on
our refund id, so the processor refunds once) and the outcome with the key's final answer in one transaction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import Connection
from psycopg_pool import ConnectionPool
from tap_contract.runtime import REQUIRES_ACTION_TIMEOUT_DEFAULT

from payment_api.payments import (
    discard_payment,
    processor_reference,
    record_charge,
    record_refund,
    remember_reference,
    settle_authentication,
)
from payment_api.processor import ChargeResult, PaymentMethodInvalid, Processor, ProcessorTimeout

LOG = logging.getLogger("payment_api.reconcile")
BATCH = 100
Clock = Callable[[], datetime]
DEFAULT_REQUIRES_ACTION_TIMEOUT = timedelta(minutes=REQUIRES_ACTION_TIMEOUT_DEFAULT)
# The payment Stripe has no intent for once the create may no longer be repeated: nothing was charged.
NEVER_CHARGED = ChargeResult(False, failure_code="processing_error")

CANDIDATES = (
    "SELECT p.id, k.id FROM payments AS p JOIN idempotency_keys AS k"
    " ON k.payment_id = p.id AND k.recovery_point = 'payment_created'"
    " WHERE p.status = 'processing' AND p.created_at < %s ORDER BY p.created_at LIMIT %s"
)
REFUND_CANDIDATES = (
    "SELECT r.id, k.id FROM refunds AS r JOIN idempotency_keys AS k"
    " ON k.refund_id = r.id AND k.recovery_point = 'refund_created'"
    " WHERE r.status = 'pending' AND r.created_at < %s ORDER BY r.created_at LIMIT %s"
)
STALE_AUTHENTICATIONS = (
    "SELECT id, processor_reference FROM payments WHERE status = 'requires_action' AND created_at < %s"
    " ORDER BY created_at LIMIT %s"
)


def utc_now() -> datetime:
    """The reconciler's clock (tests pass their own)."""
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class PassResult:
    """One pass: payments finished, skipped (locked by a request or another reconciler, or finished meanwhile),
    left for the next pass (the processor could not tell yet) and discarded (the processor refused the token); refunds
    finished, skipped and deferred likewise."""

    finished: int = 0
    skipped: int = 0
    deferred: int = 0
    discarded: int = 0
    refunds_finished: int = 0
    refunds_skipped: int = 0
    refunds_deferred: int = 0
    authentications_expired: int = 0
    """``requires_action`` for too long: cancelled at the processor and ``failed`` (or the outcome the customer
    reached first, when the processor refused the cancel)."""
    authentications_skipped: int = 0
    """Final meanwhile (a webhook moved it first)."""
    authentications_deferred: int = 0
    """The processor could not tell: the next pass tries again."""


@dataclass(frozen=True, kw_only=True)
class _OpenPayment:
    amount: int
    currency: str
    payment_method: str
    created_at: datetime
    reference: str | None


def _still_open(conn: Connection, payment_id: str, key_id: int) -> _OpenPayment | None:
    """The payment when, under the key's lock, it is still unresolved."""
    row = conn.execute(
        "SELECT p.amount, p.currency, p.payment_method, p.created_at, p.processor_reference FROM payments AS p"
        " JOIN idempotency_keys AS k ON k.payment_id = p.id WHERE p.id = %s AND k.id = %s AND p.status = 'processing'"
        " AND k.recovery_point = 'payment_created'",
        (payment_id, key_id),
    ).fetchone()
    if row is None:
        return None
    return _OpenPayment(
        amount=int(row[0]), currency=str(row[1]), payment_method=str(row[2]), created_at=row[3], reference=row[4]
    )


def may_repeat_create(window: timedelta | None, created_at: datetime, now: datetime) -> bool:
    """Whether the create call may be repeated with the payment's idempotency key: inside the processor's window
    (None: for ever), the processor answers it with its first answer; past it, a repeat could charge again."""
    return window is None or now - created_at < window


def _outcome(processor: Processor, payment_id: str, payment: _OpenPayment, now: datetime) -> ChargeResult:
    """The payment's outcome at the processor: its charge read again (the recorded reference, or found by our
    payment id); when there is none, the create the retry would make, only inside the processor's idempotency
    window; past it, ``NEVER_CHARGED``."""
    result = processor.lookup(payment_id, payment.reference)
    if result is not None:
        return result
    if may_repeat_create(processor.repeat_window, payment.created_at, now):
        return processor.charge(payment_id, payment.amount, payment.currency, payment.payment_method)
    fields = {"payment_id": payment_id, "code": NEVER_CHARGED.failure_code}
    LOG.warning("payment past the processor's idempotency window without a charge: failed", extra={"fields": fields})
    return NEVER_CHARGED


def finish_payment(
    conn: Connection, processor: Processor, payment_id: str, key_id: int, now: datetime | None = None
) -> str:
    """Finish one payment under its key's lock: ``finished``, ``skipped``, ``deferred`` or ``discarded``."""
    locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (key_id,)).fetchone()
    if not (locked and locked[0]):
        return "skipped"
    try:
        payment = _still_open(conn, payment_id, key_id)
        if payment is None:
            return "skipped"
        try:
            result = _outcome(processor, payment_id, payment, now or utc_now())
        except ProcessorTimeout as unknown:
            remember_reference(conn, payment_id, unknown.reference)
            return "deferred"
        except PaymentMethodInvalid:
            discard_payment(conn, key_id, payment_id)
            fields = {"payment_id": payment_id, "code": "payment_method_invalid"}
            LOG.info("payment discarded", extra={"fields": fields})
            return "discarded"
        outcome = record_charge(conn, key_id, payment_id, result)
        LOG.info("payment reconciled", extra={"fields": {"payment_id": payment_id, "status": outcome.status}})
        return "finished"
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key_id,))


def _still_pending(conn: Connection, refund_id: str, key_id: int) -> tuple[str, int] | None:
    """The refund's payment id and amount when, under the key's lock, it is still unresolved."""
    row = conn.execute(
        "SELECT r.payment_id, r.amount FROM refunds AS r JOIN idempotency_keys AS k ON k.refund_id = r.id"
        " WHERE r.id = %s AND k.id = %s AND r.status = 'pending' AND k.recovery_point = 'refund_created'",
        (refund_id, key_id),
    ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def finish_refund(conn: Connection, processor: Processor, refund_id: str, key_id: int) -> str:
    """Finish one refund under its key's lock: ``finished``, ``skipped`` or ``deferred``."""
    locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (key_id,)).fetchone()
    if not (locked and locked[0]):
        return "skipped"
    try:
        refund = _still_pending(conn, refund_id, key_id)
        if refund is None:
            return "skipped"
        try:
            # Idempotent on our refund id: the retry's call.
            succeeded = processor.refund(refund_id, *refund, processor_reference(conn, refund[0]))
        except ProcessorTimeout:
            return "deferred"
        record_refund(conn, key_id, refund_id, succeeded)
        LOG.info(
            "refund reconciled",
            extra={"fields": {"refund_id": refund_id, "payment_id": refund[0], "succeeded": succeeded}},
        )
        return "finished"
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (key_id,))


def expire_authentication(conn: Connection, processor: Processor, payment_id: str, reference: str | None) -> str:
    """Give up on one payment left ``requires_action``: cancel it at the processor and settle it (``expired``), or
    ``skipped`` when it became final meanwhile, or ``deferred`` when the processor cannot tell."""
    try:
        result = processor.cancel_authentication(payment_id, reference)
    except ProcessorTimeout:
        return "deferred"
    if result.status == "requires_action":  # the processor kept waiting: not ours to decide yet
        return "deferred"
    with conn.transaction():
        moved = settle_authentication(conn, payment_id, result)
    if not moved:
        return "skipped"
    fields = {"payment_id": payment_id, "status": result.status, "code": result.failure_code}
    LOG.info("authentication expired", extra={"fields": fields})
    return "expired"


def reconcile_once(
    pool: ConnectionPool,
    processor: Processor,
    grace_seconds: float,
    *,
    requires_action_timeout: timedelta = DEFAULT_REQUIRES_ACTION_TIMEOUT,
    now: Clock = utc_now,
) -> PassResult:
    """One pass over the payments left ``processing`` and the refunds left ``pending`` for longer than
    ``grace_seconds``, and the payments left ``requires_action`` for longer than ``requires_action_timeout``, all
    by the clock ``now``."""
    counts = dict.fromkeys(vars(PassResult()), 0)
    started = now()
    cutoff = started - timedelta(seconds=grace_seconds)
    with pool.connection() as conn:
        for payment_id, key_id in conn.execute(CANDIDATES, (cutoff, BATCH)).fetchall():
            counts[finish_payment(conn, processor, payment_id, key_id, started)] += 1
        for refund_id, key_id in conn.execute(REFUND_CANDIDATES, (cutoff, BATCH)).fetchall():
            counts["refunds_" + finish_refund(conn, processor, refund_id, key_id)] += 1
        stale = started - requires_action_timeout
        for payment_id, reference in conn.execute(STALE_AUTHENTICATIONS, (stale, BATCH)).fetchall():
            counts["authentications_" + expire_authentication(conn, processor, payment_id, reference)] += 1
    return PassResult(**counts)


def reconcile_every(  # pylint: disable=too-many-arguments  # the loop's own two and reconcile_once's
    pool: ConnectionPool,
    processor: Processor,
    grace_seconds: float,
    every_seconds: float,
    stop: threading.Event,
    *,
    requires_action_timeout: timedelta = DEFAULT_REQUIRES_ACTION_TIMEOUT,
) -> None:
    """A pass every ``every_seconds`` until ``stop`` is set; a failed pass (the database is down) is logged and the
    next one tries again."""
    while not stop.is_set():
        try:
            result = reconcile_once(pool, processor, grace_seconds, requires_action_timeout=requires_action_timeout)
            if result != PassResult():
                LOG.info("reconcile pass", extra={"fields": vars(result)})
        except Exception as error:  # pylint: disable=broad-exception-caught  # the loop outlives a failed pass
            LOG.warning("reconcile pass failed", extra={"fields": {"error": type(error).__name__}})
        stop.wait(every_seconds)
